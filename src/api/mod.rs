//! The public REST API, `/api/v1`: bearer API keys with scopes, a rate limit per key
//! and per plan kept in PostgreSQL (so it holds across instances), Stripe-style
//! idempotency keys, and one JSON problem shape for every error. The handlers call
//! the same record code the pages do (`app::crm`), so tenancy, validation and audit
//! are the pages' own; the OpenAPI document is built from the handlers' annotations.

mod activities;
mod bodies;
mod idempotency;
mod outreach;
mod queue;
mod records;

use crate::session_store::PgSessionStore;
use crate::state::AppState;
use crate::web::request_id;
use app::db::Db;
use app::developers::model::{allows, Access};
use app::developers::ssr::{authenticate, ApiCaller, Refusal};
use app::error::AppError;
use app::i18n::Locale;
use app::request::{Env, RequestCtx};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// API bodies are records: a megabyte is far more than any.
pub const MAX_API_BODY: usize = 1024 * 1024;
/// Where problem types are documented; the type URI names the problem.
const PROBLEM_BASE: &str = "https://leadline.dev/problems/";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Leadline API",
        version = "1",
        description = "The records of one workspace: contacts, companies, leads, deals and their pipelines, activities, lists, messages, sequences and enrolments, units and their holds, and review items. Authenticate with an API key as a bearer token. Lists page with cursors (`starting_after`), sort on `created_at` or `updated_at`, filter on indexed fields and `expand` related objects. POST requests accept an Idempotency-Key header; PATCH accepts If-Match with the ETag of a GET."
    ),
    servers((url = "/api/v1")),
    security(("api_key" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("llk_…")
                    .build(),
            ),
        );
    }
}

/// Every operation documents the problems it can answer, as `application/problem+json`
/// with the [`Problem`] schema: the ones any request can meet (a malformed request, no
/// or a wrong key, a missing scope, the rate limit), and those of its kind.
struct ProblemResponses;

const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            "Problem".into(),
            <Problem as utoipa::PartialSchema>::schema(),
        );
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        PROBLEM_CONTENT_TYPE,
                        Content::new(Some(Ref::from_schema_name("Problem"))),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let on_one = path.contains("{id}");
            let methods = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, operation) in methods {
                let Some(operation) = operation else { continue };
                let writes = matches!(method, "post" | "patch");
                let mut codes = vec![
                    (
                        "400",
                        "The request is malformed: a body that is not JSON, a bad query",
                    ),
                    (
                        "401",
                        "No API key, or one that is unknown, revoked or expired",
                    ),
                    (
                        "403",
                        "The key lacks the scope, or is used from an address it may not be",
                    ),
                    (
                        "429",
                        "The key's or the workspace's rate limit a minute, or the plan's allowance an hour; see Retry-After and RateLimit-Policy",
                    ),
                ];
                // A path's object, or one a body names (a message's lead, a hold's unit).
                if on_one || method == "post" {
                    codes.push(("404", "No such object in this workspace"));
                }
                // Every GET takes `expand`, lists their filters, sort and cursor.
                if writes || method == "get" {
                    codes.push(("422", "A field or parameter is invalid; `field` names it"));
                }
                if writes {
                    codes.push((
                        "409",
                        "A conflicting change, or the Idempotency-Key is still in use",
                    ));
                    codes.push(("413", "The body is larger than 1 MB"));
                }
                if method == "patch" {
                    codes.push(("412", "If-Match does not match the object's ETag"));
                }
                for (code, description) in codes {
                    operation
                        .responses
                        .responses
                        .insert(code.to_string(), problem(description));
                }
            }
        }
    }
}

/// The API's routes and its OpenAPI document, from the same annotations.
pub fn router_and_doc() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(records::routes())
        .merge(activities::routes())
        .merge(outreach::routes())
        .merge(queue::routes())
        .split_for_parts();
    // After the routes are in: `#[openapi(modifiers)]` would run before there are any.
    BearerAuth.modify(&mut doc);
    ProblemResponses.modify(&mut doc);
    (router, doc)
}

/// `/api/v1/…`: the document is public, everything else needs a key.
pub fn routes(state: AppState) -> Router<AppState> {
    let (api, doc) = router_and_doc();
    app::developers::reference::install(&serde_json::to_value(&doc).unwrap_or_default());
    let doc = Arc::new(doc);
    let api = api
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::guard,
        ))
        .layer(middleware::from_fn_with_state(state, authenticate_key));
    Router::new()
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .nest("/api/v1", api)
        // Unknown API paths answer in the API's shape, not as a server function.
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async { problem_response(not_found()) }),
        )
}

/// Every error of the API: a type URI, a message, the field when one is to blame, and
/// the request id to quote to support.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `https://leadline.dev/problems/<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub status: u16,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub request_id: String,
}

