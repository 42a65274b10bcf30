//! The public API's objects, as `GET /api/v1/...` returns them and as webhook events
//! carry them: one struct per kind of record, read by one query, with its OpenAPI
//! schema derived from the same struct so the document cannot drift from the answers.

use crate::crm::model::Entity;
use crate::db::Tx;
use crate::error::AppError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

/// `updated_at` and `cursor` of an object with `id`, `created_at` and `updated_at`
/// fields, which every one has.
macro_rules! timestamps {
    () => {
        fn updated_at(&self) -> DateTime<Utc> {
            self.updated_at
        }
        fn cursor(&self) -> Cursor {
            Cursor {
                at: self.created_at,
                id: self.id,
            }
        }
    };
}

/// An object the API lists and reads.
pub trait ApiObject:
    Serialize + for<'r> FromRow<'r, PgRow> + Send + Unpin + ToSchema + 'static
{
    /// The event type's first word.
    const NAME: &'static str;
    /// Selects the object's columns from the table aliased `r`.
    const SELECT: &'static str;
    /// The list filters it has: of `owner_id`, `tag` and `status`.
    const FILTERS: &'static [&'static str];
    fn updated_at(&self) -> DateTime<Utc>;
    /// Where a page that ends with this object continues.
    fn cursor(&self) -> Cursor;
}

/// A CRM record: also created, updated and deleted through the record code.
pub trait RecordObject: ApiObject {
    const ENTITY: Entity;
}

/// A person at a customer or prospect.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    /// E.164, e.g. `+201001234567`.
    pub phone: Option<String>,
    pub title: Option<String>,
    pub company_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    pub tags: Vec<String>,
    /// The workspace's custom fields, by key.
    #[schema(value_type = Object)]
    pub custom: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordObject for Contact {
    const ENTITY: Entity = Entity::Contact;
}

impl ApiObject for Contact {
    const NAME: &'static str = "contact";
    const SELECT: &'static str = "SELECT r.id, r.full_name AS name, r.email::text AS email,
        r.phone_e164 AS phone, r.title, r.company_id, r.owner_id, r.tags, r.custom, r.created_at,
        r.updated_at FROM contacts r";
    const FILTERS: &'static [&'static str] = &["owner_id", "tag"];
    timestamps!();
}

#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub owner_id: Option<Uuid>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordObject for Company {
    const ENTITY: Entity = Entity::Company;
}

impl ApiObject for Company {
    const NAME: &'static str = "company";
    const SELECT: &'static str = "SELECT r.id, r.name, r.domain, r.industry, r.city, r.country,
        r.phone_e164 AS phone, r.owner_id, r.tags, r.custom, r.created_at, r.updated_at
        FROM companies r";
    const FILTERS: &'static [&'static str] = &["owner_id", "tag"];
    timestamps!();
}

#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lead {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub source: Option<String>,
    /// NEW, PROSPECTED, CONTACTED, QUALIFIED or LOST.
    pub status: String,
    /// 0 to 100.
    pub score: i32,
    pub company_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordObject for Lead {
    const ENTITY: Entity = Entity::Lead;
}

impl ApiObject for Lead {
    const NAME: &'static str = "lead";
    const SELECT: &'static str =
        "SELECT r.id, r.name, r.email::text AS email, r.phone_e164 AS phone,
        r.source, r.status, r.score, r.company_id, r.contact_id, r.owner_id, r.tags, r.custom,
        r.created_at, r.updated_at FROM leads r";
    const FILTERS: &'static [&'static str] = &["owner_id", "tag", "status"];
    timestamps!();
}

#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deal {
    pub id: Uuid,
    pub name: String,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    /// OPEN, WON or LOST.
    pub status: String,
    /// In the currency's minor unit: cents, piastres, halalas.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    pub probability: i32,
    pub expected_close_on: Option<NaiveDate>,
    pub company_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    pub lost_reason: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom: serde_json::Value,
    /// Goes up by one on every change; a stage move must name the version it saw.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordObject for Deal {
    const ENTITY: Entity = Entity::Deal;
}

impl ApiObject for Deal {
    const NAME: &'static str = "deal";
    const SELECT: &'static str = "SELECT r.id, r.name, r.pipeline_id, r.stage_id, r.status,
        r.amount_minor, r.currency::text AS currency, r.probability, r.expected_close_on,
        r.company_id, r.contact_id, r.lead_id, r.owner_id, r.lost_reason, r.tags, r.custom,
        r.version, r.created_at, r.updated_at FROM deals r";
    const FILTERS: &'static [&'static str] = &["owner_id", "tag", "status"];
    timestamps!();
}

