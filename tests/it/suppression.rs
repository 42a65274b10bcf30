//! The suppression list screen's server side (issue 15): adding by hand and from CSV,
//! lifting with a reason, and that sending follows the list both ways — through the
//! scheduler and the outbox, to the WhatsApp peer.

use crate::common::*;
use crate::outreach::{ok, world, World};
use app::outreach::api::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn phone_of(w: &World, lead: Uuid) -> String {
    sqlx::query_scalar("SELECT phone_e164 FROM leads WHERE id = $1")
        .bind(lead)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap()
}

async fn list(
    w: &World,
    client: &reqwest::Client,
    query: &str,
    after: Value,
) -> (StatusCode, Value) {
    w.app
        .call_json::<ListSuppressions>(client, &json!({ "query": query, "after": after }))
        .await
}

/// The messages the peer received for `to`.
fn received(w: &World, to: &str) -> usize {
    w.peer.messages().iter().filter(|m| m.to == to).count()
}

#[tokio::test]
async fn a_suppressed_number_is_never_sent_and_a_lifted_one_is_sent_again() {
    let w = world().await;
    w.phone("P", "sup-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Suppression", "").await;
    w.step(seq, template, 0, None).await;
    let lead = w.leads(1, true, false).await[0];
    let number = phone_of(&w, lead).await;

    // Queued while the number was still allowed…
    assert_eq!(w.enrol(seq, &[lead]).await["enrolled"], 1);
    assert_eq!(w.schedule().await, 1);
    // …then an admin suppresses it, typed with spaces: it is stored in E.164.
    let spaced = format!("{} {} {}", &number[..3], &number[3..6], &number[6..]);
    let (status, body) = w
        .app
        .call::<AddSuppression>(
            &w.admin,
            &[("address", &spaced), ("note", "Asked by phone")],
        )
        .await;
    let id: Uuid = ok(status, &body).parse().unwrap();
    // The outbox refuses the queued message: nothing reaches the peer.
    assert_eq!(w.dispatch().await, 0);
    assert_eq!(received(&w, &number), 0);
    let status_of_message: String =
        sqlx::query_scalar("SELECT status FROM messages WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(status_of_message, "FAILED");
    // A new enrolment leaves it out, and so does the scheduler.
    let report = w.enrol(seq, &[lead]).await;
    assert_eq!(report["enrolled"], 0, "{report}");
    assert_eq!(w.schedule().await, 0);

    // The entry says why it is there and who added it.
    let (status, page) = list(&w, &w.admin, &number[4..], Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{page}");
    assert_eq!(rows[0]["address"], number);
    assert_eq!(rows[0]["channel"], "WhatsApp");
    assert_eq!(rows[0]["reason"], "MANUAL");
    assert_eq!(rows[0]["added_by"], "Ada");
    assert_eq!(rows[0]["note"], "Asked by phone");

    // Adding it again is refused next to the field.
    let (status, body) = w
        .app
        .call::<AddSuppression>(&w.admin, &[("address", &number)])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("address"));

    // Lifting needs a reason.
    for reason in ["", "  ", "ok"] {
        let (status, body) = w
            .app
            .call::<LiftSuppression>(&w.admin, &[("id", &id.to_string()), ("reason", reason)])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some("reason"));
    }
    let reason = "Customer called to opt back in";
    let (status, body) = w
        .app
        .call::<LiftSuppression>(&w.admin, &[("id", &id.to_string()), ("reason", reason)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Kept in the history and the audit log.
    let (kept_reason, kept_address, lifted_by): (String, String, Option<Uuid>) = sqlx::query_as(
        "SELECT l.lift_reason, l.address, l.lifted_by FROM suppression_lifts l WHERE l.suppression_id = $1",
    )
    .bind(id)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        (kept_reason.as_str(), kept_address.as_str()),
        (reason, number.as_str())
    );
    assert!(lifted_by.is_some());
    let audited: Value = sqlx::query_scalar(
        "SELECT after FROM audit_logs WHERE action = 'suppression.lifted' AND entity_id = $1",
    )
    .bind(id)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audited["lift_reason"], reason);
    // The history cannot be rewritten by the application's role.
    let rewrite = sqlx::query("UPDATE suppression_lifts SET lift_reason = 'forged'")
        .execute(&w.app.pools.app)
        .await;
    assert!(rewrite.is_err());
    // Lifting again: the entry is gone.
    let (status, _) = w
        .app
        .call::<LiftSuppression>(&w.admin, &[("id", &id.to_string()), ("reason", reason)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // And the number is written to again, through the scheduler and the outbox.
    assert_eq!(w.enrol(seq, &[lead]).await["enrolled"], 1);
    assert_eq!(w.schedule().await, 1);
    assert_eq!(w.dispatch().await, 1);
    assert_eq!(received(&w, &number), 1);
}

#[tokio::test]
async fn only_admins_of_the_workspace_reach_the_list() {
    let w = world().await;
    let (status, body) = w
        .app
        .call::<AddSuppression>(&w.admin, &[("address", "Someone@Example.com")])
        .await;
    let id = ok(status, &body);

    // A sales rep: 403 on every action.
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    assert_eq!(
        list(&w, &rep, "", Value::Null).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = w
        .app
        .call::<AddSuppression>(&rep, &[("address", "x@example.com")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w
        .app
        .call::<LiftSuppression>(&rep, &[("id", &id), ("reason", "because I can")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w
        .app
        .call_json::<ImportSuppressions>(&rep, &json!({ "text": "a@example.com" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another workspace's admin sees none of it and cannot lift it.
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let (status, page) = list(&other, &other.admin, "", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["rows"], json!([]));
    let (status, _) = other
        .app
        .call::<LiftSuppression>(
            &other.admin,
            &[("id", &id), ("reason", "not yours to lift")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Still there for its owner, lower-cased.
    let (_, page) = list(&w, &w.admin, "SOMEONE", Value::Null).await;
    assert_eq!(page["rows"][0]["address"], "someone@example.com");

    // Addresses that are neither are refused next to the field.
    for bad in ["", "not an address", "0100 123 4567", "+1 23", "ana@"] {
        let (status, body) = w
            .app
            .call::<AddSuppression>(&w.admin, &[("address", bad)])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(error_field(&body), Some("address"), "{bad}");
    }
}

#[tokio::test]
async fn a_csv_import_reports_added_already_there_and_invalid_lines() {
    let w = world().await;
    let (status, body) = w
        .app
        .call::<AddSuppression>(&w.admin, &[("address", "dup@example.com")])
        .await;
    ok(status, &body);
    let text = "name,Email,phone\n\
                Ana,ana@example.com,+201001234567\n\
                Bo,DUP@example.com,\n\
                Cy,not-an-email,\n\
                Di,ana@example.com,0100 123 4567\n\
                \n\
                Ed,,+44 7911 123456\n\
                Fa,fa@,\n";
    let (status, report) = w
        .app
        .call_json::<ImportSuppressions>(&w.admin, &json!({ "text": text }))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["added"], 3, "{report}");
    assert_eq!(report["already"], json!([3, 5]), "{report}");
    assert_eq!(report["invalid_count"], 3, "{report}");
    let invalid: Vec<(u64, String)> = report["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["line"].as_u64().unwrap(),
                i["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        invalid,
        vec![
            (4, "not-an-email".to_string()),
            (5, "0100 123 4567".to_string()),
            // Counted from the file's lines, the blank one included.
            (8, "fa@".to_string()),
        ]
    );
    let imported: Vec<(String, String)> = sqlx::query_as(
        "SELECT channel, address FROM suppressions WHERE reason = 'IMPORTED' ORDER BY address",
    )
    .fetch_all(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        imported,
        vec![
            ("WHATSAPP".to_string(), "+201001234567".to_string()),
            ("WHATSAPP".to_string(), "+447911123456".to_string()),
            ("EMAIL".to_string(), "ana@example.com".to_string()),
        ]
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'suppression.imported'")
            .await,
        1
    );

    // A plain list, one per line, with no header.
    let (status, report) = w
        .app
        .call_json::<ImportSuppressions>(
            &w.admin,
            &json!({ "text": "x1@example.com\r\nx2@example.com\r\n" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["added"], 2, "{report}");

    // Too large, or empty: a reason on the file field.
    let big = "a@example.com\n".repeat(80_000);
    let (status, body) = w
        .app
        .call_json::<ImportSuppressions>(&w.admin, &json!({ "text": big }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("file"));
    assert!(error_text(&body).contains("1 MB"), "{body}");
    let (status, body) = w
        .app
        .call_json::<ImportSuppressions>(&w.admin, &json!({ "text": "\n\n" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("file"));
}

#[tokio::test]
async fn the_list_pages_newest_first_without_gaps_or_repeats() {
    let w = world().await;
    sqlx::query(
        "INSERT INTO suppressions (tenant_id, id, channel, address, reason, created_at)
         SELECT $1, gen_random_uuid(), 'EMAIL', 'p' || n || '@example.com', 'BOUNCE', now() - n * interval '1 minute'
           FROM generate_series(1, 120) AS n",
    )
    .bind(w.tenant)
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let (status, page) = list(&w, &w.admin, "", after).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let rows = page["rows"].as_array().unwrap();
        assert!(rows.len() <= 50);
        seen.extend(
            rows.iter()
                .map(|r| r["address"].as_str().unwrap().to_string()),
        );
        if page["next"].is_null() {
            break;
        }
        after = page["next"].clone();
    }
    let expected: Vec<String> = (1..=120).map(|n| format!("p{n}@example.com")).collect();
    assert_eq!(seen, expected, "newest (p1) first, each once");
    // A search narrows it.
    let (_, page) = list(&w, &w.admin, "p11", Value::Null).await;
    let found: Vec<&str> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 11, "p11, p110…p119: {found:?}");
}

#[tokio::test]
async fn the_pages_render_on_the_server() {
    let w = world().await;
    let (status, body) = w
        .app
        .call::<AddSuppression>(&w.admin, &[("address", "rendered@example.com")])
        .await;
    ok(status, &body);
    let (status, html) = w.app.page(&w.admin, "/outreach/suppressions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Suppression list"), "{html}");
    assert!(html.contains("rendered@example.com"), "{html}");

    // A sequence's steps with their move and edit buttons.
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Rendered", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, template, 30, None).await;
    let (status, html) = w
        .app
        .page(&w.admin, &format!("/outreach/sequences/{seq}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Move down: step 1"), "{html}");
    assert!(html.contains("Edit step 2"), "{html}");
}
