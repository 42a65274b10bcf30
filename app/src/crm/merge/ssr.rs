//! Finding and merging duplicates, and undoing a merge.
//!
//! A merge moves every row that points at the record folded in to the record kept,
//! deletes the folded one and writes down exactly what it moved. An undo moves those
//! rows back (and only those: what was added to the kept record since stays), puts
//! the deleted row back under its own id, and returns the kept record's fields to
//! their values before, where nobody has changed them since.

use super::{Candidate, Duplicates, FieldChoice, MergeInto, MergePreview, Pair, PastMerge};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::crm::activity;
use crate::crm::model::Entity;
use crate::db::{new_id, violated_constraint, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::Env;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use sqlx::Row;
use uuid::Uuid;

/// How long a merge can be undone.
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

/// The likely duplicates of a record the member sees, and the merges into it that can
/// still be undone.
pub async fn duplicates(env: &Env, entity: Entity, id: Uuid) -> Result<Duplicates, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    crate::crm::records::ssr::check_visible(env, &mut tx, &scope, entity, id).await?;
    let name = name_column(entity);
    let table = entity.table();
    // Same address once normalised, same number, or a name alike (the trigram index
    // finds candidates by word similarity; the full-name similarity decides).
    let rows = sqlx::query(&format!(
        "WITH me AS (SELECT id, email_norm(email::text) AS e, phone_e164 AS ph, search_norm({name}) AS n
                       FROM {table} WHERE id = $1)
         SELECT r.id, r.{name} AS name, r.email::text AS email, r.phone_e164, r.owner_id,
                coalesce(me.e IS NOT NULL AND email_norm(r.email::text) = me.e, false) AS same_email,
                coalesce(me.ph IS NOT NULL AND r.phone_e164 = me.ph, false) AS same_phone,
                similarity(search_norm(r.{name}), me.n) >= 0.5 AS similar_name
           FROM {table} r, me
          WHERE r.id <> me.id
            AND ((me.e IS NOT NULL AND r.email IS NOT NULL AND email_norm(r.email::text) = me.e)
                 OR (me.ph IS NOT NULL AND r.phone_e164 = me.ph)
                 OR (me.n <% r.search AND similarity(search_norm(r.{name}), me.n) >= 0.5))
          ORDER BY 6 DESC, 7 DESC, similarity(search_norm(r.{name}), me.n) DESC, r.id
          LIMIT 50"
    ))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let mut candidates = Vec::new();
    for r in rows {
        let owner: Option<Uuid> = r.try_get("owner_id")?;
        if !scope.allows(owner) {
            continue;
        }
        let mut reasons = Vec::new();
        for (column, reason) in [
            ("same_email", "email"),
            ("same_phone", "phone"),
            ("similar_name", "name"),
        ] {
            if r.try_get::<bool, _>(column)? {
                reasons.push(reason.to_string());
            }
        }
        candidates.push(Candidate {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone_e164")?,
            reasons,
        });
        if candidates.len() == 10 {
            break;
        }
    }
    let merges = sqlx::query(
        "SELECT m.id, m.merged_name, u.name AS merged_by, m.created_at, m.undone_at
           FROM record_merges m LEFT JOIN users u ON u.id = m.merged_by
          WHERE m.kept_id = $1 AND m.entity = $2 AND m.created_at > now() - make_interval(days => $3)
          ORDER BY m.created_at DESC LIMIT 20",
    )
    .bind(id)
    .bind(entity.code())
    .bind(UNDO_DAYS as i32)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| {
        Ok(PastMerge {
            id: r.try_get("id")?,
            merged_name: r.try_get("merged_name")?,
            merged_by: r.try_get("merged_by")?,
            at: r.try_get("created_at")?,
            undone: r.try_get::<Option<DateTime<Utc>>, _>("undone_at")?.is_some(),
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    tx.commit().await?;
    Ok(Duplicates { candidates, merges })
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
    activity::log(&mut tx, p, entity, kept, "MERGED", data).await?;
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
    activity::log(&mut tx, p, entity, m.kept_id, "MERGE_UNDONE", data).await?;
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

/// Where a record that is gone was merged to, if the member sees that record.
pub async fn merged_into(
    env: &Env,
    entity: Entity,
    id: Uuid,
) -> Result<Option<MergeInto>, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let found: Option<(Uuid, Option<Uuid>, String)> = sqlx::query_as(&format!(
        "SELECT r.id, r.owner_id, r.{name} FROM record_merges m JOIN {table} r ON r.id = m.kept_id
          WHERE m.merged_id = $1 AND m.entity = $2 AND m.undone_at IS NULL
          ORDER BY m.created_at DESC LIMIT 1",
        name = name_column(entity),
        table = entity.table()
    ))
    .bind(id)
    .bind(entity.code())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(found
        .filter(|(_, owner, _)| scope.allows(*owner))
        .map(|(id, _, name)| MergeInto { id, name }))
}

/// Pairs of likely duplicates across the workspace, among records the member sees: the
/// same address once normalised, the same number, or the same name once normalised.
/// Each test is an equality join, so this stays a few hash joins on a large workspace
/// (the similar-name test of a single record's card would compare every pair).
pub async fn pairs(env: &Env, entity: Entity) -> Result<Vec<Pair>, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let name = name_column(entity);
    let table = entity.table();
    let rows = sqlx::query(&format!(
        "WITH pairs AS (
            SELECT a.id AS a, b.id AS b FROM {table} a JOIN {table} b
                ON email_norm(b.email::text) = email_norm(a.email::text) AND b.id > a.id
             WHERE a.email IS NOT NULL AND b.email IS NOT NULL
            UNION
            SELECT a.id, b.id FROM {table} a JOIN {table} b ON b.phone_e164 = a.phone_e164 AND b.id > a.id
            UNION
            SELECT a.id, b.id FROM {table} a JOIN {table} b
                ON search_norm(b.{name}) = search_norm(a.{name}) AND b.id > a.id)
         SELECT a.id AS a_id, a.{name} AS a_name, a.email::text AS a_email, a.phone_e164 AS a_phone,
                a.owner_id AS a_owner,
                b.id AS b_id, b.{name} AS b_name, b.email::text AS b_email, b.phone_e164 AS b_phone,
                b.owner_id AS b_owner,
                coalesce(email_norm(a.email::text) = email_norm(b.email::text), false) AS same_email,
                coalesce(a.phone_e164 = b.phone_e164, false) AS same_phone,
                search_norm(a.{name}) = search_norm(b.{name}) AS same_name
           FROM pairs JOIN {table} a ON a.id = pairs.a JOIN {table} b ON b.id = pairs.b
          ORDER BY greatest(a.created_at, b.created_at) DESC, a.id, b.id
          LIMIT 500"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for r in rows {
        let (a_owner, b_owner): (Option<Uuid>, Option<Uuid>) =
            (r.try_get("a_owner")?, r.try_get("b_owner")?);
        if !scope.allows(a_owner) || !scope.allows(b_owner) {
            continue;
        }
        let mut reasons = Vec::new();
        for (column, reason) in [
            ("same_email", "email"),
            ("same_phone", "phone"),
            ("same_name", "name"),
        ] {
            if r.try_get::<bool, _>(column)? {
                reasons.push(reason.to_string());
            }
        }
        let side = |prefix: &str| -> Result<Candidate, sqlx::Error> {
            Ok(Candidate {
                id: r.try_get(format!("{prefix}_id").as_str())?,
                name: r.try_get(format!("{prefix}_name").as_str())?,
                email: r.try_get(format!("{prefix}_email").as_str())?,
                phone: r.try_get(format!("{prefix}_phone").as_str())?,
                reasons: reasons.clone(),
            })
        };
        out.push(Pair {
            first: side("a")?,
            second: side("b")?,
        });
        if out.len() == 100 {
            break;
        }
    }
    Ok(out)
}
