//! The HTTP surface: pages, server functions, static files, health and metrics, and
//! the middleware every request passes (request id, security headers, body limits,
//! CSRF, session, tenant context).

mod address;
mod files;
mod observe;

pub(crate) use address::request_ip;
use address::{peer, throttle_public};
pub(crate) use observe::request_id;
use observe::{count_request, drop_unsafe_request_id, log_answer, request_span, RequestIds};

use crate::session_store::PgSessionStore;
use app::auth::model::PageContext;
use app::auth::ssr::Workspaces;
use app::error::AppError;
use app::i18n::Locale;
use app::request::{keys, Env, RequestCtx};
use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{AxumRouteListing, LeptosRoutes};
use secrecy::ExposeSecret;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

/// Request bodies above this answer 413: enough for any form or server function.
/// Uploads have their own limits (`web::files`).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Provider webhooks carry small JSON events.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub use crate::state::{loopback, AppState, HttpConfig};

pub fn router(state: AppState) -> Router {
    // Before the first request, or what it records would go to no recorder.
    crate::metrics::handle();
    let store = PgSessionStore::new(state.db.pool().clone());
    let sessions = SessionManagerLayer::new(store)
        .with_name("leadline_session")
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        // Until sign-in sets the tenant's own idle timeout.
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(8)));

    let pkg_dir = std::path::Path::new(&*state.leptos_options.site_root)
        .join(&*state.leptos_options.site_pkg_dir);
    let pkg = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            // File names carry a content hash, so a name never changes meaning.
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
        .service(
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        );

    let routes = (*state.routes).clone();
    let dynamic = Router::new()
        .route("/api/{*fn_name}", post(server_fn_handler))
        .route("/events", get(crate::events::live_events))
        .route("/jobs/{id}/download/{name}", get(files::job_download))
        .route("/files/plans/{id}", get(files::plan_file))
        .route("/files/projects/{id}/cover", get(files::project_cover))
        .route("/files/template-files/{id}", get(files::template_file))
        .route("/billing/invoices/{id}/pdf", get(files::invoice_pdf))
        .leptos_routes_with_handler(routes, get(render_handler))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_request_nonce, app::shell))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Added after the limit above, so only its own (larger) limit applies.
        .route("/import/upload", post(files::import_upload))
        .route("/inventory/plans/upload", post(files::plan_upload))
        .route("/inventory/units/import", post(files::units_import))
        .route("/inventory/projects/cover", post(files::cover_upload))
        .route(
            "/outreach/templates/files",
            post(files::template_file_upload),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .layer(sessions)
        .layer(middleware::from_fn(csrf_guard));

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(app::auth::plain::script_url(), get(plain_pages_script))
        .route("/assets/i18n/{file}", get(string_table))
        .nest_service(&format!("/{}", state.leptos_options.site_pkg_dir), pkg)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .merge(
            crate::webhooks::routes()
                .layer(RequestBodyLimitLayer::new(MAX_WEBHOOK_BYTES))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    throttle_public,
                )),
        )
        .merge(
            crate::api::routes(state.clone())
                .layer(RequestBodyLimitLayer::new(crate::api::MAX_API_BODY))
                .layer(middleware::from_fn(crate::api::stamp_request_id)),
        )
        .merge(dynamic)
        // A body that stops arriving gives its connection back.
        .layer(RequestBodyTimeoutLayer::new(state.http.timeouts.body_read))
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        // Inside the security headers, the trace and the request id, so a panic's 500
        // carries them and is counted and logged under its request.
        .layer(catch_panics())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(middleware::from_fn(count_request))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(log_answer)
                // A 5xx is already logged where it happens, with its reference.
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RequestIds))
        .layer(middleware::from_fn(drop_unsafe_request_id))
        .with_state(state)
}

