//! `leadline bench billing`: 50 plan changes at once on one workspace (one wins, the
//! rest are told it is already on that plan) and 20 invoices made at once (numbered
//! without gaps), through the same paths as a real user and the renewal worker.

use super::{login, ms, stats};
use crate::config::Config;
use crate::seed::{system_ctx, DEMO_PASSWORD};
use crate::Database;
use app::auth::ssr::{create_workspace, NewWorkspace};
use app::db::Db;
use app::i18n::Locale;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use leptos::server_fn::ServerFn;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use uuid::Uuid;

const EMAIL: &str = "bench-billing@leadline.test";
const PLAN_CHANGES: usize = 50;
const INVOICES: usize = 20;

/// The bench's own workspace (made on first use), set back to an active Starter
/// subscription halfway through its period, so every run starts alike.
async fn workspace(database: &Database) -> Result<Uuid, String> {
    let owner = &database.pools.owner;
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT m.tenant_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1",
    )
    .bind(EMAIL)
    .fetch_optional(owner)
    .await
    .map_err(|e| e.to_string())?;
    let tenant = match existing {
        Some(tenant) => tenant,
        None => {
            let hash = app::crypto::hash_password(DEMO_PASSWORD.into())
                .await
                .map_err(|e| e.to_string())?;
            create_workspace(
                &system_ctx(Db::new(database.pools.app.clone())),
                NewWorkspace {
                    name: "Bench Billing".into(),
                    email: EMAIL.into(),
                    password_hash: hash,
                    company: "Bench Billing".into(),
                    locale: Locale::En,
                    plan: "starter",
                },
            )
            .await
            .map_err(|e| e.to_string())?
            .1
        }
    };
    sqlx::query(
        "UPDATE subscriptions SET plan_id = 'starter', status = 'ACTIVE', cycle = 'MONTHLY',
                pending_plan_id = NULL, cancel_at_period_end = false, current_period_start = now() - interval '10 days',
                current_period_end = now() + interval '20 days', currency = 'USD'
          WHERE tenant_id = $1",
    )
    .bind(tenant)
    .execute(owner)
    .await
    .map_err(|e| e.to_string())?;
    Ok(tenant)
}

pub async fn run(database: &Database, config: &Config) -> Result<(), String> {
    let tenant = workspace(database).await?;
    let mut options = super::leptos_options()?;
    options.site_addr = config.addr;
    let router = crate::web::router(crate::app_state(options, database, config));
    let cookie = login(&router, EMAIL).await?;
    let last_number = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT coalesce(max(number), 0) FROM invoices WHERE tenant_id = $1",
        )
        .bind(tenant)
        .fetch_one(&database.pools.owner)
        .await
        .map_err(|e| e.to_string())
    };
    let before_changes = last_number().await?;

    // 50 upgrades to Pro at once, as 50 tabs pressing the button.
    let started = Instant::now();
    let changes = (0..PLAN_CHANGES).map(|_| {
        let router = router.clone();
        let req = Request::post(app::billing::api::ChangePlan::PATH)
            .header(header::COOKIE, &cookie)
            .header("sec-fetch-site", "same-origin")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("plan=pro&cycle=MONTHLY"));
        tokio::spawn(async move {
            let req = req.map_err(|e| e.to_string())?;
            let at = Instant::now();
            let res = router.oneshot(req).await.map_err(|e| e.to_string())?;
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((
                status,
                String::from_utf8_lossy(&body).into_owned(),
                at.elapsed(),
            ))
        })
    });
    let results = futures_util::future::join_all(changes).await;
    let wall = started.elapsed();
    let (mut won, mut told, mut other) = (0, 0, Vec::new());
    let mut took = Vec::new();
    for r in results {
        let (status, body, elapsed) = r.map_err(|e| e.to_string())??;
        took.push(elapsed);
        match status {
            StatusCode::OK => won += 1,
            StatusCode::CONFLICT if body.contains("already on Pro") => told += 1,
            _ => other.push(format!("{status} {body}")),
        }
    }
    let prorations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM invoices i WHERE i.tenant_id = $1 AND i.number > $2
            AND EXISTS (SELECT 1 FROM invoice_lines l
                         WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id AND l.kind = 'PRORATION')",
    )
    .bind(tenant)
    .bind(before_changes)
    .fetch_one(&database.pools.owner)
    .await
    .map_err(|e| e.to_string())?;
    let change = stats(took);
    println!("{PLAN_CHANGES} concurrent upgrades of one workspace (Starter to Pro, in-process):");
    println!(
        "  {won} applied, {told} told \"already on Pro\", {} other answers; {prorations} prorated invoice(s)",
        other.len()
    );
    println!(
        "  per request p50 {:.1} ms   p95 {:.1} ms; all {PLAN_CHANGES} in {:.0} ms",
        ms(change.p50),
        ms(change.p95),
        ms(wall)
    );
    if won != 1 || !other.is_empty() {
        return Err(format!(
            "plan changes went wrong: {won} applied, other answers {other:?}"
        ));
    }

    // 20 invoices at once, each in its own transaction, as renewals and add-on
    // purchases would make them.
    let before: i32 =
        sqlx::query_scalar("SELECT coalesce(max(number), 0) FROM invoices WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&database.pools.owner)
            .await
            .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let makers = (0..INVOICES).map(|i| {
        let db = Db::new(database.pools.app.clone());
        tokio::spawn(async move {
            let at = Instant::now();
            let mut tx = db
                .tenant_tx(tenant, None)
                .await
                .map_err(|e| e.to_string())?;
            let lines = [("ADDON", format!("Bench message pack {i}"), 1000)];
            let now = chrono::Utc::now();
            app::billing::ssr::create_invoice(&mut tx, tenant, "USD", &lines, (now, now))
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok::<Duration, String>(at.elapsed())
        })
    });
    let mut took = Vec::new();
    for r in futures_util::future::join_all(makers).await {
        took.push(r.map_err(|e| e.to_string())??);
    }
    let wall = started.elapsed();
    let numbers: Vec<i32> = sqlx::query_scalar(
        "SELECT number FROM invoices WHERE tenant_id = $1 AND number > $2 ORDER BY number",
    )
    .bind(tenant)
    .bind(before)
    .fetch_all(&database.pools.owner)
    .await
    .map_err(|e| e.to_string())?;
    let expected: Vec<i32> = (before + 1..=before + INVOICES as i32).collect();
    let made = stats(took);
    println!("{INVOICES} concurrent invoices of one workspace:");
    println!(
        "  numbered {}..={} ({} numbers, {})",
        numbers.first().copied().unwrap_or_default(),
        numbers.last().copied().unwrap_or_default(),
        numbers.len(),
        if numbers == expected {
            "no gaps, none twice"
        } else {
            "GAPS OR REPEATS"
        }
    );
    println!(
        "  per invoice p50 {:.1} ms   p95 {:.1} ms; all {INVOICES} in {:.0} ms",
        ms(made.p50),
        ms(made.p95),
        ms(wall)
    );
    if numbers != expected {
        return Err(format!(
            "invoice numbers {numbers:?}, expected {expected:?}"
        ));
    }
    Ok(())
}
