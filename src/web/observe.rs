//! What every request leaves behind: its id (tower-http's request-id layers, with our
//! rule for a caller's id), its tracing span and "answered" line, and its count and
//! duration for `/metrics`, all by route template, never the concrete path.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tower_http::request_id::{MakeRequestId, RequestId};

/// The request's id: the caller's `x-request-id` when it is a safe token, else a fresh
/// one ([`RequestIds`]). Set outermost, so every layer and handler sees it.
pub(crate) fn request_id(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Makes the ids tower-http's `SetRequestIdLayer` gives requests that bring none.
#[derive(Clone, Copy)]
pub(super) struct RequestIds;

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// A caller's `x-request-id` goes into every log line of the request, so only a short
/// token of letters, digits and hyphens is kept; anything else is replaced.
pub(super) async fn drop_unsafe_request_id(mut req: Request, next: Next) -> Response {
    const X_REQUEST_ID: &str = "x-request-id";
    let safe = req.headers().get(X_REQUEST_ID).is_none_or(|v| {
        v.len() <= 64
            && v.as_bytes()
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    });
    if !safe {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    next.run(req).await
}

/// The span every log line of a request is written in; the tenant and user are
/// recorded on it once the session is read (`request_context`).
pub(super) fn request_span(req: &Request) -> tracing::Span {
    tracing::info_span!(
        "request",
        request_id = %request_id(req.extensions()),
        method = %req.method(),
        path = %log_path(req),
        tenant_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
    )
}

pub(super) fn log_answer(res: &Response, latency: std::time::Duration, _: &tracing::Span) {
    tracing::info!(
        status = res.status().as_u16(),
        elapsed_ms = latency.as_secs_f64() * 1000.0,
        "answered"
    );
}

/// Request counts and durations by method, route template and status.
pub(super) async fn count_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = log_path(&req);
    let response = next.run(req).await;
    crate::metrics::observe_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The route a request matched, as its template (`/invite/{token}`): concrete paths
/// carry invite, unsubscribe and tracking tokens that must not reach the logs.
pub(super) fn log_path(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into())
}
