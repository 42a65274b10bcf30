//! Inventory on the server: units (list, page, price and status changes with their
//! history) and holds for deals that the database keeps single. Plans and their shapes
//! are in `plans.rs`.

pub use super::plans::*;

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::db::{new_id, take_page, Tx};
use crate::error::AppError;
use crate::i18n::tf;
use crate::request::{Env, Principal};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

/// Units per page of the table.
pub const PAGE: i64 = 50;

/// A unit's columns as [`UnitSql`] reads them, from `units u JOIN projects p`.
pub(crate) const UNIT_COLUMNS: &str =
    "u.id, u.project_id, p.name AS project, u.code, u.type_code, u.building,
    u.floor, u.size_sqm::float8 AS size_sqm, u.bedrooms, u.bathrooms, u.view, u.price_minor,
    u.currency::text AS currency, u.status, u.version";

#[derive(sqlx::FromRow)]
pub(crate) struct UnitSql {
    id: Uuid,
    project_id: Uuid,
    project: String,
    code: String,
    type_code: String,
    building: Option<String>,
    floor: Option<i32>,
    size_sqm: Option<f64>,
    bedrooms: i32,
    bathrooms: i32,
    view: Option<String>,
    price_minor: i64,
    currency: String,
    status: String,
    version: i32,
}

impl From<UnitSql> for UnitRow {
    fn from(u: UnitSql) -> UnitRow {
        UnitRow {
            id: u.id,
            project_id: u.project_id,
            project: u.project,
            code: u.code,
            type_code: u.type_code,
            building: u.building,
            floor: u.floor,
            size_sqm: u.size_sqm,
            bedrooms: u.bedrooms,
            bathrooms: u.bathrooms,
            view: u.view,
            price_minor: u.price_minor,
            currency: u.currency,
            status: UnitStatus::parse(&u.status).unwrap_or(UnitStatus::Blocked),
            version: u.version,
        }
    }
}

pub(crate) fn not_found(env: &Env) -> AppError {
    AppError::NotFound(env.t("inventory.not_found"))
}

pub(crate) fn parse_id(env: &Env, id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.trim()).map_err(|_| not_found(env))
}

/// The units table: filtered, ordered by project and code, a keyset page at a time.
pub async fn units(
    env: &Env,
    filter: &UnitFilter,
    after: Option<UnitCursor>,
) -> Result<UnitsPage, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    if filter.q.as_deref().is_some_and(|q| q.chars().count() > 100) {
        return Err(AppError::field("q", env.t("inventory.error.search_long")));
    }
    if filter
        .view
        .as_deref()
        .is_some_and(|v| v.chars().count() > 60)
    {
        return Err(AppError::field("view", env.t("inventory.unit_form.view")));
    }
    let mut tx = env.tx(p).await?;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {UNIT_COLUMNS} FROM units u JOIN projects p ON p.id = u.project_id WHERE true"
    ));
    if let Some(project) = filter.project_id {
        qb.push(" AND u.project_id = ").push_bind(project);
    }
    if let Some(status) = filter.status {
        qb.push(" AND u.status = ").push_bind(status.code());
    }
    if let Some(n) = filter.min_bedrooms {
        qb.push(" AND u.bedrooms >= ").push_bind(n);
    }
    if let Some(t) = filter.type_code.as_deref().filter(|t| !t.is_empty()) {
        qb.push(" AND u.type_code = ").push_bind(t.to_string());
    }
    if let Some(min) = filter.min_price_minor {
        qb.push(" AND u.price_minor >= ").push_bind(min);
    }
    if let Some(v) = filter
        .view
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        qb.push(" AND u.view ILIKE ")
            .push_bind(crate::db::contains_pattern(v));
    }
    if let Some(max) = filter.max_price_minor {
        qb.push(" AND u.price_minor <= ").push_bind(max);
    }
    if let Some(floor) = filter.floor {
        qb.push(" AND u.floor = ").push_bind(floor);
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        qb.push(" AND u.code ILIKE ")
            .push_bind(crate::db::contains_pattern(q));
    }
    if let Some(c) = &after {
        qb.push(" AND (p.name, u.code, u.id) > (")
            .push_bind(c.project.clone())
            .push(", ")
            .push_bind(c.code.clone())
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    qb.push(" ORDER BY p.name, u.code, u.id LIMIT ")
        .push_bind(PAGE + 1);
    let mut rows: Vec<UnitSql> = qb.build_query_as().fetch_all(&mut *tx).await?;
    let more = take_page(&mut rows, PAGE);
    let projects: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM projects ORDER BY name")
            .fetch_all(&mut *tx)
            .await?;
    let plans: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT f.id, p.name || ' — ' || f.name FROM floor_plans f JOIN projects p ON p.id = f.project_id
          ORDER BY p.name, f.name",
    )
    .fetch_all(&mut *tx)
    .await?;
    let types: Vec<(String, String)> = super::catalog::ssr::types(&mut tx)
        .await?
        .into_iter()
        .filter(|t| t.kind == "UNIT")
        .map(|t| (t.code, t.label))
        .collect();
    tx.commit().await?;
    let units: Vec<UnitRow> = rows.into_iter().map(UnitRow::from).collect();
    let next = more.then(|| units.last()).flatten().map(|u| UnitCursor {
        project: u.project.clone(),
        code: u.code.clone(),
        id: u.id,
    });
    Ok(UnitsPage {
        units,
        next,
        projects,
        plans,
        types,
        can_edit_plans: p.may(Permission::InventoryEdit),
        can_manage: Permission::InventoryManage.allowed_for(p.role),
    })
}

