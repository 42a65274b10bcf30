//! The console's work. Every read and write goes through a `staff_*` database function
//! that checks the actor's staff permission again (0055), so the check here is for a
//! clear refusal, and the database's is the wall.

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::error::AppError;
use crate::i18n::tf;
use crate::request::Env;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

/// How many workspaces, events or audit entries a page lists.
const PAGE: i32 = 200;

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
        permissions: permissions(env, actor).await?,
        figures,
        mrr,
        tenants,
    })
}

pub async fn flags(env: &Env) -> Result<Flags, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let pool = env.db().pool();
    let rows = sqlx::query(
        "SELECT key, description, enabled, rollout_percentage, updated_at
           FROM feature_flags ORDER BY key",
    )
    .fetch_all(pool)
    .await?;
    let overrides = sqlx::query("SELECT * FROM staff_overrides($1)")
        .bind(actor)
        .fetch_all(pool)
        .await?;
    let mut flags = Vec::with_capacity(rows.len());
    for r in rows {
        let key: String = r.try_get("key")?;
        let mut mine = Vec::new();
        for o in overrides.iter() {
            if o.try_get::<String, _>("feature_key")? == key {
                mine.push(Override {
                    tenant_id: o.try_get("tenant_id")?,
                    tenant_name: o.try_get("tenant_name")?,
                    tenant_slug: o.try_get("tenant_slug")?,
                    enabled: o.try_get("enabled")?,
                    expires_at: o.try_get("expires_at")?,
                });
            }
        }
        flags.push(Flag {
            key,
            description: r.try_get("description")?,
            enabled: r.try_get("enabled")?,
            rollout_percentage: r.try_get("rollout_percentage")?,
            updated_at: r.try_get("updated_at")?,
            overrides: mine,
        });
    }
    Ok(Flags {
        can_manage: permissions(env, actor)
            .await?
            .contains(&StaffPermission::FlagsManage),
        flags,
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

/// Turns a flag on or off and sets the share of workspaces it reaches.
pub async fn set_flag(
    env: &Env,
    key: &str,
    enabled: bool,
    rollout: &str,
    reason: &str,
) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::FlagsManage).await?;
    let rollout: i32 = rollout
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..=100).contains(n))
        .ok_or_else(|| AppError::field("rollout", env.t("staff.rollout_range")))?;
    let reason = reason_of(env, reason, false)?;
    let found: bool = sqlx::query_scalar("SELECT staff_set_flag($1, $2, $3, $4, $5, $6)")
        .bind(actor)
        .bind(key)
        .bind(enabled)
        .bind(rollout)
        .bind(&reason)
        .bind(&env.ctx.ip)
        .fetch_one(env.db().pool())
        .await?;
    if !found {
        return Err(AppError::NotFound(tf(
            env.locale(),
            "staff.no_flag",
            &[("key", key.to_string())],
        )));
    }
    Ok(())
}

/// The workspace whose address is `slug`, as staff may find it.
async fn workspace(env: &Env, actor: Uuid, slug: &str) -> Result<(Uuid, String), AppError> {
    let slug = slug.trim().to_lowercase();
    let found: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, name, slug FROM staff_tenants($1, $2, $3)")
            .bind(actor)
            .bind(&slug)
            .bind(PAGE)
            .fetch_all(env.db().pool())
            .await?;
    found
        .into_iter()
        .find(|(_, _, s)| *s == slug)
        .map(|(id, name, _)| (id, name))
        .ok_or_else(|| {
            AppError::field(
                "workspace",
                tf(env.locale(), "staff.no_workspace", &[("slug", slug)]),
            )
        })
}

async fn flag_exists(env: &Env, key: &str) -> Result<(), AppError> {
    let found: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM feature_flags WHERE key = $1)")
            .bind(key)
            .fetch_one(env.db().pool())
            .await?;
    if found {
        Ok(())
    } else {
        Err(AppError::NotFound(tf(
            env.locale(),
            "staff.no_flag",
            &[("key", key.to_string())],
        )))
    }
}

