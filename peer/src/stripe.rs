//! A Stripe stand-in, as far as off-session invoice charges need it: customers,
//! payment intents confirmed at once with Stripe's test payment methods, the
//! `Idempotency-Key` honoured (a repeat gets the first answer back and makes no new
//! intent), Stripe's error object, and — as Stripe does — signed events
//! (`payment_intent.succeeded` / `payment_intent.payment_failed`, `Stripe-Signature`)
//! posted to the configured endpoint after each new intent.
//!
//! Test payment methods, as in Stripe's test mode: `pm_card_visa` (and any other
//! `pm_card_…` not below) succeeds, `pm_card_chargeDeclined` is declined with
//! `generic_decline`, `pm_card_chargeDeclinedInsufficientFunds` with
//! `insufficient_funds`. A control endpoint swaps a customer's card for another, to
//! play "the customer fixed their card at the bank".

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::{bearer_token, AppState};
use crate::Shared;

/// One payment intent the stand-in made.
#[derive(Clone, Debug, Serialize)]
pub struct StripeIntent {
    pub id: String,
    pub customer: String,
    pub amount: i64,
    pub currency: String,
    /// The method asked for, and the one charged (a control swap may differ).
    pub payment_method: String,
    pub charged_method: String,
    /// `succeeded` or `requires_payment_method` (declined).
    pub status: String,
    pub idempotency_key: Option<String>,
    /// How many requests came with its idempotency key (repeats make no new intent).
    pub requests: u32,
    pub metadata: HashMap<String, String>,
    /// Events sent for it, with our server's HTTP status: `payment_intent.succeeded (200)`.
    pub events: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Stripe {
    /// Where events go and the endpoint secret (`whsec_…`) that signs them.
    webhook: Option<(String, String)>,
    customers: HashMap<String, Value>,
    /// A card the customer's bank now charges instead of the one asked for.
    cards: HashMap<String, String>,
    pub(crate) intents: Vec<StripeIntent>,
    /// First answers by `Idempotency-Key`: (status, body, intent position).
    answers: HashMap<String, (u16, Value, Option<usize>)>,
}

impl Stripe {
    pub(crate) fn set_webhook(&mut self, url: &str, secret: &str) {
        self.webhook = Some((url.to_string(), secret.to_string()));
    }

    pub(crate) fn set_card(&mut self, customer: &str, payment_method: &str) {
        self.cards
            .insert(customer.to_string(), payment_method.to_string());
    }
}

/// Stripe's error object.
fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> (u16, Value) {
    (
        status.as_u16(),
        json!({ "error": { "type": kind, "code": code, "message": message } }),
    )
}

fn answer((status, body): (u16, Value)) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response()
}

/// Stripe refuses a request without a secret key (`sk_…`).
fn has_secret_key(headers: &HeaderMap) -> bool {
    bearer_token(headers).is_some_and(|key| key.starts_with("sk_"))
}

fn unauthenticated() -> Response {
    answer(error(
        StatusCode::UNAUTHORIZED,
        "authentication_error",
        None,
        "Invalid API Key provided",
    ))
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|k| !k.is_empty())
}

fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    )
}

/// `metadata[key]=value` fields as a map.
fn metadata(fields: &HashMap<String, String>) -> HashMap<String, String> {
    fields
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_string(), v.clone()))
        })
        .collect()
}

/// `POST /stripe/v1/customers`.
pub(crate) async fn create_customer(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    if !has_secret_key(&headers) {
        return unauthenticated();
    }
    let key = idempotency_key(&headers);
    let mut stripe = shared.stripe();
    if let Some((status, body, _)) = key.as_ref().and_then(|k| stripe.answers.get(k)) {
        return answer((*status, body.clone()));
    }
    let id = new_id("cus");
    let customer = json!({
        "id": id,
        "object": "customer",
        "name": fields.get("name"),
        "email": fields.get("email"),
        "metadata": metadata(&fields),
    });
    stripe.customers.insert(id, customer.clone());
    if let Some(key) = key {
        stripe.answers.insert(key, (200, customer.clone(), None));
    }
    answer((200, customer))
}

