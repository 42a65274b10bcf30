//! The scheduler: turns due enrolment steps into queued messages. It claims due
//! enrolments across tenants, then for each tenant decides every step in one
//! transaction: business hours, channel and fallback, suppressions, the A/B variant,
//! the sticky WhatsApp number and its daily quota of new contacts, the mailbox and its
//! warm-up cap and minimum gap. The messages it writes are the outbox the dispatcher
//! sends from.

use super::store::{self, lock_quota, Stat, TENANT_TODAY};
use crate::db::{internal, new_id, Db, Tx};
use crate::error::AppError;
use crate::outreach::model::Channel;
use crate::outreach::template::{seed_for, Template};
use chrono::{DateTime, Duration, Utc};
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use uuid::Uuid;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    pub claimed: usize,
    pub queued: usize,
    pub waiting: usize,
    pub skipped: usize,
    pub finished: usize,
}

impl ScheduleReport {
    fn add(&mut self, other: ScheduleReport) {
        self.claimed += other.claimed;
        self.queued += other.queued;
        self.waiting += other.waiting;
        self.skipped += other.skipped;
        self.finished += other.finished;
    }
}

/// Claims up to `batch` due enrolments and schedules them.
pub async fn schedule_once(pool: &PgPool, batch: i64) -> Result<ScheduleReport, AppError> {
    let claimed: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT tenant_id, id FROM claim_due_enrollments($1::int)")
            .bind(batch)
            .fetch_all(pool)
            .await?;
    let mut by_tenant: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (tenant, id) in &claimed {
        by_tenant.entry(*tenant).or_default().push(*id);
    }
    let db = Db::new(pool.clone());
    let mut report = ScheduleReport {
        claimed: claimed.len(),
        ..ScheduleReport::default()
    };
    for (tenant, ids) in by_tenant {
        let mut tx = db.tenant_tx(tenant, None).await?;
        let done = schedule_tenant(&mut tx, tenant, &ids).await?;
        tx.commit().await?;
        report.add(done);
    }
    Ok(report)
}

struct Due {
    id: Uuid,
    lead_id: Uuid,
    next_step: i32,
    sent: i32,
    max_attempts: i32,
    /// The step's fallback template and its channel.
    fallback: Option<(Channel, Uuid)>,
    open_at: Option<DateTime<Utc>>,
    next_day_at: DateTime<Utc>,
    step_id: Option<Uuid>,
    channel: Option<Channel>,
    template_id: Option<Uuid>,
    skip_if_replied: bool,
    skip_if_opened: bool,
    next_position: Option<i32>,
    next_delay: Option<i32>,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    owner_name: Option<String>,
    state: String,
    assigned_phone: Option<Uuid>,
    takeover: bool,
    first_wa: bool,
    first_email: bool,
    window_open: bool,
    replied: bool,
    opened: bool,
    enrolled_by: Option<Uuid>,
    last_mailbox: Option<Uuid>,
    last_message_id: Option<String>,
}

struct Version {
    id: Uuid,
    template_id: Uuid,
    subject: Option<Template>,
    body: Template,
    weight: i32,
    wa_template_name: Option<String>,
    approved: bool,
}

struct Phone {
    id: Uuid,
    status: String,
    priority: i32,
    quota: i32,
    used: i32,
}

struct Mailbox {
    id: Uuid,
    from_address: String,
    active: bool,
    cap_today: i32,
    sent_today: i32,
    next_slot_at: DateTime<Utc>,
    min_gap: i32,
}

/// Where one enrolment goes after this pass.
enum Outcome {
    /// A message was queued; the enrolment moves to its next step (or completes).
    Queued(Box<Queued>),
    /// Nothing to send now; look again at this moment.
    Wait(DateTime<Utc>),
    /// This step does not apply (the lead replied or opened); move on without sending.
    Skip,
    /// The enrolment ends.
    End {
        status: &'static str,
        reason: String,
    },
}

struct Queued {
    channel: Channel,
    phone_id: Option<Uuid>,
    mailbox_id: Option<Uuid>,
    to: String,
    from: Option<String>,
    subject: Option<String>,
    body: String,
    wa_template_name: Option<String>,
    wa_params: Vec<String>,
    version_id: Uuid,
    quota_cost: i32,
    reassigned_from: Option<Uuid>,
    in_reply_to: Option<String>,
    send_at: DateTime<Utc>,
}

