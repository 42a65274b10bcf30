//! The outside services outreach talks to, each behind a small trait with an
//! implementation that speaks the real protocol: the WhatsApp Cloud API over HTTPS
//! (Meta's own, or 360dialog's hosted one) and SMTP. Tests and `cargo xtask run` point
//! them at the local peer (`peer/`).

use std::sync::Arc;
use std::time::Duration;

/// Why a send did not go out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Worth another try later: timeouts, 5xx, rate limits.
    Transient(String),
    /// Will never work as it is: a bad number, a rejected recipient.
    Permanent(String),
}

impl SendError {
    pub fn message(&self) -> &str {
        match self {
            SendError::Transient(m) | SendError::Permanent(m) => m,
        }
    }
}

/// What a WhatsApp message carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaContent {
    /// Free text: allowed inside the 24-hour customer-service window only.
    Text(String),
    /// A file with its caption: like text, inside the window only.
    Media { media: WaMedia, caption: String },
    /// An approved template, which may open a conversation; the body parameters fill
    /// its `{{1}}`, `{{2}}`, … in order, and `header` its media header.
    Template {
        name: String,
        language: String,
        params: Vec<String>,
        header: Option<WaMedia>,
    },
}

/// A file a message names by the id its upload to the number's API answered
/// ([`WhatsAppApi::upload_media`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaMedia {
    pub kind: WaMediaKind,
    pub id: String,
    /// Shown to the recipient for a document.
    pub file_name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaMediaKind {
    Image,
    Document,
}

impl WaMediaKind {
    /// Images show in the chat; anything else goes as a document.
    pub fn of(content_type: &str) -> WaMediaKind {
        if content_type.starts_with("image/") {
            WaMediaKind::Image
        } else {
            WaMediaKind::Document
        }
    }

    /// The Cloud API's name for it, as a message type and a parameter type.
    pub fn code(self) -> &'static str {
        match self {
            WaMediaKind::Image => "image",
            WaMediaKind::Document => "document",
        }
    }
}

impl WaMedia {
    /// The `image`/`document` object of a message or a header parameter.
    fn object(&self, caption: Option<&str>) -> serde_json::Value {
        let mut object = serde_json::json!({ "id": self.id });
        if self.kind == WaMediaKind::Document {
            object["filename"] = self.file_name.clone().into();
        }
        if let Some(caption) = caption.filter(|c| !c.is_empty()) {
            object["caption"] = caption.into();
        }
        object
    }
}

/// Meta's limit on a media message's caption, in characters.
pub const WA_CAPTION_MAX_CHARS: usize = 1024;

