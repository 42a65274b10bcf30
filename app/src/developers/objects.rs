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
                sort: Default::default(),
            }
        }
    };
}
pub(crate) use timestamps;

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
    /// The related objects `expand=` can attach, by name (of [`Related::NAMES`]).
    const EXPANDS: &'static [&'static str] = &[];
    /// The id of the related object `name`, when this object has one.
    fn related(&self, _name: &str) -> Option<Uuid> {
        None
    }
    /// Attaches a related object `expand=` asked for.
    fn attach(&mut self, _related: Related) {}
}

/// A member, as an object's `owner` expands to.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// A stage of a pipeline, as a deal's `stage` expands to and a pipeline lists them.
#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub id: Uuid,
    pub pipeline_id: Uuid,
    pub name: String,
    /// 1 is the first column.
    pub position: i32,
    /// OPEN, WON or LOST: a deal moved here takes this status.
    pub kind: String,
    /// 0 to 100: a deal here counts this share of its amount in forecasts.
    pub probability: i32,
    pub color: String,
}

/// What `expand=` attaches to an object in place of just the id.
#[derive(Clone, Debug)]
pub enum Related {
    Company(Box<Company>),
    Contact(Box<Contact>),
    Lead(Box<Lead>),
    Deal(Box<Deal>),
    Unit(Box<Unit>),
    Owner(Member),
    Stage(Stage),
}

impl Related {
    /// Every name `expand=` knows.
    pub const NAMES: [&'static str; 7] = [
        "company", "contact", "lead", "deal", "unit", "owner", "stage",
    ];

    fn id(&self) -> Uuid {
        match self {
            Related::Company(o) => o.id,
            Related::Contact(o) => o.id,
            Related::Lead(o) => o.id,
            Related::Deal(o) => o.id,
            Related::Unit(o) => o.id,
            Related::Owner(o) => o.id,
            Related::Stage(o) => o.id,
        }
    }
}

/// The `related`/`attach` pair of an object whose expandable relations are fields
/// named `<name>_id` (or `owner_id`) and `<name>`.
macro_rules! expands {
    ($($name:literal => $id:ident, $field:ident, $variant:ident);+ $(;)?) => {
        const EXPANDS: &'static [&'static str] = &[$($name),+];
        fn related(&self, name: &str) -> Option<Uuid> {
            match name {
                $($name => self.$id.into(),)+
                _ => None,
            }
        }
        fn attach(&mut self, related: Related) {
            match related {
                $(Related::$variant(o) => self.$field = Some(o),)+
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
    };
}
pub(crate) use expands;

/// Attaches the related objects `names` (each of `T::EXPANDS`, which the caller
/// checks) to `items`, one query per name whatever the page's length.
pub async fn expand<T: ApiObject>(
    tx: &mut Tx,
    tenant: Uuid,
    items: &mut [T],
    names: &[&str],
) -> Result<(), AppError> {
    fn boxed<O, F: Fn(Box<O>) -> Related>(found: Vec<O>, wrap: F) -> Vec<Related> {
        found.into_iter().map(|o| wrap(Box::new(o))).collect()
    }
    for name in names {
        let mut ids: Vec<Uuid> = items.iter().filter_map(|i| i.related(name)).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            continue;
        }
        let found: Vec<Related> = match *name {
            "company" => boxed(by_ids::<Company>(tx, tenant, &ids).await?, Related::Company),
            "contact" => boxed(by_ids::<Contact>(tx, tenant, &ids).await?, Related::Contact),
            "lead" => boxed(by_ids::<Lead>(tx, tenant, &ids).await?, Related::Lead),
            "deal" => boxed(by_ids::<Deal>(tx, tenant, &ids).await?, Related::Deal),
            "unit" => boxed(by_ids::<Unit>(tx, tenant, &ids).await?, Related::Unit),
            "owner" => sqlx::query_as::<_, Member>(
                "SELECT u.id, u.name, u.email::text AS email FROM memberships m
                   JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND u.id = ANY($2)",
            )
            .bind(tenant)
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(Related::Owner)
            .collect(),
            "stage" => sqlx::query_as::<_, Stage>(
                "SELECT id, pipeline_id, name, position, kind, probability, color FROM stages
                  WHERE tenant_id = $1 AND id = ANY($2)",
            )
            .bind(tenant)
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(Related::Stage)
            .collect(),
            _ => Vec::new(),
        };
        for item in items.iter_mut() {
            let Some(id) = item.related(name) else {
                continue;
            };
            if let Some(r) = found.iter().find(|r| r.id() == id) {
                item.attach(r.clone());
            }
        }
    }
    Ok(())
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
    /// With `expand=company`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Box<Company>>,
    /// With `expand=owner`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Member>,
}

