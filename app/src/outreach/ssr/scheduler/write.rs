//! What a scheduler pass decided, written in one go: the queued messages and their
//! outbox rows, the enrolments' moves, first contacts on the journeys, quota use and
//! the mailboxes' next slots.

use super::{Due, Mailbox, Outcome, Phone, ScheduleReport};
use crate::db::{internal, new_id, Tx};
use crate::error::AppError;
use crate::outreach::model::{Channel, EnrollmentStatus, StopReason};
use crate::outreach::ssr::store::{self, Stat, TENANT_TODAY};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use uuid::Uuid;

pub(super) async fn write(
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
    let mut e_reason: Vec<Option<&str>> = Vec::new();
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
                EnrollmentStatus::Active,
                pos,
                now + Duration::minutes(i64::from(d.next_delay.unwrap_or(0))),
                sent_inc,
                None,
            ),
            None => (
                EnrollmentStatus::Completed,
                d.next_step,
                now,
                sent_inc,
                Some(StopReason::Completed),
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
            Outcome::Jump { position, delay } => {
                report.skipped += 1;
                (
                    EnrollmentStatus::Active,
                    *position,
                    now + Duration::minutes(i64::from(*delay)),
                    0,
                    None,
                )
            }
            Outcome::Wait(at) => {
                report.waiting += 1;
                (EnrollmentStatus::Active, d.next_step, *at, 0, None)
            }
            Outcome::End { status, reason } => {
                report.finished += 1;
                (*status, d.next_step, now, 0, Some(*reason))
            }
        };
        e_id.push(d.id);
        e_status.push(status.code());
        e_step.push(step);
        e_at.push(at);
        e_sent.push(sent);
        e_reason.push(reason.map(StopReason::code));
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
