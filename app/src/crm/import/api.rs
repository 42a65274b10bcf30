//! Server functions of import and export. The file itself travels outside them, as
//! the raw body of `POST /import/upload` (see the server's `web.rs`), so a 10 MB file
//! is neither base64 nor multipart.

use super::model::*;
use crate::crm::model::{Entity, RecordFilter};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// The first rows of an uploaded file as the import would write them.
#[server(input = Json)]
pub async fn preview_import(plan: ImportPlan) -> Result<Preview, AppError> {
    respond(async { super::ssr::preview(&env()?, plan).await }).await
}

/// Queues an uploaded file for import; answers the job's id.
#[server(input = Json)]
pub async fn start_import(plan: ImportPlan) -> Result<Uuid, AppError> {
    respond(async { super::ssr::start(&env()?, plan).await }).await
}

/// Queues an export of a table view; answers the job's id.
#[server(input = Json)]
pub async fn start_export(entity: Entity, filter: RecordFilter) -> Result<Uuid, AppError> {
    respond(async { super::ssr::start_export(&env()?, entity, filter).await }).await
}

/// The id arrives as text so a malformed one is "not found" (404), not a decoding
/// failure of the whole call.
#[server]
pub async fn job_status(id: String) -> Result<JobView, AppError> {
    respond(async { super::ssr::job(&env()?, &id).await }).await
}

/// Stops a waiting or running import or export.
#[server]
pub async fn cancel_job(id: String) -> Result<JobView, AppError> {
    respond(async { super::ssr::cancel(&env()?, &id).await }).await
}

/// Queues a failed import or export again.
#[server]
pub async fn retry_job(id: String) -> Result<JobView, AppError> {
    respond(async { super::ssr::retry(&env()?, &id).await }).await
}

#[server]
pub async fn recent_jobs() -> Result<Vec<JobView>, AppError> {
    respond(async { super::ssr::recent(&env()?).await }).await
}
