use crate::auth::model::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::db_codes! {
    /// `memberships.status`: a suspended member keeps their history but cannot sign in
    /// to the workspace.
    MembershipStatus {
        Active = "ACTIVE",
        Suspended = "SUSPENDED",
    }
}

crate::db_codes! {
    /// `invites.status`. An expired invite stays `PENDING`; `expires_at` says so.
    InviteStatus {
        Pending = "PENDING",
        Accepted = "ACCEPTED",
        Revoked = "REVOKED",
    }
}

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
    /// The user id of the member they report to: a manager sees their reports'
    /// records, and their reports' reports'.
    pub manager_id: Option<Uuid>,
}

impl Member {
    /// Whether this member can have reports: managers and above.
    pub fn can_lead(&self) -> bool {
        self.active && self.role >= Role::Manager
    }
}

/// The reporting lines as a tree: each member with the members who report to them,
/// people without a manager (or whose manager left the list) at the top.
pub fn hierarchy(members: &[Member]) -> Vec<(usize, &Member)> {
    fn walk<'a>(
        members: &'a [Member],
        manager: Option<Uuid>,
        depth: usize,
        out: &mut Vec<(usize, &'a Member)>,
    ) {
        for m in members.iter().filter(|m| m.manager_id == manager) {
            // A cycle cannot be saved; the depth bound keeps a bad row from looping.
            if depth < members.len() && !out.iter().any(|(_, seen)| seen.user_id == m.user_id) {
                out.push((depth, m));
                walk(members, Some(m.user_id), depth + 1, out);
            }
        }
    }
    let mut out = Vec::with_capacity(members.len());
    let known = |id: Uuid| members.iter().any(|m| m.user_id == id);
    for top in members
        .iter()
        .filter(|m| m.manager_id.is_none_or(|id| !known(id)))
    {
        out.push((0, top));
        walk(members, Some(top.user_id), 1, &mut out);
    }
    out
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
