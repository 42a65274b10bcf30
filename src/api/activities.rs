//! Pipelines (read), activities — notes, tasks, calls and meetings on records — and
//! lists with their members, through the record code the pages use.

use super::bodies::{api_field, invalid, json_body};
use super::records::{
    created, fetch, get_of, if_match, list_of, list_within, precondition, query_of, readable,
    with_etag, ExpandParams, ListParams, Page,
};
use super::{env_of, not_found, ApiError, Caller};
use crate::state::AppState;
use app::crm::model::Entity;
use app::crm::records::edits::{self, ActivityEdit};
use app::crm::records::ssr::NewActivity;
use app::developers::model::Access;
use app::developers::objects::FilterValue;
use app::developers::work_objects::{Activity, List, ListMember, Pipeline};
use app::error::AppError;
use app::request::RequestCtx;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Every path and method this module serves; a test holds the document to it.
#[cfg(test)]
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/pipelines", &["get"]),
    ("/pipelines/{id}", &["get"]),
    ("/activities", &["get", "post"]),
    ("/activities/{id}", &["get", "patch", "delete"]),
    ("/lists", &["get", "post"]),
    ("/lists/{id}", &["get", "patch", "delete"]),
    ("/lists/{id}/members", &["get", "post"]),
    ("/lists/{id}/members/{record_id}", &["delete"]),
];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pipelines))
        .routes(routes!(get_pipeline))
        .routes(routes!(list_activities, create_activity))
        .routes(routes!(get_activity, update_activity, delete_activity))
        .routes(routes!(list_lists, create_list))
        .routes(routes!(get_list, update_list, delete_list))
        .routes(routes!(list_members, add_members))
        .routes(routes!(remove_member))
}

fn id_of(text: &str) -> Result<Uuid, ApiError> {
    text.parse::<Uuid>().map_err(|_| not_found())
}

readable!(
    Pipeline,
    "pipelines",
    "pipelines",
    "/pipelines",
    "/pipelines/{id}",
    list_pipelines,
    get_pipeline
);
readable!(
    Activity,
    "activities",
    "activities",
    "/activities",
    "/activities/{id}",
    list_activities,
    get_activity
);
readable!(
    List,
    "lists",
    "lists",
    "/lists",
    "/lists/{id}",
    list_lists,
    get_list
);

/// A note, task, call or meeting on one record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityBody {
    /// NOTE, TASK, CALL or MEETING.
    kind: String,
    /// Exactly one of `lead_id`, `contact_id`, `company_id` and `deal_id`: the record
    /// it is on.
    lead_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    company_id: Option<Uuid>,
    deal_id: Option<Uuid>,
    /// Required for a task, call or meeting; up to 200 characters.
    subject: Option<String>,
    /// Required for a note; up to 10,000 characters.
    body: Option<String>,
    /// A task's due time, to the minute.
    due_at: Option<DateTime<Utc>>,
    /// A call's length.
    duration_minutes: Option<u32>,
    /// A call's outcome, in words.
    outcome: Option<String>,
    /// A meeting's start, to the minute: required for a meeting.
    starts_at: Option<DateTime<Utc>>,
    /// A meeting's end: after the start, within 7 days; 30 minutes on if absent.
    ends_at: Option<DateTime<Utc>>,
    /// Members invited to a meeting (at most 50).
    attendee_ids: Option<Vec<Uuid>>,
}

/// Adds a note, task, call or meeting to a lead, contact, company or deal's timeline.
/// A task goes to the record's owner.
#[utoipa::path(post, path = "/activities", tag = "activities", request_body = NewActivityBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key and body get the first answer")),
    responses((status = 201, body = Activity)))]
async fn create_activity(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("activities", Access::Write)?;
    let input: NewActivityBody = json_body(&body)?;
    let on: Vec<(Entity, Uuid)> = [
        (Entity::Lead, input.lead_id),
        (Entity::Contact, input.contact_id),
        (Entity::Company, input.company_id),
        (Entity::Deal, input.deal_id),
    ]
    .into_iter()
    .filter_map(|(e, id)| id.map(|id| (e, id)))
    .collect();
    let [(entity, record)] = on[..] else {
        return Err(invalid(
            "lead_id",
            "name exactly one of lead_id, contact_id, company_id and deal_id",
        ));
    };
    let env = env_of(&ctx);
    let item = app::crm::records::ssr::add_activity(
        &env,
        entity,
        record,
        &NewActivity {
            kind: input.kind,
            subject: input.subject.unwrap_or_default(),
            body: input.body.unwrap_or_default(),
            due_at: minute(input.due_at),
            duration_minutes: input
                .duration_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            outcome: input.outcome.unwrap_or_default(),
            assignee_id: String::new(),
            starts_at: minute(input.starts_at),
            ends_at: minute(input.ends_at),
            attendee_ids: input
                .attendee_ids
                .unwrap_or_default()
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(","),
        },
    )
    .await
    .map_err(api_field)?;
    created::<Activity>(&caller, &ctx, "activities", item.id).await
}

/// An instant as the form's `datetime-local` text; an API key's zone is UTC.
fn minute(at: Option<DateTime<Utc>>) -> String {
    at.map(|d| d.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// What of a written activity changes; absent fields stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityChange {
    subject: Option<String>,
    body: Option<String>,
    /// Tasks: `true` completes it, `false` opens it again.
    done: Option<bool>,
}

/// Edits a note, task, call or meeting, or completes a task. The system's entries
/// (stage changes, messages, …) answer 409.
#[utoipa::path(patch, path = "/activities/{id}", tag = "activities",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "The ETag of a GET: the update applies only if nothing changed since")),
    request_body = ActivityChange, responses((status = 200, body = Activity)))]
