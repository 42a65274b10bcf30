//! What inventory is made of, set up by its editors: developers and projects, units,
//! and the unit and component types (the global catalogue plus the tenant's own).

use crate::error::AppError;
use chrono::NaiveDate;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

pub const PROJECT_STATUSES: [&str; 4] = ["PLANNED", "SELLING", "SOLD_OUT", "DELIVERED"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ProjectRow {
    pub id: Uuid,
    pub developer: Option<String>,
    pub name: String,
    pub location: Option<String>,
    pub status: String,
    pub delivery_on: Option<NaiveDate>,
    pub description: Option<String>,
    pub units: i64,
    pub available: i64,
    /// The cover picture's address, when one was uploaded.
    pub cover_url: Option<String>,
}

/// A unit or component type: a code every tenant has (`global`) or the tenant's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TypeRow {
    pub code: String,
    pub label: String,
    pub kind: String,
    pub global: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub projects: Vec<ProjectRow>,
    pub types: Vec<TypeRow>,
    /// The viewer may change projects, units, types and plans.
    pub can_edit: bool,
    /// How long a hold lasts, and how long before its end its holder is told.
    pub hold_hours: i32,
    pub hold_reminder_hours: i32,
    /// A held unit is reserved when its deal reaches a stage this likely to close;
    /// `None`: never.
    pub reserve_at: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectInput {
    pub id: Option<Uuid>,
    pub developer: String,
    pub name: String,
    pub location: String,
    pub status: String,
    /// `YYYY-MM-DD`, or empty.
    pub delivery_on: String,
    pub description: String,
}

/// A new unit as typed: numbers stay text so each gets its own message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnitInput {
    pub project_id: String,
    pub code: String,
    pub type_code: String,
    pub building: String,
    pub floor: String,
    pub size_sqm: String,
    pub bedrooms: String,
    pub bathrooms: String,
    pub view: String,
    pub price: String,
    pub currency: String,
}

#[server]
pub async fn get_catalog() -> Result<Catalog, AppError> {
    respond(async { ssr::catalog(&env()?).await }).await
}

#[server]
pub async fn save_project(input: ProjectInput) -> Result<Uuid, AppError> {
    respond(async { ssr::save_project(&env()?, &input).await }).await
}

#[server]
pub async fn create_unit(input: UnitInput) -> Result<Uuid, AppError> {
    respond(async { ssr::create_unit(&env()?, &input).await }).await
}

#[server]
pub async fn save_unit_type(code: String, label: String, kind: String) -> Result<(), AppError> {
    respond(async { ssr::save_type(&env()?, &code, &label, &kind).await }).await
}

/// The workspace's hold period and reminder, in hours (a reminder of 0 sends none),
/// and the stage probability from which a held unit is reserved (blank: never).
#[server]
pub async fn save_hold_policy(
    hours: String,
    reminder_hours: String,
    #[server(default)] reserve_at: String,
) -> Result<(), AppError> {
    respond(async { ssr::save_hold_policy(&env()?, &hours, &reminder_hours, &reserve_at).await })
        .await
}

