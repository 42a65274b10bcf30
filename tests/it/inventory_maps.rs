//! Inventory on plans: a large plan's list on request, shapes for single rooms, and
//! projects' cover pictures.

use crate::common::*;
use crate::inventory::shop;
use crate::inventory_units::scalar;
use app::inventory::components::{AddUnitComponent, DeleteUnitComponent};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test]
async fn a_large_plan_offers_its_list_of_units_instead_of_drawing_it() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let page = |client: reqwest::Client| {
        let app = &app;
        let path = format!("/inventory/plans/{}", shop.plan);
        async move { app.page(&client, &path).await.1 }
    };
    // Units 2 to `n` drawn as 10 × 10 px squares in rows of 90 on the 1000 × 800 plan.
    let draw = |from: i32, to: i32| {
        sqlx::query(
            "WITH made AS (
                 INSERT INTO units (tenant_id, id, project_id, code, type_code, price_minor)
                 SELECT u.tenant_id, gen_random_uuid(), u.project_id, 'S-' || n, 'APT_1BR', 100
                   FROM units u, generate_series($2::int, $3::int) n WHERE u.id = $1
                 RETURNING tenant_id, id, code)
             INSERT INTO map_shapes (tenant_id, id, plan_id, unit_id, geometry)
             SELECT m.tenant_id, gen_random_uuid(), $4, m.id,
                    jsonb_build_object('type', 'Polygon', 'coordinates', jsonb_build_array(jsonb_build_array(
                        jsonb_build_array(x, y), jsonb_build_array(x + 10, y), jsonb_build_array(x + 10, y + 10),
                        jsonb_build_array(x, y + 10), jsonb_build_array(x, y))))
               FROM made m, LATERAL (SELECT substr(m.code, 3)::int AS k) k,
                    LATERAL (SELECT 5 + (k.k % 90) * 11 AS x, 5 + (k.k / 90) * 11 AS y) xy",
        )
        .bind(shop.unit)
        .bind(from)
        .bind(to)
        .bind(shop.plan)
    };
    draw(1, 300).execute(&app.pools.owner).await.unwrap();
    let html = page(owner.clone()).await;
    assert!(
        html.contains("data-testid=\"plan-list\""),
        "300 units are listed"
    );
    assert!(html.contains("S-300"));
    assert!(!html.contains("Show the list of units"));

    draw(301, 301).execute(&app.pools.owner).await.unwrap();
    let html = page(owner.clone()).await;
    assert!(
        !html.contains("data-testid=\"plan-list\""),
        "301 units wait to be asked for"
    );
    assert!(html.contains("Show the list of units (301)"));
    // Every shape is still there and named for the keyboard.
    assert_eq!(html.matches("data-testid=\"plan-shape\"").count(), 301);
}

