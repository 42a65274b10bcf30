//! Converting a lead into a deal: once, in scope, with its contact and company.

use crate::common::*;
use app::crm::convert::{ConvertLead, CreateDealFor};
use app::crm::records::api::{GetRecord, GetTimeline, LogActivity, SaveRecord};
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

/// A lead with no contact converts into a deal in the pipeline and stage chosen, with
/// the amount typed; it gets a contact (the workspace's one with its email, or a new
/// one), and its timeline shows on the deal's and the contact's.
#[tokio::test]
async fn a_lead_converts_into_the_chosen_stage_with_a_contact_and_its_history() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, choices) = app
        .call_json::<app::crm::convert::GetDealChoices>(&owner, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{choices}");
    let pipeline = choices["pipelines"][0]["id"].as_str().unwrap().to_string();
    let stages = choices["pipelines"][0]["stages"]
        .as_array()
        .unwrap()
        .clone();
    assert!(stages.len() >= 3, "{choices}");
    let second = stages[1][0].as_str().unwrap().to_string();
    let new_lead = |name: &'static str, email: &'static str| {
        let app = &app;
        let owner = owner.clone();
        async move {
            crate::records::created(app, &owner, "LEAD", &[("name", name), ("email", email)]).await
        }
    };
    let lead = new_lead("Mona Zaki", "mona@example.com").await;
    let (status, body) = app
        .call::<LogActivity>(
            &owner,
            &[
                ("entity", "LEAD"),
                ("id", &lead),
                ("kind", "NOTE"),
                ("body", "Wants a sea view"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Bad choices are refused next to their fields, and nothing is made.
    for (form, field) in [
        (vec![("pipeline_id", "not-an-id")], "pipeline_id"),
        (
            vec![("stage_id", &*Uuid::new_v4().to_string().leak())],
            "stage_id",
        ),
        (vec![("amount", "lots")], "amount"),
        (vec![("currency", "E1")], "currency"),
        (
            vec![("expected_close_on", "next week")],
            "expected_close_on",
        ),
    ] {
        let mut fields = vec![("lead_id", lead.as_str())];
        fields.extend(form);
        let (status, body) = app.call::<ConvertLead>(&owner, &fields).await;
        assert!(status.is_client_error(), "{field}: {status} {body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(contacts, 0);

    let (status, body) = app
        .call::<ConvertLead>(
            &owner,
            &[
                ("lead_id", lead.as_str()),
                ("pipeline_id", pipeline.as_str()),
                ("stage_id", second.as_str()),
                ("name", "Mona — sea view flat"),
                ("amount", "2,500,000"),
                ("currency", "EGP"),
                ("expected_close_on", "2027-03-31"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deal = Uuid::parse_str(body.as_str().unwrap()).unwrap();
    let row: (String, Uuid, i64, String, Option<Uuid>, String, String) = sqlx::query_as(
        "SELECT d.name, d.stage_id, d.amount_minor, d.currency::text, d.contact_id, c.email::text, l.status
           FROM deals d JOIN contacts c ON c.id = d.contact_id JOIN leads l ON l.id = d.lead_id
          WHERE d.id = $1 AND l.contact_id = d.contact_id",
    )
    .bind(deal)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(row.0, "Mona — sea view flat");
    assert_eq!(row.1.to_string(), second);
    assert_eq!((row.2, row.3.as_str()), (250_000_000, "EGP"));
    assert_eq!(
        (row.5.as_str(), row.6.as_str()),
        ("mona@example.com", "CONVERTED")
    );
    let contact = row.4.unwrap();
    for (entity, id) in [("Deal", deal), ("Contact", contact)] {
        let (_, page) = app
            .call_json::<GetTimeline>(
                &owner,
                &serde_json::json!({ "entity": entity, "id": id, "before": null }),
            )
            .await;
        assert!(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["body"] == "Wants a sea view"),
            "{entity}: {page}"
        );
    }

    // A second lead with the same email is linked to that contact, not a copy of it.
    let again = new_lead("Mona Z.", "MONA@example.com").await;
    let (status, body) = app
        .call::<ConvertLead>(&owner, &[("lead_id", again.as_str())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let linked: Option<Uuid> =
        sqlx::query_scalar("SELECT contact_id FROM leads WHERE id = $1::uuid")
            .bind(&again)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(linked, Some(contact));
}

/// "New deal" on a contact's or company's page links the deal to it; a record the
/// member may not see, or of another workspace, is not found.
#[tokio::test]
async fn a_contact_or_company_page_makes_a_deal_linked_to_it() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let company =
        crate::records::created(&app, &owner, "COMPANY", &[("name", "Nile Towers")]).await;
    let contact = crate::records::created(
        &app,
        &owner,
        "CONTACT",
        &[("name", "Omar Said"), ("company", "Nile Towers")],
    )
    .await;
    for (entity, id) in [("CONTACT", &contact), ("COMPANY", &company)] {
        let (status, body) = app
            .call::<CreateDealFor>(
                &owner,
                &[
                    ("entity", entity),
                    ("id", id),
                    ("name", "Tower B, 12th floor"),
                    ("amount", "900000"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{entity}: {body}");
        let deal = Uuid::parse_str(body.as_str().unwrap()).unwrap();
        let links: (Option<Uuid>, Option<Uuid>, i64) =
            sqlx::query_as("SELECT contact_id, company_id, amount_minor FROM deals WHERE id = $1")
                .bind(deal)
                .fetch_one(&app.pools.owner)
                .await
                .unwrap();
        let expected_company = Some(Uuid::parse_str(&company).unwrap());
        if entity == "CONTACT" {
            assert_eq!(links.0, Some(Uuid::parse_str(&contact).unwrap()));
        } else {
            assert_eq!(links.0, None);
        }
        assert_eq!(links.1, expected_company, "{entity}");
        assert_eq!(links.2, 90_000_000);
    }
    // A name is required, as on the board.
    let (status, body) = app
        .call::<CreateDealFor>(
            &owner,
            &[("entity", "CONTACT"), ("id", &contact), ("name", " ")],
        )
        .await;
    assert!(status.is_client_error(), "{body}");
    assert_eq!(error_field(&body), Some("name"));
    // A rep who may not see the contact, and another workspace, are told it does not exist.
    let rep = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    for client in [&rep, &other] {
        let (status, body) = app
            .call::<CreateDealFor>(
                client,
                &[("entity", "CONTACT"), ("id", &contact), ("name", "Mine")],
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
}
