//! Pieces every outreach path shares: the tenant's day, the quota lock, journey moves,
//! daily stats, notifications and suppression checks — each written in the caller's
//! transaction, next to the change it belongs to.

use crate::db::{internal, new_id, Tx};
use crate::error::AppError;
use crate::outreach::journey::{Cause, Journey};
use crate::outreach::model::{Channel, MessageStatus};
use uuid::Uuid;

/// Today in the tenant's time zone, as SQL (the tenant of the transaction).
pub const TENANT_TODAY: &str =
    "(SELECT (now() AT TIME ZONE t.timezone)::date FROM tenants t WHERE t.id = app_tenant())";

/// Serialises the new-contact decisions of one tenant: whoever holds this lock sees
/// every quota use committed before it, so concurrent schedulers can never give away
/// the same slot twice. Held to the end of the transaction.
pub async fn lock_quota(tx: &mut Tx, tenant_id: Uuid) -> Result<(), AppError> {
    sqlx::query("SELECT 1 FROM tenant_policies WHERE tenant_id = $1 FOR UPDATE")
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// First contacts the tenant may still start in the rolling 24 hours (Meta's tier).
/// Call with the quota lock held.
pub async fn tenant_first_contacts_left(tx: &mut Tx) -> Result<i64, AppError> {
    sqlx::query_scalar(
        "SELECT (SELECT wa_daily_unique_limit FROM tenant_policies)::bigint
              - (SELECT count(*) FROM messages
                  WHERE quota_cost = 1 AND created_at > now() - interval '24 hours')",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(internal)
}

/// Daily counters (seed 000's outreach_daily_stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    WaNewContacts,
    WaFollowups,
    WaDelivered,
    WaReplies,
    EmailSent,
    EmailOpens,
    EmailClicks,
    EmailReplies,
    EmailBounces,
    Failed,
    OptOuts,
    LeadsContacted,
    LeadsReplied,
    LeadsConverted,
}

impl Stat {
    fn column(self) -> &'static str {
        match self {
            Stat::WaNewContacts => "wa_new_contacts",
            Stat::WaFollowups => "wa_followups",
            Stat::WaDelivered => "wa_delivered",
            Stat::WaReplies => "wa_replies",
            Stat::EmailSent => "email_sent",
            Stat::EmailOpens => "email_opens",
            Stat::EmailClicks => "email_clicks",
            Stat::EmailReplies => "email_replies",
            Stat::EmailBounces => "email_bounces",
            Stat::Failed => "failed",
            Stat::OptOuts => "opt_outs",
            Stat::LeadsContacted => "leads_contacted",
            Stat::LeadsReplied => "leads_replied",
            Stat::LeadsConverted => "leads_converted",
        }
    }
}

