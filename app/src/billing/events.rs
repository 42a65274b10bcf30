//! The payment provider's signed events, applied once each, in any order.

use super::payments;
use super::stripe;
use crate::db::Db;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a provider event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Seen before (the provider retries): nothing done again.
    Duplicate,
    /// Verified but about nothing of ours, or older than what we know.
    Ignored,
}

/// Applies a payment provider event: the signature checked over the raw body, the
/// event recorded once by its id, and its effect on the invoice and subscription it
/// names (`data.object.metadata.tenant_id` and `invoice_id`). An event older than the
/// invoice's last change (delivered out of order) changes nothing.
pub async fn provider_event(
    db: &Db,
    secret: &str,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<EventOutcome, AppError> {
    stripe::verify(secret, signature, body, now)
        .map_err(|e| AppError::Forbidden(format!("bad signature: {e:?}")))?;
    let event: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| AppError::field("body", "the event is not JSON"))?;
    let id = event["id"]
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 255);
    let kind = event["type"].as_str();
    let (Some(id), Some(kind)) = (id, kind) else {
        return Err(AppError::field("body", "the event has no id or type"));
    };
    let created = event["created"]
        .as_i64()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .unwrap_or_else(Utc::now);
    let metadata = &event["data"]["object"]["metadata"];
    let tenant = metadata["tenant_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok());
    let invoice = metadata["invoice_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok());
    let (Some(tenant), Some(invoice)) = (tenant, invoice) else {
        let fresh = record(
            db,
            id,
            None,
            kind,
            created,
            &event,
            "ignored: names nothing of ours",
        )
        .await?;
        return Ok(if fresh {
            EventOutcome::Ignored
        } else {
            EventOutcome::Duplicate
        });
    };
    let mut tx = db.tenant_tx(tenant, None).await?;
    let state: Option<String> =
        sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1 FOR UPDATE")
            .bind(invoice)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(invoice_status) = state else {
        tx.rollback().await?;
        let fresh = record(
            db,
            id,
            None,
            kind,
            created,
            &event,
            "ignored: no such invoice",
        )
        .await?;
        return Ok(if fresh {
            EventOutcome::Ignored
        } else {
            EventOutcome::Duplicate
        });
    };
    let outcome = match (kind, invoice_status.as_str()) {
        ("invoice.paid" | "payment_intent.succeeded", "OPEN" | "UNCOLLECTIBLE") => {
            let reference = event["data"]["object"]["id"].as_str();
            payments::mark_paid(&mut tx, tenant, invoice, created, reference).await?;
            "paid"
        }
        ("invoice.payment_failed" | "payment_intent.payment_failed", "OPEN") => {
            sqlx::query("UPDATE subscriptions SET status = 'PAST_DUE' WHERE status IN ('ACTIVE', 'TRIALING')")
                .execute(&mut *tx)
                .await?;
            "past_due"
        }
        // A failure delivered after the payment that followed it changes nothing.
        _ => "ignored: already settled or not a payment event",
    };
    let fresh =
        sqlx::query_scalar::<_, bool>("SELECT billing_event_record($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(tenant)
            .bind(kind)
            .bind(created)
            .bind(&event)
            .bind(outcome)
            .fetch_one(&mut *tx)
            .await?;
    if !fresh {
        // Applied before: undo this delivery's changes.
        tx.rollback().await?;
        return Ok(EventOutcome::Duplicate);
    }
    tx.commit().await?;
    Ok(if outcome.starts_with("ignored") {
        EventOutcome::Ignored
    } else {
        EventOutcome::Applied
    })
}

async fn record(
    db: &Db,
    id: &str,
    tenant: Option<Uuid>,
    kind: &str,
    created: DateTime<Utc>,
    event: &serde_json::Value,
    outcome: &str,
) -> Result<bool, AppError> {
    Ok(
        sqlx::query_scalar("SELECT billing_event_record($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(tenant)
            .bind(kind)
            .bind(created)
            .bind(event)
            .bind(outcome)
            .fetch_one(db.pool())
            .await?,
    )
}
