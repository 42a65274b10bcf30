//! What providers and recipients call: WhatsApp Cloud API webhooks (the `hub.challenge`
//! handshake, signed events), Facebook Lead Ads notifications (the same handshake and
//! signature, per connection), our signed inbound email events, the open pixel, click
//! redirects and the one-click unsubscribe. None of these has a session: each proves
//! itself with a signature or a signed token, and answers without revealing whether an
//! id exists.

use crate::state::AppState;
use app::i18n::{t, tf, Locale};
use app::outreach::ssr::{inbound, links};
use app::standard_webhooks::WebhookKey;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(whatsapp_handshake).post(whatsapp_event),
        )
        .route("/webhooks/email", axum::routing::post(email_event))
        .route("/webhooks/billing", axum::routing::post(billing_event))
        .route(
            "/webhooks/forms/{public_id}",
            axum::routing::post(form_submission),
        )
        .route(
            "/webhooks/facebook/{public_id}",
            get(facebook_handshake).post(facebook_leadgen),
        )
        .route("/t/o/{token}", get(open_pixel))
        .route("/t/c/{token}", get(click))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/calendar/{file}", get(calendar_feed))
}

/// A member's calendar feed (`/calendar/<token>.ics`), fetched by calendar apps with
/// no session: the token is the whole credential. Unknown tokens get the same 404 as
/// malformed ones.
async fn calendar_feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".ics").unwrap_or_default();
    match app::calendar::ssr::feed(&state.db, &state.config, token, chrono::Utc::now()).await {
        Ok(Some(ics)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/calendar; charset=utf-8"),
                ),
                // Private to its member: never kept by a shared cache.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=300"),
                ),
            ],
            ics,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no calendar feed at this address").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// Meta's subscription check: echo `hub.challenge` when the verify token matches.
async fn whatsapp_handshake(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ok = q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && q.get("hub.verify_token").is_some_and(|t| {
            app::crypto::constant_time_eq(t.as_bytes(), state.config.wa_verify_token.as_bytes())
        });
    match (ok, q.get("hub.challenge")) {
        (true, Some(challenge)) => challenge.clone().into_response(),
        _ => (StatusCode::FORBIDDEN, "verify token does not match").into_response(),
    }
}

async fn whatsapp_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !inbound::verify_meta_signature(&state.config.wa_app_secret, &body, signature) {
        tracing::warn!("WhatsApp webhook with a missing or wrong signature refused");
        return (StatusCode::UNAUTHORIZED, "signature does not match").into_response();
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON").into_response();
    };
    match inbound::whatsapp(&state.db, &json).await {
        Ok(applied) => {
            tracing::info!(?applied, "WhatsApp webhook applied");
            StatusCode::OK.into_response()
        }
        // Meta retries a failed delivery; our dedupe makes the retry safe.
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

async fn email_event(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let now = chrono::Utc::now().timestamp();
    // The configuration was checked at start-up, so the secret is a key.
    let key = match WebhookKey::parse(&state.config.email_webhook_secret) {
        Ok(key) => key,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    };
    if let Err(reason) = key.verify(
        get("webhook-id"),
        get("webhook-timestamp"),
        &body,
        get("webhook-signature"),
        now,
    ) {
        tracing::warn!(reason, "email webhook refused");
        return (StatusCode::UNAUTHORIZED, reason).into_response();
    }
    let event: inbound::EmailEvent = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad event: {e}")).into_response(),
    };
    if event.id != get("webhook-id") {
        return (StatusCode::BAD_REQUEST, "event id differs from webhook-id").into_response();
    }
    match inbound::email_event(&state.db, &state.config.secret_key, &event).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// The payment provider's events, signed with `Stripe-Signature`.
async fn billing_event(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    use app::billing::events::{provider_event, EventOutcome};
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    match provider_event(
        &state.db,
        &state.config.billing_webhook_secret,
        signature,
        &body,
        now,
    )
    .await
    {
        Ok(outcome) => {
            tracing::info!(?outcome, "billing event");
            let text = match outcome {
                EventOutcome::Applied => "applied",
                EventOutcome::Duplicate => "already applied",
                EventOutcome::Ignored => "ignored",
            };
            (StatusCode::OK, text).into_response()
        }
        Err(app::error::AppError::Forbidden(reason)) => {
            tracing::warn!(%reason, "billing event refused");
            (StatusCode::UNAUTHORIZED, reason).into_response()
        }
        Err(e @ app::error::AppError::Validation { .. }) => {
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        // The provider retries a failed delivery; recording by event id makes that safe.
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

async fn open_pixel(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if let Some(id) = links::verify(&state.config.secret_key, "open", &token) {
        if let Err(e) = inbound::tracked(&state.db, id, None).await {
            tracing::warn!(error = %e, "recording an open");
        }
    }
    // The same pixel whatever happened: the answer tells nothing about the token.
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, private"),
            ),
        ],
        PIXEL,
    )
        .into_response()
}

async fn click(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some((id, url)) = q.get("u").and_then(|url| {
        links::verify_click(&state.config.secret_key, &token, url).map(|id| (id, url))
    }) else {
        return (StatusCode::NOT_FOUND, "This link is not valid.").into_response();
    };
    match inbound::tracked(&state.db, id, Some(url)).await {
        Ok(Some(target)) if !target.is_empty() => Redirect::to(&target).into_response(),
        Ok(_) => (StatusCode::NOT_FOUND, "This link is not valid.").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// The language of a page a lead reaches from an email: the first of their browser's
/// languages that we speak, else the sending workspace's.
fn lead_locale(headers: &HeaderMap, workspace: Option<Locale>) -> Locale {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|accepted| {
            accepted
                .split(',')
                .filter_map(|part| part.split(';').next())
                .find_map(Locale::parse)
        })
        .or(workspace)
        .unwrap_or_default()
}

/// A page a lead reaches from an email, in `locale`; `attributed` names us in its
/// footer (the sending workspace's plan has no white label).
fn page(locale: Locale, title: &str, body: &str, attributed: bool) -> Html<String> {
    let footer = if attributed {
        format!(
            "<footer><p style=\"font-size:12px;color:#667\">{}</p></footer>",
            app::encode::html(&t(locale, "unsub.attribution"))
        )
    } else {
        String::new()
    };
    let title = app::encode::html(title);
    Html(format!(
        "<!doctype html><html lang=\"{}\" dir=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
         <main><h1>{title}</h1>{body}</main>{footer}</body></html>",
        locale.tag(),
        locale.dir()
    ))
}

fn not_valid(locale: Locale) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            locale,
            &t(locale, "unsub.invalid_title"),
            &format!("<p>{}</p>", app::encode::html(&t(locale, "unsub.invalid"))),
            false,
        ),
    )
        .into_response()
}

