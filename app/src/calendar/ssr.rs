use super::ics::{self, Calendar, Event, Person};
use super::FeedStatus;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crypto;
use crate::db::{Db, Tx};
use crate::error::AppError;
use crate::i18n::{t, Locale};
use crate::request::{AppConfig, Env};
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use uuid::Uuid;

/// How far back and ahead a feed reaches, and at most how many of each kind it holds:
/// calendar apps fetch the whole feed every few minutes.
const PAST_DAYS: i64 = 60;
const AHEAD_DAYS: i64 = 400;
const MAX_EVENTS: i64 = 2_000;
/// A task has no length; it shows as a short slot at its due time.
const TASK_MINUTES: i64 = 15;

pub async fn status(env: &Env) -> Result<FeedStatus, AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let since = sqlx::query_scalar("SELECT created_at FROM calendar_feeds WHERE user_id = $1")
        .bind(p.user_id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(FeedStatus { since })
}

/// A fresh token replaces any earlier one in the same statement, so there is never a
/// moment with two working URLs.
pub async fn rotate(env: &Env) -> Result<String, AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let token = crypto::token();
    let replaced: Option<bool> = sqlx::query_scalar(
        "INSERT INTO calendar_feeds (tenant_id, user_id, token_hash) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now()
         RETURNING (xmax::text <> '0')",
    )
    .bind(p.tenant_id)
    .bind(p.user_id)
    .bind(crypto::sha256(token.as_bytes()))
    .fetch_optional(&mut *tx)
    .await?;
    let action = if replaced == Some(true) {
        "calendar.feed_replaced"
    } else {
        "calendar.feed_created"
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(action, "user", Some(p.user_id)),
    )
    .await?;
    tx.commit().await?;
    Ok(feed_url(&env.ctx.config, &token))
}