/// A file to upload to a number's WhatsApp API.
#[derive(Clone, Copy, Debug)]
pub struct MediaFile<'a> {
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// The `multipart/form-data` body of a media upload (`messaging_product`, `type`,
/// `file`) and its content type with the boundary.
pub fn media_form(file: &MediaFile<'_>) -> (String, Vec<u8>) {
    let boundary = format!("leadline-{}", uuid::Uuid::new_v4().simple());
    let quoted = |s: &str| {
        s.chars()
            .map(|c| if c == '"' || c.is_control() { '_' } else { c })
            .collect::<String>()
    };
    let mut body = Vec::with_capacity(file.bytes.len() + 512);
    for (name, value) in [
        ("messaging_product", "whatsapp"),
        ("type", file.content_type),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quoted(file.file_name),
            quoted(file.content_type)
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Which API a number sends through (`wa_phone_numbers.provider`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaProvider {
    /// Meta's Cloud API, with the WABA's access token.
    MetaCloud,
    /// 360dialog's hosted Cloud API, with the channel's API key.
    Dialog360,
}

impl WaProvider {
    pub fn parse(code: &str) -> Option<WaProvider> {
        match code {
            "META_CLOUD" => Some(WaProvider::MetaCloud),
            "DIALOG360" => Some(WaProvider::Dialog360),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            WaProvider::MetaCloud => "META_CLOUD",
            WaProvider::Dialog360 => "DIALOG360",
        }
    }
}

#[derive(Clone, Debug)]
pub struct WaMessage {
    pub provider_phone_id: String,
    /// The number's credential with its provider: Meta's bearer token, or the
    /// 360dialog API key.
    pub access_token: String,
    pub to: String,
    pub content: WaContent,
    /// Sent as `biz_opaque_callback_data`: Meta echoes it in every status webhook, so a
    /// send whose answer we lost is recognised; the local peer also de-duplicates on it.
    pub idempotency_key: String,
}

/// A number as Meta lists it under its WhatsApp Business Account.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct WabaNumber {
    /// The `phone_number_id`.
    pub id: String,
    #[serde(default)]
    pub display_phone_number: String,
    #[serde(default)]
    pub verified_name: String,
}

#[async_trait::async_trait]
pub trait WhatsAppApi: Send + Sync {
    /// Sends and returns the provider's message id (`wamid…`).
    async fn send(&self, message: &WaMessage) -> Result<String, SendError>;

    /// Uploads a file for number `provider_phone_id` to send, and returns its media id.
    async fn upload_media(
        &self,
        provider_phone_id: &str,
        credential: &str,
        file: &MediaFile<'_>,
    ) -> Result<String, SendError>;

    /// The numbers of WhatsApp Business Account `waba_id`, as `access_token` may see
    /// them: an answer at all proves the token manages that account.
    async fn waba_numbers(
        &self,
        waba_id: &str,
        access_token: &str,
    ) -> Result<Vec<WabaNumber>, SendError>;

    /// Proves `credential` may send as number `provider_phone_id` of WABA `waba_id`;
    /// for the Cloud API, the WABA's number list read with it names the number.
    async fn verify(
        &self,
        waba_id: &str,
        provider_phone_id: &str,
        credential: &str,
    ) -> Result<(), SendError> {
        let numbers = self.waba_numbers(waba_id, credential).await?;
        if numbers.iter().any(|n| n.id == provider_phone_id) {
            Ok(())
        } else {
            Err(SendError::Permanent(format!(
                "WABA {waba_id} does not list number {provider_phone_id} for this token"
            )))
        }
    }
}

#[async_trait::async_trait]
pub trait EmailTransport: Send + Sync {
    /// Hands a finished (signed) message to the mailbox's SMTP server.
    async fn send(
        &self,
        settings: &mail::SmtpSettings,
        envelope_from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<String, SendError>;
}

#[derive(Clone)]
pub struct Providers {
    /// Meta's Cloud API.
    pub whatsapp: Arc<dyn WhatsAppApi>,
    /// 360dialog's hosted Cloud API.
    pub dialog360: Arc<dyn WhatsAppApi>,
    pub email: Arc<dyn EmailTransport>,
}

impl Providers {
    /// The real protocols: the Cloud API at `wa_api_base` (e.g.
    /// `https://graph.facebook.com/v21.0`), 360dialog's at `d360_api_base` (e.g.
    /// `https://waba-v2.360dialog.io`) and SMTP.
    pub fn real(wa_api_base: &str, d360_api_base: &str) -> Providers {
        Providers {
            whatsapp: Arc::new(CloudApi::new(wa_api_base)),
            dialog360: Arc::new(Dialog360::new(d360_api_base)),
            email: Arc::new(Smtp),
        }
    }

    /// The client of a number's provider.
    pub fn whatsapp_for(&self, provider: WaProvider) -> &dyn WhatsAppApi {
        match provider {
            WaProvider::MetaCloud => self.whatsapp.as_ref(),
            WaProvider::Dialog360 => self.dialog360.as_ref(),
        }
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .build()
        .expect("a client without custom TLS roots builds")
}

/// Meta's WhatsApp Cloud API: `POST {base}/{phone_number_id}/messages`.
pub struct CloudApi {
    base: String,
    client: reqwest::Client,
}

impl CloudApi {
    pub fn new(base: &str) -> CloudApi {
        CloudApi {
            base: base.trim_end_matches('/').to_string(),
            client: http_client(),
        }
    }
}

/// The JSON body the Cloud API expects for a message.
pub fn cloud_api_body(message: &WaMessage) -> serde_json::Value {
    let mut body = serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to,
        "biz_opaque_callback_data": message.idempotency_key,
    });
    match &message.content {
        WaContent::Text(text) => {
            body["type"] = "text".into();
            body["text"] = serde_json::json!({ "preview_url": false, "body": text });
        }
        WaContent::Media { media, caption } => {
            let kind = media.kind.code();
            body["type"] = kind.into();
            body[kind] = media.object(Some(caption));
        }
        WaContent::Template {
            name,
            language,
            params,
            header,
        } => {
            body["type"] = "template".into();
            let parameters: Vec<_> = params
                .iter()
                .map(|p| serde_json::json!({ "type": "text", "text": p }))
                .collect();
            let mut components = Vec::new();
            if let Some(media) = header {
                let kind = media.kind.code();
                components.push(serde_json::json!({
                    "type": "header",
                    "parameters": [{ "type": kind, kind: media.object(None) }],
                }));
            }
            components.push(serde_json::json!({ "type": "body", "parameters": parameters }));
            body["template"] = serde_json::json!({
                "name": name,
                "language": { "code": language },
                "components": components,
            });
        }
    }
    body
}

/// The Graph error of a failed answer, as a `SendError` of the right kind.
fn graph_failure(status: reqwest::StatusCode, body: &serde_json::Value) -> SendError {
    let code = body["error"]["code"].as_i64().unwrap_or(0);
    let text = body["error"]["message"]
        .as_str()
        .unwrap_or("no reason given")
        .to_string();
    let reason = format!("WhatsApp API {status} (code {code}): {text}");
    if status.is_server_error() || status.as_u16() == 429 || transient_graph_code(code) {
        SendError::Transient(reason)
    } else {
        SendError::Permanent(reason)
    }
}

/// Graph error codes that mean "later" rather than "never": throttling, temporary
/// unavailability, spam-rate limits.
pub(crate) fn transient_graph_code(code: i64) -> bool {
    matches!(
        code,
        1 | 2 | 4 | 17 | 32 | 613 | 80007 | 130429 | 131048 | 131056 | 133004
    )
}

/// A Graph request's answer body, or the Graph error (both Cloud APIs answer alike).
async fn graph_answer(request: reqwest::RequestBuilder) -> Result<serde_json::Value, SendError> {
    let response = request
        .send()
        .await
        .map_err(|e| SendError::Transient(format!("WhatsApp API unreachable: {e}")))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| SendError::Transient(format!("WhatsApp API answer unreadable: {e}")))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(graph_failure(status, &body))
    }
}

