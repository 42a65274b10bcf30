//! The queue a manager works.

use super::changed;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::db::{take_page, Tx};
use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::journey::{Cause, Journey};
use crate::outreach::model::Channel;
use crate::outreach::ssr::lead::{send_one_off, set_takeover, OneOff};
use crate::outreach::ssr::store;
use crate::request::{Env, Principal};
use crate::review::model::*;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

/// Items per page of the queue.
pub const PAGE: i64 = 50;
/// Longest reply a reviewer may write (the outbox's own limit is larger).
const REPLY_MAX: usize = 4000;

const ITEM_COLUMNS: &str = "i.id, i.lead_id, l.name AS lead_name, i.reason, i.priority, i.status,
    m.channel, coalesce(i.corrected_intent, m.intent) AS intent,
    left(coalesce(m.body, i.note, ''), 200) AS excerpt, u.name AS assignee, i.assignee_id,
    i.sla_due_at, i.breached, i.level::int4 AS level, i.created_at";
const ITEM_FROM: &str = "review_items i JOIN leads l ON l.id = i.lead_id
    LEFT JOIN messages m ON m.id = i.message_id LEFT JOIN users u ON u.id = i.assignee_id";

#[derive(sqlx::FromRow)]
struct ItemSql {
    id: Uuid,
    lead_id: Uuid,
    lead_name: String,
    reason: Reason,
    priority: Urgency,
    status: ItemStatus,
    channel: Option<String>,
    intent: Option<String>,
    excerpt: String,
    assignee: Option<String>,
    assignee_id: Option<Uuid>,
    sla_due_at: DateTime<Utc>,
    breached: bool,
    level: i32,
    created_at: DateTime<Utc>,
}

impl From<ItemSql> for ItemRow {
    fn from(r: ItemSql) -> ItemRow {
        ItemRow {
            id: r.id,
            lead_id: r.lead_id,
            lead_name: r.lead_name,
            reason: r.reason,
            priority: r.priority,
            status: r.status,
            channel: r.channel,
            intent: r.intent.as_deref().and_then(Intent::parse),
            excerpt: r.excerpt,
            assignee: r.assignee,
            assignee_id: r.assignee_id,
            sla_due_at: r.sla_due_at,
            breached: r.breached,
            level: r.level,
            created_at: r.created_at,
        }
    }
}

/// The queue page: open items by default, in SLA order, within the viewer's scope.
pub async fn queue(
    env: &Env,
    filter: &QueueFilter,
    before: Option<QueueCursor>,
) -> Result<QueuePage, AppError> {
    let (p, mut tx) = env.begin(Permission::ReviewWork).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE true"));
    scope.push(&mut qb, "l.owner_id");
    match filter.status {
        Some(s) => {
            qb.push(" AND i.status = ").push_bind(s.code());
        }
        None => {
            qb.push(" AND i.status <> 'RESOLVED'");
        }
    }
    if let Some(r) = filter.reason {
        qb.push(" AND i.reason = ").push_bind(r.code());
    }
    if let Some(pr) = filter.priority {
        qb.push(" AND i.priority = ").push_bind(pr.code());
    }
    if let Some(ch) = filter.channel.as_deref().and_then(Channel::parse) {
        qb.push(" AND m.channel = ").push_bind(ch.code());
    }
    if filter.mine {
        qb.push(" AND i.assignee_id = ").push_bind(p.user_id);
    }
    if filter.breached {
        qb.push(" AND i.breached");
    }
    if let Some(a) = filter.assignee {
        qb.push(" AND i.assignee_id = ").push_bind(a);
    }
    if let Some(s) = filter.sequence {
        qb.push(" AND EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = i.lead_id AND e.sequence_id = ")
            .push_bind(s)
            .push(")");
    }
    if let Some(c) = before {
        qb.push(" AND (i.sla_due_at, i.id) > (")
            .push_bind(c.sla_due_at)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    qb.push(" ORDER BY i.sla_due_at, i.id LIMIT ")
        .push_bind(PAGE + 1);
    let mut rows: Vec<ItemSql> = qb.build_query_as().fetch_all(&mut *tx).await?;
    let more = take_page(&mut rows, PAGE);
    let mut counts_qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT i.status, count(*) FROM review_items i JOIN leads l ON l.id = i.lead_id
          WHERE i.status <> 'RESOLVED'",
    );
    scope.push(&mut counts_qb, "l.owner_id");
    counts_qb.push(" GROUP BY i.status");
    let counts: Vec<(String, i64)> = counts_qb.build_query_as().fetch_all(&mut *tx).await?;
    let approvals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM approval_requests WHERE status = 'PENDING'")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    let items: Vec<ItemRow> = rows.into_iter().map(ItemRow::from).collect();
    let next = more.then(|| items.last()).flatten().map(|i| QueueCursor {
        sla_due_at: i.sla_due_at,
        id: i.id,
    });
    let counts = ItemStatus::ALL
        .iter()
        .filter(|s| **s != ItemStatus::Resolved)
        .map(|s| {
            let n = counts
                .iter()
                .find(|(c, _)| c == s.code())
                .map_or(0, |(_, n)| u32::try_from(*n).unwrap_or(u32::MAX));
            (*s, n)
        })
        .collect();
    Ok(QueuePage {
        items,
        next,
        counts,
        approvals: u32::try_from(approvals).unwrap_or(u32::MAX),
    })
}

