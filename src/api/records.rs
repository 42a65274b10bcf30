//! Contacts, companies, leads and deals: list, get, create, update and delete, and a
//! deal's stage move. Each handler checks the key's scope, then calls the record code
//! the pages use.

use super::bodies::{
    api_field, form_fields, invalid, json_body, minor_text, CompanyWrite, ContactWrite, DealWrite,
    LeadWrite,
};
use super::{env_of, not_found, ApiError, Caller};
use crate::state::AppState;
use app::approvals::model::Approver;
use app::crm::board::model::{DealMove, NewDeal};
use app::crm::records::model::BulkAction;
use app::developers::model::Access;
use app::developers::objects::{
    self, ApiObject, Company, Contact, Cursor, Deal, FilterValue, Lead, ListQuery, RecordObject,
    Sort,
};
use app::request::RequestCtx;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
    /// `-created_at` (newest first, the default), `created_at`, `-updated_at` or
    /// `updated_at` (oldest change first: how a client syncs).
    sort: Option<String>,
    /// Related objects to include, comma-separated: `company`, `contact`, `lead`,
    /// `deal`, `unit`, `owner`, `stage`, where the object has them.
    expand: Option<String>,
    /// Objects created after this instant (RFC 3339).
    created_after: Option<DateTime<Utc>>,
    owner_id: Option<Uuid>,
    /// Objects carrying this tag.
    tag: Option<String>,
    /// Leads: NEW, PROSPECTED, CONTACTED, REPLIED, QUALIFIED, CONVERTED, LOST. Deals: OPEN, WON, LOST.
    /// Each object's own statuses otherwise.
    status: Option<String>,
    company_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    lead_id: Option<Uuid>,
    deal_id: Option<Uuid>,
    pipeline_id: Option<Uuid>,
    stage_id: Option<Uuid>,
    sequence_id: Option<Uuid>,
    unit_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    /// Activities: NOTE, TASK, CALL, MEETING, … Lists: STATIC or SMART.
    kind: Option<String>,
    /// Messages: WHATSAPP or EMAIL.
    channel: Option<String>,
    /// Messages: OUT or IN.
    direction: Option<String>,
    /// Lists: LEAD, CONTACT, COMPANY or DEAL.
    entity: Option<String>,
}

/// `expand=` on a single object.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpandParams {
    /// Related objects to include, comma-separated, as on the list.
    expand: Option<String>,
}

/// A page of objects, in the order asked for.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    data: Vec<T>,
    /// Pass as `starting_after` for the next page; absent on the last.
    next_cursor: Option<String>,
}

/// The names of `expand=`, each one the object can expand.
fn expansions<T: ApiObject>(expand: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    let mut names = Vec::new();
    for name in expand.unwrap_or("").split(',').map(str::trim) {
        if name.is_empty() {
            continue;
        }
        let Some(known) = T::EXPANDS.iter().find(|e| **e == name) else {
            return Err(invalid(
                "expand",
                &format!(
                    "{} cannot be expanded here; this object expands: {}",
                    name.chars().take(40).collect::<String>(),
                    if T::EXPANDS.is_empty() {
                        "nothing".to_string()
                    } else {
                        T::EXPANDS.join(", ")
                    }
                ),
            ));
        };
        if !names.contains(known) {
            names.push(*known);
        }
    }
    Ok(names)
}

