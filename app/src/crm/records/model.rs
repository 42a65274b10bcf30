use crate::crm::model::{ActivityKind, Entity, MemberRef};
use crate::crm::money::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Rows a table page loads at a time.
pub const TABLE_PAGE: i64 = 50;
/// Timeline entries a page loads at a time.
pub const TIMELINE_PAGE: i64 = 30;

crate::db_codes! {
    /// Where a lead stands (`leads.status`), in the order a lead moves through them.
    LeadStatus {
        New = "NEW",
        Prospected = "PROSPECTED",
        Contacted = "CONTACTED",
        Replied = "REPLIED",
        Qualified = "QUALIFIED",
        Converted = "CONVERTED",
        Lost = "LOST",
    }
}

/// Every lead status's code, for pickers and messages that list them.
pub const LEAD_STATUSES: &[&str] = LeadStatus::CODES;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    #[default]
    Newest,
    Name,
}

impl Sort {
    pub fn parse(code: &str) -> Sort {
        if code == "name" {
            Sort::Name
        } else {
            Sort::Newest
        }
    }
}

/// Where the next table page starts: after the row with this sort key and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCursor {
    pub key: String,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub entity: Entity,
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordRow {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<Link>,
    pub owner: Option<MemberRef>,
    pub status: Option<String>,
    pub score: Option<i32>,
    pub amount: Option<Money>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordPage {
    pub rows: Vec<RecordRow>,
    pub next: Option<RowCursor>,
    pub members: Vec<MemberRef>,
}

/// One record's page: its facts, who owns it, what it is linked to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordDetail {
    pub entity: Entity,
    pub row: RecordRow,
    /// The tenant's custom fields for this kind of record, with this record's values.
    pub custom: Vec<(CustomField, String)>,
    /// Editable facts by field name (title, source, domain, ...), as text.
    pub facts: Vec<(String, String)>,
    pub related: Vec<Link>,
    pub members: Vec<MemberRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineItem {
    pub id: Uuid,
    pub kind: ActivityKind,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub data: serde_json::Value,
    pub due_at: Option<DateTime<Utc>>,
    /// When a task was closed: done, or cancelled if `cancelled`.
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cancelled: bool,
    /// A task's assignee.
    #[serde(default)]
    pub assignee: Option<String>,
    /// A meeting's time (absent on meetings logged before meetings had one).
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// A meeting's attendees' names.
    #[serde(default)]
    pub attendees: Vec<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineCursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePage {
    pub items: Vec<TimelineItem>,
    pub next: Option<TimelineCursor>,
}

/// A task on someone's list, with the record it is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub id: Uuid,
    pub subject: String,
    pub due_at: Option<DateTime<Utc>>,
    pub about: Option<Link>,
}

/// A member's open tasks by due time, and the server's clock when they were read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MyTasks {
    pub tasks: Vec<TaskRow>,
    pub read_at: DateTime<Utc>,
    /// Whom the member may give a task to: themselves, their reports, or (admins)
    /// anyone active.
    pub members: Vec<MemberRef>,
    /// The member's meetings that have not ended, in the next two weeks.
    #[serde(default)]
    pub meetings: Vec<MeetingRow>,
}

/// A meeting on someone's list, with the record it is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeetingRow {
    pub id: Uuid,
    pub subject: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub about: Option<Link>,
}

/// Open tasks split as a member sees them at `now`, in `zone`: past due, due later
/// on the viewer's today, and the rest (undated last).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskSections {
    pub overdue: Vec<TaskRow>,
    pub today: Vec<TaskRow>,
    pub upcoming: Vec<TaskRow>,
}

impl MyTasks {
    pub fn sections(&self, now: DateTime<Utc>, zone: &str) -> TaskSections {
        let today = crate::l10n::to_local(zone, now).date();
        let mut sections = TaskSections::default();
        for task in &self.tasks {
            let list = match task.due_at {
                Some(due) if due < now => &mut sections.overdue,
                Some(due) if crate::l10n::to_local(zone, due).date() == today => {
                    &mut sections.today
                }
                _ => &mut sections.upcoming,
            };
            list.push(task.clone());
        }
        sections
    }
}

/// What a bulk action does to the selected rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkAction {
    Assign(Option<Uuid>),
    Tag(String),
    AddToList(Uuid),
    RemoveFromList(Uuid),
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRef {
    pub id: Uuid,
    pub name: String,
    pub smart: bool,
    #[serde(default)]
    pub description: Option<String>,
    /// `#rrggbb`.
    #[serde(default)]
    pub color: String,
    /// The viewer may rename and describe it: its owner, or a manager and up.
    #[serde(default)]
    pub editable: bool,
}

/// Search results across every kind of record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchHits {
    pub hits: Vec<Link>,
}

pub fn entity_from_path(area: &str) -> Option<Entity> {
    match area {
        "leads" => Some(Entity::Lead),
        "contacts" => Some(Entity::Contact),
        "companies" => Some(Entity::Company),
        "deals" => Some(Entity::Deal),
        _ => None,
    }
}

/// A field a tenant added to one kind of record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub id: Uuid,
    pub entity: Entity,
    pub key: String,
    pub label: String,
    /// TEXT, NUMBER, DATE or SELECT.
    pub kind: String,
    pub options: Vec<String>,
    pub required: bool,
}

pub const CUSTOM_KINDS: [&str; 4] = ["TEXT", "NUMBER", "DATE", "SELECT"];

#[cfg(test)]
mod tests {
    use super::*;

    fn task(due: &str) -> TaskRow {
        TaskRow {
            id: Uuid::nil(),
            subject: due.to_string(),
            due_at: Some(
                DateTime::parse_from_rfc3339(due)
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            about: None,
        }
    }

    /// At 23:30 UTC on 2 December it is already 3 December in Cairo (+02): a task due
    /// at 09:00 there that morning is today's for a Cairo viewer, tomorrow's in UTC.
    #[test]
    fn today_is_the_viewers_day() {
        let tasks = MyTasks {
            tasks: vec![
                task("2026-12-02T20:00:00Z"),
                task("2026-12-03T07:00:00Z"),
                task("2026-12-04T07:00:00Z"),
            ],
            read_at: Utc::now(),
            ..MyTasks::default()
        };
        let now = DateTime::parse_from_rfc3339("2026-12-02T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let names = |list: &[TaskRow]| list.iter().map(|t| t.subject.clone()).collect::<Vec<_>>();
        let cairo = tasks.sections(now, "Africa/Cairo");
        assert_eq!(names(&cairo.overdue), ["2026-12-02T20:00:00Z"]);
        assert_eq!(names(&cairo.today), ["2026-12-03T07:00:00Z"]);
        assert_eq!(names(&cairo.upcoming), ["2026-12-04T07:00:00Z"]);
        let utc = tasks.sections(now, "UTC");
        assert!(utc.today.is_empty());
        assert_eq!(utc.upcoming.len(), 2);
    }
}
