use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal / $key:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The i18n key of its label.
            pub fn label_key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }
        }

        // In the database as the code; on the wire as the variant's name, as before.
        $crate::text_code_sqlx!($name);
    };
}

codes! {
    /// What a reply means (seed 002 message classification).
    Intent {
        Interested = "INTERESTED" / "review.intent.interested",
        Question = "QUESTION" / "review.intent.question",
        NotNow = "NOT_NOW" / "review.intent.not_now",
        NotInterested = "NOT_INTERESTED" / "review.intent.not_interested",
        WrongPerson = "WRONG_PERSON" / "review.intent.wrong_person",
        OutOfOffice = "OUT_OF_OFFICE" / "review.intent.out_of_office",
        AutoReply = "AUTO_REPLY" / "review.intent.auto_reply",
        Unsubscribe = "UNSUBSCRIBE" / "review.intent.unsubscribe",
        Complaint = "COMPLAINT" / "review.intent.complaint",
        Bounce = "BOUNCE" / "review.intent.bounce",
        Other = "OTHER" / "review.intent.other",
    }
}

codes! {
    Urgency {
        Low = "LOW" / "review.priority.low",
        Medium = "MEDIUM" / "review.priority.medium",
        High = "HIGH" / "review.priority.high",
        Urgent = "URGENT" / "review.priority.urgent",
    }
}

codes! {
    /// Why an item is in the queue (seed 000 `human_review_queue.reason`).
    Reason {
        NegativeSentiment = "NEGATIVE_SENTIMENT" / "review.reason.negative_sentiment",
        Keyword = "KEYWORD" / "review.reason.keyword",
        Bounce = "BOUNCE" / "review.reason.bounce",
        Complaint = "COMPLAINT" / "review.reason.complaint",
        AiUncertain = "AI_UNCERTAIN" / "review.reason.ai_uncertain",
        ConfirmIntent = "CONFIRM_INTENT" / "review.reason.confirm_intent",
        HighValue = "HIGH_VALUE" / "review.reason.high_value",
        Manual = "MANUAL" / "review.reason.manual",
    }
}

codes! {
    ItemStatus {
        Pending = "PENDING" / "review.status.pending",
        Assigned = "ASSIGNED" / "review.status.assigned",
        Escalated = "ESCALATED" / "review.status.escalated",
        Resolved = "RESOLVED" / "review.status.resolved",
    }
}

codes! {
    /// How an item was closed.
    Resolution {
        Confirmed = "CONFIRMED" / "review.resolution.confirmed",
        Corrected = "CORRECTED" / "review.resolution.corrected",
        Replied = "REPLIED" / "review.resolution.replied",
        Ignored = "IGNORED" / "review.resolution.ignored",
        TakenOver = "TAKEN_OVER" / "review.resolution.taken_over",
    }
}

/// One queue entry with what the list shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemRow {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub lead_name: String,
    pub reason: Reason,
    pub priority: Urgency,
    pub status: ItemStatus,
    pub channel: Option<String>,
    pub intent: Option<Intent>,
    pub excerpt: String,
    pub assignee: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub sla_due_at: DateTime<Utc>,
    pub breached: bool,
    pub level: i32,
    pub created_at: DateTime<Utc>,
}

/// A message of the thread beside the selected item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThreadMessage {
    pub id: Uuid,
    pub inbound: bool,
    pub channel: String,
    pub subject: Option<String>,
    pub body: String,
    pub at: DateTime<Utc>,
    pub intent: Option<Intent>,
}

/// The selected item in full: the classification and why, the thread, the lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemDetail {
    pub item: ItemRow,
    pub sentiment: Option<i16>,
    pub confidence: Option<f32>,
    pub reasons: Vec<String>,
    pub corrected_intent: Option<Intent>,
    pub resolution: Option<Resolution>,
    pub note: Option<String>,
    pub thread: Vec<ThreadMessage>,
    pub lead_email: Option<String>,
    pub lead_phone: Option<String>,
    pub company: Option<String>,
    pub owner: Option<String>,
    pub journey: Option<String>,
    pub human_takeover: bool,
    /// WhatsApp free-form replies are allowed for 24 hours after the lead wrote.
    pub wa_window_open: bool,
    /// The tenant's LLM's one line and suggested answer, when it was asked.
    pub ai_summary: Option<String>,
    pub suggested_reply: Option<String>,
    /// The intent shown is the LLM's, not the built-in classifier's.
    pub by_model: bool,
    /// The workspace's templates for the item's channel, filled in for this lead, to
    /// start a reply from.
    pub templates: Vec<SuggestedText>,
}

/// A template as a starting point for a reply: its name and its text for this lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuggestedText {
    pub id: Uuid,
    pub name: String,
    pub text: String,
}

/// Queue filters; `None` is "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilter {
    pub status: Option<ItemStatus>,
    pub reason: Option<Reason>,
    pub priority: Option<Urgency>,
    pub channel: Option<String>,
    pub mine: bool,
    pub breached: bool,
    /// Items claimed by this member.
    #[serde(default)]
    pub assignee: Option<Uuid>,
    /// Items on leads enrolled in this sequence.
    #[serde(default)]
    pub sequence: Option<Uuid>,
}

/// What the assignee and sequence filters offer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterOptions {
    /// Members who may work the queue.
    pub assignees: Vec<(Uuid, String)>,
    pub sequences: Vec<(Uuid, String)>,
}

/// Where the next page starts: the last item shown, in SLA order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCursor {
    pub sla_due_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuePage {
    pub items: Vec<ItemRow>,
    pub next: Option<QueueCursor>,
    /// Open items per status, for the tabs.
    pub counts: Vec<(ItemStatus, u32)>,
    /// Open approval requests, for the Approvals tab.
    #[serde(default)]
    pub approvals: u32,
}

/// What a reviewer does to an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemAction {
    Claim,
    Ignore,
    Escalate,
    /// The intent was right: apply what it means (a "not interested" ends the journey).
    Confirm,
    /// The intent was wrong: record the right one, apply that instead.
    Correct(Intent),
    /// Pause automation for the lead; the reviewer answers by hand.
    TakeOver,
}
