//! The one door to PostgreSQL for request and worker code. Every transaction that
//! touches tenant data starts here, with the tenant and user pinned for that
//! transaction only (`set_config(..., true)`): a session-level `SET` would leak to the
//! next borrower of the pooled connection.

use crate::error::AppError;
use sqlx::{PgPool, Postgres, Transaction};
use std::sync::Arc;
use uuid::Uuid;

pub type Tx = Transaction<'static, Postgres>;

#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    /// Set for a workspace that is read-only until an invoice is paid: what its
    /// refused writes are answered with.
    read_only: Option<Arc<str>>,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Db {
            pool,
            read_only: None,
        }
    }

    /// The same database for a read-only workspace (dunning ran out): its tenant
    /// transactions are `READ ONLY`, so PostgreSQL itself refuses every write of
    /// every server function and page, which then answers `message` (402). One
    /// choke point instead of a check in each function that writes.
    pub fn read_only(&self, message: String) -> Db {
        Db {
            pool: self.pool.clone(),
            read_only: Some(message.into()),
        }
    }

    /// What a refused write of this workspace is answered with, if it is read-only.
    pub fn read_only_message(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// Writes allowed again, for what a read-only workspace must still do: pay.
    pub fn writable(&self) -> Db {
        Db::new(self.pool.clone())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction scoped to one tenant (and, when known, one user).
    pub async fn tenant_tx(&self, tenant_id: Uuid, user_id: Option<Uuid>) -> Result<Tx, AppError> {
        self.scoped(Some(tenant_id), user_id).await
    }

    /// A transaction for a signed-in user before a tenant is chosen: it sees the user's
    /// own rows and memberships only.
    pub async fn user_tx(&self, user_id: Uuid) -> Result<Tx, AppError> {
        self.scoped(None, Some(user_id)).await
    }

    /// A transaction with no tenant and no user: only the narrow SECURITY DEFINER
    /// lookups (login, invite tokens) and global tables answer it.
    pub async fn anon_tx(&self) -> Result<Tx, AppError> {
        self.scoped(None, None).await
    }

    async fn scoped(&self, tenant_id: Option<Uuid>, user_id: Option<Uuid>) -> Result<Tx, AppError> {
        // BEGIN and the settings go in one round trip. The values are formatted UUIDs
        // (hex and hyphens) or empty, so writing them into the statement is safe.
        // The trigram threshold is how close a misspelt word must be to match in
        // `search_ids()` (pg_trgm's default 0.6 misses "foad" for "fouad"); set here,
        // it costs no round trip of its own.
        let read_only = tenant_id.is_some() && self.read_only.is_some();
        let begin = format!(
            "BEGIN{}; SELECT set_config('app.tenant_id', '{}', true), set_config('app.user_id', '{}', true), \
             set_config('pg_trgm.word_similarity_threshold', '0.4', true)",
            if read_only { " READ ONLY" } else { "" },
            tenant_id.map(|t| t.to_string()).unwrap_or_default(),
            user_id.map(|u| u.to_string()).unwrap_or_default(),
        );
        // sqlx 0.8.6's `begin()` is not cancel-safe (sqlx issues 4385, 4393): dropped
        // while BEGIN is in flight, it hands the connection back to the pool inside a
        // transaction, and the next borrower of any tenant runs in it. In a task of its
        // own BEGIN always finishes; if the request is gone by then, the task drops the
        // transaction, which rolls it back. `leadline drill` checks this.
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin_with(begin).await })
            .await
            .map_err(internal)?
            .map_err(internal)
    }
}

/// Logs a database error with a reference and returns a message that reveals nothing
/// about the query.
pub fn internal(err: impl std::fmt::Display) -> AppError {
    let text = err.to_string();
    // A write in a read-only workspace's transaction (`Db::read_only`), reached
    // through a `map_err(internal)` rather than `?`: a refusal, not our failure.
    if text.contains("in a read-only transaction") {
        return AppError::PaymentRequired(READ_ONLY.into());
    }
    let reference = Uuid::new_v4().simple().to_string()[..8].to_string();
    tracing::error!(%reference, error = %text, "internal error");
    AppError::Internal {
        message: "Something went wrong on our side. Please try again.".into(),
        reference,
    }
}

/// What a refused write says when the request's own message is not at hand.
pub const READ_ONLY: &str = "Your workspace is read-only until its unpaid invoice is paid.";

/// PostgreSQL's `read_only_sql_transaction`: a write in a `READ ONLY` transaction.
pub const READ_ONLY_SQLSTATE: &str = "25006";

/// The constraint a database error broke, if it was a unique or foreign-key violation.
pub fn violated_constraint(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) => db.constraint().map(str::to_string),
        _ => None,
    }
}

/// Keyset pages fetch one row more than they show: this keeps `size` rows and says
/// whether there was another.
pub fn take_page<T>(rows: &mut Vec<T>, size: i64) -> bool {
    let more = rows.len() as i64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(0));
    more
}

pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// An `ILIKE` pattern matching values that contain `text` as typed: its `%`, `_` and
/// backslashes match themselves, not as wildcards.
pub fn contains_pattern(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}