async fn schedule_tenant(
    tx: &mut Tx,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<ScheduleReport, AppError> {
    // Every new-contact decision below reads quota use under this lock.
    lock_quota(tx, tenant_id).await?;
    let due = load_due(tx, ids).await?;
    let template_ids: Vec<Uuid> = due
        .iter()
        .flat_map(|d| d.template_id.into_iter().chain(d.fallback.map(|(_, t)| t)))
        .collect();
    let versions = load_versions(tx, &template_ids).await?;
    let suppressed = load_suppressions(tx, &due).await?;
    let mut phones = load_phones(tx).await?;
    let mut mailboxes = load_mailboxes(tx).await?;
    let mut first_contacts_left = store::tenant_first_contacts_left(tx).await?;
    let now = Utc::now();

    let mut outcomes = Vec::with_capacity(due.len());
    for d in &due {
        let outcome = decide(
            d,
            &versions,
            &suppressed,
            &mut phones,
            &mut mailboxes,
            &mut first_contacts_left,
            now,
        );
        outcomes.push(outcome);
    }
    write(tx, tenant_id, &due, &outcomes, &phones, &mailboxes, now).await
}

async fn load_due(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<Due>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT e.id, e.lead_id, e.next_step, e.sent, e.enrolled_by, s.max_attempts,
                ft.channel AS fallback_channel, ft.id AS fallback_template_id,
                next_business_moment(now(), coalesce(s.timezone, t.timezone), s.business_hours, s.holidays) AS open_at,
                (({TENANT_TODAY}) + 1)::timestamp AT TIME ZONE t.timezone AS next_day_at,
                st.id AS step_id, st.channel, st.template_id, st.skip_if_replied, st.skip_if_opened,
                nx.position AS next_position, nx.delay_minutes AS next_delay,
                l.name, l.email::text AS email, l.phone_e164, c.name AS company, u.name AS owner_name,
                coalesce(j.state, 'COLD') AS state, j.assigned_phone_id, coalesce(j.human_takeover, false) AS takeover,
                j.first_wa_at IS NULL AS first_wa, j.first_email_at IS NULL AS first_email,
                coalesce(j.last_inbound_at > now() - interval '24 hours', false) AS window_open,
                coalesce(j.last_inbound_at > e.created_at, false) AS replied,
                (st.skip_if_opened AND EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = e.tenant_id
                    AND m.enrollment_id = e.id AND m.opened_at IS NOT NULL)) AS opened,
                lm.email_account_id AS last_mailbox, lm.message_ref AS last_message_id
           FROM enrollments e
           JOIN sequences s ON s.id = e.sequence_id
           JOIN tenants t ON t.id = e.tenant_id
           JOIN leads l ON l.id = e.lead_id
           LEFT JOIN companies c ON c.id = l.company_id
           LEFT JOIN users u ON u.id = l.owner_id
           LEFT JOIN sequence_steps st ON st.sequence_id = e.sequence_id AND st.position = e.next_step
           LEFT JOIN templates ft ON ft.id = st.fallback_template_id
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
          WHERE e.id = ANY($1) AND e.status = 'ACTIVE' AND s.status = 'ACTIVE'"
    ))
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
    ?;
    Ok(rows
        .iter()
        .map(|r| Due {
            id: r.get("id"),
            lead_id: r.get("lead_id"),
            next_step: r.get("next_step"),
            sent: r.get("sent"),
            max_attempts: r.get("max_attempts"),
            fallback: r
                .get::<Option<String>, _>("fallback_channel")
                .and_then(|c| Channel::parse(&c))
                .zip(r.get::<Option<Uuid>, _>("fallback_template_id")),
            open_at: r.get("open_at"),
            next_day_at: r.get("next_day_at"),
            step_id: r.get("step_id"),
            channel: r
                .get::<Option<String>, _>("channel")
                .and_then(|c| Channel::parse(&c)),
            template_id: r.get("template_id"),
            skip_if_replied: r.get::<Option<bool>, _>("skip_if_replied").unwrap_or(false),
            skip_if_opened: r.get::<Option<bool>, _>("skip_if_opened").unwrap_or(false),
            next_position: r.get("next_position"),
            next_delay: r.get("next_delay"),
            name: r.get("name"),
            email: r.get("email"),
            phone: r.get("phone_e164"),
            company: r.get("company"),
            owner_name: r.get("owner_name"),
            state: r.get("state"),
            assigned_phone: r.get("assigned_phone_id"),
            takeover: r.get("takeover"),
            first_wa: r.get::<Option<bool>, _>("first_wa").unwrap_or(true),
            first_email: r.get::<Option<bool>, _>("first_email").unwrap_or(true),
            window_open: r.get("window_open"),
            replied: r.get("replied"),
            opened: r.get::<Option<bool>, _>("opened").unwrap_or(false),
            enrolled_by: r.get("enrolled_by"),
            last_mailbox: r.get("last_mailbox"),
            last_message_id: r.get("last_message_id"),
        })
        .collect())
}

