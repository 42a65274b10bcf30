//! Tasks: due times read in the member's zone, and assigning, rescheduling,
//! cancelling and reopening them.

use crate::common;
use crate::records::{created, user_id};

use app::crm::records::api::{GetMyTasks, GetTimeline, LogActivity};
use common::*;
use reqwest::StatusCode;
use serde_json::json;

/// A due time is typed on the member's wall clock: 09:00 in Cairo is 07:00 UTC in
/// winter, 09:00 in Bucharest is 06:00 UTC in summer. Pages show it back in their
/// zone and language.
#[tokio::test]
async fn a_due_time_is_read_and_shown_in_the_members_zone() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let lead = created(&app, &owner, "LEAD", &[("name", "Buyer")]).await;
    for (client, language, zone, typed, stored) in [
        (
            &owner,
            "ar",
            "Africa/Cairo",
            "2026-12-03T09:00",
            "2026-12-03T07:00:00Z",
        ),
        (
            &rep,
            "ro",
            "Europe/Bucharest",
            "2026-07-03T09:00",
            "2026-07-03T06:00:00Z",
        ),
    ] {
        let (status, body) = app
            .call::<app::auth::api::UpdateProfile>(
                client,
                &[
                    ("name", "Member"),
                    ("language", language),
                    ("timezone", zone),
                    ("theme", "light"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let own_lead = if std::ptr::eq(client, &owner) {
            lead.clone()
        } else {
            created(&app, client, "LEAD", &[("name", "Rep's buyer")]).await
        };
        let (status, body) = app
            .call::<LogActivity>(
                client,
                &[
                    ("entity", "LEAD"),
                    ("id", &own_lead),
                    ("kind", "TASK"),
                    ("subject", "Call back"),
                    ("due_at", typed),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, tasks) = app.call::<GetMyTasks>(client, &[]).await;
        assert_eq!(tasks["tasks"][0]["due_at"], stored, "{zone}: {tasks}");
    }
    // Cairo's owner reads 09:00 back, in Arabic; the rep's 09:00 in Romanian.
    let page = app.page(&owner, "/tasks").await.1;
    assert!(
        page.contains("03\u{200f}/12\u{200f}/2026، 9:00 ص"),
        "Cairo, in Arabic"
    );
    let page = app.page(&rep, "/tasks").await.1;
    assert!(
        page.contains("3 iul. 2026, 09:00"),
        "Bucharest, in Romanian"
    );
}

/// Tasks go to whom the writer chooses (within whom they may give work), and are
/// rescheduled, reassigned, cancelled and reopened by those who may act on them.
#[tokio::test]
async fn tasks_are_assigned_rescheduled_cancelled_and_reopened() {
    use app::crm::records::api::{AssignTask, CancelTask, ReopenTask, RescheduleTask};
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let rep_id = user_id(&app, "rep@example.com").await.to_string();
    let owner_id = user_id(&app, "ada@example.com").await.to_string();
    let lead = created(
        &app,
        &owner,
        "LEAD",
        &[("name", "Buyer"), ("owner_id", &rep_id)],
    )
    .await;
    let (status, task) = app
        .call::<LogActivity>(
            &owner,
            &[
                ("entity", "LEAD"),
                ("id", &lead),
                ("kind", "TASK"),
                ("subject", "Viewing"),
                ("due_at", "2030-01-15T10:00"),
                ("assignee_id", &rep_id),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert!(
        task["assignee"].is_string() && task["assignee"] != "Ada",
        "{task}"
    );
    let id = task["id"].as_str().unwrap().to_string();
    let (_, mine) = app.call::<GetMyTasks>(&rep, &[]).await;
    assert_eq!(mine["tasks"][0]["id"], id.as_str(), "the rep's now");

    // The rep moves it; a rep cannot hand work to the owner.
    let (status, body) = app
        .call::<RescheduleTask>(&rep, &[("task_id", &id), ("due_at", "2030-01-16T09:30")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, mine) = app.call::<GetMyTasks>(&rep, &[]).await;
    assert_eq!(mine["tasks"][0]["due_at"], "2030-01-16T09:30:00Z");
    let (status, body) = app
        .call::<RescheduleTask>(&rep, &[("task_id", &id), ("due_at", "soon")])
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("due_at"))
    );
    let (status, body) = app
        .call::<AssignTask>(&rep, &[("task_id", &id), ("assignee_id", &owner_id)])
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("assignee_id"))
    );
    let (status, _) = app
        .call::<AssignTask>(&owner, &[("task_id", &id), ("assignee_id", &owner_id)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, mine) = app.call::<GetMyTasks>(&owner, &[]).await;
    assert_eq!(mine["tasks"][0]["id"], id.as_str(), "the owner's now");

    // Cancelled: off the list, shown as cancelled, closed to changes until reopened.
    let (status, _) = app.call::<CancelTask>(&owner, &[("task_id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, mine) = app.call::<GetMyTasks>(&owner, &[]).await;
    assert!(mine["tasks"].as_array().unwrap().is_empty(), "{mine}");
    let (_, page) = app
        .call_json::<GetTimeline>(
            &owner,
            &json!({ "entity": "Lead", "id": lead, "before": null }),
        )
        .await;
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap();
    assert_eq!(item["cancelled"], true);
    let (status, _) = app
        .call::<RescheduleTask>(&owner, &[("task_id", &id), ("due_at", "2030-02-01T09:00")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app.call::<ReopenTask>(&owner, &[("task_id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call::<ReopenTask>(&owner, &[("task_id", &id)]).await;
    assert_eq!(status, StatusCode::CONFLICT, "open already");
    let (_, mine) = app.call::<GetMyTasks>(&owner, &[]).await;
    assert_eq!(mine["tasks"][0]["id"], id.as_str());

    // Nobody outside the workspace touches it.
    let other = app.signup("Eve", "eve@example.com", "Elsewhere").await;
    let (status, _) = app.call::<CancelTask>(&other, &[("task_id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