async fn update_activity(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("activities", Access::Write)?;
    let id = id_of(&id)?;
    let seen = if_match(&headers)?;
    let input: ActivityChange = json_body(&body)?;
    edits::edit_activity(
        &env_of(&ctx),
        id,
        &ActivityEdit {
            subject: input.subject,
            body: input.body,
            done: input.done,
        },
        seen,
    )
    .await
    .map_err(|e| precondition(e, seen))?;
    Ok(with_etag(
        StatusCode::OK,
        fetch::<Activity>(&caller, &ctx, id).await?,
    ))
}

#[utoipa::path(delete, path = "/activities/{id}", tag = "activities", params(("id" = Uuid, Path)),
    responses((status = 204)))]
async fn delete_activity(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("activities", Access::Write)?;
    edits::delete_activity(&env_of(&ctx), id_of(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new static list; smart lists are saved filters, made on a table in the app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewListBody {
    /// Up to 100 characters, unique among the lists of its kind of record.
    name: String,
    /// LEAD, CONTACT, COMPANY or DEAL.
    entity: String,
}

#[utoipa::path(post, path = "/lists", tag = "lists", request_body = NewListBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key and body get the first answer")),
    responses((status = 201, body = List)))]
async fn create_list(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("lists", Access::Write)?;
    let input: NewListBody = json_body(&body)?;
    let entity = Entity::parse(input.entity.trim())
        .ok_or_else(|| invalid("entity", "LEAD, CONTACT, COMPANY or DEAL"))?;
    let id = app::crm::records::ssr::create_list(&env_of(&ctx), entity, &input.name, None).await?;
    created::<List>(&caller, &ctx, "lists", id).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChange {
    name: String,
}

#[utoipa::path(patch, path = "/lists/{id}", tag = "lists",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "The ETag of a GET: the update applies only if nothing changed since")),
    request_body = ListChange, responses((status = 200, body = List)))]
async fn update_list(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("lists", Access::Write)?;
    let id = id_of(&id)?;
    let seen = if_match(&headers)?;
    let input: ListChange = json_body(&body)?;
    edits::rename_list(&env_of(&ctx), id, &input.name, seen)
        .await
        .map_err(|e| precondition(e, seen))?;
    Ok(with_etag(
        StatusCode::OK,
        fetch::<List>(&caller, &ctx, id).await?,
    ))
}

/// Deletes the list and its memberships; the records stay.
#[utoipa::path(delete, path = "/lists/{id}", tag = "lists", params(("id" = Uuid, Path)),
    responses((status = 204)))]
async fn delete_list(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("lists", Access::Write)?;
    edits::delete_list(&env_of(&ctx), id_of(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The records on a static list, most recently added first. Each member's `id` is
/// the record's; `expand` does not apply.
#[utoipa::path(get, path = "/lists/{id}/members", tag = "lists",
    params(("id" = Uuid, Path), ListParams), responses((status = 200, body = Page<ListMember>)))]
async fn list_members(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require("lists", Access::Read)?;
    let id = id_of(&id)?;
    fetch::<List>(&caller, &ctx, id).await?;
    list_within::<ListMember>(
        &caller,
        &ctx,
        "lists",
        query_of(params)?,
        vec![("list_id", FilterValue::Id(id))],
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMembers {
    /// 1 to 1,000 records of the list's kind.
    record_ids: Vec<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct MembersAdded {
    /// How many were not on the list before.
    added: u64,
}

/// Puts records on a static list; records already on it are left as they are.
#[utoipa::path(post, path = "/lists/{id}/members", tag = "lists", params(("id" = Uuid, Path)),
    request_body = NewMembers, responses((status = 200, body = MembersAdded)))]
async fn add_members(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("lists", Access::Write)?;
    let id = id_of(&id)?;
    let input: NewMembers = json_body(&body)?;
    if input.record_ids.is_empty() || input.record_ids.len() > 1000 {
        return Err(invalid("record_ids", "1 to 1,000 record ids"));
    }
    fetch::<List>(&caller, &ctx, id).await?;
    let mut ids = input.record_ids;
    ids.sort();
    ids.dedup();
    let added = edits::add_to_list(&env_of(&ctx), id, &ids)
        .await
        .map_err(|e| match e {
            // The list is there: the records are not, or not of its kind.
            AppError::NotFound(_) => invalid(
                "record_ids",
                "not all are records of this list's kind in this workspace",
            ),
            AppError::Validation { field, message } if field == "ids" => {
                invalid("record_ids", &message)
            }
            e => e.into(),
        })?;
    Ok(Json(MembersAdded { added }).into_response())
}

#[utoipa::path(delete, path = "/lists/{id}/members/{record_id}", tag = "lists",
    params(("id" = Uuid, Path), ("record_id" = Uuid, Path)), responses((status = 204)))]
async fn remove_member(
    Extension(caller): Extension<Caller>,
    Extension(ctx): Extension<RequestCtx>,
    Path((id, record)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require("lists", Access::Write)?;
    edits::remove_from_list(&env_of(&ctx), id_of(&id)?, id_of(&record)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
