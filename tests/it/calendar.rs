//! Meetings with a time and attendees, and each member's private iCalendar feed.

use crate::common;
use crate::records::{created, user_id};

use app::calendar::{CalendarFeed, NewCalendarFeed, RevokeCalendarFeed};
use app::crm::records::api::{GetTimeline, LogActivity};
use common::*;
use reqwest::StatusCode;

/// The feed at `url`, unfolded (RFC 5545 §3.1), fetched with no session as a calendar
/// app would.
async fn fetch(url: &str) -> (StatusCode, String, Option<String>) {
    let res = reqwest::get(url).await.unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    (status, text.replace("\r\n ", ""), kind)
}

async fn new_feed(app: &TestApp, client: &reqwest::Client) -> String {
    let (status, body) = app
        .call_json::<NewCalendarFeed>(client, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_meeting_has_a_time_and_attendees_and_reaches_their_feeds_only() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let other = app
        .invite_and_join(&owner, "other@example.com", "SALES")
        .await;
    let rep_id = user_id(&app, "rep@example.com").await.to_string();
    let lead = created(&app, &owner, "LEAD", &[("name", "Nile Buyer")]).await;
    // The owner works in Cairo: 14:00 there is 12:00 UTC in December.
    let (status, body) = app
        .call::<app::auth::api::UpdateProfile>(
            &owner,
            &[
                ("name", "Ada"),
                ("language", "en"),
                ("timezone", "Africa/Cairo"),
                ("theme", "light"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let meeting = |start: &'static str, end: &'static str, attendees: String| {
        let lead = lead.clone();
        let app = &app;
        let owner = &owner;
        async move {
            app.call::<LogActivity>(
                owner,
                &[
                    ("entity", "LEAD"),
                    ("id", &lead),
                    ("kind", "MEETING"),
                    ("subject", "Viewing, tower B; floor 12"),
                    ("body", "Bring the floor plan"),
                    ("starts_at", start),
                    ("ends_at", end),
                    ("attendee_ids", &attendees),
                ],
            )
            .await
        }
    };

    // Bad times and attendees are refused next to their fields.
    for (start, end, attendees, field) in [
        ("", "", String::new(), "starts_at"),
        ("tomorrow", "", String::new(), "starts_at"),
        (
            "2027-01-10T14:00",
            "2027-01-10T13:00",
            String::new(),
            "ends_at",
        ),
        (
            "2027-01-10T14:00",
            "2027-01-20T14:00",
            String::new(),
            "ends_at",
        ),
        (
            "2027-01-10T14:00",
            "",
            "not-an-id".to_string(),
            "attendee_ids",
        ),
        (
            "2027-01-10T14:00",
            "",
            uuid::Uuid::new_v4().to_string(),
            "attendee_ids",
        ),
    ] {
        let (status, body) = meeting(start, end, attendees).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{start} {end}: {body}"
        );
        assert_eq!(error_field(&body), Some(field), "{body}");
    }

    let (status, body) = meeting("2027-01-10T14:00", "", rep_id.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["starts_at"], "2027-01-10T12:00:00Z", "{body}");
    assert_eq!(
        body["ends_at"], "2027-01-10T12:30:00Z",
        "30 minutes by default"
    );
    assert_eq!(
        body["attendees"],
        serde_json::json!(["Ada", "Invited Person"])
    );
    let meeting_id = body["id"].as_str().unwrap().to_string();

    // The timeline and the page show it in the owner's zone.
    let (_, page) = app
        .call_json::<GetTimeline>(
            &owner,
            &serde_json::json!({ "entity": "Lead", "id": lead, "before": null }),
        )
        .await;
    assert_eq!(page["items"][0]["id"], meeting_id.as_str());
    let html = app.page(&owner, &format!("/leads/{lead}")).await.1;
    assert!(html.contains("Jan 10, 2027, 2:00"), "Cairo wall clock");

    // A task for the rep goes into the rep's feed too, as free time.
    let (status, body) = app
        .call::<LogActivity>(
            &owner,
            &[
                ("entity", "LEAD"),
                ("id", &lead),
                ("kind", "TASK"),
                ("subject", "Send the contract"),
                ("due_at", "2027-01-11T09:00"),
                ("assignee_id", &rep_id),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The rep was told of both; the owner, who did both, was not.
    let told: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT u.email::text, n.kind, n.body FROM notifications n JOIN users u ON u.id = n.user_id
          WHERE n.kind IN ('TASK_ASSIGNED', 'MEETING_INVITED') ORDER BY n.kind",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        told,
        [
            (
                "rep@example.com".to_string(),
                "MEETING_INVITED".to_string(),
                "Ada invited you to a meeting: Viewing, tower B; floor 12".to_string()
            ),
            (
                "rep@example.com".to_string(),
                "TASK_ASSIGNED".to_string(),
                "Ada gave you a task: Send the contract".to_string()
            ),
        ]
    );

    let rep_url = new_feed(&app, &rep).await;
    assert!(
        rep_url.starts_with(&format!("{}/calendar/", app.base)),
        "{rep_url}"
    );
    assert!(rep_url.ends_with(".ics"));
    let (status, ics, kind) = fetch(&rep_url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind.as_deref(), Some("text/calendar; charset=utf-8"));
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
        "{ics}"
    );
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    for line in [
        format!("UID:meeting-{meeting_id}@leadline"),
        "DTSTART:20270110T120000Z".to_string(),
        "DTEND:20270110T123000Z".to_string(),
        "SUMMARY:Viewing\\, tower B\\; floor 12".to_string(),
        "DESCRIPTION:Nile Buyer\\n\\nBring the floor plan".to_string(),
        format!("URL:{}/leads/{lead}", app.base),
        "ORGANIZER;CN=\"Ada\":mailto:ada@example.com".to_string(),
        "ATTENDEE;CN=\"Invited Person\";ROLE=REQ-PARTICIPANT:mailto:rep@example.com".to_string(),
        "SUMMARY:Task: Send the contract".to_string(),
        "DTSTART:20270111T070000Z".to_string(),
        "TRANSP:TRANSPARENT".to_string(),
    ] {
        assert!(
            ics.contains(&format!("{line}\r\n")),
            "{line} missing:\n{ics}"
        );
    }

    // A meeting tomorrow is on the rep's My tasks page; the one next month is not yet.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (status, body) = app
        .call::<LogActivity>(
            &owner,
            &[
                ("entity", "LEAD"),
                ("id", &lead),
                ("kind", "MEETING"),
                ("subject", "Contract signing"),
                ("starts_at", &tomorrow),
                ("attendee_ids", &rep_id),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, mine) = app
        .call::<app::crm::records::api::GetMyTasks>(&rep, &[])
        .await;
    let subjects: Vec<&str> = mine["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Contract signing"], "{mine}");
    assert_eq!(mine["meetings"][0]["about"]["name"], "Nile Buyer");
    let html = app.page(&rep, "/tasks").await.1;
    assert!(html.contains("Contract signing"), "on the page");

    // A member who was not invited sees neither.
    let other_url = new_feed(&app, &other).await;
    let (status, ics, _) = fetch(&other_url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!ics.contains("BEGIN:VEVENT"), "{ics}");

    // Replacing the link stops the old one at once; turning it off stops the new one.
    let (_, status_body) = app
        .call_json::<CalendarFeed>(&rep, &serde_json::json!({}))
        .await;
    assert!(status_body["since"].is_string(), "{status_body}");
    let replaced = new_feed(&app, &rep).await;
    assert_ne!(replaced, rep_url);
    assert_eq!(fetch(&rep_url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&replaced).await.0, StatusCode::OK);
    let (status, _) = app
        .call_json::<RevokeCalendarFeed>(&rep, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetch(&replaced).await.0, StatusCode::NOT_FOUND);
    let (_, status_body) = app
        .call_json::<CalendarFeed>(&rep, &serde_json::json!({}))
        .await;
    assert!(status_body["since"].is_null(), "{status_body}");

    // Only a hash is stored, and every change is audited.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM calendar_feeds")
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
    let token = other_url
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".ics");
    assert!(stored
        .iter()
        .all(|h| h.len() == 32 && h != token.as_bytes()));
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_logs WHERE action LIKE 'calendar.%' ORDER BY created_at",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "calendar.feed_created",
            "calendar.feed_created",
            "calendar.feed_replaced",
            "calendar.feed_revoked"
        ]
    );

    // Made-up and malformed tokens answer the same 404, and no session is needed.
    for path in [
        format!("/calendar/{}.ics", "0".repeat(64)),
        "/calendar/short.ics".to_string(),
        format!("/calendar/{}", "a".repeat(64)),
    ] {
        assert_eq!(
            fetch(&format!("{}{path}", app.base)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// A feed names one member of one workspace: a member deactivated there loses it, and
/// nothing of another workspace ever appears in it, nor can be invited.
#[tokio::test]
async fn a_feed_stays_inside_its_member_and_workspace() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let bea_id = user_id(&app, "bea@example.com").await.to_string();
    let lead = created(&app, &ada, "LEAD", &[("name", "Acme lead")]).await;
    let theirs = created(&app, &bea, "LEAD", &[("name", "Beta lead")]).await;
    // Another workspace's member cannot be invited.
    let (status, body) = app
        .call::<LogActivity>(
            &ada,
            &[
                ("entity", "LEAD"),
                ("id", &lead),
                ("kind", "MEETING"),
                ("subject", "Intro"),
                ("starts_at", "2027-02-01T10:00"),
                ("attendee_ids", &bea_id),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("attendee_ids"));
    for (client, id) in [(&ada, &lead), (&bea, &theirs)] {
        let (status, body) = app
            .call::<LogActivity>(
                client,
                &[
                    ("entity", "LEAD"),
                    ("id", id),
                    ("kind", "MEETING"),
                    ("subject", "Intro"),
                    ("starts_at", "2027-02-01T10:00"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let url = new_feed(&app, &ada).await;
    let (_, ics, _) = fetch(&url).await;
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1, "{ics}");
    assert!(ics.contains("Acme lead") && !ics.contains("Beta lead"));

    // A member deactivated in the workspace loses their feed there.
    let rep = app.invite_and_join(&ada, "rep@example.com", "SALES").await;
    let rep_url = new_feed(&app, &rep).await;
    assert_eq!(fetch(&rep_url).await.0, StatusCode::OK);
    sqlx::query("UPDATE memberships SET status = 'SUSPENDED' WHERE user_id = (SELECT id FROM users WHERE email = 'rep@example.com')")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(fetch(&rep_url).await.0, StatusCode::NOT_FOUND);
}
