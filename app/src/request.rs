//! What a server function knows about its request: the database, the session, who is
//! signed in, and where the request came from. The server's middleware puts a
//! [`RequestCtx`] into the request extensions; server functions read it here.

use crate::auth::model::{Permission, Role};
use crate::db::Db;
use crate::error::AppError;
use crate::i18n::{t, Locale};
use std::sync::Arc;
use tower_sessions::Session;
use uuid::Uuid;

/// Server-wide settings a server function may need.
#[derive(Clone)]
pub struct AppConfig {
    /// The public origin, used to build links (invites, tracking, unsubscribe).
    pub public_url: String,
    /// Cookies get `Secure` when served over HTTPS.
    pub secure_cookies: bool,
    /// Encrypts secrets at rest and signs tracking and unsubscribe links.
    pub secret_key: [u8; 32],
    /// The WhatsApp Cloud API base, e.g. `https://graph.facebook.com/v21.0`: sends go
    /// there, and a number being saved is confirmed there with the tenant's token.
    pub wa_api_url: String,
    /// 360dialog's hosted Cloud API base, e.g. `https://waba-v2.360dialog.io`: sends of
    /// numbers switched to 360dialog go there, and their API keys are checked there.
    pub d360_api_url: String,
    /// Meta's app secret: the key of `X-Hub-Signature-256` on WhatsApp webhooks.
    pub wa_app_secret: String,
    /// What Meta must echo in the webhook subscription handshake (`hub.verify_token`).
    pub wa_verify_token: String,
    /// Key of the Standard Webhooks signature on inbound email events (`whsec_…`).
    pub email_webhook_secret: String,
    /// The payment provider's endpoint secret, the key of `Stripe-Signature`.
    pub billing_webhook_secret: String,
    /// Stripe's API base, e.g. `https://api.stripe.com`: invoices are charged there.
    pub stripe_api_url: String,
    /// Stripe's secret API key (`sk_…`), sent as the bearer token; never logged.
    pub stripe_secret_key: String,
    /// The DNS server sending-domain checks ask.
    pub dns_resolver: std::net::SocketAddr,
    /// The SPF mechanism our senders need in a customer's record.
    pub spf_include: String,
    /// Where account emails (address confirmation, password reset) are submitted;
    /// `None` leaves them unsent, with a warning in the log.
    pub account_mail: Option<AccountMail>,
    /// Where tenants' mailbox settings may make us connect.
    pub egress: mail::Egress,
    /// How long one webhook delivery attempt may take, connection included; one that
    /// takes longer is a failed attempt, retried later.
    pub webhook_timeout: std::time::Duration,
    /// Where uploaded files (plans) are kept.
    pub files: crate::files::FileStore,
}

/// The SMTP server and sender of account emails.
#[derive(Clone, Debug)]
pub struct AccountMail {
    pub smtp: mail::SmtpSettings,
    /// The `From` address, e.g. `no-reply@leadline.example`.
    pub from: String,
}

