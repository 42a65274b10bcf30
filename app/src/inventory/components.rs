//! What a unit is made of: its rooms, kitchen and balconies with their measurements
//! (seed 004's unit components), typed by the dictionary's COMPONENT codes. Shown on
//! the unit's page and in the map's side panel; kept by inventory editors.

use crate::error::AppError;
use crate::i18n::t;
use crate::ui::{field_error, locale, tr, Card, Field, Submit};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ComponentRow {
    pub id: Uuid,
    pub type_code: String,
    pub type_label: String,
    pub label: String,
    pub length_m: Option<f64>,
    pub width_m: Option<f64>,
    pub area_sqm: Option<f64>,
}

/// A COMPONENT code an editor may choose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ComponentType {
    pub code: String,
    pub label: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitComponents {
    pub items: Vec<ComponentRow>,
    /// The types to choose from; empty unless the viewer may edit.
    pub types: Vec<ComponentType>,
    pub can_edit: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComponentInput {
    pub unit_id: String,
    pub type_code: String,
    pub label: String,
    pub length_m: String,
    pub width_m: String,
    /// Blank: length × width.
    pub area_sqm: String,
}

/// Adds a component to a unit; answers the unit's components.
#[server]
pub async fn add_unit_component(input: ComponentInput) -> Result<UnitComponents, AppError> {
    respond(async { ssr::add(&env()?, &input).await }).await
}

#[server]
pub async fn delete_unit_component(id: String) -> Result<UnitComponents, AppError> {
    respond(async { ssr::delete(&env()?, &id).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::db::{new_id, Tx};
    use crate::i18n::tf;
    use crate::inventory::catalog::ssr::{number, text};
    use crate::inventory::ssr::{not_found, parse_id};
    use crate::request::{Env, Principal};

    pub async fn load(
        tx: &mut Tx,
        p: &Principal,
        unit_id: Uuid,
    ) -> Result<UnitComponents, AppError> {
        let items: Vec<ComponentRow> = sqlx::query_as(
            "SELECT c.id, c.type_code, coalesce(t.label, g.label, c.type_code) AS type_label, c.label,
                    c.length_m::float8 AS length_m, c.width_m::float8 AS width_m,
                    c.area_sqm::float8 AS area_sqm
               FROM unit_components c
               LEFT JOIN unit_types t ON t.code = c.type_code
               LEFT JOIN unit_type_catalog g ON g.code = c.type_code
              WHERE c.unit_id = $1 ORDER BY c.created_at, c.id",
        )
        .bind(unit_id)
        .fetch_all(&mut **tx)
        .await?;
        let can_edit = p.may(Permission::InventoryEdit);
        let types = if can_edit {
            sqlx::query_as(
                "SELECT code, label FROM unit_type_catalog
                  WHERE kind = 'COMPONENT' AND code NOT IN (SELECT code FROM unit_types)
                 UNION ALL
                 SELECT code, label FROM unit_types WHERE kind = 'COMPONENT'
                  ORDER BY label",
            )
            .fetch_all(&mut **tx)
            .await?
        } else {
            Vec::new()
        };
        Ok(UnitComponents {
            items,
            types,
            can_edit,
        })
    }

    /// The unit's components, to any member (the editor links shapes to them).
    pub async fn list(env: &Env, unit_id: Uuid) -> Result<Vec<ComponentRow>, AppError> {
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let components = load(&mut tx, p, unit_id).await?;
        tx.commit().await?;
        Ok(components.items)
    }

    pub async fn add(env: &Env, input: &ComponentInput) -> Result<UnitComponents, AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let unit_id = parse_id(env, &input.unit_id)?;
        let type_code = input.type_code.trim();
        let label = text(
            &input.label,
            60,
            "label",
            env,
            "inventory.components.label_rule",
        )?;
        let length = number::<f64>(
            env,
            &input.length_m,
            "length_m",
            "inventory.components.measure_rule",
            0.01..=999.0,
        )?;
        let width = number::<f64>(
            env,
            &input.width_m,
            "width_m",
            "inventory.components.measure_rule",
            0.01..=999.0,
        )?;
        let area = match number::<f64>(
            env,
            &input.area_sqm,
            "area_sqm",
            "inventory.components.area_rule",
            0.01..=99_999.0,
        )? {
            Some(a) => Some(a),
            None => length
                .zip(width)
                .map(|(l, w)| (l * w * 100.0).round() / 100.0),
        };
        let mut tx = env.tx(p).await?;
        let type_label: Option<String> = sqlx::query_scalar(
            "SELECT label FROM unit_types WHERE code = $1 AND kind = 'COMPONENT'
             UNION ALL
             SELECT label FROM unit_type_catalog WHERE code = $1 AND kind = 'COMPONENT'
             LIMIT 1",
        )
        .bind(type_code)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(type_label) = type_label else {
            return Err(AppError::field(
                "type_code",
                env.t("inventory.components.type_rule"),
            ));
        };
        // The unit's row, locked so a component never lands on a unit being deleted.
        let unit: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM units WHERE id = $1 FOR UPDATE")
                .bind(unit_id)
                .fetch_optional(&mut *tx)
                .await?;
        if unit.is_none() {
            return Err(not_found(env));
        }
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM unit_components WHERE unit_id = $1")
                .bind(unit_id)
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_PER_UNIT {
            return Err(AppError::field(
                "type_code",
                tf(
                    env.locale(),
                    "inventory.components.too_many",
                    &[("max", MAX_PER_UNIT.to_string())],
                ),
            ));
        }
        let id = new_id();
        let label = label.unwrap_or(type_label);
        sqlx::query(
            "INSERT INTO unit_components (tenant_id, id, unit_id, type_code, label, length_m, width_m, area_sqm)
             VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8::numeric)",
        )
        .bind(p.tenant_id)
        .bind(id)
        .bind(unit_id)
        .bind(type_code)
        .bind(&label)
        .bind(length)
        .bind(width)
        .bind(area)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("unit.component_added", "units", Some(unit_id)).after(
                serde_json::json!({ "component_id": id, "type_code": type_code, "label": label,
                                    "length_m": length, "width_m": width, "area_sqm": area }),
            ),
        )
        .await?;
        let components = load(&mut tx, p, unit_id).await?;
        tx.commit().await?;
        Ok(components)
    }

    pub async fn delete(env: &Env, id: &str) -> Result<UnitComponents, AppError> {
        let p = env.require(Permission::InventoryEdit)?;
        let id = parse_id(env, id)?;
        let mut tx = env.tx(p).await?;
        let unit_id: Uuid =
            sqlx::query_scalar("DELETE FROM unit_components WHERE id = $1 RETURNING unit_id")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| not_found(env))?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("unit.component_deleted", "units", Some(unit_id))
                .after(serde_json::json!({ "component_id": id })),
        )
        .await?;
        let components = load(&mut tx, p, unit_id).await?;
        tx.commit().await?;
        Ok(components)
    }
}

