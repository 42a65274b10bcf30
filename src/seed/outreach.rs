//! The demo's outreach: senders on the dev peer, templates, a sequence and a list to
//! enrol, and the week of history before the demo.

use super::{DemoSenders, DEMO_WABA_ID, DEMO_WA_NUMBERS, DEMO_WA_TOKEN};
use app::db::new_id;
use uuid::Uuid;

/// A lead of the demo's week of history: name, channel, the reply (if any) and the
/// reply's mail headers.
type HistoryLead<'a> = (&'a str, &'a str, Option<&'a str>, &'a [(String, String)]);

/// The week before the demo: fourteen more leads, each sent the intro (WhatsApp, or
/// the brochure by email) on one of the last seven days, delivered and mostly read;
/// eleven answered, one reply of every intent in English or Arabic, classified by the
/// real classifier and already seen; journeys, suppressions and the daily stats that
/// follow. They are not on the "Outreach pilot" list the end-to-end tests enrol.
pub(super) async fn demo_history(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant_id: Uuid,
    sales: Uuid,
) -> Result<(), String> {
    use app::review::classify::{classify, Inbound};
    let err = |e: sqlx::Error| format!("demo outreach history: {e}");
    let dsn = [(
        "Content-Type".to_string(),
        "multipart/report; report-type=delivery-status".to_string(),
    )];
    let auto = [("Auto-Submitted".to_string(), "auto-replied".to_string())];
    let none: [(String, String); 0] = [];
    let history: [HistoryLead; 14] = [
        (
            "Karim Mansour",
            "WHATSAPP",
            Some("Yes, I'm interested! Please send me the prices and the payment plan."),
            &none,
        ),
        (
            "سارة إبراهيم",
            "WHATSAPP",
            Some("كم سعر الشقة ذات الغرفتين؟ وهل يوجد تقسيط؟"),
            &none,
        ),
        (
            "Tarek Nabil",
            "WHATSAPP",
            Some("Not right now, maybe after the summer."),
            &none,
        ),
        ("هالة مصطفى", "WHATSAPP", Some("مش مهتم، شكرا"), &none),
        (
            "Dina Samir",
            "WHATSAPP",
            Some("Wrong number, I am not the person you are looking for."),
            &none,
        ),
        (
            "Amr Fathy",
            "WHATSAPP",
            Some("I am out of the office until next Monday with limited access to messages."),
            &none,
        ),
        ("ريم عادل", "WHATSAPP", Some("STOP"), &none),
        (
            "Sherif Lotfy",
            "WHATSAPP",
            Some("This is spam. How did you get my number? I'm reporting you."),
            &none,
        ),
        ("منى رشاد", "WHATSAPP", Some("تمام"), &none),
        (
            "Laila Hamdy",
            "EMAIL",
            Some("Thank you for your email. I will read it when I can."),
            &auto,
        ),
        (
            "Youssef Kamal",
            "EMAIL",
            Some("Delivery to the following recipient failed permanently: user unknown."),
            &dsn,
        ),
        ("Nadia Fawzy", "WHATSAPP", None, &none),
        ("محمود سليم", "WHATSAPP", None, &none),
        ("Rania Adel", "EMAIL", None, &none),
    ];
    let today = chrono::Utc::now().date_naive();
    for (k, (name, channel, reply, headers)) in history.iter().enumerate() {
        let k = k as i32;
        let lead = new_id();
        let phone = format!("+2010990000{:02}", k + 1);
        let email = format!("demo.history{}@example.com", k + 1);
        sqlx::query(
            "INSERT INTO leads (tenant_id, id, name, email, phone_e164, source, status, score, owner_id)
             VALUES ($1, $2, $3, $4, $5, 'Outreach', 'CONTACTED', 20 + $6 * 3, $7)",
        )
        .bind(tenant_id)
        .bind(lead)
        .bind(name)
        .bind(&email)
        .bind(&phone)
        .bind(k)
        .bind(sales)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
        // Sent on one of the last seven days at 10:00 and a few minutes; the reply two
        // hours later.
        let sent_ago = format!("{} days", 1 + k % 7);
        let verdict = reply.map(|text| {
            classify(
                &Inbound {
                    text,
                    headers,
                    ..Inbound::default()
                },
                today,
                &[],
            )
        });
        let email_channel = *channel == "EMAIL";
        use app::review::model::Intent;
        let status = match (verdict.as_ref().map(|c| c.intent), k % 3) {
            (Some(Intent::Bounce), _) => "BOUNCED",
            (Some(_), _) => "REPLIED",
            (None, 0) => "DELIVERED",
            (None, _) if email_channel => "OPENED",
            (None, _) => "READ",
        };
        sqlx::query(
            "INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, phone_id, email_account_id,
                                   to_address, from_address, subject, body, wa_template_name, quota_cost,
                                   idempotency_key, created_at, sent_at, delivered_at, read_at, opened_at,
                                   replied_at, bounced_at)
             SELECT $1, gen_random_uuid(), $2, $3, 'OUT', $4,
                    CASE WHEN $3 = 'WHATSAPP' THEN (SELECT id FROM wa_phone_numbers WHERE tenant_id = $1 ORDER BY priority LIMIT 1) END,
                    CASE WHEN $3 = 'EMAIL' THEN (SELECT id FROM email_accounts WHERE tenant_id = $1 LIMIT 1) END,
                    CASE WHEN $3 = 'EMAIL' THEN $5 ELSE $6 END,
                    CASE WHEN $3 = 'EMAIL' THEN 'sales@nile-realty.test' END,
                    CASE WHEN $3 = 'EMAIL' THEN 'The brochure you asked for, ' || split_part($7, ' ', 1) END,
                    CASE WHEN $3 = 'EMAIL' THEN 'Dear ' || split_part($7, ' ', 1) || ', here is the brochure with prices and payment plans.'
                         ELSE 'Hi ' || split_part($7, ' ', 1) || ', this is Nile Realty. We have new units — shall I send you the brochure?' END,
                    CASE WHEN $3 = 'WHATSAPP' THEN 'intro_offer' END, CASE WHEN $3 = 'WHATSAPP' THEN 1 ELSE 0 END,
                    'demo-history:' || $2, t.at, t.at, CASE WHEN $4 <> 'BOUNCED' THEN t.at + interval '1 minute' END,
                    CASE WHEN $3 = 'WHATSAPP' AND $4 IN ('READ', 'REPLIED') THEN t.at + interval '30 minutes' END,
                    CASE WHEN $3 = 'EMAIL' AND $4 IN ('OPENED', 'REPLIED') THEN t.at + interval '30 minutes' END,
                    CASE WHEN $4 = 'REPLIED' THEN t.at + interval '2 hours' END,
                    CASE WHEN $4 = 'BOUNCED' THEN t.at + interval '2 hours' END
               FROM (SELECT date_trunc('day', now() - $8::interval) + interval '10 hours' + make_interval(mins => $9) AS at) t",
        )
        .bind(tenant_id)
        .bind(lead)
        .bind(channel)
        .bind(status)
        .bind(&email)
        .bind(&phone)
        .bind(name)
        .bind(&sent_ago)
        .bind(k * 7)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
        if let (Some(text), Some(c)) = (reply, &verdict) {
            sqlx::query(
                "INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, to_address, from_address,
                                       body, idempotency_key, intent, sentiment, urgency, confidence, reasons,
                                       classified_by, created_at, seen_at)
                 SELECT $1, gen_random_uuid(), $2, m.channel, 'IN', 'RECEIVED', 'demo', m.to_address, $3,
                        'demo-history-in:' || $2, $4, $5, $6, $7, $8, 'RULES', coalesce(m.replied_at, m.bounced_at),
                        coalesce(m.replied_at, m.bounced_at) + interval '1 hour'
                   FROM messages m WHERE m.idempotency_key = 'demo-history:' || $2",
            )
            .bind(tenant_id)
            .bind(lead)
            .bind(text)
            .bind(c.intent.code())
            .bind(c.sentiment)
            .bind(c.urgency.code())
            .bind(c.confidence)
            .bind(serde_json::json!(c.reasons))
            .execute(&mut **tx)
            .await
            .map_err(err)?;
        }
        let state = match verdict.as_ref().map(|c| c.intent) {
            Some(Intent::Interested | Intent::Question) => "WARM_REPLY",
            Some(
                Intent::Unsubscribe | Intent::Complaint | Intent::Bounce | Intent::WrongPerson,
            ) => "DEAD",
            _ if email_channel => "CONTACTED_EMAIL",
            _ => "CONTACTED_WA",
        };
        sqlx::query(
            "INSERT INTO lead_journeys (tenant_id, lead_id, state, state_reason, state_changed_at, assigned_phone_id,
                                        assigned_at, first_wa_at, first_email_at, last_outbound_at, last_inbound_at)
             SELECT $1, $2, $3, 'demo history', coalesce(m.replied_at, m.bounced_at, m.sent_at), m.phone_id, m.sent_at,
                    CASE WHEN m.channel = 'WHATSAPP' THEN m.sent_at END,
                    CASE WHEN m.channel = 'EMAIL' THEN m.sent_at END, m.sent_at, m.replied_at
               FROM messages m WHERE m.idempotency_key = 'demo-history:' || $2",
        )
        .bind(tenant_id)
        .bind(lead)
        .bind(state)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
        if let Some(reason) = verdict.as_ref().and_then(|c| match c.intent {
            Intent::Unsubscribe => Some("OPT_OUT"),
            Intent::Complaint => Some("COMPLAINT"),
            Intent::Bounce => Some("BOUNCE"),
            _ => None,
        }) {
            sqlx::query(
                "INSERT INTO suppressions (tenant_id, id, channel, address, reason)
                 VALUES ($1, gen_random_uuid(), $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(if email_channel { &email } else { &phone })
            .bind(reason)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
        }
    }
    // The daily counters the dashboard charts, as the workers would have kept them.
    sqlx::query(
        "INSERT INTO outreach_daily_stats (tenant_id, day, wa_new_contacts, wa_delivered, wa_replies, email_sent,
                                           email_opens, email_replies, email_bounces, opt_outs, leads_contacted, leads_replied)
         SELECT $1, (m.created_at AT TIME ZONE t.timezone)::date,
                count(*) FILTER (WHERE m.direction = 'OUT' AND m.channel = 'WHATSAPP'),
                count(*) FILTER (WHERE m.direction = 'OUT' AND m.channel = 'WHATSAPP' AND m.delivered_at IS NOT NULL),
                count(*) FILTER (WHERE m.direction = 'IN' AND m.channel = 'WHATSAPP'),
                count(*) FILTER (WHERE m.direction = 'OUT' AND m.channel = 'EMAIL'),
                count(*) FILTER (WHERE m.direction = 'OUT' AND m.channel = 'EMAIL' AND m.opened_at IS NOT NULL),
                count(*) FILTER (WHERE m.direction = 'IN' AND m.channel = 'EMAIL' AND m.intent <> 'BOUNCE'),
                count(*) FILTER (WHERE m.direction = 'IN' AND m.intent = 'BOUNCE'),
                count(*) FILTER (WHERE m.direction = 'IN' AND m.intent = 'UNSUBSCRIBE'),
                count(DISTINCT m.lead_id) FILTER (WHERE m.direction = 'OUT'),
                count(DISTINCT m.lead_id) FILTER (WHERE m.direction = 'IN')
           FROM messages m JOIN tenants t ON t.id = m.tenant_id
          WHERE m.tenant_id = $1 AND m.idempotency_key LIKE 'demo-history%'
          GROUP BY 2",
    )
    .bind(tenant_id)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

