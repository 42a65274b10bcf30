use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::db_codes! {
    /// `integration_connections.status`: a paused form or Facebook source refuses what
    /// arrives for it.
    ConnectionStatus {
        Active = "ACTIVE",
        Paused = "PAUSED",
    }
}

/// What an API key can be given access to, one read and one write scope each.
pub const RESOURCES: [&str; 12] = [
    "contacts",
    "companies",
    "leads",
    "deals",
    "pipelines",
    "activities",
    "lists",
    "messages",
    // Sequences are read; their write scope enrols leads and pauses or stops enrolments.
    "sequences",
    "units",
    "unit_holds",
    "review_items",
];
/// Resources the API only reads, so they have no write scope.
pub const READ_ONLY: [&str; 2] = ["pipelines", "units"];

/// The scopes there are: read for each resource, and write where it can be written.
pub fn all_scopes() -> Vec<String> {
    RESOURCES
        .iter()
        .flat_map(|r| {
            let write = (!READ_ONLY.contains(r)).then(|| scope(r, Access::Write));
            std::iter::once(scope(r, Access::Read)).chain(write)
        })
        .collect()
}

/// Read, or read and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn code(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// `contacts:read`, `deals:write`, …
pub fn scope(resource: &str, access: Access) -> String {
    format!("{resource}:{}", access.code())
}

/// Whether the granted scopes allow `access` to `resource`; writing implies reading.
pub fn allows(scopes: &[String], resource: &str, access: Access) -> bool {
    scopes.iter().any(|s| {
        s == &scope(resource, access)
            || (access == Access::Read && s == &scope(resource, Access::Write))
    })
}

/// Scopes as given, checked: each names a known resource and access. Duplicates go.
pub fn parse_scopes(given: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in given {
        let s = s.trim();
        if !all_scopes().iter().any(|known| known == s) {
            return Err(s.to_string());
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// The events a webhook endpoint can subscribe to. Each is emitted in the transaction
/// of the change it reports (`developers::deliver`).
pub const EVENT_TYPES: [&str; 20] = [
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "company.created",
    "company.updated",
    "company.deleted",
    "lead.created",
    "lead.updated",
    "lead.deleted",
    "deal.created",
    "deal.updated",
    "deal.deleted",
    "deal.stage_changed",
    "message.received",
    "journey.changed",
    "review.item_created",
    "review.item_resolved",
    "unit.held",
    "unit.released",
    "invoice.paid",
];

/// An API key as its admin sees it: never the secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The token's public start, `llk_…`, to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub per_minute: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    /// Set once rotated: the key that replaced this one.
    pub replaced_by: Option<Uuid>,
    /// Usable now: neither revoked nor expired (by the server's clock; the browser's
    /// may be wrong, and chrono has no clock in WASM).
    pub active: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<String>,
    /// Days until it stops working; `None` for never.
    pub expires_in_days: Option<u32>,
    /// Addresses or networks it may be used from, comma-separated; empty for anywhere.
    pub allowed_ips: String,
}

/// A key just made: the only time its token is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub id: Uuid,
    pub name: String,
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    /// Deliveries waiting or being retried, and those that gave up.
    pub pending: i64,
    pub failed: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
}

/// An endpoint just made, or its key just rotated: the `whsec_` secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSecret {
    pub id: Uuid,
    pub secret: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn code(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Succeeded => "SUCCEEDED",
            DeliveryStatus::Failed => "FAILED",
        }
    }

    pub fn parse(code: &str) -> Option<DeliveryStatus> {
        match code {
            "PENDING" => Some(DeliveryStatus::Pending),
            "SUCCEEDED" => Some(DeliveryStatus::Succeeded),
            "FAILED" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "developers.delivery.pending",
            DeliveryStatus::Succeeded => "developers.delivery.succeeded",
            DeliveryStatus::Failed => "developers.delivery.failed",
        }
    }
}

/// One try at delivering an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub body_excerpt: Option<String>,
    pub duration_ms: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The `webhook-id`, the same on every retry.
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptView>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An endpoint's page: the endpoint and its latest deliveries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDetail {
    pub endpoint: WebhookView,
    pub deliveries: Vec<DeliveryView>,
}