/// Adds to today's counters in one statement.
pub async fn bump(tx: &mut Tx, tenant_id: Uuid, counts: &[(Stat, i64)]) -> Result<(), AppError> {
    let counts: Vec<_> = counts.iter().filter(|(_, n)| *n != 0).collect();
    if counts.is_empty() {
        return Ok(());
    }
    let columns: Vec<&str> = counts.iter().map(|(s, _)| s.column()).collect();
    let values: Vec<String> = counts.iter().map(|(_, n)| n.to_string()).collect();
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = outreach_daily_stats.{c} + EXCLUDED.{c}"))
        .collect();
    sqlx::query(&format!(
        "INSERT INTO outreach_daily_stats (tenant_id, day, {}) VALUES ($1, {TENANT_TODAY}, {})
         ON CONFLICT (tenant_id, day) DO UPDATE SET {}",
        columns.join(", "),
        values.join(", "),
        updates.join(", ")
    ))
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves a lead's journey if the state machine allows it, with the previous state and
/// the reason kept and an entry on the lead's timeline. Returns the state it left, or
/// `None` when the move is not allowed (the journey stays as it is).
pub async fn move_journey(
    tx: &mut Tx,
    tenant_id: Uuid,
    lead_id: Uuid,
    to: Journey,
    cause: Cause,
    reason: &str,
    actor: Option<Uuid>,
) -> Result<Option<Journey>, AppError> {
    ensure_journey(tx, tenant_id, lead_id).await?;
    let from: String =
        sqlx::query_scalar("SELECT state FROM lead_journeys WHERE lead_id = $1 FOR UPDATE")
            .bind(lead_id)
            .fetch_one(&mut **tx)
            .await?;
    let from = Journey::parse(&from).unwrap_or(Journey::Cold);
    if !from.can_move(to, cause) {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE lead_journeys SET state = $2, previous_state = state, state_reason = $3,
                state_changed_at = now()
          WHERE lead_id = $1",
    )
    .bind(lead_id)
    .bind(to.code())
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    crate::developers::deliver::publish(
        tx,
        tenant_id,
        "journey.changed",
        serde_json::json!({
            "lead_id": lead_id, "from": from.code(), "to": to.code(),
            "cause": format!("{cause:?}"), "reason": reason,
        }),
    )
    .await?;
    sqlx::query(
        "INSERT INTO activities (tenant_id, id, kind, lead_id, actor_id, data)
         VALUES ($1, $2, 'JOURNEY', $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(new_id())
    .bind(lead_id)
    .bind(actor)
    .bind(serde_json::json!({
        "from": from.code(),
        "to": to.code(),
        "cause": format!("{cause:?}"),
        "reason": reason,
    }))
    .execute(&mut **tx)
    .await?;
    let stat = match to {
        Journey::ContactedWa | Journey::ContactedEmail if from == Journey::Cold => {
            Some(Stat::LeadsContacted)
        }
        Journey::WarmReply => Some(Stat::LeadsReplied),
        Journey::Converted => Some(Stat::LeadsConverted),
        _ => None,
    };
    if let Some(stat) = stat {
        bump(tx, tenant_id, &[(stat, 1)]).await?;
    }
    Ok(Some(from))
}

/// Messages went out to many leads at once (a dispatcher's batch): each journey's
/// last outbound time, and for a lead still COLD the first-send move (→
/// CONTACTED_WA / CONTACTED_EMAIL) with its timeline entry. Each journey row is
/// written once, in four statements whatever the batch size.
pub async fn sent_to(
    tx: &mut Tx,
    tenant_id: Uuid,
    sends: &[(Uuid, Channel)],
) -> Result<(), AppError> {
    let mut seen = std::collections::HashSet::new();
    let (mut leads, mut states, mut reasons) = (Vec::new(), Vec::new(), Vec::new());
    for (lead, channel) in sends {
        let to = match channel {
            Channel::WhatsApp => Journey::ContactedWa,
            Channel::Email => Journey::ContactedEmail,
        };
        if Journey::Cold.can_move(to, Cause::FirstSend) && seen.insert(*lead) {
            leads.push(*lead);
            states.push(to.code().to_string());
            reasons.push(format!("first {} sent", channel.code().to_lowercase()));
        }
    }
    if leads.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO lead_journeys (tenant_id, lead_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&leads)
    .execute(&mut **tx)
    .await
    ?;
    let moved: i64 = sqlx::query_scalar(&format!(
        "WITH moved AS (
            UPDATE lead_journeys j SET state = x.state, previous_state = j.state, state_reason = x.reason,
                   state_changed_at = now(), last_outbound_at = now()
              FROM UNNEST($2::uuid[], $3::text[], $4::text[]) AS x (lead, state, reason)
             WHERE j.tenant_id = $1 AND j.lead_id = x.lead AND j.state = 'COLD'
            RETURNING j.lead_id, x.state, x.reason),
         logged AS (
            INSERT INTO activities (tenant_id, id, kind, lead_id, data)
            SELECT $1, gen_random_uuid(), 'JOURNEY', lead_id,
                   jsonb_build_object('from', 'COLD', 'to', state, 'cause', '{:?}', 'reason', reason)
              FROM moved RETURNING 1)
         SELECT count(*) FROM logged",
        Cause::FirstSend
    ))
    .bind(tenant_id)
    .bind(&leads)
    .bind(&states)
    .bind(&reasons)
    .fetch_one(&mut **tx)
    .await
    ?;
    // The rest were contacted before. now() is the transaction's start, so the rows
    // just moved (already at now()) are not written a second time.
    sqlx::query(
        "UPDATE lead_journeys SET last_outbound_at = now()
          WHERE tenant_id = $1 AND lead_id = ANY($2) AND last_outbound_at IS DISTINCT FROM now()",
    )
    .bind(tenant_id)
    .bind(&leads)
    .execute(&mut **tx)
    .await?;
    bump(tx, tenant_id, &[(Stat::LeadsContacted, moved)]).await
}

pub async fn ensure_journey(tx: &mut Tx, tenant_id: Uuid, lead_id: Uuid) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO lead_journeys (tenant_id, lead_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tells a member something went wrong (a failed send, a sender that paused itself).
pub async fn notify(
    tx: &mut Tx,
    tenant_id: Uuid,
    user_id: Uuid,
    kind: &str,
    body: &str,
    link: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
         SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM memberships WHERE user_id = $3)",
    )
    .bind(tenant_id)
    .bind(new_id())
    .bind(user_id)
    .bind(kind)
    .bind(body)
    .bind(link)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tells every admin and owner of the tenant.
pub async fn notify_admins(
    tx: &mut Tx,
    tenant_id: Uuid,
    kind: &str,
    body: &str,
    link: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
         SELECT $1, gen_random_uuid(), user_id, $2, $3, $4 FROM memberships
          WHERE role IN ('OWNER', 'ADMIN') AND status = 'ACTIVE'",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(body)
    .bind(link)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A sender that can pause itself when too many of its recent messages go wrong.
#[derive(Clone, Copy, Debug)]
pub enum Sender {
    /// A WhatsApp number: failed sends count; more than 10% pauses it.
    Phone(Uuid),
    /// A mailbox: bounces count; more than 5% pauses it (the usual deliverability line).
    Mailbox(Uuid),
}

impl Sender {
    /// (messages column, status that counts against it, table, share that pauses it,
    /// what the notice calls it).
    fn rule(self) -> (&'static str, MessageStatus, &'static str, f64, &'static str) {
        match self {
            Sender::Phone(_) => (
                "phone_id",
                MessageStatus::Failed,
                "wa_phone_numbers",
                0.10,
                "A WhatsApp number",
            ),
            Sender::Mailbox(_) => (
                "email_account_id",
                MessageStatus::Bounced,
                "email_accounts",
                0.05,
                "A mailbox",
            ),
        }
    }

    fn id(self) -> Uuid {
        match self {
            Sender::Phone(id) | Sender::Mailbox(id) => id,
        }
    }
}

/// Pauses `sender` when, over its last 100 finished messages (20 at least), the share
/// that failed or bounced is above its limit, and tells the tenant's admins.
pub async fn pause_if_failing(
    tx: &mut Tx,
    tenant_id: Uuid,
    sender: Sender,
) -> Result<(), AppError> {
    let (column, bad, table, limit, name) = sender.rule();
    let (failed, total): (i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE status = '{bad}'), count(*) FROM (
            SELECT status FROM messages WHERE {column} = $1 AND direction = 'OUT'
               AND status <> 'QUEUED'
             ORDER BY created_at DESC LIMIT 100) recent"
    ))
    .bind(sender.id())
    .fetch_one(&mut **tx)
    .await?;
    if total < 20 || (failed as f64) / (total as f64) <= limit {
        return Ok(());
    }
    let reason = format!(
        "{failed} of the last {total} messages {}",
        bad.code().to_lowercase()
    );
    let paused = sqlx::query(&format!(
        "UPDATE {table} SET status = 'PAUSED', status_reason = $2 WHERE id = $1 AND status = 'ACTIVE'"
    ))
    .bind(sender.id())
    .bind(&reason)
    .execute(&mut **tx)
    .await
    ?
    .rows_affected();
    if paused > 0 {
        let body = format!("{name} paused itself: {reason}.");
        notify_admins(
            tx,
            tenant_id,
            "SENDER_PAUSED",
            &body,
            Some("/outreach/senders"),
        )
        .await?;
    }
    Ok(())
}

/// The normalised address suppressions are keyed on.
pub fn suppression_key(channel: Channel, address: &str) -> String {
    match channel {
        Channel::WhatsApp => address.trim().to_string(),
        Channel::Email => address.trim().to_lowercase(),
    }
}

pub async fn is_suppressed(tx: &mut Tx, channel: Channel, address: &str) -> Result<bool, AppError> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM suppressions WHERE channel = $1 AND address = $2)",
    )
    .bind(channel.code())
    .bind(suppression_key(channel, address))
    .fetch_one(&mut **tx)
    .await
    .map_err(internal)
}

