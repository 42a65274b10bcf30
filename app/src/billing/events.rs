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
    let created = event_created(&event);
    let Some((tenant, invoice)) = subject(&event) else {
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
    let Some(outcome) = apply(&mut tx, tenant, invoice, kind, created, &event).await? else {
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

/// Applies a recorded event again, for staff (`billing.replay`): an event that came
/// before the invoice it names existed was ignored, and now finds it. What it did is
/// written over the event's outcome, as "replayed: …". Settled invoices stay as they
/// are, so a replay of an applied event changes nothing.
pub async fn replay(db: &Db, actor: Uuid, id: &str) -> Result<(String, String), AppError> {
    let found: Option<(serde_json::Value, String)> =
        sqlx::query_as("SELECT payload, outcome FROM staff_billing_event($1, $2)")
            .bind(actor)
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    let (event, before) =
        found.ok_or_else(|| AppError::NotFound(format!("no provider event {id}")))?;
    let kind = event["type"].as_str().unwrap_or_default();
    let created = event_created(&event);
    let (tenant, outcome) = match subject(&event) {
        None => (None::<Uuid>, "ignored: names nothing of ours"),
        Some((tenant, invoice)) => {
            let mut tx = db.tenant_tx(tenant, Some(actor)).await?;
            match apply(&mut tx, tenant, invoice, kind, created, &event).await? {
                Some(outcome) => {
                    let outcome = format!("replayed: {outcome}");
                    sqlx::query("SELECT staff_billing_event_replayed($1, $2, $3, $4)")
                        .bind(actor)
                        .bind(id)
                        .bind(tenant)
                        .bind(&outcome)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok((before, outcome));
                }
                None => {
                    tx.rollback().await?;
                    (None, "ignored: no such invoice")
                }
            }
        }
    };
    let outcome = format!("replayed: {outcome}");
    sqlx::query("SELECT staff_billing_event_replayed($1, $2, $3, $4)")
        .bind(actor)
        .bind(id)
        .bind(tenant)
        .bind(&outcome)
        .execute(db.pool())
        .await?;
    Ok((before, outcome))
}

fn event_created(event: &serde_json::Value) -> DateTime<Utc> {
    event["created"]
        .as_i64()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .unwrap_or_else(Utc::now)
}

/// The workspace and invoice an event names (`data.object.metadata`), if both.
fn subject(event: &serde_json::Value) -> Option<(Uuid, Uuid)> {
    let metadata = &event["data"]["object"]["metadata"];
    let id = |key: &str| metadata[key].as_str().and_then(|s| Uuid::parse_str(s).ok());
    Some((id("tenant_id")?, id("invoice_id")?))
}

/// The event's effect on its invoice and subscription, in the workspace's transaction:
/// what it did, or `None` when the workspace has no such invoice.
async fn apply(
    tx: &mut crate::db::Tx,
    tenant: Uuid,
    invoice: Uuid,
    kind: &str,
    created: DateTime<Utc>,
    event: &serde_json::Value,
) -> Result<Option<&'static str>, AppError> {
    use super::model::InvoiceStatus::{Open, Uncollectible};
    let state: Option<super::model::InvoiceStatus> =
        sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1 FOR UPDATE")
            .bind(invoice)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(invoice_status) = state else {
        return Ok(None);
    };
    Ok(Some(match (kind, invoice_status) {
        ("invoice.paid" | "payment_intent.succeeded", Open | Uncollectible) => {
            let reference = event["data"]["object"]["id"].as_str();
            payments::mark_paid(tx, tenant, invoice, created, reference).await?;
            "paid"
        }
        ("invoice.payment_failed" | "payment_intent.payment_failed", Open) => {
            sqlx::query("UPDATE subscriptions SET status = 'PAST_DUE' WHERE status IN ('ACTIVE', 'TRIALING')")
                .execute(&mut **tx)
                .await?;
            "past_due"
        }
        // A failure delivered after the payment that followed it changes nothing.
        _ => "ignored: already settled or not a payment event",
    }))
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
