//! The outreach benchmark: 100,000 due enrolments across 20 WhatsApp numbers and 10
//! mailboxes, scheduled into the outbox and sent to the local provider peer (Cloud API
//! over HTTP, SMTP with DKIM), next to a bare `SKIP LOCKED` claim-and-send loop on the
//! same database and peer. Quota overruns are counted, not assumed.

use crate::bench::crm::workspace;
use crate::Database;
use app::db::Db;
use app::outreach::ssr::dispatch::{dispatch_metered, Metering};
use app::outreach::ssr::provider::{Providers, WaContent, WaMessage};
use app::outreach::ssr::scheduler::schedule_once;
use app::request::AppConfig;
use sqlx::PgPool;
use std::time::Instant;
use uuid::Uuid;

const PHONE_LEADS: i64 = 90_000;
const EMAIL_LEADS: i64 = 10_000;
const PHONES: i64 = 20;
/// 20 × 4,400 = 88,000 first contacts for 90,000 leads with a number: the last 2,000
/// must wait for tomorrow, never go over.
const PHONE_QUOTA: i64 = 4_400;
const MAILBOXES: i64 = 10;
const SCHEDULERS: usize = 2;
const DISPATCHERS: usize = 4;
/// Sends of the whole outbox without and with metering, alternating.
const METERING_PAIRS: usize = 3;

