//! The outreach dashboard: the funnel, reply rates per sequence, step and variant,
//! quota use per number, bounce rate per mailbox, and the last two weeks by day.
//! Tenant-wide counts only; no lead's data appears.

use super::store::TENANT_TODAY;
use crate::auth::model::Permission;
use crate::db::internal;
use crate::error::AppError;
use crate::outreach::model::*;
use crate::request::Env;
use sqlx::Row;

pub async fn dashboard(env: &Env) -> Result<OutreachDashboard, AppError> {
    let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let f = sqlx::query(
        "SELECT count(*) FILTER (WHERE state <> 'COLD' OR first_wa_at IS NOT NULL OR first_email_at IS NOT NULL) AS contacted,
                count(*) FILTER (WHERE last_inbound_at IS NOT NULL OR state IN ('WARM_REPLY', 'NEGOTIATION', 'CONVERTED')) AS replied,
                count(*) FILTER (WHERE state = 'CONVERTED') AS converted
           FROM lead_journeys",
    )
    .fetch_one(&mut *tx)
    .await
    ?;
    let rate_rows = |rows: Vec<sqlx::postgres::PgRow>| -> Result<Vec<RateRow>, sqlx::Error> {
        rows.iter()
            .map(|r| {
                Ok(RateRow {
                    label: r.try_get("label")?,
                    sent: r.try_get("sent")?,
                    replied: r.try_get("replied")?,
                })
            })
            .collect()
    };
    let sequences = sqlx::query(
        "SELECT s.name AS label,
                count(m.id) FILTER (WHERE m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                count(m.id) FILTER (WHERE m.replied_at IS NOT NULL) AS replied
           FROM sequences s LEFT JOIN enrollments e ON e.sequence_id = s.id
           LEFT JOIN messages m ON m.enrollment_id = e.id
          GROUP BY s.id, s.name ORDER BY s.name LIMIT 20",
    )
    .fetch_all(&mut *tx)
    .await?;
    let steps = sqlx::query(
        "SELECT s.name || ' · ' || st.position AS label,
                count(m.id) FILTER (WHERE m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                count(m.id) FILTER (WHERE m.replied_at IS NOT NULL) AS replied
           FROM sequence_steps st JOIN sequences s ON s.id = st.sequence_id
           LEFT JOIN messages m ON m.step_id = st.id
          WHERE st.kind = 'SEND'
          GROUP BY s.name, st.id, st.position ORDER BY s.name, st.position LIMIT 40",
    )
    .fetch_all(&mut *tx)
    .await?;
    let variants = sqlx::query(
        "SELECT t.name || ' · ' || v.label AS label,
                count(m.id) FILTER (WHERE m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                count(m.id) FILTER (WHERE m.replied_at IS NOT NULL) AS replied
           FROM template_versions v JOIN templates t ON t.id = v.template_id
           LEFT JOIN messages m ON m.template_version_id = v.id
          GROUP BY t.name, v.id, v.label, v.version_no ORDER BY t.name, v.version_no LIMIT 40",
    )
    .fetch_all(&mut *tx)
    .await?;
    let phones = sqlx::query(&format!(
        "SELECT p.label || ' ' || p.number AS label, coalesce(u.new_contacts, 0)::bigint AS used,
                p.daily_quota::bigint AS lim
           FROM wa_phone_numbers p LEFT JOIN wa_quota_usage u ON u.phone_id = p.id AND u.day = {TENANT_TODAY}
          ORDER BY p.priority, p.label"
    ))
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| {
        Ok(UsageRow {
            label: r.try_get("label")?,
            used: r.try_get("used")?,
            limit: r.try_get("lim")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mailboxes = sqlx::query(
        "SELECT a.from_address::text AS label,
                count(m.id) FILTER (WHERE m.status = 'BOUNCED') AS used,
                count(m.id) FILTER (WHERE m.status <> 'QUEUED') AS lim
           FROM email_accounts a LEFT JOIN messages m ON m.email_account_id = a.id AND m.direction = 'OUT'
          GROUP BY a.id, a.from_address ORDER BY a.from_address",
    )
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| {
        Ok(UsageRow {
            label: r.try_get("label")?,
            used: r.try_get("used")?,
            limit: r.try_get("lim")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let days = sqlx::query(&format!(
        "SELECT to_char(d, 'MM-DD') AS day,
                coalesce(s.wa_new_contacts + s.wa_followups + s.email_sent, 0)::bigint AS sent,
                coalesce(s.wa_replies + s.email_replies, 0)::bigint AS replies
           FROM generate_series({TENANT_TODAY} - 13, {TENANT_TODAY}, interval '1 day') AS d
           LEFT JOIN outreach_daily_stats s ON s.day = d::date
          ORDER BY d"
    ))
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(DayRow {
            day: r.try_get("day")?,
            sent: r.try_get("sent")?,
            replies: r.try_get("replies")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let review = review_days(&mut tx).await?;
    tx.commit().await?;
    Ok(OutreachDashboard {
        funnel: Funnel {
            contacted: f.try_get("contacted")?,
            replied: f.try_get("replied")?,
            converted: f.try_get("converted")?,
        },
        sequences: rate_rows(sequences)?,
        steps: rate_rows(steps)?,
        variants: rate_rows(variants)?,
        phones,
        mailboxes,
        days,
        review,
    })
}

/// The review queue's last 14 days, read from the items themselves: a median does not
/// add up across rows, so it is not kept as a counter (DECISIONS 53).
async fn review_days(tx: &mut crate::db::Tx) -> Result<Vec<ReviewDay>, AppError> {
    let rows = sqlx::query(&format!(
        "WITH tz AS (SELECT timezone FROM tenants WHERE id = app_tenant()),
              span AS (SELECT d::date AS day FROM generate_series({TENANT_TODAY} - 13, {TENANT_TODAY}, interval '1 day') AS d),
              made AS (SELECT (i.created_at AT TIME ZONE tz.timezone)::date AS day,
                              count(*) AS items, count(*) FILTER (WHERE i.breached) AS breaches
                         FROM review_items i, tz
                        WHERE i.created_at >= now() - interval '15 days'
                        GROUP BY 1),
              done AS (SELECT (i.resolved_at AT TIME ZONE tz.timezone)::date AS day,
                              count(*) AS resolved,
                              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.resolved_at - i.created_at) / 60) AS median_min,
                              count(*) FILTER (WHERE i.resolution = 'CONFIRMED') AS confirmed,
                              count(*) FILTER (WHERE i.resolution = 'CORRECTED') AS corrected
                         FROM review_items i, tz
                        WHERE i.resolved_at >= now() - interval '15 days'
                        GROUP BY 1)
         SELECT to_char(span.day, 'MM-DD') AS day, coalesce(made.items, 0) AS items,
                coalesce(made.breaches, 0) AS breaches, coalesce(done.resolved, 0) AS resolved,
                done.median_min, coalesce(done.confirmed, 0) AS confirmed,
                coalesce(done.corrected, 0) AS corrected
           FROM span LEFT JOIN made USING (day) LEFT JOIN done USING (day)
          ORDER BY span.day"
    ))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(ReviewDay {
                day: r.try_get("day")?,
                items: r.try_get("items")?,
                breaches: r.try_get("breaches")?,
                resolved: r.try_get("resolved")?,
                median_resolve_min: r.try_get("median_min")?,
                confirmed: r.try_get("confirmed")?,
                corrected: r.try_get("corrected")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// The viewer's unread notices, newest first.
pub async fn notifications(env: &Env) -> Result<Vec<NotificationView>, AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let rows = sqlx::query(
        "SELECT id, kind, body, link, created_at FROM notifications
          WHERE user_id = $1 AND read_at IS NULL AND in_app ORDER BY created_at DESC LIMIT 20",
    )
    .bind(p.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(NotificationView {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                body: r.try_get("body")?,
                link: r.try_get("link")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

pub async fn mark_read(env: &Env) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    sqlx::query("UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await.map_err(internal)
}
