//! The second half of a Facebook lead: the worker reads each queued `leadgen_id` from
//! the Graph API with the Page's token and files it like any lead source's
//! ([`super::intake`]). A failure on Meta's side or ours is retried with the job
//! facility's backoff ([`crate::jobs::ssr::backoff`]) until [`MAX_ATTEMPTS`]; one that
//! cannot get better (a revoked token, an unknown lead) fails at once. Either way the
//! reason is on the connection's card.

use super::facebook::token_at;
use super::intake::{self, Incoming, Origin};
use crate::crm::phone;
use crate::crypto;
use crate::db::Db;
use crate::error::AppError;
use crate::i18n::Locale;
use crate::jobs::ssr::{backoff, jitter, Failure};
use crate::outreach::ssr::provider::transient_graph_code;
use crate::request::{AppConfig, RequestCtx};
use serde::Deserialize;
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Attempts per lead: the tenth comes 1.5 to 3 hours after the first.
pub const MAX_ATTEMPTS: i32 = 10;
/// A claimed lead comes due again after this if its worker died mid-fetch.
const LEASE_SECS: i32 = 120;
/// What the Graph API is asked for, per lead.
pub const LEAD_FIELDS: &str =
    "created_time,field_data,ad_id,ad_name,campaign_id,campaign_name,form_id,platform";

/// One answer of the lead form: a standard field (`email`, `full_name`, …) or a custom
/// question, by its key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct FieldAnswer {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// A lead as `GET /{leadgen_id}` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct GraphLead {
    pub id: String,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub field_data: Vec<FieldAnswer>,
    #[serde(default)]
    pub ad_id: Option<String>,
    #[serde(default)]
    pub ad_name: Option<String>,
    #[serde(default)]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub campaign_name: Option<String>,
    #[serde(default)]
    pub form_id: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
}

/// Meta's Graph API as far as lead ads need it.
#[async_trait::async_trait]
pub trait LeadsApi: Send + Sync {
    /// The lead `leadgen_id`, as `access_token` (a Page token) may read it.
    async fn lead(&self, leadgen_id: &str, access_token: &str) -> Result<GraphLead, Failure>;
}

/// The real Graph API at `base` (e.g. `https://graph.facebook.com/v21.0`, the
/// configured `wa_api_url`).
pub struct GraphLeads {
    base: String,
    client: reqwest::Client,
}

impl GraphLeads {
    pub fn new(base: &str) -> GraphLeads {
        GraphLeads {
            base: base.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("a client without custom TLS roots builds"),
        }
    }
}

/// A failed Graph answer, as a failure of the right kind.
fn graph_failure(status: reqwest::StatusCode, body: &serde_json::Value) -> Failure {
    let code = body["error"]["code"].as_i64().unwrap_or(0);
    let text = body["error"]["message"]
        .as_str()
        .unwrap_or("no reason given");
    let reason = format!("Graph API {status} (code {code}): {text}");
    if status.is_server_error() || status.as_u16() == 429 || transient_graph_code(code) {
        Failure::Transient(reason)
    } else {
        Failure::Permanent(reason)
    }
}

#[async_trait::async_trait]
impl LeadsApi for GraphLeads {
    async fn lead(&self, leadgen_id: &str, access_token: &str) -> Result<GraphLead, Failure> {
        let mut url = reqwest::Url::parse(&format!("{}/{leadgen_id}", self.base))
            .map_err(|e| Failure::Permanent(format!("not a usable lead id: {e}")))?;
        url.query_pairs_mut()
            .append_pair("fields", LEAD_FIELDS)
            .append_pair("access_token", access_token);
        // `without_url`: the URL carries the token, and errors end up on the card.
        let response = self.client.get(url).send().await.map_err(|e| {
            Failure::Transient(format!("Graph API unreachable: {}", e.without_url()))
        })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.map_err(|e| {
            Failure::Transient(format!("Graph API answer unreadable: {}", e.without_url()))
        })?;
        if !status.is_success() {
            return Err(graph_failure(status, &body));
        }
        let lead: GraphLead = serde_json::from_value(body)
            .map_err(|e| Failure::Transient(format!("Graph API lead unreadable: {e}")))?;
        if lead.id != leadgen_id {
            return Err(Failure::Permanent(format!(
                "Graph API answered with lead {} for lead {leadgen_id}",
                lead.id
            )));
        }
        Ok(lead)
    }
}

