//! The public API's resources beyond records: pipelines, activities, lists and their
//! members, messages, sequences and enrolments, unit holds; and sorting and `expand=`
//! on lists. Another workspace's ids answer 404 everywhere.

use crate::api::body;
use crate::common::*;
use crate::outreach::world;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    json: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.api(method, path, token);
    if let Some(json) = json {
        req = req.json(&json);
    }
    let (status, _, value) = body(req.send().await.unwrap()).await;
    (status, value)
}

fn field(problem: &Value) -> Option<&str> {
    problem["field"].as_str()
}

async fn etag_of(app: &TestApp, path: &str, token: &str) -> String {
    let res = app.api(Method::GET, path, token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()["etag"].to_str().unwrap().to_string()
}

/// A PATCH made from the version `etag` names.
async fn patch_if(app: &TestApp, path: &str, token: &str, etag: &str, json: Value) -> StatusCode {
    app.api(Method::PATCH, path, token)
        .header("if-match", etag)
        .json(&json)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn activities_lists_pipelines_sorting_and_expansion() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app
        .api_key(
            &owner,
            "Sync",
            &[
                "leads:write",
                "deals:write",
                "activities:write",
                "lists:write",
                "pipelines:read",
            ],
        )
        .await;
    let (status, lead) = send(
        &app,
        Method::POST,
        "/leads",
        &token,
        Some(json!({ "name": "Hana Fathy", "email": "hana@example.com" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    let lead_id = lead["id"].as_str().unwrap().to_string();

    // Pipelines, with their stages in board order.
    let (status, pipelines) = send(&app, Method::GET, "/pipelines", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{pipelines}");
    let pipeline = &pipelines["data"][0];
    let stages = pipeline["stages"].as_array().unwrap();
    assert!(stages.len() >= 3, "{pipeline}");
    let positions: Vec<i64> = stages
        .iter()
        .map(|s| s["position"].as_i64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // A note and a task on the lead; an activity must name exactly one record.
    let (status, note) = send(
        &app,
        Method::POST,
        "/activities",
        &token,
        Some(json!({ "kind": "NOTE", "lead_id": lead_id, "body": "Wants a sea view" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(
        (note["kind"].as_str(), note["body"].as_str()),
        (Some("NOTE"), Some("Wants a sea view"))
    );
    let (status, task) = send(&app, Method::POST, "/activities", &token, Some(json!({ "kind": "TASK", "lead_id": lead_id, "subject": "Call back", "due_at": "2030-01-02T10:30:00Z" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    assert_eq!(task["due_at"], "2030-01-02T10:30:00Z");
    let (status, problem) = send(
        &app,
        Method::POST,
        "/activities",
        &token,
        Some(json!({ "kind": "NOTE", "body": "x" })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("lead_id"))
    );
    let (status, problem) = send(
        &app,
        Method::POST,
        "/activities",
        &token,
        Some(json!({ "kind": "NOTE", "lead_id": lead_id, "body": "  " })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );

    // A task is completed by PATCH; a note cannot be "done"; the system's entries stay.
    let task_path = format!("/activities/{}", task["id"].as_str().unwrap());
    let (status, done) = send(
        &app,
        Method::PATCH,
        &task_path,
        &token,
        Some(json!({ "done": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done["done_at"].is_string(), "{done}");
    let note_path = format!("/activities/{}", note["id"].as_str().unwrap());
    // An edit changes the ETag; an edit from the version before answers 412.
    let before = etag_of(&app, &note_path, &token).await;
    let status = patch_if(
        &app,
        &note_path,
        &token,
        &before,
        json!({ "body": "Wants a sea view, floor 12+" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let after = etag_of(&app, &note_path, &token).await;
    assert_ne!(before, after);
    let status = patch_if(
        &app,
        &note_path,
        &token,
        &before,
        json!({ "body": "stale" }),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, problem) = send(
        &app,
        Method::PATCH,
        &note_path,
        &token,
        Some(json!({ "done": true })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("done"))
    );
    let (status, listed) = send(
        &app,
        Method::GET,
        &format!("/activities?lead_id={lead_id}&kind=task"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let (status, with_lead) = send(
        &app,
        Method::GET,
        &format!("{note_path}?expand=lead"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{with_lead}");
    assert_eq!(with_lead["lead"]["name"], "Hana Fathy");
    let (status, _) = send(&app, Method::DELETE, &note_path, &token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, Method::GET, &note_path, &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A static list: made, filled, emptied.
    let (status, list) = send(
        &app,
        Method::POST,
        "/lists",
        &token,
        Some(json!({ "name": "Sea view", "entity": "LEAD" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    let list_path = format!("/lists/{}", list["id"].as_str().unwrap());
    let (status, problem) = send(
        &app,
        Method::POST,
        "/lists",
        &token,
        Some(json!({ "name": "Sea view", "entity": "LEAD" })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, added) = send(
        &app,
        Method::POST,
        &format!("{list_path}/members"),
        &token,
        Some(json!({ "record_ids": [lead_id, lead_id] })),
    )
    .await;
    assert_eq!(
        (status, added["added"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{added}"
    );
    let (status, problem) = send(
        &app,
        Method::POST,
        &format!("{list_path}/members"),
        &token,
        Some(json!({ "record_ids": [Uuid::now_v7()] })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("record_ids"))
    );
    let (_, members) = send(
        &app,
        Method::GET,
        &format!("{list_path}/members"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        members["data"][0]["id"].as_str(),
        Some(lead_id.as_str()),
        "{members}"
    );
    let (_, fetched) = send(&app, Method::GET, &list_path, &token, None).await;
    assert_eq!(fetched["members_count"], 1);
    let before = etag_of(&app, &list_path, &token).await;
    let status = patch_if(
        &app,
        &list_path,
        &token,
        &before,
        json!({ "name": "Sea view (spring)" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let status = patch_if(
        &app,
        &list_path,
        &token,
        &before,
        json!({ "name": "Stale" }),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (_, renamed) = send(&app, Method::GET, &list_path, &token, None).await;
    assert_eq!(renamed["name"], "Sea view (spring)");
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("{list_path}/members/{lead_id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, members) = send(
        &app,
        Method::GET,
        &format!("{list_path}/members"),
        &token,
        None,
    )
    .await;
    assert_eq!(members["data"].as_array().unwrap().len(), 0, "{members}");

    // Deals expand their stage and owner; lists sort by last change, and a cursor of
    // one order is refused by another.
    let ada: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let mut deals = Vec::new();
    for name in ["Villa 1", "Villa 2", "Villa 3"] {
        let (status, deal) = send(&app, Method::POST, "/deals", &token, Some(json!({ "pipeline_id": pipeline["id"], "name": name, "currency": "EGP", "owner_id": ada }))).await;
        assert_eq!(status, StatusCode::CREATED, "{deal}");
        deals.push(deal["id"].as_str().unwrap().to_string());
    }
    // The first one made changes last.
    let (status, _) = send(
        &app,
        Method::PATCH,
        &format!("/deals/{}", deals[0]),
        &token,
        Some(json!({ "name": "Villa 1 (sea)" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = send(
        &app,
        Method::GET,
        "/deals?sort=-updated_at&limit=2&expand=stage,owner",
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["data"][0]["id"].as_str(),
        Some(deals[0].as_str()),
        "{page}"
    );
    assert_eq!(page["data"][0]["stage"]["name"], stages[0]["name"]);
    assert_eq!(page["data"][0]["owner"]["email"], "ada@example.com");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, rest) = send(
        &app,
        Method::GET,
        &format!("/deals?sort=-updated_at&limit=2&starting_after={cursor}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest["data"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest["next_cursor"].is_null());
    let (status, problem) = send(
        &app,
        Method::GET,
        &format!("/deals?limit=2&starting_after={cursor}"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("starting_after"))
    );
    let (status, problem) = send(&app, Method::GET, "/deals?expand=unit", &token, None).await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("expand"))
    );
    let (status, problem) = send(&app, Method::GET, "/deals?sort=name", &token, None).await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("sort"))
    );
    let (status, oldest) = send(
        &app,
        Method::GET,
        "/deals?sort=created_at&limit=1",
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(oldest["data"][0]["id"].as_str(), Some(deals[0].as_str()));

    // Another workspace's key finds none of it, and cannot write to it.
    let other = app.signup("Bea", "bea@example.com", "Bravo").await;
    let theirs = app
        .api_key(
            &other,
            "Theirs",
            &["activities:write", "lists:write", "pipelines:read"],
        )
        .await;
    for path in [
        task_path.clone(),
        list_path.clone(),
        format!("/pipelines/{}", pipeline["id"].as_str().unwrap()),
        format!("{list_path}/members"),
    ] {
        let (status, _) = send(&app, Method::GET, &path, &theirs, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = send(
        &app,
        Method::PATCH,
        &task_path,
        &theirs,
        Some(json!({ "done": false })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        Method::POST,
        "/activities",
        &theirs,
        Some(json!({ "kind": "NOTE", "lead_id": lead_id, "body": "hi" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&app, Method::DELETE, &list_path, &theirs, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The list is still there for its own workspace, and deleting it keeps the lead.
    let (status, _) = send(&app, Method::DELETE, &list_path, &token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &app,
        Method::GET,
        &format!("/leads/{lead_id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Writes are audited as the key.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE action IN ('activity.updated', 'activity.deleted', 'list.deleted', 'list.member_removed')
            AND actor_api_key_id IS NOT NULL AND actor_user_id IS NULL",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audited, 5);
}

#[tokio::test]
async fn messages_sequences_and_enrolments() {
    let w = world().await;
    w.phone("Main", "1001", 100, 1).await;
    let template = w.wa_template("Hello", "Hello {{first_name}}").await;
    let sequence = w.sequence("Spring launch", "").await;
    w.step(sequence, template, 0, None).await;
    let leads = w.leads(3, true, false).await;
    let token = w
        .app
        .api_key(&w.admin, "Outreach", &["messages:write", "sequences:write"])
        .await;
    let app = &w.app;

    let (status, sequences) = send(app, Method::GET, "/sequences", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{sequences}");
    assert_eq!(
        sequences["data"][0]["steps"][0]["template_id"],
        json!(template)
    );

    let (status, report) = send(
        app,
        Method::POST,
        "/enrollments",
        &token,
        Some(json!({ "sequence_id": sequence, "lead_ids": [leads[0], leads[1]] })),
    )
    .await;
    assert_eq!(
        (status, report["enrolled"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{report}"
    );
    let (status, again) = send(
        app,
        Method::POST,
        "/enrollments",
        &token,
        Some(json!({ "sequence_id": sequence, "lead_ids": [leads[0]] })),
    )
    .await;
    assert_eq!(
        (status, again["enrolled"].as_u64()),
        (StatusCode::OK, Some(0)),
        "{again}"
    );
    assert_eq!(again["skipped"][0]["reason"], "in_sequence", "{again}");
    let (status, problem) = send(
        app,
        Method::POST,
        "/enrollments",
        &token,
        Some(json!({ "sequence_id": Uuid::now_v7(), "lead_ids": [leads[2]] })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("sequence_id"))
    );

    let (_, enrolments) = send(
        app,
        Method::GET,
        &format!(
            "/enrollments?sequence_id={sequence}&lead_id={}&expand=lead",
            leads[0]
        ),
        &token,
        None,
    )
    .await;
    let enrolment = &enrolments["data"][0];
    assert_eq!(enrolment["lead"]["id"], json!(leads[0]), "{enrolments}");
    let path = format!("/enrollments/{}", enrolment["id"].as_str().unwrap());
    let (status, paused) = send(app, Method::POST, &format!("{path}/pause"), &token, None).await;
    assert_eq!(
        (status, paused["status"].as_str()),
        (StatusCode::OK, Some("PAUSED")),
        "{paused}"
    );
    let (status, _) = send(app, Method::POST, &format!("{path}/pause"), &token, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, resumed) = send(app, Method::POST, &format!("{path}/resume"), &token, None).await;
    assert_eq!(resumed["status"], "ACTIVE");
    let (_, stopped) = send(app, Method::POST, &format!("{path}/stop"), &token, None).await;
    assert_eq!(stopped["status"], "STOPPED");

    // A message through the outbox: queued, then sent by the dispatcher.
    let (status, message) = send(
        app,
        Method::POST,
        "/messages",
        &token,
        Some(json!({ "lead_id": leads[2], "channel": "WHATSAPP", "template_id": template })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(
        (message["status"].as_str(), message["direction"].as_str()),
        (Some("QUEUED"), Some("OUT"))
    );
    assert!(w.dispatch().await >= 1);
    let message_path = format!("/messages/{}", message["id"].as_str().unwrap());
    let (_, sent) = send(app, Method::GET, &message_path, &token, None).await;
    assert_eq!(sent["status"], "SENT", "{sent}");
    let (_, listed) = send(
        app,
        Method::GET,
        &format!("/messages?lead_id={}&direction=out&expand=lead", leads[2]),
        &token,
        None,
    )
    .await;
    assert_eq!(listed["data"][0]["lead"]["id"], json!(leads[2]), "{listed}");
    let (status, problem) = send(
        app,
        Method::POST,
        "/messages",
        &token,
        Some(json!({ "lead_id": leads[2], "channel": "PIGEON", "body": "hi" })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("channel"))
    );

    // Another workspace reaches none of it.
    let other = w.other_tenant("bea@example.com", "Bravo").await;
    let theirs = app
        .api_key(
            &other.admin,
            "Theirs",
            &["messages:write", "sequences:write"],
        )
        .await;
    for p in [
        message_path.clone(),
        path.clone(),
        format!("/sequences/{sequence}"),
    ] {
        let (status, _) = send(app, Method::GET, &p, &theirs, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    }
    let (status, _) = send(app, Method::POST, &format!("{path}/resume"), &theirs, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        app,
        Method::POST,
        "/messages",
        &theirs,
        Some(json!({ "lead_id": leads[2], "channel": "WHATSAPP", "template_id": template })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A read-only key cannot send.
    let reader = app.api_key(&w.admin, "Reader", &["messages:read"]).await;
    let (status, _) = send(
        app,
        Method::POST,
        "/messages",
        &reader,
        Some(json!({ "lead_id": leads[2], "channel": "WHATSAPP", "template_id": template })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn units_are_held_and_released_in_the_name_of_the_deals_owner() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    for sql in [
        "INSERT INTO developers (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'Nile Developments')",
        "INSERT INTO projects (tenant_id, id, developer_id, name) SELECT $1, gen_random_uuid(), id, 'Towers' FROM developers WHERE tenant_id = $1",
        "INSERT INTO units (tenant_id, id, project_id, code, type_code, size_sqm, price_minor) SELECT $1, gen_random_uuid(), id, 'B-1201', 'APT_2BR', 112.5, 450000000 FROM projects WHERE tenant_id = $1",
    ] {
        sqlx::query(sql).bind(tenant).execute(&app.pools.owner).await.unwrap();
    }
    let unit: Uuid = sqlx::query_scalar("SELECT id FROM units WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let ada: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let token = app
        .api_key(
            &owner,
            "Portal",
            &["deals:write", "unit_holds:write", "units:read"],
        )
        .await;
    let pipeline: Uuid = sqlx::query_scalar("SELECT id FROM pipelines WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let (_, owned) = send(
        &app,
        Method::POST,
        "/deals",
        &token,
        Some(
            json!({ "pipeline_id": pipeline, "name": "Owned", "currency": "EGP", "owner_id": ada }),
        ),
    )
    .await;
    let (_, orphan) = send(
        &app,
        Method::POST,
        "/deals",
        &token,
        Some(json!({ "pipeline_id": pipeline, "name": "Nobody's", "currency": "EGP" })),
    )
    .await;

    let (status, problem) = send(
        &app,
        Method::POST,
        "/unit-holds",
        &token,
        Some(json!({ "unit_id": unit, "deal_id": orphan["id"] })),
    )
    .await;
    assert_eq!(
        (status, field(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("deal_id")),
        "{problem}"
    );
    let (status, hold) = send(
        &app,
        Method::POST,
        "/unit-holds",
        &token,
        Some(json!({ "unit_id": unit, "deal_id": owned["id"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    assert_eq!(hold["held_by"], json!(ada));
    assert!(hold["released_at"].is_null());
    let (_, seen) = send(&app, Method::GET, &format!("/units/{unit}"), &token, None).await;
    assert_eq!(seen["status"], "HELD");
    let (status, _) = send(
        &app,
        Method::POST,
        "/unit-holds",
        &token,
        Some(json!({ "unit_id": unit, "deal_id": owned["id"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let other = app.signup("Bea", "bea@example.com", "Bravo").await;
    let theirs = app.api_key(&other, "Theirs", &["unit_holds:write"]).await;
    let hold_path = format!("/unit-holds/{}", hold["id"].as_str().unwrap());
    let (status, _) = send(
        &app,
        Method::POST,
        &format!("{hold_path}/release"),
        &theirs,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, released) = send(
        &app,
        Method::POST,
        &format!("{hold_path}/release"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["release_reason"], "RELEASED");
    let (status, _) = send(
        &app,
        Method::POST,
        &format!("{hold_path}/release"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, holds) = send(
        &app,
        Method::GET,
        &format!("/unit-holds?unit_id={unit}&expand=unit,deal,owner"),
        &token,
        None,
    )
    .await;
    assert_eq!(holds["data"][0]["unit"]["code"], "B-1201", "{holds}");
    assert_eq!(holds["data"][0]["deal"]["name"], "Owned");
    assert_eq!(holds["data"][0]["owner"]["id"], json!(ada));
    let (_, seen) = send(&app, Method::GET, &format!("/units/{unit}"), &token, None).await;
    assert_eq!(seen["status"], "AVAILABLE");
}

#[tokio::test]
async fn the_reference_page_lists_every_operation_of_the_document_to_members_only() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let in_document: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let (status, reference) = app
        .call::<app::developers::api::GetApiReference>(&owner, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{reference}");
    let groups = reference["groups"].as_array().unwrap();
    let on_page: usize = groups
        .iter()
        .map(|g| g["operations"].as_array().unwrap().len())
        .sum();
    assert_eq!(on_page, in_document);
    let activities = groups.iter().find(|g| g["tag"] == "activities").unwrap();
    let create = activities["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["method"] == "POST")
        .unwrap();
    assert_eq!(create["path"], "/activities");
    let kind = create["body"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "kind")
        .unwrap();
    assert_eq!(kind["required"], true);
    assert!(kind["description"].as_str().unwrap().contains("NOTE"));

    let (status, _) = app
        .call::<app::developers::api::GetApiReference>(&app.client(), &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