/// A unit of a project: an apartment, a villa, a shop.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub id: Uuid,
    pub project_id: Uuid,
    pub code: String,
    pub type_code: String,
    pub building: Option<String>,
    pub floor: Option<i32>,
    pub size_sqm: Option<f64>,
    pub bedrooms: i32,
    pub bathrooms: i32,
    pub view: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    /// AVAILABLE, HELD, RESERVED, SOLD or BLOCKED.
    pub status: String,
    /// The deal holding it, while it is held.
    pub held_for_deal_id: Option<Uuid>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiObject for Unit {
    const NAME: &'static str = "unit";
    const SELECT: &'static str =
        "SELECT r.id, r.project_id, r.code, r.type_code, r.building, r.floor,
        r.size_sqm::float8 AS size_sqm, r.bedrooms, r.bathrooms, r.view, r.price_minor,
        r.currency::text AS currency, r.status, h.deal_id AS held_for_deal_id,
        h.expires_at AS hold_expires_at, r.version, r.created_at, r.updated_at
        FROM units r LEFT JOIN unit_holds h ON h.unit_id = r.id AND h.released_at IS NULL";
    const FILTERS: &'static [&'static str] = &["status"];
    timestamps!();
}

/// A reply, bounce or complaint waiting for a person (the review queue).
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewItem {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub message_id: Option<Uuid>,
    /// NEGATIVE_SENTIMENT, KEYWORD, BOUNCE, COMPLAINT, AI_UNCERTAIN, CONFIRM_INTENT,
    /// HIGH_VALUE or MANUAL.
    pub reason: String,
    /// LOW, MEDIUM, HIGH or URGENT.
    pub priority: String,
    /// PENDING, ASSIGNED, ESCALATED or RESOLVED.
    pub status: String,
    pub assignee_id: Option<Uuid>,
    pub sla_due_at: DateTime<Utc>,
    pub breached: bool,
    pub resolution: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl ApiObject for ReviewItem {
    const NAME: &'static str = "review_item";
    const SELECT: &'static str =
        "SELECT r.id, r.lead_id, r.message_id, r.reason, r.priority, r.status,
        r.assignee_id, r.sla_due_at, r.breached, r.resolution, r.note, r.created_at, r.updated_at,
        r.resolved_at FROM review_items r";
    const FILTERS: &'static [&'static str] = &["status"];
    timestamps!();
}

/// One object by id, in the tenant (whose transaction it must be: RLS is the second
/// wall, the condition here the first).
pub async fn get<T: ApiObject>(tx: &mut Tx, tenant: Uuid, id: Uuid) -> Result<Option<T>, AppError> {
    let mut q = QueryBuilder::new(T::SELECT);
    q.push(" WHERE r.tenant_id = ")
        .push_bind(tenant)
        .push(" AND r.id = ")
        .push_bind(id);
    Ok(q.build_query_as::<T>().fetch_optional(&mut **tx).await?)
}

/// The object of any kind as JSON, for an event's payload.
pub async fn json_of(
    tx: &mut Tx,
    tenant: Uuid,
    entity: Entity,
    id: Uuid,
) -> Result<serde_json::Value, AppError> {
    async fn one<T: ApiObject>(
        tx: &mut Tx,
        tenant: Uuid,
        id: Uuid,
    ) -> Result<serde_json::Value, AppError> {
        let object = get::<T>(tx, tenant, id).await?;
        serde_json::to_value(object).map_err(crate::db::internal)
    }
    match entity {
        Entity::Contact => one::<Contact>(tx, tenant, id).await,
        Entity::Company => one::<Company>(tx, tenant, id).await,
        Entity::Lead => one::<Lead>(tx, tenant, id).await,
        Entity::Deal => one::<Deal>(tx, tenant, id).await,
    }
}

/// Where a list page starts: the last object of the page before, as an opaque string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A list request's filters. Each is on an indexed column.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub limit: i64,
    pub after: Option<Cursor>,
    pub owner_id: Option<Uuid>,
    pub tag: Option<String>,
    pub status: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
}

/// Newest first, by (created_at, id): a cursor stays valid however many objects are
/// added meanwhile, since new ones sort before it.
pub async fn list<T: ApiObject>(
    tx: &mut Tx,
    tenant: Uuid,
    query: &ListQuery,
) -> Result<(Vec<T>, Option<Cursor>), AppError> {
    let mut q = QueryBuilder::new(T::SELECT);
    q.push(" WHERE r.tenant_id = ").push_bind(tenant);
    if let Some(after) = &query.after {
        q.push(" AND (r.created_at, r.id) < (")
            .push_bind(after.at)
            .push(", ")
            .push_bind(after.id)
            .push(")");
    }
    // Only the filters the object has: the caller refuses the others.
    let has = |filter: &str| T::FILTERS.contains(&filter);
    if let (true, Some(owner)) = (has("owner_id"), query.owner_id) {
        q.push(" AND r.owner_id = ").push_bind(owner);
    }
    if let (true, Some(tag)) = (has("tag"), &query.tag) {
        q.push(" AND r.tags @> ARRAY[")
            .push_bind(tag.clone())
            .push("]::text[]");
    }
    if let (true, Some(status)) = (has("status"), &query.status) {
        q.push(" AND r.status = ").push_bind(status.clone());
    }
    if let Some(since) = query.created_after {
        q.push(" AND r.created_at > ").push_bind(since);
    }
    q.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
        .push_bind(query.limit + 1);
    let mut rows: Vec<T> = q.build_query_as::<T>().fetch_all(&mut **tx).await?;
    let next = if rows.len() as i64 > query.limit {
        rows.truncate(query.limit as usize);
        rows.last().map(T::cursor)
    } else {
        None
    };
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            at: DateTime::parse_from_rfc3339("2026-12-02T10:00:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            id: Uuid::nil(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