/// The assignee and sequence filters' choices: members who may work the queue, and
/// the workspace's sequences.
pub async fn filter_options(env: &Env) -> Result<FilterOptions, AppError> {
    let (_, mut tx) = env.begin(Permission::ReviewWork).await?;
    let assignees: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.status = 'ACTIVE' AND m.role IN ('OWNER', 'ADMIN', 'MANAGER') ORDER BY u.name LIMIT 200",
    )
    .fetch_all(&mut *tx)
    .await?;
    let sequences: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM sequences ORDER BY name LIMIT 200")
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(FilterOptions {
        assignees,
        sequences,
    })
}

/// An item of the tenant the viewer may see, with its lead's owner; "not found"
/// otherwise, whatever the reason.
async fn visible_item(
    env: &Env,
    tx: &mut Tx,
    p: &Principal,
    id: Uuid,
) -> Result<ItemRow, AppError> {
    let scope = Scope::load(tx, p).await?;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE i.id = "
    ));
    qb.push_bind(id);
    scope.push(&mut qb, "l.owner_id");
    let row: Option<ItemSql> = qb.build_query_as().fetch_optional(&mut **tx).await?;
    row.map(ItemRow::from)
        .ok_or_else(|| AppError::NotFound(env.t("review.not_found")))
}

fn parse_id(env: &Env, id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.trim()).map_err(|_| AppError::NotFound(env.t("review.not_found")))
}

