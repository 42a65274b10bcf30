//! Converting a lead into a deal: once, in scope, with its contact and company.

use crate::common::*;
use app::crm::convert::ConvertLead;
use app::crm::records::api::{GetRecord, SaveRecord};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

#[tokio::test]
async fn a_lead_converts_once_into_a_linked_deal_and_only_for_who_may_see_it() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let lead = Uuid::now_v7();
    sqlx::query(
        "WITH c AS (INSERT INTO companies (tenant_id, id, name) VALUES ($1, gen_random_uuid(), 'Nile Towers') RETURNING id),
              p AS (INSERT INTO contacts (tenant_id, id, full_name, company_id) SELECT $1, gen_random_uuid(), 'Mona Zaki', id FROM c RETURNING id, company_id)
         INSERT INTO leads (tenant_id, id, name, contact_id, company_id, owner_id, status)
         SELECT $1, $2, 'Mona Zaki — 40 units', p.id, p.company_id, (SELECT id FROM users WHERE email = 'ada@example.com'), 'CONTACTED' FROM p",
    )
    .bind(tenant)
    .bind(lead)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let lead_id = lead.to_string();
    let form = [("lead_id", lead_id.as_str())];
    // Two clicks at once: one deal.
    let (a, b) = tokio::join!(
        app.call::<ConvertLead>(&owner, &form),
        app.call::<ConvertLead>(&owner, &form)
    );
    assert_eq!(
        (a.0, b.0),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        a.1,
        b.1
    );
    assert_eq!(a.1, b.1, "the second answer is the same deal");
    let deal = Uuid::parse_str(a.1.as_str().unwrap()).unwrap();
    let row: (String, Option<Uuid>, Option<Uuid>, Option<Uuid>, String) = sqlx::query_as(
        "SELECT d.name, d.lead_id, d.contact_id, d.company_id, l.status FROM deals d JOIN leads l ON l.id = d.lead_id WHERE d.id = $1",
    )
    .bind(deal)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(row.0, "Mona Zaki — 40 units");
    assert_eq!(row.1, Some(lead));
    assert!(
        row.2.is_some() && row.3.is_some(),
        "contact and company carried over"
    );
    assert_eq!(row.4, "CONVERTED");
    let deals: i64 = sqlx::query_scalar("SELECT count(*) FROM deals WHERE lead_id = $1")
        .bind(lead)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(deals, 1);
    // The deal's money is edited like its other fields, and checked the same way.
    let deal_id = deal.to_string();
    let save = |amount: &'static str, currency: &'static str, probability: &'static str| {
        let app = &app;
        let owner = owner.clone();
        let deal_id = deal_id.clone();
        async move {
            app.call::<SaveRecord>(
                &owner,
                &[
                    ("entity", "DEAL"),
                    ("id", deal_id.as_str()),
                    ("amount", amount),
                    ("currency", currency),
                    ("probability", probability),
                ],
            )
            .await
        }
    };
    assert_eq!(
        save("3,000,000", "EGP", "140").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        save("three", "EGP", "40").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        save("3,000,000", "E1", "40").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, body) = save("3,000,000.50", "egp", "40").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let money: (i64, String, i32) =
        sqlx::query_as("SELECT amount_minor, currency::text, probability FROM deals WHERE id = $1")
            .bind(deal)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(money, (300_000_050, "EGP".to_string(), 40));
    let (status, detail) = app
        .call_json::<GetRecord>(&owner, &serde_json::json!({ "entity": "Deal", "id": deal }))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let facts = detail["facts"].to_string();
    assert!(
        facts.contains("3000000.5") && facts.contains("\"probability\",\"40\""),
        "{facts}"
    );
    // A rep who may not see the lead, and another workspace, are told it does not exist.
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (status, _) = app
        .call::<ConvertLead>(&rep, &[("lead_id", lead_id.as_str())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, body): (StatusCode, Value) = app
        .call::<ConvertLead>(&other, &[("lead_id", lead_id.as_str())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
