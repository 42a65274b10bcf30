//! `leadline bench`: how long a signed-in page takes to render on the server, next to a
//! bare axum handler on the same machine, and how long a 100,000-row CSV import takes
//! through the real path (upload, start, a runner claiming and running the job).
//! Requests go through the whole router in-process (`oneshot`), so the numbers are
//! server time without the network.

pub mod api;
pub mod billing;
pub mod bundle;
pub mod crm;
pub mod http;
pub mod inventory;
pub mod outreach;
pub mod review;

use crate::config::Config;
use crate::seed::{synthetic, system_ctx, DEMO_PASSWORD};
use crate::Database;
use app::auth::ssr::{create_workspace, NewWorkspace};
use app::db::Db;
use app::i18n::Locale;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use leptos::server_fn::ServerFn;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tower::ServiceExt;

pub const BENCH_EMAIL: &str = "bench-owner@leadline.test";
const WARMUP: usize = 30;
const SAMPLES: usize = 300;
const IMPORT_ROWS: usize = 100_000;

#[derive(Debug)]
pub struct Stats {
    pub p50: Duration,
    pub p95: Duration,
    pub mean: Duration,
}

pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.50),
        p95: at(0.95),
        mean: samples.iter().sum::<Duration>() / samples.len() as u32,
    }
}

async fn time_requests(router: &Router, cookie: Option<&str>) -> Result<Stats, String> {
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let mut req = Request::get("/");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = req.body(Body::empty()).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let res = router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| e.to_string())?;
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        if i >= WARMUP {
            samples.push(started.elapsed());
        }
        if body.is_empty() {
            return Err("empty response".into());
        }
    }
    Ok(stats(samples))
}

pub fn leptos_options() -> Result<leptos::config::LeptosOptions, String> {
    leptos::config::get_configuration(None)
        .map(|conf| conf.leptos_options)
        .map_err(|e| e.to_string())
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The bench owner's workspace (made once, among 20 neighbours), the full router, and
/// a signed-in session cookie for it.
pub async fn signed_in(config: &Config, database: &Database) -> Result<(Router, String), String> {
    let pools = &database.pools;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)")
        .bind(BENCH_EMAIL)
        .fetch_one(&pools.owner)
        .await
        .map_err(|e| e.to_string())?;
    if !exists {
        // Neighbours, so the signed-in tenant is one of many.
        synthetic(pools, 20, 10).await?;
        let hash = app::crypto::hash_password(DEMO_PASSWORD.into())
            .await
            .map_err(|e| e.to_string())?;
        create_workspace(
            &system_ctx(Db::new(pools.app.clone())),
            NewWorkspace {
                name: "Bench Owner".into(),
                email: BENCH_EMAIL.into(),
                password_hash: hash,
                company: "Bench Realty".into(),
                locale: Locale::En,
                plan: "pro",
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let mut options = leptos_options()?;
    options.site_addr = config.addr;
    let router = crate::web::router(crate::app_state(options, database, config));

    let cookie = login(&router, BENCH_EMAIL).await?;
    Ok((router, cookie))
}

/// Signs `email` in (with the demo password) through the router; the session cookie.
pub(crate) async fn login(router: &Router, email: &str) -> Result<String, String> {
    let login = Request::post(app::auth::api::Login::PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "email={email}&password={DEMO_PASSWORD}"
        )))
        .map_err(|e| e.to_string())?;
    let res = router
        .clone()
        .oneshot(login)
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != StatusCode::OK {
        return Err(format!("bench login of {email} failed: {}", res.status()));
    }
    res.headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| "no session cookie".to_string())
}

