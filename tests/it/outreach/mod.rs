//! The outreach engine against real PostgreSQL, real HTTP and the local provider peer
//! (WhatsApp Cloud API over HTTP, SMTP over TCP): quotas under concurrency, sticky
//! numbers, business hours across DST, suppressions and opt-out words, webhook
//! signatures, a dispatcher killed mid-send, and the whole loop to a reply.

mod senders;
mod world;

use crate::common;

use app::outreach::api::*;
use app::outreach::ssr::dispatch::dispatch_once;
use app::outreach::ssr::provider::{Providers, SendError, WaMessage, WabaNumber, WhatsAppApi};
use app::outreach::ssr::scheduler::schedule_once;
use app::request::AppConfig;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;
use world::*;
pub(crate) use world::{ok, world, World};

fn skipped(report: &Value, reason: &str) -> u64 {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == reason)
        .map(|p| p[1].as_u64().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn quota_holds_exactly_under_eight_concurrent_schedulers() {
    let w = world().await;
    let phones = [
        w.phone("P1", "q-1", 7, 1).await,
        w.phone("P2", "q-2", 5, 1).await,
        w.phone("P3", "q-3", 3, 2).await,
    ];
    let template = w.wa_template("Intro", "{Hi|Hello} {{first_name}}").await;
    let seq = w.sequence("Quota", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(60, true, false).await;
    let report = w.enrol(seq, &leads).await;
    assert_eq!(report["enrolled"], 60, "{report}");

    // Eight schedulers at once, each with its own connections, in small batches so
    // they really interleave.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect_with((*w.app.pools.app.connect_options()).clone())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let pool: PgPool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut queued = 0;
            loop {
                let r = schedule_once(&pool, 3).await.unwrap();
                queued += r.queued;
                if r.claimed == 0 {
                    return queued;
                }
            }
        }));
    }
    let mut queued = 0;
    for t in tasks {
        queued += t.await.unwrap();
    }
    assert_eq!(queued, 15, "7 + 5 + 3 new contacts, not one more");
    for (phone, quota) in phones.iter().zip([7_i64, 5, 3]) {
        let used: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM messages WHERE phone_id = $1 AND quota_cost = 1",
        )
        .bind(phone)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
        assert_eq!(used, quota, "phone {phone}");
        let counted: i32 =
            sqlx::query_scalar("SELECT new_contacts FROM wa_quota_usage WHERE phone_id = $1")
                .bind(phone)
                .fetch_one(&w.app.pools.owner)
                .await
                .unwrap();
        assert_eq!(i64::from(counted), quota);
    }
    // The other 45 wait for tomorrow, in the tenant's time zone.
    let waiting = w
        .scalar_i64(
            "SELECT count(*) FROM enrollments WHERE status = 'ACTIVE' AND next_step = 1
               AND next_run_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'",
        )
        .await;
    assert_eq!(waiting, 45);

    // The tenant-wide 24-hour guard: lowered to 15, a fourth number adds nothing.
    sqlx::query("UPDATE tenant_policies SET wa_daily_unique_limit = 15")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.phone("P4", "q-4", 50, 1).await;
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 0, "the tenant's 24-hour limit holds");
}

#[tokio::test]
async fn leads_stick_to_their_number_and_move_when_it_is_banned() {
    let w = world().await;
    let first = w.phone("First", "s-1", 100, 1).await;
    let second = w.phone("Second", "s-2", 100, 2).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let follow = w.wa_template("Follow", "Any news, {{first_name}}?").await;
    let seq = w.sequence("Sticky", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, follow, 60, None).await;
    w.step(seq, follow, 60, None).await;
    let leads = w.leads(4, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 4);
    // Priority 1 first.
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM lead_journeys WHERE assigned_phone_id = '{first}'"
        ))
        .await,
        4
    );
    // Lowering the first number's priority does not move its leads: follow-ups stay.
    sqlx::query("UPDATE wa_phone_numbers SET priority = 50 WHERE id = $1")
        .bind(first)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 4);
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM messages WHERE phone_id = '{first}' AND quota_cost = 0"
        ))
        .await,
        4,
        "follow-ups are free and stay on the sticky number"
    );
    // Banned: the leads move to the second number, as new contacts there, audited.
    let (status, body) = w
        .app
        .call::<SavePhone>(
            &w.admin,
            &[
                ("id", &first.to_string()),
                ("number", "+201250001100"),
                ("label", "First"),
                ("provider_phone_id", "s-1"),
                ("priority", "50"),
                ("daily_quota", "100"),
                ("status", "BANNED"),
            ],
        )
        .await;
    ok(status, &body);
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 4);
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM lead_journeys WHERE assigned_phone_id = '{second}'"
        ))
        .await,
        4
    );
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM messages WHERE phone_id = '{second}' AND quota_cost = 1"
        ))
        .await,
        4
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'journey.phone_reassigned'")
            .await,
        4
    );
    // Every step rendered once per lead: the idempotency keys never repeat.
    assert_eq!(
        w.scalar_i64("SELECT count(DISTINCT idempotency_key) - count(*) FROM messages")
            .await,
        0
    );
}