impl std::fmt::Debug for AppConfig {
    // Keys stay out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("public_url", &self.public_url)
            .field("secure_cookies", &self.secure_cookies)
            .field("wa_api_url", &self.wa_api_url)
            .field("d360_api_url", &self.d360_api_url)
            .field("stripe_api_url", &self.stripe_api_url)
            .field("dns_resolver", &self.dns_resolver)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl AppConfig {
    /// Settings for a server on this machine: development keys, the system resolver.
    pub fn local(public_url: &str) -> AppConfig {
        AppConfig {
            public_url: public_url.to_string(),
            secure_cookies: false,
            secret_key: *b"leadline-local-development-key!!",
            wa_api_url: "https://graph.facebook.com/v21.0".into(),
            d360_api_url: "https://waba-v2.360dialog.io".into(),
            wa_app_secret: "leadline-local-wa-app-secret".into(),
            wa_verify_token: "leadline-local-verify-token".into(),
            // base64 of "leadline-local-email-webhook-key!"
            email_webhook_secret: "whsec_bGVhZGxpbmUtbG9jYWwtZW1haWwtd2ViaG9vay1rZXkh".into(),
            billing_webhook_secret: "whsec_leadline_local_billing_secret".into(),
            stripe_api_url: "https://api.stripe.com".into(),
            stripe_secret_key: "sk_test_leadline_local".into(),
            dns_resolver: mail::system_resolver(),
            spf_include: "_spf.leadline.test".into(),
            account_mail: None,
            egress: mail::Egress::AnyAddress,
            webhook_timeout: std::time::Duration::from_secs(15),
            files: crate::files::FileStore::open(
                &std::env::temp_dir()
                    .join("leadline-files")
                    .to_string_lossy(),
            )
            .unwrap_or_else(|_| crate::files::FileStore::memory()),
        }
    }
}

/// The signed-in member of the current tenant.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub membership_id: Uuid,
    pub role: Role,
    pub name: String,
    pub email: String,
    pub must_enrol_2fa: bool,
    /// The tenant requires confirmed addresses and this user's is not yet.
    pub must_verify_email: bool,
    /// An API key acting for its tenant: then `user_id` is the key's id, no member's,
    /// and what it does is recorded as the key's (see [`Principal::actor`]).
    pub api_key: Option<Uuid>,
    /// Dunning ran out: the workspace is read-only until this invoice (by number) is
    /// paid. Set for signed-in members; API writes check it themselves.
    pub unpaid_invoice: Option<i32>,
    /// Permissions an admin gave this member beyond their role (`memberships.grants`).
    pub grants: Vec<Permission>,
    /// The IANA zone the member reads and types times in: their own choice, else the
    /// workspace's. API keys and jobs work in UTC instants and use `UTC`.
    pub timezone: String,
    /// `light`, `dark` or `system` (the device's): the member's preference.
    pub theme: String,
    /// The digits the workspace's Arabic pages are written in.
    pub digits: crate::l10n::Digits,
    /// The user is platform staff (any staff role): the console is linked for them.
    /// What they may do there is checked by the database on every call (`staff`).
    pub staff: bool,
    /// Staff reading this workspace for support (`keys::SUPPORT`): everything as an
    /// admin sees it, in read-only transactions, until the grant ends.
    pub support: Option<SupportGrant>,
}

/// An open support grant (`support_sessions`).
#[derive(Clone, Debug)]
pub struct SupportGrant {
    pub id: Uuid,
    pub until: chrono::DateTime<chrono::Utc>,
}

impl Principal {
    /// Whether the role, or a grant, holds `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        permission.allowed_for(self.role) || self.grants.contains(&permission)
    }

    /// The member to record as having acted: `None` for an API key, which is nobody's.
    pub fn actor(&self) -> Option<Uuid> {
        match self.api_key {
            Some(_) => None,
            None => Some(self.user_id),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RequestCtx {
    pub db: Db,
    pub config: Arc<AppConfig>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub locale: Locale,
    pub principal: Option<Principal>,
}

/// Everything a server function needs, taken from the request.
pub struct Env {
    pub ctx: RequestCtx,
    pub session: Session,
}

impl Env {
    pub fn db(&self) -> &Db {
        &self.ctx.db
    }

    pub fn locale(&self) -> Locale {
        self.ctx.locale
    }

    pub fn t(&self, key: &str) -> String {
        t(self.ctx.locale, key)
    }

    /// The signed-in member's time zone, else UTC.
    pub fn timezone(&self) -> &str {
        self.ctx
            .principal
            .as_ref()
            .map_or("UTC", |p| p.timezone.as_str())
    }

    /// An instant as a day and time in the member's zone and language.
    pub fn when(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        crate::l10n::date_time(self.locale(), crate::l10n::to_local(self.timezone(), at))
    }

    /// The day an instant falls on in the member's zone, in their language.
    pub fn day_of(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        crate::l10n::date(
            self.locale(),
            crate::l10n::to_local(self.timezone(), at).date(),
        )
    }

    /// The signed-in member, if their role holds `permission`. Members who must still
    /// enrol in 2FA can do nothing else until they have.
    pub fn require(&self, permission: Permission) -> Result<&Principal, AppError> {
        let principal = self.signed_in()?;
        if principal.must_enrol_2fa {
            return Err(AppError::Forbidden(self.t("auth.must_enrol_2fa")));
        }
        if principal.must_verify_email {
            return Err(AppError::Forbidden(self.t("recovery.must_confirm")));
        }
        if !principal.may(permission) {
            return Err(AppError::Forbidden(self.t("error.forbidden")));
        }
        Ok(principal)
    }

    /// The member, if their role holds `permission`, and a transaction in their
    /// workspace as them: the start of nearly every server function's work.
    pub async fn begin(
        &self,
        permission: Permission,
    ) -> Result<(&Principal, crate::db::Tx), AppError> {
        let p = self.require(permission)?;
        Ok((p, self.tx(p).await?))
    }

    /// A transaction in `p`'s workspace as them, for work that checks its input
    /// before it opens one.
    pub async fn tx(&self, p: &Principal) -> Result<crate::db::Tx, AppError> {
        self.db().tenant_tx(p.tenant_id, Some(p.user_id)).await
    }

    /// The signed-in member, whatever their role (their own settings, 2FA enrolment).
    pub fn signed_in(&self) -> Result<&Principal, AppError> {
        self.ctx
            .principal
            .as_ref()
            .ok_or_else(|| AppError::Unauthorized(self.t("error.signed_out")))
    }
}

pub fn env() -> Result<Env, AppError> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()
        .ok_or_else(|| crate::db::internal("request parts missing from context"))?;
    let ctx = parts
        .extensions
        .get::<RequestCtx>()
        .cloned()
        .ok_or_else(|| crate::db::internal("request context missing"))?;
    let session = parts
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(|| crate::db::internal("session layer missing"))?;
    Ok(Env { ctx, session })
}

/// Runs a server function's body and gives its error the HTTP status it deserves, so a
/// user's mistake answers 4xx with a reason instead of a generic 500.
pub async fn respond<T>(
    body: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    let mut result = body.await;
    if let Err(AppError::PaymentRequired(message)) = &mut result {
        let support = leptos::prelude::use_context::<http::request::Parts>().is_some_and(|p| {
            p.extensions
                .get::<RequestCtx>()
                .and_then(|c| c.principal.as_ref())
                .is_some_and(|p| p.support.is_some())
        });
        // The database refused a write of a read-only workspace; the request knows
        // which invoice lifts it, in the member's language.
        if let Some(text) = leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<RequestCtx>().cloned())
            .and_then(|ctx| ctx.db.read_only_message().map(str::to_string))
        {
            *message = text;
        }
        if support {
            // Not a payment matter: support access never writes.
            result = Err(AppError::Forbidden(std::mem::take(message)));
        }
    }
    if let Err(err) = &result {
        // A form the browser posted itself is answered with a redirect back to it,
        // carrying the error (server_fn's form redirects): a 4xx status would replace
        // that redirect with a page of JSON.
        if plain_form_post() {
            return result;
        }
        if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            opts.set_status(
                http::StatusCode::from_u16(err.status_code())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
            if let AppError::TooManyRequests { retry_after, .. } = err {
                opts.insert_header(http::header::RETRY_AFTER, (*retry_after).into());
            }
        }
    }
    result
}

