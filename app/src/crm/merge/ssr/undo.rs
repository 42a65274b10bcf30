//! Undoing a merge of the last 30 days.

use super::{fields, joined_columns, links, UNDO_DAYS};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::crm::activity;
use crate::crm::model::{ActivityKind, Entity};
use crate::db::{violated_constraint, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::Env;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

/// The columns a row can be written back with (generated ones are computed).
async fn writable_columns(tx: &mut Tx, table: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute
          WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
          ORDER BY attnum",
    )
    .bind(table)
    .fetch_all(&mut **tx)
    .await
}

/// Puts a row back from its JSON, clearing references to rows deleted since.
async fn restore_row(
    tx: &mut Tx,
    table: &str,
    row: &Value,
    optional: &[(&str, &str)],
) -> Result<(), sqlx::Error> {
    let columns = writable_columns(tx, table).await?;
    let select: Vec<String> = columns
        .iter()
        .map(|c| match optional.iter().find(|(col, _)| col == c) {
            Some((col, target)) => {
                format!("(SELECT x.id FROM {target} x WHERE x.id = r.{col}) AS {col}")
            }
            None => format!("r.{c}"),
        })
        .collect();
    sqlx::query(&format!(
        "INSERT INTO {table} ({}) SELECT {} FROM jsonb_populate_record(NULL::{table}, $1) r",
        columns.join(", "),
        select.join(", ")
    ))
    .bind(row)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct MergeRow {
    entity: String,
    kept_id: Uuid,
    merged_id: Uuid,
    merged_name: String,
    kept_before: Value,
    kept_after: Value,
    merged_row: Value,
    moved: Value,
    created_at: DateTime<Utc>,
    undone_at: Option<DateTime<Utc>>,
}

/// Undoes a merge of the last 30 days; answers the record brought back.
pub async fn undo(env: &Env, merge_id: Uuid) -> Result<(Entity, Uuid), AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let not_found = || AppError::NotFound(env.t("records.not_found"));
    let m: MergeRow = sqlx::query_as(
        "SELECT entity, kept_id, merged_id, merged_name, kept_before, kept_after, merged_row, moved,
                created_at, undone_at
           FROM record_merges WHERE id = $1 FOR UPDATE",
    )
    .bind(merge_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    let entity = Entity::parse(&m.entity).ok_or_else(not_found)?;
    let table = entity.table();
    let kept_owner: Option<Option<Uuid>> = sqlx::query_scalar(&format!(
        "SELECT owner_id FROM {table} WHERE id = $1 FOR UPDATE"
    ))
    .bind(m.kept_id)
    .fetch_optional(&mut *tx)
    .await?;
    match kept_owner {
        Some(owner) if scope.allows(owner) => {}
        Some(_) => return Err(not_found()),
        None => return Err(AppError::Conflict(env.t("merge.kept_gone"))),
    }
    if m.undone_at.is_some() {
        return Err(AppError::Conflict(env.t("merge.already_undone")));
    }
    if m.created_at < Utc::now() - Duration::days(UNDO_DAYS) {
        return Err(AppError::Conflict(env.t("merge.too_old")));
    }
    // The kept record's fields go back where they still hold what the merge wrote.
    let mut columns: Vec<&str> = fields(entity).iter().map(|f| f.column).collect();
    columns.extend(joined_columns(entity));
    let sets: Vec<String> = columns
        .iter()
        .map(|c| {
            // A reference goes back only to a row that still exists.
            let exists = match *c {
                "company_id" => " AND (b.company_id IS NULL OR EXISTS (SELECT 1 FROM companies x WHERE x.id = b.company_id))",
                "owner_id" => " AND (b.owner_id IS NULL OR EXISTS (SELECT 1 FROM memberships x WHERE x.user_id = b.owner_id))",
                _ => "",
            };
            format!("{c} = CASE WHEN k.{c} IS NOT DISTINCT FROM a.{c}{exists} THEN b.{c} ELSE k.{c} END")
        })
        .collect();
    let restored = sqlx::query(&format!(
        "UPDATE {table} k SET {}, updated_at = now()
           FROM jsonb_populate_record(NULL::{table}, $2) b, jsonb_populate_record(NULL::{table}, $3) a
          WHERE k.id = $1",
        sets.join(", ")
    ))
    .bind(m.kept_id)
    .bind(&m.kept_before)
    .bind(&m.kept_after)
    .execute(&mut *tx)
    .await;
    // The kept contact's old address may have been given to another contact since.
    if let Err(e) = restored {
        return Err(match violated_constraint(&e) {
            Some(_) => AppError::Conflict(env.t("merge.restore_conflict")),
            None => e.into(),
        });
    }
    let optional: &[(&str, &str)] = match entity {
        Entity::Lead => &[("company_id", "companies"), ("contact_id", "contacts")],
        _ => &[("company_id", "companies")],
    };
    if let Err(e) = restore_row(&mut tx, table, &m.merged_row, optional).await {
        return Err(match violated_constraint(&e) {
            Some(_) => AppError::Conflict(env.t("merge.restore_conflict")),
            None => e.into(),
        });
    }
    let keys = |name: &str| -> Vec<String> {
        m.moved[name]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    for l in links(entity) {
        sqlx::query(&format!(
            "UPDATE {t} SET {c} = $2 WHERE {c} = $1 AND {k} = ANY($3)",
            t = l.table,
            c = l.column,
            k = l.key
        ))
        .bind(m.kept_id)
        .bind(m.merged_id)
        .bind(keys(l.table))
        .execute(&mut *tx)
        .await?;
    }
    let list_ids =
        |name: &str| -> Vec<Uuid> { keys(name).iter().filter_map(|s| s.parse().ok()).collect() };
    sqlx::query(
        "UPDATE list_members SET record_id = $2 WHERE record_id = $1 AND list_id = ANY($3)",
    )
    .bind(m.kept_id)
    .bind(m.merged_id)
    .bind(list_ids("list_members"))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO list_members (tenant_id, list_id, record_id)
         SELECT $1, l.id, $2 FROM lists l WHERE l.id = ANY($3)
         ON CONFLICT DO NOTHING",
    )
    .bind(p.tenant_id)
    .bind(m.merged_id)
    .bind(list_ids("list_dropped"))
    .execute(&mut *tx)
    .await?;
    if entity == Entity::Lead {
        if m.moved["journey_moved"] == json!(true) {
            sqlx::query("UPDATE lead_journeys SET lead_id = $2 WHERE lead_id = $1")
                .bind(m.kept_id)
                .bind(m.merged_id)
                .execute(&mut *tx)
                .await?;
        } else if m.moved["journey_dropped"].is_object() {
            restore_row(
                &mut tx,
                "lead_journeys",
                &m.moved["journey_dropped"],
                &[("assigned_phone_id", "wa_phone_numbers")],
            )
            .await?;
        }
    }
    sqlx::query("UPDATE record_merges SET undone_at = now(), undone_by = $2 WHERE id = $1")
        .bind(merge_id)
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?;
    let data = json!({ "merged": m.merged_name, "merge_id": merge_id });
    activity::log(
        &mut tx,
        p,
        entity,
        m.kept_id,
        ActivityKind::MergeUndone,
        data,
    )
    .await?;
    deliver::record_changed(&mut tx, p.tenant_id, entity, &[m.merged_id], "created").await?;
    deliver::record_changed(&mut tx, p.tenant_id, entity, &[m.kept_id], "updated").await?;
    let action = format!("{}.merge_undone", entity.code().to_lowercase());
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(&action, table, Some(m.kept_id))
            .after(json!({ "merge_id": merge_id, "restored_id": m.merged_id })),
    )
    .await?;
    tx.commit().await?;
    Ok((entity, m.merged_id))
}