impl RecordObject for Contact {
    const ENTITY: Entity = Entity::Contact;
}

impl ApiObject for Contact {
    const NAME: &'static str = "contact";
    const SELECT: &'static str = "SELECT r.id, r.full_name AS name, r.email::text AS email,
        r.phone_e164 AS phone, r.title, r.company_id, r.owner_id, r.tags, r.custom, r.created_at,
        r.updated_at FROM contacts r";
    const FILTERS: &'static [&'static str] = &["owner_id", "tag", "company_id"];
    timestamps!();
    expands! {
        "company" => company_id, company, Company;
        "owner" => owner_id, owner, Owner;
    }
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
    /// With `expand=owner`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Member>,
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
    expands! {
        "owner" => owner_id, owner, Owner;
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lead {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub source: Option<String>,
    /// NEW, PROSPECTED, CONTACTED, REPLIED, QUALIFIED, CONVERTED or LOST. Outreach moves
    /// it (contacted, replied, converted, lost) until a person sets it.
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
    /// With `expand=company`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Box<Company>>,
    /// With `expand=contact`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Box<Contact>>,
    /// With `expand=owner`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Member>,
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
    const FILTERS: &'static [&'static str] =
        &["owner_id", "tag", "status", "company_id", "contact_id"];
    timestamps!();
    expands! {
        "company" => company_id, company, Company;
        "contact" => contact_id, contact, Contact;
        "owner" => owner_id, owner, Owner;
    }
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
    /// With `expand=company`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Box<Company>>,
    /// With `expand=contact`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Box<Contact>>,
    /// With `expand=lead`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<Box<Lead>>,
    /// With `expand=owner`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Member>,
    /// With `expand=stage`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
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
    const FILTERS: &'static [&'static str] = &[
        "owner_id",
        "tag",
        "status",
        "pipeline_id",
        "stage_id",
        "company_id",
        "contact_id",
        "lead_id",
    ];
    timestamps!();
    expands! {
        "company" => company_id, company, Company;
        "contact" => contact_id, contact, Contact;
        "lead" => lead_id, lead, Lead;
        "owner" => owner_id, owner, Owner;
        "stage" => stage_id, stage, Stage;
    }
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
    /// With `expand=lead`.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<Box<Lead>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl ApiObject for ReviewItem {
    const NAME: &'static str = "review_item";
    const SELECT: &'static str =
        "SELECT r.id, r.lead_id, r.message_id, r.reason, r.priority, r.status,
        r.assignee_id, r.sla_due_at, r.breached, r.resolution, r.note, r.created_at, r.updated_at,
        r.resolved_at FROM review_items r";
    const FILTERS: &'static [&'static str] = &["status", "lead_id", "assignee_id"];
    timestamps!();
    expands! {
        "lead" => lead_id, lead, Lead;
    }
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

/// How a list is ordered: by when objects were created or last changed, either way.
/// `updated_at` ascending is how a client syncs: it resumes where it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    #[default]
    #[serde(rename = "-created_at")]
    CreatedDesc,
    #[serde(rename = "created_at")]
    CreatedAsc,
    #[serde(rename = "-updated_at")]
    UpdatedDesc,
    #[serde(rename = "updated_at")]
    UpdatedAsc,
}

