//! Sign-up, sign-in, lockout, sessions and CSRF against a real server and database.

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

pub(crate) fn session_cookie(res: &reqwest::Response) -> Option<String> {
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
    // A templated route is labelled by its template: the token stays out of the scrape.
    let token = "metrics-probe-token";
    app.get(&c, &format!("/invite/{token}")).await;
    let metrics = app.page(&c, "/metrics").await.1;
    assert!(
        metrics.contains(
            "leadline_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/invite/{token}\""), "{metrics}");
    assert!(!metrics.contains(token), "{metrics}");
    // Buckets below a millisecond, where most answers fall.
    assert!(
        metrics.contains(
            "leadline_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.0001\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("leadline_db_pool_connections{state=\"open\"}"));
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
