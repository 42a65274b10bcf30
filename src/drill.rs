//! `leadline drill`: failure drills that print their figures.
//!
//! The pooled-connection drill cancels tenant transactions at every await point a
//! request can be dropped at (a client hanging up, a timeout), then checks what the
//! next borrower of the connection inherits: it must be no open transaction and no
//! tenant setting. sqlx 0.8.6's `begin()` is not cancel-safe on PostgreSQL (sqlx
//! issues 4385 and 4393), which is what `Db` works around; this proves it.

use app::db::Db;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What the next borrowers of a pooled connection found after cancelled work.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PoolDrill {
    pub checks: u64,
    /// Units of work dropped before they finished.
    pub cancelled: u64,
    /// Checkouts that started inside a transaction someone else began.
    pub open_transactions: u64,
    /// Checkouts that still carried a tenant id.
    pub leaked_tenants: u64,
    /// Checkouts whose connection refused work (an aborted transaction, 25P02).
    pub poisoned: u64,
}

impl PoolDrill {
    pub fn clean(&self) -> bool {
        self.open_transactions == 0 && self.leaked_tenants == 0 && self.poisoned == 0
    }
}

/// Runs `iterations` rounds on a pool of two connections shared by two tenants. Each
/// round starts a tenant transaction, drops it after a varying number of polls, and
/// checks the connection the next borrower gets.
pub async fn pooled_connections(
    app: PgConnectOptions,
    iterations: u64,
) -> Result<PoolDrill, String> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(app)
        .await
        .map_err(|e| e.to_string())?;
    let db = Db::new(pool.clone());
    let tenants = [Uuid::new_v4(), Uuid::new_v4()];
    let mut report = PoolDrill::default();
    for round in 0..iterations {
        let tenant = tenants[(round % 2) as usize];
        // 1..=4 polls reach BEGIN (with the tenant setting), the query and COMMIT.
        let polls = 1 + (round / 2 % 4) as usize;
        let work = async {
            let mut tx = db
                .tenant_tx(tenant, None)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query("SELECT count(*) FROM pg_class")
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())
        };
        if cancel_after_polls(work, polls).await.is_none() {
            report.cancelled += 1;
        }
        check(&pool, &mut report).await?;
    }
    pool.close().await;
    Ok(report)
}

/// Polls `work` until it finishes or has said "not yet" `polls` times, then drops it.
async fn cancel_after_polls<F: Future>(work: F, polls: usize) -> Option<F::Output> {
    let mut work = pin!(work);
    let mut pending = 0;
    std::future::poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => {
            pending += 1;
            if pending >= polls {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        }
    })
    .await
}

async fn check(pool: &PgPool, report: &mut PoolDrill) -> Result<(), String> {
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    report.checks += 1;
    // A SAVEPOINT is refused outside a transaction block (25P01), so success means
    // the connection came back inside someone else's transaction.
    match sqlx::query("SAVEPOINT drill_probe")
        .execute(&mut *conn)
        .await
    {
        Ok(_) => {
            report.open_transactions += 1;
            heal(&mut conn).await?;
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("25P01") => {}
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("25P02") => {
            report.poisoned += 1;
            heal(&mut conn).await?;
        }
        Err(e) => return Err(e.to_string()),
    }
    let tenant: Option<String> =
        sqlx::query_scalar("SELECT current_setting('app.tenant_id', true)")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
    if tenant.is_some_and(|t| !t.is_empty()) {
        report.leaked_tenants += 1;
    }
    Ok(())
}

/// Ends whatever the drill found, so one failure is counted once, not every round after.
async fn heal(conn: &mut sqlx::PgConnection) -> Result<(), String> {
    sqlx::query("ROLLBACK")
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `leadline drill`: runs the drills against the configured database and prints them.
pub async fn run(app: PgConnectOptions) -> Result<(), String> {
    const ROUNDS: u64 = 100_000;
    let started = Instant::now();
    let report = pooled_connections(app, ROUNDS).await?;
    print_pool(&report, started.elapsed());
    if report.clean() {
        Ok(())
    } else {
        Err("a pooled connection carried state into the next checkout".into())
    }
}

fn print_pool(report: &PoolDrill, took: Duration) {
    println!("pooled connections (pool of 2, two tenants, work cancelled mid-transaction)");
    println!(
        "  checkouts checked {:>8}   cancelled units {:>8}   took {:.1} s",
        report.checks,
        report.cancelled,
        took.as_secs_f64()
    );
    println!(
        "  inherited: open transactions {}, tenant settings {}, aborted transactions {}",
        report.open_transactions, report.leaked_tenants, report.poisoned
    );
}
