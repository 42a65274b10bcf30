//! The approvals tab of the review queue: open requests in SLA order, one request with
//! its decisions, and a level's decision.

use super::{approver, link, notify_level, sla_minutes, LevelSpec};
use crate::approvals::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::{Permission, Role};
use crate::crm::activity;
use crate::crm::board::moves;
use crate::crm::model::{ActivityKind, Entity};
use crate::crm::money::Money;
use crate::db::{internal, new_id, violated_constraint, Tx};
use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::ssr::store::notify;
use crate::request::{Env, Principal};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// Open requests the tab shows at most; a queue this long has other problems.
const QUEUE_MAX: i64 = 200;
/// Longest comment on a decision.
const COMMENT_MAX: usize = 1000;

const REQUEST_SELECT: &str = "SELECT q.id, q.deal_id, d.name AS deal_name, d.amount_minor, d.currency::text AS currency,
        fs.name AS from_stage, ts.name AS to_stage, q.rule_name, ru.name AS requester, q.requested_by,
        q.status, q.level::int4 AS level, q.levels, q.sla_due_at, q.breached, q.reason, q.created_at,
        au.name AS approver_name,
        EXISTS (SELECT 1 FROM approval_decisions x WHERE x.request_id = q.id AND x.actor_id = $1) AS decided_before
   FROM approval_requests q JOIN deals d ON d.id = q.deal_id
   JOIN stages fs ON fs.id = q.from_stage_id JOIN stages ts ON ts.id = q.to_stage_id
   LEFT JOIN users ru ON ru.id = q.requested_by
   LEFT JOIN users au ON au.id = (q.levels -> (q.level - 1) ->> 'member_id')::uuid";

#[derive(sqlx::FromRow)]
struct RequestSql {
    id: Uuid,
    deal_id: Uuid,
    deal_name: String,
    amount_minor: i64,
    currency: String,
    from_stage: String,
    to_stage: String,
    rule_name: String,
    requester: Option<String>,
    requested_by: Option<Uuid>,
    status: RequestStatus,
    level: i32,
    levels: Json<Vec<LevelSpec>>,
    sla_due_at: DateTime<Utc>,
    breached: bool,
    reason: Option<String>,
    created_at: DateTime<Utc>,
    approver_name: Option<String>,
    decided_before: bool,
}

impl RequestSql {
    fn spec(&self) -> Option<&LevelSpec> {
        usize::try_from(self.level - 1)
            .ok()
            .and_then(|i| self.levels.0.get(i))
    }

