//! Facebook Lead Ads as a lead source, against the provider peer's Graph API: Meta's
//! subscription handshake, signed `leadgen` notifications queued once per lead, each
//! lead fetched by the worker and filed with its source and campaign (or as a note on
//! a known lead), forged notifications refused, Graph failures retried with the reason
//! on the card, and nobody else's connection reachable.

use crate::common::*;
use app::crypto::{hex, hmac_sha256};
use app::db::Db;
use app::developers::api::{CreateFacebookSource, ListFacebookSources, SetFacebookSourceActive};
use app::developers::facebook_fetch::{fetch_due, GraphLeads, MAX_ATTEMPTS};
use app::request::AppConfig;
use peer::FacebookLead;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

const PAGE: &str = "1029384756";
const APP_SECRET: &str = "3f1c0ffee5ecret0123456789abcdef";
const PAGE_TOKEN: &str = "EAAGpagetoken123";

struct Connection {
    callback: String,
    verify_token: String,
    id: String,
}

async fn connect(app: &TestApp, admin: &reqwest::Client) -> Connection {
    let (status, created) = app
        .call_json::<CreateFacebookSource>(
            admin,
            &json!({ "input": {
                "name": "Sahel Page", "page_id": PAGE, "app_secret": APP_SECRET,
                "page_token": PAGE_TOKEN, "lead_source": "Facebook Ads",
            } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    Connection {
        callback: created["callback_url"].as_str().unwrap().to_string(),
        verify_token: created["verify_token"].as_str().unwrap().to_string(),
        id: created["id"].as_str().unwrap().to_string(),
    }
}

fn notification(leads: &[&str], page: &str) -> Vec<u8> {
    let changes: Vec<Value> = leads
        .iter()
        .map(|id| {
            json!({ "field": "leadgen", "value": {
                "leadgen_id": id, "page_id": page, "form_id": "7001", "ad_id": "8001",
                "adgroup_id": "8001", "created_time": 1_764_680_000,
            } })
        })
        .collect();
    serde_json::to_vec(&json!({ "object": "page", "entry": [
        { "id": page, "time": 1_764_680_000, "changes": changes },
    ] }))
    .unwrap()
}

fn signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), body)))
}

