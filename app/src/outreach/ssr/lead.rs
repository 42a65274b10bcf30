//! Outreach on a lead's page: its journey and messages, a one-off message through the
//! same outbox the sequences use, journey moves by hand, and human takeover.

use super::manage::template_error;
use super::store::{self, lock_quota, TENANT_TODAY};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::crm::model::Entity;
use crate::crm::records::ssr::check_visible;
use crate::db::{internal, new_id, Tx};
use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::journey::{Cause, Journey};
use crate::outreach::model::*;
use crate::outreach::template::{seed_for, Template};
use crate::request::{Env, Principal};
use sqlx::Row;
use uuid::Uuid;

async fn open_lead(env: &Env, lead_id: Uuid) -> Result<(&Principal, Tx), AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    check_visible(env, &mut tx, &scope, Entity::Lead, lead_id).await?;
    Ok((p, tx))
}

/// The lead's journey row, as `lead_outreach` reads it.
#[derive(sqlx::FromRow)]
struct JourneyRow {
    state: String,
    previous_state: Option<String>,
    state_reason: Option<String>,
    human_takeover: bool,
    phone: Option<String>,
    window_open: bool,
}

pub async fn lead_outreach(env: &Env, lead_id: Uuid) -> Result<LeadOutreach, AppError> {
    let (_, mut tx) = open_lead(env, lead_id).await?;
    let journey = sqlx::query_as::<_, JourneyRow>(
        "SELECT j.state, j.previous_state, j.state_reason, j.human_takeover, p.number || ' (' || p.label || ')' AS phone,
                coalesce(j.last_inbound_at > now() - interval '24 hours', false) AS window_open
           FROM lead_journeys j LEFT JOIN wa_phone_numbers p ON p.id = j.assigned_phone_id
          WHERE j.lead_id = $1",
    )
    .bind(lead_id)
    .fetch_optional(&mut *tx)
    .await
    ?;
    let enrollment = sqlx::query(
        "SELECT e.id, e.lead_id, l.name AS lead_name, e.status, e.next_step, e.next_run_at, e.stop_reason,
                s.name AS sequence_name
           FROM enrollments e JOIN leads l ON l.id = e.lead_id JOIN sequences s ON s.id = e.sequence_id
          WHERE e.lead_id = $1 ORDER BY (e.status IN ('ACTIVE', 'PAUSED')) DESC, e.created_at DESC LIMIT 1",
    )
    .bind(lead_id)
    .fetch_optional(&mut *tx)
    .await
    ?;
    let messages = sqlx::query(
        "SELECT m.id, m.channel, m.direction, m.status, m.subject, m.body, m.to_address, m.from_address,
                m.last_error, m.created_at,
                EXISTS (SELECT 1 FROM review_items i WHERE i.message_id = m.id AND i.status <> 'RESOLVED') AS in_review
           FROM messages m WHERE m.lead_id = $1 ORDER BY m.created_at DESC, m.id DESC LIMIT 50",
    )
    .bind(lead_id)
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(message_view)
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let suppressed: Vec<String> = sqlx::query_scalar(
        "SELECT s.channel || ' · ' || s.reason FROM suppressions s, leads l
          WHERE l.id = $1 AND s.address IN (l.phone_e164, lower(l.email::text)) ORDER BY 1",
    )
    .bind(lead_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let state = journey
        .as_ref()
        .map(|j| j.state.clone())
        .unwrap_or_else(|| "COLD".into());
    let current = Journey::parse(&state).unwrap_or(Journey::Cold);
    let manual_moves = Journey::ALL
        .into_iter()
        .filter(|to| current.can_move(*to, Cause::Manual))
        .map(|j| j.code().to_string())
        .collect();
    Ok(LeadOutreach {
        state,
        previous_state: journey.as_ref().and_then(|j| j.previous_state.clone()),
        state_reason: journey.as_ref().and_then(|j| j.state_reason.clone()),
        human_takeover: journey.as_ref().is_some_and(|j| j.human_takeover),
        assigned_phone: journey.as_ref().and_then(|j| j.phone.clone()),
        sequence_name: enrollment
            .as_ref()
            .map(|e| e.try_get("sequence_name"))
            .transpose()?,
        enrollment: enrollment
            .as_ref()
            .map(super::sequences::enrollment_view)
            .transpose()?,
        messages,
        manual_moves,
        suppressed,
        wa_window_open: journey.as_ref().is_some_and(|j| j.window_open),
    })
}

pub fn message_view(r: &sqlx::postgres::PgRow) -> Result<MessageView, sqlx::Error> {
    Ok(MessageView {
        id: r.try_get("id")?,
        channel: Channel::parse(r.try_get("channel")?).unwrap_or(Channel::WhatsApp),
        direction: r.try_get("direction")?,
        status: r.try_get("status")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        to_address: r.try_get("to_address")?,
        from_address: r.try_get("from_address")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        in_review: r.try_get("in_review")?,
    })
}

pub struct OneOff {
    pub channel: String,
    pub template_id: String,
    pub subject: String,
    pub body: String,
}

/// A message a member sends from the lead's page: written to the outbox with its
/// timeline entry in one transaction; the dispatcher sends it like any other.
pub async fn send_one_off(env: &Env, lead_id: Uuid, input: &OneOff) -> Result<Uuid, AppError> {
    let channel = Channel::parse(&input.channel)
        .ok_or_else(|| AppError::field("channel", env.t("outreach.channel_invalid")))?;
    let (p, mut tx) = open_lead(env, lead_id).await?;
    let lead = sqlx::query(
        "SELECT l.name, l.email::text AS email, l.phone_e164, c.name AS company, u.name AS owner_name,
                j.assigned_phone_id, j.first_wa_at IS NULL AS first_wa,
                coalesce(j.last_inbound_at > now() - interval '24 hours', false) AS window_open
           FROM leads l LEFT JOIN companies c ON c.id = l.company_id LEFT JOIN users u ON u.id = l.owner_id
           LEFT JOIN lead_journeys j ON j.lead_id = l.id WHERE l.id = $1",
    )
    .bind(lead_id)
    .fetch_one(&mut *tx)
    .await
    ?;
    let email: Option<String> = lead.try_get("email")?;
    let phone: Option<String> = lead.try_get("phone_e164")?;
    let to = match channel {
        Channel::WhatsApp => phone.clone(),
        Channel::Email => email.clone(),
    }
    .ok_or_else(|| AppError::field("channel", env.t("outreach.no_address")))?;
    if store::is_suppressed(&mut tx, channel, &to).await? {
        return Err(AppError::field("channel", env.t("outreach.suppressed")));
    }
    crate::billing::meter::check_send(&mut tx, env.locale(), channel).await?;
    let values = store::lead_values(
        lead.try_get("name")?,
        email.as_deref(),
        phone.as_deref(),
        lead.try_get("company")?,
        lead.try_get("owner_name")?,
    );
    // A template (its weighted variant) or the member's own text; both may use
    // variables and spintax.
    let (subject_text, body_text, version_id, wa_template) = match input.template_id.trim() {
        "" => (input.subject.clone(), input.body.clone(), None, None),
        id => {
            let id: Uuid = id
                .parse()
                .map_err(|_| AppError::field("template_id", env.t("outreach.template_required")))?;
            let row = sqlx::query(
                "SELECT v.id, v.subject, v.body, t.wa_template_name, t.approval_status, t.channel
                   FROM template_versions v JOIN templates t ON t.id = v.template_id
                  WHERE t.id = $1 AND v.active ORDER BY v.version_no DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::field("template_id", env.t("outreach.template_required")))?;
            if row.try_get::<String, _>("channel")? != channel.code() {
                return Err(AppError::field(
                    "template_id",
                    env.t("outreach.template_channel"),
                ));
            }
            let wa = match (
                row.try_get::<Option<String>, _>("wa_template_name")?,
                row.try_get::<TemplateApproval, _>("approval_status")?,
            ) {
                (Some(name), TemplateApproval::Approved) => Some(name),
                _ => None,
            };
            (
                row.try_get::<Option<String>, _>("subject")?
                    .unwrap_or_default(),
                row.try_get::<String, _>("body")?,
                Some(row.try_get::<Uuid, _>("id")?),
                wa,
            )
        }
    };
    if body_text.trim().is_empty() {
        return Err(AppError::field("body", env.t("outreach.body_required")));
    }
    if body_text.chars().count() > 4096 {
        return Err(AppError::field("body", env.t("records.too_long")));
    }
    let render = |field: &str, text: &str| -> Result<String, AppError> {
        let template = Template::parse(text).map_err(|e| template_error(env, field, &e))?;
        template
            .check(&TEMPLATE_VARIABLES, Some(&values))
            .map_err(|e| template_error(env, field, &e))?;
        Ok(template.render(&values, seed_for(lead_id.as_bytes(), 0)))
    };
    let body = render("body", &body_text)?;
    let subject = match channel {
        Channel::Email if subject_text.trim().is_empty() => {
            return Err(AppError::field(
                "subject",
                env.t("outreach.subject_required"),
            ))
        }
        Channel::Email => Some(render("subject", &subject_text)?),
        Channel::WhatsApp => None,
    };
    let window_open: bool = lead.try_get("window_open")?;
    let id = new_id();
    let (phone_id, mailbox_id, from, quota_cost, next_at, wa_name) = match channel {
        Channel::WhatsApp => {
            // Free text only inside the 24-hour window; outside it, an approved template.
            let wa_name = if window_open {
                None
            } else {
                wa_template.clone()
            };
            if !window_open && wa_name.is_none() {
                return Err(AppError::field("body", env.t("outreach.wa_window_closed")));
            }
            let (phone, cost) = pick_phone(env, &mut tx, p.tenant_id, lead_id, &lead).await?;
            (Some(phone), None, None, cost, chrono::Utc::now(), wa_name)
        }
        Channel::Email => {
            let (mailbox, from, at) = pick_mailbox(env, &mut tx, p.tenant_id, lead_id).await?;
            (None, Some(mailbox), Some(from), 0, at, None)
        }
    };
    let params: Vec<String> = Template::parse(&body_text)
        .map(|t| {
            t.variables()
                .iter()
                .map(|v| values.get(v).cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    sqlx::query(
        "WITH inserted AS (
            INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, phone_id, email_account_id,
                                  to_address, from_address, subject, body, wa_template_name, wa_params,
                                  template_version_id, quota_cost, idempotency_key, created_by)
            VALUES ($1, $2, $3, $4, 'OUT', 'QUEUED', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $17)
            RETURNING tenant_id, id)
         INSERT INTO outbox (tenant_id, message_id, due_at) SELECT tenant_id, id, $16::timestamptz FROM inserted",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(lead_id)
    .bind(channel.code())
    .bind(phone_id)
    .bind(mailbox_id)
    .bind(&to)
    .bind(&from)
    .bind(&subject)
    .bind(&body)
    .bind(&wa_name)
    .bind(&params)
    .bind(version_id)
    .bind(quota_cost)
    .bind(format!("one-off:{id}"))
    .bind(next_at)
    .bind(p.actor())
    .execute(&mut *tx)
    .await
    ?;
    sqlx::query(
        "INSERT INTO activities (tenant_id, id, kind, lead_id, actor_id, subject, body, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.tenant_id)
    .bind(new_id())
    .bind(channel.code())
    .bind(lead_id)
    .bind(p.actor())
    .bind(&subject)
    .bind(&body)
    .bind(serde_json::json!({ "message_id": id, "direction": "OUT" }))
    .execute(&mut *tx)
    .await?;
    let stat = match (channel, quota_cost) {
        (Channel::Email, _) => store::Stat::EmailSent,
        (Channel::WhatsApp, 1) => store::Stat::WaNewContacts,
        (Channel::WhatsApp, _) => store::Stat::WaFollowups,
    };
    store::bump(&mut tx, p.tenant_id, &[(stat, 1)]).await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("message.queued", "messages", Some(id))
            .after(serde_json::json!({ "lead_id": lead_id, "channel": channel.code(), "to": to })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The lead's sticky number, or — for a first contact — the best number with quota
/// left, counted under the tenant's quota lock exactly like the scheduler does.
async fn pick_phone(
    env: &Env,
    tx: &mut Tx,
    tenant_id: Uuid,
    lead_id: Uuid,
    lead: &sqlx::postgres::PgRow,
) -> Result<(Uuid, i32), AppError> {
    lock_quota(tx, tenant_id).await?;
    let sticky: Option<Uuid> = lead.try_get("assigned_phone_id")?;
    let first: bool = lead.try_get::<Option<bool>, _>("first_wa")?.unwrap_or(true);
    if let Some(phone) = sticky {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM wa_phone_numbers WHERE id = $1")
                .bind(phone)
                .fetch_optional(&mut **tx)
                .await?;
        match status.as_deref() {
            Some("ACTIVE") if !first => {
                record_usage(tx, tenant_id, phone, false).await?;
                return Ok((phone, 0));
            }
            Some("BANNED") | None => {}
            Some("ACTIVE") => {}
            Some(_) => {
                return Err(AppError::field(
                    "channel",
                    env.t("outreach.phone_unavailable"),
                ))
            }
        }
    }
    if store::tenant_first_contacts_left(tx).await? <= 0 {
        return Err(AppError::field(
            "channel",
            env.t("outreach.tenant_limit_reached"),
        ));
    }
    let phone: Option<Uuid> = sqlx::query_scalar(&format!(
        "SELECT p.id FROM wa_phone_numbers p
           LEFT JOIN wa_quota_usage u ON u.phone_id = p.id AND u.day = {TENANT_TODAY}
          WHERE p.status = 'ACTIVE' AND p.archived_at IS NULL AND coalesce(u.new_contacts, 0) < p.daily_quota
          ORDER BY (p.id = $1) DESC, p.priority, coalesce(u.new_contacts, 0) LIMIT 1"
    ))
    .bind(sticky)
    .fetch_optional(&mut **tx)
    .await?;
    let phone =
        phone.ok_or_else(|| AppError::field("channel", env.t("outreach.quota_exhausted")))?;
    record_usage(tx, tenant_id, phone, true).await?;
    sqlx::query(
        "INSERT INTO lead_journeys AS j (tenant_id, lead_id, assigned_phone_id, assigned_at, first_wa_at)
         VALUES ($1, $2, $3, now(), now())
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET assigned_phone_id = $3, assigned_at = now(),
                first_wa_at = coalesce(j.first_wa_at, now())",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(phone)
    .execute(&mut **tx)
    .await
    ?;
    Ok((phone, 1))
}

async fn record_usage(
    tx: &mut Tx,
    tenant_id: Uuid,
    phone: Uuid,
    new_contact: bool,
) -> Result<(), AppError> {
    let (new, follow) = if new_contact { (1, 0) } else { (0, 1) };
    sqlx::query(&format!(
        "INSERT INTO wa_quota_usage AS u (tenant_id, phone_id, day, new_contacts, followups)
         VALUES ($1, $2, {TENANT_TODAY}, $3, $4)
         ON CONFLICT (tenant_id, phone_id, day) DO UPDATE
            SET new_contacts = u.new_contacts + EXCLUDED.new_contacts, followups = u.followups + EXCLUDED.followups"
    ))
    .bind(tenant_id)
    .bind(phone)
    .bind(new)
    .bind(follow)
    .execute(&mut **tx)
    .await
    ?;
    Ok(())
}

/// The mailbox that wrote to the lead last (threads stay in one mailbox), or the one
/// with the most room today; the send waits for the mailbox's minimum gap.
async fn pick_mailbox(
    env: &Env,
    tx: &mut Tx,
    tenant_id: Uuid,
    lead_id: Uuid,
) -> Result<(Uuid, String, chrono::DateTime<chrono::Utc>), AppError> {
    let row: Option<(Uuid, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(&format!(
        "SELECT a.id, a.from_address::text, greatest(a.next_slot_at, now())
           FROM email_accounts a LEFT JOIN email_daily_usage u ON u.account_id = a.id AND u.day = {TENANT_TODAY}
          WHERE a.status = 'ACTIVE' AND a.archived_at IS NULL
            AND coalesce(u.sent, 0) < least(a.daily_cap, a.warmup_start + a.warmup_step * greatest(0, {TENANT_TODAY} - a.warmup_started_on))
          ORDER BY a.id = (SELECT m.email_account_id FROM messages m WHERE m.lead_id = $1 AND m.channel = 'EMAIL'
                             AND m.direction = 'OUT' ORDER BY m.created_at DESC LIMIT 1) DESC NULLS LAST,
                   least(a.daily_cap, a.warmup_start + a.warmup_step * greatest(0, {TENANT_TODAY} - a.warmup_started_on))
                     - coalesce(u.sent, 0) DESC
          LIMIT 1 FOR UPDATE OF a"
    ))
    .bind(lead_id)
    .fetch_optional(&mut **tx)
    .await
    ?;
    let (id, from, at) =
        row.ok_or_else(|| AppError::field("channel", env.t("outreach.no_mailbox")))?;
    sqlx::query(&format!(
        "INSERT INTO email_daily_usage AS u (tenant_id, account_id, day, sent) VALUES ($1, $2, {TENANT_TODAY}, 1)
         ON CONFLICT (tenant_id, account_id, day) DO UPDATE SET sent = u.sent + 1"
    ))
    .bind(tenant_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    ?;
    sqlx::query("UPDATE email_accounts SET next_slot_at = $2 + make_interval(secs => min_gap_seconds) WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(&mut **tx)
        .await
        ?;
    Ok((id, from, at))
}

/// A member moves the journey (NEGOTIATION, CONVERTED, DEAD, PAUSED, …); the state
/// machine decides what is allowed.
pub async fn move_journey(
    env: &Env,
    lead_id: Uuid,
    to: &str,
    reason: &str,
) -> Result<(), AppError> {
    let to = Journey::parse(to)
        .ok_or_else(|| AppError::field("state", env.t("outreach.state_invalid")))?;
    let reason = reason.trim();
    if reason.chars().count() > 500 {
        return Err(AppError::field("reason", env.t("records.too_long")));
    }
    let (p, mut tx) = open_lead(env, lead_id).await?;
    let reason = if reason.is_empty() {
        "set by a member"
    } else {
        reason
    };
    let from = store::move_journey(
        &mut tx,
        p.tenant_id,
        lead_id,
        to,
        Cause::Manual,
        reason,
        p.actor(),
    )
    .await?
    .ok_or_else(|| {
        AppError::field(
            "state",
            tf(
                env.locale(),
                "outreach.move_refused",
                &[("to", to.code().to_string())],
            ),
        )
    })?;
    if matches!(to, Journey::Dead | Journey::Converted | Journey::Paused) {
        store::stop_enrollment(
            &mut tx,
            lead_id,
            &format!("journey_{}", to.code().to_lowercase()),
        )
        .await?;
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("journey.moved", "leads", Some(lead_id)).change(
            serde_json::json!({ "state": from.code() }),
            serde_json::json!({ "state": to.code(), "reason": reason }),
        ),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

/// Human takeover: a member answers this lead themself, so automatic sends pause
/// (the running enrolment is paused); handing back resumes it.
pub async fn set_takeover(env: &Env, lead_id: Uuid, on: bool) -> Result<(), AppError> {
    let (p, mut tx) = open_lead(env, lead_id).await?;
    store::ensure_journey(&mut tx, p.tenant_id, lead_id).await?;
    sqlx::query("UPDATE lead_journeys SET human_takeover = $2 WHERE lead_id = $1")
        .bind(lead_id)
        .bind(on)
        .execute(&mut *tx)
        .await?;
    let (from, to) = if on {
        ("ACTIVE", "PAUSED")
    } else {
        ("PAUSED", "ACTIVE")
    };
    sqlx::query(
        "UPDATE enrollments SET status = $3, next_run_at = greatest(next_run_at, now()), updated_at = now(),
                stop_reason = CASE WHEN $3 = 'PAUSED' THEN 'human_takeover' ELSE NULL END
          WHERE lead_id = $1 AND status = $2",
    )
    .bind(lead_id)
    .bind(from)
    .bind(to)
    .execute(&mut *tx)
    .await
    ?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("journey.takeover", "leads", Some(lead_id))
            .after(serde_json::json!({ "human_takeover": on })),
    )
    .await?;
    tx.commit().await.map_err(internal)
}