async fn load_versions(tx: &mut Tx, template_ids: &[Uuid]) -> Result<Vec<Version>, AppError> {
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
    Ok(rows
        .iter()
        .filter_map(|r| {
            // Saved templates were checked on save; one that no longer parses is skipped
            // (the step then waits) rather than sent broken.
            let body = Template::parse(r.get::<&str, _>("body")).ok()?;
            let subject = match r.get::<Option<String>, _>("subject") {
                Some(s) if !s.is_empty() => Some(Template::parse(&s).ok()?),
                _ => None,
            };
            Some(Version {
                id: r.get("id"),
                template_id: r.get("template_id"),
                subject,
                body,
                weight: r.get("weight"),
                wa_template_name: r.get("wa_template_name"),
                approved: r.get("approved"),
            })
        })
        .collect())
}

async fn load_suppressions(
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

async fn load_phones(tx: &mut Tx) -> Result<Vec<Phone>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT p.id, p.status, p.priority, p.daily_quota, coalesce(u.new_contacts, 0) AS used
           FROM wa_phone_numbers p
           LEFT JOIN wa_quota_usage u ON u.phone_id = p.id AND u.day = {TENANT_TODAY}
          ORDER BY p.priority, p.created_at"
    ))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Phone {
            id: r.get("id"),
            status: r.get("status"),
            priority: r.get("priority"),
            quota: r.get("daily_quota"),
            used: r.get("used"),
        })
        .collect())
}

async fn load_mailboxes(tx: &mut Tx) -> Result<Vec<Mailbox>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT a.id, a.from_address::text AS from_address, a.status = 'ACTIVE' AS active,
                least(a.daily_cap, a.warmup_start + a.warmup_step * greatest(0, {TENANT_TODAY} - a.warmup_started_on)) AS cap_today,
                coalesce(u.sent, 0) AS sent_today, a.next_slot_at, a.min_gap_seconds
           FROM email_accounts a
           LEFT JOIN email_daily_usage u ON u.account_id = a.id AND u.day = {TENANT_TODAY}
          ORDER BY a.created_at"
    ))
    .fetch_all(&mut **tx)
    .await
    ?;
    Ok(rows
        .iter()
        .map(|r| Mailbox {
            id: r.get("id"),
            from_address: r.get("from_address"),
            active: r.get("active"),
            cap_today: r.get("cap_today"),
            sent_today: r.get("sent_today"),
            next_slot_at: r.get("next_slot_at"),
            min_gap: r.get("min_gap_seconds"),
        })
        .collect())
}

/// The A/B variant of a template for one lead and step: the same lead always gets the
/// same variant, and across leads the split follows the weights.
fn pick_variant<'a>(versions: &[&'a Version], lead: Uuid, step: i32) -> Option<&'a Version> {
    let total: i64 = versions.iter().map(|v| i64::from(v.weight)).sum();
    if total <= 0 {
        return versions.first().copied();
    }
    let mut ticket = (seed_for(lead.as_bytes(), step as u32) % total as u64) as i64;
    for v in versions {
        ticket -= i64::from(v.weight);
        if ticket < 0 {
            return Some(v);
        }
    }
    versions.last().copied()
}

