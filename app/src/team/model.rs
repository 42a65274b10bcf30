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
    /// May draw plans and keep the inventory's set-up, by an admin's grant (an admin
    /// or owner may by their role).
    pub inventory_grant: bool,
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

/// What the invite page shows. Whether the invited address already has an account
/// is never part of it: that is for the normal sign-in to find out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteState {
    Open {
        tenant_name: String,
        email: String,
        role: Role,
        viewer: InviteViewer,
    },
    /// The signed-in user already belongs to the invite's workspace.
    Joined {
        tenant_id: uuid::Uuid,
        tenant_name: String,
    },
    Expired,
    Revoked,
    Used,
    Unknown,
}

/// Who opened an open invite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteViewer {
    SignedOut,
    /// Signed in with the invited address: joining takes one click.
    Invited,
    /// Signed in as someone else, who must sign out first.
    Other {
        email: String,
    },
}

/// What accepting an invite led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteOutcome {
    /// The signed-in invitee joined and now works in the invite's workspace.
    Joined,
    /// Signed out: the next step is the normal sign-in, whether the account was just
    /// created or existed already (the answer is the same either way).
    SignInNext,
}

/// The link an admin copies until email sending exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLink {
    pub email: String,
    pub url: String,
}
