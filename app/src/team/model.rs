use crate::auth::model::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub membership_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub is_self: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvite {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
    pub expired: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub members: Vec<Member>,
    pub invites: Vec<PendingInvite>,
    pub seats_used: i64,
    pub seats_limit: i64,
    pub plan_name: String,
}

/// What the invite page shows before anyone signs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteState {
    Open {
        tenant_name: String,
        email: String,
        role: Role,
        /// The invited address already has an account: accepting asks for its password.
        has_account: bool,
    },
    Expired,
    Revoked,
    Used,
    Unknown,
}

/// The link an admin copies until email sending exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLink {
    pub email: String,
    pub url: String,
}
