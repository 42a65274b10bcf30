//! tower-sessions store on PostgreSQL. Besides the record it keeps who the session
//! belongs to and from where, so users can list and revoke their sessions. Rows are
//! keyed by a digest of the session id (`crypto::session_key`), never the id itself.

use async_trait::async_trait;
use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use tower_sessions::SessionStore;

#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        PgSessionStore { pool }
    }

    /// Deletes expired sessions; run periodically by the worker.
    pub async fn delete_expired(&self) -> std::result::Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE expiry_date < now()")
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Deletes throttle windows older than a day (see `app::throttle`).
    pub async fn delete_old_throttle_windows(&self) -> std::result::Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT rate_limit_sweep()")
            .fetch_one(&self.pool)
            .await
    }
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

fn text(record: &Record, key: &str) -> Option<String> {
    record
        .data
        .get(key)
        .and_then(|v| v.as_str())
        .map(|s| s.chars().take(500).collect())
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn save(&self, record: &Record) -> Result<()> {
        let user_id = record
            .data
            .get(app::request::keys::USER)
            .and_then(|v| v.as_str())
            .and_then(|s| uuid::Uuid::parse_str(s).ok());
        let expiry = chrono::DateTime::from_timestamp(record.expiry_date.unix_timestamp(), 0)
            .ok_or_else(|| backend("expiry out of range"))?;
        sqlx::query(
            "INSERT INTO sessions (id, data, expiry_date, user_id, user_agent, ip)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE
                SET data = $2, expiry_date = $3, user_id = $4, user_agent = $5, ip = $6,
                    last_seen_at = now()",
        )
        .bind(app::crypto::session_key(&record.id.to_string()))
        .bind(serde_json::to_value(&record.data).map_err(backend)?)
        .bind(expiry)
        .bind(user_id)
        .bind(text(record, app::request::keys::USER_AGENT))
        .bind(text(record, app::request::keys::IP))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let row: Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT data, expiry_date FROM sessions WHERE id = $1 AND expiry_date > now()",
        )
        .bind(app::crypto::session_key(&id.to_string()))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some((data, expiry)) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_value(data).map_err(backend)?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(expiry.timestamp())
                .map_err(backend)?,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(app::crypto::session_key(&id.to_string()))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
