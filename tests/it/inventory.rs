//! Inventory against a real PostgreSQL: holds that never double-book, hold expiry,
//! deals that sell or release their units, price history, and shapes on plans.

use crate::common::*;
use app::inventory::api::{
    GetPlan, GetUnit, HoldUnit, ListUnits, ReleaseUnit, SaveShape, SetUnitPrice,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) struct Shop {
    pub tenant: Uuid,
    pub unit: Uuid,
    pub plan: Uuid,
}

/// A project with one available unit on a 1000 × 800 px plan (10 cm a pixel).
pub(crate) async fn shop(app: &TestApp, email: &str) -> Shop {
    let tenant = app.tenant_of(email).await;
    let (unit, plan) = (Uuid::now_v7(), Uuid::now_v7());
    let project = Uuid::now_v7();
    for (sql, id) in [
        ("INSERT INTO projects (tenant_id, id, name) VALUES ($1, $2, 'Nile Towers')", project),
        (
            "INSERT INTO units (tenant_id, id, project_id, code, type_code, floor, size_sqm, bedrooms, price_minor, currency)
             SELECT $1, $2, id, 'B-1204', 'APT_2BR', 12, 118, 2, 435000000, 'EGP' FROM projects WHERE tenant_id = $1",
            unit,
        ),
        (
            "INSERT INTO floor_plans (tenant_id, id, project_id, name, width_px, height_px, meters_per_px)
             SELECT $1, $2, id, 'Floor 12', 1000, 800, 0.1 FROM projects WHERE tenant_id = $1",
            plan,
        ),
    ] {
        sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .execute(&app.pools.owner)
            .await
            .unwrap();
    }
    Shop { tenant, unit, plan }
}

/// An open deal owned by `owner_email` in the tenant.
pub(crate) async fn deal(app: &TestApp, tenant: Uuid, owner_email: &str, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, position, owner_id)
         SELECT $1, $2, s.pipeline_id, s.id, $4, 1, (SELECT id FROM users WHERE email = $3)
           FROM stages s WHERE s.tenant_id = $1 AND s.position = 1",
    )
    .bind(tenant)
    .bind(id)
    .bind(owner_email)
    .bind(name)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    id
}

