//! The HTTP side: the WhatsApp Cloud API send endpoint and a WABA's number
//! list, 360dialog's hosted Cloud API (send endpoint and webhook config, which
//! proves a key), the Graph API's lead ads reads (`leadgen.rs`), the control
//! endpoints behind the dev page, the page itself, and the Stripe and LLM stand-ins'
//! routes (`stripe.rs`, `llm.rs`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::media::{media_named, upload_dialog360, upload_whatsapp, MAX_DOCUMENT_BYTES};
use crate::webhooks::DEFAULT_REPLY;
use crate::{page, Channel, Failure, Received, ReceivedFile, Shared, Track, WaApi, WaNumber};

/// Meta's limit on a text message body, in characters.
const MAX_TEXT_CHARS: usize = 4096;
/// Meta's limit on a media message's caption, in characters.
const MAX_CAPTION_CHARS: usize = 1024;

pub(crate) type AppState = Arc<Shared>;

pub(crate) async fn serve(
    listener: TcpListener,
    shared: AppState,
    mut stopped: watch::Receiver<()>,
) {
    let router = Router::new()
        .route("/", get(dev_page))
        .route("/_peer/messages", get(list_messages))
        .route("/_peer/messages/{id}/{action}", post(control))
        .route("/_peer/whatsapp/numbers", post(add_number))
        .route("/_peer/360dialog/keys", post(add_dialog360_key))
        .route("/360dialog/messages", post(send_dialog360))
        .route(
            "/360dialog/media",
            post(upload_dialog360).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
        .route(
            "/{version}/{node}/media",
            post(upload_whatsapp).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
        .route(
            "/360dialog/v1/configs/webhook",
            get(dialog360_webhook_config),
        )
        .route("/_peer/hooks", get(list_hooks))
        .route("/_peer/hook-answers", post(queue_hook_answers))
        .route("/_peer/hooks/{name}", post(receive_hook))
        .route("/{version}/{node}/messages", post(send_whatsapp))
        .route("/{version}/{node}/phone_numbers", get(list_numbers))
        .route("/_peer/facebook/leads", post(crate::leadgen::add_lead))
        .route("/{version}/{node}", get(crate::leadgen::get_lead))
        .route("/stripe/v1/customers", post(crate::stripe::create_customer))
        .route(
            "/stripe/v1/payment_intents",
            post(crate::stripe::create_payment_intent),
        )
        .route(
            "/_peer/stripe/customers/{id}/card",
            post(crate::stripe::swap_card),
        )
        .route("/_peer/stripe/intents", get(crate::stripe::list_intents))
        .route(
            "/llm/v1/chat/completions",
            post(crate::llm::chat_completions),
        )
        .route("/_peer/llm/answers", post(crate::llm::queue_answers))
        .route("/_peer/llm/requests", get(crate::llm::list_requests))
        .route(
            "/s3/{bucket}/{*key}",
            get(crate::s3::get_object)
                .put(crate::s3::put_object)
                .delete(crate::s3::delete_object),
        )
        .with_state(shared);
    // The only error is the sender going away, which is the signal itself.
    let stop = async move {
        let _ = stopped.changed().await;
    };
    // Serving ends only on that signal or a listener failure; neither has
    // anyone left to report to.
    let _ = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await;
}

async fn dev_page(State(shared): State<AppState>) -> Html<String> {
    Html(page::render(
        &shared.messages(),
        &shared.http_base(),
        shared.smtp_addr,
    ))
}

async fn list_hooks(State(shared): State<AppState>) -> Json<Vec<crate::HookRequest>> {
    Json(shared.hooks().received.clone())
}

#[derive(Deserialize)]
struct HookAnswers {
    /// Statuses for the next requests, in order.
    statuses: Vec<u16>,
}

/// Tells the receivers how to answer the next requests (the dev page and browser
/// tests have no Rust handle on the peer).
async fn queue_hook_answers(
    State(shared): State<AppState>,
    Json(answers): Json<HookAnswers>,
) -> StatusCode {
    shared
        .hooks()
        .next
        .extend(answers.statuses.into_iter().map(crate::HookAnswer::Status));
    StatusCode::NO_CONTENT
}

/// A customer's webhook endpoint: records the delivery, then answers as told.
async fn receive_hook(
    State(shared): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let answer = shared.hooks().answer();
    let status = match answer {
        crate::HookAnswer::Status(s) => s,
        crate::HookAnswer::Delay(_) => 200,
    };
    let index = {
        let mut hooks = shared.hooks();
        hooks.received.push(crate::HookRequest {
            name,
            webhook_id: header("webhook-id"),
            webhook_timestamp: header("webhook-timestamp"),
            webhook_signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
            answered: 0,
        });
        hooks.received.len() - 1
    };
    if let crate::HookAnswer::Delay(wait) = answer {
        tokio::time::sleep(wait).await;
    }
    if let Some(r) = shared.hooks().received.get_mut(index) {
        r.answered = status;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        if status.is_success() {
            "ok"
        } else {
            "receiver told to fail"
        },
    )
        .into_response()
}

async fn list_messages(State(shared): State<AppState>) -> Json<Vec<Received>> {
    Json(shared.messages())
}

/// A Graph API error body, as the WhatsApp Cloud API returns them.
fn graph_error(status: StatusCode, code: u32, message: &str, details: &str) -> Response {
    let data = json!({ "messaging_product": "whatsapp", "details": details });
    graph_error_of(status, "OAuthException", code, message, Some(data))
}

/// A Graph API error body of any type (`OAuthException`, `GraphMethodException`).
pub(crate) fn graph_error_of(
    status: StatusCode,
    kind: &str,
    code: u32,
    message: &str,
    error_data: Option<Value>,
) -> Response {
    let fbtrace_id = format!("Peer{}", uuid::Uuid::new_v4().simple());
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": fbtrace_id,
    });
    if let Some(data) = error_data {
        error["error_data"] = data;
    }
    (status, Json(json!({ "error": error }))).into_response()
}

