//! Outgoing webhooks: events written to an outbox in the transaction of the change
//! they report, and the worker that delivers them, signed per Standard Webhooks, with
//! retries over about three days and an SSRF guard on every attempt.

use super::endpoints::endpoint_keys;
use super::objects;
use crate::crm::model::Entity;
use crate::db::{new_id, Db, Tx};
use crate::error::AppError;
use crate::request::AppConfig;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use std::net::SocketAddr;
use uuid::Uuid;

/// The wait before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 20 h,
/// about three days in all (the schedule Svix publishes, stretched to three days).
/// After the last retry fails, the delivery has failed for good.
pub const RETRY_AFTER: [i64; 9] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000];
/// An endpoint that fails this many attempts in a row, across its deliveries, is
/// switched off and the admins are told.
pub const DISABLE_AFTER: i32 = 50;
/// A claimed delivery comes due again after this if its worker died mid-send.
const LEASE_SECS: i32 = 60;
/// What is kept of a receiver's answer for the delivery log.
const EXCERPT_CHARS: usize = 500;

/// `msg_` and a time-ordered id: the `webhook-id` of all of the event's deliveries.
pub fn event_id() -> String {
    format!("msg_{}", Uuid::now_v7().simple())
}

/// Whether an enabled endpoint of the transaction's tenant wants `event_type`: when
/// none does, nothing is written and the payload is never built.
async fn subscribed(tx: &mut Tx, event_type: &str) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND $1 = ANY(event_types))",
    )
    .bind(event_type)
    .fetch_one(&mut **tx)
    .await?)
}

/// Writes an event and one delivery per subscribed endpoint, in the caller's
/// transaction: the event exists exactly when the change does.
pub async fn emit(
    tx: &mut Tx,
    tenant_id: Uuid,
    event_type: &str,
    data: serde_json::Value,
) -> Result<(), AppError> {
    let id = event_id();
    let payload = serde_json::json!({
        "type": event_type,
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    });
    sqlx::query(
        "WITH ev AS (INSERT INTO webhook_events (tenant_id, id, type, payload) VALUES ($1, $2, $3, $4)
                     RETURNING id)
         INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id)
         SELECT $1, gen_random_uuid(), e.id, ev.id FROM ev, webhook_endpoints e
          WHERE e.enabled AND $3 = ANY(e.event_types)",
    )
    .bind(tenant_id)
    .bind(&id)
    .bind(event_type)
    .bind(payload)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An event of any kind, written only if an endpoint wants it. `data` is built
/// cheaply by the caller; records go through [`record_changed`], which skips even that.
pub async fn publish(
    tx: &mut Tx,
    tenant_id: Uuid,
    event_type: &str,
    data: serde_json::Value,
) -> Result<(), AppError> {
    debug_assert!(
        super::model::EVENT_TYPES.contains(&event_type),
        "{event_type}"
    );
    if subscribed(tx, event_type).await? {
        emit(tx, tenant_id, event_type, data).await?;
    }
    Ok(())
}

/// A record was created, updated or deleted: `contact.created` and so on, carrying the
/// record as the API returns it (or only its id, once deleted).
pub async fn record_changed(
    tx: &mut Tx,
    tenant_id: Uuid,
    entity: Entity,
    ids: &[Uuid],
    action: &str,
) -> Result<(), AppError> {
    let name = object_name(entity);
    let event_type = format!("{name}.{action}");
    if ids.is_empty() || !subscribed(tx, &event_type).await? {
        return Ok(());
    }
    for &id in ids {
        let data = if action == "deleted" {
            serde_json::json!({ "id": id, "object": name })
        } else {
            objects::json_of(tx, tenant_id, entity, id).await?
        };
        emit(tx, tenant_id, &event_type, data).await?;
    }
    Ok(())
}

/// A deal moved between stages: the deal as it is now, and the stage it left.
pub async fn deal_moved(
    tx: &mut Tx,
    tenant_id: Uuid,
    deal: Uuid,
    from: Uuid,
) -> Result<(), AppError> {
    if !subscribed(tx, "deal.stage_changed").await? {
        return Ok(());
    }
    let mut data = objects::json_of(tx, tenant_id, Entity::Deal, deal).await?;
    data["previous_stage_id"] = serde_json::json!(from);
    emit(tx, tenant_id, "deal.stage_changed", data).await
}

pub fn object_name(entity: Entity) -> &'static str {
    match entity {
        Entity::Contact => "contact",
        Entity::Company => "company",
        Entity::Lead => "lead",
        Entity::Deal => "deal",
    }
}

/// Why a webhook URL is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not an absolute `https://` URL (or `http://` where loopback is allowed), or
    /// with a user name or password in it.
    BadUrl,
    Unresolved,
    /// A private, loopback, link-local or metadata address.
    NotPublic,
}

impl Refused {
    pub fn message_key(self) -> &'static str {
        match self {
            Refused::BadUrl => "developers.url_invalid",
            Refused::Unresolved => "developers.url_unresolved",
            Refused::NotPublic => "developers.url_not_public",
        }
    }
}

