//! Messages (read, and sent through the outbox), sequences (read) and enrolments
//! (enrol, pause, resume, stop), and unit holds, through the code the pages use.

use super::bodies::{invalid, json_body};
use super::records::{
    created, fetch, get_of, list_of, query_of, readable, with_etag, ExpandParams, ListParams, Page,
};
use super::{env_of, not_found, ApiError, Caller};
use crate::state::AppState;
use app::developers::model::Access;
use app::developers::work_objects::{Enrollment, Message, Sequence, UnitHold};
use app::outreach::ssr::lead::OneOff;
use app::request::RequestCtx;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Every path and method this module serves; a test holds the document to it.
#[cfg(test)]
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/messages", &["get", "post"]),
    ("/messages/{id}", &["get"]),
    ("/sequences", &["get"]),
    ("/sequences/{id}", &["get"]),
    ("/enrollments", &["get", "post"]),
    ("/enrollments/{id}", &["get"]),
    ("/enrollments/{id}/pause", &["post"]),
    ("/enrollments/{id}/resume", &["post"]),
    ("/enrollments/{id}/stop", &["post"]),
    ("/unit-holds", &["get", "post"]),
    ("/unit-holds/{id}", &["get"]),
    ("/unit-holds/{id}/release", &["post"]),
];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, send_message))
        .routes(routes!(get_message))
        .routes(routes!(list_sequences))
        .routes(routes!(get_sequence))
        .routes(routes!(list_enrollments, enrol))
        .routes(routes!(get_enrollment))
        .routes(routes!(pause_enrollment))
        .routes(routes!(resume_enrollment))
        .routes(routes!(stop_enrollment))
        .routes(routes!(list_unit_holds, hold_unit))
        .routes(routes!(get_unit_hold))
        .routes(routes!(release_unit_hold))
}

fn id_of(text: &str) -> Result<Uuid, ApiError> {
    text.parse::<Uuid>().map_err(|_| not_found())
}

readable!(
    Message,
    "messages",
    "messages",
    "/messages",
    "/messages/{id}",
    list_messages,
    get_message
);
readable!(
    Sequence,
    "sequences",
    "sequences",
    "/sequences",
    "/sequences/{id}",
    list_sequences,
    get_sequence
);
readable!(
    Enrollment,
    "sequences",
    "sequences",
    "/enrollments",
    "/enrollments/{id}",
    list_enrollments,
    get_enrollment
);
readable!(
    UnitHold,
    "unit_holds",
    "unit holds",
    "/unit-holds",
    "/unit-holds/{id}",
    list_unit_holds,
    get_unit_hold
);

/// A message to one lead, from a template or written here.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    lead_id: Uuid,
    /// WHATSAPP or EMAIL.
    channel: String,
    /// A template of that channel, filled with the lead's fields. Without one, `body`
    /// (and for email `subject`) is sent; WhatsApp free text only inside the 24 hours
    /// after the lead last wrote.
    template_id: Option<Uuid>,
    subject: Option<String>,
    body: Option<String>,
}

/// Queues a message in the outbox, as the lead's page does: the dispatcher sends it
/// through the workspace's senders, within their quotas, and its `status` follows.
/// Suppressed addresses and closed conversations are refused with the field to blame.
#[utoipa::path(post, path = "/messages", tag = "messages", request_body = NewMessage,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key and body get the first answer")),
    responses((status = 201, body = Message)))]
async fn send_message(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("messages", Access::Write)?;
    let input: NewMessage = json_body(&body)?;
    let id = app::outreach::ssr::lead::send_one_off(
        &env_of(&ctx),
        input.lead_id,
        &OneOff {
            channel: input.channel,
            template_id: input.template_id.map(|t| t.to_string()).unwrap_or_default(),
            subject: input.subject.unwrap_or_default(),
            body: input.body.unwrap_or_default(),
        },
    )
    .await?;
    created::<Message>(&caller, &ctx, "messages", id).await
}

/// Leads to enrol: some by id, or every lead of a list (static or smart).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollments {
    sequence_id: Uuid,
    /// Up to 1,000 leads.
    #[serde(default)]
    lead_ids: Vec<Uuid>,
    /// A list of leads, instead of or besides `lead_ids`.
    list_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct Skipped {
    /// suppressed, opted_out, in_sequence, missing_variable, no_channel,
    /// closed_journey or not_found.
    reason: String,
    count: usize,
}

/// What an enrolment request did.
#[derive(Serialize, ToSchema)]
pub struct EnrolResult {
    enrolled: usize,
    /// The leads left out, and why.
    skipped: Vec<Skipped>,
}

