//! The home dashboard's numbers, and that a rep's dashboard counts only what they see.

use crate::common;

use app::crm::board::api::{CreateDeal, GetBoard, MoveDeal};
use app::crm::dashboard::GetDashboard;
use app::crm::records::api::{LogActivity, SaveRecord};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn deal(
    app: &TestApp,
    client: &reqwest::Client,
    pipeline: &str,
    name: &str,
    amount: &str,
) -> Value {
    let (status, body) = app
        .call::<CreateDeal>(
            client,
            &[
                ("pipeline_id", pipeline),
                ("name", name),
                ("amount", amount),
                ("currency", "USD"),
                ("stage_id", ""),
                ("owner_id", ""),
                ("expected_close_on", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn stage_id(board: &Value, name: &str) -> String {
    board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["stage"]["name"] == name)
        .unwrap()["stage"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_dashboard_sums_what_the_viewer_may_see() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let (_, board) = app
        .call_json::<GetBoard>(&owner, &json!({ "pipeline_id": null, "filter": {} }))
        .await;
    let pipeline = board["pipeline"]["id"].as_str().unwrap().to_string();
    let big = deal(&app, &owner, &pipeline, "Big", "1,000").await;
    let lost = deal(&app, &owner, &pipeline, "Gone", "50").await;
    deal(&app, &rep, &pipeline, "Rep's", "300").await;
    let mv = |card: &Value, stage: String, reason: Option<&str>| json!({ "change": { "deal_id": card["id"], "version": card["version"], "stage_id": stage, "after_id": null, "lost_reason": reason } });
    let (status, moved) = app
        .call_json::<MoveDeal>(&owner, &mv(&big, stage_id(&board, "Proposal"), None))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (status, _) = app
        .call_json::<MoveDeal>(&owner, &mv(&moved, stage_id(&board, "Closed"), None))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call_json::<MoveDeal>(&owner, &mv(&lost, stage_id(&board, "Lost"), Some("Price")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let lead = {
        let (_, id) = app
            .call::<SaveRecord>(&owner, &[("entity", "LEAD"), ("name", "L")])
            .await;
        id.as_str().unwrap().to_string()
    };
    app.call::<LogActivity>(
        &owner,
        &[
            ("entity", "LEAD"),
            ("id", &lead),
            ("kind", "CALL"),
            ("subject", "Hi"),
        ],
    )
    .await;

    let (status, d) = app.call::<GetDashboard>(&owner, &[]).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let stage = |d: &Value, name: &str| {
        d["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        stage(&d, "Lead")["value"],
        30_000,
        "only the rep's deal is left in Lead"
    );
    assert_eq!(stage(&d, "Closed")["value"], 100_000);
    assert_eq!(
        stage(&d, "Proposal")["reached"],
        1,
        "the won deal passed through Proposal"
    );
    assert_eq!(
        (d["won_count"].as_i64(), d["lost_count"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(d["won"][0]["minor"], 100_000);
    let ada = d["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Ada")
        .unwrap();
    // Three stage changes and one call this week.
    assert_eq!(ada["count"], 4);

    let (_, mine) = app.call::<GetDashboard>(&rep, &[]).await;
    assert_eq!(stage(&mine, "Lead")["value"], 30_000);
    assert_eq!(stage(&mine, "Closed")["value"], 0);
    assert_eq!(mine["won_count"], 0);
    assert!(
        mine["activities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "Ada"),
        "{mine}"
    );
}

/// "Reached" counts each deal once per stage, however often it went in and out.
#[tokio::test]
async fn a_stage_is_reached_once_per_deal() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, board) = app
        .call_json::<GetBoard>(&owner, &json!({ "pipeline_id": null, "filter": {} }))
        .await;
    let pipeline = board["pipeline"]["id"].as_str().unwrap().to_string();
    let mv = |card: &Value, stage: String| json!({ "change": { "deal_id": card["id"], "version": card["version"], "stage_id": stage, "after_id": null, "lost_reason": null } });
    let mut card = deal(&app, &owner, &pipeline, "Back and forth", "10").await;
    for stage in ["Proposal", "Lead", "Proposal", "Lead"] {
        let (status, moved) = app
            .call_json::<MoveDeal>(&owner, &mv(&card, stage_id(&board, stage)))
            .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        card = moved;
    }
    let other = deal(&app, &owner, &pipeline, "Straight", "10").await;
    let (status, _) = app
        .call_json::<MoveDeal>(&owner, &mv(&other, stage_id(&board, "Proposal")))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, d) = app.call::<GetDashboard>(&owner, &[]).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let proposal = d["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "Proposal")
        .unwrap();
    // Two deals went into Proposal (one of them twice); one is still there.
    assert_eq!(proposal["reached"], 2, "{d}");
    assert_eq!(proposal["deals"], 1, "{d}");
}

#[tokio::test]
async fn reports_are_advanced_analytics_and_count_what_the_viewer_may_see() {
    use app::crm::reports::GetReports;
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;

    // Starter has no advanced analytics: the answer names it and the way to get it.
    sqlx::query("UPDATE subscriptions SET plan_id = 'starter'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, body) = app.call::<GetReports>(&owner, &[("days", "90")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("Advanced analytics") && text.contains("/billing"),
        "{text}"
    );
    // A period not offered is named at its field.
    let (status, body) = app.call::<GetReports>(&owner, &[("days", "7")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("days"));

    sqlx::query("UPDATE subscriptions SET plan_id = 'pro'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (_, board) = app
        .call_json::<GetBoard>(&owner, &json!({ "pipeline_id": null, "filter": {} }))
        .await;
    let pipeline = board["pipeline"]["id"].as_str().unwrap().to_string();
    let won = deal(&app, &owner, &pipeline, "Big", "1,000").await;
    let lost = deal(&app, &owner, &pipeline, "Gone", "50").await;
    let reps = deal(&app, &rep, &pipeline, "Rep's", "300").await;
    let mv = |card: &Value, stage: String, reason: Option<&str>| json!({ "change": { "deal_id": card["id"], "version": card["version"], "stage_id": stage, "after_id": null, "lost_reason": reason } });
    for (client, card, stage, reason) in [
        (&owner, &won, "Closed", None),
        (&owner, &lost, "Lost", Some("Price")),
        (&rep, &reps, "Closed", None),
    ] {
        let (status, body) = app
            .call_json::<MoveDeal>(client, &mv(card, stage_id(&board, stage), reason))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for (name, source) in [("A", "Website"), ("B", "Website"), ("C", "")] {
        let (status, body) = app
            .call::<SaveRecord>(
                &owner,
                &[("entity", "LEAD"), ("name", name), ("source", source)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    sqlx::query("UPDATE leads SET status = 'CONVERTED' WHERE name = 'A'")
        .execute(&app.pools.owner)
        .await
        .unwrap();

    let (status, r) = app.call::<GetReports>(&owner, &[("days", "90")]).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["currency"], "USD");
    let owners: Vec<(String, i64, i64, i64)> = r["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["won"].as_i64().unwrap(),
                o["lost"].as_i64().unwrap(),
                o["won_value"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        vec![
            ("Ada".to_string(), 1, 1, 100_000),
            ("Invited Person".to_string(), 1, 0, 30_000)
        ]
    );
    assert!(r["owners"][0]["days_to_win"].as_f64().unwrap() < 1.0);
    let sources: Vec<(&str, i64, i64)> = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap(),
                s["leads"].as_i64().unwrap(),
                s["converted"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sources, vec![("Website", 2, 1), ("", 1, 0)]);
    let months = r["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    assert_eq!(months[11]["won"], 2);
    assert_eq!(months[11]["won_value"], 130_000);
    assert_eq!(months[10]["won"], 0);

    // A rep counts only their own deals.
    let (status, mine) = app.call::<GetReports>(&rep, &[("days", "30")]).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["owners"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["owners"][0]["won_value"], 30_000);
    assert_eq!(mine["months"][11]["won_value"], 30_000);
}
