use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[server(input = Json)]
pub async fn list_units(
    filter: UnitFilter,
    after: Option<UnitCursor>,
) -> Result<UnitsPage, AppError> {
    respond(async { super::ssr::units(&env()?, &filter, after).await }).await
}

#[server]
pub async fn get_unit(id: String) -> Result<UnitDetail, AppError> {
    respond(async { super::ssr::unit(&env()?, &id).await }).await
}

/// Holds a unit for one of the viewer's deals.
#[server]
pub async fn hold_unit(unit_id: String, deal_id: String) -> Result<UnitDetail, AppError> {
    respond(async { super::ssr::hold(&env()?, &unit_id, &deal_id).await }).await
}

#[server]
pub async fn release_unit(unit_id: String) -> Result<UnitDetail, AppError> {
    respond(async { super::ssr::release(&env()?, &unit_id).await }).await
}

#[server]
pub async fn set_unit_price(
    unit_id: String,
    price: String,
    reason: String,
) -> Result<UnitDetail, AppError> {
    respond(async { super::ssr::set_price(&env()?, &unit_id, &price, &reason).await }).await
}

#[server]
pub async fn get_plan(id: String) -> Result<PlanView, AppError> {
    respond(async { super::ssr::plan(&env()?, &id).await }).await
}

/// Saves a shape (new when `shape_id` is none); `version` is the one the editor read.
/// A shape stands for a unit, or for one of its components (`component_id`, with the
/// unit's `unit_id`).
#[server(input = Json)]
pub async fn save_shape(
    plan_id: String,
    shape_id: Option<Uuid>,
    unit_id: Option<Uuid>,
    component_id: Option<Uuid>,
    label: String,
    points: Vec<(f64, f64)>,
    version: i32,
) -> Result<Uuid, AppError> {
    respond(async {
        super::ssr::save_shape(
            &env()?,
            &plan_id,
            shape_id,
            (unit_id, component_id),
            &label,
            &points,
            version,
        )
        .await
    })
    .await
}

/// Sets a plan's scale: a line drawn on it (two points in plan pixels) is `meters` long.
#[server(input = Json)]
pub async fn set_plan_scale(
    plan_id: String,
    line: [(f64, f64); 2],
    meters: String,
) -> Result<f64, AppError> {
    respond(async { super::ssr::set_scale(&env()?, &plan_id, line, &meters).await }).await
}

#[server(input = Json)]
pub async fn delete_shape(plan_id: String, shape_id: Uuid, version: i32) -> Result<(), AppError> {
    respond(async { super::ssr::delete_shape(&env()?, &plan_id, shape_id, version).await }).await
}

/// A unit's components, for the editor's "Linked component".
#[server]
pub async fn unit_components(
    unit_id: Uuid,
) -> Result<Vec<super::components::ComponentRow>, AppError> {
    respond(async { super::components::ssr::list(&env()?, unit_id).await }).await
}

/// Units of the plan's project the editor may link a shape to.
#[server]
pub async fn plan_units(plan_id: String, q: String) -> Result<Vec<UnitRow>, AppError> {
    respond(async { super::ssr::plan_units(&env()?, &plan_id, &q).await }).await
}
