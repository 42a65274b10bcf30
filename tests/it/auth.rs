//! Sign-up, sign-in, lockout, sessions, CSRF and 2FA against a real server and database.

use crate::common;

use app::auth::api::*;
use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn signup_creates_a_workspace_to_sign_in_to() {
    let app = TestApp::spawn().await;
    let client = app
        .signup("Ada Lovelace", "ada@example.com", "Analytical Engines")
        .await;
    let home = app.get(&client, "/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    assert!(
        html.contains("Analytical Engines"),
        "tenant name missing from the shell"
    );
    assert!(html.contains(r#"dir="ltr""#));
    let (status, profile) = app.call::<MyProfile>(&client, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["email"], "ada@example.com");
    // The owner's membership, default policy and plan exist.
    let role: String = sqlx::query_scalar("SELECT role FROM memberships")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(role, "OWNER");
}

#[tokio::test]
async fn signup_rejects_bad_input_with_field_messages() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for (form, field) in [
        (
            vec![
                ("name", "A"),
                ("email", "not-an-email"),
                ("password", PASSWORD),
                ("company", "C"),
            ],
            "email",
        ),
        (
            vec![
                ("name", "A"),
                ("email", "a@b.co"),
                ("password", "short"),
                ("company", "C"),
            ],
            "password",
        ),
        (
            vec![
                ("name", " "),
                ("email", "a@b.co"),
                ("password", PASSWORD),
                ("company", "C"),
            ],
            "name",
        ),
        (
            vec![
                ("name", "A"),
                ("email", "a@b.co"),
                ("password", PASSWORD),
                ("company", ""),
            ],
            "company",
        ),
    ] {
        let (status, body) = app.call::<Signup>(&client, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, s1, b1) = app.login("ada@example.com", "wrong password").await;
    let (_, s2, b2) = app.login("nobody@example.com", "wrong password").await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(
        b1, b2,
        "the answer must not reveal which emails have accounts"
    );
    let (_, ok, body) = app.login("ADA@example.com", PASSWORD).await;
    assert_eq!(ok, StatusCode::OK, "{body}");
    assert_eq!(body, "Done");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_without_saying_so() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, _, unknown) = app.login("nobody@example.com", "wrong password").await;
    // The default policy allows 5 attempts; the 5th locks.
    for _ in 0..5 {
        let (_, status, body) = app.login("ada@example.com", "wrong password").await;
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &unknown));
    }
    let locked: bool = sqlx::query_scalar("SELECT locked_until > now() FROM users")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert!(locked);
    let (_, status, body) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        (status, &body),
        (StatusCode::UNAUTHORIZED, &unknown),
        "the right password waits out the lock, and the answer does not tell a locked \
         account from a missing one"
    );
    sqlx::query("UPDATE users SET locked_until = now() - interval '1 second'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (_, status, _) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the lock ends");
}

#[tokio::test]
async fn sign_in_is_throttled_per_email_whether_or_not_it_has_an_account() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    for email in ["ada@example.com", "nobody@example.com"] {
        for attempt in 1..=10 {
            let (_, status, body) = app.login(email, "wrong password").await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{email} #{attempt}: {body}"
            );
        }
        let (client, status, body) = app.login(email, "wrong password").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{email}: {body}");
        assert!(body["TooManyRequests"]["retry_after"].as_u64().unwrap() > 0);
        let res = client
            .post(format!(
                "{}{}",
                app.base,
                <Login as leptos::server_fn::ServerFn>::PATH
            ))
            .header("sec-fetch-site", "same-origin")
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "even the right password"
        );
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "Retry-After {retry}");
    }
}

