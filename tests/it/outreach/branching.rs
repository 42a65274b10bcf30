//! Seed 003's step types beyond sending (issue 15): a condition sends each lead down
//! the branch that fits what it did or is, and a wait holds the enrolment until its
//! moment, typed in the sequence's time zone. DECISIONS 84.

use super::*;
use app::l10n::{from_local, to_local};
use chrono::{DateTime, Duration, Utc};

/// Adds a step from a form; its id, or the status and body of the refusal.
async fn add(w: &World, seq: Uuid, form: &[(&str, &str)]) -> Result<Uuid, (StatusCode, Value)> {
    let seq = seq.to_string();
    let mut fields = vec![("sequence_id", seq.as_str())];
    fields.extend_from_slice(form);
    if !form.iter().any(|(k, _)| *k == "delay_minutes") {
        fields.push(("delay_minutes", "0"));
    }
    let (status, body) = w.app.call::<AddStep>(&w.admin, &fields).await;
    match status {
        StatusCode::OK => Ok(body.as_str().unwrap().parse().unwrap()),
        _ => Err((status, body)),
    }
}

async fn edit(w: &World, step: Uuid, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let step = step.to_string();
    let mut fields = vec![("step_id", step.as_str()), ("delay_minutes", "0")];
    fields.extend_from_slice(form);
    w.app.call::<UpdateStep>(&w.admin, &fields).await
}

