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

pub(crate) async fn scalar<T>(app: &TestApp, sql: &str, id: Uuid) -> T
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
