//! Auth server functions: thin — take the request, call the service.

use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::request::{env, go_after_form, respond};

#[server]
pub async fn signup(
    name: String,
    email: String,
    password: String,
    company: String,
) -> Result<(), AppError> {
    respond(async { super::ssr::signup(&env()?, &name, &email, &password, &company).await })
        .await?;
    go_after_form("/signup?sent=1");
    Ok(())
}

/// `next`: the page to go to after signing in, for a form posted without the app's
/// script (the app's own page goes there itself).
#[server]
pub async fn login(
    email: String,
    password: String,
    #[server(default)] next: Option<String>,
) -> Result<LoginStep, AppError> {
    let step = respond(async { super::ssr::login(&env()?, &email, &password).await }).await?;
    go_after_form(&match step {
        LoginStep::Done => super::ui::safe_next(next),
        LoginStep::NeedTotp => super::ui::totp_url(next),
    });
    Ok(step)
}

#[server]
pub async fn login_totp(
    code: String,
    #[server(default)] next: Option<String>,
) -> Result<(), AppError> {
    respond(async { super::ssr::login_totp(&env()?, &code).await }).await?;
    go_after_form(&super::ui::safe_next(next));
    Ok(())
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
    respond(async { super::recovery::request_reset(&env()?, &email).await }).await?;
    go_after_form("/forgot?sent=1");
    Ok(())
}

#[server]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    respond(async { super::recovery::reset_password(&env()?, &token, &password).await }).await?;
    go_after_form(&format!(
        "/reset/{}?done=1",
        crate::encode::component(&token)
    ));
    Ok(())
}

#[server]
pub async fn confirm_email(token: String) -> Result<(), AppError> {
    respond(async { super::recovery::confirm_email(&env()?, &token).await }).await?;
    go_after_form(&format!(
        "/verify/{}?done=1",
        crate::encode::component(&token)
    ));
    Ok(())
}

#[server]
pub async fn resend_confirmation() -> Result<(), AppError> {
    respond(async { super::recovery::resend_confirmation(&env()?).await }).await
}