fn end(status: &'static str, reason: &str) -> Outcome {
    Outcome::End {
        status,
        reason: reason.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    d: &Due,
    versions: &[Version],
    suppressed: &std::collections::HashSet<(String, String)>,
    phones: &mut [Phone],
    mailboxes: &mut [Mailbox],
    first_contacts_left: &mut i64,
    now: DateTime<Utc>,
) -> Outcome {
    if d.takeover {
        return end("PAUSED", "human_takeover");
    }
    if matches!(d.state.as_str(), "CONVERTED" | "DEAD" | "PAUSED") {
        return end("STOPPED", "journey_closed");
    }
    let (Some(channel), Some(template_id)) = (d.channel, d.template_id) else {
        return end("COMPLETED", "completed");
    };
    if d.sent >= d.max_attempts {
        return end("STOPPED", "max_attempts");
    }
    if (d.skip_if_replied && d.replied) || (d.skip_if_opened && d.opened) {
        return Outcome::Skip;
    }
    match d.open_at {
        None => return Outcome::Wait(now + Duration::days(1)),
        Some(at) if at > now => return Outcome::Wait(at),
        _ => {}
    }
    let reachable = |c: Channel| match c {
        Channel::WhatsApp => d.phone.as_ref().filter(|p| {
            !suppressed.contains(&(c.code().to_string(), store::suppression_key(c, p)))
        }),
        Channel::Email => d.email.as_ref().filter(|e| {
            !suppressed.contains(&(c.code().to_string(), store::suppression_key(c, e)))
        }),
    };
    // The step's own channel, or the sequence's fallback when the lead cannot be
    // reached on it (no WhatsApp number, suppressed).
    let (channel, to, template_id) = match reachable(channel) {
        Some(to) => (channel, to.clone(), template_id),
        None => match d.fallback.filter(|(c, _)| *c != channel) {
            Some((fallback, template)) => match reachable(fallback) {
                Some(to) => (fallback, to.clone(), template),
                None => return end("STOPPED", "no_channel"),
            },
            None => return end("STOPPED", "no_channel"),
        },
    };
    let candidates: Vec<&Version> = versions
        .iter()
        .filter(|v| v.template_id == template_id)
        .collect();
    let Some(version) = pick_variant(&candidates, d.lead_id, d.next_step) else {
        return end("STOPPED", "no_template");
    };
    let values = store::lead_values(
        &d.name,
        d.email.as_deref(),
        d.phone.as_deref(),
        d.company.as_deref(),
        d.owner_name.as_deref(),
    );
    let known: Vec<&str> = crate::outreach::model::TEMPLATE_VARIABLES.to_vec();
    let subject_ok = version
        .subject
        .as_ref()
        .is_none_or(|s| s.check(&known, Some(&values)).is_ok());
    if version.body.check(&known, Some(&values)).is_err() || !subject_ok {
        return end("STOPPED", "missing_variable");
    }
    let seed = seed_for(d.lead_id.as_bytes(), d.next_step as u32);
    let body = version.body.render(&values, seed);
    let subject = version.subject.as_ref().map(|s| s.render(&values, seed));

    match channel {
        Channel::WhatsApp => {
            let wa_template_name = if d.window_open {
                None
            } else {
                match (&version.wa_template_name, version.approved) {
                    (Some(name), true) => Some(name.clone()),
                    _ => return end("STOPPED", "template_not_approved"),
                }
            };
            let sticky = d
                .assigned_phone
                .and_then(|id| phones.iter().position(|p| p.id == id));
            let mut reassigned_from = None;
            let (index, new_contact) = match sticky {
                Some(i) if phones[i].status == "ACTIVE" => (Some(i), d.first_wa),
                Some(i) if phones[i].status != "BANNED" => {
                    // Paused, offline or reconnecting: the lead waits for its number.
                    return Outcome::Wait(now + Duration::minutes(15));
                }
                Some(i) => {
                    reassigned_from = Some(phones[i].id);
                    (None, true)
                }
                None => (None, true),
            };
            let index = match index {
                Some(i) if !new_contact => i,
                _ => {
                    if *first_contacts_left <= 0 {
                        return Outcome::Wait(now + Duration::hours(1));
                    }
                    // Active, quota left, by priority then by today's load.
                    let best = phones
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| p.status == "ACTIVE" && p.used < p.quota)
                        .min_by_key(|(_, p)| (p.priority, p.used))
                        .map(|(i, _)| i);
                    // A sticky number keeps its lead when it still has quota.
                    let keep = index.filter(|i| phones[*i].used < phones[*i].quota);
                    match keep.or(best) {
                        Some(i) => i,
                        None => return Outcome::Wait(d.next_day_at),
                    }
                }
            };
            let phone = &mut phones[index];
            if new_contact {
                phone.used += 1;
                *first_contacts_left -= 1;
            }
            Outcome::Queued(Box::new(Queued {
                channel,
                phone_id: Some(phone.id),
                mailbox_id: None,
                to,
                from: None,
                subject: None,
                body,
                wa_params: version
                    .body
                    .variables()
                    .iter()
                    .map(|v| values.get(v).cloned().unwrap_or_default())
                    .collect(),
                wa_template_name,
                version_id: version.id,
                quota_cost: i32::from(new_contact),
                reassigned_from,
                in_reply_to: None,
                send_at: now,
            }))
        }
        Channel::Email => {
            let fits = |m: &Mailbox| m.active && m.sent_today < m.cap_today;
            let index = d
                .last_mailbox
                .and_then(|id| mailboxes.iter().position(|m| m.id == id))
                .filter(|i| fits(&mailboxes[*i]))
                .or_else(|| {
                    mailboxes
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| fits(m))
                        .max_by_key(|(_, m)| m.cap_today - m.sent_today)
                        .map(|(i, _)| i)
                });
            let Some(index) = index else {
                return Outcome::Wait(d.next_day_at);
            };
            let mailbox = &mut mailboxes[index];
            mailbox.sent_today += 1;
            let send_at = mailbox.next_slot_at.max(now);
            mailbox.next_slot_at = send_at + Duration::seconds(i64::from(mailbox.min_gap));
            Outcome::Queued(Box::new(Queued {
                channel,
                phone_id: None,
                mailbox_id: Some(mailbox.id),
                to,
                from: Some(mailbox.from_address.clone()),
                subject: Some(subject.unwrap_or_default()),
                body,
                wa_template_name: None,
                wa_params: Vec::new(),
                version_id: version.id,
                quota_cost: 0,
                reassigned_from: None,
                in_reply_to: d.last_message_id.clone(),
                send_at,
            }))
        }
    }
}

