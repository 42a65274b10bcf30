//! The HTTP layer's defences: body limits, slow clients, security headers and the
//! page's nonce, who may read metrics, and which database roles may serve requests.

use crate::common;

use common::TestApp;
use leadline::bootstrap;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

async fn post(app: &TestApp, path: &str, body: Vec<u8>) -> StatusCode {
    app.client()
        .post(format!("{}{path}", app.base))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn large_bodies_are_refused_except_csv_imports() {
    let app = TestApp::spawn().await;
    let login = app::auth::api::Login::PATH;
    assert_eq!(
        post(&app, login, vec![b'a'; 3 * MIB]).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    for webhook in ["/webhooks/email", "/webhooks/whatsapp"] {
        assert_eq!(
            post(&app, webhook, vec![b'a'; 3 * MIB / 2]).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{webhook}"
        );
    }

    // The import takes files well past the general limit.
    let owner = app
        .signup("Imogen", "imogen@example.com", "Big Files Ltd")
        .await;
    let mut csv = String::from("name,notes\n");
    let mut n = 0;
    while csv.len() < 3 * MIB {
        n += 1;
        csv.push_str(&format!("Person {n},{}\n", "x".repeat(50)));
    }
    let res = owner
        .post(format!("{}/import/upload", app.base))
        .query(&[("entity", "CONTACT"), ("name", "big.csv")])
        .header("sec-fetch-site", "same-origin")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_eq!(status, StatusCode::OK, "{}", res.text().await.unwrap());
}

/// Waits for the server to close `stream` (or answer and close), within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut buf))
        .await
        .is_ok()
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_others_still_served() {
    let app = TestApp::spawn_with_http(|http| {
        http.timeouts.header_read = Duration::from_millis(500);
        http.timeouts.body_read = Duration::from_millis(500);
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // 400 connections here and 400 in the server stay under a default limit of 1024
    // open files.
    let mut stalled = Vec::new();
    for _ in 0..400 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(s);
    }
    let mut slow_body = TcpStream::connect(&addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /webhooks/email HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"id\":",
        )
        .await
        .unwrap();

    // Meanwhile, an ordinary request is answered at once.
    let started = Instant::now();
    let res = app.get(&app.client(), "/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(400));

    for s in &mut stalled {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "a half-sent request head kept its connection"
        );
    }
    assert!(
        closed_within(&mut slow_body, Duration::from_secs(3)).await,
        "a stalled body kept its connection"
    );
}

#[tokio::test]
async fn pages_carry_a_policy_whose_nonce_every_script_has() {
    let app = TestApp::spawn().await;
    let res = app.get(&app.client(), "/login").await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let policy = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ] {
        assert!(policy.contains(directive), "{directive}: {policy}");
    }
    assert!(!policy.contains("script-src 'self' 'unsafe-inline'"));
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy")
        .to_string();
    assert!(nonce.len() >= 16, "{nonce}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "same-origin");
    assert!(headers.get("strict-transport-security").is_none());

    let body = res.text().await.unwrap();
    let scripts: Vec<&str> = body.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "{body}");
    for script in scripts {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "<script{tag}> lacks the nonce {nonce}"
        );
    }

    // Each response its own nonce.
    let again = app.get(&app.client(), "/login").await;
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(&nonce));

    // The not-found page renders the same shell through another handler.
    let client = app.signup("Nora", "nora@example.com", "Nonce Ltd").await;
    let missing = app.get(&client, "/no-such-page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let policy = missing.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let body = missing.text().await.unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(body.contains(&format!("nonce=\"{nonce}\"")), "{body}");
}

#[tokio::test]
async fn production_sends_hsts() {
    let app = TestApp::spawn_with_http(|http| http.hsts = true).await;
    let res = app.get(&app.client(), "/healthz").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
}

#[test]
fn page_context_json_cannot_end_its_script() {
    let json = app::script_json(&serde_json::json!({
        "name": "</script><script>alert(1)</script>",
        "note": "<!-- & -->",
    }));
    assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
    assert!(json.contains("\\u003c/script\\u003e"), "{json}");
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["name"], "</script><script>alert(1)</script>");
    assert_eq!(back["note"], "<!-- & -->");
}

