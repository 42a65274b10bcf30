use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[server]
pub async fn get_team() -> Result<Team, AppError> {
    respond(async { super::ssr::team(&env()?).await }).await
}

#[server]
pub async fn create_invite(email: String, role: String) -> Result<InviteLink, AppError> {
    respond(async { super::ssr::create_invite(&env()?, &email, &role).await }).await
}

#[server]
pub async fn resend_invite(invite_id: Uuid) -> Result<InviteLink, AppError> {
    respond(async { super::ssr::resend_invite(&env()?, invite_id).await }).await
}

#[server]
pub async fn revoke_invite(invite_id: Uuid) -> Result<(), AppError> {
    respond(async { super::ssr::revoke_invite(&env()?, invite_id).await }).await
}

#[server]
pub async fn change_role(membership_id: Uuid, role: String) -> Result<(), AppError> {
    respond(async { super::ssr::change_role(&env()?, membership_id, &role).await }).await
}

#[server]
pub async fn set_inventory_grant(membership_id: Uuid, granted: bool) -> Result<(), AppError> {
    respond(async { super::ssr::set_inventory_grant(&env()?, membership_id, granted).await }).await
}

/// `manager`: the user id of the member to report to, or empty for nobody.
#[server]
pub async fn set_manager(membership_id: Uuid, manager: String) -> Result<(), AppError> {
    respond(async {
        let env = env()?;
        let manager = match manager.trim() {
            "" => None,
            id => Some(
                Uuid::parse_str(id)
                    .map_err(|_| AppError::field("manager", env.t("team.manager_not_eligible")))?,
            ),
        };
        super::ssr::set_manager(&env, membership_id, manager).await
    })
    .await
}

#[server]
pub async fn set_member_active(membership_id: Uuid, active: bool) -> Result<(), AppError> {
    respond(async { super::ssr::set_member_active(&env()?, membership_id, active).await }).await
}

#[server]
pub async fn lookup_invite(token: String) -> Result<InviteState, AppError> {
    respond(async { super::ssr::invite_state(&env()?, &token).await }).await
}

#[server]
pub async fn accept_invite(
    token: String,
    name: String,
    password: String,
) -> Result<InviteOutcome, AppError> {
    respond(async { super::ssr::accept_invite(&env()?, &token, &name, &password).await }).await
}
