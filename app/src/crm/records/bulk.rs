//! Bulk actions on the rows a member picked in a table, and saved lists.

use super::model::*;
use super::ssr::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Role;
use crate::crm::model::{ActivityKind, Entity, RecordFilter};
use crate::db::{internal, new_id, violated_constraint, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::Env;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

pub async fn bulk(
    env: &Env,
    entity: Entity,
    ids: &[Uuid],
    action: &BulkAction,
) -> Result<u64, AppError> {
    if ids.is_empty() || ids.len() > 1000 {
        return Err(AppError::field("ids", env.t("records.bulk_count")));
    }
    let (p, mut tx, scope) = open(env).await?;
    if matches!(action, BulkAction::Delete) && p.role < Role::Manager {
        return Err(AppError::Forbidden(env.t("records.delete_forbidden")));
    }
    // Only the selected rows the member may touch.
    let mut q = QueryBuilder::new(format!(
        "SELECT r.id FROM {} r WHERE r.id = ANY(",
        entity.table()
    ));
    q.push_bind(ids.to_vec()).push(")");
    scope.push(&mut q, "r.owner_id");
    let targets: Vec<Uuid> = q.build_query_scalar().fetch_all(&mut *tx).await?;
    if targets.len() != ids.len() {
        return Err(AppError::NotFound(env.t("records.not_found")));
    }
    let table = entity.table();
    let column = entity.activity_column();
    let changed = match action {
        BulkAction::Assign(owner) => {
            if !scope.allows(*owner) {
                return Err(AppError::field(
                    "owner_id",
                    env.t("board.owner_out_of_scope"),
                ));
            }
            let n = sqlx::query(&format!(
                "UPDATE {table} SET owner_id = $2, updated_at = now() WHERE id = ANY($1)"
            ))
            .bind(&targets)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_error(env, e))?
            .rows_affected();
            sqlx::query(&format!(
                "INSERT INTO activities (tenant_id, id, kind, {column}, actor_id, data)
                 SELECT $1, gen_random_uuid(), 'ASSIGNMENT', t, $3, jsonb_build_object('to', $4::uuid,
                        'to_name', (SELECT name FROM users WHERE id = $4))
                   FROM unnest($2::uuid[]) t"
            ))
            .bind(p.tenant_id)
            .bind(&targets)
            .bind(p.actor())
            .bind(owner)
            .execute(&mut *tx)
            .await
            ?;
            n
        }
        BulkAction::Tag(tag) => {
            let tags = parse_tags(tag);
            if tags.is_empty() {
                return Err(AppError::field("tag", env.t("records.tag_required")));
            }
            sqlx::query(&format!(
                "UPDATE {table} SET tags = ARRAY(SELECT DISTINCT unnest(tags || $2::text[])), updated_at = now()
                  WHERE id = ANY($1)"
            ))
            .bind(&targets)
            .bind(&tags)
            .execute(&mut *tx)
            .await
            ?
            .rows_affected()
        }
        BulkAction::AddToList(list_id) => {
            touch_static_list(env, &mut tx, entity, *list_id).await?;
            let n = sqlx::query(
                "INSERT INTO list_members (tenant_id, list_id, record_id)
                 SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING",
            )
            .bind(p.tenant_id)
            .bind(list_id)
            .bind(&targets)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            log_list_change(
                &mut tx,
                p,
                column,
                ActivityKind::ListAdd,
                &targets,
                *list_id,
            )
            .await?;
            n
        }
        BulkAction::RemoveFromList(list_id) => {
            touch_static_list(env, &mut tx, entity, *list_id).await?;
            // Only members leave, and only they get a timeline entry.
            let removed: Vec<Uuid> = sqlx::query_scalar(
                "DELETE FROM list_members WHERE list_id = $1 AND record_id = ANY($2) RETURNING record_id",
            )
            .bind(list_id)
            .bind(&targets)
            .fetch_all(&mut *tx)
            .await?;
            log_list_change(
                &mut tx,
                p,
                column,
                ActivityKind::ListRemove,
                &removed,
                *list_id,
            )
            .await?;
            removed.len() as u64
        }
        BulkAction::Delete => sqlx::query(&format!("DELETE FROM {table} WHERE id = ANY($1)"))
            .bind(&targets)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    };
    let event = match action {
        BulkAction::Assign(_) | BulkAction::Tag(_) => Some("updated"),
        BulkAction::Delete => Some("deleted"),
        BulkAction::AddToList(_) | BulkAction::RemoveFromList(_) => None,
    };
    if let Some(event) = event {
        deliver::record_changed(&mut tx, p.tenant_id, entity, &targets, event).await?;
    }
    let action_name = match action {
        BulkAction::Assign(_) => "bulk.assigned",
        BulkAction::Tag(_) => "bulk.tagged",
        BulkAction::AddToList(_) => "bulk.listed",
        BulkAction::RemoveFromList(_) => "bulk.unlisted",
        BulkAction::Delete => "bulk.deleted",
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(action_name, table, None).after(serde_json::json!({
            "ids": targets, "action": action,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(changed)
}

/// A static list of `entity`, marked changed now; else a field error.
async fn touch_static_list(
    env: &Env,
    tx: &mut Tx,
    entity: Entity,
    list_id: Uuid,
) -> Result<(), AppError> {
    let kind: Option<String> =
        sqlx::query_scalar("SELECT kind FROM lists WHERE id = $1 AND entity = $2")
            .bind(list_id)
            .bind(entity.code())
            .fetch_optional(&mut **tx)
            .await?;
    if kind.as_deref() != Some("STATIC") {
        return Err(AppError::field("list_id", env.t("lists.not_static")));
    }
    sqlx::query("UPDATE lists SET updated_at = now() WHERE id = $1")
        .bind(list_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A LIST_ADD or LIST_REMOVE timeline entry on each record, naming the list.
async fn log_list_change(
    tx: &mut Tx,
    p: &crate::request::Principal,
    column: &str,
    kind: ActivityKind,
    records: &[Uuid],
    list_id: Uuid,
) -> Result<(), AppError> {
    sqlx::query(&format!(
        "INSERT INTO activities (tenant_id, id, kind, {column}, actor_id, data)
         SELECT $1, gen_random_uuid(), $5, t, $3,
                jsonb_build_object('list', (SELECT name FROM lists WHERE id = $4))
           FROM unnest($2::uuid[]) t"
    ))
    .bind(p.tenant_id)
    .bind(records)
    .bind(p.actor())
    .bind(list_id)
    .bind(kind)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn lists(env: &Env, entity: Entity) -> Result<Vec<ListRef>, AppError> {
    let (p, mut tx, _) = open(env).await?;
    let manager = p.role >= Role::Manager;
    let lists = sqlx::query(
        "SELECT id, name, kind, description, color, owner_id FROM lists WHERE entity = $1 ORDER BY name",
    )
    .bind(entity.code())
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(ListRef {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            smart: r.try_get::<String, _>("kind")? == "SMART",
            description: r.try_get("description")?,
            color: r.try_get("color")?,
            editable: manager || r.try_get::<Option<Uuid>, _>("owner_id")? == p.actor(),
        })
    })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    tx.commit().await?;
    Ok(lists)
}

/// A list's name, description and colour, changed by its owner or a manager and up.
pub async fn update_list(
    env: &Env,
    id: Uuid,
    name: &str,
    description: &str,
    color: &str,
) -> Result<(), AppError> {
    let (p, mut tx, _) = open(env).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field("name", env.t("lists.name_required")));
    }
    let description = description.trim();
    if description.chars().count() > 500 || description.contains('\0') {
        return Err(AppError::field(
            "description",
            env.t("lists.description_too_long"),
        ));
    }
    let color = color.trim().to_ascii_lowercase();
    let hex = color.len() == 7
        && color.starts_with('#')
        && color[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        return Err(AppError::field("color", env.t("lists.color_invalid")));
    }
    let before: Option<serde_json::Value> = sqlx::query_scalar(
        "UPDATE lists l SET name = $2, description = $3, color = $4
           FROM (SELECT id, name, description, color FROM lists WHERE id = $1 FOR UPDATE) old
          WHERE l.id = old.id AND (l.owner_id = $5 OR $6)
          RETURNING jsonb_build_object('name', old.name, 'description', old.description, 'color', old.color)",
    )
    .bind(id)
    .bind(name)
    .bind((!description.is_empty()).then_some(description))
    .bind(&color)
    .bind(p.actor())
    .bind(p.role >= Role::Manager)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("lists_tenant_id_entity_name_key") => AppError::field("name", env.t("lists.name_taken")),
        _ => internal(e),
    })?;
    let Some(before) = before else {
        return Err(AppError::NotFound(env.t("lists.not_found")));
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("list.updated", "lists", Some(id)).change(
            before,
            serde_json::json!({ "name": name, "description": description, "color": color }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A static list, or a smart list that saves `filter` and re-evaluates it when opened.
pub async fn create_list(
    env: &Env,
    entity: Entity,
    name: &str,
    smart: Option<&RecordFilter>,
) -> Result<Uuid, AppError> {
    let (p, mut tx, _) = open(env).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field("name", env.t("lists.name_required")));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO lists (tenant_id, id, name, entity, kind, filter, owner_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(name)
    .bind(entity.code())
    .bind(if smart.is_some() { "SMART" } else { "STATIC" })
    .bind(serde_json::to_value(smart).map_err(internal)?)
    .bind(p.actor())
    .execute(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("lists_tenant_id_entity_name_key") => AppError::field("name", env.t("lists.name_taken")),
        _ => internal(e),
    })?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("list.created", "lists", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
