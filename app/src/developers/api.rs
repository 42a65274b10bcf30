use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// The API reference: the server's OpenAPI document, for any member.
#[server]
pub async fn get_api_reference() -> Result<ApiReference, AppError> {
    respond(async {
        env()?.require(crate::auth::model::Permission::WorkspaceUse)?;
        Ok(super::reference::reference())
    })
    .await
}

#[server]
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, AppError> {
    respond(async { super::ssr::list_keys(&env()?).await }).await
}

/// Makes a key; its token is in the answer and nowhere else, ever.
#[server(input = Json)]
pub async fn create_api_key(input: NewApiKey) -> Result<CreatedKey, AppError> {
    respond(async { super::ssr::create_key(&env()?, &input).await }).await
}

#[server]
pub async fn revoke_api_key(id: Uuid) -> Result<(), AppError> {
    respond(async { super::ssr::revoke_key(&env()?, id).await }).await
}

/// A replacement key; the old one works on for `overlap_hours`.
#[server]
pub async fn rotate_api_key(id: Uuid, overlap_hours: u32) -> Result<CreatedKey, AppError> {
    respond(async { super::ssr::rotate_key(&env()?, id, overlap_hours).await }).await
}

#[server]
pub async fn list_webhooks() -> Result<Vec<WebhookView>, AppError> {
    respond(async { super::endpoints::list_webhooks(&env()?).await }).await
}

#[server(input = Json)]
pub async fn create_webhook(input: NewWebhook) -> Result<WebhookSecret, AppError> {
    respond(async { super::endpoints::create_webhook(&env()?, &input).await }).await
}

#[server]
pub async fn delete_webhook(id: Uuid) -> Result<(), AppError> {
    respond(async { super::endpoints::delete_webhook(&env()?, id).await }).await
}

#[server]
pub async fn set_webhook_enabled(id: Uuid, enabled: bool) -> Result<(), AppError> {
    respond(async { super::endpoints::set_webhook_enabled(&env()?, id, enabled).await }).await
}

#[server]
pub async fn rotate_webhook_secret(id: Uuid) -> Result<WebhookSecret, AppError> {
    respond(async { super::endpoints::rotate_webhook_secret(&env()?, id).await }).await
}

#[server]
pub async fn get_webhook(id: Uuid) -> Result<WebhookDetail, AppError> {
    respond(async { super::endpoints::webhook_detail(&env()?, id).await }).await
}

#[server]
pub async fn replay_delivery(id: Uuid) -> Result<(), AppError> {
    respond(async { super::endpoints::replay_delivery(&env()?, id).await }).await
}

#[server]
pub async fn replay_failed(endpoint: Uuid) -> Result<u64, AppError> {
    respond(async { super::endpoints::replay_failed(&env()?, endpoint).await }).await
}

#[server]
pub async fn list_form_sources() -> Result<Vec<FormSource>, AppError> {
    respond(async { super::sources::list(&env()?).await }).await
}

/// Connects a website form; its signing secret is in the answer and nowhere else.
#[server(input = Json)]
pub async fn create_form_source(input: NewFormSource) -> Result<SourceSecret, AppError> {
    respond(async { super::sources::create(&env()?, &input).await }).await
}

#[server]
pub async fn set_form_source_active(id: Uuid, active: bool) -> Result<(), AppError> {
    respond(async {
        super::sources::set_active(&env()?, "WEB_FORM", id, active, "developers.form_not_found")
            .await
    })
    .await
}

#[server]
pub async fn list_facebook_sources() -> Result<Vec<FacebookSource>, AppError> {
    respond(async { super::facebook::list(&env()?).await }).await
}

/// Connects a Facebook Page; its app secret and Page token are sealed and never shown.
#[server(input = Json)]
pub async fn create_facebook_source(input: NewFacebookSource) -> Result<FacebookSource, AppError> {
    respond(async { super::facebook::create(&env()?, &input).await }).await
}

#[server]
pub async fn set_facebook_source_active(id: Uuid, active: bool) -> Result<(), AppError> {
    respond(async {
        super::sources::set_active(
            &env()?,
            super::facebook::PROVIDER,
            id,
            active,
            "developers.facebook.not_found",
        )
        .await
    })
    .await
}