#[server]
pub async fn delete_unit_type(code: String) -> Result<(), AppError> {
    respond(async { ssr::delete_type(&env()?, &code).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::db::new_id;
    use crate::request::Env;

    /// Refuses, on `project_id`, a project the tenant does not have (RLS hides others').
    pub(crate) async fn project_in_tenant(
        env: &Env,
        tx: &mut crate::db::Tx,
        project_id: Uuid,
    ) -> Result<(), AppError> {
        let project: Option<Uuid> = sqlx::query_scalar("SELECT id FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_optional(&mut **tx)
            .await?;
        match project {
            Some(_) => Ok(()),
            None => Err(AppError::field(
                "project_id",
                env.t("inventory.upload.project"),
            )),
        }
    }

    pub async fn catalog(env: &Env) -> Result<Catalog, AppError> {
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let projects: Vec<ProjectRow> = sqlx::query_as(
            "SELECT p.id, d.name AS developer, p.name, p.location, p.status, p.delivery_on, p.description,
                    count(u.id) AS units, count(u.id) FILTER (WHERE u.status = 'AVAILABLE') AS available,
                    CASE WHEN p.cover_key IS NOT NULL
                         THEN '/files/projects/' || p.id || '/cover?v=' || p.cover_version END AS cover_url
               FROM projects p
               LEFT JOIN developers d ON d.id = p.developer_id
               LEFT JOIN units u ON u.project_id = p.id
              GROUP BY p.id, d.name ORDER BY p.name",
        )
        .fetch_all(&mut *tx)
        .await?;
        let types = types(&mut tx).await?;
        let (hold_hours, hold_reminder_hours, reserve_at): (i32, i32, Option<i32>) =
            sqlx::query_as(
                "SELECT coalesce((SELECT hold_hours FROM tenant_policies), 48),
                    coalesce((SELECT hold_reminder_hours FROM tenant_policies), 6),
                    CASE WHEN EXISTS (SELECT 1 FROM tenant_policies)
                         THEN (SELECT reserve_at_probability FROM tenant_policies) ELSE 75 END",
            )
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Catalog {
            projects,
            types,
            can_edit: p.may(Permission::InventoryEdit),
            hold_hours,
            hold_reminder_hours,
            reserve_at,
        })
    }

    pub async fn save_hold_policy(
        env: &Env,
        hours: &str,
        reminder: &str,
        reserve_at: &str,
    ) -> Result<(), AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let hours = number::<i32>(env, hours, "hours", "inventory.holds.hours", 1..=720)?
            .ok_or_else(|| AppError::field("hours", env.t("inventory.holds.hours")))?;
        let reminder = number::<i32>(
            env,
            reminder,
            "reminder_hours",
            "inventory.holds.reminder",
            0..=168,
        )?
        .unwrap_or(0);
        let reserve_at = number::<i32>(
            env,
            reserve_at,
            "reserve_at",
            "inventory.holds.reserve_at",
            1..=99,
        )?;
        let mut tx = env.tx(p).await?;
        sqlx::query(
            "INSERT INTO tenant_policies (tenant_id, hold_hours, hold_reminder_hours, reserve_at_probability)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id) DO UPDATE SET hold_hours = EXCLUDED.hold_hours,
                 hold_reminder_hours = EXCLUDED.hold_reminder_hours,
                 reserve_at_probability = EXCLUDED.reserve_at_probability",
        )
        .bind(p.tenant_id)
        .bind(hours)
        .bind(reminder)
        .bind(reserve_at)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("holds.policy_saved", "tenant_policies", None).after(
                serde_json::json!({
                    "hold_hours": hours,
                    "hold_reminder_hours": reminder,
                    "reserve_at_probability": reserve_at,
                }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn types(tx: &mut crate::db::Tx) -> Result<Vec<TypeRow>, AppError> {
        Ok(sqlx::query_as(
            "SELECT code, label, kind, true AS global FROM unit_type_catalog
              WHERE code NOT IN (SELECT code FROM unit_types)
             UNION ALL
             SELECT code, label, kind, false FROM unit_types
              ORDER BY kind DESC, code",
        )
        .fetch_all(&mut **tx)
        .await?)
    }

    pub(crate) fn text(
        value: &str,
        max: usize,
        field: &str,
        env: &Env,
        key: &str,
    ) -> Result<Option<String>, AppError> {
        let v = value.trim();
        if v.chars().count() > max || v.contains('\0') {
            return Err(AppError::field(field, env.t(key)));
        }
        Ok(Some(v.to_string()).filter(|v| !v.is_empty()))
    }

    pub async fn save_project(env: &Env, input: &ProjectInput) -> Result<Uuid, AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let name = text(&input.name, 200, "name", env, "inventory.project_form.name")?
            .ok_or_else(|| AppError::field("name", env.t("inventory.project_form.name")))?;
        let developer = text(
            &input.developer,
            200,
            "developer",
            env,
            "inventory.project_form.developer",
        )?;
        let location = text(
            &input.location,
            300,
            "location",
            env,
            "inventory.project_form.location",
        )?;
        let description = text(
            &input.description,
            5000,
            "description",
            env,
            "inventory.project_form.description",
        )?;
        let status = PROJECT_STATUSES
            .into_iter()
            .find(|s| *s == input.status.trim())
            .ok_or_else(|| AppError::field("status", env.t("inventory.project_form.status")))?;
        let delivery_on = match input.delivery_on.trim() {
            "" => None,
            d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                AppError::field("delivery_on", env.t("inventory.project_form.delivery_on"))
            })?),
        };
        let mut tx = env.tx(p).await?;
        let developer_id: Option<Uuid> = match &developer {
            None => None,
            Some(name) => Some(
                sqlx::query_scalar(
                    "INSERT INTO developers (tenant_id, id, name) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                )
                .bind(p.tenant_id)
                .bind(new_id())
                .bind(name)
                .fetch_one(&mut *tx)
                .await?,
            ),
        };
        let taken = |e: sqlx::Error| match crate::db::violated_constraint(&e).as_deref() {
            Some("projects_tenant_id_name_key") => {
                AppError::field("name", env.t("inventory.project_form.name_taken"))
            }
            _ => e.into(),
        };
        let id = match input.id {
            None => {
                let id = new_id();
                sqlx::query(
                    "INSERT INTO projects (tenant_id, id, developer_id, name, location, status, delivery_on, description)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(p.tenant_id)
                .bind(id)
                .bind(developer_id)
                .bind(&name)
                .bind(&location)
                .bind(status)
                .bind(delivery_on)
                .bind(&description)
                .execute(&mut *tx)
                .await
                .map_err(taken)?;
                id
            }
            Some(id) => {
                let updated = sqlx::query(
                    "UPDATE projects SET developer_id = $2, name = $3, location = $4, status = $5,
                            delivery_on = $6, description = $7 WHERE id = $1",
                )
                .bind(id)
                .bind(developer_id)
                .bind(&name)
                .bind(&location)
                .bind(status)
                .bind(delivery_on)
                .bind(&description)
                .execute(&mut *tx)
                .await
                .map_err(taken)?
                .rows_affected();
                if updated == 0 {
                    return Err(AppError::NotFound(env.t("inventory.not_found")));
                }
                id
            }
        };
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("project.saved", "projects", Some(id)).after(serde_json::json!({
                "name": name, "developer": developer, "status": status,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) fn number<T: std::str::FromStr + PartialOrd>(
        env: &Env,
        value: &str,
        field: &str,
        key: &str,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<Option<T>, AppError> {
        match value.trim() {
            "" => Ok(None),
            v => v
                .replace(',', ".")
                .parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or_else(|| AppError::field(field, env.t(key))),
        }
    }

    /// A new unit, available, with its first price in its history.
    pub async fn create_unit(env: &Env, input: &UnitInput) -> Result<Uuid, AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let project_id = Uuid::parse_str(input.project_id.trim())
            .map_err(|_| AppError::field("project_id", env.t("inventory.upload.project")))?;
        let code = text(&input.code, 40, "code", env, "inventory.unit_form.code")?
            .ok_or_else(|| AppError::field("code", env.t("inventory.unit_form.code")))?;
        let building = text(
            &input.building,
            40,
            "building",
            env,
            "inventory.unit_form.building",
        )?;
        let view = text(&input.view, 60, "view", env, "inventory.unit_form.view")?;
        let floor = number::<i32>(
            env,
            &input.floor,
            "floor",
            "inventory.unit_form.floor",
            -5..=200,
        )?;
        let size = number::<f64>(
            env,
            &input.size_sqm,
            "size_sqm",
            "inventory.unit_form.size",
            0.01..=1_000_000.0,
        )?;
        let bedrooms = number::<i32>(
            env,
            &input.bedrooms,
            "bedrooms",
            "inventory.unit_form.rooms",
            0..=50,
        )?
        .unwrap_or(0);
        let bathrooms = number::<i32>(
            env,
            &input.bathrooms,
            "bathrooms",
            "inventory.unit_form.rooms",
            0..=50,
        )?
        .unwrap_or(0);
        let currency = input.currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AppError::field(
                "currency",
                env.t("inventory.unit_form.currency"),
            ));
        }
        let price = crate::crm::money::parse(env.locale(), input.price.trim(), &currency)
            .filter(|p| *p >= 0)
            .ok_or_else(|| AppError::field("price", env.t("inventory.error.price")))?;
        let mut tx = env.tx(p).await?;
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM unit_type_catalog WHERE code = $1 AND kind = 'UNIT')
                 OR EXISTS (SELECT 1 FROM unit_types WHERE code = $1 AND kind = 'UNIT')",
        )
        .bind(input.type_code.trim())
        .fetch_one(&mut *tx)
        .await?;
        if !known {
            return Err(AppError::field(
                "type_code",
                env.t("inventory.unit_form.type"),
            ));
        }
        project_in_tenant(env, &mut tx, project_id).await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO units (tenant_id, id, project_id, code, type_code, building, floor, size_sqm,
                                bedrooms, bathrooms, view, price_minor, currency)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::numeric, $9, $10, $11, $12, $13)",
        )
        .bind(p.tenant_id)
        .bind(id)
        .bind(project_id)
        .bind(&code)
        .bind(input.type_code.trim())
        .bind(&building)
        .bind(floor)
        .bind(size)
        .bind(bedrooms)
        .bind(bathrooms)
        .bind(&view)
        .bind(price)
        .bind(&currency)
        .execute(&mut *tx)
        .await
        .map_err(|e| match crate::db::violated_constraint(&e).as_deref() {
            Some("units_tenant_id_project_id_code_key") => {
                AppError::field("code", env.t("inventory.unit_form.code_taken"))
            }
            _ => e.into(),
        })?;
        sqlx::query(
            "INSERT INTO unit_price_history (tenant_id, id, unit_id, price_minor, currency, changed_by, reason)
             VALUES ($1, $2, $3, $4, $5, $6, 'First price')",
        )
        .bind(p.tenant_id)
        .bind(new_id())
        .bind(id)
        .bind(price)
        .bind(&currency)
        .bind(p.actor())
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("unit.created", "units", Some(id)).after(serde_json::json!({
                "code": code, "project_id": project_id, "price_minor": price, "currency": currency,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds or relabels a tenant's own type; a global code may be relabelled for the
    /// tenant the same way (its own row then shadows the catalogue's).
    pub async fn save_type(env: &Env, code: &str, label: &str, kind: &str) -> Result<(), AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let code = code.trim().to_ascii_uppercase();
        let valid = code.len() >= 2
            && code.len() <= 40
            && code.starts_with(|c: char| c.is_ascii_uppercase())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(AppError::field("code", env.t("inventory.types.code")));
        }
        let label = text(label, 100, "label", env, "inventory.types.label")?
            .ok_or_else(|| AppError::field("label", env.t("inventory.types.label")))?;
        let kind = match kind.trim() {
            "UNIT" => "UNIT",
            "COMPONENT" => "COMPONENT",
            _ => return Err(AppError::field("kind", env.t("inventory.types.kind"))),
        };
        let mut tx = env.tx(p).await?;
        sqlx::query(
            "INSERT INTO unit_types (tenant_id, code, label, kind) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, code) DO UPDATE SET label = EXCLUDED.label, kind = EXCLUDED.kind",
        )
        .bind(p.tenant_id)
        .bind(&code)
        .bind(&label)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("unit_type.saved", "unit_types", None)
                .after(serde_json::json!({ "code": code, "label": label, "kind": kind })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a tenant's own type, unless a unit still uses it.
    pub async fn delete_type(env: &Env, code: &str) -> Result<(), AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let code = code.trim();
        let mut tx = env.tx(p).await?;
        let global: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM unit_type_catalog WHERE code = $1)")
                .bind(code)
                .fetch_one(&mut *tx)
                .await?;
        let used: i64 = sqlx::query_scalar("SELECT count(*) FROM units WHERE type_code = $1")
            .bind(code)
            .fetch_one(&mut *tx)
            .await?;
        if used > 0 && !global {
            return Err(AppError::Conflict(crate::i18n::tf(
                env.locale(),
                "inventory.types.in_use",
                &[("n", used.to_string())],
            )));
        }
        let deleted = sqlx::query("DELETE FROM unit_types WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(AppError::NotFound(env.t("inventory.types.not_own")));
        }
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("unit_type.deleted", "unit_types", None)
                .change(serde_json::json!({ "code": code }), serde_json::Value::Null),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