/// A unit has at most this many components: enough for any flat or villa, and a
/// bound on what one page loads.
pub const MAX_PER_UNIT: i64 = 60;

/// "4.20 × 3.50 m", or what of it is known.
fn dimensions(c: &ComponentRow) -> String {
    match (c.length_m, c.width_m) {
        (Some(l), Some(w)) => format!("{l:.2} × {w:.2} m"),
        (Some(x), None) | (None, Some(x)) => format!("{x:.2} m"),
        (None, None) => "—".into(),
    }
}

/// "4.20 × 3.50 m, 14.70 m²" for the map's side panel.
pub fn component_summary(c: &ComponentRow) -> String {
    match c.area_sqm {
        Some(a) => format!("{}, {a:.2} m²", dimensions(c)),
        None => dimensions(c),
    }
}

/// The unit's components as a table, with an add form and delete buttons for editors.
#[component]
pub fn ComponentsCard(unit_id: Uuid, components: UnitComponents) -> impl IntoView {
    let l = locale();
    let add = ServerAction::<AddUnitComponent>::new();
    let delete = ServerAction::<DeleteUnitComponent>::new();
    let current = RwSignal::new(components);
    Effect::new(move |_| {
        if let Some(Ok(c)) = add.value().get() {
            current.set(c);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(c)) = delete.value().get() {
            current.set(c);
        }
    });
    let value = add.value();
    let delete_error = move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="alert alert-danger" role="alert">{e.to_string()}</p> })
    };
    view! {
        <Card title=t(l, "inventory.components.title")>
            {delete_error}
            {move || {
                let c = current.get();
                if c.items.is_empty() {
                    return view! { <p class="text-sm text-muted">{tr("inventory.components.none")}</p> }.into_any();
                }
                let can_edit = c.can_edit;
                let total: f64 = c.items.iter().filter_map(|i| i.area_sqm).sum();
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="unit-components">
                            <thead><tr>
                                <th scope="col">{tr("inventory.components.name")}</th>
                                <th scope="col">{tr("inventory.components.kind")}</th>
                                <th scope="col">{tr("inventory.components.dimensions")}</th>
                                <th scope="col" class="text-end">{tr("inventory.components.area")}</th>
                                {can_edit.then(|| view! { <th scope="col"><span class="sr-only">{tr("common.actions")}</span></th> })}
                            </tr></thead>
                            <tbody>
                                {c.items.into_iter().map(|i| {
                                    let area = i.area_sqm.map(|a| format!("{a:.2} m²")).unwrap_or_else(|| "—".into());
                                    let dims = dimensions(&i);
                                    view! {
                                        <tr>
                                            <td>{i.label.clone()}</td>
                                            <td>{i.type_label.clone()}</td>
                                            <td class="tabular-nums"><bdi>{dims}</bdi></td>
                                            <td class="text-end tabular-nums"><bdi>{area}</bdi></td>
                                            {can_edit.then(|| view! {
                                                <td class="text-end">
                                                    <ActionForm action=delete>
                                                        <input type="hidden" name="id" value=i.id.to_string()/>
                                                        <button type="submit" class="btn btn-danger-ghost">
                                                            {tr("common.delete")}<span class="sr-only">{format!(" — {}", i.label)}</span>
                                                        </button>
                                                    </ActionForm>
                                                </td>
                                            })}
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                            <tfoot><tr>
                                <th scope="row" colspan="3">{tr("inventory.components.total")}</th>
                                <td class="text-end tabular-nums" data-testid="components-total"><bdi>{format!("{total:.2} m²")}</bdi></td>
                                {can_edit.then(|| view! { <td></td> })}
                            </tr></tfoot>
                        </table>
                    </div>
                }.into_any()
            }}
            {move || {
                let c = current.get();
                c.can_edit.then(|| view! {
                    <ActionForm action=add attr:class="mt-3 grid gap-3 md:grid-cols-3 items-end" attr:novalidate="" attr:data-testid="component-form">
                        <input type="hidden" name="input[unit_id]" value=unit_id.to_string()/>
                        <div class="field">
                            <label for="component-type" class="field-label">{tr("inventory.components.kind")}</label>
                            <select id="component-type" name="input[type_code]" class="input">
                                {c.types.iter().map(|ty| view! { <option value=ty.code.clone()>{ty.label.clone()}</option> }).collect_view()}
                            </select>
                            {move || field_error(value, "type_code").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                        </div>
                        <Field label=t(l, "inventory.components.name") name="input[label]" error=field_error(value, "label")
                            hint=t(l, "inventory.components.name_hint")/>
                        <Field label=t(l, "inventory.components.length") name="input[length_m]" kind="text" error=field_error(value, "length_m")/>
                        <Field label=t(l, "inventory.components.width") name="input[width_m]" kind="text" error=field_error(value, "width_m")/>
                        <Field label=t(l, "inventory.components.area_input") name="input[area_sqm]" kind="text" error=field_error(value, "area_sqm")
                            hint=t(l, "inventory.components.area_hint")/>
                        <Submit label=t(l, "inventory.components.add") pending=add.pending()/>
                    </ActionForm>
                })
            }}
        </Card>
    }
}
