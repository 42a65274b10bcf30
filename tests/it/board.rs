//! The kanban board over real HTTP on a real database: columns, paging, moves with the
//! version check, lost reasons, who sees what, other tenants, and live events.

use crate::common;

use app::crm::board::api::{CreateDeal, CreatePipeline, GetBoard, GetColumnPage, MoveDeal};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

async fn board(app: &TestApp, client: &reqwest::Client, filter: Value) -> Value {
    let (status, body) = app
        .call_json::<GetBoard>(client, &json!({ "pipeline_id": null, "filter": filter }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn column<'a>(board: &'a Value, name: &str) -> &'a Value {
    board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["stage"]["name"] == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn names(column: &Value) -> Vec<String> {
    column["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

async fn new_deal(
    app: &TestApp,
    client: &reqwest::Client,
    board: &Value,
    name: &str,
    amount: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let pipeline = board["pipeline"]["id"].as_str().unwrap().to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("pipeline_id", &pipeline),
        ("name", name),
        ("amount", amount),
        ("currency", "USD"),
        ("stage_id", ""),
        ("owner_id", ""),
        ("expected_close_on", ""),
    ];
    for (k, v) in extra {
        form.retain(|(key, _)| key != k);
        form.push((k, v));
    }
    app.call::<CreateDeal>(client, &form).await
}

async fn mv(
    app: &TestApp,
    client: &reqwest::Client,
    card: &Value,
    stage_id: &str,
    after: Option<&str>,
    reason: Option<&str>,
) -> (StatusCode, Value) {
    app.call_json::<MoveDeal>(
        client,
        &json!({ "change": {
            "deal_id": card["id"], "version": card["version"], "stage_id": stage_id,
            "after_id": after, "lost_reason": reason,
        }}),
    )
    .await
}

#[tokio::test]
async fn a_new_workspace_has_the_default_stages_and_deals_land_on_top() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = board(&app, &owner, json!({})).await;
    let stages: Vec<&str> = b["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stage"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "Lead",
            "Contact",
            "Proposal",
            "Negotiation",
            "Closed",
            "Lost"
        ]
    );
    assert_eq!(column(&b, "Closed")["stage"]["kind"], "WON");

    for (name, amount) in [("First", "1,000"), ("Second", "250.50")] {
        let (status, body) = new_deal(&app, &owner, &b, name, amount, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let b = board(&app, &owner, json!({})).await;
    let lead = column(&b, "Lead");
    assert_eq!(names(lead), ["Second", "First"], "newest on top");
    assert_eq!(lead["count"], 2);
    assert_eq!(lead["sums"][0]["minor"], 125_050);
    assert_eq!(lead["sums"][0]["currency"], "USD");
    assert_eq!(lead["cards"][0]["owner"]["name"], "Ada");
    // Each deal takes its stage's chance to win (Lead: 10 %); the column's weighted
    // total is the sum of the deals' rounded weighted amounts' exact products.
    assert_eq!(lead["cards"][0]["probability"], 10);
    assert_eq!(lead["weighted"][0]["minor"], 12_505);

    // A deal's chance and amount are edited on its page; the board follows.
    let first = lead["cards"][1]["id"].as_str().unwrap().to_string();
    let (status, body) = app
        .call::<app::crm::records::api::SaveRecord>(
            &owner,
            &[
                ("entity", "DEAL"),
                ("id", &first),
                ("name", "First"),
                ("amount", "3.000,00"),
                ("currency", "USD"),
                ("probability", "40"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let b = board(&app, &owner, json!({})).await;
    let lead = column(&b, "Lead");
    assert_eq!(lead["sums"][0]["minor"], 325_050);
    assert_eq!(lead["weighted"][0]["minor"], 120_000 + 2_505);
}

#[tokio::test]
async fn bad_deal_input_is_refused_next_to_the_field() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = board(&app, &owner, json!({})).await;
    for (name, amount, extra, field) in [
        ("", "10", vec![], "name"),
        ("X", "12.345", vec![], "amount"),
        ("X", "-5", vec![], "amount"),
        ("X", "5", vec![("currency", "dollars")], "currency"),
        (
            "X",
            "5",
            vec![("expected_close_on", "next week")],
            "expected_close_on",
        ),
        (
            "X",
            "5",
            vec![("owner_id", "00000000-0000-0000-0000-000000000001")],
            "owner_id",
        ),
    ] {
        let (status, body) = new_deal(&app, &owner, &b, name, amount, &extra).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let stranger_stage = Uuid::new_v4().to_string();
    let (status, body) =
        new_deal(&app, &owner, &b, "X", "1", &[("stage_id", &stranger_stage)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("stage_id"));
}

#[tokio::test]
async fn moves_keep_order_record_history_and_check_versions() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = board(&app, &owner, json!({})).await;
    for name in ["C", "B", "A"] {
        new_deal(&app, &owner, &b, name, "100", &[]).await;
    }
    let b = board(&app, &owner, json!({})).await;
    let lead = column(&b, "Lead");
    assert_eq!(names(lead), ["A", "B", "C"]);
    let (a, bb, c) = (&lead["cards"][0], &lead["cards"][1], &lead["cards"][2]);
    let lead_id = lead["stage"]["id"].as_str().unwrap();
    let proposal_id = column(&b, "Proposal")["stage"]["id"].as_str().unwrap();

    // Reorder within the column: A goes between B and C.
    let (status, moved) = mv(&app, &owner, a, lead_id, bb["id"].as_str(), None).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["version"], 2);
    let b2 = board(&app, &owner, json!({})).await;
    assert_eq!(names(column(&b2, "Lead")), ["B", "A", "C"]);

    // To another stage: history on the timeline and in the audit log.
    let (status, moved_c) = mv(&app, &owner, c, proposal_id, None, None).await;
    assert_eq!(status, StatusCode::OK, "{moved_c}");
    let b3 = board(&app, &owner, json!({})).await;
    assert_eq!(names(column(&b3, "Proposal")), ["C"]);
    assert_eq!(column(&b3, "Lead")["count"], 2);
    assert_eq!(column(&b3, "Proposal")["sums"][0]["minor"], 10_000);
    let (kind, data): (String, Value) = sqlx::query_as(
        "SELECT kind, data FROM activities WHERE deal_id = $1 AND kind = 'STAGE_CHANGE'",
    )
    .bind(Uuid::parse_str(c["id"].as_str().unwrap()).unwrap())
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(kind, "STAGE_CHANGE");
    assert_eq!(
        (data["from"].as_str(), data["to"].as_str()),
        (Some("Lead"), Some("Proposal"))
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE action = 'deal.stage_changed' AND after->>'stage' = 'Proposal'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // The same card again with its old version: someone else's change wins, we say so.
    let (status, body) = mv(&app, &owner, c, lead_id, None, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("changed"), "{body}");
}

#[tokio::test]
async fn a_lost_deal_needs_a_reason() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = board(&app, &owner, json!({})).await;
    let (_, card) = new_deal(&app, &owner, &b, "Doomed", "5", &[]).await;
    let lost_id = column(&b, "Lost")["stage"]["id"].as_str().unwrap();
    let (status, body) = mv(&app, &owner, &card, lost_id, None, Some("  ")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("lost_reason"));
    let (status, body) = mv(
        &app,
        &owner,
        &card,
        lost_id,
        None,
        Some("Chose a competitor"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (state, reason): (String, Option<String>) =
        sqlx::query_as("SELECT status, lost_reason FROM deals WHERE name = 'Doomed'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), reason.as_deref()),
        ("LOST", Some("Chose a competitor"))
    );
}

#[tokio::test]
async fn columns_page_by_keyset_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    sqlx::query(
        "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, position, amount_minor)
         SELECT s.tenant_id, gen_random_uuid(), s.pipeline_id, s.id, 'Deal ' || lpad(i::text, 3, '0'), i, 100
           FROM stages s, generate_series(1, 60) i
          WHERE s.tenant_id = $1 AND s.name = 'Contact'",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let b = board(&app, &owner, json!({})).await;
    let col = column(&b, "Contact");
    assert_eq!(col["count"], 60);
    assert_eq!(col["more"], true);
    let mut seen = names(col);
    let stage_id = col["stage"]["id"].clone();
    let mut last = col["cards"].as_array().unwrap().last().unwrap().clone();
    loop {
        let (status, page) = app
            .call_json::<GetColumnPage>(
                &owner,
                &json!({ "stage_id": stage_id, "filter": {}, "after": { "position": last["position"], "id": last["id"] } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(names(&page));
        if page["more"] == false {
            break;
        }
        last = page["cards"].as_array().unwrap().last().unwrap().clone();
    }
    let expected: Vec<String> = (1..=60).map(|i| format!("Deal {i:03}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn filters_narrow_the_board_and_its_totals() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = board(&app, &owner, json!({})).await;
    new_deal(&app, &owner, &b, "Villa Zamalek", "2,000,000", &[]).await;
    new_deal(&app, &owner, &b, "Flat Maadi", "900,000", &[]).await;
    new_deal(&app, &owner, &b, "شقة المعادي", "50,000", &[]).await;
    let only = |b: &Value| names(column(b, "Lead"));
    assert_eq!(
        only(&board(&app, &owner, json!({ "q": "villa" })).await),
        ["Villa Zamalek"]
    );
    // A typo still finds it.
    assert_eq!(
        only(&board(&app, &owner, json!({ "q": "vila zamalk" })).await),
        ["Villa Zamalek"]
    );
    assert_eq!(
        only(&board(&app, &owner, json!({ "q": "المعادي" })).await),
        ["شقة المعادي"]
    );
    let rich = board(&app, &owner, json!({ "min": 800000 })).await;
    assert_eq!(only(&rich).len(), 2);
    assert_eq!(column(&rich, "Lead")["count"], 2);
    let band = board(&app, &owner, json!({ "min": 100000, "max": 1000000 })).await;
    assert_eq!(only(&band), ["Flat Maadi"]);
}

#[tokio::test]
async fn sales_see_their_own_and_unassigned_deals_managers_their_team() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let manager = app
        .invite_and_join(&owner, "manager@example.com", "MANAGER")
        .await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let other = app
        .invite_and_join(&owner, "other@example.com", "SALES")
        .await;
    sqlx::query(
        "UPDATE memberships SET manager_id = (SELECT id FROM users WHERE email = 'manager@example.com')
          WHERE user_id = (SELECT id FROM users WHERE email = 'rep@example.com')",
    )
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let b = board(&app, &owner, json!({})).await;
    new_deal(&app, &rep, &b, "Rep's", "1", &[]).await;
    new_deal(&app, &other, &b, "Other's", "1", &[]).await;
    let (_, unowned) = new_deal(&app, &owner, &b, "Nobody's", "1", &[]).await;
    sqlx::query("UPDATE deals SET owner_id = NULL WHERE name = 'Nobody''s'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let sees = |mut n: Vec<String>| {
        n.sort();
        n
    };
    let lead = |b: &Value| names(column(b, "Lead"));
    assert_eq!(
        sees(lead(&board(&app, &rep, json!({})).await)),
        ["Nobody's", "Rep's"]
    );
    assert_eq!(
        sees(lead(&board(&app, &manager, json!({})).await)),
        ["Nobody's", "Rep's"]
    );
    assert_eq!(lead(&board(&app, &owner, json!({})).await).len(), 3);

    // Without unassigned visibility the rep sees only their own.
    sqlx::query("UPDATE tenant_policies SET sales_see_unassigned = false")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(lead(&board(&app, &rep, json!({})).await), ["Rep's"]);

    // Another rep's deal cannot be moved (it does not exist for them), nor given to them.
    let b_other = board(&app, &other, json!({})).await;
    let others = &column(&b_other, "Lead")["cards"][0];
    let proposal = column(&b_other, "Proposal")["stage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = mv(&app, &rep, others, &proposal, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = mv(&app, &rep, &unowned, &proposal, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other_id: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'other@example.com'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    let (status, body) = new_deal(
        &app,
        &rep,
        &b,
        "Gift",
        "1",
        &[("owner_id", &other_id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("owner_id"));

    // Pipelines are configured by admins.
    let (status, _) = app.call::<CreatePipeline>(&rep, &[("name", "Mine")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call::<CreatePipeline>(&owner, &[("name", "Rentals")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call::<CreatePipeline>(&owner, &[("name", "Rentals")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("name"));
}

#[tokio::test]
async fn another_tenants_deals_and_pipelines_do_not_exist() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let b_ada = board(&app, &ada, json!({})).await;
    let b_bea = board(&app, &bea, json!({})).await;
    let (_, card) = new_deal(&app, &bea, &b_bea, "Bea's", "1", &[]).await;
    let bea_stage = column(&b_bea, "Proposal")["stage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ada_stage = column(&b_ada, "Proposal")["stage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for stage in [&bea_stage, &ada_stage] {
        let (status, _) = mv(&app, &ada, &card, stage, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = app
        .call_json::<GetBoard>(
            &ada,
            &json!({ "pipeline_id": b_bea["pipeline"]["id"], "filter": {} }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Creating a deal in another tenant's pipeline finds no stage there.
    let (status, body) = new_deal(&app, &ada, &b_bea, "Sneaky", "1", &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let bea_deals: i64 = sqlx::query_scalar("SELECT count(*) FROM deals WHERE name = 'Sneaky'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(bea_deals, 0);
}

/// Reads server-sent events until one mentions `needle` or the time runs out.
pub(crate) async fn wait_for_event(res: &mut reqwest::Response, needle: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut seen = String::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, res.chunk()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if seen.contains(needle) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn open_boards_hear_about_moves_in_their_tenant_only() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let b_ada = board(&app, &ada, json!({})).await;
    let mut ada_stream = app.get(&ada, "/events").await;
    assert_eq!(ada_stream.status(), StatusCode::OK);
    assert_eq!(
        ada_stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut bea_stream = app.get(&bea, "/events").await;
    // The listener starts with the first stream; give it a moment to LISTEN.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (_, card) = new_deal(&app, &ada, &b_ada, "Live", "1", &[]).await;
    let id = card["id"].as_str().unwrap();
    assert!(
        wait_for_event(&mut ada_stream, id).await,
        "Ada's board heard nothing"
    );
    let proposal = column(&b_ada, "Proposal")["stage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    mv(&app, &ada, &card, &proposal, None, None).await;
    assert!(
        wait_for_event(&mut ada_stream, r#""v":2"#).await,
        "the move was not sent"
    );
    assert!(
        !wait_for_event(&mut bea_stream, id).await,
        "another tenant heard Ada's deal"
    );

    // Signed out: no stream.
    let anon = app.client();
    let res = app.get(&anon, "/events").await;
    assert!(res.status().is_redirection());
}

#[tokio::test]
async fn admins_rename_reorder_add_and_remove_stages() {
    use app::crm::board::stages::SaveStages;
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let b = board(&app, &owner, json!({})).await;
    new_deal(&app, &owner, &b, "Stays", "1", &[]).await;
    let pipeline = b["pipeline"]["id"].clone();
    let edit = |c: &Value| json!({ "id": c["stage"]["id"], "name": c["stage"]["name"], "color": c["stage"]["color"], "kind": c["stage"]["kind"], "probability": c["stage"]["probability"] });
    let cols: Vec<Value> = b["columns"].as_array().unwrap().iter().map(edit).collect();

    // Removing "Lead", which holds a deal, is refused with the count.
    let without_lead: Vec<Value> = cols[1..].to_vec();
    let (status, body) = app
        .call_json::<SaveStages>(
            &owner,
            &json!({ "pipeline_id": pipeline, "stages": without_lead }),
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stages")),
        "{body}"
    );
    assert!(body.to_string().contains('1'), "{body}");

    let (status, _) = app
        .call_json::<SaveStages>(&rep, &json!({ "pipeline_id": pipeline, "stages": cols }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Rename Lead, swap Contact and Proposal, drop Negotiation, add Site visit.
    let mut next = vec![
        cols[0].clone(),
        cols[2].clone(),
        cols[1].clone(),
        cols[4].clone(),
        cols[5].clone(),
    ];
    next[0]["name"] = json!("Inbound");
    next.insert(1, json!({ "id": null, "name": "Site visit", "color": "#0ea5e9", "kind": "OPEN", "probability": 30 }));
    let (status, body) = app
        .call_json::<SaveStages>(&owner, &json!({ "pipeline_id": pipeline, "stages": next }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let b2 = board(&app, &owner, json!({})).await;
    let names: Vec<&str> = b2["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stage"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Inbound",
            "Site visit",
            "Proposal",
            "Contact",
            "Closed",
            "Lost"
        ]
    );
    assert_eq!(column(&b2, "Inbound")["cards"][0]["name"], "Stays");

    let (status, body) = app
        .call_json::<SaveStages>(&owner, &json!({ "pipeline_id": pipeline, "stages": [{ "id": null, "name": "", "color": "#000000", "kind": "OPEN", "probability": 0 }] }))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stage.0")),
        "{body}"
    );
}

#[tokio::test]
async fn live_events_carry_only_deals_the_viewer_may_see() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let b = board(&app, &owner, json!({})).await;
    let mut rep_stream = app.get(&rep, "/events").await;
    assert_eq!(rep_stream.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (_, secret) = new_deal(&app, &owner, &b, "Owner's own", "1", &[]).await;
    let secret_id = secret["id"].as_str().unwrap().to_string();
    let (_, mine) = new_deal(&app, &rep, &b, "Rep's own", "1", &[]).await;
    let mine_id = mine["id"].as_str().unwrap().to_string();
    assert!(
        wait_for_event(&mut rep_stream, &mine_id).await,
        "the rep hears their own deal"
    );
    // Handed from the owner to the rep, then from the rep back to the owner: both
    // changes reach the rep, who gains and then loses the card.
    let rep_id: String =
        sqlx::query_scalar("SELECT id::text FROM users WHERE email = 'rep@example.com'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, rep_stream.chunk()).await {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        !seen.contains(&secret_id),
        "the owner's deal leaked: {seen}"
    );
    sqlx::query("UPDATE deals SET owner_id = $1::uuid, version = version + 1 WHERE id = $2::uuid")
        .bind(&rep_id)
        .bind(&secret_id)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert!(wait_for_event(&mut rep_stream, &secret_id).await, "gained");
    sqlx::query(
        "UPDATE deals SET owner_id = (SELECT id FROM users WHERE email = 'ada@example.com'),
                version = version + 1 WHERE id = $1::uuid",
    )
    .bind(&secret_id)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    assert!(wait_for_event(&mut rep_stream, r#""v":3"#).await, "lost");
}

#[tokio::test]
async fn live_streams_are_capped_and_end_with_their_session() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let path = "/events";
    let mut open = Vec::new();
    for i in 0..6 {
        let res = app.get(&owner, path).await;
        assert_eq!(res.status(), StatusCode::OK, "stream {i}");
        open.push(res);
    }
    let refused = app.get(&owner, path).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut last = app.get(&owner, path).await;
    assert_eq!(
        last.status(),
        StatusCode::OK,
        "a closed stream frees its place"
    );

    // Signing out everywhere (here: deleting the session rows, as a revocation does)
    // ends the open streams within a recheck.
    sqlx::query("DELETE FROM sessions")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let ended = loop {
        match tokio::time::timeout_at(deadline, last.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => break true,
            Err(_) => break false,
        }
    };
    assert!(ended, "the stream outlived its session");
}
