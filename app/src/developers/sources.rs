//! Website forms as lead sources: a connection gives a site an endpoint and a signing
//! key; each signed submission becomes a lead with the connection's source and the
//! form's campaign, or, when a lead with that email or phone exists (the import's
//! rule), a note on it. A sender's retry with the same `webhook-id` changes nothing.

use super::intake::{self, Filed, Incoming, Origin};
use super::model::{ConnectionStatus, FormSource, NewFormSource, SourceSecret, Submission};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::phone::{self, PhoneError};
use crate::crypto::{self, SealedAt};
use crate::db::{new_id, Db, Tx};
use crate::error::AppError;
use crate::i18n::t;
use crate::request::{AppConfig, Env, Principal, RequestCtx};
use crate::standard_webhooks::WebhookKey;
use sqlx::Row;
use uuid::Uuid;

pub(super) async fn open(env: &Env) -> Result<(&Principal, Tx), AppError> {
    let (p, tx) = env.begin(Permission::DevelopersManage).await?;
    if p.api_key.is_some() {
        return Err(AppError::Forbidden(env.t("error.forbidden")));
    }
    Ok((p, tx))
}

pub(super) fn sealed_at(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "integration_connections",
        column: "credentials_sealed",
        row: id,
    }
}

/// Where a site posts its submissions.
pub fn endpoint(config: &AppConfig, public_id: &str) -> String {
    format!(
        "{}/webhooks/forms/{public_id}",
        config.public_url.trim_end_matches('/')
    )
}

