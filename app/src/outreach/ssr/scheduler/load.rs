//! What a scheduler pass decides on, read in its tenant's transaction: the due
//! enrolments with their step, lead and journey, the templates' active versions, the
//! suppressed addresses, the numbers and the mailboxes.

use super::{Due, Jump, Mailbox, Phone, Version};
use crate::db::Tx;
use crate::error::AppError;
use crate::outreach::model::{Channel, StepKind};
use crate::outreach::ssr::store::{self, TENANT_TODAY};
use crate::outreach::template::Template;
use sqlx::Row;
use uuid::Uuid;

pub(super) async fn load_due(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<Due>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT e.id, e.lead_id, e.next_step, e.sent, e.enrolled_by, s.max_attempts,
                ft.channel AS fallback_channel, ft.id AS fallback_template_id,
                next_business_moment(now(), coalesce(s.timezone, t.timezone), s.business_hours, s.holidays) AS open_at,
                (({TENANT_TODAY}) + 1)::timestamp AT TIME ZONE t.timezone AS next_day_at,
                st.id AS step_id, st.channel, st.template_id, st.skip_if_replied, st.skip_if_opened,
                st.subject_override, st.mailbox_id AS step_mailbox, st.kind, st.wait_until,
                CASE st.condition
                    WHEN 'OPENED' THEN EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = e.tenant_id
                        AND m.enrollment_id = e.id AND m.opened_at IS NOT NULL)
                    WHEN 'CLICKED' THEN EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = e.tenant_id
                        AND m.enrollment_id = e.id AND m.clicked_at IS NOT NULL)
                    WHEN 'REPLIED' THEN coalesce(j.last_inbound_at > e.created_at, false)
                    WHEN 'JOURNEY_STATE' THEN coalesce(j.state, 'COLD') = st.condition_value
                    WHEN 'FIELD' THEN CASE
                        WHEN st.condition_field = 'status' THEN l.status = st.condition_value
                        WHEN st.condition_field = 'source' THEN lower(coalesce(l.source, '')) = lower(st.condition_value)
                        WHEN st.condition_field = 'tag' THEN lower(st.condition_value) = ANY (SELECT lower(x) FROM unnest(l.tags) x)
                        -- Checked as a number 0-100 when the step was saved.
                        WHEN st.condition_field = 'score' THEN l.score >= st.condition_value::int
                        ELSE lower(coalesce(l.custom ->> substr(st.condition_field, 8), '')) = lower(st.condition_value)
                    END
                    ELSE false
                END AS condition_met,
                st.then_go, tt.position AS then_position, tt.delay_minutes AS then_delay,
                st.else_go, et.position AS else_position, et.delay_minutes AS else_delay,
                nx.position AS next_position, nx.delay_minutes AS next_delay,
                l.name, l.email::text AS email, l.phone_e164, c.name AS company, u.name AS owner_name,
                coalesce(j.state, 'COLD') AS state, j.assigned_phone_id, coalesce(j.human_takeover, false) AS takeover,
                j.first_wa_at IS NULL AS first_wa, j.first_email_at IS NULL AS first_email,
                coalesce(j.last_inbound_at > now() - interval '24 hours', false) AS window_open,
                coalesce(j.last_inbound_at > e.created_at, false) AS replied,
                (st.skip_if_opened AND EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = e.tenant_id
                    AND m.enrollment_id = e.id AND m.opened_at IS NOT NULL)) AS opened,
                lm.email_account_id AS last_mailbox, lm.message_ref AS last_message_id,
                EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = e.tenant_id AND m.enrollment_id = e.id
                          AND m.step_id = st.id) AS step_sent
           FROM enrollments e
           JOIN sequences s ON s.id = e.sequence_id
           JOIN tenants t ON t.id = e.tenant_id
           JOIN leads l ON l.id = e.lead_id
           LEFT JOIN companies c ON c.id = l.company_id
           LEFT JOIN users u ON u.id = l.owner_id
           LEFT JOIN sequence_steps st ON st.sequence_id = e.sequence_id AND st.position = e.next_step
           LEFT JOIN templates ft ON ft.id = st.fallback_template_id
           LEFT JOIN sequence_steps tt ON tt.id = st.then_step_id
           LEFT JOIN sequence_steps et ON et.id = st.else_step_id
           LEFT JOIN LATERAL (SELECT x.position, x.delay_minutes FROM sequence_steps x
                               WHERE x.sequence_id = e.sequence_id AND x.position > e.next_step
                               ORDER BY x.position LIMIT 1) nx ON true
           LEFT JOIN lead_journeys j ON j.tenant_id = e.tenant_id AND j.lead_id = e.lead_id
           LEFT JOIN LATERAL (SELECT m.email_account_id, m.id::text || '@' || d.domain AS message_ref
                                FROM messages m JOIN email_accounts a ON a.id = m.email_account_id
                                JOIN email_domains d ON d.id = a.domain_id
                               WHERE m.tenant_id = e.tenant_id AND m.lead_id = e.lead_id
                                 AND m.channel = 'EMAIL' AND m.direction = 'OUT'
                               ORDER BY m.created_at DESC LIMIT 1) lm ON true
          WHERE e.id = ANY($1) AND e.status = 'ACTIVE' AND s.status = 'ACTIVE'
          -- Step edits and reorders lock the sequence (steps.rs): a pass decides on one
          -- version of the steps, never half of a reorder.
            FOR SHARE OF s"
    ))
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
    ?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get("id")?,
                lead_id: r.try_get("lead_id")?,
                next_step: r.try_get("next_step")?,
                sent: r.try_get("sent")?,
                max_attempts: r.try_get("max_attempts")?,
                fallback: r
                    .try_get::<Option<String>, _>("fallback_channel")?
                    .and_then(|c| Channel::parse(&c))
                    .zip(r.try_get::<Option<Uuid>, _>("fallback_template_id")?),
                open_at: r.try_get("open_at")?,
                next_day_at: r.try_get("next_day_at")?,
                step_id: r.try_get("step_id")?,
                kind: r
                    .try_get::<Option<&str>, _>("kind")?
                    .and_then(StepKind::parse),
                wait_until: r.try_get("wait_until")?,
                condition_met: r
                    .try_get::<Option<bool>, _>("condition_met")?
                    .unwrap_or(false),
                then_go: jump(
                    r.try_get("then_go")?,
                    r.try_get("then_position")?,
                    r.try_get("then_delay")?,
                ),
                else_go: jump(
                    r.try_get("else_go")?,
                    r.try_get("else_position")?,
                    r.try_get("else_delay")?,
                ),
                channel: r
                    .try_get::<Option<String>, _>("channel")?
                    .and_then(|c| Channel::parse(&c)),
                template_id: r.try_get("template_id")?,
                skip_if_replied: r
                    .try_get::<Option<bool>, _>("skip_if_replied")?
                    .unwrap_or(false),
                skip_if_opened: r
                    .try_get::<Option<bool>, _>("skip_if_opened")?
                    .unwrap_or(false),
                subject_override: r.try_get("subject_override")?,
                step_mailbox: r.try_get("step_mailbox")?,
                next_position: r.try_get("next_position")?,
                next_delay: r.try_get("next_delay")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone_e164")?,
                company: r.try_get("company")?,
                owner_name: r.try_get("owner_name")?,
                state: r.try_get("state")?,
                assigned_phone: r.try_get("assigned_phone_id")?,
                takeover: r.try_get("takeover")?,
                first_wa: r.try_get::<Option<bool>, _>("first_wa")?.unwrap_or(true),
                first_email: r.try_get::<Option<bool>, _>("first_email")?.unwrap_or(true),
                window_open: r.try_get("window_open")?,
                replied: r.try_get("replied")?,
                opened: r.try_get::<Option<bool>, _>("opened")?.unwrap_or(false),
                enrolled_by: r.try_get("enrolled_by")?,
                last_mailbox: r.try_get("last_mailbox")?,
                last_message_id: r.try_get("last_message_id")?,
                step_sent: r.try_get("step_sent").unwrap_or(false),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// A condition branch as stored: `NEXT`, `END`, or `STEP` with the target's place.
