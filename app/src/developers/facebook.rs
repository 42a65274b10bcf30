//! Facebook Lead Ads as a lead source. Each connection is one Page with the tenant's
//! own Meta app (DECISIONS 42): its callback URL answers Meta's subscription
//! handshake with the connection's verify token, and takes `leadgen` notifications
//! signed with the app's secret (`X-Hub-Signature-256`). A notification only names
//! a lead; each is queued in `integration_events` (once per `leadgen_id`, whatever
//! Meta retries) and fetched from the Graph API afterwards by the worker
//! ([`super::facebook_fetch`]), so the answer to Meta is quick and a Graph failure is
//! retried instead of lost.

use super::model::{ConnectionStatus, FacebookSource, NewFacebookSource};
use super::sources::open;
use crate::audit::{self, AuditEntry};
use crate::crypto::{self, constant_time_eq, SealedAt};
use crate::db::{new_id, Db};
use crate::error::AppError;
use crate::outreach::ssr::inbound::verify_meta_signature;
use crate::request::{AppConfig, Env};
use sqlx::Row;
use uuid::Uuid;

pub const PROVIDER: &str = "FACEBOOK_LEADS";

/// Where the app secret is sealed (`credentials_sealed`, as for web forms' keys).
fn secret_at(id: Uuid) -> SealedAt<'static> {
    super::sources::sealed_at(id)
}

/// Where the Page access token is sealed.
pub(super) fn token_at(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "integration_connections",
        column: "token_sealed",
        row: id,
    }
}

/// The callback URL to subscribe in the tenant's Meta app.
pub fn callback_url(config: &AppConfig, public_id: &str) -> String {
    format!(
        "{}/webhooks/facebook/{public_id}",
        config.public_url.trim_end_matches('/')
    )
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    id: Uuid,
    name: String,
    lead_source: String,
    public_id: String,
    page_id: Option<String>,
    verify_token: Option<String>,
    status: ConnectionStatus,
    events_count: i64,
    pending: i64,
    failed: i64,
    last_event_at: Option<chrono::DateTime<chrono::Utc>>,
    last_error: Option<String>,
    last_error_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn list(env: &Env) -> Result<Vec<FacebookSource>, AppError> {
    let (p, mut tx) = open(env).await?;
    let rows: Vec<SourceRow> = sqlx::query_as(
        "SELECT c.id, c.name, c.lead_source, c.public_id, c.page_id, c.verify_token, c.status,
                c.events_count, c.last_event_at, c.last_error, c.last_error_at,
                (SELECT count(*) FROM integration_events e
                  WHERE e.tenant_id = c.tenant_id AND e.connection_id = c.id AND e.status = 'PENDING') AS pending,
                (SELECT count(*) FROM integration_events e
                  WHERE e.tenant_id = c.tenant_id AND e.connection_id = c.id AND e.status = 'FAILED') AS failed
           FROM integration_connections c
          WHERE c.tenant_id = $1 AND c.provider = 'FACEBOOK_LEADS'
          ORDER BY c.created_at DESC LIMIT 100",
    )
    .bind(p.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| FacebookSource {
            id: r.id,
            name: r.name,
            lead_source: r.lead_source,
            page_id: r.page_id.unwrap_or_default(),
            callback_url: callback_url(&env.ctx.config, &r.public_id),
            verify_token: r.verify_token.unwrap_or_default(),
            active: r.status == ConnectionStatus::Active,
            received: r.events_count,
            pending: r.pending,
            failed: r.failed,
            last_event_at: r.last_event_at,
            last_error: r.last_error,
            last_error_at: r.last_error_at,
        })
        .collect())
}

/// A secret pasted from Meta's dashboard: one line, no spaces, within `max`.
fn credential(value: &str, max: usize) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()
        && value.len() <= max
        && !value.chars().any(|c| c.is_whitespace() || c.is_control()))
    .then_some(value)
}

