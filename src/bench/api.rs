//! `leadline bench api`: what the public API costs.
//!
//! - `GET /api/v1/contacts?limit=50` over HTTP with 32 keep-alive connections (key
//!   lookup, rate limit, the tenant transaction, JSON), against pgbench running the
//!   list's own SQL in the same kind of transaction, `-M prepared`, 32 clients, in the
//!   same run. Target: the API at ≥ 0.5× pgbench.
//! - 10,000 webhook events delivered to the peer's receiver failing 30 % of requests:
//!   lost and duplicated event ids (target 0 and 0), throughput and p95 lag from the
//!   change to the successful delivery.

use crate::bench::http::{load, print_load};
use crate::bench::{ms, signed_in, stats, BENCH_EMAIL};
use crate::config::Config;
use crate::Database;
use app::db::Db;
use secrecy::ExposeSecret;
use sqlx::postgres::PgConnectOptions;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 32;
const LOAD_FOR: Duration = Duration::from_secs(6);
const CONTACTS: i64 = 2_000;
const EVENTS: usize = 10_000;

pub async fn run(database: &Database, config: &Config) -> Result<(), String> {
    let (router, _) = signed_in(config, database).await?;
    let owner = &database.pools.owner;
    let err = |e: sqlx::Error| e.to_string();
    let tenant: uuid::Uuid = sqlx::query_scalar(
        "SELECT m.tenant_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1",
    )
    .bind(BENCH_EMAIL)
    .fetch_one(owner)
    .await
    .map_err(err)?;
    sqlx::query(
        "INSERT INTO contacts (tenant_id, id, full_name, email)
         SELECT $1, gen_random_uuid(), 'API Person ' || i, 'api' || i || '@bench.test'
           FROM generate_series(1, $2 - (SELECT count(*) FROM contacts WHERE tenant_id = $1)) i",
    )
    .bind(tenant)
    .bind(CONTACTS)
    .execute(owner)
    .await
    .map_err(err)?;
    // The plan's limit would turn most of the load into 429s: this measures the cost
    // of an answered request, the limit's own count included.
    sqlx::query(
        "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL",
    )
    .bind(tenant)
    .execute(owner)
    .await
    .map_err(err)?;
    sqlx::query("UPDATE plans SET api_per_minute = 100000000, api_per_hour = NULL WHERE id = (SELECT plan_id FROM subscriptions WHERE tenant_id = $1)")
        .bind(tenant)
        .execute(owner)
        .await
        .map_err(err)?;
    let (prefix, token) = app::developers::ssr::generate_token();
    let key: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, scopes, per_minute)
         VALUES ($1, gen_random_uuid(), 'bench', $2, $3, '{contacts:write}', 100000) RETURNING id",
    )
    .bind(tenant)
    .bind(&prefix)
    .bind(app::crypto::sha256(token.as_bytes()))
    .fetch_one(owner)
    .await
    .map_err(err)?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::server::serve(
        listener,
        router,
        Default::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let auth = [("authorization", format!("Bearer {token}"))];
    let api = load(
        addr,
        "/api/v1/contacts?limit=50",
        &auth,
        CONNECTIONS,
        LOAD_FOR,
    )
    .await?;
    let _ = stop.send(());
    let _ = server.await;
    let pgbench = pgbench(database, config, tenant, key).await?;
    println!(
        "public API, {CONNECTIONS} connections, {} s:",
        LOAD_FOR.as_secs()
    );
    print_load("GET /api/v1/contacts?limit=50", &api);
    println!("  pgbench -M prepared -c {CONNECTIONS}, the same list in the same transaction: {pgbench:.0} tps");
    println!(
        "  API / pgbench throughput: {:.2}x (target >= 0.5x)",
        api.per_second / pgbench.max(1e-9)
    );
    webhooks(database, tenant).await
}