/// What a test payment method does when charged: `None` succeeds, or the decline code.
fn decline_of(payment_method: &str) -> Option<&'static str> {
    match payment_method {
        "pm_card_chargeDeclined" => Some("generic_decline"),
        "pm_card_chargeDeclinedInsufficientFunds" => Some("insufficient_funds"),
        _ => None,
    }
}

/// `POST /stripe/v1/payment_intents` with `confirm=true`: charged at once.
pub(crate) async fn create_payment_intent(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<HashMap<String, String>>,
) -> Response {
    if !has_secret_key(&headers) {
        return unauthenticated();
    }
    let key = idempotency_key(&headers);
    let (response, event) = {
        let mut stripe = shared.stripe();
        let first = key
            .as_ref()
            .and_then(|k| stripe.answers.get(k))
            .map(|(status, body, position)| (*status, body.clone(), *position));
        if let Some((status, body, position)) = first {
            if let Some(intent) = position.and_then(|p| stripe.intents.get_mut(p)) {
                intent.requests += 1;
            }
            return answer((status, body));
        }
        let (response, made) = charge(&mut stripe, &fields, key.clone());
        if let Some(key) = key {
            let position = made.as_ref().map(|(p, _)| *p);
            stripe
                .answers
                .insert(key, (response.0, response.1.clone(), position));
        }
        let event = made.and_then(|(position, event)| {
            let (url, secret) = stripe.webhook.clone()?;
            Some((position, event, url, secret))
        });
        (response, event)
    };
    if let Some((position, event, url, secret)) = event {
        // After the answer, as Stripe does: the events are not part of the request.
        let shared = std::sync::Arc::clone(&shared);
        tokio::spawn(async move { send_event(&shared, position, &event, &url, &secret).await });
    }
    answer(response)
}

/// Makes the intent (or refuses the request); the answer, and the new intent's
/// position with its event.
fn charge(
    stripe: &mut Stripe,
    fields: &HashMap<String, String>,
    key: Option<String>,
) -> ((u16, Value), Option<(usize, Value)>) {
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let amount = field("amount").parse::<i64>().ok().filter(|a| *a > 0);
    let Some(amount) = amount else {
        return (
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                "Invalid positive integer: amount",
            ),
            None,
        );
    };
    let currency = field("currency");
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return (
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_invalid_string"),
                "Invalid currency: must be a three-letter ISO code in lower case",
            ),
            None,
        );
    }
    let customer = field("customer");
    if !stripe.customers.contains_key(customer) {
        return (
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such customer: '{customer}'"),
            ),
            None,
        );
    }
    let asked = field("payment_method");
    if !asked.starts_with("pm_") {
        return (
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such PaymentMethod: '{asked}'"),
            ),
            None,
        );
    }
    if field("confirm") != "true" || field("off_session") != "true" {
        return (
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_missing"),
                "This stand-in only confirms off-session intents: send confirm=true and off_session=true",
            ),
            None,
        );
    }
    let charged = stripe
        .cards
        .get(customer)
        .cloned()
        .unwrap_or_else(|| asked.to_string());
    let decline = decline_of(&charged);
    let id = new_id("pi");
    let meta = metadata(fields);
    let status = if decline.is_some() {
        "requires_payment_method"
    } else {
        "succeeded"
    };
    let last_error = decline.map(|d| {
        json!({
            "type": "card_error",
            "code": "card_declined",
            "decline_code": d,
            "message": if d == "insufficient_funds" { "Your card has insufficient funds." } else { "Your card was declined." },
        })
    });
    let object = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "payment_method": charged,
        "status": status,
        "description": fields.get("description"),
        "metadata": meta,
        "last_payment_error": last_error,
    });
    stripe.intents.push(StripeIntent {
        id: id.clone(),
        customer: customer.to_string(),
        amount,
        currency: currency.to_string(),
        payment_method: asked.to_string(),
        charged_method: charged.clone(),
        status: status.to_string(),
        idempotency_key: key,
        requests: 1,
        metadata: meta,
        events: Vec::new(),
    });
    let position = stripe.intents.len() - 1;
    let event = json!({
        "id": new_id("evt"),
        "object": "event",
        "type": if decline.is_some() { "payment_intent.payment_failed" } else { "payment_intent.succeeded" },
        "created": chrono::Utc::now().timestamp(),
        "data": { "object": object },
    });
    let response = match (decline, last_error) {
        (Some(_), Some(mut error)) => {
            error["payment_intent"] = object;
            (402, json!({ "error": error }))
        }
        _ => (200, object),
    };
    (response, Some((position, event)))
}