    fn into_row(self, p: &Principal) -> RequestRow {
        let status = self.status;
        let can_decide = status == RequestStatus::Pending
            && p.actor().is_some()
            && self.requested_by != p.actor()
            && !self.decided_before
            && self
                .spec()
                .is_some_and(|s| s.admits(p.user_id, p.role, self.breached));
        let approver = self
            .spec()
            .map(|s| approver(s.role.as_deref(), s.member_id, self.approver_name.clone()))
            .unwrap_or(Approver::Role(Role::Owner));
        RequestRow {
            id: self.id,
            deal_id: self.deal_id,
            deal_name: self.deal_name,
            amount: Money {
                minor: self.amount_minor,
                currency: self.currency,
            },
            from_stage: self.from_stage,
            to_stage: self.to_stage,
            rule_name: self.rule_name,
            requester: self.requester,
            status,
            level: self.level,
            levels: i32::try_from(self.levels.0.len()).unwrap_or(1),
            approver,
            sla_due_at: self.sla_due_at,
            breached: self.breached,
            can_decide,
            reason: self.reason,
            created_at: self.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DecisionSql {
    level: i16,
    actor: String,
    decision: Decision,
    comment: Option<String>,
    created_at: DateTime<Utc>,
}

/// Open requests, in SLA order.
pub async fn queue(env: &Env) -> Result<OpenRequests, AppError> {
    let (p, mut tx) = env.begin(Permission::ReviewWork).await?;
    let rows: Vec<RequestSql> = sqlx::query_as(&format!(
        "{REQUEST_SELECT} WHERE q.status = 'PENDING' ORDER BY q.sla_due_at, q.id LIMIT $2"
    ))
    .bind(p.user_id)
    .bind(QUEUE_MAX)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(OpenRequests {
        requests: rows.into_iter().map(|r| r.into_row(p)).collect(),
    })
}

fn parse_id(env: &Env, id: &str) -> Result<Uuid, AppError> {
    id.trim()
        .parse()
        .map_err(|_| AppError::NotFound(env.t("approvals.error.not_found")))
}

async fn load(env: &Env, tx: &mut Tx, p: &Principal, id: Uuid) -> Result<RequestDetail, AppError> {
    let row: RequestSql = sqlx::query_as(&format!("{REQUEST_SELECT} WHERE q.id = $2"))
        .bind(p.user_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| AppError::NotFound(env.t("approvals.error.not_found")))?;
    let decisions: Vec<DecisionSql> = sqlx::query_as(
        "SELECT x.level, u.name AS actor, x.decision, x.comment, x.created_at
           FROM approval_decisions x JOIN users u ON u.id = x.actor_id
          WHERE x.request_id = $1 ORDER BY x.level",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(RequestDetail {
        request: row.into_row(p),
        decisions: decisions
            .into_iter()
            .map(|d| DecisionView {
                level: d.level.into(),
                actor: d.actor,
                approved: d.decision == Decision::Approved,
                comment: d.comment,
                at: d.created_at,
            })
            .collect(),
    })
}

/// One request with its decisions.
pub async fn detail(env: &Env, id: &str) -> Result<RequestDetail, AppError> {
    let p = env.require(Permission::ReviewWork)?;
    let id = parse_id(env, id)?;
    let mut tx = env.tx(p).await?;
    let detail = load(env, &mut tx, p, id).await?;
    tx.commit().await?;
    Ok(detail)
}

#[derive(sqlx::FromRow)]
struct LockedSql {
    status: RequestStatus,
    level: i32,
    levels: Json<Vec<LevelSpec>>,
    requested_by: Option<Uuid>,
    breached: bool,
    deal_id: Uuid,
    deal_name: String,
    to_stage_id: Uuid,
    to_stage: String,
    deal_version: i32,
    lost_reason: Option<String>,
}

/// Decides the level the approver saw (`level`): approving passes the request to the
/// next level, or at the last one applies the move in this transaction; rejecting
/// closes it. Two approvers deciding one level at once: the request's row lock lets
/// one through, and the other finds the level gone (409).
pub async fn decide(
    env: &Env,
    id: &str,
    level: i32,
    approve: bool,
    comment: &str,
) -> Result<RequestDetail, AppError> {
    let p = env.require(Permission::ReviewWork)?;
    let id = parse_id(env, id)?;
    let comment = comment.trim();
    if comment.chars().count() > COMMENT_MAX {
        return Err(AppError::field(
            "comment",
            env.t("approvals.error.comment_long"),
        ));
    }
    if !approve && comment.is_empty() {
        return Err(AppError::field(
            "comment",
            env.t("approvals.error.reason_required"),
        ));
    }
    let actor = p
        .actor()
        .ok_or_else(|| AppError::Forbidden(env.t("error.forbidden")))?;
    let mut tx = env.tx(p).await?;
    let req: LockedSql = sqlx::query_as(
        "SELECT q.status, q.level::int4 AS level, q.levels, q.requested_by, q.breached, q.deal_id,
                d.name AS deal_name, q.to_stage_id, ts.name AS to_stage, q.deal_version, q.lost_reason
           FROM approval_requests q JOIN deals d ON d.id = q.deal_id JOIN stages ts ON ts.id = q.to_stage_id
          WHERE q.id = $1 FOR UPDATE OF q",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(env.t("approvals.error.not_found")))?;
    if req.status != RequestStatus::Pending || req.level != level {
        return Err(level_gone(env, &mut tx, id, level).await?);
    }
    if req.requested_by == Some(actor) {
        return Err(AppError::Forbidden(env.t("approvals.error.own_request")));
    }
    let spec = usize::try_from(level - 1)
        .ok()
        .and_then(|i| req.levels.0.get(i))
        .cloned()
        .ok_or_else(|| internal("a pending request's level has no approver"))?;
    if !spec.admits(actor, p.role, req.breached) {
        let name: Option<String> = match spec.member_id {
            Some(m) => {
                sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
                    .bind(m)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let who = approver(spec.role.as_deref(), spec.member_id, name).label(env.locale());
        return Err(AppError::Forbidden(tf(
            env.locale(),
            "approvals.error.not_your_level",
            &[("who", who)],
        )));
    }
    let decided_before: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM approval_decisions WHERE request_id = $1 AND actor_id = $2)",
    )
    .bind(id)
    .bind(actor)
    .fetch_one(&mut *tx)
    .await?;
    if decided_before {
        return Err(AppError::Forbidden(env.t("approvals.error.decided_before")));
    }
    sqlx::query(
        "INSERT INTO approval_decisions (tenant_id, id, request_id, level, actor_id, decision, comment)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.tenant_id)
    .bind(new_id())
    .bind(id)
    .bind(i16::try_from(level).map_err(internal)?)
    .bind(actor)
    .bind(if approve {
        Decision::Approved
    } else {
        Decision::Rejected
    })
    .bind(Some(comment).filter(|c| !c.is_empty()))
    .execute(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("approval_decisions_tenant_id_request_id_level_key") => {
            AppError::Conflict(env.t("approvals.error.closed"))
        }
        _ => internal(e),
    })?;
    let last = usize::try_from(level).unwrap_or(0) >= req.levels.0.len();
    let (outcome, detail_reason) = if !approve {
        close(&mut tx, id, RequestStatus::Rejected, Some(comment)).await?;
        (RequestStatus::Rejected, Some(comment.to_string()))
    } else if !last {
        let sla = sla_minutes(&mut tx).await?;
        sqlx::query(
            "UPDATE approval_requests SET level = level + 1, breached = false, updated_at = now(),
                    sla_due_at = review_sla_due(tenant_id, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(sla)
        .execute(&mut *tx)
        .await?;
        if let Some(next) = req.levels.0.get(usize::try_from(level).unwrap_or(0)) {
            let body = tf(
                env.locale(),
                "approvals.notify.requested",
                &[
                    ("name", p.name.clone()),
                    ("deal", req.deal_name.clone()),
                    ("stage", req.to_stage.clone()),
                ],
            );
            notify_level(
                &mut tx,
                p.tenant_id,
                next,
                req.requested_by,
                &body,
                &link(id),
            )
            .await?;
        }
        (RequestStatus::Pending, None)
    } else {
        match moves::apply_approved(
            env,
            &mut tx,
            p,
            req.deal_id,
            req.deal_version,
            req.to_stage_id,
            req.lost_reason.clone(),
        )
        .await?
        {
            Ok(()) => {
                close(&mut tx, id, RequestStatus::Approved, None).await?;
                (RequestStatus::Approved, None)
            }
            Err(reason) => {
                close(&mut tx, id, RequestStatus::Failed, Some(reason.as_str())).await?;
                (RequestStatus::Failed, Some(reason))
            }
        }
    };
    // What this decision did, as the timeline and the audit log name it.
    let event = match (approve, outcome) {
        (false, _) => RequestStatus::Rejected,
        (true, RequestStatus::Failed) => RequestStatus::Failed,
        (true, _) => RequestStatus::Approved,
    };
    activity::log(
        &mut tx,
        p,
        Entity::Deal,
        req.deal_id,
        ActivityKind::Approval,
        serde_json::json!({
            "request": id, "event": event, "to": req.to_stage, "level": level,
            "levels": req.levels.0.len(), "by": p.name, "comment": Some(comment).filter(|c| !c.is_empty()),
            "reason": detail_reason,
        }),
    )
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(
            match event {
                RequestStatus::Rejected => "approval.rejected",
                RequestStatus::Failed => "approval.failed",
                _ => "approval.approved",
            },
            "approval_request",
            Some(id),
        )
        .change(
            serde_json::json!({ "status": RequestStatus::Pending, "level": level }),
            serde_json::json!({ "status": outcome, "comment": comment, "reason": detail_reason }),
        ),
    )
    .await?;
    if outcome != RequestStatus::Pending {
        if let Some(requester) = req.requested_by {
            let key = match outcome {
                RequestStatus::Approved => "approvals.notify.approved",
                RequestStatus::Rejected => "approvals.notify.rejected",
                _ => "approvals.notify.failed",
            };
            let body = tf(
                env.locale(),
                key,
                &[
                    ("name", p.name.clone()),
                    ("deal", req.deal_name.clone()),
                    ("stage", req.to_stage.clone()),
                    ("reason", detail_reason.clone().unwrap_or_default()),
                ],
            );
            notify(
                &mut tx,
                p.tenant_id,
                requester,
                "APPROVAL_DECIDED",
                &body,
                Some(&format!("/deals/{}", req.deal_id)),
            )
            .await?;
        }
    }
    crate::review::ssr::changed(&mut tx, p.tenant_id).await?;
    let detail = load(env, &mut tx, p, id).await?;
    tx.commit().await?;
    Ok(detail)
}

async fn close(
    tx: &mut Tx,
    id: Uuid,
    status: RequestStatus,
    reason: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE approval_requests SET status = $2, reason = $3, decided_at = now(), updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The 409 for a level that is no longer open: who decided it, if anyone did.
async fn level_gone(env: &Env, tx: &mut Tx, id: Uuid, level: i32) -> Result<AppError, AppError> {
    let by: Option<String> = sqlx::query_scalar(
        "SELECT u.name FROM approval_decisions x JOIN users u ON u.id = x.actor_id
          WHERE x.request_id = $1 AND x.level = $2",
    )
    .bind(id)
    .bind(i16::try_from(level).unwrap_or(0))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(AppError::Conflict(match by {
        Some(name) => tf(
            env.locale(),
            "approvals.error.level_decided",
            &[("name", name)],
        ),
        None => env.t("approvals.error.closed"),
    }))
}
