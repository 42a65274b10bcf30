//! Background work. Runs inside the server by default, or alone as `leadline worker`;
//! any number of workers may run against one database. The loops: the job runner
//! (imports and exports, retried with backoff), the outreach scheduler and dispatcher,
//! outgoing webhook deliveries, Facebook leads fetched from the Graph API, invoices
//! charged through the payment provider (with dunning retries), replies sent to
//! tenants' own LLMs,
//! and the recurring platform work on cron schedules (`schedules.rs`: the sweeps of
//! expired sessions, old throttle windows and import drafts, retention, and the daily
//! notification digests).

use sqlx::PgPool;

pub async fn run_until(
    pool: PgPool,
    outreach: crate::outreach::Outreach,
    shutdown: impl std::future::Future<Output = ()>,
) {
    crate::metrics::handle();
    let jobs = crate::jobs::run(pool.clone());
    let webhooks = webhooks(pool.clone(), outreach.config.clone());
    let leads = facebook_leads(pool.clone(), outreach.config.clone());
    let charges = charges(pool.clone(), outreach.config.clone());
    let replies = llm_replies(pool.clone(), outreach.config.clone());
    let schedules = crate::schedules::run(pool.clone(), outreach.config.clone());
    let sending = crate::outreach::run(pool.clone(), outreach);
    let gauges = outbox_gauges(pool.clone());
    tokio::select! {
        _ = gauges => {},
        _ = schedules => {},
        _ = webhooks => {},
        _ = leads => {},
        _ = charges => {},
        _ = replies => {},
        _ = jobs => {},
        _ = sending => {},
        _ = shutdown => {},
    }
}

/// How often the outbox's depth and lag are read for `/metrics`.
const OUTBOX_SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The outbox's depth and the age of its oldest due message, as gauges: a growing lag
/// says the dispatchers are behind (or stopped) before any tenant notices.
async fn outbox_gauges(pool: PgPool) {
    loop {
        match sqlx::query_as::<_, (i64, f64)>("SELECT depth, lag_seconds FROM outbox_stats()")
            .fetch_one(&pool)
            .await
        {
            Ok((depth, lag)) => {
                metrics::gauge!("leadline_outbox_depth").set(depth as f64);
                metrics::gauge!("leadline_outbox_lag_seconds").set(lag);
            }
            Err(e) => tracing::warn!(error = %e, "outbox stats"),
        }
        tokio::time::sleep(OUTBOX_SAMPLE_EVERY).await;
    }
}

/// Deliveries attempted at once; a full batch means more are due, so the next follows
/// without a pause.
const WEBHOOK_BATCH: i32 = 32;

/// Outgoing webhooks: what is due, every second.
async fn webhooks(pool: PgPool, config: std::sync::Arc<app::request::AppConfig>) {
    let db = app::db::Db::new(pool);
    loop {
        match app::developers::deliver::deliver_due(&db, &config, WEBHOOK_BATCH).await {
            Ok(n) if n == WEBHOOK_BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook deliveries"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Facebook leads fetched at once per pass.
const LEAD_BATCH: i32 = 16;

/// Facebook Lead Ads: the leads Meta notified, fetched from the Graph API (the
/// configured `wa_api_url`) and filed, every two seconds; retries wait their backoff.
async fn facebook_leads(pool: PgPool, config: std::sync::Arc<app::request::AppConfig>) {
    use app::developers::facebook_fetch::{fetch_due, GraphLeads};
    let db = app::db::Db::new(pool);
    let graph = GraphLeads::new(&config.wa_api_url);
    loop {
        match fetch_due(&db, &config, &graph, LEAD_BATCH).await {
            Ok(n) if n == LEAD_BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "facebook leads"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// Invoice charges taken at once per pass.
const CHARGE_BATCH: i32 = 16;

/// Invoices charged through the payment provider (the configured Stripe API): the
/// charge of a new invoice, dunning retries whose day has come and "Pay now", every
/// two seconds.
async fn charges(pool: PgPool, config: std::sync::Arc<app::request::AppConfig>) {
    use app::billing::{payments, provider::Stripe};
    let db = app::db::Db::new(pool);
    let stripe = Stripe::new(&config.stripe_api_url, &config.stripe_secret_key);
    loop {
        let now = chrono::Utc::now();
        match payments::charge_due(&db, &config, &stripe, now, CHARGE_BATCH).await {
            Ok(n) if n == CHARGE_BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "invoice charges"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// Replies asked of tenants' LLMs at once per pass.
const LLM_BATCH: i32 = 8;

/// Replies the built-in classifier was unsure of, sent to the tenant's own LLM
/// (`review::ssr::refine`), every second; retries wait their backoff.
async fn llm_replies(pool: PgPool, config: std::sync::Arc<app::request::AppConfig>) {
    use app::review::ssr::refine::{refine_due, OpenAiChat};
    let db = app::db::Db::new(pool);
    let api = OpenAiChat {
        egress: config.egress,
    };
    loop {
        match refine_due(&db, &config, &api, LLM_BATCH).await {
            Ok(n) if n == LLM_BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "llm refinements"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// What one retention pass removed (migration 0014).
#[derive(Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Retention {
    /// Finished jobs older than 90 days, their files with them.
    pub jobs: i64,
    /// Job log lines older than 30 days.
    pub job_logs: i64,
    /// Notifications read more than 90 days ago.
    pub notifications: i64,
    /// Audit entries older than two years, archived per tenant and month first.
    pub audit_archived: i64,
    /// Record merges more than 30 days old, past undoing.
    pub merges: i64,
}

pub async fn retention_sweep(pool: &PgPool) -> Result<Retention, sqlx::Error> {
    sqlx::query_as(
        "SELECT jobs, job_logs, notifications, audit_archived, merges FROM retention_sweep()",
    )
    .fetch_one(pool)
    .await
}
