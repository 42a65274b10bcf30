//! Outgoing webhooks: written with the change, signed per Standard Webhooks, retried
//! with the same id, failed for good, replayed, switched off after failing again and
//! again, and never sent to private addresses — against the provider peer's receiver.

use crate::common::*;
use app::db::Db;
use app::developers::api::{CreateWebhook, GetWebhook, ReplayFailed};
use app::developers::deliver::{deliver_due, DISABLE_AFTER, RETRY_AFTER};
use app::request::AppConfig;
use app::standard_webhooks::WebhookKey;
use peer::HookAnswer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn deliver(app: &TestApp) -> usize {
    deliver_due(
        &Db::new(app.pools.app.clone()),
        &AppConfig::local(&app.base),
        50,
    )
    .await
    .unwrap()
}

async fn delivery(app: &TestApp) -> (String, i32, f64, String) {
    sqlx::query_as(
        "SELECT status, attempts, extract(epoch FROM next_attempt_at - now())::float8, event_id
           FROM webhook_deliveries ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap()
}

/// The retry waiting out its backoff comes due, as the clock would make it.
async fn come_due(app: &TestApp) {
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE status = 'PENDING'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
}

#[tokio::test]
async fn events_are_signed_retried_with_the_same_id_replayed_and_endpoints_switched_off() {
    let (app, peer) = TestApp::spawn_with_peer().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, created) = app
        .call_json::<CreateWebhook>(
            &owner,
            &json!({ "input": { "url": peer.hook_url("crm"), "description": "CRM mirror",
                                "event_types": ["contact.created", "contact.updated"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let endpoint = created["id"].as_str().unwrap().to_string();
    let key = WebhookKey::parse(&secret).unwrap();
    let token = app.api_key(&owner, "Writer", &["contacts:write"]).await;

    let res = app
        .api(Method::POST, "/contacts", &token)
        .json(&json!({ "name": "Mona Saleh" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let contact: Value = res.json().await.unwrap();
    assert_eq!(deliver(&app).await, 1);
    let got = peer.hooks_received();
    assert_eq!(got.len(), 1);
    let first = &got[0];
    assert_eq!(first.name, "crm");
    assert!(first.webhook_id.starts_with("msg_"));
    // The signature verifies with the secret the admin was shown, per the spec.
    key.verify(
        &first.webhook_id,
        &first.webhook_timestamp,
        first.body.as_bytes(),
        &first.webhook_signature,
        chrono::Utc::now().timestamp(),
    )
    .expect("a Standard Webhooks signature");
    let event: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(event["type"], "contact.created");
    assert_eq!(event["data"]["id"], contact["id"]);
    assert_eq!(event["data"]["name"], "Mona Saleh");
    assert_eq!(delivery(&app).await.0, "SUCCEEDED");

    // The receiver fails: the delivery waits about 5 s, then goes again with the same id.
    peer.hooks_answer_next(&[HookAnswer::Status(500)]);
    let path = format!("/contacts/{}", contact["id"].as_str().unwrap());
    app.api(Method::PATCH, &path, &token)
        .json(&json!({ "title": "CEO" }))
        .send()
        .await
        .unwrap();
    assert_eq!(deliver(&app).await, 1);
    let (status, attempts, wait, event_id) = delivery(&app).await;
    assert_eq!((status.as_str(), attempts), ("PENDING", 1));
    assert!((3.0..=6.0).contains(&wait), "waits {wait} s");
    assert_eq!(deliver(&app).await, 0, "not due yet");
    come_due(&app).await;
    assert_eq!(deliver(&app).await, 1);
    let got = peer.hooks_received();
    assert_eq!(got.len(), 3);
    assert_eq!(
        (got[1].webhook_id.as_str(), got[1].answered),
        (event_id.as_str(), 500)
    );
    assert_eq!(
        (got[2].webhook_id.as_str(), got[2].answered),
        (event_id.as_str(), 200)
    );
    assert_eq!(delivery(&app).await.0, "SUCCEEDED");

    // Past the last retry it has failed for good; "send failed again" revives it.
    peer.hooks_answer_next(&[HookAnswer::Status(503)]);
    app.api(Method::PATCH, &path, &token)
        .json(&json!({ "title": "Chair" }))
        .send()
        .await
        .unwrap();
    sqlx::query("UPDATE webhook_deliveries SET attempts = $1 WHERE status = 'PENDING'")
        .bind(RETRY_AFTER.len() as i32)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    deliver(&app).await;
    assert_eq!(delivery(&app).await.0, "FAILED");
    let (status, replayed) = app
        .call::<ReplayFailed>(&owner, &[("endpoint", &endpoint)])
        .await;
    assert_eq!((status, replayed), (StatusCode::OK, json!(1)));
    deliver(&app).await;
    assert_eq!(delivery(&app).await.0, "SUCCEEDED");

    // The delivery log shows each attempt with what came back.
    let (status, detail) = app.call::<GetWebhook>(&owner, &[("id", &endpoint)]).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let logged: usize = detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attempts"].as_array().unwrap().len())
        .sum();
    assert_eq!(logged, 5);

    // Failing again and again switches the endpoint off and tells the admins.
    sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = $1")
        .bind(DISABLE_AFTER - 1)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    peer.hooks_answer_next(&[HookAnswer::Status(500)]);
    app.api(Method::PATCH, &path, &token)
        .json(&json!({ "title": "Founder" }))
        .send()
        .await
        .unwrap();
    deliver(&app).await;
    let (enabled, reason): (bool, Option<String>) =
        sqlx::query_as("SELECT enabled, disabled_reason FROM webhook_endpoints")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!((enabled, reason.as_deref()), (false, Some("FAILING")));
    let notified: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE kind = 'WEBHOOK_DISABLED'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(notified, 1);
    // A switched-off endpoint gets no new deliveries.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    app.api(Method::PATCH, &path, &token)
        .json(&json!({ "title": "Advisor" }))
        .send()
        .await
        .unwrap();
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(before, after);

    // Another workspace's admin cannot see or replay this endpoint.
    let other = app.signup("Bea", "bea@example.com", "Bravo").await;
    let (status, _) = app.call::<GetWebhook>(&other, &[("id", &endpoint)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call::<ReplayFailed>(&other, &[("endpoint", &endpoint)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn endpoints_on_private_loopback_or_metadata_addresses_are_refused() {
    let app = TestApp::spawn_with(|c| c.egress = mail::Egress::PublicOnly).await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://user:secret@93.184.216.34/hook",
        "javascript:alert(1)",
    ] {
        let (status, body) = app
            .call_json::<CreateWebhook>(
                &owner,
                &json!({ "input": { "url": url, "description": "", "event_types": ["lead.created"] } }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(error_field(&body), Some("url"), "{url}: {body}");
    }
    let (status, body) = app
        .call_json::<CreateWebhook>(
            &owner,
            &json!({ "input": { "url": "https://93.184.216.34/hook", "description": "", "event_types": ["made.up"] } }),
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("event_types"))
    );
}

#[tokio::test]
async fn a_paid_invoice_reaches_a_subscriber_and_nothing_is_written_for_nobody() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let db = Db::new(app.pools.app.clone());
    let secret = AppConfig::local("").billing_webhook_secret;
    let now = chrono::Utc::now().timestamp();
    let pay = |invoice: uuid::Uuid, id: &str| {
        json!({ "id": id, "type": "invoice.paid", "created": now,
                "data": { "object": { "id": "pi_1", "metadata": { "tenant_id": tenant, "invoice_id": invoice } } } })
    };
    let invoice = || async {
        let mut tx = db.tenant_tx(tenant, None).await.unwrap();
        let id = app::billing::ssr::create_invoice(
            &mut tx,
            tenant,
            "USD",
            &[("PLAN", "Pro".into(), 11600)],
            (chrono::Utc::now(), chrono::Utc::now()),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    };
    let events = || async {
        sqlx::query_as::<_, (String, Value)>("SELECT type, payload FROM webhook_events")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap()
    };
    // Nobody listens: paying writes no event at all.
    let first = invoice().await;
    crate::billing::post_event(&app, &pay(first, "evt_a"), &secret, now).await;
    assert!(events().await.is_empty());

    let (status, body) = app
        .call_json::<CreateWebhook>(
            &owner,
            &json!({ "input": { "url": "http://127.0.0.1:9/books", "description": "Accounting",
                                "event_types": ["invoice.paid"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = invoice().await;
    let (status, _) = crate::billing::post_event(&app, &pay(second, "evt_b"), &secret, now).await;
    assert_eq!(status, StatusCode::OK);
    let written = events().await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(written[0].0, "invoice.paid");
    assert_eq!(written[0].1["data"]["id"], json!(second));
    assert_eq!(written[0].1["data"]["total_minor"], json!(11600));
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_is_a_failed_attempt_retried_with_the_same_id() {
    let (app, peer) = TestApp::spawn_with_peer().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, created) = app
        .call_json::<CreateWebhook>(
            &owner,
            &json!({ "input": { "url": peer.hook_url("slow"), "description": "Slow",
                                "event_types": ["contact.created"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let token = app.api_key(&owner, "Writer", &["contacts:write"]).await;
    let res = app
        .api(Method::POST, "/contacts", &token)
        .json(&json!({ "name": "Mona Saleh" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    // The receiver holds the request 3 s; the sender gives up after 1 s.
    peer.hooks_answer_next(&[HookAnswer::Delay(std::time::Duration::from_secs(3))]);
    let impatient = AppConfig {
        webhook_timeout: std::time::Duration::from_secs(1),
        ..AppConfig::local(&app.base)
    };
    let db = Db::new(app.pools.app.clone());
    let started = std::time::Instant::now();
    assert_eq!(deliver_due(&db, &impatient, 50).await.unwrap(), 1);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "the attempt waited {:?} for a slow receiver",
        started.elapsed()
    );
    let (status, attempts, _, event_id) = delivery(&app).await;
    assert_eq!((status.as_str(), attempts), ("PENDING", 1));
    let (error, duration_ms): (Option<String>, i32) =
        sqlx::query_as("SELECT error, duration_ms FROM webhook_attempts ORDER BY at DESC LIMIT 1")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(error.as_deref(), Some("timed out"));
    assert!((900..2500).contains(&duration_ms), "{duration_ms} ms");

    // The retry reaches a receiver that answers in time, under the same webhook-id.
    come_due(&app).await;
    assert_eq!(deliver_due(&db, &impatient, 50).await.unwrap(), 1);
    assert_eq!(delivery(&app).await.0, "SUCCEEDED");
    let ids: Vec<String> = peer
        .hooks_received()
        .into_iter()
        .map(|h| h.webhook_id)
        .collect();
    assert_eq!(ids, vec![event_id.clone(), event_id]);
}
