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