/// Where a delivery to `url` may connect: the host, and an address every one of whose
/// siblings is public (unless the operator allows any address, for the local peer).
/// Resolved once per attempt and pinned for the connection, so a name that changes
/// its answer between the check and the connect (DNS rebinding) gains nothing.
pub async fn allowed_target(
    url: &str,
    egress: mail::Egress,
) -> Result<(url::Url, String, SocketAddr), Refused> {
    let parsed = url::Url::parse(url.trim()).map_err(|_| Refused::BadUrl)?;
    let any = egress == mail::Egress::AnyAddress;
    let scheme_ok = parsed.scheme() == "https" || (any && parsed.scheme() == "http");
    if !scheme_ok || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused::BadUrl);
    }
    let host = parsed.host_str().ok_or(Refused::BadUrl)?.to_string();
    let port = parsed.port_or_known_default().ok_or(Refused::BadUrl)?;
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
        .await
        .map_err(|_| Refused::Unresolved)?
        .collect();
    let first = *addresses.first().ok_or(Refused::Unresolved)?;
    if !any && !addresses.iter().all(|a| mail::is_public(a.ip())) {
        return Err(Refused::NotPublic);
    }
    Ok((parsed, bare, first))
}

/// What one attempt got back.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    body: Option<String>,
    duration_ms: i32,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

async fn post(
    config: &AppConfig,
    url: &str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> Outcome {
    let started = std::time::Instant::now();
    let elapsed = |started: std::time::Instant| {
        i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX)
    };
    let (parsed, host, address) = match allowed_target(url, config.egress).await {
        Ok(t) => t,
        Err(refused) => {
            return Outcome {
                status: None,
                error: Some(format!("refused: {refused:?}")),
                body: None,
                duration_ms: elapsed(started),
            }
        }
    };
    // A client per attempt, pinned to the address just checked; redirects are not
    // followed, since each hop would need the same check.
    let client = reqwest::Client::builder()
        .timeout(config.webhook_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, address)
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                status: None,
                error: Some(e.to_string()),
                body: None,
                duration_ms: elapsed(started),
            }
        }
    };
    let mut request = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("user-agent", "Leadline-Webhooks/1");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.body(body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            Outcome {
                status: Some(status),
                error: None,
                body: Some(text.chars().take(EXCERPT_CHARS).collect()),
                duration_ms: elapsed(started),
            }
        }
        Err(e) => Outcome {
            status: None,
            error: Some(if e.is_timeout() {
                "timed out".to_string()
            } else {
                e.to_string()
            }),
            body: None,
            duration_ms: elapsed(started),
        },
    }
}

/// Delivers what is due, up to `limit` at a time; how many attempts were made.
pub async fn deliver_due(db: &Db, config: &AppConfig, limit: i32) -> Result<usize, AppError> {
    let claimed: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT tenant_id, id FROM webhook_claim($1, $2)")
            .bind(limit)
            .bind(LEASE_SECS)
            .fetch_all(db.pool())
            .await?;
    let attempts = claimed
        .iter()
        .map(|&(tenant, id)| attempt(db, config, tenant, id));
    let results = futures_util::future::join_all(attempts).await;
    for r in &results {
        if let Err(e) = r {
            tracing::warn!(error = %e, "webhook delivery");
        }
    }
    Ok(claimed.len())
}

