//! Contacts, companies, leads and deals: list, get, create, update and delete, and a
//! deal's stage move. Each handler checks the key's scope, then calls the record code
//! the pages use.

use super::{env_of, not_found, ApiError, Caller};
use crate::web::AppState;
use app::crm::board::model::{DealMove, NewDeal};
use app::crm::model::Entity;
use app::crm::records::model::BulkAction;
use app::developers::model::Access;
use app::developers::objects::{
    self, ApiObject, Company, Contact, Cursor, Deal, Lead, ListQuery, RecordObject,
};
use app::request::RequestCtx;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Every path and method the API serves; a test holds the document to it.
#[cfg(test)]
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/contacts", &["get", "post"]),
    ("/contacts/{id}", &["get", "patch", "delete"]),
    ("/companies", &["get", "post"]),
    ("/companies/{id}", &["get", "patch", "delete"]),
    ("/leads", &["get", "post"]),
    ("/leads/{id}", &["get", "patch", "delete"]),
    ("/deals", &["get", "post"]),
    ("/deals/{id}", &["get", "patch", "delete"]),
    ("/deals/{id}/move", &["post"]),
    ("/units", &["get"]),
    ("/units/{id}", &["get"]),
    ("/review-items", &["get"]),
    ("/review-items/{id}", &["get"]),
    ("/review-items/{id}/decide", &["post"]),
];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact, delete_contact))
        .routes(routes!(list_companies, create_company))
        .routes(routes!(get_company, update_company, delete_company))
        .routes(routes!(list_leads, create_lead))
        .routes(routes!(get_lead, update_lead, delete_lead))
        .routes(routes!(list_deals, create_deal))
        .routes(routes!(get_deal, update_deal, delete_deal))
        .routes(routes!(move_deal))
}

/// The most a page holds; 50 unless `limit` says otherwise.
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100; 50 by default.
    limit: Option<i64>,
    /// The `next_cursor` of the page before.
    starting_after: Option<String>,
    owner_id: Option<Uuid>,
    /// Objects carrying this tag.
    tag: Option<String>,
    /// Leads: NEW, PROSPECTED, CONTACTED, QUALIFIED, LOST. Deals: OPEN, WON, LOST.
    status: Option<String>,
    /// Objects created after this instant (RFC 3339).
    created_after: Option<DateTime<Utc>>,
}

/// A page of objects, newest first.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    data: Vec<T>,
    /// Pass as `starting_after` for the next page; absent on the last.
    next_cursor: Option<String>,
}

pub(super) async fn list_of<T: ApiObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    params: ListParams,
) -> Result<Response, ApiError> {
    caller.require(resource, Access::Read)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "limit is 1 to 100",
        )
        .field("limit"));
    }
    for (name, value) in [("tag", &params.tag), ("status", &params.status)] {
        if value.as_deref().is_some_and(|v| v.contains('\0')) {
            return Err(invalid(name, "text cannot hold a NUL character"));
        }
    }
    let after = match &params.starting_after {
        None => None,
        Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "not a cursor from this API",
            )
            .field("starting_after")
        })?),
    };
    let query = ListQuery {
        limit,
        after,
        owner_id: params.owner_id,
        tag: params.tag,
        status: params.status.map(|s| s.to_ascii_uppercase()),
        created_after: params.created_after,
    };
    let p = &caller.0.principal;
    let mut tx = ctx.db.tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let (data, next) = objects::list::<T>(&mut tx, p.tenant_id, &query).await?;
    tx.commit().await?;
    Ok(Json(Page {
        data,
        next_cursor: next.map(|c| c.encode()),
    })
    .into_response())
}

/// `"<microseconds of updated_at>"`: changes with every write.
fn etag(updated_at: DateTime<Utc>) -> String {
    format!("\"{}\"", updated_at.timestamp_micros())
}

fn parse_etag(value: &str) -> Option<DateTime<Utc>> {
    let micros: i64 = value
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()?;
    DateTime::from_timestamp_micros(micros)
}

