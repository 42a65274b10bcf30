//! Webhook endpoints as an admin manages them: made with a `whsec_` key shown once,
//! switched off and on, rotated with an overlap, and their delivery log with replay.

use super::model::*;
use super::ssr::open;
use crate::audit::{self, AuditEntry};
use crate::crypto::{self, SealedAt};
use crate::db::new_id;
use crate::error::AppError;
use crate::request::{AppConfig, Env};
use crate::standard_webhooks::WebhookKey;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use uuid::Uuid;

/// How long a rotated webhook key still signs alongside the new one.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);

fn secret_at(id: Uuid, column: &str) -> SealedAt<'_> {
    SealedAt {
        table: "webhook_endpoints",
        column,
        row: id,
    }
}

/// The endpoint's signing keys: the current one, and during a rotation the previous.
pub fn endpoint_keys(
    config: &AppConfig,
    id: Uuid,
    sealed: &[u8],
    previous: Option<(&[u8], DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Result<Vec<WebhookKey>, AppError> {
    let open = |column: &str, bytes: &[u8]| -> Result<WebhookKey, AppError> {
        let secret = crypto::open_field(&config.secret_key, &secret_at(id, column), bytes)?;
        WebhookKey::parse(&String::from_utf8_lossy(&secret)).map_err(crate::db::internal)
    };
    let mut keys = vec![open("secret_sealed", sealed)?];
    if let Some((bytes, until)) = previous {
        if until > now {
            keys.push(open("previous_sealed", bytes)?);
        }
    }
    Ok(keys)
}

/// Checks where an endpoint points before it is saved; deliveries check again, on
/// every attempt, since a name's addresses can change.
async fn check_url(env: &Env, url: &str) -> Result<String, AppError> {
    let bad = |key: &str| AppError::field("url", env.t(key));
    super::deliver::allowed_target(url, env.ctx.config.egress)
        .await
        .map(|_| url.trim().to_string())
        .map_err(|reason| bad(reason.message_key()))
}

fn check_events(env: &Env, types: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !EVENT_TYPES.contains(&t.as_str()) {
            return Err(AppError::field(
                "event_types",
                env.t("developers.event_unknown"),
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    if out.is_empty() {
        return Err(AppError::field(
            "event_types",
            env.t("developers.events_required"),
        ));
    }
    Ok(out)
}

const WEBHOOK_SELECT: &str = "SELECT e.*,
        (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'PENDING') AS pending,
        (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'FAILED') AS failed
   FROM webhook_endpoints e";

fn webhook_view(r: &sqlx::postgres::PgRow) -> Result<WebhookView, AppError> {
    Ok(WebhookView {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        event_types: r.try_get("event_types")?,
        enabled: r.try_get("enabled")?,
        disabled_reason: r.try_get("disabled_reason")?,
        consecutive_failures: r.try_get("consecutive_failures")?,
        created_at: r.try_get("created_at")?,
        pending: r.try_get("pending")?,
        failed: r.try_get("failed")?,
    })
}

pub async fn list_webhooks(env: &Env) -> Result<Vec<WebhookView>, AppError> {
    let (_, mut tx) = open(env).await?;
    let rows = sqlx::query(&format!(
        "{WEBHOOK_SELECT} ORDER BY e.created_at DESC LIMIT 100"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(webhook_view).collect()
}

pub async fn create_webhook(env: &Env, input: &NewWebhook) -> Result<WebhookSecret, AppError> {
    let url = check_url(env, &input.url).await?;
    let events = check_events(env, &input.event_types)?;
    let description = input.description.trim();
    if description.chars().count() > 200 {
        return Err(AppError::field("description", env.t("records.too_long")));
    }
    let (p, mut tx) = open(env).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints")
        .fetch_one(&mut *tx)
        .await?;
    if count >= 20 {
        return Err(AppError::field(
            "url",
            env.t("developers.too_many_endpoints"),
        ));
    }
    let id = new_id();
    let key = WebhookKey::generate();
    let sealed = crypto::seal_field(
        &env.ctx.config.secret_key,
        &secret_at(id, "secret_sealed"),
        key.secret().as_bytes(),
    );
    sqlx::query(
        "INSERT INTO webhook_endpoints (tenant_id, id, url, description, event_types, secret_sealed, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(&url)
    .bind(description)
    .bind(&events)
    .bind(sealed)
    .bind(p.actor())
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("webhook.created", "webhook_endpoint", Some(id))
            .after(serde_json::json!({ "url": url, "event_types": events })),
    )
    .await?;
    tx.commit().await?;
    Ok(WebhookSecret {
        id,
        secret: key.secret(),
    })
}

pub async fn delete_webhook(env: &Env, id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = open(env).await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t("developers.webhook_not_found")));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("webhook.deleted", "webhook_endpoint", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Switches an endpoint on (its failure count starts again) or off.
pub async fn set_webhook_enabled(env: &Env, id: Uuid, enabled: bool) -> Result<(), AppError> {
    let (p, mut tx) = open(env).await?;
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = NULL,
                consecutive_failures = CASE WHEN $2 THEN 0 ELSE consecutive_failures END
          WHERE id = $1",
    )
    .bind(id)
    .bind(enabled)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t("developers.webhook_not_found")));
    }
    let action = if enabled {
        "webhook.enabled"
    } else {
        "webhook.disabled"
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(action, "webhook_endpoint", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new signing key; the old one signs too for [`SECRET_OVERLAP`], so the receiver
/// can switch without refusing deliveries meanwhile.
pub async fn rotate_webhook_secret(env: &Env, id: Uuid) -> Result<WebhookSecret, AppError> {
    let (p, mut tx) = open(env).await?;
    let current: Vec<u8> =
        sqlx::query_scalar("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::NotFound(env.t("developers.webhook_not_found")))?;
    let key = &env.ctx.config.secret_key;
    let old = crypto::open_field(key, &secret_at(id, "secret_sealed"), &current)?;
    let fresh = WebhookKey::generate();
    sqlx::query(
        "UPDATE webhook_endpoints SET secret_sealed = $2, previous_sealed = $3, previous_until = $4
          WHERE id = $1",
    )
    .bind(id)
    .bind(crypto::seal_field(
        key,
        &secret_at(id, "secret_sealed"),
        fresh.secret().as_bytes(),
    ))
    .bind(crypto::seal_field(
        key,
        &secret_at(id, "previous_sealed"),
        &old,
    ))
    .bind(Utc::now() + SECRET_OVERLAP)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("webhook.secret_rotated", "webhook_endpoint", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(WebhookSecret {
        id,
        secret: fresh.secret(),
    })
}

/// An endpoint and its latest 50 deliveries, each with its attempts.
pub async fn webhook_detail(env: &Env, id: Uuid) -> Result<WebhookDetail, AppError> {
    let (_, mut tx) = open(env).await?;
    let endpoint = sqlx::query(&format!("{WEBHOOK_SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound(env.t("developers.webhook_not_found")))?;
    let endpoint = webhook_view(&endpoint)?;
    let rows = sqlx::query(
        "SELECT d.id, d.event_id, v.type, d.status, d.next_attempt_at, d.created_at,
                coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at,
                        'status', a.status, 'error', a.error, 'body_excerpt', a.body_excerpt,
                        'duration_ms', a.duration_ms) ORDER BY a.attempt)
                   FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempts
           FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
          WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut deliveries = Vec::with_capacity(rows.len());
    for r in &rows {
        let status: String = r.try_get("status")?;
        let status = DeliveryStatus::parse(&status).ok_or_else(|| crate::db::internal(status))?;
        deliveries.push(DeliveryView {
            id: r.try_get("id")?,
            event_id: r.try_get("event_id")?,
            event_type: r.try_get("type")?,
            status,
            attempts: serde_json::from_value(r.try_get("attempts")?)
                .map_err(crate::db::internal)?,
            next_attempt_at: (status == DeliveryStatus::Pending)
                .then(|| r.try_get("next_attempt_at"))
                .transpose()?,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(WebhookDetail {
        endpoint,
        deliveries,
    })
}

/// Sends a delivery again now, with the same `webhook-id`: one that failed for good,
/// one that succeeded (the receiver lost it), or one waiting for its next retry.
pub async fn replay_delivery(env: &Env, id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = open(env).await?;
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = now(), finished_at = NULL
          WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t("developers.delivery_not_found")));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("webhook.replayed", "webhook_delivery", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every delivery of the endpoint that gave up, sent again; how many.
pub async fn replay_failed(env: &Env, endpoint: Uuid) -> Result<u64, AppError> {
    let (p, mut tx) = open(env).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1)")
            .bind(endpoint)
            .fetch_one(&mut *tx)
            .await?;
    if !exists {
        return Err(AppError::NotFound(env.t("developers.webhook_not_found")));
    }
    let n = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = now(), finished_at = NULL
          WHERE endpoint_id = $1 AND status = 'FAILED'",
    )
    .bind(endpoint)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(
            "webhook.replayed_failed",
            "webhook_endpoint",
            Some(endpoint),
        )
        .after(serde_json::json!({ "count": n })),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}
