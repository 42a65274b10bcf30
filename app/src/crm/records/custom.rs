//! Custom fields: the workspace's definitions, and values checked against them as a
//! form or the API sends them.

use super::model::*;
use super::ssr::{open, parse_tags};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::model::Entity;
use crate::db::{internal, new_id, violated_constraint, Tx};
use crate::error::AppError;
use crate::request::Env;
use chrono::NaiveDate;
use std::collections::HashMap;
use uuid::Uuid;

/// A definition as stored; its entity is checked into [`Entity`] on the way out.
#[derive(sqlx::FromRow)]
struct FieldRow {
    id: Uuid,
    entity: String,
    key: String,
    label: String,
    kind: String,
    options: Vec<String>,
    required: bool,
}

pub async fn custom_fields(
    tx: &mut Tx,
    entity: Option<Entity>,
) -> Result<Vec<CustomField>, AppError> {
    let rows: Vec<FieldRow> = sqlx::query_as(
        "SELECT id, entity, key, label, kind, options, required FROM custom_fields
          WHERE $1::text IS NULL OR entity = $1 ORDER BY entity, position, label",
    )
    .bind(entity.map(Entity::code))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(CustomField {
                id: r.id,
                entity: Entity::parse(&r.entity)?,
                key: r.key,
                label: r.label,
                kind: r.kind,
                options: r.options,
                required: r.required,
            })
        })
        .collect())
}

/// Checks custom field values against the tenant's definitions; the error names the
/// field as `custom.<key>` so the form can show it in place.
pub(super) fn check_custom(
    env: &Env,
    defs: &[CustomField],
    values: &HashMap<String, String>,
    creating: bool,
) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
    let mut out = serde_json::Map::new();
    for key in values.keys() {
        if !defs.iter().any(|d| &d.key == key) {
            return Err(AppError::field(
                &format!("custom.{key}"),
                env.t("records.unknown_field"),
            ));
        }
    }
    for def in defs {
        let field = format!("custom.{}", def.key);
        let Some(raw) = values.get(&def.key) else {
            if creating && def.required {
                return Err(AppError::field(&field, env.t("fields.required")));
            }
            continue;
        };
        if raw.contains('\0') {
            return Err(AppError::field(&field, env.t("records.nul_character")));
        }
        let text = raw.trim();
        if text.is_empty() {
            if def.required {
                return Err(AppError::field(&field, env.t("fields.required")));
            }
            out.insert(def.key.clone(), serde_json::Value::Null);
            continue;
        }
        let value = match def.kind.as_str() {
            "NUMBER" => match text.replace(',', "").parse::<f64>() {
                // Whole numbers stay whole ("5000000", not "5000000.0").
                Ok(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9e15 => {
                    serde_json::json!(n as i64)
                }
                Ok(n) if n.is_finite() => serde_json::json!(n),
                _ => return Err(AppError::field(&field, env.t("fields.number_invalid"))),
            },
            "DATE" => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) => serde_json::json!(d.to_string()),
                Err(_) => return Err(AppError::field(&field, env.t("board.date_invalid"))),
            },
            "SELECT" => {
                if !def.options.iter().any(|o| o == text) {
                    return Err(AppError::field(&field, env.t("fields.option_invalid")));
                }
                serde_json::json!(text)
            }
            _ => {
                if text.chars().count() > 500 {
                    return Err(AppError::field(&field, env.t("records.too_long")));
                }
                serde_json::json!(text)
            }
        };
        out.insert(def.key.clone(), value);
    }
    Ok(out)
}

/// A custom field's value as text for a form or the facts list.
pub(super) fn custom_text(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

pub async fn list_custom_fields(env: &Env) -> Result<Vec<CustomField>, AppError> {
    let (_, mut tx, _) = open(env).await?;
    let defs = custom_fields(&mut tx, None).await?;
    tx.commit().await?;
    Ok(defs)
}

pub struct NewCustomField {
    pub entity: String,
    pub key: String,
    pub label: String,
    pub kind: String,
    pub options: String,
    pub required: bool,
}

pub async fn add_custom_field(env: &Env, input: &NewCustomField) -> Result<Uuid, AppError> {
    let p = env.require(Permission::TenantSettings)?;
    let entity = Entity::parse(&input.entity)
        .ok_or_else(|| AppError::field("entity", env.t("fields.entity_invalid")))?;
    let key = input.key.trim().to_ascii_lowercase();
    let key_ok = key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !key_ok {
        return Err(AppError::field("key", env.t("fields.key_invalid")));
    }
    let label = input.label.trim();
    if label.is_empty() || label.chars().count() > 80 {
        return Err(AppError::field("label", env.t("fields.label_required")));
    }
    let kind = input.kind.trim().to_ascii_uppercase();
    if !CUSTOM_KINDS.contains(&kind.as_str()) {
        return Err(AppError::field("kind", env.t("fields.kind_invalid")));
    }
    let options = parse_tags(&input.options);
    if kind == "SELECT" && options.is_empty() {
        return Err(AppError::field("options", env.t("fields.options_required")));
    }
    let mut tx = env.tx(p).await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO custom_fields (tenant_id, id, entity, key, label, kind, options, required, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, (SELECT count(*) FROM custom_fields WHERE entity = $3))",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(entity.code())
    .bind(&key)
    .bind(label)
    .bind(&kind)
    .bind(if kind == "SELECT" { options } else { Vec::new() })
    .bind(input.required)
    .execute(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("custom_fields_tenant_id_entity_key_key") => {
            AppError::field("key", env.t("fields.key_taken"))
        }
        _ => internal(e),
    })?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("custom_field.created", "custom_fields", Some(id))
            .after(serde_json::json!({ "entity": entity.code(), "key": key, "kind": kind })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn remove_custom_field(env: &Env, id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::TenantSettings).await?;
    let removed = sqlx::query("DELETE FROM custom_fields WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(AppError::NotFound(env.t("fields.not_found")));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("custom_field.deleted", "custom_fields", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