pub(super) async fn fetch<T: ApiObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    id: Uuid,
) -> Result<T, ApiError> {
    let p = &caller.0.principal;
    let mut tx = ctx.db.tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let object = objects::get::<T>(&mut tx, p.tenant_id, id).await?;
    tx.commit().await?;
    object.ok_or_else(not_found)
}

pub(super) fn with_etag<T: ApiObject>(status: StatusCode, object: T) -> Response {
    let tag = etag(object.updated_at());
    let mut r = (status, Json(object)).into_response();
    if let Ok(v) = HeaderValue::from_str(&tag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

pub(super) async fn get_of<T: ApiObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    id: Uuid,
) -> Result<Response, ApiError> {
    caller.require(resource, Access::Read)?;
    Ok(with_etag(
        StatusCode::OK,
        fetch::<T>(caller, ctx, id).await?,
    ))
}

/// The fields each kind of record takes, as the API names them.
fn writable(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Contact => &[
            "name", "email", "phone", "title", "owner_id", "tags", "company", "custom",
        ],
        Entity::Company => &[
            "name", "phone", "domain", "industry", "city", "country", "owner_id", "tags", "custom",
        ],
        Entity::Lead => &[
            "name", "email", "phone", "source", "status", "score", "owner_id", "tags", "company",
            "custom",
        ],
        Entity::Deal => &[
            "name",
            "owner_id",
            "tags",
            "expected_close_on",
            "company",
            "contact",
            "amount_minor",
            "currency",
            "probability",
            "custom",
        ],
    }
}

/// The fields of a JSON body as the record code's form fields: text, with `null`
/// clearing a field, tags as a list and custom fields as an object of their own.
type FormFields = (Vec<(String, String)>, HashMap<String, String>);

fn bad_body(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message)
}

pub(super) fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", message).field(field)
}

fn as_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => Some(String::new()),
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// PostgreSQL keeps no NUL in text or JSON; a body carrying one anywhere is refused
/// with the field it is in.
fn reject_nul(value: &serde_json::Value, at: &str) -> Result<(), ApiError> {
    const MESSAGE: &str = "text cannot hold a NUL character (\\u0000)";
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Err(invalid(at, MESSAGE)),
        serde_json::Value::Array(items) => items.iter().try_for_each(|v| reject_nul(v, at)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let field = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                return Err(invalid(&field, MESSAGE));
            }
            reject_nul(v, &field)
        }),
        _ => Ok(()),
    }
}

/// A JSON body, with no NUL anywhere in it.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad_body(format!("the body is not JSON: {e}")))?;
    reject_nul(&value, "")?;
    serde_json::from_value(value).map_err(|e| bad_body(e.to_string()))
}

fn form_fields(entity: Entity, body: &[u8]) -> Result<FormFields, ApiError> {
    let map: serde_json::Map<String, serde_json::Value> = json_body(body)?;
    let allowed = writable(entity);
    let mut fields = Vec::new();
    let mut custom = HashMap::new();
    let currency = map
        .get("currency")
        .and_then(|c| c.as_str())
        .unwrap_or("")
        .to_string();
    for (key, value) in &map {
        if !allowed.contains(&key.as_str()) {
            return Err(invalid(key, "not a field of this object"));
        }
        match key.as_str() {
            "custom" => {
                let object = value
                    .as_object()
                    .ok_or_else(|| invalid("custom", "an object of custom field values"))?;
                for (k, v) in object {
                    let text = as_text(v)
                        .ok_or_else(|| invalid(&format!("custom.{k}"), "a text, number or null"))?;
                    custom.insert(k.clone(), text);
                }
            }
            "tags" => {
                let list = value
                    .as_array()
                    .ok_or_else(|| invalid("tags", "a list of texts"))?;
                let tags: Option<Vec<&str>> = list.iter().map(|t| t.as_str()).collect();
                let tags = tags.ok_or_else(|| invalid("tags", "a list of texts"))?;
                if tags.iter().any(|t| t.contains(',')) {
                    return Err(invalid("tags", "a tag has no commas"));
                }
                fields.push(("tags".to_string(), tags.join(",")));
            }
            "amount_minor" => {
                let minor = value.as_i64().filter(|m| *m >= 0).ok_or_else(|| {
                    invalid("amount_minor", "a whole number of minor units, 0 or more")
                })?;
                if currency.is_empty() {
                    return Err(invalid("currency", "send the currency with amount_minor"));
                }
                fields.push(("amount".to_string(), minor_text(minor, &currency)));
            }
            _ => {
                let text = as_text(value).ok_or_else(|| invalid(key, "a text, number or null"))?;
                fields.push((key.clone(), text));
            }
        }
    }
    Ok((fields, custom))
}

