//! The notification centre on the server: the member's own notifications (never
//! another member's: every query is by the signed-in user), their preferences, and the
//! daily digest email, which runs for every tenant from the worker's schedules.

use super::{Notice, NoticePage, NoticePref, KINDS, PAGE_SIZE};
use crate::auth::mail::{send_now, AccountEmail};
use crate::auth::model::Permission;
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::request::{AppConfig, Env};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A page cursor: the last row's time (microseconds) and id.
fn cursor(n: &Notice) -> String {
    format!("{}_{}", n.created_at.timestamp_micros(), n.id)
}

fn parse_cursor(env: &Env, raw: &str) -> Result<(DateTime<Utc>, Uuid), AppError> {
    let bad = || AppError::field("before", env.t("notices.bad_cursor"));
    let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

pub async fn page(
    env: &Env,
    before: Option<&str>,
    unread_only: bool,
) -> Result<NoticePage, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let before = before
        .filter(|b| !b.is_empty())
        .map(|b| parse_cursor(env, b))
        .transpose()?;
    let mut tx = env.tx(p).await?;
    let mut items: Vec<Notice> = sqlx::query_as(
        "SELECT id, kind, body, link, created_at, read_at IS NOT NULL AS read FROM notifications
          WHERE user_id = $1 AND in_app AND (NOT $2 OR read_at IS NULL)
            AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
          ORDER BY created_at DESC, id DESC LIMIT $5",
    )
    .bind(p.user_id)
    .bind(unread_only)
    .bind(before.map(|b| b.0))
    .bind(before.map(|b| b.1))
    .bind(PAGE_SIZE + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let more = items.len() as i64 > PAGE_SIZE;
    items.truncate(PAGE_SIZE as usize);
    let next = more.then(|| items.last().map(cursor)).flatten();
    Ok(NoticePage { items, next })
}

/// Marks one of the viewer's notifications read; anyone else's is "not found".
pub async fn mark_read(env: &Env, id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let found = sqlx::query(
        "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(p.user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    if found == 0 {
        return Err(AppError::NotFound(env.t("notices.not_found")));
    }
    Ok(())
}

pub async fn prefs(env: &Env) -> Result<Vec<NoticePref>, AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let set: Vec<(String, bool, bool)> =
        sqlx::query_as("SELECT kind, in_app, email FROM notification_prefs WHERE user_id = $1")
            .bind(p.user_id)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(KINDS
        .iter()
        .map(|kind| {
            let found = set.iter().find(|(k, _, _)| k == kind);
            NoticePref {
                kind: kind.to_string(),
                in_app: found.is_none_or(|f| f.1),
                email: found.is_some_and(|f| f.2),
            }
        })
        .collect())
}

/// Saves the viewer's choices; kinds not listed keep theirs. An unknown kind is refused
/// rather than stored.
pub async fn save_prefs(env: &Env, prefs: &[NoticePref]) -> Result<(), AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    if prefs.len() > KINDS.len() {
        return Err(AppError::field("prefs", env.t("notices.bad_kind")));
    }
    if let Some(bad) = prefs.iter().find(|p| !KINDS.contains(&p.kind.as_str())) {
        return Err(AppError::field(
            "prefs",
            tf(
                env.locale(),
                "notices.unknown_kind",
                &[("kind", bad.kind.clone())],
            ),
        ));
    }
    let mut tx = env.tx(p).await?;
    for pref in prefs {
        sqlx::query(
            "INSERT INTO notification_prefs (tenant_id, user_id, kind, in_app, email)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, user_id, kind)
             DO UPDATE SET in_app = EXCLUDED.in_app, email = EXCLUDED.email, updated_at = now()",
        )
        .bind(p.tenant_id)
        .bind(p.user_id)
        .bind(&pref.kind)
        .bind(pref.in_app)
        .bind(pref.email)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Notifications one digest run handles at most; the rest wait for the next run.
const DIGEST_BATCH: i32 = 5000;
/// Lines one digest email lists; it says how many more there are.
const DIGEST_LINES: usize = 50;

#[derive(sqlx::FromRow)]
struct Pending {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    email: String,
    user_name: String,
    tenant_name: String,
    locale: String,
    timezone: String,
    kind: String,
    body: String,
    link: Option<String>,
    created_at: DateTime<Utc>,
}

/// Sends each member with email-enabled kinds one email of what is unread and not yet
/// emailed (per workspace), and marks those notifications emailed. A member whose email
/// fails keeps theirs for the next run. Returns the emails sent.
pub async fn send_digests(
    pool: &PgPool,
    config: &AppConfig,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let Some(account_mail) = config.account_mail.as_ref() else {
        return Ok(0);
    };
    let pending: Vec<Pending> = sqlx::query_as("SELECT * FROM notices_digest_pending($1, $2)")
        .bind(now)
        .bind(DIGEST_BATCH)
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut per_member: BTreeMap<(Uuid, Uuid), Vec<Pending>> = BTreeMap::new();
    for row in pending {
        per_member
            .entry((row.tenant_id, row.user_id))
            .or_default()
            .push(row);
    }
    let base = config.public_url.trim_end_matches('/');
    let mut sent = 0;
    for rows in per_member.values() {
        let first = &rows[0];
        let locale = Locale::parse(&first.locale).unwrap_or_default();
        let mut text = tf(
            locale,
            "notices.digest_intro",
            &[
                ("name", first.user_name.clone()),
                ("workspace", first.tenant_name.clone()),
            ],
        );
        text.push_str("\n\n");
        for row in rows.iter().take(DIGEST_LINES) {
            text.push_str(&format!(
                "- {} · {}: {}\n",
                crate::l10n::date_time(
                    locale,
                    crate::l10n::to_local(&row.timezone, row.created_at)
                ),
                t(locale, &format!("notices.kind.{}", row.kind)),
                row.body
            ));
            if let Some(link) = &row.link {
                text.push_str(&format!("  {base}{link}\n"));
            }
        }
        if rows.len() > DIGEST_LINES {
            text.push_str(&tf(
                locale,
                "notices.digest_more",
                &[("n", (rows.len() - DIGEST_LINES).to_string())],
            ));
            text.push('\n');
        }
        text.push_str(&format!(
            "\n{}\n{base}/notifications\n{}\n{base}/settings/notifications\n",
            t(locale, "notices.digest_all"),
            t(locale, "notices.digest_prefs")
        ));
        let digest = AccountEmail {
            to: first.email.clone(),
            subject: tf(
                locale,
                "notices.digest_subject",
                &[
                    ("n", rows.len().to_string()),
                    ("workspace", first.tenant_name.clone()),
                ],
            ),
            text,
        };
        // The text links to the preferences, which is where a member turns this off.
        let delivered = send_now(account_mail, &digest).await;
        match delivered {
            Ok(_) => {
                let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                sqlx::query("SELECT notices_digest_sent($1, $2)")
                    .bind(&ids)
                    .bind(now)
                    .execute(pool)
                    .await
                    .map_err(|e| e.to_string())?;
                sent += 1;
            }
            Err(error) => {
                tracing::warn!(%error, user = %first.user_id, "notification digest not sent");
            }
        }
    }
    Ok(sent)
}
