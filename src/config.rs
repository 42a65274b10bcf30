//! Settings from the environment, with defaults that run on a laptop.

use app::standard_webhooks::WebhookKey;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The runtime role's password when none is given; fine on a laptop only.
const LOCAL_APP_DB_PASSWORD: &str = "leadline-app-local";

/// The 32-byte key of [`Config::secret_key`], printed as redacted and zeroed on drop.
#[derive(Clone)]
pub struct SecretKey(SecretBox<KeyBytes>);

#[derive(Clone)]
struct KeyBytes([u8; 32]);

impl zeroize::Zeroize for KeyBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl secrecy::CloneableSecret for KeyBytes {}

impl SecretKey {
    pub fn new(bytes: [u8; 32]) -> SecretKey {
        SecretKey(SecretBox::new(Box::new(KeyBytes(bytes))))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0.expose_secret().0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Where the HTTP server listens (`LEADLINE_ADDR`).
    pub addr: SocketAddr,
    /// An existing PostgreSQL to use; unset starts a private cluster (`DATABASE_URL`).
    pub database_url: Option<SecretString>,
    /// The runtime role's URL, when the operator manages that role (`DATABASE_APP_URL`).
    pub database_app_url: Option<SecretString>,
    /// The password given to the runtime role when Leadline creates it.
    pub app_db_password: SecretString,
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
    pub secret_key: SecretKey,
    /// Whether the key came from `LEADLINE_SECRET_KEY` rather than this machine's file.
    pub secret_key_given: bool,
    /// Served to the internet: `LEADLINE_PUBLIC_URL` is `https://…` or
    /// `LEADLINE_ENV=production`. Development defaults then refuse to start.
    pub production: bool,
    /// Addresses that may read `/metrics` (`LEADLINE_METRICS_ALLOW`, default loopback).
    pub metrics_allow: Vec<IpNet>,
    /// Bearer token that opens `/metrics` from anywhere (`LEADLINE_METRICS_TOKEN`).
    pub metrics_token: Option<SecretString>,
    /// Where `leadline worker` serves its own `/metrics` (`LEADLINE_WORKER_METRICS_ADDR`);
    /// unset, it serves none. A worker inside `serve` records to the server's.
    pub worker_metrics_addr: Option<SocketAddr>,
    /// Whether `serve` also runs the background work (`LEADLINE_BACKGROUND`, default
    /// on). Off, it only answers requests and `leadline worker` processes do the rest.
    pub background: bool,
    /// Proxies whose `X-Forwarded-For` names the client (`LEADLINE_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
    /// The WhatsApp Cloud API (`LEADLINE_WA_API_URL`); unset with the dev peer on, the peer.
    pub wa_api_url: Option<String>,
    /// 360dialog's hosted Cloud API (`LEADLINE_D360_API_URL`); unset with the dev peer
    /// on, the peer.
    pub d360_api_url: Option<String>,
    pub wa_app_secret: SecretString,
    pub wa_verify_token: SecretString,
    pub email_webhook_secret: SecretString,
    /// `LEADLINE_BILLING_WEBHOOK_SECRET`: the payment provider's endpoint secret.
    pub billing_webhook_secret: SecretString,
    /// Stripe's API (`LEADLINE_STRIPE_API_URL`); unset with the dev peer on, the
    /// peer's stand-in.
    pub stripe_api_url: Option<String>,
    /// `LEADLINE_STRIPE_SECRET_KEY`: Stripe's secret key (`sk_…`).
    pub stripe_secret_key: SecretString,
    /// The DNS server domain checks ask (`LEADLINE_DNS_RESOLVER`, default the system's).
    pub dns_resolver: Option<SocketAddr>,
    pub spf_include: Option<String>,
    /// Start the local provider peer (`LEADLINE_DEV_PEER`, on by default in builds
    /// with the `dev-tools` feature) on these
    /// addresses (`LEADLINE_PEER_ADDR`, `LEADLINE_PEER_SMTP_ADDR`).
    pub dev_peer: Option<(SocketAddr, SocketAddr)>,
    /// The SMTP server for account emails (`LEADLINE_SMTP_URL`); unset with the dev
    /// peer on, the peer's SMTP server.
    pub account_smtp: Option<mail::SmtpSettings>,
    /// The `From` of account emails (`LEADLINE_MAIL_FROM`).
    pub mail_from: Option<String>,
    /// Tenants' mailboxes may be on private addresses (`LEADLINE_ALLOW_PRIVATE_EGRESS`),
    /// for a deployment whose customers' mail servers share its network.
    pub allow_private_egress: bool,
    /// Where uploaded files go (`LEADLINE_FILES`): a directory (default
    /// `.leadline/files`), or `s3://bucket` with the standard `AWS_*` variables. Several
    /// app servers need the bucket, so every one of them sees every file.
    pub files: app::files::FileStore,
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
        let secret_key_given = var("LEADLINE_SECRET_KEY").is_some();
        let secret_key = match var("LEADLINE_SECRET_KEY") {
            Some(hex) => parse_key(&hex).ok_or("LEADLINE_SECRET_KEY must be 64 hex digits")?,
            None => local_key(&PathBuf::from(".leadline/secret.key"))?,
        };
        let public_url = var("LEADLINE_PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}"));
        let production = public_url.starts_with("https://")
            || var("LEADLINE_ENV").as_deref() == Some("production");
        // On by default where it is built in (`dev-tools`, which `cargo xtask` turns on).
        let dev_peer = match flag("LEADLINE_DEV_PEER", cfg!(feature = "dev-tools")) {
            true if !cfg!(feature = "dev-tools") => {
                return Err(
                    "LEADLINE_DEV_PEER is on, but this build has no provider peer: \
                            `cargo xtask run` builds one with it"
                        .into(),
                )
            }
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
            allow_private_egress: flag("LEADLINE_ALLOW_PRIVATE_EGRESS", false),
            secret_key: SecretKey::new(secret_key),
            secret_key_given,
            production,
            metrics_allow: match var("LEADLINE_METRICS_ALLOW") {
                Some(list) => networks("LEADLINE_METRICS_ALLOW", &list)?,
                None => crate::web::loopback(),
            },
            metrics_token: var("LEADLINE_METRICS_TOKEN").map(SecretString::from),
            background: flag("LEADLINE_BACKGROUND", true),
            worker_metrics_addr: match var("LEADLINE_WORKER_METRICS_ADDR") {
                Some(_) => Some(address("LEADLINE_WORKER_METRICS_ADDR", "")?),
                None => None,
            },
            trusted_proxies: match var("LEADLINE_TRUSTED_PROXIES") {
                Some(list) => networks("LEADLINE_TRUSTED_PROXIES", &list)?,
                None => Vec::new(),
            },
            wa_api_url: var("LEADLINE_WA_API_URL"),
            d360_api_url: var("LEADLINE_D360_API_URL"),
            wa_app_secret: var("LEADLINE_WA_APP_SECRET")
                .unwrap_or(local.wa_app_secret)
                .into(),
            wa_verify_token: var("LEADLINE_WA_VERIFY_TOKEN")
                .unwrap_or(local.wa_verify_token)
                .into(),
            email_webhook_secret: match var("LEADLINE_EMAIL_WEBHOOK_SECRET") {
                Some(secret) => {
                    WebhookKey::parse(&secret)
                        .map_err(|e| format!("LEADLINE_EMAIL_WEBHOOK_SECRET: {e}"))?;
                    secret.into()
                }
                None => local.email_webhook_secret.into(),
            },
            billing_webhook_secret: var("LEADLINE_BILLING_WEBHOOK_SECRET")
                .unwrap_or(local.billing_webhook_secret)
                .into(),
            stripe_api_url: var("LEADLINE_STRIPE_API_URL"),
            stripe_secret_key: match var("LEADLINE_STRIPE_SECRET_KEY") {
                Some(key) if !key.starts_with("sk_") => {
                    return Err("LEADLINE_STRIPE_SECRET_KEY must be a secret key (sk_…)".into())
                }
                Some(key) => key.into(),
                None => local.stripe_secret_key.into(),
            },
            dns_resolver,
            spf_include: var("LEADLINE_SPF_INCLUDE"),
            dev_peer,
            addr,
            database_url: var("DATABASE_URL").map(SecretString::from),
            database_app_url: var("DATABASE_APP_URL").map(SecretString::from),
            app_db_password: var("LEADLINE_APP_DB_PASSWORD")
                .unwrap_or_else(|| LOCAL_APP_DB_PASSWORD.into())
                .into(),
            data_dir: var("LEADLINE_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".leadline/pg")),
            pg_port,
            pg_bin: var("LEADLINE_PG_BIN").map(PathBuf::from),
            public_url,
            secure_cookies: flag("LEADLINE_SECURE_COOKIES", false),
            demo_seed: flag("LEADLINE_DEMO_SEED", true),
            pool_size,
            files: app::files::FileStore::open(
                &var("LEADLINE_FILES").unwrap_or_else(|| ".leadline/files".into()),
            )
            .map_err(|e| format!("LEADLINE_FILES: {e}"))?,
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
        // The operator's own server: it may well sit on a private network.
        egress: mail::Egress::AnyAddress,
    })
}

