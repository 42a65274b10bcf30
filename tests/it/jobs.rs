//! The job facility: retries with backoff, dead-lettering, logs, the admin's list,
//! and the recurring platform work on cron schedules — against a real PostgreSQL.

use crate::common::*;
use crate::import::{plan, upload};
use app::crm::import::api::{JobStatus, RetryJob, StartImport};
use app::jobs::api::{JobLogs, ListJobs};
use app::outreach::api::GetNotifications;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Starts an import of two contacts; the job's id.
async fn start_import(app: &TestApp, client: &reqwest::Client) -> String {
    let (status, info) = upload(
        app,
        client,
        "CONTACT",
        "people.csv",
        "Name,Email\nOne,one@example.com\nTwo,two@example.com\n".to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let (status, id) = app
        .call_json::<StartImport>(client, &plan(&info["job_id"], &info["mapping"], "Skip"))
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    id.as_str().unwrap().to_string()
}

async fn job_row(app: &TestApp, id: &str) -> (String, i32, f64) {
    sqlx::query_as(
        "SELECT status, attempts, extract(epoch FROM run_at - now())::float8 FROM jobs WHERE id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap()
}

/// Brings a retry waiting out its backoff forward, as the clock would.
async fn come_due(app: &TestApp, id: &str) {
    sqlx::query("UPDATE jobs SET run_at = now() WHERE id = $1::uuid")
        .bind(id)
        .execute(&app.pools.owner)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_job_failing_on_our_side_is_retried_with_backoff_then_dead_lettered_and_retried_by_hand()
{
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let id = start_import(&app, &owner).await;
    // The uploaded file is gone: every attempt fails on our side.
    let file = sqlx::query_as::<_, (Vec<u8>,)>(
        "DELETE FROM job_files WHERE job_id = $1::uuid AND name = 'input' RETURNING content",
    )
    .bind(&id)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();

    leadline::jobs::run_until_idle(&app.pools.app)
        .await
        .unwrap();
    let (state, attempts, wait) = job_row(&app, &id).await;
    assert_eq!((state.as_str(), attempts), ("QUEUED", 1));
    // The first backoff is 15..30 s with jitter.
    assert!((13.0..=31.0).contains(&wait), "waits {wait} s");
    // Not due yet: the runner leaves it.
    assert_eq!(
        leadline::jobs::run_until_idle(&app.pools.app)
            .await
            .unwrap(),
        0
    );
    let (_, view) = app.call::<JobStatus>(&owner, &[("id", &id)]).await;
    assert_eq!(view["state"], "Queued", "{view}");
    assert_eq!(view["attempts"], 1);
    assert!(view["next_attempt_at"].is_string(), "{view}");

    come_due(&app, &id).await;
    leadline::jobs::run_until_idle(&app.pools.app)
        .await
        .unwrap();
    let (state, attempts, wait) = job_row(&app, &id).await;
    assert_eq!((state.as_str(), attempts), ("QUEUED", 2));
    assert!(
        (28.0..=61.0).contains(&wait),
        "the second wait doubles: {wait} s"
    );

    come_due(&app, &id).await;
    leadline::jobs::run_until_idle(&app.pools.app)
        .await
        .unwrap();
    let (state, attempts, _) = job_row(&app, &id).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("DEAD", 3),
        "dead-lettered after 3"
    );
    let (_, view) = app.call::<JobStatus>(&owner, &[("id", &id)]).await;
    assert_eq!(view["state"], "Dead", "{view}");
    assert!(
        view["error"]
            .as_str()
            .unwrap()
            .contains("Something went wrong"),
        "{view}"
    );

    // The log tells the story, attempt by attempt.
    let (status, log) = app.call::<JobLogs>(&owner, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let lines: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["level"].as_str().unwrap(), l["message"].as_str().unwrap()))
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines[0], ("Info", "Attempt 1 of 3 started."));
    assert_eq!(lines[1].0, "Warn");
    assert!(
        lines[1].1.starts_with("Attempt 1 of 3 failed:"),
        "{lines:?}"
    );
    assert_eq!(lines[4], ("Info", "Attempt 3 of 3 started."));
    assert_eq!(lines[5].0, "Error");
    assert!(
        lines[5].1.starts_with("Gave up after 3 attempts:"),
        "{lines:?}"
    );

    // The file is back: retried by hand, it runs at once with fresh attempts.
    sqlx::query(
        "INSERT INTO job_files (tenant_id, job_id, name, content)
         SELECT tenant_id, id, 'input', $2 FROM jobs WHERE id = $1::uuid",
    )
    .bind(&id)
    .bind(&file.0)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let (status, view) = app.call::<RetryJob>(&owner, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["attempts"], 0);
    leadline::jobs::run_until_idle(&app.pools.app)
        .await
        .unwrap();
    let (_, view) = app.call::<JobStatus>(&owner, &[("id", &id)]).await;
    assert_eq!(view["state"], "Done", "{view}");
    assert_eq!(view["counts"]["created"], 2, "{view}");
    let (_, log) = app.call::<JobLogs>(&owner, &[("id", &id)]).await;
    let last: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(3)
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        last,
        [
            "Finished.",
            "Attempt 1 of 3 started.",
            "Queued again by Ada."
        ]
    );
    // The bell told Ada both times: when it gave up, and when it finished.
    let (_, notes) = app.call_json::<GetNotifications>(&owner, &json!({})).await;
    let bodies: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Your job people.csv has finished.",
            "Your job people.csv has failed; open it to see why."
        ],
        "{notes}"
    );
    assert_eq!(notes[0]["link"], format!("/jobs/{id}"));
}