type PanicResponder = fn(Box<dyn std::any::Any + Send + 'static>) -> Response;

/// A panic left in a handler becomes a 500 with a reference the user can quote, and
/// the panic goes to the log under that reference, instead of a dropped connection.
fn catch_panics() -> CatchPanicLayer<PanicResponder> {
    CatchPanicLayer::custom(panic_response as PanicResponder)
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)");
    match app::db::internal(format!("handler panicked: {detail}")) {
        AppError::Internal { message, reference } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CACHE_CONTROL, "no-store")],
            format!("{message} (reference {reference})"),
        )
            .into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    match sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(state.db.pool())
        .await
    {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// The script of the pages before sign-in; its name carries its hash.
async fn plain_pages_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        app::auth::plain::SCRIPT,
    )
        .into_response()
}

/// A language's strings for the browser (`app::i18n::table_url`); the name carries
/// the content's hash, so an old name answers 404 rather than other strings.
async fn string_table(Path(file): Path<String>) -> Response {
    match app::i18n::table_file(&file) {
        Some(json) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            json,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Metrics tell how busy we are and when: for the monitoring host (an allowed address)
/// or whoever holds the token. Everyone else sees no such page.
async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    let pool = state.db.pool();
    metrics_page(&state.http, &req, || {
        crate::metrics::render(pool.size(), pool.num_idle())
    })
}

/// `/metrics` of the server, and of a worker on its own (`worker_metrics`).
fn metrics_page(http: &HttpConfig, req: &Request, render: impl FnOnce() -> String) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token_ok = match (&http.metrics_token, bearer) {
        (Some(expected), Some(given)) => app::crypto::constant_time_eq(
            expected.expose_secret().as_bytes(),
            given.trim().as_bytes(),
        ),
        _ => false,
    };
    // A request relayed by a proxy we were not told about (one on this machine makes
    // everyone look local) has no address we can judge.
    let relayed = req.headers().contains_key("x-forwarded-for")
        || req.headers().contains_key(header::FORWARDED);
    let peer_is_proxy =
        peer(req).is_some_and(|ip| http.trusted_proxies.iter().any(|n| n.contains(&ip)));
    let address_ok = (!relayed || peer_is_proxy)
        && request_ip(req, &http.trusted_proxies)
            .is_some_and(|ip| http.metrics_allow.iter().any(|n| n.contains(&ip)));
    if !token_ok && !address_ok {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(),
    )
        .into_response()
}

/// What a worker running alone (`leadline worker`) serves on
/// `LEADLINE_WORKER_METRICS_ADDR`: its own `/metrics`, under the server's rules.
pub fn worker_metrics(http: HttpConfig, pool: sqlx::PgPool) -> Router {
    Router::new().route(
        "/metrics",
        get(move |req: Request| async move {
            metrics_page(&http, &req, || {
                crate::metrics::render(pool.size(), pool.num_idle())
            })
        }),
    )
}

async fn server_fn_handler(req: Request<Body>) -> Response {
    let response = leptos_axum::handle_server_fns_with_context(|| {}, req)
        .await
        .into_response();
    arguments_error_is_bad_request(response).await
}

/// Leptos answers 500 when a server function's arguments cannot be decoded (a form
/// sent where JSON is expected, a missing field, a number that is not one) before our
/// code runs to choose a status. That is the caller's mistake: it becomes a 400 with
/// the same reason. Only 500s are looked at, and their bodies are small JSON errors.
async fn arguments_error_is_bad_request(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
    };
    if matches!(
        serde_json::from_slice::<AppError>(&bytes),
        Ok(AppError::Transport(_))
    ) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn render_handler(State(state): State<AppState>, req: Request<Body>) -> Response {
    let ctx = req.extensions().get::<RequestCtx>().cloned();
    let mut page = PageContext {
        locale: ctx.as_ref().map(|c| c.locale).unwrap_or_default(),
        viewer: None,
    };
    let workspaces = req.extensions().get::<Workspaces>();
    if let Some((ctx, principal, workspaces)) = ctx
        .as_ref()
        .and_then(|c| Some((c, c.principal.as_ref()?, workspaces?)))
    {
        match app::auth::ssr::viewer(principal, ctx.locale, workspaces) {
            Ok(viewer) => page.viewer = Some(viewer),
            Err(e) => return error_page(&e.to_string()),
        }
    }
    let options = state.leptos_options.clone();
    // leptos_axum wants the listings by value and only looks up the matched one:
    // handing it that one saves copying every route's listing on every page.
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let listing: Vec<AxumRouteListing> = state
        .routes
        .iter()
        .filter(|r| Some(r.path()) == matched)
        .cloned()
        .collect();
    let handler = leptos_axum::render_route_with_context(
        listing,
        move || {
            provide_context(page.clone());
            provide_request_nonce();
        },
        move || app::shell(options.clone()),
    );
    handler(State(state), req).await.into_response()
}

