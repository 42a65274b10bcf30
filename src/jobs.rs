//! The job runner: claims queued imports and exports across tenants (`claim_job()`,
//! `FOR UPDATE SKIP LOCKED`, so any number of runners share one queue) and runs each
//! attempt in its tenant's scope; a failed attempt is retried with backoff or
//! dead-lettered (`app::jobs::ssr::fail`). It wakes on `NOTIFY` when a member starts a
//! job, and polls as well for retries coming due and missed notifications.

use app::crm::import::runner;
use app::crm::import::ssr::JOBS_CHANNEL;
use app::db::Db;
use app::jobs::ssr::{self as jobs, Failure};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

const POLL_EVERY: Duration = Duration::from_secs(5);
/// How often a running job's lease is renewed; `claim_job()` takes over a job whose
/// lease is ten minutes old, so a long export or import is never run twice.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// Claims and runs one job; the job's id, or `None` when the queue is empty.
pub async fn run_once(pool: &PgPool) -> Result<Option<Uuid>, String> {
    let claimed: Option<(Uuid, Uuid)> = sqlx::query_as("SELECT tenant_id, id FROM claim_job()")
        .fetch_optional(pool)
        .await
        .map_err(|e| format!("claiming a job: {e}"))?;
    let Some((tenant_id, id)) = claimed else {
        return Ok(None);
    };
    let db = Db::new(pool.clone());
    let started = std::time::Instant::now();
    // Its own task, so a panic fails the job instead of taking the runner down.
    let work = tokio::spawn({
        let db = db.clone();
        async move { runner::run_job(&db, tenant_id, id).await }
    });
    tokio::pin!(work);
    let mut renew = tokio::time::interval(RENEW_EVERY);
    renew.reset();
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = renew.tick() => {
                if let Err(e) = sqlx::query("SELECT renew_job_lease($1)").bind(id).execute(pool).await {
                    tracing::warn!(job = %id, error = %e, "job lease not renewed");
                }
            }
        }
    };
    let label = match &outcome {
        Ok(Ok(())) => "finished",
        Ok(Err(_)) => "unrecorded",
        Err(_) => "panicked",
    };
    metrics::histogram!("leadline_job_duration_seconds", "outcome" => label)
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(job = %id, error = %e, "could not record the job's end"),
        Err(panic) => {
            tracing::error!(job = %id, error = %panic, "job panicked");
            let failure = Failure::Transient("The job stopped unexpectedly.".into());
            if let Err(e) = jobs::fail(&db, tenant_id, id, failure).await {
                tracing::error!(job = %id, error = %e, "could not mark the job failed");
            }
        }
    }
    Ok(Some(id))
}

/// Runs jobs until none is queued; how many ran.
pub async fn run_until_idle(pool: &PgPool) -> Result<usize, String> {
    let mut ran = 0;
    while run_once(pool).await?.is_some() {
        ran += 1;
    }
    Ok(ran)
}

/// Runs jobs as they come, until the future is dropped.
pub async fn run(pool: PgPool) {
    let mut listener = listen(&pool).await;
    loop {
        if let Err(e) = run_until_idle(&pool).await {
            tracing::warn!(error = %e, "job runner");
        }
        match listener.as_mut() {
            Some(l) => match tokio::time::timeout(POLL_EVERY, l.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "job notifications lost; polling");
                    listener = None;
                }
            },
            None => {
                tokio::time::sleep(POLL_EVERY).await;
                listener = listen(&pool).await;
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "could not listen for jobs; polling");
            return None;
        }
    };
    match listener.listen(JOBS_CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "could not listen for jobs; polling");
            None
        }
    }
}