/// The workspace's name as a paragraph's argument: escaped, and isolated so an Arabic
/// name in an English sentence (or the reverse) keeps its own direction.
fn workspace_arg(name: &str) -> (&'static str, String) {
    (
        "workspace",
        format!("<bdi>{}</bdi>", app::encode::html(name)),
    )
}

/// The link in the email's footer: a page with one button, so that link scanners that
/// fetch every URL do not unsubscribe anyone.
async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = links::verify(&state.config.secret_key, "unsubscribe", &token) else {
        return not_valid(lead_locale(&headers, None));
    };
    match inbound::sender_of(&state.db, id).await {
        Ok(Some(sender)) => {
            let l = lead_locale(&headers, Some(sender.locale));
            page(
                l,
                &t(l, "unsub.title"),
                &format!(
                    "<p>{}</p><form method=\"post\">\
                     <button type=\"submit\" style=\"padding:.5rem 1rem\">{}</button></form>",
                    tf(l, "unsub.question", &[workspace_arg(&sender.workspace)]),
                    app::encode::html(&t(l, "unsub.button"))
                ),
                !sender.white_label,
            )
            .into_response()
        }
        Ok(None) => not_valid(lead_locale(&headers, None)),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// The button above, and RFC 8058's one-click POST from mail clients
/// (`List-Unsubscribe=One-Click`).
async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = links::verify(&state.config.secret_key, "unsubscribe", &token) else {
        return not_valid(lead_locale(&headers, None));
    };
    match inbound::unsubscribe(&state.db, id).await {
        Ok(Some(_)) => {
            let sender = inbound::sender_of(&state.db, id).await.ok().flatten();
            let l = lead_locale(&headers, sender.as_ref().map(|s| s.locale));
            let (workspace, white_label) = sender
                .map(|s| (s.workspace, s.white_label))
                .unwrap_or_default();
            page(
                l,
                &t(l, "unsub.done_title"),
                &format!(
                    "<p>{}</p>",
                    tf(l, "unsub.done", &[workspace_arg(&workspace)])
                ),
                !white_label,
            )
            .into_response()
        }
        Ok(None) => not_valid(lead_locale(&headers, None)),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// A website's form submission, signed per Standard Webhooks with the form's own key:
/// a new lead (201), or a note on the lead with that email or phone, or nothing for a
/// repeat of a `webhook-id` already taken (200). The body names what was done.
async fn form_submission(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    use app::developers::sources::{self, Received, Refusal};
    let ip = crate::web::request_ip(&req, &state.http.trusted_proxies);
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, crate::web::MAX_WEBHOOK_BYTES).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than 1 MB",
        )
            .into_response();
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let ctx = app::request::RequestCtx {
        db: state.db.clone(),
        config: state.config.clone(),
        request_id: crate::web::request_id(&parts.extensions),
        ip: ip.map(|i| i.to_string()),
        user_agent: Some(header("user-agent").chars().take(300).collect()),
        locale: app::i18n::Locale::from_accept_language(header("accept-language")),
        principal: None,
    };
    let signed = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let now = chrono::Utc::now().timestamp();
    let outcome = sources::receive(&state.db, &ctx, &public_id, signed, &body, now).await;
    let answer =
        |status: StatusCode, body: serde_json::Value| (status, axum::Json(body)).into_response();
    let refused = |status: StatusCode, why: String, field: Option<&'static str>| {
        let db = state.db.clone();
        let public_id = public_id.clone();
        let reason = why.clone();
        async move {
            if let Err(e) = sources::failed(&db, &public_id, &reason).await {
                tracing::warn!(error = %e, "recording a refused form submission");
            }
            answer(status, serde_json::json!({ "error": why, "field": field }))
        }
    };
    match outcome {
        Ok(Ok(Received::Created(lead))) => answer(
            StatusCode::CREATED,
            serde_json::json!({ "outcome": "created", "lead_id": lead }),
        ),
        Ok(Ok(Received::Matched(lead))) => answer(
            StatusCode::OK,
            serde_json::json!({ "outcome": "matched", "lead_id": lead }),
        ),
        Ok(Ok(Received::Repeat(lead))) => answer(
            StatusCode::OK,
            serde_json::json!({ "outcome": "repeat", "lead_id": lead }),
        ),
        Ok(Err(Refusal::UnknownForm)) => answer(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": "no such form" }),
        ),
        Ok(Err(Refusal::Paused)) => {
            refused(StatusCode::CONFLICT, "the form is paused".into(), None).await
        }
        Ok(Err(Refusal::BadSignature(why))) => {
            refused(StatusCode::UNAUTHORIZED, why.to_string(), None).await
        }
        Ok(Err(Refusal::Invalid { field, message })) => {
            refused(StatusCode::UNPROCESSABLE_ENTITY, message, Some(field)).await
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            answer(status, serde_json::json!({ "error": e.to_string() }))
        }
    }
}

