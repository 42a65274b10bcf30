//! Billing against a real PostgreSQL and real HTTP: limits enforced at the action,
//! plan changes that prorate or wait for the period's end, gapless invoice numbers,
//! and signed provider events applied once, in any order.

use crate::common::*;
use app::billing::api::{BillingOverview, ChangePlan, GetInvoice, SaveBillingProfile, SetCancel};
use app::billing::stripe;
use app::crm::records::api::SaveRecord;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn set_plan(app: &TestApp, tenant: Uuid, plan: &str, status: &str) {
    sqlx::query(
        "UPDATE subscriptions SET plan_id = $2, status = $3, current_period_start = now() - interval '10 days',
                current_period_end = now() + interval '20 days', currency = 'USD'
          WHERE tenant_id = $1",
    )
    .bind(tenant)
    .bind(plan)
    .bind(status)
    .execute(&app.pools.owner)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_new_workspace_is_on_a_trial_and_admins_read_what_owners_change() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, o) = app.call::<BillingOverview>(&owner, &[]).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "TRIALING");
    assert_eq!(o["plan_id"], "starter");
    let usage: Vec<(&str, i64)> = o["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["metric"].as_str().unwrap(), u["used"].as_i64().unwrap()))
        .collect();
    assert_eq!(usage[0], ("Seats", 1));
    assert_eq!(o["plans"].as_array().unwrap().len(), 4);
    // Each plan states its API allowance, a minute and an hour (none on Enterprise).
    let api: Vec<(i64, Value)> = o["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["api_per_minute"].as_i64().unwrap(),
                p["api_per_hour"].clone(),
            )
        })
        .collect();
    assert_eq!(
        api,
        vec![
            (60, Value::from(1000)),
            (300, Value::from(5000)),
            (1200, Value::from(30000)),
            (6000, Value::Null)
        ]
    );
    assert_eq!(o["can_manage"], true);
    let admin = app.invite_and_join(&owner, "al@example.com", "ADMIN").await;
    let (status, o) = app.call::<BillingOverview>(&admin, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(o["can_manage"], false);
    let (status, _) = app
        .call::<ChangePlan>(&admin, &[("plan", "pro"), ("cycle", "MONTHLY")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (status, _) = app.call::<BillingOverview>(&sales, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_contacts_and_leads_limit_is_enforced_at_create_with_a_way_out() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    set_plan(&app, tenant, "free", "ACTIVE").await;
    // 499 leads and 1 contact: the free plan's 500.
    sqlx::query(
        "INSERT INTO leads (tenant_id, id, name) SELECT $1, gen_random_uuid(), 'Lead ' || n FROM generate_series(1, 499) n",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let create = |name: &'static str| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.call::<SaveRecord>(&owner, &[("entity", "LEAD"), ("name", name)])
                .await
        }
    };
    let (status, body) = create("The 500th").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = create("One too many").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("allows 500 contacts and leads") && text.contains("/billing"),
        "{text}"
    );
}

#[tokio::test]
async fn an_upgrade_prorates_now_and_a_downgrade_waits_and_must_fit() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    set_plan(&app, tenant, "starter", "ACTIVE").await;
    let (status, body) = app
        .call::<SaveBillingProfile>(
            &owner,
            &[
                ("company_name", "Acme LLC"),
                ("address", "Riyadh"),
                ("country", "sa"),
                ("tax_id", ""),
                ("email", "billing@acme.example"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call::<SaveBillingProfile>(
            &owner,
            &[
                ("company_name", ""),
                ("address", ""),
                ("country", "Saudi"),
                ("tax_id", ""),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Starter $29 → Pro $116 with 20 of 30 days left: −$19.33 + $77.33 = $58.00, +15 % VAT.
    let (status, change) = app
        .call::<ChangePlan>(&owner, &[("plan", "pro"), ("cycle", "MONTHLY")])
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    let invoice = change["Upgraded"]["invoice"].as_str().unwrap().to_string();
    let (_, inv) = app.call::<GetInvoice>(&owner, &[("id", &invoice)]).await;
    let lines: Vec<i64> = inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount_minor"].as_i64().unwrap())
        .collect();
    assert!((-1934..=-1932).contains(&lines[0]), "{inv}");
    assert!((7732..=7734).contains(&lines[1]), "{inv}");
    let subtotal = inv["subtotal_minor"].as_i64().unwrap();
    assert_eq!(subtotal, lines[0] + lines[1]);
    assert_eq!(inv["tax_rate_bp"], 1500);
    assert_eq!(
        inv["invoice"]["total_minor"].as_i64().unwrap(),
        subtotal + (subtotal * 15 + 50) / 100
    );
    assert_eq!(inv["invoice"]["number"], 1);
    assert_eq!(inv["bill_to"]["company_name"], "Acme LLC");

    // Down to free: 600 leads do not fit its 500, and the answer says so.
    sqlx::query("INSERT INTO leads (tenant_id, id, name) SELECT $1, gen_random_uuid(), 'L' || n FROM generate_series(1, 600) n")
        .bind(tenant)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, body) = app
        .call::<ChangePlan>(&owner, &[("plan", "free"), ("cycle", "MONTHLY")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("Contacts and leads: 600 of 500"),
        "{body}"
    );
    sqlx::query("DELETE FROM leads WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    // It fits now: it waits for the period's end, and the period roll applies it.
    let (status, change) = app
        .call::<ChangePlan>(&owner, &[("plan", "free"), ("cycle", "MONTHLY")])
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert!(change["Scheduled"]["at"].is_string(), "{change}");
    let (_, o) = app.call::<BillingOverview>(&owner, &[]).await;
    assert_eq!(
        (o["plan_id"].as_str(), o["pending_plan"].as_str()),
        (Some("pro"), Some("Free"))
    );
    let rolled = app::billing::renewals::roll_periods(
        &app.pools.app,
        chrono::Utc::now() + chrono::Duration::days(21),
    )
    .await
    .unwrap();
    assert_eq!(rolled, 1);
    let (_, o) = app.call::<BillingOverview>(&owner, &[]).await;
    assert_eq!(
        (o["plan_id"].as_str(), o["pending_plan"].as_str()),
        (Some("free"), None)
    );

    // Cancel at period end, and take it back; both audited.
    assert_eq!(
        app.call::<SetCancel>(&owner, &[("cancel", "true")]).await.0,
        StatusCode::OK
    );
    let (_, o) = app.call::<BillingOverview>(&owner, &[]).await;
    assert_eq!(o["cancel_at_period_end"], true);
    assert_eq!(
        app.call::<SetCancel>(&owner, &[("cancel", "false")])
            .await
            .0,
        StatusCode::OK
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action LIKE 'billing.%'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        audited, 6,
        "profile, two changes, the period roll, cancel, resume"
    );
}

#[tokio::test]
async fn of_fifty_concurrent_plan_changes_one_wins_and_invoice_numbers_have_no_gaps() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    set_plan(&app, tenant, "starter", "ACTIVE").await;
    let attempts = (0..50).map(|_| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.call::<ChangePlan>(&owner, &[("plan", "pro"), ("cycle", "MONTHLY")])
                .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let conflicts: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok, 1, "{results:?}");
    assert_eq!(conflicts.len(), 49);
    assert!(
        conflicts
            .iter()
            .all(|b| b.to_string().contains("already on Pro")),
        "{conflicts:?}"
    );

    // Twenty invoices made at once are numbered 2..=21, each once.
    let pool = app.pools.app.clone();
    let makers = (0..20).map(|i| {
        let pool = pool.clone();
        async move {
            let db = app::db::Db::new(pool);
            let mut tx = db.tenant_tx(tenant, None).await.unwrap();
            let lines = [("ADDON", format!("Message pack {i}"), 1000)];
            app::billing::ssr::create_invoice(
                &mut tx,
                tenant,
                "USD",
                &lines,
                (chrono::Utc::now(), chrono::Utc::now()),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    });
    futures_util::future::join_all(makers).await;
    let numbers: Vec<i32> =
        sqlx::query_scalar("SELECT number FROM invoices WHERE tenant_id = $1 ORDER BY number")
            .bind(tenant)
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(numbers, (1..=21).collect::<Vec<_>>());
}

/// Posts a provider event signed with the server's billing secret (or `secret`).
pub async fn post_event(
    app: &TestApp,
    event: &Value,
    secret: &str,
    at: i64,
) -> (StatusCode, String) {
    let body = event.to_string();
    let res = reqwest::Client::new()
        .post(format!("{}/webhooks/billing", app.base))
        .header(
            "stripe-signature",
            stripe::header(secret, at, body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn provider_events_are_verified_applied_once_and_out_of_order_is_harmless() {
    let app = TestApp::spawn().await;
    let _owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    set_plan(&app, tenant, "pro", "ACTIVE").await;
    let db = app::db::Db::new(app.pools.app.clone());
    let mut tx = db.tenant_tx(tenant, None).await.unwrap();
    let invoice = app::billing::ssr::create_invoice(
        &mut tx,
        tenant,
        "USD",
        &[("PLAN", "Pro".into(), 11600)],
        (chrono::Utc::now(), chrono::Utc::now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let secret = app::request::AppConfig::local("").billing_webhook_secret;
    let now = chrono::Utc::now().timestamp();
    let event = |id: &str, kind: &str, created: i64| {
        json!({ "id": id, "type": kind, "created": created,
                "data": { "object": { "id": "pi_1", "metadata": { "tenant_id": tenant, "invoice_id": invoice } } } })
    };
    let sub_status = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM subscriptions WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap()
    };
    // Wrong secret, stale timestamp: refused, nothing recorded.
    let failed = event("evt_1", "invoice.payment_failed", now - 60);
    assert_eq!(
        post_event(&app, &failed, "whsec_wrong", now).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_event(&app, &failed, &secret, now - 400).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A failed payment: past due. Delivered twice: applied once.
    assert_eq!(
        post_event(&app, &failed, &secret, now).await,
        (StatusCode::OK, "applied".into())
    );
    assert_eq!(sub_status().await, "PAST_DUE");
    assert_eq!(
        post_event(&app, &failed, &secret, now).await,
        (StatusCode::OK, "already applied".into())
    );
    // Paid: active again.
    let paid = event("evt_2", "invoice.paid", now - 30);
    assert_eq!(post_event(&app, &paid, &secret, now).await.1, "applied");
    assert_eq!(sub_status().await, "ACTIVE");
    // An older failure arriving late changes nothing.
    let late = event("evt_0", "invoice.payment_failed", now - 120);
    assert_eq!(post_event(&app, &late, &secret, now).await.1, "ignored");
    assert_eq!(sub_status().await, "ACTIVE");
    let status: String = sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1")
        .bind(invoice)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(status, "PAID");
    // Garbage that is signed is a 400; every verified event is in the log once.
    let (status, _) = reqwest::Client::new()
        .post(format!("{}/webhooks/billing", app.base))
        .header(
            "stripe-signature",
            stripe::header(&secret, now, b"not json"),
        )
        .body("not json")
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM billing_events")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(logged, 3);
}

#[tokio::test]
async fn a_period_roll_renews_a_paid_plan_with_one_invoice_per_period_even_with_two_workers() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    set_plan(&app, tenant, "starter", "ACTIVE").await;
    let now = chrono::Utc::now();
    let roll = |at: chrono::DateTime<chrono::Utc>| {
        let pool = app.pools.app.clone();
        async move {
            app::billing::renewals::roll_periods(&pool, at)
                .await
                .unwrap()
        }
    };
    assert_eq!(roll(now).await, 0, "nothing is due before the period ends");

    // The period ends in 20 days; 85 days on, three periods have ended. Two workers
    // roll at once: each period is rolled and invoiced once, numbers without gaps.
    let at = now + chrono::Duration::days(85);
    let (a, b) = tokio::join!(roll(at), roll(at));
    assert_eq!(a + b, 3);
    assert_eq!(roll(at).await, 0, "rolled once");
    let invoices: Vec<(i32, String, i64, i64)> = sqlx::query_as(
        "SELECT i.number, i.status, i.total_minor,
                (SELECT count(*) FROM payment_attempts p WHERE p.invoice_id = i.id AND p.kind = 'ISSUE')
           FROM invoices i WHERE i.tenant_id = $1 ORDER BY i.number",
    )
    .bind(tenant)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        invoices,
        vec![
            (1, "OPEN".into(), 2900, 1),
            (2, "OPEN".into(), 2900, 1),
            (3, "OPEN".into(), 2900, 1),
        ],
        "Starter, monthly in USD, each queued for charging"
    );
    // Each invoice covers the period that followed the one before, back to back.
    let periods: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as(
            "SELECT period_start, period_end FROM invoices WHERE tenant_id = $1 ORDER BY number",
        )
        .bind(tenant)
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
    for pair in periods.windows(2) {
        assert_eq!(pair[0].1, pair[1].0);
    }
    let (_, o) = app.call::<BillingOverview>(&owner, &[]).await;
    assert_eq!(o["invoices"].as_array().unwrap().len(), 3);
    let (_, line) = app
        .call::<GetInvoice>(&owner, &[("id", o["invoices"][0]["id"].as_str().unwrap())])
        .await;
    assert!(line.to_string().contains("Starter,"), "{line}");
    let rolled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'billing.period_rolled' AND actor_user_id IS NULL",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(rolled, 3);

    // A trial that ends becomes active with its first invoice; a free plan renews
    // without one; a cancellation ends the subscription, and nothing more is billed.
    let trial = app.signup("Bea", "bea@example.com", "Beta").await;
    let beta = app.tenant_of("bea@example.com").await;
    set_plan(&app, beta, "pro", "TRIALING").await;
    assert_eq!(roll(now + chrono::Duration::days(21)).await, 1);
    let (_, o) = app.call::<BillingOverview>(&trial, &[]).await;
    assert_eq!(o["status"], "ACTIVE");
    assert_eq!(
        o["invoices"][0]["total_minor"], 11600,
        "Pro, monthly in USD"
    );
    app.call::<SetCancel>(&trial, &[("cancel", "true")]).await;
    assert_eq!(roll(now + chrono::Duration::days(52)).await, 1);
    let (_, o) = app.call::<BillingOverview>(&trial, &[]).await;
    assert_eq!(o["status"], "CANCELLED");
    assert_eq!(o["invoices"].as_array().unwrap().len(), 1);
    assert_eq!(
        roll(now + chrono::Duration::days(60)).await,
        0,
        "a cancelled subscription does not roll"
    );
}

#[tokio::test]
async fn the_api_is_a_plan_feature_that_flags_roll_out_and_overrides_grant() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    // A Starter trial includes the API.
    let token = app.api_key(&owner, "CRM sync", &["contacts:read"]).await;
    let contacts = || async {
        let r = app
            .api(reqwest::Method::GET, "/contacts", &token)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert_eq!(contacts().await.0, StatusCode::OK);
    let (status, refusal) = app
        .call::<app::billing::api::FeatureRefusal>(&owner, &[("feature", "api")])
        .await;
    assert_eq!((status, refusal), (StatusCode::OK, Value::Null));

    // On Free, the key is refused with the plan named and the way out, and no new key
    // can be made; the developers page says so before anyone fills in the form.
    set_plan(&app, tenant, "free", "ACTIVE").await;
    let (status, body) = contacts().await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/feature_not_in_plan"),
        "{body}"
    );
    assert!(body.contains("Free") && body.contains("/billing"), "{body}");
    let (status, body) = app
        .call_json::<app::developers::api::CreateApiKey>(
            &owner,
            &json!({ "input": { "name": "Another", "scopes": ["contacts:read"], "expires_in_days": 30, "allowed_ips": "" }}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.to_string()
            .contains("Your Free plan does not include API access"),
        "{body}"
    );
    let (_, refusal) = app
        .call::<app::billing::api::FeatureRefusal>(&owner, &[("feature", "api")])
        .await;
    assert!(refusal
        .as_str()
        .unwrap()
        .starts_with("Your Free plan does not include API access"));
    let (status, _) = app
        .call::<app::billing::api::FeatureRefusal>(&owner, &[("feature", "teleport")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A per-workspace override grants it back, until it expires.
    sqlx::query(
        "INSERT INTO tenant_features (tenant_id, id, feature_key, enabled, expires_at)
         VALUES ($1, gen_random_uuid(), 'api', true, now() + interval '1 day')",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(contacts().await.0, StatusCode::OK);
    sqlx::query(
        "UPDATE tenant_features SET expires_at = now() - interval '1 second' WHERE tenant_id = $1",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(contacts().await.0, StatusCode::FORBIDDEN);

    // Back on Starter, the feature's flag rolls it out: at 0 % it is off for everyone
    // on the plan, at 100 % (as it ships) on.
    set_plan(&app, tenant, "starter", "ACTIVE").await;
    sqlx::query("UPDATE feature_flags SET rollout_percentage = 0 WHERE key = 'api'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(contacts().await.0, StatusCode::FORBIDDEN);
    sqlx::query("UPDATE feature_flags SET rollout_percentage = 100 WHERE key = 'api'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(contacts().await.0, StatusCode::OK);

    // The plan comparison lists what each plan includes.
    let (_, o) = app.call::<BillingOverview>(&owner, &[]).await;
    let features = |plan: &str| {
        o["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == plan)
            .unwrap()["features"]
            .clone()
    };
    assert_eq!(features("free"), json!([]));
    assert_eq!(features("starter"), json!(["inventory.maps", "api"]));
}
