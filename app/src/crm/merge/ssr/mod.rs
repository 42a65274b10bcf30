//! Finding and merging duplicates, and undoing a merge.
//!
//! A merge moves every row that points at the record folded in to the record kept,
//! deletes the folded one and writes down exactly what it moved. An undo moves those
//! rows back (and only those: what was added to the kept record since stays), puts
//! the deleted row back under its own id, and returns the kept record's fields to
//! their values before, where nobody has changed them since. Finding duplicates is in
//! `find`, undoing in `undo`; this file has what both share and the merge itself.

mod find;
mod undo;

pub use find::{duplicates, matching, merged_into, pairs};
pub use undo::undo;

use super::{FieldChoice, MergePreview};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::crm::activity;
use crate::crm::model::{ActivityKind, Entity};
use crate::db::{new_id, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::Env;
use serde_json::{json, Map, Value};
use uuid::Uuid;

pub const UNDO_DAYS: i64 = 30;

/// A column that points at a merged record, and the expression naming each row.
struct Link {
    table: &'static str,
    column: &'static str,
    key: &'static str,
}

const fn link(table: &'static str, column: &'static str) -> Link {
    Link {
        table,
        column,
        key: "id::text",
    }
}

/// Every reference to a contact (tests/it/merge.rs checks this against the
/// catalogue, so a new table pointing at contacts cannot be forgotten here).
const CONTACT_LINKS: &[Link] = &[
    link("activities", "contact_id"),
    link("deals", "contact_id"),
    link("leads", "contact_id"),
];

/// Every reference to a lead; its journey and list memberships are handled apart.
const LEAD_LINKS: &[Link] = &[
    link("activities", "lead_id"),
    link("deals", "lead_id"),
    link("messages", "lead_id"),
    link("enrollments", "lead_id"),
    link("review_items", "lead_id"),
    link("evidence", "lead_id"),
    link("reports", "lead_id"),
    Link {
        table: "integration_events",
        column: "lead_id",
        key: "connection_id::text || '/' || event_id",
    },
];

/// The tables and columns a merge of `entity` moves (for the catalogue check).
pub fn linked_columns(entity: Entity) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<_> = links(entity).iter().map(|l| (l.table, l.column)).collect();
    if entity == Entity::Lead {
        out.push(("lead_journeys", "lead_id"));
    }
    out
}

fn links(entity: Entity) -> &'static [Link] {
    match entity {
        Entity::Lead => LEAD_LINKS,
        _ => CONTACT_LINKS,
    }
}

/// A field a person chooses between: the form's key, the column, its label.
struct Field {
    key: &'static str,
    column: &'static str,
    label: &'static str,
}

const fn field(key: &'static str, column: &'static str, label: &'static str) -> Field {
    Field { key, column, label }
}

const CONTACT_FIELDS: &[Field] = &[
    field("name", "full_name", "field.name"),
    field("email", "email", "field.email"),
    field("phone", "phone_e164", "field.phone"),
    field("title", "title", "field.title"),
    field("company", "company_id", "field.company"),
    field("owner", "owner_id", "board.owner"),
];

const LEAD_FIELDS: &[Field] = &[
    field("name", "name", "field.name"),
    field("email", "email", "field.email"),
    field("phone", "phone_e164", "field.phone"),
    field("company", "company_id", "field.company"),
    field("source", "source", "field.source"),
    field("status", "status", "records.status"),
    field("score", "score", "field.score"),
    field("owner", "owner_id", "board.owner"),
];

/// Columns joined rather than chosen: the kept record's values win, the other's fill
/// the gaps (tags are the union of both).
fn joined_columns(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Lead => &["tags", "custom", "enrichment", "campaign"],
        _ => &["tags", "custom"],
    }
}

fn fields(entity: Entity) -> &'static [Field] {
    match entity {
        Entity::Lead => LEAD_FIELDS,
        _ => CONTACT_FIELDS,
    }
}

fn name_column(entity: Entity) -> &'static str {
    match entity {
        Entity::Lead => "name",
        _ => "full_name",
    }
}

fn mergeable(env: &Env, entity: Entity) -> Result<(), AppError> {
    match entity {
        Entity::Lead | Entity::Contact => Ok(()),
        _ => Err(AppError::NotFound(env.t("records.not_found"))),
    }
}

