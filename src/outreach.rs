//! The outreach loops of a worker: the scheduler (due enrolment steps → queued
//! messages), the dispatcher (queued messages → providers) and provider switches
//! (which need the same provider clients; DECISIONS §43). All claim their work with
//! SKIP LOCKED, so any number of workers share it; each loop drains what is due, then
//! naps.

use app::outreach::ssr::dispatch::dispatch_once;
use app::outreach::ssr::provider::Providers;
use app::outreach::ssr::scheduler::schedule_once;
use app::outreach::ssr::switch::switch_once;
use app::request::AppConfig;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

const NAP: Duration = Duration::from_millis(500);
pub const SCHEDULE_BATCH: i64 = 500;
pub const DISPATCH_BATCH: i64 = 500;

/// What the loops need besides the database.
#[derive(Clone)]
pub struct Outreach {
    pub providers: Providers,
    pub config: Arc<AppConfig>,
}

/// The dev peer, when configured, and the providers pointed at it (or at the real
/// services).
pub async fn start(config: &crate::config::Config) -> Result<(Outreach, Option<DevPeer>), String> {
    let app_config = Arc::new(crate::app_config(config));
    let dev_peer = match (&config.wa_api_url, config.dev_peer) {
        (None, Some((http_addr, smtp_addr))) => {
            Some(start_peer(config, http_addr, smtp_addr).await?)
        }
        _ => None,
    };
    Ok((
        Outreach {
            providers: Providers::real(&app_config.wa_api_url, &app_config.d360_api_url),
            config: app_config,
        },
        dev_peer,
    ))
}

/// The local provider peer, serving while it is held.
#[cfg(feature = "dev-tools")]
pub type DevPeer = peer::Peer;
/// A build without `dev-tools` has no peer (its configuration refuses to ask for one).
#[cfg(not(feature = "dev-tools"))]
pub type DevPeer = std::convert::Infallible;

#[cfg(feature = "dev-tools")]
async fn start_peer(
    config: &crate::config::Config,
    http_addr: std::net::SocketAddr,
    smtp_addr: std::net::SocketAddr,
) -> Result<DevPeer, String> {
    use secrecy::ExposeSecret;
    let public = config.public_url.trim_end_matches('/').to_string();
    let started = peer::Peer::start(peer::PeerConfig {
        whatsapp_webhook_url: format!("{public}/webhooks/whatsapp"),
        whatsapp_app_secret: config.wa_app_secret.expose_secret().to_string(),
        email_webhook_url: format!("{public}/webhooks/email"),
        email_webhook_secret: config.email_webhook_secret.expose_secret().to_string(),
        http_addr,
        smtp_addr,
        whatsapp_numbers: crate::seed::demo_wa_numbers(),
    })
    .await
    .map_err(|e| format!("starting the provider peer on {http_addr} / {smtp_addr}: {e}"))?;
    // Each demo number also has a 360dialog channel, so a switch can be tried
    // on the senders page: its key is `d360-demo-` and the phone number id.
    // Its Stripe stand-in posts events to us as a registered endpoint would.
    started.set_stripe_webhook(
        &format!("{public}/webhooks/billing"),
        config.billing_webhook_secret.expose_secret(),
    );
    for number in crate::seed::demo_wa_numbers() {
        let id = &number.phone_number_id;
        started.add_dialog360_key(id, &format!("d360-demo-{id}"));
    }
    tracing::info!(
        "provider peer: WhatsApp Cloud API and its dev page on {}, SMTP on {}",
        started.http_base(),
        started.smtp_addr()
    );
    Ok(started)
}

#[cfg(not(feature = "dev-tools"))]
async fn start_peer(
    _: &crate::config::Config,
    _: std::net::SocketAddr,
    _: std::net::SocketAddr,
) -> Result<DevPeer, String> {
    Err("this build has no provider peer".into())
}

/// Runs the loops until the future is dropped.
pub async fn run(pool: PgPool, outreach: Outreach) {
    let scheduler = async {
        loop {
            match schedule_once(&pool, SCHEDULE_BATCH).await {
                Ok(r) if r.claimed as i64 == SCHEDULE_BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outreach scheduler"),
            }
            tokio::time::sleep(NAP).await;
        }
    };
    let dispatcher = async {
        loop {
            match dispatch_once(&pool, &outreach.providers, &outreach.config, DISPATCH_BATCH).await
            {
                Ok(r) if r.claimed as i64 == DISPATCH_BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outreach dispatcher"),
            }
            tokio::time::sleep(NAP).await;
        }
    };
    let switches = async {
        loop {
            if let Err(e) = switch_once(&pool, &outreach.providers, &outreach.config).await {
                tracing::warn!(error = %e, "provider switches");
            }
            tokio::time::sleep(NAP).await;
        }
    };
    tokio::join!(scheduler, dispatcher, switches);
}
