//! Evidence and reports on a lead: validation, citations limited to the lead's own
//! evidence, and nothing visible from another tenant.

use crate::common;

use app::crm::records::api::SaveRecord;
use app::crm::research::{AddEvidence, GetResearch, SaveReport};
use common::*;
use reqwest::StatusCode;
use serde_json::json;

async fn lead(app: &TestApp, client: &reqwest::Client, name: &str) -> String {
    let (status, id) = app
        .call::<SaveRecord>(client, &[("entity", "LEAD"), ("name", name)])
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    id.as_str().unwrap().to_string()
}

#[tokio::test]
async fn reports_cite_the_leads_own_evidence() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let a = lead(&app, &owner, "Nile Towers").await;
    let b = lead(&app, &owner, "Other").await;
    for (form, field) in [
        (vec![("kind", "WEBSITE"), ("title", "")], "title"),
        (vec![("kind", "RUMOUR"), ("title", "x")], "kind"),
        (
            vec![
                ("kind", "NEWS"),
                ("title", "x"),
                ("url", "javascript:alert(1)"),
            ],
            "url",
        ),
        (
            vec![("kind", "NEWS"), ("title", "x"), ("confidence", "140")],
            "confidence",
        ),
    ] {
        let mut f = vec![("lead_id", a.as_str())];
        f.extend(form);
        let (status, body) = app.call::<AddEvidence>(&owner, &f).await;
        assert_eq!(
            (status, error_field(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
    let (status, site) = app
        .call::<AddEvidence>(
            &owner,
            &[
                ("lead_id", &a),
                ("kind", "WEBSITE"),
                ("title", "Company site"),
                ("url", "https://nile.example"),
                ("confidence", "80"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{site}");
    let (_, other) = app
        .call::<AddEvidence>(
            &owner,
            &[("lead_id", &b), ("kind", "NEWS"), ("title", "Elsewhere")],
        )
        .await;

    let report = |sections: serde_json::Value| json!({ "lead_id": a, "report_id": null, "title": "Profile", "sections": sections });
    let (status, body) = app
        .call_json::<SaveReport>(
            &owner,
            &report(json!([{ "heading": "Size", "body": "Big", "evidence_ids": [other] }])),
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("sections")),
        "{body}"
    );
    let (status, body) = app
        .call_json::<SaveReport>(&owner, &report(json!([])))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .call_json::<SaveReport>(
            &owner,
            &report(json!([{ "heading": "Size", "body": "200 units", "evidence_ids": [site] }])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, research) = app.call::<GetResearch>(&owner, &[("lead_id", &a)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(research["evidence"][0]["confidence"], 80);
    assert_eq!(
        research["reports"][0]["sections"][0]["evidence_ids"][0],
        site
    );

    let stranger = app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, _) = app.call::<GetResearch>(&stranger, &[("lead_id", &a)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call::<AddEvidence>(
            &stranger,
            &[("lead_id", &a), ("kind", "NEWS"), ("title", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