/// A website form that sends leads: where it posts, and what it has sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormSource {
    pub id: Uuid,
    pub name: String,
    /// What each lead's source says.
    pub lead_source: String,
    /// The URL the site posts signed submissions to.
    pub endpoint: String,
    pub active: bool,
    pub received: i64,
    pub last_event_at: Option<DateTime<Utc>>,
    /// Why the last refused submission was refused.
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFormSource {
    pub name: String,
    /// Empty for the form's name.
    pub lead_source: String,
}

/// A form just connected: its endpoint and signing secret, the secret shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSecret {
    pub id: Uuid,
    pub endpoint: String,
    pub secret: String,
}

/// A Facebook Page whose Lead Ads send leads: the callback and verify token to give
/// Meta, and what has come of its notifications.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacebookSource {
    pub id: Uuid,
    pub name: String,
    pub lead_source: String,
    pub page_id: String,
    /// The callback URL to subscribe in the tenant's Meta app (Webhooks → Page → leadgen).
    pub callback_url: String,
    /// What Meta must send as `hub.verify_token` when the callback is subscribed.
    pub verify_token: String,
    pub active: bool,
    /// Leads filed (new or as a note on a known lead).
    pub received: i64,
    /// Notified leads still to fetch from the Graph API, retries included.
    pub pending: i64,
    /// Notified leads that could not be fetched or filed, for good.
    pub failed: i64,
    pub last_event_at: Option<DateTime<Utc>>,
    /// The last refused notification or failed fetch, and when.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// What an admin gives to connect a Page; both secrets are sealed and never shown again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFacebookSource {
    pub name: String,
    pub page_id: String,
    /// The Meta app's secret: the key of `X-Hub-Signature-256`.
    pub app_secret: String,
    /// A Page access token with `leads_retrieval`, to read each lead.
    pub page_token: String,
    /// Empty for the connection's name.
    pub lead_source: String,
}

/// What a site posts: a person, and what they asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// The ad or campaign that brought them, e.g. `utm_campaign`.
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_implies_reading_but_not_the_reverse() {
        let granted = vec!["contacts:write".to_string(), "deals:read".to_string()];
        assert!(allows(&granted, "contacts", Access::Read));
        assert!(allows(&granted, "contacts", Access::Write));
        assert!(allows(&granted, "deals", Access::Read));
        assert!(!allows(&granted, "deals", Access::Write));
        assert!(!allows(&granted, "leads", Access::Read));
    }

    #[test]
    fn unknown_scopes_are_named() {
        assert_eq!(
            parse_scopes(&["contacts:read".into(), "contacts:read".into()]),
            Ok(vec!["contacts:read".to_string()])
        );
        assert_eq!(
            parse_scopes(&["users:write".into()]),
            Err("users:write".to_string())
        );
        // Units are read through the API, never written.
        assert!(parse_scopes(&["units:read".into()]).is_ok());
        assert_eq!(
            parse_scopes(&["units:write".into()]),
            Err("units:write".to_string())
        );
    }
}

/// The API reference page: the OpenAPI document's operations grouped by tag, in the
/// document's order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiReference {
    pub title: String,
    pub description: String,
    pub groups: Vec<ApiGroup>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiGroup {
    pub tag: String,
    pub operations: Vec<ApiOperation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiOperation {
    /// GET, POST, PATCH or DELETE.
    pub method: String,
    /// Under `/api/v1`, e.g. `/contacts/{id}`.
    pub path: String,
    pub description: String,
    pub params: Vec<ApiField>,
    /// The JSON body's fields, when it takes one.
    pub body: Vec<ApiField>,
    /// Status code and what it means, in code order.
    pub responses: Vec<(String, String)>,
}

/// A parameter or a body field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiField {
    pub name: String,
    /// path, query or header for a parameter; body for a field.
    pub location: String,
    /// string, integer, uuid, date-time, array, object, …
    pub kind: String,
    pub required: bool,
    pub description: String,
}

impl ApiOperation {
    /// The page anchor of the operation: `get-contacts-id`.
    pub fn anchor(&self) -> String {
        let path: String = self
            .path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut anchor = format!("{}{path}", self.method.to_ascii_lowercase());
        while anchor.contains("--") {
            anchor = anchor.replace("--", "-");
        }
        anchor.trim_end_matches('-').to_string()
    }
}
