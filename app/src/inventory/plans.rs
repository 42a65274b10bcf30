//! Plans on the server: the uploaded drawing (checked, stored, served), the scale,
//! and shapes (checked, measured, versioned), with the link picker's unit search.

use super::geometry::{self, ShapeError};
use super::model::*;
use super::ssr::{not_found, parse_id, unit_row, UnitSql, UNIT_COLUMNS};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::billing::features::{self, Feature};
use crate::db::new_id;
use crate::error::AppError;
use crate::i18n::tf;
use crate::request::Env;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct PlanSql {
    id: Uuid,
    name: String,
    project: String,
    kind: String,
    width_px: i32,
    height_px: i32,
    meters_per_px: Option<f64>,
    has_file: bool,
    file_version: i32,
    project_id: Uuid,
    has_cover: bool,
    cover_version: i32,
}

#[derive(sqlx::FromRow)]
struct ShapeSql {
    id: Uuid,
    label: Option<String>,
    geometry: serde_json::Value,
    area_sqm: Option<f64>,
    perimeter_m: Option<f64>,
    version: i32,
    unit_id: Option<Uuid>,
    component_id: Option<Uuid>,
    component: Option<String>,
}

/// A plan with its shapes and the units they stand for.
pub async fn plan(env: &Env, id: &str) -> Result<PlanView, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let id = parse_id(env, id)?;
    let mut tx = env.tx(p).await?;
    features::require(&mut tx, p.tenant_id, env.locale(), Feature::InventoryMaps).await?;
    let plan: Option<PlanSql> = sqlx::query_as(
        "SELECT f.id, f.name, p.name AS project, f.kind, f.width_px, f.height_px, f.meters_per_px,
                f.file_key IS NOT NULL AS has_file, f.file_version, p.id AS project_id,
                p.cover_key IS NOT NULL AS has_cover, p.cover_version
           FROM floor_plans f JOIN projects p ON p.id = f.project_id WHERE f.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(plan) = plan else {
        return Err(not_found(env));
    };
    let id = plan.id;
    let shapes: Vec<ShapeSql> = sqlx::query_as(
        "SELECT s.id, s.label, s.geometry, s.area_sqm, s.perimeter_m, s.version, s.unit_id,
                s.component_id, c.label AS component
           FROM map_shapes s LEFT JOIN unit_components c ON c.id = s.component_id
          WHERE s.plan_id = $1 ORDER BY s.label, s.id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let unit_ids: Vec<Uuid> = shapes.iter().filter_map(|s| s.unit_id).collect();
    let units: Vec<UnitSql> = sqlx::query_as(&format!(
        "SELECT {UNIT_COLUMNS} FROM units u JOIN projects p ON p.id = u.project_id WHERE u.id = ANY($1)"
    ))
    .bind(&unit_ids)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let units: Vec<UnitRow> = units.into_iter().map(UnitRow::from).collect();
    Ok(PlanView {
        id,
        name: plan.name,
        project: plan.project,
        kind: plan.kind,
        width_px: plan.width_px,
        height_px: plan.height_px,
        meters_per_px: plan.meters_per_px,
        file_url: plan
            .has_file
            .then(|| format!("/files/plans/{id}?v={}", plan.file_version)),
        project_cover: plan
            .has_cover
            .then(|| super::covers::cover_url(plan.project_id, plan.cover_version)),
        can_edit: p.may(Permission::InventoryEdit),
        shapes: shapes
            .into_iter()
            .map(|s| ShapeView {
                id: s.id,
                label: s.label,
                points: geometry::from_geojson(&s.geometry).unwrap_or_default(),
                area_sqm: s.area_sqm,
                perimeter_m: s.perimeter_m,
                version: s.version,
                unit: s
                    .unit_id
                    .and_then(|u| units.iter().find(|x| x.id == u).cloned()),
                component: s.component_id.zip(s.component),
            })
            .collect(),
    })
}

/// Saves a shape on a plan (new when `shape_id` is empty): the polygon checked, its
/// area and perimeter measured, the version bumped; an edit of a stale version is
/// refused with 409 so the editor can reload.
#[allow(clippy::too_many_arguments)]
pub async fn save_shape(
    env: &Env,
    plan_id: &str,
    shape_id: Option<Uuid>,
    link: (Option<Uuid>, Option<Uuid>),
    label: &str,
    points: &[(f64, f64)],
    version: i32,
) -> Result<Uuid, AppError> {
    let (unit_id, component_id) = link;
    let p = env.require(Permission::InventoryEdit)?;
    let plan_id = parse_id(env, plan_id)?;
    let label = label.trim();
    if label.chars().count() > 60 {
        return Err(AppError::field(
            "label",
            env.t("inventory.error.label_long"),
        ));
    }
    let mut tx = env.tx(p).await?;
    features::require(&mut tx, p.tenant_id, env.locale(), Feature::InventoryMaps).await?;
    let plan: Option<(i32, i32, Option<f64>)> =
        sqlx::query_as("SELECT width_px, height_px, meters_per_px FROM floor_plans WHERE id = $1")
            .bind(plan_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((w, h, mpp)) = plan else {
        return Err(not_found(env));
    };
    let ring = geometry::validate(points, f64::from(w), f64::from(h))
        .map_err(|e: ShapeError| AppError::field("points", env.t(e.message_key())))?;
    if let Some(unit) = unit_id {
        if unit_row(&mut tx, unit).await?.is_none() {
            return Err(AppError::field("unit_id", env.t("inventory.not_found")));
        }
    }
    if component_id.is_some() && unit_id.is_none() {
        return Err(AppError::field(
            "component_id",
            env.t("inventory.error.component_of_unit"),
        ));
    }
    let (area, perimeter) = match mpp {
        Some(m) => {
            let (a, p) = geometry::measure(&ring, m);
            (Some(a), Some(p))
        }
        None => (None, None),
    };
    let geojson = geometry::to_geojson(&ring);
    let label = Some(label).filter(|l| !l.is_empty());
    let id = match shape_id {
        None => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO map_shapes (tenant_id, id, plan_id, unit_id, label, geometry, area_sqm, perimeter_m,
                                         component_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(p.tenant_id)
            .bind(id)
            .bind(plan_id)
            .bind(unit_id)
            .bind(label)
            .bind(&geojson)
            .bind(area)
            .bind(perimeter)
            .bind(component_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| shape_conflict(env, e))?;
            id
        }
        Some(id) => {
            let updated = sqlx::query(
                "UPDATE map_shapes SET unit_id = $3, label = $4, geometry = $5, area_sqm = $6,
                        perimeter_m = $7, component_id = $9, version = version + 1, updated_at = now()
                  WHERE id = $1 AND plan_id = $2 AND version = $8",
            )
            .bind(id)
            .bind(plan_id)
            .bind(unit_id)
            .bind(label)
            .bind(&geojson)
            .bind(area)
            .bind(perimeter)
            .bind(version)
            .bind(component_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| shape_conflict(env, e))?
            .rows_affected();
            if updated == 0 {
                return Err(AppError::Conflict(env.t("inventory.error.stale_shape")));
            }
            id
        }
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("shape.saved", "map_shapes", Some(id)).after(serde_json::json!({
            "unit_id": unit_id, "component_id": component_id, "points": ring.len(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn shape_conflict(env: &Env, e: sqlx::Error) -> AppError {
    match crate::db::violated_constraint(&e).as_deref() {
        Some("map_shapes_unit") => AppError::field("unit_id", env.t("inventory.error.unit_drawn")),
        Some("map_shapes_component") => {
            AppError::field("component_id", env.t("inventory.error.component_drawn"))
        }
        Some("map_shapes_component_of_unit") => {
            AppError::field("component_id", env.t("inventory.error.component_of_unit"))
        }
        _ => e.into(),
    }
}

/// The member-facing name of a plan's kind.
fn plan_kind(code: &str) -> Option<&'static str> {
    match code.trim().to_ascii_uppercase().as_str() {
        "" | "FLOOR" => Some("FLOOR"),
        "SITE" => Some("SITE"),
        _ => None,
    }
}

/// A new plan from an uploaded drawing: checked (type sniffed, size read, SVG
/// rebuilt), stored in the file store, then recorded. A file stored for a plan that
/// could not be recorded is removed again.
pub async fn upload_plan(
    env: &Env,
    project_id: &str,
    name: &str,
    kind: &str,
    bytes: &[u8],
) -> Result<Uuid, AppError> {
    let p = env.require(Permission::InventoryEdit)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::field("name", env.t("inventory.upload.name")));
    }
    let kind =
        plan_kind(kind).ok_or_else(|| AppError::field("kind", env.t("inventory.upload.kind")))?;
    let project_id = Uuid::parse_str(project_id.trim())
        .map_err(|_| AppError::field("project_id", env.t("inventory.upload.project")))?;
    let file = super::plan_file::check(bytes).map_err(|e| {
        let message = tf(
            env.locale(),
            e.message_key(),
            &[(
                "mb",
                (super::plan_file::MAX_PLAN_BYTES / (1024 * 1024)).to_string(),
            )],
        );
        AppError::field("file", message)
    })?;
    let mut tx = env.tx(p).await?;
    features::require(&mut tx, p.tenant_id, env.locale(), Feature::InventoryMaps).await?;
    super::catalog::ssr::project_in_tenant(env, &mut tx, project_id).await?;
    crate::billing::ssr::check_storage(&mut tx, env.locale(), file.bytes.len(), 0).await?;
    let id = new_id();
    let key = format!(
        "tenants/{}/plans/{id}/1.{}",
        p.tenant_id,
        file.kind.extension()
    );
    let size = i32::try_from(file.bytes.len()).unwrap_or(i32::MAX);
    let files = &env.ctx.config.files;
    files.put(&key, file.bytes).await?;
    let recorded = async {
        sqlx::query(
            "INSERT INTO floor_plans (tenant_id, id, project_id, name, kind, width_px, height_px, file_key,
                                      content_type, file_bytes, dpi, file_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)",
        )
        .bind(p.tenant_id)
        .bind(id)
        .bind(project_id)
        .bind(name)
        .bind(kind)
        .bind(file.width as i32)
        .bind(file.height as i32)
        .bind(&key)
        .bind(file.kind.content_type())
        .bind(size)
        .bind(file.dpi.map(|d| d as i32))
        .execute(&mut *tx)
        .await
        .map_err(|e| match crate::db::violated_constraint(&e).as_deref() {
            Some("floor_plans_name_unique") => {
                AppError::field("name", env.t("inventory.upload.name_taken"))
            }
            _ => e.into(),
        })?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("plan.uploaded", "floor_plans", Some(id)).after(serde_json::json!({
                "name": name, "kind": kind, "content_type": file.kind.content_type(),
                "bytes": size, "width_px": file.width, "height_px": file.height,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = recorded {
        files.delete(&key).await?;
        return Err(e);
    }
    Ok(id)
}

/// A plan's drawing, for any member of its tenant: its type and bytes.
pub async fn plan_file(env: &Env, id: Uuid) -> Result<(String, Vec<u8>), AppError> {
    stored_file(
        env,
        "SELECT file_key, content_type FROM floor_plans WHERE id = $1",
        id,
    )
    .await
}

/// A stored picture whose key and type `sql` reads for row `id` in the member's
/// tenant; "not found" when the row or its file is missing.
pub(crate) async fn stored_file(
    env: &Env,
    sql: &str,
    id: Uuid,
) -> Result<(String, Vec<u8>), AppError> {
    let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    let Some((Some(key), Some(content_type))) = row else {
        return Err(not_found(env));
    };
    let bytes = env
        .ctx
        .config
        .files
        .get(&key)
        .await?
        .ok_or_else(|| not_found(env))?;
    Ok((content_type, bytes))
}

/// Sets a plan's scale from a line drawn on it and its real length, and measures every
/// shape on it again, in one transaction.
pub async fn set_scale(
    env: &Env,
    plan_id: &str,
    line: [(f64, f64); 2],
    meters: &str,
) -> Result<f64, AppError> {
    let p = env.require(Permission::InventoryEdit)?;
    let plan_id = parse_id(env, plan_id)?;
    let meters: f64 = meters
        .trim()
        .replace(',', ".")
        .parse()
        .ok()
        .filter(|m: &f64| m.is_finite() && *m > 0.0 && *m <= 100_000.0)
        .ok_or_else(|| AppError::field("meters", env.t("inventory.scale.meters")))?;
    let [(x1, y1), (x2, y2)] = line;
    let pixels = (x2 - x1).hypot(y2 - y1);
    let mpp = geometry::scale(pixels, meters)
        .filter(|_| pixels >= 5.0)
        .ok_or_else(|| AppError::field("line", env.t("inventory.scale.line")))?;
    let mut tx = env.tx(p).await?;
    features::require(&mut tx, p.tenant_id, env.locale(), Feature::InventoryMaps).await?;
    let before: Option<Option<f64>> = sqlx::query_scalar(
        "UPDATE floor_plans f SET meters_per_px = $2, updated_at = now()
           FROM floor_plans old WHERE f.id = $1 AND old.id = f.id RETURNING old.meters_per_px",
    )
    .bind(plan_id)
    .bind(mpp)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(not_found(env));
    };
    let shapes: Vec<(Uuid, serde_json::Value)> =
        sqlx::query_as("SELECT id, geometry FROM map_shapes WHERE plan_id = $1 FOR UPDATE")
            .bind(plan_id)
            .fetch_all(&mut *tx)
            .await?;
    let (mut ids, mut areas, mut perimeters) = (Vec::new(), Vec::new(), Vec::new());
    for (id, geojson) in shapes {
        if let Some(points) = geometry::from_geojson(&geojson) {
            let (a, per) = geometry::measure(&points, mpp);
            ids.push(id);
            areas.push(a);
            perimeters.push(per);
        }
    }
    sqlx::query(
        "UPDATE map_shapes s SET area_sqm = m.area, perimeter_m = m.perimeter
           FROM unnest($1::uuid[], $2::float8[], $3::float8[]) AS m(id, area, perimeter)
          WHERE s.id = m.id",
    )
    .bind(&ids)
    .bind(&areas)
    .bind(&perimeters)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("plan.scaled", "floor_plans", Some(plan_id)).change(
            serde_json::json!({ "meters_per_px": before }),
            serde_json::json!({ "meters_per_px": mpp, "line_px": pixels, "meters": meters }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(mpp)
}

/// Removes a shape, if nobody changed it since the editor read `version`.
pub async fn delete_shape(
    env: &Env,
    plan_id: &str,
    shape_id: Uuid,
    version: i32,
) -> Result<(), AppError> {
    let p = env.require(Permission::InventoryEdit)?;
    let plan_id = parse_id(env, plan_id)?;
    let mut tx = env.tx(p).await?;
    features::require(&mut tx, p.tenant_id, env.locale(), Feature::InventoryMaps).await?;
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT version FROM map_shapes WHERE id = $1 AND plan_id = $2 FOR UPDATE",
    )
    .bind(shape_id)
    .bind(plan_id)
    .fetch_optional(&mut *tx)
    .await?;
    match found {
        None => return Err(not_found(env)),
        Some(v) if v != version => {
            return Err(AppError::Conflict(env.t("inventory.error.stale_shape")))
        }
        Some(_) => {}
    }
    sqlx::query("DELETE FROM map_shapes WHERE id = $1")
        .bind(shape_id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("shape.deleted", "map_shapes", Some(shape_id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Units of a plan's project whose code starts with or contains `q`, for the
/// editor's link picker: drawn ones last, 20 at most.
pub async fn plan_units(env: &Env, plan_id: &str, q: &str) -> Result<Vec<UnitRow>, AppError> {
    let p = env.require(Permission::InventoryEdit)?;
    let plan_id = parse_id(env, plan_id)?;
    let q = q.trim();
    if q.chars().count() > 40 {
        return Err(AppError::field("q", env.t("inventory.error.search_long")));
    }
    let pattern = crate::db::contains_pattern(q);
    let mut tx = env.tx(p).await?;
    let rows: Vec<UnitSql> = sqlx::query_as(&format!(
        "SELECT {UNIT_COLUMNS} FROM units u JOIN projects p ON p.id = u.project_id
          WHERE u.project_id = (SELECT project_id FROM floor_plans WHERE id = $1)
            AND u.code ILIKE $2
          ORDER BY EXISTS (SELECT 1 FROM map_shapes s WHERE s.plan_id = $1 AND s.unit_id = u.id),
                   u.code
          LIMIT 20"
    ))
    .bind(plan_id)
    .bind(pattern)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(UnitRow::from).collect())
}
