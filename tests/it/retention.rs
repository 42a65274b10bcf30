//! Retention: what ages out goes, the audit log's old entries are archived first, and
//! nothing recent or unread is touched.

use crate::common::TestApp;
use leadline::worker::{retention_sweep, Retention};
use uuid::Uuid;

#[tokio::test]
async fn old_jobs_read_notifications_and_old_audit_entries_age_out() {
    let app = TestApp::spawn().await;
    let _owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let user: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let owner = &app.pools.owner;
    for (status, finished_days_ago) in [("DONE", 91), ("FAILED", 120), ("DEAD", 95), ("DONE", 10)] {
        sqlx::query(
            "INSERT INTO jobs (tenant_id, id, kind, entity, status, created_by, finished_at)
             VALUES ($1, $2, 'EXPORT', 'CONTACT', $3, $4, now() - make_interval(days => $5))",
        )
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(status)
        .bind(user)
        .bind(finished_days_ago)
        .execute(owner)
        .await
        .unwrap();
    }
    // Log lines of the job that stays: the month-old one goes, the fresh one stays.
    for days_ago in [31, 2] {
        sqlx::query(
            "INSERT INTO job_logs (tenant_id, job_id, level, message, at)
             SELECT tenant_id, id, 'INFO', 'line', now() - make_interval(days => $2)
               FROM jobs WHERE tenant_id = $1 AND finished_at > now() - interval '30 days'",
        )
        .bind(tenant)
        .bind(days_ago)
        .execute(owner)
        .await
        .unwrap();
    }
    for read_days_ago in [Some(91), Some(5), None] {
        sqlx::query(
            "INSERT INTO notifications (tenant_id, id, user_id, kind, body, created_at, read_at)
             VALUES ($1, $2, $3, 'SEND_FAILED', 'x', now() - interval '200 days',
                     now() - make_interval(days => $4))",
        )
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(read_days_ago)
        .execute(owner)
        .await
        .unwrap();
    }
    let recent_audit: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(owner)
        .await
        .unwrap();
    for (action, years_ago) in [("old.one", 3), ("old.two", 3), ("kept", 1)] {
        sqlx::query(
            "INSERT INTO audit_logs (id, tenant_id, actor_user_id, action, entity_type, created_at)
             VALUES ($1, $2, $3, $4, 'test', now() - make_interval(years => $5))",
        )
        .bind(Uuid::now_v7())
        .bind(tenant)
        .bind(user)
        .bind(action)
        .bind(years_ago)
        .execute(owner)
        .await
        .unwrap();
    }

    // A merge past its 30 days of undo, and one within them.
    for days_ago in [31, 29] {
        sqlx::query(
            "INSERT INTO record_merges (tenant_id, id, entity, kept_id, merged_id, merged_name,
                                        kept_before, kept_after, merged_row, moved, created_at)
             VALUES ($1, $2, 'CONTACT', $2, $2, 'Old', '{}', '{}', '{}', '{}',
                     now() - make_interval(days => $3))",
        )
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(days_ago)
        .execute(owner)
        .await
        .unwrap();
    }

    // As the worker runs it: the runtime role.
    let swept = retention_sweep(&app.pools.app).await.unwrap();
    assert_eq!(
        swept,
        Retention {
            jobs: 3,
            job_logs: 1,
            notifications: 1,
            audit_archived: 2,
            merges: 1,
        }
    );
    let count = |sql: &'static str| {
        let pool = app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) FROM jobs").await, 1);
    assert_eq!(count("SELECT count(*) FROM record_merges").await, 1);
    assert_eq!(
        count("SELECT count(*) FROM job_logs WHERE at > now() - interval '3 days'").await,
        1
    );
    assert_eq!(count("SELECT count(*) FROM job_logs").await, 1);
    assert_eq!(count("SELECT count(*) FROM notifications").await, 2);
    assert_eq!(
        count("SELECT count(*) FROM audit_logs").await,
        recent_audit + 1
    );
    let (entries, content): (i32, Vec<u8>) =
        sqlx::query_as("SELECT entries, content FROM audit_archives WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(entries, 2);
    let lines: Vec<serde_json::Value> = String::from_utf8(content)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["old.one", "old.two"]);
    // Nothing more to do the second time.
    assert_eq!(
        retention_sweep(&app.pools.app).await.unwrap(),
        Retention::default()
    );
    // The log stays append-only for the app, archiving or not.
    for sql in [
        "DELETE FROM audit_logs",
        "DELETE FROM audit_archives",
        "UPDATE audit_archives SET entries = 0",
    ] {
        let mut tx = app.pools.app.begin().await.unwrap();
        sqlx::query("SELECT set_config('app.tenant_id', $1, true), set_config('leadline.archiving_audit', 'on', true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        assert!(sqlx::query(sql).execute(&mut *tx).await.is_err(), "{sql}");
    }
}