/// Meta's subscription check for one Facebook Lead Ads connection: echo
/// `hub.challenge` as text when `hub.verify_token` is the connection's.
async fn facebook_handshake(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = q.get("hub.verify_token").map_or("", String::as_str);
    let subscribe = q.get("hub.mode").map(String::as_str) == Some("subscribe");
    let ok = match app::developers::facebook::handshake(&state.db, &public_id, token).await {
        Ok(ok) => subscribe && ok,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    match (ok, q.get("hub.challenge")) {
        (true, Some(challenge)) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge.clone(),
        )
            .into_response(),
        _ => (StatusCode::FORBIDDEN, "verify token does not match").into_response(),
    }
}

/// A Lead Ads notification, signed with the connection's app secret: its leads are
/// queued (once per `leadgen_id`) and fetched by the worker, so the answer is quick.
async fn facebook_leadgen(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    use app::developers::facebook::{self, Refusal};
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, crate::web::MAX_WEBHOOK_BYTES).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than 1 MB",
        )
            .into_response();
    };
    let signature = parts
        .headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    let outcome = facebook::notify(
        &state.db,
        &state.config.secret_key,
        &public_id,
        signature,
        &body,
    )
    .await;
    let refusal = match outcome {
        Ok(Ok(notified)) => {
            tracing::info!(?notified, "facebook leadgen notification");
            return (
                StatusCode::OK,
                axum::Json(serde_json::json!({
                    "queued": notified.queued,
                    "repeats": notified.repeats,
                    "ignored": notified.ignored,
                })),
            )
                .into_response();
        }
        Ok(Err(refusal)) => refusal,
        // Meta retries a failed delivery; queueing by leadgen_id makes the retry safe.
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    let status = match refusal {
        Refusal::UnknownConnection => StatusCode::NOT_FOUND,
        Refusal::Unsigned => StatusCode::UNAUTHORIZED,
        Refusal::BadSignature => StatusCode::FORBIDDEN,
        Refusal::Paused => StatusCode::CONFLICT,
        Refusal::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    let why = refusal.reason();
    if refusal != Refusal::UnknownConnection {
        tracing::warn!(%why, "facebook leadgen notification refused");
        if let Err(e) = facebook::refused(&state.db, &public_id, &why).await {
            tracing::warn!(error = %e, "recording a refused facebook notification");
        }
    }
    (status, axum::Json(serde_json::json!({ "error": why }))).into_response()
}
