//! Live updates for open boards: one PostgreSQL `LISTEN deal_changes` connection per
//! server process fans out to every open event stream of that process, so any number
//! of servers behind a load balancer all see every move. A stream carries only deals
//! its viewer may see, a member holds a few streams at most, and a stream ends soon
//! after its session is revoked or its member deactivated.

use crate::state::AppState;
use app::auth::model::Permission;
use app::crm::access::Scope;
use app::db::Db;
use app::request::RequestCtx;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, OnceCell};
use tower_sessions::Session;
use uuid::Uuid;

/// A deal that changed, as `deals_notify()` sends it: tenant, pipeline, deal, version,
/// and its owner now (`o`) and before the change (`q`), so a deal handed to someone
/// else also leaves the board of whoever saw it until then.
#[derive(Clone, Debug, Deserialize)]
pub struct DealChange {
    pub t: Uuid,
    pub p: Uuid,
    pub d: Uuid,
    pub v: i32,
    #[serde(default)]
    pub o: Option<Uuid>,
    #[serde(default)]
    pub q: Option<Uuid>,
}

/// Open streams a member may hold in one process: a few tabs, not a flood of
/// connections each holding a task and a broadcast receiver.
pub const MAX_STREAMS_PER_USER: usize = 6;

/// How often an open stream checks that its session and membership still stand.
pub const RECHECK_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Hub {
    sender: OnceCell<broadcast::Sender<DealChange>>,
    open: Mutex<HashMap<Uuid, usize>>,
}

/// One of a member's open streams; gives its place back when the stream ends.
struct Slot {
    hub: Arc<Hub>,
    user: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.hub.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

impl Hub {
    fn take_slot(self: &Arc<Self>, user: Uuid) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user).or_default();
        if *n >= MAX_STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(Slot {
            hub: self.clone(),
            user,
        })
    }

    /// Starts listening on first use, so processes that never serve a board never hold
    /// a listening connection.
    async fn subscribe(&self, pool: &PgPool) -> broadcast::Receiver<DealChange> {
        self.sender
            .get_or_init(|| async {
                let (tx, _) = broadcast::channel(1024);
                tokio::spawn(listen(pool.clone(), tx.clone()));
                tx
            })
            .await
            .subscribe()
    }
}

/// Forwards notifications until the process ends; reconnects after a lost connection.
async fn listen(pool: PgPool, tx: broadcast::Sender<DealChange>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen("deal_changes").await {
                    tracing::warn!(error = %e, "LISTEN deal_changes failed");
                } else {
                    loop {
                        match listener.recv().await {
                            Ok(n) => match serde_json::from_str::<DealChange>(n.payload()) {
                                Ok(change) => {
                                    // No receivers is fine: nobody has a board open.
                                    let _ = tx.send(change);
                                }
                                Err(e) => tracing::warn!(error = %e, "bad deal_changes payload"),
                            },
                            Err(e) => {
                                tracing::warn!(error = %e, "deal_changes listener lost");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the deal_changes listener"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether the stream's session is still live and its member still active, and the
/// scope they see now (a manager's team can change while the board is open).
async fn current_scope(db: &Db, session: &Session) -> Option<Scope> {
    let key = app::crypto::session_key(&session.id()?.to_string());
    let live: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND expiry_date > now())",
    )
    .bind(key)
    .fetch_one(db.pool())
    .await
    .ok()?;
    if !live {
        return None;
    }
    let (principal, _) = app::auth::ssr::resolve_principal(db, session)
        .await
        .ok()??;
    if principal.must_enrol_2fa
        || principal.must_verify_email
        || !Permission::WorkspaceUse.allowed_for(principal.role)
    {
        return None;
    }
    let mut tx = db
        .tenant_tx(principal.tenant_id, Some(principal.user_id))
        .await
        .ok()?;
    let scope = Scope::load(&mut tx, &principal).await.ok()?;
    tx.commit().await.ok()?;
    Some(scope)
}

/// `GET /events/pipelines/{id}`: a server-sent event per changed deal of that pipeline
/// that the member may see. Only ids and versions travel; the board re-reads the rest.
pub async fn pipeline_events(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestCtx>,
    session: Session,
    Path(pipeline_id): Path<Uuid>,
) -> Response {
    let Some(principal) = ctx.principal.filter(|p| {
        !p.must_enrol_2fa && !p.must_verify_email && Permission::WorkspaceUse.allowed_for(p.role)
    }) else {
        return (StatusCode::UNAUTHORIZED, "Sign in to follow the board.").into_response();
    };
    let Some(scope) = current_scope(&state.db, &session).await else {
        return (StatusCode::UNAUTHORIZED, "Sign in to follow the board.").into_response();
    };
    let Some(slot) = state.events.take_slot(principal.user_id) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "30")],
            "Too many open boards: close one to follow this one.",
        )
            .into_response();
    };
    let tenant = principal.tenant_id;
    let rx = state.events.subscribe(state.db.pool()).await;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.reset();
    let live = Live {
        rx,
        scope,
        recheck,
        db: state.db.clone(),
        session,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(live, move |mut live| async move {
        loop {
            let change = tokio::select! {
                change = live.rx.recv() => change,
                _ = live.recheck.tick() => {
                    live.scope = current_scope(&live.db, &live.session).await?;
                    continue;
                }
            };
            let data = match change {
                Ok(c)
                    if c.t == tenant
                        && c.p == pipeline_id
                        && (live.scope.allows(c.o)
                            || c.q.is_some_and(|q| live.scope.allows(Some(q)))) =>
                {
                    serde_json::json!({ "d": c.d, "v": c.v }).to_string()
                }
                Ok(_) => continue,
                // Fell behind: a nil id makes the board reload rather than miss a move.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    serde_json::json!({ "d": Uuid::nil(), "v": 0 }).to_string()
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok::<_, Infallible>(Event::default().data(data)), live));
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What an open stream holds between events.
struct Live {
    rx: broadcast::Receiver<DealChange>,
    scope: Scope,
    recheck: tokio::time::Interval,
    db: Db,
    session: Session,
    _slot: Slot,
}
