//! Recurring platform work on cron schedules (table `schedules`, migration 0016): the
//! sweeps of expired sessions, old throttle windows and abandoned import drafts, and
//! retention. Any number of workers may run this: a worker holds a due schedule's row
//! lock (`FOR UPDATE SKIP LOCKED`) while it runs it, so one run happens at a time and
//! a worker that dies lets go with its connection. A failed run is retried with the
//! job facility's backoff, but never later than the schedule's next slot.

use crate::session_store::PgSessionStore;
use app::jobs::ssr::{backoff, jitter};
use app::request::AppConfig;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// How often a worker looks for due schedules; the finest schedule is five minutes.
pub const CHECK_EVERY: Duration = Duration::from_secs(20);
/// When a schedule's expression does not parse, it is looked at again this much later.
const UNPARSABLE_RETRY: chrono::Duration = chrono::Duration::hours(1);

/// What one run of a schedule did, for `last_detail`.
type Outcome = Result<String, String>;

async fn run_task(pool: &PgPool, config: &AppConfig, name: &str) -> Outcome {
    let store = PgSessionStore::new(pool.clone());
    match name {
        "sessions.sweep" => store
            .delete_expired()
            .await
            .map(|n| format!("{n} expired sessions deleted"))
            .map_err(|e| e.to_string()),
        "throttle.sweep" => store
            .delete_old_throttle_windows()
            .await
            .map(|n| format!("{n} throttle windows deleted"))
            .map_err(|e| e.to_string()),
        "import_drafts.sweep" => sqlx::query_scalar::<_, i64>("SELECT sweep_import_drafts()")
            .fetch_one(pool)
            .await
            .map(|n| format!("{n} import drafts deleted"))
            .map_err(|e| e.to_string()),
        "retention" => crate::worker::retention_sweep(pool)
            .await
            .map(|r| format!("{r:?}"))
            .map_err(|e| e.to_string()),
        "notices.digest" => app::notices::ssr::send_digests(pool, config, Utc::now())
            .await
            .map(|n| match config.account_mail {
                Some(_) => format!("{n} notification digests sent"),
                None => "no SMTP server is configured (LEADLINE_SMTP_URL): no digests sent".into(),
            }),
        "review.sla" => app::review::ssr::sla_sweep(pool, Utc::now())
            .await
            .map(|n| format!("{n} review items escalated"))
            .map_err(|e| e.to_string()),
        "tasks.due" => sqlx::query_scalar::<_, i64>("SELECT task_due_sweep($1)")
            .bind(Utc::now())
            .fetch_one(pool)
            .await
            .map(|n| format!("{n} members told of a task due"))
            .map_err(|e| e.to_string()),
        "inventory.holds" => app::inventory::ssr::sweep_holds(pool, Utc::now())
            .await
            .map(|(told, released)| {
                format!("{told} holders told of a hold ending, {released} lapsed holds released")
            })
            .map_err(|e| e.to_string()),
        "platform.daily" => {
            sqlx::query("SELECT platform_daily_take((now() AT TIME ZONE 'UTC')::date)")
                .execute(pool)
                .await
                .map(|_| "today's platform figures kept".to_string())
                .map_err(|e| e.to_string())
        }
        "billing.periods" => app::billing::renewals::roll_periods(pool, Utc::now())
            .await
            .map(|n| format!("{n} subscription periods rolled over"))
            .map_err(|e| e.to_string()),
        "api.sweep" => {
            sqlx::query_as::<_, (i64, i64)>("SELECT idempotency, events FROM api_sweep()")
                .fetch_one(pool)
                .await
                .map(|(keys, events)| {
                    format!("{keys} idempotency keys and {events} webhook events deleted")
                })
                .map_err(|e| e.to_string())
        }
        "sending_ips.check" => app::staff::ssr::ips::check_all(pool, config.dns_resolver)
            .await
            .map_err(|e| e.to_string()),
        // A schedule a newer version added, seen by an older worker mid-deploy.
        _ => Err(format!("no task named {name} in this version")),
    }
}

