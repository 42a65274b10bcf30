//! Approvals on the server: the rules admins keep (`rules`), the guard that turns a
//! guarded stage move into a request (`guard`), and the queue where each level
//! decides (`decide`).

pub mod decide;
pub mod guard;
pub mod rules;

use super::model::*;
use crate::auth::model::Role;
use crate::db::Tx;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One level as a request keeps it (a copy of the rule's level at request time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelSpec {
    pub role: Option<String>,
    pub member_id: Option<Uuid>,
}

impl LevelSpec {
    pub fn role(&self) -> Option<Role> {
        self.role.as_deref().and_then(Role::parse)
    }

    /// Whether a member with `role` may decide this level. A breached request lets
    /// admins and owners decide whatever the level: that is its escalation.
    pub fn admits(&self, user_id: Uuid, role: Role, breached: bool) -> bool {
        self.member_id == Some(user_id)
            || self.role().is_some_and(|r| role >= r)
            || (breached && role >= Role::Admin)
    }
}

/// The approver of a level from its columns: a role code, or a member and their name.
pub fn approver(role: Option<&str>, member_id: Option<Uuid>, name: Option<String>) -> Approver {
    match (role.and_then(Role::parse), member_id) {
        (Some(r), _) => Approver::Role(r),
        (None, Some(user_id)) => Approver::Member {
            user_id,
            name: name.unwrap_or_default(),
        },
        // A level always has one or the other (a CHECK on the rule's levels).
        (None, None) => Approver::Role(Role::Owner),
    }
}

/// A deal's open request, as the board's card query reads it (columns `pa_*`).
#[derive(sqlx::FromRow)]
pub struct PendingSql {
    pa_request_id: Option<Uuid>,
    pa_to_stage_id: Option<Uuid>,
    pa_to_stage: Option<String>,
    pa_level: Option<i32>,
    pa_levels: Option<i32>,
    pa_role: Option<String>,
    pa_member_id: Option<Uuid>,
    pa_member: Option<String>,
}

impl PendingSql {
    pub fn into_pending(self) -> Option<PendingApproval> {
        Some(PendingApproval {
            request_id: self.pa_request_id?,
            to_stage_id: self.pa_to_stage_id?,
            to_stage: self.pa_to_stage.unwrap_or_default(),
            level: self.pa_level.unwrap_or(1),
            levels: self.pa_levels.unwrap_or(1),
            approver: approver(self.pa_role.as_deref(), self.pa_member_id, self.pa_member),
        })
    }
}

/// Minutes a level has to decide: the review queue's SLA for HIGH items, so approvals
/// and replies share one clock (and its business hours) a manager tunes in one place.
pub async fn sla_minutes(tx: &mut Tx) -> Result<i32, AppError> {
    Ok(
        sqlx::query_scalar("SELECT coalesce((SELECT sla_high_min FROM review_settings), 120)")
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Tells the members who decide `level`: the named member, or the members holding
/// the role (those above it only when nobody holds it). Never the requester.
pub async fn notify_level(
    tx: &mut Tx,
    tenant_id: Uuid,
    level: &LevelSpec,
    requester: Option<Uuid>,
    body: &str,
    link: &str,
) -> Result<(), AppError> {
    let exact: Vec<&str> = level.role().map(|r| vec![r.as_str()]).unwrap_or_default();
    let above: Vec<&str> = level
        .role()
        .map(|r| {
            Role::ALL
                .iter()
                .filter(|x| **x >= r)
                .map(|x| x.as_str())
                .collect()
        })
        .unwrap_or_default();
    for roles in [exact, above] {
        let told = sqlx::query(
            "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
             SELECT $1, gen_random_uuid(), user_id, 'APPROVAL_REQUESTED', $2, $3 FROM memberships
              WHERE status = 'ACTIVE' AND user_id IS DISTINCT FROM $4
                AND (user_id = $5 OR role = ANY($6))",
        )
        .bind(tenant_id)
        .bind(body)
        .bind(link)
        .bind(requester)
        .bind(level.member_id)
        .bind(&roles)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if told > 0 {
            break;
        }
    }
    Ok(())
}

/// The queue's link to one request.
pub fn link(id: Uuid) -> String {
    format!("/review?tab=approvals&approval={id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(r: &str) -> LevelSpec {
        LevelSpec {
            role: Some(r.into()),
            member_id: None,
        }
    }

    #[test]
    fn a_role_level_admits_that_role_and_above_and_a_breach_admits_admins() {
        let someone = Uuid::now_v7();
        let manager = role("MANAGER");
        assert!(!manager.admits(someone, Role::Sales, false));
        assert!(manager.admits(someone, Role::Manager, false));
        assert!(manager.admits(someone, Role::Owner, false));
        let owner = role("OWNER");
        assert!(!owner.admits(someone, Role::Admin, false));
        assert!(owner.admits(someone, Role::Admin, true), "escalated");
        assert!(!owner.admits(someone, Role::Manager, true));
    }

    #[test]
    fn a_member_level_admits_that_member_only_until_it_is_late() {
        let mia = Uuid::now_v7();
        let level = LevelSpec {
            role: None,
            member_id: Some(mia),
        };
        assert!(level.admits(mia, Role::Manager, false));
        assert!(!level.admits(Uuid::now_v7(), Role::Owner, false));
        assert!(level.admits(Uuid::now_v7(), Role::Owner, true));
    }

    #[test]
    fn the_board_reads_a_pending_request_only_when_there_is_one() {
        let none = PendingSql {
            pa_request_id: None,
            pa_to_stage_id: None,
            pa_to_stage: None,
            pa_level: None,
            pa_levels: None,
            pa_role: None,
            pa_member_id: None,
            pa_member: None,
        };
        assert_eq!(none.into_pending(), None);
        let mia = Uuid::now_v7();
        let some = PendingSql {
            pa_request_id: Some(Uuid::now_v7()),
            pa_to_stage_id: Some(Uuid::now_v7()),
            pa_to_stage: Some("Won".into()),
            pa_level: Some(2),
            pa_levels: Some(2),
            pa_role: None,
            pa_member_id: Some(mia),
            pa_member: Some("Mia".into()),
        }
        .into_pending()
        .unwrap();
        assert_eq!(
            some.held_message(crate::i18n::Locale::En),
            "Moving to Won needs approval: sent to Mia."
        );
        assert_eq!(
            some.approver,
            Approver::Member {
                user_id: mia,
                name: "Mia".into()
            }
        );
    }
}
