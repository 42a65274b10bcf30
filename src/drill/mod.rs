//! `leadline drill`: failure drills that print their figures.
//!
//! The connection-fault drill loads a signed-in page through the whole router while
//! every connection of the runtime role is terminated, then while PostgreSQL itself is
//! restarted (the private cluster only), and reports the errors seen meanwhile and how
//! long the app took to serve again, without being restarted.
//!
//! The instances drill (`instances`) runs two `serve` processes and a `worker` on one
//! database and checks sessions, live updates and jobs across them.
//!
//! The sending drill (`sending`) kills the worker process twice while it sends, then
//! restarts PostgreSQL, and counts what the provider received.
//!
//! The pooled-connection drill cancels tenant transactions at every await point a
//! request can be dropped at (a client hanging up, a timeout), then checks what the
//! next borrower of the connection inherits: it must be no open transaction and no
//! tenant setting. sqlx 0.8.6's `begin()` is not cancel-safe on PostgreSQL (sqlx
//! issues 4385 and 4393), which is what `Db` works around; this proves it.

pub mod instances;
mod sending;

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
pub async fn run(config: &crate::config::Config, database: &crate::Database) -> Result<(), String> {
    const ROUNDS: u64 = 100_000;
    let (router, cookie) = crate::bench::signed_in(config, database).await?;
    let mut failures: Vec<String> = Vec::new();

    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&database.pools.app)
        .await
        .map_err(|e| e.to_string())?;
    let owner = &database.pools.owner;
    let terminated = connection_faults(&router, &cookie, Fault::Terminate(owner, &role)).await?;
    print_faults(
        "every app connection terminated (pg_terminate_backend)",
        &terminated,
    );
    if !terminated.recovered_within(RECOVERY_BUDGET) {
        failures.push("the app did not recover from terminated connections in 5 s".to_string());
    }
    match &database.embedded {
        Some(pg) => {
            let restarted = connection_faults(&router, &cookie, Fault::Restart(pg)).await?;
            print_faults("PostgreSQL restarted (pg_ctl restart -m fast)", &restarted);
            if !restarted.recovered_within(RECOVERY_BUDGET) {
                failures
                    .push("the app did not recover from a PostgreSQL restart in 5 s".to_string());
            }
        }
        None => println!("PostgreSQL restart: skipped (DATABASE_URL is not our private cluster)"),
    }

    let app = (*database.pools.app.connect_options()).clone();
    let started = Instant::now();
    let report = pooled_connections(app, ROUNDS).await?;
    print_pool(&report, started.elapsed());
    if !report.clean() {
        failures.push("a pooled connection carried state into the next checkout".to_string());
    }

    if let Err(e) = run_instances(config, database).await {
        failures.push(e);
    }
    if let Err(e) = run_sending(config, database).await {
        failures.push(e);
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(failures.join("; ")),
    }
}

/// The URL the drills' child processes reach the database at, as its owner.
fn owner_url(config: &crate::config::Config, database: &crate::Database) -> Result<String, String> {
    use secrecy::ExposeSecret;
    match (&database.embedded, &config.database_url) {
        (Some(pg), _) => Ok(pg.url.clone()),
        (None, Some(url)) => Ok(url.expose_secret().to_string()),
        (None, None) => Err("no database URL for the drill's processes".into()),
    }
}

/// The instances drill alone (`leadline drill instances`): two serving processes and a
/// worker on one database.
pub async fn run_instances(
    config: &crate::config::Config,
    database: &crate::Database,
) -> Result<(), String> {
    // The bench owner's workspace, made if missing; the drill signs in over HTTP.
    let _ = crate::bench::signed_in(config, database).await?;
    let owner_url = owner_url(config, database)?;
    let setup = instances::Setup {
        exe: std::env::current_exe().map_err(|e| e.to_string())?,
        owner_url: &owner_url,
        owner: &database.pools.owner,
        secret_key_hex: sending::hex(config.secret_key.bytes()),
        email: crate::bench::BENCH_EMAIL,
        password: crate::seed::DEMO_PASSWORD,
        log_dir: std::env::temp_dir(),
    };
    let report = instances::run(&setup).await?;
    instances::print(&report);
    match report.clean() {
        true => Ok(()),
        false => Err("the instances did not share sessions, live updates or jobs".into()),
    }
}

/// The sending drill alone (`leadline drill sending`): a worker process killed twice
/// while it sends, then PostgreSQL restarted.
pub async fn run_sending(
    config: &crate::config::Config,
    database: &crate::Database,
) -> Result<(), String> {
    let owner_url = owner_url(config, database)?;
    let sends = sending::run(config, database, &owner_url).await?;
    sending::print(&sends);
    match sends.clean() {
        true => Ok(()),
        false => Err("sending under failure lost, repeated or over-sent messages".into()),
    }
}

