//! Filing a lead that arrived from a lead source (a website form, Facebook Lead Ads):
//! a new lead with the source and campaign, or, when a lead with that email or phone
//! exists (the import's duplicate rule), a note on it. Each source checks and shapes
//! its own input; what happens to it afterwards is the same for all of them.

use crate::audit::{self, AuditEntry};
use crate::crm::model::Entity;
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::request::RequestCtx;
use uuid::Uuid;

/// A person as a source sent them, already checked: the email lower-cased and valid,
/// the phone in E.164.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Incoming {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub campaign: Option<String>,
    /// What else they said: the note's body.
    pub message: Option<String>,
}

/// What became of an incoming lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filed {
    Created(Uuid),
    /// A lead with this email or phone existed: the arrival is a note on it.
    Matched(Uuid),
}

/// Where it came from: the connection, its lead source label, and the event (already
/// recorded in `integration_events`, which this completes).
pub struct Origin<'a> {
    pub tenant: Uuid,
    pub connection: Uuid,
    pub source: &'a str,
    pub event_id: &'a str,
}

/// The tenant's default phone region, for numbers written without a country code.
pub async fn phone_region(tx: &mut Tx, tenant: Uuid) -> Result<Option<String>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT phone_region FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Files `incoming` in the caller's transaction, marks its event done with the lead
/// and counts it on the connection.
pub async fn file(
    tx: &mut Tx,
    ctx: &RequestCtx,
    origin: &Origin<'_>,
    incoming: &Incoming,
) -> Result<Filed, AppError> {
    let Origin {
        tenant,
        connection,
        source,
        event_id,
    } = *origin;
    let campaign = incoming.campaign.as_deref();
    let message = incoming.message.as_deref();
    // The import's duplicate rule: the same email, or the same phone.
    let known: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM leads WHERE tenant_id = $1
            AND (($2::text IS NOT NULL AND email_key = $2) OR ($3::text IS NOT NULL AND phone_e164 = $3))
          ORDER BY created_at LIMIT 1",
    )
    .bind(tenant)
    .bind(&incoming.email)
    .bind(&incoming.phone)
    .fetch_optional(&mut **tx)
    .await?;
    let (filed, lead, outcome) = match known {
        Some(lead) => {
            note(tx, tenant, lead, source, campaign, message).await?;
            (Filed::Matched(lead), lead, "MATCHED")
        }
        None => {
            crate::billing::ssr::check_records(tx, ctx.locale, 1).await?;
            let lead = new_id();
            sqlx::query(
                "INSERT INTO leads (tenant_id, id, name, email, phone_e164, source, campaign)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(tenant)
            .bind(lead)
            .bind(&incoming.name)
            .bind(&incoming.email)
            .bind(&incoming.phone)
            .bind(source)
            .bind(campaign)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO activities (tenant_id, id, kind, lead_id, data) VALUES ($1, $2, 'CREATED', $3, $4)",
            )
            .bind(tenant)
            .bind(new_id())
            .bind(lead)
            .bind(serde_json::json!({ "source": source, "campaign": campaign }))
            .execute(&mut **tx)
            .await?;
            if message.is_some() {
                note(tx, tenant, lead, source, campaign, message).await?;
            }
            super::deliver::record_changed(tx, tenant, Entity::Lead, &[lead], "created").await?;
            audit::record(
                tx,
                ctx,
                tenant,
                None,
                AuditEntry::new("lead_source.lead_created", "leads", Some(lead)).after(
                    serde_json::json!({ "connection": connection, "source": source, "campaign": campaign }),
                ),
            )
            .await?;
            (Filed::Created(lead), lead, "CREATED")
        }
    };
    sqlx::query(
        "UPDATE integration_events SET lead_id = $3, outcome = $4, status = 'DONE', last_error = NULL
          WHERE connection_id = $1 AND event_id = $2",
    )
    .bind(connection)
    .bind(event_id)
    .bind(lead)
    .bind(outcome)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE integration_connections SET events_count = events_count + 1, last_event_at = now()
          WHERE id = $1",
    )
    .bind(connection)
    .execute(&mut **tx)
    .await?;
    Ok(filed)
}

/// The arrival as a note on the lead's timeline: the source, the campaign, the message.
async fn note(
    tx: &mut Tx,
    tenant: Uuid,
    lead: Uuid,
    source: &str,
    campaign: Option<&str>,
    message: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO activities (tenant_id, id, kind, lead_id, subject, body, data)
         VALUES ($1, $2, 'NOTE', $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(new_id())
    .bind(lead)
    .bind(source)
    .bind(message.unwrap_or_default())
    .bind(serde_json::json!({ "campaign": campaign }))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps the last error on the connection, for its admin's card.
pub async fn failed_at(tx: &mut Tx, connection: Uuid, why: &str) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE integration_connections SET last_error = left($2, 500), last_error_at = now() WHERE id = $1",
    )
    .bind(connection)
    .bind(why)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
