//! Board queries. Every column is a keyset walk over `deals_column`
//! (tenant_id, stage_id, position, id), so a page costs the same at 100 deals or
//! 100,000; only the column totals scan the pipeline's rows.

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::{push_filter, Scope};
use crate::crm::activity;
use crate::crm::model::{Entity, MemberRef, RecordFilter};
use crate::crm::money::{self, Money};
use crate::db::{internal, new_id, take_page, violated_constraint, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::{Env, Principal};
use chrono::{NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// Gap between neighbours when a card goes to either end of a column.
const STEP: f64 = 1024.0;
/// Below this gap the midpoint stops being exact: the column is renumbered.
const MIN_GAP: f64 = 1e-9;

/// The columns of a card row, for every query that returns cards (alias `r` = deals).
const CARD_SELECT: &str = "SELECT r.id, r.stage_id, r.name, r.amount_minor, r.currency::text AS currency,
        r.owner_id, u.name AS owner_name, r.expected_close_on, r.tags, r.version, r.position,
        (current_date - r.stage_entered_at::date) AS age_days,
        t.subject AS task_subject, t.due_at AS task_due
   FROM deals r
   LEFT JOIN users u ON u.id = r.owner_id
   LEFT JOIN LATERAL (
        SELECT a.subject, a.due_at FROM activities a
         WHERE a.tenant_id = r.tenant_id AND a.deal_id = r.id AND a.kind = 'TASK' AND a.done_at IS NULL
         ORDER BY a.due_at NULLS LAST LIMIT 1) t ON true";

fn card(row: &PgRow) -> DealCard {
    let owner_id: Option<Uuid> = row.get("owner_id");
    let due: Option<chrono::DateTime<Utc>> = row.get("task_due");
    DealCard {
        id: row.get("id"),
        stage_id: row.get("stage_id"),
        name: row.get("name"),
        amount: Money {
            minor: row.get("amount_minor"),
            currency: row.get("currency"),
        },
        owner: owner_id.map(|user_id| MemberRef {
            user_id,
            name: row
                .get::<Option<String>, _>("owner_name")
                .unwrap_or_default(),
        }),
        age_days: row.get::<i32, _>("age_days").into(),
        expected_close_on: row.get("expected_close_on"),
        next_task: row.get::<Option<String>, _>("task_subject").zip(due).map(
            |(subject, due_at)| NextTask {
                subject,
                due_at,
                overdue: due_at < Utc::now(),
            },
        ),
        tags: row.get("tags"),
        version: row.get("version"),
        position: row.get("position"),
    }
}

/// Appends the viewer's scope and the board filters (deals aliased `r`).
fn push_board_filter(qb: &mut QueryBuilder<'_, Postgres>, scope: &Scope, filter: &BoardFilter) {
    scope.push(qb, "r.owner_id");
    push_filter(
        qb,
        Entity::Deal,
        &RecordFilter {
            q: filter.q.clone(),
            owner: filter.owner,
            tag: filter.tag.clone(),
            ..RecordFilter::default()
        },
    );
    if let Some(min) = filter.min {
        qb.push(" AND r.amount_minor >= ")
            .push_bind(min)
            .push("::numeric * 10 ^ currency_exponent(r.currency)");
    }
    if let Some(max) = filter.max {
        qb.push(" AND r.amount_minor <= ")
            .push_bind(max)
            .push("::numeric * 10 ^ currency_exponent(r.currency)");
    }
}

async fn open(env: &Env) -> Result<(&Principal, Tx, Scope), AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let scope = Scope::load(&mut tx, p).await?;
    Ok((p, tx, scope))
}

pub async fn board(
    env: &Env,
    pipeline_id: Option<Uuid>,
    filter: &BoardFilter,
) -> Result<Board, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let board = board_in(&mut tx, p.tenant_id, &scope, pipeline_id, filter)
        .await?
        .ok_or_else(|| AppError::NotFound(env.t("board.no_pipeline")))?;
    tx.commit().await?;
    Ok(Board {
        can_configure: Permission::TenantSettings.allowed_for(p.role),
        ..board
    })
}