/// How soon the app must serve again after a fault, from when the fault is over.
const RECOVERY_BUDGET: Duration = Duration::from_secs(5);
/// Requests in flight at once while the faults happen.
const LOAD_CLIENTS: usize = 8;
/// Load before the fault, and after it.
const BEFORE_FAULT: Duration = Duration::from_secs(2);
const AFTER_FAULT: Duration = Duration::from_secs(8);

enum Fault<'a> {
    /// The owner pool, and the runtime role whose connections it terminates.
    Terminate(&'a PgPool, &'a str),
    Restart(&'a crate::embedded_pg::EmbeddedPg),
}

/// What the load saw around one fault.
#[derive(Debug, Default)]
pub struct FaultReport {
    pub requests: usize,
    /// Answers other than 200 after the fault began, by status (0: no answer in time).
    pub errors: std::collections::BTreeMap<u16, usize>,
    /// How long the fault itself took (terminating the connections, or the restart).
    pub fault_took: Duration,
    /// From the end of the fault to the last failed request, if any failed.
    pub recovery: Duration,
    /// Requests answered 200 after the last failure.
    pub served_after: usize,
}

impl FaultReport {
    fn recovered_within(&self, budget: Duration) -> bool {
        self.recovery <= budget && self.served_after > 0
    }
}

async fn connection_faults(
    router: &axum::Router,
    cookie: &str,
    fault: Fault<'_>,
) -> Result<FaultReport, String> {
    use axum::body::Body;
    use axum::http::{header, Request};
    use tower::ServiceExt;

    let started = Instant::now();
    let stop_at = started + BEFORE_FAULT + AFTER_FAULT;
    let load = (0..LOAD_CLIENTS).map(|_| {
        let router = router.clone();
        let cookie = cookie.to_string();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while Instant::now() < stop_at {
                let req = Request::get("/")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .expect("a request");
                let answer =
                    tokio::time::timeout(Duration::from_secs(10), router.clone().oneshot(req));
                let status = match answer.await {
                    Ok(Ok(res)) => {
                        let status = res.status().as_u16();
                        let _ = axum::body::to_bytes(res.into_body(), usize::MAX).await;
                        status
                    }
                    _ => 0,
                };
                seen.push((Instant::now(), status));
            }
            seen
        })
    });
    let load: Vec<_> = load.collect();

    tokio::time::sleep(BEFORE_FAULT).await;
    let fault_began = Instant::now();
    match fault {
        Fault::Terminate(owner, role) => {
            sqlx::query(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE usename = $1 AND pid <> pg_backend_pid()",
            )
            .bind(role)
            .execute(owner)
            .await
            .map_err(|e| format!("terminating the app's connections: {e}"))?;
        }
        Fault::Restart(pg) => {
            // Blocks for the restart; the load runs on the runtime's other threads.
            tokio::task::block_in_place(|| pg.restart())?;
        }
    }
    let fault_ended = Instant::now();

    let mut report = FaultReport {
        fault_took: fault_ended - fault_began,
        ..FaultReport::default()
    };
    let mut last_failure = None;
    let mut answers = Vec::new();
    for client in load {
        answers.extend(client.await.map_err(|e| e.to_string())?);
    }
    answers.sort_by_key(|(at, _)| *at);
    for (at, status) in &answers {
        report.requests += 1;
        if *at >= fault_began && *status != 200 {
            *report.errors.entry(*status).or_default() += 1;
            last_failure = Some(*at);
        }
    }
    report.recovery = last_failure.map_or(Duration::ZERO, |at| {
        at.saturating_duration_since(fault_ended)
    });
    report.served_after = answers
        .iter()
        .filter(|(at, status)| *status == 200 && last_failure.is_none_or(|failed| *at > failed))
        .count();
    Ok(report)
}

fn print_faults(title: &str, report: &FaultReport) {
    println!("{title}, {LOAD_CLIENTS} clients loading the signed-in home page");
    println!(
        "  requests {:>6}   the fault took {:.2} s   errors meanwhile {:?}",
        report.requests,
        report.fault_took.as_secs_f64(),
        report.errors
    );
    println!(
        "  serving again {:.2} s after the fault (budget {} s), {} answered 200 since",
        report.recovery.as_secs_f64(),
        RECOVERY_BUDGET.as_secs(),
        report.served_after
    );
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