/// Checks what the admin typed, field by field.
fn checked<'a>(env: &Env, input: &'a NewFacebookSource) -> Result<[&'a str; 5], AppError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.contains('\0') {
        return Err(AppError::field(
            "name",
            env.t("developers.facebook.name_required"),
        ));
    }
    let page_id = input.page_id.trim();
    if page_id.is_empty() || page_id.len() > 30 || !page_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::field(
            "page_id",
            env.t("developers.facebook.page_id_invalid"),
        ));
    }
    let Some(app_secret) = credential(&input.app_secret, 200) else {
        return Err(AppError::field(
            "app_secret",
            env.t("developers.facebook.app_secret_invalid"),
        ));
    };
    let Some(page_token) = credential(&input.page_token, 2000) else {
        return Err(AppError::field(
            "page_token",
            env.t("developers.facebook.page_token_invalid"),
        ));
    };
    let source = input.lead_source.trim();
    let source = if source.is_empty() { name } else { source };
    if source.chars().count() > 100 || source.contains('\0') {
        return Err(AppError::field("lead_source", env.t("records.too_long")));
    }
    Ok([name, page_id, app_secret, page_token, source])
}

/// Connects a Page. The answer is the connection as its card shows it: the callback
/// URL and verify token to give Meta; the secrets are never shown again.
pub async fn create(env: &Env, input: &NewFacebookSource) -> Result<FacebookSource, AppError> {
    let [name, page_id, app_secret, page_token, source] = checked(env, input)?;
    let (p, mut tx) = open(env).await?;
    let id = new_id();
    let public_id = format!("fb_{}", crypto::hex(&crypto::random_bytes::<12>()));
    let verify_token = format!("lv_{}", crypto::hex(&crypto::random_bytes::<16>()));
    let key = &env.ctx.config.secret_key;
    sqlx::query(
        "INSERT INTO integration_connections (tenant_id, id, provider, name, lead_source, public_id,
                                             credentials_sealed, page_id, verify_token, token_sealed, created_by)
         VALUES ($1, $2, 'FACEBOOK_LEADS', $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(name)
    .bind(source)
    .bind(&public_id)
    .bind(crypto::seal_field(key, &secret_at(id), app_secret.as_bytes()))
    .bind(page_id)
    .bind(&verify_token)
    .bind(crypto::seal_field(key, &token_at(id), page_token.as_bytes()))
    .bind(p.actor())
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("lead_source.created", "integration_connection", Some(id)).after(
            serde_json::json!({ "provider": PROVIDER, "name": name, "page_id": page_id, "lead_source": source }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(FacebookSource {
        id,
        name: name.to_string(),
        lead_source: source.to_string(),
        page_id: page_id.to_string(),
        callback_url: callback_url(&env.ctx.config, &public_id),
        verify_token,
        active: true,
        received: 0,
        pending: 0,
        failed: 0,
        last_event_at: None,
        last_error: None,
        last_error_at: None,
    })
}

/// The connection behind a callback, found before the tenant is known.
struct Callback {
    tenant: Uuid,
    id: Uuid,
    sealed_secret: Vec<u8>,
    active: bool,
    page_id: String,
    verify_token: String,
}

async fn callback(db: &Db, public_id: &str) -> Result<Option<Callback>, AppError> {
    let Some(row) = sqlx::query("SELECT * FROM integration_lookup($1)")
        .bind(public_id)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    if row.try_get::<String, _>("provider")? != PROVIDER {
        return Ok(None);
    }
    Ok(Some(Callback {
        tenant: row.try_get("tenant_id")?,
        id: row.try_get("id")?,
        sealed_secret: row.try_get("credentials_sealed")?,
        active: row.try_get::<ConnectionStatus, _>("status")? == ConnectionStatus::Active,
        page_id: row
            .try_get::<Option<String>, _>("page_id")?
            .unwrap_or_default(),
        verify_token: row
            .try_get::<Option<String>, _>("verify_token")?
            .unwrap_or_default(),
    }))
}

/// Meta's subscription check: whether `hub.verify_token` is this connection's.
pub async fn handshake(db: &Db, public_id: &str, verify_token: &str) -> Result<bool, AppError> {
    Ok(callback(db, public_id).await?.is_some_and(|c| {
        !c.verify_token.is_empty()
            && constant_time_eq(c.verify_token.as_bytes(), verify_token.as_bytes())
    }))
}

/// What a notification did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notified {
    /// Leads queued for fetching.
    pub queued: usize,
    /// Leads already queued or fetched (Meta's retries).
    pub repeats: usize,
    /// Changes that are not a lead of this connection's Page.
    pub ignored: usize,
}

/// Why a notification was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    UnknownConnection,
    /// No `X-Hub-Signature-256`, or not `sha256=…`.
    Unsigned,
    BadSignature,
    Paused,
    Invalid(String),
}

impl Refusal {
    /// The reason given to the sender, and kept on the connection.
    pub fn reason(&self) -> String {
        match self {
            Refusal::UnknownConnection => "no such connection".into(),
            Refusal::Unsigned => "X-Hub-Signature-256 is missing or not sha256=<hex>".into(),
            Refusal::BadSignature => {
                "X-Hub-Signature-256 does not match the body and the app secret".into()
            }
            Refusal::Paused => "the connection is paused".into(),
            Refusal::Invalid(why) => why.clone(),
        }
    }
}

/// A Graph id, which Meta sends as a string of digits (or, in older payloads, a number).
fn graph_id(value: &serde_json::Value) -> Option<String> {
    let id = match value {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.as_u64()?.to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 30 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

/// The `leadgen` changes of a `page` notification for `page_id`: each lead's id and its
/// change value; and how many changes were something else.
pub fn leadgen_changes(
    body: &serde_json::Value,
    page_id: &str,
) -> Result<(Vec<(String, serde_json::Value)>, usize), String> {
    if body["object"].as_str() != Some("page") {
        return Err("the notification's object is not \"page\"".into());
    }
    let entries = body["entry"]
        .as_array()
        .ok_or("the notification has no entry list")?;
    let mut leads = Vec::new();
    let mut ignored = 0;
    for entry in entries {
        for change in entry["changes"].as_array().into_iter().flatten() {
            let value = &change["value"];
            let ours = change["field"].as_str() == Some("leadgen")
                && graph_id(&value["page_id"]).as_deref() == Some(page_id);
            match graph_id(&value["leadgen_id"]).filter(|_| ours) {
                Some(lead) => leads.push((lead, value.clone())),
                None => ignored += 1,
            }
        }
    }
    Ok((leads, ignored))
}

/// Takes one notification posted to `public_id`: checks its signature against the raw
/// body with the connection's app secret, then queues each of its leads once.
pub async fn notify(
    db: &Db,
    secret_key: &[u8; 32],
    public_id: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Result<Notified, Refusal>, AppError> {
    let Some(c) = callback(db, public_id).await? else {
        return Ok(Err(Refusal::UnknownConnection));
    };
    if !signature.is_some_and(|s| s.trim().starts_with("sha256=")) {
        return Ok(Err(Refusal::Unsigned));
    }
    let secret = crypto::open_field(secret_key, &secret_at(c.id), &c.sealed_secret)?;
    if !verify_meta_signature(&String::from_utf8_lossy(&secret), body, signature) {
        return Ok(Err(Refusal::BadSignature));
    }
    if !c.active {
        return Ok(Err(Refusal::Paused));
    }
    let json: serde_json::Value = match serde_json::from_slice(body) {
        Ok(j) => j,
        Err(e) => return Ok(Err(Refusal::Invalid(format!("the body is not JSON: {e}")))),
    };
    let (leads, ignored) = match leadgen_changes(&json, &c.page_id) {
        Ok(found) => found,
        Err(why) => return Ok(Err(Refusal::Invalid(why))),
    };
    let mut notified = Notified {
        ignored,
        ..Notified::default()
    };
    let mut tx = db.tenant_tx(c.tenant, None).await?;
    for (lead, value) in leads {
        let queued = sqlx::query(
            "INSERT INTO integration_events (tenant_id, connection_id, event_id, status, next_attempt_at, payload)
             VALUES ($1, $2, $3, 'PENDING', now(), $4) ON CONFLICT DO NOTHING",
        )
        .bind(c.tenant)
        .bind(c.id)
        .bind(&lead)
        .bind(value)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if queued == 1 {
            notified.queued += 1;
        } else {
            notified.repeats += 1;
        }
    }
    tx.commit().await?;
    Ok(Ok(notified))
}

/// Keeps a refused notification's reason on its connection, for the admin's card.
pub async fn refused(db: &Db, public_id: &str, why: &str) -> Result<(), AppError> {
    let Some(c) = callback(db, public_id).await? else {
        return Ok(());
    };
    let mut tx = db.tenant_tx(c.tenant, None).await?;
    super::intake::failed_at(&mut tx, c.id, why).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_leadgen_changes_of_the_connections_page_are_taken() {
        let body = json!({ "object": "page", "entry": [
            { "id": "111", "time": 1, "changes": [
                { "field": "leadgen", "value": { "leadgen_id": "900", "page_id": "111", "form_id": "5" } },
                { "field": "leadgen", "value": { "leadgen_id": 901, "page_id": 111 } },
                { "field": "leadgen", "value": { "leadgen_id": "902", "page_id": "222" } },
                { "field": "feed", "value": { "post_id": "1" } },
                { "field": "leadgen", "value": { "leadgen_id": "not-an-id", "page_id": "111" } },
            ] },
        ] });
        let (leads, ignored) = leadgen_changes(&body, "111").unwrap();
        let ids: Vec<_> = leads.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["900", "901"]);
        assert_eq!(leads[0].1["form_id"], "5");
        assert_eq!(ignored, 3);
        assert!(leadgen_changes(&json!({ "object": "user", "entry": [] }), "111").is_err());
        assert!(leadgen_changes(&json!({ "object": "page" }), "111").is_err());
    }

    /// A vector computed outside our code: `printf '%s' "$BODY" |
    /// openssl dgst -sha256 -hmac 'fb-app-secret-0123'`.
    #[test]
    fn signatures_match_an_openssl_vector() {
        let body = r#"{"object":"page","entry":[{"id":"1234567890","time":1733140000,"changes":[{"field":"leadgen","value":{"leadgen_id":"444444444","page_id":"1234567890","form_id":"555","created_time":1733140000}}]}]}"#;
        let header = "sha256=980a305e9511fc5a93a90cd183cb480489a10e3400ea86b2a6229a69ccbdd130";
        assert!(verify_meta_signature(
            "fb-app-secret-0123",
            body.as_bytes(),
            Some(header)
        ));
        assert!(verify_meta_signature(
            "fb-app-secret-0123",
            body.as_bytes(),
            Some(&header.to_uppercase().replace("SHA256=", "sha256="))
        ));
        assert!(!verify_meta_signature(
            "fb-app-secret-0124",
            body.as_bytes(),
            Some(header)
        ));
        let tampered = body.replace("444444444", "444444445");
        assert!(!verify_meta_signature(
            "fb-app-secret-0123",
            tampered.as_bytes(),
            Some(header)
        ));
        assert!(!verify_meta_signature(
            "fb-app-secret-0123",
            body.as_bytes(),
            None
        ));
    }

    #[test]
    fn pasted_credentials_are_one_line() {
        assert_eq!(credential("  abc123 ", 10), Some("abc123"));
        assert_eq!(credential("", 10), None);
        assert_eq!(credential("ab c", 10), None);
        assert_eq!(credential("abcdefghijk", 10), None);
    }
}
