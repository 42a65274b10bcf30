//! What every request handler shares: the database, the settings, the route list
//! and the live-event hub. Kept apart from the router (`web.rs`) so the areas
//! that take the state need not depend on how requests are routed.

use app::db::Db;
use app::request::AppConfig;
use axum::extract::FromRef;
use ipnet::IpNet;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing};
use std::sync::Arc;

/// How the HTTP layer itself behaves: settings no server function needs.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Send `Strict-Transport-Security` (production: browsers remember it for years).
    pub hsts: bool,
    /// Who may read `/metrics` without a token.
    pub metrics_allow: Vec<IpNet>,
    /// A bearer token that opens `/metrics` from anywhere.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Reverse proxies whose `X-Forwarded-For` we believe.
    pub trusted_proxies: Vec<IpNet>,
    pub timeouts: crate::server::Timeouts,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            hsts: false,
            metrics_allow: loopback(),
            metrics_token: None,
            trusted_proxies: Vec::new(),
            timeouts: Default::default(),
        }
    }
}

/// `127.0.0.0/8` and `::1`.
pub fn loopback() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// Shared, not copied: the state is cloned several times per request.
    pub routes: Arc<Vec<AxumRouteListing>>,
    pub db: Db,
    pub config: Arc<AppConfig>,
    pub http: Arc<HttpConfig>,
    pub events: Arc<crate::events::Hub>,
    pub principals: Arc<crate::principals::PrincipalCache>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(leptos_options: LeptosOptions, db: Db, config: AppConfig) -> AppState {
        AppState {
            leptos_options,
            routes: Arc::new(generate_route_list(app::App)),
            db,
            config: Arc::new(config),
            http: Arc::new(HttpConfig::default()),
            events: Arc::new(crate::events::Hub::default()),
            principals: Arc::default(),
        }
    }

    pub fn with_http(self, http: HttpConfig) -> AppState {
        AppState {
            http: Arc::new(http),
            ..self
        }
    }
}
