use crate::crm::model::{Entity, MemberRef};
use crate::crm::money::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Rows a table page loads at a time.
pub const TABLE_PAGE: i64 = 50;
/// Timeline entries a page loads at a time.
pub const TIMELINE_PAGE: i64 = 30;

pub const LEAD_STATUSES: [&str; 5] = ["NEW", "PROSPECTED", "CONTACTED", "QUALIFIED", "LOST"];

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
    pub kind: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub data: serde_json::Value,
    pub due_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MyTasks {
    pub overdue: Vec<TaskRow>,
    pub today: Vec<TaskRow>,
    pub upcoming: Vec<TaskRow>,
}

/// What a bulk action does to the selected rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkAction {
    Assign(Option<Uuid>),
    Tag(String),
    AddToList(Uuid),
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRef {
    pub id: Uuid,
    pub name: String,
    pub smart: bool,
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
