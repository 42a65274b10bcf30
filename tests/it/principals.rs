//! The principal each server remembers (DECISIONS 88): used while the user's stamp
//! stands, read again on every instance as soon as a change commits.

use crate::common;

use app::team::api::*;
use common::*;
use reqwest::StatusCode;
use uuid::Uuid;

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

async fn stamp(app: &TestApp, user: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT stamp FROM principal_stamps WHERE user_id = $1), 0)",
    )
    .bind(user)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_change_reaches_every_instance_on_the_next_request() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sales@example.com", "SALES")
        .await;
    let team = app.call::<GetTeam>(&owner, &[]).await.1;
    let membership = id_in_team(&team, "members", "sales@example.com", "membership_id");

    // Both servers have read (and remembered) the member as SALES.
    for server in [&app, &other] {
        let (status, _) = server.call::<GetTeam>(&sales, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, body) = app
        .call::<ChangeRole>(
            &owner,
            &[("membership_id", &membership), ("role", "MANAGER")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for server in [&other, &app] {
        let (status, _) = server.call::<GetTeam>(&sales, &[]).await;
        assert_eq!(status, StatusCode::OK, "the promotion is seen at once");
    }

    // A workspace-wide change (its name) reaches every member's shell.
    let (status, body) = other
        .call::<app::settings::api::UpdateTenantSettings>(
            &owner,
            &[
                ("name", "Acme Homes"),
                ("brand_color", "#112233"),
                ("logo_url", ""),
                ("locale", "en"),
                ("timezone", "UTC"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = app.page(&sales, "/").await.1;
    assert!(page.contains("Acme Homes"), "the new name is in the shell");

    let (status, _) = other
        .call::<SetMemberActive>(
            &owner,
            &[("membership_id", &membership), ("active", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for server in [&app, &other] {
        let (status, _) = server.call::<GetTeam>(&sales, &[]).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a deactivated member is out at once"
        );
    }
}

#[tokio::test]
async fn the_remembered_principal_is_used_while_the_stamp_stands() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sales@example.com", "SALES")
        .await;
    let user = user_id(&app, "sales@example.com").await;
    let (status, _) = app.call::<GetTeam>(&sales, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A change behind the triggers' back is not seen: the answer came from memory.
    let sql = |s: &'static str| sqlx::query(s).bind(user).execute(&app.pools.owner);
    sql("ALTER TABLE memberships DISABLE TRIGGER principal_stamps")
        .await
        .unwrap();
    sql("UPDATE memberships SET role = 'MANAGER' WHERE user_id = $1")
        .await
        .unwrap();
    sql("ALTER TABLE memberships ENABLE TRIGGER principal_stamps")
        .await
        .unwrap();
    let (status, _) = app.call::<GetTeam>(&sales, &[]).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "remembered under the same stamp"
    );

    sql("SELECT principal_stamps_bump(ARRAY[$1])")
        .await
        .unwrap();
    let (status, _) = app.call::<GetTeam>(&sales, &[]).await;
    assert_eq!(status, StatusCode::OK, "a new stamp is read again");
}

#[tokio::test]
async fn every_table_the_principal_is_read_from_bumps_the_stamp() {
    let app = TestApp::spawn().await;
    let _owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let user = user_id(&app, "ada@example.com").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let changes = [
        "UPDATE users SET name = 'Ada L' WHERE id = $1",
        "INSERT INTO user_preferences (user_id, theme) VALUES ($1, 'dark')
             ON CONFLICT (user_id) DO UPDATE SET theme = 'dark'",
        "UPDATE memberships SET role = role WHERE user_id = $1",
        "INSERT INTO staff_members (user_id, role_key) VALUES ($1, 'support')",
        "DELETE FROM staff_members WHERE user_id = $1",
        "UPDATE tenants SET name = 'Acme 2' WHERE id = $2",
        "UPDATE tenant_policies SET two_factor_required = true WHERE tenant_id = $2",
        "UPDATE subscriptions SET status = 'PAST_DUE' WHERE tenant_id = $2",
    ];
    for change in changes {
        let before = stamp(&app, user).await;
        sqlx::query(change)
            .bind(user)
            .bind(tenant)
            .execute(&app.pools.owner)
            .await
            .unwrap_or_else(|e| panic!("{change}: {e}"));
        assert!(stamp(&app, user).await > before, "{change} bumps the stamp");
    }

    // What the principal does not read leaves it alone.
    let before = stamp(&app, user).await;
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(user)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(stamp(&app, user).await, before);

    // The runtime role reads stamps and cannot write them.
    let denied = sqlx::query("UPDATE principal_stamps SET stamp = 0")
        .execute(&app.pools.app)
        .await;
    assert!(denied.is_err(), "the runtime role cannot reset stamps");
}
