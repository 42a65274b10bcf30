//! Tenant settings, the security policy and the audit-log viewer.

use crate::common;

use app::settings::api::*;
use common::*;
use reqwest::StatusCode;

fn settings<'a>(
    name: &'a str,
    color: &'a str,
    logo: &'a str,
    locale: &'a str,
    tz: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("brand_color", color),
        ("logo_url", logo),
        ("locale", locale),
        ("timezone", tz),
    ]
}

#[tokio::test]
async fn tenant_settings_validate_and_apply() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    for (form, field) in [
        (settings("Acme", "red", "", "en", "UTC"), "brand_color"),
        (
            settings("Acme", "#112233", "javascript:alert(1)", "en", "UTC"),
            "logo_url",
        ),
        (settings("Acme", "#112233", "", "fr", "UTC"), "locale"),
        (
            settings("Acme", "#112233", "", "en", "Mars/Olympus"),
            "timezone",
        ),
        (settings("", "#112233", "", "en", "UTC"), "name"),
    ] {
        let (status, body) = app.call::<UpdateTenantSettings>(&owner, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let (status, body) = app
        .call::<UpdateTenantSettings>(
            &owner,
            &settings(
                "شركة النيل",
                "#0F766E",
                "https://cdn.example/logo.png",
                "ar",
                "Africa/Cairo",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let home = app.page(&owner, "/").await.1;
    assert!(home.contains("--brand: #0f766e"), "branding colour applied");
    assert!(
        home.contains(r#"dir="rtl""#),
        "the workspace language now defaults to Arabic"
    );
    assert!(home.contains("شركة النيل"));

    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let (status, _) = app.call::<GetTenantSettings>(&rep, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call::<UpdateTenantSettings>(&rep, &settings("Hijack", "#000000", "", "en", "UTC"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_users_language_overrides_the_workspace() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, body) = app
        .call::<app::auth::api::UpdateProfile>(
            &owner,
            &[
                ("name", "Ada L."),
                ("language", "ar"),
                ("timezone", "Asia/Riyadh"),
                ("theme", "dark"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let home = app.page(&owner, "/settings").await.1;
    assert!(home.contains(r#"lang="ar""#) && home.contains(r#"dir="rtl""#));
    let (status, body) = app
        .call::<app::auth::api::UpdateProfile>(
            &owner,
            &[
                ("name", "Ada"),
                ("language", "xx"),
                ("timezone", ""),
                ("theme", "light"),
            ],
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("language"))
    );
    let (_, body) = app
        .call::<app::auth::api::UpdateProfile>(
            &owner,
            &[
                ("name", "Ada"),
                ("language", ""),
                ("timezone", "Nowhere/Else"),
                ("theme", "light"),
            ],
        )
        .await;
    assert_eq!(error_field(&body), Some("timezone"));
}

/// Portuguese and Romanian pages render in their language, and the browser gets the
/// same strings from an address named by their content.
#[tokio::test]
async fn portuguese_and_romanian_pages_carry_their_own_strings() {
    use app::i18n::{t, Locale};
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    for (code, tag, locale) in [("pt", "pt-BR", Locale::Pt), ("ro", "ro", Locale::Ro)] {
        let (status, body) = app
            .call::<app::auth::api::UpdateProfile>(
                &owner,
                &[
                    ("name", "Ada"),
                    ("language", code),
                    ("timezone", ""),
                    ("theme", "light"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = app.page(&owner, "/settings").await.1;
        assert!(page.contains(&format!(r#"lang="{tag}""#)) && page.contains(r#"dir="ltr""#));
        let settings_label = t(locale, "nav.settings");
        assert_ne!(
            settings_label,
            t(Locale::En, "nav.settings"),
            "{code} is translated"
        );
        assert!(
            page.contains(&settings_label),
            "{code}: the navigation is in {code}"
        );

        let start = page
            .find(&format!("/assets/i18n/{code}."))
            .expect("the table's preload link");
        let url = &page[start..start + page[start..].find('"').unwrap()];
        let table = app.get(&owner, url).await;
        assert_eq!(table.status(), StatusCode::OK);
        assert_eq!(
            table.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let strings: std::collections::HashMap<String, String> = table.json().await.unwrap();
        assert_eq!(strings.get("nav.settings"), Some(&settings_label));
        let stale = app
            .get(
                &owner,
                &format!("/assets/i18n/{code}.0123456789abcdef.json"),
            )
            .await;
        assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    }
    // A workspace may default to either language too.
    let (status, body) = app
        .call::<UpdateTenantSettings>(
            &owner,
            &settings("Acme", "#112233", "", "ro", "Europe/Bucharest"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn security_policy_ranges_are_checked_and_applied() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let policy = |min: &'static str, idle: &'static str| {
        vec![
            ("password_min_length", min),
            ("session_idle_minutes", idle),
            ("max_failed_logins", "3"),
            ("lockout_minutes", "10"),
            ("require_digit", "on"),
        ]
    };
    let (status, body) = app
        .call::<UpdateSecurityPolicy>(&owner, &policy("4", "60"))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("password_min_length")
        )
    );
    let (_, body) = app
        .call::<UpdateSecurityPolicy>(&owner, &policy("12", "lots"))
        .await;
    assert_eq!(error_field(&body), Some("session_idle_minutes"));
    let (status, _) = app
        .call::<UpdateSecurityPolicy>(&owner, &policy("12", "60"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, p) = app.call::<GetSecurityPolicy>(&owner, &[]).await;
    assert_eq!(
        (
            p["password_min_length"].as_i64(),
            p["require_digit"].as_bool()
        ),
        (Some(12), Some(true))
    );
    // The new rules apply to invitees' passwords.
    let (_, link) = app
        .call::<app::team::api::CreateInvite>(
            &owner,
            &[("email", "rep@example.com"), ("role", "SALES")],
        )
        .await;
    let (status, body) = app
        .call::<app::team::api::AcceptInvite>(
            &app.client(),
            &[
                ("token", &token_of(&link)),
                ("name", "Rep"),
                ("password", "no digits in here"),
            ],
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password")),
        "{body}"
    );
    // And lockout now comes after 3 failures (with the answer of any failure).
    for _ in 0..3 {
        assert_eq!(
            app.login("ada@example.com", "bad").await.1,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked: bool = sqlx::query_scalar(
        "SELECT locked_until > now() FROM users WHERE email = 'ada@example.com'",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert!(locked);
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.1,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_audit_log_filters_and_pages_by_keyset() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let page = |filter: serde_json::Value, after: serde_json::Value| {
        let client = owner.clone();
        let url = format!(
            "{}{}",
            app.base,
            <GetAuditPage as leptos::server_fn::ServerFn>::PATH
        );
        async move {
            let res = client
                .post(url)
                .header("sec-fetch-site", "same-origin")
                .json(&serde_json::json!({ "filter": filter, "after": after }))
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    for i in 0..60 {
        let (status, _) = app
            .call::<app::team::api::CreateInvite>(
                &owner,
                &[("email", &format!("p{i}@example.com")), ("role", "SALES")],
            )
            .await;
        assert!(status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY);
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            // The starter plan's seats ran out; revoke and continue so entries keep coming.
            sqlx::query("UPDATE invites SET status = 'REVOKED'")
                .execute(&app.pools.owner)
                .await
                .unwrap();
        }
    }
    let (status, first) = page(
        serde_json::json!({ "action": "invite_sent" }),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let rows = first["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r["action"] == "team.invite_sent"));
    let (_, second) = page(
        serde_json::json!({ "action": "invite_sent" }),
        first["next"].clone(),
    )
    .await;
    let more = second["rows"].as_array().unwrap();
    assert!(!more.is_empty() && second["next"].is_null(), "{second}");
    let firsts: std::collections::HashSet<_> = rows.iter().map(|r| r["id"].clone()).collect();
    assert!(
        more.iter().all(|r| !firsts.contains(&r["id"])),
        "pages do not overlap"
    );
    let (status, body) = page(
        serde_json::json!({ "from": "26/11/2026" }),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("from"))
    );
    let (_, none) = page(
        serde_json::json!({ "to": "2000-01-01" }),
        serde_json::Value::Null,
    )
    .await;
    assert!(none["rows"].as_array().unwrap().is_empty());
    sqlx::query("UPDATE invites SET status = 'REVOKED' WHERE status = 'PENDING'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "MANAGER")
        .await;
    let url = format!(
        "{}{}",
        app.base,
        <GetAuditPage as leptos::server_fn::ServerFn>::PATH
    );
    let res = rep
        .post(url)
        .header("sec-fetch-site", "same-origin")
        .json(&serde_json::json!({ "filter": {}, "after": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "managers do not read the audit log"
    );
}

/// The workspace chooses Arabic-Indic digits for its Arabic pages; the server draws
/// them so the browser hydrates the same text, and English pages keep Latin digits.
#[tokio::test]
async fn arabic_pages_are_written_in_the_digits_the_workspace_chooses() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let with_digits = |digits: &'static str| {
        let mut form = settings("Acme", "#112233", "", "ar", "Africa/Cairo");
        form.push(("number_system", digits));
        form
    };
    let (status, body) = app
        .call::<UpdateTenantSettings>(&owner, &with_digits("roman"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("number_system"));
    let (status, body) = app
        .call::<UpdateTenantSettings>(&owner, &with_digits("arab"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, saved) = app.call::<GetTenantSettings>(&owner, &[]).await;
    assert_eq!(saved["number_system"], "arab");

    // The billing page dates the trial's end: its year in Arabic-Indic digits.
    let ends: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT trial_ends_at FROM subscriptions WHERE tenant_id = $1")
            .bind(app.tenant_of("ada@example.com").await)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    let year = ends.format("%Y").to_string();
    let arabic_year: String = year
        .chars()
        .map(|c| char::from_u32(0x660 + c.to_digit(10).unwrap()).unwrap())
        .collect();
    let page = app.page(&owner, "/billing").await.1;
    assert!(page.contains(&format!("/{arabic_year}")), "{page}");
    assert!(
        !page.contains(&format!("/{year}")),
        "no Latin year left: {page}"
    );

    // A member who reads English sees Latin digits in the same workspace.
    let (status, body) = app
        .call::<app::auth::api::UpdateProfile>(
            &owner,
            &[
                ("name", "Ada"),
                ("language", "en"),
                ("timezone", ""),
                ("theme", "light"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = app.page(&owner, "/billing").await.1;
    assert!(
        page.contains(&year) && !page.contains(&arabic_year),
        "{page}"
    );
}