/// Enrols leads in a sequence. Leads that cannot take part are left out and counted
/// by reason; a lead already in a sequence stays where it is.
#[utoipa::path(post, path = "/enrollments", tag = "sequences", request_body = NewEnrollments,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key and body get the first answer")),
    responses((status = 200, body = EnrolResult)))]
async fn enrol(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("sequences", Access::Write)?;
    let input: NewEnrollments = json_body(&body)?;
    if input.lead_ids.len() > 1000 {
        return Err(invalid("lead_ids", "up to 1,000 leads at a time"));
    }
    if input.lead_ids.is_empty() && input.list_id.is_none() {
        return Err(invalid("lead_ids", "name leads, or a list_id"));
    }
    fetch::<Sequence>(&caller, &ctx, input.sequence_id)
        .await
        .map_err(|_| invalid("sequence_id", "no such sequence in this workspace"))?;
    let report = app::outreach::ssr::sequences::enrol(
        &env_of(&ctx),
        input.sequence_id,
        input.list_id,
        &input.lead_ids,
    )
    .await?;
    Ok(Json(EnrolResult {
        enrolled: report.enrolled,
        skipped: report
            .skipped
            .into_iter()
            .map(|(reason, count)| Skipped { reason, count })
            .collect(),
    })
    .into_response())
}

async fn set_status(
    caller: &Caller,
    ctx: &RequestCtx,
    id: &str,
    status: &str,
) -> Result<Response, ApiError> {
    caller.require("sequences", Access::Write)?;
    let id = id_of(id)?;
    app::outreach::ssr::sequences::set_enrollment_status(&env_of(ctx), id, status).await?;
    Ok(with_etag(
        StatusCode::OK,
        fetch::<Enrollment>(caller, ctx, id).await?,
    ))
}

/// Pauses an active enrolment: no step runs until it is resumed.
#[utoipa::path(post, path = "/enrollments/{id}/pause", tag = "sequences", params(("id" = Uuid, Path)),
    responses((status = 200, body = Enrollment)))]
async fn pause_enrollment(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&caller, &ctx, &id, "PAUSED").await
}

/// Resumes a paused enrolment; a step that fell due meanwhile runs now.
#[utoipa::path(post, path = "/enrollments/{id}/resume", tag = "sequences", params(("id" = Uuid, Path)),
    responses((status = 200, body = Enrollment)))]
async fn resume_enrollment(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&caller, &ctx, &id, "ACTIVE").await
}

/// Stops an enrolment for good.
#[utoipa::path(post, path = "/enrollments/{id}/stop", tag = "sequences", params(("id" = Uuid, Path)),
    responses((status = 200, body = Enrollment)))]
async fn stop_enrollment(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&caller, &ctx, &id, "STOPPED").await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    unit_id: Uuid,
    /// An open deal; the hold is its owner's.
    deal_id: Uuid,
}

/// Holds an available unit for an open deal for the workspace's hold period. Of
/// several holds of one unit at once, one wins; the others answer 409 naming it.
#[utoipa::path(post, path = "/unit-holds", tag = "unit holds", request_body = NewHold,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key and body get the first answer")),
    responses((status = 201, body = UnitHold)))]
async fn hold_unit(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("unit_holds", Access::Write)?;
    let input: NewHold = json_body(&body)?;
    app::inventory::ssr::hold(
        &env_of(&ctx),
        &input.unit_id.to_string(),
        &input.deal_id.to_string(),
    )
    .await?;
    let p = &caller.0.principal;
    let mut tx = ctx.db.tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let id: Uuid = sqlx::query_scalar(
        "SELECT id FROM unit_holds WHERE tenant_id = $1 AND unit_id = $2 AND released_at IS NULL",
    )
    .bind(p.tenant_id)
    .bind(input.unit_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    created::<UnitHold>(&caller, &ctx, "unit-holds", id).await
}

/// Releases a live hold: the unit is available again.
#[utoipa::path(post, path = "/unit-holds/{id}/release", tag = "unit holds", params(("id" = Uuid, Path)),
    responses((status = 200, body = UnitHold)))]
async fn release_unit_hold(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("unit_holds", Access::Write)?;
    let id = id_of(&id)?;
    let hold = fetch::<UnitHold>(&caller, &ctx, id).await?;
    if hold.released_at.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "this hold is already released",
        ));
    }
    app::inventory::ssr::release(&env_of(&ctx), &hold.unit_id.to_string()).await?;
    Ok(with_etag(
        StatusCode::OK,
        fetch::<UnitHold>(&caller, &ctx, id).await?,
    ))
}