/// A problem before its request id is known.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    field: Option<String>,
    retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> ApiError {
        let status =
            StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = match &err {
            AppError::Validation { .. } => "validation",
            AppError::Unauthorized(_) => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::PaymentRequired(_) => "payment_required",
            AppError::Locked(_) => "locked",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Internal { .. } => "internal",
            AppError::Transport(_) => "bad_request",
        };
        let retry_after = match &err {
            AppError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        ApiError {
            status,
            kind,
            field: match &err {
                AppError::Validation { field, .. } => Some(field.clone()),
                _ => None,
            },
            message: err.to_string(),
            retry_after,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        AppError::from(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem_response(self)
    }
}

/// The request id is filled in by [`stamp_request_id`] on the way out.
fn problem_response(err: ApiError) -> Response {
    let body = Problem {
        kind: format!("{PROBLEM_BASE}{}", err.kind),
        status: err.status.as_u16(),
        message: err.message,
        field: err.field,
        request_id: String::new(),
    };
    let mut response = (err.status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    if let Some(secs) = err.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.into());
    }
    response.extensions_mut().insert(NeedsRequestId);
    response
}

#[derive(Clone)]
struct NeedsRequestId;

/// Writes the request id into a problem body made without it.
pub async fn stamp_request_id(req: Request, next: Next) -> Response {
    let id = request_id(req.extensions());
    let response = next.run(req).await;
    let ours = response.extensions().get::<NeedsRequestId>().is_some();
    let status = response.status();
    if !(ours || status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_API_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut json: serde_json::Value = if ours {
        serde_json::from_slice(&bytes).unwrap_or_default()
    } else {
        // A layer's or an extractor's own refusal (a body over the limit, a path that
        // does not decode): in the API's shape too.
        let kind = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        serde_json::json!({
            "type": format!("{PROBLEM_BASE}{kind}"),
            "status": status.as_u16(),
            "message": String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>(),
        })
    };
    json["request_id"] = serde_json::Value::String(id);
    let bytes = serde_json::to_vec(&json).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

pub fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
}

/// The key behind the request, for a handler.
#[derive(Clone)]
pub struct Caller(pub Arc<ApiCaller>);

impl Caller {
    /// The key's scopes allow this, or 403 naming the scope it lacks.
    pub fn require(&self, resource: &str, access: Access) -> Result<(), ApiError> {
        if allows(&self.0.scopes, resource, access) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this API key lacks the {resource}:{} scope", access.code()),
            ))
        }
    }
}

/// Bearer key → principal, and the rate limit: per key, and per tenant by its plan,
/// each a one-minute window counted in PostgreSQL. Every answer carries the
/// `RateLimit-*` headers of the tighter of the two.
async fn authenticate_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    let ip = crate::web::request_ip(&req, &state.http.trusted_proxies);
    let unauthenticated = |message: &str| {
        let mut r = problem_response(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            message,
        ));
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"leadline\""),
        );
        r
    };
    if token.is_empty() {
        return unauthenticated("send an API key as Authorization: Bearer llk_…");
    }
    let caller = match authenticate(&state.db, &token, ip, chrono::Utc::now()).await {
        Ok(Ok(c)) => c,
        Ok(Err(Refusal::Unauthenticated(why))) => return unauthenticated(why),
        Ok(Err(Refusal::AddressNotAllowed)) => {
            return problem_response(ApiError::new(
                StatusCode::FORBIDDEN,
                "address_not_allowed",
                "this API key may not be used from this address",
            ))
        }
        Ok(Err(Refusal::NotInPlan(plan))) => {
            return problem_response(ApiError::new(
                StatusCode::FORBIDDEN,
                "feature_not_in_plan",
                app::billing::features::refusal(
                    Locale::En,
                    app::billing::model::Feature::Api,
                    &plan,
                ),
            ))
        }
        Err(e) => return problem_response(e.into()),
    };
    let limits = match rate(&state, &caller).await {
        Ok(l) => l,
        Err(e) => return problem_response(e.into()),
    };
    let locale = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Locale::from_accept_language)
        .unwrap_or_default();
    if limits.remaining < 0 {
        let detail = if limits.hourly {
            format!(
                "the {} plan allows {} API requests an hour, all used; more in {} min, or a higher plan raises the allowance (Billing, /billing)",
                caller.plan_name,
                limits.limit,
                limits.reset.div_ceil(60)
            )
        } else {
            format!("rate limit of {} requests a minute reached", limits.limit)
        };
        let mut r = problem_response(ApiError {
            retry_after: Some(limits.reset),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
        });
        limits.write(r.headers_mut());
        return r;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        // A workspace whose dunning ran out reads but does not write.
        match unpaid_invoice(&state.db, caller.principal.tenant_id).await {
            Ok(None) => {}
            Ok(Some(number)) => {
                return problem_response(
                    AppError::PaymentRequired(app::billing::payments::read_only_message(
                        locale, number,
                    ))
                    .into(),
                )
            }
            Err(e) => return problem_response(e.into()),
        }
    }
    let ctx = RequestCtx {
        db: state.db.clone(),
        config: state.config.clone(),
        request_id: request_id(req.extensions()),
        ip: ip.map(|i| i.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect()),
        locale,
        principal: Some(caller.principal.clone()),
    };
    let span = tracing::Span::current();
    span.record(
        "tenant_id",
        tracing::field::display(caller.principal.tenant_id),
    );
    req.extensions_mut().insert(Caller(Arc::new(caller)));
    req.extensions_mut().insert(ctx);
    let mut response = next.run(req).await;
    limits.write(response.headers_mut());
    response
}