async fn next_moment(
    pool: &PgPool,
    from: &str,
    tz: &str,
    hours: Value,
    holidays: &[&str],
) -> String {
    let holidays: Vec<chrono::NaiveDate> = holidays.iter().map(|d| d.parse().unwrap()).collect();
    sqlx::query_scalar(
        "SELECT to_char(next_business_moment($1::timestamptz, $2, $3, $4) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')",
    )
    .bind(from)
    .bind(tz)
    .bind(hours)
    .bind(holidays)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn business_hours_hold_across_daylight_saving_changes() {
    let w = world().await;
    let pool = &w.app.pools.owner;
    let weekdays = json!({
        "mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]], "wed": [["09:00", "17:00"]],
        "thu": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]],
    });
    // Bucharest springs forward on Sunday 29 March 2026 (UTC+2 → UTC+3): Friday
    // evening waits until Monday 09:00 local, which is 06:00 UTC, not 07:00.
    assert_eq!(
        next_moment(
            pool,
            "2026-03-27 16:00:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-03-30 06:00"
    );
    // ... and falls back on 25 October 2026: Monday 09:00 local is 07:00 UTC again.
    assert_eq!(
        next_moment(
            pool,
            "2026-10-23 16:00:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-10-26 07:00"
    );
    // Inside a window: now.
    assert_eq!(
        next_moment(
            pool,
            "2026-03-30 07:30:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-03-30 07:30"
    );
    // A holiday on Monday pushes to Tuesday; lunch breaks split a day.
    assert_eq!(
        next_moment(
            pool,
            "2026-03-27 16:00:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &["2026-03-30"]
        )
        .await,
        "2026-03-31 06:00"
    );
    let split = json!({ "mon": [["09:00", "12:00"], ["14:00", "18:00"]] });
    assert_eq!(
        next_moment(
            pool,
            "2026-03-30 10:30:00+00",
            "Europe/Bucharest",
            split,
            &[]
        )
        .await,
        "2026-03-30 11:00"
    );
    // Cairo and São Paulo, and "any time".
    assert_eq!(
        next_moment(
            pool,
            "2026-06-05 20:00:00+00",
            "America/Sao_Paulo",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-06-08 12:00"
    );
    assert_eq!(
        next_moment(
            pool,
            "2026-06-05 20:00:00+00",
            "Africa/Cairo",
            json!({}),
            &[]
        )
        .await,
        "2026-06-05 20:00"
    );

    // A sequence outside its hours queues nothing and waits for the window.
    let _phone = w.phone("P", "h-1", 10, 1).await;
    let template = w.wa_template("Intro", "Hi").await;
    let seq = w.sequence("Closed now", "").await;
    sqlx::query(
        "UPDATE sequences SET timezone = 'UTC', business_hours = jsonb_build_object(
            lower(to_char(now() AT TIME ZONE 'UTC' + interval '2 days', 'Dy')), jsonb_build_array(jsonb_build_array('10:00', '11:00')))",
    )
    .execute(pool)
    .await
    .unwrap();
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 0);
    let wait_hours = w
        .scalar_i64(
            "SELECT extract(epoch FROM next_run_at - now())::bigint / 3600 FROM enrollments",
        )
        .await;
    assert!(
        (24..=72).contains(&wait_hours),
        "waits {wait_hours} h for the window"
    );
}

#[tokio::test]
async fn suppressions_and_opt_out_words_stop_outreach() {
    let w = world().await;
    w.phone("P", "o-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Opt out", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, template, 60, None).await;
    let leads = w.leads(3, true, false).await;
    let phone_of = |i: usize| {
        let pool = w.app.pools.owner.clone();
        let id = leads[i];
        async move {
            sqlx::query_scalar::<_, String>("SELECT phone_e164 FROM leads WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // One is suppressed before enrolment; one has no number.
    sqlx::query("INSERT INTO suppressions (tenant_id, id, channel, address, reason) VALUES ($1, gen_random_uuid(), 'WHATSAPP', $2, 'MANUAL')")
        .bind(w.tenant)
        .bind(phone_of(0).await)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let no_phone = w.leads(1, false, false).await;
    let mut all = leads.clone();
    all.extend(&no_phone);
    all.push(Uuid::now_v7());
    let report = w.enrol(seq, &all).await;
    assert_eq!(report["enrolled"], 2, "{report}");
    assert_eq!(skipped(&report, "suppressed"), 1, "{report}");
    assert_eq!(skipped(&report, "no_channel"), 1, "{report}");
    assert_eq!(skipped(&report, "not_found"), 1, "{report}");
    assert_eq!(skipped(&w.enrol(seq, &leads[1..2]).await, "in_sequence"), 1);

    assert_eq!(w.schedule().await, 2);
    assert_eq!(w.dispatch().await, 2);
    // Lead 1 answers "STOP" in Arabic: suppressed, its sequence stops.
    let sent = w.peer.messages();
    let phone1 = phone_of(1).await;
    let to_lead1 = sent.iter().find(|m| m.to == phone1).unwrap();
    assert_eq!(
        w.peer.whatsapp_reply(&to_lead1.id, "توقف").await.unwrap(),
        200
    );
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM suppressions WHERE reason = 'OPT_OUT' AND address = '{}'",
            phone_of(1).await
        ))
        .await,
        1
    );
    let stop: String = sqlx::query_scalar("SELECT stop_reason FROM enrollments WHERE lead_id = $1")
        .bind(leads[1])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(stop, "opt_out");
    // An opt-out is not a warm reply: the journey stays where it was.
    assert_eq!(w.journey(leads[1]).await, "CONTACTED_WA");
    // Lead 2's plain reply does not opt out.
    let phone2 = phone_of(2).await;
    let to_lead2 = sent.iter().find(|m| m.to == phone2).unwrap();
    w.peer
        .whatsapp_reply(&to_lead2.id, "Sure, send me the brochure")
        .await
        .unwrap();
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM suppressions WHERE reason = 'OPT_OUT'")
            .await,
        1
    );
    // A suppressed lead cannot be enrolled again, nor written to by hand.
    let again = w.sequence("Again", "").await;
    w.step(again, template, 0, None).await;
    assert_eq!(skipped(&w.enrol(again, &leads[1..2]).await, "opted_out"), 1);
    let (status, body) = w
        .app
        .call::<SendMessage>(
            &w.admin,
            &[
                ("lead_id", &leads[1].to_string()),
                ("channel", "WHATSAPP"),
                ("body", "Hello?"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // And the message already queued for a suppressed address is refused at send time.
    sqlx::query(
        "WITH queued AS (
            INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, phone_id, to_address, body, idempotency_key)
            SELECT tenant_id, gen_random_uuid(), $1, 'WHATSAPP', 'OUT', 'QUEUED', phone_id, to_address, 'late', 'late-1'
              FROM messages WHERE lead_id = $1 AND direction = 'OUT' LIMIT 1
            RETURNING tenant_id, id)
         INSERT INTO outbox (tenant_id, message_id) SELECT tenant_id, id FROM queued",
    )
    .bind(leads[1])
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    w.dispatch().await;
    let late: String =
        sqlx::query_scalar("SELECT status FROM messages WHERE idempotency_key = 'late-1'")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(late, "FAILED");
}

fn meta_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        app::crypto::hex(&app::crypto::hmac_sha256(secret.as_bytes(), body))
    )
}