/// One attempt at one delivery, and its record: the log line, then success, a retry
/// later, or failure for good; and the endpoint's failure count.
async fn attempt(db: &Db, config: &AppConfig, tenant: Uuid, id: Uuid) -> Result<(), AppError> {
    let mut tx = db.tenant_tx(tenant, None).await?;
    let row = sqlx::query(
        "SELECT d.attempts, d.endpoint_id, e.url, e.enabled, e.secret_sealed, e.previous_sealed,
                e.previous_until, v.id AS event_id, v.payload
           FROM webhook_deliveries d
           JOIN webhook_endpoints e ON e.id = d.endpoint_id
           JOIN webhook_events v ON v.id = d.event_id
          WHERE d.id = $1 AND d.status = 'PENDING'",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else { return Ok(()) };
    let endpoint: Uuid = row.try_get("endpoint_id")?;
    if !row.try_get::<bool, _>("enabled")? {
        // Paused with its endpoint: it waits, and goes out if the endpoint is enabled.
        let mut tx = db.tenant_tx(tenant, None).await?;
        sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(());
    }
    let now = Utc::now();
    let sealed: Vec<u8> = row.try_get("secret_sealed")?;
    let previous: Option<Vec<u8>> = row.try_get("previous_sealed")?;
    let until: Option<DateTime<Utc>> = row.try_get("previous_until")?;
    let keys = endpoint_keys(
        config,
        endpoint,
        &sealed,
        previous.as_deref().zip(until),
        now,
    )?;
    let event_id: String = row.try_get("event_id")?;
    let body = serde_json::to_vec(&row.try_get::<serde_json::Value, _>("payload")?)
        .map_err(crate::db::internal)?;
    let timestamp = now.timestamp();
    let signature = keys
        .iter()
        .map(|k| k.sign(&event_id, timestamp, &body))
        .collect::<Vec<_>>()
        .join(" ");
    let headers = vec![
        ("webhook-id", event_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    let url: String = row.try_get("url")?;
    let outcome = post(config, &url, headers, body).await;
    let number: i32 = row.try_get::<i32, _>("attempts")? + 1;
    record(db, tenant, id, endpoint, number, &outcome).await
}

async fn record(
    db: &Db,
    tenant: Uuid,
    id: Uuid,
    endpoint: Uuid,
    number: i32,
    outcome: &Outcome,
) -> Result<(), AppError> {
    let mut tx = db.tenant_tx(tenant, None).await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt, status, error, body_excerpt, duration_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(new_id())
    .bind(id)
    .bind(number)
    .bind(outcome.status.map(i32::from))
    .bind(&outcome.error)
    .bind(&outcome.body)
    .bind(outcome.duration_ms)
    .execute(&mut *tx)
    .await?;
    if outcome.succeeded() {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'SUCCEEDED', attempts = $2, last_status = $3,
                    last_error = NULL, finished_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(number)
        .bind(outcome.status.map(i32::from))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1")
            .bind(endpoint)
            .execute(&mut *tx)
            .await?;
    } else {
        let error = outcome
            .error
            .clone()
            .or_else(|| outcome.status.map(|s| format!("HTTP {s}")));
        // Attempt n (1-based) waits RETRY_AFTER[n-1] before the next; with a jitter of
        // up to a tenth, so a receiver that comes back is not hit by every retry at once.
        let wait = usize::try_from(number - 1)
            .ok()
            .and_then(|i| RETRY_AFTER.get(i))
            .map(|secs| {
                let jitter = (*secs as f64 * 0.1 * crate::jobs::ssr::jitter()) as i64;
                Duration::seconds(secs + jitter)
            });
        match wait {
            Some(wait) => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET attempts = $2, last_status = $3, last_error = $4,
                            next_attempt_at = now() + $5 WHERE id = $1",
                )
                .bind(id)
                .bind(number)
                .bind(outcome.status.map(i32::from))
                .bind(&error)
                .bind(wait)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'FAILED', attempts = $2, last_status = $3,
                            last_error = $4, finished_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind(number)
                .bind(outcome.status.map(i32::from))
                .bind(&error)
                .execute(&mut *tx)
                .await?;
            }
        }
        let disabled: Option<String> = sqlx::query_scalar(
            "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
                    enabled = consecutive_failures + 1 < $2,
                    disabled_reason = CASE WHEN consecutive_failures + 1 >= $2
                                           THEN 'FAILING' ELSE disabled_reason END
              WHERE id = $1 AND enabled
             RETURNING CASE WHEN NOT enabled THEN url END",
        )
        .bind(endpoint)
        .bind(DISABLE_AFTER)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        if let Some(url) = disabled {
            let body = crate::i18n::tf(
                crate::i18n::Locale::default(),
                "developers.disabled_notice",
                &[("url", url), ("count", DISABLE_AFTER.to_string())],
            );
            crate::outreach::ssr::store::notify_admins(
                &mut tx,
                tenant,
                "WEBHOOK_DISABLED",
                &body,
                Some(&format!("/settings/developers/webhooks/{endpoint}")),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_about_three_days() {
        let total: i64 = RETRY_AFTER.iter().sum();
        assert!((2 * 86_400..4 * 86_400).contains(&total), "{total}");
        assert!(RETRY_AFTER.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn event_ids_are_unique_and_prefixed() {
        let (a, b) = (event_id(), event_id());
        assert!(a.starts_with("msg_"));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn urls_to_private_places_are_refused() {
        let public = mail::Egress::PublicOnly;
        for url in [
            "http://127.0.0.1/hook",
            "https://127.0.0.1/hook",
            "https://10.0.0.8/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://localhost/hook",
        ] {
            let refused = allowed_target(url, public).await.err();
            assert!(
                matches!(refused, Some(Refused::NotPublic | Refused::BadUrl)),
                "{url}: {refused:?}"
            );
        }
        for url in [
            "ftp://example.com/x",
            "https://user:pw@8.8.8.8/x",
            "not a url",
        ] {
            assert_eq!(
                allowed_target(url, public).await.err(),
                Some(Refused::BadUrl),
                "{url}"
            );
        }
        // A public address literal passes without any lookup leaving the machine.
        assert!(allowed_target("https://8.8.8.8/hook", public).await.is_ok());
        // The development setting lets the local peer in, over plain HTTP.
        assert!(
            allowed_target("http://127.0.0.1:9/hook", mail::Egress::AnyAddress)
                .await
                .is_ok()
        );
    }
}