/// A send's answer: the message id.
async fn send_answer(request: reqwest::RequestBuilder) -> Result<String, SendError> {
    graph_answer(request).await?["messages"][0]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| SendError::Transient("WhatsApp API answered without an id".into()))
}

/// An upload's answer: `{"id": "<media id>"}`.
async fn upload_answer(request: reqwest::RequestBuilder) -> Result<String, SendError> {
    graph_answer(request).await?["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| SendError::Transient("WhatsApp API answered without a media id".into()))
}

#[async_trait::async_trait]
impl WhatsAppApi for CloudApi {
    async fn send(&self, message: &WaMessage) -> Result<String, SendError> {
        let url = format!("{}/{}/messages", self.base, message.provider_phone_id);
        let request = self
            .client
            .post(&url)
            .bearer_auth(&message.access_token)
            .json(&cloud_api_body(message));
        send_answer(request).await
    }

    /// `POST {base}/{phone_number_id}/media`.
    async fn upload_media(
        &self,
        provider_phone_id: &str,
        credential: &str,
        file: &MediaFile<'_>,
    ) -> Result<String, SendError> {
        let (content_type, body) = media_form(file);
        let request = self
            .client
            .post(format!("{}/{provider_phone_id}/media", self.base))
            .bearer_auth(credential)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        upload_answer(request).await
    }

    /// `GET {base}/{waba_id}/phone_numbers`, following Graph's `paging.next` while it
    /// stays on our base (a WABA rarely has more than a page of numbers).
    async fn waba_numbers(
        &self,
        waba_id: &str,
        access_token: &str,
    ) -> Result<Vec<WabaNumber>, SendError> {
        let mut url = reqwest::Url::parse(&format!("{}/{waba_id}/phone_numbers", self.base))
            .map_err(|e| SendError::Permanent(format!("not a usable WABA id: {e}")))?;
        url.query_pairs_mut()
            .append_pair("fields", "id,display_phone_number,verified_name")
            .append_pair("limit", "100");
        let mut numbers = Vec::new();
        for _ in 0..10 {
            let response = self
                .client
                .get(url.clone())
                .bearer_auth(access_token)
                .send()
                .await
                .map_err(|e| SendError::Transient(format!("WhatsApp API unreachable: {e}")))?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.map_err(|e| {
                SendError::Transient(format!("WhatsApp API answer unreadable: {e}"))
            })?;
            if !status.is_success() {
                return Err(graph_failure(status, &body));
            }
            let page: Vec<WabaNumber> = serde_json::from_value(body["data"].clone())
                .map_err(|e| SendError::Transient(format!("WhatsApp API number list: {e}")))?;
            numbers.extend(page);
            match body["paging"]["next"].as_str() {
                Some(next) if next.starts_with(&self.base) => {
                    url = reqwest::Url::parse(next).map_err(|e| {
                        SendError::Transient(format!("WhatsApp API paging link: {e}"))
                    })?;
                }
                _ => break,
            }
        }
        Ok(numbers)
    }
}

/// 360dialog's hosted Cloud API: `POST {base}/messages` with the channel's key in
/// `D360-API-KEY`, Meta's body and answer. The key belongs to one number, so the URL
/// names none.
pub struct Dialog360 {
    base: String,
    client: reqwest::Client,
}

/// The header 360dialog reads the API key from.
pub const D360_KEY_HEADER: &str = "D360-API-KEY";

impl Dialog360 {
    pub fn new(base: &str) -> Dialog360 {
        Dialog360 {
            base: base.trim_end_matches('/').to_string(),
            client: http_client(),
        }
    }

    /// The send request, unsent (so its shape can be checked without a server).
    pub fn send_request(&self, message: &WaMessage) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/messages", self.base))
            .header(D360_KEY_HEADER, &message.access_token)
            .json(&cloud_api_body(message))
    }
}