/// Grants (`enabled`) or withdraws a flag for one workspace, whatever its plan and the
/// rollout, for `days` days or until removed. Recorded in the staff log and in the
/// workspace's own audit log, with the reason.
pub async fn set_override(
    env: &Env,
    key: &str,
    slug: &str,
    enabled: bool,
    days: &str,
    reason: &str,
) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::FlagsManage).await?;
    flag_exists(env, key).await?;
    let expires_at: Option<DateTime<Utc>> = match days.trim() {
        "" => None,
        d => {
            let n: i64 = d
                .parse()
                .ok()
                .filter(|n| (1..=365).contains(n))
                .ok_or_else(|| AppError::field("days", env.t("staff.days_range")))?;
            Some(Utc::now() + chrono::Duration::days(n))
        }
    };
    let reason = reason_of(env, reason, true)?;
    let (tenant, name) = workspace(env, actor, slug).await?;
    let mut tx = env.db().tenant_tx(tenant, Some(actor)).await?;
    // The database's own check, in the transaction that writes.
    sqlx::query("SELECT staff_check($1, 'flags.manage')")
        .bind(actor)
        .execute(&mut *tx)
        .await?;
    let before: Option<(bool, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT enabled, expires_at FROM tenant_features WHERE feature_key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO tenant_features (tenant_id, id, feature_key, enabled, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, feature_key)
         DO UPDATE SET enabled = EXCLUDED.enabled, expires_at = EXCLUDED.expires_at",
    )
    .bind(tenant)
    .bind(crate::db::new_id())
    .bind(key)
    .bind(enabled)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let before = before.map(|(enabled, expires_at)| {
        serde_json::json!({ "feature": key, "enabled": enabled, "expires_at": expires_at })
    });
    let after = serde_json::json!({
        "feature": key, "enabled": enabled, "expires_at": expires_at, "reason": reason,
        "staff": staff_name(env),
    });
    record_both(
        env,
        &mut tx,
        actor,
        tenant,
        "feature.override_set",
        &format!("{key} @ {name}"),
        before,
        Some(after),
        &reason,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a workspace's override: the plan and the rollout decide again.
pub async fn clear_override(
    env: &Env,
    key: &str,
    tenant: Uuid,
    reason: &str,
) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::FlagsManage).await?;
    let reason = reason_of(env, reason, true)?;
    let mut tx = env.db().tenant_tx(tenant, Some(actor)).await?;
    sqlx::query("SELECT staff_check($1, 'flags.manage')")
        .bind(actor)
        .execute(&mut *tx)
        .await?;
    let removed: Option<(bool, Option<DateTime<Utc>>)> = sqlx::query_as(
        "DELETE FROM tenant_features WHERE feature_key = $1 RETURNING enabled, expires_at",
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((enabled, expires_at)) = removed else {
        return Err(AppError::NotFound(env.t("staff.no_override")));
    };
    let name: String = sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
    record_both(
        env,
        &mut tx,
        actor,
        tenant,
        "feature.override_removed",
        &format!("{key} @ {name}"),
        Some(serde_json::json!({ "feature": key, "enabled": enabled, "expires_at": expires_at })),
        None,
        &reason,
    )
    .await?;
    tx.commit().await?;
    Ok(())
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

/// Opens `tenant` read-only for the staff member, with `reason`, recorded in the staff
/// log and in the workspace's own audit log. Their session works in that workspace
/// until they end it, the hour is up, or their permission goes.
pub async fn open_support(env: &Env, tenant: Uuid, reason: &str) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::SupportAccess).await?;
    let reason = reason_of(env, reason, true)?;
    // Not the request's database: under support access it is read-only.
    let db = crate::db::Db::new(env.db().pool().clone());
    let mut tx = db.tenant_tx(tenant, Some(actor)).await?;
    let minutes = crate::sysconfig::support_minutes(&mut tx).await?;
    let grant: Option<Uuid> = sqlx::query_scalar("SELECT staff_support_open($1, $2, $3, $4, $5)")
        .bind(actor)
        .bind(tenant)
        .bind(&reason)
        .bind(i32::try_from(minutes).unwrap_or(60))
        .bind(&env.ctx.ip)
        .fetch_one(&mut *tx)
        .await?;
    let Some(grant) = grant else {
        return Err(AppError::NotFound(env.t("staff.no_workspace_id")));
    };
    audit::record(
        &mut tx,
        &env.ctx,
        tenant,
        Some(actor),
        AuditEntry::new("staff.support_opened", "support", Some(grant)).after(serde_json::json!({
            "reason": reason, "minutes": minutes, "read_only": true,
            "staff": staff_name(env),
        })),
    )
    .await?;
    tx.commit().await?;
    env.session
        .insert(crate::request::keys::SUPPORT, grant)
        .await
        .map_err(crate::db::internal)?;
    crate::request::go_after_form("/");
    Ok(())
}