/// Both records, locked, as JSON rows; each must be one the member sees.
async fn lock_pair(
    env: &Env,
    tx: &mut Tx,
    scope: &Scope,
    entity: Entity,
    kept: Uuid,
    other: Uuid,
) -> Result<(Value, Value), AppError> {
    if kept == other {
        return Err(AppError::field("other_id", env.t("merge.same_record")));
    }
    // In id order, so two merges of the same pair cannot deadlock.
    let rows: Vec<(Uuid, Value)> = sqlx::query_as(&format!(
        "SELECT id, to_jsonb(r) FROM {} r WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        entity.table()
    ))
    .bind(vec![kept, other])
    .fetch_all(&mut **tx)
    .await?;
    let row = |id: Uuid| {
        rows.iter()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| r.clone())
            .filter(|r| scope.allows(r["owner_id"].as_str().and_then(|s| s.parse().ok())))
            .ok_or_else(|| AppError::NotFound(env.t("records.not_found")))
    };
    Ok((row(kept)?, row(other)?))
}

/// A field's value as a person reads it: a company's or member's name, a status's
/// label, the text otherwise.
async fn shown(env: &Env, tx: &mut Tx, field: &Field, row: &Value) -> Result<String, AppError> {
    let value = &row[field.column];
    let text = match value {
        Value::Null => return Ok(String::new()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let id = text.parse::<Uuid>().ok();
    Ok(match field.key {
        "company" => sqlx::query_scalar("SELECT name FROM companies WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or_default(),
        "owner" => sqlx::query_scalar(
            "SELECT u.name FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.user_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or_default(),
        "status" => env.t(&format!("status.{text}")),
        _ => text,
    })
}

/// The two records side by side, field by field.
pub async fn preview(
    env: &Env,
    entity: Entity,
    kept: Uuid,
    other: Uuid,
) -> Result<MergePreview, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let (kept_row, other_row) = lock_pair(env, &mut tx, &scope, entity, kept, other).await?;
    let mut choices = Vec::new();
    for f in fields(entity) {
        choices.push(FieldChoice {
            key: f.key.to_string(),
            label: env.t(f.label),
            kept: shown(env, &mut tx, f, &kept_row).await?,
            other: shown(env, &mut tx, f, &other_row).await?,
        });
    }
    let counts = moved_counts(&mut tx, entity, other).await?;
    tx.commit().await?;
    let name = |row: &Value| row[name_column(entity)].as_str().unwrap_or("").to_string();
    Ok(MergePreview {
        kept_name: name(&kept_row),
        other_name: name(&other_row),
        fields: choices,
        moves: counts,
    })
}

/// How many rows of each kind a merge would move from `other`.
async fn moved_counts(tx: &mut Tx, entity: Entity, other: Uuid) -> Result<i64, AppError> {
    let mut total = 0;
    for l in links(entity) {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE {} = $1",
            l.table, l.column
        ))
        .bind(other)
        .fetch_one(&mut **tx)
        .await?;
        total += n;
    }
    Ok(total)
}

/// Moves every reference of `from` to `to`, returning the rows moved per table.
async fn move_links(
    tx: &mut Tx,
    entity: Entity,
    from: Uuid,
    to: Uuid,
) -> Result<Map<String, Value>, AppError> {
    let mut moved = Map::new();
    for l in links(entity) {
        let keys: Vec<String> = sqlx::query_scalar(&format!(
            "UPDATE {t} SET {c} = $2 WHERE {c} = $1 RETURNING {k}",
            t = l.table,
            c = l.column,
            k = l.key
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?;
        moved.insert(l.table.to_string(), json!(keys));
    }
    // A list both were on keeps one membership; the other's is remembered to come back.
    let dropped: Vec<Uuid> = sqlx::query_scalar(
        "DELETE FROM list_members m WHERE record_id = $1
            AND EXISTS (SELECT 1 FROM list_members k WHERE k.list_id = m.list_id AND k.record_id = $2)
         RETURNING list_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    let lists: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE list_members SET record_id = $2 WHERE record_id = $1 RETURNING list_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    moved.insert("list_dropped".into(), json!(dropped));
    moved.insert("list_members".into(), json!(lists));
    if entity == Entity::Lead {
        // One journey per lead: the kept lead's stays; the other's moves over when the
        // kept lead has none, and is kept here otherwise.
        let kept_has: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM lead_journeys WHERE lead_id = $1)")
                .bind(to)
                .fetch_one(&mut **tx)
                .await?;
        if kept_has {
            let row: Option<Value> = sqlx::query_scalar(
                "DELETE FROM lead_journeys j WHERE lead_id = $1 RETURNING to_jsonb(j)",
            )
            .bind(from)
            .fetch_optional(&mut **tx)
            .await?;
            moved.insert("journey_dropped".into(), row.unwrap_or(Value::Null));
        } else {
            let n = sqlx::query("UPDATE lead_journeys SET lead_id = $2 WHERE lead_id = $1")
                .bind(from)
                .bind(to)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            moved.insert("journey_moved".into(), json!(n > 0));
        }
    }
    Ok(moved)
}

/// Folds `other` into `kept`, taking the fields named in `take` from `other`.
pub async fn merge(
    env: &Env,
    entity: Entity,
    kept: Uuid,
    other: Uuid,
    take: &[String],
) -> Result<Uuid, AppError> {
    mergeable(env, entity)?;
    let chosen: Vec<&Field> = take
        .iter()
        .map(|k| {
            fields(entity)
                .iter()
                .find(|f| f.key == k)
                .ok_or_else(|| AppError::field("take", env.t("merge.unknown_field")))
        })
        .collect::<Result<_, _>>()?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let (kept_row, other_row) = lock_pair(env, &mut tx, &scope, entity, kept, other).await?;
    if entity == Entity::Lead {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM enrollments WHERE lead_id = ANY($1) AND status IN ('ACTIVE', 'PAUSED')",
        )
        .bind(vec![kept, other])
        .fetch_one(&mut *tx)
        .await?;
        if open > 1 {
            return Err(AppError::Conflict(env.t("merge.both_enrolled")));
        }
    }
    let table = entity.table();
    let moved = move_links(&mut tx, entity, other, kept).await?;
    // Gone before the kept record takes its values: a contact's email is unique.
    sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
        .bind(other)
        .execute(&mut *tx)
        .await?;
    let mut sets: Vec<String> = chosen
        .iter()
        .map(|f| format!("{c} = o.{c}", c = f.column))
        .collect();
    for column in joined_columns(entity) {
        sets.push(match *column {
            "tags" => "tags = ARRAY(SELECT t FROM unnest(k.tags || o.tags) WITH ORDINALITY u(t, n)
                                     GROUP BY t ORDER BY min(n))"
                .to_string(),
            "custom" | "enrichment" => format!("{column} = o.{column} || k.{column}"),
            other => format!("{other} = coalesce(k.{other}, o.{other})"),
        });
    }
    sets.push("updated_at = now()".into());
    let kept_after: Value = sqlx::query_scalar(&format!(
        "UPDATE {table} k SET {} FROM jsonb_populate_record(NULL::{table}, $2) o
          WHERE k.id = $1 RETURNING to_jsonb(k)",
        sets.join(", ")
    ))
    .bind(kept)
    .bind(&other_row)
    .fetch_one(&mut *tx)
    .await?;
    let merged_name = other_row[name_column(entity)]
        .as_str()
        .unwrap_or("")
        .to_string();
    let merge_id = new_id();
    sqlx::query(
        "INSERT INTO record_merges (tenant_id, id, entity, kept_id, merged_id, merged_name,
                                    kept_before, kept_after, merged_row, moved, merged_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(p.tenant_id)
    .bind(merge_id)
    .bind(entity.code())
    .bind(kept)
    .bind(other)
    .bind(&merged_name)
    .bind(&kept_row)
    .bind(&kept_after)
    .bind(&other_row)
    .bind(Value::Object(moved))
    .bind(p.user_id)
    .execute(&mut *tx)
    .await?;
    let data = json!({ "merged": merged_name, "merge_id": merge_id });
    activity::log(&mut tx, p, entity, kept, ActivityKind::Merged, data).await?;
    deliver::record_changed(&mut tx, p.tenant_id, entity, &[other], "deleted").await?;
    deliver::record_changed(&mut tx, p.tenant_id, entity, &[kept], "updated").await?;
    let action = format!("{}.merged", entity.code().to_lowercase());
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(&action, table, Some(kept)).after(json!({
            "merge_id": merge_id, "merged_id": other, "merged_name": merged_name, "took": take,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(merge_id)
}
