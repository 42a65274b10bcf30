//! A local stand-in for the outside messaging providers: the `WhatsApp` Cloud
//! API, Meta's and 360dialog's hosted one (send endpoints plus signed status
//! and reply webhooks), an SMTP relay
//! (plus signed email events, opens and clicks), Stripe's payment intents
//! (with signed `Stripe-Signature` events), and an OpenAI-compatible chat
//! completions endpoint for the review queue's LLM path.
//!
//! It exists so that developers and tests can run the whole outreach loop with
//! no provider accounts: our server sends to the peer exactly as it would to
//! the real provider, and the peer answers and calls back in the providers'
//! formats. A small dev page at `GET /` shows what arrived and lets a person
//! play the recipient.

mod http;
mod leadgen;
mod llm;
mod media;
mod mime;
mod page;
mod receiver;
mod s3;
mod sign;
mod smtp;
mod stripe;
mod webhooks;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;

pub use leadgen::FacebookLead;
pub use llm::{LlmAnswer, LlmRequest};
pub use receiver::{HookAnswer, HookRequest};
pub use stripe::StripeIntent;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Where the peer listens and where it sends its webhooks.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Where `WhatsApp` webhooks go, e.g. `http://127.0.0.1:3000/webhooks/whatsapp`.
    pub whatsapp_webhook_url: String,
    /// Meta "app secret": the key of `X-Hub-Signature-256`.
    pub whatsapp_app_secret: String,
    /// Where email events go, e.g. `http://127.0.0.1:3000/webhooks/email`.
    /// Relative tracking URLs in emails are resolved against it too.
    pub email_webhook_url: String,
    /// Key of the email webhook signature (Standard Webhooks): `whsec_` and base64.
    pub email_webhook_secret: String,
    /// HTTP listen address, `127.0.0.1:0` for any free port.
    pub http_addr: SocketAddr,
    /// SMTP listen address, `127.0.0.1:0` for any free port.
    pub smtp_addr: SocketAddr,
    /// The `WhatsApp` numbers the peer knows from the start; more can be added
    /// with [`Peer::add_whatsapp_number`] or `POST /_peer/whatsapp/numbers`.
    pub whatsapp_numbers: Vec<WaNumber>,
}

/// A `WhatsApp` Business number as Meta knows it: which business account
/// (WABA) holds it, and the access token that may manage that account. The
/// Graph `GET /{waba_id}/phone_numbers` lists a WABA's numbers only for its
/// token, and webhooks about a number carry its WABA id as `entry[].id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WaNumber {
    /// The WhatsApp Business Account id.
    pub waba_id: String,
    /// The Cloud API's `phone_number_id`.
    pub phone_number_id: String,
    /// The number as Meta shows it, e.g. `+20 155 000 0101`.
    pub display_phone_number: String,
    /// The business name shown in `WhatsApp`.
    pub verified_name: String,
    /// The (system user) access token that manages the WABA.
    pub access_token: String,
}

/// Which provider a message came through; serialized as `"WHATSAPP"` or
/// `"EMAIL"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Channel {
    /// Sent to the `WhatsApp` Cloud API send endpoint.
    WhatsApp,
    /// Relayed over SMTP.
    Email,
}

/// Which `WhatsApp` API a message came through; serialized as `"META_CLOUD"`
/// or `"DIALOG360"`, the names our server gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WaApi {
    /// `POST /{version}/{phone_number_id}/messages` with a bearer token.
    MetaCloud,
    /// `POST /360dialog/messages` with a `D360-API-KEY` header.
    #[serde(rename = "DIALOG360")]
    Dialog360,
}

/// How the next `WhatsApp` sends should fail (see [`Peer::fail_next`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 503, Graph error code 2 "Service temporarily unavailable": worth
    /// retrying.
    Transient,
    /// HTTP 400, Graph error code 131026 "Message undeliverable": never worth
    /// retrying.
    Permanent,
}