async fn write(
    tx: &mut Tx,
    tenant_id: Uuid,
    due: &[Due],
    outcomes: &[Outcome],
    phones: &[Phone],
    mailboxes: &[Mailbox],
    now: DateTime<Utc>,
) -> Result<ScheduleReport, AppError> {
    let mut report = ScheduleReport::default();
    // Messages and their timeline entries.
    let mut m_id = Vec::new();
    let mut m_lead = Vec::new();
    let mut m_channel = Vec::new();
    let mut m_phone: Vec<Option<Uuid>> = Vec::new();
    let mut m_mailbox: Vec<Option<Uuid>> = Vec::new();
    let mut m_to = Vec::new();
    let mut m_from: Vec<Option<String>> = Vec::new();
    let mut m_subject: Vec<Option<String>> = Vec::new();
    let mut m_body = Vec::new();
    let mut m_wa_template: Vec<Option<String>> = Vec::new();
    // Postgres has no array of arrays of varying length: the params travel as JSON.
    let mut m_wa_params: Vec<serde_json::Value> = Vec::new();
    let mut m_version = Vec::new();
    let mut m_enrollment = Vec::new();
    let mut m_step: Vec<Option<Uuid>> = Vec::new();
    let mut m_cost = Vec::new();
    let mut m_key = Vec::new();
    let mut m_reply_to: Vec<Option<String>> = Vec::new();
    let mut m_at = Vec::new();
    let mut m_by: Vec<Option<Uuid>> = Vec::new();
    // Enrolment moves.
    let mut e_id = Vec::new();
    let mut e_status = Vec::new();
    let mut e_step = Vec::new();
    let mut e_at = Vec::new();
    let mut e_sent = Vec::new();
    let mut e_reason: Vec<Option<String>> = Vec::new();
    // Journeys touched by a first send on a channel.
    let mut j_lead = Vec::new();
    let mut j_phone: Vec<Option<Uuid>> = Vec::new();
    let mut j_first_wa = Vec::new();
    let mut j_first_email = Vec::new();
    let mut reassignments = Vec::new();
    let (mut new_contacts, mut followups, mut emails) = (0_i64, 0_i64, 0_i64);

    for (d, outcome) in due.iter().zip(outcomes) {
        let advance = |sent_inc: i32| match d.next_position {
            Some(pos) => (
                "ACTIVE",
                pos,
                now + Duration::minutes(i64::from(d.next_delay.unwrap_or(0))),
                sent_inc,
                None,
            ),
            None => (
                "COMPLETED",
                d.next_step,
                now,
                sent_inc,
                Some("completed".to_string()),
            ),
        };
        let (status, step, at, sent, reason) = match outcome {
            Outcome::Queued(q) => {
                let id = new_id();
                m_id.push(id);
                m_lead.push(d.lead_id);
                m_channel.push(q.channel.code().to_string());
                m_phone.push(q.phone_id);
                m_mailbox.push(q.mailbox_id);
                m_to.push(q.to.clone());
                m_from.push(q.from.clone());
                m_subject.push(q.subject.clone());
                m_body.push(q.body.clone());
                m_wa_template.push(q.wa_template_name.clone());
                m_wa_params.push(serde_json::json!(q.wa_params));
                m_version.push(q.version_id);
                m_enrollment.push(d.id);
                m_step.push(d.step_id);
                m_cost.push(q.quota_cost);
                m_key.push(format!("enr:{}:{}", d.id, d.next_step));
                m_reply_to.push(q.in_reply_to.clone());
                m_at.push(q.send_at);
                m_by.push(d.enrolled_by);
                match q.channel {
                    Channel::WhatsApp => {
                        if q.quota_cost == 1 {
                            new_contacts += 1;
                        } else {
                            followups += 1;
                        }
                        j_lead.push(d.lead_id);
                        j_phone.push(q.phone_id);
                        j_first_wa.push(q.quota_cost == 1);
                        j_first_email.push(false);
                    }
                    Channel::Email => {
                        emails += 1;
                        if d.first_email {
                            j_lead.push(d.lead_id);
                            j_phone.push(None);
                            j_first_wa.push(false);
                            j_first_email.push(true);
                        }
                    }
                }
                if let (Some(from), Some(to)) = (q.reassigned_from, q.phone_id) {
                    reassignments.push((d.lead_id, from, to));
                }
                report.queued += 1;
                advance(1)
            }
            Outcome::Skip => {
                report.skipped += 1;
                advance(0)
            }
            Outcome::Wait(at) => {
                report.waiting += 1;
                ("ACTIVE", d.next_step, *at, 0, None)
            }
            Outcome::End { status, reason } => {
                report.finished += 1;
                (*status, d.next_step, now, 0, Some(reason.clone()))
            }
        };
        e_id.push(d.id);
        e_status.push(status.to_string());
        e_step.push(step);
        e_at.push(at);
        e_sent.push(sent);
        e_reason.push(reason);
    }

    if !m_id.is_empty() {
        sqlx::query(
            "WITH x AS (
                SELECT * FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                                     $9::text[], $10::text[], $11::text[], $12::uuid[], $13::uuid[], $14::uuid[],
                                     $15::int[], $16::text[], $17::text[], $18::timestamptz[], $19::uuid[], $20::jsonb[])
                    AS x (id, lead_id, channel, phone_id, email_account_id, to_address, from_address, subject,
                          body, wa_template_name, template_version_id, enrollment_id, step_id, quota_cost,
                          idempotency_key, in_reply_to, send_at, created_by, wa_params)),
             inserted AS (
                INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, phone_id, email_account_id,
                                      to_address, from_address, subject, body, wa_template_name, wa_params,
                                      template_version_id, enrollment_id, step_id, quota_cost, idempotency_key,
                                      in_reply_to, created_by)
                SELECT $1, x.id, x.lead_id, x.channel, 'OUT', 'QUEUED', x.phone_id, x.email_account_id,
                       x.to_address, x.from_address, x.subject, x.body, x.wa_template_name,
                       array(SELECT jsonb_array_elements_text(x.wa_params)), x.template_version_id,
                       x.enrollment_id, x.step_id, x.quota_cost, x.idempotency_key, x.in_reply_to, x.created_by
                  FROM x
                ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
                RETURNING id)
             INSERT INTO outbox (tenant_id, message_id, due_at)
             SELECT $1, x.id, x.send_at FROM x JOIN inserted USING (id)",
        )
        .bind(tenant_id)
        .bind(&m_id)
        .bind(&m_lead)
        .bind(&m_channel)
        .bind(&m_phone)
        .bind(&m_mailbox)
        .bind(&m_to)
        .bind(&m_from)
        .bind(&m_subject)
        .bind(&m_body)
        .bind(&m_wa_template)
        .bind(&m_version)
        .bind(&m_enrollment)
        .bind(&m_step)
        .bind(&m_cost)
        .bind(&m_key)
        .bind(&m_reply_to)
        .bind(&m_at)
        .bind(&m_by)
        .bind(&m_wa_params)
        .execute(&mut **tx)
        .await
        ?;
        sqlx::query(
            "INSERT INTO activities (tenant_id, id, kind, lead_id, subject, body, data, occurred_at)
             SELECT m.tenant_id, gen_random_uuid(), m.channel, m.lead_id, m.subject, m.body,
                    jsonb_build_object('message_id', m.id, 'direction', 'OUT', 'sequence', true), m.created_at
               FROM messages m WHERE m.id = ANY($1)",
        )
        .bind(&m_id)
        .execute(&mut **tx)
        .await
        ?;
    }

    sqlx::query(
        "UPDATE enrollments e SET status = x.status, next_step = x.step, next_run_at = x.at,
                sent = e.sent + x.sent, stop_reason = coalesce(x.reason, e.stop_reason),
                locked_at = NULL, updated_at = now()
           FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::text[])
                AS x (id, status, step, at, sent, reason)
          WHERE e.id = x.id",
    )
    .bind(&e_id)
    .bind(&e_status)
    .bind(&e_step)
    .bind(&e_at)
    .bind(&e_sent)
    .bind(&e_reason)
    .execute(&mut **tx)
    .await?;

    if !j_lead.is_empty() {
        sqlx::query(
            "INSERT INTO lead_journeys AS j (tenant_id, lead_id, assigned_phone_id, assigned_at, first_wa_at, first_email_at)
             SELECT $1, x.lead, x.phone, CASE WHEN x.phone IS NOT NULL THEN now() END,
                    CASE WHEN x.first_wa THEN now() END, CASE WHEN x.first_email THEN now() END
               FROM UNNEST($2::uuid[], $3::uuid[], $4::bool[], $5::bool[]) AS x (lead, phone, first_wa, first_email)
             ON CONFLICT (tenant_id, lead_id) DO UPDATE SET
                assigned_phone_id = coalesce(EXCLUDED.assigned_phone_id, j.assigned_phone_id),
                assigned_at = CASE WHEN EXCLUDED.assigned_phone_id IS DISTINCT FROM j.assigned_phone_id
                                    AND EXCLUDED.assigned_phone_id IS NOT NULL THEN now() ELSE j.assigned_at END,
                first_wa_at = coalesce(j.first_wa_at, EXCLUDED.first_wa_at),
                first_email_at = coalesce(j.first_email_at, EXCLUDED.first_email_at)",
        )
        .bind(tenant_id)
        .bind(&j_lead)
        .bind(&j_phone)
        .bind(&j_first_wa)
        .bind(&j_first_email)
        .execute(&mut **tx)
        .await
        ?;
    }

    record_quota(tx, tenant_id, &m_phone, &m_cost, phones).await?;
    record_mailboxes(tx, tenant_id, &m_mailbox, mailboxes).await?;

    for (lead, from, to) in reassignments {
        sqlx::query(
            "INSERT INTO audit_logs (id, tenant_id, action, entity_type, entity_id, before, after)
             VALUES ($1, $2, 'journey.phone_reassigned', 'leads', $3, $4, $5)",
        )
        .bind(new_id())
        .bind(tenant_id)
        .bind(lead)
        .bind(serde_json::json!({ "phone_id": from, "reason": "BANNED" }))
        .bind(serde_json::json!({ "phone_id": to }))
        .execute(&mut **tx)
        .await?;
    }

    store::bump(
        tx,
        tenant_id,
        &[
            (Stat::WaNewContacts, new_contacts),
            (Stat::WaFollowups, followups),
            (Stat::EmailSent, emails),
        ],
    )
    .await?;
    Ok(report)
}

