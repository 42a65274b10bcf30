//! Leads, contacts and companies over real HTTP: validation, keyset tables, search,
//! edits with history, the timeline, tasks, bulk actions, lists and tenancy.

use crate::common;

use app::crm::records::api::{
    ApplyBulk, CompleteTask, CreateList, GetLists, GetMyTasks, GetRecord, GetTimeline, ListRecords,
    LogActivity, SaveRecord, SearchRecords, UpdateList,
};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

async fn save(
    app: &TestApp,
    client: &reqwest::Client,
    entity: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![("entity", entity)];
    form.extend_from_slice(fields);
    app.call::<SaveRecord>(client, &form).await
}

pub(crate) async fn created(
    app: &TestApp,
    client: &reqwest::Client,
    entity: &str,
    fields: &[(&str, &str)],
) -> String {
    let (status, body) = save(app, client, entity, fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str().unwrap().to_string()
}

async fn list(
    app: &TestApp,
    client: &reqwest::Client,
    entity: &str,
    filter: Value,
    sort: &str,
    after: Value,
) -> Value {
    let (status, body) = app
        .call_json::<ListRecords>(
            client,
            &json!({ "entity": entity, "filter": filter, "sort": sort, "after": after }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn names(page: &Value) -> Vec<String> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn contacts_are_validated_and_phones_normalised() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    for (fields, field) in [
        (vec![("name", "")], "name"),
        (vec![("name", "X"), ("email", "not-an-email")], "email"),
        (vec![("name", "X"), ("phone", "call me")], "phone"),
        // A national number needs the tenant's country, which is not set yet.
        (vec![("name", "X"), ("phone", "0100 123 4567")], "phone"),
    ] {
        let (status, body) = save(&app, &owner, "CONTACT", &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let id = created(
        &app,
        &owner,
        "CONTACT",
        &[
            ("name", "Mona Zaki"),
            ("email", "Mona@Example.com"),
            ("phone", "+20 100 123 4567"),
            ("company", "Nile Towers"),
        ],
    )
    .await;
    let (status, detail) = app
        .call_json::<GetRecord>(&owner, &json!({ "entity": "Contact", "id": id }))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["row"]["phone"], "+201001234567");
    assert_eq!(detail["row"]["email"], "mona@example.com");
    assert_eq!(detail["row"]["company"]["name"], "Nile Towers");
    // The same email in another case is the same contact.
    let (status, body) = save(
        &app,
        &owner,
        "CONTACT",
        &[("name", "Dup"), ("email", "MONA@example.com")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("email"));
    // With a default country, local numbers are read as that country's.
    sqlx::query("UPDATE tenants SET phone_region = 'EG'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let id = created(
        &app,
        &owner,
        "CONTACT",
        &[("name", "Local"), ("phone", "0100 765 4321")],
    )
    .await;
    let (_, detail) = app
        .call_json::<GetRecord>(&owner, &json!({ "entity": "Contact", "id": id }))
        .await;
    assert_eq!(detail["row"]["phone"], "+201007654321");
    // The company links back to its contacts.
    let company = detail_company(&app, &owner).await;
    let (_, company_detail) = app
        .call_json::<GetRecord>(&owner, &json!({ "entity": "Company", "id": company }))
        .await;
    assert_eq!(company_detail["related"][0]["name"], "Mona Zaki");
}

async fn detail_company(app: &TestApp, client: &reqwest::Client) -> String {
    let page = list(app, client, "Company", json!({}), "Name", Value::Null).await;
    page["rows"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn tables_page_by_keyset_in_both_sorts() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    sqlx::query(
        "INSERT INTO contacts (tenant_id, id, full_name, created_at)
         SELECT $1, gen_random_uuid(), 'Person ' || lpad(i::text, 3, '0'), now() - i * interval '1 minute'
           FROM generate_series(1, 120) i",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    for sort in ["Name", "Newest"] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = list(&app, &owner, "Contact", json!({}), sort, after).await;
            seen.extend(names(&page));
            if page["next"].is_null() {
                break;
            }
            after = page["next"].clone();
        }
        let expected: Vec<String> = (1..=120).map(|i| format!("Person {i:03}")).collect();
        assert_eq!(seen, expected, "{sort}");
    }
}

#[tokio::test]
async fn search_handles_arabic_typos_and_scope() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    created(
        &app,
        &owner,
        "LEAD",
        &[("name", "محمد عبد الله"), ("email", "m@example.com")],
    )
    .await;
    created(
        &app,
        &owner,
        "CONTACT",
        &[("name", "Yasmine Fouad"), ("phone", "+971 50 123 4567")],
    )
    .await;
    created(&app, &rep, "COMPANY", &[("name", "Delta Properties")]).await;
    let hits = |body: &Value| -> Vec<String> {
        body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (q, expected) in [
        ("مُحَمَّد", "محمد عبد الله"),
        ("yasmin foad", "Yasmine Fouad"),
        ("501234567", "Yasmine Fouad"),
        ("delta", "Delta Properties"),
    ] {
        let (status, body) = app.call::<SearchRecords>(&owner, &[("q", q)]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(hits(&body).contains(&expected.to_string()), "{q}: {body}");
    }
    // The rep sees their company, not the owner's lead (the owner's records are owned).
    let (_, body) = app.call::<SearchRecords>(&rep, &[("q", "محمد")]).await;
    assert!(hits(&body).is_empty(), "{body}");
    let (_, body) = app.call::<SearchRecords>(&rep, &[("q", "delta")]).await;
    assert_eq!(hits(&body), ["Delta Properties"]);
    // Search text has a length cap, answered next to the field.
    let long = "ب".repeat(201);
    let (status, body) = app.call::<SearchRecords>(&rep, &[("q", &long)]).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("q")),
        "{body}"
    );
}

#[tokio::test]
async fn edits_land_on_the_timeline_and_in_the_audit_log() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    app.invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let rep_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'rep@example.com'")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    let lead = created(
        &app,
        &owner,
        "LEAD",
        &[("name", "Villa buyer"), ("score", "40")],
    )
    .await;
    let (status, body) = save(&app, &owner, "LEAD", &[("id", &lead), ("score", "140")]).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("score"))
    );
    let (status, body) = save(
        &app,
        &owner,
        "LEAD",
        &[
            ("id", &lead),
            ("status", "QUALIFIED"),
            ("owner_id", &rep_id.to_string()),
            ("tags", "vip, cairo, vip"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = app
        .call_json::<GetTimeline>(
            &owner,
            &json!({ "entity": "Lead", "id": lead, "before": null }),
        )
        .await;
    let kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["STATUS_CHANGE", "ASSIGNMENT", "CREATED"]);
    let (_, detail) = app
        .call_json::<GetRecord>(&owner, &json!({ "entity": "Lead", "id": lead }))
        .await;
    assert_eq!(detail["row"]["tags"], json!(["vip", "cairo"]));
    let (before, after): (Value, Value) = sqlx::query_as(
        "SELECT before, after FROM audit_logs WHERE action = 'record.updated' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        (before["status"].as_str(), after["status"].as_str()),
        (Some("NEW"), Some("QUALIFIED"))
    );
}

#[tokio::test]
async fn the_timeline_takes_notes_calls_and_tasks_and_pages_newest_first() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let lead = created(&app, &owner, "LEAD", &[("name", "Buyer")]).await;
    let log = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        let owner = &owner;
        let lead = lead.clone();
        async move {
            let mut form: Vec<(&str, String)> = vec![("entity", "LEAD".into()), ("id", lead)];
            form.extend(fields);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call::<LogActivity>(owner, &form).await
        }
    };
    let (status, body) = log(vec![("kind", "NOTE".into()), ("body", "  ".into())]).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body"))
    );
    let (status, body) = log(vec![
        ("kind", "TASK".into()),
        ("subject", "Call back".into()),
        ("due_at", "soon".into()),
    ])
    .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("due_at"))
    );
    let (status, body) = log(vec![
        ("kind", "CALL".into()),
        ("subject", "Intro".into()),
        ("duration_minutes", "12".into()),
        ("outcome", "Interested".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["duration_minutes"], 12);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let next_week = (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    log(vec![
        ("kind", "TASK".into()),
        ("subject", "Send brochure".into()),
        ("due_at", yesterday),
    ])
    .await;
    let (_, later) = log(vec![
        ("kind", "TASK".into()),
        ("subject", "Site visit".into()),
        ("due_at", next_week),
    ])
    .await;
    for i in 0..40 {
        log(vec![("kind", "NOTE".into()), ("body", format!("note {i}"))]).await;
    }
    let mut bodies = Vec::new();
    let mut before = Value::Null;
    loop {
        let (status, page) = app
            .call_json::<GetTimeline>(
                &owner,
                &json!({ "entity": "Lead", "id": lead, "before": before }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().unwrap() {
            bodies.push(item["body"].as_str().unwrap_or("").to_string());
        }
        if page["next"].is_null() {
            break;
        }
        before = page["next"].clone();
    }
    assert_eq!(bodies.len(), 44, "created + call + 2 tasks + 40 notes");
    assert_eq!(bodies[0], "note 39", "newest first");

    let (_, tasks) = app.call::<GetMyTasks>(&owner, &[]).await;
    assert_eq!(tasks["tasks"][0]["subject"], "Send brochure", "by due time");
    assert_eq!(tasks["tasks"][1]["subject"], "Site visit");
    assert_eq!(tasks["tasks"][0]["about"]["name"], "Buyer");
    let (status, _) = app
        .call::<CompleteTask>(&owner, &[("task_id", later["id"].as_str().unwrap())])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, tasks) = app.call::<GetMyTasks>(&owner, &[]).await;
    assert_eq!(tasks["tasks"].as_array().unwrap().len(), 1, "{tasks}");
    let (status, _) = app
        .call::<CompleteTask>(&owner, &[("task_id", later["id"].as_str().unwrap())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a task is completed once");
}

#[tokio::test]
async fn bulk_actions_respect_roles_and_leave_an_audit_trail() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let a = created(&app, &rep, "CONTACT", &[("name", "A")]).await;
    let b = created(&app, &rep, "CONTACT", &[("name", "B")]).await;
    let theirs = created(&app, &owner, "CONTACT", &[("name", "Owner's")]).await;
    let bulk = |client: &reqwest::Client, ids: Vec<&str>, action: Value| {
        let body = json!({ "entity": "Contact", "ids": ids, "action": action });
        let client = client.clone();
        let app = &app;
        async move { app.call_json::<ApplyBulk>(&client, &body).await }
    };
    let (status, body) = bulk(&rep, vec![&a, &b], json!({ "Tag": "hot" })).await;
    assert_eq!((status, body.clone()), (StatusCode::OK, json!(2)));
    // One id the rep may not touch fails the whole action.
    let (status, _) = bulk(&rep, vec![&a, &theirs], json!({ "Tag": "x" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = bulk(&rep, vec![&a], json!("Delete")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, list_id) = app
        .call_json::<CreateList>(
            &owner,
            &json!({ "entity": "Contact", "name": "Investors", "smart": null }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list_id}");
    let (status, _) = bulk(&owner, vec![&a, &theirs], json!({ "AddToList": list_id })).await;
    assert_eq!(status, StatusCode::OK);
    let members = list(
        &app,
        &owner,
        "Contact",
        json!({ "list_id": list_id }),
        "Name",
        Value::Null,
    )
    .await;
    assert_eq!(names(&members), ["A", "Owner's"]);
    // Members leave a static list in bulk too, with a timeline entry each.
    let (status, body) = bulk(&owner, vec![&a], json!({ "RemoveFromList": list_id })).await;
    assert_eq!((status, body), (StatusCode::OK, json!(1)));
    let members = list(
        &app,
        &owner,
        "Contact",
        json!({ "list_id": list_id }),
        "Name",
        Value::Null,
    )
    .await;
    assert_eq!(names(&members), ["Owner's"]);
    let removed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM activities WHERE kind = 'LIST_REMOVE'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(removed, 1);

    // Its owner describes and colours it; the rep, who did not make it, may not.
    let list_id = list_id.as_str().unwrap().to_string();
    let edit = |client: &reqwest::Client, color: &'static str| {
        let (app, client, list_id) = (&app, client.clone(), list_id.clone());
        async move {
            app.call::<UpdateList>(
                &client,
                &[
                    ("id", list_id.as_str()),
                    ("name", "Investors 2027"),
                    ("description", "Met at Cityscape; want ROI above 8%"),
                    ("color", color),
                ],
            )
            .await
        }
    };
    let (status, body) = edit(&owner, "red").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("color"));
    assert_eq!(edit(&rep, "#0EA5E9").await.0, StatusCode::NOT_FOUND);
    let (status, body) = edit(&owner, "#0EA5E9").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, lists) = app
        .call_json::<GetLists>(&owner, &json!({ "entity": "Contact" }))
        .await;
    assert_eq!(lists[0]["name"], "Investors 2027");
    assert_eq!(
        lists[0]["description"],
        "Met at Cityscape; want ROI above 8%"
    );
    assert_eq!(lists[0]["color"], "#0ea5e9");
    assert_eq!(lists[0]["editable"], true);
    let (_, rep_lists) = app
        .call_json::<GetLists>(&rep, &json!({ "entity": "Contact" }))
        .await;
    assert_eq!(rep_lists[0]["editable"], false);

    let (status, body) = bulk(&owner, vec![&a, &b], json!("Delete")).await;
    assert_eq!((status, body), (StatusCode::OK, json!(2)));
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'bulk.deleted' AND jsonb_array_length(after->'ids') = 2")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let left = list(&app, &owner, "Contact", json!({}), "Name", Value::Null).await;
    assert_eq!(names(&left), ["Owner's"]);
}

#[tokio::test]
async fn smart_lists_re_evaluate_their_filter() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    created(
        &app,
        &owner,
        "LEAD",
        &[("name", "Cairo villa"), ("tags", "villa")],
    )
    .await;
    created(
        &app,
        &owner,
        "LEAD",
        &[("name", "Giza flat"), ("tags", "flat")],
    )
    .await;
    let (status, list_id) = app
        .call_json::<CreateList>(
            &owner,
            &json!({ "entity": "Lead", "name": "Villas", "smart": { "tag": "villa" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list_id}");
    let view = list(
        &app,
        &owner,
        "Lead",
        json!({ "list_id": list_id }),
        "Name",
        Value::Null,
    )
    .await;
    assert_eq!(names(&view), ["Cairo villa"]);
    created(
        &app,
        &owner,
        "LEAD",
        &[("name", "Alex villa"), ("tags", "villa")],
    )
    .await;
    let view = list(
        &app,
        &owner,
        "Lead",
        json!({ "list_id": list_id }),
        "Name",
        Value::Null,
    )
    .await;
    assert_eq!(names(&view), ["Alex villa", "Cairo villa"]);
    let (status, body) = app
        .call_json::<CreateList>(
            &owner,
            &json!({ "entity": "Lead", "name": "Villas", "smart": null }),
        )
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
}

#[tokio::test]
async fn another_tenants_records_do_not_exist() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let lead = created(&app, &bea, "LEAD", &[("name", "Bea's lead")]).await;
    let (status, _) = app
        .call_json::<GetRecord>(&ada, &json!({ "entity": "Lead", "id": lead }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call_json::<GetTimeline>(
            &ada,
            &json!({ "entity": "Lead", "id": lead, "before": null }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call::<LogActivity>(
            &ada,
            &[
                ("entity", "LEAD"),
                ("id", &lead),
                ("kind", "NOTE"),
                ("body", "hi"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = save(&app, &ada, "LEAD", &[("id", &lead), ("name", "Mine now")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call_json::<ApplyBulk>(
            &ada,
            &json!({ "entity": "Lead", "ids": [lead], "action": "Delete" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let page = list(&app, &ada, "Lead", json!({}), "Newest", Value::Null).await;
    assert!(names(&page).is_empty());
    let (_, hits) = app.call::<SearchRecords>(&ada, &[("q", "Bea")]).await;
    assert!(hits["hits"].as_array().unwrap().is_empty());
    let name: String = sqlx::query_scalar("SELECT name FROM leads")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(name, "Bea's lead");
}

#[tokio::test]
async fn custom_fields_are_defined_by_admins_and_validated_on_save() {
    use app::crm::records::api::AddCustomField;
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let field = |entity: &'static str,
                 key: &'static str,
                 kind: &'static str,
                 options: &'static str,
                 required: bool| {
        let mut form = vec![
            ("entity", entity),
            ("key", key),
            ("label", key),
            ("kind", kind),
            ("options", options),
        ];
        if required {
            form.push(("required", "on"));
        }
        form
    };
    let (status, _) = app
        .call::<AddCustomField>(&rep, &field("LEAD", "budget", "NUMBER", "", true))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call::<AddCustomField>(&owner, &field("LEAD", "Budget!", "NUMBER", "", true))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("key"))
    );
    let (status, body) = app
        .call::<AddCustomField>(&owner, &field("LEAD", "rooms", "SELECT", "", false))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("options"))
    );
    for form in [
        field("LEAD", "budget", "NUMBER", "", true),
        field("LEAD", "rooms", "SELECT", "1, 2, 3", false),
        field("LEAD", "visit", "DATE", "", false),
    ] {
        let (status, body) = app.call::<AddCustomField>(&owner, &form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .call::<AddCustomField>(&owner, &field("LEAD", "budget", "TEXT", "", false))
        .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("key"))
    );

    for (custom, bad) in [
        (vec![], "custom.budget"),
        (vec![("custom[budget]", "lots")], "custom.budget"),
        (
            vec![("custom[budget]", "5000000"), ("custom[rooms]", "9")],
            "custom.rooms",
        ),
        (
            vec![("custom[budget]", "5000000"), ("custom[visit]", "tomorrow")],
            "custom.visit",
        ),
        (
            vec![("custom[budget]", "1"), ("custom[colour]", "red")],
            "custom.colour",
        ),
    ] {
        let mut fields = vec![("name", "Buyer")];
        fields.extend(custom);
        let (status, body) = save(&app, &rep, "LEAD", &fields).await;
        assert_eq!(
            (status, error_field(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(bad)),
            "{body}"
        );
    }
    let id = created(
        &app,
        &rep,
        "LEAD",
        &[
            ("name", "Buyer"),
            ("custom[budget]", "5,000,000"),
            ("custom[rooms]", "3"),
        ],
    )
    .await;
    // An edit that sends one custom field keeps the others.
    let (status, body) = save(
        &app,
        &rep,
        "LEAD",
        &[("id", &id), ("custom[visit]", "2027-01-10")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, detail) = app
        .call_json::<GetRecord>(&rep, &json!({ "entity": "Lead", "id": id }))
        .await;
    let values: Vec<(String, String)> = detail["custom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0]["key"].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            ("budget", "5000000"),
            ("rooms", "3"),
            ("visit", "2027-01-10")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[tokio::test]
async fn deals_link_to_a_company_and_a_contact_both_ways() {
    use app::crm::board::api::{CreateDeal, GetBoard};
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (_, board) = app
        .call_json::<GetBoard>(&owner, &json!({ "pipeline_id": null, "filter": {} }))
        .await;
    let pipeline = board["pipeline"]["id"].as_str().unwrap().to_string();
    let (_, deal) = app
        .call::<CreateDeal>(
            &owner,
            &[
                ("pipeline_id", &pipeline),
                ("name", "Tower B"),
                ("amount", "10"),
                ("currency", "USD"),
                ("stage_id", ""),
                ("owner_id", ""),
                ("expected_close_on", ""),
            ],
        )
        .await;
    let deal = deal["id"].as_str().unwrap().to_string();
    let (status, body) = save(
        &app,
        &owner,
        "DEAL",
        &[("id", &deal), ("contact", "nobody@example.com")],
    )
    .await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("contact")),
        "{body}"
    );
    let contact = created(
        &app,
        &owner,
        "CONTACT",
        &[("name", "Mona Zaki"), ("email", "mona@example.com")],
    )
    .await;
    let (status, body) = save(
        &app,
        &owner,
        "DEAL",
        &[
            ("id", &deal),
            ("contact", "MONA@example.com"),
            ("company", "Nile Towers"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, detail) = app
        .call_json::<GetRecord>(&owner, &json!({ "entity": "Deal", "id": deal }))
        .await;
    assert_eq!(detail["row"]["company"]["name"], "Nile Towers");
    assert_eq!(detail["related"][0]["name"], "Mona Zaki");
    let (_, from_contact) = app
        .call_json::<GetRecord>(&owner, &json!({ "entity": "Contact", "id": contact }))
        .await;
    assert_eq!(from_contact["related"][0]["name"], "Tower B");
}

/// The user id behind an email, as the owner sees it.
pub(crate) async fn user_id(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_company_name_links_only_a_company_in_scope() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let theirs = created(&app, &owner, "COMPANY", &[("name", "Nile Towers")]).await;
    let first = created(
        &app,
        &sales,
        "CONTACT",
        &[("name", "Mona Zaki"), ("company", "Nile Towers")],
    )
    .await;
    let second = created(&app, &sales, "CONTACT", &[("name", "Omar Said")]).await;
    let (status, body) = save(
        &app,
        &sales,
        "CONTACT",
        &[("id", &second), ("company", "nile towers")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sam = user_id(&app, "sam@example.com").await;
    let linked: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "SELECT co.id, co.owner_id FROM contacts c JOIN companies co ON co.id = c.company_id
          WHERE c.id = ANY($1)",
    )
    .bind(vec![
        first.parse::<Uuid>().unwrap(),
        second.parse::<Uuid>().unwrap(),
    ])
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(linked.len(), 2);
    // Not Ada's company: one of Sam's own, made by the first save and found by the
    // second.
    assert!(
        linked
            .iter()
            .all(|(id, owner)| id.to_string() != theirs && *owner == Some(sam)),
        "{linked:?}"
    );
    assert_eq!(linked[0].0, linked[1].0);
}

#[tokio::test]
async fn a_manager_completes_only_the_tasks_of_their_team() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let manager = app
        .invite_and_join(&owner, "mo@example.com", "MANAGER")
        .await;
    app.invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    app.invite_and_join(&owner, "rita@example.com", "SALES")
        .await;
    let (ada, mo, sam, rita) = (
        user_id(&app, "ada@example.com").await,
        user_id(&app, "mo@example.com").await,
        user_id(&app, "sam@example.com").await,
        user_id(&app, "rita@example.com").await,
    );
    sqlx::query("UPDATE memberships SET manager_id = $1 WHERE user_id = $2")
        .bind(mo)
        .bind(sam)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let tenant = app.tenant_of("ada@example.com").await;
    // A task for Sam (Mo's report) and one for Rita (nobody's), both set by Ada.
    let mut tasks = Vec::new();
    for assignee in [sam, rita] {
        let lead = Uuid::now_v7();
        sqlx::query("INSERT INTO leads (tenant_id, id, name, owner_id) VALUES ($1, $2, 'L', $3)")
            .bind(tenant)
            .bind(lead)
            .bind(assignee)
            .execute(&app.pools.owner)
            .await
            .unwrap();
        let task = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO activities (tenant_id, id, kind, lead_id, actor_id, assignee_id, subject, due_at)
             VALUES ($1, $2, 'TASK', $3, $4, $5, 'Call', now())",
        )
        .bind(tenant)
        .bind(task)
        .bind(lead)
        .bind(ada)
        .bind(assignee)
        .execute(&app.pools.owner)
        .await
        .unwrap();
        tasks.push(task.to_string());
    }
    let (status, body) = app
        .call::<CompleteTask>(&manager, &[("task_id", &tasks[1])])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Rita is not Mo's: {body}");
    let (status, body) = app
        .call::<CompleteTask>(&manager, &[("task_id", &tasks[0])])
        .await;
    assert_eq!(status, StatusCode::OK, "Sam is Mo's: {body}");
    let (status, _) = app
        .call::<CompleteTask>(&owner, &[("task_id", &tasks[1])])
        .await;
    assert_eq!(status, StatusCode::OK, "an owner completes anyone's");
}