/// One message the peer accepted, as shown on the dev page and by
/// `GET /_peer/messages` (as JSON).
#[derive(Clone, Debug, Serialize)]
pub struct Received {
    /// The peer's id: the wamid for `WhatsApp` (`wamid.<uuid>`), the
    /// `Message-ID` (without `<>`) for email, or a generated `<uuid>@peer`
    /// when the email had none.
    pub id: String,
    /// Which provider received it.
    pub channel: Channel,
    /// `WhatsApp`: which API it came through; `None` for email.
    pub provider: Option<WaApi>,
    /// `WhatsApp`: the `phone_number_id` in the URL; email: `MAIL FROM`.
    pub from: String,
    /// `WhatsApp`: the `to` field; email: the first `RCPT TO`.
    pub to: String,
    /// Email `Subject` header, RFC 2047 encoded-words decoded.
    pub subject: Option<String>,
    /// `WhatsApp`: `text.body`, or for a template `template:<name>:<language>`
    /// followed by the body parameters, all joined by `" | "`. Email: the
    /// `text/plain` part decoded, or the whole decoded body if not multipart;
    /// line ends are `\n` and trailing line breaks are dropped.
    pub body: String,
    /// Email `text/html` part (or the whole body of a single-part HTML email),
    /// decoded.
    pub html: Option<String>,
    /// Email headers, unfolded, in order, values not decoded; empty for
    /// `WhatsApp`.
    pub headers: Vec<(String, String)>,
    /// `WhatsApp`: `biz_opaque_callback_data`; email: the `Message-ID`, if it
    /// had one.
    pub idempotency_key: Option<String>,
    /// How many times a message with the same key arrived. Repeats are not
    /// stored again: they bump this and get the same id back.
    pub times_received: u32,
    /// The files it carried: email attachments, or the `WhatsApp` media (a
    /// template's header, an image or document message) its media id named.
    pub attachments: Vec<ReceivedFile>,
    /// Webhook events sent for it so far (`delivered`, `read`, `reply`, ...).
    /// A name is followed by " (HTTP nnn)" when our server answered with
    /// neither a success nor a redirect.
    pub events: Vec<String>,
    /// When it first arrived.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// A file as it arrived: with a message, or uploaded to the media endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceivedFile {
    /// The file name: the attachment's (RFC 2231 decoded), or the upload's.
    pub name: Option<String>,
    pub content_type: String,
    pub size: usize,
    /// Hex SHA-256 of the bytes, to compare with what was sent.
    pub sha256: String,
}

impl ReceivedFile {
    pub(crate) fn of(name: Option<String>, content_type: String, bytes: &[u8]) -> ReceivedFile {
        use sha2::Digest;
        ReceivedFile {
            name,
            content_type,
            size: bytes.len(),
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }
}

/// A file uploaded with `POST /{version}/{phone_number_id}/media` (or
/// 360dialog's `POST /media`), which sends may then name by its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MediaUpload {
    /// The media id answered.
    pub id: String,
    /// The number it was uploaded for.
    pub phone_number_id: String,
    /// The form's `type` field.
    pub declared_type: String,
    pub file: ReceivedFile,
}

/// A running peer. Cheap to clone; both listeners stop once the last clone is
/// dropped.
#[derive(Clone)]
pub struct Peer {
    shared: Arc<Shared>,
    // Only held so that dropping the last `Peer` closes the channel, which is
    // what the server tasks wait on to stop.
    _stop: Arc<watch::Sender<()>>,
}