pub async fn list(env: &Env) -> Result<Vec<FormSource>, AppError> {
    let (p, mut tx) = open(env).await?;
    let rows = sqlx::query(
        "SELECT id, name, lead_source, public_id, status, events_count, last_event_at, last_error
           FROM integration_connections WHERE provider = 'WEB_FORM' AND tenant_id = $1
          ORDER BY created_at DESC LIMIT 100",
    )
    .bind(p.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            let public_id: String = r.try_get("public_id")?;
            Ok(FormSource {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                lead_source: r.try_get("lead_source")?,
                endpoint: endpoint(&env.ctx.config, &public_id),
                active: r.try_get::<ConnectionStatus, _>("status")? == ConnectionStatus::Active,
                received: r.try_get("events_count")?,
                last_event_at: r.try_get("last_event_at")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .collect()
}

pub async fn create(env: &Env, input: &NewFormSource) -> Result<SourceSecret, AppError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.contains('\0') {
        return Err(AppError::field(
            "name",
            env.t("developers.form_name_required"),
        ));
    }
    let source = input.lead_source.trim();
    let source = if source.is_empty() { name } else { source };
    if source.chars().count() > 100 || source.contains('\0') {
        return Err(AppError::field("lead_source", env.t("records.too_long")));
    }
    let (p, mut tx) = open(env).await?;
    let id = new_id();
    let public_id = format!("form_{}", crypto::hex(&crypto::random_bytes::<12>()));
    let key = WebhookKey::generate();
    sqlx::query(
        "INSERT INTO integration_connections (tenant_id, id, provider, name, lead_source, public_id,
                                             credentials_sealed, created_by)
         VALUES ($1, $2, 'WEB_FORM', $3, $4, $5, $6, $7)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(name)
    .bind(source)
    .bind(&public_id)
    .bind(crypto::seal_field(
        &env.ctx.config.secret_key,
        &sealed_at(id),
        key.secret().as_bytes(),
    ))
    .bind(p.actor())
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("lead_source.created", "integration_connection", Some(id))
            .after(serde_json::json!({ "name": name, "lead_source": source })),
    )
    .await?;
    tx.commit().await?;
    Ok(SourceSecret {
        id,
        endpoint: endpoint(&env.ctx.config, &public_id),
        secret: key.secret(),
    })
}

/// Pauses a connection of `provider` (what it sends is refused with 409) or starts it
/// again; `not_found` is the message key for an id that is not one of the tenant's.
pub async fn set_active(
    env: &Env,
    provider: &str,
    id: Uuid,
    active: bool,
    not_found: &str,
) -> Result<(), AppError> {
    let (p, mut tx) = open(env).await?;
    let done = sqlx::query(
        "UPDATE integration_connections SET status = $2 WHERE id = $1 AND provider = $3 AND tenant_id = $4",
    )
    .bind(id)
    .bind(if active {
        ConnectionStatus::Active
    } else {
        ConnectionStatus::Paused
    })
    .bind(provider)
    .bind(p.tenant_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t(not_found)));
    }
    let action = if active {
        "lead_source.resumed"
    } else {
        "lead_source.paused"
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(action, "integration_connection", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What became of a submission.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Created(Uuid),
    /// A lead with this email or phone existed: the submission is a note on it.
    Matched(Uuid),
    /// This `webhook-id` was received before; nothing changed.
    Repeat(Option<Uuid>),
}

/// Why a submission was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    UnknownForm,
    Paused,
    BadSignature(&'static str),
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// Takes one submission posted to `public_id`, signed per Standard Webhooks.
pub async fn receive(
    db: &Db,
    ctx: &RequestCtx,
    public_id: &str,
    headers: (&str, &str, &str),
    body: &[u8],
    now: i64,
) -> Result<Result<Received, Refusal>, AppError> {
    // Only a form's key signs submissions; other providers' ids are no form's.
    let Some(row) = sqlx::query("SELECT * FROM integration_lookup($1) WHERE provider = 'WEB_FORM'")
        .bind(public_id)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(Err(Refusal::UnknownForm));
    };
    let tenant: Uuid = row.try_get("tenant_id")?;
    let id: Uuid = row.try_get("id")?;
    let sealed: Vec<u8> = row.try_get("credentials_sealed")?;
    let secret = crypto::open_field(&ctx.config.secret_key, &sealed_at(id), &sealed)?;
    let key = WebhookKey::parse(&String::from_utf8_lossy(&secret)).map_err(crate::db::internal)?;
    let (event_id, timestamp, signature) = headers;
    if let Err(why) = key.verify(event_id, timestamp, body, signature, now) {
        return Ok(Err(Refusal::BadSignature(why)));
    }
    if row.try_get::<ConnectionStatus, _>("status")? != ConnectionStatus::Active {
        return Ok(Err(Refusal::Paused));
    }
    let source: String = row.try_get("lead_source")?;
    let locale = ctx.locale;
    let invalid = |field: &'static str, key: &str| Refusal::Invalid {
        field,
        message: t(locale, key),
    };
    let submission: Submission = match serde_json::from_slice(body) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(Refusal::Invalid {
                field: "body",
                message: e.to_string(),
            }))
        }
    };
    let text = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let name = submission.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Ok(Err(invalid("name", "records.name_required")));
    }
    let fields = [
        &Some(name.clone()),
        &submission.email,
        &submission.phone,
        &submission.campaign,
        &submission.message,
    ];
    if fields
        .iter()
        .any(|f| f.as_deref().is_some_and(|s| s.contains('\0')))
    {
        return Ok(Err(invalid("body", "records.nul_character")));
    }
    let email = text(&submission.email).map(|e| e.to_lowercase());
    if email.as_deref().is_some_and(|e| !mail::valid_address(e)) {
        return Ok(Err(invalid("email", "records.email_invalid")));
    }
    let campaign = text(&submission.campaign);
    if campaign.as_deref().is_some_and(|c| c.chars().count() > 200) {
        return Ok(Err(invalid("campaign", "records.too_long")));
    }
    let message: Option<String> = text(&submission.message).map(|m| m.chars().take(4000).collect());
    let mut tx = db.tenant_tx(tenant, None).await?;
    let region = intake::phone_region(&mut tx, tenant).await?;
    let phone = match phone::normalize(submission.phone.as_deref().unwrap_or(""), region.as_deref())
    {
        Ok(p) => p,
        Err(PhoneError::NeedsCountryCode) => {
            return Ok(Err(invalid("phone", "records.phone_needs_country")))
        }
        Err(PhoneError::Invalid) => return Ok(Err(invalid("phone", "records.phone_invalid"))),
    };
    // Each submission once, whatever a sender retries.
    let first = sqlx::query(
        "INSERT INTO integration_events (tenant_id, connection_id, event_id, outcome)
         VALUES ($1, $2, $3, 'CREATED') ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(id)
    .bind(event_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first {
        let lead: Option<Uuid> = sqlx::query_scalar(
            "SELECT lead_id FROM integration_events WHERE connection_id = $1 AND event_id = $2",
        )
        .bind(id)
        .bind(event_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Ok(Received::Repeat(lead)));
    }
    let incoming = Incoming {
        name,
        email,
        phone,
        campaign,
        message,
    };
    let origin = Origin {
        tenant,
        connection: id,
        source: &source,
        event_id,
    };
    let received = match intake::file(&mut tx, ctx, &origin, &incoming).await? {
        Filed::Created(lead) => Received::Created(lead),
        Filed::Matched(lead) => Received::Matched(lead),
    };
    tx.commit().await?;
    Ok(Ok(received))
}

/// Keeps the last refusal on the connection, for its admin's list.
pub async fn failed(db: &Db, public_id: &str, why: &str) -> Result<(), AppError> {
    let Some(row) =
        sqlx::query("SELECT tenant_id, id FROM integration_lookup($1) WHERE provider = 'WEB_FORM'")
            .bind(public_id)
            .fetch_optional(db.pool())
            .await?
    else {
        return Ok(());
    };
    let (tenant, id): (Uuid, Uuid) = (row.try_get("tenant_id")?, row.try_get("id")?);
    let mut tx = db.tenant_tx(tenant, None).await?;
    intake::failed_at(&mut tx, id, why).await?;
    tx.commit().await?;
    Ok(())
}