/// Text fit for the database and a note: no NUL, trimmed, at most `max` characters.
fn clean(value: &str, max: usize) -> Option<String> {
    let value: String = value.replace('\0', "").trim().chars().take(max).collect();
    (!value.is_empty()).then_some(value)
}

/// The lead as a lead source's arrival: the standard fields on the lead, everything
/// else (other standard fields, custom questions, the ad and form) in the note.
pub fn incoming(lead: &GraphLead, payload: &serde_json::Value, region: Option<&str>) -> Incoming {
    let answers: Vec<(String, String)> = lead
        .field_data
        .iter()
        .filter_map(|f| {
            let value = f.values.join(", ");
            Some((f.name.trim().to_string(), clean(&value, 1000)?))
        })
        .collect();
    let answer = |key: &str| {
        answers
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, v)| v.clone())
    };
    let mut used: Vec<&str> = Vec::new();
    let email = ["email", "work_email"].into_iter().find_map(|key| {
        let email = answer(key)?.to_lowercase();
        mail::valid_address(&email).then(|| {
            used.push(key);
            email
        })
    });
    let phone = ["phone_number", "work_phone_number"]
        .into_iter()
        .find_map(|key| {
            let phone = phone::normalize(&answer(key)?, region).ok()??;
            used.push(key);
            Some(phone)
        });
    let full_name = answer("full_name").or_else(|| {
        let parts: Vec<String> = ["first_name", "last_name"]
            .into_iter()
            .filter_map(answer)
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    if full_name.is_some() {
        used.extend(["full_name", "first_name", "last_name"]);
    }
    let name = full_name
        .or_else(|| email.clone())
        .or_else(|| phone.clone())
        .and_then(|n| clean(&n, 200))
        .unwrap_or_else(|| format!("Facebook lead {}", lead.id));
    let form_id = lead
        .form_id
        .clone()
        .or_else(|| payload["form_id"].as_str().map(str::to_string));
    let campaign = [&lead.campaign_name, &lead.ad_name, &form_id]
        .into_iter()
        .find_map(|c| c.as_deref().and_then(|c| clean(c, 200)));
    let mut lines: Vec<String> = answers
        .iter()
        .filter(|(name, _)| !used.contains(&name.as_str()))
        .map(|(name, value)| format!("{}: {value}", name.replace('_', " ")))
        .collect();
    for (label, value) in [
        ("ad", &lead.ad_name),
        ("form", &form_id),
        ("platform", &lead.platform),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| clean(v, 200)) {
            lines.push(format!("{label}: {value}"));
        }
    }
    let message = clean(&lines.join("\n"), 4000);
    Incoming {
        name,
        email,
        phone,
        campaign,
        message,
    }
}

/// Fetches and files up to `limit` queued leads whose time has come; how many were
/// taken (a full batch means more may be due).
pub async fn fetch_due(
    db: &Db,
    config: &Arc<AppConfig>,
    api: &dyn LeadsApi,
    limit: i32,
) -> Result<usize, AppError> {
    let claimed: Vec<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT tenant_id, connection_id, event_id FROM integration_claim($1, $2)")
            .bind(limit)
            .bind(LEASE_SECS)
            .fetch_all(db.pool())
            .await?;
    for (tenant, connection, event) in &claimed {
        if let Err(e) = fetch_one(db, config, api, *tenant, *connection, event).await {
            tracing::warn!(error = %e, lead = %event, "facebook lead fetch");
        }
    }
    Ok(claimed.len())
}

