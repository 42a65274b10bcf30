//! Review end to end: replies arrive through the provider peer, are classified in the
//! transaction that records them, act by their intent, and land in the queue that
//! managers work — against a real PostgreSQL.

use crate::outreach::{world, World};
use app::review::api::{ReviewAct, ReviewItem, ReviewQueue, ReviewReply};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// Ada's WhatsApp sequence of two steps an hour apart, with `n` leads sent the first.
pub(crate) async fn contacted(w: &World, n: usize) -> Vec<(Uuid, String)> {
    w.phone("P", "r-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Review", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, template, 60, None).await;
    let leads = w.leads(n, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, n);
    assert_eq!(w.dispatch().await, n);
    let sent = w.peer.messages();
    let mut out = Vec::new();
    for lead in leads {
        let phone: String = sqlx::query_scalar("SELECT phone_e164 FROM leads WHERE id = $1")
            .bind(lead)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
        let message = sent.iter().find(|m| m.to == phone).unwrap().id.clone();
        out.push((lead, message));
    }
    out
}

pub(crate) async fn reply(w: &World, message: &str, text: &str) {
    assert_eq!(w.peer.whatsapp_reply(message, text).await.unwrap(), 200);
}

async fn enrolment(w: &World, lead: Uuid) -> (String, f64) {
    sqlx::query_as(
        "SELECT status, extract(epoch FROM next_run_at - now())::float8 FROM enrollments WHERE lead_id = $1",
    )
    .bind(lead)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap()
}

