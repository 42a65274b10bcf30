//! Editing and reordering a sequence's steps (issue 15) against enrolments in flight:
//! an enrolment's place is its position, so it next sends what is now at that position,
//! never a step it already received (DECISIONS §47).

use crate::common::*;
use crate::outreach::{world, World};
use app::outreach::api::*;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// The sequence's steps in order: (id, position, delay).
async fn steps_of(w: &World, seq: Uuid) -> Vec<(Uuid, i32, i32)> {
    sqlx::query_as(
        "SELECT id, position, delay_minutes FROM sequence_steps WHERE sequence_id = $1 ORDER BY position",
    )
    .bind(seq)
    .fetch_all(&w.app.pools.owner)
    .await
    .unwrap()
}

/// The lead's enrolment: (next_step, next_run_at, status).
async fn place(w: &World, lead: Uuid) -> (i32, DateTime<Utc>, String) {
    sqlx::query_as(
        "SELECT next_step, next_run_at, status FROM enrollments WHERE lead_id = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(lead)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap()
}

/// What the lead was sent, in order.
async fn bodies(w: &World, lead: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT body FROM messages WHERE lead_id = $1 AND direction = 'OUT' ORDER BY created_at, id",
    )
    .bind(lead)
    .fetch_all(&w.app.pools.owner)
    .await
    .unwrap()
}

/// Runs the lead's enrolment to its end, one step at a time.
async fn run_out(w: &World) {
    for _ in 0..6 {
        w.fast_forward().await;
        w.schedule().await;
    }
}

async fn edit(
    w: &World,
    client: &reqwest::Client,
    step: Uuid,
    delay: &str,
    template: &str,
    fallback: &str,
) -> (StatusCode, Value) {
    w.app
        .call::<UpdateStep>(
            client,
            &[
                ("step_id", &step.to_string()),
                ("delay_minutes", delay),
                ("template_id", template),
                ("fallback_template_id", fallback),
                ("skip_if_replied", "on"),
            ],
        )
        .await
}

async fn reorder(
    w: &World,
    client: &reqwest::Client,
    seq: Uuid,
    order: &[Uuid],
) -> (StatusCode, Value) {
    w.app
        .call_json::<ReorderSteps>(client, &json!({ "sequence_id": seq, "step_ids": order }))
        .await
}