pub(crate) async fn unit_row(tx: &mut Tx, id: Uuid) -> Result<Option<UnitRow>, AppError> {
    let row: Option<UnitSql> = sqlx::query_as(&format!(
        "SELECT {UNIT_COLUMNS} FROM units u JOIN projects p ON p.id = u.project_id WHERE u.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(UnitRow::from))
}

async fn live_hold(tx: &mut Tx, unit_id: Uuid) -> Result<Option<HoldView>, AppError> {
    let row: Option<(Uuid, String, String, Uuid, DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT h.deal_id, d.name, coalesce(u.name, ''), h.held_by, h.expires_at,
                h.reserved_at IS NOT NULL
           FROM unit_holds h JOIN deals d ON d.id = h.deal_id LEFT JOIN users u ON u.id = h.held_by
          WHERE h.unit_id = $1 AND h.released_at IS NULL",
    )
    .bind(unit_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(
        |(deal_id, deal, held_by, held_by_id, expires_at, reserved)| HoldView {
            deal_id,
            deal,
            held_by,
            held_by_id,
            expires_at,
            reserved,
        },
    ))
}

/// The deals `p` may hold a unit for: open ones they own, or any open one in their
/// scope for a manager.
async fn hold_deals(tx: &mut Tx, p: &Principal) -> Result<Vec<DealChoice>, AppError> {
    let scope = Scope::load(tx, p).await?;
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT d.id, d.name FROM deals d WHERE d.status = 'OPEN'");
    if Permission::InventoryManage.allowed_for(p.role) {
        scope.push(&mut qb, "d.owner_id");
    } else {
        qb.push(" AND d.owner_id = ").push_bind(p.user_id);
    }
    qb.push(" ORDER BY d.name LIMIT 200");
    let rows: Vec<(Uuid, String)> = qb.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| DealChoice { id, name })
        .collect())
}

pub async fn unit(env: &Env, id: &str) -> Result<UnitDetail, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let id = parse_id(env, id)?;
    let mut tx = env.tx(p).await?;
    let detail = load_detail(&mut tx, p, id)
        .await?
        .ok_or_else(|| not_found(env))?;
    tx.commit().await?;
    Ok(detail)
}

