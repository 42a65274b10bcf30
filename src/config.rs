//! Settings from the environment, with defaults that run on a laptop.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Config {
    /// Where the HTTP server listens (`LEADLINE_ADDR`).
    pub addr: SocketAddr,
    /// An existing PostgreSQL to use; unset starts a private cluster (`DATABASE_URL`).
    pub database_url: Option<String>,
    /// The runtime role's URL, when the operator manages that role (`DATABASE_APP_URL`).
    pub database_app_url: Option<String>,
    /// The password given to the runtime role when Leadline creates it.
    pub app_db_password: String,
    /// Data directory of the private cluster (`LEADLINE_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Port of the private cluster (`LEADLINE_PG_PORT`).
    pub pg_port: u16,
    /// Directory of `initdb` and `pg_ctl`, if not found by itself (`LEADLINE_PG_BIN`).
    pub pg_bin: Option<PathBuf>,
    /// The origin users reach us at, for links in invites (`LEADLINE_PUBLIC_URL`).
    pub public_url: String,
    /// `Secure` on cookies; set it behind HTTPS (`LEADLINE_SECURE_COOKIES`).
    pub secure_cookies: bool,
    /// Seed the demo tenant into an empty database (`LEADLINE_DEMO_SEED`, default on).
    pub demo_seed: bool,
    /// Connections per pool (`LEADLINE_DB_POOL`).
    pub pool_size: u32,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn flag(name: &str, default: bool) -> bool {
    match var(name).as_deref() {
        Some("1" | "true" | "yes" | "on") => true,
        Some("0" | "false" | "no" | "off") => false,
        _ => default,
    }
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let addr: SocketAddr = var("LEADLINE_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|e| format!("LEADLINE_ADDR: {e}"))?;
        let pg_port = match var("LEADLINE_PG_PORT") {
            Some(p) => p.parse().map_err(|e| format!("LEADLINE_PG_PORT: {e}"))?,
            None => 54320,
        };
        let pool_size = match var("LEADLINE_DB_POOL") {
            Some(p) => p.parse().map_err(|e| format!("LEADLINE_DB_POOL: {e}"))?,
            None => 20,
        };
        Ok(Config {
            addr,
            database_url: var("DATABASE_URL"),
            database_app_url: var("DATABASE_APP_URL"),
            app_db_password: var("LEADLINE_APP_DB_PASSWORD")
                .unwrap_or_else(|| "leadline-app-local".into()),
            data_dir: var("LEADLINE_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".leadline/pg")),
            pg_port,
            pg_bin: var("LEADLINE_PG_BIN").map(PathBuf::from),
            public_url: var("LEADLINE_PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}")),
            secure_cookies: flag("LEADLINE_SECURE_COOKIES", false),
            demo_seed: flag("LEADLINE_DEMO_SEED", true),
            pool_size,
        })
    }
}
