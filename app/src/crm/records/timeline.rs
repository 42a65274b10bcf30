//! A record's timeline (activities and messages, newest first), adding notes, calls
//! and tasks, and the member's own tasks.

use super::model::*;
use super::ssr::*;
use crate::crm::access::Scope;
use crate::crm::model::{ActivityKind, Entity};
use crate::db::{new_id, take_page, Tx};
use crate::error::AppError;
use crate::request::{Env, Principal};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

fn timeline_item(r: &PgRow) -> Result<TimelineItem, sqlx::Error> {
    Ok(TimelineItem {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        actor: r.try_get("actor")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        data: r.try_get("data")?,
        due_at: r.try_get("due_at")?,
        done_at: r.try_get("done_at")?,
        cancelled: r
            .try_get::<Option<DateTime<Utc>>, _>("cancelled_at")?
            .is_some(),
        assignee: r.try_get("assignee")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        attendees: r
            .try_get::<Option<Vec<String>>, _>("attendees")?
            .unwrap_or_default(),
        occurred_at: r.try_get("occurred_at")?,
    })
}

// A message's timeline entry shows the message's live status (messages.status).
const TIMELINE_SELECT: &str = "SELECT a.id, a.kind, u.name AS actor, a.subject, a.body,
        CASE WHEN m.status IS NULL THEN a.data ELSE a.data || jsonb_build_object('status', m.status) END AS data,
        a.due_at, a.done_at, a.cancelled_at, a.occurred_at, a.starts_at, a.ends_at,
        CASE WHEN a.kind = 'TASK' THEN (SELECT name FROM users WHERE id = a.assignee_id) END AS assignee,
        CASE WHEN a.kind = 'MEETING' THEN ARRAY(SELECT au.name FROM meeting_attendees ma JOIN users au ON au.id = ma.user_id
                                                 WHERE ma.activity_id = a.id ORDER BY au.name) END AS attendees
   FROM activities a LEFT JOIN users u ON u.id = a.actor_id
   LEFT JOIN messages m ON a.kind IN ('WHATSAPP', 'EMAIL') AND m.id = (a.data ->> 'message_id')::uuid";

pub async fn timeline(
    env: &Env,
    entity: Entity,
    id: Uuid,
    before: Option<TimelineCursor>,
) -> Result<TimelinePage, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    check_visible(env, &mut tx, &scope, entity, id).await?;
    let column = entity.activity_column();
    let mut q = QueryBuilder::new(TIMELINE_SELECT);
    q.push(" WHERE a.tenant_id = ")
        .push_bind(p.tenant_id)
        .push(format_args!(" AND a.{column} = "))
        .push_bind(id);
    if let Some(c) = before {
        q.push(" AND (a.occurred_at, a.id) < (")
            .push_bind(c.at)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    q.push(" ORDER BY a.occurred_at DESC, a.id DESC LIMIT ")
        .push_bind(TIMELINE_PAGE + 1);
    let mut items: Vec<TimelineItem> = q
        .build()
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(timeline_item)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    tx.commit().await?;
    let next = if take_page(&mut items, TIMELINE_PAGE) {
        items.last().map(|i| TimelineCursor {
            at: i.occurred_at,
            id: i.id,
        })
    } else {
        None
    };
    Ok(TimelinePage { items, next })
}

/// What a member logs on a record's page.
pub struct NewActivity {
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub due_at: String,
    pub duration_minutes: String,
    pub outcome: String,
    /// A task's assignee (empty: the record's owner, else the writer).
    pub assignee_id: String,
    /// A meeting's start and end, read like `due_at`; an empty end is 30 minutes on.
    pub starts_at: String,
    pub ends_at: String,
    /// A meeting's other attendees: member ids, separated by commas.
    pub attendee_ids: String,
}

/// A meeting with no end given lasts this long.
const MEETING_MINUTES: i64 = 30;
/// Members one meeting can have.
const MAX_ATTENDEES: usize = 50;