/// The board's queries alone, in the caller's transaction (benchmarks time them
/// without HTTP, session or serialisation). `None` when the pipeline does not exist.
pub async fn board_in(
    tx: &mut Tx,
    tenant_id: Uuid,
    scope: &Scope,
    pipeline_id: Option<Uuid>,
    filter: &BoardFilter,
) -> Result<Option<Board>, AppError> {
    let pipelines: Vec<PipelineRef> =
        sqlx::query("SELECT id, name FROM pipelines ORDER BY position, created_at, name")
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| PipelineRef {
                id: r.get("id"),
                name: r.get("name"),
            })
            .collect();
    let Some(pipeline) = match pipeline_id {
        Some(id) => pipelines.iter().find(|pl| pl.id == id),
        None => pipelines.first(),
    }
    .cloned() else {
        return Ok(None);
    };
    let stages = stages(tx, pipeline.id).await?;

    let mut totals = QueryBuilder::new(
        "SELECT r.stage_id, r.currency::text AS currency, count(*) AS n, sum(r.amount_minor)::bigint AS total
           FROM deals r WHERE r.tenant_id = ",
    );
    totals
        .push_bind(tenant_id)
        .push(" AND r.pipeline_id = ")
        .push_bind(pipeline.id);
    push_board_filter(&mut totals, scope, filter);
    totals.push(" GROUP BY 1, 2 ORDER BY 4 DESC");
    let totals = totals.build().fetch_all(&mut **tx).await?;

    // One round trip for the first page of every column.
    let mut cards = QueryBuilder::new(format!(
        "SELECT c.* FROM stages s CROSS JOIN LATERAL ({CARD_SELECT} WHERE r.tenant_id = s.tenant_id AND r.stage_id = s.id"
    ));
    push_board_filter(&mut cards, scope, filter);
    cards
        .push(" ORDER BY r.position, r.id LIMIT ")
        .push_bind(COLUMN_PAGE + 1)
        .push(") c WHERE s.tenant_id = ")
        .push_bind(tenant_id)
        .push(" AND s.pipeline_id = ")
        .push_bind(pipeline.id)
        .push(" ORDER BY s.position, c.position, c.id");
    let cards: Vec<DealCard> = cards
        .build()
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(card)
        .collect();

    let members = members(tx).await?;

    let columns = stages
        .into_iter()
        .map(|stage| {
            let mut column_cards: Vec<DealCard> = cards
                .iter()
                .filter(|c| c.stage_id == stage.id)
                .cloned()
                .collect();
            let more = take_page(&mut column_cards, COLUMN_PAGE);
            let mine = totals
                .iter()
                .filter(|r| r.get::<Uuid, _>("stage_id") == stage.id);
            let count = mine.clone().map(|r| r.get::<i64, _>("n")).sum();
            let sums = mine
                .map(|r| Money {
                    minor: r.get("total"),
                    currency: r.get("currency"),
                })
                .collect();
            Column {
                stage,
                count,
                sums,
                cards: column_cards,
                more,
            }
        })
        .collect();
    Ok(Some(Board {
        pipelines,
        pipeline,
        columns,
        members,
        can_configure: false,
    }))
}

async fn stages(tx: &mut Tx, pipeline_id: Uuid) -> Result<Vec<StageInfo>, AppError> {
    Ok(sqlx::query(
        "SELECT id, name, color, kind, probability FROM stages WHERE pipeline_id = $1 ORDER BY position",
    )
    .bind(pipeline_id)
    .fetch_all(&mut **tx)
    .await
    ?
    .iter()
    .map(|r| StageInfo {
        id: r.get("id"),
        name: r.get("name"),
        color: r.get("color"),
        kind: StageKind::parse(r.get::<String, _>("kind").as_str()).unwrap_or(StageKind::Open),
        probability: r.get("probability"),
    })
    .collect())
}