/// The filters given, each checked to be one of the object's.
fn filters_of<T: ApiObject>(
    params: &ListParams,
) -> Result<Vec<(&'static str, FilterValue)>, ApiError> {
    let ids = [
        ("owner_id", params.owner_id),
        ("company_id", params.company_id),
        ("contact_id", params.contact_id),
        ("lead_id", params.lead_id),
        ("deal_id", params.deal_id),
        ("pipeline_id", params.pipeline_id),
        ("stage_id", params.stage_id),
        ("sequence_id", params.sequence_id),
        ("unit_id", params.unit_id),
        ("assignee_id", params.assignee_id),
    ];
    let codes = [
        ("tag", &params.tag),
        ("status", &params.status),
        ("kind", &params.kind),
        ("channel", &params.channel),
        ("direction", &params.direction),
        ("entity", &params.entity),
    ];
    let mut out = Vec::new();
    let check = |name: &str| {
        if T::FILTERS.contains(&name) {
            Ok(())
        } else {
            Err(invalid(name, "not a filter of this list"))
        }
    };
    for (name, value) in ids {
        if let Some(id) = value {
            check(name)?;
            out.push((name, FilterValue::Id(id)));
        }
    }
    for (name, value) in codes {
        if let Some(text) = value {
            check(name)?;
            if text.contains('\0') {
                return Err(invalid(name, "text cannot hold a NUL character"));
            }
            // Codes are upper case; a tag is as written.
            let text = if name == "tag" {
                text.clone()
            } else {
                text.trim().to_ascii_uppercase()
            };
            out.push((name, FilterValue::Code(text)));
        }
    }
    Ok(out)
}

pub(super) async fn list_of<T: ApiObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    params: ListParams,
) -> Result<Response, ApiError> {
    list_within::<T>(caller, ctx, resource, params, Vec::new()).await
}

/// A list with `fixed` filters besides the caller's: a list's members are the list's.
pub(super) async fn list_within<T: ApiObject>(
    caller: &Caller,
    ctx: &RequestCtx,
    resource: &str,
    params: ListParams,
    fixed: Vec<(&'static str, FilterValue)>,
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
    let mut filters = filters_of::<T>(&params)?;
    filters.extend(fixed);
    let expand = expansions::<T>(params.expand.as_deref())?;
    let sort = match params.sort.as_deref() {
        None => Sort::default(),
        Some(text) => Sort::parse(text).ok_or_else(|| {
            invalid(
                "sort",
                "one of -created_at, created_at, -updated_at, updated_at",
            )
        })?,
    };
    let after = match &params.starting_after {
        None => None,
        Some(text) => Some(
            Cursor::decode(text)
                .filter(|c| c.sort == sort)
                .ok_or_else(|| invalid("starting_after", "not a cursor of this list's order"))?,
        ),
    };
    let query = ListQuery {
        limit,
        after,
        sort,
        filters,
        created_after: params.created_after,
    };
    let p = &caller.0.principal;
    let mut tx = ctx.db.tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let (mut data, next) = objects::list::<T>(&mut tx, p.tenant_id, &query).await?;
    objects::expand(&mut tx, p.tenant_id, &mut data, &expand).await?;
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

/// The version `If-Match` names, if the request has one.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<DateTime<Utc>>, ApiError> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => Ok(Some(v.to_str().ok().and_then(parse_etag).ok_or_else(
            || {
                ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                    "If-Match is not an ETag of this API",
                )
            },
        )?)),
    }
}

/// An update's error: with `If-Match`, a conflict is the precondition failing (412).
pub(super) fn precondition(err: app::error::AppError, if_match: Option<DateTime<Utc>>) -> ApiError {
    match err {
        app::error::AppError::Conflict(message) if if_match.is_some() => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            message,
        ),
        e => api_field(e),
    }
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
    params: &ExpandParams,
) -> Result<Response, ApiError> {
    caller.require(resource, Access::Read)?;
    let expand = expansions::<T>(params.expand.as_deref())?;
    let p = &caller.0.principal;
    let mut tx = ctx.db.tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let mut found: Vec<T> = objects::get::<T>(&mut tx, p.tenant_id, id)
        .await?
        .into_iter()
        .collect();
    objects::expand(&mut tx, p.tenant_id, &mut found, &expand).await?;
    tx.commit().await?;
    Ok(with_etag(
        StatusCode::OK,
        found.pop().ok_or_else(not_found)?,
    ))
}

/// The query of a list request, or 400 with why it does not parse.
pub(super) fn query_of<Q>(
    q: Result<Query<Q>, axum::extract::rejection::QueryRejection>,
) -> Result<Q, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
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