impl Sort {
    pub const ALL: [Sort; 4] = [
        Sort::CreatedDesc,
        Sort::CreatedAsc,
        Sort::UpdatedDesc,
        Sort::UpdatedAsc,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Sort::CreatedDesc => "-created_at",
            Sort::CreatedAsc => "created_at",
            Sort::UpdatedDesc => "-updated_at",
            Sort::UpdatedAsc => "updated_at",
        }
    }

    pub fn parse(text: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.code() == text.trim())
    }

    fn column(self) -> &'static str {
        match self {
            Sort::CreatedDesc | Sort::CreatedAsc => "r.created_at",
            Sort::UpdatedDesc | Sort::UpdatedAsc => "r.updated_at",
        }
    }

    fn descending(self) -> bool {
        matches!(self, Sort::CreatedDesc | Sort::UpdatedDesc)
    }
}

/// Where a list page starts: the last object of the page before, as an opaque string.
/// It carries its order, so a cursor of one order is refused by another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
    #[serde(default)]
    pub sort: Sort,
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

/// A filter's value: the object's column named like the filter must equal it.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterValue {
    Id(Uuid),
    Code(String),
}

/// A list request: its filters (each on an indexed column, and one of the object's
/// `FILTERS`, which the caller checks), its order and where it starts.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub limit: i64,
    pub after: Option<Cursor>,
    pub sort: Sort,
    /// Column = value, for names in the object's `FILTERS` (`tag` is array membership).
    pub filters: Vec<(&'static str, FilterValue)>,
    pub created_after: Option<DateTime<Utc>>,
}

/// A page in the query's order, by (sort column, id): a cursor stays valid however
/// many objects are added meanwhile.
pub async fn list<T: ApiObject>(
    tx: &mut Tx,
    tenant: Uuid,
    query: &ListQuery,
) -> Result<(Vec<T>, Option<Cursor>), AppError> {
    let mut q = QueryBuilder::new(T::SELECT);
    q.push(" WHERE r.tenant_id = ").push_bind(tenant);
    let column = query.sort.column();
    let (cmp, dir) = if query.sort.descending() {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(after) = &query.after {
        q.push(format!(" AND ({column}, r.id) {cmp} ("))
            .push_bind(after.at)
            .push(", ")
            .push_bind(after.id)
            .push(")");
    }
    for (name, value) in &query.filters {
        // Only names from the object's own static list reach here.
        let Some(name) = T::FILTERS.iter().find(|f| *f == name) else {
            continue;
        };
        match (*name, value) {
            ("tag", FilterValue::Code(tag)) => {
                q.push(" AND r.tags @> ARRAY[")
                    .push_bind(tag.clone())
                    .push("]::text[]");
            }
            (name, FilterValue::Id(id)) => {
                q.push(format!(" AND r.{name} = ")).push_bind(*id);
            }
            (name, FilterValue::Code(code)) => {
                q.push(format!(" AND r.{name} = ")).push_bind(code.clone());
            }
        }
    }
    if let Some(since) = query.created_after {
        q.push(" AND r.created_at > ").push_bind(since);
    }
    q.push(format!(" ORDER BY {column} {dir}, r.id {dir} LIMIT "))
        .push_bind(query.limit + 1);
    let mut rows: Vec<T> = q.build_query_as::<T>().fetch_all(&mut **tx).await?;
    let next = if rows.len() as i64 > query.limit {
        rows.truncate(query.limit as usize);
        rows.last().map(|last| {
            let mut c = last.cursor();
            if matches!(query.sort, Sort::UpdatedAsc | Sort::UpdatedDesc) {
                c.at = last.updated_at();
            }
            c.sort = query.sort;
            c
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// Objects by id, in the tenant: what `expand=` attaches.
pub async fn by_ids<T: ApiObject>(
    tx: &mut Tx,
    tenant: Uuid,
    ids: &[Uuid],
) -> Result<Vec<T>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::new(T::SELECT);
    q.push(" WHERE r.tenant_id = ")
        .push_bind(tenant)
        .push(" AND r.id = ANY(")
        .push_bind(ids.to_vec())
        .push(")");
    Ok(q.build_query_as::<T>().fetch_all(&mut **tx).await?)
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
            sort: Sort::UpdatedAsc,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
