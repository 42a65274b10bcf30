//! A reply arrives: classified, the verdict stored, and queued when a rule says so.

use super::changed;
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::outreach::optout::normalise;
use crate::review::classify::{classify, Classification, Inbound};
use crate::review::model::*;
use chrono::Utc;
use uuid::Uuid;

/// A tenant's review rules (`review_settings`), or the defaults.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Rules {
    pub negative_below: i16,
    pub uncertain_below: f32,
    pub keywords: Vec<String>,
    pub high_value_minor: Option<i64>,
    pub sla_urgent_min: i32,
    pub sla_high_min: i32,
    pub sla_medium_min: i32,
    pub sla_low_min: i32,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            negative_below: -30,
            uncertain_below: 0.5,
            keywords: Vec::new(),
            high_value_minor: None,
            sla_urgent_min: 30,
            sla_high_min: 120,
            sla_medium_min: 480,
            sla_low_min: 1440,
        }
    }
}

impl Rules {
    pub(super) fn sla_minutes(&self, priority: Urgency) -> i32 {
        match priority {
            Urgency::Urgent => self.sla_urgent_min,
            Urgency::High => self.sla_high_min,
            Urgency::Medium => self.sla_medium_min,
            Urgency::Low => self.sla_low_min,
        }
    }
}

pub(super) async fn rules(tx: &mut Tx) -> Result<Rules, AppError> {
    Ok(sqlx::query_as(
        "SELECT negative_below, uncertain_below, keywords, high_value_minor, sla_urgent_min,
                sla_high_min, sla_medium_min, sla_low_min FROM review_settings",
    )
    .fetch_optional(&mut **tx)
    .await?
    .unwrap_or_default())
}

/// An inbound message, as the outreach area records it.
pub struct Arrival<'a> {
    pub tenant_id: Uuid,
    pub lead_id: Uuid,
    pub message_id: Uuid,
    pub subject: &'a str,
    pub text: &'a str,
    pub headers: &'a [(String, String)],
}

/// Which rule, if any, sends a classified reply to the queue, most serious first.
pub(super) fn queue_reason(
    c: &Classification,
    rules: &Rules,
    keyword: Option<&str>,
    high_value: bool,
) -> Option<Reason> {
    match c.intent {
        Intent::Complaint => return Some(Reason::Complaint),
        Intent::Bounce => return Some(Reason::Bounce),
        _ => {}
    }
    if keyword.is_some() {
        return Some(Reason::Keyword);
    }
    // Automatic replies and opt-outs are handled without a human.
    if matches!(
        c.intent,
        Intent::OutOfOffice | Intent::AutoReply | Intent::Unsubscribe
    ) {
        return None;
    }
    if c.intent == Intent::NotInterested {
        return Some(Reason::ConfirmIntent);
    }
    if c.sentiment < rules.negative_below {
        return Some(Reason::NegativeSentiment);
    }
    if c.confidence < rules.uncertain_below {
        return Some(Reason::AiUncertain);
    }
    high_value.then_some(Reason::HighValue)
}

pub(super) fn priority_for(reason: Reason, c: &Classification) -> Urgency {
    let floor = match reason {
        Reason::Complaint => Urgency::High,
        Reason::HighValue | Reason::NegativeSentiment => Urgency::Medium,
        _ => Urgency::Low,
    };
    c.urgency.max(floor)
}

