//! The payment provider, behind a small trait, and its real implementation: Stripe's
//! API as Stripe takes it. Requests are `application/x-www-form-urlencoded` with
//! Stripe's bracketed keys (`metadata[invoice_id]=…`), authenticated with
//! `Authorization: Bearer sk_…`, and every charge carries an `Idempotency-Key`, so a
//! retried job gets the first answer back instead of charging twice. Stripe's error
//! object (`{"error": {"type", "code", "message", "decline_code"}}`) becomes a
//! [`ProviderError`] that says whether trying again could help.

use serde::Deserialize;
use std::time::Duration;

/// A customer to create at the provider, once per workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCustomer {
    pub tenant_id: uuid::Uuid,
    pub name: String,
    pub email: Option<String>,
}

/// One off-session charge of an invoice with the customer's saved payment method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub customer: String,
    pub payment_method: String,
    pub amount_minor: i64,
    /// ISO 4217, any case; sent lower-case as Stripe writes it.
    pub currency: String,
    /// One per invoice attempt: the provider answers a repeat with the first answer.
    pub idempotency_key: String,
    pub description: String,
    /// Sent as `metadata[…]` and echoed in the provider's events, which is how a
    /// webhook finds the invoice.
    pub tenant_id: uuid::Uuid,
    pub invoice_id: uuid::Uuid,
}

/// A payment intent as the provider answered it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    /// `succeeded`, `processing`, `requires_action`, `requires_payment_method`, …
    pub status: String,
}

/// Stripe's error object, by its `type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderError {
    /// `card_error`: the card was declined (`code` is `card_declined`, `expired_card`,
    /// …; `decline_code` the bank's reason, e.g. `insufficient_funds`). The same card
    /// will fail again until the customer fixes it.
    Declined {
        code: String,
        decline_code: Option<String>,
        message: String,
        /// The failed intent, when Stripe made one.
        payment_intent: Option<String>,
    },
    /// `invalid_request_error`, or an `authentication_error` (a wrong key): our
    /// request is wrong; sending it again will not help.
    Invalid { code: String, message: String },
    /// `api_error`, `rate_limit_error`, a 5xx, a timeout, an answer we cannot read:
    /// worth trying again with the same idempotency key.
    Unavailable(String),
}

impl ProviderError {
    pub fn transient(&self) -> bool {
        matches!(self, ProviderError::Unavailable(_))
    }