async fn fetch_one(
    db: &Db,
    config: &Arc<AppConfig>,
    api: &dyn LeadsApi,
    tenant: Uuid,
    connection: Uuid,
    event: &str,
) -> Result<(), AppError> {
    let mut tx = db.tenant_tx(tenant, None).await?;
    let row = sqlx::query(
        "SELECT e.attempts, e.payload, c.lead_source, c.token_sealed
           FROM integration_events e
           JOIN integration_connections c ON c.tenant_id = e.tenant_id AND c.id = e.connection_id
          WHERE e.tenant_id = $1 AND e.connection_id = $2 AND e.event_id = $3 AND e.status = 'PENDING'",
    )
    .bind(tenant)
    .bind(connection)
    .bind(event)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else { return Ok(()) };
    let attempt = row.try_get::<i32, _>("attempts")? + 1;
    let payload: Option<serde_json::Value> = row.try_get("payload")?;
    let source: String = row.try_get("lead_source")?;
    let sealed: Option<Vec<u8>> = row.try_get("token_sealed")?;
    let token = sealed
        .ok_or_else(|| Failure::Permanent("the connection has no Page access token".into()))
        .and_then(|s| {
            crypto::open_field(&config.secret_key, &token_at(connection), &s)
                .map_err(|e| Failure::of(&e))
        });
    let lead = match token {
        Ok(token) => api.lead(event, &String::from_utf8_lossy(&token)).await,
        Err(f) => Err(f),
    };
    let filed = match lead {
        Ok(lead) => {
            let ctx = RequestCtx {
                db: db.clone(),
                config: config.clone(),
                request_id: format!("facebook-lead-{event}"),
                ip: None,
                user_agent: None,
                locale: Locale::default(),
                principal: None,
            };
            let payload = payload.unwrap_or_default();
            file(
                db, &ctx, tenant, connection, &source, event, attempt, &lead, &payload,
            )
            .await
            .map_err(|e| Failure::of(&e))
        }
        Err(f) => Err(f),
    };
    match filed {
        Ok(()) => Ok(()),
        Err(failure) => record_failure(db, tenant, connection, event, attempt, failure).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn file(
    db: &Db,
    ctx: &RequestCtx,
    tenant: Uuid,
    connection: Uuid,
    source: &str,
    event: &str,
    attempt: i32,
    lead: &GraphLead,
    payload: &serde_json::Value,
) -> Result<(), AppError> {
    let mut tx = db.tenant_tx(tenant, None).await?;
    let region = intake::phone_region(&mut tx, tenant).await?;
    let origin = Origin {
        tenant,
        connection,
        source,
        event_id: event,
    };
    intake::file(
        &mut tx,
        ctx,
        &origin,
        &incoming(lead, payload, region.as_deref()),
    )
    .await?;
    sqlx::query(
        "UPDATE integration_events SET attempts = $4
          WHERE tenant_id = $1 AND connection_id = $2 AND event_id = $3",
    )
    .bind(tenant)
    .bind(connection)
    .bind(event)
    .bind(attempt)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a failed attempt: another after the backoff while it may succeed and
/// attempts are left, else failed for good; the reason goes on the event and the card.
async fn record_failure(
    db: &Db,
    tenant: Uuid,
    connection: Uuid,
    event: &str,
    attempt: i32,
    failure: Failure,
) -> Result<(), AppError> {
    let (retry, reason) = match failure {
        Failure::Transient(why) if attempt < MAX_ATTEMPTS => {
            let wait = backoff(u32::try_from(attempt).unwrap_or(1), jitter());
            let why = format!(
                "Lead {event}: {why} (attempt {attempt} of {MAX_ATTEMPTS}; next in {} s)",
                wait.as_secs()
            );
            (Some(wait), why)
        }
        Failure::Transient(why) => (
            None,
            format!("Lead {event}: {why} (gave up after {attempt} attempts)"),
        ),
        Failure::Permanent(why) => (None, format!("Lead {event}: {why}")),
    };
    tracing::warn!(tenant = %tenant, %reason, "facebook lead not filed");
    let mut tx = db.tenant_tx(tenant, None).await?;
    sqlx::query(
        "UPDATE integration_events
            SET attempts = $4, last_error = left($5, 500),
                status = CASE WHEN $6::float8 IS NULL THEN 'FAILED' ELSE 'PENDING' END,
                next_attempt_at = now() + make_interval(secs => coalesce($6, 0))
          WHERE tenant_id = $1 AND connection_id = $2 AND event_id = $3",
    )
    .bind(tenant)
    .bind(connection)
    .bind(event)
    .bind(attempt)
    .bind(&reason)
    .bind(retry.map(|w| w.as_secs_f64()))
    .execute(&mut *tx)
    .await?;
    intake::failed_at(&mut tx, connection, &reason).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(name: &str, value: &str) -> FieldAnswer {
        FieldAnswer {
            name: name.into(),
            values: vec![value.into()],
        }
    }

    #[test]
    fn standard_fields_go_on_the_lead_and_the_rest_in_the_note() {
        let lead = GraphLead {
            id: "444".into(),
            field_data: vec![
                answer("full_name", "Hana Adel"),
                answer("email", " Hana@Example.com "),
                answer("phone_number", "01001234567"),
                answer("job_title", "Buyer"),
                answer("which_compound?", "Sahel\0 Bay"),
            ],
            ad_name: Some("Summer ad".into()),
            campaign_name: Some("Sahel summer".into()),
            platform: Some("ig".into()),
            ..GraphLead::default()
        };
        let got = incoming(&lead, &json!({ "form_id": "555" }), Some("EG"));
        assert_eq!(got.name, "Hana Adel");
        assert_eq!(got.email.as_deref(), Some("hana@example.com"));
        assert_eq!(got.phone.as_deref(), Some("+201001234567"));
        assert_eq!(got.campaign.as_deref(), Some("Sahel summer"));
        assert_eq!(
            got.message.as_deref(),
            Some("job title: Buyer\nwhich compound?: Sahel Bay\nad: Summer ad\nform: 555\nplatform: ig")
        );
    }

    #[test]
    fn names_campaigns_and_bad_contacts_fall_back() {
        let lead = GraphLead {
            id: "445".into(),
            field_data: vec![
                answer("first_name", "Omar"),
                answer("last_name", "Said"),
                answer("email", "not an address"),
            ],
            ad_name: Some("Ad 7".into()),
            ..GraphLead::default()
        };
        let got = incoming(&lead, &json!({}), None);
        assert_eq!(got.name, "Omar Said");
        assert_eq!(got.email, None);
        assert_eq!(got.campaign.as_deref(), Some("Ad 7"));
        // The address Meta let through is kept for a person to read.
        assert_eq!(
            got.message.as_deref(),
            Some("email: not an address\nad: Ad 7")
        );
        let bare = incoming(
            &GraphLead {
                id: "446".into(),
                ..GraphLead::default()
            },
            &json!({ "form_id": "9" }),
            None,
        );
        assert_eq!(bare.name, "Facebook lead 446");
        assert_eq!(bare.campaign.as_deref(), Some("9"));
    }

    #[test]
    fn graph_errors_are_retried_only_when_they_may_pass() {
        let body = |code: i64| json!({ "error": { "code": code, "message": "m" } });
        let bad = reqwest::StatusCode::BAD_REQUEST;
        assert!(matches!(
            graph_failure(bad, &body(190)),
            Failure::Permanent(_)
        ));
        assert!(matches!(
            graph_failure(bad, &body(4)),
            Failure::Transient(_)
        ));
        assert!(matches!(
            graph_failure(reqwest::StatusCode::INTERNAL_SERVER_ERROR, &body(1)),
            Failure::Transient(_)
        ));
    }
}
