//! Board queries. Every column is a keyset walk over `deals_column`
//! (tenant_id, stage_id, position, id), so a page costs the same at 100 deals or
//! 100,000; only the column totals scan the pipeline's rows.

use super::model::*;
use super::moves;
use crate::approvals::ssr::{guard, PendingSql};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::{push_filter, Scope};
use crate::crm::activity;
use crate::crm::model::{ActivityKind, Entity, MemberRef, RecordFilter};
use crate::crm::money::{self, Money};
use crate::db::{internal, new_id, take_page, violated_constraint, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::{Env, Principal};
use chrono::{NaiveDate, Utc};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// The columns of a card row, for every query that returns cards (alias `r` = deals).
const CARD_SELECT: &str = "SELECT r.id, r.stage_id, r.name, r.amount_minor, r.currency::text AS currency, r.probability,
        r.owner_id, u.name AS owner_name, r.expected_close_on, r.tags, r.version, r.position,
        (current_date - r.stage_entered_at::date) AS age_days,
        t.subject AS task_subject, t.due_at AS task_due,
        pa.request_id AS pa_request_id, pa.to_stage_id AS pa_to_stage_id, pa.to_stage AS pa_to_stage,
        pa.level AS pa_level, pa.levels AS pa_levels, pa.role AS pa_role,
        pa.member_id AS pa_member_id, pa.member AS pa_member
   FROM deals r
   LEFT JOIN users u ON u.id = r.owner_id
   LEFT JOIN LATERAL (
        SELECT a.subject, a.due_at FROM activities a
         WHERE a.tenant_id = r.tenant_id AND a.deal_id = r.id AND a.kind = 'TASK' AND a.done_at IS NULL
         ORDER BY a.due_at NULLS LAST LIMIT 1) t ON true
   LEFT JOIN LATERAL (
        SELECT q.id AS request_id, q.to_stage_id, ts.name AS to_stage, q.level::int4 AS level,
               jsonb_array_length(q.levels)::int4 AS levels, q.levels -> (q.level - 1) ->> 'role' AS role,
               pu.id AS member_id, pu.name AS member
          FROM approval_requests q JOIN stages ts ON ts.id = q.to_stage_id
          LEFT JOIN users pu ON pu.id = (q.levels -> (q.level - 1) ->> 'member_id')::uuid
         WHERE q.tenant_id = r.tenant_id AND q.deal_id = r.id AND q.status = 'PENDING'
         ORDER BY q.created_at DESC LIMIT 1) pa ON true";

#[derive(sqlx::FromRow)]
struct CardSql {
    id: Uuid,
    stage_id: Uuid,
    name: String,
    amount_minor: i64,
    currency: String,
    probability: i32,
    owner_id: Option<Uuid>,
    owner_name: Option<String>,
    expected_close_on: Option<NaiveDate>,
    tags: Vec<String>,
    version: i32,
    position: f64,
    age_days: i32,
    task_subject: Option<String>,
    task_due: Option<chrono::DateTime<Utc>>,
    #[sqlx(flatten)]
    pending: PendingSql,
}

/// One row of the column totals: deals and their sum per stage and currency.
#[derive(sqlx::FromRow)]
struct StageTotal {
    stage_id: Uuid,
    n: i64,
    total: i64,
    weighted: i64,
    currency: String,
}

impl From<CardSql> for DealCard {
    fn from(r: CardSql) -> DealCard {
        DealCard {
            id: r.id,
            stage_id: r.stage_id,
            name: r.name,
            amount: Money {
                minor: r.amount_minor,
                currency: r.currency,
            },
            probability: r.probability,
            owner: r.owner_id.map(|user_id| MemberRef {
                user_id,
                name: r.owner_name.unwrap_or_default(),
            }),
            age_days: r.age_days.into(),
            expected_close_on: r.expected_close_on,
            next_task: r
                .task_subject
                .zip(r.task_due)
                .map(|(subject, due_at)| NextTask {
                    subject,
                    due_at,
                    overdue: due_at < Utc::now(),
                }),
            tags: r.tags,
            version: r.version,
            position: r.position,
            pending_approval: r.pending.into_pending(),
        }
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
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
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
            .map(|r| {
                Ok(PipelineRef {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let Some(pipeline) = match pipeline_id {
        Some(id) => pipelines.iter().find(|pl| pl.id == id),
        None => pipelines.first(),
    }
    .cloned() else {
        return Ok(None);
    };
    let stages = stages(tx, pipeline.id).await?;

    let mut totals = QueryBuilder::new(
        "SELECT r.stage_id, r.currency::text AS currency, count(*) AS n, sum(r.amount_minor)::bigint AS total,
                sum(round(r.amount_minor * r.probability / 100.0))::bigint AS weighted
           FROM deals r WHERE r.tenant_id = ",
    );
    totals
        .push_bind(tenant_id)
        .push(" AND r.pipeline_id = ")
        .push_bind(pipeline.id);
    push_board_filter(&mut totals, scope, filter);
    totals.push(" GROUP BY 1, 2 ORDER BY 4 DESC");
    let totals = totals
        .build_query_as::<StageTotal>()
        .fetch_all(&mut **tx)
        .await?;

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
        .build_query_as::<CardSql>()
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(DealCard::from)
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
            let mine = totals.iter().filter(|t| t.stage_id == stage.id);
            let count = mine.clone().map(|t| t.n).sum();
            let sums = mine
                .clone()
                .map(|t| Money {
                    minor: t.total,
                    currency: t.currency.clone(),
                })
                .collect();
            let weighted = mine
                .map(|t| Money {
                    minor: t.weighted,
                    currency: t.currency.clone(),
                })
                .collect();
            Column {
                stage,
                count,
                sums,
                weighted,
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
    .map(|r| {
        Ok(StageInfo {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            color: r.try_get("color")?,
            kind: r.try_get("kind")?,
            probability: r.try_get("probability")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?)
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
    .map(|r| {
        Ok(MemberRef {
            user_id: r.try_get("id")?,
            name: r.try_get("name")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?)
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
        .build_query_as::<CardSql>()
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(DealCard::from)
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
    Ok(q.build_query_as::<CardSql>()
        .fetch_optional(&mut **tx)
        .await?
        .map(DealCard::from))
}

/// Moves a card, or, when a tenant's approval rule guards the move, leaves it where it
/// is and asks for approval instead: the card comes back in its old stage with the
/// request in `pending_approval`. The board, the deal page and the public API all move
/// deals through here.
pub async fn move_deal(env: &Env, mv: &DealMove) -> Result<DealCard, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let not_found = || AppError::NotFound(env.t("board.deal_not_found"));
    let current = moves::lock_deal(&mut tx, mv.deal_id)
        .await?
        .ok_or_else(not_found)?;
    if !scope.allows(current.owner_id) {
        return Err(not_found());
    }
    if current.version != mv.version {
        return Err(AppError::Conflict(env.t("board.conflict")));
    }
    let target = moves::target(env, &mut tx, &current, mv).await?;
    let held = current.stage_id != mv.stage_id
        && guard::hold_if_guarded(
            env,
            &mut tx,
            p,
            &guard::Move {
                deal_id: mv.deal_id,
                deal_name: &current.name,
                from_stage_id: current.stage_id,
                to_stage_id: mv.stage_id,
                to_stage: &target.name,
                into_won: target.kind == StageKind::Won,
                version: current.version,
                amount_minor: current.amount_minor,
                currency: &current.currency,
                lost_reason: target.lost_reason.as_deref(),
            },
        )
        .await?;
    if !held {
        moves::apply(env, &mut tx, p, &current, &target, mv).await?;
    }
    let card = card_by_id(&mut tx, &scope, mv.deal_id)
        .await?
        .ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(card)
}

/// A new deal's name, currency, amount (minor units) and expected close, as typed on
/// the board or a record's page.
pub struct DealFields {
    pub name: String,
    pub currency: String,
    pub amount: i64,
    pub close_on: Option<NaiveDate>,
}

impl DealFields {
    pub fn read(
        env: &Env,
        name: &str,
        amount: &str,
        currency: &str,
        close_on: Option<&str>,
    ) -> Result<DealFields, AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::field("name", env.t("board.name_required")));
        }
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(AppError::field("currency", env.t("board.currency_invalid")));
        }
        let amount = money::parse(env.locale(), amount, &currency)
            .ok_or_else(|| AppError::field("amount", env.t("board.amount_invalid")))?;
        let close_on =
            match close_on.map(str::trim) {
                None | Some("") => None,
                Some(text) => Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                    AppError::field("expected_close_on", env.t("board.date_invalid"))
                })?),
            };
        Ok(DealFields {
            name: name.to_string(),
            currency,
            amount,
            close_on,
        })
    }
}

pub async fn create_deal(env: &Env, input: &NewDeal) -> Result<DealCard, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let DealFields {
        name,
        currency,
        amount,
        close_on,
    } = DealFields::read(
        env,
        &input.name,
        &input.amount,
        &input.currency,
        input.expected_close_on.as_deref(),
    )?;
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
    let stage_id: Uuid = stage.try_get("id")?;
    let top: Option<f64> =
        sqlx::query_scalar("SELECT min(position) FROM deals WHERE stage_id = $1")
            .bind(stage_id)
            .fetch_one(&mut *tx)
            .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, amount_minor, currency,
                            probability, expected_close_on, owner_id, position, contact_id, company_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(input.pipeline_id)
    .bind(stage_id)
    .bind(&name)
    .bind(amount)
    .bind(&currency)
    .bind(stage.try_get::<i32, _>("probability")?)
    .bind(close_on)
    .bind(owner)
    .bind(top.map_or(0.0, |t| t - moves::STEP))
    .bind(input.contact_id)
    .bind(input.company_id)
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
        ActivityKind::Created,
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
    let mut tx = env.tx(p).await?;
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

/// A deal's stage with its pipeline's stages, for the stage control on the deal page.
pub async fn deal_stage(env: &Env, deal_id: Uuid) -> Result<DealStageView, AppError> {
    let (_, mut tx, scope) = open(env).await?;
    let not_found = || AppError::NotFound(env.t("board.deal_not_found"));
    let card = card_by_id(&mut tx, &scope, deal_id)
        .await?
        .ok_or_else(not_found)?;
    let pipeline_id: Uuid = sqlx::query_scalar("SELECT pipeline_id FROM deals WHERE id = $1")
        .bind(deal_id)
        .fetch_one(&mut *tx)
        .await?;
    let stages = stages(&mut tx, pipeline_id).await?;
    tx.commit().await?;
    Ok(DealStageView { card, stages })
}