async fn load_detail(tx: &mut Tx, p: &Principal, id: Uuid) -> Result<Option<UnitDetail>, AppError> {
    let Some(unit) = unit_row(tx, id).await? else {
        return Ok(None);
    };
    let hold = live_hold(tx, id).await?;
    let prices: Vec<PricePoint> = sqlx::query_as(
        "SELECT h.price_minor, h.currency::text AS currency, u.name AS changed_by, h.reason,
                h.changed_at AS at
           FROM unit_price_history h LEFT JOIN users u ON u.id = h.changed_by
          WHERE h.unit_id = $1 ORDER BY h.changed_at DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let history: Vec<HoldEvent> = sqlx::query_as(
        "SELECT h.created_at AS at, 'HELD' AS kind, h.deal_id, d.name AS deal, u.name AS by
           FROM unit_holds h JOIN deals d ON d.id = h.deal_id LEFT JOIN users u ON u.id = h.held_by
          WHERE h.unit_id = $1
         UNION ALL
         SELECT h.reserved_at, 'RESERVED', h.deal_id, d.name, NULL
           FROM unit_holds h JOIN deals d ON d.id = h.deal_id
          WHERE h.unit_id = $1 AND h.reserved_at IS NOT NULL
         UNION ALL
         SELECT h.released_at, h.release_reason, h.deal_id, d.name, NULL
           FROM unit_holds h JOIN deals d ON d.id = h.deal_id
          WHERE h.unit_id = $1 AND h.released_at IS NOT NULL
          ORDER BY at DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let deals = hold_deals(tx, p).await?;
    let components = crate::inventory::components::ssr::load(tx, p, id).await?;
    let statuses: Vec<StatusEvent> = sqlx::query_as(
        "SELECT h.changed_at AS at, h.from_status, h.to_status, u.name AS by
           FROM unit_status_history h LEFT JOIN users u ON u.id = h.changed_by
          WHERE h.unit_id = $1 ORDER BY h.changed_at DESC, h.id LIMIT 50",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Some(UnitDetail {
        unit,
        hold,
        prices,
        history,
        components,
        statuses,
        deals,
        can_manage: Permission::InventoryManage.allowed_for(p.role),
    }))
}

/// Holds a unit for a deal until the tenant's hold period ends. The unit's row is
/// the lock: of any number of members holding one unit at once, the first to update
/// it wins and the others are told who holds it.
pub async fn hold(env: &Env, unit_id: &str, deal_id: &str) -> Result<UnitDetail, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let unit_id = parse_id(env, unit_id)?;
    let deal_id = Uuid::parse_str(deal_id.trim())
        .map_err(|_| AppError::field("deal_id", env.t("inventory.error.choose_deal")))?;
    let mut tx = env.tx(p).await?;
    if unit_row(&mut tx, unit_id).await?.is_none() {
        return Err(not_found(env));
    }
    if !hold_deals(&mut tx, p)
        .await?
        .iter()
        .any(|d| d.id == deal_id)
    {
        return Err(AppError::field(
            "deal_id",
            env.t("inventory.error.choose_deal"),
        ));
    }
    // A hold is a member's: an API key, nobody's, holds in the name of the deal's owner.
    let holder = match p.actor() {
        Some(member) => member,
        None => sqlx::query_scalar::<_, Option<Uuid>>("SELECT owner_id FROM deals WHERE id = $1")
            .bind(deal_id)
            .fetch_one(&mut *tx)
            .await?
            .ok_or_else(|| {
                AppError::field("deal_id", env.t("inventory.error.deal_without_owner"))
            })?,
    };
    let hours: i32 =
        sqlx::query_scalar("SELECT coalesce((SELECT hold_hours FROM tenant_policies), 48)")
            .fetch_one(&mut *tx)
            .await?;
    let took = sqlx::query(
        "UPDATE units SET status = 'HELD', version = version + 1, updated_at = now()
          WHERE id = $1 AND status = 'AVAILABLE'",
    )
    .bind(unit_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !took {
        let message = match live_hold(&mut tx, unit_id).await? {
            Some(h) => tf(
                env.locale(),
                "inventory.error.held_by",
                &[
                    ("name", h.held_by),
                    ("deal", h.deal),
                    ("until", env.when(h.expires_at)),
                ],
            ),
            None => env.t("inventory.error.not_available"),
        };
        return Err(AppError::Conflict(message));
    }
    sqlx::query(
        "INSERT INTO unit_holds (tenant_id, id, unit_id, deal_id, held_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))",
    )
    .bind(p.tenant_id)
    .bind(new_id())
    .bind(unit_id)
    .bind(deal_id)
    .bind(holder)
    .bind(hours)
    .execute(&mut *tx)
    .await?;
    // A deal already at a committed stage reserves the unit at once.
    sqlx::query("SELECT deal_units_follow_stage($1, $2)")
        .bind(p.tenant_id)
        .bind(deal_id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("unit.held", "units", Some(unit_id))
            .after(serde_json::json!({ "deal_id": deal_id, "hours": hours })),
    )
    .await?;
    crate::developers::deliver::publish(
        &mut tx,
        p.tenant_id,
        "unit.held",
        serde_json::json!({ "unit_id": unit_id, "deal_id": deal_id, "hours": hours }),
    )
    .await?;
    let detail = load_detail(&mut tx, p, unit_id)
        .await?
        .ok_or_else(|| not_found(env))?;
    tx.commit().await?;
    Ok(detail)
}

