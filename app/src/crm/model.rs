//! Types the browser and the server share across the CRM.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::db_codes! {
    /// What a timeline entry records (`activities.kind`).
    ActivityKind {
        Note = "NOTE",
        Call = "CALL",
        Email = "EMAIL",
        Whatsapp = "WHATSAPP",
        Meeting = "MEETING",
        Task = "TASK",
        StageChange = "STAGE_CHANGE",
        StatusChange = "STATUS_CHANGE",
        Assignment = "ASSIGNMENT",
        Created = "CREATED",
        ListAdd = "LIST_ADD",
        ListRemove = "LIST_REMOVE",
        Imported = "IMPORTED",
        Journey = "JOURNEY",
        Enrolled = "ENROLLED",
        Approval = "APPROVAL",
        Merged = "MERGED",
        MergeUndone = "MERGE_UNDONE",
    }
}

impl ActivityKind {
    /// The kinds people write on a record's page (and edit or delete later); the rest
    /// are the system's record of what happened.
    pub const WRITTEN: [ActivityKind; 4] = [
        ActivityKind::Note,
        ActivityKind::Call,
        ActivityKind::Meeting,
        ActivityKind::Task,
    ];

    pub fn is_written(self) -> bool {
        ActivityKind::WRITTEN.contains(&self)
    }
}

/// The kinds of record that have owners, lists, custom fields and a timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Entity {
    Lead,
    Contact,
    Company,
    Deal,
}

impl Entity {
    pub const ALL: [Entity; 4] = [Entity::Lead, Entity::Contact, Entity::Company, Entity::Deal];

    /// The code stored in `lists.entity`, `jobs.entity`, `custom_fields.entity`.
    pub fn code(self) -> &'static str {
        match self {
            Entity::Lead => "LEAD",
            Entity::Contact => "CONTACT",
            Entity::Company => "COMPANY",
            Entity::Deal => "DEAL",
        }
    }

    pub fn parse(code: &str) -> Option<Entity> {
        Entity::ALL
            .into_iter()
            .find(|e| e.code().eq_ignore_ascii_case(code.trim()))
    }

    pub fn table(self) -> &'static str {
        match self {
            Entity::Lead => "leads",
            Entity::Contact => "contacts",
            Entity::Company => "companies",
            Entity::Deal => "deals",
        }
    }

    /// The column holding the record's display name.
    pub fn name_column(self) -> &'static str {
        match self {
            Entity::Contact => "full_name",
            _ => "name",
        }
    }

    /// The column of `activities` that points at this kind of record.
    pub fn activity_column(self) -> &'static str {
        match self {
            Entity::Lead => "lead_id",
            Entity::Contact => "contact_id",
            Entity::Company => "company_id",
            Entity::Deal => "deal_id",
        }
    }

    /// The page path of one record.
    pub fn path(self, id: Uuid) -> String {
        let area = match self {
            Entity::Lead => "leads",
            Entity::Contact => "contacts",
            Entity::Company => "companies",
            Entity::Deal => "deals",
        };
        format!("/{area}/{id}")
    }
}

/// A member shown as an owner or assignee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    pub user_id: Uuid,
    pub name: String,
}

impl MemberRef {
    pub fn initials(&self) -> String {
        self.name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .take(2)
            .collect::<String>()
            .to_uppercase()
    }
}

/// The filters of a table view, kept in the URL and reused by export.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFilter {
    /// Free text: names, emails, phones; tolerant of typos.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub owner: Option<Uuid>,
    #[serde(default)]
    pub tag: Option<String>,
    /// Lead status or deal status, as stored.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub list_id: Option<Uuid>,
}
