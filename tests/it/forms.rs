//! Website forms as lead sources: signed submissions become leads with their source
//! and campaign, repeats change nothing, known people get a note, and forged, stale,
//! invalid or paused submissions are refused with the reason kept.

use crate::common::*;
use app::developers::api::{CreateFormSource, ListFormSources, SetFormSourceActive};
use app::standard_webhooks::WebhookKey;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn submit(
    endpoint: &str,
    key: &WebhookKey,
    id: &str,
    at: i64,
    body: &Value,
) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let res = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", at.to_string())
        .header("webhook-signature", key.sign(id, at, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn signed_submissions_become_leads_once_and_known_people_get_a_note() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, form) = app
        .call_json::<CreateFormSource>(
            &owner,
            &json!({ "input": { "name": "Sahel landing page", "lead_source": "Website" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{form}");
    let endpoint = form["endpoint"].as_str().unwrap().to_string();
    assert!(
        endpoint.starts_with(&format!("{}/webhooks/forms/form_", app.base)),
        "{endpoint}"
    );
    let key = WebhookKey::parse(form["secret"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let hana = json!({ "name": "Hana Adel", "email": "Hana@Example.com", "phone": "+20 100 123 4567",
                       "campaign": "sahel-summer", "message": "Two-bedroom villa, please call" });

    let (status, created) = submit(&endpoint, &key, "sub_1", now, &hana).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let lead: (String, Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT name, source, campaign, email::text FROM leads WHERE id = $1::uuid")
            .bind(created["lead_id"].as_str().unwrap())
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        lead,
        (
            "Hana Adel".into(),
            Some("Website".into()),
            Some("sahel-summer".into()),
            Some("hana@example.com".into())
        )
    );
    // The sender retries the same submission: nothing new.
    let (status, repeat) = submit(&endpoint, &key, "sub_1", now, &hana).await;
    assert_eq!(
        (status, repeat["outcome"].as_str()),
        (StatusCode::OK, Some("repeat"))
    );
    // She fills the form again from her phone: the same lead, one more note.
    let again = json!({ "name": "Hana A.", "phone": "+201001234567", "message": "Any news?" });
    let (status, matched) = submit(&endpoint, &key, "sub_2", now, &again).await;
    assert_eq!(
        (status, matched["outcome"].as_str()),
        (StatusCode::OK, Some("matched")),
        "{matched}"
    );
    assert_eq!(matched["lead_id"], created["lead_id"]);
    let (leads, notes): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM activities WHERE kind = 'NOTE')",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!((leads, notes), (1, 2));

    // Forged, stale, invalid: refused, and the form's list says why.
    let forged = WebhookKey::generate();
    let (status, _) = submit(&endpoint, &forged, "sub_3", now, &hana).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = submit(&endpoint, &key, "sub_4", now - 3600, &hana).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, invalid) = submit(
        &endpoint,
        &key,
        "sub_5",
        now,
        &json!({ "name": "X", "email": "not-an-address" }),
    )
    .await;
    assert_eq!(
        (status, invalid["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("email"))
    );
    let (status, unknown) = submit(
        &endpoint,
        &key,
        "sub_6",
        now,
        &json!({ "name": "X", "salary": 1 }),
    )
    .await;
    assert_eq!(
        (status, unknown["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );
    let (_, list) = app.call::<ListFormSources>(&owner, &[]).await;
    assert_eq!(list[0]["received"], 2, "{list}");
    assert!(list[0]["last_error"].as_str().unwrap().len() > 3, "{list}");

    // Paused: refused until resumed.
    let id = form["id"].as_str().unwrap();
    let (status, _) = app
        .call::<SetFormSourceActive>(&owner, &[("id", id), ("active", "false")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = submit(&endpoint, &key, "sub_7", now, &json!({ "name": "Late" })).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Nobody else's: another workspace cannot pause it, and unknown forms are 404.
    let other = app.signup("Bea", "bea@example.com", "Bravo").await;
    let (status, _) = app
        .call::<SetFormSourceActive>(&other, &[("id", id), ("active", "true")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = submit(
        &format!("{}/webhooks/forms/form_000000000000000000000000", app.base),
        &key,
        "sub_8",
        now,
        &hana,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