fn jump(go: Option<&str>, position: Option<i32>, delay: Option<i32>) -> Jump {
    match (go, position) {
        (Some("END"), _) => Jump::End,
        (Some("STEP"), Some(position)) => Jump::To {
            position,
            delay: delay.unwrap_or(0),
        },
        _ => Jump::Next,
    }
}

pub(super) async fn load_versions(
    tx: &mut Tx,
    template_ids: &[Uuid],
) -> Result<Vec<Version>, AppError> {
    let rows = sqlx::query(
        "SELECT v.id, v.template_id, v.subject, v.body, v.weight, t.wa_template_name,
                t.approval_status = 'APPROVED' AS approved
           FROM template_versions v JOIN templates t ON t.id = v.template_id
          WHERE v.template_id = ANY($1) AND v.active AND NOT t.archived
          ORDER BY v.template_id, v.version_no",
    )
    .bind(template_ids)
    .fetch_all(&mut **tx)
    .await?;
    let mut versions = Vec::new();
    for r in &rows {
        // Saved templates were checked on save; one that no longer parses is skipped
        // (the step then waits) rather than sent broken.
        let Ok(body) = Template::parse(r.try_get::<&str, _>("body")?) else {
            continue;
        };
        let subject = match r.try_get::<Option<String>, _>("subject")? {
            Some(s) if !s.is_empty() => match Template::parse(&s) {
                Ok(subject) => Some(subject),
                Err(_) => continue,
            },
            _ => None,
        };
        versions.push(Version {
            id: r.try_get("id")?,
            template_id: r.try_get("template_id")?,
            subject,
            body,
            weight: r.try_get("weight")?,
            wa_template_name: r.try_get("wa_template_name")?,
            approved: r.try_get("approved")?,
        });
    }
    Ok(versions)
}

