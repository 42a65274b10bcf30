//! tower-sessions store on PostgreSQL. Besides the record it keeps who the session
//! belongs to and from where, so users can list and revoke their sessions. Rows are
//! keyed by a digest of the session id (`crypto::session_key`), never the id itself.
//!
//! Sessions expire on inactivity, so tower-sessions saves every signed-in request to
//! push the expiry on. Writing the row each time was a quarter of a page's database
//! work; the store now writes only when the data changed or the stored expiry is a
//! minute or more behind.
//!
//! Reading a row also reads the user's principal stamp (migration 0063) into the
//! record, under `keys::PRINCIPAL_STAMP`, for `crate::principals`; it is left out of
//! what is written.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use tower_sessions::SessionStore;

/// How far the stored expiry may lag the one a request asks for.
const EXPIRY_SLACK_SECONDS: i64 = 60;
/// Sessions remembered per process; past this the memory starts again (the cost is
/// one write per session).
const REMEMBERED: usize = 50_000;

#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
    /// What this process last read or wrote, by row key: the data and stored expiry.
    seen: Arc<Mutex<HashMap<String, Stored>>>,
}

#[derive(Debug)]
struct Stored {
    data: HashMap<String, Value>,
    expiry: i64,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        PgSessionStore {
            pool,
            seen: Arc::default(),
        }
    }

    /// True when the database already holds this data with an expiry close enough.
    fn unchanged(&self, key: &str, record: &Record) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(key).is_some_and(|s| {
            s.data == record.data
                && (record.expiry_date.unix_timestamp() - s.expiry).abs() < EXPIRY_SLACK_SECONDS
        })
    }

    fn remember(&self, key: String, record: &Record) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
        seen.insert(
            key,
            Stored {
                data: record.data.clone(),
                expiry: record.expiry_date.unix_timestamp(),
            },
        );
    }

    fn forget(&self, key: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Deletes expired sessions; run periodically by the worker.
    pub async fn delete_expired(&self) -> std::result::Result<u64, sqlx::Error> {
        Ok(
            sqlx::query!("DELETE FROM sessions WHERE expiry_date < now()")
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Deletes throttle windows older than a day (see `app::throttle`).
    pub async fn delete_old_throttle_windows(&self) -> std::result::Result<i64, sqlx::Error> {
        sqlx::query_scalar!(r#"SELECT rate_limit_sweep() AS "swept!""#)
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

impl PgSessionStore {
    /// Writes the record; a new session (`fresh`) only if its id is not taken.
    /// Whether the row was written.
    async fn write(&self, key: &str, record: &Record, fresh: bool) -> Result<bool> {
        let user_id = record
            .data
            .get(app::request::keys::USER)
            .and_then(|v| v.as_str())
            .and_then(|s| uuid::Uuid::parse_str(s).ok());
        let expiry = chrono::DateTime::from_timestamp(record.expiry_date.unix_timestamp(), 0)
            .ok_or_else(|| backend("expiry out of range"))?;
        // The stamp is the database's, read with the row; it is never stored.
        let mut data = record.data.clone();
        data.remove(app::request::keys::PRINCIPAL_STAMP);
        let data = serde_json::to_value(&data).map_err(backend)?;
        let user_agent = text(record, app::request::keys::USER_AGENT);
        let ip = text(record, app::request::keys::IP);
        // One statement for both: a fresh session's conflict updates nothing
        // (`WHERE $7`), so it writes no row and draws another id.
        let done = sqlx::query!(
            "INSERT INTO sessions (id, data, expiry_date, user_id, user_agent, ip)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE
                SET data = $2, expiry_date = $3, user_id = $4, user_agent = $5, ip = $6,
                    last_seen_at = now()
              WHERE $7",
            key,
            data,
            expiry,
            user_id,
            user_agent,
            ip,
            !fresh
        )
        .execute(&self.pool)
        .await;
        let written = done.map_err(backend)?.rows_affected() == 1;
        if written {
            self.remember(key.to_string(), record);
        }
        Ok(written)
    }
}

#[async_trait]
impl SessionStore for PgSessionStore {
    /// A new session never takes over an existing row: on the (128-bit, so
    /// theoretical) chance its id is taken, it draws another.
    async fn create(&self, record: &mut Record) -> Result<()> {
        loop {
            let key = app::crypto::session_key(&record.id.to_string());
            if self.write(&key, record, true).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let key = app::crypto::session_key(&record.id.to_string());
        if !self.unchanged(&key, record) {
            self.write(&key, record, false).await?;
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let key = app::crypto::session_key(&id.to_string());
        // The user's principal stamp comes along (`crate::principals`).
        let row = sqlx::query!(
            "SELECT s.data, s.expiry_date, ps.stamp AS \"stamp?\"
               FROM sessions s LEFT JOIN principal_stamps ps ON ps.user_id = s.user_id
              WHERE s.id = $1 AND s.expiry_date > now()",
            key
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(|r| (r.data, r.expiry_date, r.stamp));
        let Some((data, expiry, stamp)) = row else {
            self.forget(&key);
            return Ok(None);
        };
        let mut data: HashMap<String, Value> = serde_json::from_value(data).map_err(backend)?;
        data.insert(
            app::request::keys::PRINCIPAL_STAMP.to_string(),
            Value::from(stamp.unwrap_or(0)),
        );
        let record = Record {
            id: *id,
            data,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(expiry.timestamp())
                .map_err(backend)?,
        };
        self.remember(key, &record);
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let key = app::crypto::session_key(&id.to_string());
        self.forget(&key);
        sqlx::query!("DELETE FROM sessions WHERE id = $1", key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