/// Releases a unit's hold: the holder's own, or anyone's for a manager.
pub async fn release(env: &Env, unit_id: &str) -> Result<UnitDetail, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let unit_id = parse_id(env, unit_id)?;
    let mut tx = env.tx(p).await?;
    let hold = live_hold(&mut tx, unit_id).await?;
    let Some(hold) = hold else {
        return Err(AppError::Conflict(env.t("inventory.error.not_held")));
    };
    if hold.held_by_id != p.user_id && !Permission::InventoryManage.allowed_for(p.role) {
        return Err(AppError::Forbidden(env.t("inventory.error.not_your_hold")));
    }
    sqlx::query(
        "UPDATE unit_holds SET released_at = now(), release_reason = 'RELEASED'
          WHERE unit_id = $1 AND released_at IS NULL",
    )
    .bind(unit_id)
    .execute(&mut *tx)
    .await?;
    crate::developers::deliver::publish(
        &mut tx,
        p.tenant_id,
        "unit.released",
        serde_json::json!({ "unit_id": unit_id, "deal_id": hold.deal_id, "reason": "RELEASED" }),
    )
    .await?;
    sqlx::query(
        "UPDATE units SET status = 'AVAILABLE', version = version + 1, updated_at = now()
          WHERE id = $1 AND status IN ('HELD', 'RESERVED')",
    )
    .bind(unit_id)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("unit.released", "units", Some(unit_id))
            .after(serde_json::json!({ "deal_id": hold.deal_id })),
    )
    .await?;
    let detail = load_detail(&mut tx, p, unit_id)
        .await?
        .ok_or_else(|| not_found(env))?;
    tx.commit().await?;
    Ok(detail)
}

/// A manager's price change: the new price and its history row in one transaction.
pub async fn set_price(
    env: &Env,
    unit_id: &str,
    price: &str,
    reason: &str,
) -> Result<UnitDetail, AppError> {
    let p = env.require(Permission::InventoryManage)?;
    let unit_id = parse_id(env, unit_id)?;
    let reason = reason.trim();
    if reason.chars().count() > 200 {
        return Err(AppError::field(
            "reason",
            env.t("inventory.error.reason_long"),
        ));
    }
    let mut tx = env.tx(p).await?;
    let before: Option<(i64, String)> =
        sqlx::query_as("SELECT price_minor, currency::text FROM units WHERE id = $1 FOR UPDATE")
            .bind(unit_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((old, currency)) = before else {
        return Err(not_found(env));
    };
    let price_minor = Some(price.trim())
        .filter(|p| !p.is_empty())
        .and_then(|p| crate::crm::money::parse(env.locale(), p, &currency))
        .ok_or_else(|| AppError::field("price", env.t("inventory.error.price")))?;
    sqlx::query("UPDATE units SET price_minor = $2, version = version + 1, updated_at = now() WHERE id = $1")
        .bind(unit_id)
        .bind(price_minor)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO unit_price_history (tenant_id, id, unit_id, price_minor, currency, changed_by, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.tenant_id)
    .bind(new_id())
    .bind(unit_id)
    .bind(price_minor)
    .bind(&currency)
    .bind(p.user_id)
    .bind(Some(reason).filter(|r| !r.is_empty()))
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("unit.price_changed", "units", Some(unit_id)).change(
            serde_json::json!({ "price_minor": old }),
            serde_json::json!({ "price_minor": price_minor }),
        ),
    )
    .await?;
    let detail = load_detail(&mut tx, p, unit_id)
        .await?
        .ok_or_else(|| not_found(env))?;
    tx.commit().await?;
    Ok(detail)
}

/// Across tenants (schedule `inventory.holds`): tells holders whose holds end soon,
/// then releases lapsed holds; how many of each.
pub async fn sweep_holds(
    pool: &sqlx::PgPool,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    let told = sqlx::query_scalar("SELECT remind_lapsing_holds($1)")
        .bind(now)
        .fetch_one(pool)
        .await?;
    let released = sqlx::query_scalar("SELECT release_expired_holds($1)")
        .bind(now)
        .fetch_one(pool)
        .await?;
    Ok((told, released))
}
