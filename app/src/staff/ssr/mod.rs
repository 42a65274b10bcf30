//! The console's work: the overview, provider events and the staff log here; flags,
//! plans, platform settings and support access in their own files. Every read and
//! write goes through a `staff_*` database function that checks the actor's staff
//! permission again (0055), so the check here is for a clear refusal, and the
//! database's is the wall.

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::error::AppError;
use crate::i18n::tf;
use crate::request::Env;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

pub mod config;
pub mod flags;
pub mod ips;
pub mod plans;
pub mod support;

/// How many workspaces, events or audit entries a page lists.
const PAGE: i32 = 200;
/// How many days of figures the overview draws.
const TREND_DAYS: i32 = 90;

/// The signed-in user, if they are staff with 2FA on and their role holds `permission`;
/// otherwise 403 with what is missing.
pub async fn staff(env: &Env, permission: StaffPermission) -> Result<Uuid, AppError> {
    let p = env.signed_in()?;
    let mut tx = env.tx(p).await?;
    let (role, may, totp): (Option<String>, bool, bool) = sqlx::query_as(
        "SELECT staff_role($1), staff_may($1, $2),
                coalesce((SELECT totp_enabled_at IS NOT NULL FROM users WHERE id = $1), false)",
    )
    .bind(p.user_id)
    .bind(permission.key())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    match role {
        None => Err(AppError::Forbidden(env.t("staff.not_staff"))),
        Some(_) if !totp => Err(AppError::Forbidden(env.t("staff.needs_2fa"))),
        Some(role) if !may => Err(AppError::Forbidden(tf(
            env.locale(),
            "staff.not_permitted",
            &[("role", role)],
        ))),
        Some(_) => Ok(p.user_id),
    }
}

async fn permissions(env: &Env, actor: Uuid) -> Result<Vec<StaffPermission>, AppError> {
    let keys: Vec<String> = sqlx::query_scalar("SELECT staff_permissions_of($1)")
        .bind(actor)
        .fetch_all(env.db().pool())
        .await?;
    Ok(keys
        .iter()
        .filter_map(|k| StaffPermission::parse(k))
        .collect())
}