async fn post(url: &str, signature: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn notify(c: &Connection, leads: &[&str]) -> (StatusCode, Value) {
    let body = notification(leads, PAGE);
    post(&c.callback, Some(&signature(APP_SECRET, &body)), body).await
}

fn lead(id: &str, fields: &[(&str, &str)]) -> FacebookLead {
    FacebookLead {
        id: id.into(),
        access_token: PAGE_TOKEN.into(),
        created_time: Some("2026-12-02T10:00:00+0000".into()),
        field_data: fields
            .iter()
            .map(|(name, value)| json!({ "name": name, "values": [value] }))
            .collect(),
        ad_id: Some("8001".into()),
        ad_name: Some("Villas ad".into()),
        campaign_id: Some("9001".into()),
        campaign_name: Some("Sahel summer".into()),
        form_id: Some("7001".into()),
        platform: Some("fb".into()),
        fail_times: 0,
    }
}

/// One pass of the worker's fetch loop, with the server's settings and the peer's Graph API.
async fn fetch(app: &TestApp, peer: &peer::Peer) -> usize {
    let mut config = AppConfig::local(&app.base);
    config.wa_api_url = format!("{}/v21.0", peer.http_base());
    let graph = GraphLeads::new(&config.wa_api_url);
    fetch_due(
        &Db::new(app.pools.app.clone()),
        &Arc::new(config),
        &graph,
        16,
    )
    .await
    .unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_subscription_handshake_echoes_the_challenge_for_the_right_token_only() {
    let (app, _peer) = TestApp::spawn_with_peer().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let c = connect(&app, &owner).await;
    assert!(c
        .callback
        .starts_with(&format!("{}/webhooks/facebook/fb_", app.base)));
    // The card gives the admin both things Meta asks for.
    let page = app.get(&owner, "/settings/developers").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("facebook-source-row") && html.contains(&c.callback),
        "the card lists the connection"
    );
    assert!(html.contains(&c.verify_token));
    let get = |mode: &str, token: &str| {
        reqwest::Client::new()
            .get(&c.callback)
            .query(&[
                ("hub.mode", mode),
                ("hub.verify_token", token),
                ("hub.challenge", "1158201444"),
            ])
            .send()
    };
    let res = get("subscribe", &c.verify_token).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(res.text().await.unwrap(), "1158201444");
    let res = get("subscribe", "lv_not-the-token-at-all").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = get("unsubscribe", &c.verify_token).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Another connection's URL with this token: refused too.
    let other = reqwest::Client::new()
        .get(format!(
            "{}/webhooks/facebook/fb_000000000000000000000000",
            app.base
        ))
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", c.verify_token.as_str()),
            ("hub.challenge", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_signed_notification_becomes_one_lead_once_and_a_known_person_gets_a_note() {
    let (app, peer) = TestApp::spawn_with_peer().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let c = connect(&app, &owner).await;
    peer.add_facebook_lead(lead(
        "5550001",
        &[
            ("full_name", "Hana Adel"),
            ("email", "Hana@Example.com"),
            ("phone_number", "+20 100 123 4567"),
            ("budget?", "5M EGP"),
        ],
    ));

    let (status, answer) = notify(&c, &["5550001"]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["queued"], 1);
    // Nothing is read from Meta inside the webhook: the lead waits for the worker.
    assert_eq!(count(&app, "SELECT count(*) FROM leads").await, 0);
    assert!(peer.facebook_lead_reads().is_empty());

    assert_eq!(fetch(&app, &peer).await, 1);
    let filed: (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as("SELECT name, source, campaign, email::text, phone_e164 FROM leads")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(
        filed,
        (
            "Hana Adel".into(),
            Some("Facebook Ads".into()),
            Some("Sahel summer".into()),
            Some("hana@example.com".into()),
            Some("+201001234567".into())
        )
    );
    // The custom question is kept in the note.
    let note: String = sqlx::query_scalar("SELECT body FROM activities WHERE kind = 'NOTE'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert!(note.contains("budget?: 5M EGP"), "{note}");

    // Meta retries the same notification: nothing new, nothing read again.
    let (status, again) = notify(&c, &["5550001"]).await;
    assert_eq!(
        (status, again["repeats"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    assert_eq!(fetch(&app, &peer).await, 0);
    assert_eq!(peer.facebook_lead_reads(), ["5550001"]);

    // She fills another form with the same address: a note on her lead.
    peer.add_facebook_lead(lead(
        "5550002",
        &[("full_name", "Hana A."), ("email", "hana@example.com")],
    ));
    notify(&c, &["5550002"]).await;
    assert_eq!(fetch(&app, &peer).await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM leads").await, 1);
    assert_eq!(
        count(&app, "SELECT count(*) FROM activities WHERE kind = 'NOTE'").await,
        2
    );
    let outcomes: Vec<(String, String)> =
        sqlx::query_as("SELECT event_id, outcome FROM integration_events ORDER BY event_id")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        outcomes,
        [
            ("5550001".into(), "CREATED".into()),
            ("5550002".into(), "MATCHED".into())
        ]
    );
    let (_, list) = app.call::<ListFacebookSources>(&owner, &[]).await;
    assert_eq!(
        (list[0]["received"].as_i64(), list[0]["pending"].as_i64()),
        (Some(2), Some(0)),
        "{list}"
    );

    // A change for another Page is not this connection's.
    let body = notification(&["5550003"], "999");
    let (status, other) = post(&c.callback, Some(&signature(APP_SECRET, &body)), body).await;
    assert_eq!(
        (status, other["ignored"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM integration_events").await,
        2
    );
}

#[tokio::test]
async fn forged_unsigned_and_paused_notifications_are_refused_and_create_nothing() {
    let (app, peer) = TestApp::spawn_with_peer().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let c = connect(&app, &owner).await;
    peer.add_facebook_lead(lead("5550010", &[("full_name", "Forged")]));
    let body = notification(&["5550010"], PAGE);

    let (status, forged) = post(
        &c.callback,
        Some(&signature("another-apps-secret", &body)),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{forged}");
    assert!(forged["error"].as_str().unwrap().contains("does not match"));
    let (status, _) = post(&c.callback, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed, then changed on the way.
    let mut tampered = body.clone();
    let sig = signature(APP_SECRET, &body);
    *tampered.iter_mut().rev().nth(3).unwrap() ^= 1;
    let (status, _) = post(&c.callback, Some(&sig), tampered).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Over a megabyte.
    let (status, _) = post(&c.callback, Some(&sig), vec![b' '; 1024 * 1024 + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // The connection's id is no website form's.
    let as_form = c
        .callback
        .replace("/webhooks/facebook/", "/webhooks/forms/");
    let (status, _) = post(&as_form, Some(&sig), body.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(fetch(&app, &peer).await, 0);
    assert_eq!(
        count(&app, "SELECT count(*) FROM integration_events").await,
        0
    );
    assert_eq!(count(&app, "SELECT count(*) FROM leads").await, 0);
    let (_, list) = app.call::<ListFacebookSources>(&owner, &[]).await;
    assert!(
        list[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("X-Hub-Signature-256"),
        "{list}"
    );

    // Paused: refused (Meta retries later) until resumed.
    let (status, _) = app
        .call::<SetFacebookSourceActive>(&owner, &[("id", &c.id), ("active", "false")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = notify(&c, &["5550010"]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        count(&app, "SELECT count(*) FROM integration_events").await,
        0
    );
    app.call::<SetFacebookSourceActive>(&owner, &[("id", &c.id), ("active", "true")])
        .await;
    let (status, _) = notify(&c, &["5550010"]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn graph_failures_are_retried_with_backoff_and_shown_on_the_card() {
    let (app, peer) = TestApp::spawn_with_peer().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let c = connect(&app, &owner).await;
    // Meta's side fails once ("retry later"), then answers.
    peer.add_facebook_lead(FacebookLead {
        fail_times: 1,
        ..lead("5550020", &[("full_name", "Omar Said")])
    });
    notify(&c, &["5550020"]).await;
    assert_eq!(fetch(&app, &peer).await, 1);
    let (status, attempts, wait): (String, i32, f64) = sqlx::query_as(
        "SELECT status, attempts, extract(epoch FROM next_attempt_at - now())::float8
           FROM integration_events WHERE event_id = '5550020'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("PENDING", 1));
    assert!(
        (10.0..=31.0).contains(&wait),
        "the first retry waits 15-30 s: {wait}"
    );
    let (_, list) = app.call::<ListFacebookSources>(&owner, &[]).await;
    let error = list[0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("5550020") && error.contains("500"),
        "{error}"
    );
    assert!(
        error.contains(&format!("attempt 1 of {MAX_ATTEMPTS}")),
        "{error}"
    );
    assert_eq!(list[0]["pending"], 1);
    // Not before its time.
    assert_eq!(fetch(&app, &peer).await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM leads").await, 0);
    sqlx::query("UPDATE integration_events SET next_attempt_at = now()")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(fetch(&app, &peer).await, 1);
    let (name, campaign): (String, Option<String>) =
        sqlx::query_as("SELECT name, campaign FROM leads")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        (name.as_str(), campaign.as_deref()),
        ("Omar Said", Some("Sahel summer"))
    );

    // A lead the Graph API does not know (or the token may not read) will not get
    // better: failed at once, and said so.
    notify(&c, &["5550021"]).await;
    fetch(&app, &peer).await;
    let (status, attempts): (String, i32) = sqlx::query_as(
        "SELECT status, attempts FROM integration_events WHERE event_id = '5550021'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("FAILED", 1));
    let (_, list) = app.call::<ListFacebookSources>(&owner, &[]).await;
    assert_eq!(
        (list[0]["failed"].as_i64(), list[0]["pending"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(
        list[0]["last_error"].as_str().unwrap().contains("code 100"),
        "{list}"
    );
}

#[tokio::test]
async fn connections_are_checked_field_by_field_and_nobody_elses() {
    let (app, _peer) = TestApp::spawn_with_peer().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    for (field, input) in [
        (
            "name",
            json!({ "name": " ", "page_id": PAGE, "app_secret": "s", "page_token": "t", "lead_source": "" }),
        ),
        (
            "page_id",
            json!({ "name": "P", "page_id": "my-page", "app_secret": "s", "page_token": "t", "lead_source": "" }),
        ),
        (
            "app_secret",
            json!({ "name": "P", "page_id": PAGE, "app_secret": "two words", "page_token": "t", "lead_source": "" }),
        ),
        (
            "page_token",
            json!({ "name": "P", "page_id": PAGE, "app_secret": "s", "page_token": "", "lead_source": "" }),
        ),
    ] {
        let (status, body) = app
            .call_json::<CreateFacebookSource>(&owner, &json!({ "input": input }))
            .await;
        assert!(status.is_client_error(), "{field}: {status} {body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let c = connect(&app, &owner).await;
    // The secrets are sealed, not stored as given.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM integration_connections
          WHERE position($1::bytea IN credentials_sealed) > 0 OR position($2::bytea IN token_sealed) > 0",
    )
    .bind(APP_SECRET.as_bytes())
    .bind(PAGE_TOKEN.as_bytes())
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(stored, 0);

    let other = app.signup("Bea", "bea@example.com", "Bravo").await;
    let (_, list) = app.call::<ListFacebookSources>(&other, &[]).await;
    assert_eq!(list, json!([]));
    let (status, _) = app
        .call::<SetFacebookSourceActive>(&other, &[("id", &c.id), ("active", "false")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = app.call::<ListFacebookSources>(&owner, &[]).await;
    assert_eq!(mine[0]["active"], true);
    // Audited.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_logs WHERE action = 'lead_source.created'"
        )
        .await,
        1
    );
}
