//! Outreach types shared by the server and the browser. Secrets (access tokens, SMTP
//! passwords, DKIM keys) never appear here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    WhatsApp,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::WhatsApp, Channel::Email];

    pub fn code(self) -> &'static str {
        match self {
            Channel::WhatsApp => "WHATSAPP",
            Channel::Email => "EMAIL",
        }
    }

    pub fn parse(code: &str) -> Option<Channel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(code.trim()))
    }
}

crate::db_codes! {
    /// Where an enrolment stands (`enrollments.status`).
    EnrollmentStatus {
        Active = "ACTIVE",
        Paused = "PAUSED",
        Completed = "COMPLETED",
        Stopped = "STOPPED",
    }
}

impl EnrollmentStatus {
    /// What a member's pause/resume button sets, with its label's key.
    pub fn toggle(self) -> Option<(EnrollmentStatus, &'static str)> {
        match self {
            EnrollmentStatus::Active => Some((EnrollmentStatus::Paused, "outreach.pause")),
            EnrollmentStatus::Paused => Some((EnrollmentStatus::Active, "outreach.resume")),
            EnrollmentStatus::Completed | EnrollmentStatus::Stopped => None,
        }
    }
}

crate::db_codes! {
    /// Where a message stands (`messages.status`). An outbound message only moves
    /// forward (`message_status_rank` in SQL); RECEIVED is an inbound one's only state.
    MessageStatus {
        Queued = "QUEUED",
        Sent = "SENT",
        Delivered = "DELIVERED",
        Read = "READ",
        Opened = "OPENED",
        Clicked = "CLICKED",
        Replied = "REPLIED",
        Bounced = "BOUNCED",
        Failed = "FAILED",
        Received = "RECEIVED",
    }
}

impl MessageStatus {
    /// Still expected to change (delivery, reading, a reply).
    pub fn settling(self) -> bool {
        matches!(
            self,
            MessageStatus::Queued
                | MessageStatus::Sent
                | MessageStatus::Delivered
                | MessageStatus::Opened
        )
    }

    /// A state in which the message's last error is worth showing.
    pub fn shows_error(self) -> bool {
        matches!(
            self,
            MessageStatus::Failed | MessageStatus::Bounced | MessageStatus::Queued
        )
    }
}

crate::db_codes! {
    /// Where a sequence stands (`sequences.status`). An archived sequence enrols no one
    /// and is only restored (to paused), never resumed directly.
    SequenceStatus {
        Active = "ACTIVE",
        Paused = "PAUSED",
        Archived = "ARCHIVED",
    }
}

/// Why the scheduler ended or paused an enrolment (`enrollments.stop_reason`, shown as
/// `outreach.reason.<code>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// Every step has run.
    Completed,
    /// A condition's branch ended it.
    ConditionEnd,
    /// A member took the conversation over.
    HumanTakeover,
    /// The journey is converted, dead or paused.
    JourneyClosed,
    /// The sequence's messages per lead are all sent.
    MaxAttempts,
    /// Neither the step's channel nor its fallback reaches the lead.
    NoChannel,
    /// The template has no active version.
    NoTemplate,
    /// A template variable has no value for the lead.
    MissingVariable,
    /// The WhatsApp template is not approved and the 24-hour window is closed.
    TemplateNotApproved,
}

impl StopReason {
    pub fn code(self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::ConditionEnd => "condition_end",
            StopReason::HumanTakeover => "human_takeover",
            StopReason::JourneyClosed => "journey_closed",
            StopReason::MaxAttempts => "max_attempts",
            StopReason::NoChannel => "no_channel",
            StopReason::NoTemplate => "no_template",
            StopReason::MissingVariable => "missing_variable",
            StopReason::TemplateNotApproved => "template_not_approved",
        }
    }
}

/// The journey states in which no sequence sends.
pub const CLOSED_JOURNEY_STATES: [&str; 3] = ["CONVERTED", "DEAD", "PAUSED"];

