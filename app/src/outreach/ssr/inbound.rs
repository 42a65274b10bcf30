//! What comes back: WhatsApp Cloud API webhooks (statuses and replies), our inbound
//! email events (replies, bounces, complaints), opens, clicks and unsubscribes. Each
//! arrives before a tenant is known, is routed to its tenant by the number (and its
//! business account) or the message it names, and is applied once: a replayed event
//! changes nothing.

use super::reply::replied_message;
use super::store::{self, Stat};
use crate::crypto::{constant_time_eq, hex, hmac_sha256};
use crate::db::{internal, new_id, Db, Tx};
use crate::error::AppError;
use crate::outreach::journey::{Cause, Journey};
use crate::outreach::model::{Channel, MessageStatus};
use crate::review::model::{Intent, Reason};
use crate::review::ssr as review;
use uuid::Uuid;

/// How much of a reply the classifier reads.
const CLASSIFY_CHARS: usize = 5000;
/// An automatic reply that names no return date delays the next step this long.
const AUTO_REPLY_DELAY_DAYS: i64 = 3;

/// Meta's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
pub fn verify_meta_signature(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let expected = hex(&hmac_sha256(app_secret.as_bytes(), body));
    constant_time_eq(
        expected.as_bytes(),
        given.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// What a webhook delivery changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub statuses: usize,
    pub replies: usize,
    pub duplicates: usize,
    pub unknown: usize,
}

/// Applies a verified WhatsApp webhook body.
pub async fn whatsapp(db: &Db, body: &serde_json::Value) -> Result<Applied, AppError> {
    let mut applied = Applied::default();
    // Each entry is one WhatsApp Business Account (`entry[].id`); a change is routed
    // only to the number saved with both that WABA and its `phone_number_id`.
    let mut changes = Vec::new();
    for entry in body["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            changes.push((entry["id"].as_str(), change));
        }
    }
    for (waba_id, change) in changes {
        let value = &change["value"];
        let (Some(waba_id), Some(provider_phone_id)) =
            (waba_id, value["metadata"]["phone_number_id"].as_str())
        else {
            applied.unknown += 1;
            continue;
        };
        let route: Option<(Uuid, Uuid)> =
            sqlx::query_as("SELECT tenant_id, id FROM wa_phone_route($1, $2)")
                .bind(waba_id)
                .bind(provider_phone_id)
                .fetch_optional(db.pool())
                .await?;
        let Some((tenant_id, phone_id)) = route else {
            applied.unknown += 1;
            continue;
        };
        let mut tx = db.tenant_tx(tenant_id, None).await?;
        for status in value["statuses"].as_array().into_iter().flatten() {
            wa_status(&mut tx, tenant_id, status, &mut applied).await?;
        }
        for message in value["messages"].as_array().into_iter().flatten() {
            wa_inbound(&mut tx, tenant_id, phone_id, message, &mut applied).await?;
        }
        tx.commit().await?;
    }
    Ok(applied)
}