#[tokio::test]
async fn sign_in_is_throttled_per_address() {
    let app = TestApp::spawn().await;
    // Sixty attempts from one address in five minutes, each at another email.
    for i in 0..60 {
        let (_, status, _) = app.login(&format!("spray{i}@example.com"), "pw").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (_, status, body) = app.login("spray-last@example.com", "pw").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("leadline_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
}

#[tokio::test]
async fn login_issues_a_new_session_id_and_cookie_flags() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    let raw = reqwest::Client::new();
    let login = |cookie: Option<String>| {
        let mut req = raw
            .post(format!("{}{}", app.base, Login::PATH))
            .header("sec-fetch-site", "same-origin")
            .form(&[("email", "ada@example.com"), ("password", PASSWORD)]);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    use leptos::server_fn::ServerFn;
    let first = login(None).await.unwrap();
    let set_cookie = first
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let a = session_cookie(&first).unwrap();
    let second = login(Some(a.clone())).await.unwrap();
    let b = session_cookie(&second).unwrap();
    assert_ne!(a, b, "the session id must change at login");
    let old = raw
        .post(format!("{}{}", app.base, MyProfile::PATH))
        .header("sec-fetch-site", "same-origin")
        .header("cookie", a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        StatusCode::UNAUTHORIZED,
        "the pre-login id is dead"
    );
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.signup("Ada", "ada@example.com", "Acme").await;
    use leptos::server_fn::ServerFn;
    let url = format!("{}{}", app.base, ChangePassword::PATH);
    let form = [("current", PASSWORD), ("new", "another long password")];
    let evil_origin = client
        .post(&url)
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(evil_origin.status(), StatusCode::FORBIDDEN);
    let cross_site = client
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    // The refused requests changed nothing: the old password still works.
    let (_, status, _) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let host = app.base.trim_start_matches("http://").to_string();
    let same = client
        .post(&url)
        .header("origin", app.base.clone())
        .header("host", host)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::OK);
}

#[tokio::test]
async fn signed_out_pages_redirect_to_sign_in() {
    let app = TestApp::spawn().await;
    let res = app.get(&app.client(), "/settings/team").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=/settings/team");
    let login = app.get(&app.client(), "/login").await;
    assert_eq!(login.status(), StatusCode::OK);
    let arabic = app
        .client()
        .get(format!("{}/login", app.base))
        .header("accept-language", "ar-EG,ar;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(arabic.contains(r#"dir="rtl""#) && arabic.contains("تسجيل الدخول"));
}

#[tokio::test]
async fn users_list_and_revoke_their_sessions() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    let (laptop, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (phone, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (status, list) = app.call::<MySessions>(&laptop, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3, "signup + two logins: {list:?}");
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    for s in list.iter().filter(|s| s["current"] == false) {
        let (status, body) = app
            .call::<RevokeSession>(&laptop, &[("handle", s["handle"].as_str().unwrap())])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = app.call::<MyProfile>(&phone, &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked session no longer works"
    );
    let (status, _) = app.call::<MyProfile>(&laptop, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call::<RevokeSession>(&laptop, &[("handle", "no-such-handle")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

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
    let (status, codes) = app
        .call::<TotpConfirm>(&client, &[("code", &code_for(&secret, 0))])
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
        .call::<LoginTotp>(&pending, &[("code", &code_for(&secret, 0))])
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the code that confirmed enrolment cannot sign in again: {body}"
    );
    let (status, body) = app
        .call::<LoginTotp>(&pending, &[("code", &code_for(&secret, 30))])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.call::<MyProfile>(&pending, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (replay, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (status, _) = app
        .call::<LoginTotp>(&replay, &[("code", &code_for(&secret, 30))])
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

#[tokio::test]
async fn password_change_checks_the_policy_and_signs_out_other_browsers() {
    let app = TestApp::spawn().await;
    let client = app.signup("Ada", "ada@example.com", "Acme").await;
    let (other, _, _) = app.login("ada@example.com", PASSWORD).await;
    let (status, body) = app
        .call::<ChangePassword>(
            &client,
            &[("current", "nope"), ("new", "a brand new password")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("current"));
    let (status, body) = app
        .call::<ChangePassword>(&client, &[("current", PASSWORD), ("new", "short")])
        .await;
    assert_eq!(error_field(&body), Some("new"), "{status} {body}");
    let (status, _) = app
        .call::<ChangePassword>(
            &client,
            &[("current", PASSWORD), ("new", "a brand new password")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call::<MyProfile>(&other, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.call::<MyProfile>(&client, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, status, _) = app.login("ada@example.com", "a brand new password").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let c = app.client();
    assert_eq!(app.get(&c, "/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.get(&c, "/readyz").await.status(), StatusCode::OK);
    let metrics = app.get(&c, "/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("leadline_http_requests_total{class=\"2xx\"}"),
        "{metrics}"
    );
    let res = app.get(&c, "/healthz").await;
    assert!(res.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn the_session_idle_timeout_follows_the_tenant_policy() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, _) = app
        .call::<app::settings::api::UpdateSecurityPolicy>(
            &owner,
            &[
                ("password_min_length", "10"),
                ("session_idle_minutes", "5"),
                ("max_failed_logins", "5"),
                ("lockout_minutes", "15"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    use leptos::server_fn::ServerFn;
    let res = reqwest::Client::new()
        .post(format!("{}{}", app.base, Login::PATH))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("Max-Age=300"),
        "the cookie lives 5 idle minutes: {cookie}"
    );
    let seconds: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expiry_date - now())::float8 FROM sessions ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert!(
        (200.0..=300.0).contains(&seconds),
        "server-side expiry in 5 minutes: {seconds}"
    );
}

#[tokio::test]
async fn a_signed_in_page_does_not_rewrite_its_session_row() {
    let app = TestApp::spawn().await;
    let client = app.signup("Ada", "ada@example.com", "Acme").await;
    let version = || async {
        sqlx::query_scalar::<_, String>("SELECT xmin::text FROM sessions WHERE user_id IS NOT NULL")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap()
    };
    let res = app.get(&client, "/").await;
    assert_eq!(res.status(), StatusCode::OK);
    // The browser's cookie is pushed on with the activity, not only the row.
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Max-Age=28800"), "{cookie}");
    let before = version().await;
    for _ in 0..3 {
        assert_eq!(app.get(&client, "/contacts").await.status(), StatusCode::OK);
    }
    assert_eq!(version().await, before, "the row was written again");
    // An expiry more than a minute behind is pushed on at the next request.
    sqlx::query("UPDATE sessions SET expiry_date = now() + interval '10 minutes'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let moved = version().await;
    assert_eq!(app.get(&client, "/contacts").await.status(), StatusCode::OK);
    assert_ne!(version().await, moved, "the idle expiry was not pushed on");
    let seconds: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expiry_date - now())::float8 FROM sessions WHERE user_id IS NOT NULL",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    // The workspace's default idle timeout: 8 hours from now.
    assert!(seconds > 7.9 * 3600.0, "{seconds}");
}