#[tokio::test]
async fn webhooks_are_verified_and_applied_once() {
    let w = world().await;
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/whatsapp", w.app.base);
    // The subscription handshake.
    let good = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1158201444",
            w.config.wa_verify_token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    assert_eq!(good.text().await.unwrap(), "1158201444");
    let bad = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);

    w.phone("P", "w-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Hooks", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, true, false).await;
    w.enrol(seq, &leads).await;
    w.schedule().await;
    w.dispatch().await;
    let wamid: String =
        sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE direction = 'OUT'")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    let lead_phone: String = sqlx::query_scalar("SELECT phone_e164 FROM leads WHERE id = $1")
        .bind(leads[0])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "x", "phone_number_id": "w-1" },
            "contacts": [{ "profile": { "name": "Mona 😀" }, "wa_id": lead_phone.trim_start_matches('+') }],
            "messages": [{ "from": lead_phone.trim_start_matches('+'), "id": "wamid.in.1", "timestamp": "1",
                           "type": "text", "text": { "body": "Yes please 👍🏽 أرسل التفاصيل" } }],
            "statuses": [{ "id": wamid, "status": "delivered", "timestamp": "1", "recipient_id": "x" }]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let post = |bytes: Vec<u8>, signature: Option<String>| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let mut req = client
                .post(url)
                .header("content-type", "application/json")
                .body(bytes);
            if let Some(s) = signature {
                req = req.header("x-hub-signature-256", s);
            }
            req.send().await.unwrap().status()
        }
    };
    let secret = w.config.wa_app_secret.clone();
    // Tampered byte, wrong secret, no signature: refused, nothing applied.
    let mut tampered = body.clone();
    let i = tampered.iter().position(|b| *b == b'Y').unwrap();
    tampered[i] = b'N';
    assert_eq!(
        post(tampered, Some(meta_signature(&secret, &body))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(body.clone(), Some(meta_signature("wrong", &body))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(body.clone(), None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE direction = 'IN'")
            .await,
        0
    );
    // Valid (emoji and Arabic in the body): applied. Replayed: nothing more.
    for _ in 0..2 {
        assert_eq!(
            post(body.clone(), Some(meta_signature(&secret, &body))).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE direction = 'IN'")
            .await,
        1
    );
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(wa_delivered), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(wa_replies), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    let text: String = sqlx::query_scalar("SELECT body FROM messages WHERE direction = 'IN'")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(text, "Yes please 👍🏽 أرسل التفاصيل");
    // Not JSON but correctly signed: a 400 with a reason.
    assert_eq!(
        post(b"nope".to_vec(), Some(meta_signature(&secret, b"nope"))).await,
        StatusCode::BAD_REQUEST
    );

    // Email events: Standard Webhooks signatures with a timestamp tolerance.
    w.mailbox().await;
    let tpl = w
        .email_template("Mail", "Hello {{first_name}}", "Hi {{first_name}}")
        .await;
    let mseq = w.sequence("Mail", "").await;
    w.step(mseq, tpl, 0, None).await;
    let mail_leads = w.leads(1, false, true).await;
    w.enrol(mseq, &mail_leads).await;
    w.schedule().await;
    w.dispatch().await;
    let message_id: String = sqlx::query_scalar(
        "SELECT m.id::text || '@acme.test' FROM messages m WHERE m.channel = 'EMAIL'",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    let event = json!({ "id": "evt_1", "type": "reply", "message_id": format!("<{message_id}>"),
                        "from": "x@example.com", "to": reply_to(&w.peer.messages()[1]),
                        "subject": "Re: Hello", "text": "Interested!" })
    .to_string();
    let send_event = |id: &str, ts: i64, secret: &str| {
        let signed = format!("{id}.{ts}.{event}");
        let sig = base64_sig(secret, signed.as_bytes());
        client
            .post(format!("{}/webhooks/email", w.app.base))
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", format!("v1,{sig}"))
            .body(event.clone())
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let email_secret = w.config.email_webhook_secret.clone();
    assert_eq!(
        send_event("evt_1", now - 3600, &email_secret)
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send_event("evt_1", now, "wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send_event("evt_2", now, &email_secret)
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    for _ in 0..2 {
        assert_eq!(
            send_event("evt_1", now, &email_secret)
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE direction = 'IN' AND channel = 'EMAIL'")
            .await,
        1,
        "a replayed event id changes nothing"
    );
    assert_eq!(w.journey(mail_leads[0]).await, "WARM_REPLY");
}

/// The address an email asks replies to go to.
fn reply_to(email: &peer::Received) -> String {
    email
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("reply-to"))
        .map(|(_, value)| value.clone())
        .expect("our emails carry a Reply-To")
}

#[tokio::test]
async fn email_replies_are_attributed_by_their_signed_reply_address_only() {
    let w = world().await;
    w.mailbox().await;
    let template = w.email_template("Mail", "Hello", "Hi {{first_name}}").await;
    let seq = w.sequence("Mail", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, false, true).await;
    w.enrol(seq, &leads).await;
    w.schedule().await;
    assert_eq!(w.dispatch().await, 1);
    let email = w.peer.messages().pop().unwrap();
    let tagged = reply_to(&email);
    assert!(tagged.starts_with("sales+r-"), "{tagged}");
    assert!(tagged.ends_with("@acme.test"), "{tagged}");

    let client = reqwest::Client::new();
    let secret = w.config.email_webhook_secret.clone();
    let post = |n: u32, to: String| {
        let event = json!({ "id": format!("evt_{n}"), "type": "reply",
                            "message_id": format!("<{}>", email.id), "from": email.to,
                            "to": to, "subject": "Re: Hello", "text": "Interested!" })
        .to_string();
        let ts = chrono::Utc::now().timestamp();
        let sig = base64_sig(&secret, format!("evt_{n}.{ts}.{event}").as_bytes());
        client
            .post(format!("{}/webhooks/email", w.app.base))
            .header("webhook-id", format!("evt_{n}"))
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", format!("v1,{sig}"))
            .body(event)
            .send()
    };
    let replies = "SELECT count(*) FROM messages WHERE direction = 'IN'";
    // Only the known Message-ID (sent to the plain mailbox), or a forged MAC: accepted
    // as events, attributed to nothing.
    let mut forged = tagged.clone();
    let last = forged.find('@').unwrap() - 1;
    let flipped = if &forged[last..=last] == "a" {
        "b"
    } else {
        "a"
    };
    forged.replace_range(last..=last, flipped);
    for (n, to) in [(1, "sales@acme.test".to_string()), (2, forged)] {
        assert_eq!(post(n, to).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(w.scalar_i64(replies).await, 0);
    assert_eq!(w.journey(leads[0]).await, "CONTACTED_EMAIL");
    // The peer replies as a mail client does, to Reply-To: attributed.
    assert_eq!(
        w.peer.email_event(&email.id, "reply", "Interested!").await,
        Ok(200)
    );
    assert_eq!(w.scalar_i64(replies).await, 1);
    assert_eq!(w.journey(leads[0]).await, "WARM_REPLY");
}

/// A Standard Webhooks MAC keyed the way the specification says: by the bytes the
/// `whsec_` secret encodes (nothing, for a secret that is not base64).
fn base64_sig(secret: &str, data: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap_or_default();
    b64.encode(app::crypto::hmac_sha256(&key, data))
}

/// A WhatsApp client that delivers to the peer and then never answers, like a worker
/// killed between the provider's accept and our record of it.
struct DiesAfterSend(Arc<dyn WhatsAppApi>);

#[async_trait::async_trait]
impl WhatsAppApi for DiesAfterSend {
    async fn send(&self, message: &WaMessage) -> Result<String, SendError> {
        let _ = self.0.send(message).await;
        std::future::pending().await
    }
    async fn waba_numbers(
        &self,
        waba_id: &str,
        access_token: &str,
    ) -> Result<Vec<WabaNumber>, SendError> {
        self.0.waba_numbers(waba_id, access_token).await
    }
}

#[tokio::test]
async fn a_dispatcher_killed_mid_send_loses_nothing_and_sends_nothing_twice() {
    let w = world().await;
    w.phone("P", "k-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Crash", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(12, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 12);

    let dying = Providers {
        whatsapp: Arc::new(DiesAfterSend(w.providers.whatsapp.clone())),
        dialog360: w.providers.dialog360.clone(),
        email: w.providers.email.clone(),
    };
    let pool = w.app.pools.app.clone();
    let config = w.config.clone();
    let worker = tokio::spawn(async move { dispatch_once(&pool, &dying, &config, 200).await });
    // Wait until the peer has every message, then kill the worker.
    for _ in 0..100 {
        if w.peer.messages().len() == 12 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.abort();
    let _ = worker.await;
    assert_eq!(w.peer.messages().len(), 12);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM outbox WHERE leased_until > now() AND attempts = 1")
            .await,
        12,
        "all twelve are leased to the dead dispatcher"
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE status = 'QUEUED'")
            .await,
        12
    );
    // Nothing is sent again while the lease holds.
    assert_eq!(w.dispatch().await, 0);
    // The lease runs out; a restarted dispatcher resends with the same keys.
    sqlx::query("UPDATE outbox SET leased_until = now() - interval '1 second'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.dispatch().await, 12);
    let received = w.peer.messages();
    assert_eq!(received.len(), 12, "the provider has each message once");
    assert!(
        received.iter().all(|m| m.times_received == 2),
        "each was offered twice, recognised once"
    );
    let matched = w
        .scalar_i64(
            "SELECT count(*) FROM messages WHERE status = 'SENT' AND provider_message_id IS NOT NULL",
        )
        .await;
    assert_eq!(matched, 12, "nothing lost");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM outbox").await,
        0,
        "the outbox is empty once every answer is recorded"
    );
    for m in &received {
        let ours: String = sqlx::query_scalar(
            "SELECT provider_message_id FROM messages WHERE idempotency_key = $1",
        )
        .bind(m.idempotency_key.as_deref().unwrap())
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
        assert_eq!(ours, m.id);
    }
}

/// A WhatsApp client whose sends from one number never get an answer (a provider that
/// hangs for that tenant), and pass through for every other number.
struct HangsFor(&'static str, Arc<dyn WhatsAppApi>);

#[async_trait::async_trait]
impl WhatsAppApi for HangsFor {
    async fn send(&self, message: &WaMessage) -> Result<String, SendError> {
        if message.provider_phone_id == self.0 {
            return std::future::pending().await;
        }
        self.1.send(message).await
    }
    async fn waba_numbers(
        &self,
        waba_id: &str,
        access_token: &str,
    ) -> Result<Vec<WabaNumber>, SendError> {
        self.1.waba_numbers(waba_id, access_token).await
    }
}

#[tokio::test]
async fn one_tenants_silent_provider_does_not_hold_up_another_tenant() {
    let acme = world().await;
    let beta = acme.other_tenant("bea@example.com", "Beta").await;
    for (w, number) in [(&acme, "fair-a"), (&beta, "fair-b")] {
        w.phone("P", number, 100, 1).await;
        let template = w.wa_template("Intro", "Hi {{first_name}}").await;
        let seq = w.sequence("Fair", "").await;
        w.step(seq, template, 0, None).await;
        let leads = w.leads(3, true, false).await;
        w.enrol(seq, &leads).await;
    }
    assert_eq!(acme.schedule().await, 6);
    let providers = Providers {
        whatsapp: Arc::new(HangsFor("fair-a", acme.providers.whatsapp.clone())),
        dialog360: acme.providers.dialog360.clone(),
        email: acme.providers.email.clone(),
    };
    let pool = acme.app.pools.app.clone();
    let config = acme.config.clone();
    let worker = tokio::spawn(async move { dispatch_once(&pool, &providers, &config, 200).await });
    let mut beta_sent = 0;
    for _ in 0..100 {
        beta_sent = acme
            .scalar_i64(&format!(
                "SELECT count(*) FROM messages WHERE tenant_id = '{}' AND status = 'SENT'",
                beta.tenant
            ))
            .await;
        if beta_sent == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        beta_sent, 3,
        "Beta's messages went out while Acme's provider hung"
    );
    worker.abort();
}

#[tokio::test]
async fn a_tenants_backlog_does_not_fill_the_claims_of_others() {
    let acme = world().await;
    let beta = acme.other_tenant("bea@example.com", "Beta").await;
    for (w, number, leads) in [(&acme, "share-a", 30), (&beta, "share-b", 3)] {
        w.phone("P", number, 100, 1).await;
        let template = w.wa_template("Intro", "Hi {{first_name}}").await;
        let seq = w.sequence("Share", "").await;
        w.step(seq, template, 0, None).await;
        let leads = w.leads(leads, true, false).await;
        w.enrol(seq, &leads).await;
    }
    assert_eq!(acme.schedule().await, 33);
    // Acme's backlog is an hour older than Beta's three messages.
    sqlx::query("UPDATE outbox SET due_at = now() - interval '1 hour' WHERE tenant_id = $1")
        .bind(acme.tenant)
        .execute(&acme.app.pools.owner)
        .await
        .unwrap();
    let claimed: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT tenant_id, count(*) FROM claim_outbox(10) GROUP BY tenant_id ORDER BY count(*)",
    )
    .fetch_all(&acme.app.pools.app)
    .await
    .unwrap();
    assert_eq!(claimed, vec![(beta.tenant, 3), (acme.tenant, 5)]);
    // Beta has nothing left to claim: the next claim is Acme's alone.
    let next: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT tenant_id, count(*) FROM claim_outbox(10) GROUP BY tenant_id")
            .fetch_all(&acme.app.pools.app)
            .await
            .unwrap();
    assert_eq!(next, vec![(acme.tenant, 10)]);
}

#[tokio::test]
async fn a_slow_pass_renews_its_leases_so_no_other_dispatcher_sends_its_rows() {
    let w = world().await;
    w.phone("P", "slow-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Slow", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(4, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 4);
    // Every send is accepted by the peer and then never answers: a pass that outlasts
    // its lease.
    let stuck = Providers {
        whatsapp: Arc::new(DiesAfterSend(w.providers.whatsapp.clone())),
        dialog360: w.providers.dialog360.clone(),
        email: w.providers.email.clone(),
    };
    let pool = w.app.pools.app.clone();
    let config = w.config.clone();
    let worker = tokio::spawn(async move { dispatch_once(&pool, &stuck, &config, 200).await });
    for _ in 0..100 {
        if w.peer.messages().len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(w.peer.messages().len(), 4);
    // The leases are about to run out...
    sqlx::query("UPDATE outbox SET leased_until = now() + interval '3 seconds'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    tokio::time::sleep(
        app::outreach::ssr::dispatch::LEASE_RENEW_EVERY + std::time::Duration::from_secs(2),
    )
    .await;
    // ...and the pass still running has renewed them: a second dispatcher finds nothing.
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM outbox WHERE leased_until > now() + interval '1 minute'"
        )
        .await,
        4
    );
    assert_eq!(w.dispatch().await, 0);
    assert!(
        w.peer.messages().iter().all(|m| m.times_received == 1),
        "sent once"
    );
    worker.abort();
}

#[tokio::test]
async fn transient_failures_retry_and_permanent_ones_tell_the_owner() {
    let w = world().await;
    w.phone("P", "f-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Failures", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, template, 60, None).await;
    let leads = w.leads(2, true, false).await;
    w.enrol(seq, &leads[..1]).await;
    w.schedule().await;
    w.peer.fail_next(1, peer::Failure::Transient);
    assert_eq!(w.dispatch().await, 0);
    let (status, attempts): (String, i32) = sqlx::query_as("SELECT status, attempts FROM messages")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("QUEUED", 1));
    sqlx::query("UPDATE outbox SET due_at = now()")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.dispatch().await, 1);

    w.enrol(seq, &leads[1..]).await;
    w.schedule().await;
    w.peer.fail_next(1, peer::Failure::Permanent);
    w.dispatch().await;
    let failed: (String, String) =
        sqlx::query_as("SELECT status, last_error FROM messages WHERE lead_id = $1")
            .bind(leads[1])
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(failed.0, "FAILED");
    assert!(failed.1.contains("131026"), "{}", failed.1);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM notifications WHERE kind = 'SEND_FAILED'")
            .await,
        1,
        "the member who enrolled the lead is told"
    );
    let stop: String = sqlx::query_scalar("SELECT stop_reason FROM enrollments WHERE lead_id = $1")
        .bind(leads[1])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(stop, "send_failed");
}

#[tokio::test]
async fn a_two_step_sequence_runs_from_whatsapp_to_email_to_a_reply() {
    let w = world().await;
    w.phone("P", "e-1", 100, 1).await;
    w.mailbox().await;
    let wa = w
        .wa_template(
            "Intro",
            "{Hi|Hello} {{first_name}}, new units at {{company|our project}}",
        )
        .await;
    let mail = w
        .email_template(
            "Brochure",
            "Brochure for {{first_name}}",
            "Dear {{first_name}},\n\nSee https://example.com/brochure\n\nThanks",
        )
        .await;
    let fallback = w
        .email_template("Fallback", "About our units", "Hello {{first_name}}")
        .await;
    let seq = w.sequence("Two step", "").await;
    w.step(seq, wa, 0, Some(fallback)).await;
    w.step(seq, mail, 60, None).await;
    let both = w.leads(2, true, true).await;
    let email_only = w.leads(1, false, true).await;
    let mut leads = both.clone();
    leads.extend(&email_only);
    assert_eq!(w.enrol(seq, &leads).await["enrolled"], 3);

    // Step 1: WhatsApp for those with a number, the email fallback for the other.
    assert_eq!(w.schedule().await, 3);
    assert_eq!(w.dispatch().await, 3);
    let sent = w.peer.messages();
    assert_eq!(
        sent.iter()
            .filter(|m| m.channel == peer::Channel::WhatsApp)
            .count(),
        2
    );
    let wa_msg = sent
        .iter()
        .find(|m| m.channel == peer::Channel::WhatsApp)
        .unwrap();
    assert!(
        wa_msg.body.starts_with("template:intro:en"),
        "{}",
        wa_msg.body
    );
    let fallback_mail = sent
        .iter()
        .find(|m| m.channel == peer::Channel::Email)
        .unwrap();
    assert_eq!(fallback_mail.subject.as_deref(), Some("About our units"));
    assert_eq!(w.journey(both[0]).await, "CONTACTED_WA");
    assert_eq!(w.journey(email_only[0]).await, "CONTACTED_EMAIL");

    // Delivered and read come back through signed webhooks.
    assert_eq!(
        w.peer
            .whatsapp_status(&wa_msg.id, "delivered")
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        w.peer.whatsapp_status(&wa_msg.id, "read").await.unwrap(),
        200
    );
    assert_eq!(
        w.peer
            .whatsapp_status(&wa_msg.id, "delivered")
            .await
            .unwrap(),
        200
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM messages WHERE provider_message_id = $1")
            .bind(&wa_msg.id)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(status, "READ", "a late 'delivered' does not move it back");

    // Step 2 (an hour later): email, DKIM-signed, with one-click unsubscribe.
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 3);
    assert_eq!(w.dispatch().await, 3);
    let emails: Vec<_> = w
        .peer
        .messages()
        .into_iter()
        .filter(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.starts_with("Brochure for"))
        })
        .collect();
    assert_eq!(emails.len(), 3);
    let header = |m: &peer::Received, name: &str| {
        m.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let first = &emails[0];
    assert!(header(first, "DKIM-Signature")
        .unwrap()
        .contains("d=acme.test"));
    assert!(header(first, "List-Unsubscribe").unwrap().contains("/u/"));
    assert_eq!(
        header(first, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // The fallback lead's second email threads under its first.
    let threaded = emails
        .iter()
        .find(|m| m.to.starts_with("lead0-") && header(m, "In-Reply-To").is_some());
    assert!(threaded.is_some() || emails.iter().any(|m| header(m, "In-Reply-To").is_some()));

    // Open and click through our tracking links; the click goes where the email said.
    assert_eq!(w.peer.email_open(&first.id).await.unwrap(), 200);
    assert_eq!(w.peer.email_click(&first.id).await.unwrap(), 303);
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(email_opens), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(email_clicks), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    // A forged click target is refused (no open redirect): the MAC covers the target,
    // and only web addresses are followed even when the email contained another.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let key = &w.config.secret_key;
    let first_id = app::outreach::ssr::inbound::message_id_of(&first.id).unwrap();
    let real = app::outreach::ssr::links::click_token(key, first_id, "https://acme.example/offer");
    for (token, target) in [
        (real.clone(), "https://evil.test"),
        (
            app::outreach::ssr::links::click_token(key, first_id, "javascript:alert(1)"),
            "javascript:alert(1)",
        ),
        (
            app::outreach::ssr::links::token(key, "click", first_id),
            "https://acme.example/offer",
        ),
    ] {
        let forged = no_redirects
            .get(format!("{}/t/c/{token}", w.app.base))
            .query(&[("u", target)])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::NOT_FOUND, "{target}");
    }

    // A reply to the email warms the lead and ends its sequence.
    assert_eq!(
        w.peer
            .email_event(&first.id, "reply", "Call me tomorrow")
            .await
            .unwrap(),
        200
    );
    let replied_lead: Uuid =
        sqlx::query_scalar("SELECT lead_id FROM messages WHERE direction = 'IN'")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(w.journey(replied_lead).await, "WARM_REPLY");
    // Unsubscribe (RFC 8058 one-click POST) and a bounce both suppress.
    let unsubscribe = header(&emails[1], "List-Unsubscribe").unwrap();
    let url = unsubscribe.trim_matches(|c| c == '<' || c == '>');
    let res = reqwest::Client::new()
        .post(url)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        w.peer
            .email_event(&emails[2].id, "bounce", "550 no such user")
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM suppressions WHERE channel = 'EMAIL' AND reason IN ('UNSUBSCRIBE', 'BOUNCE')").await,
        2
    );

    // The lead's page shows the journey and every message; the dashboard counts.
    let (status, outreach) = w
        .app
        .call_json::<GetLeadOutreach>(&w.admin, &json!({ "lead_id": replied_lead }))
        .await;
    assert_eq!(status, StatusCode::OK, "{outreach}");
    assert_eq!(outreach["state"], "WARM_REPLY");
    assert!(
        outreach["messages"].as_array().unwrap().len() >= 3,
        "{outreach}"
    );
    assert!(outreach["manual_moves"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "NEGOTIATION"));
    let journey_entries = w
        .scalar_i64(&format!(
            "SELECT count(*) FROM activities WHERE kind = 'JOURNEY' AND lead_id = '{replied_lead}'"
        ))
        .await;
    assert!(journey_entries >= 2, "first send and reply on the timeline");
    let (status, dash) = w
        .app
        .call_json::<GetOutreachDashboard>(&w.admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(dash["funnel"]["contacted"], 3);
    assert_eq!(dash["funnel"]["replied"], 1);

    // By hand: negotiation, then converted; converted is final.
    let (status, body) = w
        .app
        .call::<MoveJourney>(
            &w.admin,
            &[
                ("lead_id", &replied_lead.to_string()),
                ("state", "CONVERTED"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = w
        .app
        .call::<MoveJourney>(
            &w.admin,
            &[("lead_id", &replied_lead.to_string()), ("state", "COLD")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("state"));
}

#[tokio::test]
async fn templates_report_mistakes_with_their_position() {
    let w = world().await;
    let cases = [
        ("Hi {there", "body", "4"),
        ("Hi {{first_name}", "body", "4"),
        ("Hi {{nickname}}", "body", "nickname"),
        ("Hi there}", "body", "9"),
    ];
    for (body, field, needle) in cases {
        let (status, b) = w
            .app
            .call::<SaveTemplate>(
                &w.admin,
                &[
                    ("name", "Broken"),
                    ("channel", "WHATSAPP"),
                    ("approval_status", "DRAFT"),
                    ("body", body),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(error_field(&b), Some(field), "{b}");
        assert!(b.to_string().contains(needle), "{body}: {b}");
    }
    let (status, b) = w
        .app
        .call::<SaveTemplate>(
            &w.admin,
            &[("name", "Mail"), ("channel", "EMAIL"), ("body", "Hi")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&b), Some("subject"));
    // An approved WhatsApp template needs the name Meta approved.
    let (status, b) = w
        .app
        .call::<SaveTemplate>(
            &w.admin,
            &[
                ("name", "WA"),
                ("channel", "WHATSAPP"),
                ("approval_status", "APPROVED"),
                ("body", "Hi"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&b), Some("wa_template_name"));

    // A required variable a lead lacks keeps that lead out of the sequence.
    w.phone("P", "t-1", 100, 1).await;
    let template = w
        .wa_template("Needs company", "Hi {{first_name}} from {{company}}")
        .await;
    let seq = w.sequence("Needs", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(2, true, false).await;
    let report = w.enrol(seq, &leads).await;
    assert_eq!(skipped(&report, "missing_variable"), 2, "{report}");
    // The report names the template, the variable and its position, and the leads.
    let problems = report["template_problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0]["template"], "Needs company");
    assert_eq!(problems[0]["leads"], 2);
    assert_eq!(problems[0]["examples"].as_array().unwrap().len(), 2);
    let problem = problems[0]["problem"].as_str().unwrap();
    assert!(
        problem.contains("Character 24") && problem.contains("company"),
        "{problem}"
    );

    // A/B variants: a second version splits the sends and keeps its own stats.
    let (status, b) = w
        .app
        .call::<SaveVersion>(
            &w.admin,
            &[
                ("template_id", &template.to_string()),
                ("label", "B"),
                ("body", "Hello {{first_name}}"),
                ("weight", "50"),
                ("active", "on"),
            ],
        )
        .await;
    ok(status, &b);
    let (status, detail) = w
        .app
        .call_json::<GetTemplate>(&w.admin, &json!({ "id": template }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_tenant_sees_and_reaches_nothing() {
    let w = world().await;
    let phone = w.phone("P", "x-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi").await;
    let seq = w.sequence("Ours", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, true, false).await;
    w.enrol(seq, &leads).await;

    let other = w.app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, _) = w
        .app
        .call_json::<GetTemplate>(&other, &json!({ "id": template }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w
        .app
        .call_json::<GetSequence>(&other, &json!({ "id": seq }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w
        .app
        .call_json::<GetLeadOutreach>(&other, &json!({ "lead_id": leads[0] }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, senders) = w.app.call_json::<GetSenders>(&other, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(senders["phones"].as_array().unwrap().is_empty());
    // Enrolling our lead into their sequence, or our lead into our sequence from
    // their account, finds nothing.
    let (status, body) = w
        .app
        .call_json::<Enrol>(
            &other,
            &json!({ "sequence_id": seq, "list_id": null, "lead_ids": leads }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Their phone form cannot take our number's provider id.
    let (status, body) = w
        .app
        .call::<SavePhone>(
            &other,
            &[
                ("number", "+201234567890"),
                ("label", "Mine"),
                ("provider_phone_id", "x-1"),
                ("waba_id", WABA),
                ("access_token", "t"),
                ("priority", "1"),
                ("daily_quota", "10"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("provider_phone_id"));
    // A SALES member may not change senders.
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    let (status, _) = w
        .app
        .call::<SavePhone>(
            &rep,
            &[
                ("id", &phone.to_string()),
                ("number", "+201234567891"),
                ("label", "Mine"),
                ("provider_phone_id", "x-9"),
                ("priority", "1"),
                ("daily_quota", "10"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
/// Sequence pages and enrolment controls keep to the viewer's scope: a SALES member
/// sees only their own leads named, a manager pauses only their team's enrolments.
#[tokio::test]
async fn enrolments_out_of_scope_are_neither_named_nor_paused() {
    let w = world().await;
    w.phone("P", "x-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi").await;
    let seq = w.sequence("Ours", "").await;
    w.step(seq, template, 0, None).await;
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    let manager = w
        .app
        .invite_and_join(&w.admin, "mo@example.com", "MANAGER")
        .await;
    let leads = w.leads(2, true, false).await;
    // The first lead is the rep's, the second Ada's.
    for (lead, email) in [(leads[0], "rep@example.com"), (leads[1], "ada@example.com")] {
        sqlx::query(
            "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = $2) WHERE id = $1",
        )
        .bind(lead)
        .bind(email)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    }
    let report = w.enrol(seq, &leads).await;
    assert_eq!(report["enrolled"], 2, "{report}");

    let (status, detail) = w
        .app
        .call_json::<GetSequence>(&rep, &json!({ "id": seq }))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let named: Vec<&Value> = detail["enrollments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["lead_id"])
        .collect();
    assert_eq!(named, [&json!(leads[0])], "{detail}");
    assert_eq!(detail["summary"]["enrolled"], 2, "{detail}");

    let enrolment = |lead: Uuid| {
        let pool = w.app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM enrollments WHERE lead_id = $1")
                .bind(lead)
                .fetch_one(&pool)
                .await
                .unwrap()
                .to_string()
        }
    };
    let reps = enrolment(leads[0]).await;
    let pause = |client: &reqwest::Client, id: &str| {
        let (app, client, id) = (&w.app, client.clone(), id.to_string());
        async move {
            app.call::<SetEnrollmentStatus>(&client, &[("id", &id), ("status", "PAUSED")])
                .await
        }
    };
    // Mo manages nobody yet: the rep's enrolment is out of his scope.
    let (status, body) = pause(&manager, &reps).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    sqlx::query(
        "UPDATE memberships SET manager_id = (SELECT id FROM users WHERE email = 'mo@example.com')
          WHERE user_id = (SELECT id FROM users WHERE email = 'rep@example.com')",
    )
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    let (status, body) = pause(&manager, &reps).await;
    assert_eq!(status, StatusCode::OK, "the rep now reports to Mo: {body}");
    let (status, body) = pause(&manager, &enrolment(leads[1]).await).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "Ada's lead is not Mo's: {body}"
    );
    let paused = w
        .scalar_i64("SELECT count(*) FROM enrollments WHERE status = 'PAUSED'")
        .await;
    assert_eq!(paused, 1);
}