async fn queue(w: &World, client: &reqwest::Client, filter: Value) -> Value {
    let (status, page) = w
        .app
        .call_json::<ReviewQueue>(client, &json!({ "filter": filter, "before": null }))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

fn default_filter() -> Value {
    json!({ "status": null, "reason": null, "priority": null, "channel": null, "mine": false, "breached": false })
}

#[tokio::test]
async fn each_reply_acts_by_its_intent_not_by_the_mere_fact_of_replying() {
    let w = world().await;
    let leads = contacted(&w, 4).await;
    // Out of office with a date: the sequence goes on, after the person is back.
    let back = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive();
    reply(
        &w,
        &leads[0].1,
        &format!("I am out of the office until {back}, limited access to email."),
    )
    .await;
    let (status, wait) = enrolment(&w, leads[0].0).await;
    assert_eq!(
        status, "ACTIVE",
        "an out-of-office does not stop the sequence"
    );
    assert!(
        wait > 9.0 * 86_400.0,
        "the next step waits for the return date: {wait} s"
    );
    assert_eq!(w.journey(leads[0].0).await, "CONTACTED_WA");
    // A complaint suppresses the number and is queued as urgent business.
    reply(
        &w,
        &leads[1].1,
        "This is spam. How did you get my number? I'm reporting you.",
    )
    .await;
    assert_eq!(enrolment(&w, leads[1].0).await.0, "STOPPED");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM suppressions WHERE reason = 'COMPLAINT'")
            .await,
        1
    );
    // Interested: the journey warms up and the sequence ends by its exit rule.
    reply(
        &w,
        &leads[2].1,
        "Yes I'm interested, send me the details 👍",
    )
    .await;
    assert_eq!(w.journey(leads[2].0).await, "WARM_REPLY");
    assert_eq!(enrolment(&w, leads[2].0).await.0, "STOPPED");
    // Not interested: the sequence stops, the journey waits for a human to confirm.
    reply(&w, &leads[3].1, "Not interested, thanks").await;
    assert_eq!(enrolment(&w, leads[3].0).await.0, "STOPPED");
    assert_eq!(w.journey(leads[3].0).await, "CONTACTED_WA");

    // Every inbound message carries its verdict and why.
    let rows: Vec<(String, i16, f32, Value)> = sqlx::query_as(
        "SELECT intent, sentiment, confidence, reasons FROM messages WHERE direction = 'IN' ORDER BY created_at",
    )
    .fetch_all(&w.app.pools.owner)
    .await
    .unwrap();
    let intents: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        intents,
        ["OUT_OF_OFFICE", "COMPLAINT", "INTERESTED", "NOT_INTERESTED"]
    );
    assert!(rows[1].1 < -50, "a complaint is negative: {}", rows[1].1);
    assert!(rows[2].1 > 30, "interest is positive: {}", rows[2].1);
    assert!(rows[2]
        .3
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.as_str().unwrap().contains("interested")));

    // The queue holds the complaint first (shorter SLA), then the refusal to confirm.
    let page = queue(&w, &w.admin, default_filter()).await;
    let reasons: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Complaint", "ConfirmIntent"], "{page}");
    assert_eq!(page["items"][0]["priority"], "High");

    // Confirming the refusal ends the journey; the item is resolved and audited.
    let refusal = page["items"][1]["id"].as_str().unwrap().to_string();
    let (status, detail) = w
        .app
        .call_json::<ReviewAct>(&w.admin, &json!({ "id": refusal, "action": "Confirm" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["item"]["status"], "Resolved");
    assert_eq!(w.journey(leads[3].0).await, "DEAD");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'review.confirmed'")
            .await,
        1
    );
    // A resolved item cannot be acted on again.
    let (status, body) = w
        .app
        .call_json::<ReviewAct>(&w.admin, &json!({ "id": refusal, "action": "Ignore" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn two_managers_claiming_at_once_get_one_winner_and_a_clear_message() {
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(&w, &leads[0].1, "Not interested").await;
    let manager = w
        .app
        .invite_and_join(&w.admin, "max@example.com", "MANAGER")
        .await;
    let id = queue(&w, &w.admin, default_filter()).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let claim = |client: reqwest::Client| {
        let app = w.app.clone();
        let id = id.clone();
        async move {
            app.call_json::<ReviewAct>(&client, &json!({ "id": id, "action": "Claim" }))
                .await
        }
    };
    let (a, b) = tokio::join!(claim(w.admin.clone()), claim(manager.clone()));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} / {}",
        a.1,
        b.1
    );
    let loser = if a.0 == StatusCode::CONFLICT {
        &a.1
    } else {
        &b.1
    };
    assert!(
        loser.to_string().contains("has already claimed this item"),
        "{loser}"
    );
    let (_, detail) = w.app.call::<ReviewItem>(&w.admin, &[("id", &id)]).await;
    assert_eq!(detail["item"]["status"], "Assigned");
}

#[tokio::test]
async fn a_breached_sla_escalates_and_tells_the_managers() {
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(&w, &leads[0].1, "no thanks").await;
    let due: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT sla_due_at FROM review_items")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    // Before its due time nothing happens; a minute after, it is breached.
    let sweep = |at| app::review::ssr::sla_sweep(&w.app.pools.app, at);
    assert_eq!(sweep(due - chrono::Duration::minutes(1)).await.unwrap(), 0);
    assert_eq!(sweep(due + chrono::Duration::minutes(1)).await.unwrap(), 1);
    assert_eq!(
        sweep(due + chrono::Duration::minutes(2)).await.unwrap(),
        0,
        "once"
    );
    let (status, breached, level, priority): (String, bool, i16, String) =
        sqlx::query_as("SELECT status, breached, level, priority FROM review_items")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!((status.as_str(), breached, level), ("ESCALATED", true, 1));
    assert_eq!(priority, "MEDIUM", "raised one step from LOW");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM notifications WHERE kind = 'SLA_BREACH'")
            .await,
        1,
        "the owner of the workspace is told"
    );
    let page = queue(&w, &w.admin, json!({ "status": null, "reason": null, "priority": null, "channel": null, "mine": false, "breached": true })).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_reply_from_the_queue_goes_out_on_the_leads_channel_and_resolves_the_item() {
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(&w, &leads[0].1, "ok").await;
    let page = queue(&w, &w.admin, default_filter()).await;
    assert_eq!(page["items"][0]["reason"], "AiUncertain", "{page}");
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    // Nothing to send is a field error, not a crash.
    let (status, body) = w
        .app
        .call::<ReviewReply>(&w.admin, &[("id", &id), ("body", "  ")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, detail) = w
        .app
        .call::<ReviewReply>(
            &w.admin,
            &[
                ("id", &id),
                ("body", "Thanks! Shall I send the floor plans?"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["item"]["status"], "Resolved");
    assert_eq!(detail["resolution"], "Replied");
    w.dispatch().await;
    let sent = w.peer.messages();
    assert!(
        sent.iter()
            .any(|m| m.body.contains("Shall I send the floor plans?")),
        "the reply went out through the outbox"
    );
}

#[tokio::test]
async fn the_queue_is_for_managers_and_only_their_tenants_items() {
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(&w, &leads[0].1, "Not interested").await;
    let id = queue(&w, &w.admin, default_filter()).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sales = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = w
        .app
        .call_json::<ReviewQueue>(
            &sales,
            &json!({ "filter": default_filter(), "before": null }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let page = queue(&other, &other.admin, default_filter()).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    for action in [
        json!("Claim"),
        json!("Ignore"),
        json!({ "Correct": "Interested" }),
    ] {
        let (status, _) = other
            .app
            .call_json::<ReviewAct>(&other.admin, &json!({ "id": id, "action": action }))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
    let (status, _) = other
        .app
        .call::<ReviewItem>(&other.admin, &[("id", "not-a-uuid")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_intent_is_corrected_applied_and_kept_for_accuracy() {
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(&w, &leads[0].1, "no thanks").await;
    let id = queue(&w, &w.admin, default_filter()).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, detail) = w
        .app
        .call_json::<ReviewAct>(
            &w.admin,
            &json!({ "id": id, "action": { "Correct": "Interested" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["corrected_intent"], "Interested");
    assert_eq!(w.journey(leads[0].0).await, "WARM_REPLY");
    let (original, corrected): (String, String) = sqlx::query_as(
        "SELECT m.intent, i.corrected_intent FROM review_items i JOIN messages m ON m.id = i.message_id",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        (original.as_str(), corrected.as_str()),
        ("NOT_INTERESTED", "INTERESTED")
    );
}

#[tokio::test]
async fn my_inbox_holds_the_replies_on_my_leads_and_answers_them_in_place() {
    use app::review::inbox::{AnswerReply, MyInbox};
    let w = world().await;
    let leads = contacted(&w, 2).await;
    // Ada owns the first lead; nobody owns the second.
    sqlx::query("UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = 'ada@example.com') WHERE id = $1")
        .bind(leads[0].0)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    reply(&w, &leads[0].1, "Can you send the floor plans?").await;
    reply(&w, &leads[1].1, "Who is this?").await;
    let (status, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let replies = inbox.as_array().unwrap();
    assert_eq!(replies.len(), 1, "{inbox}");
    assert_eq!(replies[0]["body"], "Can you send the floor plans?");
    assert_eq!(replies[0]["intent"], "QUESTION");
    let id = replies[0]["id"].as_str().unwrap().to_string();
    // A rep sees none of Ada's replies, and cannot answer them.
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let (_, theirs) = w.app.call::<MyInbox>(&rep, &[]).await;
    assert_eq!(theirs.as_array().unwrap().len(), 0);
    let (status, _) = w
        .app
        .call::<AnswerReply>(&rep, &[("message_id", &id), ("body", "hi")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Ada answers; it goes out through the outbox.
    let (status, body) = w
        .app
        .call::<AnswerReply>(&w.admin, &[("message_id", &id), ("body", "  ")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = w
        .app
        .call::<AnswerReply>(
            &w.admin,
            &[("message_id", &id), ("body", "Here they are: floor 12.")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    w.dispatch().await;
    assert!(w
        .peer
        .messages()
        .iter()
        .any(|m| m.body.contains("Here they are: floor 12.")));
    // Answered is read.
    let (_, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(inbox[0]["seen"], true, "{inbox}");
}

/// Everything a stream carries within `secs` seconds.
async fn heard(stream: &mut reqwest::Response, secs: u64) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut seen = String::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, stream.chunk()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn a_tabs_one_stream_tells_reviewers_of_the_queue_and_owners_of_their_replies_only() {
    let w = world().await;
    let leads = contacted(&w, 2).await;
    let sam = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let bea = w.app.signup("Bea", "bea@example.com", "Beta").await;
    for (lead, owner) in [
        (leads[0].0, "ada@example.com"),
        (leads[1].0, "sam@example.com"),
    ] {
        sqlx::query(
            "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = $2) WHERE id = $1",
        )
        .bind(lead)
        .bind(owner)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    }
    let mut ada_stream = w.app.get(&w.admin, "/events").await;
    assert_eq!(ada_stream.status(), StatusCode::OK);
    let mut sam_stream = w.app.get(&sam, "/events").await;
    let mut bea_stream = w.app.get(&bea, "/events").await;
    // The listener starts with the first stream; give it a moment to LISTEN.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // A refusal on Ada's lead: a queue item (to confirm) and a notice for Ada.
    reply(&w, &leads[0].1, "Not interested, thanks").await;
    let ada_heard = heard(&mut ada_stream, 2).await;
    assert!(ada_heard.contains("event: review"), "{ada_heard}");
    assert!(ada_heard.contains("event: notice"), "{ada_heard}");
    // Sam neither reviews nor owns that lead; Bea is another workspace.
    let sam_heard = heard(&mut sam_stream, 1).await;
    assert!(!sam_heard.contains("event:"), "{sam_heard}");
    let bea_heard = heard(&mut bea_stream, 1).await;
    assert!(!bea_heard.contains("event:"), "{bea_heard}");

    // A question on Sam's lead: Sam hears of it.
    reply(&w, &leads[1].1, "Can you send the floor plans?").await;
    let sam_heard = heard(&mut sam_stream, 2).await;
    assert!(sam_heard.contains("event: notice"), "{sam_heard}");
    assert!(!sam_heard.contains("event: review"), "{sam_heard}");

    // Signed out: no stream.
    let anon = w.app.client();
    let res = w.app.get(&anon, "/events").await;
    assert!(res.status().is_redirection() || res.status() == StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn my_inbox_lists_unread_replies_first_and_marks_them_read() {
    use app::review::inbox::{MarkReplyRead, MyInbox};
    let w = world().await;
    let leads = contacted(&w, 2).await;
    sqlx::query(
        "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = 'ada@example.com')",
    )
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    reply(&w, &leads[0].1, "Can you send the floor plans?").await;
    reply(&w, &leads[1].1, "What is the price per metre?").await;
    let bodies = |inbox: &Value| -> Vec<(String, bool)> {
        inbox
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["body"].as_str().unwrap().to_string(),
                    r["seen"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let (_, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(
        bodies(&inbox),
        [
            ("What is the price per metre?".to_string(), false),
            ("Can you send the floor plans?".to_string(), false)
        ]
    );
    let newest = inbox[0]["id"].as_str().unwrap().to_string();
    // Another member may not mark Ada's replies, nor learn they exist.
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = w
        .app
        .call::<MarkReplyRead>(&rep, &[("message_id", &newest)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = w
        .app
        .call::<MarkReplyRead>(&w.admin, &[("message_id", &newest)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Twice is fine.
    let (status, _) = w
        .app
        .call::<MarkReplyRead>(&w.admin, &[("message_id", &newest)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, inbox) = w.app.call::<MyInbox>(&w.admin, &[]).await;
    assert_eq!(
        bodies(&inbox),
        [
            ("Can you send the floor plans?".to_string(), false),
            ("What is the price per metre?".to_string(), true)
        ],
        "unread first"
    );
    let (status, _) = w
        .app
        .call::<MarkReplyRead>(&w.admin, &[("message_id", "not-an-id")])
        .await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn slas_count_business_hours_in_the_workspaces_time_zone() {
    let w = world().await;
    let due = |from: &'static str, minutes: i32, hours: Option<Value>, tz: &'static str| {
        let pool = w.app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT to_char(business_due($1::timestamptz, $2, $3, $4) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')",
            )
            .bind(from)
            .bind(minutes)
            .bind(hours)
            .bind(tz)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let weekdays = json!([
        [540, 1020],
        [540, 1020],
        [540, 1020],
        [540, 1020],
        [540, 1020],
        null,
        null
    ]);
    // No hours: the plain clock.
    assert_eq!(
        due("2026-12-04 14:00Z", 120, None, "Africa/Cairo").await,
        "2026-12-04 16:00"
    );
    // Friday 16:00 in Cairo (14:00Z) with two hours to go: one hour on Friday, the
    // other from Monday's opening, 09:00 + 1 h = 10:00 Cairo = 08:00Z.
    assert_eq!(
        due(
            "2026-12-04 14:00Z",
            120,
            Some(weekdays.clone()),
            "Africa/Cairo"
        )
        .await,
        "2026-12-07 08:00"
    );
    // Saturday night: starts at Monday's opening.
    assert_eq!(
        due(
            "2026-12-05 20:00Z",
            30,
            Some(weekdays.clone()),
            "Africa/Cairo"
        )
        .await,
        "2026-12-07 07:30"
    );
    // Across New York's switch to summer time (8 March 2026): Friday 16:30 EST + 1 h is
    // Monday 09:30 EDT, which is 13:30Z, not 14:30Z.
    assert_eq!(
        due("2026-03-06 21:30Z", 60, Some(weekdays), "America/New_York").await,
        "2026-03-09 13:30"
    );
}

#[tokio::test]
async fn managers_set_the_review_rules_and_new_items_follow_them() {
    use app::review::rules::{ReviewRules, SaveReviewRules};
    let w = world().await;
    let leads = contacted(&w, 2).await;
    let (status, view) = w.app.call_json::<ReviewRules>(&w.admin, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["form"]["sla_high_min"], "120");
    assert_eq!(view["form"]["hours_set"], false);
    let mut form = view["form"].clone();
    form["keywords"] = json!("lawyer\n  Lawyer \npenthouse");
    for priority in ["urgent", "high", "medium", "low"] {
        form[format!("sla_{priority}_min")] = json!("60");
    }
    form["hours_set"] = json!(true);
    // Open every day, all day: the business clock then equals the plain one.
    form["days"] = json!((0..7)
        .map(|_| json!({ "open": true, "opens": "00:00", "closes": "24:00" }))
        .collect::<Vec<_>>());
    let (status, body) = w
        .app
        .call_json::<SaveReviewRules>(&w.admin, &json!({ "form": form }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Bad input is refused next to its field.
    for (field, bad, expect) in [
        ("sla_high_min", json!("2"), "sla_high_min"),
        ("negative_below", json!("-101"), "negative_below"),
        ("high_value", json!("lots"), "high_value"),
    ] {
        let mut wrong = form.clone();
        wrong[field] = bad;
        let (status, body) = w
            .app
            .call_json::<SaveReviewRules>(&w.admin, &json!({ "form": wrong }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains(expect), "{body}");
    }
    let mut wrong = form.clone();
    wrong["days"][2] = json!({ "open": true, "opens": "18:00", "closes": "09:00" });
    let (status, body) = w
        .app
        .call_json::<SaveReviewRules>(&w.admin, &json!({ "form": wrong }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("day_2"), "{body}");
    // A sales rep may not change them.
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = w
        .app
        .call_json::<SaveReviewRules>(&rep, &json!({ "form": form }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, saved) = w.app.call_json::<ReviewRules>(&w.admin, &json!({})).await;
    assert_eq!(
        saved["form"]["keywords"], "lawyer\npenthouse",
        "trimmed, without repeats"
    );
    assert_eq!(saved["form"]["days"][0]["closes"], "24:00");

    // A keyword sends a reply to the queue, due by the saved SLA (60 minutes).
    reply(
        &w,
        &leads[0].1,
        "Do you still have a penthouse on the top floor?",
    )
    .await;
    let (reason, minutes): (String, f64) = sqlx::query_as(
        "SELECT reason, extract(epoch FROM sla_due_at - created_at)::float8 / 60 FROM review_items",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(reason, "KEYWORD");
    assert!((minutes - 60.0).abs() < 1.0, "{minutes}");
    let audited: i64 = w
        .scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'review_rules.updated'")
        .await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_outreach_dashboard_counts_the_queue_by_day_with_resolve_time_and_accuracy() {
    use app::outreach::api::GetOutreachDashboard;
    let w = world().await;
    let leads = contacted(&w, 3).await;
    for (lead, text) in leads.iter().zip([
        "Not interested, thanks",
        "Not interested at all",
        "No, not interested",
    ]) {
        reply(&w, &lead.1, text).await;
    }
    let page = queue(&w, &w.admin, default_filter()).await;
    let ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "{page}");
    // One item waited 30 minutes, one 90: the median of two is 60.
    for (id, minutes) in [(&ids[0], 30), (&ids[1], 90)] {
        sqlx::query("UPDATE review_items SET created_at = now() - make_interval(mins => $2) WHERE id = $1::uuid")
            .bind(id)
            .bind(minutes)
            .execute(&w.app.pools.owner)
            .await
            .unwrap();
    }
    let (status, _) = w
        .app
        .call_json::<ReviewAct>(&w.admin, &json!({ "id": ids[0], "action": "Confirm" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w
        .app
        .call_json::<ReviewAct>(
            &w.admin,
            &json!({ "id": ids[1], "action": { "Correct": "NotNow" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, dashboard) = w
        .app
        .call_json::<GetOutreachDashboard>(&w.admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    let days = dashboard["review"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    let today = days.last().unwrap();
    assert_eq!(today["items"], 3, "{today}");
    assert_eq!(today["breaches"], 0);
    assert_eq!(today["resolved"], 2);
    assert_eq!(
        (today["confirmed"].as_i64(), today["corrected"].as_i64()),
        (Some(1), Some(1))
    );
    let median = today["median_resolve_min"].as_f64().unwrap();
    assert!((median - 60.0).abs() < 1.0, "{median}");
    assert!(days[..13]
        .iter()
        .all(|d| d["items"] == 0 && d["median_resolve_min"].is_null()));
}

#[tokio::test]
async fn a_member_flags_any_message_of_a_lead_they_see_for_review() {
    use app::outreach::api::GetLeadOutreach;
    use app::review::api::FlagForReview;
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(
        &w,
        &leads[0].1,
        "Yes I'm interested, send me the details 👍",
    )
    .await;
    assert_eq!(w.scalar_i64("SELECT count(*) FROM review_items").await, 0);
    let message: Uuid =
        sqlx::query_scalar("SELECT id FROM messages WHERE lead_id = $1 AND direction = 'IN'")
            .bind(leads[0].0)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();

    // A rep sees only their own leads (and unassigned ones): Ada's is not theirs to flag.
    sqlx::query(
        "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = 'ada@example.com')",
    )
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let flag = |note: &str| json!({ "message_id": message, "note": note });
    let (status, _) = w.app.call_json::<FlagForReview>(&rep, &flag("")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = w
        .app
        .call_json::<FlagForReview>(&w.admin, &flag(&"x".repeat(501)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("note"), "{body}");

    let (status, body) = w
        .app
        .call_json::<FlagForReview>(&w.admin, &flag("Asks for a discount we cannot give"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (reason, priority, note, by): (String, String, String, Option<Uuid>) = sqlx::query_as(
        "SELECT reason, priority, note, created_by FROM review_items WHERE message_id = $1",
    )
    .bind(message)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!((reason.as_str(), priority.as_str()), ("MANUAL", "MEDIUM"));
    assert_eq!(note, "Asks for a discount we cannot give");
    assert!(by.is_some());
    let (status, body) = w.app.call_json::<FlagForReview>(&w.admin, &flag("")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("already in the review queue"));
    let (_, outreach) = w
        .app
        .call_json::<GetLeadOutreach>(&w.admin, &json!({ "lead_id": leads[0].0 }))
        .await;
    let flagged: Vec<bool> = outreach["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["in_review"].as_bool().unwrap())
        .collect();
    assert!(
        flagged.contains(&true) && flagged.contains(&false),
        "{flagged:?}"
    );

    // Another workspace's admin cannot reach the message at all.
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let (status, _) = w
        .app
        .call_json::<FlagForReview>(&other.admin, &flag(""))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'review_item.flagged'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_queue_filters_by_assignee_and_by_sequence() {
    use app::review::api::ReviewFilterOptions;
    let w = world().await;
    let leads = contacted(&w, 2).await;
    reply(&w, &leads[0].1, "Not interested").await;
    reply(&w, &leads[1].1, "Not interested, thanks").await;
    let all = queue(&w, &w.admin, default_filter()).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    let id = all["items"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = w
        .app
        .call_json::<ReviewAct>(&w.admin, &json!({ "id": id, "action": "Claim" }))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, options) = w
        .app
        .call_json::<ReviewFilterOptions>(&w.admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let ada = options["assignees"][0][0].clone();
    assert_eq!(options["assignees"][0][1], "Ada");
    assert_eq!(options["sequences"][0][1], "Review");
    let sequence = options["sequences"][0][0].clone();

    let mut by_assignee = default_filter();
    by_assignee["assignee"] = ada;
    let page = queue(&w, &w.admin, by_assignee).await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let mut by_sequence = default_filter();
    by_sequence["sequence"] = sequence;
    assert_eq!(
        queue(&w, &w.admin, by_sequence.clone()).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    by_sequence["sequence"] = json!(Uuid::new_v4());
    assert_eq!(
        queue(&w, &w.admin, by_sequence).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn outside_whatsapps_window_the_queue_answers_with_an_approved_template() {
    let w = world().await;
    let leads = contacted(&w, 1).await;
    reply(&w, &leads[0].1, "ok").await;
    let page = queue(&w, &w.admin, default_filter()).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    // The lead wrote two days ago: free text may no longer go out on WhatsApp.
    sqlx::query("UPDATE lead_journeys SET last_inbound_at = now() - interval '2 days'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let (status, detail) = w.app.call::<ReviewItem>(&w.admin, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let template = detail["templates"][0]["id"].as_str().unwrap().to_string();
    let text = detail["templates"][0]["text"].as_str().unwrap().to_string();
    let (status, body) = w
        .app
        .call::<ReviewReply>(&w.admin, &[("id", &id), ("body", "Still interested?")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, detail) = w
        .app
        .call::<ReviewReply>(
            &w.admin,
            &[("id", &id), ("body", &text), ("template_id", &template)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["resolution"], "Replied");
    let (name, body): (Option<String>, String) = sqlx::query_as(
        "SELECT wa_template_name, body FROM messages WHERE direction = 'OUT' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        name.as_deref(),
        Some("intro"),
        "sent as Meta's approved template"
    );
    assert_eq!(body, text);
}
