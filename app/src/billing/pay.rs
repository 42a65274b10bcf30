//! What the owner does about payment: choose the card to charge, and ask for an open
//! invoice to be charged now. Both work in a read-only workspace — paying is how it
//! stops being one — so they use a writable transaction (`Db::writable`).

use super::model::*;
use super::payments;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::db::Tx;
use crate::error::AppError;
use crate::request::Env;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The payment method on file, whether a charge is on its way, and the open invoice
/// whose last charge failed.
pub async fn state(tx: &mut Tx) -> Result<Payment, AppError> {
    let method: Option<String> = sqlx::query_scalar("SELECT payment_method FROM billing_profiles")
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    // A retry days away is not "on its way"; one due by now is.
    let pending: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM payment_attempts a JOIN invoices i ON i.id = a.invoice_id
                         WHERE a.status = 'DUE' AND i.status = 'OPEN'
                           AND (a.kind <> 'RETRY' OR a.due_at <= now()))",
    )
    .fetch_one(&mut **tx)
    .await?;
    let failed: Option<(Uuid, i32, Option<String>)> = sqlx::query_as(
        "SELECT i.id, i.number, a.failure_message FROM invoices i
           JOIN LATERAL (SELECT status, failure_message FROM payment_attempts
                          WHERE invoice_id = i.id AND status IN ('SUCCEEDED', 'FAILED')
                          ORDER BY attempt DESC LIMIT 1) a ON a.status = 'FAILED'
          WHERE i.status = 'OPEN' ORDER BY i.number LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(Payment {
        method,
        pending,
        failed: failed.map(|(id, n, why)| (id, n, why.unwrap_or_default())),
    })
}

#[derive(sqlx::FromRow)]
struct AttemptSql {
    attempt: i32,
    kind: AttemptKind,
    status: AttemptStatus,
    due_at: DateTime<Utc>,
    failure_message: Option<String>,
}

pub async fn attempts(tx: &mut Tx, invoice: Uuid) -> Result<Vec<PaymentAttempt>, AppError> {
    let rows: Vec<AttemptSql> = sqlx::query_as(
        "SELECT attempt, kind, status, due_at, failure_message FROM payment_attempts
          WHERE invoice_id = $1 ORDER BY attempt",
    )
    .bind(invoice)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PaymentAttempt {
            attempt: r.attempt,
            kind: r.kind,
            status: r.status,
            due_at: r.due_at,
            failure: r.failure_message,
        })
        .collect())
}

/// Saves the card to charge: the provider's id of it (`pm_…`), never its number.
pub async fn set_payment_method(env: &Env, method: &str) -> Result<(), AppError> {
    let p = env.require(Permission::BillingManage)?;
    let method = method.trim();
    let well_formed = method.len() <= 103
        && method.strip_prefix("pm_").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !well_formed {
        return Err(AppError::field(
            "payment_method",
            env.t("billing.error.payment_method"),
        ));
    }
    let mut tx = env
        .db()
        .writable()
        .tenant_tx(p.tenant_id, Some(p.user_id))
        .await?;
    sqlx::query(
        "INSERT INTO billing_profiles (tenant_id, payment_method) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET payment_method = $2, updated_at = now()",
    )
    .bind(p.tenant_id)
    .bind(method)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("billing.payment_method_set", "billing_profiles", None)
            .after(serde_json::json!({ "payment_method": method })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// "Pay now": queues a charge of the open invoice `id` for the worker. Asking twice
/// while one is queued queues nothing more.
pub async fn pay_now(env: &Env, id: &str) -> Result<(), AppError> {
    let p = env.require(Permission::BillingManage)?;
    let not_found = || AppError::NotFound(env.t("billing.error.invoice_not_found"));
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let mut tx = env
        .db()
        .writable()
        .tenant_tx(p.tenant_id, Some(p.user_id))
        .await?;
    let status: InvoiceStatus =
        sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(not_found)?;
    if status != InvoiceStatus::Open {
        return Err(AppError::Conflict(env.t("billing.error.not_open")));
    }
    let has_method: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM billing_profiles WHERE payment_method IS NOT NULL)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !has_method {
        return Err(AppError::field(
            "payment_method",
            env.t("billing.error.no_payment_method"),
        ));
    }
    let queued: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM payment_attempts
                         WHERE invoice_id = $1 AND status = 'DUE' AND kind = 'MANUAL')",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if !queued {
        payments::queue(&mut tx, p.tenant_id, id, "MANUAL", Utc::now()).await?;
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("billing.pay_now", "invoices", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// "Start paying now": ends the trial at once. The period starts now, and the plan's
/// first invoice is issued (and charged by the worker). The new invoice, if the plan
/// costs anything.
pub async fn end_trial(env: &Env) -> Result<Option<Uuid>, AppError> {
    let (p, mut tx) = env.begin(Permission::BillingManage).await?;
    let sub: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT s.plan_id, coalesce(pl.names->>$1, pl.name), s.cycle, s.currency::text
           FROM subscriptions s JOIN plans pl ON pl.id = s.plan_id
          WHERE s.status = 'TRIALING' FOR UPDATE OF s",
    )
    .bind(env.locale().code())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((plan, name, cycle, currency)) = sub else {
        return Err(AppError::Conflict(env.t("billing.error.not_trialing")));
    };
    let now = Utc::now();
    let (start, end): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "UPDATE subscriptions SET status = 'ACTIVE', trial_ends_at = $1, current_period_start = $1,
                current_period_end = $1 + CASE cycle WHEN 'YEARLY' THEN interval '1 year' ELSE interval '1 month' END,
                version = version + 1
         RETURNING current_period_start, current_period_end",
    )
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let price: Option<i64> = sqlx::query_scalar(
        "SELECT amount_minor FROM plan_prices WHERE plan_id = $1 AND cycle = $2 AND currency = $3",
    )
    .bind(&plan)
    .bind(&cycle)
    .bind(&currency)
    .fetch_optional(&mut *tx)
    .await?;
    let invoice = match price.filter(|amount| *amount > 0) {
        Some(amount) => {
            let line = crate::i18n::tf(
                env.locale(),
                "billing.line.plan",
                &[
                    ("plan", name),
                    ("from", env.day_of(start)),
                    ("to", env.day_of(end)),
                ],
            );
            Some(
                super::ssr::create_invoice(
                    &mut tx,
                    p.tenant_id,
                    &currency,
                    &[("PLAN", line, amount)],
                    (start, end),
                )
                .await?,
            )
        }
        None => None,
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("billing.trial_ended", "subscriptions", None)
            .after(serde_json::json!({ "plan": plan, "invoice": invoice })),
    )
    .await?;
    tx.commit().await?;
    Ok(invoice)
}
