use super::model::*;
use crate::crm::import::model::JobState;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// The tenant's jobs for an admin, newest first, optionally in one state.
#[server(input = Json)]
pub async fn list_jobs(
    state: Option<JobState>,
    before: Option<JobsCursor>,
) -> Result<JobsPage, AppError> {
    respond(async { super::ssr::list(&env()?, state, before).await }).await
}

/// A job's log, for its creator or an admin.
#[server]
pub async fn job_logs(id: String) -> Result<Vec<JobLogLine>, AppError> {
    respond(async { super::ssr::logs(&env()?, &id).await }).await
}