pub(super) async fn demo_outreach(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant_id: Uuid,
    owner_id: Uuid,
    senders: &DemoSenders,
) -> Result<(), String> {
    use app::outreach::ssr::secrets;
    let key = tokio::task::spawn_blocking(mail::DkimKey::generate)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let domain_id = new_id();
    let dkim_private = secrets::seal(
        &senders.secret_key,
        &secrets::dkim_key(domain_id),
        &key.to_pkcs8_pem(),
    );
    let dkim_public = key.public_key_b64();
    let err = |e: sqlx::Error| format!("demo outreach data: {e}");
    for (priority, (provider_id, number, label)) in (1..).zip(DEMO_WA_NUMBERS) {
        let phone_id = new_id();
        sqlx::query(
            "INSERT INTO wa_phone_numbers (tenant_id, id, number, label, provider_phone_id, waba_id, access_token,
                                           priority, daily_quota)
             VALUES ($1, $8, $2, $3, $4, $5, $6, $7, 200)",
        )
        .bind(tenant_id)
        .bind(number)
        .bind(label)
        .bind(provider_id)
        .bind(DEMO_WABA_ID)
        .bind(secrets::seal(
            &senders.secret_key,
            &secrets::phone_token(phone_id),
            DEMO_WA_TOKEN,
        ))
        .bind(priority)
        .bind(phone_id)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    }
    sqlx::query(
        "INSERT INTO email_domains (tenant_id, id, domain, dkim_private, dkim_public)
         VALUES ($1, $4, 'nile-realty.test', $2, $3)",
    )
    .bind(tenant_id)
    .bind(dkim_private)
    .bind(dkim_public)
    .bind(domain_id)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    sqlx::query(
        "INSERT INTO templates (tenant_id, id, name, channel, folder, tags, wa_template_name, approval_status, created_by)
         VALUES ($1, gen_random_uuid(), 'Intro offer', 'WHATSAPP', 'New leads', ARRAY['intro'], 'intro_offer', 'APPROVED', $2),
                ($1, gen_random_uuid(), 'Brochure', 'EMAIL', 'New leads', ARRAY['brochure'], NULL, 'APPROVED', $2)",
    )
    .bind(tenant_id)
    .bind(owner_id)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    for sql in DEMO_OUTREACH {
        sqlx::query(sql)
            .bind(tenant_id)
            .bind(owner_id)
            .bind(senders.smtp.ip().to_string())
            .bind(i32::from(senders.smtp.port()))
            .execute(&mut **tx)
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// The rest of the demo's outreach: a mailbox on the peer, template texts, the
/// sequence, and a list of leads to enrol.
const DEMO_OUTREACH: [&str; 5] = [
    "INSERT INTO email_accounts (tenant_id, id, domain_id, from_address, from_name, smtp_host, smtp_port, smtp_security,
                                 daily_cap, warmup_start, warmup_step, min_gap_seconds)
     SELECT $1, gen_random_uuid(), id, 'sales@nile-realty.test', 'Nile Realty', $3, $4, 'NONE', 200, 50, 10, 2
       FROM email_domains WHERE tenant_id = $1 AND $2::uuid IS NOT NULL",
    "INSERT INTO template_versions (tenant_id, id, template_id, version_no, label, subject, body, created_by)
     SELECT $1, gen_random_uuid(), t.id, 1, 'A', v.subject, v.body, $2
       FROM templates t JOIN (VALUES
            ('Intro offer', NULL, '{Hi|Hello} {{first_name}}, this is Nile Realty. We have new units at {{company|our projects}} — shall I send you the brochure?'),
            ('Brochure', 'The brochure you asked for, {{first_name}}', 'Dear {{first_name}},

Here is the brochure with prices and payment plans: https://nile-realty.test/brochure

Reply to this email and I will book a viewing.

Nile Realty')
       ) AS v (name, subject, body) ON v.name = t.name
      WHERE t.tenant_id = $1 AND $3::text IS NOT NULL AND $4::int IS NOT NULL",
    "INSERT INTO sequences (tenant_id, id, name, business_hours, created_by)
     SELECT $1, gen_random_uuid(), 'New leads — WhatsApp, then email', '{}', $2 WHERE $3::text IS NOT NULL AND $4::int IS NOT NULL",
    "INSERT INTO sequence_steps (tenant_id, id, sequence_id, position, delay_minutes, channel, template_id, fallback_template_id)
     SELECT $1, gen_random_uuid(), s.id, x.position, x.delay, x.channel, t.id, f.id
       FROM sequences s, (VALUES (1, 0, 'WHATSAPP', 'Intro offer', 'Brochure'), (2, 1440, 'EMAIL', 'Brochure', NULL)) AS x (position, delay, channel, template, fallback)
       JOIN templates t ON t.tenant_id = $1 AND t.name = x.template
       LEFT JOIN templates f ON f.tenant_id = $1 AND f.name = x.fallback
      WHERE s.tenant_id = $1 AND $2::uuid IS NOT NULL AND $3::text IS NOT NULL AND $4::int IS NOT NULL",
    "WITH l AS (INSERT INTO lists (tenant_id, id, name, entity, kind, owner_id)
                VALUES ($1, gen_random_uuid(), 'Outreach pilot', 'LEAD', 'STATIC', $2) RETURNING id)
     INSERT INTO list_members (tenant_id, list_id, record_id)
     SELECT $1, l.id, d.id FROM l, leads d
      WHERE d.tenant_id = $1 AND d.status <> 'LOST' AND $3::text IS NOT NULL AND $4::int IS NOT NULL",
];
