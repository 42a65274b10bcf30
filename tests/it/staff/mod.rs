//! The staff console: staff are apart from workspace roles, need 2FA, and can do only
//! what their staff role holds, checked by the app and again by the database. Flag and
//! override changes reach feature decisions and both audit logs; a provider event that
//! came too early is applied by a replay. Support access and the catalogue (plans,
//! platform settings) are in their own files.

use crate::common::*;
use app::staff::api::{
    ClearOverride, ReplayEvent, SetFlag, SetOverride, StaffAuditLog, StaffConsole, StaffFlags,
    StaffProviderEvents,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

mod catalogue;
mod ips;
mod support;

pub(super) async fn make_staff(app: &TestApp, email: &str, role: &str, totp: bool) {
    sqlx::query(
        "INSERT INTO staff_members (user_id, role_key) SELECT id, $2 FROM users WHERE email = $1
         ON CONFLICT (user_id) DO UPDATE SET role_key = EXCLUDED.role_key",
    )
    .bind(email)
    .bind(role)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    sqlx::query("UPDATE users SET totp_enabled_at = CASE WHEN $2 THEN now() END WHERE email = $1")
        .bind(email)
        .bind(totp)
        .execute(&app.pools.owner)
        .await
        .unwrap();
}

async fn flag(app: &TestApp, key: &str) -> (bool, i32) {
    sqlx::query_as("SELECT enabled, rollout_percentage FROM feature_flags WHERE key = $1")
        .bind(key)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

async fn may_use_api(app: &TestApp, tenant: Uuid) -> bool {
    let db = app::db::Db::new(app.pools.app.clone());
    let mut tx = db.tenant_tx(tenant, None).await.unwrap();
    let yes = app::billing::features::has(&mut tx, tenant, app::billing::model::Feature::Api)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    yes
}

#[tokio::test]
async fn staff_are_apart_from_workspace_roles_and_each_change_is_checked_and_recorded() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bob = app.signup("Bob", "bob@example.com", "Beta").await;
    let acme = app.tenant_of("ada@example.com").await;
    let slug: String = sqlx::query_scalar("SELECT slug FROM tenants WHERE id = $1")
        .bind(acme)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();

    // A workspace OWNER is nobody in the console.
    let (status, body) = app.call::<StaffConsole>(&ada, &[("q", "")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_text(&body).contains("platform staff"), "{body}");
    let page = app.get(&ada, "/staff").await;
    // The refusal may reach the status line before the page starts streaming.
    assert!(
        [StatusCode::OK, StatusCode::FORBIDDEN].contains(&page.status()),
        "{}",
        page.status()
    );
    assert!(!page
        .text()
        .await
        .unwrap()
        .contains("data-testid=\"staff-tenants\""));

    // Staff without 2FA are told to turn it on.
    make_staff(&app, "bob@example.com", "engineer", false).await;
    let (status, body) = app.call::<StaffFlags>(&bob, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_text(&body).contains("two-factor"), "{body}");

    // With it: every workspace, with plan, usage and figures.
    make_staff(&app, "bob@example.com", "engineer", true).await;
    let (status, console) = app.call::<StaffConsole>(&bob, &[("q", "")]).await;
    assert_eq!(status, StatusCode::OK, "{console}");
    let names: Vec<&str> = console["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Beta", "Acme"], "newest first");
    assert_eq!(console["tenants"][1]["members"], 1);
    assert_eq!(console["figures"]["active_tenants"], 2);
    assert_eq!(
        console["permissions"],
        json!(["ConfigManage", "ConsoleView", "FlagsManage", "IpsManage"])
    );
    let (_, found) = app.call::<StaffConsole>(&bob, &[("q", "acm")]).await;
    assert_eq!(found["tenants"].as_array().unwrap().len(), 1);
    let long = "x".repeat(101);
    let (status, body) = app.call::<StaffConsole>(&bob, &[("q", &long)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("q"));

    // An engineer may not replay provider events.
    let (status, body) = app.call::<ReplayEvent>(&bob, &[("id", "evt_x")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_text(&body).contains("engineer"), "{body}");

    // A flag's rollout: checked, applied, recorded with before and after.
    assert!(may_use_api(&app, acme).await, "Starter includes the API");
    let (status, body) = app
        .call::<SetFlag>(
            &bob,
            &[("key", "api"), ("enabled", "on"), ("rollout", "150")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("rollout"));
    let (status, _) = app
        .call::<SetFlag>(&bob, &[("key", "nope"), ("rollout", "10")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call::<SetFlag>(
            &bob,
            &[
                ("key", "api"),
                ("enabled", "on"),
                ("rollout", "0"),
                ("reason", "incident 42"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(flag(&app, "api").await, (true, 0));
    assert!(!may_use_api(&app, acme).await, "rolled out to nobody");

    // An override grants it back to one workspace, with a reason its owner can read.
    let (status, body) = app
        .call::<SetOverride>(
            &bob,
            &[
                ("key", "api"),
                ("workspace", &slug),
                ("state", "on"),
                ("days", "7"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("reason"));
    let (status, body) = app
        .call::<SetOverride>(
            &bob,
            &[
                ("key", "api"),
                ("workspace", "no-such-place"),
                ("state", "on"),
                ("reason", "pilot"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("workspace"));
    let (status, body) = app
        .call::<SetOverride>(
            &bob,
            &[
                ("key", "api"),
                ("workspace", &slug),
                ("state", "on"),
                ("days", "400"),
                ("reason", "pilot"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("days"));
    let (status, body) = app
        .call::<SetOverride>(
            &bob,
            &[
                ("key", "api"),
                ("workspace", &slug),
                ("state", "on"),
                ("days", "7"),
                ("reason", "pilot customer"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(may_use_api(&app, acme).await, "granted by the override");
    let (_, flags) = app.call::<StaffFlags>(&bob, &[]).await;
    let api = flags["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "api")
        .unwrap();
    assert_eq!(api["overrides"][0]["tenant_name"], "Acme");
    assert_eq!(api["overrides"][0]["enabled"], true);
    let audit: (String, Value, Option<Uuid>) = sqlx::query_as(
        "SELECT action, after, actor_user_id FROM audit_logs WHERE tenant_id = $1 AND action LIKE 'staff.%'",
    )
    .bind(acme)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audit.0, "staff.feature.override_set");
    assert_eq!(audit.1["reason"], "pilot customer");
    assert!(audit.2.is_some());

    // Support may look but not change.
    make_staff(&app, "bob@example.com", "support", true).await;
    let (status, _) = app
        .call::<SetFlag>(
            &bob,
            &[("key", "api"), ("enabled", "on"), ("rollout", "100")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(flag(&app, "api").await, (true, 0));
    let (status, flags) = app.call::<StaffFlags>(&bob, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flags["can_manage"], false);

    // Removing the override: the rollout decides again; twice is a 404.
    make_staff(&app, "bob@example.com", "engineer", true).await;
    let acme_id = acme.to_string();
    let form = [
        ("key", "api"),
        ("tenant", acme_id.as_str()),
        ("reason", "pilot over"),
    ];
    assert_eq!(
        app.call::<ClearOverride>(&bob, &form).await.0,
        StatusCode::OK
    );
    assert!(!may_use_api(&app, acme).await);
    assert_eq!(
        app.call::<ClearOverride>(&bob, &form).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .call::<SetFlag>(
            &bob,
            &[("key", "api"), ("enabled", "on"), ("rollout", "100")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The staff log has every change, newest first, with the reason and before/after.
    let (status, log) = app.call::<StaffAuditLog>(&bob, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "flag.changed",
            "feature.override_removed",
            "feature.override_set",
            "flag.changed"
        ]
    );
    assert_eq!(log[3]["reason"], "incident 42");
    assert!(log[3]["before"].as_str().unwrap().contains("100"));

    // The database is the second wall: the runtime role cannot read or write staff
    // tables, and the definer functions refuse a non-staff actor.
    let ada_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    for sql in [
        "SELECT count(*) FROM staff_members",
        "SELECT count(*) FROM staff_audit",
    ] {
        let err = sqlx::query(sql)
            .execute(&app.pools.app)
            .await
            .expect_err(sql);
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    let err = sqlx::query("INSERT INTO staff_members (user_id, role_key) VALUES ($1, 'owner')")
        .bind(ada_id)
        .execute(&app.pools.app)
        .await
        .expect_err("the runtime role makes no staff");
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = sqlx::query("SELECT staff_set_flag($1, 'api', false, 0, '', NULL)")
        .bind(ada_id)
        .execute(&app.pools.app)
        .await
        .expect_err("a workspace owner is no staff");
    assert!(err.to_string().contains("staff permission"), "{err}");
    let err = sqlx::query("SELECT * FROM staff_tenants($1, '', 10)")
        .bind(ada_id)
        .execute(&app.pools.app)
        .await
        .expect_err("nor may they list workspaces");
    assert!(err.to_string().contains("staff permission"), "{err}");
    assert_eq!(flag(&app, "api").await, (true, 100));
}

#[tokio::test]
async fn figures_count_paying_trials_and_churn_and_a_replay_applies_an_early_event() {
    let app = TestApp::spawn().await;
    let _ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let _cy = app.signup("Cy", "cy@example.com", "Gone").await;
    let bob = app.signup("Bob", "bob@example.com", "Leadline HQ").await;
    make_staff(&app, "bob@example.com", "owner", true).await;
    let acme = app.tenant_of("ada@example.com").await;
    let gone = app.tenant_of("cy@example.com").await;
    let hq = app.tenant_of("bob@example.com").await;
    for (tenant, plan, status) in [
        (acme, "pro", "ACTIVE"),
        (gone, "starter", "ACTIVE"),
        (hq, "pro", "TRIALING"),
    ] {
        sqlx::query(
            "UPDATE subscriptions SET plan_id = $2, status = $3, currency = 'USD', cycle = 'MONTHLY',
                    trial_ends_at = CASE WHEN $3 = 'TRIALING' THEN now() + interval '5 days'
                                         ELSE now() - interval '20 days' END
              WHERE tenant_id = $1",
        )
        .bind(tenant)
        .bind(plan)
        .bind(status)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    }
    // Gone cancels: it ended now, so it counts as churn.
    sqlx::query("UPDATE subscriptions SET status = 'CANCELLED' WHERE tenant_id = $1")
        .bind(gone)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, console) = app.call::<StaffConsole>(&bob, &[("q", "")]).await;
    assert_eq!(status, StatusCode::OK, "{console}");
    let f = &console["figures"];
    assert_eq!(
        (
            f["paying"].as_i64(),
            f["trialing"].as_i64(),
            f["churned_30d"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    // Two trials ended (Acme and Gone), one of them pays.
    assert_eq!(
        (f["trials_ended"].as_i64(), f["trials_converted"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        console["mrr"],
        json!([{ "currency": "USD", "plan_name": "Pro", "tenants": 1, "mrr_minor": 11600 }])
    );
    let acme_row = console["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Acme")
        .unwrap();
    assert_eq!(acme_row["mrr_minor"], 11600);
    assert_eq!(acme_row["subscription_status"], "ACTIVE");

    // A paid event that arrived before its invoice existed was ignored; once the
    // invoice is there, a replay applies it, and a second replay changes nothing.
    let db = app::db::Db::new(app.pools.app.clone());
    let mut tx = db.tenant_tx(acme, None).await.unwrap();
    let invoice = app::billing::ssr::create_invoice(
        &mut tx,
        acme,
        "USD",
        &[("PLAN", "Pro".into(), 11600)],
        (chrono::Utc::now(), chrono::Utc::now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let payload = json!({ "id": "evt_early", "type": "invoice.paid", "created": chrono::Utc::now().timestamp(),
        "data": { "object": { "id": "in_1", "metadata": { "tenant_id": acme, "invoice_id": invoice } } } });
    sqlx::query("SELECT billing_event_record('evt_early', NULL, 'invoice.paid', now(), $1, 'ignored: no such invoice')")
        .bind(&payload)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, events) = app.call::<StaffProviderEvents>(&bob, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events["can_replay"], true);
    assert_eq!(events["events"][0]["outcome"], "ignored: no such invoice");
    let (status, outcome) = app.call::<ReplayEvent>(&bob, &[("id", "evt_early")]).await;
    assert_eq!((status, outcome), (StatusCode::OK, json!("replayed: paid")));
    let paid: String = sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1")
        .bind(invoice)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(paid, "PAID");
    let (_, events) = app.call::<StaffProviderEvents>(&bob, &[]).await;
    assert_eq!(events["events"][0]["tenant_name"], "Acme");
    let (_, outcome) = app.call::<ReplayEvent>(&bob, &[("id", "evt_early")]).await;
    assert!(
        outcome.as_str().unwrap().contains("already settled"),
        "{outcome}"
    );
    let (status, _) = app.call::<ReplayEvent>(&bob, &[("id", "evt_none")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, log) = app.call::<StaffAuditLog>(&bob, &[]).await;
    assert_eq!(log[1]["action"], "billing_event.replayed");
    assert!(log[1]["after"].as_str().unwrap().contains("replayed: paid"));
}

#[tokio::test]
async fn the_figures_are_kept_each_day_and_drawn_over_time_for_staff_only() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bob = app.signup("Bob", "bob@example.com", "Leadline HQ").await;
    make_staff(&app, "bob@example.com", "owner", true).await;
    let acme = app.tenant_of("ada@example.com").await;
    sqlx::query(
        "UPDATE subscriptions SET plan_id = 'pro', status = 'ACTIVE', currency = 'USD', cycle = 'MONTHLY'
          WHERE tenant_id = $1",
    )
    .bind(acme)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    // What the worker's schedule runs, as the runtime role; twice in a day keeps one
    // row, the later figures.
    let take = |day: chrono::NaiveDate| {
        let pool = app.pools.app.clone();
        async move {
            sqlx::query("SELECT platform_daily_take($1)")
                .bind(day)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    let today = chrono::Utc::now().date_naive();
    let yesterday = today - chrono::Duration::days(1);
    take(yesterday).await;
    sqlx::query("UPDATE subscriptions SET currency = 'EGP' WHERE tenant_id = $1")
        .bind(acme)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    take(today).await;
    take(today).await;

    let (status, console) = app.call::<StaffConsole>(&bob, &[("q", "")]).await;
    assert_eq!(status, StatusCode::OK, "{console}");
    let days = console["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{console}");
    assert_eq!(days[0]["day"], yesterday.to_string());
    assert_eq!(days[1]["day"], today.to_string());
    assert_eq!(days[0]["figures"]["paying"], 1);
    assert_eq!(days[0]["figures"]["active_tenants"], 2);
    assert_eq!(days[0]["mrr"], json!([["USD", 11600]]));
    assert_eq!(days[1]["mrr"], json!([["EGP", 580000]]));

    // Nobody else reads them: not a workspace owner through the console, not the
    // runtime role from the table.
    let (status, _) = app.call::<StaffConsole>(&ada, &[("q", "")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let direct = sqlx::query("SELECT * FROM platform_daily")
        .fetch_all(&app.pools.app)
        .await;
    assert!(direct.is_err(), "the runtime role reads platform_daily");
    let ada_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let denied = sqlx::query("SELECT * FROM staff_daily($1, 90)")
        .bind(ada_id)
        .fetch_all(&app.pools.app)
        .await
        .unwrap_err();
    assert!(denied.to_string().contains("staff permission"), "{denied}");
}
