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
    /// Encrypts secrets at rest and signs links (`LEADLINE_SECRET_KEY`, 64 hex digits);
    /// unset, a key is made once and kept in `.leadline/secret.key`.
    pub secret_key: [u8; 32],
    /// The WhatsApp Cloud API (`LEADLINE_WA_API_URL`); unset with the dev peer on, the peer.
    pub wa_api_url: Option<String>,
    pub wa_app_secret: String,
    pub wa_verify_token: String,
    pub email_webhook_secret: String,
    /// The DNS server domain checks ask (`LEADLINE_DNS_RESOLVER`, default the system's).
    pub dns_resolver: Option<SocketAddr>,
    pub spf_include: Option<String>,
    /// Start the local provider peer (`LEADLINE_DEV_PEER`, on by default) on these
    /// addresses (`LEADLINE_PEER_ADDR`, `LEADLINE_PEER_SMTP_ADDR`).
    pub dev_peer: Option<(SocketAddr, SocketAddr)>,
    /// The SMTP server for account emails (`LEADLINE_SMTP_URL`); unset with the dev
    /// peer on, the peer's SMTP server.
    pub account_smtp: Option<mail::SmtpSettings>,
    /// The `From` of account emails (`LEADLINE_MAIL_FROM`).
    pub mail_from: Option<String>,
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
        let secret_key = match var("LEADLINE_SECRET_KEY") {
            Some(hex) => parse_key(&hex).ok_or("LEADLINE_SECRET_KEY must be 64 hex digits")?,
            None => local_key(&PathBuf::from(".leadline/secret.key"))?,
        };
        let dev_peer = match flag("LEADLINE_DEV_PEER", true) {
            true => Some((
                address("LEADLINE_PEER_ADDR", "127.0.0.1:3900")?,
                address("LEADLINE_PEER_SMTP_ADDR", "127.0.0.1:2525")?,
            )),
            false => None,
        };
        let dns_resolver = match var("LEADLINE_DNS_RESOLVER") {
            Some(a) => Some(
                a.parse()
                    .map_err(|e| format!("LEADLINE_DNS_RESOLVER: {e}"))?,
            ),
            None => None,
        };
        let account_smtp = var("LEADLINE_SMTP_URL")
            .map(|url| smtp_settings(&url).map_err(|e| format!("LEADLINE_SMTP_URL: {e}")))
            .transpose()?;
        let mail_from = var("LEADLINE_MAIL_FROM");
        if mail_from
            .as_deref()
            .is_some_and(|a| !mail::valid_address(a))
        {
            return Err("LEADLINE_MAIL_FROM is not an email address".into());
        }
        let local = app::request::AppConfig::local("");
        Ok(Config {
            account_smtp,
            mail_from,
            secret_key,
            wa_api_url: var("LEADLINE_WA_API_URL"),
            wa_app_secret: var("LEADLINE_WA_APP_SECRET").unwrap_or(local.wa_app_secret),
            wa_verify_token: var("LEADLINE_WA_VERIFY_TOKEN").unwrap_or(local.wa_verify_token),
            email_webhook_secret: var("LEADLINE_EMAIL_WEBHOOK_SECRET")
                .unwrap_or(local.email_webhook_secret),
            dns_resolver,
            spf_include: var("LEADLINE_SPF_INCLUDE"),
            dev_peer,
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

/// `smtp://[user:password@]host[:port]` submits with STARTTLS required (port 587 by
/// default), `smtps://` with TLS from the first byte (465), and `smtp+plain://` without
/// TLS, for a relay on the same machine (25).
fn smtp_settings(url: &str) -> Result<mail::SmtpSettings, String> {
    let url = url::Url::parse(url).map_err(|e| e.to_string())?;
    let (security, default_port) = match url.scheme() {
        "smtp" => (mail::SmtpSecurity::StartTls, 587),
        "smtps" => (mail::SmtpSecurity::Tls, 465),
        "smtp+plain" => (mail::SmtpSecurity::None, 25),
        other => {
            return Err(format!(
                "unknown scheme {other}: use smtp, smtps or smtp+plain"
            ))
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("no host")?
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|e| e.to_string())
    };
    Ok(mail::SmtpSettings {
        host,
        port: url.port().unwrap_or(default_port),
        security,
        username: (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?,
        password: url.password().map(decode).transpose()?,
        timeout: std::time::Duration::from_secs(30),
    })
}

fn address(name: &str, default: &str) -> Result<SocketAddr, String> {
    var(name)
        .unwrap_or_else(|| default.into())
        .parse()
        .map_err(|e| format!("{name}: {e}"))
}

fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(key)
}

/// A key for one machine: made on first start and kept, so encrypted secrets survive
/// restarts. Instances that share a database must share `LEADLINE_SECRET_KEY` instead.
fn local_key(path: &std::path::Path) -> Result<[u8; 32], String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return parse_key(&text).ok_or_else(|| format!("{} is not 64 hex digits", path.display()));
    }
    let key = app::crypto::random_bytes::<32>();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    write_private(path, app::crypto::hex(&key).as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::warn!(
        "LEADLINE_SECRET_KEY is not set: made one in {}; set it in production",
        path.display()
    );
    Ok(key)
}

/// Creates `path` readable by its owner only from the first byte: a file made with the
/// default umask and narrowed afterwards is readable by others in between. Fails if the
/// file exists, so two instances starting together cannot overwrite each other's key.
fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_name_their_security() {
        let s = smtp_settings("smtp://no-reply%40acme.example:p%40ss@mail.acme.example").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("mail.acme.example", 587, mail::SmtpSecurity::StartTls)
        );
        assert_eq!(s.username.as_deref(), Some("no-reply@acme.example"));
        assert_eq!(s.password.as_deref(), Some("p@ss"));
        let s = smtp_settings("smtps://mail.acme.example").unwrap();
        assert_eq!((s.port, s.security), (465, mail::SmtpSecurity::Tls));
        let s = smtp_settings("smtp+plain://127.0.0.1:2525").unwrap();
        assert_eq!(
            (s.port, s.security, s.username),
            (2525, mail::SmtpSecurity::None, None)
        );
        assert!(smtp_settings("http://mail.acme.example").is_err());
        assert!(smtp_settings("smtp://").is_err());
    }

    #[test]
    fn key_files_are_private_from_creation() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("leadline-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secret.key");
        let key = local_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        assert_eq!(local_key(&path).unwrap(), key, "read back, not made again");
        assert!(write_private(&path, b"x").is_err(), "never overwritten");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_key("abc"), None);
        assert_eq!(parse_key(&"zz".repeat(32)), None);
    }
}
