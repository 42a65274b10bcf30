//! Platform settings staff change at runtime (`system_config`, the staff console's
//! Settings page). Each has a type, a default used when its row is missing or
//! unreadable, and a check for what staff type.

use crate::db::Tx;
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Days of trial a new workspace gets.
    TrialDays,
    /// Days after a failed charge when dunning tries again.
    DunningDays,
    /// Minutes a support grant lasts.
    SupportMinutes,
    /// The DNS blocklists sending IP addresses are checked against.
    DnsblZones,
}

impl Setting {
    pub const ALL: [Setting; 4] = [
        Setting::TrialDays,
        Setting::DunningDays,
        Setting::SupportMinutes,
        Setting::DnsblZones,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Setting::TrialDays => "billing.trial_days",
            Setting::DunningDays => "billing.dunning_days",
            Setting::SupportMinutes => "support.minutes",
            Setting::DnsblZones => "sending.dnsbl_zones",
        }
    }

    pub fn parse_key(key: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|s| s.key() == key)
    }

    fn default_value(self) -> serde_json::Value {
        match self {
            Setting::TrialDays => 14.into(),
            Setting::DunningDays => serde_json::json!([1, 3, 5, 7]),
            Setting::SupportMinutes => 60.into(),
            Setting::DnsblZones => {
                serde_json::json!([
                    "zen.spamhaus.org",
                    "bl.spamcop.net",
                    "b.barracudacentral.org"
                ])
            }
        }
    }

    /// What staff typed, as the stored value, or the i18n key of why not. Numbers are
    /// whole; the dunning days a comma-separated rising list of 1 to 8 days within 60;
    /// the blocklists a comma-separated list of 1 to 8 DNS zones, each once.
    pub fn read(self, typed: &str) -> Result<serde_json::Value, &'static str> {
        let whole = |min: i64, max: i64, key: &'static str| {
            typed
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(serde_json::Value::from)
                .ok_or(key)
        };
        match self {
            Setting::TrialDays => whole(0, 90, "staff.config.trial_days_range"),
            Setting::SupportMinutes => whole(5, 60, "staff.config.support_minutes_range"),
            Setting::DunningDays => {
                let days: Option<Vec<i64>> = typed
                    .split(',')
                    .map(|d| d.trim().parse::<i64>().ok())
                    .collect();
                days.filter(|d| {
                    (1..=8).contains(&d.len())
                        && d.windows(2).all(|w| w[0] < w[1])
                        && d.iter().all(|n| (1..=60).contains(n))
                })
                .map(|d| serde_json::json!(d))
                .ok_or("staff.config.dunning_days_format")
            }
            Setting::DnsblZones => {
                let zones: Option<Vec<String>> = typed
                    .split(',')
                    .map(|zone| {
                        mail::ascii_name(zone.trim())
                            .ok()
                            .filter(|z| z.contains('.') && z.len() <= 200)
                            .filter(|z| {
                                z.split('.').all(|label| {
                                    !label.is_empty()
                                        && label.len() <= 63
                                        && label
                                            .bytes()
                                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                                })
                            })
                    })
                    .collect();
                zones
                    .filter(|z| {
                        let mut distinct = z.clone();
                        distinct.sort();
                        distinct.dedup();
                        (1..=8).contains(&z.len()) && distinct.len() == z.len()
                    })
                    .map(|z| serde_json::json!(z))
                    .ok_or("staff.config.dnsbl_zones_format")
            }
        }
    }

    /// The stored value as staff type it.
    pub fn show(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        }
    }
}

async fn value(tx: &mut Tx, setting: Setting) -> Result<serde_json::Value, AppError> {
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT value FROM system_config WHERE key = $1")
            .bind(setting.key())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(stored
        // Only what staff could have saved counts; anything else is the default.
        .filter(|v| setting.read(&Setting::show(v)).is_ok())
        .unwrap_or_else(|| setting.default_value()))
}

pub async fn trial_days(tx: &mut Tx) -> Result<i64, AppError> {
    Ok(value(tx, Setting::TrialDays).await?.as_i64().unwrap_or(14))
}

pub async fn dunning_days(tx: &mut Tx) -> Result<Vec<i64>, AppError> {
    Ok(value(tx, Setting::DunningDays)
        .await?
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
        .unwrap_or_else(|| vec![1, 3, 5, 7]))
}

pub async fn support_minutes(tx: &mut Tx) -> Result<i64, AppError> {
    Ok(value(tx, Setting::SupportMinutes)
        .await?
        .as_i64()
        .unwrap_or(60))
}

/// The blocklist zones to check sending addresses against.
pub async fn dnsbl_zones(tx: &mut Tx) -> Result<Vec<String>, AppError> {
    Ok(value(tx, Setting::DnsblZones)
        .await?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_settings_are_checked_and_shown_as_typed() {
        assert_eq!(Setting::TrialDays.read(" 30 "), Ok(30.into()));
        assert!(Setting::TrialDays.read("91").is_err());
        assert!(Setting::TrialDays.read("two weeks").is_err());
        let days = Setting::DunningDays.read("1, 2,10").unwrap();
        assert_eq!(days, serde_json::json!([1, 2, 10]));
        assert_eq!(Setting::show(&days), "1, 2, 10");
        for bad in ["", "3, 1", "1, 1", "0", "1,,2", "61", "1,2,3,4,5,6,7,8,9"] {
            assert!(Setting::DunningDays.read(bad).is_err(), "{bad}");
        }
        assert!(Setting::SupportMinutes.read("4").is_err());
        let zones = Setting::DnsblZones
            .read(" zen.spamhaus.org, BL.SpamCop.net.")
            .unwrap();
        assert_eq!(
            zones,
            serde_json::json!(["zen.spamhaus.org", "bl.spamcop.net"])
        );
        assert_eq!(Setting::show(&zones), "zen.spamhaus.org, bl.spamcop.net");
        for bad in [
            "",
            "localhost",
            "a.test, a.test",
            "bad zone.test",
            "x..test",
            "a_b.test",
        ] {
            assert!(Setting::DnsblZones.read(bad).is_err(), "{bad}");
        }
        for s in Setting::ALL {
            assert_eq!(Setting::parse_key(s.key()), Some(s));
            assert!(s.read(&Setting::show(&s.default_value())).is_ok());
        }
    }
}