#[derive(sqlx::FromRow)]
struct DetailSql {
    sentiment: Option<i16>,
    confidence: Option<f32>,
    reasons: Option<serde_json::Value>,
    corrected_intent: Option<String>,
    resolution: Option<String>,
    note: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    owner: Option<String>,
    journey: Option<String>,
    human_takeover: Option<bool>,
    window_open: Option<bool>,
    ai_summary: Option<String>,
    suggested_reply: Option<String>,
    by_model: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct ThreadSql {
    id: Uuid,
    direction: String,
    channel: String,
    subject: Option<String>,
    body: String,
    created_at: DateTime<Utc>,
    intent: Option<String>,
}

/// The selected item with the conversation, the lead and the classification.
pub async fn item(env: &Env, id: &str) -> Result<ItemDetail, AppError> {
    let p = env.require(Permission::ReviewWork)?;
    let id = parse_id(env, id)?;
    let mut tx = env.tx(p).await?;
    let item = visible_item(env, &mut tx, p, id).await?;
    let detail = load_detail(&mut tx, item).await?;
    tx.commit().await?;
    Ok(detail)
}

async fn load_detail(tx: &mut Tx, item: ItemRow) -> Result<ItemDetail, AppError> {
    let d: DetailSql = sqlx::query_as(
        "SELECT m.sentiment, m.confidence, m.reasons, i.corrected_intent, i.resolution, i.note,
                l.email::text AS email, l.phone_e164 AS phone, c.name AS company, o.name AS owner,
                j.state AS journey, j.human_takeover,
                coalesce(j.last_inbound_at > now() - interval '24 hours', false) AS window_open,
                m.ai_summary, m.suggested_reply, m.classified_by = 'LLM' AS by_model
           FROM review_items i JOIN leads l ON l.id = i.lead_id
           LEFT JOIN messages m ON m.id = i.message_id
           LEFT JOIN companies c ON c.id = l.company_id
           LEFT JOIN users o ON o.id = l.owner_id
           LEFT JOIN lead_journeys j ON j.lead_id = l.id
          WHERE i.id = $1",
    )
    .bind(item.id)
    .fetch_one(&mut **tx)
    .await?;
    let thread: Vec<ThreadSql> = sqlx::query_as(
        "SELECT id, direction, channel, subject, body, created_at, intent FROM (
             SELECT id, direction, channel, subject, body, created_at, intent FROM messages
              WHERE lead_id = $1
              ORDER BY created_at DESC LIMIT 30) t
          ORDER BY created_at",
    )
    .bind(item.lead_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ItemDetail {
        sentiment: d.sentiment,
        confidence: d.confidence,
        reasons: d
            .reasons
            .and_then(|r| serde_json::from_value(r).ok())
            .unwrap_or_default(),
        corrected_intent: d.corrected_intent.as_deref().and_then(Intent::parse),
        resolution: d.resolution.as_deref().and_then(Resolution::parse),
        note: d.note,
        thread: thread
            .into_iter()
            .map(|m| ThreadMessage {
                id: m.id,
                inbound: m.direction == "IN",
                channel: m.channel,
                subject: m.subject,
                body: m.body,
                at: m.created_at,
                intent: m.intent.as_deref().and_then(Intent::parse),
            })
            .collect(),
        lead_email: d.email,
        lead_phone: d.phone,
        company: d.company,
        owner: d.owner,
        journey: d.journey,
        human_takeover: d.human_takeover.unwrap_or(false),
        wa_window_open: d.window_open.unwrap_or(false),
        ai_summary: d.ai_summary,
        suggested_reply: d.suggested_reply,
        by_model: d.by_model.unwrap_or(false),
        templates: suggested_texts(tx, &item).await?,
        item,
    })
}

/// Templates a reply may start from.
const SUGGESTED_MAX: i64 = 20;

#[derive(sqlx::FromRow)]
struct TemplateSql {
    id: Uuid,
    name: String,
    body: String,
}

/// The workspace's templates for the item's channel, filled in with the lead's values
/// (a template that does not parse is left out rather than shown broken).
async fn suggested_texts(tx: &mut Tx, item: &ItemRow) -> Result<Vec<SuggestedText>, AppError> {
    use crate::outreach::template::{seed_for, Template};
    let Some(channel) = item.channel.as_deref() else {
        return Ok(Vec::new());
    };
    let templates: Vec<TemplateSql> = sqlx::query_as(
        "SELECT t.id, t.name, v.body FROM templates t
           JOIN LATERAL (SELECT body FROM template_versions v WHERE v.template_id = t.id AND v.active
                          ORDER BY v.version_no DESC LIMIT 1) v ON true
          WHERE t.channel = $1 AND NOT t.archived ORDER BY t.name LIMIT $2",
    )
    .bind(channel)
    .bind(SUGGESTED_MAX)
    .fetch_all(&mut **tx)
    .await?;
    if templates.is_empty() {
        return Ok(Vec::new());
    }
    let (name, email, phone, company, owner): LeadValuesSql = sqlx::query_as(
        "SELECT l.name, l.email::text, l.phone_e164, c.name, o.name FROM leads l
           LEFT JOIN companies c ON c.id = l.company_id LEFT JOIN users o ON o.id = l.owner_id
          WHERE l.id = $1",
    )
    .bind(item.lead_id)
    .fetch_one(&mut **tx)
    .await?;
    let values = store::lead_values(
        &name,
        email.as_deref(),
        phone.as_deref(),
        company.as_deref(),
        owner.as_deref(),
    );
    Ok(templates
        .into_iter()
        .filter_map(|t| {
            let text = Template::parse(&t.body)
                .ok()?
                .render(&values, seed_for(item.lead_id.as_bytes(), 0));
            Some(SuggestedText {
                id: t.id,
                name: t.name,
                text,
            })
        })
        .collect())
}

