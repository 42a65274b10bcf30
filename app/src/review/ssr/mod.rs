//! Review on the server: what a reply does when it arrives (`arrival`: classified,
//! stored with its reasons, queued when a manager's rule says so), and the queue a
//! manager works (`queue`: list, detail, claim, ignore, escalate, confirm or correct
//! the intent, take over, reply, and the SLA sweep), a member's flag on any message
//! (`flag`), and the tenant's own LLM asked
//! about replies the built-in classifier is unsure of (`refine`).

pub mod arrival;
mod flag;
mod queue;
pub mod refine;

pub use arrival::{delivery_event, reply_arrived, Arrival, Rules};
pub use flag::flag;
pub use queue::{act, filter_options, item, queue, respond, sla_sweep, PAGE};

use crate::db::Tx;
use crate::error::AppError;
use uuid::Uuid;

/// The `NOTIFY` channel open queue pages follow.
pub const CHANNEL: &str = "review_changes";

/// Tells open queue pages of the tenant to refresh (on commit); approvals too.
pub async fn changed(tx: &mut Tx, tenant_id: Uuid) -> Result<(), AppError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(serde_json::json!({ "t": tenant_id }).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
