//! Auth server functions: thin — take the request, call the service.

use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[server]
pub async fn signup(
    name: String,
    email: String,
    password: String,
    company: String,
) -> Result<(), AppError> {
    respond(async { super::ssr::signup(&env()?, &name, &email, &password, &company).await }).await
}

#[server]
pub async fn login(email: String, password: String) -> Result<LoginStep, AppError> {
    respond(async { super::ssr::login(&env()?, &email, &password).await }).await
}

#[server]
pub async fn login_totp(code: String) -> Result<(), AppError> {
    respond(async { super::ssr::login_totp(&env()?, &code).await }).await
}

#[server]
pub async fn logout() -> Result<(), AppError> {
    respond(async { super::ssr::logout(&env()?).await }).await
}

#[server]
pub async fn switch_tenant(tenant_id: uuid::Uuid) -> Result<(), AppError> {
    respond(async { super::ssr::switch_tenant(&env()?, tenant_id).await }).await
}

#[server]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, AppError> {
    respond(async { super::ssr::list_sessions(&env()?).await }).await
}

#[server]
pub async fn revoke_session(handle: String) -> Result<(), AppError> {
    respond(async { super::ssr::revoke_session(&env()?, &handle).await }).await
}

#[server]
pub async fn my_profile() -> Result<Profile, AppError> {
    respond(async { super::ssr::profile(&env()?).await }).await
}

#[server]
pub async fn update_profile(
    name: String,
    language: String,
    timezone: String,
    theme: String,
) -> Result<(), AppError> {
    respond(async {
        super::ssr::update_profile(&env()?, &name, &language, &timezone, &theme).await
    })
    .await
}

#[server]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    respond(async { super::ssr::change_password(&env()?, &current, &new).await }).await
}

#[server]
pub async fn totp_begin() -> Result<TotpEnrolment, AppError> {
    respond(async { super::ssr::totp_begin(&env()?).await }).await
}

#[server]
pub async fn totp_confirm(code: String) -> Result<Vec<String>, AppError> {
    respond(async { super::ssr::totp_confirm(&env()?, &code).await }).await
}

#[server]
pub async fn totp_disable(password: String, code: String) -> Result<(), AppError> {
    respond(async { super::ssr::totp_disable(&env()?, &password, &code).await }).await
}

#[server]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    respond(async { super::recovery::request_reset(&env()?, &email).await }).await
}

#[server]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    respond(async { super::recovery::reset_password(&env()?, &token, &password).await }).await
}

#[server]
pub async fn confirm_email(token: String) -> Result<(), AppError> {
    respond(async { super::recovery::confirm_email(&env()?, &token).await }).await
}

#[server]
pub async fn resend_confirmation() -> Result<(), AppError> {
    respond(async { super::recovery::resend_confirmation(&env()?).await }).await
}
