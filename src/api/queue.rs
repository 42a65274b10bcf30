//! Units (read) and review items (read, and resolved by a person's decision taken
//! elsewhere: ignore, confirm, correct or escalate), through the same code as their pages.

use super::bodies::{invalid, json_body};
use super::records::{
    fetch, get_of, list_of, query_of, readable, with_etag, ExpandParams, ListParams, Page,
};
use super::{env_of, not_found, ApiError, Caller};
use crate::state::AppState;
use app::developers::model::Access;
use app::developers::objects::{ReviewItem, Unit};
use app::request::RequestCtx;
use app::review::model::{Intent, ItemAction};
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_units))
        .routes(routes!(get_unit))
        .routes(routes!(list_review_items))
        .routes(routes!(get_review_item))
        .routes(routes!(decide_review_item))
}

readable!(
    Unit,
    "units",
    "units",
    "/units",
    "/units/{id}",
    list_units,
    get_unit
);
readable!(
    ReviewItem,
    "review_items",
    "review",
    "/review-items",
    "/review-items/{id}",
    list_review_items,
    get_review_item
);

/// What was decided about an item.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "action", deny_unknown_fields)]
pub enum Decision {
    /// Nothing to do: resolved as ignored.
    Ignore,
    /// The classified intent was right: its consequence applies (a "not interested"
    /// ends the journey) and the item is resolved.
    Confirm,
    /// The intent was wrong: the right one is recorded and applied instead.
    Correct {
        /// INTERESTED, QUESTION, NOT_NOW, NOT_INTERESTED, WRONG_PERSON, OUT_OF_OFFICE,
        /// AUTO_REPLY, UNSUBSCRIBE, COMPLAINT, BOUNCE or OTHER.
        intent: String,
    },
    /// Up a level, to a more senior reviewer, with a higher priority.
    Escalate,
}

#[utoipa::path(post, path = "/review-items/{id}/decide", tag = "review", params(("id" = Uuid, Path)),
    request_body = Decision, responses((status = 200, body = ReviewItem)))]
async fn decide_review_item(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("review_items", Access::Write)?;
    let id = id.parse::<Uuid>().map_err(|_| not_found())?;
    let action = match json_body::<Decision>(&body)? {
        Decision::Ignore => ItemAction::Ignore,
        Decision::Confirm => ItemAction::Confirm,
        Decision::Correct { intent } => ItemAction::Correct(
            Intent::parse(&intent).ok_or_else(|| invalid("intent", "not an intent"))?,
        ),
        Decision::Escalate => ItemAction::Escalate,
    };
    app::review::ssr::act(&env_of(&ctx), &id.to_string(), action).await?;
    Ok(with_etag(
        StatusCode::OK,
        fetch::<ReviewItem>(&caller, &ctx, id).await?,
    ))
}
