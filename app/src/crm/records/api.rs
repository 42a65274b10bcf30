// Form server functions take one argument per form field, as `ActionForm` sends them.
#![allow(clippy::too_many_arguments)]

use super::model::*;
use crate::crm::model::{Entity, RecordFilter};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[server(input = Json)]
pub async fn list_records(
    entity: Entity,
    filter: RecordFilter,
    sort: Sort,
    after: Option<RowCursor>,
) -> Result<RecordPage, AppError> {
    respond(async { super::ssr::list(&env()?, entity, &filter, sort, after).await }).await
}

#[server(input = Json)]
pub async fn get_record(entity: Entity, id: Uuid) -> Result<RecordDetail, AppError> {
    respond(async { super::ssr::detail(&env()?, entity, id).await }).await
}

/// Creates (no `id`) or updates a record from a form; only the fields the form sent
/// change.
#[server]
pub async fn save_record(
    entity: String,
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    title: Option<String>,
    source: Option<String>,
    status: Option<String>,
    score: Option<String>,
    domain: Option<String>,
    industry: Option<String>,
    city: Option<String>,
    country: Option<String>,
    owner_id: Option<String>,
    tags: Option<String>,
    company: Option<String>,
    contact: Option<String>,
    expected_close_on: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    probability: Option<String>,
    /// Custom fields by key, sent as `custom[key]=value`.
    custom: Option<std::collections::HashMap<String, String>>,
) -> Result<Uuid, AppError> {
    let custom = custom.unwrap_or_default();
    let fields: Vec<(String, String)> = [
        ("name", name),
        ("email", email),
        ("phone", phone),
        ("title", title),
        ("source", source),
        ("status", status),
        ("score", score),
        ("domain", domain),
        ("industry", industry),
        ("city", city),
        ("country", country),
        ("owner_id", owner_id),
        ("tags", tags),
        ("company", company),
        ("contact", contact),
        ("expected_close_on", expected_close_on),
        ("amount", amount),
        ("currency", currency),
        ("probability", probability),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
    .collect();
    respond(async {
        let env = env()?;
        let entity = Entity::parse(&entity)
            .ok_or_else(|| AppError::field("entity", env.t("records.not_found")))?;
        match id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => super::ssr::create(&env, entity, &fields, &custom).await,
            Some(id) => {
                let id = id
                    .parse()
                    .map_err(|_| AppError::NotFound(env.t("records.not_found")))?;
                super::ssr::update(&env, entity, id, &fields, &custom).await?;
                Ok(id)
            }
        }
    })
    .await
}

#[server(input = Json)]
pub async fn get_timeline(
    entity: Entity,
    id: Uuid,
    before: Option<TimelineCursor>,
) -> Result<TimelinePage, AppError> {
    respond(async { super::ssr::timeline(&env()?, entity, id, before).await }).await
}

#[server]
pub async fn log_activity(
    entity: String,
    id: Uuid,
    kind: String,
    subject: Option<String>,
    body: Option<String>,
    due_at: Option<String>,
    duration_minutes: Option<String>,
    outcome: Option<String>,
    assignee_id: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    attendee_ids: Option<String>,
) -> Result<TimelineItem, AppError> {
    respond(async {
        let env = env()?;
        let entity =
            Entity::parse(&entity).ok_or_else(|| AppError::NotFound(env.t("records.not_found")))?;
        let input = super::ssr::NewActivity {
            kind,
            subject: subject.unwrap_or_default(),
            body: body.unwrap_or_default(),
            due_at: due_at.unwrap_or_default(),
            duration_minutes: duration_minutes.unwrap_or_default(),
            outcome: outcome.unwrap_or_default(),
            assignee_id: assignee_id.unwrap_or_default(),
            starts_at: starts_at.unwrap_or_default(),
            ends_at: ends_at.unwrap_or_default(),
            attendee_ids: attendee_ids.unwrap_or_default(),
        };
        super::ssr::add_activity(&env, entity, id, &input).await
    })
    .await
}

#[server]
pub async fn get_my_tasks() -> Result<MyTasks, AppError> {
    respond(async { super::ssr::my_tasks(&env()?).await }).await
}

#[server]
pub async fn complete_task(task_id: Uuid) -> Result<(), AppError> {
    respond(async { super::ssr::complete_task(&env()?, task_id).await }).await
}

/// Moves an open task to a new due time, typed on the member's clock.
#[server]
pub async fn reschedule_task(task_id: Uuid, due_at: String) -> Result<(), AppError> {
    respond(async {
        let env = env()?;
        super::ssr::change_task(&env, task_id, super::ssr::TaskChange::Reschedule(&due_at)).await
    })
    .await
}

/// Gives an open task to another member the caller may give work to.
#[server]
pub async fn assign_task(task_id: Uuid, assignee_id: Uuid) -> Result<(), AppError> {
    respond(async {
        super::ssr::change_task(
            &env()?,
            task_id,
            super::ssr::TaskChange::Assign(assignee_id),
        )
        .await
    })
    .await
}

#[server]
pub async fn cancel_task(task_id: Uuid) -> Result<(), AppError> {
    respond(async {
        super::ssr::change_task(&env()?, task_id, super::ssr::TaskChange::Cancel).await
    })
    .await
}

/// Opens a done or cancelled task again.
#[server]
pub async fn reopen_task(task_id: Uuid) -> Result<(), AppError> {
    respond(async {
        super::ssr::change_task(&env()?, task_id, super::ssr::TaskChange::Reopen).await
    })
    .await
}

#[server(input = Json)]
pub async fn apply_bulk(
    entity: Entity,
    ids: Vec<Uuid>,
    action: BulkAction,
) -> Result<u64, AppError> {
    respond(async { super::ssr::bulk(&env()?, entity, &ids, &action).await }).await
}

#[server(input = Json)]
pub async fn get_lists(entity: Entity) -> Result<Vec<ListRef>, AppError> {
    respond(async { super::ssr::lists(&env()?, entity).await }).await
}

/// A static list, or with `smart` a saved filter that re-evaluates.
#[server(input = Json)]
pub async fn create_list(
    entity: Entity,
    name: String,
    smart: Option<RecordFilter>,
) -> Result<Uuid, AppError> {
    respond(async { super::ssr::create_list(&env()?, entity, &name, smart.as_ref()).await }).await
}

/// A list's name, description and colour (`#rrggbb`).
#[server]
pub async fn update_list(
    id: Uuid,
    name: String,
    description: Option<String>,
    color: String,
) -> Result<(), AppError> {
    respond(async {
        super::ssr::update_list(
            &env()?,
            id,
            &name,
            description.as_deref().unwrap_or(""),
            &color,
        )
        .await
    })
    .await
}

#[server]
pub async fn search_records(q: String) -> Result<SearchHits, AppError> {
    respond(async { super::ssr::search(&env()?, &q).await }).await
}

#[server]
pub async fn get_custom_fields() -> Result<Vec<CustomField>, AppError> {
    respond(async { super::ssr::list_custom_fields(&env()?).await }).await
}

#[server]
pub async fn add_custom_field(
    entity: String,
    key: String,
    label: String,
    kind: String,
    options: Option<String>,
    required: Option<String>,
) -> Result<Uuid, AppError> {
    let input = super::ssr::NewCustomField {
        entity,
        key,
        label,
        kind,
        options: options.unwrap_or_default(),
        required: required.is_some(),
    };
    respond(async { super::ssr::add_custom_field(&env()?, &input).await }).await
}

#[server]
pub async fn remove_custom_field(id: Uuid) -> Result<(), AppError> {
    respond(async { super::ssr::remove_custom_field(&env()?, id).await }).await
}
