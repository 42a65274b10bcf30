//! The plan catalogue and platform settings: changed by the staff roles that hold them,
//! refused at the field when wrong, and read by the app at once.

use super::make_staff;
use crate::common::*;
use app::staff::api::{SavePlan, SetConfig, StaffAuditLog, StaffConfig, StaffPlans};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn finance_staff_edit_the_plan_catalogue_and_limits_apply_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bob = app.signup("Bob", "bob@example.com", "Leadline HQ").await;
    let acme = app.tenant_of("ada@example.com").await;
    sqlx::query(
        "UPDATE subscriptions SET plan_id = 'free', status = 'ACTIVE' WHERE tenant_id = $1",
    )
    .bind(acme)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let draft = |records: &str, usd: &str| {
        json!({ "plan": {
            "id": "free", "seats": "3", "records": records, "wa_numbers": "1", "mailboxes": "1",
            "wa_messages": "500", "email_messages": "", "domains": "2", "storage_mb": "50", "api_per_minute": "60",
            "api_per_hour": "900",
            "features": ["inventory.maps"],
            "prices": [{ "cycle": "MONTHLY", "currency": "USD", "amount": usd }],
            "reason": "pilot of a smaller free tier",
        }})
    };

    // Engineers may not change plans.
    make_staff(&app, "bob@example.com", "engineer", true).await;
    let (status, _) = app.call_json::<SavePlan>(&bob, &draft("2", "")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, catalogue) = app.call::<StaffPlans>(&bob, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(catalogue["can_manage"], false);

    make_staff(&app, "bob@example.com", "finance", true).await;
    let (_, catalogue) = app.call::<StaffPlans>(&bob, &[]).await;
    assert_eq!(catalogue["can_manage"], true);
    let ids: Vec<&str> = catalogue["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["free", "starter", "pro", "enterprise"]);
    assert_eq!(catalogue["plans"][0]["workspaces"], 1);
    assert_eq!(
        catalogue["currencies"],
        json!(["BRL", "EGP", "RON", "SAR", "USD"])
    );

    // Bad input is refused at its field.
    for (records, usd, field) in [
        ("0", "", "records"),
        ("1.5", "", "records"),
        ("2", "ten", "price-MONTHLY-USD"),
    ] {
        let (status, body) = app.call_json::<SavePlan>(&bob, &draft(records, usd)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{records} {usd}: {body}"
        );
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let mut hourly = draft("2", "");
    hourly["plan"]["api_per_hour"] = json!("0");
    let (status, body) = app.call_json::<SavePlan>(&bob, &hourly).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("api_per_hour"), "{body}");
    let mut unknown = draft("2", "");
    unknown["plan"]["id"] = json!("platinum");
    assert_eq!(
        app.call_json::<SavePlan>(&bob, &unknown).await.0,
        StatusCode::NOT_FOUND
    );

    // Free now holds 2 contacts and leads, has maps, and lists at USD 5 a month.
    let (status, body) = app.call_json::<SavePlan>(&bob, &draft("2", "5")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (price, maps): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT amount_minor FROM plan_prices WHERE plan_id = 'free' AND cycle = 'MONTHLY' AND currency = 'USD'),
                (SELECT features ? 'inventory.maps' FROM plans WHERE id = 'free')",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!((price, maps), (500, true));
    let storage: (Option<i32>, Option<i32>, Option<i32>) = sqlx::query_as(
        "SELECT domains_limit, storage_limit_mb, api_per_hour FROM plans WHERE id = 'free'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(storage, (Some(2), Some(50), Some(900)));
    for name in ["One", "Two"] {
        let (status, body) = app
            .call::<app::crm::records::api::SaveRecord>(
                &ada,
                &[("entity", "CONTACT"), ("name", name)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .call::<app::crm::records::api::SaveRecord>(
            &ada,
            &[("entity", "CONTACT"), ("name", "Three")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_text(&body).contains('2'), "{body}");

    // The staff log has the plan before and after.
    let (_, log) = app.call::<StaffAuditLog>(&bob, &[]).await;
    assert_eq!(log[0]["action"], "plan.changed");
    assert_eq!(log[0]["reason"], "pilot of a smaller free tier");
    let before: Value = serde_json::from_str(log[0]["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(log[0]["after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            before["records_limit"].clone(),
            after["records_limit"].clone()
        ),
        (json!(500), json!(2))
    );
    assert_eq!(after["prices"]["MONTHLY USD"], 500);
    assert_eq!(after["email_messages_limit"], Value::Null);

    // The runtime role still cannot write the catalogue itself.
    let err = sqlx::query("UPDATE plans SET seats_limit = 999 WHERE id = 'free'")
        .execute(&app.pools.app)
        .await
        .expect_err("catalogue is read-only");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn platform_settings_change_what_the_app_does_and_secrets_stay_masked() {
    let app = TestApp::spawn().await;
    let bob = app.signup("Bob", "bob@example.com", "Leadline HQ").await;
    make_staff(&app, "bob@example.com", "support", true).await;
    let (status, config) = app.call::<StaffConfig>(&bob, &[]).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["can_manage"], false);
    let running = config["running"].to_string();
    assert!(running.contains("sk_test_••••••••"), "{running}");
    assert!(
        !running.contains("leadline_local"),
        "secrets never leave: {running}"
    );
    let trial = config["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "billing.trial_days")
        .unwrap()
        .clone();
    assert_eq!(trial["value"], "14");
    let (status, _) = app
        .call::<SetConfig>(&bob, &[("key", "billing.trial_days"), ("value", "30")])
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "support may not change settings"
    );

    make_staff(&app, "bob@example.com", "engineer", true).await;
    for (key, value, expected) in [
        ("billing.trial_days", "91", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "billing.dunning_days",
            "5, 3",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("support.minutes", "600", StatusCode::UNPROCESSABLE_ENTITY),
        ("no.such", "1", StatusCode::NOT_FOUND),
    ] {
        let (status, body) = app
            .call::<SetConfig>(&bob, &[("key", key), ("value", value)])
            .await;
        assert_eq!(status, expected, "{key}={value}: {body}");
    }
    let (status, body) = app
        .call::<SetConfig>(
            &bob,
            &[
                ("key", "billing.trial_days"),
                ("value", "30"),
                ("reason", "holiday promotion"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.call::<SetConfig>(&bob, &[("key", "billing.dunning_days"), ("value", "2, 4")])
            .await
            .0,
        StatusCode::OK
    );

    // A workspace made now trials for 30 days; dunning retries on days 2 and 4.
    app.signup("Cy", "cy@example.com", "Cyan").await;
    let days: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM trial_ends_at - now())::float8 / 86400 FROM subscriptions s
           JOIN memberships m ON m.tenant_id = s.tenant_id JOIN users u ON u.id = m.user_id
          WHERE u.email = 'cy@example.com'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert!((29.9..30.1).contains(&days), "{days}");
    let db = app::db::Db::new(app.pools.app.clone());
    let mut tx = db.anon_tx().await.unwrap();
    assert_eq!(
        app::sysconfig::dunning_days(&mut tx).await.unwrap(),
        vec![2, 4]
    );
    tx.commit().await.unwrap();
    let at = chrono::Utc::now();
    assert_eq!(
        app::billing::payments::retry_at(&[2, 4], at, 1),
        Some(at + chrono::Duration::days(4))
    );
    assert_eq!(app::billing::payments::retry_at(&[2, 4], at, 2), None);

    let (_, config) = app.call::<StaffConfig>(&bob, &[]).await;
    let trial = config["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "billing.trial_days")
        .unwrap()
        .clone();
    assert_eq!(
        (trial["value"].clone(), trial["updated_by"].clone()),
        (json!("30"), json!("Bob"))
    );
    let (_, log) = app.call::<StaffAuditLog>(&bob, &[]).await;
    assert_eq!(log[1]["action"], "config.changed");
    assert_eq!(log[1]["reason"], "holiday promotion");
    assert_eq!(
        (log[1]["before"].clone(), log[1]["after"].clone()),
        (json!("14"), json!("30"))
    );
    let err = sqlx::query("UPDATE system_config SET value = '1' WHERE key = 'billing.trial_days'")
        .execute(&app.pools.app)
        .await
        .expect_err("settings are written by staff only");
    assert!(err.to_string().contains("permission denied"), "{err}");
}