#[tokio::test]
async fn a_failure_the_member_must_fix_is_not_retried() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let id = start_import(&app, &sales).await;
    sqlx::query("UPDATE memberships SET status = 'SUSPENDED' WHERE user_id = (SELECT id FROM users WHERE email = 'sam@example.com')")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    leadline::jobs::run_until_idle(&app.pools.app)
        .await
        .unwrap();
    let (state, attempts, _) = job_row(&app, &id).await;
    assert_eq!((state.as_str(), attempts), ("FAILED", 1));
}

#[tokio::test]
async fn admins_see_every_members_jobs_by_state_and_others_do_not() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let mine = start_import(&app, &owner).await;
    let theirs = start_import(&app, &sales).await;
    sqlx::query(
        "UPDATE jobs SET status = 'DEAD', error = 'x', finished_at = now() WHERE id = $1::uuid",
    )
    .bind(&theirs)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    // Another workspace's job is never listed.
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let _foreign = start_import(&app, &other).await;

    let (status, page) = app.call_json::<ListJobs>(&owner, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [theirs.as_str(), mine.as_str()],
        "newest first, both members"
    );
    assert_eq!(page["jobs"][0]["creator"], "Invited Person");
    assert_eq!(page["jobs"][1]["creator"], "Ada");
    let count = |state: &str| -> u64 {
        page["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c[0] == state)
            .map(|c| c[1].as_u64().unwrap())
            .unwrap()
    };
    assert_eq!((count("Queued"), count("Dead"), count("Done")), (1, 1, 0));

    let (_, dead) = app
        .call_json::<ListJobs>(&owner, &json!({ "state": "Dead" }))
        .await;
    let ids: Vec<&Value> = dead["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    assert_eq!(ids, [&json!(theirs)]);
    // An admin reads another member's log; a member reads only their own.
    let (status, _) = app.call::<JobLogs>(&owner, &[("id", &theirs)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call::<JobLogs>(&sales, &[("id", &mine)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call::<JobLogs>(&other, &[("id", &mine)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The list is for admins.
    let (status, body) = app.call_json::<ListJobs>(&sales, &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Drafts are not a state to list.
    let (status, _) = app
        .call_json::<ListJobs>(&owner, &json!({ "state": "Draft" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_admin_list_pages_by_keyset() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    sqlx::query(
        "INSERT INTO jobs (tenant_id, id, kind, entity, status, created_by, created_at)
         SELECT $1, gen_random_uuid(), 'EXPORT', 'CONTACT', 'DONE', m.user_id, now() - make_interval(secs => n)
           FROM memberships m, generate_series(1, 75) n WHERE m.tenant_id = $1",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let (_, first) = app.call_json::<ListJobs>(&owner, &json!({})).await;
    assert_eq!(first["jobs"].as_array().unwrap().len(), 50);
    let (_, second) = app
        .call_json::<ListJobs>(&owner, &json!({ "before": first["next"] }))
        .await;
    assert_eq!(second["jobs"].as_array().unwrap().len(), 25);
    assert_eq!(second["next"], Value::Null);
    let seen: std::collections::HashSet<&str> = first["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["jobs"].as_array().unwrap())
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(seen.len(), 75);
}

#[tokio::test]
async fn due_schedules_run_once_and_move_to_their_next_slot() {
    let app = TestApp::spawn().await;
    let pool = &app.pools.app;
    let config = app::request::AppConfig::local("http://127.0.0.1:9");
    // Everything due now, and an expired session for the sweep to find.
    sqlx::query("UPDATE schedules SET next_run_at = now() - interval '1 second'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO sessions (id, data, expiry_date) VALUES ('gone', '{}', now() - interval '1 hour')",
    )
    .execute(&app.pools.owner)
    .await
    .unwrap();
    // Two workers at once: each schedule runs exactly once between them.
    let (a, b) = tokio::join!(
        leadline::schedules::run_due(pool, &config),
        leadline::schedules::run_due(pool, &config)
    );
    let mut ran: Vec<String> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    ran.sort();
    let all: Vec<String> = sqlx::query_scalar("SELECT name FROM schedules ORDER BY name")
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
    assert!(all.iter().any(|n| n == "sessions.sweep") && all.iter().any(|n| n == "retention"));
    assert_eq!(ran, all, "every schedule ran exactly once");
    let rows: Vec<(String, String, Option<String>, f64)> = sqlx::query_as(
        "SELECT name, last_outcome, last_detail, extract(epoch FROM next_run_at - now())::float8
           FROM schedules ORDER BY name",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    for (name, outcome, _, wait) in &rows {
        assert_eq!(outcome, "OK", "{name}");
        assert!(*wait > 0.0, "{name} moved on");
    }
    let sessions = rows.iter().find(|r| r.0 == "sessions.sweep").unwrap();
    assert!(sessions.3 <= 300.0, "every five minutes: {}", sessions.3);
    assert_eq!(sessions.2.as_deref(), Some("1 expired sessions deleted"));
    let gone: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE id = 'gone'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(gone, 0);
    // Nothing is due any more.
    assert!(leadline::schedules::run_due(pool, &config)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_failing_schedule_is_retried_with_backoff_before_its_next_slot() {
    let app = TestApp::spawn().await;
    let config = app::request::AppConfig::local("http://127.0.0.1:9");
    sqlx::query("UPDATE schedules SET next_run_at = now() + interval '1 day'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    // A schedule this version has no task for (as mid-deploy): it fails, and says so.
    sqlx::query("INSERT INTO schedules (name, cron, next_run_at) VALUES ('future.task', '0 0 4 * * *', now())")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    for failures in 1..=2 {
        let ran = leadline::schedules::run_due(&app.pools.app, &config)
            .await
            .unwrap();
        assert_eq!(ran, ["future.task"]);
        let (n, outcome, detail, wait): (i32, String, String, f64) = sqlx::query_as(
            "SELECT failures, last_outcome, last_detail, extract(epoch FROM next_run_at - now())::float8
               FROM schedules WHERE name = 'future.task'",
        )
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
        assert_eq!((n, outcome.as_str()), (failures, "FAILED"));
        assert!(detail.contains("no task named future.task"), "{detail}");
        let most = 30.0 * f64::from(1 << (failures - 1)) + 1.0;
        assert!(
            wait > 0.0 && wait <= most,
            "retry {failures} waits {wait} s"
        );
        sqlx::query("UPDATE schedules SET next_run_at = now() WHERE name = 'future.task'")
            .execute(&app.pools.owner)
            .await
            .unwrap();
    }
}
