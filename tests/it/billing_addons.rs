//! Add-ons against a real PostgreSQL and real HTTP: extra seats lift the seat limit
//! with a prorated invoice and renew with the plan; fewer are refused while in use;
//! a message pack raises this month's cap; nobody but the owner changes them.

use crate::common::*;
use app::billing::api::{BillingOverview, BuyMessagePack, ChangePlan, GetInvoice, SetAddonUnits};
use app::billing::model::{Metric, Overview};
use app::team::api::CreateInvite;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

/// Starter or Free, ACTIVE, in USD, ten days into a 30-day period.
async fn on_plan(app: &TestApp, tenant: Uuid, plan: &str) {
    sqlx::query(
        "UPDATE subscriptions SET plan_id = $2, status = 'ACTIVE', cycle = 'MONTHLY', currency = 'USD',
                current_period_start = now() - interval '10 days', current_period_end = now() + interval '20 days'
          WHERE tenant_id = $1",
    )
    .bind(tenant)
    .bind(plan)
    .execute(&app.pools.owner)
    .await
    .unwrap();
}

async fn overview(app: &TestApp, client: &reqwest::Client) -> Overview {
    let (status, body) = app.call::<BillingOverview>(client, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

fn limit_of(o: &Overview, metric: Metric) -> Option<i64> {
    o.usage.iter().find(|u| u.metric == metric).unwrap().limit
}

fn field_of(body: &Value) -> &str {
    body["Validation"]["field"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn extra_seats_lift_the_limit_now_with_a_prorated_invoice_and_renew_with_the_plan() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    on_plan(&app, tenant, "free").await;

    // Free has 3 seats: the owner and two more fill it.
    app.invite_and_join(&owner, "one@example.com", "SALES")
        .await;
    app.invite_and_join(&owner, "two@example.com", "SALES")
        .await;
    let (status, body) = app
        .call::<CreateInvite>(&owner, &[("email", "three@example.com"), ("role", "SALES")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Two extra seats, 20 of 30 days left: two thirds of 2 × USD 9, on an invoice now.
    let (status, change) = app
        .call::<SetAddonUnits>(&owner, &[("addon", "extra_seat"), ("units", "2")])
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    let invoice = change["invoice"].as_str().unwrap().to_string();
    let (_, detail) = app.call::<GetInvoice>(&owner, &[("id", &invoice)]).await;
    let line = &detail["lines"][0];
    assert_eq!(
        line["description"],
        "Extra seats × 2, for the rest of the period"
    );
    let amount = line["amount_minor"].as_i64().unwrap();
    assert!((1199..=1200).contains(&amount), "{detail}");
    assert_eq!(detail["invoice"]["total_minor"].as_i64().unwrap(), amount);

    let o = overview(&app, &owner).await;
    assert_eq!(limit_of(&o, Metric::Seats), Some(5));
    let seat = o.addons.iter().find(|a| a.id == "extra_seat").unwrap();
    assert_eq!(
        (seat.units, seat.price_minor, seat.available),
        (2, Some(900), true)
    );
    // The extra seats are there at once: five members.
    app.invite_and_join(&owner, "three@example.com", "SALES")
        .await;
    app.invite_and_join(&owner, "four@example.com", "SALES")
        .await;

    // Dropping to one extra seat would leave four seats for five members, and says so
    // at the field.
    let (status, body) = app
        .call::<SetAddonUnits>(&owner, &[("addon", "extra_seat"), ("units", "1")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(field_of(&body), "units");
    assert!(body.to_string().contains("capped at 4"), "{body}");

    // Bad input is named at its field; nothing changes.
    for (addon, units, field) in [
        ("extra_seat", "-1", "units"),
        ("extra_seat", "201", "units"),
        ("extra_seat", "two", "units"),
        ("extra_seat", "1.5", "units"),
        ("nope", "1", "addon"),
        ("wa_pack", "1", "addon"),
    ] {
        let (status, body) = app
            .call::<SetAddonUnits>(&owner, &[("addon", addon), ("units", units)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{addon} {units}: {body}"
        );
        assert_eq!(field_of(&body), field, "{body}");
    }
    // The period rolls: the renewal invoice has the add-on at its full price, even on
    // a free plan.
    let at = chrono::Utc::now() + chrono::Duration::days(21);
    assert_eq!(
        app::billing::renewals::roll_periods(&app.pools.app, at)
            .await
            .unwrap(),
        1
    );
    let lines: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT l.kind, l.description, l.amount_minor FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
          WHERE i.tenant_id = $1 AND i.number = 2 ORDER BY l.position",
    )
    .bind(tenant)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!((lines[0].0.as_str(), lines[0].2), ("ADDON", 1800));
    assert!(lines[0].1.starts_with("Extra seats × 2, "), "{lines:?}");

    // Every change is audited.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'billing.addon_changed'",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_message_pack_raises_this_months_cap_and_only_the_owner_buys() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    on_plan(&app, tenant, "starter").await;
    let before = overview(&app, &owner).await;
    let cap = limit_of(&before, Metric::WhatsAppMessages).unwrap();

    let (status, change) = app
        .call::<BuyMessagePack>(&owner, &[("addon", "wa_pack"), ("packs", "2")])
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert_eq!(change["invoice_number"], 1);
    let o = overview(&app, &owner).await;
    assert_eq!(limit_of(&o, Metric::WhatsAppMessages), Some(cap + 2000));
    assert_eq!(
        limit_of(&o, Metric::EmailMessages),
        limit_of(&before, Metric::EmailMessages),
        "a WhatsApp pack does not lift email"
    );
    let pack = o.addons.iter().find(|a| a.id == "wa_pack").unwrap();
    assert_eq!(pack.this_month, 2000);
    let (_, detail) = app
        .call::<GetInvoice>(&owner, &[("id", change["invoice"].as_str().unwrap())])
        .await;
    assert_eq!(detail["lines"][0]["amount_minor"], 5400, "{detail}");
    assert_eq!(
        detail["lines"][0]["description"],
        "WhatsApp message pack × 2: 2,000 messages this month"
    );

    // The dispatcher's reservation sees the pack too.
    let db = app::db::Db::new(app.pools.app.clone());
    let mut tx = db.tenant_tx(tenant, None).await.unwrap();
    let grant = app::billing::meter::reserve(
        &mut tx,
        tenant,
        app::outreach::model::Channel::WhatsApp,
        chrono::Utc::now(),
        i64::MAX / 2,
    )
    .await
    .unwrap();
    assert_eq!(grant.cap, Some(cap + 2000));
    assert_eq!(grant.granted, cap + 2000);
    tx.rollback().await.unwrap();

    // Out of range, or not a pack.
    for (addon, packs) in [("wa_pack", "0"), ("wa_pack", "21"), ("extra_seat", "1")] {
        let (status, body) = app
            .call::<BuyMessagePack>(&owner, &[("addon", addon), ("packs", packs)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{addon} {packs}: {body}"
        );
    }

    // An admin reads the add-ons and cannot buy; another workspace sees none of them.
    let admin = app
        .invite_and_join(&owner, "admin@example.com", "ADMIN")
        .await;
    let (status, _) = app
        .call::<BuyMessagePack>(&admin, &[("addon", "wa_pack"), ("packs", "1")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call::<SetAddonUnits>(&admin, &[("addon", "extra_seat"), ("units", "1")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        overview(&app, &admin)
            .await
            .addons
            .iter()
            .find(|a| a.id == "wa_pack")
            .unwrap()
            .this_month,
        2000
    );
    let bob = app.signup("Bob", "bob@example.com", "Other").await;
    let theirs = overview(&app, &bob).await;
    assert!(theirs
        .addons
        .iter()
        .all(|a| a.units == 0 && a.this_month == 0));

    // On a plan with no cap there is nothing to lift.
    sqlx::query("UPDATE subscriptions SET plan_id = 'enterprise' WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, body) = app
        .call::<BuyMessagePack>(&owner, &[("addon", "wa_pack"), ("packs", "1")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("no limit"), "{body}");
}

#[tokio::test]
async fn a_plan_change_says_which_add_ons_carry_on_and_ends_those_the_new_plan_makes_pointless() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    on_plan(&app, tenant, "starter").await;
    for (addon, units) in [("extra_seat", "1"), ("extra_wa_number", "2")] {
        let (status, body) = app
            .call::<SetAddonUnits>(&owner, &[("addon", addon), ("units", units)])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // A downgrade names what carries on with it, and renews at its price.
    let (status, change) = app
        .call::<ChangePlan>(&owner, &[("plan", "free"), ("cycle", "MONTHLY")])
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert_eq!(
        change["Scheduled"]["kept_addons"],
        serde_json::json!(["Extra seats × 1", "Extra WhatsApp numbers × 2"])
    );

    // Staff lift Pro's limit on WhatsApp numbers: extra numbers on Pro would be paid
    // for nothing, so upgrading ends them and credits their unused 20 of 30 days.
    sqlx::query("UPDATE plans SET wa_numbers_limit = NULL WHERE id = 'pro'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, change) = app
        .call::<ChangePlan>(&owner, &[("plan", "pro"), ("cycle", "MONTHLY")])
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    assert_eq!(
        change["Upgraded"]["ended_addons"],
        serde_json::json!(["Extra WhatsApp numbers × 2"])
    );
    let invoice = change["Upgraded"]["invoice"].as_str().unwrap().to_string();
    let (_, detail) = app.call::<GetInvoice>(&owner, &[("id", &invoice)]).await;
    let credit = detail["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["description"] == "Unused time on Extra WhatsApp numbers × 2")
        .unwrap_or_else(|| panic!("no credit line: {detail}"));
    // Two thirds of 2 × USD 18.
    let amount = credit["amount_minor"].as_i64().unwrap();
    assert!((-2400..=-2399).contains(&amount), "{detail}");

    let o = overview(&app, &owner).await;
    let units = |id: &str| o.addons.iter().find(|a| a.id == id).unwrap().units;
    assert_eq!((units("extra_seat"), units("extra_wa_number")), (1, 0));
    assert_eq!(limit_of(&o, Metric::WhatsAppNumbers), None);

    // The renewal bills Pro and the seat, not the ended numbers.
    let at = chrono::Utc::now() + chrono::Duration::days(21);
    app::billing::renewals::roll_periods(&app.pools.app, at)
        .await
        .unwrap();
    let kinds: Vec<(String, String)> = sqlx::query_as(
        "SELECT l.kind, l.description FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
          WHERE i.tenant_id = $1 AND i.period_start >= now() + interval '19 days' ORDER BY l.position",
    )
    .bind(tenant)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(kinds[0].0, "PLAN");
    assert!(kinds[1].1.starts_with("Extra seats × 1, "), "{kinds:?}");

    let audited: Value = sqlx::query_scalar(
        "SELECT after FROM audit_logs WHERE tenant_id = $1 AND action = 'billing.plan_changed'
          ORDER BY created_at DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        audited["ended_addons"],
        serde_json::json!(["Extra WhatsApp numbers × 2"])
    );
}
