//! Inventory: units from a spreadsheet, previewed and applied once, and every status
//! change on the unit's page whatever made it (an import among them).

use crate::common::*;
use crate::inventory::{deal, shop};
use crate::inventory_units::scalar;
use app::inventory::api::{GetUnit, HoldUnit};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

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
    app.post_raw(client, "/inventory/units/import", &query, body.to_string())
        .await
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
