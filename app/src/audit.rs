//! Appends to the audit log, in the same transaction as the change it records.

use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::request::{Principal, RequestCtx};
use uuid::Uuid;

pub struct AuditEntry<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<Uuid>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl<'a> AuditEntry<'a> {
    pub fn new(action: &'a str, entity_type: &'a str, entity_id: Option<Uuid>) -> Self {
        AuditEntry {
            action,
            entity_type,
            entity_id,
            before: None,
            after: None,
        }
    }

    pub fn change(mut self, before: serde_json::Value, after: serde_json::Value) -> Self {
        self.before = Some(before);
        self.after = Some(after);
        self
    }

    pub fn after(mut self, after: serde_json::Value) -> Self {
        self.after = Some(after);
        self
    }
}

pub async fn record(
    tx: &mut Tx,
    ctx: &RequestCtx,
    tenant_id: Uuid,
    actor: Option<Uuid>,
    entry: AuditEntry<'_>,
) -> Result<(), AppError> {
    insert(tx, Some(ctx), tenant_id, actor, None, entry).await
}

/// Records what a worker did on its own (a period roll, a renewal): no person, no
/// request.
pub async fn by_worker(
    tx: &mut Tx,
    tenant_id: Uuid,
    entry: AuditEntry<'_>,
) -> Result<(), AppError> {
    insert(tx, None, tenant_id, None, None, entry).await
}

async fn insert(
    tx: &mut Tx,
    ctx: Option<&RequestCtx>,
    tenant_id: Uuid,
    actor: Option<Uuid>,
    api_key: Option<Uuid>,
    entry: AuditEntry<'_>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_logs (id, tenant_id, actor_user_id, action, entity_type, entity_id,
                                 before, after, ip, user_agent, request_id, actor_api_key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(new_id())
    .bind(tenant_id)
    .bind(actor)
    .bind(entry.action)
    .bind(entry.entity_type)
    .bind(entry.entity_id)
    .bind(entry.before)
    .bind(entry.after)
    .bind(ctx.and_then(|c| c.ip.as_deref()))
    .bind(ctx.and_then(|c| c.user_agent.as_deref()))
    .bind(ctx.map(|c| c.request_id.as_str()))
    .bind(api_key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records an action of the signed-in member in their current tenant.
pub async fn by_member(
    tx: &mut Tx,
    ctx: &RequestCtx,
    member: &Principal,
    entry: AuditEntry<'_>,
) -> Result<(), AppError> {
    insert(
        tx,
        Some(ctx),
        member.tenant_id,
        member.actor(),
        member.api_key,
        entry,
    )
    .await
}