/// Active members, for owner pickers and filters.
pub async fn members(tx: &mut Tx) -> Result<Vec<MemberRef>, AppError> {
    Ok(sqlx::query(
        "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.status = 'ACTIVE' ORDER BY u.name",
    )
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| MemberRef {
        user_id: r.get("id"),
        name: r.get("name"),
    })
    .collect())
}

pub async fn column_page(
    env: &Env,
    stage_id: Uuid,
    filter: &BoardFilter,
    after: CardCursor,
) -> Result<ColumnPage, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let mut q = QueryBuilder::new(format!("{CARD_SELECT} WHERE r.tenant_id = "));
    q.push_bind(p.tenant_id)
        .push(" AND r.stage_id = ")
        .push_bind(stage_id)
        .push(" AND (r.position, r.id) > (")
        .push_bind(after.position)
        .push(", ")
        .push_bind(after.id)
        .push(")");
    push_board_filter(&mut q, &scope, filter);
    q.push(" ORDER BY r.position, r.id LIMIT ")
        .push_bind(COLUMN_PAGE + 1);
    let mut cards: Vec<DealCard> = q
        .build()
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(card)
        .collect();
    tx.commit().await?;
    let more = take_page(&mut cards, COLUMN_PAGE);
    Ok(ColumnPage { cards, more })
}

/// One card as the viewer sees it, if they may.
async fn card_by_id(tx: &mut Tx, scope: &Scope, id: Uuid) -> Result<Option<DealCard>, AppError> {
    let mut q = QueryBuilder::new(format!("{CARD_SELECT} WHERE r.id = "));
    q.push_bind(id);
    scope.push(&mut q, "r.owner_id");
    Ok(q.build()
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(card))
}

