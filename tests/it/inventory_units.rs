//! Inventory, part three: reservations that follow the deal's stage, unit components,
//! and the `inventory` grant an admin gives a member.

use crate::common::*;
use crate::inventory::{deal, shop};
use app::crm::board::api::MoveDeal;
use app::inventory::api::{GetUnit, HoldUnit};
use app::inventory::catalog::{GetCatalog, SaveHoldPolicy, SaveUnitType};
use app::inventory::components::{AddUnitComponent, DeleteUnitComponent};
use app::team::api::{GetTeam, SetInventoryGrant};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn scalar<T>(app: &TestApp, sql: &str, id: Uuid) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

async fn unit_status(app: &TestApp, unit: Uuid) -> String {
    scalar(app, "SELECT status FROM units WHERE id = $1", unit).await
}

/// Moves a deal to the tenant's stage of that name, as the board does.
async fn move_to(app: &TestApp, client: &reqwest::Client, deal: Uuid, stage: &str) {
    let (stage_id, version): (Uuid, i32) = sqlx::query_as(
        "SELECT s.id, d.version FROM deals d JOIN stages s ON s.pipeline_id = d.pipeline_id
          WHERE d.id = $1 AND s.name = $2",
    )
    .bind(deal)
    .bind(stage)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    let (status, body) = app
        .call_json::<MoveDeal>(
            client,
            &json!({ "change": {
                "deal_id": deal, "version": version, "stage_id": stage_id,
                "after_id": null, "lost_reason": null,
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stage}: {body}");
}

#[tokio::test]
async fn a_deal_at_a_committed_stage_reserves_its_units_and_moving_back_holds_them_again() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let unit = shop.unit.to_string();
    let sale = deal(&app, shop.tenant, "ada@example.com", "Tower sale").await;
    let (status, detail) = app
        .call::<HoldUnit>(
            &owner,
            &[("unit_id", &unit), ("deal_id", &sale.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["hold"]["reserved"], false);

    // Proposal (50 %) is below the default 75 %: still a hold. Negotiation (75 %)
    // reserves the unit, and a reservation neither lapses nor is reminded.
    move_to(&app, &owner, sale, "Proposal").await;
    assert_eq!(unit_status(&app, shop.unit).await, "HELD");
    move_to(&app, &owner, sale, "Negotiation").await;
    assert_eq!(unit_status(&app, shop.unit).await, "RESERVED");
    let (_, detail) = app.call::<GetUnit>(&owner, &[("id", &unit)]).await;
    assert_eq!(detail["hold"]["reserved"], true, "{detail}");
    assert!(
        detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "RESERVED" && e["deal"] == "Tower sale"),
        "{detail}"
    );
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let swept = app::inventory::ssr::sweep_holds(&app.pools.app, later)
        .await
        .unwrap();
    assert_eq!(swept, (0, 0));
    assert_eq!(unit_status(&app, shop.unit).await, "RESERVED");

    // Back to Proposal: held again, with at least a fresh hold period.
    move_to(&app, &owner, sale, "Proposal").await;
    assert_eq!(unit_status(&app, shop.unit).await, "HELD");
    let left: f64 = scalar(
        &app,
        "SELECT (extract(epoch FROM expires_at - now()) / 3600)::float8 FROM unit_holds
          WHERE unit_id = $1 AND released_at IS NULL",
        shop.unit,
    )
    .await;
    assert!(left > 47.0, "{left} h left");

    // The threshold is the workspace's: at 50 % a hold for a deal already at Proposal
    // is a reservation at once; blank turns reservations off.
    for (value, ok) in [("0", false), ("100", false), ("x", false), ("50", true)] {
        let (status, body) = app
            .call::<SaveHoldPolicy>(
                &owner,
                &[
                    ("hours", "48"),
                    ("reminder_hours", "6"),
                    ("reserve_at", value),
                ],
            )
            .await;
        if ok {
            assert_eq!(status, StatusCode::OK, "{body}");
        } else {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{value}: {body}");
            assert_eq!(error_field(&body), Some("reserve_at"));
        }
    }
    let (_, catalog) = app.call::<GetCatalog>(&owner, &[]).await;
    assert_eq!(catalog["reserve_at"], 50);
    let villa = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO units (tenant_id, id, project_id, code, type_code, price_minor)
         SELECT tenant_id, $2, project_id, 'V-1', 'VILLA_4BR', 100 FROM units WHERE id = $1",
    )
    .bind(shop.unit)
    .bind(villa)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let second = deal(&app, shop.tenant, "ada@example.com", "Villa sale").await;
    move_to(&app, &owner, second, "Proposal").await;
    app.call::<HoldUnit>(
        &owner,
        &[
            ("unit_id", &villa.to_string()),
            ("deal_id", &second.to_string()),
        ],
    )
    .await;
    assert_eq!(unit_status(&app, villa).await, "RESERVED");

    // Blank means never.
    app.call::<SaveHoldPolicy>(
        &owner,
        &[("hours", "48"), ("reminder_hours", "6"), ("reserve_at", "")],
    )
    .await;
    let (_, catalog) = app.call::<GetCatalog>(&owner, &[]).await;
    assert_eq!(catalog["reserve_at"], Value::Null);
    move_to(&app, &owner, sale, "Negotiation").await;
    assert_eq!(unit_status(&app, shop.unit).await, "HELD");

    // A reserved unit is sold with its deal, and released when it is lost.
    move_to(&app, &owner, second, "Closed").await;
    assert_eq!(unit_status(&app, villa).await, "SOLD");
}

#[tokio::test]
async fn components_are_measured_listed_and_kept_by_editors_only() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let unit = shop.unit.to_string();
    let add = |client: reqwest::Client, fields: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let fields: Vec<(String, String)> = fields
                .into_iter()
                .map(|(k, v)| (format!("input[{k}]"), v))
                .collect();
            let refs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            app.call::<AddUnitComponent>(&client, &refs).await
        }
    };
    let room = |ty: &str, label: &str, l: &str, w: &str, area: &str| {
        vec![
            ("unit_id", unit.clone()),
            ("type_code", ty.to_string()),
            ("label", label.to_string()),
            ("length_m", l.to_string()),
            ("width_m", w.to_string()),
            ("area_sqm", area.to_string()),
        ]
    };
    // Area is length × width unless given; the label defaults to the type's.
    let (status, body) = add(
        owner.clone(),
        room("ROOM_BED", "Master bedroom", "4.2", "3,5", ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = add(owner.clone(), room("KITCHEN_STD", "", "", "", "9")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["label"], "Master bedroom");
    assert_eq!(items[0]["area_sqm"], 14.7);
    assert_eq!(items[0]["type_label"], "Bedroom");
    assert_eq!(items[1]["label"], "Kitchen");
    assert_eq!(items[1]["area_sqm"], 9.0);
    assert_eq!(items[1]["length_m"], Value::Null);

    // Each bad field is named: a unit type is no component type.
    for (fields, field) in [
        (room("APT_2BR", "", "4", "3", ""), "type_code"),
        (room("ROOM_BED", "", "four", "3", ""), "length_m"),
        (room("ROOM_BED", "", "4", "-3", ""), "width_m"),
        (room("ROOM_BED", "", "4", "3", "0"), "area_sqm"),
        (room("ROOM_BED", &"x".repeat(61), "4", "3", ""), "label"),
    ] {
        let (status, body) = add(owner.clone(), fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }

    // The unit's page carries them; a rep reads them and changes nothing.
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (_, detail) = app.call::<GetUnit>(&rep, &[("id", &unit)]).await;
    assert_eq!(detail["components"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(detail["components"]["can_edit"], false);
    assert_eq!(detail["components"]["types"], json!([]));
    let (status, _) = add(rep.clone(), room("ROOM_BED", "", "4", "3", "")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let first = items[0]["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .call::<DeleteUnitComponent>(&rep, &[("id", &first)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another workspace can neither add to this unit nor delete from it.
    let stranger = app.signup("Eve", "eve@example.com", "Evil").await;
    let (status, _) = add(stranger.clone(), room("ROOM_BED", "", "4", "3", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call::<DeleteUnitComponent>(&stranger, &[("id", &first)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = app
        .call::<DeleteUnitComponent>(&owner, &[("id", &first)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let audited: i64 = scalar(
        &app,
        "SELECT count(*) FROM audit_logs WHERE entity_id = $1 AND action LIKE 'unit.component_%'",
        shop.unit,
    )
    .await;
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn an_admin_grants_plan_editing_to_a_member_and_takes_it_back() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let manager = app
        .invite_and_join(&owner, "max@example.com", "MANAGER")
        .await;
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let membership: Uuid = sqlx::query_scalar(
        "SELECT m.id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'max@example.com'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    let id = membership.to_string();
    let save_type = |client: reqwest::Client| {
        let app = &app;
        async move {
            app.call::<SaveUnitType>(
                &client,
                &[
                    ("code", "PENTHOUSE"),
                    ("label", "Penthouse"),
                    ("kind", "UNIT"),
                ],
            )
            .await
            .0
        }
    };
    assert_eq!(save_type(manager.clone()).await, StatusCode::FORBIDDEN);
    let (_, catalog) = app.call::<GetCatalog>(&manager, &[]).await;
    assert_eq!(catalog["can_edit"], false);

    // Only those who manage the team grant, and only within their workspace.
    let (status, _) = app
        .call::<SetInventoryGrant>(&rep, &[("membership_id", &id), ("granted", "true")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let stranger = app.signup("Eve", "eve@example.com", "Evil").await;
    let (status, _) = app
        .call::<SetInventoryGrant>(&stranger, &[("membership_id", &id), ("granted", "true")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = app
        .call::<SetInventoryGrant>(&owner, &[("membership_id", &id), ("granted", "true")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(save_type(manager.clone()).await, StatusCode::OK);
    let (_, catalog) = app.call::<GetCatalog>(&manager, &[]).await;
    assert_eq!(catalog["can_edit"], true);
    let (_, team) = app.call::<GetTeam>(&owner, &[]).await;
    let max = team["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "max@example.com")
        .unwrap();
    assert_eq!(max["inventory_grant"], true, "{team}");
    // Granting twice changes nothing and records nothing more.
    app.call::<SetInventoryGrant>(&owner, &[("membership_id", &id), ("granted", "true")])
        .await;
    let grants: Vec<String> = scalar(
        &app,
        "SELECT grants FROM memberships WHERE id = $1",
        membership,
    )
    .await;
    assert_eq!(grants, ["inventory"]);

    let (status, _) = app
        .call::<SetInventoryGrant>(&owner, &[("membership_id", &id), ("granted", "false")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(save_type(manager.clone()).await, StatusCode::FORBIDDEN);
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_logs WHERE entity_id = $1 AND action LIKE 'team.grant_%' ORDER BY created_at",
    )
    .bind(membership)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audited, ["team.grant_given", "team.grant_taken"]);
}

/// A unit as the import test reads it back: code, type, floor, size, price, status.
type UnitLine = (String, String, Option<i32>, Option<f64>, i64, String);

/// Sends a spreadsheet to the units import: a preview, or with `token` the import.
async fn import(
    app: &TestApp,
    client: &reqwest::Client,
    project: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut query = vec![("project_id", project)];
    if let Some(token) = token {
        query.push(("token", token));
    }
    let res = client
        .post(format!("{}/inventory/units/import", app.base))
        .query(&query)
        .header("sec-fetch-site", "same-origin")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_spreadsheet_of_units_is_previewed_then_applied_exactly_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let project: Uuid = scalar(
        &app,
        "SELECT project_id FROM units WHERE id = $1",
        shop.unit,
    )
    .await;
    let project = project.to_string();

    // Semicolons and decimal commas, as Excel writes where the comma is the decimal
    // mark; a header we do not know is ignored. B-1204 exists: its price changes.
    let file = "Unit No.;Type;Floor;Area (m²);Beds;Price;Notes\n\
                B-1204;APT_2BR;12;118;2;4.500.000;corner\n\
                B-1205;Apartment, 2 bedrooms;12;120,5;2;4,400,000;\n\
                B-1206;APT_3BR;G;150;3;6100000;\n";
    let file = file.replace("4.500.000", "4500000");
    let (status, preview) = import(&app, &owner, &project, None, &file).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        (
            preview["rows"].as_u64(),
            preview["create"].as_u64(),
            preview["update"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{preview}"
    );
    assert_eq!(preview["price_changes"], 1);
    assert_eq!(preview["error_count"], 0, "{preview}");
    assert_eq!(preview["columns"][6], json!(["Notes", null]));
    assert_eq!(preview["applied"], false);
    let units: i64 = scalar(
        &app,
        "SELECT count(*) FROM units WHERE project_id = $1",
        project.parse().unwrap(),
    )
    .await;
    assert_eq!(units, 1, "a preview writes nothing");

    // Applied with its token: two units made, one repriced with its history, all in
    // one audited operation.
    let token = preview["token"].as_str().unwrap().to_string();
    let (status, done) = import(&app, &owner, &project, Some(&token), &file).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["applied"], true);
    let rows: Vec<UnitLine> = sqlx::query_as(
        "SELECT code, type_code, floor, size_sqm::float8, price_minor, status FROM units
          WHERE tenant_id = $1 ORDER BY code",
    )
    .bind(shop.tenant)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                "B-1204".into(),
                "APT_2BR".into(),
                Some(12),
                Some(118.0),
                450_000_000,
                "AVAILABLE".into()
            ),
            (
                "B-1205".into(),
                "APT_2BR".into(),
                Some(12),
                Some(120.5),
                440_000_000,
                "AVAILABLE".into()
            ),
            (
                "B-1206".into(),
                "APT_3BR".into(),
                Some(0),
                Some(150.0),
                610_000_000,
                "AVAILABLE".into()
            ),
        ]
    );
    let history: i64 = scalar(
        &app,
        "SELECT count(*) FROM unit_price_history WHERE tenant_id = $1 AND reason = 'Spreadsheet import'",
        shop.tenant,
    )
    .await;
    assert_eq!(history, 3);
    let audited: i64 = scalar(
        &app,
        "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'units.imported'",
        shop.tenant,
    )
    .await;
    assert_eq!(audited, 1);

    // The same token again: the units changed since, so it is refused, not applied twice.
    let (status, body) = import(&app, &owner, &project, Some(&token), &file).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, again) = import(&app, &owner, &project, None, &file).await;
    assert_eq!(
        (again["create"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(3))
    );

    // Each bad row is listed by line, and nothing is applied while any is.
    let held = deal(&app, shop.tenant, "ada@example.com", "Tower sale").await;
    app.call::<HoldUnit>(
        &owner,
        &[
            ("unit_id", &shop.unit.to_string()),
            ("deal_id", &held.to_string()),
        ],
    )
    .await;
    let bad = "code,type,price,floor,status\n\
               B-1301,PENTHOUSE,100,13,\n\
               B-1302,APT_1BR,,13,\n\
               B-1303,APT_1BR,lots,13,\n\
               B-1304,APT_1BR,100,roof,\n\
               B-1305,APT_1BR,100,13,SOLD\n\
               B-1204,,,,Available\n\
               B-1306,APT_1BR,100,13,\n\
               B-1306,APT_1BR,100,13,\n";
    let (status, preview) = import(&app, &owner, &project, None, bad).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let lines: Vec<u64> = preview["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 9], "{preview}");
    let messages = preview["errors"].to_string();
    for part in [
        "PENTHOUSE",
        "needs a Price",
        "\\\"lots\\\"",
        "\\\"roof\\\"",
        "Available or Blocked",
        "follows its deal",
        "already on line 8",
    ] {
        assert!(messages.contains(part), "{part} in {messages}");
    }
    let token = preview["token"].as_str().unwrap().to_string();
    let (status, body) = import(&app, &owner, &project, Some(&token), bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("file"));

    // A file without a code column, one that is no spreadsheet, and one too large.
    let (status, body) = import(&app, &owner, &project, None, "name,price\nx,1\n").await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file"))
    );
    let (status, body) = import(&app, &owner, &project, None, "").await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file"))
    );
    let huge = format!("code,type,price\n{}", "B-1,APT_1BR,1\n".repeat(200_000));
    let (status, body) = import(&app, &owner, &project, None, &huge).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file")),
        "{body}"
    );

    // A rep may not import; another workspace's project is not found.
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (status, _) = import(&app, &rep, &project, None, &file).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let stranger = app.signup("Eve", "eve@example.com", "Evil").await;
    let (status, body) = import(&app, &stranger, &project, None, &file).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("project_id"));
    let (status, _) = import(&app, &app.client(), &project, None, &file).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_large_plan_offers_its_list_of_units_instead_of_drawing_it() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let page = |client: reqwest::Client| {
        let app = &app;
        let path = format!("/inventory/plans/{}", shop.plan);
        async move { app.get(&client, &path).await.text().await.unwrap() }
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
            let res = client
                .post(format!("{}/inventory/projects/cover", app.base))
                .query(&[("project_id", project)])
                .header("sec-fetch-site", "same-origin")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
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
    // Another workspace's member gets nothing.
    let res = app.get(&stranger, &url).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_status_change_is_on_the_units_page_whatever_made_it() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let unit = shop.unit.to_string();
    let project: Uuid = scalar(
        &app,
        "SELECT project_id FROM units WHERE id = $1",
        shop.unit,
    )
    .await;
    let project = project.to_string();
    // A hold by a member, its lapse by the sweep, then a block from a spreadsheet.
    let sale = deal(&app, shop.tenant, "ada@example.com", "Tower sale").await;
    app.call::<HoldUnit>(
        &owner,
        &[("unit_id", &unit), ("deal_id", &sale.to_string())],
    )
    .await;
    let lapse = chrono::Utc::now() + chrono::Duration::days(3);
    app::inventory::ssr::sweep_holds(&app.pools.app, lapse)
        .await
        .unwrap();
    let file = "code,status\nB-1204,Blocked\n";
    let (_, preview) = import(&app, &owner, &project, None, file).await;
    let token = preview["token"].as_str().unwrap().to_string();
    let (status, body) = import(&app, &owner, &project, Some(&token), file).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, detail) = app.call::<GetUnit>(&owner, &[("id", &unit)]).await;
    let events: Vec<(String, String, Value)> = detail["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from_status"].as_str().unwrap().to_string(),
                e["to_status"].as_str().unwrap().to_string(),
                e["by"].clone(),
            )
        })
        .collect();
    // Newest first; the sweep's change is dated by its clock, three days ahead.
    let expected = [
        ("HELD", "AVAILABLE", Value::Null),
        ("AVAILABLE", "BLOCKED", json!("Ada")),
        ("AVAILABLE", "HELD", json!("Ada")),
    ];
    assert_eq!(events.len(), 3, "{detail}");
    for (from, to, by) in expected {
        assert!(
            events.contains(&(from.to_string(), to.to_string(), by.clone())),
            "{from} → {to} by {by} in {events:?}"
        );
    }
}
