//! The pages before sign-in: no WASM, and plain form posts answered with redirects
//! (DECISIONS 59).

use crate::common;

use app::auth::api::*;
use common::*;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;

/// The sign-in page links no WASM, only its script, which is served for good.
#[tokio::test]
async fn the_pages_before_sign_in_load_no_wasm() {
    let app = TestApp::spawn().await;
    let c = app.client();
    for path in ["/login", "/signup", "/forgot", "/reset/abc", "/verify/abc"] {
        let html = app.page(&c, path).await.1;
        assert!(
            !html.contains(".wasm") && pkg_scripts(&html) == 0,
            "{path}: {html}"
        );
        assert!(html.contains(app::auth::plain::script_url()), "{path}");
    }
    let script = app.get(&c, app::auth::plain::script_url()).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(script.text().await.unwrap().contains("data-hydrated"));
    // The app's own pages still hydrate.
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let home = app.page(&owner, "/").await.1;
    assert!(pkg_scripts(&home) > 0, "{home}");
}

/// Scripts of the app's bundle (`/pkg/….js`) a page links.
fn pkg_scripts(html: &str) -> usize {
    html.split("/pkg/")
        .skip(1)
        .filter(|rest| {
            rest.split(['"', '\''])
                .next()
                .is_some_and(|name| name.ends_with(".js"))
        })
        .count()
}

/// A sign-in form posted by a browser with no script: redirects only, never a page of
/// JSON. A refusal goes back to the form with the error; success goes to `next`.
#[tokio::test]
async fn a_plain_form_sign_in_answers_with_redirects() {
    let app = TestApp::spawn().await;
    app.signup("Ada", "ada@example.com", "Acme").await;
    let browser = app.client();
    let post = |form: &'static [(&'static str, &'static str)]| {
        browser
            .post(format!("{}{}", app.base, Login::PATH))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", format!("{}/login?next=/settings", app.base))
            .form(form)
            .send()
    };
    let refused = post(&[
        ("email", "ada@example.com"),
        ("password", "not it"),
        ("next", "/settings"),
    ])
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = refused.headers()["location"].to_str().unwrap().to_string();
    assert!(
        back.contains("/login?next=%2Fsettings") || back.contains("/login?next=/settings"),
        "{back}"
    );
    assert!(back.contains("__err="), "{back}");
    // The form, drawn from that address, says why.
    let page = app.page(&browser, &back.replace(&app.base, "")).await.1;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("wrong"), "{page}");

    let signed_in = post(&[
        ("email", "ada@example.com"),
        ("password", "correct horse battery"),
        ("next", "/settings"),
    ])
    .await
    .unwrap();
    assert_eq!(signed_in.status(), StatusCode::FOUND);
    assert_eq!(signed_in.headers()["location"], "/settings");
    // Another site as `next` is not followed.
    let elsewhere = post(&[
        ("email", "ada@example.com"),
        ("password", "correct horse battery"),
        ("next", "//evil.example"),
    ])
    .await
    .unwrap();
    assert_eq!(elsewhere.headers()["location"], "/");

    // The page's script asks for JSON and reads where to go from the Location.
    let scripted = app
        .client()
        .post(format!("{}{}", app.base, Login::PATH))
        .header("sec-fetch-site", "same-origin")
        .header("accept", "application/json")
        .header("leadline-follow", "1")
        .form(&[
            ("email", "ada@example.com"),
            ("password", "correct horse battery"),
            ("next", "/pipeline"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(scripted.status(), StatusCode::OK);
    assert_eq!(scripted.headers()["location"], "/pipeline");
    // The app's own client is left to go where it wants.
    let (status, step) = app
        .call::<Login>(
            &app.client(),
            &[
                ("email", "ada@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!((status, step), (StatusCode::OK, serde_json::json!("Done")));
}