/// Gives the render the nonce that `security_headers` put in this response's policy,
/// in place of the one leptos_axum made up, so the inline scripts carry the right one.
fn provide_request_nonce() {
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

/// What a handler outside the server functions knows about its request.
fn request_env(req: &Request) -> Result<Env, AppError> {
    let ctx = req
        .extensions()
        .get::<RequestCtx>()
        .cloned()
        .ok_or_else(|| app::db::internal("request context missing"))?;
    let session = req
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or_else(|| app::db::internal("session layer missing"))?;
    Ok(Env { ctx, session })
}

/// An error as the JSON the app's error type reads, with its status.
fn error_json(err: AppError) -> Response {
    let status =
        StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(err)).into_response()
}

/// `Content-Disposition` for a download: an ASCII name for old clients and the real
/// (often Arabic) name in RFC 5987 form for the rest.
fn attachment(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        app::encode::component(file_name)
    )
}

fn error_page(message: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("Leadline is unavailable right now: {message}"),
    )
        .into_response()
}

/// Headers every response carries, and the Content-Security-Policy nonce: made here
/// per request, put in the policy and, through the request, on every inline script
/// the page render writes (`provide_request_nonce`).
async fn security_headers(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    req.extensions_mut().insert(nonce.clone());
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    // A handler's own, stricter policy (a stored file's) stands.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if state.http.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// Scripts: our own files, the WASM they compile ('wasm-unsafe-eval') and the inline
/// hydration scripts that carry this response's nonce. Styles allow inline because
/// pages set `style` attributes (the tenant's brand colour).
fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )
}

/// Server functions have no CSRF protection of their own: a state-changing request
/// from another site is refused. Browsers send `Sec-Fetch-Site` (and `Origin`) on
/// every POST; clients that send neither are not browsers and carry no ambient
/// cookies of a victim.
async fn csrf_guard(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if !same_site(&req) {
        tracing::warn!("cross-site request refused");
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    next.run(req).await
}

fn same_site(req: &Request) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            origin.split_once("://").map(|(_, rest)| rest) == Some(host)
        }
    }
}

/// Paths anyone may open without signing in.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/login/2fa" | "/signup" | "/forgot" | "/favicon.ico"
    ) || path.starts_with("/invite/")
        || path.starts_with("/reset/")
        || path.starts_with("/verify/")
        || path.starts_with("/api/")
}

