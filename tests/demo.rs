//! The demo workspace a first run creates: every role can sign in, and the CRM has data
//! that respects who sees what.

mod common;

use app::crm::board::api::GetBoard;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

fn cards(board: &serde_json::Value) -> usize {
    board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cards"].as_array().unwrap().len())
        .sum()
}

#[tokio::test]
async fn the_demo_workspace_has_a_populated_pipeline() {
    let app = TestApp::spawn().await;
    leadline::seed::demo_if_empty(&app.pools).await.unwrap();
    let mut seen = Vec::new();
    for (email, _, _) in leadline::seed::DEMO_USERS {
        let (client, status, body) = app.login(email, leadline::seed::DEMO_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{email}: {body}");
        let (status, board) = app
            .call_json::<GetBoard>(&client, &json!({ "pipeline_id": null, "filter": {} }))
            .await;
        assert_eq!(status, StatusCode::OK, "{board}");
        seen.push(cards(&board));
    }
    // Owner and admin see all 8 deals; the manager their own 3 and their rep's 5; the
    // rep only their 5.
    assert_eq!(seen, [8, 8, 8, 5]);
}