type LeadValuesSql = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What the intent means for the lead once a human agrees with it.
async fn apply_intent(
    tx: &mut Tx,
    p: &Principal,
    item: &ItemRow,
    intent: Intent,
) -> Result<(), AppError> {
    match intent {
        Intent::NotInterested => {
            store::move_journey(
                tx,
                p.tenant_id,
                item.lead_id,
                Journey::Dead,
                Cause::Manual,
                "not interested (confirmed in review)",
                p.actor(),
            )
            .await?;
            store::stop_enrollment(tx, item.lead_id, "not_interested").await?;
        }
        Intent::Interested | Intent::Question => {
            store::move_journey(
                tx,
                p.tenant_id,
                item.lead_id,
                Journey::WarmReply,
                Cause::InboundReply,
                "reply confirmed in review",
                p.actor(),
            )
            .await?;
        }
        Intent::Unsubscribe | Intent::Complaint => {
            let from: Option<(String, String)> = sqlx::query_as(
                "SELECT m.channel, coalesce(m.from_address, '') FROM review_items i
                   JOIN messages m ON m.id = i.message_id WHERE i.id = $1",
            )
            .bind(item.id)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some((channel, address)) = from {
                if let Some(channel) = Channel::parse(&channel) {
                    let reason = if intent == Intent::Complaint {
                        "COMPLAINT"
                    } else {
                        "OPT_OUT"
                    };
                    store::suppress(tx, p.tenant_id, channel, &address, reason, None).await?;
                }
            }
            store::stop_enrollment(tx, item.lead_id, "opted_out").await?;
        }
        _ => {}
    }
    Ok(())
}

/// Does `action` to an item. A claim of an item someone else holds is refused with
/// their name; everything else on a resolved item is refused as already done.
pub async fn act(env: &Env, id: &str, action: ItemAction) -> Result<ItemDetail, AppError> {
    let p = env.require(Permission::ReviewWork)?;
    let id = parse_id(env, id)?;
    if matches!(action, ItemAction::TakeOver) {
        let lead = {
            let mut tx = env.tx(p).await?;
            let item = visible_item(env, &mut tx, p, id).await?;
            tx.commit().await?;
            item.lead_id
        };
        set_takeover(env, lead, true).await?;
    }
    let mut tx = env.tx(p).await?;
    let item = visible_item(env, &mut tx, p, id).await?;
    // Serialises two reviewers acting on one item: the second sees the first's change.
    let (status, assignee): (ItemStatus, Option<Uuid>) =
        sqlx::query_as("SELECT status, assignee_id FROM review_items WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if status == ItemStatus::Resolved {
        return Err(AppError::Conflict(env.t("review.error.resolved")));
    }
    if let Some(holder) = assignee.filter(|a| *a != p.user_id) {
        if matches!(action, ItemAction::Claim) {
            let name: String = sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
                .bind(holder)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or_default();
            return Err(AppError::Conflict(tf(
                env.locale(),
                "review.error.claimed",
                &[("name", name)],
            )));
        }
    }
    let (set, resolution, audit_action): (&str, Option<Resolution>, &str) = match &action {
        ItemAction::Claim => (
            "status = 'ASSIGNED', assignee_id = $2",
            None,
            "review.claimed",
        ),
        ItemAction::Ignore => ("assignee_id = coalesce(assignee_id, $2)", Some(Resolution::Ignored), "review.ignored"),
        ItemAction::Escalate => (
            "status = 'ESCALATED', assignee_id = NULL, level = least(level + 1, 10),
             priority = CASE priority WHEN 'LOW' THEN 'MEDIUM' WHEN 'MEDIUM' THEN 'HIGH' ELSE 'URGENT' END",
            None,
            "review.escalated",
        ),
        ItemAction::Confirm => ("assignee_id = coalesce(assignee_id, $2)", Some(Resolution::Confirmed), "review.confirmed"),
        ItemAction::Correct(_) => ("assignee_id = coalesce(assignee_id, $2)", Some(Resolution::Corrected), "review.corrected"),
        ItemAction::TakeOver => ("assignee_id = coalesce(assignee_id, $2)", Some(Resolution::TakenOver), "review.taken_over"),
    };
    match &action {
        ItemAction::Confirm => {
            if let Some(intent) = item.intent {
                apply_intent(&mut tx, p, &item, intent).await?;
            }
        }
        ItemAction::Correct(intent) => {
            sqlx::query("UPDATE review_items SET corrected_intent = $2 WHERE id = $1")
                .bind(id)
                .bind(intent.code())
                .execute(&mut *tx)
                .await?;
            apply_intent(&mut tx, p, &item, *intent).await?;
        }
        _ => {}
    }
    sqlx::query(&format!(
        "UPDATE review_items SET {set}, updated_at = now() WHERE id = $1"
    ))
    .bind(id)
    .bind(p.actor())
    .execute(&mut *tx)
    .await?;
    if let Some(r) = resolution {
        resolve(&mut tx, p, id, r).await?;
    }
    let after = match &action {
        ItemAction::Correct(intent) => serde_json::json!({ "intent": intent.code() }),
        _ => serde_json::json!({}),
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(audit_action, "review_items", Some(id))
            .change(serde_json::json!({ "status": status }), after),
    )
    .await?;
    changed(&mut tx, p.tenant_id).await?;
    let item = visible_item(env, &mut tx, p, id).await?;
    let detail = load_detail(&mut tx, item).await?;
    tx.commit().await?;
    Ok(detail)
}

