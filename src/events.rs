//! Live updates for open boards: one PostgreSQL `LISTEN deal_changes` connection per
//! server process fans out to every open event stream of that process, so any number
//! of servers behind a load balancer all see every move.

use crate::web::AppState;
use app::auth::model::Permission;
use app::request::RequestCtx;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{broadcast, OnceCell};
use uuid::Uuid;

/// A deal that changed, as `deals_notify()` sends it.
#[derive(Clone, Debug, Deserialize)]
pub struct DealChange {
    pub t: Uuid,
    pub p: Uuid,
    pub d: Uuid,
    pub v: i32,
}

#[derive(Default)]
pub struct Hub {
    sender: OnceCell<broadcast::Sender<DealChange>>,
}

impl Hub {
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

/// `GET /events/pipelines/{id}`: a server-sent event per changed deal of that pipeline
/// in the member's tenant. Only ids and versions travel; the board re-reads what its
/// viewer may see.
pub async fn pipeline_events(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestCtx>,
    Path(pipeline_id): Path<Uuid>,
) -> Response {
    let Some(principal) = ctx
        .principal
        .filter(|p| !p.must_enrol_2fa && Permission::WorkspaceUse.allowed_for(p.role))
    else {
        return (StatusCode::UNAUTHORIZED, "Sign in to follow the board.").into_response();
    };
    let tenant = principal.tenant_id;
    let rx = state.events.subscribe(state.db.pool()).await;
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            let data = match rx.recv().await {
                Ok(c) if c.t == tenant && c.p == pipeline_id => {
                    serde_json::json!({ "d": c.d, "v": c.v }).to_string()
                }
                Ok(_) => continue,
                // Fell behind: a nil id makes the board reload rather than miss a move.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    serde_json::json!({ "d": Uuid::nil(), "v": 0 }).to_string()
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok::<_, Infallible>(Event::default().data(data)), rx));
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
