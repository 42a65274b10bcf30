use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// Figures, MRR and the workspaces matching `q` (name or address).
#[server]
pub async fn staff_console(q: String) -> Result<Console, AppError> {
    respond(async { super::ssr::console(&env()?, &q).await }).await
}

#[server]
pub async fn staff_flags() -> Result<Flags, AppError> {
    respond(async { super::ssr::flags::list(&env()?).await }).await
}

/// Sets flag `key` on or off (`enabled`: "on" or absent) and its rollout in percent.
#[server]
pub async fn set_flag(
    key: String,
    #[server(default)] enabled: Option<String>,
    rollout: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    respond(async {
        super::ssr::flags::set_flag(&env()?, &key, enabled.is_some(), &rollout, &reason).await
    })
    .await
}

/// Grants ("on") or withdraws ("off") flag `key` for the workspace at address
/// `workspace`, for `days` days (empty: until removed).
#[server]
pub async fn set_override(
    key: String,
    workspace: String,
    state: String,
    #[server(default)] days: String,
    reason: String,
) -> Result<(), AppError> {
    respond(async {
        let env = env()?;
        let enabled = match state.as_str() {
            "on" => true,
            "off" => false,
            _ => return Err(AppError::field("state", env.t("staff.state_choice"))),
        };
        super::ssr::flags::set_override(&env, &key, &workspace, enabled, &days, &reason).await
    })
    .await
}

#[server]
pub async fn clear_override(
    key: String,
    tenant: uuid::Uuid,
    reason: String,
) -> Result<(), AppError> {
    respond(async { super::ssr::flags::clear_override(&env()?, &key, tenant, &reason).await }).await
}

#[server]
pub async fn staff_provider_events() -> Result<ProviderEvents, AppError> {
    respond(async { super::ssr::provider_events(&env()?).await }).await
}

/// Applies provider event `id` again; answers what it did.
#[server]
pub async fn replay_event(id: String) -> Result<String, AppError> {
    respond(async { super::ssr::replay(&env()?, &id).await }).await
}

#[server]
pub async fn staff_audit_log() -> Result<Vec<StaffAuditEntry>, AppError> {
    respond(async { super::ssr::staff_audit(&env()?).await }).await
}

/// Opens workspace `tenant` read-only for support, for an hour, with `reason` (which
/// its owner reads in their audit log). The browser then goes to that workspace.
#[server]
pub async fn open_support(tenant: uuid::Uuid, reason: String) -> Result<(), AppError> {
    respond(async { super::ssr::support::open_support(&env()?, tenant, &reason).await }).await
}

/// Ends support access: back to the staff member's own workspace.
#[server]
pub async fn end_support() -> Result<(), AppError> {
    respond(async { super::ssr::support::end_support(&env()?).await }).await
}

#[server]
pub async fn staff_plans() -> Result<Catalogue, AppError> {
    respond(async { super::ssr::plans::list(&env()?).await }).await
}

/// Saves a plan's limits, features and list prices (`plans.manage`).
#[server(input = leptos::server_fn::codec::Json)]
pub async fn save_plan(plan: PlanDraft) -> Result<(), AppError> {
    respond(async { super::ssr::plans::save_plan(&env()?, &plan).await }).await
}

#[server]
pub async fn staff_config() -> Result<SystemConfig, AppError> {
    respond(async { super::ssr::config::load(&env()?).await }).await
}

/// Sets platform setting `key` to `value`, as typed (`config.manage`).
#[server]
pub async fn set_config(
    key: String,
    value: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    respond(async { super::ssr::config::set_config(&env()?, &key, &value, &reason).await }).await
}

#[server]
pub async fn staff_sending_ips() -> Result<crate::staff::sending_ips::SendingIps, AppError> {
    respond(async { super::ssr::ips::list(&env()?).await }).await
}

/// Adds a sending IP address to the pool (`ips.manage`).
#[server]
pub async fn add_sending_ip(
    address: String,
    #[server(default)] note: String,
) -> Result<(), AppError> {
    respond(async { super::ssr::ips::add(&env()?, &address, &note).await }).await
}

/// Sets address `id`'s state; answers the domains that came off it.
#[server]
pub async fn set_ip_status(
    id: uuid::Uuid,
    status: String,
    #[server(default)] reason: String,
) -> Result<Vec<String>, AppError> {
    respond(async { super::ssr::ips::set_status(&env()?, id, &status, &reason).await }).await
}

/// Sends workspace `workspace`'s (its address) sending domain `domain` from address `id`.
#[server]
pub async fn assign_ip_domain(
    id: uuid::Uuid,
    workspace: String,
    domain: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    respond(async { super::ssr::ips::assign(&env()?, id, &workspace, &domain, &reason).await })
        .await
}

#[server]
pub async fn unassign_ip_domain(
    assignment: uuid::Uuid,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    respond(async { super::ssr::ips::unassign(&env()?, assignment, &reason).await }).await
}

/// Asks the blocklists about address `id` now.
#[server]
pub async fn check_sending_ip(id: uuid::Uuid) -> Result<(), AppError> {
    respond(async { super::ssr::ips::check_now(&env()?, id).await }).await
}
