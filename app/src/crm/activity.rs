//! System events on a record's timeline (created, stage and status changes,
//! assignments), written in the same transaction as the change they describe.

use super::model::{ActivityKind, Entity};
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::request::Principal;
use uuid::Uuid;

pub async fn log(
    tx: &mut Tx,
    member: &Principal,
    entity: Entity,
    record: Uuid,
    kind: ActivityKind,
    data: serde_json::Value,
) -> Result<(), AppError> {
    sqlx::query(&format!(
        "INSERT INTO activities (tenant_id, id, kind, {}, actor_id, data) VALUES ($1, $2, $3, $4, $5, $6)",
        entity.activity_column()
    ))
    .bind(member.tenant_id)
    .bind(new_id())
    .bind(kind)
    .bind(record)
    .bind(member.actor())
    .bind(data)
    .execute(&mut **tx)
    .await
    ?;
    Ok(())
}