/// A sending step of `template`.
async fn send(w: &World, seq: Uuid, template: Uuid) -> Uuid {
    add(
        w,
        seq,
        &[("kind", "SEND"), ("template_id", &template.to_string())],
    )
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

/// The lead's enrolment: (next_step, next_run_at, status, stop_reason).
async fn place(w: &World, lead: Uuid) -> (i32, DateTime<Utc>, String, Option<String>) {
    sqlx::query_as(
        "SELECT next_step, next_run_at, status, stop_reason FROM enrollments WHERE lead_id = $1",
    )
    .bind(lead)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap()
}

fn refused(result: Result<Uuid, (StatusCode, Value)>) -> String {
    let (status, body) = result.expect_err("refused");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    error_field(&body).unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_condition_sends_each_lead_down_its_branch() {
    let w = world().await;
    w.phone("P", "branch-1", 100, 1).await;
    let alpha = w.wa_template("Alpha", "Alpha {{first_name}}").await;
    let bravo = w.wa_template("Bravo", "Bravo {{first_name}}").await;
    let charlie = w.wa_template("Charlie", "Charlie {{first_name}}").await;
    let seq = w.sequence("Branches", "").await;
    send(&w, seq, alpha).await;
    // Step 2 asks for the VIP tag; its targets are added after it, then chosen.
    let condition = add(
        &w,
        seq,
        &[
            ("kind", "CONDITION"),
            ("condition", "FIELD"),
            ("condition_field", "tag"),
            ("condition_value", "vip"),
            ("then_go", "next"),
            ("else_go", "next"),
        ],
    )
    .await
    .unwrap();
    let third = send(&w, seq, bravo).await;
    let fourth = send(&w, seq, charlie).await;

    // Only later steps of this sequence can be a branch's target.
    let first: Uuid =
        sqlx::query_scalar("SELECT id FROM sequence_steps WHERE sequence_id = $1 AND position = 1")
            .bind(seq)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    let other_seq = w.sequence("Elsewhere", "").await;
    let elsewhere = send(&w, other_seq, alpha).await;
    // The VIP condition with its two branches, as the edit form sends it.
    let edit_branches = |then_go: String, else_go: String| {
        let w = &w;
        async move {
            let form = [
                ("kind", "CONDITION"),
                ("condition", "FIELD"),
                ("condition_field", "tag"),
                ("condition_value", "vip"),
                ("then_go", then_go.as_str()),
                ("else_go", else_go.as_str()),
            ];
            edit(w, condition, &form).await
        }
    };
    for (then_go, field) in [
        (first.to_string(), "then_go"),
        (condition.to_string(), "then_go"),
        (elsewhere.to_string(), "then_go"),
        ("step four".to_string(), "then_go"),
    ] {
        let (status, body) = edit_branches(then_go, "next".into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let (status, body) = edit_branches(fourth.to_string(), "next".into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let leads = w.leads(2, true, false).await;
    let (vip, plain) = (leads[0], leads[1]);
    sqlx::query("UPDATE leads SET tags = '{VIP,buyer}' WHERE id = $1")
        .bind(vip)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.enrol(seq, &leads).await["enrolled"], 2);
    for _ in 0..4 {
        w.schedule().await;
        w.fast_forward().await;
    }
    // The tag is matched without regard to case; the VIP skips Bravo.
    assert_eq!(bodies(&w, vip).await, ["Alpha Mona", "Charlie Mona"]);
    assert_eq!(
        bodies(&w, plain).await,
        ["Alpha Mona", "Bravo Mona", "Charlie Mona"]
    );
    assert_eq!(place(&w, vip).await.2, "COMPLETED");
    assert_eq!(place(&w, plain).await.2, "COMPLETED");

    // A step's order cannot put a target before its condition.
    let (status, body) = w
        .app
        .call_json::<ReorderSteps>(
            &w.admin,
            &json!({ "sequence_id": seq, "step_ids": [first, fourth, condition, third] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("step_ids"));
    // The other way round is fine: Bravo and Charlie trade places.
    let (status, body) = w
        .app
        .call_json::<ReorderSteps>(
            &w.admin,
            &json!({ "sequence_id": seq, "step_ids": [first, condition, fourth, third] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The sequence page says what the condition does.
    let page = w
        .app
        .page(&w.admin, &format!("/outreach/sequences/{seq}"))
        .await
        .1;
    assert!(
        page.contains(
            "If the lead has the tag vip: Go to step 3. Otherwise: Go on to the next step."
        ),
        "{page}"
    );

    // Removing the target makes the condition go where the target's enrolments go:
    // the step after it, or the end when it was the last.
    let (status, body) = w
        .app
        .call::<RemoveStep>(&w.admin, &[("step_id", &third.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = w
        .app
        .call::<RemoveStep>(&w.admin, &[("step_id", &fourth.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let branches: (String, Option<Uuid>, String) =
        sqlx::query_as("SELECT then_go, then_step_id, else_go FROM sequence_steps WHERE id = $1")
            .bind(condition)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(branches, ("END".to_string(), None, "NEXT".to_string()));

    // A branch that ends: the lead gets Alpha alone, and the enrolment says why.
    assert_eq!(
        edit_branches("end".into(), "end".into()).await.0,
        StatusCode::OK
    );
    send(&w, seq, bravo).await;
    let late = w.leads(1, true, false).await[0];
    assert_eq!(w.enrol(seq, &[late]).await["enrolled"], 1);
    for _ in 0..3 {
        w.schedule().await;
        w.fast_forward().await;
    }
    assert_eq!(bodies(&w, late).await, ["Alpha Mona"]);
    let (_, _, status, reason) = place(&w, late).await;
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("COMPLETED", Some("condition_end"))
    );
}

#[tokio::test]
async fn conditions_read_replies_opens_journeys_and_fields() {
    let w = world().await;
    w.phone("P", "branch-2", 100, 1).await;
    let alpha = w.wa_template("Alpha", "Alpha {{first_name}}").await;
    let yes = w.wa_template("Yes", "Yes {{first_name}}").await;
    let budget_field = {
        use app::crm::records::api::AddCustomField;
        let (status, body) = w
            .app
            .call::<AddCustomField>(
                &w.admin,
                &[
                    ("entity", "LEAD"),
                    ("key", "budget_band"),
                    ("label", "Budget band"),
                    ("kind", "TEXT"),
                    ("options", ""),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        "custom.budget_band"
    };

    // Each condition, a lead that meets it and one that does not.
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("condition", "REPLIED")],
            "UPDATE lead_journeys SET last_inbound_at = now() WHERE lead_id = $1",
        ),
        (
            &[("condition", "OPENED")],
            "UPDATE messages SET opened_at = now() WHERE lead_id = $1",
        ),
        (
            &[("condition", "CLICKED")],
            "UPDATE messages SET clicked_at = now() WHERE lead_id = $1",
        ),
        (
            &[
                ("condition", "JOURNEY_STATE"),
                ("condition_value", "NEGOTIATION"),
            ],
            "UPDATE lead_journeys SET state = 'NEGOTIATION' WHERE lead_id = $1",
        ),
        (
            &[
                ("condition", "FIELD"),
                ("condition_field", "score"),
                ("condition_value", "60"),
            ],
            "UPDATE leads SET score = 75 WHERE id = $1",
        ),
        (
            &[
                ("condition", "FIELD"),
                ("condition_field", budget_field),
                ("condition_value", "High"),
            ],
            "UPDATE leads SET custom = '{\"budget_band\": \"high\"}' WHERE id = $1",
        ),
    ];
    for (i, (condition, makes_it_true)) in cases.iter().enumerate() {
        let seq = w.sequence(&format!("Case {i}"), "").await;
        send(&w, seq, alpha).await;
        // Checked an hour after Alpha, once the test has made it true for one lead.
        let mut form = vec![
            ("kind", "CONDITION"),
            ("delay_minutes", "60"),
            ("then_go", "next"),
            ("else_go", "end"),
        ];
        form.extend_from_slice(condition);
        add(&w, seq, &form).await.unwrap();
        send(&w, seq, yes).await;
        let leads = w.leads(2, true, false).await;
        assert_eq!(w.enrol(seq, &leads).await["enrolled"], 2);
        w.schedule().await;
        sqlx::query(makes_it_true)
            .bind(leads[0])
            .execute(&w.app.pools.owner)
            .await
            .unwrap();
        for _ in 0..3 {
            w.fast_forward().await;
            w.schedule().await;
        }
        assert_eq!(
            bodies(&w, leads[0]).await,
            ["Alpha Mona", "Yes Mona"],
            "{condition:?}"
        );
        assert_eq!(bodies(&w, leads[1]).await, ["Alpha Mona"], "{condition:?}");
    }

    // Each refusal names its field.
    let seq = w.sequence("Refusals", "").await;
    for (form, field) in [
        (vec![("kind", "GOTO")], "kind"),
        (
            vec![("kind", "CONDITION"), ("condition", "LIKED")],
            "condition",
        ),
        (
            vec![
                ("kind", "CONDITION"),
                ("condition", "JOURNEY_STATE"),
                ("condition_value", "HAPPY"),
            ],
            "condition_value",
        ),
        (
            vec![
                ("kind", "CONDITION"),
                ("condition", "FIELD"),
                ("condition_field", "password"),
                ("condition_value", "x"),
            ],
            "condition_field",
        ),
        (
            vec![
                ("kind", "CONDITION"),
                ("condition", "FIELD"),
                ("condition_field", "custom.nope"),
                ("condition_value", "x"),
            ],
            "condition_field",
        ),
        (
            vec![
                ("kind", "CONDITION"),
                ("condition", "FIELD"),
                ("condition_field", "score"),
                ("condition_value", "lots"),
            ],
            "condition_value",
        ),
        (
            vec![
                ("kind", "CONDITION"),
                ("condition", "FIELD"),
                ("condition_field", "status"),
                ("condition_value", "HAPPY"),
            ],
            "condition_value",
        ),
        (
            vec![
                ("kind", "CONDITION"),
                ("condition", "FIELD"),
                ("condition_field", "source"),
                ("condition_value", ""),
            ],
            "condition_value",
        ),
        (
            vec![("kind", "WAIT_UNTIL"), ("wait_until", "soon")],
            "wait_until",
        ),
        (vec![("kind", "SEND")], "template_id"),
    ] {
        assert_eq!(refused(add(&w, seq, &form).await), field, "{form:?}");
    }
    // Another workspace's custom field is not one of this workspace's.
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let their_seq = other.sequence("Theirs", "").await;
    let refusal = add(
        &other,
        their_seq,
        &[
            ("kind", "CONDITION"),
            ("condition", "FIELD"),
            ("condition_field", budget_field),
            ("condition_value", "high"),
        ],
    )
    .await;
    assert_eq!(refused(refusal), "condition_field");
}

#[tokio::test]
async fn a_wait_holds_the_enrolment_until_its_moment_in_the_sequence_zone() {
    let w = world().await;
    w.phone("P", "wait-1", 100, 1).await;
    let alpha = w.wa_template("Alpha", "Alpha {{first_name}}").await;
    let launch = w.wa_template("Launch", "Launch {{first_name}}").await;
    let seq = w.sequence("Launch day", "").await;
    sqlx::query("UPDATE sequences SET timezone = 'Africa/Cairo' WHERE id = $1")
        .bind(seq)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    send(&w, seq, alpha).await;

    // In the past, unreadable, or more than a year ahead: refused at the field.
    let typed = |at: DateTime<Utc>| {
        to_local("Africa/Cairo", at)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    for moment in [
        typed(Utc::now() - Duration::hours(1)),
        "24/12/2026 9am".to_string(),
        typed(Utc::now() + Duration::days(400)),
    ] {
        let refusal = add(&w, seq, &[("kind", "WAIT_UNTIL"), ("wait_until", &moment)]).await;
        assert_eq!(refused(refusal), "wait_until", "{moment}");
    }
    let moment = typed(Utc::now() + Duration::days(2));
    let wait = add(&w, seq, &[("kind", "WAIT_UNTIL"), ("wait_until", &moment)])
        .await
        .unwrap();
    send(&w, seq, launch).await;
    let expected = from_local(
        "Africa/Cairo",
        chrono::NaiveDateTime::parse_from_str(&moment, "%Y-%m-%dT%H:%M").unwrap(),
    );
    let stored: DateTime<Utc> =
        sqlx::query_scalar("SELECT wait_until FROM sequence_steps WHERE id = $1")
            .bind(wait)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(stored, expected, "read in Cairo time, not UTC");

    let lead = w.leads(1, true, false).await[0];
    assert_eq!(w.enrol(seq, &[lead]).await["enrolled"], 1);
    w.schedule().await;
    w.fast_forward().await;
    w.schedule().await;
    // Alpha went; the enrolment waits at the wait step for the moment itself.
    assert_eq!(bodies(&w, lead).await, ["Alpha Mona"]);
    let (position, at, status, _) = place(&w, lead).await;
    assert_eq!((position, status.as_str()), (2, "ACTIVE"));
    assert_eq!(at, expected);

    // The moment comes: the enrolment goes straight on to the launch message.
    sqlx::query("UPDATE sequence_steps SET wait_until = now() - interval '1 minute' WHERE id = $1")
        .bind(wait)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    sqlx::query("UPDATE enrollments SET next_run_at = now() WHERE lead_id = $1")
        .bind(lead)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.schedule().await;
    assert_eq!(bodies(&w, lead).await, ["Alpha Mona", "Launch Mona"]);

    // The page shows the moment as typed, in the sequence's zone.
    let page = w
        .app
        .page(&w.admin, &format!("/outreach/sequences/{seq}"))
        .await
        .1;
    assert!(page.contains("Wait until a date"), "{page}");
}
