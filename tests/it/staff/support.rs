//! Support access: a workspace read-only, for a while, with a reason its owner reads.

use super::make_staff;
use crate::common::*;
use app::staff::api::{EndSupport, OpenSupport, StaffAuditLog};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

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
    let home = app.page(&bob, "/").await.1;
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
