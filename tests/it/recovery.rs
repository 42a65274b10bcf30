//! Links by email: sign-up that reveals no accounts, address confirmation, the
//! "members must have a confirmed address" policy, and password reset — with the
//! emails received over real SMTP by the local peer.

use crate::common;

use app::auth::api::*;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

fn signup_form<'a>(email: &'a str, password: &'a str, company: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Ada"),
        ("email", email),
        ("password", password),
        ("company", company),
    ]
}

#[tokio::test]
async fn signup_answers_alike_for_new_and_existing_addresses() {
    let (app, peer) = TestApp::spawn_with_mail().await;
    let first = app.client();
    let new = app
        .call::<Signup>(&first, &signup_form("ada@example.com", PASSWORD, "One"))
        .await;
    let second = app.client();
    let existing = app
        .call::<Signup>(
            &second,
            &signup_form("ADA@example.com", "another long password", "Two"),
        )
        .await;
    assert_eq!(new, (StatusCode::OK, Value::Null));
    assert_eq!(existing, new, "the answer must not tell the two apart");
    for client in [&first, &second] {
        let (status, _) = app.call::<MyProfile>(client, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "sign-up signs nobody in");
    }
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(tenants, 1, "no workspace for the second attempt");

    // The owner of the address learns what happened, by email.
    let confirm = nth_mail_to(&peer, "ada@example.com", 1).await;
    assert!(confirm.body.contains("/verify/"), "{}", confirm.body);
    let notice = nth_mail_to(&peer, "ada@example.com", 2).await;
    assert!(notice.body.contains("/forgot"), "{}", notice.body);
    assert!(!notice.body.contains("/verify/"));

    // The confirmation link works once.
    let token = link_token(&confirm, "verify");
    let guest = app.client();
    let (status, body) = app.call::<ConfirmEmail>(&guest, &[("token", &token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let verified: bool = sqlx::query_scalar("SELECT email_verified_at IS NOT NULL FROM users")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert!(verified);
    let (status, _) = app.call::<ConfirmEmail>(&guest, &[("token", &token)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "used links are refused");
    let (status, _) = app
        .call::<ConfirmEmail>(&guest, &[("token", &"0".repeat(64))])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, status, _) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the first password stands");
}

#[tokio::test]
async fn a_workspace_can_require_confirmed_addresses() {
    let (app, peer) = TestApp::spawn_with_mail().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let (status, body) = app
        .call_json::<app::outreach::api::ListTemplates>(&rep, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "before the policy: {body}");
    let invited = nth_mail_to(&peer, "rep@example.com", 1).await;
    assert!(
        invited.body.contains("/verify/"),
        "accounts made by invite confirm too"
    );
    let (status, body) = app
        .call::<app::settings::api::UpdateSecurityPolicy>(
            &owner,
            &[
                ("password_min_length", "10"),
                ("session_idle_minutes", "60"),
                ("max_failed_logins", "5"),
                ("lockout_minutes", "15"),
                ("require_verified_email", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Neither has confirmed: pages lead to the banner, server functions refuse.
    let home = app.get(&rep, "/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()["location"], "/settings");
    let settings = app.page(&rep, "/settings").await.1;
    assert!(settings.contains("must-confirm"), "the banner shows");
    let (status, body) = app
        .call_json::<app::outreach::api::ListTemplates>(&rep, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The owner asks for a new link (the first went out at sign-up) and confirms.
    let (status, body) = app.call::<ResendConfirmation>(&owner, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mail = nth_mail_to(&peer, "ada@example.com", 2).await;
    let (status, body) = app
        .call::<ConfirmEmail>(&owner, &[("token", &link_token(&mail, "verify"))])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call::<app::team::api::GetTeam>(&owner, &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "confirmed, the owner works again: {body}"
    );
    let (status, _) = app.call::<app::team::api::GetTeam>(&rep, &[]).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the rep still has to confirm"
    );
}

#[tokio::test]
async fn a_password_reset_works_once_and_signs_everyone_out() {
    let (app, peer) = TestApp::spawn_with_mail().await;
    let signed_in = app.signup("Ada", "ada@example.com", "Acme").await;
    let guest = app.client();
    let known = app
        .call::<RequestPasswordReset>(&guest, &[("email", "ada@example.com")])
        .await;
    let unknown = app
        .call::<RequestPasswordReset>(&guest, &[("email", "nobody@example.com")])
        .await;
    assert_eq!(known, (StatusCode::OK, Value::Null));
    assert_eq!(unknown, known, "the answer does not reveal accounts");
    let (status, body) = app
        .call::<RequestPasswordReset>(&guest, &[("email", "not an address")])
        .await;
    assert_eq!(error_field(&body), Some("email"), "{status} {body}");

    let mail = nth_mail_to(&peer, "ada@example.com", 2).await;
    assert!(mail.subject.as_deref().unwrap_or("").contains("password"));
    let token = link_token(&mail, "reset");
    // Lock the account first: a reset also ends a lock.
    for _ in 0..5 {
        app.login("ada@example.com", "wrong password").await;
    }
    let (status, body) = app
        .call::<ResetPassword>(&guest, &[("token", &token), ("password", "short")])
        .await;
    assert_eq!(error_field(&body), Some("password"), "{status} {body}");
    let (status, body) = app
        .call::<ResetPassword>(
            &guest,
            &[("token", &token), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the link survived the refused password: {body}"
    );
    let (status, _) = app.call::<MyProfile>(&signed_in, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "other sessions end");
    let (status, _) = app
        .call::<ResetPassword>(
            &guest,
            &[("token", &token), ("password", "yet another password")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a link works once");
    let (_, status, _) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, status, body) = app.login("ada@example.com", "a brand new password").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "unlocked, with the new password: {body}"
    );

    // An expired link is refused.
    app.call::<RequestPasswordReset>(&guest, &[("email", "ada@example.com")])
        .await;
    let mail = nth_mail_to(&peer, "ada@example.com", 3).await;
    sqlx::query("UPDATE auth_tokens SET expires_at = now() - interval '1 second'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, _) = app
        .call::<ResetPassword>(
            &guest,
            &[
                ("token", &link_token(&mail, "reset")),
                ("password", "a third long password"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM auth_tokens")
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
    assert!(
        stored.iter().all(|h| h.len() == 32),
        "only digests are stored"
    );
}

#[tokio::test]
async fn reset_requests_are_throttled() {
    let (app, _peer) = TestApp::spawn_with_mail().await;
    let guest = app.client();
    for i in 0..5 {
        let (status, _) = app
            .call::<RequestPasswordReset>(&guest, &[("email", "ada@example.com")])
            .await;
        assert_eq!(status, StatusCode::OK, "request {i}");
    }
    let res = guest
        .post(format!(
            "{}{}",
            app.base,
            <RequestPasswordReset as leptos::server_fn::ServerFn>::PATH
        ))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "ada@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "one inbox is not flooded"
    );
    assert!(res.headers().contains_key("retry-after"));
}
