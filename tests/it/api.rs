//! The public REST API: keys and scopes, tenancy, ETags, idempotency, cursors and the
//! rate limit, over real HTTP against a real PostgreSQL.

use crate::common::*;
use app::developers::api::{RevokeApiKey, RotateApiKey};
use app::developers::objects::Contact;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub async fn body(res: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn key_id(app: &TestApp, token: &str) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM api_keys WHERE prefix = $1")
        .bind(&token[..20])
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_reads_and_writes_what_its_scopes_allow_and_every_write_is_audited_as_the_key() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app
        .api_key(&owner, "CRM sync", &["contacts:write", "leads:read"])
        .await;

    // No key, a made-up key: 401 in the API's problem shape, with a request id.
    let (status, headers, problem) = body(
        reqwest::get(format!("{}/api/v1/contacts", app.base))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&headers, "content-type"), "application/problem+json");
    assert_eq!(
        problem["type"],
        "https://leadline.dev/problems/unauthenticated"
    );
    assert!(
        !problem["request_id"].as_str().unwrap().is_empty(),
        "{problem}"
    );
    // A caller's own request id is kept, in the header and the problem; one that could
    // forge log lines is replaced by a fresh one.
    let too_long = "x".repeat(65);
    for (sent, kept) in [
        ("trace-42-abc", true),
        ("x\" level=error msg=\"forged", false),
        (too_long.as_str(), false),
    ] {
        let res = reqwest::Client::new()
            .get(format!("{}/api/v1/contacts", app.base))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let (_, headers, problem) = body(res).await;
        let echoed = header(&headers, "x-request-id").to_string();
        assert_eq!(problem["request_id"], echoed.as_str(), "{problem}");
        assert_eq!(echoed == sent, kept, "{sent:?} came back as {echoed:?}");
        assert!(echoed.len() == 32 || kept, "{echoed}");
    }

    let forged = format!("{}_{}", &token[..20], "A".repeat(43));
    let (status, _, _) = body(
        app.api(Method::GET, "/contacts", &forged)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, headers, created) = body(
        app.api(Method::POST, "/contacts", &token)
            .json(
                &json!({ "name": "Mona Saleh", "email": "Mona@Example.com", "tags": ["vip"],
                           "company": "Delta Homes" }),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let contact: Contact = serde_json::from_value(created.clone()).expect("the documented shape");
    assert_eq!(contact.email.as_deref(), Some("mona@example.com"));
    assert_eq!(contact.owner_id, None, "a key owns nothing");
    assert!(contact.company_id.is_some());
    assert_eq!(
        header(&headers, "location"),
        format!("/api/v1/contacts/{}", contact.id)
    );
    let etag = header(&headers, "etag").to_string();
    assert!(!header(&headers, "ratelimit-remaining").is_empty());

    // Validation speaks per field, as the form does.
    let (status, _, problem) = body(
        app.api(Method::POST, "/contacts", &token)
            .json(&json!({ "name": "X", "email": "not an address" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "email", "{problem}");
    let (status, _, problem) = body(
        app.api(Method::POST, "/contacts", &token)
            .json(&json!({ "name": "X", "salary": 5 }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("salary"))
    );
    // Text PostgreSQL cannot store is refused by field, in bodies and in filters alike.
    let (status, _, problem) = body(
        app.api(Method::POST, "/contacts", &token)
            .json(&json!({ "name": "Nul\u{0}Person", "tags": ["ok"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, _, _) = body(
        app.api(Method::GET, "/contacts?tag=%00", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A stale If-Match changes nothing; the current one applies.
    let path = format!("/contacts/{}", contact.id);
    let (status, _, _) = body(
        app.api(Method::PATCH, &path, &token)
            .header("if-match", "\"1\"")
            .json(&json!({ "title": "CEO" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, headers, updated) = body(
        app.api(Method::PATCH, &path, &token)
            .header("if-match", &etag)
            .json(&json!({ "title": "CEO", "phone": null }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["title"], "CEO");
    assert_ne!(header(&headers, "etag"), etag);

    // Read-only on leads, nothing on deals.
    let (status, _, problem) = body(
        app.api(Method::POST, "/leads", &token)
            .json(&json!({ "name": "Omar" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        problem["type"],
        "https://leadline.dev/problems/insufficient_scope"
    );
    let (status, _, page) =
        body(app.api(Method::GET, "/leads", &token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, _, _) = body(app.api(Method::GET, "/deals", &token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _, _) = body(app.api(Method::DELETE, &path, &token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = body(app.api(Method::GET, &path, &token).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Each write is in the audit log as the key's, with no member named.
    let id = key_id(&app, &token).await;
    let audited: Vec<(String, Option<uuid::Uuid>)> = sqlx::query_as(
        "SELECT action, actor_user_id FROM audit_logs WHERE actor_api_key_id = $1 ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    let actions: Vec<&str> = audited.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["record.created", "record.updated", "bulk.deleted"]
    );
    assert!(audited.iter().all(|(_, user)| user.is_none()));
    // "Last used" shows on the key.
    let (used, ip): (Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
        sqlx::query_as("SELECT last_used_at, last_used_ip FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert!(used.is_some());
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn another_tenants_ids_answer_404_and_never_appear_in_lists() {
    let app = TestApp::spawn().await;
    let a = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = app.signup("Bea", "bea@example.com", "Bravo").await;
    let key_a = app.api_key(&a, "A", &["contacts:write"]).await;
    let key_b = app.api_key(&b, "B", &["contacts:write"]).await;
    let (_, _, created) = body(
        app.api(Method::POST, "/contacts", &key_a)
            .json(&json!({ "name": "Secret Person" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let path = format!("/contacts/{}", created["id"].as_str().unwrap());
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let (status, _, _) = body(
            app.api(method.clone(), &path, &key_b)
                .json(&json!({ "name": "Taken" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let (_, _, page) = body(
        app.api(Method::GET, "/contacts", &key_b)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["data"], json!([]));
    let (_, _, mine) = body(app.api(Method::GET, &path, &key_a).send().await.unwrap()).await;
    assert_eq!(mine["name"], "Secret Person", "untouched: {mine}");
    // Ids that are not ids are not found either, not a 500.
    let (status, _, _) = body(
        app.api(Method::GET, "/contacts/not-a-uuid", &key_a)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, problem) = body(
        app.api(Method::GET, "/widgets", &key_a)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

#[tokio::test]
async fn revoked_expired_and_rotated_keys() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app.api_key(&owner, "Zapier", &["contacts:read"]).await;
    let id = key_id(&app, &token).await;
    let ok = |t: String| {
        let app = &app;
        async move {
            app.api(Method::GET, "/contacts", &t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(ok(token.clone()).await, StatusCode::OK);

    // Rotation with an overlap: both work until the old one lapses.
    let (status, rotated) = app
        .call::<RotateApiKey>(&owner, &[("id", &id.to_string()), ("overlap_hours", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let fresh = rotated["token"].as_str().unwrap().to_string();
    assert_eq!(ok(token.clone()).await, StatusCode::OK);
    assert_eq!(ok(fresh.clone()).await, StatusCode::OK);
    // An hour later (the clock moved), only the new one does.
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let res = app
        .api(Method::GET, "/contacts", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("expired"));
    assert_eq!(ok(fresh.clone()).await, StatusCode::OK);

    let fresh_id = key_id(&app, &fresh).await;
    let (status, _) = app
        .call::<RevokeApiKey>(&owner, &[("id", &fresh_id.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .api(Method::GET, "/contacts", &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("revoked"));

    // An allow-list that does not hold this address: 403.
    let listed = app.api_key(&owner, "Office only", &["contacts:read"]).await;
    sqlx::query("UPDATE api_keys SET allowed_ips = '{203.0.113.0/24}' WHERE prefix = $1")
        .bind(&listed[..20])
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(ok(listed).await, StatusCode::FORBIDDEN);

    // A sales rep cannot make keys at all.
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let (status, _) = app
        .call_json::<app::developers::api::CreateApiKey>(
            &rep,
            &json!({ "input": { "name": "mine", "scopes": ["contacts:read"], "expires_in_days": null, "allowed_ips": "" } }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_rate_limit_holds_across_two_instances() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app.api_key(&owner, "Busy", &["contacts:read"]).await;
    sqlx::query("UPDATE api_keys SET per_minute = 5 WHERE prefix = $1")
        .bind(&token[..20])
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for i in 0..6 {
        let server = if i % 2 == 0 { &app } else { &other };
        let res = server
            .api(Method::GET, "/contacts", &token)
            .send()
            .await
            .unwrap();
        statuses.push((
            res.status(),
            header(res.headers(), "ratelimit-remaining").to_string(),
            header(res.headers(), "retry-after").to_string(),
        ));
    }
    let codes: Vec<u16> = statuses.iter().map(|(s, _, _)| s.as_u16()).collect();
    assert_eq!(codes, [200, 200, 200, 200, 200, 429], "{statuses:?}");
    assert_eq!(statuses[4].1, "0");
    let retry: u32 = statuses[5].2.parse().unwrap();
    assert!((1..=60).contains(&retry), "{statuses:?}");
}

#[tokio::test]
async fn the_plans_hourly_allowance_is_enforced_with_its_name_and_when_it_resets() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app.api_key(&owner, "Hourly", &["contacts:read"]).await;
    // The workspace's plan allows 4 requests an hour in this test.
    sqlx::query(
        "UPDATE plans SET api_per_hour = 4
          WHERE id = (SELECT plan_id FROM subscriptions WHERE tenant_id = (SELECT tenant_id FROM api_keys WHERE prefix = $1))",
    )
    .bind(&token[..20])
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(
            body(
                app.api(Method::GET, "/contacts", &token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await,
        );
    }
    let codes: Vec<u16> = answers.iter().map(|(s, _, _)| s.as_u16()).collect();
    assert_eq!(codes, [200, 200, 200, 200, 429]);
    let (_, headers, _) = &answers[0];
    assert_eq!(
        header(headers, "ratelimit-limit"),
        "4",
        "the tightest limit is reported"
    );
    assert_eq!(header(headers, "ratelimit-remaining"), "3");
    assert!(
        header(headers, "ratelimit-policy").contains("4;w=3600"),
        "{headers:?}"
    );
    let (_, headers, problem) = &answers[4];
    let retry: u32 = header(headers, "retry-after").parse().unwrap();
    assert!(
        (3000..=3600).contains(&retry),
        "the hour resets, not the minute: {retry}"
    );
    let detail = problem["message"].as_str().unwrap();
    let plan: String =
        sqlx::query_scalar("SELECT p.name FROM plans p JOIN subscriptions s ON s.plan_id = p.id")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert!(
        detail.contains(&format!("the {plan} plan allows 4 API requests an hour")),
        "{detail}"
    );
    assert!(detail.contains("/billing"), "{detail}");

    // Enterprise has no hourly allowance: only the minute limits apply.
    sqlx::query("UPDATE subscriptions SET plan_id = 'enterprise'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, headers, _) = body(
        app.api(Method::GET, "/contacts", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !header(&headers, "ratelimit-policy").contains("w=3600"),
        "{headers:?}"
    );
}

#[tokio::test]
async fn a_request_refused_by_one_limit_spends_none_of_the_others() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app.api_key(&owner, "Eager", &["contacts:read"]).await;
    // 3 a minute for the key, 4 an hour for the workspace.
    for sql in [
        "UPDATE api_keys SET per_minute = 3",
        "UPDATE plans SET api_per_hour = 4 WHERE id = (SELECT plan_id FROM subscriptions)",
    ] {
        sqlx::query(sql).execute(&app.pools.owner).await.unwrap();
    }
    let get = || async {
        body(
            app.api(Method::GET, "/contacts", &token)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(get().await.0.as_u16());
    }
    assert_eq!(
        codes,
        [200, 200, 200, 429, 429, 429],
        "the key's minute is used"
    );
    let hour: i32 =
        sqlx::query_scalar("SELECT hits FROM rate_limits WHERE bucket = 'api_tenant_hour'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        hour, 3,
        "the refused requests did not count against the hour"
    );
    // A minute later the key has room, and the hour its fourth request.
    sqlx::query(
        "UPDATE rate_limits SET window_start = now() - interval '61 seconds' WHERE bucket = 'api_key'",
    )
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let (status, headers, _) = get().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "ratelimit-remaining"), "0");
    let (status, headers, _) = get().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u32 = header(&headers, "retry-after").parse().unwrap();
    assert!((3000..=3600).contains(&retry), "now the hour: {retry}");
}

#[tokio::test]
async fn of_fifty_concurrent_requests_with_one_idempotency_key_exactly_one_has_an_effect() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app.api_key(&owner, "Importer", &["contacts:write"]).await;
    let send = |key: &'static str, name: &'static str| {
        app.api(Method::POST, "/contacts", &token)
            .header("idempotency-key", key)
            .json(&json!({ "name": name }))
            .send()
    };
    let results =
        futures_util::future::join_all((0..50).map(|_| send("order-1", "Once Only"))).await;
    let mut ids = std::collections::HashSet::new();
    for r in results {
        let res = r.unwrap();
        let status = res.status();
        let value: Value = res.json().await.unwrap();
        match status {
            StatusCode::CREATED => {
                ids.insert(value["id"].as_str().unwrap().to_string());
            }
            StatusCode::CONFLICT => {
                assert_eq!(
                    value["type"],
                    "https://leadline.dev/problems/idempotency_in_progress"
                )
            }
            other => panic!("{other}: {value}"),
        }
    }
    assert_eq!(ids.len(), 1, "every 201 is the one contact: {ids:?}");
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE full_name = 'Once Only'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(count, 1);
    // Afterwards, the same key and body replay the answer; another body is refused.
    let res = send("order-1", "Once Only").await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(header(res.headers(), "idempotent-replayed"), "true");
    let value: Value = res.json().await.unwrap();
    assert!(ids.contains(value["id"].as_str().unwrap()));
    let res = send("order-1", "Someone Else").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A failed request's answer is kept too: a 422 replays as a 422.
    let bad = app
        .api(Method::POST, "/contacts", &token)
        .header("idempotency-key", "order-2")
        .json(&json!({ "email": "x@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Keys are kept 24 hours: older ones are free again.
    sqlx::query("UPDATE api_idempotency SET created_at = now() - interval '25 hours'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let res = send("order-1", "Someone Else").await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn cursors_stay_stable_while_records_are_added() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let token = app.api_key(&owner, "Sync", &["contacts:write"]).await;
    let create = |name: String| {
        let app = &app;
        let token = token.clone();
        async move {
            let res = app
                .api(Method::POST, "/contacts", &token)
                .json(&json!({ "name": name }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
            let v: Value = res.json().await.unwrap();
            v["id"].as_str().unwrap().to_string()
        }
    };
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(create(format!("Person {i}")).await);
    }
    expected.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = 0;
    loop {
        let path = match &cursor {
            None => "/contacts?limit=2".to_string(),
            Some(c) => format!("/contacts?limit=2&starting_after={c}"),
        };
        let (status, _, page) =
            body(app.api(Method::GET, &path, &token).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for c in page["data"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        // Someone adds a record between every two pages.
        create(format!("Newcomer {added}")).await;
        added += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "each original once, newest first, no newcomer"
    );
    let (status, _, problem) = body(
        app.api(Method::GET, "/contacts?starting_after=garbage", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("starting_after"))
    );
    let (status, _, _) = body(
        app.api(Method::GET, "/contacts?limit=1000", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_openapi_document_is_public_and_lists_every_resource() {
    let app = TestApp::spawn().await;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/contacts",
        "/contacts/{id}",
        "/companies",
        "/leads/{id}",
        "/deals/{id}/move",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["Contact"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
}