/// Classifies an inbound message in the transaction that records it, stores the
/// verdict on the message, and queues it when a rule says so.
pub async fn reply_arrived(tx: &mut Tx, arrival: &Arrival<'_>) -> Result<Classification, AppError> {
    let rules = rules(tx).await?;
    let c = classify(
        &Inbound {
            subject: arrival.subject,
            text: arrival.text,
            headers: arrival.headers,
        },
        Utc::now().date_naive(),
        &[],
    );
    sqlx::query(
        "UPDATE messages SET intent = $2, sentiment = $3, urgency = $4, confidence = $5, reasons = $6,
                classified_by = 'RULES'
          WHERE id = $1",
    )
    .bind(arrival.message_id)
    .bind(c.intent.code())
    .bind(c.sentiment)
    .bind(c.urgency.code())
    .bind(c.confidence)
    .bind(serde_json::json!(c.reasons))
    .execute(&mut **tx)
    .await?;
    super::refine::queue(tx, arrival.tenant_id, arrival.message_id, &c).await?;
    let text = normalise(&format!("{} {}", arrival.subject, arrival.text));
    let keyword = rules
        .keywords
        .iter()
        .find(|k| {
            let k = normalise(k);
            !k.is_empty() && format!(" {text} ").contains(&format!(" {k} "))
        })
        .cloned();
    let high_value = match rules.high_value_minor {
        Some(min) => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM deals WHERE lead_id = $1 AND status = 'OPEN' AND amount_minor >= $2)",
            )
            .bind(arrival.lead_id)
            .bind(min)
            .fetch_one(&mut **tx)
            .await?
        }
        None => false,
    };
    crate::developers::deliver::publish(
        tx,
        arrival.tenant_id,
        "message.received",
        serde_json::json!({
            "id": arrival.message_id, "lead_id": arrival.lead_id, "subject": arrival.subject,
            "text": arrival.text.chars().take(4000).collect::<String>(),
            "intent": c.intent.code(), "sentiment": c.sentiment, "urgency": c.urgency.code(),
            "confidence": c.confidence,
        }),
    )
    .await?;
    if let Some(reason) = queue_reason(&c, &rules, keyword.as_deref(), high_value) {
        let priority = priority_for(reason, &c);
        let note = keyword.map(|k| format!("keyword: {k}"));
        let item: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO review_items (tenant_id, id, lead_id, message_id, reason, priority, sla_due_at, note)
             VALUES ($1, $2, $3, $4, $5, $6, review_sla_due($1, $7), $8)
             ON CONFLICT (tenant_id, message_id) WHERE message_id IS NOT NULL DO NOTHING
             RETURNING id",
        )
        .bind(arrival.tenant_id)
        .bind(new_id())
        .bind(arrival.lead_id)
        .bind(arrival.message_id)
        .bind(reason.code())
        .bind(priority.code())
        .bind(rules.sla_minutes(priority))
        .bind(note)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(item) = item {
            crate::developers::deliver::publish(
                tx,
                arrival.tenant_id,
                "review.item_created",
                serde_json::json!({
                    "id": item, "lead_id": arrival.lead_id, "message_id": arrival.message_id,
                    "reason": reason.code(), "priority": priority.code(),
                }),
            )
            .await?;
        }
    }
    changed(tx, arrival.tenant_id).await?;
    Ok(c)
}

/// Queues a provider's bounce or complaint about one of our messages.
pub async fn delivery_event(
    tx: &mut Tx,
    tenant_id: Uuid,
    lead_id: Uuid,
    message_id: Uuid,
    reason: Reason,
    detail: &str,
) -> Result<(), AppError> {
    let rules = rules(tx).await?;
    let priority = if reason == Reason::Complaint {
        Urgency::High
    } else {
        Urgency::Low
    };
    sqlx::query(
        "INSERT INTO review_items (tenant_id, id, lead_id, message_id, reason, priority, sla_due_at, note)
         VALUES ($1, $2, $3, $4, $5, $6, review_sla_due($1, $7), $8)
         ON CONFLICT (tenant_id, message_id) WHERE message_id IS NOT NULL DO NOTHING",
    )
    .bind(tenant_id)
    .bind(new_id())
    .bind(lead_id)
    .bind(message_id)
    .bind(reason.code())
    .bind(priority.code())
    .bind(rules.sla_minutes(priority))
    .bind(detail.chars().take(500).collect::<String>())
    .execute(&mut **tx)
    .await?;
    changed(tx, tenant_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(intent: Intent, sentiment: i16, confidence: f32) -> Classification {
        Classification {
            intent,
            sentiment,
            urgency: Urgency::Low,
            confidence,
            reasons: vec![],
            return_on: None,
        }
    }

    #[test]
    fn rules_queue_what_a_human_should_see_and_nothing_else() {
        let r = Rules::default();
        let q = |c: Classification| queue_reason(&c, &r, None, false);
        assert_eq!(
            q(verdict(Intent::Complaint, -80, 0.9)),
            Some(Reason::Complaint)
        );
        assert_eq!(q(verdict(Intent::Bounce, 0, 0.98)), Some(Reason::Bounce));
        assert_eq!(
            q(verdict(Intent::NotInterested, -40, 0.9)),
            Some(Reason::ConfirmIntent)
        );
        assert_eq!(
            q(verdict(Intent::Question, -50, 0.9)),
            Some(Reason::NegativeSentiment)
        );
        assert_eq!(q(verdict(Intent::Other, 0, 0.2)), Some(Reason::AiUncertain));
        assert_eq!(q(verdict(Intent::Interested, 40, 0.9)), None);
        assert_eq!(q(verdict(Intent::OutOfOffice, 0, 0.2)), None);
        assert_eq!(q(verdict(Intent::Unsubscribe, -45, 0.9)), None);
        let c = verdict(Intent::Interested, 40, 0.9);
        assert_eq!(
            queue_reason(&c, &r, Some("lawyer"), false),
            Some(Reason::Keyword)
        );
        assert_eq!(queue_reason(&c, &r, None, true), Some(Reason::HighValue));
    }

    #[test]
    fn a_complaint_is_never_low_priority() {
        let c = verdict(Intent::Complaint, -80, 0.9);
        assert_eq!(priority_for(Reason::Complaint, &c), Urgency::High);
        let mut urgent = verdict(Intent::Question, 0, 0.9);
        urgent.urgency = Urgency::Urgent;
        assert_eq!(priority_for(Reason::AiUncertain, &urgent), Urgency::Urgent);
    }
}