/// Resolves who is signed in to which tenant and in which language, for the page
/// render and the server functions; sends signed-out visitors to the sign-in page.
async fn request_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return error_page("session layer missing");
    };
    let resolved = match state.principals.resolve(&state.db, &session).await {
        Ok(r) => r,
        Err(e) => return error_page(&e.to_string()),
    };
    let header_locale = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Locale::from_accept_language)
        .unwrap_or_default();
    let (principal, locale) = match resolved {
        Some((p, l, workspaces)) => {
            req.extensions_mut().insert(workspaces);
            (Some(p), l)
        }
        None => (None, header_locale),
    };
    if let Some(p) = &principal {
        // Activity keeps a session alive for its idle timeout; the store writes the
        // pushed-on expiry at most once a minute.
        if let Ok(Some(idle)) = session.get::<i64>(keys::IDLE_MINUTES).await {
            session.set_expiry(Some(Expiry::OnInactivity(time::Duration::minutes(idle))));
        }
        let span = tracing::Span::current();
        span.record("tenant_id", tracing::field::display(p.tenant_id));
        span.record("user_id", tracing::field::display(p.user_id));
    }
    let path = req.uri().path().to_string();
    if req.method() == Method::GET {
        match &principal {
            None if !is_public(&path) => {
                let next_url = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                return Redirect::to(&format!("/login?next={}", app::encode::path(next_url)))
                    .into_response();
            }
            Some(_) if path == "/login" || path == "/signup" => {
                return Redirect::to("/").into_response()
            }
            Some(p) if p.must_enrol_2fa && !is_public(&path) && path != "/settings/two-factor" => {
                return Redirect::to("/settings/two-factor").into_response();
            }
            // The shell's banner there offers to send the confirmation link again.
            Some(p) if p.must_verify_email && !is_public(&path) && path != "/settings" => {
                return Redirect::to("/settings").into_response();
            }
            _ => {}
        }
    }
    let ctx = RequestCtx {
        db: app::billing::payments::request_db(&state.db, principal.as_ref(), locale),
        config: state.config.clone(),
        request_id: request_id(req.extensions()),
        ip: request_ip(&req, &state.http.trusted_proxies).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect()),
        locale,
        principal,
    };
    req.extensions_mut().insert(ctx);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::config::LeptosOptions;
    use leptos_axum::generate_route_list;

    fn post(headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().method("POST").uri("/api/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn csrf_accepts_same_origin_only() {
        assert!(same_site(&post(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_site(&post(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_site(&post(&[("sec-fetch-site", "same-site")])));
        assert!(same_site(&post(&[
            ("origin", "http://a.test:3000"),
            ("host", "a.test:3000")
        ])));
        assert!(!same_site(&post(&[
            ("origin", "http://evil.test"),
            ("host", "a.test:3000")
        ])));
        assert!(same_site(&post(&[])));
    }

    #[test]
    fn downloads_keep_their_arabic_names() {
        assert_eq!(
            attachment("عملاء.csv"),
            "attachment; filename=\"_____.csv\"; filename*=UTF-8''%D8%B9%D9%85%D9%84%D8%A7%D8%A1.csv"
        );
        assert_eq!(
            attachment("leads 2026.csv"),
            "attachment; filename=\"leads 2026.csv\"; filename*=UTF-8''leads%202026.csv"
        );
    }

    /// The real page routes, as the server registers them, behind a layer placed as
    /// `request_span` and `count_request` are: what they would log for an invite link.
    #[tokio::test]
    async fn logs_name_the_route_not_the_token() {
        use tower::ServiceExt;
        let options = LeptosOptions::builder().output_name("leadline").build();
        let router: Router = Router::<LeptosOptions>::new()
            .leptos_routes_with_handler(generate_route_list(app::App), get(|| async { "page" }))
            .route("/u/{token}", get(|| async { "unsubscribe" }))
            .layer(middleware::from_fn(|req: Request, next: Next| async move {
                let logged = observe::log_path(&req);
                let mut res = next.run(req).await;
                res.headers_mut()
                    .insert("x-logged", HeaderValue::from_str(&logged).unwrap());
                res
            }))
            .with_state(options);
        let logged = |path: &'static str| {
            let router = router.clone();
            async move {
                let req = axum::http::Request::get(path).body(Body::empty()).unwrap();
                let res = router.oneshot(req).await.unwrap();
                res.headers()["x-logged"].to_str().unwrap().to_string()
            }
        };
        assert_eq!(logged("/invite/abc123").await, "/invite/{token}");
        assert_eq!(logged("/u/abc123").await, "/u/{token}");
        assert_eq!(logged("/nowhere/abc123").await, "(unmatched)");
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_a_reference() {
        use tower::ServiceExt;
        let router: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    let columns: Vec<&str> = Vec::new();
                    columns[0].to_string()
                }),
            )
            .layer(catch_panics());
        let req = axum::http::Request::get("/boom")
            .body(Body::empty())
            .unwrap();
        let res = router.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("(reference "), "{text}");
        // What broke stays in the log, not in the answer.
        assert!(!text.contains("index out of bounds"), "{text}");
    }

    #[test]
    fn policy_allows_only_this_nonce_inline() {
        let policy = content_security_policy("n0nce");
        assert!(
            policy.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-n0nce';"),
            "{policy}"
        );
        assert!(
            !policy.contains("script-src 'self' 'unsafe-inline'"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    }
}