async fn first_time(
    tx: &mut Tx,
    tenant_id: Uuid,
    source: Channel,
    event: &str,
) -> Result<bool, AppError> {
    let new = sqlx::query(
        "INSERT INTO webhook_receipts (tenant_id, source, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(source.code())
    .bind(event.chars().take(200).collect::<String>())
    .execute(&mut **tx)
    .await
    ?
    .rows_affected();
    Ok(new > 0)
}

async fn wa_status(
    tx: &mut Tx,
    tenant_id: Uuid,
    status: &serde_json::Value,
    applied: &mut Applied,
) -> Result<(), AppError> {
    let (Some(wamid), Some(kind)) = (status["id"].as_str(), status["status"].as_str()) else {
        return Ok(());
    };
    let (new_status, column) = match kind {
        "sent" => (MessageStatus::Sent, "sent_at"),
        "delivered" => (MessageStatus::Delivered, "delivered_at"),
        "read" => (MessageStatus::Read, "read_at"),
        "failed" => (MessageStatus::Failed, "failed_at"),
        _ => return Ok(()),
    };
    if !first_time(tx, tenant_id, Channel::WhatsApp, &format!("{wamid}:{kind}")).await? {
        applied.duplicates += 1;
        return Ok(());
    }
    let error = status["errors"][0]["title"].as_str().map(str::to_string);
    // By provider id, or — when our record of the send was lost in a crash — by the
    // idempotency key Meta echoes back; the provider id is recorded then too.
    let key = status["biz_opaque_callback_data"].as_str().unwrap_or("");
    let updated: Option<bool> = sqlx::query_scalar(&format!(
        "UPDATE messages SET
                status = CASE WHEN message_status_rank($3) > message_status_rank(status) THEN $3 ELSE status END,
                {column} = coalesce({column}, now()),
                sent_at = coalesce(sent_at, now()),
                provider_message_id = coalesce(provider_message_id, $1),
                last_error = coalesce($4, last_error)
          WHERE channel = 'WHATSAPP' AND direction = 'OUT'
            AND (provider_message_id = $1 OR (provider_message_id IS NULL AND idempotency_key = $2))
          RETURNING message_status_rank(status) >= 3 AND $3 = 'DELIVERED'"
    ))
    .bind(wamid)
    .bind(key)
    .bind(new_status)
    .bind(error)
    .fetch_optional(&mut **tx)
    .await
    ?;
    match updated {
        Some(delivered) => {
            applied.statuses += 1;
            if delivered {
                store::bump(tx, tenant_id, &[(Stat::WaDelivered, 1)]).await?;
            }
        }
        None => applied.unknown += 1,
    }
    Ok(())
}

async fn wa_inbound(
    tx: &mut Tx,
    tenant_id: Uuid,
    phone_id: Uuid,
    message: &serde_json::Value,
    applied: &mut Applied,
) -> Result<(), AppError> {
    let (Some(wamid), Some(from)) = (message["id"].as_str(), message["from"].as_str()) else {
        return Ok(());
    };
    let from = format!("+{}", from.trim_start_matches('+'));
    let text = message["text"]["body"]
        .as_str()
        .or_else(|| message["button"]["text"].as_str())
        .unwrap_or("")
        .to_string();
    // The lead this number writes to, preferring the one whose journey is on it.
    let lead: Option<Uuid> = sqlx::query_scalar(
        "SELECT l.id FROM leads l LEFT JOIN lead_journeys j ON j.lead_id = l.id
          WHERE l.phone_e164 = $1
          ORDER BY (j.assigned_phone_id = $2) DESC NULLS LAST, j.last_outbound_at DESC NULLS LAST, l.created_at
          LIMIT 1",
    )
    .bind(&from)
    .bind(phone_id)
    .fetch_optional(&mut **tx)
    .await
    ?;
    let Some(lead) = lead else {
        applied.unknown += 1;
        return Ok(());
    };
    let our_number: String =
        sqlx::query_scalar("SELECT number FROM wa_phone_numbers WHERE id = $1")
            .bind(phone_id)
            .fetch_one(&mut **tx)
            .await?;
    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, phone_id, to_address,
                               from_address, body, idempotency_key, provider_message_id)
         VALUES ($1, $2, $3, 'WHATSAPP', 'IN', 'RECEIVED', $4, $5, $6, $7, $8, $9)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(lead)
    .bind(phone_id)
    .bind(&our_number)
    .bind(&from)
    .bind(&text)
    .bind(format!("in:{wamid}"))
    .bind(wamid)
    .execute(&mut **tx)
    .await
    ?
    .rows_affected();
    if inserted == 0 {
        applied.duplicates += 1;
        return Ok(());
    }
    applied.replies += 1;
    reply_arrived(
        tx,
        tenant_id,
        lead,
        id,
        Channel::WhatsApp,
        &from,
        &text,
        None,
        &[],
    )
    .await?;
    store::bump(tx, tenant_id, &[(Stat::WaReplies, 1)]).await
}

