//! What the peer sends to our server: WhatsApp webhooks, email events, and
//! the GETs a mail client makes for opens and clicks.

use serde_json::{json, Value};

use crate::{mime, sign, Channel, Received, Shared, Track, WaNumber};

/// The reply a person gives when they do not type one.
pub(crate) const DEFAULT_REPLY: &str = "Yes, I'm interested";

const WHATSAPP_STATUSES: [&str; 4] = ["sent", "delivered", "read", "failed"];

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// Wraps a WhatsApp `value` about `number` in Meta's webhook envelope, whose
/// `entry[].id` is the number's WABA id.
fn whatsapp_envelope(number: &WaNumber, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": number.waba_id,
            "changes": [{ "field": "messages", "value": value }],
        }],
    })
}

fn whatsapp_metadata(number: &WaNumber) -> Value {
    json!({
        "display_phone_number": digits(&number.display_phone_number),
        "phone_number_id": number.phone_number_id,
    })
}

/// Where a reply to an email goes: its `Reply-To`, else its `From`, else the
/// envelope sender; the first address of the header, without a display name.
fn reply_address(message: &Received) -> String {
    let header = |name: &str| {
        message
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    header("Reply-To")
        .or_else(|| header("From"))
        .and_then(|value| {
            let first = value.split(',').next().unwrap_or(value);
            let address = match (first.find('<'), first.rfind('>')) {
                (Some(start), Some(end)) if start < end => &first[start + 1..end],
                _ => first,
            };
            Some(address.trim().to_owned()).filter(|a| a.contains('@'))
        })
        .unwrap_or_else(|| message.from.clone())
}

impl Shared {
    fn message_on(&self, id: &str, channel: Channel) -> Result<Received, String> {
        let message = self
            .find(id)
            .ok_or_else(|| format!("no received message with id {id:?}"))?;
        if message.channel == channel {
            Ok(message)
        } else {
            Err(format!("message {id:?} is not a {channel:?} message"))
        }
    }

    /// The number a WhatsApp message was sent from: Meta only calls back about
    /// numbers it knows, so neither does the peer.
    fn sender_of(&self, message: &Received) -> Result<WaNumber, String> {
        self.whatsapp_number(&message.from).ok_or_else(|| {
            format!(
                "phone_number_id {:?} is not registered with the peer (PeerConfig::whatsapp_numbers, Peer::add_whatsapp_number or POST /_peer/whatsapp/numbers)",
                message.from
            )
        })
    }

    pub(crate) async fn whatsapp_status(&self, id: &str, status: &str) -> Result<u16, String> {
        if !WHATSAPP_STATUSES.contains(&status) {
            return Err(format!(
                "unknown WhatsApp status {status:?}; use one of {WHATSAPP_STATUSES:?}"
            ));
        }
        let message = self.message_on(id, Channel::WhatsApp)?;
        let number = self.sender_of(&message)?;
        let mut entry = json!({
            "id": message.id,
            "status": status,
            "timestamp": chrono::Utc::now().timestamp().to_string(),
            "recipient_id": digits(&message.to),
        });
        if let Some(key) = &message.idempotency_key {
            entry["biz_opaque_callback_data"] = json!(key);
        }
        if status == "failed" {
            entry["errors"] = json!([{ "code": 131026, "title": "Message undeliverable" }]);
        }
        let body = whatsapp_envelope(
            &number,
            json!({
                "messaging_product": "whatsapp",
                "metadata": whatsapp_metadata(&number),
                "statuses": [entry],
            }),
        );
        self.post_whatsapp(&message.id, status, &body).await
    }

    pub(crate) async fn whatsapp_reply(&self, id: &str, text: &str) -> Result<u16, String> {
        let message = self.message_on(id, Channel::WhatsApp)?;
        let number = self.sender_of(&message)?;
        let wa_id = digits(&message.to);
        let body = whatsapp_envelope(
            &number,
            json!({
                "messaging_product": "whatsapp",
                "metadata": whatsapp_metadata(&number),
                "contacts": [{ "profile": { "name": "Peer Contact" }, "wa_id": wa_id }],
                "messages": [{
                    "from": wa_id,
                    "id": format!("wamid.in.{}", uuid::Uuid::new_v4().simple()),
                    "timestamp": chrono::Utc::now().timestamp().to_string(),
                    "type": "text",
                    "text": { "body": text },
                    "context": { "id": message.id },
                }],
            }),
        );
        self.post_whatsapp(&message.id, "reply", &body).await
    }

    async fn post_whatsapp(&self, id: &str, event: &str, body: &Value) -> Result<u16, String> {
        // The signature covers these exact bytes, so they are what is sent.
        let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let signature = sign::hub_signature(&self.config.whatsapp_app_secret, &body);
        let request = self
            .client
            .post(&self.config.whatsapp_webhook_url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body);
        self.send(id, event, request).await
    }

    pub(crate) async fn email_event(
        &self,
        id: &str,
        kind: &str,
        text: &str,
    ) -> Result<u16, String> {
        let message = self.message_on(id, Channel::Email)?;
        let default_text = match kind {
            "reply" => DEFAULT_REPLY.to_owned(),
            "bounce" => format!(
                "550 5.1.1 <{}>: Recipient address rejected: User unknown",
                message.to
            ),
            "complaint" => "The recipient marked this message as spam".to_owned(),
            _ => {
                return Err(format!(
                    "unknown email event {kind:?}; use reply, bounce or complaint"
                ))
            }
        };
        let text = if text.trim().is_empty() {
            default_text
        } else {
            text.to_owned()
        };
        // A mail client answers to Reply-To, else From; bounces and complaints
        // come back to the envelope sender.
        let to = if kind == "reply" {
            reply_address(&message)
        } else {
            message.from.clone()
        };
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let timestamp = chrono::Utc::now().timestamp();
        let body = serde_json::to_vec(&json!({
            "id": event_id,
            "type": kind,
            "message_id": message.id,
            "from": message.to,
            "to": to,
            "subject": format!("Re: {}", message.subject.as_deref().unwrap_or_default()),
            "text": text,
            "timestamp": timestamp,
        }))
        .map_err(|e| e.to_string())?;
        let signature = sign::standard_webhook_signature(
            &self.config.email_webhook_secret,
            &event_id,
            timestamp,
            &body,
        );
        let request = self
            .client
            .post(&self.config.email_webhook_url)
            .header("content-type", "application/json")
            .header("webhook-id", &event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        self.send(&message.id, kind, request).await
    }

    pub(crate) async fn email_track(&self, id: &str, track: Track) -> Result<u16, String> {
        let message = self.message_on(id, Channel::Email)?;
        let html = message
            .html
            .as_deref()
            .ok_or_else(|| format!("email {id:?} has no HTML part to track"))?;
        let (found, event) = match track {
            Track::Open => (mime::open_pixel(html), "open"),
            Track::Click => (mime::tracked_link(html), "click"),
        };
        let found = found.ok_or_else(|| match track {
            Track::Open => format!("email {id:?} has no <img> whose src contains \"/t/o/\""),
            Track::Click => format!("email {id:?} has no href containing \"/t/c/\""),
        })?;
        // Relative tracking URLs can only mean our server, which is where the
        // email webhooks go too.
        let url = reqwest::Url::parse(&self.config.email_webhook_url)
            .and_then(|base| base.join(&found))
            .map_err(|e| format!("tracking URL {found:?} is not usable: {e}"))?;
        self.send(&message.id, event, self.client.get(url)).await
    }

    async fn send(
        &self,
        id: &str,
        event: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<u16, String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("{event} for {id:?} was not delivered: {e}"))?;
        let status = response.status();
        // A redirect is how a click-tracking endpoint says yes.
        let recorded = if status.is_success() || status.is_redirection() {
            event.to_owned()
        } else {
            format!("{event} (HTTP {})", status.as_u16())
        };
        self.record_event(id, recorded);
        Ok(status.as_u16())
    }
}