/// The API's list query as pgbench runs it: the tenant transaction's settings, then
/// the select, as the runtime role (under RLS, like the API).
async fn pgbench(
    database: &Database,
    config: &Config,
    tenant: uuid::Uuid,
    key: uuid::Uuid,
) -> Result<f64, String> {
    let select = <app::developers::objects::Contact as app::developers::objects::ApiObject>::SELECT;
    let script = format!(
        "BEGIN;\nSELECT set_config('app.tenant_id', '{tenant}', true), set_config('app.user_id', '{key}', true);\n{} WHERE r.tenant_id = '{tenant}' ORDER BY r.created_at DESC, r.id DESC LIMIT 51;\nCOMMIT;\n",
        select.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let path = std::env::temp_dir().join(format!("leadline-api-bench-{}.sql", std::process::id()));
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let app_options: &PgConnectOptions = &database.pools.app.connect_options();
    let mut cmd = tokio::process::Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared", "-j", "2"])
        .arg("-c")
        .arg(CONNECTIONS.to_string())
        .arg("-T")
        .arg(LOAD_FOR.as_secs().to_string())
        .arg("-f")
        .arg(&path)
        .env("PGHOST", app_options.get_host())
        .env("PGPORT", app_options.get_port().to_string())
        .env("PGUSER", app_options.get_username())
        .env(
            "PGDATABASE",
            app_options.get_database().unwrap_or("postgres"),
        );
    if config.database_app_url.is_none() {
        cmd.env("PGPASSWORD", config.app_db_password.expose_secret());
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("running pgbench (is it on PATH?): {e}"))?;
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            format!(
                "pgbench said: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Events written by record changes, delivered by the worker's own routine to the
/// peer's receiver, which fails three requests in ten.
async fn webhooks(database: &Database, tenant: uuid::Uuid) -> Result<(), String> {
    let err = |e: sqlx::Error| e.to_string();
    let owner = &database.pools.owner;
    let peer = peer::Peer::start(peer::PeerConfig {
        whatsapp_webhook_url: "http://127.0.0.1:9/unused".into(),
        whatsapp_app_secret: "unused".into(),
        email_webhook_url: "http://127.0.0.1:9/unused".into(),
        email_webhook_secret: "unused".into(),
        http_addr: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        smtp_addr: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        whatsapp_numbers: Vec::new(),
    })
    .await
    .map_err(|e| e.to_string())?;
    peer.hooks_fail_tenths(3);
    let config = app::request::AppConfig::local("http://127.0.0.1:9");
    let endpoint = uuid::Uuid::now_v7();
    let key = app::standard_webhooks::WebhookKey::generate();
    let sealed = app::crypto::seal_field(
        &config.secret_key,
        &app::crypto::SealedAt {
            table: "webhook_endpoints",
            column: "secret_sealed",
            row: endpoint,
        },
        key.secret().as_bytes(),
    );
    sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1")
        .bind(tenant)
        .execute(owner)
        .await
        .map_err(err)?;
    sqlx::query(
        "INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret_sealed)
         VALUES ($1, $2, $3, '{contact.updated}', $4)",
    )
    .bind(tenant)
    .bind(endpoint)
    .bind(peer.hook_url("bench"))
    .bind(sealed)
    .execute(owner)
    .await
    .map_err(err)?;
    // The events, written as the record code writes them, each in its own transaction.
    let db = Db::new(database.pools.app.clone());
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM contacts WHERE tenant_id = $1 LIMIT 100")
            .bind(tenant)
            .fetch_all(owner)
            .await
            .map_err(err)?;
    let started = Instant::now();
    for chunk in 0..EVENTS {
        let mut tx = db
            .tenant_tx(tenant, None)
            .await
            .map_err(|e| e.to_string())?;
        app::developers::deliver::record_changed(
            &mut tx,
            tenant,
            app::crm::model::Entity::Contact,
            &[ids[chunk % ids.len()]],
            "updated",
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(err)?;
    }
    let written = started.elapsed();
    // Delivered as the worker does; retries come due at once instead of after their
    // backoff, which is the time a bench has no use for.
    let delivering = Instant::now();
    loop {
        let n = app::developers::deliver::deliver_due(&db, &config, 64)
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            let pending = sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = now()
                  WHERE endpoint_id = $1 AND status = 'PENDING'",
            )
            .bind(endpoint)
            .execute(owner)
            .await
            .map_err(err)?
            .rows_affected();
            if pending == 0 {
                break;
            }
        }
        if delivering.elapsed() > Duration::from_secs(600) {
            return Err("webhook deliveries did not finish in 10 minutes".into());
        }
    }
    let took = delivering.elapsed();
    let received = peer.hooks_received();
    let mut delivered: HashMap<&str, usize> = HashMap::new();
    for r in received.iter().filter(|r| r.answered == 200) {
        *delivered.entry(r.webhook_id.as_str()).or_default() += 1;
    }
    let events: Vec<(
        String,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = sqlx::query_as(
        "SELECT e.id, e.created_at, d.finished_at FROM webhook_events e
           JOIN webhook_deliveries d ON d.event_id = e.id WHERE d.endpoint_id = $1",
    )
    .bind(endpoint)
    .fetch_all(owner)
    .await
    .map_err(err)?;
    let lost = events
        .iter()
        .filter(|(id, _, _)| !delivered.contains_key(id.as_str()))
        .count();
    let duplicated = delivered.values().filter(|n| **n > 1).count();
    let lags: Vec<Duration> = events
        .iter()
        .filter_map(|(_, at, done)| done.map(|d| (d - *at).to_std().unwrap_or_default()))
        .collect();
    if lags.is_empty() {
        return Err("no webhook event was delivered".into());
    }
    let failed = received.iter().filter(|r| r.answered != 200).count();
    println!(
        "webhooks: {} events written in {:.1} s; delivered in {:.1} s ({:.0}/s) to a receiver failing 30 % ({failed} failed attempts)",
        events.len(),
        written.as_secs_f64(),
        took.as_secs_f64(),
        events.len() as f64 / took.as_secs_f64().max(1e-9)
    );
    println!(
        "  lost {lost}, delivered twice {duplicated} (targets 0 and 0); lag from change to delivery p50 {:.0} ms, p95 {:.0} ms",
        ms(stats(lags.clone()).p50),
        ms(stats(lags).p95)
    );
    Ok(())
}
