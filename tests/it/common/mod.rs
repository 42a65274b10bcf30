//! A real Leadline server on a fresh PostgreSQL database, spoken to over real HTTP.
#![allow(dead_code)]

use app::db::Db;
use app::request::AppConfig;
use leadline::bootstrap::{self, Pools};
use leadline::web::{router, AppState, HttpConfig};
use leptos::config::LeptosOptions;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::str::FromStr;

pub mod dns;

pub const PASSWORD: &str = "correct horse battery";
/// The longest any test request may take, body included. Generous: the slowest pages
/// answer in well under a second even with the whole suite running.
pub const REQUEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a page's body may stop arriving before [`TestApp::page`] asks again.
pub const PAGE_STALL: std::time::Duration = std::time::Duration::from_secs(15);

pub struct TestApp {
    pub base: String,
    pub pools: Pools,
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL superuser for the integration tests; `cargo xtask test` sets it",
    )
}

impl TestApp {
    /// A fresh database (migrated, runtime role granted) and a server on a free port.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], with the server's settings adjusted first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut AppConfig)) -> TestApp {
        TestApp::spawn_full(adjust, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with the HTTP layer's settings adjusted first.
    pub async fn spawn_with_http(adjust: impl FnOnce(&mut HttpConfig)) -> TestApp {
        TestApp::spawn_full(|_| {}, adjust).await
    }

    async fn spawn_full(
        adjust: impl FnOnce(&mut AppConfig),
        adjust_http: impl FnOnce(&mut HttpConfig),
    ) -> TestApp {
        // Errors on our side are logged, not answered; a failing test prints them.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .try_init();
        let pools = TestApp::database().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestApp::serve(pools, listener, adjust, adjust_http)
    }

    /// A fresh database, migrated, the runtime role granted.
    pub async fn database() -> Pools {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let url = PgConnectOptions::from_str(&admin_url())
            .unwrap()
            .database(&name)
            .to_url_lossy()
            .to_string();
        bootstrap::ensure_database(&url).await.unwrap();
        bootstrap::prepare(&url, None, "leadline-app-local", 5)
            .await
            .unwrap()
    }

    /// A server whose WhatsApp Cloud API is a local peer that calls its webhooks back,
    /// and the peer (which must exist before the server, to be named in its settings).
    pub async fn spawn_with_peer() -> (TestApp, peer::Peer) {
        TestApp::spawn_with_peer_and(|_, _| {}).await
    }

    /// Like [`TestApp::spawn_with_peer`], with the settings adjusted knowing the peer.
    pub async fn spawn_with_peer_and(
        adjust: impl FnOnce(&mut AppConfig, &peer::Peer),
    ) -> (TestApp, peer::Peer) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let local = AppConfig::local(&base);
        let peer = peer::Peer::start(peer::PeerConfig {
            whatsapp_webhook_url: format!("{base}/webhooks/whatsapp"),
            whatsapp_app_secret: local.wa_app_secret.clone(),
            email_webhook_url: format!("{base}/webhooks/email"),
            email_webhook_secret: local.email_webhook_secret.clone(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            smtp_addr: "127.0.0.1:0".parse().unwrap(),
            whatsapp_numbers: Vec::new(),
        })
        .await
        .unwrap();
        let wa_api_url = format!("{}/v21.0", peer.http_base());
        let d360_api_url = format!("{}/360dialog", peer.http_base());
        let pools = TestApp::database().await;
        let app = TestApp::serve(
            pools,
            listener,
            |config| {
                config.wa_api_url = wa_api_url;
                config.d360_api_url = d360_api_url;
                adjust(config, &peer);
            },
            |_| {},
        );
        (app, peer)
    }

    fn serve(
        pools: Pools,
        listener: tokio::net::TcpListener,
        adjust: impl FnOnce(&mut AppConfig),
        adjust_http: impl FnOnce(&mut HttpConfig),
    ) -> TestApp {
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let options = LeptosOptions::builder()
            .output_name("leadline")
            .site_root("target/site")
            .site_addr(addr)
            .build();
        let mut config = AppConfig::local(&base);
        adjust(&mut config);
        let mut http = HttpConfig::default();
        adjust_http(&mut http);
        let timeouts = http.timeouts;
        let state = AppState::new(options, Db::new(pools.app.clone()), config).with_http(http);
        let app = router(state);
        tokio::spawn(leadline::server::serve(
            listener,
            app,
            timeouts,
            std::future::pending(),
        ));
        TestApp { base, pools }
    }

    /// A server whose payment provider is the peer's Stripe stand-in, which posts its
    /// signed events back to the server, and whose account emails go to the peer's
    /// SMTP server. The charging worker is not running: tests call it with their clock.
    pub async fn spawn_with_stripe() -> (TestApp, peer::Peer) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let local = AppConfig::local(&base);
        let peer = peer::Peer::start(peer::PeerConfig {
            whatsapp_webhook_url: "http://127.0.0.1:9/unused".into(),
            whatsapp_app_secret: "unused".into(),
            email_webhook_url: "http://127.0.0.1:9/unused".into(),
            email_webhook_secret: "unused".into(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            smtp_addr: "127.0.0.1:0".parse().unwrap(),
            whatsapp_numbers: Vec::new(),
        })
        .await
        .unwrap();
        peer.set_stripe_webhook(
            &format!("{base}/webhooks/billing"),
            &local.billing_webhook_secret,
        );
        let stripe_api_url = format!("{}/stripe", peer.http_base());
        let smtp = peer.smtp_addr();
        let pools = TestApp::database().await;
        let app = TestApp::serve(
            pools,
            listener,
            |config| {
                config.stripe_api_url = stripe_api_url;
                config.account_mail = Some(app::request::AccountMail {
                    smtp: mail::SmtpSettings {
                        host: smtp.ip().to_string(),
                        port: smtp.port(),
                        security: mail::SmtpSecurity::None,
                        username: None,
                        password: None,
                        timeout: std::time::Duration::from_secs(10),
                        egress: mail::Egress::AnyAddress,
                    },
                    from: "no-reply@leadline.test".into(),
                });
            },
            |_| {},
        );
        (app, peer)
    }

    /// A server whose account emails go to a local peer's SMTP server.
    pub async fn spawn_with_mail() -> (TestApp, peer::Peer) {
        let peer = peer::Peer::start(peer::PeerConfig {
            whatsapp_webhook_url: "http://127.0.0.1:9/unused".into(),
            whatsapp_app_secret: "unused".into(),
            email_webhook_url: "http://127.0.0.1:9/unused".into(),
            email_webhook_secret: "unused".into(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            smtp_addr: "127.0.0.1:0".parse().unwrap(),
            whatsapp_numbers: Vec::new(),
        })
        .await
        .unwrap();
        let smtp = peer.smtp_addr();
        let app = TestApp::spawn_with(|config| {
            config.account_mail = Some(app::request::AccountMail {
                smtp: mail::SmtpSettings {
                    host: smtp.ip().to_string(),
                    port: smtp.port(),
                    security: mail::SmtpSecurity::None,
                    username: None,
                    password: None,
                    timeout: std::time::Duration::from_secs(10),
                    egress: mail::Egress::AnyAddress,
                },
                from: "no-reply@leadline.test".into(),
            });
        })
        .await;
        (app, peer)
    }

    /// A browser-like client: keeps cookies, does not follow redirects. A request
    /// that has not finished within [`REQUEST_LIMIT`] fails with its URL, so a server
    /// that stops answering fails its test instead of stalling the suite.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_LIMIT)
            .build()
            .unwrap()
    }

    /// Calls server function `F` with form fields, as a same-origin page would.
    pub async fn call<F: ServerFn>(
        &self,
        client: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let res = client
            .post(format!("{}{}", self.base, F::PATH))
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Calls server function `F` whose input is JSON (struct arguments).
    pub async fn call_json<F: ServerFn>(
        &self,
        client: &reqwest::Client,
        body: &Value,
    ) -> (StatusCode, Value) {
        let res = client
            .post(format!("{}{}", self.base, F::PATH))
            .header("sec-fetch-site", "same-origin")
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// A server-rendered page: its status and HTML. A page whose body stops arriving
    /// for [`PAGE_STALL`] is asked for once more, and the stall is printed: Leptos'
    /// out-of-order streaming (0.8.23) very rarely leaves a response unfinished, which
    /// hung CI runs 48 and 49 (DECISIONS 103). Twice in a row fails the test.
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
        for attempt in 1..=2 {
            let res = self.get(client, path).await;
            let status = res.status();
            match tokio::time::timeout(PAGE_STALL, res.text()).await {
                Ok(body) => return (status, body.unwrap()),
                Err(_) => eprintln!(
                    "STALLED: {path} sent part of its page and then nothing for {} s (attempt {attempt})",
                    PAGE_STALL.as_secs()
                ),
            }
        }
        panic!("{path}: the page stalled twice");
    }

    /// Posts `body` raw to `path`, as the browser sends an upload (a file as the
    /// body); the answer as JSON, or as a string when it is not.
    pub async fn post_raw(
        &self,
        client: &reqwest::Client,
        path: &str,
        query: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let res = client
            .post(format!("{}{path}", self.base))
            .query(query)
            .header("sec-fetch-site", "same-origin")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Signs up a new workspace, signs in and returns the signed-in client. (Sign-up
    /// itself signs nobody in; the address stays unconfirmed.)
    pub async fn signup(&self, name: &str, email: &str, company: &str) -> reqwest::Client {
        let client = self.client();
        let (status, body) = self
            .call::<app::auth::api::Signup>(
                &client,
                &[
                    ("name", name),
                    ("email", email),
                    ("password", PASSWORD),
                    ("company", company),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "signup failed: {body}");
        let (status, body) = self
            .call::<app::auth::api::Login>(&client, &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "sign-in after signup failed: {body}"
        );
        client
    }

    pub async fn login(&self, email: &str, password: &str) -> (reqwest::Client, StatusCode, Value) {
        let client = self.client();
        let (status, body) = self
            .call::<app::auth::api::Login>(&client, &[("email", email), ("password", password)])
            .await;
        (client, status, body)
    }

    /// Invites `email` with `role` from `admin`, accepts as a new account (or as the
    /// existing one, signed in) and returns the invitee's signed-in client.
    pub async fn invite_and_join(
        &self,
        admin: &reqwest::Client,
        email: &str,
        role: &str,
    ) -> reqwest::Client {
        let (status, link) = self
            .call::<app::team::api::CreateInvite>(admin, &[("email", email), ("role", role)])
            .await;
        assert_eq!(status, StatusCode::OK, "invite failed: {link}");
        let token = token_of(&link);
        let accept = [
            ("token", token.as_str()),
            ("name", "Invited Person"),
            ("password", PASSWORD),
        ];
        let client = self.client();
        let (status, body) = self
            .call::<app::team::api::AcceptInvite>(&client, &accept)
            .await;
        assert_eq!(status, StatusCode::OK, "accept failed: {body}");
        assert_eq!(body, "SignInNext");
        let (status, body) = self
            .call::<app::auth::api::Login>(&client, &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "sign-in after accepting failed: {body}"
        );
        let (_, state) = self
            .call::<app::team::api::LookupInvite>(&client, &[("token", &token)])
            .await;
        if state.get("Open").is_some() {
            // An account that existed joins once signed in.
            let (status, body) = self
                .call::<app::team::api::AcceptInvite>(&client, &accept)
                .await;
            assert_eq!((status, body), (StatusCode::OK, Value::from("Joined")));
        }
        client
    }

    /// A second server on this one's database, as another instance behind the same
    /// load balancer would be.
    pub async fn another_instance(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pools = Pools {
            owner: self.pools.owner.clone(),
            app: self.pools.app.clone(),
        };
        TestApp::serve(pools, listener, |_| {}, |_| {})
    }

    /// Makes an API key with these scopes through Settings → Developers; its token.
    pub async fn api_key(&self, admin: &reqwest::Client, name: &str, scopes: &[&str]) -> String {
        let (status, created) = self
            .call_json::<app::developers::api::CreateApiKey>(
                admin,
                &serde_json::json!({ "input": {
                    "name": name, "scopes": scopes, "expires_in_days": 30, "allowed_ips": ""
                }}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        created["token"].as_str().unwrap().to_string()
    }

    /// A request to the public API with a key.
    pub fn api(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}/api/v1{path}", self.base))
            .timeout(REQUEST_LIMIT)
            .bearer_auth(token)
    }

    pub async fn tenant_of(&self, email: &str) -> uuid::Uuid {
        sqlx::query_scalar(
            "SELECT m.tenant_id FROM memberships m JOIN users u ON u.id = m.user_id
              WHERE u.email = $1 ORDER BY m.created_at LIMIT 1",
        )
        .bind(email)
        .fetch_one(&self.pools.owner)
        .await
        .unwrap()
    }
}

/// The `id_field` of the entry in `team[list]` whose email is `email`, as a team page
/// lists them (`list` is "members" or "invites").
pub fn id_in_team(team: &Value, list: &str, email: &str, id_field: &str) -> String {
    team[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in {list}: {team}"))[id_field]
        .as_str()
        .unwrap()
        .to_string()
}

/// The token at the end of an invite link returned by `create_invite`.
pub fn token_of(link: &Value) -> String {
    link["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// Waits (up to 10 s) for the `n`th email (1-based) to `to` at the peer and returns
/// it; account emails leave from a task of their own.
pub async fn nth_mail_to(peer: &peer::Peer, to: &str, n: usize) -> peer::Received {
    for _ in 0..200 {
        let mails: Vec<_> = peer.messages().into_iter().filter(|m| m.to == to).collect();
        if mails.len() >= n {
            return mails[n - 1].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no email #{n} to {to}: {:?}", peer.messages());
}

/// The token of the first `/{path}/<token>` link in an email's text.
pub fn link_token(mail: &peer::Received, path: &str) -> String {
    let marker = format!("/{path}/");
    let start = mail
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} link in {:?}", mail.body))
        + marker.len();
    mail.body[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

/// The field a validation error names, if it is one.
pub fn error_field(body: &Value) -> Option<&str> {
    body.get("Validation")?.get("field")?.as_str()
}

/// One limit's line of a billing overview (`BillingOverview`), by metric name.
pub fn usage_of(overview: &Value, metric: &str) -> Value {
    overview["usage"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["metric"] == metric))
        .cloned()
        .unwrap_or_else(|| panic!("no {metric} in {overview}"))
}

pub fn error_text(body: &Value) -> String {
    body.to_string()
}
