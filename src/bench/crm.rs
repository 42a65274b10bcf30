//! The CRM part of `leadline bench`: one tenant with 100,000 deals, 1,000,000
//! contacts and 1,000,000 activities among 20 others, then the board, a timeline and
//! the contacts table timed through the whole router, next to the board's SQL alone,
//! the same table in a tenant of 1,000 contacts, and the plans PostgreSQL picks.

use crate::bench::{ms, stats, Stats};
use crate::seed::{system_ctx, DEMO_PASSWORD};
use crate::Database;
use app::auth::model::Role;
use app::auth::ssr::{create_workspace, NewWorkspace};
use app::crm::access::Scope;
use app::crm::board::model::BoardFilter;
use app::db::Db;
use app::i18n::Locale;
use app::request::Principal;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use uuid::Uuid;

const BIG_EMAIL: &str = "bench-crm@leadline.test";
const SMALL_EMAIL: &str = "bench-crm-small@leadline.test";
const DEALS: i64 = 100_000;
const CONTACTS: i64 = 1_000_000;
const ACTIVITIES: i64 = 1_000_000;
const SMALL_CONTACTS: i64 = 1_000;
const SAMPLES: usize = 200;
const WARMUP: usize = 20;

pub async fn workspace(
    db: &Db,
    owner: &PgPool,
    email: &str,
    company: &str,
) -> Result<(Uuid, Uuid, bool), String> {
    let found: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT u.id, m.tenant_id FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_optional(owner)
    .await
    .map_err(|e| e.to_string())?;
    if let Some((user, tenant)) = found {
        return Ok((user, tenant, false));
    }
    let hash = app::crypto::hash_password(DEMO_PASSWORD.into())
        .await
        .map_err(|e| e.to_string())?;
    let (user, tenant) = create_workspace(
        &system_ctx(db.clone()),
        NewWorkspace {
            name: "Bench Rep".into(),
            email: email.into(),
            password_hash: hash,
            company: company.into(),
            locale: Locale::En,
            plan: "pro",
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok((user, tenant, true))
}

/// Runs one bulk statement for `tenant` with RLS satisfied, so seeding works whether
/// or not the owner role is a superuser.
async fn in_tenant(
    owner: &PgPool,
    tenant: Uuid,
    sql: &str,
    args: (i64, i64, Uuid),
) -> Result<(), String> {
    let mut tx = owner.begin().await.map_err(|e| e.to_string())?;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(sql)
        .bind(tenant)
        .bind(args.0)
        .bind(args.1)
        .bind(args.2)
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    tx.commit().await.map_err(|e| e.to_string())
}

const CONTACTS_SQL: &str = "INSERT INTO contacts (tenant_id, id, full_name, email, phone_e164, owner_id, created_at)
    SELECT $1, gen_random_uuid(),
           (ARRAY['Ahmed','Mona','Omar','Layla','Karim','Yasmine','محمد','فاطمة','علي','نور'])[1 + i % 10] || ' ' ||
           (ARRAY['Hassan','Farouk','Nasser','Adel','Zaki','Fouad','عبد الله','السيد','إبراهيم','منصور'])[1 + (i / 10) % 10] || ' ' || i,
           'c' || i || '@bench.example', '+2010' || lpad(i::text, 8, '0'), $4, now() - i * interval '1 second'
      FROM generate_series($2, $3) i";

const DEALS_SQL: &str = "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, amount_minor, currency, position, owner_id, stage_entered_at)
    SELECT $1, gen_random_uuid(), s.pipeline_id, s.id, 'Deal ' || i, (i % 5000 + 1) * 100000,
           (ARRAY['USD','EGP','AED'])[1 + i % 3], i, $4, now() - (i % 90) * interval '1 day'
      FROM generate_series($2, $3) i
      JOIN stages s ON s.tenant_id = $1 AND s.position = 1 + i % 6";

const ACTIVITIES_SQL: &str = "INSERT INTO activities (tenant_id, id, kind, deal_id, actor_id, body, occurred_at)
    SELECT $1, gen_random_uuid(), (ARRAY['NOTE','CALL','MEETING','EMAIL'])[1 + i % 4],
           d.ids[1 + i % cardinality(d.ids)], $4, 'Bench activity ' || i, now() - i * interval '1 minute'
      FROM generate_series($2, $3) i,
           (SELECT array_agg(id) AS ids FROM deals WHERE tenant_id = $1) d";

/// Fills the large tenant up to its target counts; resumes where an interrupted run
/// stopped (each batch commits on its own).
async fn seed_big(owner: &PgPool, tenant: Uuid, user: Uuid) -> Result<(), String> {
    let started = Instant::now();
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = $1"
        ))
        .bind(tenant)
        .fetch_one(owner)
        .await
        .map_err(|e| e.to_string())
    };
    let step = 200_000;
    let mut seeded = false;
    for (table, sql, target) in [
        ("contacts", CONTACTS_SQL, CONTACTS),
        ("deals", DEALS_SQL, DEALS),
        ("activities", ACTIVITIES_SQL, ACTIVITIES),
    ] {
        let mut have = count(table).await?;
        while have < target {
            if !seeded {
                println!("seeding the large tenant (once; reused on later runs)...");
                seeded = true;
            }
            let to = (have + step).min(target);
            in_tenant(owner, tenant, sql, (have + 1, to, user)).await?;
            have = to;
            println!(
                "  {table}: {have} ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    if seeded {
        sqlx::query("VACUUM ANALYZE contacts")
            .execute(owner)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query("VACUUM ANALYZE deals")
            .execute(owner)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query("VACUUM ANALYZE activities")
            .execute(owner)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn login(router: &Router, email: &str) -> Result<String, String> {
    let req = Request::post(app::auth::api::Login::PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "email={email}&password={DEMO_PASSWORD}"
        )))
        .map_err(|e| e.to_string())?;
    let res = router
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != StatusCode::OK {
        return Err(format!("bench login failed: {}", res.status()));
    }
    res.headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| "no session cookie".to_string())
}

