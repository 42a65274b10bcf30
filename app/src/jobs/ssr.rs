//! What every job shares: its log, how a failed attempt is retried or dead-lettered,
//! and the admin's view of all the tenant's jobs.

use super::model::*;
use crate::auth::model::Permission;
use crate::crm::import::model::{JobState, JobView};
use crate::crm::import::ssr::{JobRow, JOB_COLUMNS, JOB_FROM};
use crate::crypto::random_bytes;
use crate::db::{Db, Tx};
use crate::error::AppError;
use crate::i18n::{tf, Locale};
use crate::request::Env;
use std::time::Duration;
use uuid::Uuid;

/// Jobs per page of the admin's list.
pub const PAGE: i64 = 50;
/// Log lines a job's page shows: the latest ones.
pub const LOG_LINES: i64 = 200;
/// The first retry waits about this long; each one after waits twice as long.
const BACKOFF_BASE: Duration = Duration::from_secs(30);
const BACKOFF_CAP: Duration = Duration::from_secs(60 * 60);
/// Longest log line kept (the column's own limit).
const LOG_MAX_CHARS: usize = 2000;

/// The wait before the retry that follows failed attempt `attempt` (1-based):
/// exponential with "equal jitter", so jobs that failed together (a database
/// restart) do not all come back in the same second, and none comes back at once.
/// `unit` is a random number in [0, 1).
pub fn backoff(attempt: u32, unit: f64) -> Duration {
    let doubling = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let full = BACKOFF_BASE.saturating_mul(doubling).min(BACKOFF_CAP);
    let half = full / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// A random number in [0, 1) for [`backoff`].
pub fn jitter() -> f64 {
    // The top 53 bits: every such value is exact in an f64.
    (u64::from_le_bytes(random_bytes::<8>()) >> 11) as f64 / (1u64 << 53) as f64
}

/// Adds a line to a job's log, in the caller's transaction.
pub async fn log(
    tx: &mut Tx,
    tenant_id: Uuid,
    job_id: Uuid,
    level: LogLevel,
    message: &str,
) -> Result<(), AppError> {
    let message: String = message.chars().take(LOG_MAX_CHARS).collect();
    sqlx::query("INSERT INTO job_logs (tenant_id, job_id, level, message) VALUES ($1, $2, $3, $4)")
        .bind(tenant_id)
        .bind(job_id)
        .bind(level.code())
        .bind(message)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Why an attempt failed, which decides whether it is tried again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The member must change something (the file, the creator's access): trying
    /// again would fail the same way.
    Permanent(String),
    /// On our side (the database, a crash): the next attempt may well succeed.
    Transient(String),
}

impl Failure {
    pub fn of(err: &AppError) -> Failure {
        match err {
            AppError::Internal { .. } => Failure::Transient(err.to_string()),
            _ => Failure::Permanent(err.to_string()),
        }
    }
}

/// The job's creator's language, for the lines written in their name.
async fn job_locale(tx: &mut Tx, id: Uuid) -> Result<Locale, AppError> {
    let code: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT params->'locale' FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .flatten();
    Ok(code
        .and_then(|c| serde_json::from_value(c).ok())
        .unwrap_or_default())
}

/// Logs the start of a claimed attempt.
pub async fn started(db: &Db, tenant_id: Uuid, id: Uuid) -> Result<(), AppError> {
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let attempts: Option<(i32, i32)> =
        sqlx::query_as("SELECT attempts, max_attempts FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((attempt, max)) = attempts {
        let locale = job_locale(&mut tx, id).await?;
        let line = tf(
            locale,
            "jobs.log.started",
            &[("attempt", attempt.to_string()), ("max", max.to_string())],
        );
        log(&mut tx, tenant_id, id, LogLevel::Info, &line).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Logs a finished job, in the transaction that sets it DONE, so a page that sees it
/// done sees the line too.
pub async fn finished(tx: &mut Tx, tenant_id: Uuid, id: Uuid) -> Result<(), AppError> {
    let locale = job_locale(tx, id).await?;
    let line = tf(locale, "jobs.log.done", &[]);
    log(tx, tenant_id, id, LogLevel::Info, &line).await?;
    tell_creator(tx, tenant_id, id, locale, "jobs.notify.done").await
}

/// A notification to the job's creator, linking to the job.
async fn tell_creator(
    tx: &mut Tx,
    tenant_id: Uuid,
    id: Uuid,
    locale: Locale,
    key: &str,
) -> Result<(), AppError> {
    let job: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT created_by, coalesce(params->>'file_name', '') FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((creator, file)) = job {
        let body = tf(locale, key, &[("file", file)]);
        let link = format!("/jobs/{id}");
        crate::outreach::ssr::store::notify(
            tx,
            tenant_id,
            creator,
            "JOB_FINISHED",
            &body,
            Some(&link),
        )
        .await?;
    }
    Ok(())
}

/// Records a failed attempt of a job that is still running (or queued). A transient
/// failure with attempts left queues it again after [`backoff`]; with none left it is
/// dead-lettered (DEAD); a permanent one is FAILED. Returns the state it is left in,
/// or `None` when it was no longer active (cancelled meanwhile).
pub async fn fail(
    db: &Db,
    tenant_id: Uuid,
    id: Uuid,
    failure: Failure,
) -> Result<Option<JobState>, AppError> {
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let row: Option<(i32, i32)> = sqlx::query_as(
        "SELECT attempts, max_attempts FROM jobs
          WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((attempts, max_attempts)) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let locale = job_locale(&mut tx, id).await?;
    let (state, error, delay) = match failure {
        Failure::Transient(error) if attempts < max_attempts => {
            let delay = backoff(u32::try_from(attempts).unwrap_or(1), jitter());
            (JobState::Queued, error, Some(delay))
        }
        Failure::Transient(error) => (JobState::Dead, error, None),
        Failure::Permanent(error) => (JobState::Failed, error, None),
    };
    let (level, line) = match (state, delay) {
        (JobState::Queued, Some(delay)) => (
            LogLevel::Warn,
            tf(
                locale,
                "jobs.log.retrying",
                &[
                    ("attempt", attempts.to_string()),
                    ("max", max_attempts.to_string()),
                    ("error", error.clone()),
                    ("seconds", delay.as_secs().to_string()),
                ],
            ),
        ),
        (JobState::Dead, _) => (
            LogLevel::Error,
            tf(
                locale,
                "jobs.log.dead",
                &[("attempts", attempts.to_string()), ("error", error.clone())],
            ),
        ),
        _ => (
            LogLevel::Error,
            tf(locale, "jobs.log.failed", &[("error", error.clone())]),
        ),
    };
    sqlx::query(
        "UPDATE jobs SET status = $2, error = $3, locked_at = NULL,
                run_at = now() + make_interval(secs => $4),
                finished_at = CASE WHEN $2 IN ('FAILED', 'DEAD') THEN now() END
          WHERE id = $1",
    )
    .bind(id)
    .bind(state.code())
    .bind(&error)
    .bind(delay.map_or(0.0, |d| d.as_secs_f64()))
    .execute(&mut *tx)
    .await?;
    log(&mut tx, tenant_id, id, level, &line).await?;
    if state != JobState::Queued {
        tell_creator(&mut tx, tenant_id, id, locale, "jobs.notify.failed").await?;
    }
    tx.commit().await?;
    Ok(Some(state))
}

/// The tenant's jobs, newest first, every member's, for an admin.
pub async fn list(
    env: &Env,
    state: Option<JobState>,
    before: Option<JobsCursor>,
) -> Result<JobsPage, AppError> {
    let p = env.require(Permission::JobsManage)?;
    if state == Some(JobState::Draft) {
        return Err(AppError::field("state", env.t("jobs.error.unknown_state")));
    }
    let mut tx = env.tx(p).await?;
    let mut rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM {JOB_FROM}
          WHERE j.status <> 'DRAFT' AND ($1::text IS NULL OR j.status = $1)
            AND ($2::timestamptz IS NULL OR (j.created_at, j.id) < ($2, $3))
          ORDER BY j.created_at DESC, j.id DESC LIMIT $4"
    ))
    .bind(state.map(JobState::code))
    .bind(before.map(|c| c.created_at))
    .bind(before.map(|c| c.id))
    .bind(PAGE + 1)
    .fetch_all(&mut *tx)
    .await?;
    let more = crate::db::take_page(&mut rows, PAGE);
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM jobs WHERE status <> 'DRAFT' GROUP BY status")
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    let jobs = rows
        .into_iter()
        .map(JobView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let next = more.then(|| jobs.last()).flatten().map(|j| JobsCursor {
        created_at: j.created_at,
        id: j.id,
    });
    let counts = LISTED_STATES
        .into_iter()
        .map(|s| {
            let n = counts
                .iter()
                .find(|(code, _)| code == s.code())
                .map_or(0, |(_, n)| u32::try_from(*n).unwrap_or(u32::MAX));
            (s, n)
        })
        .collect();
    Ok(JobsPage { jobs, next, counts })
}

/// A job's latest log lines, oldest first, under the rule of the job itself: its
/// creator or an admin; anyone else is told it does not exist.
pub async fn logs(env: &Env, id: &str) -> Result<Vec<JobLogLine>, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let not_found = || AppError::NotFound(env.t("jobs.not_found"));
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let mut tx = env.tx(p).await?;
    let visible: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND (created_by = $2 OR $3))",
    )
    .bind(id)
    .bind(p.user_id)
    .bind(Permission::JobsManage.allowed_for(p.role))
    .fetch_one(&mut *tx)
    .await?;
    if !visible {
        return Err(not_found());
    }
    let rows: Vec<(chrono::DateTime<chrono::Utc>, String, String)> = sqlx::query_as(
        "SELECT at, level, message FROM (
             SELECT id, at, level, message FROM job_logs WHERE job_id = $1
              ORDER BY id DESC LIMIT $2) l
          ORDER BY id",
    )
    .bind(id)
    .bind(LOG_LINES)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(at, level, message)| JobLogLine {
            at,
            level: LogLevel::parse(&level).unwrap_or(LogLevel::Info),
            message,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_cap() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(15));
        assert_eq!(
            backoff(1, 0.999_999),
            Duration::from_secs(30) - Duration::from_micros(15)
        );
        assert_eq!(backoff(2, 0.0), Duration::from_secs(30));
        assert_eq!(backoff(3, 0.5), Duration::from_secs(90));
        // Doubling stops at an hour, however many attempts.
        assert_eq!(backoff(12, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(40, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(0, 0.0), Duration::from_secs(15));
    }

    #[test]
    fn jitter_is_a_unit_fraction_that_varies() {
        let draws: Vec<f64> = (0..64).map(|_| jitter()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn only_errors_on_our_side_are_retried() {
        let internal = AppError::Internal {
            message: "db".into(),
            reference: "ab".into(),
        };
        assert!(matches!(Failure::of(&internal), Failure::Transient(_)));
        assert!(matches!(
            Failure::of(&AppError::Forbidden("left".into())),
            Failure::Permanent(_)
        ));
    }
}
