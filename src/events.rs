//! Live updates: each open tab holds one stream, `GET /events`, for everything live on
//! any page (board moves, the bell, the review queue, inventory maps). One PostgreSQL connection per
//! server process listens on `deal_changes` and `live_changes` and fans out to every
//! open stream of that process, so any number of servers behind a load balancer all
//! see every change. A stream carries only what its viewer may see (deals in their
//! scope, their own notifications, the queue if they review), a member holds a few
//! streams at most, and a stream ends soon after its session is revoked or its member
//! deactivated.

use crate::state::AppState;
use app::auth::model::Permission;
use app::crm::access::Scope;
use app::db::Db;
use app::request::RequestCtx;
use axum::extract::State;
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

/// A notification or review-queue change, as `live_changes` carries it
/// (migrations/0030_live_events.sql): what kind, the tenant, and for a notification
/// its member.
#[derive(Clone, Debug, Deserialize)]
pub struct LiveChange {
    pub k: LiveKind,
    pub t: Uuid,
    #[serde(default)]
    pub u: Option<Uuid>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LiveKind {
    /// A member's notifications changed (one arrived, or they were read).
    Notice,
    /// A review item or an approval request of the tenant was created or changed.
    Review,
    /// A unit of the tenant changed status or price: open maps re-read.
    Unit,
}

#[derive(Clone, Debug)]
pub enum Change {
    Deal(DealChange),
    Live(LiveChange),
}

/// Open streams a member may hold in one process: a few tabs, not a flood of
/// connections each holding a task and a broadcast receiver.
pub const MAX_STREAMS_PER_USER: usize = 6;

/// How often an open stream checks that its session and membership still stand.
pub const RECHECK_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Hub {
    sender: OnceCell<broadcast::Sender<Change>>,
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
    async fn subscribe(&self, pool: &PgPool) -> broadcast::Receiver<Change> {
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

fn parse(channel: &str, payload: &str) -> Result<Change, serde_json::Error> {
    if channel == "deal_changes" {
        serde_json::from_str(payload).map(Change::Deal)
    } else {
        serde_json::from_str(payload).map(Change::Live)
    }
}

/// Forwards notifications until the process ends; reconnects after a lost connection.
async fn listen(pool: PgPool, tx: broadcast::Sender<Change>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen_all(["deal_changes", "live_changes"]).await {
                    tracing::warn!(error = %e, "LISTEN for live updates failed");
                } else {
                    loop {
                        match listener.recv().await {
                            Ok(n) => match parse(n.channel(), n.payload()) {
                                Ok(change) => {
                                    // No receivers is fine: nobody has a page open.
                                    let _ = tx.send(change);
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, channel = n.channel(), "bad live payload")
                                }
                            },
                            Err(e) => {
                                tracing::warn!(error = %e, "live updates listener lost");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the live updates listener"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What a stream's viewer may hear about, re-read every [`RECHECK_EVERY`].
struct Hears {
    scope: Scope,
    review: bool,
}

/// Whether the stream's session is still live and its member still active, and what
/// they may hear about now (a manager's team, or a member's role, can change while the
/// tab is open).
async fn current_hears(db: &Db, session: &Session) -> Option<Hears> {
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
    let (principal, _, _) = app::auth::ssr::resolve_principal(db, session)
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
    Some(Hears {
        scope,
        review: Permission::ReviewWork.allowed_for(principal.role),
    })
}

/// The event a change makes on this viewer's stream, if they may hear of it: `deal`
/// (pipeline, deal and version: the board re-reads the rest), `notice` or `review`
/// (the bell or the queue re-reads), or `resync` when the stream fell behind and the
/// page should re-read everything rather than miss a change.
fn event_for(
    change: Result<Change, broadcast::error::RecvError>,
    tenant: Uuid,
    user: Uuid,
    hears: &Hears,
) -> Option<Option<Event>> {
    let event = match change {
        Ok(Change::Deal(c))
            if c.t == tenant
                && (hears.scope.allows(c.o)
                    || c.q.is_some_and(|q| hears.scope.allows(Some(q)))) =>
        {
            Event::default()
                .event("deal")
                .data(serde_json::json!({ "p": c.p, "d": c.d, "v": c.v }).to_string())
        }
        Ok(Change::Live(c)) if c.t == tenant && c.k == LiveKind::Notice && c.u == Some(user) => {
            Event::default().event("notice").data("{}")
        }
        Ok(Change::Live(c)) if c.t == tenant && c.k == LiveKind::Review && hears.review => {
            Event::default().event("review").data("{}")
        }
        Ok(Change::Live(c)) if c.t == tenant && c.k == LiveKind::Unit => {
            Event::default().event("unit").data("{}")
        }
        Ok(_) => return Some(None),
        Err(broadcast::error::RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
        Err(broadcast::error::RecvError::Closed) => return None,
    };
    Some(Some(event))
}

/// `GET /events`: the tab's one stream of live updates (see the module's comment).
pub async fn live_events(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestCtx>,
    session: Session,
) -> Response {
    let Some(principal) = ctx.principal.filter(|p| {
        !p.must_enrol_2fa && !p.must_verify_email && Permission::WorkspaceUse.allowed_for(p.role)
    }) else {
        return (StatusCode::UNAUTHORIZED, "Sign in to receive live updates.").into_response();
    };
    let Some(hears) = current_hears(&state.db, &session).await else {
        return (StatusCode::UNAUTHORIZED, "Sign in to receive live updates.").into_response();
    };
    let Some(slot) = state.events.take_slot(principal.user_id) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "30")],
            "Too many open tabs follow live updates: close one to follow them here.",
        )
            .into_response();
    };
    let (tenant, user) = (principal.tenant_id, principal.user_id);
    let rx = state.events.subscribe(state.db.pool()).await;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.reset();
    let live = Live {
        rx,
        hears,
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
                    live.hears = current_hears(&live.db, &live.session).await?;
                    continue;
                }
            };
            if let Some(event) = event_for(change, tenant, user, &live.hears)? {
                return Some((Ok::<_, Infallible>(event), live));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What an open stream holds between events.
struct Live {
    rx: broadcast::Receiver<Change>,
    hears: Hears,
    recheck: tokio::time::Interval,
    db: Db,
    session: Session,
    _slot: Slot,
}