pub async fn move_deal(env: &Env, mv: &DealMove) -> Result<DealCard, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let not_found = || AppError::NotFound(env.t("board.deal_not_found"));
    let current = sqlx::query(
        "SELECT d.pipeline_id, d.stage_id, d.owner_id, d.version, s.name AS stage_name
           FROM deals d JOIN stages s ON s.id = d.stage_id
          WHERE d.id = $1 FOR UPDATE OF d",
    )
    .bind(mv.deal_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    if !scope.allows(current.get("owner_id")) {
        return Err(not_found());
    }
    if current.get::<i32, _>("version") != mv.version {
        return Err(AppError::Conflict(env.t("board.conflict")));
    }
    let pipeline_id: Uuid = current.get("pipeline_id");
    let from_stage: Uuid = current.get("stage_id");
    let target = sqlx::query(
        "SELECT name, kind, probability FROM stages WHERE id = $1 AND pipeline_id = $2",
    )
    .bind(mv.stage_id)
    .bind(pipeline_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::field("stage_id", env.t("board.stage_not_in_pipeline")))?;
    let kind =
        StageKind::parse(target.get::<String, _>("kind").as_str()).unwrap_or(StageKind::Open);
    let reason = mv
        .lost_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let stage_changed = from_stage != mv.stage_id;
    if stage_changed && kind == StageKind::Lost && reason.is_none() {
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
    let position = match slot(&mut tx, mv).await? {
        Some(position) => position,
        None => {
            renumber(&mut tx, mv.stage_id).await?;
            slot(&mut tx, mv)
                .await?
                .ok_or_else(|| internal("no room in a freshly renumbered column"))?
        }
    };
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
    .bind(target.get::<i32, _>("probability"))
    .bind(kind.code())
    .bind(if kind == StageKind::Lost { reason } else { None })
    .execute(&mut *tx)
    .await
    ?;
    if stage_changed {
        let from_name: String = current.get("stage_name");
        let to_name: String = target.get("name");
        let data = serde_json::json!({
            "from_stage": from_stage, "from": from_name,
            "to_stage": mv.stage_id, "to": to_name,
            "lost_reason": reason,
        });
        activity::log(&mut tx, p, Entity::Deal, mv.deal_id, "STAGE_CHANGE", data).await?;
        deliver::deal_moved(&mut tx, p.tenant_id, mv.deal_id, from_stage).await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("deal.stage_changed", "deal", Some(mv.deal_id)).change(
                serde_json::json!({ "stage": from_name }),
                serde_json::json!({ "stage": to_name, "lost_reason": reason }),
            ),
        )
        .await?;
    }
    let moved = card_by_id(&mut tx, &scope, mv.deal_id)
        .await?
        .ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(moved)
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

pub async fn create_deal(env: &Env, input: &NewDeal) -> Result<DealCard, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::field("name", env.t("board.name_required")));
    }
    let currency = input.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(AppError::field("currency", env.t("board.currency_invalid")));
    }
    let amount = money::parse(&input.amount, &currency)
        .ok_or_else(|| AppError::field("amount", env.t("board.amount_invalid")))?;
    let close_on = match input.expected_close_on.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| AppError::field("expected_close_on", env.t("board.date_invalid")))?,
        ),
    };
    // Reps create deals for themselves; managers and up may assign anyone in scope.
    let owner = input.owner_id.or(p.actor());
    if !scope.allows(owner) {
        return Err(AppError::field(
            "owner_id",
            env.t("board.owner_out_of_scope"),
        ));
    }
    let stage = sqlx::query(
        "SELECT id, probability FROM stages WHERE pipeline_id = $1 AND ($2::uuid IS NULL OR id = $2)
          ORDER BY position LIMIT 1",
    )
    .bind(input.pipeline_id)
    .bind(input.stage_id)
    .fetch_optional(&mut *tx)
    .await
    ?
    .ok_or_else(|| AppError::field("stage_id", env.t("board.stage_not_in_pipeline")))?;
    let stage_id: Uuid = stage.get("id");
    let top: Option<f64> =
        sqlx::query_scalar("SELECT min(position) FROM deals WHERE stage_id = $1")
            .bind(stage_id)
            .fetch_one(&mut *tx)
            .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, amount_minor, currency,
                            probability, expected_close_on, owner_id, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(input.pipeline_id)
    .bind(stage_id)
    .bind(name)
    .bind(amount)
    .bind(&currency)
    .bind(stage.get::<i32, _>("probability"))
    .bind(close_on)
    .bind(owner)
    .bind(top.map_or(0.0, |t| t - STEP))
    .execute(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("deals_tenant_id_owner_id_fkey") => {
            AppError::field("owner_id", env.t("board.owner_out_of_scope"))
        }
        _ => internal(e),
    })?;
    activity::log(
        &mut tx,
        p,
        Entity::Deal,
        id,
        "CREATED",
        serde_json::json!({}),
    )
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("deal.created", "deal", Some(id)).after(
            serde_json::json!({ "name": name, "amount_minor": amount, "currency": currency }),
        ),
    )
    .await?;
    deliver::record_changed(&mut tx, p.tenant_id, Entity::Deal, &[id], "created").await?;
    let created = card_by_id(&mut tx, &scope, id)
        .await?
        .ok_or_else(|| internal("a deal just created is not visible to its creator"))?;
    tx.commit().await?;
    Ok(created)
}

pub async fn create_pipeline(env: &Env, name: &str) -> Result<Uuid, AppError> {
    let p = env.require(Permission::TenantSettings)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field(
            "name",
            env.t("board.pipeline_name_required"),
        ));
    }
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let id: Uuid = sqlx::query_scalar("SELECT crm_default_pipeline($1, $2)")
        .bind(p.tenant_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match violated_constraint(&e).as_deref() {
            Some("pipelines_tenant_id_name_key") => {
                AppError::field("name", env.t("board.pipeline_name_taken"))
            }
            _ => internal(e),
        })?;
    sqlx::query(
        "UPDATE pipelines SET position = (SELECT coalesce(max(position), 0) + 1 FROM pipelines) WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    ?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("pipeline.created", "pipeline", Some(id))
            .after(serde_json::json!({ "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