/// What a sequence step does (seed 003's step types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// Sends a message from a template.
    Send,
    /// Holds the enrolment until a moment.
    WaitUntil,
    /// Branches on what the lead did or is.
    Condition,
}

impl StepKind {
    pub const ALL: [StepKind; 3] = [StepKind::Send, StepKind::WaitUntil, StepKind::Condition];

    pub fn code(self) -> &'static str {
        match self {
            StepKind::Send => "SEND",
            StepKind::WaitUntil => "WAIT_UNTIL",
            StepKind::Condition => "CONDITION",
        }
    }

    pub fn parse(code: &str) -> Option<StepKind> {
        StepKind::ALL.into_iter().find(|k| k.code() == code.trim())
    }
}

/// What a condition step asks of the lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// Opened an email of this enrolment.
    Opened,
    /// Clicked a link in a message of this enrolment.
    Clicked,
    /// Replied since it was enrolled.
    Replied,
    /// The journey is in the state given as the value.
    JourneyState,
    /// A field of the lead has the value ([`CONDITION_FIELDS`] or a custom field).
    Field,
}

impl Condition {
    pub const ALL: [Condition; 5] = [
        Condition::Opened,
        Condition::Clicked,
        Condition::Replied,
        Condition::JourneyState,
        Condition::Field,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Condition::Opened => "OPENED",
            Condition::Clicked => "CLICKED",
            Condition::Replied => "REPLIED",
            Condition::JourneyState => "JOURNEY_STATE",
            Condition::Field => "FIELD",
        }
    }

    pub fn parse(code: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.code() == code.trim())
    }
}

/// The lead's own fields a condition can test: the status equals, the source equals
/// (ignoring case), the lead has the tag, the score is at least. Custom fields are
/// `custom.<key>` and compare like the source.
pub const CONDITION_FIELDS: [&str; 4] = ["status", "source", "tag", "score"];

/// The journey states a condition can test (seed 000's state machine).
pub const JOURNEY_STATES: [&str; 8] = [
    "COLD",
    "CONTACTED_WA",
    "CONTACTED_EMAIL",
    "WARM_REPLY",
    "NEGOTIATION",
    "CONVERTED",
    "DEAD",
    "PAUSED",
];

/// Where one branch of a condition goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Branch {
    /// The step after the condition.
    Next,
    /// The enrolment completes.
    End,
    /// A later step of the sequence.
    Step(Uuid),
}

impl Branch {
    /// The form's value: `next`, `end` or the step's id.
    pub fn form_value(self) -> String {
        match self {
            Branch::Next => "next".into(),
            Branch::End => "end".into(),
            Branch::Step(id) => id.to_string(),
        }
    }

    pub fn from_form(value: &str) -> Option<Branch> {
        match value.trim() {
            "" | "next" => Some(Branch::Next),
            "end" => Some(Branch::End),
            id => id.parse().ok().map(Branch::Step),
        }
    }

    /// The stored pair: `then_go`/`else_go` and the step it names.
    pub fn from_row(go: &str, step: Option<Uuid>) -> Branch {
        match (go, step) {
            ("END", _) => Branch::End,
            ("STEP", Some(id)) => Branch::Step(id),
            _ => Branch::Next,
        }
    }

    pub fn go(self) -> &'static str {
        match self {
            Branch::Next => "NEXT",
            Branch::End => "END",
            Branch::Step(_) => "STEP",
        }
    }

    pub fn step(self) -> Option<Uuid> {
        match self {
            Branch::Step(id) => Some(id),
            _ => None,
        }
    }
}

/// Variables a template may use; the values come from the lead.
pub const TEMPLATE_VARIABLES: [&str; 7] = [
    "first_name",
    "last_name",
    "full_name",
    "company",
    "email",
    "phone",
    "owner_name",
];