/// When a schedule runs next: its next slot after `now`, or sooner for a retry of a
/// failed run (the `failures`-th in a row).
fn next_run(
    cron: &str,
    now: DateTime<Utc>,
    failures: i32,
    unit: f64,
) -> Result<DateTime<Utc>, String> {
    let schedule = cron::Schedule::from_str(cron).map_err(|e| format!("schedule {cron:?}: {e}"))?;
    let slot = schedule
        .after(&now)
        .next()
        .ok_or_else(|| format!("schedule {cron:?} has no time after {now}"))?;
    if failures == 0 {
        return Ok(slot);
    }
    let wait = backoff(u32::try_from(failures).unwrap_or(1), unit);
    let retry = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    Ok(retry.min(slot))
}

/// Runs every schedule that is due, one at a time; the names of those run.
pub async fn run_due(pool: &PgPool, config: &AppConfig) -> Result<Vec<String>, String> {
    let db = app::db::Db::new(pool.clone());
    let mut ran = Vec::new();
    loop {
        let mut tx = db.anon_tx().await.map_err(|e| e.to_string())?;
        let due: Option<(String, String, i32)> = sqlx::query_as(
            "SELECT name, cron, failures FROM schedules
              WHERE next_run_at <= now() ORDER BY next_run_at
              FOR UPDATE SKIP LOCKED LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| format!("finding due schedules: {e}"))?;
        let Some((name, cron, failures)) = due else {
            tx.commit().await.map_err(|e| e.to_string())?;
            return Ok(ran);
        };
        let started = Utc::now();
        let timer = std::time::Instant::now();
        let outcome = run_task(pool, config, &name).await;
        metrics::histogram!(
            "leadline_schedule_duration_seconds",
            "task" => name.clone(),
            "outcome" => if outcome.is_ok() { "ok" } else { "failed" }
        )
        .record(timer.elapsed().as_secs_f64());
        let now = Utc::now();
        let failures = if outcome.is_ok() {
            0
        } else {
            failures.saturating_add(1)
        };
        let next = next_run(&cron, now, failures, jitter()).unwrap_or_else(|e| {
            tracing::error!(schedule = %name, error = %e, "schedule does not parse");
            now + UNPARSABLE_RETRY
        });
        match &outcome {
            Ok(detail) => tracing::debug!(schedule = %name, %detail, "schedule ran"),
            Err(error) => tracing::warn!(schedule = %name, %error, failures, "schedule failed"),
        }
        let (label, detail) = match &outcome {
            Ok(d) => ("OK", d.as_str()),
            Err(e) => ("FAILED", e.as_str()),
        };
        sqlx::query(
            "UPDATE schedules SET next_run_at = $2, failures = $3, last_started_at = $4,
                    last_finished_at = $5, last_outcome = $6, last_detail = left($7, 2000)
              WHERE name = $1",
        )
        .bind(&name)
        .bind(next)
        .bind(failures)
        .bind(started)
        .bind(now)
        .bind(label)
        .bind(detail)
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("recording schedule {name}: {e}"))?;
        tx.commit().await.map_err(|e| e.to_string())?;
        ran.push(name);
    }
}

/// Runs due schedules until the future is dropped.
pub async fn run(pool: PgPool, config: std::sync::Arc<AppConfig>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = run_due(&pool, &config).await {
            tracing::warn!(error = %e, "schedules");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, h, m, s).unwrap()
    }

    #[test]
    fn a_schedule_runs_at_its_next_slot() {
        assert_eq!(
            next_run("0 */5 * * * *", at(6, 1, 30), 0, 0.5),
            Ok(at(6, 5, 0))
        );
        assert_eq!(
            next_run("0 40 3 * * *", at(6, 0, 0), 0, 0.5),
            Ok(Utc.with_ymd_and_hms(2026, 12, 3, 3, 40, 0).unwrap())
        );
    }

    #[test]
    fn a_failed_run_is_retried_with_backoff_but_never_after_the_next_slot() {
        // First failure: 15..30 s later, well before the daily slot.
        let retry = next_run("0 40 3 * * *", at(6, 0, 0), 1, 0.0).unwrap();
        assert_eq!(retry, at(6, 0, 15));
        // Many failures: the backoff would pass the next five-minute slot.
        assert_eq!(
            next_run("0 */5 * * * *", at(6, 4, 0), 9, 1.0),
            Ok(at(6, 5, 0))
        );
    }

    #[test]
    fn an_expression_that_does_not_parse_is_an_error_not_a_panic() {
        assert!(next_run("every tuesday", at(6, 0, 0), 0, 0.0).is_err());
        assert!(next_run("", at(6, 0, 0), 0, 0.0).is_err());
    }
}