pub async fn add_activity(
    env: &Env,
    entity: Entity,
    id: Uuid,
    input: &NewActivity,
) -> Result<TimelineItem, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let owner = check_visible(env, &mut tx, &scope, entity, id).await?;
    let Some(kind) = ActivityKind::parse(&input.kind.trim().to_ascii_uppercase())
        .filter(|kind| kind.is_written())
    else {
        return Err(AppError::field("kind", env.t("timeline.kind_invalid")));
    };
    let body = input.body.trim();
    let subject = input.subject.trim();
    if kind == ActivityKind::Note && body.is_empty() {
        return Err(AppError::field("body", env.t("timeline.note_required")));
    }
    if kind != ActivityKind::Note && subject.is_empty() {
        return Err(AppError::field(
            "subject",
            env.t("timeline.subject_required"),
        ));
    }
    if body.chars().count() > 10_000 || subject.chars().count() > 200 {
        return Err(AppError::field("body", env.t("records.too_long")));
    }
    let due_at = if kind == ActivityKind::Task {
        Some(
            parse_due(&input.due_at, &p.timezone)
                .ok_or_else(|| AppError::field("due_at", env.t("timeline.due_invalid")))?,
        )
    } else {
        None
    };
    // A task goes to whom the member chose, if they may give it work; else to the
    // record's owner, or to whoever wrote it.
    let assignee = match input.assignee_id.trim() {
        _ if kind != ActivityKind::Task => None,
        "" => owner.or(p.actor()),
        text => {
            let user = text
                .parse::<Uuid>()
                .map_err(|_| AppError::field("assignee_id", env.t("board.owner_out_of_scope")))?;
            check_assignee(env, &mut tx, &scope, user).await?;
            Some(user)
        }
    };
    let meeting = if kind == ActivityKind::Meeting {
        Some(meeting_times(env, input, &p.timezone)?)
    } else {
        None
    };
    let attendees = if kind == ActivityKind::Meeting {
        meeting_attendees(env, &mut tx, input, p.actor()).await?
    } else {
        Vec::new()
    };
    let mut data = serde_json::Map::new();
    if kind == ActivityKind::Call {
        let minutes = input.duration_minutes.trim();
        if !minutes.is_empty() {
            match minutes.parse::<u32>() {
                Ok(m) if m <= 24 * 60 => {
                    data.insert("duration_minutes".into(), m.into());
                }
                _ => {
                    return Err(AppError::field(
                        "duration_minutes",
                        env.t("timeline.duration_invalid"),
                    ))
                }
            }
        }
        let outcome = input.outcome.trim();
        if !outcome.is_empty() {
            data.insert("outcome".into(), outcome.into());
        }
    }
    let activity_id = new_id();
    sqlx::query(&format!(
        "INSERT INTO activities (tenant_id, id, kind, {}, actor_id, assignee_id, subject, body, data, due_at, starts_at, ends_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        entity.activity_column()
    ))
    .bind(p.tenant_id)
    .bind(activity_id)
    .bind(kind)
    .bind(id)
    .bind(p.actor())
    .bind(assignee)
    .bind((!subject.is_empty()).then_some(subject))
    .bind((!body.is_empty()).then_some(body))
    .bind(serde_json::Value::Object(data))
    .bind(due_at)
    .bind(meeting.map(|m| m.0))
    .bind(meeting.map(|m| m.1))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO meeting_attendees (tenant_id, activity_id, user_id)
         SELECT $1, $2, unnest($3::uuid[])",
    )
    .bind(p.tenant_id)
    .bind(activity_id)
    .bind(&attendees)
    .execute(&mut *tx)
    .await?;
    super::mentions::notify(&mut tx, p, entity, id, owner, body).await?;
    let link = entity.path(id);
    if kind == ActivityKind::Task {
        let text = format!("{} gave you a task: {subject}", p.name);
        tell(&mut tx, p, assignee, "TASK_ASSIGNED", &text, &link).await?;
    }
    for user in &attendees {
        let text = format!("{} invited you to a meeting: {subject}", p.name);
        tell(&mut tx, p, Some(*user), "MEETING_INVITED", &text, &link).await?;
    }
    let item = sqlx::query(&format!("{TIMELINE_SELECT} WHERE a.id = $1"))
        .bind(activity_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(timeline_item(&item)?)
}

/// A meeting's start and end: the start is required, the end must follow it within
/// a week.
fn meeting_times(
    env: &Env,
    input: &NewActivity,
    zone: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let start = parse_due(&input.starts_at, zone)
        .ok_or_else(|| AppError::field("starts_at", env.t("timeline.start_invalid")))?;
    let end = match input.ends_at.trim() {
        "" => start + chrono::Duration::minutes(MEETING_MINUTES),
        text => parse_due(text, zone)
            .ok_or_else(|| AppError::field("ends_at", env.t("timeline.end_invalid")))?,
    };
    if end <= start || end - start > chrono::Duration::days(7) {
        return Err(AppError::field("ends_at", env.t("timeline.end_order")));
    }
    Ok((start, end))
}

/// The writer and the members they invited, each an active member of this workspace.
async fn meeting_attendees(
    env: &Env,
    tx: &mut Tx,
    input: &NewActivity,
    writer: Option<Uuid>,
) -> Result<Vec<Uuid>, AppError> {
    let invalid = || AppError::field("attendee_ids", env.t("timeline.attendee_invalid"));
    let mut ids = input
        .attendee_ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Uuid>().map_err(|_| invalid()))
        .collect::<Result<Vec<_>, _>>()?;
    ids.extend(writer);
    ids.sort();
    ids.dedup();
    if ids.len() > MAX_ATTENDEES {
        return Err(AppError::field(
            "attendee_ids",
            env.t("timeline.attendees_too_many"),
        ));
    }
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM memberships WHERE user_id = ANY($1) AND status = 'ACTIVE'",
    )
    .bind(&ids)
    .fetch_one(&mut **tx)
    .await?;
    if active != ids.len() as i64 {
        return Err(invalid());
    }
    Ok(ids)
}