/// Ends the session's support access, if any, and records it in the workspace's log.
pub async fn end_support(env: &Env) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let key = crate::request::keys::SUPPORT;
    let Some(grant) = env
        .session
        .get::<Uuid>(key)
        .await
        .map_err(crate::db::internal)?
    else {
        return Ok(());
    };
    let db = crate::db::Db::new(env.db().pool().clone());
    let closed: Option<Uuid> = sqlx::query_scalar("SELECT staff_support_close($1, $2, $3)")
        .bind(p.user_id)
        .bind(grant)
        .bind(&env.ctx.ip)
        .fetch_one(db.pool())
        .await?;
    if let Some(tenant) = closed {
        let mut tx = db.tenant_tx(tenant, Some(p.user_id)).await?;
        audit::record(
            &mut tx,
            &env.ctx,
            tenant,
            Some(p.user_id),
            AuditEntry::new("staff.support_closed", "support", Some(grant))
                .after(serde_json::json!({ "staff": staff_name(env) })),
        )
        .await?;
        tx.commit().await?;
    }
    env.session
        .remove::<Uuid>(key)
        .await
        .map_err(crate::db::internal)?;
    crate::request::go_after_form("/staff");
    Ok(())
}

pub async fn plans(env: &Env) -> Result<Catalogue, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let pool = env.db().pool();
    let rows = sqlx::query(
        "SELECT p.id, p.name, p.seats_limit, p.records_limit, p.wa_numbers_limit, p.mailboxes_limit,
                p.wa_messages_limit, p.email_messages_limit, p.api_per_minute,
                ARRAY(SELECT jsonb_array_elements_text(p.features)) AS features,
                coalesce((SELECT jsonb_agg(jsonb_build_object('cycle', pp.cycle, 'currency', pp.currency,
                                                              'amount_minor', pp.amount_minor)
                                           ORDER BY pp.currency, pp.cycle)
                            FROM plan_prices pp WHERE pp.plan_id = p.id), '[]') AS prices
           FROM plans p ORDER BY p.sort_order",
    )
    .fetch_all(pool)
    .await?;
    // How many workspaces each plan has, through the console's own listing.
    let on_plan: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT plan_id FROM staff_tenants($1, '', 100000)")
            .bind(actor)
            .fetch_all(pool)
            .await?;
    let mut plans = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let prices: sqlx::types::Json<Vec<ListPrice>> = r.try_get("prices")?;
        plans.push(CataloguePlan {
            workspaces: on_plan
                .iter()
                .filter(|(p,)| p.as_deref() == Some(id.as_str()))
                .count() as i64,
            id,
            name: r.try_get("name")?,
            seats: r.try_get("seats_limit")?,
            records: r.try_get("records_limit")?,
            wa_numbers: r.try_get("wa_numbers_limit")?,
            mailboxes: r.try_get("mailboxes_limit")?,
            wa_messages: r.try_get("wa_messages_limit")?,
            email_messages: r.try_get("email_messages_limit")?,
            api_per_minute: r.try_get("api_per_minute")?,
            features: r.try_get("features")?,
            prices: prices.0,
        });
    }
    let mut currencies: Vec<String> = plans
        .iter()
        .flat_map(|p| p.prices.iter().map(|x| x.currency.clone()))
        .collect();
    currencies.sort();
    currencies.dedup();
    Ok(Catalogue {
        can_manage: permissions(env, actor)
            .await?
            .contains(&StaffPermission::PlansManage),
        currencies,
        plans,
    })
}