/// `Stripe-Signature: t=…,v1=…`: HMAC-SHA256 keyed by the whole endpoint secret
/// over `"{t}.{body}"`.
pub(crate) fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

async fn send_event(shared: &Shared, position: usize, event: &Value, url: &str, secret: &str) {
    let body = event.to_string();
    let header = signature(secret, chrono::Utc::now().timestamp(), body.as_bytes());
    let status = match shared
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16().to_string(),
        Err(_) => "unreachable".to_string(),
    };
    let kind = event["type"].as_str().unwrap_or_default();
    if let Some(intent) = shared.stripe().intents.get_mut(position) {
        intent.events.push(format!("{kind} ({status})"));
    }
}

#[derive(Deserialize)]
pub(crate) struct CardSwap {
    payment_method: String,
}

/// `POST /_peer/stripe/customers/{id}/card`: the customer's bank charges this card
/// from now on, whatever the request names.
pub(crate) async fn swap_card(
    State(shared): State<AppState>,
    Path(customer): Path<String>,
    Json(swap): Json<CardSwap>,
) -> StatusCode {
    let mut stripe = shared.stripe();
    if !stripe.customers.contains_key(&customer) {
        return StatusCode::NOT_FOUND;
    }
    stripe.set_card(&customer, &swap.payment_method);
    StatusCode::NO_CONTENT
}

/// `GET /_peer/stripe/intents`: every intent made, oldest first.
pub(crate) async fn list_intents(State(shared): State<AppState>) -> Json<Vec<StripeIntent>> {
    Json(shared.stripe().intents.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_stripes() {
        // The same vector the server's verifier checks, computed with Python's hmac.
        assert_eq!(
            signature(
                "whsec_test_secret",
                1_492_774_577,
                br#"{"id":"evt_test_webhook","object":"event"}"#
            ),
            "t=1492774577,v1=88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a"
        );
    }

    #[test]
    fn test_cards_decline_as_stripes_do_and_repeats_make_no_new_intent() {
        let mut stripe = Stripe::default();
        stripe.customers.insert("cus_1".into(), json!({}));
        let fields = |pm: &str| -> HashMap<String, String> {
            [
                ("amount", "500"),
                ("currency", "usd"),
                ("customer", "cus_1"),
                ("payment_method", pm),
                ("confirm", "true"),
                ("off_session", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let ((status, body), _) = charge(&mut stripe, &fields("pm_card_visa"), None);
        assert_eq!((status, body["status"].as_str()), (200, Some("succeeded")));
        let ((status, body), _) = charge(
            &mut stripe,
            &fields("pm_card_chargeDeclinedInsufficientFunds"),
            None,
        );
        assert_eq!(status, 402);
        assert_eq!(body["error"]["decline_code"], "insufficient_funds");
        stripe.set_card("cus_1", "pm_card_visa");
        let ((status, _), _) = charge(&mut stripe, &fields("pm_card_chargeDeclined"), None);
        assert_eq!(status, 200, "the swapped card is charged");
        let ((status, body), _) = charge(
            &mut stripe,
            &HashMap::from([("amount".to_string(), "-1".to_string())]),
            None,
        );
        assert_eq!(status, 400);
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}
