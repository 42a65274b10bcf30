//! The one door to PostgreSQL for request and worker code. Every transaction that
//! touches tenant data starts here, with the tenant and user pinned for that
//! transaction only (`set_config(..., true)`): a session-level `SET` would leak to the
//! next borrower of the pooled connection.

use crate::error::AppError;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

pub type Tx = Transaction<'static, Postgres>;

#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Db { pool }
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
        let begin = format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true), set_config('app.user_id', '{}', true)",
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
    let reference = Uuid::new_v4().simple().to_string()[..8].to_string();
    tracing::error!(%reference, error = %err, "internal error");
    AppError::Internal {
        message: "Something went wrong on our side. Please try again.".into(),
        reference,
    }
}

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