/// The largest limit the editor takes: beyond it, leave the limit empty (unlimited).
const MAX_LIMIT: i32 = 100_000_000;

/// A limit as typed: empty is unlimited unless `required`; otherwise a whole number
/// from `min` up.
fn limit(
    env: &Env,
    field: &str,
    input: &str,
    min: i32,
    required: bool,
) -> Result<Option<i32>, AppError> {
    let input = input.trim();
    if input.is_empty() {
        return if required {
            Err(AppError::field(field, env.t("validation.required")))
        } else {
            Ok(None)
        };
    }
    crate::l10n::read_number(env.locale(), input)
        .filter(|(_, fraction)| fraction.is_empty())
        .and_then(|(whole, _)| whole.parse::<i32>().ok())
        .filter(|n| (min..=MAX_LIMIT).contains(n))
        .map(Some)
        .ok_or_else(|| {
            AppError::field(
                field,
                tf(
                    env.locale(),
                    "staff.limit_range",
                    &[("min", min.to_string()), ("max", MAX_LIMIT.to_string())],
                ),
            )
        })
}

pub async fn save_plan(env: &Env, draft: &PlanDraft) -> Result<(), AppError> {
    use crate::billing::model::Feature;
    let actor = staff(env, StaffPermission::PlansManage).await?;
    let seats = limit(env, "seats", &draft.seats, 1, true)?.unwrap_or(1);
    let records = limit(env, "records", &draft.records, 1, false)?;
    let wa_numbers = limit(env, "wa_numbers", &draft.wa_numbers, 0, false)?;
    let mailboxes = limit(env, "mailboxes", &draft.mailboxes, 0, false)?;
    let wa_messages = limit(env, "wa_messages", &draft.wa_messages, 0, false)?;
    let email_messages = limit(env, "email_messages", &draft.email_messages, 0, false)?;
    let api = limit(env, "api_per_minute", &draft.api_per_minute, 1, true)?.unwrap_or(1);
    let mut features = Vec::new();
    for key in &draft.features {
        let feature = Feature::parse(key)
            .ok_or_else(|| AppError::field("features", env.t("staff.unknown_feature")))?;
        if !features.contains(&feature.key()) {
            features.push(feature.key());
        }
    }
    let mut prices = Vec::new();
    for p in &draft.prices {
        let field = format!("price-{}-{}", p.cycle, p.currency);
        if !matches!(p.cycle.as_str(), "MONTHLY" | "YEARLY")
            || p.currency.len() != 3
            || !p.currency.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(AppError::field(&field, env.t("staff.unknown_price")));
        }
        if p.amount.trim().is_empty() {
            continue;
        }
        let minor = crate::crm::money::parse(env.locale(), &p.amount, &p.currency)
            .filter(|m| *m <= 1_000_000_000_000)
            .ok_or_else(|| {
                AppError::field(
                    &field,
                    tf(
                        env.locale(),
                        "staff.bad_price",
                        &[("currency", p.currency.clone())],
                    ),
                )
            })?;
        prices.push(serde_json::json!({
            "cycle": p.cycle, "currency": p.currency, "amount_minor": minor,
        }));
    }
    let reason = reason_of(env, &draft.reason, false)?;
    let found: bool = sqlx::query_scalar(
        "SELECT staff_save_plan($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(actor)
    .bind(&draft.id)
    .bind(seats)
    .bind(records)
    .bind(wa_numbers)
    .bind(mailboxes)
    .bind(wa_messages)
    .bind(email_messages)
    .bind(api)
    .bind(serde_json::json!(features))
    .bind(serde_json::Value::Array(prices))
    .bind(&reason)
    .bind(&env.ctx.ip)
    .fetch_one(env.db().pool())
    .await?;
    if !found {
        return Err(AppError::NotFound(env.t("staff.no_plan")));
    }
    Ok(())
}