/// 1250050 minor units of EGP → "12500.50", as the record code reads amounts.
fn minor_text(minor: i64, currency: &str) -> String {
    let exp = app::crm::money::exponent(currency);
    if exp == 0 {
        return minor.to_string();
    }
    let unit = 10i64.pow(exp);
    format!(
        "{}.{:0width$}",
        minor / unit,
        minor % unit,
        width = exp as usize
    )
}

/// The record code names the amount's field `amount`; the API, `amount_minor`.
fn api_field(err: app::error::AppError) -> ApiError {
    let mut e = ApiError::from(err);
    if e.field.as_deref() == Some("amount") {
        e.field = Some("amount_minor".into());
    }
    e
}

async fn create_of<T: RecordObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    caller.require(resource, Access::Write)?;
    let (fields, custom) = form_fields(T::ENTITY, body)?;
    let env = env_of(ctx);
    let id = app::crm::records::ssr::create(&env, T::ENTITY, &fields, &custom)
        .await
        .map_err(api_field)?;
    created::<T>(caller, ctx, resource, id).await
}

async fn created<T: ApiObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    id: Uuid,
) -> Result<Response, ApiError> {
    let mut r = with_etag(StatusCode::CREATED, fetch::<T>(caller, ctx, id).await?);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/{resource}/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

async fn update_of<T: RecordObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    id: Uuid,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    caller.require(resource, Access::Write)?;
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(parse_etag).ok_or_else(|| {
            ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "If-Match is not an ETag of this API",
            )
        })?),
    };
    let (fields, custom) = form_fields(T::ENTITY, body)?;
    let env = env_of(ctx);
    match app::crm::records::ssr::update_if(&env, T::ENTITY, id, &fields, &custom, if_match).await {
        Ok(()) => {}
        Err(app::error::AppError::Conflict(message)) if if_match.is_some() => {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                message,
            ))
        }
        Err(e) => return Err(api_field(e)),
    }
    Ok(with_etag(
        StatusCode::OK,
        fetch::<T>(caller, ctx, id).await?,
    ))
}