pub async fn revoke(env: &Env) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let gone = sqlx::query("DELETE FROM calendar_feeds WHERE user_id = $1")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone > 0 {
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("calendar.feed_revoked", "user", Some(p.user_id)),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub fn feed_url(config: &AppConfig, token: &str) -> String {
    format!(
        "{}/calendar/{token}.ics",
        config.public_url.trim_end_matches('/')
    )
}

/// The feed a URL's token opens, or `None` for a token that is not (or no longer) a
/// feed's: a token is 64 hex digits, so anything else is refused without a query.
pub async fn feed(
    db: &Db,
    config: &AppConfig,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, AppError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(row) = sqlx::query("SELECT tenant_id, user_id FROM calendar_feed_lookup($1)")
        .bind(crypto::sha256(token.as_bytes()))
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let tenant: Uuid = row.try_get("tenant_id")?;
    let user: Uuid = row.try_get("user_id")?;
    let mut tx = db.tenant_tx(tenant, Some(user)).await?;
    let head = sqlx::query(
        "SELECT t.name, COALESCE(p.language, t.locale) AS locale
           FROM tenants t LEFT JOIN user_preferences p ON p.user_id = $1
          WHERE t.id = app_tenant()",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    let locale = Locale::parse(&head.try_get::<String, _>("locale")?).unwrap_or_default();
    let workspace: String = head.try_get("name")?;
    let base = config.public_url.trim_end_matches('/');
    let mut events = meetings(&mut tx, user, now, base).await?;
    events.extend(tasks(&mut tx, user, now, base, locale).await?);
    tx.commit().await?;
    events.sort_by_key(|e| e.start);
    Ok(Some(ics::render(&Calendar {
        name: format!("Leadline — {workspace}"),
        events,
    })))
}

/// The record an activity is about, as its page's path and its name.
const ABOUT: &str = "CASE WHEN a.lead_id IS NOT NULL THEN '/leads/' || a.lead_id
                          WHEN a.deal_id IS NOT NULL THEN '/deals/' || a.deal_id
                          WHEN a.contact_id IS NOT NULL THEN '/contacts/' || a.contact_id
                          ELSE '/companies/' || a.company_id END AS link,
                     COALESCE((SELECT name FROM leads WHERE id = a.lead_id),
                              (SELECT name FROM deals WHERE id = a.deal_id),
                              (SELECT full_name FROM contacts WHERE id = a.contact_id),
                              (SELECT name FROM companies WHERE id = a.company_id)) AS about";

fn description(row: &sqlx::postgres::PgRow) -> Result<String, sqlx::Error> {
    let about: Option<String> = row.try_get("about")?;
    let body: Option<String> = row.try_get("body")?;
    Ok([about, body]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n"))
}

async fn meetings(
    tx: &mut Tx,
    user: Uuid,
    now: DateTime<Utc>,
    base: &str,
) -> Result<Vec<Event>, AppError> {
    let rows = in_window(
        tx,
        &format!(
            "SELECT a.id, a.subject, a.body, a.starts_at, a.ends_at, {ABOUT},
                o.name AS organizer_name, o.email::text AS organizer_email,
                (SELECT coalesce(jsonb_agg(jsonb_build_object('name', u.name, 'email', u.email) ORDER BY u.name), '[]')
                   FROM meeting_attendees ma JOIN users u ON u.id = ma.user_id
                  WHERE ma.activity_id = a.id) AS attendees
           FROM activities a
           JOIN meeting_attendees me ON me.activity_id = a.id AND me.user_id = $1
           LEFT JOIN users o ON o.id = a.actor_id
          WHERE a.kind = 'MEETING' AND a.starts_at IS NOT NULL
            AND a.ends_at > $2 AND a.starts_at < $3
          ORDER BY a.starts_at LIMIT $4"
        ),
        user,
        now,
    )
    .await?;
    rows.iter()
        .map(|r| {
            let id: Uuid = r.try_get("id")?;
            let attendees: serde_json::Value = r.try_get("attendees")?;
            let organizer = match (
                r.try_get::<Option<String>, _>("organizer_name")?,
                r.try_get::<Option<String>, _>("organizer_email")?,
            ) {
                (Some(name), Some(email)) => Some(Person { name, email }),
                _ => None,
            };
            Ok(Event {
                uid: format!("meeting-{id}@leadline"),
                stamp: now,
                start: r.try_get("starts_at")?,
                end: r.try_get("ends_at")?,
                summary: r
                    .try_get::<Option<String>, _>("subject")?
                    .unwrap_or_default(),
                description: Some(description(r)?),
                url: Some(format!("{base}{}", r.try_get::<String, _>("link")?)),
                organizer,
                attendees: people(&attendees),
                transparent: false,
                category: None,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The member's rows of `sql`, whose binds are the member, the window's start and end,
/// and the most rows a feed holds of one kind.
async fn in_window(
    tx: &mut Tx,
    sql: &str,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<sqlx::postgres::PgRow>, AppError> {
    Ok(sqlx::query(sql)
        .bind(user)
        .bind(now - Duration::days(PAST_DAYS))
        .bind(now + Duration::days(AHEAD_DAYS))
        .bind(MAX_EVENTS)
        .fetch_all(&mut **tx)
        .await?)
}

fn people(json: &serde_json::Value) -> Vec<Person> {
    json.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(Person {
                name: p["name"].as_str()?.to_string(),
                email: p["email"].as_str()?.to_string(),
            })
        })
        .collect()
}

async fn tasks(
    tx: &mut Tx,
    user: Uuid,
    now: DateTime<Utc>,
    base: &str,
    locale: Locale,
) -> Result<Vec<Event>, AppError> {
    let rows = in_window(
        tx,
        &format!(
            "SELECT a.id, a.subject, a.body, a.due_at, {ABOUT}
           FROM activities a
          WHERE a.kind = 'TASK' AND a.done_at IS NULL AND a.assignee_id = $1
            AND a.due_at > $2 AND a.due_at < $3
          ORDER BY a.due_at LIMIT $4"
        ),
        user,
        now,
    )
    .await?;
    let kind = t(locale, "timeline.kind.TASK");
    rows.iter()
        .map(|r| {
            let id: Uuid = r.try_get("id")?;
            let due: DateTime<Utc> = r.try_get("due_at")?;
            let subject: Option<String> = r.try_get("subject")?;
            Ok(Event {
                uid: format!("task-{id}@leadline"),
                stamp: now,
                start: due,
                end: due + Duration::minutes(TASK_MINUTES),
                summary: format!("{kind}: {}", subject.unwrap_or_default()),
                description: Some(description(r)?),
                url: Some(format!("{base}{}", r.try_get::<String, _>("link")?)),
                organizer: None,
                attendees: Vec::new(),
                transparent: true,
                category: Some(kind.clone()),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(AppError::from)
}