impl Peer {
    /// Binds both listeners and serves them on the current tokio runtime until
    /// the returned `Peer` (and all clones) are dropped or the runtime ends.
    /// Returns once both are bound.
    ///
    /// # Errors
    ///
    /// Either address cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(config: PeerConfig) -> std::io::Result<Peer> {
        let http_listener = TcpListener::bind(config.http_addr).await?;
        let smtp_listener = TcpListener::bind(config.smtp_addr).await?;
        let http_addr = reachable(http_listener.local_addr()?);
        let smtp_addr = reachable(smtp_listener.local_addr()?);
        let client = reqwest::Client::builder()
            // Opens and clicks must see the tracking endpoint's own answer
            // (a 302 for clicks), and webhooks must not wander off elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            config,
            http_addr,
            smtp_addr,
            client,
            store: Mutex::new(Store::default()),
            hooks: Mutex::new(receiver::Hooks::default()),
            leads: Mutex::new(leadgen::Leads::default()),
            stripe: Mutex::new(stripe::Stripe::default()),
            llm: Mutex::new(llm::Llm::default()),
            s3: Mutex::new(s3::S3::default()),
        });
        for number in shared.config.whatsapp_numbers.clone() {
            shared.add_whatsapp_number(number);
        }
        let (stop, stopped) = watch::channel(());
        tokio::spawn(http::serve(
            http_listener,
            Arc::clone(&shared),
            stopped.clone(),
        ));
        tokio::spawn(smtp::serve(smtp_listener, Arc::clone(&shared), stopped));
        Ok(Peer {
            shared,
            _stop: Arc::new(stop),
        })
    }

    /// The base URL of the HTTP side, e.g. `http://127.0.0.1:PORT`: the
    /// `WhatsApp` Graph base URL and the dev page. A wildcard listen address
    /// is reported as loopback.
    pub fn http_base(&self) -> String {
        self.shared.http_base()
    }

    /// The address the SMTP side listens on.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.shared.smtp_addr
    }

    /// Everything received so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages()
    }

    /// Makes a `WhatsApp` number known (or replaces what is known of it), as if
    /// it had been added to its WABA in Meta's Business Manager.
    /// The media uploaded so far, in no particular order.
    #[must_use]
    pub fn media_uploads(&self) -> Vec<MediaUpload> {
        self.shared.lock().media.values().cloned().collect()
    }

    pub fn add_whatsapp_number(&self, number: WaNumber) {
        self.shared.add_whatsapp_number(number);
    }

    /// A Facebook lead form was filled: the Graph API answers `GET
    /// /{version}/{lead.id}` with it, for its Page token.
    pub fn add_facebook_lead(&self, lead: FacebookLead) {
        self.shared.leads().add(lead);
    }

    /// The ids of the leads read from the Graph API so far, in order.
    pub fn facebook_lead_reads(&self) -> Vec<String> {
        self.shared.leads().reads.clone()
    }

    /// The Stripe stand-in posts its events to `url`, signed with the endpoint
    /// secret `secret` (`whsec_…`), as a webhook endpoint registered with Stripe.
    pub fn set_stripe_webhook(&self, url: &str, secret: &str) {
        self.shared.stripe().set_webhook(url, secret);
    }

    /// Every payment intent the Stripe stand-in made, oldest first.
    pub fn stripe_intents(&self) -> Vec<StripeIntent> {
        self.shared.stripe().intents.clone()
    }

    /// The bank of Stripe customer `customer` charges `payment_method` from now on,
    /// whatever the charge names: "the customer fixed their card".
    pub fn stripe_set_card(&self, customer: &str, payment_method: &str) {
        self.shared.stripe().set_card(customer, payment_method);
    }

    /// The base URL of the OpenAI-compatible chat completions stand-in, as a tenant
    /// would enter it (`…/llm/v1`).
    pub fn llm_url(&self) -> String {
        format!("{}/llm/v1", self.http_base())
    }

    /// The LLM stand-in answers the next requests so, one each, in order.
    pub fn llm_answer_next(&self, answers: &[LlmAnswer]) {
        self.shared.llm().next.extend(answers.iter().cloned());
    }

    /// Every request the LLM stand-in received.
    pub fn llm_requests(&self) -> Vec<LlmRequest> {
        self.shared.llm().requests.clone()
    }

    /// The S3 stand-in's endpoint, for path-style access (`…/s3`).
    pub fn s3_endpoint(&self) -> String {
        format!("{}/s3", self.http_base())
    }

    /// How each S3 request so far was authorised: its `Authorization` scheme.
    pub fn s3_auth(&self) -> Vec<String> {
        self.shared.s3().auth.clone()
    }

    /// The URL of a webhook receiver named `name` on this peer.
    pub fn hook_url(&self, name: &str) -> String {
        format!("{}/_peer/hooks/{name}", self.http_base())
    }

    /// What the webhook receivers got, oldest first.
    pub fn hooks_received(&self) -> Vec<HookRequest> {
        self.shared.hooks().received.clone()
    }

    /// The receivers answer the next requests so, one each, in order.
    pub fn hooks_answer_next(&self, answers: &[HookAnswer]) {
        self.shared.hooks().next.extend(answers.iter().copied());
    }

    /// Beyond those, `tenths` of every ten requests fail with 503, in a fixed
    /// pattern (3 fails 30 %).
    pub fn hooks_fail_tenths(&self, tenths: u8) {
        self.shared.hooks().fail_tenths = tenths.min(10);
    }

    /// Gives number `phone_number_id` a 360dialog channel with API key
    /// `api_key`: sends with that key in `D360-API-KEY` go out from that number.
    pub fn add_dialog360_key(&self, phone_number_id: &str, api_key: &str) {
        self.shared.add_dialog360_key(phone_number_id, api_key);
    }

    /// Makes the next `count` `WhatsApp` sends fail with this failure (then
    /// normal again). Calls queue up behind each other. Requests rejected for
    /// a missing token or a bad body do not use one up.
    pub fn fail_next(&self, count: usize, failure: Failure) {
        self.shared.fail_next(count, failure);
    }

    /// Sends a signed status webhook for a received `WhatsApp` message
    /// (`status` is "sent", "delivered", "read" or "failed"). Returns our
    /// server's HTTP status.
    ///
    /// # Errors
    ///
    /// Unknown message or status, a non-`WhatsApp` message, or our server not
    /// answering.
    pub async fn whatsapp_status(&self, message_id: &str, status: &str) -> Result<u16, String> {
        self.shared.whatsapp_status(message_id, status).await
    }

    /// Sends a signed inbound `WhatsApp` text from the recipient of
    /// `message_id`, as a reply to it. Returns our server's HTTP status.
    ///
    /// # Errors
    ///
    /// Unknown message, a non-`WhatsApp` message, or our server not answering.
    pub async fn whatsapp_reply(&self, message_id: &str, text: &str) -> Result<u16, String> {
        self.shared.whatsapp_reply(message_id, text).await
    }

    /// For a received email, sends a signed email webhook event: `kind` is
    /// "reply" (with `text`), "bounce" or "complaint" (`text` overrides the
    /// default text when not empty). Returns our server's HTTP status.
    ///
    /// # Errors
    ///
    /// Unknown message or kind, a non-email message, or our server not
    /// answering.
    pub async fn email_event(
        &self,
        message_id: &str,
        kind: &str,
        text: &str,
    ) -> Result<u16, String> {
        self.shared.email_event(message_id, kind, text).await
    }

    /// For a received email, fetches the tracking pixel found in its HTML with
    /// a plain GET, like a mail client showing images would. Returns the HTTP
    /// status.
    ///
    /// # Errors
    ///
    /// Unknown message, a non-email message, no HTML part, no
    /// `<img src=".../t/o/...">` in it, or the URL not answering.
    pub async fn email_open(&self, message_id: &str) -> Result<u16, String> {
        self.shared.email_track(message_id, Track::Open).await
    }

    /// For a received email, fetches its first tracked link with a plain GET
    /// without following the redirect, like a click would start. Returns the
    /// HTTP status.
    ///
    /// # Errors
    ///
    /// Unknown message, a non-email message, no HTML part, no
    /// `href=".../t/c/..."` in it, or the URL not answering.
    pub async fn email_click(&self, message_id: &str) -> Result<u16, String> {
        self.shared.email_track(message_id, Track::Click).await
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("http_base", &self.http_base())
            .field("smtp_addr", &self.smtp_addr())
            .finish_non_exhaustive()
    }
}