/// Whether the browser posted a form itself, with no script of ours in between: it
/// asks for a page (`text/html`), where our scripts ask for JSON.
pub fn plain_form_post() -> bool {
    request_header(http::header::ACCEPT).is_some_and(|accept| accept.contains("text/html"))
}

/// Where the browser goes once a form's work is done. A plain form post is redirected
/// there; the sign-in pages' script (which sends `Leadline-Follow`) reads the
/// `Location` and goes; the app's own pages decide for themselves.
pub fn go_after_form(path: &str) {
    if plain_form_post()
        || request_header(http::HeaderName::from_static("leadline-follow")).is_some()
    {
        leptos_axum::redirect(path);
    }
}

fn request_header(name: http::HeaderName) -> Option<String> {
    leptos::prelude::use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })
}

/// Session keys.
pub mod keys {
    /// The signed-in user.
    pub const USER: &str = "uid";
    /// The tenant they are working in.
    pub const TENANT: &str = "tid";
    /// A user who gave the right password and still owes a TOTP code.
    pub const PENDING_USER: &str = "pending_uid";
    /// When the pending login gave its password (unix seconds).
    pub const PENDING_SINCE: &str = "pending_since";
    /// A TOTP secret shown for enrolment, not yet confirmed; sealed, since session
    /// records sit in the database.
    pub const TOTP_DRAFT: &str = "totp_draft";
    pub const USER_AGENT: &str = "ua";
    pub const IP: &str = "ip";
    /// A support grant the staff member works under: the workspace it opens replaces
    /// `TENANT` while it lasts (`auth::ssr::resolve_principal`).
    pub const SUPPORT: &str = "support";
    /// The idle timeout that applied at sign-in, in minutes: each request pushes the
    /// expiry that far on (tower-sessions keeps the expiry in memory only).
    pub const IDLE_MINUTES: &str = "idle_min";
    /// The user's principal stamp, put in by the session store as it reads the row
    /// (never stored): the server's remembered principal is valid only under it.
    pub const PRINCIPAL_STAMP: &str = "principal_stamp";
}