pub async fn run(config: &Config, database: &Database) -> Result<(), String> {
    review::print_classifier();
    let (router, cookie) = signed_in(config, database).await?;
    bundle::print(&router, &cookie, &leptos_options()?).await?;
    let pools = &database.pools;
    let home = time_requests(&router, Some(&cookie)).await?;
    let bare_router = Router::new().route(
        "/",
        get(|| async { axum::response::Html("<!DOCTYPE html><html><body>ok</body></html>") }),
    );
    let bare = time_requests(&bare_router, None).await?;
    // The page does a few database round trips (session, membership, viewer); a bare
    // handler with one round trip shows what the database alone costs.
    let pool = pools.app.clone();
    let sql_router = Router::new().route(
        "/",
        get(move || {
            let pool = pool.clone();
            async move {
                let n: i32 = sqlx::query_scalar("SELECT 1")
                    .fetch_one(&pool)
                    .await
                    .unwrap_or(0);
                axum::response::Html(format!("<!DOCTYPE html><html><body>{n}</body></html>"))
            }
        }),
    );
    let one_sql = time_requests(&sql_router, None).await?;
    println!("signed-in home page (server time, {SAMPLES} requests):");
    println!(
        "  p50 {:.2} ms   p95 {:.2} ms   mean {:.2} ms",
        ms(home.p50),
        ms(home.p95),
        ms(home.mean)
    );
    println!("bare axum handler:");
    println!(
        "  p50 {:.3} ms   p95 {:.3} ms   mean {:.3} ms",
        ms(bare.p50),
        ms(bare.p95),
        ms(bare.mean)
    );
    println!("bare axum handler with one SQL round trip:");
    println!(
        "  p50 {:.3} ms   p95 {:.3} ms   mean {:.3} ms",
        ms(one_sql.p50),
        ms(one_sql.p95),
        ms(one_sql.mean)
    );
    println!(
        "ratio home/one-SQL handler: p50 {:.1}x   p95 {:.1}x",
        ms(home.p50) / ms(one_sql.p50).max(1e-6),
        ms(home.p95) / ms(one_sql.p95).max(1e-6)
    );
    println!(
        "ratio home/bare: p50 {:.0}x   p95 {:.0}x",
        ms(home.p50) / ms(bare.p50).max(1e-6),
        ms(home.p95) / ms(bare.p95).max(1e-6)
    );
    http::run(&router, &cookie).await?;
    import_contacts(&router, &cookie, &pools.app).await?;
    crm::run(database, &router).await?;
    inventory::run(database, config).await?;
    billing::run(database, config).await?;
    outreach::run(database, config).await
}

/// Sends `req` with the session cookie as a same-origin page would; the JSON answer.
pub(crate) async fn call(
    router: &Router,
    cookie: &str,
    req: axum::http::request::Builder,
    body: Body,
) -> Result<serde_json::Value, String> {
    let req = req
        .header(header::COOKIE, cookie)
        .header("sec-fetch-site", "same-origin")
        .body(body)
        .map_err(|e| e.to_string())?;
    let res = router
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    if status != StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// 100,000 generated contacts (distinct emails and E.164 phones, tags) imported the
/// way a member does it: upload, start, then a runner claims the job and runs it.
async fn import_contacts(router: &Router, cookie: &str, pool: &sqlx::PgPool) -> Result<(), String> {
    use app::crm::import::api::{JobStatus, StartImport};
    let run_id = uuid::Uuid::new_v4();
    let run = &run_id.simple().to_string()[..8];
    // Each run's phone numbers start elsewhere, so a rerun on the same database
    // creates contacts instead of skipping the last run's.
    let first_phone = (run_id.as_u128() % 99_000_000) as usize;
    let mut csv = String::with_capacity(IMPORT_ROWS * 96);
    csv.push_str("Name,Email,Phone,Job title,Tags\n");
    for i in 0..IMPORT_ROWS {
        let _ = writeln!(
            csv,
            "Contact {i} {run},c{i}.{run}@bench.leadline.test,+20 10{:08},Buyer,\"bench, import\"",
            first_phone + i
        );
    }
    let bytes = csv.len();
    let started = Instant::now();
    let info = call(
        router,
        cookie,
        Request::post("/import/upload?entity=CONTACT&name=bench.csv"),
        Body::from(csv),
    )
    .await?;
    let uploaded = started.elapsed();
    let plan = serde_json::json!({
        "plan": { "job_id": info["job_id"], "mapping": info["mapping"], "dedupe": "Skip" }
    });
    let id = call(
        router,
        cookie,
        Request::post(StartImport::PATH).header(header::CONTENT_TYPE, "application/json"),
        Body::from(plan.to_string()),
    )
    .await?;
    let job_started = Instant::now();
    crate::jobs::run_until_idle(pool).await?;
    let ran = job_started.elapsed();
    let id = id.as_str().ok_or("start_import answered no id")?;
    let job = call(
        router,
        cookie,
        Request::post(JobStatus::PATH)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
        Body::from(format!("id={id}")),
    )
    .await?;
    if job["state"] != "Done" || job["processed"] != IMPORT_ROWS || job["counts"]["failed"] != 0 {
        return Err(format!("the bench import did not import every row: {job}"));
    }
    println!(
        "CSV import of {IMPORT_ROWS} contacts ({:.1} MB):",
        bytes as f64 / 1e6
    );
    println!(
        "  upload {:.2} s   job {:.2} s   total {:.2} s   ({} created, {} skipped as duplicates)",
        uploaded.as_secs_f64(),
        ran.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        job["counts"]["created"],
        job["counts"]["skipped"]
    );
    Ok(())
}