async fn delete_of<T: RecordObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    id: Uuid,
) -> Result<Response, ApiError> {
    caller.require(resource, Access::Write)?;
    let env = env_of(ctx);
    app::crm::records::ssr::bulk(&env, T::ENTITY, &[id], &BulkAction::Delete).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Handlers for one kind of record, each with its OpenAPI annotation.
macro_rules! resource {
    ($object:ty, $write:ty, $resource:literal, $path:literal, $item:literal, $list:ident, $get:ident, $create:ident, $update:ident, $delete:ident, $create_body:expr) => {
        #[utoipa::path(get, path = $path, tag = $resource, params(ListParams),
            responses((status = 200, body = Page<$object>)))]
        async fn $list(
            Extension(caller): Extension<Caller>,
            Extension(ctx): Extension<RequestCtx>,
            params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
        ) -> Result<Response, ApiError> {
            let Query(params) = params.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
            list_of::<$object>(&caller, &ctx, $resource, params).await
        }

        #[utoipa::path(get, path = $item, tag = $resource, params(("id" = Uuid, Path)),
            responses((status = 200, body = $object, headers(("ETag" = String)))))]
        async fn $get(
            Extension(caller): Extension<Caller>,
            Extension(ctx): Extension<RequestCtx>,
            Path(id): Path<String>,
        ) -> Result<Response, ApiError> {
            let id = id.parse::<Uuid>().map_err(|_| not_found())?;
            get_of::<$object>(&caller, &ctx, $resource, id).await
        }

        #[utoipa::path(post, path = $path, tag = $resource, request_body = $write,
            params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key and body get the first answer")),
            responses((status = 201, body = $object)))]
        async fn $create(
            Extension(caller): Extension<Caller>,
            Extension(ctx): Extension<RequestCtx>,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            ($create_body)(caller, ctx, body).await
        }

        #[utoipa::path(patch, path = $item, tag = $resource, request_body = $write,
            params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "The ETag of a GET: the update applies only if nothing changed since")),
            responses((status = 200, body = $object)))]
        async fn $update(
            Extension(caller): Extension<Caller>,
            Extension(ctx): Extension<RequestCtx>,
            Path(id): Path<String>,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            let id = id.parse::<Uuid>().map_err(|_| not_found())?;
            update_of::<$object>(&caller, &ctx, $resource, id, &headers, &body).await
        }

        #[utoipa::path(delete, path = $item, tag = $resource, params(("id" = Uuid, Path)),
            responses((status = 204)))]
        async fn $delete(
            Extension(caller): Extension<Caller>,
            Extension(ctx): Extension<RequestCtx>,
            Path(id): Path<String>,
        ) -> Result<Response, ApiError> {
            let id = id.parse::<Uuid>().map_err(|_| not_found())?;
            delete_of::<$object>(&caller, &ctx, $resource, id).await
        }
    };
}

async fn create_record<T: RecordObject>(
    caller: Caller,
    ctx: RequestCtx,
    body: Bytes,
    resource: &str,
) -> Result<Response, ApiError> {
    create_of::<T>(&caller, &ctx, resource, &body).await
}

resource!(
    Contact,
    ContactWrite,
    "contacts",
    "/contacts",
    "/contacts/{id}",
    list_contacts,
    get_contact,
    create_contact,
    update_contact,
    delete_contact,
    |c, x, b| create_record::<Contact>(c, x, b, "contacts")
);
resource!(
    Company,
    CompanyWrite,
    "companies",
    "/companies",
    "/companies/{id}",
    list_companies,
    get_company,
    create_company,
    update_company,
    delete_company,
    |c, x, b| create_record::<Company>(c, x, b, "companies")
);
resource!(
    Lead,
    LeadWrite,
    "leads",
    "/leads",
    "/leads/{id}",
    list_leads,
    get_lead,
    create_lead,
    update_lead,
    delete_lead,
    |c, x, b| create_record::<Lead>(c, x, b, "leads")
);
resource!(
    Deal,
    DealWrite,
    "deals",
    "/deals",
    "/deals/{id}",
    list_deals,
    get_deal,
    create_deal,
    update_deal,
    delete_deal,
    create_deal_in_pipeline
);

