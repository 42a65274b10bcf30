//! Review end to end: replies arrive through the provider peer, are classified in the
//! transaction that records them, act by their intent, and land in the queue that
//! managers work — against a real PostgreSQL.

use crate::outreach::{world, World};
use app::review::api::{ReviewAct, ReviewItem, ReviewQueue, ReviewReply};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

mod inbox;
mod llm;
mod rules;
mod triage;

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

pub(super) async fn enrolment(w: &World, lead: Uuid) -> (String, f64) {
    sqlx::query_as(
        "SELECT status, extract(epoch FROM next_run_at - now())::float8 FROM enrollments WHERE lead_id = $1",
    )
    .bind(lead)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap()
}

pub(super) async fn queue(w: &World, client: &reqwest::Client, filter: Value) -> Value {
    let (status, page) = w
        .app
        .call_json::<ReviewQueue>(client, &json!({ "filter": filter, "before": null }))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

pub(super) fn default_filter() -> Value {
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
