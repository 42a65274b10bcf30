//! The platform's sending IP addresses as the console shows them: state, warm-up,
//! reputation from DNS blocklists, and the workspace domains each carries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An address's state (seed 003, without 'assigned', which its domains tell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpStatus {
    /// In the pool, not yet sending.
    Available,
    /// Sending a rising daily volume, day by day ([`warmup_cap`]).
    Warming,
    /// Warmed up: sends at full volume.
    Warmed,
    /// On a blocklist: takes no new domains until staff clear it.
    Degraded,
    /// Beyond repair; its domains were moved off.
    Burned,
    /// Kept out of use while investigated; its domains were moved off.
    Quarantined,
}

impl IpStatus {
    pub const ALL: [IpStatus; 6] = [
        IpStatus::Available,
        IpStatus::Warming,
        IpStatus::Warmed,
        IpStatus::Degraded,
        IpStatus::Burned,
        IpStatus::Quarantined,
    ];

    pub fn key(self) -> &'static str {
        match self {
            IpStatus::Available => "available",
            IpStatus::Warming => "warming",
            IpStatus::Warmed => "warmed",
            IpStatus::Degraded => "degraded",
            IpStatus::Burned => "burned",
            IpStatus::Quarantined => "quarantined",
        }
    }

    pub fn parse(key: &str) -> Option<IpStatus> {
        IpStatus::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Whether a domain may be assigned to an address in this state.
    pub fn takes_domains(self) -> bool {
        matches!(
            self,
            IpStatus::Available | IpStatus::Warming | IpStatus::Warmed
        )
    }
}

/// How the blocklists see an address (seed 003's four grades).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reputation {
    Good,
    Fair,
    Poor,
    Critical,
}

impl Reputation {
    pub fn key(self) -> &'static str {
        match self {
            Reputation::Good => "good",
            Reputation::Fair => "fair",
            Reputation::Poor => "poor",
            Reputation::Critical => "critical",
        }
    }

    pub fn parse(key: &str) -> Option<Reputation> {
        [
            Reputation::Good,
            Reputation::Fair,
            Reputation::Poor,
            Reputation::Critical,
        ]
        .into_iter()
        .find(|r| r.key() == key)
    }

    /// The grade from one check: none when no list could answer (an unanswered
    /// check says nothing, so the last grade stands); otherwise by how many lists
    /// list the address.
    pub fn of_check(listed: usize, answered: usize) -> Option<Reputation> {
        (answered > 0).then_some(match listed {
            0 => Reputation::Good,
            1 => Reputation::Fair,
            2 => Reputation::Poor,
            _ => Reputation::Critical,
        })
    }
}

/// One list's answer in the last check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocklistAnswer {
    pub zone: String,
    /// "clear", "listed" or "unknown".
    pub verdict: String,
    /// The list's return codes when listed (`127.0.0.2`).
    #[serde(default)]
    pub codes: Vec<String>,
    /// The list's TXT reason when listed; why it could not answer when unknown.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A workspace domain an address carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAssignment {
    pub id: Uuid,
    pub domain: String,
    pub workspace: String,
    pub slug: String,
    pub assigned_at: DateTime<Utc>,
}

/// Where an address is in its warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warmup {
    /// Day 1 is the day it started.
    pub day: u32,
    /// How many emails it may send today.
    pub daily_cap: u32,
}

/// How long a warm-up lasts; the check marks the address warmed after it.
pub const WARMUP_DAYS: u32 = 30;

/// Emails a warming address may send on `day` (1-based): a doubling every two
/// days from 50, as mailbox providers expect of a new address, reaching 100,000 in
/// the last days. `None` once warm-up is over.
pub fn warmup_cap(day: u32) -> Option<u32> {
    const STEPS: [(u32, u32); 12] = [
        (2, 50),
        (4, 100),
        (6, 250),
        (8, 500),
        (10, 1_000),
        (12, 2_500),
        (14, 5_000),
        (17, 10_000),
        (20, 20_000),
        (23, 40_000),
        (26, 75_000),
        (WARMUP_DAYS, 100_000),
    ];
    STEPS
        .iter()
        .find(|(last_day, _)| day >= 1 && day <= *last_day)
        .map(|(_, cap)| *cap)
}

/// The warm-up of an address warming since `started`, on `today`.
pub fn warmup_on(started: NaiveDate, today: NaiveDate) -> Option<Warmup> {
    let day = u32::try_from((today - started).num_days() + 1).ok()?;
    warmup_cap(day).map(|daily_cap| Warmup { day, daily_cap })
}

/// One address of the pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingIp {
    pub id: Uuid,
    pub address: String,
    pub status: IpStatus,
    /// While warming.
    pub warmup: Option<Warmup>,
    pub reputation: Option<Reputation>,
    pub blocklists: Vec<BlocklistAnswer>,
    pub checked_at: Option<DateTime<Utc>>,
    /// Why the check changed the state ("Listed on zen.spamhaus.org").
    pub status_note: Option<String>,
    pub note: Option<String>,
    pub domains: Vec<IpAssignment>,
}

/// The pool page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingIps {
    pub can_manage: bool,
    /// The lists a check asks.
    pub zones: Vec<String>,
    pub ips: Vec<SendingIp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_doubles_from_fifty_to_a_hundred_thousand_over_thirty_days() {
        assert_eq!(warmup_cap(0), None);
        assert_eq!(warmup_cap(1), Some(50));
        assert_eq!(warmup_cap(2), Some(50));
        assert_eq!(warmup_cap(3), Some(100));
        assert_eq!(warmup_cap(14), Some(5_000));
        assert_eq!(warmup_cap(30), Some(100_000));
        assert_eq!(warmup_cap(31), None);
        let caps: Vec<u32> = (1..=WARMUP_DAYS).filter_map(warmup_cap).collect();
        assert_eq!(caps.len(), 30);
        assert!(caps.windows(2).all(|w| w[0] <= w[1]), "never falls");
        assert!(
            caps.windows(2).all(|w| w[1] <= w[0] * 5 / 2),
            "never more than 2.5× a day"
        );
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        // 2028 is a leap year: 29 February counts as a day.
        assert_eq!(
            warmup_on(day("2028-02-27"), day("2028-03-01")),
            Some(Warmup {
                day: 4,
                daily_cap: 100
            })
        );
        assert_eq!(warmup_on(day("2028-03-02"), day("2028-03-01")), None);
    }

    #[test]
    fn reputation_counts_the_lists_that_list_and_needs_one_that_answered() {
        assert_eq!(Reputation::of_check(0, 0), None);
        assert_eq!(Reputation::of_check(0, 3), Some(Reputation::Good));
        assert_eq!(Reputation::of_check(1, 1), Some(Reputation::Fair));
        assert_eq!(Reputation::of_check(2, 3), Some(Reputation::Poor));
        assert_eq!(Reputation::of_check(4, 5), Some(Reputation::Critical));
        for s in IpStatus::ALL {
            assert_eq!(IpStatus::parse(s.key()), Some(s));
        }
        assert_eq!(IpStatus::parse("assigned"), None);
        assert!(!IpStatus::Degraded.takes_domains());
        assert!(IpStatus::Warming.takes_domains());
    }
}