/// Everything in a production configuration that is still a development default: a
/// value anyone can read in this repository, or a feature meant for a laptop.
pub fn production_problems(config: &Config) -> Vec<String> {
    let local = app::request::AppConfig::local("");
    let mut problems = Vec::new();
    let mut problem = |wrong: bool, text: &str| {
        if wrong {
            problems.push(text.to_string());
        }
    };
    problem(
        config.wa_app_secret.expose_secret() == local.wa_app_secret,
        "LEADLINE_WA_APP_SECRET is the development value",
    );
    problem(
        config.wa_verify_token.expose_secret() == local.wa_verify_token,
        "LEADLINE_WA_VERIFY_TOKEN is the development value",
    );
    problem(
        config.email_webhook_secret.expose_secret() == local.email_webhook_secret,
        "LEADLINE_EMAIL_WEBHOOK_SECRET is the development value",
    );
    problem(
        config.billing_webhook_secret.expose_secret() == local.billing_webhook_secret,
        "LEADLINE_BILLING_WEBHOOK_SECRET is the development value",
    );
    problem(
        config.stripe_secret_key.expose_secret() == local.stripe_secret_key,
        "LEADLINE_STRIPE_SECRET_KEY is the development value",
    );
    problem(
        config.dev_peer.is_some(),
        "LEADLINE_DEV_PEER is on (set it to 0)",
    );
    problem(config.demo_seed, "LEADLINE_DEMO_SEED is on (set it to 0)");
    // Only used when Leadline creates the role itself; a managed role has its own.
    problem(
        config.database_app_url.is_none()
            && config.app_db_password.expose_secret() == LOCAL_APP_DB_PASSWORD,
        "LEADLINE_APP_DB_PASSWORD is the development value (or set DATABASE_APP_URL)",
    );
    problem(!config.secure_cookies, "LEADLINE_SECURE_COOKIES is not 1");
    problem(
        config.account_smtp.is_none(),
        "LEADLINE_SMTP_URL is not set (address confirmations and password resets need it)",
    );
    problem(
        !config.secret_key_given || *config.secret_key.bytes() == local.secret_key,
        "LEADLINE_SECRET_KEY is not set, or is the development key",
    );
    problems
}

