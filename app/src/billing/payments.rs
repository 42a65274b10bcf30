//! Collecting invoices: an issued invoice is charged to the workspace's saved payment
//! method by the charging worker, never inside the request that issued it. A failed
//! charge starts dunning: the subscription goes PAST_DUE and the invoice is tried again
//! on days 1, 3, 5 and 7 after the first failure, each failure told to the owners by
//! email and notification; after the last one the subscription is UNPAID and the
//! workspace read-only (`Db::read_only`) until the invoice is paid — by a retry, the
//! owner's "Pay now", or the provider's event.

use super::model::{AttemptKind, AttemptStatus, InvoiceStatus};
use super::provider::{Charge, NewCustomer, PaymentProvider, ProviderError};
use crate::auth::mail::{send_later, AccountEmail};
use crate::db::{new_id, Db, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::jobs::ssr::{backoff, jitter};
use crate::request::{AppConfig, Principal};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// A claimed attempt comes due again after this if its worker died mid-charge.
const LEASE_SECS: i32 = 300;
/// Provider outages (not declines) tried under the same key before the attempt fails.
const MAX_TRIES: i32 = 5;

/// The idempotency key of an invoice's `attempt`-th try: the provider answers a
/// repeat of it with the first answer, so a retried job never charges twice.
pub fn idempotency_key(invoice: Uuid, attempt: i32) -> String {
    format!("invoice-{}-attempt-{attempt}", invoice.simple())
}

/// When dunning retry `n` (0-based) comes, counted from the first failure, on the
/// schedule `days` (`billing.dunning_days`).
pub fn retry_at(days: &[i64], first_failure: DateTime<Utc>, n: usize) -> Option<DateTime<Utc>> {
    days.get(n)
        .map(|days| first_failure + Duration::days(*days))
}

/// Queues a try to collect `invoice`, in the caller's transaction; the attempt's number.
pub async fn queue(
    tx: &mut Tx,
    tenant_id: Uuid,
    invoice: Uuid,
    kind: &str,
    due_at: DateTime<Utc>,
) -> Result<i32, AppError> {
    let attempt: i32 = sqlx::query_scalar(
        "SELECT coalesce(max(attempt), 0) + 1 FROM payment_attempts WHERE invoice_id = $1",
    )
    .bind(invoice)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO payment_attempts (tenant_id, id, invoice_id, attempt, kind, due_at, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(new_id())
    .bind(invoice)
    .bind(attempt)
    .bind(kind)
    .bind(due_at)
    .bind(idempotency_key(invoice, attempt))
    .execute(&mut **tx)
    .await?;
    Ok(attempt)
}

/// Marks `invoice` paid (if it is still open or uncollectible) and the subscription
/// active again, and tells the workspace's webhook endpoints. Whether it changed.
pub async fn mark_paid(
    tx: &mut Tx,
    tenant_id: Uuid,
    invoice: Uuid,
    at: DateTime<Utc>,
    reference: Option<&str>,
) -> Result<bool, AppError> {
    let paid = sqlx::query(
        "UPDATE invoices SET status = 'PAID', paid_at = $2, provider_ref = coalesce($3, provider_ref)
          WHERE id = $1 AND status IN ('OPEN', 'UNCOLLECTIBLE')",
    )
    .bind(invoice)
    .bind(at)
    .bind(reference)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0;
    if !paid {
        return Ok(false);
    }
    // Paid by another way: the retries still waiting have nothing left to collect.
    sqlx::query(
        "UPDATE payment_attempts SET status = 'CANCELLED', finished_at = $2
          WHERE invoice_id = $1 AND status = 'DUE'",
    )
    .bind(invoice)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    // Active again only when nothing else is left unpaid.
    sqlx::query(
        "UPDATE subscriptions SET status = 'ACTIVE'
          WHERE status IN ('PAST_DUE', 'UNPAID')
            AND NOT EXISTS (SELECT 1 FROM payment_attempts a JOIN invoices i ON i.id = a.invoice_id
                             WHERE i.status = 'OPEN' AND a.status = 'FAILED')",
    )
    .execute(&mut **tx)
    .await?;
    let event: serde_json::Value = sqlx::query_scalar(
        "SELECT jsonb_build_object('id', id, 'number', number, 'currency', currency,
                'total_minor', total_minor, 'paid_at', paid_at)
           FROM invoices WHERE id = $1",
    )
    .bind(invoice)
    .fetch_one(&mut **tx)
    .await?;
    crate::developers::deliver::publish(tx, tenant_id, "invoice.paid", event).await?;
    Ok(true)
}

/// The invoice a read-only workspace must pay, by number: set when dunning ran out.
pub async fn unpaid_invoice(tx: &mut Tx) -> Result<Option<i32>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT i.number FROM subscriptions s JOIN invoices i ON i.status = 'OPEN'
          WHERE s.status = 'UNPAID' ORDER BY i.number LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// The database as a member's request sees it: read-only (`Db::read_only`) while
/// their workspace's dunning has run out, with the invoice that lifts it, and always
/// for staff under support access.
pub fn request_db(db: &Db, member: Option<&Principal>, locale: Locale) -> Db {
    if member.is_some_and(|p| p.support.is_some()) {
        return db.read_only(crate::i18n::t(locale, "staff.support_read_only"));
    }
    match member.and_then(|p| p.unpaid_invoice) {
        Some(number) => db.read_only(read_only_message(locale, number)),
        None => db.clone(),
    }
}

/// What a read-only workspace's writes are answered with.
pub fn read_only_message(locale: Locale, number: i32) -> String {
    tf(locale, "billing.read_only", &[("n", number.to_string())])
}

/// Charges up to `limit` attempts due at `now`; how many were taken (a full batch
/// means more may be due).
pub async fn charge_due(
    db: &Db,
    config: &AppConfig,
    provider: &dyn PaymentProvider,
    now: DateTime<Utc>,
    limit: i32,
) -> Result<usize, AppError> {
    let claimed: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT tenant_id, id FROM payment_attempt_claim($1, $2, $3)")
            .bind(now)
            .bind(limit)
            .bind(LEASE_SECS)
            .fetch_all(db.pool())
            .await?;
    for (tenant, attempt) in &claimed {
        if let Err(e) = collect(db, config, provider, *tenant, *attempt, now).await {
            tracing::warn!(error = %e, attempt = %attempt, "invoice charge");
        }
    }
    Ok(claimed.len())
}

#[derive(sqlx::FromRow)]
struct AttemptSql {
    invoice_id: Uuid,
    kind: AttemptKind,
    status: AttemptStatus,
    tries: i32,
    idempotency_key: String,
    invoice_status: InvoiceStatus,
    number: i32,
    currency: String,
    total_minor: i64,
    customer: Option<String>,
    payment_method: Option<String>,
    billing_email: Option<String>,
    company_name: Option<String>,
    workspace: String,
}

async fn collect(
    db: &Db,
    config: &AppConfig,
    provider: &dyn PaymentProvider,
    tenant: Uuid,
    attempt_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut tx = db.tenant_tx(tenant, None).await?;
    let a: Option<AttemptSql> = sqlx::query_as(
        "SELECT a.invoice_id, a.kind, a.status, a.tries, a.idempotency_key,
                i.status AS invoice_status, i.number, i.currency::text AS currency, i.total_minor,
                p.provider_customer_id AS customer, p.payment_method, p.email AS billing_email,
                p.company_name, t.name AS workspace
           FROM payment_attempts a
           JOIN invoices i ON i.tenant_id = a.tenant_id AND i.id = a.invoice_id
           JOIN tenants t ON t.id = a.tenant_id
           LEFT JOIN billing_profiles p ON p.tenant_id = a.tenant_id
          WHERE a.id = $1",
    )
    .bind(attempt_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(a) = a.filter(|a| a.status == AttemptStatus::Due) else {
        return Ok(tx.commit().await?);
    };
    if a.invoice_status != InvoiceStatus::Open || a.total_minor <= 0 {
        // Paid or voided since: nothing to collect.
        sqlx::query(
            "UPDATE payment_attempts SET status = 'CANCELLED', finished_at = $2 WHERE id = $1",
        )
        .bind(attempt_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        return Ok(tx.commit().await?);
    }
    tx.commit().await?;
    // The provider is called with no transaction open.
    let outcome = match a.payment_method.clone() {
        None => Err(ProviderError::Invalid {
            code: "no_payment_method".into(),
            message: "No payment method is set for this workspace.".into(),
        }),
        Some(method) => {
            let customer = match a.customer.clone() {
                Some(c) => Ok(c),
                None => create_customer(db, provider, tenant, &a).await,
            };
            match customer {
                Ok(customer) => {
                    let charge = Charge {
                        customer,
                        payment_method: method,
                        amount_minor: a.total_minor,
                        currency: a.currency.clone(),
                        idempotency_key: a.idempotency_key.clone(),
                        description: format!("{} invoice {}", a.workspace, a.number),
                        tenant_id: tenant,
                        invoice_id: a.invoice_id,
                    };
                    provider.charge(&charge).await
                }
                Err(e) => Err(e),
            }
        }
    };
    let mut tx = db.tenant_tx(tenant, None).await?;
    // The invoice's row first, then the attempt's, the order the provider's event
    // takes them in too: the two wait for each other instead of deadlocking.
    sqlx::query("SELECT 1 FROM invoices WHERE id = $1 FOR UPDATE")
        .bind(a.invoice_id)
        .execute(&mut *tx)
        .await?;
    let now_status: Option<AttemptStatus> =
        sqlx::query_scalar("SELECT status FROM payment_attempts WHERE id = $1 FOR UPDATE")
            .bind(attempt_id)
            .fetch_optional(&mut *tx)
            .await?;
    // The provider's event may have paid the invoice while we waited for its answer,
    // cancelling this attempt with the other waiting ones: what the provider did is
    // still recorded, but a failure then starts no dunning.
    let cancelled = match now_status {
        Some(AttemptStatus::Due) => false,
        Some(AttemptStatus::Cancelled) => true,
        _ => return Ok(tx.commit().await?),
    };
    let failure = match outcome {
        Ok(intent) if intent.status == "succeeded" => {
            finish(
                &mut tx,
                attempt_id,
                AttemptStatus::Succeeded,
                Some(&intent.id),
                None,
                now,
            )
            .await?;
            mark_paid(&mut tx, tenant, a.invoice_id, now, Some(&intent.id)).await?;
            return Ok(tx.commit().await?);
        }
        // 3-D Secure and the like need the customer present, which an off-session
        // charge is not: as good as declined until they pay by hand.
        Ok(intent) => ProviderError::Declined {
            code: intent.status.clone(),
            decline_code: None,
            message: format!("The payment needs the customer ({}).", intent.status),
            payment_intent: Some(intent.id),
        },
        Err(e) if e.transient() && (cancelled || a.tries < MAX_TRIES) => {
            if cancelled {
                return Ok(tx.commit().await?);
            }
            let wait = backoff(u32::try_from(a.tries).unwrap_or(1), jitter());
            sqlx::query("UPDATE payment_attempts SET due_at = $2 WHERE id = $1")
                .bind(attempt_id)
                .bind(now + Duration::from_std(wait).unwrap_or(Duration::hours(1)))
                .execute(&mut *tx)
                .await?;
            return Ok(tx.commit().await?);
        }
        Err(e) => e,
    };
    let reference = match &failure {
        ProviderError::Declined { payment_intent, .. } => payment_intent.clone(),
        _ => None,
    };
    finish(
        &mut tx,
        attempt_id,
        AttemptStatus::Failed,
        reference.as_deref(),
        Some(&failure),
        now,
    )
    .await?;
    if cancelled {
        return Ok(tx.commit().await?);
    }
    let next = dun(&mut tx, tenant, &a, now).await?;
    let emails = tell_owners(&mut tx, tenant, &a, &failure, next, &config.public_url).await?;
    tx.commit().await?;
    for email in emails {
        send_later(config, email);
    }
    Ok(())
}

async fn create_customer(
    db: &Db,
    provider: &dyn PaymentProvider,
    tenant: Uuid,
    a: &AttemptSql,
) -> Result<String, ProviderError> {
    let customer = NewCustomer {
        tenant_id: tenant,
        name: a
            .company_name
            .clone()
            .unwrap_or_else(|| a.workspace.clone()),
        email: a.billing_email.clone(),
    };
    let id = provider.create_customer(&customer).await?;
    let stored = async {
        let mut tx = db.tenant_tx(tenant, None).await?;
        sqlx::query("UPDATE billing_profiles SET provider_customer_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    };
    // Not kept: the next try asks again under the same key and gets the same customer.
    if let Err(e) = stored.await {
        return Err(ProviderError::Unavailable(format!(
            "the customer could not be kept: {e}"
        )));
    }
    Ok(id)
}

async fn finish(
    tx: &mut Tx,
    attempt: Uuid,
    status: AttemptStatus,
    reference: Option<&str>,
    failure: Option<&ProviderError>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let code = failure.map(|f| f.code().chars().take(100).collect::<String>());
    let message = failure.map(|f| f.message().chars().take(500).collect::<String>());
    sqlx::query(
        "UPDATE payment_attempts SET status = $2, provider_ref = $3, failure_code = $4,
                failure_message = $5, finished_at = $6
          WHERE id = $1",
    )
    .bind(attempt)
    .bind(status)
    .bind(reference)
    .bind(code)
    .bind(message)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// After a failed try: PAST_DUE and the next retry, or UNPAID when the retries are
/// spent. A failed "Pay now" changes neither. When the next retry comes, if any.
async fn dun(
    tx: &mut Tx,
    tenant: Uuid,
    a: &AttemptSql,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, AppError> {
    if a.kind == AttemptKind::Manual {
        return Ok(None);
    }
    let (first_failure, retries): (Option<DateTime<Utc>>, i64) = sqlx::query_as(
        "SELECT min(finished_at) FILTER (WHERE status = 'FAILED' AND kind <> 'MANUAL'),
                count(*) FILTER (WHERE kind = 'RETRY')
           FROM payment_attempts WHERE invoice_id = $1",
    )
    .bind(a.invoice_id)
    .fetch_one(&mut **tx)
    .await?;
    let days = crate::sysconfig::dunning_days(tx).await?;
    let next = retry_at(
        &days,
        first_failure.unwrap_or(now),
        usize::try_from(retries).unwrap_or(usize::MAX),
    );
    match next {
        Some(at) => {
            queue(tx, tenant, a.invoice_id, "RETRY", at).await?;
            sqlx::query(
                "UPDATE subscriptions SET status = 'PAST_DUE' WHERE status IN ('ACTIVE', 'TRIALING')",
            )
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query(
                "UPDATE subscriptions SET status = 'UNPAID' WHERE status IN ('ACTIVE', 'TRIALING', 'PAST_DUE')",
            )
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(next)
}

/// A notification for each owner, and the emails to send once the transaction is in:
/// to each owner and to the billing email, in each one's language.
async fn tell_owners(
    tx: &mut Tx,
    tenant: Uuid,
    a: &AttemptSql,
    failure: &ProviderError,
    next: Option<DateTime<Utc>>,
    public_url: &str,
) -> Result<Vec<AccountEmail>, AppError> {
    let owners: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT u.id, u.email::text, coalesce(p.language, t.locale)
           FROM memberships m JOIN users u ON u.id = m.user_id
           JOIN tenants t ON t.id = m.tenant_id
           LEFT JOIN user_preferences p ON p.user_id = u.id
          WHERE m.role = 'OWNER' AND m.status = 'ACTIVE'",
    )
    .fetch_all(&mut **tx)
    .await?;
    let (tenant_locale, zone): (String, String) =
        sqlx::query_as("SELECT locale, timezone FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(&mut **tx)
            .await?;
    let link = format!("/billing/invoices/{}", a.invoice_id);
    let text = |l: Locale| {
        let then = match next {
            Some(at) => tf(
                l,
                "billing.dunning.retry",
                &[(
                    "at",
                    crate::l10n::date(l, crate::l10n::to_local(&zone, at).date()),
                )],
            ),
            None if a.kind == AttemptKind::Manual => String::new(),
            None => t(l, "billing.dunning.read_only"),
        };
        let failed = tf(
            l,
            "billing.dunning.failed",
            &[("n", a.number.to_string()), ("reason", failure.message())],
        );
        format!("{failed} {then}").trim().to_string()
    };
    let mut emails = Vec::new();
    for (user, email, locale) in &owners {
        let l = Locale::parse(locale).unwrap_or_default();
        crate::outreach::ssr::store::notify(
            tx,
            tenant,
            *user,
            "PAYMENT_FAILED",
            &text(l),
            Some(&link),
        )
        .await?;
        emails.push((email.clone(), l));
    }
    if let Some(billing) = a.billing_email.as_ref() {
        if !emails.iter().any(|(e, _)| e.eq_ignore_ascii_case(billing)) {
            emails.push((
                billing.clone(),
                Locale::parse(&tenant_locale).unwrap_or_default(),
            ));
        }
    }
    Ok(emails
        .into_iter()
        .map(|(to, l)| AccountEmail {
            to,
            subject: tf(l, "billing.dunning.subject", &[("n", a.number.to_string())]),
            text: format!(
                "{}\n\n{}",
                text(l),
                tf(
                    l,
                    "billing.dunning.update_card",
                    &[(
                        "link",
                        format!("{}{link}", public_url.trim_end_matches('/'))
                    )]
                )
            ),
        })
        .collect())
}