pub(super) async fn load_suppressions(
    tx: &mut Tx,
    due: &[Due],
) -> Result<std::collections::HashSet<(String, String)>, AppError> {
    let mut addresses: Vec<String> = Vec::new();
    for d in due {
        if let Some(p) = &d.phone {
            addresses.push(store::suppression_key(Channel::WhatsApp, p));
        }
        if let Some(e) = &d.email {
            addresses.push(store::suppression_key(Channel::Email, e));
        }
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT channel, address FROM suppressions WHERE address = ANY($1)")
            .bind(&addresses)
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.into_iter().collect())
}

pub(super) async fn load_phones(tx: &mut Tx) -> Result<Vec<Phone>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT p.id, p.status, p.priority, p.daily_quota, coalesce(u.new_contacts, 0) AS used
           FROM wa_phone_numbers p
           LEFT JOIN wa_quota_usage u ON u.phone_id = p.id AND u.day = {TENANT_TODAY}
          WHERE p.archived_at IS NULL
          ORDER BY p.priority, p.created_at"
    ))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Phone {
                id: r.try_get("id")?,
                status: r.try_get("status")?,
                priority: r.try_get("priority")?,
                quota: r.try_get("daily_quota")?,
                used: r.try_get("used")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

pub(super) async fn load_mailboxes(tx: &mut Tx) -> Result<Vec<Mailbox>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT a.id, a.from_address::text AS from_address, a.status = 'ACTIVE' AS active,
                least(a.daily_cap, a.warmup_start + a.warmup_step * greatest(0, {TENANT_TODAY} - a.warmup_started_on)) AS cap_today,
                coalesce(u.sent, 0) AS sent_today, a.next_slot_at, a.min_gap_seconds
           FROM email_accounts a
           LEFT JOIN email_daily_usage u ON u.account_id = a.id AND u.day = {TENANT_TODAY}
          WHERE a.archived_at IS NULL
          ORDER BY a.created_at"
    ))
    .fetch_all(&mut **tx)
    .await
    ?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(Mailbox {
                id: r.try_get("id")?,
                from_address: r.try_get("from_address")?,
                active: r.try_get("active")?,
                cap_today: r.try_get("cap_today")?,
                sent_today: r.try_get("sent_today")?,
                next_slot_at: r.try_get("next_slot_at")?,
                min_gap: r.try_get("min_gap_seconds")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}