#[tokio::test]
async fn a_tenant_name_cannot_break_out_of_the_page() {
    let app = TestApp::spawn().await;
    let evil = "</script><script>alert(1)</script>";
    let client = app.signup("Mallory", "mallory@example.com", evil).await;
    let body = app.page(&client, "/").await.1;
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(body.contains("\\u003cscript\\u003ealert(1)"), "{body}");
}

async fn metrics_status(app: &TestApp, headers: &[(&str, &str)]) -> StatusCode {
    let mut req = app.client().get(format!("{}/metrics", app.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn metrics_answer_allowed_addresses_and_the_token_holder_only() {
    // The default: this machine (the tests connect from 127.0.0.1) only.
    let app = TestApp::spawn().await;
    assert_eq!(metrics_status(&app, &[]).await, StatusCode::OK);
    // Relayed by a proxy on this machine that nobody declared: whose request is it?
    let relayed = [("x-forwarded-for", "203.0.113.5")];
    assert_eq!(metrics_status(&app, &relayed).await, StatusCode::NOT_FOUND);

    let app = TestApp::spawn_with_http(|http| {
        http.metrics_allow = vec!["192.0.2.0/24".parse().unwrap()];
        http.metrics_token = Some("s3cret-token".into());
    })
    .await;
    assert_eq!(metrics_status(&app, &[]).await, StatusCode::NOT_FOUND);
    let wrong = [("authorization", "Bearer s3cret-tokeN")];
    assert_eq!(metrics_status(&app, &wrong).await, StatusCode::NOT_FOUND);
    // A forwarded-for header from a peer that is not our proxy changes nothing.
    let spoofed = [("x-forwarded-for", "192.0.2.7")];
    assert_eq!(metrics_status(&app, &spoofed).await, StatusCode::NOT_FOUND);
    let right = [("authorization", "Bearer s3cret-token")];
    assert_eq!(metrics_status(&app, &right).await, StatusCode::OK);

    // Behind our proxy on this machine, the client's address is what counts.
    let app = TestApp::spawn_with_http(|http| {
        http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let outside = [("x-forwarded-for", "203.0.113.5")];
    assert_eq!(metrics_status(&app, &outside).await, StatusCode::NOT_FOUND);
    assert_eq!(metrics_status(&app, &[]).await, StatusCode::OK);
}

/// `leadline worker` alone serves its own `/metrics` under the server's rules.
#[tokio::test]
async fn a_lone_worker_serves_its_metrics_to_the_allowed_only() {
    let app = TestApp::spawn().await;
    let serve = |http: leadline::web::HttpConfig| {
        let router = leadline::web::worker_metrics(http, app.pools.app.clone());
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            tokio::spawn(async move { axum::serve(listener, service).await });
            format!("http://{addr}/metrics")
        }
    };
    let open = serve(leadline::web::HttpConfig::default()).await;
    let res = reqwest::get(&open).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("leadline_db_pool_connections{state=\"open\"}"),
        "{text}"
    );

    let closed = serve(leadline::web::HttpConfig {
        metrics_allow: Vec::new(),
        metrics_token: Some("worker-token".into()),
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::new();
    assert_eq!(
        client.get(&closed).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let with_token = client
        .get(&closed)
        .bearer_auth("worker-token")
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
}

fn database_url(name: &str) -> String {
    PgConnectOptions::from_str(&std::env::var("DATABASE_URL").unwrap())
        .unwrap()
        .database(name)
        .to_url_lossy()
        .to_string()
}

#[tokio::test]
async fn runtime_roles_that_could_bypass_row_security_are_refused() {
    let app = TestApp::spawn().await;
    let db: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let url = database_url(&db);

    // The owner (here a superuser) given as the runtime role.
    let err = bootstrap::prepare(&url, Some(&url), "unused", 2)
        .await
        .err()
        .expect("the owner must not serve requests");
    assert!(err.contains("superuser"), "{err}");
    assert!(err.contains("migrating role"), "{err}");

    // A plain role that owns a table and is a member of the owner role.
    let role = format!("r_{}", &db[2..14]);
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD 'pw' NOSUPERUSER NOBYPASSRLS"),
        format!("CREATE TABLE {role}_t (id int)"),
        format!("ALTER TABLE {role}_t OWNER TO {role}"),
    ] {
        sqlx::query(&sql).execute(&app.pools.owner).await.unwrap();
    }
    let role_url = PgConnectOptions::from_str(&url)
        .unwrap()
        .username(&role)
        .password("pw")
        .to_url_lossy()
        .to_string();
    let err = bootstrap::prepare(&url, Some(&role_url), "unused", 2)
        .await
        .err()
        .expect("a table owner must not serve requests");
    assert!(err.contains("owns tables"), "{err}");
    assert!(!err.contains("superuser"), "{err}");

    sqlx::query(&format!("GRANT postgres TO {role}"))
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let err = bootstrap::prepare(&url, Some(&role_url), "unused", 2)
        .await
        .err()
        .expect("a member of the owner role must not serve requests");
    assert!(err.contains("migrating role postgres"), "{err}");

    // The role Leadline creates passes (TestApp::spawn started with it).
    let problems = bootstrap::runtime_role_problems(&app.pools.app, "postgres")
        .await
        .unwrap();
    assert_eq!(problems, Vec::<String>::new());

    for sql in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        let _ = sqlx::query(&sql).execute(&app.pools.owner).await;
    }
}

#[tokio::test]
async fn links_in_emails_and_webhooks_are_throttled_per_address() {
    let app = TestApp::spawn().await;
    let client = app.client();
    // 300 opens a minute from one address, then 429 with a Retry-After.
    for i in 0..300 {
        let res = client
            .get(format!("{}/t/o/not-a-token-{i}", app.base))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS, "request {i}");
    }
    let res = client
        .get(format!("{}/u/not-a-token", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Webhooks have a budget of their own, still open.
    let res = client
        .post(format!("{}/webhooks/whatsapp", app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let buckets: Vec<(String, i32)> =
        sqlx::query_as("SELECT bucket, hits FROM rate_limits ORDER BY bucket")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        buckets,
        [
            ("public_link_ip".to_string(), 301),
            ("webhook_ip".to_string(), 1)
        ]
    );
}

#[tokio::test]
async fn mailbox_hosts_must_be_public_smtp_servers() {
    use app::outreach::api::{AddDomain, SaveMailbox};
    let app = TestApp::spawn_with(|config| config.egress = mail::Egress::PublicOnly).await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, domain) = app
        .call::<AddDomain>(&admin, &[("domain", "acme.test")])
        .await;
    assert_eq!(status, StatusCode::OK, "{domain}");
    let domain = domain.as_str().unwrap().to_string();
    let save = |host: &'static str, port: &'static str| {
        let (app, admin, domain) = (&app, &admin, domain.clone());
        async move {
            app.call::<SaveMailbox>(
                admin,
                &[
                    ("domain_id", domain.as_str()),
                    ("from_address", "sales@acme.test"),
                    ("from_name", "Acme Sales"),
                    ("smtp_host", host),
                    ("smtp_port", port),
                    ("smtp_security", "STARTTLS"),
                    ("smtp_username", "sales"),
                    ("smtp_password", "pw"),
                    ("daily_cap", "100"),
                    ("warmup_start", "50"),
                    ("warmup_step", "10"),
                    ("min_gap_seconds", "0"),
                ],
            )
            .await
        }
    };
    for (host, port) in [
        ("127.0.0.1", "2525"),
        ("localhost", "587"),
        ("169.254.169.254", "587"),
        ("10.0.0.5", "25"),
        ("[::1]", "465"),
        ("8.8.8.8", "6379"),
    ] {
        let (status, body) = save(host, port).await;
        assert_eq!(
            (status, common::error_field(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("smtp_host")),
            "{host}:{port} {body}"
        );
        assert!(
            !body.to_string().contains(host.trim_matches(['[', ']'])),
            "{body}"
        );
    }
    let (status, body) = save("8.8.8.8", "587").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a public server on a submission port: {body}"
    );
}

#[tokio::test]
async fn undecodable_server_function_arguments_are_a_bad_request() {
    let app = TestApp::spawn().await;
    let client = app.signup("Ada", "ada@example.com", "Acme").await;
    let path = <app::outreach::api::ListTemplates as ServerFn>::PATH;
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "a=1"),
        ("application/json", "{not json"),
    ] {
        let res = client
            .post(format!("{}{path}", app.base))
            .header("sec-fetch-site", "same-origin")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{content_type}");
        let error: serde_json::Value = res.json().await.unwrap();
        assert!(error.get("Transport").is_some(), "{error}");
    }
    // A form server function missing a field answers 400 too.
    let path = <app::auth::api::Login as ServerFn>::PATH;
    let res = app
        .client()
        .post(format!("{}{path}", app.base))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "ada@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
