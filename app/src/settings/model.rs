use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    pub name: String,
    pub slug: String,
    pub brand_color: String,
    pub logo_url: Option<String>,
    pub locale: String,
    pub timezone: String,
    /// The digits of Arabic pages: `latn` (0123) or `arab` (٠١٢٣).
    pub number_system: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityPolicy {
    pub password_min_length: i32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
    pub session_idle_minutes: i32,
    pub max_failed_logins: i32,
    pub lockout_minutes: i32,
    pub two_factor_required: bool,
    /// Members must have confirmed their email address to work in the workspace.
    pub require_verified_email: bool,
}

/// Filters of the audit-log viewer; every one optional. Dates are `YYYY-MM-DD` in UTC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<Uuid>,
    pub entity_type: Option<String>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub ip: Option<String>,
}

/// Keyset paging: the next page starts after this (created_at, id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub next: Option<AuditCursor>,
    /// People of the tenant, for the "who" filter.
    pub actors: Vec<(Uuid, String)>,
}
