//! A member flags any message on a lead's page for a manager to look at: a MANUAL
//! queue item, with the member's note, due by the MEDIUM SLA.

use super::arrival::rules;
use super::changed;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::crm::model::Entity;
use crate::crm::records::ssr::check_visible;
use crate::db::new_id;
use crate::error::AppError;
use crate::request::Env;
use crate::review::model::{Reason, Urgency};
use uuid::Uuid;

/// Longest note a member may add to a flag.
pub const NOTE_MAX: usize = 500;

pub async fn flag(env: &Env, message_id: Uuid, note: &str) -> Result<Uuid, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let note = note.trim();
    if note.chars().count() > NOTE_MAX || note.contains('\0') {
        return Err(AppError::field("note", env.t("review.flag.note_long")));
    }
    let mut tx = env.tx(p).await?;
    let lead_id: Option<Uuid> = sqlx::query_scalar("SELECT lead_id FROM messages WHERE id = $1")
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(lead_id) = lead_id else {
        return Err(AppError::NotFound(env.t("review.flag.no_message")));
    };
    // The lead must be one the member may see: a rep flags only what is theirs.
    let scope = Scope::load(&mut tx, p).await?;
    check_visible(env, &mut tx, &scope, Entity::Lead, lead_id).await?;
    let rules = rules(&mut tx).await?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO review_items (tenant_id, id, lead_id, message_id, reason, priority, sla_due_at, note, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, review_sla_due($1, $7), nullif($8, ''), $9)
         ON CONFLICT (tenant_id, message_id) WHERE message_id IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(p.tenant_id)
    .bind(new_id())
    .bind(lead_id)
    .bind(message_id)
    .bind(Reason::Manual.code())
    .bind(Urgency::Medium.code())
    .bind(rules.sla_minutes(Urgency::Medium))
    .bind(note)
    .bind(p.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Err(AppError::Conflict(env.t("review.flag.already")));
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("review_item.flagged", "review_item", Some(id))
            .after(serde_json::json!({ "message_id": message_id, "note": note })),
    )
    .await?;
    changed(&mut tx, p.tenant_id).await?;
    tx.commit().await?;
    Ok(id)
}