async fn resolve(tx: &mut Tx, p: &Principal, id: Uuid, r: Resolution) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE review_items SET status = 'RESOLVED', resolution = $2, resolved_at = now(),
                resolved_by = $3, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(r.code())
    .bind(p.actor())
    .execute(&mut **tx)
    .await?;
    crate::developers::deliver::publish(
        tx,
        p.tenant_id,
        "review.item_resolved",
        serde_json::json!({ "id": id, "resolution": r.code(), "resolved_by": p.actor() }),
    )
    .await
}

/// Answers the item's lead on the channel the reply came on (through the outbox, like
/// any send: WhatsApp's 24-hour window and quotas apply) and resolves the item.
pub async fn respond(
    env: &Env,
    id: &str,
    body: &str,
    template_id: Option<&str>,
) -> Result<ItemDetail, AppError> {
    let p = env.require(Permission::ReviewWork)?;
    let id = parse_id(env, id)?;
    let body = body.trim();
    let template_id = template_id.map(str::trim).unwrap_or_default();
    if body.is_empty() && template_id.is_empty() {
        return Err(AppError::field("body", env.t("review.error.reply_empty")));
    }
    if body.chars().count() > REPLY_MAX {
        return Err(AppError::field("body", env.t("review.error.reply_long")));
    }
    let (item, subject) = {
        let mut tx = env.tx(p).await?;
        let item = visible_item(env, &mut tx, p, id).await?;
        let subject: Option<String> = sqlx::query_scalar(
            "SELECT m.subject FROM review_items i JOIN messages m ON m.id = i.message_id WHERE i.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        tx.commit().await?;
        (item, subject)
    };
    if item.status == ItemStatus::Resolved {
        return Err(AppError::Conflict(env.t("review.error.resolved")));
    }
    let channel = item.channel.clone().unwrap_or_else(|| "EMAIL".into());
    let subject = subject
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            if s.to_lowercase().starts_with("re:") {
                s
            } else {
                format!("Re: {s}")
            }
        })
        .unwrap_or_default();
    send_one_off(
        env,
        item.lead_id,
        &OneOff {
            channel,
            template_id: template_id.to_string(),
            subject,
            body: body.to_string(),
        },
    )
    .await?;
    let mut tx = env.tx(p).await?;
    sqlx::query("UPDATE review_items SET assignee_id = coalesce(assignee_id, $2) WHERE id = $1 AND status <> 'RESOLVED'")
        .bind(id)
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?;
    resolve(&mut tx, p, id, Resolution::Replied).await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("review.replied", "review_items", Some(id)),
    )
    .await?;
    changed(&mut tx, p.tenant_id).await?;
    let item = visible_item(env, &mut tx, p, id).await?;
    let detail = load_detail(&mut tx, item).await?;
    tx.commit().await?;
    Ok(detail)
}

/// The SLA sweep the worker runs every minute (schedule `review.sla`); how many items
/// it escalated.
pub async fn sla_sweep(pool: &sqlx::PgPool, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT review_sla_sweep($1)")
        .bind(now)
        .fetch_one(pool)
        .await
}
