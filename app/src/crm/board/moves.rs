//! A deal's stage move as it is applied: the slot in the target column, the stage's
//! probability and status, the lost reason, the timeline, the audit entry and the
//! outgoing webhook. A member's move on the board or through the API, and a move an
//! approval releases, all land here, so they cannot drift apart.

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::crm::activity;
use crate::crm::model::{ActivityKind, Entity};
use crate::db::{internal, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::i18n::tf;
use crate::request::{Env, Principal};
use uuid::Uuid;

/// Gap between neighbours when a card goes to either end of a column.
pub(super) const STEP: f64 = 1024.0;
/// Below this gap the midpoint stops being exact: the column is renumbered.
const MIN_GAP: f64 = 1e-9;

/// The deal as it is before the move, its row locked.
#[derive(sqlx::FromRow)]
pub struct Current {
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub version: i32,
    pub name: String,
    pub stage_name: String,
    pub amount_minor: i64,
    pub currency: String,
}

pub async fn lock_deal(tx: &mut Tx, deal_id: Uuid) -> Result<Option<Current>, AppError> {
    Ok(sqlx::query_as(
        "SELECT d.pipeline_id, d.stage_id, d.owner_id, d.version, d.name, s.name AS stage_name,
                d.amount_minor, d.currency::text AS currency
           FROM deals d JOIN stages s ON s.id = d.stage_id
          WHERE d.id = $1 FOR UPDATE OF d",
    )
    .bind(deal_id)
    .fetch_optional(&mut **tx)
    .await?)
}

#[derive(sqlx::FromRow)]
struct StageSql {
    name: String,
    kind: StageKind,
    probability: i32,
}

/// The stage a deal goes to, checked: in the deal's pipeline, with a reason when lost.
pub struct Target {
    pub name: String,
    pub kind: StageKind,
    pub probability: i32,
    pub lost_reason: Option<String>,
}

pub async fn target(
    env: &Env,
    tx: &mut Tx,
    current: &Current,
    mv: &DealMove,
) -> Result<Target, AppError> {
    let stage: StageSql = sqlx::query_as(
        "SELECT name, kind, probability FROM stages WHERE id = $1 AND pipeline_id = $2",
    )
    .bind(mv.stage_id)
    .bind(current.pipeline_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| AppError::field("stage_id", env.t("board.stage_not_in_pipeline")))?;
    let kind = stage.kind;
    let reason = mv
        .lost_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if current.stage_id != mv.stage_id && kind == StageKind::Lost && reason.is_none() {
        return Err(AppError::field(
            "lost_reason",
            env.t("board.lost_reason_required"),
        ));
    }
    if reason.is_some_and(|r| r.chars().count() > 500) {
        return Err(AppError::field(
            "lost_reason",
            env.t("board.lost_reason_long"),
        ));
    }
    Ok(Target {
        name: stage.name,
        kind,
        probability: stage.probability,
        lost_reason: if kind == StageKind::Lost {
            reason.map(str::to_string)
        } else {
            None
        },
    })
}

/// Applies a checked move in the caller's transaction.
pub async fn apply(
    env: &Env,
    tx: &mut Tx,
    p: &Principal,
    current: &Current,
    target: &Target,
    mv: &DealMove,
) -> Result<(), AppError> {
    let position = match slot(tx, mv).await? {
        Some(position) => position,
        None => {
            renumber(tx, mv.stage_id).await?;
            slot(tx, mv)
                .await?
                .ok_or_else(|| internal("no room in a freshly renumbered column"))?
        }
    };
    let stage_changed = current.stage_id != mv.stage_id;
    let reason = target.lost_reason.as_deref();
    sqlx::query(
        "UPDATE deals SET stage_id = $2, position = $3, version = version + 1, updated_at = now(),
                stage_entered_at = CASE WHEN $4 THEN now() ELSE stage_entered_at END,
                probability = CASE WHEN $4 THEN $5 ELSE probability END,
                status = CASE WHEN $4 THEN $6 ELSE status END,
                lost_reason = CASE WHEN $4 THEN $7 ELSE lost_reason END,
                closed_at = CASE WHEN NOT $4 THEN closed_at WHEN $6 = 'OPEN' THEN NULL ELSE now() END
          WHERE id = $1",
    )
    .bind(mv.deal_id)
    .bind(mv.stage_id)
    .bind(position)
    .bind(stage_changed)
    .bind(target.probability)
    .bind(target.kind)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    if stage_changed {
        let data = serde_json::json!({
            "from_stage": current.stage_id, "from": current.stage_name,
            "to_stage": mv.stage_id, "to": target.name,
            "lost_reason": reason,
        });
        activity::log(
            tx,
            p,
            Entity::Deal,
            mv.deal_id,
            ActivityKind::StageChange,
            data,
        )
        .await?;
        deliver::deal_moved(tx, p.tenant_id, mv.deal_id, current.stage_id).await?;
        audit::by_member(
            tx,
            &env.ctx,
            p,
            AuditEntry::new("deal.stage_changed", "deal", Some(mv.deal_id)).change(
                serde_json::json!({ "stage": current.stage_name }),
                serde_json::json!({ "stage": target.name, "lost_reason": reason }),
            ),
        )
        .await?;
    }
    Ok(())
}

/// Applies the move an approval released, if the deal is still as it was asked about.
/// `Ok(Err(reason))` when it is not: the deal changed or went away meanwhile, or the
/// stage was removed; the request then fails with that reason.
pub async fn apply_approved(
    env: &Env,
    tx: &mut Tx,
    p: &Principal,
    deal_id: Uuid,
    version: i32,
    to_stage_id: Uuid,
    lost_reason: Option<String>,
) -> Result<Result<(), String>, AppError> {
    let Some(current) = lock_deal(tx, deal_id).await? else {
        return Ok(Err(env.t("approvals.failed.deal_gone")));
    };
    if current.version != version {
        return Ok(Err(tf(
            env.locale(),
            "approvals.failed.deal_changed",
            &[("stage", current.stage_name.clone())],
        )));
    }
    let mv = DealMove {
        deal_id,
        version,
        stage_id: to_stage_id,
        after_id: None,
        lost_reason,
    };
    let target = match target(env, tx, &current, &mv).await {
        Ok(target) => target,
        Err(AppError::Validation { message, .. }) => return Ok(Err(message)),
        Err(other) => return Err(other),
    };
    apply(env, tx, p, &current, &target, &mv).await?;
    Ok(Ok(()))
}

/// The position between the anchor card and the one after it in the target column;
/// `None` when the two are too close to split.
async fn slot(tx: &mut Tx, mv: &DealMove) -> Result<Option<f64>, AppError> {
    let (before, after): (Option<f64>, Option<f64>) = match mv.after_id {
        Some(anchor) => {
            let row: Option<(f64, Option<f64>)> = sqlx::query_as(
                "SELECT a.position,
                        (SELECT n.position FROM deals n
                          WHERE n.tenant_id = a.tenant_id AND n.stage_id = a.stage_id
                            AND (n.position, n.id) > (a.position, a.id) AND n.id <> $2
                          ORDER BY n.position, n.id LIMIT 1)
                   FROM deals a WHERE a.id = $1 AND a.stage_id = $3",
            )
            .bind(anchor)
            .bind(mv.deal_id)
            .bind(mv.stage_id)
            .fetch_optional(&mut **tx)
            .await?;
            // An anchor that left the column meanwhile: place at the top instead.
            match row {
                Some((a, n)) => (Some(a), n),
                None => (None, first_position(tx, mv).await?),
            }
        }
        None => (None, first_position(tx, mv).await?),
    };
    Ok(match (before, after) {
        (Some(a), Some(n)) if n - a < MIN_GAP => None,
        (Some(a), Some(n)) => Some(a + (n - a) / 2.0),
        (Some(a), None) => Some(a + STEP),
        (None, Some(n)) => Some(n - STEP),
        (None, None) => Some(0.0),
    })
}

async fn first_position(tx: &mut Tx, mv: &DealMove) -> Result<Option<f64>, AppError> {
    sqlx::query_scalar(
        "SELECT position FROM deals WHERE stage_id = $1 AND id <> $2 ORDER BY position, id LIMIT 1",
    )
    .bind(mv.stage_id)
    .bind(mv.deal_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(internal)
}

/// Spreads a column's cards evenly again, keeping their order.
async fn renumber(tx: &mut Tx, stage_id: Uuid) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE deals d SET position = x.rn * $2
           FROM (SELECT id, row_number() OVER (ORDER BY position, id) AS rn
                   FROM deals WHERE stage_id = $1) x
          WHERE d.id = x.id",
    )
    .bind(stage_id)
    .bind(STEP)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