/// The APIs a WhatsApp number may send through (`wa_phone_numbers.provider`).
pub const WA_PROVIDERS: [&str; 2] = ["META_CLOUD", "DIALOG360"];
crate::db_codes! {
    /// Where a WhatsApp number stands (`wa_phone_numbers.status`).
    PhoneStatus {
        Active = "ACTIVE",
        Paused = "PAUSED",
        Offline = "OFFLINE",
        Banned = "BANNED",
        Reconnecting = "RECONNECTING",
        /// While a provider switch holds its messages; set only by the switch, never
        /// from the status menu.
        Migrating = "MIGRATING",
    }
}

impl PhoneStatus {
    /// The statuses a member may choose in the status menu.
    pub const SETTABLE: [PhoneStatus; 5] = [
        PhoneStatus::Active,
        PhoneStatus::Paused,
        PhoneStatus::Offline,
        PhoneStatus::Banned,
        PhoneStatus::Reconnecting,
    ];
}

crate::db_codes! {
    /// `templates.approval_status`: Meta's review of a WhatsApp template, which may be
    /// sent outside the 24-hour window only once APPROVED. Email templates are APPROVED.
    /// In the order the form offers them: a new WhatsApp template starts PENDING.
    TemplateApproval {
        Pending = "PENDING",
        Approved = "APPROVED",
        Draft = "DRAFT",
        Rejected = "REJECTED",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateSummary {
    pub id: Uuid,
    pub name: String,
    pub channel: Channel,
    pub locale: String,
    pub folder: Option<String>,
    pub tags: Vec<String>,
    pub approval_status: TemplateApproval,
    pub versions: i64,
    pub sent: i64,
    pub replied: i64,
    /// Kept for its history, offered nowhere.
    #[serde(default)]
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionView {
    pub id: Uuid,
    pub version_no: i32,
    pub label: String,
    pub subject: Option<String>,
    pub body: String,
    pub weight: i32,
    pub active: bool,
    pub sent: i64,
    pub delivered: i64,
    pub replied: i64,
}

impl VersionView {
    /// Replies per sent message, in percent (0 when nothing was sent).
    pub fn reply_rate(&self) -> f64 {
        rate(self.replied, self.sent)
    }
}

pub fn rate(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateDetail {
    pub summary: TemplateSummary,
    pub wa_template_name: Option<String>,
    pub versions: Vec<VersionView>,
    pub files: Vec<TemplateFileView>,
}

/// The largest file a template may carry, and (email) all its attachments together:
/// under the 25 MB most mail servers take once base64 has grown it by a third.
pub const TEMPLATE_FILES_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Meta's limit on an image (a template header, or an image sent in the window).
pub const WA_IMAGE_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Attachments an email template may carry; a WhatsApp template has one header.
pub const EMAIL_MAX_ATTACHMENTS: usize = 5;

/// A file that goes with a template: a WhatsApp header, or an email attachment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateFileView {
    pub id: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub byte_size: i32,
    pub sha256: String,
}

impl TemplateFileView {
    /// Where members download it.
    pub fn url(&self) -> String {
        format!("/files/template-files/{}", self.id)
    }

    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }
}

/// A lead the editor previews a template against, with its variable values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewLead {
    pub id: Uuid,
    pub name: String,
    pub values: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhoneView {
    pub id: Uuid,
    pub number: String,
    pub label: String,
    pub provider_phone_id: String,
    /// One of [`WA_PROVIDERS`].
    pub provider: String,
    pub status: PhoneStatus,
    pub status_reason: Option<String>,
    pub priority: i32,
    pub daily_quota: i32,
    pub used_today: i32,
    pub followups_today: i32,
    pub leads: i64,
    /// Archived: offered to no new send; listed last.
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsCheckView {
    pub kind: String,
    pub name: String,
    pub expected: String,
    pub found: Vec<String>,
    pub ok: bool,
    pub problem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainView {
    pub id: Uuid,
    pub domain: String,
    pub dkim_selector: String,
    pub spf_ok: bool,
    pub dkim_ok: bool,
    pub dmarc_ok: bool,
    pub checks: Vec<DnsCheckView>,
    pub checked_at: Option<DateTime<Utc>>,
    /// Kept for the messages that name it, offered for no new mailbox.
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailboxView {
    pub id: Uuid,
    pub domain: String,
    pub from_address: String,
    pub from_name: String,
    pub smtp_host: String,
    pub smtp_port: i32,
    pub smtp_security: String,
    pub daily_cap: i32,
    /// Today's limit after the warm-up ramp.
    pub cap_today: i32,
    pub sent_today: i32,
    pub min_gap_seconds: i32,
    pub status: String,
    pub status_reason: Option<String>,
    pub bounce_rate: f64,
    /// Archived: offered to no new send; listed last.
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Senders {
    pub phones: Vec<PhoneView>,
    pub domains: Vec<DomainView>,
    pub mailboxes: Vec<MailboxView>,
    pub wa_daily_unique_limit: i32,
}

/// A mailbox a step may send from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxChoice {
    pub id: Uuid,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub id: Uuid,
    pub position: i32,
    pub delay_minutes: i32,
    pub kind: StepKind,
    /// A sending step's channel and template; none for a wait or a condition.
    pub channel: Option<Channel>,
    pub template_id: Option<Uuid>,
    pub template_name: Option<String>,
    pub fallback_template_id: Option<Uuid>,
    pub fallback_template_name: Option<String>,
    pub skip_if_replied: bool,
    pub skip_if_opened: bool,
    /// The email's own subject and sender name, instead of the template's and mailbox's.
    pub subject_override: Option<String>,
    pub from_name: Option<String>,
    /// The mailbox the email goes from, instead of the rotation: its id and address.
    pub mailbox_id: Option<Uuid>,
    pub mailbox: Option<String>,
    /// A wait's moment in the sequence's time zone.
    pub wait_until: Option<chrono::NaiveDateTime>,
    pub condition: Option<Condition>,
    pub condition_field: Option<String>,
    /// A custom field's label, when the condition tests one.
    pub condition_field_label: Option<String>,
    pub condition_value: Option<String>,
    /// Where a condition goes when it holds, and when it does not.
    pub then_go: Branch,
    pub else_go: Branch,
    pub sent: i64,
    pub replied: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceSummary {
    pub id: Uuid,
    pub name: String,
    pub status: SequenceStatus,
    pub steps: i64,
    pub active: i64,
    pub enrolled: i64,
    pub sent: i64,
    pub replied: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnrollmentView {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub lead_name: String,
    pub status: EnrollmentStatus,
    pub next_step: i32,
    pub next_run_at: DateTime<Utc>,
    pub stop_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceDetail {
    pub summary: SequenceSummary,
    pub timezone: Option<String>,
    /// One line per weekday window, "mon 09:00-17:00".
    pub business_hours: String,
    pub holidays: String,
    pub exit_on_reply: bool,
    pub exit_on_bounce: bool,
    pub max_attempts: i32,
    /// When sending starts, as the form shows it (the sequence's zone); None: at once.
    pub starts_at: Option<String>,
    pub steps: Vec<StepView>,
    pub enrollments: Vec<EnrollmentView>,
}

/// Why leads were left out of an enrolment, and how many.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolReport {
    pub enrolled: usize,
    /// (reason code, count), reason codes: suppressed, opted_out, in_sequence,
    /// missing_variable, no_channel, closed_journey, not_found.
    pub skipped: Vec<(String, usize)>,
    /// What the `missing_variable` leads lack, one entry per template and problem.
    pub template_problems: Vec<TemplateProblem>,
}

/// A template that cannot be rendered for some of the leads being enrolled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateProblem {
    pub template: String,
    /// The problem with its character position, in the member's language.
    pub problem: String,
    pub leads: usize,
    /// The first few of those leads' names.
    pub examples: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: Uuid,
    pub channel: Channel,
    pub direction: String,
    pub status: MessageStatus,
    pub subject: Option<String>,
    pub body: String,
    pub to_address: String,
    pub from_address: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// It has an open item in the review queue.
    pub in_review: bool,
}

/// Outreach on a lead's page: the journey, the sequence it is in, its messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadOutreach {
    pub state: String,
    pub previous_state: Option<String>,
    pub state_reason: Option<String>,
    pub human_takeover: bool,
    pub assigned_phone: Option<String>,
    pub enrollment: Option<EnrollmentView>,
    pub sequence_name: Option<String>,
    pub messages: Vec<MessageView>,
    /// The journey states a member may move this lead to by hand.
    pub manual_moves: Vec<String>,
    pub suppressed: Vec<String>,
    /// Free-text WhatsApp is allowed (inside the 24-hour service window).
    pub wa_window_open: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    pub contacted: i64,
    pub replied: i64,
    pub converted: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateRow {
    pub label: String,
    pub sent: i64,
    pub replied: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    pub label: String,
    pub used: i64,
    pub limit: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayRow {
    pub day: String,
    pub sent: i64,
    pub replies: i64,
}

/// One day of the review queue (by the day items were created, or resolved, in the
/// workspace's time zone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewDay {
    pub day: String,
    /// Items that reached the queue that day.
    pub items: i64,
    /// Of those, how many passed their SLA.
    pub breaches: i64,
    /// Items resolved that day, and the median minutes from arrival to resolution.
    pub resolved: i64,
    pub median_resolve_min: Option<f64>,
    /// Of the items resolved that day with the intent judged by a person: kept as the
    /// classifier read it, or corrected.
    pub confirmed: i64,
    pub corrected: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutreachDashboard {
    pub funnel: Funnel,
    pub sequences: Vec<RateRow>,
    pub steps: Vec<RateRow>,
    pub variants: Vec<RateRow>,
    pub phones: Vec<UsageRow>,
    /// Bounce rate per mailbox: used = bounces, limit = sent.
    pub mailboxes: Vec<UsageRow>,
    pub days: Vec<DayRow>,
    /// The review queue's last two weeks.
    pub review: Vec<ReviewDay>,
}

/// Something a member should know (a message that could not be sent, a sender that
/// paused itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: Uuid,
    pub kind: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One step of a provider switch as it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwitchStep {
    /// REQUEST, VERIFY, HOLD, DRAIN, SWAP or ROLLBACK.
    pub step: String,
    /// OK, WAITING or FAILED.
    pub outcome: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// A provider switch of a number (`provider_migrations`), newest first on the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderSwitchView {
    pub id: Uuid,
    pub from_provider: String,
    pub to_provider: String,
    /// PENDING, IN_PROGRESS, COMPLETED or FAILED.
    pub status: String,
    pub error: Option<String>,
    pub steps: Vec<SwitchStep>,
    pub started_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The largest CSV file of addresses taken in one import. An import is one
/// transaction and one INSERT; 1 MiB is ~40,000 addresses, under the 2 MiB body limit.
pub const SUPPRESSION_IMPORT_MAX_BYTES: usize = 1024 * 1024;

/// One address on the suppression list, and why it is there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuppressionView {
    pub id: Uuid,
    pub channel: Channel,
    pub address: String,
    /// OPT_OUT, UNSUBSCRIBE, BOUNCE, COMPLAINT, MANUAL or IMPORTED.
    pub reason: String,
    /// The message the opt-out, unsubscribe, bounce or complaint came through.
    pub message_id: Option<Uuid>,
    /// That message's lead, for a link.
    pub lead_id: Option<Uuid>,
    /// The member who added it by hand or by import.
    pub added_by: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Where the next page of the suppression list starts (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuppressionPage {
    pub rows: Vec<SuppressionView>,
    pub next: Option<SuppressionCursor>,
}

/// A line of an imported file that is not an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidLine {
    pub line: usize,
    pub value: String,
    pub problem: String,
}

/// What an import of addresses did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionImport {
    pub added: usize,
    /// Lines whose address was already on the list (or earlier in the file).
    pub already: Vec<usize>,
    pub invalid_count: usize,
    /// The first of the invalid lines.
    pub invalid: Vec<InvalidLine>,
}