/// Times a JSON server function call through the whole router.
async fn time_call(
    router: &Router,
    cookie: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<Stats, String> {
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let req = Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body.to_string()))
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let res = router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        if i >= WARMUP {
            samples.push(started.elapsed());
        }
        if status != StatusCode::OK {
            return Err(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
    }
    Ok(stats(samples))
}

fn line(label: &str, s: &Stats) {
    println!(
        "  {label:<44} p50 {:>7.2} ms   p95 {:>7.2} ms   mean {:>7.2} ms",
        ms(s.p50),
        ms(s.p95),
        ms(s.mean)
    );
}

/// The plan of `sql` as the runtime role sees it (RLS applied), one line per node.
async fn plan(app: &PgPool, tenant: Uuid, sql: &str) -> Result<Vec<String>, String> {
    let mut tx = app.begin().await.map_err(|e| e.to_string())?;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN (COSTS OFF) {sql}"))
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows)
}

pub async fn run(database: &Database, router: &Router) -> Result<(), String> {
    let pools = &database.pools;
    let db = Db::new(pools.app.clone());
    let (big_user, big_tenant, _) =
        workspace(&db, &pools.owner, BIG_EMAIL, "Bench CRM Large").await?;
    seed_big(&pools.owner, big_tenant, big_user).await?;
    let (small_user, small_tenant, fresh_small) =
        workspace(&db, &pools.owner, SMALL_EMAIL, "Bench CRM Small").await?;
    if fresh_small {
        in_tenant(
            &pools.owner,
            small_tenant,
            CONTACTS_SQL,
            (1, SMALL_CONTACTS, small_user),
        )
        .await?;
    }
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM deals WHERE tenant_id = $1), (SELECT count(*) FROM contacts WHERE tenant_id = $1),
                (SELECT count(*) FROM activities WHERE tenant_id = $1)",
    )
    .bind(big_tenant)
    .fetch_one(&pools.owner)
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "\nCRM: large tenant has {} deals, {} contacts, {} activities; small tenant {SMALL_CONTACTS} contacts",
        counts.0, counts.1, counts.2
    );

    let big = login(router, BIG_EMAIL).await?;
    let small = login(router, SMALL_EMAIL).await?;
    let board_path = app::crm::board::api::GetBoard::PATH;
    let board_body = serde_json::json!({ "pipeline_id": null, "filter": {} });
    let board = time_call(router, &big, board_path, &board_body).await?;

    // The same board queries in a tenant transaction, without HTTP or session.
    let principal = Principal {
        user_id: big_user,
        tenant_id: big_tenant,
        membership_id: Uuid::nil(),
        role: Role::Owner,
        name: String::new(),
        email: String::new(),
        must_enrol_2fa: false,
        must_verify_email: false,
        unpaid_invoice: None,
        grants: Vec::new(),
        api_key: None,
        timezone: "UTC".to_string(),
        theme: "light".to_string(),
        digits: Default::default(),
        staff: false,
        support: None,
    };
    let mut direct = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let started = Instant::now();
        let mut tx = db
            .tenant_tx(big_tenant, Some(big_user))
            .await
            .map_err(|e| e.to_string())?;
        let scope = Scope::load(&mut tx, &principal)
            .await
            .map_err(|e| e.to_string())?;
        app::crm::board::ssr::board_in(&mut tx, big_tenant, &scope, None, &BoardFilter::default())
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the large tenant has no pipeline")?;
        tx.commit().await.map_err(|e| e.to_string())?;
        if i >= WARMUP {
            direct.push(started.elapsed());
        }
    }
    let direct = stats(direct);

    let deal: Uuid = sqlx::query_scalar(
        "SELECT deal_id FROM activities WHERE tenant_id = $1 AND deal_id IS NOT NULL LIMIT 1",
    )
    .bind(big_tenant)
    .fetch_one(&pools.owner)
    .await
    .map_err(|e| e.to_string())?;
    let timeline = time_call(
        router,
        &big,
        app::crm::records::api::GetTimeline::PATH,
        &serde_json::json!({ "entity": "Deal", "id": deal, "before": null }),
    )
    .await?;
    let list_body = |sort: &str| serde_json::json!({ "entity": "Contact", "filter": {}, "sort": sort, "after": null });
    let list_path = app::crm::records::api::ListRecords::PATH;
    let big_newest = time_call(router, &big, list_path, &list_body("Newest")).await?;
    let small_newest = time_call(router, &small, list_path, &list_body("Newest")).await?;
    let big_name = time_call(router, &big, list_path, &list_body("Name")).await?;
    let small_name = time_call(router, &small, list_path, &list_body("Name")).await?;
    let search_body = serde_json::json!({ "entity": "Contact", "filter": { "q": "yasmine fouad 4242" }, "sort": "Newest", "after": null });
    let big_search = time_call(router, &big, list_path, &search_body).await?;

    println!("CRM server times ({SAMPLES} requests each, in-process through the router):");
    line("board, 100k deals (get_board)", &board);
    line("board SQL alone (same queries, one tx)", &direct);
    line("deal timeline, first page", &timeline);
    line("contacts table at 1,000,000, newest", &big_newest);
    line("contacts table at 1,000, newest", &small_newest);
    line("contacts table at 1,000,000, by name", &big_name);
    line("contacts table at 1,000, by name", &small_name);
    line("contacts search at 1,000,000 (typo, 3 words)", &big_search);
    println!(
        "  ratios: board/SQL p95 {:.2}x; contacts 1M/1k p95 newest {:.2}x, by name {:.2}x",
        ms(board.p95) / ms(direct.p95).max(1e-6),
        ms(big_newest.p95) / ms(small_newest.p95).max(1e-6),
        ms(big_name.p95) / ms(small_name.p95).max(1e-6),
    );
    println!(
        "  targets: board p95 < 100 ms: {}; board within 2x of its SQL: {}; timeline p95 < 30 ms: {}; contacts 1M within 1.5x of 1k: {}",
        ok(board.p95 < Duration::from_millis(100)),
        ok(board.p95.as_secs_f64() <= 2.0 * direct.p95.as_secs_f64()),
        ok(timeline.p95 < Duration::from_millis(30)),
        ok(big_newest.p95.as_secs_f64() <= 1.5 * small_newest.p95.as_secs_f64()
            && big_name.p95.as_secs_f64() <= 1.5 * small_name.p95.as_secs_f64()),
    );

    println!("plans as the runtime role sees them (RLS on):");
    for (label, sql) in [
        ("board column page", "SELECT id FROM deals r WHERE r.tenant_id = $1 AND r.stage_id = (SELECT id FROM stages WHERE tenant_id = $1 ORDER BY position LIMIT 1) ORDER BY r.position, r.id LIMIT 26"),
        ("contacts newest", "SELECT id FROM contacts r WHERE r.tenant_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT 51"),
        ("contacts by name", "SELECT id FROM contacts r WHERE r.tenant_id = $1 ORDER BY r.full_name, r.id LIMIT 51"),
        ("deal timeline", "SELECT id FROM activities a WHERE a.tenant_id = $1 AND a.deal_id = 'DEAL'::uuid ORDER BY a.occurred_at DESC, a.id DESC LIMIT 31"),
    ] {
        let sql = sql.replace("DEAL", &deal.to_string());
        let lines = plan(&pools.app, big_tenant, &sql).await?;
        let seq = lines.iter().any(|l| l.contains("Seq Scan on deals") || l.contains("Seq Scan on contacts") || l.contains("Seq Scan on activities"));
        let index = lines
            .iter()
            .filter_map(|l| l.split(" using ").nth(1))
            .map(|l| l.split_whitespace().next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(", ");
        println!("  {label:<20} indexes: {index}{}", if seq { "   (SEQ SCAN)" } else { "" });
    }
    Ok(())
}

fn ok(pass: bool) -> &'static str {
    if pass {
        "met"
    } else {
        "MISSED"
    }
}