/// The fields a contact takes; `null` clears one.
// The *Write structs describe request bodies for the OpenAPI document only: bodies are
// read as JSON objects by `form_fields`, so that `null` can clear a field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ContactWrite {
    name: Option<String>,
    email: Option<String>,
    /// With its country code, or in the workspace's default region.
    phone: Option<String>,
    title: Option<String>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    /// The company's name: linked if the workspace has it, created if not.
    company: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CompanyWrite {
    name: Option<String>,
    phone: Option<String>,
    domain: Option<String>,
    industry: Option<String>,
    city: Option<String>,
    country: Option<String>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LeadWrite {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    source: Option<String>,
    status: Option<String>,
    score: Option<i32>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    company: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

/// A deal's fields. Creating one also takes `pipeline_id` and optionally `stage_id`
/// (the pipeline's first stage otherwise).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DealWrite {
    pipeline_id: Option<Uuid>,
    stage_id: Option<Uuid>,
    name: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    probability: Option<i32>,
    /// `YYYY-MM-DD`.
    expected_close_on: Option<String>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    company: Option<String>,
    /// The contact's email or exact name.
    contact: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDealBody {
    pipeline_id: Uuid,
    stage_id: Option<Uuid>,
    name: String,
    #[serde(default)]
    amount_minor: i64,
    currency: String,
    owner_id: Option<Uuid>,
    expected_close_on: Option<String>,
}

async fn create_deal_in_pipeline(
    caller: Caller,
    ctx: RequestCtx,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("deals", Access::Write)?;
    let input: NewDealBody = json_body(&body)?;
    if input.amount_minor < 0 {
        return Err(invalid(
            "amount_minor",
            "a whole number of minor units, 0 or more",
        ));
    }
    let env = env_of(&ctx);
    let card = app::crm::board::ssr::create_deal(
        &env,
        &NewDeal {
            pipeline_id: input.pipeline_id,
            stage_id: input.stage_id,
            name: input.name,
            amount: minor_text(input.amount_minor, &input.currency),
            currency: input.currency,
            owner_id: input.owner_id,
            expected_close_on: input.expected_close_on,
        },
    )
    .await
    .map_err(api_field)?;
    created::<Deal>(&caller, &ctx, "deals", card.id).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageMove {
    stage_id: Uuid,
    /// The deal's `version` as last read; a move from a stale read answers 409.
    /// Without it the move applies to the deal as it is.
    version: Option<i32>,
    /// Required when the stage is a lost stage.
    lost_reason: Option<String>,
}

/// Moves a deal to another stage of its pipeline, to the top of that column.
#[utoipa::path(post, path = "/deals/{id}/move", tag = "deals", params(("id" = Uuid, Path)), request_body = StageMove,
    responses((status = 200, body = Deal)))]
async fn move_deal(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("deals", Access::Write)?;
    let id = id.parse::<Uuid>().map_err(|_| not_found())?;
    let input: StageMove = json_body(&body)?;
    let version = match input.version {
        Some(v) => v,
        None => fetch::<Deal>(&caller, &ctx, id).await?.version,
    };
    let env = env_of(&ctx);
    app::crm::board::ssr::move_deal(
        &env,
        &DealMove {
            deal_id: id,
            version,
            stage_id: input.stage_id,
            after_id: None,
            lost_reason: input.lost_reason,
        },
    )
    .await?;
    Ok(with_etag(
        StatusCode::OK,
        fetch::<Deal>(&caller, &ctx, id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_minor_units_read_back_as_the_record_code_expects() {
        assert_eq!(minor_text(1_250_050, "EGP"), "12500.50");
        assert_eq!(minor_text(5, "USD"), "0.05");
        assert_eq!(minor_text(1500, "JPY"), "1500");
        assert_eq!(minor_text(1234, "KWD"), "1.234");
    }

    #[test]
    fn etags_round_trip() {
        let at = DateTime::from_timestamp_micros(1_796_000_000_123_456).unwrap();
        assert_eq!(parse_etag(&etag(at)), Some(at));
        assert_eq!(parse_etag("W/\"1796000000123456\""), Some(at));
        assert_eq!(parse_etag("\"yesterday\""), None);
    }

    #[test]
    fn bodies_become_form_fields_and_unknown_fields_are_named() {
        let (fields, custom) = form_fields(
            Entity::Contact,
            br#"{"name":"Mona","tags":["vip","cairo"],"phone":null,"custom":{"budget":5}}"#,
        )
        .unwrap();
        assert!(fields.contains(&("name".into(), "Mona".into())));
        assert!(fields.contains(&("tags".into(), "vip,cairo".into())));
        assert!(fields.contains(&("phone".into(), String::new())));
        assert_eq!(custom.get("budget").map(String::as_str), Some("5"));
        let err = form_fields(Entity::Contact, br#"{"salary":1}"#)
            .err()
            .unwrap();
        assert_eq!(err.field.as_deref(), Some("salary"));
        assert!(form_fields(Entity::Contact, b"[1,2]").is_err());
        assert!(form_fields(Entity::Deal, br#"{"amount_minor":100}"#).is_err());
        let nul = form_fields(Entity::Contact, br#"{"custom":{"note":"a\u0000b"}}"#)
            .err()
            .unwrap();
        assert_eq!(nul.field.as_deref(), Some("custom.note"));
    }
}