pub async fn suppress(
    tx: &mut Tx,
    tenant_id: Uuid,
    channel: Channel,
    address: &str,
    reason: &str,
    message_id: Option<Uuid>,
) -> Result<bool, AppError> {
    let added = sqlx::query(
        "INSERT INTO suppressions (tenant_id, id, channel, address, reason, message_id)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, channel, address) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(new_id())
    .bind(channel.code())
    .bind(suppression_key(channel, address))
    .bind(reason)
    .bind(message_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(added > 0)
}

/// Stops the lead's running enrolment (a reply, an opt-out, a bounce).
pub async fn stop_enrollment(tx: &mut Tx, lead_id: Uuid, reason: &str) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "UPDATE enrollments SET status = 'STOPPED', stop_reason = $2, updated_at = now()
          WHERE lead_id = $1 AND status IN ('ACTIVE', 'PAUSED')",
    )
    .bind(lead_id)
    .bind(reason)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// The values a template's variables take for a lead.
pub fn lead_values(
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
    company: Option<&str>,
    owner_name: Option<&str>,
) -> std::collections::HashMap<String, String> {
    let mut parts = name.split_whitespace();
    let first = parts.next().unwrap_or("").to_string();
    let last = parts.collect::<Vec<_>>().join(" ");
    let mut values = std::collections::HashMap::new();
    values.insert("full_name".to_string(), name.to_string());
    values.insert("first_name".to_string(), first);
    values.insert("last_name".to_string(), last);
    for (key, value) in [
        ("email", email),
        ("phone", phone),
        ("company", company),
        ("owner_name", owner_name),
    ] {
        if let Some(v) = value {
            values.insert(key.to_string(), v.to_string());
        }
    }
    values
}
