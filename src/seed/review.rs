//! The demo's review queue: replies of every kind and items in every state.

use app::db::new_id;
use uuid::Uuid;

/// Replies of several kinds, classified by the real classifier, and review items in
/// every state, so the demo's queue is alive. Mona and Omar are left out: the
/// end-to-end tests reply as them.
pub(super) async fn demo_review(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant_id: Uuid,
    manager: Uuid,
) -> Result<(), String> {
    use app::review::classify::{classify, Inbound};
    let replies = [
        (
            "محمد عبد الله",
            "WHATSAPP",
            "السعر غالي جدا والرسايل كل يوم ازعاج 😡",
            "NEGATIVE_SENTIMENT",
            "PENDING",
            2,
        ),
        (
            "Yasmine Fouad",
            "EMAIL",
            "Not interested, we already bought in Zamalek.",
            "CONFIRM_INTENT",
            "ASSIGNED",
            20,
        ),
        ("نور حسن", "WHATSAPP", "ok", "AI_UNCERTAIN", "ESCALATED", 30),
        (
            "Hany Salama",
            "EMAIL",
            "This is spam. How did you get my email? I will complain.",
            "COMPLAINT",
            "RESOLVED",
            72,
        ),
        (
            "Yasmine Fouad",
            "EMAIL",
            "I'm out of the office until Monday.",
            "",
            "",
            50,
        ),
        (
            "محمد عبد الله",
            "WHATSAPP",
            "كم السعر للفيلا؟ 🙏",
            "",
            "",
            120,
        ),
    ];
    let today = chrono::Utc::now().date_naive();
    for (lead, channel, text, reason, status, hours) in replies {
        let c = classify(
            &Inbound {
                text,
                ..Inbound::default()
            },
            today,
            &[],
        );
        let message_id = new_id();
        sqlx::query(
            "INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, to_address, from_address,
                                   body, idempotency_key, intent, sentiment, urgency, confidence, reasons, created_at)
             SELECT $1, $2, l.id, $3, 'IN', 'RECEIVED', 'demo', coalesce(l.phone_e164, l.email::text, ''), $4,
                    'demo:' || $2, $5, $6, $7, $8, $9, now() - make_interval(hours => $10)
               FROM leads l WHERE l.tenant_id = $1 AND l.name = $11",
        )
        .bind(tenant_id)
        .bind(message_id)
        .bind(channel)
        .bind(text)
        .bind(c.intent.code())
        .bind(c.sentiment)
        .bind(c.urgency.code())
        .bind(c.confidence)
        .bind(serde_json::json!(c.reasons))
        .bind(hours)
        .bind(lead)
        .execute(&mut **tx)
        .await
        .map_err(|e| format!("demo replies: {e}"))?;
        if reason.is_empty() {
            continue;
        }
        sqlx::query(
            "INSERT INTO review_items (tenant_id, id, lead_id, message_id, reason, priority, status, assignee_id,
                                       level, sla_due_at, breached, resolution, resolved_at, resolved_by, created_at)
             SELECT $1, gen_random_uuid(), m.lead_id, m.id, $3, CASE $3 WHEN 'COMPLAINT' THEN 'HIGH' ELSE 'MEDIUM' END,
                    $4, CASE WHEN $4 IN ('ASSIGNED', 'RESOLVED') THEN $5::uuid END,
                    CASE WHEN $4 = 'ESCALATED' THEN 1 ELSE 0 END,
                    m.created_at + interval '8 hours', $4 = 'ESCALATED',
                    CASE WHEN $4 = 'RESOLVED' THEN 'CONFIRMED' END,
                    CASE WHEN $4 = 'RESOLVED' THEN now() - interval '1 day' END,
                    CASE WHEN $4 = 'RESOLVED' THEN $5::uuid END, m.created_at
               FROM messages m WHERE m.id = $2",
        )
        .bind(tenant_id)
        .bind(message_id)
        .bind(reason)
        .bind(status)
        .bind(manager)
        .execute(&mut **tx)
        .await
        .map_err(|e| format!("demo review items: {e}"))?;
    }
    Ok(())
}