    /// The code to keep with a failed attempt: the decline code when the bank gave
    /// one (`insufficient_funds`), else the error's code.
    pub fn code(&self) -> String {
        match self {
            ProviderError::Declined {
                code, decline_code, ..
            } => decline_code.clone().unwrap_or_else(|| code.clone()),
            ProviderError::Invalid { code, .. } => code.clone(),
            ProviderError::Unavailable(_) => "unavailable".into(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            ProviderError::Declined { message, .. } | ProviderError::Invalid { message, .. } => {
                message.clone()
            }
            ProviderError::Unavailable(why) => why.clone(),
        }
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

/// Maps a non-2xx answer and its body to an error. Stripe sends 402 with a
/// `card_error` for a decline, 400/404 with `invalid_request_error`, 401 with
/// `authentication_error`, 429 with `rate_limit_error`, and 5xx with `api_error`.
pub fn error_of(status: u16, body: &serde_json::Value) -> ProviderError {
    let error = &body["error"];
    let text = |key: &str| error[key].as_str().map(str::to_string);
    let kind = text("type").unwrap_or_default();
    let code = text("code").unwrap_or_else(|| kind.clone());
    let message = text("message").unwrap_or_else(|| format!("HTTP {status}"));
    match kind.as_str() {
        "card_error" => ProviderError::Declined {
            code,
            decline_code: text("decline_code"),
            message,
            payment_intent: error["payment_intent"]["id"].as_str().map(str::to_string),
        },
        "invalid_request_error" | "authentication_error" | "idempotency_error"
            if status < 500 && status != 429 =>
        {
            ProviderError::Invalid { code, message }
        }
        _ => ProviderError::Unavailable(format!("HTTP {status}: {message}")),
    }
}

/// Stripe's form encoding: `key=value` pairs joined by `&`, both percent-encoded
/// (brackets too, which Stripe decodes like any form server).
pub fn form(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::encode::component(k),
                crate::encode::component(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The fields of `POST /v1/payment_intents` for a charge.
pub fn charge_form(charge: &Charge) -> Vec<(&'static str, String)> {
    vec![
        ("amount", charge.amount_minor.to_string()),
        ("currency", charge.currency.to_ascii_lowercase()),
        ("customer", charge.customer.clone()),
        ("payment_method", charge.payment_method.clone()),
        ("confirm", "true".into()),
        ("off_session", "true".into()),
        ("description", charge.description.clone()),
        ("metadata[tenant_id]", charge.tenant_id.to_string()),
        ("metadata[invoice_id]", charge.invoice_id.to_string()),
    ]
}

/// What we ask of a payment provider.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Creates the workspace's customer; its id (`cus_…`).
    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, ProviderError>;
    /// Charges and confirms at once, off session.
    async fn charge(&self, charge: &Charge) -> Result<PaymentIntent, ProviderError>;
}

/// Stripe's API at `base` (`https://api.stripe.com`, or the dev peer's `/stripe`).
pub struct Stripe {
    base: String,
    secret_key: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for Stripe {
    // The secret key stays out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Stripe {
    pub fn new(base: &str, secret_key: &str) -> Stripe {
        Stripe {
            base: base.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            client: reqwest::Client::builder()
                // Stripe's own libraries wait 80 s; a charge that takes longer is
                // retried with the same key, which returns its answer once it has one.
                .timeout(Duration::from_secs(80))
                .build()
                .expect("a client without custom TLS roots builds"),
        }
    }

    async fn post(
        &self,
        path: &str,
        idempotency_key: &str,
        fields: &[(&str, String)],
    ) -> Result<serde_json::Value, ProviderError> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form(fields))
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("unreachable: {e}")))?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("answer unreadable: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(error_of(status, &body));
        }
        Ok(body)
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Stripe {
    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, ProviderError> {
        let mut fields = vec![
            ("name", customer.name.clone()),
            ("metadata[tenant_id]", customer.tenant_id.to_string()),
        ];
        if let Some(email) = &customer.email {
            fields.push(("email", email.clone()));
        }
        // One customer per workspace however often this is retried.
        let key = format!("customer-{}", customer.tenant_id);
        let body = self.post("/v1/customers", &key, &fields).await?;
        body["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Unavailable("a customer without an id".into()))
    }

    async fn charge(&self, charge: &Charge) -> Result<PaymentIntent, ProviderError> {
        let body = self
            .post(
                "/v1/payment_intents",
                &charge.idempotency_key,
                &charge_form(charge),
            )
            .await?;
        serde_json::from_value(body)
            .map_err(|e| ProviderError::Unavailable(format!("a payment intent unreadable: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn a_charge_is_form_encoded_as_stripe_takes_it() {
        let charge = Charge {
            customer: "cus_123".into(),
            payment_method: "pm_card_visa".into(),
            amount_minor: 6670,
            currency: "USD".into(),
            idempotency_key: "inv-1-attempt-1".into(),
            description: "Invoice 7 & co".into(),
            tenant_id: Uuid::nil(),
            invoice_id: Uuid::from_u128(1),
        };
        assert_eq!(
            form(&charge_form(&charge)),
            "amount=6670&currency=usd&customer=cus_123&payment_method=pm_card_visa\
             &confirm=true&off_session=true&description=Invoice%207%20%26%20co\
             &metadata%5Btenant_id%5D=00000000-0000-0000-0000-000000000000\
             &metadata%5Binvoice_id%5D=00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(
            form(&[("name", "شركة النيل".into())]),
            "name=%D8%B4%D8%B1%D9%83%D8%A9%20%D8%A7%D9%84%D9%86%D9%8A%D9%84"
        );
    }

    #[test]
    fn stripe_errors_map_to_what_can_be_done_about_them() {
        // As Stripe documents a decline for insufficient funds.
        let declined = error_of(
            402,
            &json!({"error": {"type": "card_error", "code": "card_declined",
                "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.",
                "payment_intent": {"id": "pi_1", "status": "requires_payment_method"}}}),
        );
        assert_eq!(
            declined,
            ProviderError::Declined {
                code: "card_declined".into(),
                decline_code: Some("insufficient_funds".into()),
                message: "Your card has insufficient funds.".into(),
                payment_intent: Some("pi_1".into()),
            }
        );
        assert_eq!(declined.code(), "insufficient_funds");
        assert!(!declined.transient());
        let invalid = error_of(
            400,
            &json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                "message": "No such customer: 'cus_x'"}}),
        );
        assert_eq!(invalid.code(), "resource_missing");
        assert!(!invalid.transient());
        let key = error_of(
            401,
            &json!({"error": {"type": "authentication_error", "message": "Invalid API Key"}}),
        );
        assert_eq!(key.code(), "authentication_error");
        assert!(!key.transient());
        for (status, body) in [
            (
                500,
                json!({"error": {"type": "api_error", "message": "Oops"}}),
            ),
            (
                429,
                json!({"error": {"type": "rate_limit_error", "message": "Too many"}}),
            ),
            (
                429,
                json!({"error": {"type": "invalid_request_error", "code": "lock_timeout"}}),
            ),
            (502, json!("<html>bad gateway</html>")),
        ] {
            assert!(error_of(status, &body).transient(), "{status} {body}");
        }
    }
}