#[tokio::test]
async fn a_shape_stands_for_a_room_of_its_unit_and_each_room_is_drawn_once() {
    use app::inventory::api::{GetPlan, SaveShape};
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let unit = shop.unit.to_string();
    let mut rooms = Vec::new();
    for label in ["Bedroom 1", "Bedroom 2"] {
        let (status, body) = app
            .call::<AddUnitComponent>(
                &owner,
                &[
                    ("input[unit_id]", unit.as_str()),
                    ("input[type_code]", "ROOM_BED"),
                    ("input[label]", label),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        rooms = body["items"].as_array().unwrap().clone();
    }
    let (bed1, bed2) = (rooms[0]["id"].clone(), rooms[1]["id"].clone());
    // Another unit's room.
    let other_room: Uuid = sqlx::query_scalar(
        "WITH u AS (INSERT INTO units (tenant_id, id, project_id, code, type_code, price_minor)
                    SELECT tenant_id, gen_random_uuid(), project_id, 'B-1205', 'APT_1BR', 1 FROM units WHERE id = $1
                    RETURNING tenant_id, id)
         INSERT INTO unit_components (tenant_id, id, unit_id, type_code, label)
         SELECT tenant_id, gen_random_uuid(), id, 'ROOM_BED', 'Bedroom' FROM u RETURNING id",
    )
    .bind(shop.unit)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    let save = |unit: Value, component: Value, x: f64| {
        let body = json!({
            "plan_id": shop.plan, "shape_id": null, "unit_id": unit, "component_id": component,
            "label": "", "version": 0,
            "points": [[x, 100.0], [x + 50.0, 100.0], [x + 50.0, 150.0], [x, 150.0]],
        });
        let (app, owner) = (&app, &owner);
        async move { app.call_json::<SaveShape>(owner, &body).await }
    };
    let u = json!(shop.unit);
    for (component, x) in [
        (bed1.clone(), 100.0),
        (bed2.clone(), 200.0),
        (Value::Null, 300.0),
    ] {
        let (status, body) = save(u.clone(), component, x).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The whole unit once, each room once; a room of another unit, or without its
    // unit, is refused on the component.
    for (unit, component, field) in [
        (u.clone(), Value::Null, "unit_id"),
        (u.clone(), bed1.clone(), "component_id"),
        (u.clone(), json!(other_room), "component_id"),
        (Value::Null, bed2.clone(), "component_id"),
    ] {
        let (status, body) = save(unit, component, 400.0).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let (_, plan) = app
        .call::<GetPlan>(&owner, &[("id", &shop.plan.to_string())])
        .await;
    let parts: Vec<&Value> = plan["shapes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["component"].as_array().map(|c| &c[1]))
        .collect();
    assert_eq!(parts, [&json!("Bedroom 1"), &json!("Bedroom 2")], "{plan}");

    // A room deleted leaves its shape drawn and unlinked.
    let (status, _) = app
        .call::<DeleteUnitComponent>(&owner, &[("id", bed1.as_str().unwrap())])
        .await;
    assert_eq!(status, StatusCode::OK);
    let unlinked: i64 = scalar(
        &app,
        "SELECT count(*) FROM map_shapes WHERE plan_id = $1 AND unit_id IS NULL AND component_id IS NULL",
        shop.plan,
    )
    .await;
    assert_eq!(unlinked, 1);
}

#[tokio::test]
async fn a_project_cover_is_checked_replaced_and_shown_to_its_tenant_only() {
    use app::inventory::api::GetPlan;
    let files = app::files::FileStore::memory();
    let store = files.clone();
    let app = TestApp::spawn_with(move |config| config.files = store).await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let project: Uuid = scalar(
        &app,
        "SELECT project_id FROM units WHERE id = $1",
        shop.unit,
    )
    .await;
    let upload = |client: reqwest::Client, project: String, body: Vec<u8>| {
        let app = &app;
        async move {
            app.post_raw(
                &client,
                "/inventory/projects/cover",
                &[("project_id", &project)],
                body,
            )
            .await
        }
    };
    // Not a picture, and not this workspace's project.
    let (status, body) = upload(owner.clone(), project.to_string(), b"%PDF-1.7".to_vec()).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file"))
    );
    let stranger = app.signup("Eve", "eve@example.com", "Evil").await;
    let png = crate::inventory_plans::tiny_png();
    let (status, body) = upload(stranger.clone(), project.to_string(), png.clone()).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("project_id"))
    );
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (status, _) = upload(rep.clone(), project.to_string(), png.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Uploaded twice: the second replaces the first, in the store too.
    let (status, first) = upload(owner.clone(), project.to_string(), png.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, second) = upload(owner.clone(), project.to_string(), png.clone()).await;
    let url = second["url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("/files/projects/{project}/cover?v=2"));
    let (_, plan) = app
        .call::<GetPlan>(&rep, &[("id", &shop.plan.to_string())])
        .await;
    assert_eq!(plan["project_cover"], json!(url));
    let res = app.get(&rep, &url).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), png);
    let key = |n: i32| format!("tenants/{}/projects/{project}/cover-{n}.png", shop.tenant);
    assert!(
        files.get(&key(1)).await.unwrap().is_none(),
        "the replaced cover is removed"
    );
    assert!(files.get(&key(2)).await.unwrap().is_some());
    // Counted once in the workspace's storage, however often it was replaced.
    let (_, overview) = app
        .call::<app::billing::api::BillingOverview>(&owner, &[])
        .await;
    let storage = usage_of(&overview, "Storage");
    let plans: i64 = scalar(
        &app,
        "SELECT coalesce(sum(file_bytes), 0)::bigint FROM floor_plans WHERE tenant_id = $1",
        shop.tenant,
    )
    .await;
    assert_eq!(storage["used"], json!(plans + png.len() as i64));
    // Another workspace's member gets nothing.
    let res = app.get(&stranger, &url).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
