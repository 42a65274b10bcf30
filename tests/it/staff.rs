//! The staff console: staff are apart from workspace roles, need 2FA, and can do only
//! what their staff role holds, checked by the app and again by the database. Flag and
//! override changes reach feature decisions and both audit logs; a provider event that
//! came too early is applied by a replay. Plans and platform settings change what the
//! app does at once; support access reads a workspace and writes nothing.

use crate::common::*;
use app::staff::api::{
    ClearOverride, EndSupport, OpenSupport, ReplayEvent, SavePlan, SetConfig, SetFlag, SetOverride,
    StaffAuditLog, StaffConfig, StaffConsole, StaffFlags, StaffPlans, StaffProviderEvents,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn make_staff(app: &TestApp, email: &str, role: &str, totp: bool) {
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
        json!(["ConfigManage", "ConsoleView", "FlagsManage"])
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
async fn support_access_reads_a_workspace_read_only_with_a_reason_its_owner_sees() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bob = app.signup("Bob", "bob@example.com", "Leadline HQ").await;
    let acme = app.tenant_of("ada@example.com").await;
    let (status, _) = app
        .call::<app::crm::records::api::SaveRecord>(
            &ada,
            &[("entity", "CONTACT"), ("name", "Mona Zaki")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let contacts = |client: reqwest::Client| {
        let app = &app;
        async move {
            app.call_json::<app::crm::records::api::ListRecords>(
                &client,
                &json!({ "entity": "Contact", "filter": {}, "sort": "Newest", "after": null }),
            )
            .await
        }
    };
    let acme_id = acme.to_string();

    // An engineer has no support access; support staff must give a reason.
    make_staff(&app, "bob@example.com", "engineer", true).await;
    let (status, _) = app
        .call::<OpenSupport>(&bob, &[("tenant", &acme_id), ("reason", "ticket 7")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    make_staff(&app, "bob@example.com", "support", true).await;
    let (status, body) = app
        .call::<OpenSupport>(&bob, &[("tenant", &acme_id), ("reason", " ")])
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let (status, _) = app
        .call::<OpenSupport>(
            &bob,
            &[
                ("tenant", &Uuid::new_v4().to_string()),
                ("reason", "ticket 7"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call::<OpenSupport>(
            &bob,
            &[("tenant", &acme_id), ("reason", "ticket 7: import stuck")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Bob now reads Acme as an admin would, and cannot change anything.
    let (status, page) = contacts(bob.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["rows"][0]["name"], "Mona Zaki");
    let (status, body) = app
        .call::<app::crm::records::api::SaveRecord>(
            &bob,
            &[("entity", "CONTACT"), ("name", "Forged Row")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_text(&body).contains("read-only"), "{body}");
    let home = app.get(&bob, "/").await.text().await.unwrap();
    assert!(home.contains("data-testid=\"support-banner\""));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE tenant_id = $1")
        .bind(acme)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(count, 1);

    // Acme's owner sees who opened it and why.
    let (reason, staff): (String, String) = sqlx::query_as(
        "SELECT after->>'reason', after->>'staff' FROM audit_logs
          WHERE tenant_id = $1 AND action = 'staff.support_opened'",
    )
    .bind(acme)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(reason, "ticket 7: import stuck");
    assert_eq!(staff, "Bob <bob@example.com>");

    // Ending it: back home, recorded in both logs.
    assert_eq!(app.call::<EndSupport>(&bob, &[]).await.0, StatusCode::OK);
    let (_, page) = contacts(bob.clone()).await;
    assert_eq!(
        page["rows"].as_array().unwrap().len(),
        0,
        "Bob's own workspace"
    );
    let closed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'staff.support_closed'",
    )
    .bind(acme)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(closed, 1);
    let (_, log) = app.call::<StaffAuditLog>(&bob, &[]).await;
    assert_eq!(log[0]["action"], "support.closed");
    assert_eq!(log[1]["action"], "support.opened");
    assert_eq!(log[1]["reason"], "ticket 7: import stuck");

    // A grant ends by itself after its hour, and when the role loses the permission.
    let (status, _) = app
        .call::<OpenSupport>(&bob, &[("tenant", &acme_id), ("reason", "ticket 8")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        contacts(bob.clone()).await.1["rows"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    sqlx::query("UPDATE support_sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(
        contacts(bob.clone()).await.1["rows"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let (status, _) = app
        .call::<OpenSupport>(&bob, &[("tenant", &acme_id), ("reason", "ticket 9")])
        .await;
    assert_eq!(status, StatusCode::OK);
    make_staff(&app, "bob@example.com", "engineer", true).await;
    assert_eq!(
        contacts(bob.clone()).await.1["rows"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The runtime role cannot read grants, nor open one for a non-staff user.
    let ada_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let err = sqlx::query("SELECT staff_support_open($1, $2, 'x', 60, NULL)")
        .bind(ada_id)
        .bind(acme)
        .execute(&app.pools.app)
        .await
        .expect_err("not staff");
    assert!(err.to_string().contains("staff permission"), "{err}");
    let err = sqlx::query("UPDATE support_sessions SET expires_at = now() + interval '1 day'")
        .execute(&app.pools.app)
        .await
        .expect_err("no privilege");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

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
            "wa_messages": "500", "email_messages": "", "api_per_minute": "60",
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
