//! Changes to what hangs off records — activities and list membership — that the API
//! makes and the pages' bulk and timeline code does not cover: editing or deleting a
//! note, task, call or meeting, renaming or deleting a list, taking a record off one.
//! The same scope rules hold: a record out of the member's scope is not found.

use super::ssr::{bulk, check_visible, open};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Role;
use crate::crm::access::Scope;
use crate::crm::model::{ActivityKind, Entity};
use crate::crm::records::model::BulkAction;
use crate::db::{internal, violated_constraint, Tx};
use crate::error::AppError;
use crate::request::Env;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A change to a written activity; absent fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct ActivityEdit {
    pub subject: Option<String>,
    pub body: Option<String>,
    /// A task: done (completed now) or open again.
    pub done: Option<bool>,
}

/// The activity's kind and last change, if it is on a record the member may see;
/// locked for the change that follows.
async fn visible_activity(
    env: &Env,
    tx: &mut Tx,
    scope: &Scope,
    id: Uuid,
) -> Result<(ActivityKind, DateTime<Utc>), AppError> {
    let row: Option<ActivityOn> = sqlx::query_as(
        "SELECT kind, lead_id, contact_id, company_id, deal_id,
                coalesce(updated_at, occurred_at) AS updated_at
           FROM activities WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(on) = row else {
        return Err(AppError::NotFound(env.t("records.not_found")));
    };
    let (entity, record) = [
        (Entity::Lead, on.lead_id),
        (Entity::Contact, on.contact_id),
        (Entity::Company, on.company_id),
        (Entity::Deal, on.deal_id),
    ]
    .into_iter()
    .find_map(|(e, r)| r.map(|r| (e, r)))
    .ok_or_else(|| AppError::NotFound(env.t("records.not_found")))?;
    check_visible(env, tx, scope, entity, record).await?;
    Ok((on.kind, on.updated_at))
}

/// An activity's kind and the record it is on.
#[derive(sqlx::FromRow)]
struct ActivityOn {
    kind: ActivityKind,
    lead_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    company_id: Option<Uuid>,
    deal_id: Option<Uuid>,
    updated_at: DateTime<Utc>,
}

/// Refuses a change made from a stale read: `seen` is the last change the caller saw.
fn unchanged_since(
    env: &Env,
    seen: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match seen {
        Some(seen) if seen != now => Err(AppError::Conflict(env.t("records.stale"))),
        _ => Ok(()),
    }
}

pub async fn edit_activity(
    env: &Env,
    id: Uuid,
    edit: &ActivityEdit,
    seen: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let (kind, updated_at) = visible_activity(env, &mut tx, &scope, id).await?;
    unchanged_since(env, seen, updated_at)?;
    if !kind.is_written() {
        return Err(AppError::Conflict(env.t("timeline.not_editable")));
    }
    let subject = edit.subject.as_deref().map(str::trim);
    let body = edit.body.as_deref().map(str::trim);
    if subject.is_some_and(|s| s.chars().count() > 200)
        || body.is_some_and(|b| b.chars().count() > 10_000)
    {
        return Err(AppError::field("body", env.t("records.too_long")));
    }
    if kind == ActivityKind::Note && body == Some("") {
        return Err(AppError::field("body", env.t("timeline.note_required")));
    }
    if kind != ActivityKind::Note && subject == Some("") {
        return Err(AppError::field(
            "subject",
            env.t("timeline.subject_required"),
        ));
    }
    if edit.done.is_some() && kind != ActivityKind::Task {
        return Err(AppError::field("done", env.t("timeline.only_tasks_done")));
    }
    sqlx::query(
        "UPDATE activities SET subject = coalesce($2, subject), body = coalesce($3, body),
                updated_at = now(),
                done_at = CASE WHEN $4 IS NULL THEN done_at
                               WHEN $4 THEN coalesce(done_at, now()) ELSE NULL END
          WHERE id = $1",
    )
    .bind(id)
    .bind(subject)
    .bind(body)
    .bind(edit.done)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("activity.updated", "activities", Some(id)).after(serde_json::json!({
            "subject": subject, "body_changed": body.is_some(), "done": edit.done,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_activity(env: &Env, id: Uuid) -> Result<(), AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let (kind, _) = visible_activity(env, &mut tx, &scope, id).await?;
    if !kind.is_written() {
        return Err(AppError::Conflict(env.t("timeline.not_editable")));
    }
    sqlx::query("DELETE FROM activities WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("activity.deleted", "activities", Some(id))
            .after(serde_json::json!({ "kind": kind })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The list's entity, kind and last change, locked.
async fn list_of(
    env: &Env,
    tx: &mut Tx,
    id: Uuid,
) -> Result<(Entity, String, DateTime<Utc>), AppError> {
    let row: Option<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT entity, kind, coalesce(updated_at, created_at) FROM lists WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.and_then(|(e, k, at)| Entity::parse(&e).map(|e| (e, k, at)))
        .ok_or_else(|| AppError::NotFound(env.t("lists.not_found")))
}

pub async fn rename_list(
    env: &Env,
    id: Uuid,
    name: &str,
    seen: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    let (p, mut tx, _) = open(env).await?;
    let (_, _, updated_at) = list_of(env, &mut tx, id).await?;
    unchanged_since(env, seen, updated_at)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field("name", env.t("lists.name_required")));
    }
    sqlx::query("UPDATE lists SET name = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(|e| match violated_constraint(&e).as_deref() {
            Some("lists_tenant_id_entity_name_key") => {
                AppError::field("name", env.t("lists.name_taken"))
            }
            _ => internal(e),
        })?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("list.renamed", "lists", Some(id))
            .after(serde_json::json!({ "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deleting a list removes its memberships, never its records; a manager's call, as
/// deleting records is.
pub async fn delete_list(env: &Env, id: Uuid) -> Result<(), AppError> {
    let (p, mut tx, _) = open(env).await?;
    if p.role < Role::Manager {
        return Err(AppError::Forbidden(env.t("lists.delete_forbidden")));
    }
    list_of(env, &mut tx, id).await?;
    sqlx::query("DELETE FROM lists WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("list.deleted", "lists", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Puts records on a static list (the bulk action's rules); how many were new there.
pub async fn add_to_list(env: &Env, id: Uuid, records: &[Uuid]) -> Result<u64, AppError> {
    let (_, mut tx, _) = open(env).await?;
    let (entity, _, _) = list_of(env, &mut tx, id).await?;
    tx.commit().await?;
    bulk(env, entity, records, &BulkAction::AddToList(id)).await
}

pub async fn remove_from_list(env: &Env, id: Uuid, record: Uuid) -> Result<(), AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let (entity, kind, _) = list_of(env, &mut tx, id).await?;
    if kind != "STATIC" {
        return Err(AppError::field("list_id", env.t("lists.not_static")));
    }
    check_visible(env, &mut tx, &scope, entity, record).await?;
    let removed = sqlx::query("DELETE FROM list_members WHERE list_id = $1 AND record_id = $2")
        .bind(id)
        .bind(record)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(AppError::NotFound(env.t("lists.not_a_member")));
    }
    sqlx::query("UPDATE lists SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO activities (tenant_id, id, kind, {}, actor_id, data)
         VALUES ($1, gen_random_uuid(), 'LIST_REMOVE', $2, $3,
                 jsonb_build_object('list', (SELECT name FROM lists WHERE id = $4)))",
        entity.activity_column()
    ))
    .bind(p.tenant_id)
    .bind(record)
    .bind(p.actor())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("list.member_removed", "lists", Some(id))
            .after(serde_json::json!({ "record_id": record })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
