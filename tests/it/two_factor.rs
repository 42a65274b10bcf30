//! Two-factor sign-in: enrolment, the second step, failure counting and lockout, turning
//! it off, and the workspace policy that requires it.

use crate::common;

use crate::auth::session_cookie;
use app::auth::api::*;
use common::*;
use reqwest::StatusCode;

fn code_for(secret: &str, offset: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + offset) as u64)
}

#[tokio::test]
async fn totp_is_required_at_login_once_enrolled() {
    let app = TestApp::spawn().await;
    let client = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, enrol) = app.call::<TotpBegin>(&client, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let secret = enrol["secret"].as_str().unwrap().to_string();
    assert!(enrol["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let (status, body) = app
        .call::<TotpConfirm>(&client, &[("code", "000000")])
        .await;
    if code_for(&secret, 0) != "000000" {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    // Each code is taken once and reused, so a 30-second step ending mid-test cannot turn
    // "the same code again" into the next step's fresh code.
    let enrolment_code = code_for(&secret, 0);
    let (status, codes) = app
        .call::<TotpConfirm>(&client, &[("code", &enrolment_code)])
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 10);
    assert!(
        codes.iter().all(|c| c.len() == 19),
        "80-bit codes: {codes:?}"
    );
    // At rest: the secret sealed, recovery codes as keyed digests.
    let (plain, sealed): (Option<String>, Vec<u8>) =
        sqlx::query_as("SELECT totp_secret, totp_secret_sealed FROM users")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(plain, None);
    assert!(!String::from_utf8_lossy(&sealed).contains(&secret));
    let digests: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(digests.len(), 10);
    assert!(!digests.contains(&app::crypto::sha256(codes[0].as_bytes())));

    let (pending, status, step) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(step, "NeedTotp");
    let (status, _) = app.call::<MyProfile>(&pending, &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a password alone does not sign in"
    );
    let (status, body) = app.call::<LoginTotp>(&pending, &[("code", "12345x")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .call::<LoginTotp>(&pending, &[("code", &enrolment_code)])
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the code that confirmed enrolment cannot sign in again: {body}"
    );
    let next_code = code_for(&secret, 30);
    let (status, body) = app
        .call::<LoginTotp>(&pending, &[("code", &next_code)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.call::<MyProfile>(&pending, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (replay, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (status, _) = app
        .call::<LoginTotp>(&replay, &[("code", &next_code)])
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an accepted code is refused when replayed"
    );

    // A recovery code works once.
    let (second, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (status, _) = app.call::<LoginTotp>(&second, &[("code", &codes[0])]).await;
    assert_eq!(status, StatusCode::OK);
    let (third, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (status, _) = app.call::<LoginTotp>(&third, &[("code", &codes[0])]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a used recovery code is refused"
    );
}

/// Signs up `email` and turns on TOTP; returns the secret, the recovery codes and the
/// signed-in client.
async fn with_totp(app: &TestApp, email: &str) -> (String, Vec<String>, reqwest::Client) {
    let client = app.signup("Ada", email, "Acme").await;
    let (_, enrol) = app.call::<TotpBegin>(&client, &[]).await;
    let secret = enrol["secret"].as_str().unwrap().to_string();
    let (status, codes) = app
        .call::<TotpConfirm>(&client, &[("code", &code_for(&secret, 0))])
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    (secret, serde_json::from_value(codes).unwrap(), client)
}

async fn counters(app: &TestApp) -> (i32, i32, bool) {
    sqlx::query_as(
        "SELECT failed_logins, totp_failures, COALESCE(totp_locked_until > now(), false) FROM users",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn second_factor_failures_count_per_user_across_sessions_and_lock() {
    let app = TestApp::spawn().await;
    let (secret, _, _) = with_totp(&app, "ada@example.com").await;
    let wrong = if code_for(&secret, 30) == "000000" {
        "111111"
    } else {
        "000000"
    };
    // Two wrong passwords, then the right one: the password counter stays until the
    // second factor passes too.
    for _ in 0..2 {
        app.login("ada@example.com", "wrong password").await;
    }
    // Five wrong codes spread over fresh sessions (new cookies) lock the factor.
    for attempt in 0..5 {
        let (client, _, step) = app.login("ada@example.com", PASSWORD).await;
        assert_eq!(step, "NeedTotp");
        assert_eq!(counters(&app).await.0, 2, "password counter kept");
        let (status, body) = app.call::<LoginTotp>(&client, &[("code", wrong)]).await;
        if attempt < 4 {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(counters(&app).await.1, attempt + 1);
        } else {
            assert_eq!(status, StatusCode::LOCKED, "{body}");
        }
    }
    assert!(counters(&app).await.2, "second factor locked");
    let (client, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (status, body) = app
        .call::<LoginTotp>(&client, &[("code", &code_for(&secret, 30))])
        .await;
    assert_eq!(
        status,
        StatusCode::LOCKED,
        "even the right code waits: {body}"
    );
    sqlx::query("UPDATE users SET totp_locked_until = now() - interval '1 second'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (status, body) = app
        .call::<LoginTotp>(&client, &[("code", &code_for(&secret, 30))])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        counters(&app).await,
        (0, 0, false),
        "cleared after the whole sign-in"
    );
}

#[tokio::test]
async fn turning_off_2fa_takes_a_current_code() {
    let app = TestApp::spawn().await;
    let (secret, codes, client) = with_totp(&app, "ada@example.com").await;
    let (status, body) = app
        .call::<TotpDisable>(&client, &[("password", PASSWORD), ("code", "")])
        .await;
    assert_eq!(error_field(&body), Some("code"), "{status} {body}");
    let wrong = if code_for(&secret, 30) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (_, body) = app
        .call::<TotpDisable>(&client, &[("password", PASSWORD), ("code", wrong)])
        .await;
    assert_eq!(error_field(&body), Some("code"), "{body}");
    let (_, body) = app
        .call::<TotpDisable>(
            &client,
            &[
                ("password", "wrong password"),
                ("code", &code_for(&secret, 30)),
            ],
        )
        .await;
    assert_eq!(error_field(&body), Some("password"), "{body}");
    let (status, body) = app
        .call::<TotpDisable>(&client, &[("password", PASSWORD), ("code", &codes[3])])
        .await;
    assert_eq!(status, StatusCode::OK, "a recovery code serves too: {body}");
    let (_, status, step) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        (status, step),
        (StatusCode::OK, serde_json::Value::from("Done"))
    );
}

#[tokio::test]
async fn sessions_and_enrolment_drafts_are_stored_without_their_secrets() {
    let app = TestApp::spawn().await;
    let client = app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, enrol) = app.call::<TotpBegin>(&client, &[]).await;
    let secret = enrol["secret"].as_str().unwrap();
    let res = app.get(&client, "/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as("SELECT id, data FROM sessions")
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for (_, data) in &rows {
        assert!(!data.to_string().contains(secret), "draft sealed: {data}");
    }
    // The cookie's id is not in the table; its digest is.
    let (fresh, _, _) = app.login("ada@example.com", PASSWORD).await;
    let _ = fresh;
    let raw =
        sqlx::query_scalar::<_, String>("SELECT id FROM sessions ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(raw.len(), 64, "a SHA-256 digest in hex: {raw}");
    let login = app
        .client()
        .post(format!(
            "{}{}",
            app.base,
            <Login as leptos::server_fn::ServerFn>::PATH
        ))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&login).unwrap();
    let id = cookie.trim_start_matches("leadline_session=");
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions")
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
    assert!(!stored.iter().any(|s| s == id), "raw id stored");
    assert!(
        stored.contains(&app::crypto::session_key(id)),
        "digest stored"
    );
}

#[tokio::test]
async fn tenant_policy_forces_2fa_enrolment() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let (status, body) = app
        .call::<app::settings::api::UpdateSecurityPolicy>(
            &owner,
            &[
                ("password_min_length", "12"),
                ("session_idle_minutes", "60"),
                ("max_failed_logins", "5"),
                ("lockout_minutes", "15"),
                ("two_factor_required", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let home = app.get(&rep, "/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()["location"], "/settings/two-factor");
    let (status, _) = app.call::<app::team::api::GetTeam>(&owner, &[]).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the owner has not enrolled either"
    );
    let (status, _) = app.call::<TotpBegin>(&rep, &[]).await;
    assert_eq!(status, StatusCode::OK, "enrolment stays open");
    let page = app.get(&rep, "/settings/two-factor").await;
    assert_eq!(page.status(), StatusCode::OK);
}