/// `2026-12-01` (the end of that day) or `2026-12-01T14:30` (a datetime-local input),
/// read in the member's zone.
fn parse_due(text: &str, zone: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(23, 59, 0))
        })?;
    Some(crate::l10n::from_local(zone, local))
}

pub async fn my_tasks(env: &Env) -> Result<MyTasks, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let rows = sqlx::query(
        "SELECT a.id, a.subject, a.due_at,
                CASE WHEN a.lead_id IS NOT NULL THEN 'LEAD' WHEN a.deal_id IS NOT NULL THEN 'DEAL'
                     WHEN a.contact_id IS NOT NULL THEN 'CONTACT' ELSE 'COMPANY' END AS e,
                coalesce(a.lead_id, a.deal_id, a.contact_id, a.company_id) AS rid,
                coalesce(l.name, d.name, c.full_name, co.name) AS rname
           FROM activities a
           LEFT JOIN leads l ON l.id = a.lead_id
           LEFT JOIN deals d ON d.id = a.deal_id
           LEFT JOIN contacts c ON c.id = a.contact_id
           LEFT JOIN companies co ON co.id = a.company_id
          WHERE a.tenant_id = $1 AND a.kind = 'TASK' AND a.done_at IS NULL AND a.assignee_id = $2
          ORDER BY a.due_at NULLS LAST, a.id LIMIT 500",
    )
    .bind(p.tenant_id)
    .bind(p.user_id)
    .fetch_all(&mut *tx)
    .await?;
    let members = crate::crm::board::ssr::members(&mut tx)
        .await?
        .into_iter()
        .filter(|m| scope.allows(Some(m.user_id)))
        .collect();
    let meeting_rows = sqlx::query(
        "SELECT a.id, a.subject, a.starts_at, a.ends_at,
                CASE WHEN a.lead_id IS NOT NULL THEN 'LEAD' WHEN a.deal_id IS NOT NULL THEN 'DEAL'
                     WHEN a.contact_id IS NOT NULL THEN 'CONTACT' ELSE 'COMPANY' END AS e,
                coalesce(a.lead_id, a.deal_id, a.contact_id, a.company_id) AS rid,
                coalesce(l.name, d.name, c.full_name, co.name) AS rname
           FROM meeting_attendees ma
           JOIN activities a ON a.id = ma.activity_id
           LEFT JOIN leads l ON l.id = a.lead_id
           LEFT JOIN deals d ON d.id = a.deal_id
           LEFT JOIN contacts c ON c.id = a.contact_id
           LEFT JOIN companies co ON co.id = a.company_id
          WHERE ma.tenant_id = $1 AND ma.user_id = $2
            AND a.ends_at > now() AND a.starts_at < now() + interval '14 days'
          ORDER BY a.starts_at, a.id LIMIT 200",
    )
    .bind(p.tenant_id)
    .bind(p.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let meetings = meeting_rows
        .iter()
        .map(|r| {
            Ok(MeetingRow {
                id: r.try_get("id")?,
                subject: r
                    .try_get::<Option<String>, _>("subject")?
                    .unwrap_or_default(),
                starts_at: r.try_get("starts_at")?,
                ends_at: r.try_get("ends_at")?,
                about: about(r)?,
            })
        })
        .collect::<Result<_, AppError>>()?;
    let tasks = rows
        .iter()
        .map(|r| {
            Ok(TaskRow {
                id: r.try_get("id")?,
                subject: r
                    .try_get::<Option<String>, _>("subject")?
                    .unwrap_or_default(),
                due_at: r.try_get("due_at")?,
                about: about(r)?,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(MyTasks {
        tasks,
        read_at: Utc::now(),
        members,
        meetings,
    })
}

/// The record a task or meeting row is about (columns `e`, `rid`, `rname`).
fn about(r: &PgRow) -> Result<Option<Link>, AppError> {
    Entity::parse(r.try_get::<String, _>("e")?.as_str())
        .map(|entity| {
            Ok::<_, AppError>(Link {
                entity,
                id: r.try_get("rid")?,
                name: r.try_get::<Option<String>, _>("rname")?.unwrap_or_default(),
            })
        })
        .transpose()
}

/// A change to a task, by someone who may act on it (see [`complete_task`]).
pub enum TaskChange<'a> {
    /// A new due time, typed on the member's wall clock.
    Reschedule(&'a str),
    /// Another assignee: one the member may give work to (their scope).
    Assign(Uuid),
    Cancel,
    /// Back to open, from done or cancelled.
    Reopen,
}

pub async fn change_task(env: &Env, task_id: Uuid, change: TaskChange<'_>) -> Result<(), AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let closed: Option<bool> = sqlx::query_scalar(
        "SELECT done_at IS NOT NULL FROM activities
          WHERE id = $1 AND kind = 'TASK' AND (actor_id = $2 OR assignee_id = ANY($3) OR $4)
          FOR UPDATE",
    )
    .bind(task_id)
    .bind(p.user_id)
    .bind(&scope.owners)
    .bind(scope.all)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(closed) = closed else {
        return Err(AppError::NotFound(env.t("timeline.task_not_found")));
    };
    let open_only = || {
        if closed {
            Err(AppError::Conflict(env.t("tasks.closed")))
        } else {
            Ok(())
        }
    };
    match change {
        TaskChange::Reschedule(text) => {
            open_only()?;
            let due = parse_due(text, &p.timezone)
                .ok_or_else(|| AppError::field("due_at", env.t("timeline.due_invalid")))?;
            // A new time is a new reminder.
            sqlx::query("UPDATE activities SET due_at = $2, reminded_at = NULL, updated_at = now() WHERE id = $1")
                .bind(task_id)
                .bind(due)
                .execute(&mut *tx)
                .await?;
        }
        TaskChange::Assign(user) => {
            open_only()?;
            check_assignee(env, &mut tx, &scope, user).await?;
            let (subject, link): (String, String) = sqlx::query_as(
                "UPDATE activities SET assignee_id = $2, reminded_at = NULL, updated_at = now() WHERE id = $1
                 RETURNING coalesce(subject, ''),
                           CASE WHEN lead_id IS NOT NULL THEN '/leads/' || lead_id
                                WHEN deal_id IS NOT NULL THEN '/deals/' || deal_id
                                WHEN contact_id IS NOT NULL THEN '/contacts/' || contact_id
                                ELSE '/companies/' || company_id END",
            )
            .bind(task_id)
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
            let body = format!("{} gave you a task: {subject}", p.name);
            tell(&mut tx, p, Some(user), "TASK_ASSIGNED", &body, &link).await?;
        }
        TaskChange::Cancel => {
            open_only()?;
            sqlx::query("UPDATE activities SET done_at = now(), cancelled_at = now(), updated_at = now() WHERE id = $1")
                .bind(task_id)
                .execute(&mut *tx)
                .await?;
        }
        TaskChange::Reopen => {
            if !closed {
                return Err(AppError::Conflict(env.t("tasks.already_open")));
            }
            sqlx::query(
                "UPDATE activities SET done_at = NULL, cancelled_at = NULL, reminded_at = NULL, updated_at = now()
                  WHERE id = $1",
            )
            .bind(task_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Tells `user` of what `p` did for them (a task given, a meeting), unless it was
/// their own doing.
async fn tell(
    tx: &mut Tx,
    p: &Principal,
    user: Option<Uuid>,
    kind: &str,
    body: &str,
    link: &str,
) -> Result<(), AppError> {
    let Some(user) = user.filter(|u| Some(*u) != p.actor()) else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
         VALUES ($1, gen_random_uuid(), $2, $3, $4, $5)",
    )
    .bind(p.tenant_id)
    .bind(user)
    .bind(kind)
    .bind(body.chars().take(300).collect::<String>())
    .bind(link)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A task may go to an active member the writer may give work to (their scope).
async fn check_assignee(env: &Env, tx: &mut Tx, scope: &Scope, user: Uuid) -> Result<(), AppError> {
    let active: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND status = 'ACTIVE')",
    )
    .bind(user)
    .fetch_one(&mut **tx)
    .await?;
    if !active || !scope.allows(Some(user)) {
        return Err(AppError::field(
            "assignee_id",
            env.t("board.owner_out_of_scope"),
        ));
    }
    Ok(())
}

pub async fn complete_task(env: &Env, task_id: Uuid) -> Result<(), AppError> {
    let (p, mut tx, scope) = open(env).await?;
    // A member completes their own tasks and those they set; a manager also their
    // reports' (the scope's owners), an admin anyone's.
    let done = sqlx::query(
        "UPDATE activities SET done_at = now(), updated_at = now()
          WHERE id = $1 AND kind = 'TASK' AND done_at IS NULL
            AND (actor_id = $2 OR assignee_id = ANY($3) OR $4)",
    )
    .bind(task_id)
    .bind(p.user_id)
    .bind(&scope.owners)
    .bind(scope.all)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t("timeline.task_not_found")));
    }
    tx.commit().await?;
    Ok(())
}
