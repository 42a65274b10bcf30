//! The scheduler: turns due enrolment steps into queued messages. It claims due
//! enrolments across tenants, then for each tenant decides every step in one
//! transaction: waits and conditions (DECISIONS 84), business hours, channel and
//! fallback, suppressions, the A/B variant, the sticky WhatsApp number and its daily
//! quota of new contacts, the mailbox and its warm-up cap and minimum gap. The messages it writes are the outbox the dispatcher
//! sends from.

mod load;
mod write;

use load::{load_due, load_mailboxes, load_phones, load_suppressions, load_versions};
use write::write;

use super::store::{self, lock_quota};
use crate::billing::meter;
use crate::db::{Db, Tx};
use crate::error::AppError;
use crate::outreach::model::{
    Channel, EnrollmentStatus, PhoneStatus, StepKind, StopReason, CLOSED_JOURNEY_STATES,
};
use crate::outreach::template::{seed_for, Template};
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
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
    /// None: no step at the enrolment's position, so it has run them all.
    kind: Option<StepKind>,
    wait_until: Option<DateTime<Utc>>,
    /// A condition step's answer for this enrolment.
    condition_met: bool,
    then_go: Jump,
    else_go: Jump,
    channel: Option<Channel>,
    template_id: Option<Uuid>,
    skip_if_replied: bool,
    skip_if_opened: bool,
    /// The step's own subject for the email it sends, instead of the template's.
    subject_override: Option<String>,
    /// The mailbox the step's email must go from, instead of the rotation.
    step_mailbox: Option<Uuid>,
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
    /// The enrolment already received the step now at its position (a reorder moved
    /// it there from before).
    step_sent: bool,
}

/// Where a condition's branch takes the enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Jump {
    Next,
    End,
    /// A later step: its position and its delay, counted from now.
    To {
        position: i32,
        delay: i32,
    },
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
    status: PhoneStatus,
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

/// Messages each channel may still queue this month under the plan; `None`: no limit.
struct MonthRoom {
    whatsapp: Option<i64>,
    email: Option<i64>,
}

impl MonthRoom {
    /// Takes a place on `channel`; false when the month's limit is reached.
    fn take(&mut self, channel: Channel) -> bool {
        let left = match channel {
            Channel::WhatsApp => &mut self.whatsapp,
            Channel::Email => &mut self.email,
        };
        match left {
            None => true,
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            Some(_) => false,
        }
    }
}

/// How long an enrolment held by the monthly message limit waits before it is looked
/// at again: an upgrade lets it go within this time.
const LIMIT_RECHECK: Duration = Duration::minutes(30);

