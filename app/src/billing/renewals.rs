//! Period roll-over: each subscription whose period ended moves to the next one, and a
//! paid plan is renewed with an invoice for it.

use super::model::SubscriptionStatus;
use super::ssr::{create_invoice, plans, price};
use crate::audit::{self, AuditEntry};
use crate::db::Db;
use crate::error::AppError;
use crate::i18n::{tf, Locale};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Period ends across tenants (schedule `billing.periods`): each due subscription
/// moves to its next period (a pending plan applied, a trial become active, a
/// cancellation taking effect), and a paid plan is renewed with an invoice for the new
/// period, written in the same transaction and charged by the worker. Missed periods
/// (the worker was down) roll one at a time, each invoiced. How many rolled over.
pub async fn roll_periods(pool: &sqlx::PgPool, now: DateTime<Utc>) -> Result<i64, AppError> {
    let db = Db::new(pool.clone());
    let mut rolled = 0;
    loop {
        let due: Vec<Uuid> = sqlx::query_scalar("SELECT billing_due_renewals($1, 100)")
            .bind(now)
            .fetch_all(pool)
            .await?;
        let mut progressed = false;
        for tenant in due {
            if roll_period(&db, tenant, now).await? {
                rolled += 1;
                progressed = true;
            }
        }
        // Nothing due, or what is due is being rolled by another worker.
        if !progressed {
            return Ok(rolled);
        }
    }
}

#[derive(sqlx::FromRow)]
struct DueSql {
    plan_id: String,
    status: SubscriptionStatus,
    cycle: String,
    currency: String,
    current_period_end: DateTime<Utc>,
    locale: String,
    timezone: String,
}

/// Rolls the tenant's subscription over one period if it is due and no other worker
/// holds it; whether it did.
async fn roll_period(db: &Db, tenant_id: Uuid, now: DateTime<Utc>) -> Result<bool, AppError> {
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let due: Option<DueSql> = sqlx::query_as(
        "SELECT s.plan_id, s.status, s.cycle, s.currency::text AS currency, s.current_period_end,
                t.locale, t.timezone
           FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
          WHERE s.current_period_end <= $1 AND s.status <> 'CANCELLED'
          FOR UPDATE OF s SKIP LOCKED",
    )
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(due) = due else {
        return Ok(false);
    };
    let (plan, status, start, end): (String, SubscriptionStatus, DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as(
            "UPDATE subscriptions s
            SET status = CASE WHEN s.cancel_at_period_end THEN 'CANCELLED'
                              WHEN s.status = 'TRIALING' THEN 'ACTIVE' ELSE s.status END,
                plan_id = coalesce(s.pending_plan_id, s.plan_id),
                pending_plan_id = NULL,
                current_period_start = s.current_period_end,
                current_period_end = s.current_period_end
                    + CASE s.cycle WHEN 'YEARLY' THEN interval '1 year' ELSE interval '1 month' END,
                version = s.version + 1
         RETURNING s.plan_id, s.status, s.current_period_start, s.current_period_end",
        )
        .fetch_one(&mut *tx)
        .await?;
    // The plan's line, when it costs anything, and one per recurring add-on held.
    let invoice = if status == SubscriptionStatus::Cancelled {
        None
    } else {
        let locale = Locale::parse(&due.locale).unwrap_or(Locale::En);
        let day = |at| crate::l10n::date(locale, crate::l10n::to_local(&due.timezone, at).date());
        let catalogue = plans(&mut tx, locale).await?;
        let new_plan = catalogue.iter().find(|p| p.id == plan);
        // A pending plan that has no limit where add-ons were held ends them unbilled.
        if let Some(new_plan) = new_plan.filter(|_| plan != due.plan_id) {
            super::addons::end_unlimited_on(&mut tx, locale, &due.currency, new_plan).await?;
        }
        let mut lines = Vec::new();
        if let Some(amount) = price(&mut tx, &plan, &due.cycle, &due.currency)
            .await?
            .filter(|amount| *amount > 0)
        {
            let name = new_plan.map_or_else(|| plan.clone(), |p| p.name.clone());
            let line = tf(
                locale,
                "billing.line.plan",
                &[("plan", name), ("from", day(start)), ("to", day(end))],
            );
            lines.push(("PLAN", line, amount));
        }
        let period = tf(
            locale,
            "billing.line.period",
            &[("from", day(start)), ("to", day(end))],
        );
        lines.extend(
            super::addons::renewal_lines(&mut tx, locale, &due.cycle, &due.currency, &period)
                .await?,
        );
        if lines.is_empty() {
            None
        } else {
            Some(create_invoice(&mut tx, tenant_id, &due.currency, &lines, (start, end)).await?)
        }
    };
    audit::by_worker(
        &mut tx,
        tenant_id,
        AuditEntry::new("billing.period_rolled", "subscriptions", None).change(
            serde_json::json!({ "plan": due.plan_id, "status": due.status, "period_end": due.current_period_end }),
            serde_json::json!({ "plan": plan, "status": status, "period_end": end, "invoice": invoice }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