/// A secret as the console shows it: whether it is set, and a typed key's prefix
/// (`sk_live_`, `whsec_`), which says which account or kind it is and nothing more.
pub fn mask(secret: &str) -> String {
    if secret.is_empty() {
        return "(not set)".into();
    }
    let prefix = secret
        .char_indices()
        .take(9)
        .filter(|(_, c)| *c == '_')
        .last()
        .map_or("", |(i, _)| &secret[..=i]);
    format!("{prefix}•••••••• ({} characters)", secret.chars().count())
}

pub async fn system_config(env: &Env) -> Result<SystemConfig, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let rows = sqlx::query("SELECT * FROM staff_config($1)")
        .bind(actor)
        .fetch_all(env.db().pool())
        .await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(ConfigEntry {
                key: r.try_get("key")?,
                description: r.try_get("description")?,
                category: r.try_get("category")?,
                value: r
                    .try_get::<Option<serde_json::Value>, _>("value")?
                    .map(|v| crate::sysconfig::Setting::show(&v)),
                sensitive: r.try_get("is_sensitive")?,
                updated_at: r.try_get("updated_at")?,
                updated_by: r.try_get("updated_by_name")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let c = &env.ctx.config;
    let running = [
        ("Public URL", c.public_url.clone()),
        ("Secure cookies", c.secure_cookies.to_string()),
        ("WhatsApp Cloud API", c.wa_api_url.clone()),
        ("360dialog API", c.d360_api_url.clone()),
        ("Stripe API", c.stripe_api_url.clone()),
        ("Stripe secret key", mask(&c.stripe_secret_key)),
        ("Stripe webhook secret", mask(&c.billing_webhook_secret)),
        ("Email events webhook secret", mask(&c.email_webhook_secret)),
        ("WhatsApp app secret", mask(&c.wa_app_secret)),
        ("WhatsApp verify token", mask(&c.wa_verify_token)),
        ("Encryption key", "•••••••• (32 bytes)".to_string()),
        ("DNS resolver", c.dns_resolver.to_string()),
        ("SPF include", c.spf_include.clone()),
        (
            "Account email",
            c.account_mail.as_ref().map_or_else(
                || "(not set: account emails are not sent)".to_string(),
                |m| m.from.clone(),
            ),
        ),
        (
            "Webhook delivery timeout",
            format!("{} s", c.webhook_timeout.as_secs()),
        ),
    ]
    .into_iter()
    .map(|(name, value)| RunningSetting {
        name: name.to_string(),
        value,
    })
    .collect();
    Ok(SystemConfig {
        can_manage: permissions(env, actor)
            .await?
            .contains(&StaffPermission::ConfigManage),
        entries,
        running,
    })
}

pub async fn set_config(env: &Env, key: &str, value: &str, reason: &str) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::ConfigManage).await?;
    let setting = crate::sysconfig::Setting::parse_key(key).ok_or_else(|| {
        AppError::NotFound(tf(
            env.locale(),
            "staff.config.unknown",
            &[("key", key.to_string())],
        ))
    })?;
    let value = setting
        .read(value)
        .map_err(|message| AppError::field("value", env.t(message)))?;
    let reason = reason_of(env, reason, false)?;
    let found: bool = sqlx::query_scalar("SELECT staff_set_config($1, $2, $3, $4, $5)")
        .bind(actor)
        .bind(key)
        .bind(&value)
        .bind(&reason)
        .bind(&env.ctx.ip)
        .fetch_one(env.db().pool())
        .await?;
    if !found {
        return Err(AppError::NotFound(tf(
            env.locale(),
            "staff.config.unknown",
            &[("key", key.to_string())],
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_show_their_kind_and_length_only() {
        assert_eq!(
            super::mask("sk_live_51HxYz"),
            "sk_live_•••••••• (14 characters)"
        );
        assert_eq!(super::mask("whsec_abc"), "whsec_•••••••• (9 characters)");
        assert_eq!(super::mask("plainsecret"), "•••••••• (11 characters)");
        assert_eq!(super::mask(""), "(not set)");
        assert!(!super::mask("sk_test_verysecretvalue").contains("very"));
    }
}