/// What every reply does, whatever its channel: the timeline, the replied message,
/// the classification (review), and what its intent means for the journey and the
/// sequence. An interested reply or a question warms the journey and, by the
/// sequence's exit rule, ends it; an out-of-office or automatic reply only delays the
/// next step (to the return date it states); an opt-out or complaint suppresses the
/// address; a "not interested" stops the sequence and waits for a human to confirm it
/// before the journey ends.
#[allow(clippy::too_many_arguments)]
async fn reply_arrived(
    tx: &mut Tx,
    tenant_id: Uuid,
    lead: Uuid,
    message_id: Uuid,
    channel: Channel,
    from: &str,
    text: &str,
    subject: Option<&str>,
    headers: &[(String, String)],
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO activities (tenant_id, id, kind, lead_id, subject, body, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(new_id())
    .bind(channel.code())
    .bind(lead)
    .bind(subject)
    .bind(text)
    .bind(serde_json::json!({ "message_id": message_id, "direction": "IN" }))
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE messages SET status = 'REPLIED', replied_at = now()
          WHERE id = (SELECT id FROM messages WHERE lead_id = $1 AND channel = $2 AND direction = 'OUT'
                         AND status NOT IN ('QUEUED', 'FAILED', 'BOUNCED')
                       ORDER BY created_at DESC LIMIT 1)",
    )
    .bind(lead)
    .bind(channel.code())
    .execute(&mut **tx)
    .await?;
    store::ensure_journey(tx, tenant_id, lead).await?;
    sqlx::query("UPDATE lead_journeys SET last_inbound_at = now() WHERE lead_id = $1")
        .bind(lead)
        .execute(&mut **tx)
        .await?;
    // Classified on at most the first few thousand characters: a quoted thread below
    // a reply adds nothing but time.
    let head: String = text.chars().take(CLASSIFY_CHARS).collect();
    let verdict = review::reply_arrived(
        tx,
        &review::Arrival {
            tenant_id,
            lead_id: lead,
            message_id,
            subject: subject.unwrap_or(""),
            text: &head,
            headers,
        },
    )
    .await?;
    match verdict.intent {
        Intent::OutOfOffice | Intent::AutoReply => {
            // Not a conversation: the sequence goes on, after the person is back.
            let resume = verdict
                .return_on
                .and_then(|d| d.and_hms_opt(9, 0, 0))
                .map(|d| d.and_utc())
                .unwrap_or_else(|| {
                    chrono::Utc::now() + chrono::Duration::days(AUTO_REPLY_DELAY_DAYS)
                });
            sqlx::query(
                "UPDATE enrollments SET next_run_at = greatest(next_run_at, $2), updated_at = now()
                  WHERE lead_id = $1 AND status = 'ACTIVE'",
            )
            .bind(lead)
            .bind(resume)
            .execute(&mut **tx)
            .await?;
        }
        Intent::Unsubscribe | Intent::Complaint | Intent::Bounce => {
            let reason = match verdict.intent {
                Intent::Complaint => "COMPLAINT",
                Intent::Bounce => "BOUNCE",
                _ => "OPT_OUT",
            };
            store::suppress(tx, tenant_id, channel, from, reason, Some(message_id)).await?;
            store::stop_enrollment(tx, lead, &reason.to_lowercase()).await?;
            if verdict.intent == Intent::Unsubscribe {
                store::bump(tx, tenant_id, &[(Stat::OptOuts, 1)]).await?;
            }
        }
        Intent::NotInterested => {
            store::stop_enrollment(tx, lead, "not_interested").await?;
        }
        _ => {
            let reason = format!("replied on {}", channel.code().to_lowercase());
            store::move_journey(
                tx,
                tenant_id,
                lead,
                Journey::WarmReply,
                Cause::InboundReply,
                &reason,
                None,
            )
            .await?;
            sqlx::query(
                "UPDATE enrollments e SET status = 'STOPPED', stop_reason = 'replied', updated_at = now()
                   FROM sequences s
                  WHERE s.id = e.sequence_id AND s.exit_on_reply AND e.lead_id = $1
                    AND e.status IN ('ACTIVE', 'PAUSED')",
            )
            .bind(lead)
            .execute(&mut **tx)
            .await?;
        }
    }
    // The lead's owner hears of every reply that is a person talking.
    if !matches!(
        verdict.intent,
        Intent::OutOfOffice | Intent::AutoReply | Intent::Bounce
    ) {
        let owner: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT owner_id, name FROM leads WHERE id = $1 AND owner_id IS NOT NULL",
        )
        .bind(lead)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((owner, name)) = owner {
            let body = format!(
                "{name} replied: {}",
                head.chars().take(120).collect::<String>()
            );
            store::notify(
                tx,
                tenant_id,
                owner,
                "REPLY",
                &body,
                Some(&format!("/leads/{lead}")),
            )
            .await?;
        }
    }
    Ok(())
}

/// Our documented inbound email event (see docs/DECISIONS.md §19).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct EmailEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The Message-ID of the email it is about (`<id>@domain`, brackets optional): what
    /// a bounce or complaint names; a reply's `In-Reply-To`, kept but not trusted.
    #[serde(default)]
    pub message_id: String,
    #[serde(default)]
    pub from: String,
    /// Where a reply was sent: the `Reply-To` we gave, whose tag names the message.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub text: String,
    /// A reply's mail headers as (name, value) pairs, for the classifier
    /// (`Auto-Submitted`, `Precedence`, a DSN's `Content-Type`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// Our message id in a Message-ID we generated (`<uuid>@domain`).
pub fn message_id_of(message_id: &str) -> Option<Uuid> {
    let local = message_id
        .trim()
        .trim_start_matches('<')
        .split('@')
        .next()?;
    Uuid::parse_str(local).ok()
}

