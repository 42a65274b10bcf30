//! Who is asking, remembered per server process (DECISIONS 88).
//!
//! Working out a signed-in member's principal (membership, role, grants, preferences,
//! policy, billing state, workspaces) took a transaction of three round trips on
//! every request. Each change to what it is read from bumps the user's stamp in the
//! same transaction (migration 0063), and the session store reads the stamp with the
//! session row, a round trip every request makes anyway. An answer is reused only
//! under the stamp it was read at: a change committed before a request began is
//! always seen, on every instance, with no messages between servers.

use app::auth::ssr::{resolve_principal, Workspaces};
use app::db::Db;
use app::error::AppError;
use app::i18n::Locale;
use app::request::{keys, Principal};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tower_sessions::Session;
use uuid::Uuid;

/// Answers kept per process; past this the memory starts again (the cost is one
/// database read per member).
const REMEMBERED: usize = 50_000;
/// A second wall: even under an unchanged stamp an answer is read again after this,
/// should something ever change the tables without their triggers.
const AT_MOST: Duration = Duration::from_secs(300);

pub type Resolved = (Principal, Locale, Workspaces);

#[derive(Default)]
pub struct PrincipalCache {
    entries: Mutex<HashMap<(Uuid, Uuid), Entry>>,
}

struct Entry {
    stamp: i64,
    read_at: Instant,
    resolved: Resolved,
}

impl PrincipalCache {
    /// The session's principal, from memory when the stamp read with the session is
    /// the one it was read under.
    pub async fn resolve(&self, db: &Db, session: &Session) -> Result<Option<Resolved>, AppError> {
        let Some(key) = cacheable(session).await else {
            return resolve_principal(db, session).await;
        };
        let (user, tenant, stamp) = key;
        if let Some(found) = self.lookup((user, tenant), stamp) {
            return Ok(Some(found));
        }
        let resolved = resolve_principal(db, session).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match &resolved {
            Some(r) => {
                if entries.len() >= REMEMBERED {
                    entries.clear();
                }
                entries.insert(
                    (user, tenant),
                    Entry {
                        stamp,
                        read_at: Instant::now(),
                        resolved: r.clone(),
                    },
                );
            }
            None => {
                entries.remove(&(user, tenant));
            }
        }
        Ok(resolved)
    }

    fn lookup(&self, key: (Uuid, Uuid), stamp: i64) -> Option<Resolved> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&key)
            .filter(|e| e.stamp == stamp && e.read_at.elapsed() < AT_MOST)
            .map(|e| e.resolved.clone())
    }
}

/// The user, workspace and stamp of a session whose principal may be remembered:
/// signed in, with the stamp the store read, and not under a support grant (whose
/// end and expiry are checked on every request).
async fn cacheable(session: &Session) -> Option<(Uuid, Uuid, i64)> {
    if session.get::<Uuid>(keys::SUPPORT).await.ok()?.is_some() {
        return None;
    }
    Some((
        session.get::<Uuid>(keys::USER).await.ok()??,
        session.get::<Uuid>(keys::TENANT).await.ok()??,
        session.get::<i64>(keys::PRINCIPAL_STAMP).await.ok()??,
    ))
}