#[async_trait::async_trait]
impl WhatsAppApi for Dialog360 {
    async fn send(&self, message: &WaMessage) -> Result<String, SendError> {
        send_answer(self.send_request(message)).await
    }

    /// `POST {base}/media`: the key names the number.
    async fn upload_media(
        &self,
        _: &str,
        credential: &str,
        file: &MediaFile<'_>,
    ) -> Result<String, SendError> {
        let (content_type, body) = media_form(file);
        let request = self
            .client
            .post(format!("{}/media", self.base))
            .header(D360_KEY_HEADER, credential)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        upload_answer(request).await
    }

    /// 360dialog lists no WABA: its key already stands for one number.
    async fn waba_numbers(&self, _: &str, _: &str) -> Result<Vec<WabaNumber>, SendError> {
        Err(SendError::Permanent(
            "360dialog keys stand for one number and list no WABA".into(),
        ))
    }

    /// `GET {base}/v1/configs/webhook` answers 200 only for a valid key.
    async fn verify(&self, _: &str, _: &str, credential: &str) -> Result<(), SendError> {
        let response = self
            .client
            .get(format!("{}/v1/configs/webhook", self.base))
            .header(D360_KEY_HEADER, credential)
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("360dialog unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 {
            Err(SendError::Transient(format!("360dialog answered {status}")))
        } else {
            Err(SendError::Permanent(format!(
                "360dialog refused the API key ({status})"
            )))
        }
    }
}

/// SMTP, through the `mail` crate (lettre underneath).
pub struct Smtp;