/// Adds this pass's sends to each number's day. The update refuses to pass the quota,
/// so even a bug in the decision above could not overrun it: the transaction fails.
async fn record_quota(
    tx: &mut Tx,
    tenant_id: Uuid,
    phone_ids: &[Option<Uuid>],
    costs: &[i32],
    phones: &[Phone],
) -> Result<(), AppError> {
    let mut per_phone: HashMap<Uuid, (i32, i32)> = HashMap::new();
    for (phone, cost) in phone_ids.iter().zip(costs) {
        if let Some(phone) = phone {
            let entry = per_phone.entry(*phone).or_default();
            if *cost == 1 {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    for (phone_id, (new, follow)) in per_phone {
        let quota = phones
            .iter()
            .find(|p| p.id == phone_id)
            .map(|p| p.quota)
            .unwrap_or(0);
        let written = sqlx::query(&format!(
            "INSERT INTO wa_quota_usage AS u (tenant_id, phone_id, day, new_contacts, followups)
             VALUES ($1, $2, {TENANT_TODAY}, $3, $4)
             ON CONFLICT (tenant_id, phone_id, day) DO UPDATE
                SET new_contacts = u.new_contacts + EXCLUDED.new_contacts,
                    followups = u.followups + EXCLUDED.followups
              WHERE u.new_contacts + EXCLUDED.new_contacts <= $5"
        ))
        .bind(tenant_id)
        .bind(phone_id)
        .bind(new)
        .bind(follow)
        .bind(quota)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if written == 0 || new > quota {
            return Err(internal(format!(
                "quota of phone {phone_id} would be exceeded; scheduling pass rolled back"
            )));
        }
    }
    Ok(())
}

async fn record_mailboxes(
    tx: &mut Tx,
    tenant_id: Uuid,
    mailbox_ids: &[Option<Uuid>],
    mailboxes: &[Mailbox],
) -> Result<(), AppError> {
    let mut per_mailbox: HashMap<Uuid, i32> = HashMap::new();
    for id in mailbox_ids.iter().flatten() {
        *per_mailbox.entry(*id).or_default() += 1;
    }
    for (id, count) in per_mailbox {
        let Some(mailbox) = mailboxes.iter().find(|m| m.id == id) else {
            continue;
        };
        sqlx::query(&format!(
            "INSERT INTO email_daily_usage AS u (tenant_id, account_id, day, sent)
             VALUES ($1, $2, {TENANT_TODAY}, $3)
             ON CONFLICT (tenant_id, account_id, day) DO UPDATE SET sent = u.sent + EXCLUDED.sent"
        ))
        .bind(tenant_id)
        .bind(id)
        .bind(count)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE email_accounts SET next_slot_at = $2 WHERE id = $1")
            .bind(id)
            .bind(mailbox.next_slot_at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(weight: i32, n: u128) -> Version {
        Version {
            id: Uuid::from_u128(n),
            template_id: Uuid::nil(),
            subject: None,
            body: Template::parse("x").unwrap(),
            weight,
            wa_template_name: None,
            approved: true,
        }
    }

    #[test]
    fn variants_split_by_weight_and_stick_to_a_lead() {
        let (a, b) = (version(70, 1), version(30, 2));
        let both = [&a, &b];
        let mut count_a = 0;
        for i in 0..2000u128 {
            let lead = Uuid::from_u128(i * 7919 + 13);
            let v = pick_variant(&both, lead, 1).unwrap();
            assert_eq!(pick_variant(&both, lead, 1).unwrap().id, v.id);
            if v.id == a.id {
                count_a += 1;
            }
        }
        assert!((1300..1500).contains(&count_a), "{count_a} of 2000 got A");
        let off = version(0, 3);
        assert_eq!(pick_variant(&[&off], Uuid::nil(), 1).unwrap().id, off.id);
        assert!(pick_variant(&[], Uuid::nil(), 1).is_none());
    }
}