/// A wildcard bind address is not something a client can connect to, so the
/// advertised address uses loopback instead.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let loopback = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        };
        SocketAddr::new(loopback, addr.port())
    } else {
        addr
    }
}

/// Which tracking URL a mail client would fetch.
#[derive(Clone, Copy, Debug)]
enum Track {
    Open,
    Click,
}

#[derive(Default)]
struct Store {
    messages: Vec<Received>,
    /// Positions in `messages` by id, and by what de-duplicates a send (channel,
    /// sender — none for email, whose Message-ID is global — and key): benchmarks
    /// push a hundred thousand messages through, so no lookup may scan them.
    by_id: HashMap<String, usize>,
    by_key: HashMap<(Channel, String, String), usize>,
    failures: VecDeque<(usize, Failure)>,
    /// Uploaded media by id.
    media: HashMap<String, MediaUpload>,
    /// Known `WhatsApp` numbers by `phone_number_id`.
    numbers: HashMap<String, WaNumber>,
    /// 360dialog API keys and the `phone_number_id` each stands for.
    d360_keys: HashMap<String, String>,
}

impl Store {
    fn dedupe_key(message: &Received) -> Option<(Channel, String, String)> {
        let key = message.idempotency_key.clone()?;
        // Two providers keep two de-duplication stores: a message sent through
        // both arrives twice, as it would in the real world.
        let from = match (message.channel, message.provider) {
            (Channel::Email, _) => String::new(),
            (Channel::WhatsApp, Some(WaApi::Dialog360)) => format!("{}|360dialog", message.from),
            (Channel::WhatsApp, _) => message.from.clone(),
        };
        Some((message.channel, from, key))
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Received> {
        let i = *self.by_id.get(id)?;
        self.messages.get_mut(i)
    }
}

/// What the server tasks and the `Peer` handles share.
struct Shared {
    config: PeerConfig,
    http_addr: SocketAddr,
    smtp_addr: SocketAddr,
    client: reqwest::Client,
    store: Mutex<Store>,
    hooks: Mutex<receiver::Hooks>,
    leads: Mutex<leadgen::Leads>,
    stripe: Mutex<stripe::Stripe>,
    llm: Mutex<llm::Llm>,
    s3: Mutex<s3::S3>,
}

impl Shared {
    fn http_base(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-updated
        // in a way that matters for a test double, so keep serving.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hooks(&self) -> MutexGuard<'_, receiver::Hooks> {
        self.hooks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn leads(&self) -> MutexGuard<'_, leadgen::Leads> {
        self.leads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stripe(&self) -> MutexGuard<'_, stripe::Stripe> {
        self.stripe.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn llm(&self) -> MutexGuard<'_, llm::Llm> {
        self.llm.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn s3(&self) -> MutexGuard<'_, s3::S3> {
        self.s3.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn messages(&self) -> Vec<Received> {
        self.lock().messages.clone()
    }

    fn find(&self, id: &str) -> Option<Received> {
        self.lock().get_mut(id).map(|m| m.clone())
    }

    fn add_whatsapp_number(&self, number: WaNumber) {
        self.lock()
            .numbers
            .insert(number.phone_number_id.clone(), number);
    }

    fn add_dialog360_key(&self, phone_number_id: &str, api_key: &str) {
        self.lock()
            .d360_keys
            .insert(api_key.to_owned(), phone_number_id.to_owned());
    }

    /// The `phone_number_id` a 360dialog API key stands for.
    fn dialog360_number(&self, api_key: &str) -> Option<String> {
        self.lock().d360_keys.get(api_key).cloned()
    }

    fn whatsapp_number(&self, phone_number_id: &str) -> Option<WaNumber> {
        self.lock().numbers.get(phone_number_id).cloned()
    }

    /// The numbers of `waba_id`, if `token` manages it (`None` when it does
    /// not, or there is no such WABA: Meta does not tell the two apart).
    fn waba_numbers(&self, waba_id: &str, token: &str) -> Option<Vec<WaNumber>> {
        let store = self.lock();
        let mut numbers: Vec<WaNumber> = store
            .numbers
            .values()
            .filter(|n| n.waba_id == waba_id)
            .cloned()
            .collect();
        if !numbers.iter().any(|n| n.access_token == token) {
            return None;
        }
        numbers.sort_by(|a, b| a.phone_number_id.cmp(&b.phone_number_id));
        Some(numbers)
    }

    fn fail_next(&self, count: usize, failure: Failure) {
        if count > 0 {
            self.lock().failures.push_back((count, failure));
        }
    }

    fn take_failure(&self) -> Option<Failure> {
        let mut store = self.lock();
        let (left, failure) = store.failures.front_mut()?;
        let failure = *failure;
        *left -= 1;
        if *left == 0 {
            store.failures.pop_front();
        }
        Some(failure)
    }

    /// Stores `message` unless one with the same channel, sender and key is
    /// already there, in which case that one's count goes up. Returns the id
    /// the sender should be told.
    fn accept(&self, message: Received) -> String {
        let mut store = self.lock();
        let key = Store::dedupe_key(&message);
        if let Some(i) = key.as_ref().and_then(|k| store.by_key.get(k)).copied() {
            let existing = &mut store.messages[i];
            existing.times_received += 1;
            return existing.id.clone();
        }
        let id = message.id.clone();
        let position = store.messages.len();
        store.messages.push(message);
        store.by_id.insert(id.clone(), position);
        if let Some(key) = key {
            store.by_key.insert(key, position);
        }
        id
    }

    fn add_media(&self, upload: MediaUpload) {
        self.lock().media.insert(upload.id.clone(), upload);
    }

    /// The file behind media `id`, when it was uploaded for `phone_number_id`.
    fn media_file(&self, id: &str, phone_number_id: &str) -> Option<ReceivedFile> {
        self.lock()
            .media
            .get(id)
            .filter(|m| m.phone_number_id == phone_number_id)
            .map(|m| m.file.clone())
    }

    fn record_event(&self, id: &str, event: String) {
        if let Some(message) = self.lock().get_mut(id) {
            message.events.push(event);
        }
    }
}
