//! Inventory set-up against a real PostgreSQL: units and their types made by editors
//! with their first price, a bulk price change previewed and applied once, and a
//! deal's units held and priced into it.

use crate::common::*;
use crate::inventory::{deal, shop};
use crate::inventory_plans::project;
use app::inventory::api::HoldUnit;
use app::inventory::catalog::{CreateUnit, DeleteUnitType, GetCatalog, SaveUnitType};
use reqwest::StatusCode;
use serde_json::{json, Value};

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