/// A transaction of the bench tenant, opened by the owner role (seeding is not a
/// request), with RLS satisfied.
async fn tenant_tx(
    owner: &PgPool,
    tenant: Uuid,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, String> {
    let mut tx = owner.begin().await.map_err(|e| e.to_string())?;
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    Ok(tx)
}

/// Runs statements that take the tenant as their only parameter.
pub(crate) async fn in_tenant<S: AsRef<str>>(
    owner: &PgPool,
    tenant: Uuid,
    statements: &[S],
) -> Result<(), String> {
    let mut tx = tenant_tx(owner, tenant).await?;
    for sql in statements {
        let sql = sql.as_ref();
        sqlx::query(sql)
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}

/// A provider peer on free local ports that reports nothing back: the benchmark and
/// the sending drill only count what it receives.
pub(crate) async fn quiet_peer(app_config: &AppConfig) -> Result<peer::Peer, String> {
    peer::Peer::start(peer::PeerConfig {
        whatsapp_webhook_url: "http://127.0.0.1:9/webhooks/whatsapp".into(),
        whatsapp_app_secret: app_config.wa_app_secret.clone(),
        email_webhook_url: "http://127.0.0.1:9/webhooks/email".into(),
        email_webhook_secret: app_config.email_webhook_secret.clone(),
        http_addr: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        smtp_addr: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        whatsapp_numbers: Vec::new(),
    })
    .await
    .map_err(|e| e.to_string())
}

pub async fn run(database: &Database, config: &crate::config::Config) -> Result<(), String> {
    let pools = &database.pools;
    let db = Db::new(pools.app.clone());
    let (user, tenant, fresh) = workspace(
        &db,
        &pools.owner,
        "bench-outreach@leadline.test",
        "Outreach Bench",
    )
    .await?;
    let app_config = crate::app_config(config);
    if fresh {
        let started = Instant::now();
        in_tenant(
            &pools.owner,
            tenant,
            &[
                format!(
                    "INSERT INTO leads (tenant_id, id, name, phone_e164, created_at)
                     SELECT $1, gen_random_uuid(), 'Lead ' || i, '+2012' || lpad(i::text, 8, '0'), now()
                       FROM generate_series(1, {PHONE_LEADS}) i"
                ),
                format!(
                    "INSERT INTO leads (tenant_id, id, name, email, created_at)
                     SELECT $1, gen_random_uuid(), 'Mail lead ' || i, 'lead' || i || '@bench-outreach.test', now()
                       FROM generate_series(1, {EMAIL_LEADS}) i"
                ),
            ],
        )
        .await?;
        println!(
            "outreach bench: seeded 100,000 leads in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let peer = quiet_peer(&app_config).await?;
    let key = reset(&pools.owner, tenant, user, &app_config, peer.smtp_addr()).await?;

    // Scheduling: due enrolment steps → queued messages.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..SCHEDULERS {
        let pool = pools.app.clone();
        tasks.push(tokio::spawn(async move {
            let mut queued = 0;
            loop {
                let r = schedule_once(&pool, crate::outreach::SCHEDULE_BATCH)
                    .await
                    .map_err(|e| e.to_string())?;
                queued += r.queued;
                if r.claimed == 0 {
                    return Ok::<usize, String>(queued);
                }
            }
        }));
    }
    let mut queued = 0;
    for t in tasks {
        queued += t.await.map_err(|e| e.to_string())??;
    }
    let scheduling = started.elapsed().as_secs_f64();
    let overruns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT m.phone_id, count(*) AS used FROM messages m
                                WHERE m.tenant_id = $1 AND m.quota_cost = 1 GROUP BY m.phone_id) x
           JOIN wa_phone_numbers p ON p.id = x.phone_id WHERE x.used > p.daily_quota",
    )
    .bind(tenant)
    .fetch_one(&pools.owner)
    .await
    .map_err(|e| e.to_string())?;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enrollments WHERE tenant_id = $1 AND status = 'ACTIVE' AND next_run_at > now()",
    )
    .bind(tenant)
    .fetch_one(&pools.owner)
    .await
    .map_err(|e| e.to_string())?;

    // Sending: the outbox → the peer.
    let providers = Providers::real(
        &format!("{}/v21.0", peer.http_base()),
        &format!("{}/360dialog", peer.http_base()),
    );
    let (sent, sending) = send_all(&pools.app, &providers, &app_config, Metering::On).await?;
    let counted: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(used), 0)::bigint FROM usage_counters WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&pools.owner)
    .await
    .map_err(|e| e.to_string())?;
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE tenant_id = $1 AND status <> 'SENT'",
    )
    .bind(tenant)
    .fetch_one(&pools.owner)
    .await
    .map_err(|e| e.to_string())?;

    // What metering costs: the same messages sent again, alternately without and with
    // it, so drift over the runs (a growing table, a warmer cache) falls on both.
    let mut rates = [Vec::new(), Vec::new()];
    let order = [Metering::Off, Metering::On].repeat(METERING_PAIRS);
    for (round, metering) in order.into_iter().enumerate() {
        requeue(&pools.owner, tenant, round).await?;
        let (n, secs) = send_all(&pools.app, &providers, &app_config, metering).await?;
        rates[usize::from(metering == Metering::On)].push(n as f64 / secs);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let runs = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (runs_off, runs_on) = (runs(&rates[0]), runs(&rates[1]));
    let (unmetered, metered) = (median(&mut rates[0]), median(&mut rates[1]));

    let bare = bare_claim_loop(&pools.owner, &providers, tenant, &key, peer.smtp_addr()).await?;
    println!("outreach, 100,000 due enrolments, {PHONES} numbers, {MAILBOXES} mailboxes:");
    println!(
        "  scheduled {queued} in {scheduling:.2} s = {:.0}/s ({SCHEDULERS} schedulers; {waiting} wait for tomorrow's quota)",
        queued as f64 / scheduling
    );
    println!("  quota overruns: {overruns}");
    println!(
        "  sent {sent} to the peer in {sending:.2} s = {:.0}/s ({DISPATCHERS} dispatchers; {failed} not sent)",
        sent as f64 / sending
    );
    println!("  messages counted against the plan's monthly limits: {counted} (sent: {sent})");
    println!(
        "  metering, median of {METERING_PAIRS} alternating runs each: {metered:.0}/s with ({runs_on}), {unmetered:.0}/s without ({runs_off}): {:.3}x (aim >= 0.9x)",
        metered / unmetered.max(1e-9)
    );
    println!(
        "  bare SKIP LOCKED claim loop sending the same messages: {} in {:.2} s = {:.0}/s; outbox is {:.2}x slower",
        bare.0,
        bare.1,
        bare.0 as f64 / bare.1,
        (bare.0 as f64 / bare.1) / (sent as f64 / sending).max(1e-9)
    );
    Ok(())
}

