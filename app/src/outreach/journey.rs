//! A lead's outreach journey (seed 000). The allowed transitions are this one table;
//! the server refuses any other, and every transition is stored with the previous
//! state and the reason.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Journey {
    Cold,
    ContactedWa,
    ContactedEmail,
    WarmReply,
    Negotiation,
    Converted,
    Dead,
    Paused,
}

/// What moved the journey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cause {
    /// The first message went out on this channel.
    FirstSend,
    /// The lead answered.
    InboundReply,
    /// A member decided.
    Manual,
    /// A sequence rule (exit on bounce, max attempts).
    Rule,
}

use Journey::*;

/// Every allowed (from, to, cause) triple.
const TRANSITIONS: &[(Journey, Journey, Cause)] = &[
    (Cold, ContactedWa, Cause::FirstSend),
    (Cold, ContactedEmail, Cause::FirstSend),
    (ContactedWa, ContactedEmail, Cause::FirstSend),
    (ContactedEmail, ContactedWa, Cause::FirstSend),
    (Cold, WarmReply, Cause::InboundReply),
    (ContactedWa, WarmReply, Cause::InboundReply),
    (ContactedEmail, WarmReply, Cause::InboundReply),
    (Paused, WarmReply, Cause::InboundReply),
    (WarmReply, Negotiation, Cause::Manual),
    (Negotiation, Converted, Cause::Manual),
    (WarmReply, Converted, Cause::Manual),
    (Negotiation, WarmReply, Cause::Manual),
];

impl Journey {
    pub const ALL: [Journey; 8] = [
        Cold,
        ContactedWa,
        ContactedEmail,
        WarmReply,
        Negotiation,
        Converted,
        Dead,
        Paused,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Cold => "COLD",
            ContactedWa => "CONTACTED_WA",
            ContactedEmail => "CONTACTED_EMAIL",
            WarmReply => "WARM_REPLY",
            Negotiation => "NEGOTIATION",
            Converted => "CONVERTED",
            Dead => "DEAD",
            Paused => "PAUSED",
        }
    }

    pub fn parse(code: &str) -> Option<Journey> {
        Journey::ALL.into_iter().find(|j| j.code() == code)
    }

    /// Final states: nothing moves a converted or dead lead.
    pub fn is_final(self) -> bool {
        matches!(self, Converted | Dead)
    }

    /// Whether `cause` may move a lead from `self` to `to`. Any open journey may be
    /// paused or declared dead by hand or by rule, and a paused one resumed to where a
    /// first send or reply would take it.
    pub fn can_move(self, to: Journey, cause: Cause) -> bool {
        if self == to || self.is_final() {
            return false;
        }
        if matches!(to, Paused | Dead) {
            return matches!(cause, Cause::Manual | Cause::Rule);
        }
        if self == Paused && cause == Cause::Manual {
            return !matches!(to, Converted);
        }
        TRANSITIONS.contains(&(self, to, cause))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path() {
        assert!(Cold.can_move(ContactedWa, Cause::FirstSend));
        assert!(ContactedWa.can_move(WarmReply, Cause::InboundReply));
        assert!(WarmReply.can_move(Negotiation, Cause::Manual));
        assert!(Negotiation.can_move(Converted, Cause::Manual));
    }

    #[test]
    fn refused_moves() {
        assert!(
            !Cold.can_move(Converted, Cause::Manual),
            "skips the conversation"
        );
        assert!(
            !Cold.can_move(WarmReply, Cause::Manual),
            "a reply is not a decision"
        );
        assert!(!ContactedWa.can_move(ContactedWa, Cause::FirstSend));
        assert!(!Converted.can_move(Dead, Cause::Manual), "final");
        assert!(!Dead.can_move(Cold, Cause::Manual), "final");
        assert!(!WarmReply.can_move(Paused, Cause::InboundReply));
    }

    #[test]
    fn pause_and_resume() {
        for from in [Cold, ContactedWa, ContactedEmail, WarmReply, Negotiation] {
            assert!(from.can_move(Paused, Cause::Manual), "{from:?}");
            assert!(from.can_move(Dead, Cause::Rule), "{from:?}");
        }
        assert!(Paused.can_move(ContactedEmail, Cause::Manual));
        assert!(Paused.can_move(WarmReply, Cause::InboundReply));
        assert!(!Paused.can_move(Converted, Cause::Manual));
    }

    #[test]
    fn codes_round_trip() {
        for j in Journey::ALL {
            assert_eq!(Journey::parse(j.code()), Some(j));
        }
        assert_eq!(Journey::parse("WARM"), None);
    }
}
