//! The Leadline server: boot, database bootstrap, HTTP surface, background work.

pub mod api;
#[cfg(feature = "dev-tools")]
pub mod bench;
pub mod bootstrap;
pub mod config;
#[cfg(feature = "dev-tools")]
pub mod drill;
pub mod embedded_pg;
pub mod events;
pub mod jobs;
pub mod metrics;
pub mod outreach;
pub mod principals;
pub mod schedules;
pub mod seed;
pub mod server;
pub mod session_store;
pub mod state;
pub mod web;
pub mod webhooks;
pub mod worker;

use app::db::Db;
use app::request::AppConfig;
use leptos::config::LeptosOptions;
use secrecy::ExposeSecret;

/// A database ready for requests, and the private cluster behind it if we started one.
pub struct Database {
    pub pools: bootstrap::Pools,
    pub embedded: Option<embedded_pg::EmbeddedPg>,
}

pub async fn open_database(config: &config::Config) -> Result<Database, String> {
    let (owner_url, embedded) = match &config.database_url {
        Some(url) => (url.expose_secret().to_string(), None),
        None => {
            let pg = embedded_pg::EmbeddedPg::start(
                &config.data_dir,
                config.pg_port,
                config.pg_bin.as_deref(),
            )?;
            (pg.url.clone(), Some(pg))
        }
    };
    match (&embedded, bootstrap::ensure_database(&owner_url).await) {
        (_, Ok(())) => {}
        (Some(pg), Err(e)) => {
            pg.stop();
            return Err(e);
        }
        // An owner role of a managed server may not reach the `postgres` database;
        // the database then has to exist already, which connecting will tell.
        (None, Err(e)) => tracing::debug!(error = %e, "could not check that the database exists"),
    }
    let pools = bootstrap::prepare(
        &owner_url,
        config.database_app_url.as_ref().map(|u| u.expose_secret()),
        config.app_db_password.expose_secret(),
        config.pool_size,
    )
    .await;
    match pools {
        Ok(pools) => Ok(Database { pools, embedded }),
        Err(e) => {
            if let Some(pg) = &embedded {
                pg.stop();
            }
            Err(e)
        }
    }
}

pub fn app_state(
    options: LeptosOptions,
    database: &Database,
    config: &config::Config,
) -> web::AppState {
    web::AppState::new(
        options,
        Db::new(database.pools.app.clone()),
        app_config(config),
    )
    .with_http(http_config(config))
}

/// What the HTTP layer knows of the configuration.
pub fn http_config(config: &config::Config) -> web::HttpConfig {
    web::HttpConfig {
        hsts: config.production,
        metrics_allow: config.metrics_allow.clone(),
        metrics_token: config.metrics_token.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        ..Default::default()
    }
}

/// What server functions and workers know of the configuration.
pub fn app_config(config: &config::Config) -> AppConfig {
    let local = AppConfig::local(&config.public_url);
    AppConfig {
        secure_cookies: config.secure_cookies,
        secret_key: *config.secret_key.bytes(),
        wa_api_url: wa_api_url(config),
        d360_api_url: d360_api_url(config),
        wa_app_secret: config.wa_app_secret.expose_secret().to_string(),
        wa_verify_token: config.wa_verify_token.expose_secret().to_string(),
        email_webhook_secret: config.email_webhook_secret.expose_secret().to_string(),
        billing_webhook_secret: config.billing_webhook_secret.expose_secret().to_string(),
        stripe_api_url: stripe_api_url(config),
        stripe_secret_key: config.stripe_secret_key.expose_secret().to_string(),
        dns_resolver: config.dns_resolver.unwrap_or(local.dns_resolver),
        spf_include: config
            .spf_include
            .clone()
            .unwrap_or(local.spf_include.clone()),
        account_mail: account_mail(config),
        files: config.files.clone(),
        // Tenants' mailboxes reach public addresses only, unless the dev peer (on
        // loopback) or an operator's internal relay must be reachable.
        egress: if config.dev_peer.is_some() || config.allow_private_egress {
            mail::Egress::AnyAddress
        } else {
            mail::Egress::PublicOnly
        },
        ..local
    }
}

/// The dev peer's HTTP base when it runs.
fn dev_peer_base(config: &config::Config) -> Option<String> {
    config.dev_peer.map(|(http, _)| {
        // The peer answers on loopback when told to listen everywhere.
        let host = if http.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            http.ip()
        };
        format!("http://{}", std::net::SocketAddr::new(host, http.port()))
    })
}

/// The configured Cloud API, else the dev peer's when it runs, else Meta's.
fn wa_api_url(config: &config::Config) -> String {
    match (&config.wa_api_url, dev_peer_base(config)) {
        (Some(url), _) => url.clone(),
        (None, Some(peer)) => format!("{peer}/v21.0"),
        (None, None) => "https://graph.facebook.com/v21.0".to_string(),
    }
}

/// The configured 360dialog API, else the dev peer's when it runs, else 360dialog's.
fn d360_api_url(config: &config::Config) -> String {
    match (&config.d360_api_url, dev_peer_base(config)) {
        (Some(url), _) => url.clone(),
        (None, Some(peer)) => format!("{peer}/360dialog"),
        (None, None) => "https://waba-v2.360dialog.io".to_string(),
    }
}

/// The configured Stripe API, else the dev peer's stand-in when it runs, else Stripe's.
fn stripe_api_url(config: &config::Config) -> String {
    match (&config.stripe_api_url, dev_peer_base(config)) {
        (Some(url), _) => url.clone(),
        (None, Some(peer)) => format!("{peer}/stripe"),
        (None, None) => "https://api.stripe.com".to_string(),
    }
}

/// Account emails go to the configured SMTP server, or to the dev peer when it runs
/// (its page then shows them), from `LEADLINE_MAIL_FROM` or no-reply at the public host.
fn account_mail(config: &config::Config) -> Option<app::request::AccountMail> {
    let smtp = config.account_smtp.clone().or_else(|| {
        config.dev_peer.map(|(_, smtp)| mail::SmtpSettings {
            host: smtp.ip().to_string(),
            port: smtp.port(),
            security: mail::SmtpSecurity::None,
            username: None,
            password: None,
            timeout: std::time::Duration::from_secs(10),
            egress: mail::Egress::AnyAddress,
        })
    })?;
    let from = config.mail_from.clone().unwrap_or_else(|| {
        let host = url::Url::parse(&config.public_url)
            .ok()
            .and_then(|u| u.domain().map(str::to_string))
            .filter(|d| d.contains('.'))
            .unwrap_or_else(|| "leadline.localhost".into());
        format!("no-reply@{host}")
    });
    Some(app::request::AccountMail { smtp, from })
}