#[async_trait::async_trait]
impl EmailTransport for Smtp {
    async fn send(
        &self,
        settings: &mail::SmtpSettings,
        envelope_from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<String, SendError> {
        mail::send(settings, envelope_from, to, raw)
            .await
            .map_err(|e| match e {
                mail::SendError::Transient(m) => SendError::Transient(m),
                mail::SendError::Permanent(m) => SendError::Permanent(m),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_api_bodies_follow_meta_shape() {
        let text = cloud_api_body(&WaMessage {
            provider_phone_id: "1".into(),
            access_token: "t".into(),
            to: "+201001234567".into(),
            content: WaContent::Text("Hi 👋".into()),
            idempotency_key: "k1".into(),
        });
        assert_eq!(text["type"], "text");
        assert_eq!(text["text"]["body"], "Hi 👋");
        assert_eq!(text["biz_opaque_callback_data"], "k1");
        let template = cloud_api_body(&WaMessage {
            provider_phone_id: "1".into(),
            access_token: "t".into(),
            to: "+201001234567".into(),
            content: WaContent::Template {
                name: "intro".into(),
                language: "ar".into(),
                params: vec!["منى".into()],
                header: None,
            },
            idempotency_key: "k2".into(),
        });
        assert_eq!(template["template"]["language"]["code"], "ar");
        assert_eq!(
            template["template"]["components"][0]["parameters"][0]["text"],
            "منى"
        );
    }

    #[test]
    fn media_go_as_a_header_or_as_a_captioned_message_in_metas_shape() {
        let brochure = WaMedia {
            kind: WaMediaKind::Document,
            id: "media-1".into(),
            file_name: "Brochure.pdf".into(),
        };
        let message = |content| WaMessage {
            provider_phone_id: "1".into(),
            access_token: "t".into(),
            to: "+201001234567".into(),
            content,
            idempotency_key: "k".into(),
        };
        let template = cloud_api_body(&message(WaContent::Template {
            name: "launch".into(),
            language: "en".into(),
            params: vec!["Mona".into()],
            header: Some(brochure.clone()),
        }));
        let components = &template["template"]["components"];
        assert_eq!(components[0]["type"], "header");
        assert_eq!(components[0]["parameters"][0]["type"], "document");
        assert_eq!(components[0]["parameters"][0]["document"]["id"], "media-1");
        assert_eq!(
            components[0]["parameters"][0]["document"]["filename"],
            "Brochure.pdf"
        );
        assert_eq!(components[1]["type"], "body");
        let photo = cloud_api_body(&message(WaContent::Media {
            media: WaMedia {
                kind: WaMediaKind::Image,
                id: "media-2".into(),
                file_name: "view.jpg".into(),
            },
            caption: "The view from 12B".into(),
        }));
        assert_eq!(photo["type"], "image");
        assert_eq!(
            photo["image"],
            serde_json::json!({ "id": "media-2", "caption": "The view from 12B" })
        );
        assert_eq!(WaMediaKind::of("image/png"), WaMediaKind::Image);
        assert_eq!(WaMediaKind::of("application/pdf"), WaMediaKind::Document);
    }

    #[test]
    fn a_media_upload_is_a_form_with_metas_three_fields() {
        let (content_type, body) = media_form(&MediaFile {
            file_name: "a\"b.pdf",
            content_type: "application/pdf",
            bytes: b"%PDF-1.7",
        });
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(text.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
        assert!(text.contains("name=\"type\"\r\n\r\napplication/pdf\r\n"));
        assert!(text.contains(
            "name=\"file\"; filename=\"a_b.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\r\n"
        ));
    }

    #[test]
    fn dialog360_requests_carry_the_key_header_and_metas_body() {
        let message = WaMessage {
            provider_phone_id: "pn-1".into(),
            access_token: "d360-key".into(),
            to: "+201001234567".into(),
            content: WaContent::Template {
                name: "intro".into(),
                language: "en".into(),
                params: vec!["Mona".into()],
                header: None,
            },
            idempotency_key: "k3".into(),
        };
        let request = Dialog360::new("https://waba-v2.360dialog.io/")
            .send_request(&message)
            .build()
            .unwrap();
        assert_eq!(request.method(), reqwest::Method::POST);
        assert_eq!(
            request.url().as_str(),
            "https://waba-v2.360dialog.io/messages"
        );
        assert_eq!(request.headers()[D360_KEY_HEADER], "d360-key");
        assert!(request.headers().get("authorization").is_none());
        let body: serde_json::Value =
            serde_json::from_slice(request.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body, cloud_api_body(&message));
        assert_eq!(body["messaging_product"], "whatsapp");
        assert_eq!(body["biz_opaque_callback_data"], "k3");
        assert_eq!(body["template"]["name"], "intro");
    }

    #[test]
    fn provider_codes_round_trip() {
        for p in [WaProvider::MetaCloud, WaProvider::Dialog360] {
            assert_eq!(WaProvider::parse(p.code()), Some(p));
        }
        assert_eq!(WaProvider::parse("TWILIO"), None);
    }

    #[test]
    fn throttling_is_transient() {
        assert!(transient_graph_code(131048));
        assert!(transient_graph_code(130429));
        assert!(!transient_graph_code(131026));
        assert!(!transient_graph_code(100));
    }
}