pub(crate) fn invalid_parameter(details: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", details)
}

pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

pub(crate) fn has_bearer_token(headers: &HeaderMap) -> bool {
    bearer_token(headers).is_some()
}

pub(crate) fn missing_token() -> Response {
    graph_error(
        StatusCode::UNAUTHORIZED,
        190,
        "Invalid OAuth access token - Cannot parse access token",
        "Authorization: Bearer <token> is required",
    )
}

/// Registers a number, as adding it to a WABA in Business Manager would.
async fn add_number(State(shared): State<AppState>, Json(number): Json<WaNumber>) -> StatusCode {
    shared.add_whatsapp_number(number);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Dialog360Key {
    phone_number_id: String,
    api_key: String,
}

/// Gives a number a 360dialog channel key, as 360dialog's hub would.
async fn add_dialog360_key(
    State(shared): State<AppState>,
    Json(key): Json<Dialog360Key>,
) -> StatusCode {
    shared.add_dialog360_key(&key.phone_number_id, &key.api_key);
    StatusCode::NO_CONTENT
}

/// The number a request's `D360-API-KEY` stands for.
pub(crate) fn dialog360_number(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let key = headers.get("d360-api-key")?.to_str().ok()?;
    shared.dialog360_number(key.trim())
}

pub(crate) fn dialog360_unauthorized() -> Response {
    graph_error(
        StatusCode::UNAUTHORIZED,
        0,
        "Invalid API key",
        "D360-API-KEY is missing or names no channel",
    )
}

/// `GET /360dialog/v1/configs/webhook`: the channel's webhook, for a valid key.
async fn dialog360_webhook_config(State(shared): State<AppState>, headers: HeaderMap) -> Response {
    if dialog360_number(&shared, &headers).is_none() {
        return dialog360_unauthorized();
    }
    Json(json!({ "url": shared.config.whatsapp_webhook_url })).into_response()
}

/// `POST /360dialog/messages`: Meta's body; the key names the number.
async fn send_dialog360(
    State(shared): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(phone_number_id) = dialog360_number(&shared, &headers) else {
        return dialog360_unauthorized();
    };
    accept_whatsapp(&shared, phone_number_id, WaApi::Dialog360, &body)
}

/// `GET /{version}/{waba_id}/phone_numbers`: the WABA's numbers, for a token
/// that manages it. Anything else gets the Graph answer for an object the token
/// may not see, which is the same whether the WABA exists or not.
async fn list_numbers(
    State(shared): State<AppState>,
    Path((_version, waba_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = bearer_token(&headers) else {
        return missing_token();
    };
    let Some(numbers) = shared.waba_numbers(&waba_id, token) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            &format!("Unsupported get request. Object with ID '{waba_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
            "the token does not manage this WhatsApp Business Account",
        );
    };
    let data: Vec<Value> = numbers
        .iter()
        .map(|n| {
            json!({
                "id": n.phone_number_id,
                "display_phone_number": n.display_phone_number,
                "verified_name": n.verified_name,
                "quality_rating": "GREEN",
            })
        })
        .collect();
    Json(json!({ "data": data })).into_response()
}

/// What a valid send request asks for.
struct Outgoing {
    to: String,
    body: String,
    key: Option<String>,
    attachments: Vec<ReceivedFile>,
}

pub(crate) fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Checks a send request the way the Cloud API does, as far as our server's
/// requests go; the error is the Graph "details" text.
fn validate(
    request: &Value,
    media: &dyn Fn(&str) -> Option<ReceivedFile>,
) -> Result<Outgoing, String> {
    if str_at(request, "/messaging_product") != Some("whatsapp") {
        return Err("messaging_product must be \"whatsapp\"".to_owned());
    }
    let to = str_at(request, "/to")
        .map(str::trim)
        .filter(|to| to.chars().any(|c| c.is_ascii_digit()))
        .ok_or("to is required and must be a phone number")?;
    let mut attachments = Vec::new();
    let body = match str_at(request, "/type").unwrap_or("text") {
        "text" => {
            let text = str_at(request, "/text/body")
                .filter(|body| !body.is_empty())
                .ok_or("text.body is required for a text message")?;
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(format!(
                    "text.body is longer than {MAX_TEXT_CHARS} characters"
                ));
            }
            text.to_owned()
        }
        kind @ ("image" | "document") => {
            attachments.push(media_named(request.get(kind), kind, media)?);
            let caption = str_at(request, &format!("/{kind}/caption")).unwrap_or("");
            if caption.chars().count() > MAX_CAPTION_CHARS {
                return Err(format!(
                    "{kind}.caption is longer than {MAX_CAPTION_CHARS} characters"
                ));
            }
            caption.to_owned()
        }
        "template" => {
            let name = str_at(request, "/template/name")
                .filter(|name| !name.is_empty())
                .ok_or("template.name is required for a template message")?;
            let language = str_at(request, "/template/language/code").unwrap_or("");
            let mut pieces = vec![format!("template:{name}:{language}")];
            let components = request
                .pointer("/template/components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            for component in components {
                if str_at(component, "/type") == Some("header") {
                    let parameters = component
                        .get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten();
                    for p in parameters {
                        match str_at(p, "/type") {
                            Some(kind @ ("image" | "document")) => {
                                attachments.push(media_named(p.get(kind), kind, media)?);
                            }
                            Some("text") => {}
                            other => {
                                return Err(format!(
                                    "header parameter type {other:?} is not supported by the peer"
                                ))
                            }
                        }
                    }
                    continue;
                }
                if str_at(component, "/type") != Some("body") {
                    continue;
                }
                let parameters = component
                    .get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten();
                pieces.extend(parameters.filter_map(|p| str_at(p, "/text").map(str::to_owned)));
            }
            pieces.join(" | ")
        }
        other => {
            return Err(format!(
                "message type {other:?} is not supported by the peer"
            ))
        }
    };
    Ok(Outgoing {
        to: to.to_owned(),
        body,
        key: str_at(request, "/biz_opaque_callback_data").map(str::to_owned),
        attachments,
    })
}

async fn send_whatsapp(
    State(shared): State<AppState>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !has_bearer_token(&headers) {
        return missing_token();
    }
    accept_whatsapp(&shared, phone_number_id, WaApi::MetaCloud, &body)
}

/// Checks, stores and answers a send that came through `api`.
fn accept_whatsapp(shared: &Shared, phone_number_id: String, api: WaApi, body: &[u8]) -> Response {
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return invalid_parameter(&format!("the body is not JSON: {e}")),
    };
    let lookup = |id: &str| shared.media_file(id, &phone_number_id);
    let outgoing = match validate(&request, &lookup) {
        Ok(outgoing) => outgoing,
        Err(details) => return invalid_parameter(&details),
    };
    match shared.take_failure() {
        Some(Failure::Transient) => {
            return graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                2,
                "Service temporarily unavailable",
                "The peer was told to fail this send (transient)",
            )
        }
        Some(Failure::Permanent) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                131026,
                "Message undeliverable",
                "The peer was told to fail this send (permanent)",
            )
        }
        None => {}
    }
    let id = shared.accept(Received {
        id: format!("wamid.{}", uuid::Uuid::new_v4().simple()),
        channel: Channel::WhatsApp,
        provider: Some(api),
        from: phone_number_id,
        to: outgoing.to.clone(),
        subject: None,
        body: outgoing.body,
        html: None,
        headers: Vec::new(),
        attachments: outgoing.attachments,
        idempotency_key: outgoing.key,
        times_received: 1,
        events: Vec::new(),
        received_at: chrono::Utc::now(),
    });
    let wa_id: String = outgoing.to.chars().filter(char::is_ascii_digit).collect();
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": outgoing.to, "wa_id": wa_id }],
        "messages": [{ "id": id }],
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
struct ActionBody {
    text: Option<String>,
}

