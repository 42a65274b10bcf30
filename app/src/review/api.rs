use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// The review queue, filtered, in SLA order.
#[server(input = Json)]
pub async fn review_queue(
    filter: QueueFilter,
    before: Option<QueueCursor>,
) -> Result<QueuePage, AppError> {
    respond(async { super::ssr::queue(&env()?, &filter, before).await }).await
}

/// The members and sequences the queue can be filtered by.
#[server(input = Json)]
pub async fn review_filter_options() -> Result<FilterOptions, AppError> {
    respond(async { super::ssr::filter_options(&env()?).await }).await
}

/// One item with its thread, lead and classification.
#[server]
pub async fn review_item(id: String) -> Result<ItemDetail, AppError> {
    respond(async { super::ssr::item(&env()?, &id).await }).await
}

/// Claim, ignore, escalate, confirm or correct the intent, or take over.
#[server(input = Json)]
pub async fn review_act(id: String, action: ItemAction) -> Result<ItemDetail, AppError> {
    respond(async { super::ssr::act(&env()?, &id, action).await }).await
}

/// Answers the lead from the queue and resolves the item: the text as written, or,
/// with `template_id`, that template as it stands (which may open a WhatsApp
/// conversation outside the 24-hour window when Meta approved it).
#[server]
pub async fn review_reply(
    id: String,
    body: String,
    #[server(default)] template_id: Option<String>,
) -> Result<ItemDetail, AppError> {
    respond(async { super::ssr::respond(&env()?, &id, &body, template_id.as_deref()).await }).await
}

/// Flags a message on a lead's page for the review queue, with an optional note.
#[server(input = Json)]
pub async fn flag_for_review(message_id: uuid::Uuid, note: String) -> Result<uuid::Uuid, AppError> {
    respond(async { super::ssr::flag(&env()?, message_id, &note).await }).await
}
