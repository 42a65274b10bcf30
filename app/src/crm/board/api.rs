use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[server(input = Json)]
pub async fn get_board(pipeline_id: Option<Uuid>, filter: BoardFilter) -> Result<Board, AppError> {
    respond(async { super::ssr::board(&env()?, pipeline_id, &filter).await }).await
}

#[server(input = Json)]
pub async fn get_column_page(
    stage_id: Uuid,
    filter: BoardFilter,
    after: CardCursor,
) -> Result<ColumnPage, AppError> {
    respond(async { super::ssr::column_page(&env()?, stage_id, &filter, after).await }).await
}

#[server(input = Json)]
pub async fn move_deal(change: DealMove) -> Result<DealCard, AppError> {
    respond(async { super::ssr::move_deal(&env()?, &change).await }).await
}

/// The deal page's stage control: the deal's card and its pipeline's stages.
#[server]
pub async fn get_deal_stage(deal_id: Uuid) -> Result<DealStageView, AppError> {
    respond(async { super::ssr::deal_stage(&env()?, deal_id).await }).await
}

/// Takes the new-deal form's fields as typed; the server parses and validates them.
#[server]
pub async fn create_deal(
    pipeline_id: Uuid,
    stage_id: String,
    name: String,
    amount: String,
    currency: String,
    owner_id: String,
    expected_close_on: String,
) -> Result<DealCard, AppError> {
    let deal = NewDeal {
        pipeline_id,
        stage_id: stage_id.trim().parse().ok(),
        name,
        amount,
        currency,
        owner_id: owner_id.trim().parse().ok(),
        expected_close_on: Some(expected_close_on),
        ..NewDeal::default()
    };
    respond(async { super::ssr::create_deal(&env()?, &deal).await }).await
}

#[server]
pub async fn create_pipeline(name: String) -> Result<Uuid, AppError> {
    respond(async { super::ssr::create_pipeline(&env()?, &name).await }).await
}