/// What the dev page (or a test) asks the peer to do as the recipient.
enum Action {
    Status(&'static str),
    WhatsAppReply,
    EmailReply,
    /// A bounce or complaint, which carry a diagnostic rather than a reply.
    EmailEvent(&'static str),
    Track(Track),
}

fn action_for(channel: Channel, action: &str) -> Result<Action, String> {
    let found = match (channel, action) {
        (Channel::WhatsApp, "deliver") => Action::Status("delivered"),
        (Channel::WhatsApp, "read") => Action::Status("read"),
        (Channel::WhatsApp, "fail") => Action::Status("failed"),
        (Channel::WhatsApp, "reply") => Action::WhatsAppReply,
        (Channel::Email, "reply") => Action::EmailReply,
        (Channel::Email, "bounce") => Action::EmailEvent("bounce"),
        (Channel::Email, "complaint") => Action::EmailEvent("complaint"),
        (Channel::Email, "open") => Action::Track(Track::Open),
        (Channel::Email, "click") => Action::Track(Track::Click),
        (_, "deliver" | "read" | "fail" | "open" | "click" | "bounce" | "complaint") => {
            return Err(format!(
                "action {action:?} is not valid for a {channel:?} message"
            ))
        }
        _ => {
            return Err(format!(
                "unknown action {action:?}; use deliver, read, fail, reply, open, click, bounce or complaint"
            ))
        }
    };
    Ok(found)
}

async fn control(
    State(shared): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    request: Request,
) -> Response {
    let Some(message) = shared.find(&id) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no received message with id {id:?}"),
        )
            .into_response();
    };
    let action = match action_for(message.channel, &action) {
        Ok(action) => action,
        Err(reason) => return (StatusCode::BAD_REQUEST, reason).into_response(),
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let from_form = content_type.starts_with("application/x-www-form-urlencoded");
    let body = if from_form {
        match Form::<ActionBody>::from_request(request, &()).await {
            Ok(Form(body)) => body,
            Err(rejection) => return rejection.into_response(),
        }
    } else if content_type.starts_with("application/json") {
        match Json::<ActionBody>::from_request(request, &()).await {
            Ok(Json(body)) => body,
            Err(rejection) => return rejection.into_response(),
        }
    } else {
        ActionBody::default()
    };
    let text = body.text.unwrap_or_default();
    let reply = if text.trim().is_empty() {
        DEFAULT_REPLY
    } else {
        text.as_str()
    };
    let outcome = match action {
        Action::Status(status) => shared.whatsapp_status(&id, status).await,
        Action::WhatsAppReply => shared.whatsapp_reply(&id, reply).await,
        Action::EmailReply => shared.email_event(&id, "reply", reply).await,
        Action::EmailEvent(kind) => shared.email_event(&id, kind, &text).await,
        Action::Track(track) => shared.email_track(&id, track).await,
    };
    match outcome {
        Ok(_) if from_form => Redirect::to("/").into_response(),
        Ok(status) => Json(json!({ "status": status })).into_response(),
        Err(reason) => (StatusCode::BAD_GATEWAY, reason).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No media uploaded.
    fn none(_: &str) -> Option<ReceivedFile> {
        None
    }

    #[test]
    fn template_body_joins_name_language_and_parameters() {
        let request = json!({
            "messaging_product": "whatsapp",
            "to": "+20 100 123 4567",
            "type": "template",
            "template": {
                "name": "intro",
                "language": { "code": "ar" },
                "components": [
                    { "type": "header", "parameters": [{ "type": "text", "text": "skip" }] },
                    { "type": "body", "parameters": [
                        { "type": "text", "text": "Ahmed" },
                        { "type": "text", "text": "Acme" }
                    ] }
                ]
            }
        });
        let outgoing = validate(&request, &none).unwrap();
        assert_eq!(outgoing.body, "template:intro:ar | Ahmed | Acme");
        assert_eq!(outgoing.key, None);
    }

    #[test]
    fn validation_rejects_what_meta_rejects() {
        let text = |body: &str| json!({ "messaging_product": "whatsapp", "to": "+201001234567", "type": "text", "text": { "body": body } });
        assert!(validate(&text("hi"), &none).is_ok());
        assert!(validate(&text(&"a".repeat(MAX_TEXT_CHARS)), &none).is_ok());
        assert!(validate(&text(&"a".repeat(MAX_TEXT_CHARS + 1)), &none).is_err());
        assert!(validate(&text(""), &none).is_err());
        assert!(validate(
            &json!({ "messaging_product": "sms", "to": "+1", "text": { "body": "x" } }),
            &none
        )
        .is_err());
        assert!(validate(
            &json!({ "messaging_product": "whatsapp", "text": { "body": "x" } }),
            &none
        )
        .is_err());
        assert!(validate(&json!({ "messaging_product": "whatsapp", "to": "+1", "type": "template", "template": {} }), &none).is_err());
        assert!(validate(
            &json!({ "messaging_product": "whatsapp", "to": "+1", "type": "image" }),
            &none
        )
        .is_err());
    }

    #[test]
    fn media_must_name_an_upload_of_the_number() {
        let pdf = ReceivedFile::of(Some("b.pdf".into()), "application/pdf".into(), b"%PDF");
        let uploaded = |id: &str| (id == "m1").then(|| pdf.clone());
        let header = |kind: &str, id: &str| {
            json!({ "messaging_product": "whatsapp", "to": "+201001234567", "type": "template",
                    "template": { "name": "launch", "language": { "code": "en" },
                      "components": [{ "type": "header", "parameters": [
                          { "type": kind, kind: { "id": id, "filename": "Brochure.pdf" } }] }] } })
        };
        let sent = validate(&header("document", "m1"), &uploaded).unwrap();
        assert_eq!(sent.attachments.len(), 1);
        assert_eq!(sent.attachments[0].name.as_deref(), Some("Brochure.pdf"));
        assert_eq!(sent.attachments[0].size, 4);
        assert!(validate(&header("document", "m2"), &uploaded).is_err());
        // A PDF is no image.
        assert!(validate(&header("image", "m1"), &uploaded).is_err());
        let captioned = |caption: &str| {
            json!({ "messaging_product": "whatsapp", "to": "+201001234567", "type": "document",
                    "document": { "id": "m1", "caption": caption } })
        };
        assert_eq!(validate(&captioned("Hi"), &uploaded).unwrap().body, "Hi");
        assert!(validate(&captioned(&"a".repeat(MAX_CAPTION_CHARS + 1)), &uploaded).is_err());
    }

    #[test]
    fn bearer_token_must_be_present_and_non_empty() {
        let mut headers = HeaderMap::new();
        assert!(!has_bearer_token(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer  ".parse().unwrap());
        assert!(!has_bearer_token(&headers));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(!has_bearer_token(&headers));
        headers.insert(header::AUTHORIZATION, "Bearer token".parse().unwrap());
        assert!(has_bearer_token(&headers));
    }
}