/// Sends the whole outbox with the production dispatcher; how many went and how long
/// it took.
async fn send_all(
    pool: &PgPool,
    providers: &Providers,
    config: &AppConfig,
    metering: Metering,
) -> Result<(usize, f64), String> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..DISPATCHERS {
        let (pool, providers, cfg) = (pool.clone(), providers.clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let batch = crate::outreach::DISPATCH_BATCH;
                let r = dispatch_metered(&pool, &providers, &cfg, batch, metering)
                    .await
                    .map_err(|e| e.to_string())?;
                sent += r.sent;
                if r.claimed == 0 {
                    return Ok::<usize, String>(sent);
                }
            }
        }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await.map_err(|e| e.to_string())??;
    }
    Ok((sent, started.elapsed().as_secs_f64()))
}

/// Puts every sent message back in the outbox under a new idempotency key (so the
/// peer takes it as a new send), with the month's counters cleared.
async fn requeue(owner: &PgPool, tenant: Uuid, round: usize) -> Result<(), String> {
    in_tenant(
        owner,
        tenant,
        &[
            format!(
                "UPDATE messages SET status = 'QUEUED', provider_message_id = NULL, sent_at = NULL,
                        idempotency_key = split_part(idempotency_key, '~', 1) || '~{round}'
                  WHERE tenant_id = $1 AND direction = 'OUT'"
            ),
            "INSERT INTO outbox (tenant_id, message_id, due_at)
             SELECT tenant_id, id, now() FROM messages WHERE tenant_id = $1 AND direction = 'OUT'"
                .to_string(),
            "DELETE FROM usage_counters WHERE tenant_id = $1".to_string(),
        ],
    )
    .await
}

