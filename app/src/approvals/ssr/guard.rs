//! The guard on a deal's stage move: when one of the tenant's rules covers the move,
//! it is not applied; a request holding it goes to the rule's first level instead.

use super::{link, notify_level, sla_minutes, LevelSpec};
use crate::audit::{self, AuditEntry};
use crate::crm::activity;
use crate::crm::model::{ActivityKind, Entity};
use crate::db::{internal, new_id, violated_constraint, Tx};
use crate::error::AppError;
use crate::i18n::tf;
use crate::request::{Env, Principal};
use uuid::Uuid;

/// A checked stage move, as the guard needs to see it.
pub struct Move<'a> {
    pub deal_id: Uuid,
    pub deal_name: &'a str,
    pub from_stage_id: Uuid,
    pub to_stage_id: Uuid,
    pub to_stage: &'a str,
    pub into_won: bool,
    pub version: i32,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub lost_reason: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct RuleSql {
    id: Uuid,
    name: String,
    levels: sqlx::types::Json<Vec<LevelSpec>>,
}

/// Holds the move for approval if a rule covers it; `true` when held. Of several
/// rules that cover it, the one with the most levels holds it (the strictest wins).
pub async fn hold_if_guarded(
    env: &Env,
    tx: &mut Tx,
    p: &Principal,
    mv: &Move<'_>,
) -> Result<bool, AppError> {
    let rule: Option<RuleSql> = sqlx::query_as(
        "SELECT r.id, r.name, l.levels FROM approval_rules r
           CROSS JOIN LATERAL (
                SELECT jsonb_agg(jsonb_build_object('role', v.role, 'member_id', v.member_id)
                                 ORDER BY v.position) AS levels, count(*) AS n
                  FROM approval_rule_levels v WHERE v.tenant_id = r.tenant_id AND v.rule_id = r.id) l
          WHERE l.n > 0
            AND ((r.trigger = 'STAGE_ENTERED' AND r.stage_id = $1)
              OR (r.trigger = 'AMOUNT_ABOVE' AND $2 AND r.currency = $3 AND $4 > r.amount_minor))
          ORDER BY l.n DESC, r.created_at, r.id
          LIMIT 1",
    )
    .bind(mv.to_stage_id)
    .bind(mv.into_won)
    .bind(mv.currency)
    .bind(mv.amount_minor)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(rule) = rule else {
        return Ok(false);
    };
    let levels = rule.levels.0;
    let first = levels
        .first()
        .cloned()
        .ok_or_else(|| internal("an approval rule without levels matched"))?;
    let sla = sla_minutes(tx).await?;
    let id = new_id();
    let already = || {
        AppError::Conflict(tf(
            env.locale(),
            "approvals.error.already_open",
            &[("stage", mv.to_stage.to_string())],
        ))
    };
    sqlx::query(
        "INSERT INTO approval_requests (tenant_id, id, rule_id, rule_name, deal_id, from_stage_id, to_stage_id,
                                        lost_reason, deal_version, levels, requested_by, requested_by_key, sla_due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, review_sla_due($1, $13))",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(rule.id)
    .bind(&rule.name)
    .bind(mv.deal_id)
    .bind(mv.from_stage_id)
    .bind(mv.to_stage_id)
    .bind(mv.lost_reason)
    .bind(mv.version)
    .bind(sqlx::types::Json(&levels))
    .bind(p.actor())
    .bind(p.api_key)
    .bind(sla)
    .execute(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("approval_requests_open") => already(),
        _ => internal(e),
    })?;
    activity::log(
        tx,
        p,
        Entity::Deal,
        mv.deal_id,
        ActivityKind::Approval,
        serde_json::json!({
            "request": id, "event": "REQUESTED", "to": mv.to_stage,
            "level": 1, "levels": levels.len(),
        }),
    )
    .await?;
    audit::by_member(
        tx,
        &env.ctx,
        p,
        AuditEntry::new("approval.requested", "approval_request", Some(id)).after(
            serde_json::json!({ "deal_id": mv.deal_id, "to_stage": mv.to_stage, "rule": rule.name }),
        ),
    )
    .await?;
    let body = tf(
        env.locale(),
        "approvals.notify.requested",
        &[
            ("name", p.name.clone()),
            ("deal", mv.deal_name.to_string()),
            ("stage", mv.to_stage.to_string()),
        ],
    );
    notify_level(tx, p.tenant_id, &first, p.actor(), &body, &link(id)).await?;
    crate::review::ssr::changed(tx, p.tenant_id).await?;
    Ok(true)
}