/// The overview: figures, MRR by plan and currency, and the workspaces whose name or
/// address contains `query` (all of them, newest first, when it is empty).
pub async fn console(env: &Env, query: &str) -> Result<Console, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let query = query.trim();
    if query.chars().count() > 100 {
        return Err(AppError::field("q", env.t("staff.query_too_long")));
    }
    let pool = env.db().pool();
    let figures = sqlx::query("SELECT * FROM staff_figures($1)")
        .bind(actor)
        .fetch_one(pool)
        .await?;
    let figures = Figures {
        active_tenants: figures.try_get("active_tenants")?,
        trialing: figures.try_get("trialing")?,
        paying: figures.try_get("paying")?,
        past_due: figures.try_get("past_due")?,
        trials_ended: figures.try_get("trials_ended")?,
        trials_converted: figures.try_get("trials_converted")?,
        churned_30d: figures.try_get("churned_30d")?,
    };
    let mrr = sqlx::query("SELECT * FROM staff_mrr($1)")
        .bind(actor)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(MrrLine {
                currency: r.try_get("currency")?,
                plan_name: r.try_get("plan_name")?,
                tenants: r.try_get("tenants")?,
                mrr_minor: r.try_get("mrr_minor")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let days = sqlx::query("SELECT * FROM staff_daily($1, $2)")
        .bind(actor)
        .bind(TREND_DAYS)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let count = |column: &str| r.try_get::<i32, _>(column).map(i64::from);
            let mrr: serde_json::Value = r.try_get("mrr")?;
            Ok(DayFigures {
                day: r.try_get("day")?,
                figures: Figures {
                    active_tenants: count("active_tenants")?,
                    trialing: count("trialing")?,
                    paying: count("paying")?,
                    past_due: count("past_due")?,
                    trials_ended: count("trials_ended")?,
                    trials_converted: count("trials_converted")?,
                    churned_30d: count("churned_30d")?,
                },
                mrr: mrr
                    .as_object()
                    .map(|by| {
                        by.iter()
                            .filter_map(|(currency, minor)| {
                                Some((currency.clone(), minor.as_i64()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let tenants = sqlx::query("SELECT * FROM staff_tenants($1, $2, $3)")
        .bind(actor)
        .bind(query)
        .bind(PAGE)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(StaffTenant {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                slug: r.try_get("slug")?,
                status: r.try_get("status")?,
                created_at: r.try_get("created_at")?,
                plan_name: r.try_get("plan_name")?,
                subscription_status: r.try_get("subscription_status")?,
                cycle: r.try_get("cycle")?,
                currency: r.try_get("currency")?,
                mrr_minor: r.try_get("mrr_minor")?,
                trial_ends_at: r.try_get("trial_ends_at")?,
                period_end: r.try_get("period_end")?,
                members: r.try_get("members")?,
                seats_limit: r.try_get("seats_limit")?,
                records: r.try_get("records")?,
                records_limit: r.try_get("records_limit")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Console {
        days,
        permissions: permissions(env, actor).await?,
        figures,
        mrr,
        tenants,
    })
}

fn reason_of(env: &Env, reason: &str, required: bool) -> Result<String, AppError> {
    let reason = reason.trim();
    if required && reason.is_empty() {
        return Err(AppError::field("reason", env.t("staff.reason_required")));
    }
    if reason.chars().count() > 500 {
        return Err(AppError::field("reason", env.t("staff.reason_too_long")));
    }
    Ok(reason.to_string())
}

/// Who on the staff did it, as the workspace's audit log shows it: the staff member is
/// no member there, so their name is not otherwise readable in that workspace.
fn staff_name(env: &Env) -> String {
    env.ctx
        .principal
        .as_ref()
        .map(|p| format!("{} <{}>", p.name, p.email))
        .unwrap_or_default()
}

/// A change to one workspace, in the staff log and the workspace's own audit log.
#[allow(clippy::too_many_arguments)]
async fn record_both(
    env: &Env,
    tx: &mut crate::db::Tx,
    actor: Uuid,
    tenant: Uuid,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    reason: &str,
) -> Result<(), AppError> {
    sqlx::query("SELECT staff_audit_add($1, $2, $3, $4, $5, $6, $7)")
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(&before)
        .bind(&after)
        .bind(reason)
        .bind(&env.ctx.ip)
        .execute(&mut **tx)
        .await?;
    let action = format!("staff.{action}");
    let mut entry = AuditEntry::new(&action, "feature", None);
    entry.before = before;
    entry.after = after;
    audit::record(tx, &env.ctx, tenant, Some(actor), entry).await
}

pub async fn provider_events(env: &Env) -> Result<ProviderEvents, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let events = sqlx::query("SELECT * FROM staff_billing_events($1, $2)")
        .bind(actor)
        .bind(PAGE)
        .fetch_all(env.db().pool())
        .await?
        .iter()
        .map(|r| {
            Ok(ProviderEvent {
                id: r.try_get("id")?,
                tenant_name: r.try_get("tenant_name")?,
                kind: r.try_get("type")?,
                created: r.try_get("created")?,
                received_at: r.try_get("received_at")?,
                outcome: r.try_get("outcome")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(ProviderEvents {
        can_replay: permissions(env, actor)
            .await?
            .contains(&StaffPermission::BillingReplay),
        events,
    })
}

/// Applies a provider event again and says what it did.
pub async fn replay(env: &Env, id: &str) -> Result<String, AppError> {
    let actor = staff(env, StaffPermission::BillingReplay).await?;
    if id.is_empty() || id.len() > 255 {
        return Err(AppError::NotFound(env.t("staff.no_event")));
    }
    let (before, outcome) = crate::billing::events::replay(env.db(), actor, id).await?;
    sqlx::query("SELECT staff_audit_add($1, 'billing_event.replayed', $2, $3, $4, '', $5)")
        .bind(actor)
        .bind(id)
        .bind(serde_json::json!({ "outcome": before }))
        .bind(serde_json::json!({ "outcome": outcome }))
        .bind(&env.ctx.ip)
        .execute(env.db().pool())
        .await?;
    Ok(outcome)
}

pub async fn staff_audit(env: &Env) -> Result<Vec<StaffAuditEntry>, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let rows = sqlx::query("SELECT * FROM staff_audit_page($1, $2)")
        .bind(actor)
        .bind(PAGE)
        .fetch_all(env.db().pool())
        .await?;
    rows.iter()
        .map(|r| {
            let text = |c: &str| -> Result<Option<String>, sqlx::Error> {
                Ok(r.try_get::<Option<serde_json::Value>, _>(c)?
                    .map(|v| v.to_string()))
            };
            Ok(StaffAuditEntry {
                id: r.try_get("id")?,
                actor_name: r.try_get("actor_name")?,
                actor_email: r.try_get("actor_email")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                before: text("before")?,
                after: text("after")?,
                reason: r.try_get("reason")?,
                ip: r.try_get("ip")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(AppError::from)
}
