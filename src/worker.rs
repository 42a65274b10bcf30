//! Background work. Runs inside the server by default, or alone as `leadline worker`;
//! any number of workers may run against one database. The loops: the job runner
//! (imports and exports), the outreach scheduler and dispatcher, and the sweep of
//! expired sessions, old throttle windows and import drafts nobody went on with, and
//! retention (finished jobs, read notifications, the audit log's archive).

use crate::session_store::PgSessionStore;
use sqlx::PgPool;
use std::time::Duration;

const SWEEP_EVERY: Duration = Duration::from_secs(300);

pub async fn run_until(
    pool: PgPool,
    outreach: crate::outreach::Outreach,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let jobs = crate::jobs::run(pool.clone());
    let sending = crate::outreach::run(pool.clone(), outreach);
    let store = PgSessionStore::new(pool.clone());
    let sweep = async {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            match store.delete_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "expired sessions swept"),
                Err(e) => tracing::warn!(error = %e, "session sweep failed"),
            }
            if let Err(e) = store.delete_old_throttle_windows().await {
                tracing::warn!(error = %e, "throttle sweep failed");
            }
            match sqlx::query_scalar::<_, i64>("SELECT sweep_import_drafts()")
                .fetch_one(&pool)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "import drafts swept"),
                Err(e) => tracing::warn!(error = %e, "import draft sweep failed"),
            }
            match retention_sweep(&pool).await {
                Ok(swept) if swept == Retention::default() => {}
                Ok(swept) => tracing::info!(?swept, "retention sweep"),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
            }
        }
    };
    tokio::select! {
        _ = sweep => {},
        _ = jobs => {},
        _ = sending => {},
        _ = shutdown => {},
    }
}

/// What one retention pass removed (migration 0014).
#[derive(Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Retention {
    /// Finished jobs older than 90 days, their files with them.
    pub jobs: i64,
    /// Notifications read more than 90 days ago.
    pub notifications: i64,
    /// Audit entries older than two years, archived per tenant and month first.
    pub audit_archived: i64,
}

pub async fn retention_sweep(pool: &PgPool) -> Result<Retention, sqlx::Error> {
    sqlx::query_as("SELECT jobs, notifications, audit_archived FROM retention_sweep()")
        .fetch_one(pool)
        .await
}