pub(super) async fn created<T: ApiObject>(
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
    let if_match = if_match(headers)?;
    let (fields, custom) = form_fields(T::ENTITY, body)?;
    let env = env_of(ctx);
    app::crm::records::ssr::update_if(&env, T::ENTITY, id, &fields, &custom, if_match)
        .await
        .map_err(|e| precondition(e, if_match))?;
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

/// The list and get handlers of one kind of object, each with its OpenAPI annotation.
macro_rules! readable {
    ($object:ty, $resource:literal, $tag:literal, $path:literal, $item:literal, $list:ident, $get:ident) => {
        #[utoipa::path(get, path = $path, tag = $tag, params(ListParams),
                            responses((status = 200, body = Page<$object>)))]
        async fn $list(
            Extension(caller): Extension<Caller>,
            Extension(ctx): Extension<RequestCtx>,
            params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
        ) -> Result<Response, ApiError> {
            list_of::<$object>(&caller, &ctx, $resource, query_of(params)?).await
        }

        #[utoipa::path(get, path = $item, tag = $tag, params(("id" = Uuid, Path), ExpandParams),
                            responses((status = 200, body = $object, headers(("ETag" = String)))))]
        async fn $get(
            Extension(caller): Extension<Caller>,
            Extension(ctx): Extension<RequestCtx>,
            Path(id): Path<String>,
            params: Result<Query<ExpandParams>, axum::extract::rejection::QueryRejection>,
        ) -> Result<Response, ApiError> {
            let id = id.parse::<Uuid>().map_err(|_| not_found())?;
            get_of::<$object>(&caller, &ctx, $resource, id, &query_of(params)?).await
        }
    };
}
pub(super) use readable;

/// Handlers for one kind of record, each with its OpenAPI annotation.
macro_rules! resource {
    ($object:ty, $write:ty, $resource:literal, $path:literal, $item:literal, $list:ident, $get:ident, $create:ident, $update:ident, $delete:ident, $create_body:expr) => {
        readable!($object, $resource, $resource, $path, $item, $list, $get);

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
            ..NewDeal::default()
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

/// A stage move an approval rule held: it applies when every level has approved.
#[derive(Serialize, ToSchema)]
pub struct HeldMove {
    /// The approval request's id.
    id: Uuid,
    /// PENDING until decided.
    status: String,
    deal_id: Uuid,
    /// The stage the deal moves to once approved.
    stage_id: Uuid,
    /// The level deciding now, from 1, of `levels`.
    level: i32,
    levels: i32,
    /// Who decides the current level: MANAGER, ADMIN, OWNER (that role or above), or a member's name.
    approver: String,
    message: String,
}

/// Moves a deal to another stage of its pipeline, to the top of that column. When one of
/// the workspace's approval rules covers the move, the deal stays where it is and the
/// answer is 202 with the approval request instead.
#[utoipa::path(post, path = "/deals/{id}/move", tag = "deals", params(("id" = Uuid, Path)), request_body = StageMove,
    responses((status = 200, body = Deal), (status = 202, body = HeldMove)))]
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
    let card = app::crm::board::ssr::move_deal(
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
    if let Some(held) = card
        .pending_approval
        .filter(|p| card.stage_id != input.stage_id && p.to_stage_id == input.stage_id)
    {
        let approver = match &held.approver {
            Approver::Role(r) => r.as_str().to_string(),
            Approver::Member { name, .. } => name.clone(),
        };
        let message = held.held_message(ctx.locale);
        return Ok((
            StatusCode::ACCEPTED,
            Json(HeldMove {
                id: held.request_id,
                status: "PENDING".into(),
                deal_id: id,
                stage_id: held.to_stage_id,
                level: held.level,
                levels: held.levels,
                approver,
                message,
            }),
        )
            .into_response());
    }
    Ok(with_etag(
        StatusCode::OK,
        fetch::<Deal>(&caller, &ctx, id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip() {
        let at = DateTime::from_timestamp_micros(1_796_000_000_123_456).unwrap();
        assert_eq!(parse_etag(&etag(at)), Some(at));
        assert_eq!(parse_etag("W/\"1796000000123456\""), Some(at));
        assert_eq!(parse_etag("\"yesterday\""), None);
    }
}
