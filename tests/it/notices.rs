//! The notification centre: the full page with keyset paging, marking one read, each
//! member's preferences per kind, and the daily digest email through the peer's SMTP
//! server, against a real PostgreSQL.

use crate::common::*;
use app::notices::{
    MarkNotificationRead, NotificationPage, NotificationPrefs, SaveNotificationPrefs,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn notify(app: &TestApp, email: &str, kind: &str, body: &str) {
    sqlx::query(
        "INSERT INTO notifications (tenant_id, id, user_id, kind, body, link)
         SELECT m.tenant_id, gen_random_uuid(), u.id, $2, $3, '/inbox'
           FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.email = $1",
    )
    .bind(email)
    .bind(kind)
    .bind(body)
    .execute(&app.pools.owner)
    .await
    .unwrap();
}

async fn page(app: &TestApp, client: &reqwest::Client, before: Value, unread: bool) -> Value {
    let (status, page) = app
        .call_json::<NotificationPage>(client, &json!({ "before": before, "unread_only": unread }))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

fn bodies(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_notification_page_pages_by_keyset_and_keeps_each_members_own() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let sam = app.invite_and_join(&ada, "sam@example.com", "SALES").await;
    for i in 0..30 {
        notify(&app, "ada@example.com", "REPLY", &format!("reply {i:02}")).await;
    }
    notify(&app, "sam@example.com", "REPLY", "for Sam").await;

    let first = page(&app, &ada, Value::Null, false).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 25);
    let second = page(&app, &ada, first["next"].clone(), false).await;
    assert_eq!(second["next"], Value::Null);
    let mut all = bodies(&first);
    all.extend(bodies(&second));
    let mut expected: Vec<String> = (0..30).rev().map(|i| format!("reply {i:02}")).collect();
    expected.sort();
    let mut seen = all.clone();
    seen.sort();
    assert_eq!(
        seen, expected,
        "every notification once, no gaps or repeats"
    );
    assert!(!all.contains(&"for Sam".to_string()));

    // Marking one read: Ada may, Sam may not (and learns nothing).
    let id = first["items"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = app.call::<MarkNotificationRead>(&sam, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.call::<MarkNotificationRead>(&ada, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unread = page(&app, &ada, Value::Null, true).await;
    let unread_second = page(&app, &ada, unread["next"].clone(), true).await;
    assert_eq!(
        bodies(&unread).len() + bodies(&unread_second).len(),
        29,
        "unread only"
    );
    assert_eq!(
        page(&app, &ada, Value::Null, false).await["items"][0]["read"],
        true
    );

    // A made-up cursor is a clear 4xx, not a 500.
    let (status, body) = app
        .call_json::<NotificationPage>(
            &ada,
            &json!({ "before": "yesterday", "unread_only": false }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .call::<MarkNotificationRead>(&ada, &[("id", &Uuid::new_v4().to_string())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn preferences_route_each_kind_and_the_digest_emails_what_is_unread_once() {
    let (app, peer) = TestApp::spawn_with_mail().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, body) = app
        .call_json::<SaveNotificationPrefs>(
            &ada,
            &json!({ "prefs": [
                { "kind": "REPLY", "in_app": false, "email": true },
                { "kind": "SLA_BREACH", "in_app": false, "email": false },
                { "kind": "APPROVAL_REQUESTED", "in_app": true, "email": true }
            ] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call_json::<SaveNotificationPrefs>(
            &ada,
            &json!({ "prefs": [{ "kind": "GOSSIP", "in_app": true, "email": true }] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, prefs) = app.call_json::<NotificationPrefs>(&ada, &json!({})).await;
    let reply = prefs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "REPLY")
        .unwrap();
    assert_eq!(
        (&reply["in_app"], &reply["email"]),
        (&json!(false), &json!(true))
    );

    notify(&app, "ada@example.com", "REPLY", "Mona replied: yes").await;
    notify(&app, "ada@example.com", "SLA_BREACH", "An item breached").await;
    notify(&app, "ada@example.com", "SEND_FAILED", "A message failed").await;
    notify(
        &app,
        "ada@example.com",
        "APPROVAL_REQUESTED",
        "Approve a move",
    )
    .await;
    // Off in both places: never stored. Email only: kept for the digest, not shown.
    let breaches: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE kind = 'SLA_BREACH'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(breaches, 0);
    let shown = bodies(&page(&app, &ada, Value::Null, false).await);
    assert_eq!(shown, ["Approve a move", "A message failed"]);
    let (_, bell) = app
        .call_json::<app::outreach::api::GetNotifications>(&ada, &json!({}))
        .await;
    assert_eq!(bell.as_array().unwrap().len(), 2, "{bell}");

    let mut config = app::request::AppConfig::local("https://app.leadline.test");
    config.account_mail = Some(app::request::AccountMail {
        smtp: mail::SmtpSettings {
            host: peer.smtp_addr().ip().to_string(),
            port: peer.smtp_addr().port(),
            security: mail::SmtpSecurity::None,
            username: None,
            password: None,
            timeout: std::time::Duration::from_secs(10),
            egress: mail::Egress::AnyAddress,
        },
        from: "no-reply@leadline.test".into(),
    });
    // Ada reads her digest on Riyadh's clock.
    let (status, body) = app
        .call::<app::auth::api::UpdateProfile>(
            &ada,
            &[
                ("name", "Ada"),
                ("language", "en"),
                ("timezone", "Asia/Riyadh"),
                ("theme", "light"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now = chrono::Utc::now();
    let sent = app::notices::ssr::send_digests(&app.pools.app, &config, now)
        .await
        .unwrap();
    assert_eq!(sent, 1);
    let first: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT min(created_at) FROM notifications WHERE body LIKE '%Mona replied%'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    let riyadh = app::l10n::date_time(
        app::i18n::Locale::En,
        app::l10n::to_local("Asia/Riyadh", first),
    );
    let digest = peer
        .messages()
        .into_iter()
        .find(|m| m.to == "ada@example.com" && m.subject.as_deref() == Some("2 unread in Acme"))
        .expect("the digest reached Ada");
    assert!(digest.body.contains("Mona replied: yes"), "{}", digest.body);
    assert!(
        digest.body.contains(&riyadh) && !digest.body.contains("UTC"),
        "{riyadh}: {}",
        digest.body
    );
    assert!(digest.body.contains("Approve a move"), "{}", digest.body);
    assert!(
        digest.body.contains("https://app.leadline.test/inbox"),
        "{}",
        digest.body
    );
    assert!(
        !digest.body.contains("A message failed"),
        "not emailed by default"
    );
    // Each goes out once.
    let again = app::notices::ssr::send_digests(&app.pools.app, &config, now)
        .await
        .unwrap();
    assert_eq!(again, 0);
}

/// A lead of Ada's, by name; its id.
async fn lead(app: &TestApp, client: &reqwest::Client, name: &str) -> String {
    let (status, body) = app
        .call::<app::crm::records::api::SaveRecord>(client, &[("entity", "LEAD"), ("name", name)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str().or(body["id"].as_str()).unwrap().to_string()
}

async fn log(
    app: &TestApp,
    client: &reqwest::Client,
    lead: &str,
    fields: &[(&str, &str)],
) -> Value {
    let mut form = vec![("entity", "LEAD"), ("id", lead)];
    form.extend_from_slice(fields);
    let (status, body) = app
        .call::<app::crm::records::api::LogActivity>(client, &form)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn kinds_of(app: &TestApp, email: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT n.kind, n.body, n.link FROM notifications n JOIN users u ON u.id = n.user_id
          WHERE u.email = $1 ORDER BY n.created_at",
    )
    .bind(email)
    .fetch_all(&app.pools.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_mention_in_a_note_tells_the_member_who_can_see_the_record() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada Lovelace", "ada@example.com", "Acme").await;
    let _layla = app
        .invite_and_join(&ada, "layla@example.com", "MANAGER")
        .await;
    app.invite_and_join(&ada, "sam@example.com", "SALES").await;
    sqlx::query("UPDATE users SET name = 'Layla Nasser' WHERE email = 'layla@example.com'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET name = 'Sam Reed' WHERE email = 'sam@example.com'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let id = lead(&app, &ada, "Villa buyer").await;
    log(
        &app,
        &ada,
        &id,
        &[
            ("kind", "NOTE"),
            (
                "body",
                "@Layla can you call them? cc @Sam Reed, @Ada Lovelace",
            ),
        ],
    )
    .await;
    let told = kinds_of(&app, "layla@example.com").await;
    let mention: Vec<_> = told.iter().filter(|(k, _, _)| k == "MENTION").collect();
    assert_eq!(mention.len(), 1, "{told:?}");
    assert!(mention[0]
        .1
        .starts_with("Ada Lovelace mentioned you: @Layla can you call them?"));
    assert_eq!(
        mention[0].2.as_deref(),
        Some(format!("/leads/{id}").as_str())
    );
    // Sam is a rep and the lead is not his: he cannot open it, so he is not told.
    assert!(kinds_of(&app, "sam@example.com")
        .await
        .iter()
        .all(|(k, _, _)| k != "MENTION"));
    // Nobody is told of their own mention.
    assert!(kinds_of(&app, "ada@example.com")
        .await
        .iter()
        .all(|(k, _, _)| k != "MENTION"));
}

#[tokio::test]
async fn a_task_coming_due_tells_its_assignee_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let id = lead(&app, &ada, "Villa buyer").await;
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(30))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    log(
        &app,
        &ada,
        &id,
        &[
            ("kind", "TASK"),
            ("subject", "Send the floor plan"),
            ("due_at", &soon),
        ],
    )
    .await;
    let sweep = |at: chrono::DateTime<chrono::Utc>| {
        let pool = app.pools.app.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT task_due_sweep($1)")
                .bind(at)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(sweep(chrono::Utc::now()).await, 0, "not due yet");
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(sweep(later).await, 1);
    assert_eq!(sweep(later).await, 0, "once");
    let told = kinds_of(&app, "ada@example.com").await;
    let due: Vec<_> = told.iter().filter(|(k, _, _)| k == "TASK_DUE").collect();
    assert_eq!(due.len(), 1, "{told:?}");
    assert_eq!(due[0].1, "Task due: Send the floor plan");
    assert_eq!(due[0].2.as_deref(), Some(format!("/leads/{id}").as_str()));
    // A member who turned the kind off is not told.
    sqlx::query(
        "INSERT INTO notification_prefs (tenant_id, user_id, kind, in_app, email)
         SELECT tenant_id, user_id, 'TASK_DUE', false, false FROM memberships",
    )
    .execute(&app.pools.owner)
    .await
    .unwrap();
    log(
        &app,
        &ada,
        &id,
        &[
            ("kind", "TASK"),
            ("subject", "Call back"),
            ("due_at", &soon),
        ],
    )
    .await;
    assert_eq!(sweep(later).await, 0);
}
