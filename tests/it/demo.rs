//! The demo workspace a first run creates: every role can sign in, and the CRM has data
//! that respects who sees what.

use crate::common;

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
    let senders = leadline::seed::DemoSenders {
        smtp: "127.0.0.1:2525".parse().unwrap(),
        secret_key: app::request::AppConfig::local("").secret_key,
    };
    leadline::seed::demo_if_empty(
        &app.pools,
        Some(&senders),
        &app::request::AppConfig::local("").files,
    )
    .await
    .unwrap();
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

    // Outreach is ready to try: two numbers, a mailbox on the peer, a two-step
    // sequence and a list to enrol.
    let (owner, _, _) = app
        .login(
            leadline::seed::DEMO_USERS[0].0,
            leadline::seed::DEMO_PASSWORD,
        )
        .await;
    let (status, senders) = app
        .call_json::<app::outreach::api::GetSenders>(&owner, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{senders}");
    assert_eq!(senders["phones"].as_array().unwrap().len(), 2);
    assert_eq!(senders["mailboxes"][0]["smtp_port"], 2525);
    let (status, sequences) = app
        .call_json::<app::outreach::api::ListSequences>(&owner, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sequences[0]["steps"], 2, "{sequences}");
    let (status, templates) = app
        .call_json::<app::outreach::api::ListTemplates>(&owner, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(templates.as_array().unwrap().len(), 2);

    // The review queue is alive: open items in each open state, one breached, and
    // the classifier's verdicts on the replies.
    let (status, page) = app
        .call_json::<app::review::api::ReviewQueue>(
            &owner,
            &json!({ "filter": { "status": null, "reason": null, "priority": null, "channel": null, "mine": false, "breached": false }, "before": null }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let states: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    for state in ["Pending", "Assigned", "Escalated"] {
        assert!(states.contains(&state), "{state} in {states:?}");
    }
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["breached"] == true));

    // Inventory: the tower's floor plan is a drawing with 40 linked units in mixed
    // statuses, served to members.
    let plan: uuid::Uuid = sqlx::query_scalar("SELECT id FROM floor_plans WHERE name = 'Floor 12'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let (status, view) = app
        .call::<app::inventory::api::GetPlan>(&owner, &[("id", &plan.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let shapes = view["shapes"].as_array().unwrap();
    assert_eq!(shapes.iter().filter(|s| s["unit"].is_object()).count(), 40);
    let statuses: std::collections::HashSet<&str> = shapes
        .iter()
        .map(|s| s["unit"]["status"].as_str().unwrap())
        .collect();
    assert!(statuses.len() >= 4, "{statuses:?}");
    let drawing = app.get(&owner, view["file_url"].as_str().unwrap()).await;
    assert_eq!(drawing.status(), StatusCode::OK);
    // The project has its cover, and each flat its rooms.
    let cover = app
        .get(&owner, view["project_cover"].as_str().unwrap())
        .await;
    assert_eq!(cover.status(), StatusCode::OK);
    assert_eq!(cover.headers()["content-type"], "image/svg+xml");
    let rooms: i64 = sqlx::query_scalar("SELECT count(*) FROM unit_components")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert!(rooms >= 40 * 4, "{rooms} rooms");
    assert!(drawing.text().await.unwrap().contains("Lifts"));

    // The demo's staff member signs in with the published 2FA secret and sees both
    // workspaces in the console; Nile Realty's owner is not staff.
    let (staff, status, _) = app
        .login(leadline::seed::DEMO_STAFF.0, leadline::seed::DEMO_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::OK);
    let code = {
        let bytes = totp_rs::Secret::Encoded(leadline::seed::DEMO_STAFF_TOTP.into())
            .to_bytes()
            .unwrap();
        let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).unwrap();
        totp.generate_current().unwrap()
    };
    let (status, body) = app
        .call::<app::auth::api::LoginTotp>(&staff, &[("code", &code)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, console) = app
        .call::<app::staff::api::StaffConsole>(&staff, &[("q", "")])
        .await;
    assert_eq!(status, StatusCode::OK, "{console}");
    let names: Vec<&str> = console["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Nile Realty") && names.contains(&"Leadline HQ"),
        "{names:?}"
    );
    let (status, _) = app
        .call::<app::staff::api::StaffConsole>(&owner, &[("q", "")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The owner's second workspace is on Free at its contact limit: one switch away,
    // the next contact is refused with the limit and the way to lift it.
    let free: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
        .bind(leadline::seed::DEMO_FREE_WORKSPACE)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let (status, body) = app
        .call::<app::auth::api::SwitchTenant>(&owner, &[("tenant_id", &free.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call::<app::crm::records::api::SaveRecord>(
            &owner,
            &[("entity", "CONTACT"), ("name", "One too many")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_text(&body).contains("/billing"), "{body}");
}

#[tokio::test]
async fn the_demo_has_a_week_of_outreach_with_replies_of_every_kind() {
    let app = TestApp::spawn().await;
    let senders = leadline::seed::DemoSenders {
        smtp: "127.0.0.1:2525".parse().unwrap(),
        secret_key: app::request::AppConfig::local("").secret_key,
    };
    leadline::seed::demo_if_empty(
        &app.pools,
        Some(&senders),
        &app::request::AppConfig::local("").files,
    )
    .await
    .unwrap();
    let scalar = |sql: &'static str| {
        let pool = app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // Sent on each of the last seven days, none of it still to send.
    assert_eq!(
        scalar("SELECT count(DISTINCT created_at::date) FROM messages WHERE direction = 'OUT'")
            .await,
        7
    );
    assert_eq!(scalar("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(
        scalar("SELECT count(*) FROM outreach_daily_stats WHERE day < current_date").await,
        7
    );
    // Every intent the classifier knows is among the replies, in English and Arabic.
    let intents: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT intent FROM messages WHERE direction = 'IN' ORDER BY 1",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    for intent in app::review::model::Intent::ALL {
        assert!(
            intents.contains(&intent.code().to_string()),
            "{intent:?} in {intents:?}"
        );
    }
    assert!(
        scalar("SELECT count(*) FROM messages WHERE direction = 'IN' AND body ~ '[ء-ي]'").await
            >= 3
    );
    // The journeys and suppressions follow the replies.
    assert!(scalar("SELECT count(*) FROM lead_journeys WHERE state = 'WARM_REPLY'").await >= 2);
    assert!(scalar("SELECT count(*) FROM suppressions").await >= 3);
}