async fn unit_status(app: &TestApp, unit: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM units WHERE id = $1")
        .bind(unit)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn of_twenty_concurrent_holds_exactly_one_wins_and_the_rest_are_told_who() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    // Twenty deals, each asking for the same unit at the same moment.
    let mut clients = Vec::new();
    for i in 0..20 {
        let deal = deal(&app, shop.tenant, "ada@example.com", &format!("Deal {i}")).await;
        clients.push((owner.clone(), deal));
    }
    let attempts = clients.iter().map(|(client, deal)| {
        let app = &app;
        let unit = shop.unit.to_string();
        let deal = deal.to_string();
        async move {
            app.call::<HoldUnit>(client, &[("unit_id", &unit), ("deal_id", &deal)])
                .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let won = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(won, 1, "{results:?}");
    assert_eq!(refused.len(), 19, "{results:?}");
    assert!(
        refused
            .iter()
            .all(|b| b.to_string().contains("already holds this unit")),
        "{refused:?}"
    );
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM unit_holds WHERE released_at IS NULL")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(live, 1);
    assert_eq!(unit_status(&app, shop.unit).await, "HELD");
}

#[tokio::test]
async fn holds_lapse_deals_sell_or_release_and_only_the_holder_or_a_manager_releases() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let other_rep = app
        .invite_and_join(&owner, "tim@example.com", "SALES")
        .await;
    let sams = deal(&app, shop.tenant, "sam@example.com", "Sam's deal").await;
    let unit = shop.unit.to_string();
    // A rep holds only for their own deals.
    let adas = deal(&app, shop.tenant, "ada@example.com", "Ada's deal").await;
    let (status, _) = app
        .call::<HoldUnit>(&rep, &[("unit_id", &unit), ("deal_id", &adas.to_string())])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, detail) = app
        .call::<HoldUnit>(&rep, &[("unit_id", &unit), ("deal_id", &sams.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["hold"]["deal"], "Sam's deal");
    // Another rep may not release it; the owner (a manager and above) may.
    let (status, _) = app
        .call::<ReleaseUnit>(&other_rep, &[("unit_id", &unit)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call::<ReleaseUnit>(&owner, &[("unit_id", &unit)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unit_status(&app, shop.unit).await, "AVAILABLE");

    // Held again, and the hold lapses: the sweep puts it back on sale once.
    app.call::<HoldUnit>(&rep, &[("unit_id", &unit), ("deal_id", &sams.to_string())])
        .await;
    let expires: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT expires_at FROM unit_holds WHERE released_at IS NULL")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    let hours = (expires - chrono::Utc::now()).num_hours();
    assert!(
        (47..=48).contains(&hours),
        "the default hold is 48 h: {hours}"
    );
    let sweep = |at| app::inventory::ssr::sweep_holds(&app.pools.app, at);
    // Seven hours before the end nobody is told; six hours before, the holder is,
    // once; at the end the hold lapses.
    let hours = |h| chrono::Duration::hours(h);
    assert_eq!(sweep(expires - hours(7)).await.unwrap(), (0, 0));
    assert_eq!(sweep(expires - hours(6)).await.unwrap(), (1, 0));
    assert_eq!(
        sweep(expires - chrono::Duration::minutes(1)).await.unwrap(),
        (0, 0)
    );
    let told: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT n.kind, n.body, n.link FROM notifications n JOIN users u ON u.id = n.user_id
          WHERE u.email = 'sam@example.com' AND n.kind = 'HOLD_EXPIRING'",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].1.starts_with("Hold on B-1204 for Sam's deal ends "),
        "{told:?}"
    );
    assert_eq!(told[0].2, format!("/inventory/units/{unit}"));
    assert_eq!(sweep(expires).await.unwrap(), (0, 1));
    assert_eq!(unit_status(&app, shop.unit).await, "AVAILABLE");

    // A deal that is won sells its held unit; one that is lost releases it.
    app.call::<HoldUnit>(&rep, &[("unit_id", &unit), ("deal_id", &sams.to_string())])
        .await;
    sqlx::query("UPDATE deals SET status = 'LOST', lost_reason = 'Budget' WHERE id = $1")
        .bind(sams)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(unit_status(&app, shop.unit).await, "AVAILABLE");
    let second = deal(&app, shop.tenant, "sam@example.com", "Sam's second deal").await;
    app.call::<HoldUnit>(
        &rep,
        &[("unit_id", &unit), ("deal_id", &second.to_string())],
    )
    .await;
    sqlx::query("UPDATE deals SET status = 'WON' WHERE id = $1")
        .bind(second)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(unit_status(&app, shop.unit).await, "SOLD");
    let (status, body) = app
        .call::<HoldUnit>(
            &owner,
            &[("unit_id", &unit), ("deal_id", &adas.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT release_reason FROM unit_holds ORDER BY created_at")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(reasons, ["RELEASED", "EXPIRED", "DEAL_LOST", "SOLD"]);
    // The unit's page tells the same story, with the deals. (The lapse is dated by the
    // sweep's moved clock, two days ahead, so the order is not checked here.)
    let (_, detail) = app.call::<GetUnit>(&owner, &[("id", &unit)]).await;
    let kinds: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 8, "{detail}");
    for kind in ["HELD", "RELEASED", "EXPIRED", "DEAL_LOST", "SOLD"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let sold = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "SOLD")
        .unwrap();
    assert_eq!(sold["deal"], "Sam's second deal");
}

#[tokio::test]
async fn a_price_change_keeps_its_history_and_is_for_managers() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let unit = shop.unit.to_string();
    let (status, _) = app
        .call::<SetUnitPrice>(
            &rep,
            &[("unit_id", &unit), ("price", "4000000"), ("reason", "")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call::<SetUnitPrice>(
            &owner,
            &[
                ("unit_id", &unit),
                ("price", "four million"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, detail) = app
        .call::<SetUnitPrice>(
            &owner,
            &[
                ("unit_id", &unit),
                ("price", "4,480,500.50"),
                ("reason", "+3% phase two"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["unit"]["price_minor"], 448_050_050);
    assert_eq!(detail["prices"][0]["price_minor"], 448_050_050);
    assert_eq!(detail["prices"][0]["reason"], "+3% phase two");
    assert_eq!(detail["prices"][0]["changed_by"], "Ada");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'unit.price_changed'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(audited, 1);
    // The table filters by price.
    let (_, page) = app
        .call_json::<ListUnits>(
            &rep,
            &json!({ "filter": { "max_price_minor": 400000000 }, "after": null }),
        )
        .await;
    assert_eq!(page["units"].as_array().unwrap().len(), 0, "{page}");
    let (_, page) = app
        .call_json::<ListUnits>(
            &rep,
            &json!({ "filter": { "min_bedrooms": 2, "status": "Available" }, "after": null }),
        )
        .await;
    assert_eq!(page["units"][0]["code"], "B-1204", "{page}");
}

#[tokio::test]
async fn shapes_are_checked_measured_versioned_and_shown_with_their_units() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let shop = shop(&app, "ada@example.com").await;
    let plan = shop.plan.to_string();
    let save = |body: Value| {
        let app = &app;
        let owner = owner.clone();
        async move { app.call_json::<SaveShape>(&owner, &body).await }
    };
    let square = json!([
        [100.0, 100.0],
        [200.0, 100.0],
        [200.0, 200.0],
        [100.0, 200.0]
    ]);
    // A bow tie and a shape off the plan are refused with the reason.
    let (status, body) = save(
        json!({ "plan_id": plan, "shape_id": null, "unit_id": shop.unit, "label": "B-1204",
        "points": [[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]], "version": 0 }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.to_string().contains("cross each other"), "{body}");
    let (status, body) = save(
        json!({ "plan_id": plan, "shape_id": null, "unit_id": shop.unit, "label": "",
        "points": [[900.0, 700.0], [1100.0, 700.0], [1100.0, 900.0]], "version": 0 }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.to_string().contains("outside the plan"), "{body}");
    let (status, id) = save(
        json!({ "plan_id": plan, "shape_id": null, "unit_id": shop.unit, "label": "B-1204",
        "points": square, "version": 0 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    // 100 × 100 px at 10 cm a pixel: 100 m², 40 m around.
    let (area, perimeter): (f64, f64) =
        sqlx::query_as("SELECT area_sqm, perimeter_m FROM map_shapes")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert!(
        (area - 100.0).abs() < 1e-9 && (perimeter - 40.0).abs() < 1e-9,
        "{area} {perimeter}"
    );
    // An edit of version 1 wins; a second edit of version 1 is stale.
    let edit = json!({ "plan_id": plan, "shape_id": id, "unit_id": shop.unit, "label": "B-1204",
        "points": [[100.0, 100.0], [250.0, 100.0], [250.0, 200.0], [100.0, 200.0]], "version": 1 });
    assert_eq!(save(edit.clone()).await.0, StatusCode::OK);
    assert_eq!(save(edit).await.0, StatusCode::CONFLICT);
    // The map reads it back with its unit; a sales rep may look but not draw.
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (status, view) = app.call::<GetPlan>(&rep, &[("id", &plan)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["shapes"][0]["unit"]["code"], "B-1204");
    assert_eq!(view["shapes"][0]["version"], 2);
    let (status, _) = app
        .call_json::<SaveShape>(
            &rep,
            &json!({ "plan_id": plan, "shape_id": null, "unit_id": null, "label": "x",
            "points": square, "version": 0 }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another workspace sees none of it.
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, _) = app.call::<GetPlan>(&other, &[("id", &plan)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call::<GetUnit>(&other, &[("id", &shop.unit.to_string())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
