// A form's fields are a server function's arguments, and the security policy form has
// nine; the lint cannot be silenced on the browser-side function the macro generates.
#![allow(clippy::too_many_arguments)]

use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[server]
pub async fn get_tenant_settings() -> Result<TenantSettings, AppError> {
    respond(async { super::ssr::tenant_settings(&env()?).await }).await
}

#[server]
pub async fn update_tenant_settings(
    name: String,
    brand_color: String,
    logo_url: String,
    locale: String,
    timezone: String,
    #[server(default)] number_system: Option<String>,
) -> Result<(), AppError> {
    respond(async {
        let input = TenantSettings {
            name,
            slug: String::new(),
            brand_color,
            logo_url: Some(logo_url),
            locale,
            timezone,
            number_system: number_system.unwrap_or_else(|| "latn".into()),
        };
        super::ssr::update_tenant_settings(&env()?, input).await
    })
    .await
}

#[server]
pub async fn get_security_policy() -> Result<SecurityPolicy, AppError> {
    respond(async { super::ssr::security_policy(&env()?).await }).await
}

/// Numbers arrive as text so a non-number gets a message next to its field rather
/// than a decoding error for the whole form; checkboxes arrive only when ticked.
#[server]
pub async fn update_security_policy(
    password_min_length: String,
    session_idle_minutes: String,
    max_failed_logins: String,
    lockout_minutes: String,
    require_uppercase: Option<String>,
    require_lowercase: Option<String>,
    require_digit: Option<String>,
    require_symbol: Option<String>,
    two_factor_required: Option<String>,
    require_verified_email: Option<String>,
) -> Result<(), AppError> {
    respond(async {
        let env = env()?;
        let number = |field: &str, v: &str| {
            v.trim()
                .parse::<i32>()
                .map_err(|_| AppError::field(field, env.t("validation.number")))
        };
        let input = SecurityPolicy {
            password_min_length: number("password_min_length", &password_min_length)?,
            session_idle_minutes: number("session_idle_minutes", &session_idle_minutes)?,
            max_failed_logins: number("max_failed_logins", &max_failed_logins)?,
            lockout_minutes: number("lockout_minutes", &lockout_minutes)?,
            require_uppercase: require_uppercase.is_some(),
            require_lowercase: require_lowercase.is_some(),
            require_digit: require_digit.is_some(),
            require_symbol: require_symbol.is_some(),
            two_factor_required: two_factor_required.is_some(),
            require_verified_email: require_verified_email.is_some(),
        };
        super::ssr::update_security_policy(&env, input).await
    })
    .await
}

#[server(input = leptos::server_fn::codec::Json)]
pub async fn get_audit_page(
    filter: AuditFilter,
    after: Option<AuditCursor>,
) -> Result<AuditPage, AppError> {
    respond(async { super::ssr::audit_page(&env()?, filter, after).await }).await
}
