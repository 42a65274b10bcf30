//! `leadline bench review`: the built-in classifier's speed on one core and its
//! precision and recall per intent on the labelled set, the review queue's first
//! page with 10,000 pending items (server time, through the whole router), and a
//! signed WhatsApp webhook's reply until it is on an open queue page (the live
//! stream's `review` event, then the queue read that event triggers).

use crate::bench::{ms, signed_in, stats, BENCH_EMAIL};
use crate::config::Config;
use crate::Database;
use app::review::classify::{classify, Inbound};
use app::review::eval::{evaluate, labelled};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use leptos::server_fn::ServerFn;
use secrecy::ExposeSecret;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PENDING_ITEMS: i64 = 10_000;
const SAMPLES: usize = 200;

/// Classifies the labelled replies over and over for about two seconds on this
/// thread; messages per second.
pub fn classifier_throughput() -> f64 {
    let set = labelled();
    let today = chrono::Utc::now().date_naive();
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < Duration::from_secs(2) {
        for (_, text) in &set {
            let c = classify(
                &Inbound {
                    text,
                    ..Inbound::default()
                },
                today,
                &[],
            );
            std::hint::black_box(c);
            n += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

pub fn print_classifier() {
    let set = labelled();
    let (scores, macro_f1) = evaluate(&set, chrono::Utc::now().date_naive());
    println!(
        "classifier: {:.0} messages/s on one core (target ≥ 20,000); {} labelled replies, macro-F1 {:.3}",
        classifier_throughput(),
        set.len(),
        macro_f1
    );
    println!(
        "  {:<15} {:>9} {:>7} {:>5} {:>8}",
        "intent", "precision", "recall", "F1", "support"
    );
    for s in scores {
        println!(
            "  {:<15} {:>9.2} {:>7.2} {:>5.2} {:>8}",
            s.intent.code(),
            s.precision,
            s.recall,
            s.f1,
            s.support
        );
    }
}

pub async fn run(database: &Database, config: &Config) -> Result<(), String> {
    print_classifier();
    let (router, cookie) = signed_in(config, database).await?;
    let owner = &database.pools.owner;
    let tenant: uuid::Uuid = sqlx::query_scalar(
        "SELECT m.tenant_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1",
    )
    .bind(BENCH_EMAIL)
    .fetch_one(owner)
    .await
    .map_err(|e| e.to_string())?;
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM review_items WHERE tenant_id = $1 AND status = 'PENDING'",
    )
    .bind(tenant)
    .fetch_one(owner)
    .await
    .map_err(|e| e.to_string())?;
    if have < PENDING_ITEMS {
        let mut tx = owner.begin().await.map_err(|e| e.to_string())?;
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(
            "INSERT INTO leads (tenant_id, id, name, phone_e164)
             SELECT $1, gen_random_uuid(), 'Review lead ' || n, '+2010' || lpad(n::text, 8, '0')
               FROM generate_series(1, 1000) n",
        )
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query(
            "WITH l AS (SELECT id, row_number() OVER () AS k FROM leads WHERE tenant_id = $1 AND name LIKE 'Review lead %'),
                  m AS (INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, to_address,
                                              from_address, body, idempotency_key, intent, sentiment, urgency, confidence)
                        SELECT $1, gen_random_uuid(), l.id, 'WHATSAPP', 'IN', 'RECEIVED', 'bench', 'lead',
                               'Not interested, thanks (' || n || ')', 'bench-review-' || n || '-' || gen_random_uuid(),
                               'NOT_INTERESTED', -40, 'LOW', 0.9
                          FROM generate_series(1, $2) n JOIN l ON l.k = 1 + n % 1000
                        RETURNING id, lead_id)
             INSERT INTO review_items (tenant_id, id, lead_id, message_id, reason, priority, sla_due_at)
             SELECT $1, gen_random_uuid(), m.lead_id, m.id, 'CONFIRM_INTENT', 'LOW',
                    now() + random() * interval '2 days'
               FROM m",
        )
        .bind(tenant)
        .bind(PENDING_ITEMS - have)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        sqlx::raw_sql("ANALYZE review_items; ANALYZE messages; ANALYZE leads")
            .execute(owner)
            .await
            .map_err(|e| e.to_string())?;
    }
    let body = serde_json::json!({
        "filter": { "status": null, "reason": null, "priority": null, "channel": null, "mine": false, "breached": false },
        "before": null
    })
    .to_string();
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + 20 {
        let started = Instant::now();
        queue_page(&router, &cookie, &body).await?;
        if i >= 20 {
            samples.push(started.elapsed());
        }
    }
    let s = stats(samples);
    println!(
        "review queue, first page of {PENDING_ITEMS} pending items ({SAMPLES} requests): p50 {:.2} ms   p95 {:.2} ms (target < 100 ms)",
        ms(s.p50),
        ms(s.p95)
    );
    webhook_to_queue(&router, &cookie, database, config, tenant).await
}

/// Replies sent through the webhook, one after another.
const WEBHOOK_SAMPLES: usize = 50;
const BENCH_WABA: &str = "bench-review-waba";
const BENCH_NUMBER_ID: &str = "bench-review-number";

/// From the start of a signed webhook POST carrying a complaint until the queue page a
/// manager has open shows its item: the page hears `review` on its live stream and
/// reads the queue again, as the browser does.
async fn webhook_to_queue(
    router: &axum::Router,
    cookie: &str,
    database: &Database,
    config: &Config,
    tenant: uuid::Uuid,
) -> Result<(), String> {
    use futures_util::StreamExt;
    let owner = &database.pools.owner;
    let err = |e: sqlx::Error| e.to_string();
    let mut tx = owner.begin().await.map_err(err)?;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    sqlx::query(
        "INSERT INTO wa_phone_numbers (tenant_id, id, number, label, provider_phone_id, waba_id, access_token)
         SELECT $1, gen_random_uuid(), '+201550009999', 'Bench', $2, $3, '\\x00'
          WHERE NOT EXISTS (SELECT 1 FROM wa_phone_numbers WHERE tenant_id = $1 AND provider_phone_id = $2)",
    )
    .bind(tenant)
    .bind(BENCH_NUMBER_ID)
    .bind(BENCH_WABA)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    // Complaints of earlier runs would fill the first page ahead of this run's.
    sqlx::query(
        "UPDATE review_items SET status = 'RESOLVED', resolution = 'IGNORED', resolved_at = now()
          WHERE tenant_id = $1 AND reason = 'COMPLAINT' AND status <> 'RESOLVED'",
    )
    .bind(tenant)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let earlier: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM leads WHERE tenant_id = $1 AND name LIKE 'Webhook lead %'",
    )
    .bind(tenant)
    .fetch_one(&mut *tx)
    .await
    .map_err(err)?;
    let run = earlier / WEBHOOK_SAMPLES as i64;
    let phones: Vec<String> = (0..WEBHOOK_SAMPLES as i64)
        .map(|i| format!("+2013{:07}", earlier + i))
        .collect();
    for (i, phone) in phones.iter().enumerate() {
        sqlx::query("INSERT INTO leads (tenant_id, id, name, phone_e164) VALUES ($1, gen_random_uuid(), $2, $3)")
            .bind(tenant)
            .bind(format!("Webhook lead {run} {i}"))
            .bind(phone)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;

    // The manager's open page: its live stream, watched for `review` events.
    let events = Request::get("/events")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .map_err(|e| e.to_string())?;
    let res = router
        .clone()
        .oneshot(events)
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != StatusCode::OK {
        return Err(format!("/events answered {}", res.status()));
    }
    let (heard, mut review_events) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut stream = res.into_body().into_data_stream();
    let listener = tokio::spawn(async move {
        while let Some(Ok(chunk)) = stream.next().await {
            if String::from_utf8_lossy(&chunk).contains("event: review")
                && heard.send(Instant::now()).is_err()
            {
                return;
            }
        }
    });
    // The stream subscribes on its first poll; give the listener a moment to LISTEN.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let queue_body = serde_json::json!({
        "filter": { "status": null, "reason": "Complaint", "priority": null, "channel": "WHATSAPP", "mine": false, "breached": false },
        "before": null
    })
    .to_string();
    let mut samples = Vec::with_capacity(WEBHOOK_SAMPLES);
    let mut post_only = Vec::with_capacity(WEBHOOK_SAMPLES);
    for (i, phone) in phones.iter().enumerate() {
        while review_events.try_recv().is_ok() {}
        let payload = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": BENCH_WABA, "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "201550009999", "phone_number_id": BENCH_NUMBER_ID },
                "messages": [{ "from": phone.trim_start_matches('+'), "id": format!("wamid.bench.{run}.{i}"),
                               "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text",
                               "text": { "body": "This is spam. How did you get my number? I'm reporting you." } }]
            }}]}]
        })
        .to_string();
        let signature = format!(
            "sha256={}",
            app::crypto::hex(&app::crypto::hmac_sha256(
                config.wa_app_secret.expose_secret().as_bytes(),
                payload.as_bytes()
            ))
        );
        let post = Request::post("/webhooks/whatsapp")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-hub-signature-256", signature)
            .body(Body::from(payload))
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let res = router
            .clone()
            .oneshot(post)
            .await
            .map_err(|e| e.to_string())?;
        if res.status() != StatusCode::OK {
            return Err(format!("the webhook answered {}", res.status()));
        }
        post_only.push(started.elapsed());
        tokio::time::timeout(Duration::from_secs(5), review_events.recv())
            .await
            .map_err(|_| "no review event within 5 s of the webhook".to_string())?
            .ok_or("the live stream ended")?;
        let page = queue_page(router, cookie, &queue_body).await?;
        let name = format!("Webhook lead {run} {i}");
        let listed = page["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|item| item["lead_name"] == name.as_str()));
        if !listed {
            return Err(format!(
                "reply {i} is not on the queue page after its event"
            ));
        }
        samples.push(started.elapsed());
    }
    listener.abort();
    let (all, post) = (stats(samples), stats(post_only));
    println!(
        "signed webhook → on the open queue page ({WEBHOOK_SAMPLES} replies): p50 {:.1} ms   p95 {:.1} ms (target < 1,000 ms); the webhook's own answer p95 {:.1} ms",
        ms(all.p50),
        ms(all.p95),
        ms(post.p95)
    );
    Ok(())
}

/// The review queue's page for `filter_body`, as the open page reads it.
async fn queue_page(
    router: &axum::Router,
    cookie: &str,
    filter_body: &str,
) -> Result<serde_json::Value, String> {
    let req = Request::post(app::review::api::ReviewQueue::PATH)
        .header(header::CONTENT_TYPE, "application/json");
    crate::bench::call(router, cookie, req, Body::from(filter_body.to_string()))
        .await
        .map_err(|e| format!("the review queue answered {e}"))
}