/// Where one enrolment goes after this pass.
enum Outcome {
    /// A message was queued; the enrolment moves to its next step (or completes).
    Queued(Box<Queued>),
    /// Nothing to send now; look again at this moment.
    Wait(DateTime<Utc>),
    /// Move on to the next step without sending: this step does not apply (the lead
    /// replied or opened), or it was a wait that is over or a condition that goes on.
    Skip,
    /// A condition sends the enrolment to a later step, due after that step's delay.
    Jump { position: i32, delay: i32 },
    /// The enrolment ends (or pauses, for a takeover).
    End {
        status: EnrollmentStatus,
        reason: StopReason,
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
    let mut room = MonthRoom {
        whatsapp: meter::room(tx, Channel::WhatsApp, now).await?,
        email: meter::room(tx, Channel::Email, now).await?,
    };

    let mut outcomes = Vec::with_capacity(due.len());
    for d in &due {
        let outcome = decide(
            d,
            &versions,
            &suppressed,
            &mut phones,
            &mut mailboxes,
            &mut first_contacts_left,
            &mut room,
            now,
        );
        outcomes.push(outcome);
    }
    write(tx, tenant_id, &due, &outcomes, &phones, &mailboxes, now).await
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

fn end(status: EnrollmentStatus, reason: StopReason) -> Outcome {
    Outcome::End { status, reason }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    d: &Due,
    versions: &[Version],
    suppressed: &std::collections::HashSet<(String, String)>,
    phones: &mut [Phone],
    mailboxes: &mut [Mailbox],
    first_contacts_left: &mut i64,
    room: &mut MonthRoom,
    now: DateTime<Utc>,
) -> Outcome {
    if d.takeover {
        return end(EnrollmentStatus::Paused, StopReason::HumanTakeover);
    }
    if CLOSED_JOURNEY_STATES.contains(&d.state.as_str()) {
        return end(EnrollmentStatus::Stopped, StopReason::JourneyClosed);
    }
    let Some(kind) = d.kind else {
        return end(EnrollmentStatus::Completed, StopReason::Completed);
    };
    match kind {
        StepKind::Send => {}
        StepKind::WaitUntil => {
            return match d.wait_until {
                Some(at) if at > now => Outcome::Wait(at),
                _ => Outcome::Skip,
            }
        }
        StepKind::Condition => {
            return match if d.condition_met {
                d.then_go
            } else {
                d.else_go
            } {
                Jump::Next => Outcome::Skip,
                Jump::End => end(EnrollmentStatus::Completed, StopReason::ConditionEnd),
                // Steps are saved and reordered with their targets after them; a
                // jump that would not move forward ends rather than loops.
                Jump::To { position, .. } if position <= d.next_step => {
                    end(EnrollmentStatus::Completed, StopReason::ConditionEnd)
                }
                Jump::To { position, delay } => Outcome::Jump { position, delay },
            };
        }
    }
    let (Some(channel), Some(template_id)) = (d.channel, d.template_id) else {
        return end(EnrollmentStatus::Completed, StopReason::Completed);
    };
    if d.step_sent {
        return Outcome::Skip;
    }
    if d.sent >= d.max_attempts {
        return end(EnrollmentStatus::Stopped, StopReason::MaxAttempts);
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
                None => return end(EnrollmentStatus::Stopped, StopReason::NoChannel),
            },
            None => return end(EnrollmentStatus::Stopped, StopReason::NoChannel),
        },
    };
    let candidates: Vec<&Version> = versions
        .iter()
        .filter(|v| v.template_id == template_id)
        .collect();
    let Some(version) = pick_variant(&candidates, d.lead_id, d.next_step) else {
        return end(EnrollmentStatus::Stopped, StopReason::NoTemplate);
    };
    let values = store::lead_values(
        &d.name,
        d.email.as_deref(),
        d.phone.as_deref(),
        d.company.as_deref(),
        d.owner_name.as_deref(),
    );
    let known: Vec<&str> = crate::outreach::model::TEMPLATE_VARIABLES.to_vec();
    // Checked when the step was saved; a subject of the step's own wins.
    let own_subject = d
        .subject_override
        .as_deref()
        .and_then(|s| Template::parse(s).ok());
    let subject_template = own_subject.as_ref().or(version.subject.as_ref());
    let subject_ok = subject_template.is_none_or(|s| s.check(&known, Some(&values)).is_ok());
    if version.body.check(&known, Some(&values)).is_err() || !subject_ok {
        return end(EnrollmentStatus::Stopped, StopReason::MissingVariable);
    }
    let seed = seed_for(d.lead_id.as_bytes(), d.next_step as u32);
    let body = version.body.render(&values, seed);
    let subject = subject_template.map(|s| s.render(&values, seed));

    match channel {
        Channel::WhatsApp => {
            let wa_template_name = if d.window_open {
                None
            } else {
                match (&version.wa_template_name, version.approved) {
                    (Some(name), true) => Some(name.clone()),
                    _ => return end(EnrollmentStatus::Stopped, StopReason::TemplateNotApproved),
                }
            };
            let sticky = d
                .assigned_phone
                .and_then(|id| phones.iter().position(|p| p.id == id));
            let mut reassigned_from = None;
            let (index, new_contact) = match sticky {
                Some(i) if phones[i].status == PhoneStatus::Active => (Some(i), d.first_wa),
                Some(i) if phones[i].status != PhoneStatus::Banned => {
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
                        .filter(|(_, p)| p.status == PhoneStatus::Active && p.used < p.quota)
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
            if !room.take(channel) {
                return Outcome::Wait(now + LIMIT_RECHECK);
            }
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
            // The step's own mailbox, while it is active: only it sends, waiting for
            // tomorrow's cap if today's is used. Paused or gone, the rotation takes
            // over rather than holding the sequence.
            let chosen = d
                .step_mailbox
                .and_then(|id| mailboxes.iter().position(|m| m.id == id && m.active));
            if chosen.is_some_and(|i| !fits(&mailboxes[i])) {
                return Outcome::Wait(d.next_day_at);
            }
            let index = chosen
                .or_else(|| {
                    d.last_mailbox
                        .and_then(|id| mailboxes.iter().position(|m| m.id == id))
                        .filter(|i| fits(&mailboxes[*i]))
                })
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
            if !room.take(channel) {
                return Outcome::Wait(now + LIMIT_RECHECK);
            }
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