/// Clears the last run and sets up the senders, templates, sequence and 100,000
/// enrolments due now; returns the domain's DKIM key.
pub(crate) async fn reset(
    owner: &PgPool,
    tenant: Uuid,
    user: Uuid,
    config: &AppConfig,
    smtp: std::net::SocketAddr,
) -> Result<mail::DkimKey, String> {
    let key = tokio::task::spawn_blocking(mail::DkimKey::generate)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    use app::outreach::ssr::secrets;
    let domain_id = Uuid::now_v7();
    let dkim = secrets::seal(
        &config.secret_key,
        &secrets::dkim_key(domain_id),
        &key.to_pkcs8_pem(),
    );
    let started = Instant::now();
    in_tenant(
        owner,
        tenant,
        &[
            "DELETE FROM activities WHERE tenant_id = $1",
            "DELETE FROM messages WHERE tenant_id = $1",
            "DELETE FROM enrollments WHERE tenant_id = $1",
            "DELETE FROM lead_journeys WHERE tenant_id = $1",
            "DELETE FROM sequences WHERE tenant_id = $1",
            "DELETE FROM templates WHERE tenant_id = $1",
            "DELETE FROM wa_phone_numbers WHERE tenant_id = $1",
            "DELETE FROM email_domains WHERE tenant_id = $1",
            "DELETE FROM outreach_daily_stats WHERE tenant_id = $1",
            "DELETE FROM usage_counters WHERE tenant_id = $1",
            // Every send is metered; on a plan with no cap none is held back.
            "UPDATE subscriptions SET plan_id = 'enterprise' WHERE tenant_id = $1",
            "UPDATE tenant_policies SET wa_daily_unique_limit = 1000000 WHERE tenant_id = $1",
        ],
    )
    .await?;
    let mut tx = tenant_tx(owner, tenant).await?;
    let err = |e: sqlx::Error| format!("outreach bench set-up: {e}");
    // Each number's token is sealed for its own row.
    for i in 1..=PHONES as i32 {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO wa_phone_numbers (tenant_id, id, number, label, provider_phone_id, access_token, priority, daily_quota)
             VALUES ($1, $2, '+2015' || lpad($3::text, 8, '0'), 'Bench ' || $3, 'bench-' || $1::text || '-' || $3,
                     $4, 1 + $3 % 3, $5)",
        )
        .bind(tenant)
        .bind(id)
        .bind(i)
        .bind(secrets::seal(&config.secret_key, &secrets::phone_token(id), "bench-token"))
        .bind(PHONE_QUOTA as i32)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    }
    sqlx::query(
        "INSERT INTO email_domains (tenant_id, id, domain, dkim_private, dkim_public, spf_ok, dkim_ok, dmarc_ok)
         VALUES ($1, $4, 'bench-outreach.test', $2, $3, true, true, true)",
    )
    .bind(tenant)
    .bind(&dkim)
    .bind(key.public_key_b64())
    .bind(domain_id)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    sqlx::query(
        "INSERT INTO email_accounts (tenant_id, id, domain_id, from_address, from_name, smtp_host, smtp_port, smtp_security,
                                     daily_cap, warmup_start, warmup_step, min_gap_seconds)
         SELECT $1, gen_random_uuid(), d.id, 'sender' || i || '@bench-outreach.test', 'Bench ' || i,
                '127.0.0.1', $2, 'NONE', 5000, 5000, 0, 0
           FROM email_domains d, generate_series(1, $3::int) i WHERE d.tenant_id = $1",
    )
    .bind(tenant)
    .bind(i32::from(smtp.port()))
    .bind(MAILBOXES as i32)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    for sql in [
        "INSERT INTO templates (tenant_id, id, name, channel, wa_template_name, approval_status, created_by)
         VALUES ($1, gen_random_uuid(), 'Bench intro', 'WHATSAPP', 'bench_intro', 'APPROVED', $2),
                ($1, gen_random_uuid(), 'Bench mail', 'EMAIL', NULL, 'APPROVED', $2)",
        "INSERT INTO template_versions (tenant_id, id, template_id, version_no, label, subject, body, weight, created_by)
         SELECT $1, gen_random_uuid(), t.id, v.no, v.label,
                CASE WHEN t.channel = 'EMAIL' THEN 'Units for {{first_name}}' END, v.body, 50, $2
           FROM templates t, (VALUES (1, 'A', '{Hi|Hello} {{first_name}}, new units at {{company|our project}}. See https://bench.test/u'),
                                     (2, 'B', 'Good day {{first_name}}! Prices start at 2M. https://bench.test/p')) AS v (no, label, body)
          WHERE t.tenant_id = $1",
        "WITH s AS (INSERT INTO sequences (tenant_id, id, name, created_by) VALUES ($1, gen_random_uuid(), 'Bench', $2) RETURNING id)
         INSERT INTO sequence_steps (tenant_id, id, sequence_id, position, delay_minutes, channel, template_id, fallback_template_id)
         SELECT $1, gen_random_uuid(), s.id, 1, 0, 'WHATSAPP',
                (SELECT id FROM templates WHERE tenant_id = $1 AND name = 'Bench intro'),
                (SELECT id FROM templates WHERE tenant_id = $1 AND name = 'Bench mail')
           FROM s",
        "INSERT INTO enrollments (tenant_id, id, sequence_id, lead_id, next_step, next_run_at, enrolled_by)
         SELECT $1, gen_random_uuid(), s.id, l.id, 1, now() - interval '1 minute', $2
           FROM sequences s, leads l WHERE s.tenant_id = $1 AND l.tenant_id = $1",
    ] {
        sqlx::query(sql)
            .bind(tenant)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    // Statistics for the tables just filled, as autovacuum would have them by the time
    // 100,000 enrolments fall due. Not for those the run fills (messages, journeys,
    // outbox): planned as empty, their lookups would become scans as they grow.
    for table in ["leads", "enrollments"] {
        sqlx::query(&format!("ANALYZE {table}"))
            .execute(owner)
            .await
            .map_err(|e| format!("ANALYZE {table}: {e}"))?;
    }
    println!(
        "outreach: senders, templates and due enrolments set up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(key)
}

/// The floor to compare with: the same messages the outbox just sent (same
/// channels, recipients and bodies, to the same peer over the same protocols: Cloud
/// API for WhatsApp, DKIM-signed SMTP for email), copied into a plain logged table
/// and taken 200 at a time with SKIP LOCKED by deleting them, with the same
/// concurrency. No tenancy, quotas, rendering, journeys, stats, leases or outcome
/// records: the cheapest queue there is, not a safe one.
async fn bare_claim_loop(
    owner: &PgPool,
    providers: &Providers,
    tenant: Uuid,
    key: &mail::DkimKey,
    smtp: std::net::SocketAddr,
) -> Result<(usize, f64), String> {
    let err = |e: sqlx::Error| e.to_string();
    sqlx::query("DROP TABLE IF EXISTS bench_bare_queue")
        .execute(owner)
        .await
        .map_err(err)?;
    // Logged, like every table of ours: a queue that a crash may empty is no outbox.
    sqlx::query(
        "CREATE TABLE bench_bare_queue (id bigint PRIMARY KEY, channel text NOT NULL, to_address text NOT NULL,
                                        from_address text, subject text, body text NOT NULL)",
    )
    .execute(owner)
    .await
    .map_err(err)?;
    sqlx::query(
        "INSERT INTO bench_bare_queue (id, channel, to_address, from_address, subject, body)
         SELECT row_number() OVER (ORDER BY m.created_at, m.id), m.channel, m.to_address,
                a.from_address::text, m.subject, m.body
           FROM messages m LEFT JOIN email_accounts a ON a.id = m.email_account_id
          WHERE m.tenant_id = $1 AND m.direction = 'OUT'",
    )
    .bind(tenant)
    .execute(owner)
    .await
    .map_err(err)?;
    let settings = mail::SmtpSettings {
        host: smtp.ip().to_string(),
        port: smtp.port(),
        security: mail::SmtpSecurity::None,
        username: None,
        password: None,
        timeout: std::time::Duration::from_secs(30),
        egress: mail::Egress::AnyAddress,
    };
    let run = Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..DISPATCHERS {
        let (pool, providers, run) = (owner.clone(), providers.clone(), run.clone());
        let (key, settings) = (key.clone(), settings.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            loop {
                type Row = (i64, String, String, Option<String>, Option<String>, String);
                let claimed: Vec<Row> = sqlx::query_as(
                    "DELETE FROM bench_bare_queue q
                      WHERE q.id IN (SELECT id FROM bench_bare_queue ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 200)
                      RETURNING q.id, q.channel, q.to_address, q.from_address, q.subject, q.body",
                )
                .fetch_all(&pool)
                .await
                .map_err(|e| e.to_string())?;
                if claimed.is_empty() {
                    return Ok::<usize, String>(sent);
                }
                for wave in claimed.chunks(32) {
                    let mut sends = Vec::new();
                    for (id, channel, to, from, subject, body) in wave {
                        let providers = providers.clone();
                        let idempotency_key = format!("bare-{run}-{id}");
                        if channel == "EMAIL" {
                            let from = from.clone().unwrap_or_default();
                            let email = mail::OutgoingEmail {
                                from_name: "Bench".into(),
                                from_address: from.clone(),
                                to: to.clone(),
                                subject: subject.clone().unwrap_or_default(),
                                text: body.clone(),
                                html: None,
                                message_id: format!("{idempotency_key}@bench-outreach.test"),
                                references: Vec::new(),
                                in_reply_to: None,
                                list_unsubscribe_url: None,
                                extra_headers: Vec::new(),
                                attachments: Vec::new(),
                            };
                            let raw = mail::build_message(
                                &email,
                                Some(("bench-outreach.test", "leadline", &key)),
                            )
                            .map_err(|e| e.to_string())?;
                            let (settings, to) = (settings.clone(), to.clone());
                            sends.push(Box::pin(async move {
                                providers.email.send(&settings, &from, &to, &raw).await
                            })
                                as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>);
                        } else {
                            let message = WaMessage {
                                provider_phone_id: "bare".into(),
                                access_token: "t".into(),
                                to: to.clone(),
                                content: WaContent::Text(body.clone()),
                                idempotency_key,
                            };
                            sends.push(Box::pin(async move {
                                providers.whatsapp.send(&message).await
                            }));
                        }
                    }
                    sent += futures_util::future::join_all(sends)
                        .await
                        .iter()
                        .filter(|r| r.is_ok())
                        .count();
                }
            }
        }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_bare_queue")
        .execute(owner)
        .await
        .map_err(err)?;
    Ok((sent, elapsed))
}