/// Refuses to start in production with any development default, naming them all.
pub fn check_production(config: &Config) -> Result<(), String> {
    let problems = production_problems(config);
    if !config.production || problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing to start in production (LEADLINE_PUBLIC_URL is https:// or LEADLINE_ENV=production):\n  - {}",
        problems.join("\n  - ")
    ))
}

/// A comma-separated list of addresses (`10.0.0.5`) and networks (`10.0.0.0/8`).
fn networks(name: &str, list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{name}: {s} is neither an address nor a network"))
        })
        .collect()
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

    /// A production configuration with nothing left at its development value.
    fn production() -> Config {
        Config {
            addr: "127.0.0.1:3000".parse().unwrap(),
            database_url: None,
            database_app_url: None,
            app_db_password: "a real password".into(),
            data_dir: PathBuf::new(),
            files: app::files::FileStore::memory(),
            pg_port: 54320,
            pg_bin: None,
            public_url: "https://leadline.example".into(),
            secure_cookies: true,
            demo_seed: false,
            pool_size: 20,
            secret_key: SecretKey::new([7; 32]),
            secret_key_given: true,
            production: true,
            metrics_allow: Vec::new(),
            metrics_token: None,
            worker_metrics_addr: None,
            background: true,
            trusted_proxies: Vec::new(),
            wa_api_url: None,
            d360_api_url: None,
            wa_app_secret: "meta secret".into(),
            wa_verify_token: "meta token".into(),
            email_webhook_secret: "email secret".into(),
            billing_webhook_secret: "billing secret".into(),
            stripe_api_url: None,
            stripe_secret_key: "sk_live_real".into(),
            dns_resolver: None,
            spf_include: None,
            dev_peer: None,
            account_smtp: Some(smtp_settings("smtps://mail.leadline.example").unwrap()),
            mail_from: None,
            allow_private_egress: false,
        }
    }

    #[test]
    fn secrets_never_print() {
        let printed = format!("{:?}", production());
        for secret in [
            "meta secret",
            "meta token",
            "email secret",
            "billing secret",
            "sk_live_real",
            "a real password",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(!printed.contains("7, 7, 7"), "{printed}");
        assert!(printed.contains("REDACTED"), "{printed}");
    }

    #[test]
    fn a_clean_production_config_starts() {
        assert_eq!(production_problems(&production()), Vec::<String>::new());
        assert_eq!(check_production(&production()), Ok(()));
    }

    #[test]
    fn production_names_every_development_default() {
        let local = app::request::AppConfig::local("");
        let config = Config {
            wa_app_secret: local.wa_app_secret.into(),
            wa_verify_token: local.wa_verify_token.into(),
            email_webhook_secret: local.email_webhook_secret.into(),
            billing_webhook_secret: local.billing_webhook_secret.into(),
            stripe_secret_key: local.stripe_secret_key.into(),
            dev_peer: Some((
                "127.0.0.1:3900".parse().unwrap(),
                "127.0.0.1:2525".parse().unwrap(),
            )),
            demo_seed: true,
            app_db_password: LOCAL_APP_DB_PASSWORD.into(),
            secure_cookies: false,
            secret_key: SecretKey::new(local.secret_key),
            account_smtp: None,
            ..production()
        };
        let problems = production_problems(&config);
        assert_eq!(problems.len(), 11, "{problems:?}");
        let message = check_production(&config).unwrap_err();
        for name in [
            "LEADLINE_WA_APP_SECRET",
            "LEADLINE_WA_VERIFY_TOKEN",
            "LEADLINE_EMAIL_WEBHOOK_SECRET",
            "LEADLINE_BILLING_WEBHOOK_SECRET",
            "LEADLINE_STRIPE_SECRET_KEY",
            "LEADLINE_DEV_PEER",
            "LEADLINE_DEMO_SEED",
            "LEADLINE_APP_DB_PASSWORD",
            "LEADLINE_SECURE_COOKIES",
            "LEADLINE_SECRET_KEY",
            "LEADLINE_SMTP_URL",
        ] {
            assert!(message.contains(name), "{name} missing from: {message}");
        }
        // A key made on this machine is not one every instance shares.
        let unset = Config {
            secret_key_given: false,
            ..production()
        };
        assert_eq!(production_problems(&unset).len(), 1);
        // Development keeps its defaults.
        let dev = Config {
            production: false,
            ..config
        };
        assert_eq!(check_production(&dev), Ok(()));
    }

    #[test]
    fn networks_take_addresses_and_cidrs() {
        let nets = networks("X", "10.0.0.0/8, 192.0.2.1,::1").unwrap();
        assert!(nets[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        assert!(nets[1].contains(&"192.0.2.1".parse::<std::net::IpAddr>().unwrap()));
        assert!(!nets[1].contains(&"192.0.2.2".parse::<std::net::IpAddr>().unwrap()));
        assert!(nets[2].contains(&"::1".parse::<std::net::IpAddr>().unwrap()));
        assert!(networks("X", "not-an-ip").is_err());
    }

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
