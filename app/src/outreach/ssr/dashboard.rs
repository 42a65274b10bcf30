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
    let p = env.require(Permission::WorkspaceUse)?;
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let f = sqlx::query(
        "SELECT count(*) FILTER (WHERE state <> 'COLD' OR first_wa_at IS NOT NULL OR first_email_at IS NOT NULL) AS contacted,
                count(*) FILTER (WHERE last_inbound_at IS NOT NULL OR state IN ('WARM_REPLY', 'NEGOTIATION', 'CONVERTED')) AS replied,
                count(*) FILTER (WHERE state = 'CONVERTED') AS converted
           FROM lead_journeys",
    )
    .fetch_one(&mut *tx)
    .await
    ?;
    let rate_rows = |rows: Vec<sqlx::postgres::PgRow>| -> Vec<RateRow> {
        rows.iter()
            .map(|r| RateRow {
                label: r.get("label"),
                sent: r.get("sent"),
                replied: r.get("replied"),
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
    .map(|r| UsageRow {
        label: r.get("label"),
        used: r.get("used"),
        limit: r.get("lim"),
    })
    .collect();
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
    .map(|r| UsageRow {
        label: r.get("label"),
        used: r.get("used"),
        limit: r.get("lim"),
    })
    .collect();
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
    .map(|r| DayRow {
        day: r.get("day"),
        sent: r.get("sent"),
        replies: r.get("replies"),
    })
    .collect();
    tx.commit().await?;
    Ok(OutreachDashboard {
        funnel: Funnel {
            contacted: f.get("contacted"),
            replied: f.get("replied"),
            converted: f.get("converted"),
        },
        sequences: rate_rows(sequences),
        steps: rate_rows(steps),
        variants: rate_rows(variants),
        phones,
        mailboxes,
        days,
    })
}

/// The viewer's unread notices, newest first.
pub async fn notifications(env: &Env) -> Result<Vec<NotificationView>, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let rows = sqlx::query(
        "SELECT id, kind, body, link, created_at FROM notifications
          WHERE user_id = $1 AND read_at IS NULL ORDER BY created_at DESC LIMIT 20",
    )
    .bind(p.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|r| NotificationView {
            id: r.get("id"),
            kind: r.get("kind"),
            body: r.get("body"),
            link: r.get("link"),
            created_at: r.get("created_at"),
        })
        .collect())
}

pub async fn mark_read(env: &Env) -> Result<(), AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    sqlx::query("UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await.map_err(internal)
}
