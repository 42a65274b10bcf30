//! The public API beyond plain records: deals created in a pipeline and moved between
//! stages, units read, review items listed and decided.

use crate::api::body;
use crate::common::*;
use app::developers::objects::Deal;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn deals_are_created_in_a_pipeline_and_moved_between_stages() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app.api_key(&owner, "ERP", &["deals:write"]).await;
    let tenant = app.tenant_of("ada@example.com").await;
    let stages: Vec<(uuid::Uuid, uuid::Uuid, String)> = sqlx::query_as(
        "SELECT s.pipeline_id, s.id, s.kind FROM stages s WHERE s.tenant_id = $1 ORDER BY s.position",
    )
    .bind(tenant)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    let (pipeline, first, _) = stages[0].clone();
    let (status, _, created) = body(
        app.api(Method::POST, "/deals", &token)
            .json(
                &json!({ "pipeline_id": pipeline, "name": "Villa 12", "amount_minor": 1_250_050,
                           "currency": "EGP" }),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let deal: Deal = serde_json::from_value(created).expect("the documented shape");
    assert_eq!(
        (deal.stage_id, deal.amount_minor, deal.currency.as_str()),
        (first, 1_250_050, "EGP")
    );
    let next = stages
        .iter()
        .find(|(_, id, kind)| *id != first && kind == "OPEN")
        .unwrap()
        .1;
    let path = format!("/deals/{}/move", deal.id);
    let (status, _, moved) = body(
        app.api(Method::POST, &path, &token)
            .json(&json!({ "stage_id": next, "version": deal.version }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["stage_id"], json!(next));
    // The version it named is now stale.
    let (status, _, _) = body(
        app.api(Method::POST, &path, &token)
            .json(&json!({ "stage_id": first, "version": deal.version }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, problem) = body(
        app.api(Method::PATCH, &format!("/deals/{}", deal.id), &token)
            .json(&json!({ "amount_minor": -5, "currency": "EGP" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("amount_minor"))
    );
}

#[tokio::test]
async fn units_are_read_and_review_items_decided_through_the_api() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    for sql in [
        "INSERT INTO developers (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'Nile Developments')",
        "INSERT INTO projects (tenant_id, id, developer_id, name) SELECT $1, gen_random_uuid(), id, 'Towers' FROM developers WHERE tenant_id = $1",
        "INSERT INTO units (tenant_id, id, project_id, code, type_code, size_sqm, price_minor) SELECT $1, gen_random_uuid(), id, 'B-1201', 'APT_2BR', 112.5, 450000000 FROM projects WHERE tenant_id = $1",
        "INSERT INTO leads (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'Hana')",
        "INSERT INTO review_items (tenant_id, id, lead_id, reason, priority, sla_due_at) SELECT $1, gen_random_uuid(), id, 'MANUAL', 'HIGH', now() + interval '1 hour' FROM leads WHERE tenant_id = $1",
    ] {
        sqlx::query(sql).bind(tenant).execute(&app.pools.owner).await.unwrap();
    }
    // Units have no write scope: asking for one is refused by field.
    let (status, refused) = app
        .call_json::<app::developers::api::CreateApiKey>(
            &owner,
            &json!({ "input": { "name": "x", "scopes": ["units:write"], "expires_in_days": 30, "allowed_ips": "" } }),
        )
        .await;
    assert_eq!(
        (status, error_field(&refused)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("scopes"))
    );
    let token = app
        .api_key(&owner, "Portal", &["units:read", "review_items:write"])
        .await;

    let (status, _, page) =
        body(app.api(Method::GET, "/units", &token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let unit: app::developers::objects::Unit =
        serde_json::from_value(page["data"][0].clone()).expect("the documented shape");
    assert_eq!(
        (unit.code.as_str(), unit.status.as_str()),
        ("B-1201", "AVAILABLE")
    );
    assert_eq!(unit.size_sqm, Some(112.5));
    let (status, _, _) = body(
        app.api(Method::GET, &format!("/units/{}", unit.id), &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Units have no tags or owners to filter by: said so, not a 500.
    let (status, _, problem) = body(
        app.api(Method::GET, "/units?tag=sea", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("tag"))
    );

    let (_, _, queue) = body(
        app.api(Method::GET, "/review-items?status=pending", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let item: app::developers::objects::ReviewItem =
        serde_json::from_value(queue["data"][0].clone()).expect("the documented shape");
    assert_eq!(item.status, "PENDING");
    let decide = format!("/review-items/{}/decide", item.id);
    let (status, _, problem) = body(
        app.api(Method::POST, &decide, &token)
            .json(&json!({ "action": "correct", "intent": "MAYBE" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("intent"))
    );
    let (status, _, decided) = body(
        app.api(Method::POST, &decide, &token)
            .json(&json!({ "action": "ignore" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(
        (decided["status"].as_str(), decided["resolution"].as_str()),
        (Some("RESOLVED"), Some("IGNORED"))
    );
    let (status, _, _) = body(
        app.api(Method::POST, &decide, &token)
            .json(&json!({ "action": "escalate" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a resolved item stays resolved"
    );
    // Read-only on units means no review decisions for a units-only key.
    let reader = app.api_key(&owner, "Reader", &["units:read"]).await;
    let (status, _, _) = body(
        app.api(Method::POST, &decide, &reader)
            .json(&json!({ "action": "ignore" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
