// Form server functions take one argument per form field, as `ActionForm` sends them.
#![allow(clippy::too_many_arguments)]

use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// Settings → Approvals: the rules and what the form may pick.
#[server]
pub async fn approval_rules() -> Result<RulesPage, AppError> {
    respond(async { super::ssr::rules::page(&env()?).await }).await
}

/// Adds a rule from the form as typed; each level is `role:…`, `member:…` or empty.
#[server]
pub async fn add_approval_rule(
    name: String,
    trigger: String,
    // The form shows either the stage or the amount and currency, so the other
    // fields are absent from what it posts.
    #[server(default)] stage_id: String,
    #[server(default)] amount: String,
    #[server(default)] currency: String,
    level_1: String,
    level_2: String,
    level_3: String,
) -> Result<uuid::Uuid, AppError> {
    let form = super::ssr::rules::RuleForm {
        name,
        trigger,
        stage_id,
        amount,
        currency,
        levels: [level_1, level_2, level_3],
    };
    respond(async { super::ssr::rules::save(&env()?, &form).await }).await
}

#[server]
pub async fn delete_approval_rule(id: String) -> Result<(), AppError> {
    respond(async { super::ssr::rules::delete(&env()?, &id).await }).await
}

/// Open requests for the review queue's Approvals tab.
#[server]
pub async fn approval_queue() -> Result<OpenRequests, AppError> {
    respond(async { super::ssr::decide::queue(&env()?).await }).await
}

#[server]
pub async fn approval_request(id: String) -> Result<RequestDetail, AppError> {
    respond(async { super::ssr::decide::detail(&env()?, &id).await }).await
}

/// Decides the level the approver saw, with a comment (required to reject).
#[server]
pub async fn decide_approval(
    id: String,
    level: i32,
    approve: bool,
    comment: String,
) -> Result<RequestDetail, AppError> {
    respond(async { super::ssr::decide::decide(&env()?, &id, level, approve, &comment).await })
        .await
}
