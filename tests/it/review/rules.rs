//! What managers set: business-hours SLAs and the review rules, and the queue's
//! stats on the outreach dashboard.

use super::*;

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
    use chrono::Timelike;
    let w = world().await;
    // The dashboard's days are the tenant's. In a zone where it is now about noon the
    // item made 90 minutes ago is on today's row at whatever hour the test runs.
    let offset = 12 - chrono::Utc::now().hour() as i32;
    let zone = match offset {
        o if o >= 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    sqlx::query("UPDATE tenants SET timezone = $1")
        .bind(&zone)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
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