#[tokio::test]
async fn a_step_edit_is_checked_like_a_new_step_and_reaches_the_enrolments_waiting_for_it() {
    let w = world().await;
    w.phone("P", "edit-1", 100, 1).await;
    let alpha = w.wa_template("Alpha", "Alpha {{first_name}}").await;
    let bravo = w.wa_template("Bravo", "Bravo {{first_name}}").await;
    let charlie = w.wa_template("Charlie", "Charlie {{first_name}}").await;
    let seq = w.sequence("Edits", "").await;
    w.step(seq, alpha, 0, None).await;
    w.step(seq, bravo, 60, None).await;
    let lead = w.leads(1, true, false).await[0];
    assert_eq!(w.enrol(seq, &[lead]).await["enrolled"], 1);
    assert_eq!(w.schedule().await, 1);
    let (position, waiting_until, _) = place(&w, lead).await;
    assert_eq!(position, 2);
    let second = steps_of(&w, seq).await[1].0;

    // The checks of adding a step, each next to its field.
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let theirs = other.wa_template("Theirs", "Hi").await;
    for (delay, template, fallback, field) in [
        ("soon", charlie.to_string(), String::new(), "delay_minutes"),
        ("-1", charlie.to_string(), String::new(), "delay_minutes"),
        (
            "600000",
            charlie.to_string(),
            String::new(),
            "delay_minutes",
        ),
        ("30", theirs.to_string(), String::new(), "template_id"),
        (
            "30",
            Uuid::now_v7().to_string(),
            String::new(),
            "template_id",
        ),
        ("30", "nope".to_string(), String::new(), "template_id"),
        (
            "30",
            charlie.to_string(),
            alpha.to_string(),
            "fallback_template_id",
        ),
    ] {
        let (status, body) = edit(&w, &w.admin, second, delay, &template, &fallback).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{delay} {template}: {body}"
        );
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    // Another workspace's admin: 404; a sales rep: 403.
    let (status, _) = edit(&other, &other.admin, second, "30", &theirs.to_string(), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    let (status, _) = edit(&w, &rep, second, "30", &charlie.to_string(), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(steps_of(&w, seq).await[1].2, 60, "nothing changed");

    // Step 2 becomes Charlie, three hours after step 1 instead of one.
    let (status, body) = edit(&w, &w.admin, second, "180", &charlie.to_string(), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (position, moved_to, _) = place(&w, lead).await;
    assert_eq!(position, 2);
    assert_eq!((moved_to - waiting_until).num_minutes(), 120);
    let audited: (Value, Value) = sqlx::query_as(
        "SELECT before, after FROM audit_logs WHERE action = 'sequence.step_updated' AND entity_id = $1",
    )
    .bind(second)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audited.0["delay_minutes"], 60);
    assert_eq!(audited.1["delay_minutes"], 180);
    assert_eq!(audited.1["template_id"], charlie.to_string());

    run_out(&w).await;
    assert_eq!(
        bodies(&w, lead).await,
        vec!["Alpha Mona".to_string(), "Charlie Mona".to_string()]
    );
    assert_eq!(place(&w, lead).await.2, "COMPLETED");
}

#[tokio::test]
async fn a_reorder_must_be_a_permutation_and_enrolments_send_what_is_now_at_their_position() {
    let w = world().await;
    w.phone("P", "order-1", 100, 1).await;
    let alpha = w.wa_template("Alpha", "Alpha {{first_name}}").await;
    let bravo = w.wa_template("Bravo", "Bravo {{first_name}}").await;
    let charlie = w.wa_template("Charlie", "Charlie {{first_name}}").await;
    let seq = w.sequence("Order", "").await;
    for (template, delay) in [(alpha, 0), (bravo, 60), (charlie, 120)] {
        w.step(seq, template, delay, None).await;
    }
    let ids: Vec<Uuid> = steps_of(&w, seq).await.iter().map(|s| s.0).collect();
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let elsewhere = w.sequence("Elsewhere", "").await;
    w.step(elsewhere, alpha, 0, None).await;
    let foreign = steps_of(&w, elsewhere).await[0].0;

    // X has been sent Alpha and waits for position 2 (Bravo, an hour on).
    let x = w.leads(1, true, false).await[0];
    w.enrol(seq, &[x]).await;
    assert_eq!(w.schedule().await, 1);
    let (_, waiting_until, _) = place(&w, x).await;

    for (order, what) in [
        (vec![a, b], "missing"),
        (vec![a, b, b], "duplicate"),
        (vec![a, b, foreign], "another sequence's step"),
        (vec![a, b, c, foreign], "extra"),
        (vec![a, b, Uuid::now_v7()], "unknown"),
    ] {
        let (status, body) = reorder(&w, &w.admin, seq, &order).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(error_field(&body), Some("step_ids"), "{what}");
    }
    let other = w.other_tenant("bea@example.com", "Beta").await;
    assert_eq!(
        reorder(&other, &other.admin, seq, &[c, b, a]).await.0,
        StatusCode::NOT_FOUND
    );
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    assert_eq!(
        reorder(&w, &rep, seq, &[c, b, a]).await.0,
        StatusCode::FORBIDDEN
    );

    // Alpha, Charlie, Bravo: X's position 2 now holds Charlie, two hours after Alpha.
    let (status, body) = reorder(&w, &w.admin, seq, &[a, c, b]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now: Vec<(Uuid, i32, i32)> = steps_of(&w, seq).await;
    assert_eq!(
        now.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
        vec![(a, 1), (c, 2), (b, 3)]
    );
    let (position, moved_to, _) = place(&w, x).await;
    assert_eq!(position, 2);
    assert_eq!((moved_to - waiting_until).num_minutes(), 60);
    run_out(&w).await;
    assert_eq!(
        bodies(&w, x).await,
        vec![
            "Alpha Mona".to_string(),
            "Charlie Mona".to_string(),
            "Bravo Mona".to_string()
        ]
    );

    // Y has been sent Alpha; then Alpha moves behind its position and Bravo before it.
    // Y gets what is at positions 2 and 3 — Charlie, then Alpha, which it already had
    // and so skips — and never Bravo.
    let y = w.leads(1, true, false).await[0];
    w.enrol(seq, &[y]).await;
    assert_eq!(w.schedule().await, 1);
    let (status, body) = reorder(&w, &w.admin, seq, &[b, c, a]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    run_out(&w).await;
    assert_eq!(
        bodies(&w, y).await,
        vec!["Alpha Mona".to_string(), "Charlie Mona".to_string()]
    );
    assert_eq!(place(&w, y).await.2, "COMPLETED");

    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'sequence.steps_reordered'")
            .await,
        2
    );
}

#[tokio::test]
async fn concurrent_reorders_and_removals_take_turns() {
    let w = world().await;
    let template = w.wa_template("Alpha", "Alpha").await;
    let seq = w.sequence("Busy", "").await;
    for delay in [0, 10, 20, 30] {
        w.step(seq, template, delay, None).await;
    }
    let ids: Vec<Uuid> = steps_of(&w, seq).await.iter().map(|s| s.0).collect();
    let admin2 = w
        .app
        .invite_and_join(&w.admin, "admin2@example.com", "ADMIN")
        .await;
    let forward = ids.clone();
    let backward: Vec<Uuid> = ids.iter().rev().copied().collect();
    for round in 0..5 {
        let one = reorder(
            &w,
            &w.admin,
            seq,
            if round % 2 == 0 { &backward } else { &forward },
        );
        let two = reorder(
            &w,
            &admin2,
            seq,
            if round % 2 == 0 { &forward } else { &backward },
        );
        let ((s1, b1), (s2, b2)) = tokio::join!(one, two);
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{b1} {b2}");
        let order: Vec<Uuid> = steps_of(&w, seq).await.iter().map(|s| s.0).collect();
        assert!(
            order == forward || order == backward,
            "one of the two orders, whole"
        );
        let positions: Vec<i32> = steps_of(&w, seq).await.iter().map(|s| s.1).collect();
        assert_eq!(positions, vec![1, 2, 3, 4]);
    }

    // A removal racing a reorder that still names the removed step: the reorder either
    // lands first or is refused as no longer the sequence's steps — never a 500.
    let current: Vec<Uuid> = steps_of(&w, seq).await.iter().map(|s| s.0).collect();
    let gone = current[0];
    let gone_id = gone.to_string();
    let remove_form = [("step_id", gone_id.as_str())];
    let remove = w.app.call::<RemoveStep>(&admin2, &remove_form);
    let rotated: Vec<Uuid> = current
        .iter()
        .skip(1)
        .chain(current.iter().take(1))
        .copied()
        .collect();
    let move_all = reorder(&w, &w.admin, seq, &rotated);
    let ((removed, rb), (reordered, ob)) = tokio::join!(remove, move_all);
    assert_eq!(removed, StatusCode::OK, "{rb}");
    assert!(
        reordered == StatusCode::OK
            || (reordered == StatusCode::UNPROCESSABLE_ENTITY
                && error_field(&ob) == Some("step_ids")),
        "{reordered}: {ob}"
    );
    let left = steps_of(&w, seq).await;
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|s| s.0 != gone));
    let mut positions: Vec<i32> = left.iter().map(|s| s.1).collect();
    positions.dedup();
    assert_eq!(positions.len(), 3, "distinct positions");
    let (status, body) = reorder(&w, &w.admin, seq, &current).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a stale order: {body}"
    );
}