async fn route(db: &Db, id: Uuid) -> Result<Option<Uuid>, AppError> {
    sqlx::query_scalar("SELECT message_route($1)")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .map_err(internal)
}

/// Who sent message `id`, as the pages a lead reaches from it show them.
pub struct Sender {
    /// The workspace's name.
    pub workspace: String,
    /// Whether its plan has white label (no "Sent with Leadline").
    pub white_label: bool,
    /// The workspace's language, for a lead whose browser names none we speak.
    pub locale: crate::i18n::Locale,
}

/// The workspace that sent message `id`; `None` when there is no such message.
pub async fn sender_of(db: &Db, id: Uuid) -> Result<Option<Sender>, AppError> {
    let Some(tenant_id) = route(db, id).await? else {
        return Ok(None);
    };
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let (workspace, locale): (String, String) =
        sqlx::query_as("SELECT name, locale FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
    let white_label = crate::billing::features::has(
        &mut tx,
        tenant_id,
        crate::billing::model::Feature::WhiteLabel,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Sender {
        workspace,
        white_label,
        locale: crate::i18n::Locale::parse(&locale).unwrap_or_default(),
    }))
}

/// Applies a verified email event; `false` when it names no message of ours or was
/// applied before. A reply names its message by the signed address it was sent to
/// (see `reply`), never by a Message-ID.
pub async fn email_event(
    db: &Db,
    secret_key: &[u8; 32],
    event: &EmailEvent,
) -> Result<bool, AppError> {
    let original = match event.kind.as_str() {
        "reply" => replied_message(secret_key, &event.to),
        _ => message_id_of(&event.message_id),
    };
    let Some(original) = original else {
        return Ok(false);
    };
    let Some(tenant_id) = route(db, original).await? else {
        return Ok(false);
    };
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    if !first_time(&mut tx, tenant_id, Channel::Email, &event.id).await? {
        return Ok(false);
    }
    let row: Option<(Uuid, String, Option<Uuid>, String)> = sqlx::query_as(
        "SELECT lead_id, to_address, email_account_id, coalesce(from_address, '') FROM messages
          WHERE id = $1 AND channel = 'EMAIL' AND direction = 'OUT'",
    )
    .bind(original)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((lead, recipient, mailbox, our_address)) = row else {
        return Ok(false);
    };
    match event.kind.as_str() {
        "reply" => {
            let id = new_id();
            let from = if event.from.trim().is_empty() {
                recipient.clone()
            } else {
                event.from.trim().to_string()
            };
            sqlx::query(
                "INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, email_account_id,
                                       to_address, from_address, subject, body, idempotency_key, in_reply_to)
                 VALUES ($1, $2, $3, 'EMAIL', 'IN', 'RECEIVED', $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(tenant_id)
            .bind(id)
            .bind(lead)
            .bind(mailbox)
            .bind(&our_address)
            .bind(&from)
            .bind(&event.subject)
            .bind(&event.text)
            .bind(format!("in:{}", event.id))
            .bind(
                Some(event.message_id.trim_matches(|c| c == '<' || c == '>'))
                    .filter(|m| !m.is_empty()),
            )
            .execute(&mut *tx)
            .await
            ?;
            reply_arrived(
                &mut tx,
                tenant_id,
                lead,
                id,
                Channel::Email,
                &recipient,
                &event.text,
                Some(&event.subject),
                &event.headers,
            )
            .await?;
            store::bump(&mut tx, tenant_id, &[(Stat::EmailReplies, 1)]).await?;
        }
        "bounce" | "complaint" => {
            let bounce = event.kind == "bounce";
            if bounce {
                sqlx::query(
                    "UPDATE messages SET status = 'BOUNCED', bounced_at = now(), last_error = $2 WHERE id = $1",
                )
                .bind(original)
                .bind(event.text.chars().take(500).collect::<String>())
                .execute(&mut *tx)
                .await
                ?;
            }
            let reason = if bounce { "BOUNCE" } else { "COMPLAINT" };
            let queued = if bounce {
                Reason::Bounce
            } else {
                Reason::Complaint
            };
            review::delivery_event(&mut tx, tenant_id, lead, original, queued, &event.text).await?;
            store::suppress(
                &mut tx,
                tenant_id,
                Channel::Email,
                &recipient,
                reason,
                Some(original),
            )
            .await?;
            sqlx::query(
                "UPDATE enrollments e SET status = 'STOPPED', stop_reason = $2, updated_at = now()
                   FROM sequences s
                  WHERE s.id = e.sequence_id AND (s.exit_on_bounce OR $2 = 'complaint')
                    AND e.lead_id = $1 AND e.status IN ('ACTIVE', 'PAUSED')",
            )
            .bind(lead)
            .bind(&event.kind)
            .execute(&mut *tx)
            .await?;
            if bounce {
                store::bump(&mut tx, tenant_id, &[(Stat::EmailBounces, 1)]).await?;
                if let Some(mailbox) = mailbox {
                    store::pause_if_failing(&mut tx, tenant_id, store::Sender::Mailbox(mailbox))
                        .await?;
                }
            }
        }
        _ => return Ok(false),
    }
    tx.commit().await?;
    Ok(true)
}

/// An open (the pixel) or a click; for a click, the address to send the reader on to,
/// which must be one the email itself contained (no open redirect).
pub async fn tracked(db: &Db, id: Uuid, click: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(tenant_id) = route(db, id).await? else {
        return Ok(None);
    };
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let row: Option<(String, bool, bool)> = sqlx::query_as(
        "SELECT body, opened_at IS NULL, clicked_at IS NULL FROM messages
          WHERE id = $1 AND channel = 'EMAIL' AND direction = 'OUT' FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((body, first_open, first_click)) = row else {
        return Ok(None);
    };
    let target = match click {
        Some(url) if body.split_whitespace().any(|w| w == url) => Some(url.to_string()),
        Some(_) => return Ok(None),
        None => None,
    };
    let (status, column, stat, first) = match target {
        Some(_) => ("CLICKED", "clicked_at", Stat::EmailClicks, first_click),
        None => ("OPENED", "opened_at", Stat::EmailOpens, first_open),
    };
    sqlx::query(&format!(
        "UPDATE messages SET status = CASE WHEN message_status_rank($2) > message_status_rank(status) THEN $2 ELSE status END,
                {column} = coalesce({column}, now())
          WHERE id = $1"
    ))
    .bind(id)
    .bind(status)
    .execute(&mut *tx)
    .await
    ?;
    if first {
        store::bump(&mut tx, tenant_id, &[(stat, 1)]).await?;
    }
    tx.commit().await?;
    Ok(target.or(Some(String::new())))
}

/// The one-click unsubscribe: the recipient of message `id` is suppressed for email.
/// Returns the address, or `None` for a message we do not know.
pub async fn unsubscribe(db: &Db, id: Uuid) -> Result<Option<String>, AppError> {
    let Some(tenant_id) = route(db, id).await? else {
        return Ok(None);
    };
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT lead_id, to_address FROM messages WHERE id = $1 AND channel = 'EMAIL' AND direction = 'OUT'",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    ?;
    let Some((lead, address)) = row else {
        return Ok(None);
    };
    if store::suppress(
        &mut tx,
        tenant_id,
        Channel::Email,
        &address,
        "UNSUBSCRIBE",
        Some(id),
    )
    .await?
    {
        store::stop_enrollment(&mut tx, lead, "unsubscribed").await?;
        store::bump(&mut tx, tenant_id, &[(Stat::OptOuts, 1)]).await?;
        sqlx::query(
            "INSERT INTO activities (tenant_id, id, kind, lead_id, subject, data)
             VALUES ($1, $2, 'EMAIL', $3, 'Unsubscribed', $4)",
        )
        .bind(tenant_id)
        .bind(new_id())
        .bind(lead)
        .bind(serde_json::json!({ "message_id": id, "direction": "IN", "unsubscribed": true }))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_signatures() {
        let body = "{\"a\":\"😀\"}".as_bytes();
        let sig = format!("sha256={}", hex(&hmac_sha256(b"s3cret", body)));
        assert!(verify_meta_signature("s3cret", body, Some(&sig)));
        assert!(!verify_meta_signature("other", body, Some(&sig)));
        let mut tampered = body.to_vec();
        tampered[2] ^= 1;
        assert!(!verify_meta_signature("s3cret", &tampered, Some(&sig)));
        assert!(!verify_meta_signature("s3cret", body, None));
        assert!(!verify_meta_signature("s3cret", body, Some("sha1=abc")));
    }

    #[test]
    fn message_ids_name_our_messages() {
        let id = Uuid::now_v7();
        assert_eq!(message_id_of(&format!("<{id}@nile.test>")), Some(id));
        assert_eq!(message_id_of(&format!("{id}@nile.test")), Some(id));
        assert_eq!(message_id_of("abc@nile.test"), None);
    }
}
