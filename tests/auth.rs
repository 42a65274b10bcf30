//! Sign-up, sign-in, lockout, sessions, CSRF and 2FA against a real server and database.

mod common;

use app::auth::api::*;
use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn signup_signs_in_and_renders_the_home_page() {
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
    app.signup("Ada", "ada@example.com", "One").await;
    let (status, body) = app
        .call::<Signup>(
            &client,
            &[
                ("name", "Ada"),
                ("email", "ADA@example.com"),
                ("password", PASSWORD),
                ("company", "Two"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_field(&body),
        Some("email"),
        "duplicate email must be refused: {body}"
    );
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
async fn repeated_failures_lock_the_account() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    // The default policy allows 5 attempts.
    for _ in 0..4 {
        let (_, status, _) = app.login("ada@example.com", "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, status, body) = app.login("ada@example.com", "wrong password").await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    assert!(error_text(&body).contains("minutes"), "{body}");
    let (_, status, _) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::LOCKED,
        "the right password must wait out the lock"
    );
    sqlx::query("UPDATE users SET locked_until = now() - interval '1 second'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (_, status, _) = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the lock ends");
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
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.call::<MyProfile>(&pending, &[]).await;
    assert_eq!(status, StatusCode::OK);

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