async fn unpaid_invoice(db: &Db, tenant: uuid::Uuid) -> Result<Option<i32>, AppError> {
    let mut tx = db.tenant_tx(tenant, None).await?;
    let number = app::billing::payments::unpaid_invoice(&mut tx).await?;
    tx.commit().await?;
    Ok(number)
}

/// The record code takes an [`Env`]; an API request has no session, so it gets an
/// empty one that is never saved.
pub fn env_of(ctx: &RequestCtx) -> Env {
    let store = Arc::new(PgSessionStore::new(ctx.db.pool().clone()));
    Env {
        ctx: ctx.clone(),
        session: tower_sessions::Session::new(None, store, None),
    }
}

/// The limit closest to running out, as the RateLimit headers report it, and every
/// limit that applies as `RateLimit-Policy` lists them ("300;w=60, 5000;w=3600").
struct Limits {
    limit: i32,
    remaining: i32,
    reset: u32,
    /// Whether that limit is the plan's hourly allowance (rather than a minute's).
    hourly: bool,
    policy: String,
}

impl Limits {
    fn write(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", self.limit.into());
        headers.insert("ratelimit-remaining", self.remaining.max(0).into());
        headers.insert("ratelimit-reset", self.reset.into());
        if let Ok(policy) = HeaderValue::from_str(&self.policy) {
            headers.insert("ratelimit-policy", policy);
        }
    }
}

async fn rate(state: &AppState, caller: &ApiCaller) -> Result<Limits, AppError> {
    let (key_hits, key_reset, tenant_hits, tenant_reset, hour_hits, hour_reset): (
        i32,
        i32,
        i32,
        i32,
        i32,
        i32,
    ) = sqlx::query_as("SELECT * FROM api_rate_take($1, $2, $3, $4, $5)")
        .bind(caller.principal.user_id.to_string())
        .bind(caller.principal.tenant_id.to_string())
        .bind(caller.key_per_minute)
        .bind(caller.tenant_per_minute)
        .bind(caller.tenant_per_hour)
        .fetch_one(state.db.pool())
        .await?;
    Ok(tightest(
        [
            Some((caller.key_per_minute, key_hits, key_reset, false)),
            Some((caller.tenant_per_minute, tenant_hits, tenant_reset, false)),
            caller
                .tenant_per_hour
                .map(|limit| (limit, hour_hits, hour_reset, true)),
        ]
        .into_iter()
        .flatten(),
    ))
}

/// Of the limits that apply, as (limit, hits in its window, seconds to its reset,
/// hourly), the one with the fewest requests left.
fn tightest(limits: impl Iterator<Item = (i32, i32, i32, bool)>) -> Limits {
    let mut policy = Vec::new();
    let mut closest: Option<Limits> = None;
    for (limit, hits, reset, hourly) in limits {
        policy.push(format!("{limit};w={}", if hourly { 3600 } else { 60 }));
        let this = Limits {
            limit,
            remaining: limit - hits,
            reset: reset.max(1) as u32,
            hourly,
            policy: String::new(),
        };
        if closest
            .as_ref()
            .is_none_or(|c| this.remaining < c.remaining)
        {
            closest = Some(this);
        }
    }
    policy.dedup();
    let mut closest = closest.unwrap_or(Limits {
        limit: 0,
        remaining: 0,
        reset: 1,
        hourly: false,
        policy: String::new(),
    });
    closest.policy = policy.join(", ");
    closest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_closest_to_running_out_is_reported_with_every_policy() {
        // 300 a minute with 10 used; 5000 an hour with 4,995 used.
        let l = tightest([(300, 10, 50, false), (5000, 4995, 1800, true)].into_iter());
        assert_eq!(
            (l.limit, l.remaining, l.reset, l.hourly),
            (5000, 5, 1800, true)
        );
        assert_eq!(l.policy, "300;w=60, 5000;w=3600");
        let l = tightest([(60, 61, 0, false), (60, 3, 40, false)].into_iter());
        assert_eq!(
            (l.limit, l.remaining, l.reset, l.hourly),
            (60, -1, 1, false)
        );
        assert_eq!(l.policy, "60;w=60");
    }

    #[test]
    fn every_route_is_in_the_document() {
        let (_, doc) = router_and_doc();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let paths = json["paths"].as_object().unwrap();
        let routes = records::ROUTES
            .iter()
            .chain(activities::ROUTES)
            .chain(outreach::ROUTES);
        for (path, methods) in routes {
            let item = paths
                .get(*path)
                .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
            for m in *methods {
                assert!(
                    item.get(*m).is_some(),
                    "{m} {path} missing from the document"
                );
            }
        }
    }
}
