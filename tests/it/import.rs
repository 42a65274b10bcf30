//! CSV import and export end to end: upload over HTTP, map, preview, start, run the job
//! runner, read the summary and the files back — against a real PostgreSQL.

use crate::common;

use app::crm::import::api::*;
use common::*;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

const BOM: &str = "\u{FEFF}";

pub(crate) async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    entity: &str,
    name: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let res = client
        .post(format!("{}/import/upload", app.base))
        .query(&[("entity", entity), ("name", name)])
        .header("sec-fetch-site", "same-origin")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Calls a server function that takes JSON, as the app's pages do.
async fn call_json<F: ServerFn>(
    app: &TestApp,
    client: &reqwest::Client,
    body: Value,
) -> (StatusCode, Value) {
    let res = client
        .post(format!("{}{}", app.base, F::PATH))
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(crate) fn plan(job_id: &Value, mapping: &Value, dedupe: &str) -> Value {
    json!({ "plan": { "job_id": job_id, "mapping": mapping, "dedupe": dedupe } })
}

/// Uploads `csv`, starts it with the first mapping and `dedupe`, runs the runner, and
/// returns the finished job.
async fn import(
    app: &TestApp,
    client: &reqwest::Client,
    entity: &str,
    csv: &str,
    dedupe: &str,
) -> Value {
    let (status, info) = upload(app, client, entity, "people.csv", csv.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let (status, id) =
        call_json::<StartImport>(app, client, plan(&info["job_id"], &info["mapping"], dedupe))
            .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    finish(app, client, id.as_str().unwrap()).await
}

async fn finish(app: &TestApp, client: &reqwest::Client, id: &str) -> Value {
    leadline::jobs::run_until_idle(&app.pools.app)
        .await
        .unwrap();
    let (status, job) = app.call::<JobStatus>(client, &[("id", id)]).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["state"], "Done", "{job}");
    job
}

async fn download(
    app: &TestApp,
    client: &reqwest::Client,
    id: &Value,
    name: &str,
) -> reqwest::Response {
    app.get(
        client,
        &format!("/jobs/{}/download/{name}", id.as_str().unwrap()),
    )
    .await
}

async fn set_region(app: &TestApp, email: &str, region: &str) {
    sqlx::query("UPDATE tenants SET phone_region = $2 WHERE id = $1")
        .bind(app.tenant_of(email).await)
        .bind(region)
        .execute(&app.pools.owner)
        .await
        .unwrap();
}

fn counts(job: &Value) -> [u64; 4] {
    let c = &job["counts"];
    ["created", "updated", "skipped", "failed"].map(|k| c[k].as_u64().unwrap())
}

#[tokio::test]
async fn a_file_with_bad_rows_imports_the_good_ones() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    set_region(&app, "ada@example.com", "EG").await;
    // Excel's "CSV UTF-8" in a comma-decimal locale: BOM, semicolons, CRLF, a cell
    // that spans two lines, Arabic.
    let csv = format!(
        "{BOM}Full Name;E-mail;Mobile;Company;Tags;Notes\r\n\
         محمد علي;mohamed@example.com;0100 123 4567;شركة النيل;vip, cairo;\"line one\r\nline two\"\r\n\
         Grace Hopper;grace@example.com;+1 415 555 2671;Analytical Engines;;\r\n\
         ;nobody@example.com;;;;missing name\r\n\
         Bad Email;not-an-email;;;;\r\n\
         Bad Phone;bp@example.com;12345;;;\r\n\
         سارة أحمد;sara@example.com;;شركة النيل;;\r\n"
    );
    let (status, info) = upload(&app, &owner, "CONTACT", "عملاء.csv", csv.clone()).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["rows"], 6);
    assert_eq!(info["delimiter"], ";");
    assert_eq!(info["file_name"], "عملاء.csv");
    assert_eq!(
        info["mapping"],
        json!(["Name", "Email", "Phone", "Company", "Tags", null]),
        "headers are recognised"
    );

    let (status, preview) = call_json::<PreviewImport>(
        &app,
        &owner,
        plan(&info["job_id"], &info["mapping"], "Skip"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let outcomes: Vec<&str> = preview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["Create", "Create", "Fail", "Fail", "Fail", "Create"]
    );
    assert_eq!(
        preview["rows"][0]["values"][2], "+201001234567",
        "{preview}"
    );
    assert_eq!(
        preview["rows"][1]["line"], 4,
        "the quoted newline took a line"
    );
    assert_eq!(
        preview["rows"][3]["values"][1], "not-an-email",
        "a failing row shows what the file says"
    );

    let (status, id) = call_json::<StartImport>(
        &app,
        &owner,
        plan(&info["job_id"], &info["mapping"], "Skip"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let (_, queued) = app
        .call::<JobStatus>(&owner, &[("id", id.as_str().unwrap())])
        .await;
    assert_eq!(queued["state"], "Queued");
    let job = finish(&app, &owner, id.as_str().unwrap()).await;
    assert_eq!(counts(&job), [3, 0, 0, 3], "{job}");
    assert_eq!(job["counts"]["companies_created"], 2);
    assert_eq!(job["processed"], 6);
    assert_eq!(job["has_errors_file"], true);

    let res = download(&app, &owner, &id, "errors").await;
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("%D8%B9%D9%85%D9%84%D8%A7%D8%A1-errors.csv"),
        "{disposition}"
    );
    let text = String::from_utf8(res.bytes().await.unwrap().to_vec()).unwrap();
    let text = text
        .strip_prefix(BOM)
        .expect("the error file starts with a BOM for Excel");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "Full Name;E-mail;Mobile;Company;Tags;Notes;Line;Error"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].starts_with(";nobody@example.com;"), "{}", lines[1]);
    assert!(lines[1].ends_with(";5;Name is required."), "{}", lines[1]);
    assert!(
        lines[2].contains(";6;") && lines[2].contains("not-an-email"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains(";7;") && lines[3].contains("12345"),
        "{}",
        lines[3]
    );

    let tenant = app.tenant_of("ada@example.com").await;
    let (name, phone, tags, company): (String, String, Vec<String>, String) = sqlx::query_as(
        "SELECT c.full_name, c.phone_e164, c.tags, co.name FROM contacts c
           JOIN companies co ON co.id = c.company_id
          WHERE c.tenant_id = $1 AND c.email = 'mohamed@example.com'",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        (name.as_str(), phone.as_str(), company.as_str()),
        ("محمد علي", "+201001234567", "شركة النيل")
    );
    assert_eq!(tags, vec!["vip", "cairo"]);
    let (companies, same_company, activities, audit): (i64, bool, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM companies WHERE tenant_id = $1),
                (SELECT count(DISTINCT company_id) = 1 FROM contacts
                  WHERE tenant_id = $1 AND email IN ('mohamed@example.com', 'sara@example.com')),
                (SELECT count(*) FROM activities WHERE tenant_id = $1 AND kind = 'IMPORTED'),
                (SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'import.started')",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(
        (companies, same_company, activities, audit),
        (2, true, 3, 1)
    );
    let owned_by_importer: bool = sqlx::query_scalar(
        "SELECT bool_and(c.owner_id = u.id) FROM contacts c, users u
          WHERE c.tenant_id = $1 AND u.email = 'ada@example.com'",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert!(owned_by_importer);
}

#[tokio::test]
async fn duplicates_are_skipped_updated_or_created() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let first = "name,email,phone,status,score,tags\n\
                 Lina,lina@example.com,+1 415 555 2671,NEW,10,a\n\
                 Omar,omar@example.com,,CONTACTED,20,\n";
    let job = import(&app, &owner, "LEAD", first, "Skip").await;
    assert_eq!(counts(&job), [2, 0, 0, 0]);

    // Lina again by email (any case), a new lead, and a row repeating the new lead.
    let second = "name,email,phone,status,score,tags\n\
                  Lina Haddad,LINA@example.com,,qualified,80,b\n\
                  Nour,nour@example.com,,,,\n\
                  Nour twice,nour@example.com,,,,\n";
    let job = import(&app, &owner, "LEAD", second, "Skip").await;
    assert_eq!(counts(&job), [1, 0, 2, 0], "{job}");

    let job = import(&app, &owner, "LEAD", second, "Update").await;
    assert_eq!(counts(&job), [0, 3, 0, 0], "{job}");
    let (name, status, score, phone, tags): (String, String, i32, Option<String>, Vec<String>) =
        sqlx::query_as(
            "SELECT name, status, score, phone_e164, tags FROM leads
              WHERE tenant_id = $1 AND email = 'lina@example.com'",
        )
        .bind(tenant)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(
        (name.as_str(), status.as_str(), score),
        ("Lina Haddad", "QUALIFIED", 80)
    );
    assert_eq!(
        phone.as_deref(),
        Some("+14155552671"),
        "an empty cell keeps the value"
    );
    assert_eq!(tags, vec!["a", "b"], "tags add up");
    let nour: String = sqlx::query_scalar(
        "SELECT name FROM leads WHERE tenant_id = $1 AND email = 'nour@example.com'",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(nour, "Nour twice", "the later row of the file wins");

    let job = import(&app, &owner, "LEAD", second, "Create").await;
    assert_eq!(counts(&job), [3, 0, 0, 0], "{job}");
    let leads: i64 = sqlx::query_scalar("SELECT count(*) FROM leads WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(leads, 6);

    // Contacts: the phone matches, the email is taken; "create anyway" stops at emails.
    let contacts = "name,email,phone\nAda,ada@example.com,+1 415 555 2671\n";
    assert_eq!(
        counts(&import(&app, &owner, "CONTACT", contacts, "Skip").await),
        [1, 0, 0, 0]
    );
    let again =
        "name,email,phone\nAda 2,ada@example.com,\nAda 3,ada3@example.com,+1 415 555 2671\n";
    let job = import(&app, &owner, "CONTACT", again, "Create").await;
    assert_eq!(counts(&job), [1, 0, 0, 1], "{job}");
    let text = download(&app, &owner, &job["id"], "errors")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("Another contact already has this email."),
        "{text}"
    );

    // Companies match on their website.
    let companies = "Company,Website\nNile Realty,https://www.nile.example/\n";
    assert_eq!(
        counts(&import(&app, &owner, "COMPANY", companies, "Skip").await),
        [1, 0, 0, 0]
    );
    let companies = "Company,Website\nNile Realty Group,nile.example\n";
    assert_eq!(
        counts(&import(&app, &owner, "COMPANY", companies, "Update").await),
        [0, 1, 0, 0]
    );
}

#[tokio::test]
async fn a_big_file_runs_in_batches() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let mut csv = String::from("name,email,phone\n");
    for i in 0..4_500 {
        // Every 1,000th row repeats an address of the first batch.
        let n = if i > 0 && i % 1_000 == 0 { 7 } else { i };
        csv.push_str(&format!(
            "Person {i},p{n}@example.com,+1 415 555 {:04}\n",
            i % 10_000
        ));
    }
    let job = import(&app, &owner, "CONTACT", &csv, "Skip").await;
    assert_eq!(job["total"], 4_500);
    assert_eq!(job["processed"], 4_500);
    assert_eq!(counts(&job), [4_496, 0, 4, 0], "{job}");
}

#[tokio::test]
async fn the_last_mapping_is_remembered_per_member() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let csv = "Identifier,Electronic Mail,Other\nAda,ada@example.com,x\n";
    let (_, info) = upload(&app, &owner, "CONTACT", "a.csv", csv).await;
    assert_eq!(info["mapping"], json!([null, null, null]));
    assert_eq!(info["remembered"], false);

    // Nothing holds the name yet: starting is refused next to the mapping.
    let (status, body) = call_json::<StartImport>(
        &app,
        &owner,
        plan(&info["job_id"], &info["mapping"], "Skip"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("mapping"));
    let (status, body) = call_json::<StartImport>(
        &app,
        &owner,
        plan(&info["job_id"], &json!(["Name", "Name", null]), "Skip"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_text(&body).contains("two columns"), "{body}");

    let mapping = json!(["Name", "Email", null]);
    let (status, _) =
        call_json::<StartImport>(&app, &owner, plan(&info["job_id"], &mapping, "Skip")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, again) = upload(&app, &owner, "CONTACT", "b.csv", csv).await;
    assert_eq!(again["mapping"], mapping);
    assert_eq!(again["remembered"], true);
    // Per kind of record, and per member.
    let (_, leads) = upload(&app, &owner, "LEAD", "c.csv", csv).await;
    assert_eq!(leads["mapping"], json!([null, null, null]));
    let colleague = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (_, theirs) = upload(&app, &colleague, "CONTACT", "d.csv", csv).await;
    assert_eq!(theirs["mapping"], json!([null, null, null]));
}

#[tokio::test]
async fn jobs_and_files_stay_with_their_tenant_and_member() {
    let app = TestApp::spawn().await;
    let a = app.signup("Ada", "ada@example.com", "Acme").await;
    let b = app.signup("Bea", "bea@example.com", "Beta").await;
    let job = import(
        &app,
        &a,
        "CONTACT",
        "name,email\nAda,ada@example.com\n,x@example.com\n",
        "Skip",
    )
    .await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        download(&app, &a, &job["id"], "errors").await.status(),
        StatusCode::OK
    );

    let (status, _) = app.call::<JobStatus>(&b, &[("id", id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        download(&app, &b, &job["id"], "errors").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        download(&app, &b, &job["id"], "input").await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, recent) = app.call::<RecentJobs>(&b, &[]).await;
    assert_eq!(recent, json!([]));

    // Another tenant's draft cannot be previewed or started either.
    let (_, draft) = upload(&app, &a, "CONTACT", "a.csv", "name\nAda\n").await;
    for result in [
        call_json::<PreviewImport>(&app, &b, plan(&draft["job_id"], &json!(["Name"]), "Skip"))
            .await,
        call_json::<StartImport>(&app, &b, plan(&draft["job_id"], &json!(["Name"]), "Skip")).await,
    ] {
        assert_eq!(result.0, StatusCode::NOT_FOUND, "{}", result.1);
    }

    // Inside the tenant: a SALES member sees their own jobs; admins see everyone's.
    let sales = app.invite_and_join(&a, "sam@example.com", "SALES").await;
    let (status, _) = app.call::<JobStatus>(&sales, &[("id", id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        download(&app, &sales, &job["id"], "errors").await.status(),
        StatusCode::NOT_FOUND
    );
    let theirs = import(&app, &sales, "CONTACT", "name\nSam's lead\n", "Skip").await;
    let (status, _) = app
        .call::<JobStatus>(&a, &[("id", theirs["id"].as_str().unwrap())])
        .await;
    assert_eq!(status, StatusCode::OK);

    // Signed out: the sign-in page, not the file.
    let res = download(&app, &app.client(), &job["id"], "errors").await;
    assert!(res.status().is_redirection(), "{}", res.status());
}

#[tokio::test]
async fn a_sales_export_holds_only_what_they_may_see() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let _other = app
        .invite_and_join(&owner, "rita@example.com", "SALES")
        .await;
    let csv = "Name,Email,Owner email,Tags\n\
               Mine One,m1@example.com,sam@example.com,hot\n\
               Mine Two,m2@example.com,SAM@example.com,\n\
               Rita's,r@example.com,rita@example.com,hot\n\
               Ada's,a@example.com,,\n\
               منى,mona@example.com,sam@example.com,\n";
    let job = import(&app, &owner, "CONTACT", csv, "Skip").await;
    assert_eq!(counts(&job), [5, 0, 0, 0], "{job}");
    let tenant = app.tenant_of("ada@example.com").await;
    sqlx::query("INSERT INTO contacts (tenant_id, id, full_name) VALUES ($1, $2, 'Nobody''s')")
        .bind(tenant)
        .bind(Uuid::now_v7())
        .execute(&app.pools.owner)
        .await
        .unwrap();

    let export = |client: reqwest::Client, filter: Value| {
        let app = &app;
        async move {
            let (status, id) = call_json::<StartExport>(
                app,
                &client,
                json!({ "entity": "Contact", "filter": filter }),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{id}");
            let job = finish(app, &client, id.as_str().unwrap()).await;
            let res = download(app, &client, &job["id"], "output").await;
            assert_eq!(res.status(), StatusCode::OK);
            assert!(res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"contacts-"));
            let text = res.text().await.unwrap();
            let text = text.strip_prefix(BOM).expect("exports start with a BOM");
            let mut names: Vec<String> = text
                .lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap().to_string())
                .collect();
            names.sort();
            (text.lines().next().unwrap().to_string(), names)
        }
    };
    let (header, names) = export(sales.clone(), json!({})).await;
    assert_eq!(
        header,
        "Name,Email,Phone,Job title,Company,Tags,Owner email,Created"
    );
    assert_eq!(names, ["Mine One", "Mine Two", "Nobody's", "منى"]);
    let (_, names) = export(sales.clone(), json!({ "tag": "hot" })).await;
    assert_eq!(names, ["Mine One"]);
    let (_, names) = export(sales.clone(), json!({ "q": "mine two" })).await;
    assert_eq!(names, ["Mine Two"]);
    let (_, names) = export(owner.clone(), json!({})).await;
    assert_eq!(names.len(), 6, "{names:?}");

    // Without unassigned records in their view, they are not in the export either.
    sqlx::query("UPDATE tenant_policies SET sales_see_unassigned = false WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let (_, names) = export(sales.clone(), json!({})).await;
    assert_eq!(names, ["Mine One", "Mine Two", "منى"]);
    let exports: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'export.started'",
    )
    .bind(tenant)
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(exports, 5);

    // A SALES member cannot hand records to a colleague through the owner column.
    let job = import(
        &app,
        &sales,
        "CONTACT",
        "Name,Owner email\nGift,rita@example.com\n",
        "Skip",
    )
    .await;
    assert_eq!(counts(&job), [0, 0, 0, 1]);
}

#[tokio::test]
async fn mistakes_get_a_reason_not_a_crash() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, err) = upload(&app, &owner, "CONTACT", "", Vec::new()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(error_text(&err).contains("Choose a CSV file"), "{err}");
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("CONTACT", Vec::new(), "file", "empty"),
        ("CONTACT", b"name,email\r\n".to_vec(), "file", "no rows"),
        ("CONTACT", b" \n\n".to_vec(), "file", "empty"),
        (
            "CONTACT",
            b"PK\x03\x04\x14\x00\x06\x00".to_vec(),
            "file",
            "Excel",
        ),
        (
            "CONTACT",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00".to_vec(),
            "file",
            "neither text nor a workbook",
        ),
        (
            "CONTACT",
            b"\xFF\xFEn\x00a".to_vec(),
            "file",
            "could not be read",
        ),
        ("DEAL", b"name\nBig deal\n".to_vec(), "entity", "contacts"),
        ("", b"name\nx\n".to_vec(), "entity", "contacts"),
    ];
    for (entity, body, field, words) in cases {
        let (status, err) = upload(&app, &owner, entity, "x.csv", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(error_field(&err), Some(field), "{err}");
        assert!(error_text(&err).contains(words), "{words}: {err}");
    }
    let huge = vec![b'a'; 33 * 1024 * 1024];
    let (status, err) = upload(&app, &owner, "CONTACT", "big.csv", huge).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(error_text(&err).contains("32 MB"), "{err}");

    let (status, _) = upload(&app, &app.client(), "CONTACT", "x.csv", "name\nx\n").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, err) =
        call_json::<StartExport>(&app, &owner, json!({ "entity": "Deal", "filter": {} })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let random = Uuid::now_v7().to_string();
    let (status, _) = app.call::<JobStatus>(&owner, &[("id", &random)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call::<JobStatus>(&owner, &[("id", "not-a-uuid")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app
        .get(&owner, &format!("/jobs/{random}/download/errors"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.get(&owner, "/jobs/nonsense/download/errors").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_job_of_a_member_who_left_fails_with_a_reason() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let (_, info) = upload(&app, &sales, "CONTACT", "a.csv", "name\nSam's lead\n").await;
    let (status, id) = call_json::<StartImport>(
        &app,
        &sales,
        plan(&info["job_id"], &info["mapping"], "Skip"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    sqlx::query("UPDATE memberships SET status = 'SUSPENDED' WHERE user_id = (SELECT id FROM users WHERE email = 'sam@example.com')")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    leadline::jobs::run_until_idle(&app.pools.app)
        .await
        .unwrap();
    let (_, job) = app
        .call::<JobStatus>(&owner, &[("id", id.as_str().unwrap())])
        .await;
    assert_eq!(job["state"], "Failed", "{job}");
    assert!(
        error_text(&job["error"]).contains("no longer active"),
        "{job}"
    );
}

#[tokio::test]
async fn a_match_out_of_scope_is_not_revealed_or_linked() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    // Ada's lead and company, and later a lead of Sam's with Ada's lead's email.
    let job = import(
        &app,
        &owner,
        "LEAD",
        "Name,Email,Company\nAda's lead,shared@example.com,Ada Co\n",
        "Skip",
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 0], "{job}");
    let job = import(
        &app,
        &owner,
        "CONTACT",
        "Name,Email\nAda's contact,taken@example.com\n",
        "Skip",
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 0], "{job}");

    // Sam's "skip duplicates" neither skips nor names Ada's lead: his row is created,
    // as saving it by hand would, and his company is his own.
    let job = import(
        &app,
        &sales,
        "LEAD",
        "Name,Email,Company\nSam's lead,shared@example.com,Ada Co\n",
        "Skip",
    )
    .await;
    assert_eq!(counts(&job), [1, 0, 0, 0], "{job}");
    assert_eq!(job["counts"]["companies_created"], 1, "{job}");
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT u.email::text FROM companies c JOIN users u ON u.id = c.owner_id ORDER BY 1",
    )
    .fetch_all(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(owners, ["ada@example.com", "sam@example.com"]);

    // Updating: Sam's own lead wins over Ada's older one with the same email.
    let job = import(
        &app,
        &sales,
        "LEAD",
        "Name,Email,Source\nSam's lead,shared@example.com,Fair\n",
        "Update",
    )
    .await;
    assert_eq!(counts(&job), [0, 1, 0, 0], "{job}");
    let sources: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT name, source FROM leads ORDER BY created_at")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        sources,
        [
            ("Ada's lead".to_string(), None),
            ("Sam's lead".to_string(), Some("Fair".to_string()))
        ]
    );

    // A contact's email is unique: the row fails as a hand-made save would, saying
    // nothing of whose contact has it.
    let (status, info) = upload(
        &app,
        &sales,
        "CONTACT",
        "c.csv",
        "Name,Email\nCopy,taken@example.com\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    for dedupe in ["Skip", "Update"] {
        let (status, preview) = call_json::<PreviewImport>(
            &app,
            &sales,
            plan(&info["job_id"], &info["mapping"], dedupe),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{preview}");
        let row = &preview["rows"][0];
        assert_eq!(row["outcome"], "Fail", "{dedupe}: {preview}");
        assert_eq!(
            row["reason"], "Another contact already has this email.",
            "{dedupe}: {preview}"
        );
    }
}

#[tokio::test]
async fn waiting_uploads_share_a_budget_and_are_swept_after_a_day() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let small = "name,email\nAda,ada@example.com\n";
    let (status, body) = upload(&app, &owner, "CONTACT", "a.csv", small).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A draft as large as the whole budget, left waiting by someone.
    let budget = app::crm::import::ssr::MAX_DRAFT_BYTES as i32;
    sqlx::query(
        "WITH j AS (INSERT INTO jobs (tenant_id, id, kind, entity, status, created_by)
                    SELECT $1, gen_random_uuid(), 'IMPORT', 'CONTACT', 'DRAFT', user_id
                      FROM memberships WHERE tenant_id = $1 RETURNING id)
         INSERT INTO job_files (tenant_id, job_id, name, content)
         SELECT $1, id, 'input', decode(repeat('41', $2), 'hex') FROM j",
    )
    .bind(tenant)
    .bind(budget)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let (status, body) = upload(&app, &owner, "CONTACT", "b.csv", small).await;
    assert_eq!(
        (status, error_field(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("file")),
        "{body}"
    );
    assert!(body.to_string().contains("64 MB"), "{body}");
    // A day later the worker's sweep (here called directly, as the runtime role)
    // clears waiting files of every tenant, and the budget is free again.
    sqlx::query("UPDATE jobs SET created_at = now() - interval '25 hours' WHERE status = 'DRAFT'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let swept: i64 = sqlx::query_scalar("SELECT sweep_import_drafts()")
        .fetch_one(&app.pools.app)
        .await
        .unwrap();
    assert_eq!(swept, 2);
    let (status, body) = upload(&app, &owner, "CONTACT", "c.csv", small).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_long_job_keeps_its_lease_and_is_not_run_twice() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, id) =
        call_json::<StartExport>(&app, &owner, json!({ "entity": "Contact", "filter": {} })).await;
    assert_eq!(status, StatusCode::OK, "{id}");
    // The export's read waits behind this lock: a job that runs as long as we like.
    let mut blocker = app.pools.owner.begin().await.unwrap();
    sqlx::query("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let pool = app.pools.app.clone();
    let runner = tokio::spawn(async move { leadline::jobs::run_once(&pool).await });
    let running = "SELECT count(*) FROM jobs WHERE status = 'RUNNING'";
    for _ in 0..100 {
        let n: i64 = sqlx::query_scalar(running)
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
        if n == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Its lease looks eleven minutes old, as after a long run...
    sqlx::query("UPDATE jobs SET locked_at = now() - interval '11 minutes'")
        .execute(&app.pools.owner)
        .await
        .unwrap();
    tokio::time::sleep(leadline::jobs::RENEW_EVERY + std::time::Duration::from_secs(2)).await;
    // ...but the runner still at it has renewed it: no other runner takes it over.
    let fresh: bool =
        sqlx::query_scalar("SELECT locked_at > now() - interval '1 minute' FROM jobs")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert!(fresh, "the lease was renewed");
    let taken: Option<(Uuid, Uuid)> = sqlx::query_as("SELECT tenant_id, id FROM claim_job()")
        .fetch_optional(&app.pools.app)
        .await
        .unwrap();
    assert_eq!(taken, None, "a running job is not claimed twice");
    blocker.rollback().await.unwrap();
    assert!(runner.await.unwrap().unwrap().is_some());
    let done: String = sqlx::query_scalar("SELECT status FROM jobs")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(done, "DONE");
}

#[tokio::test]
async fn a_tenant_with_a_job_running_waits_behind_tenants_with_none() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let start = |client: &reqwest::Client| {
        let client = client.clone();
        let app = &app;
        async move {
            let (status, id) = call_json::<StartExport>(
                app,
                &client,
                json!({ "entity": "Contact", "filter": {} }),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{id}");
            Uuid::parse_str(id.as_str().unwrap()).unwrap()
        }
    };
    // Acme: one export running, one queued first; Beta: one queued after it.
    let running = start(&ada).await;
    let acme_next = start(&ada).await;
    let beta = start(&bea).await;
    sqlx::query("UPDATE jobs SET status = 'RUNNING', locked_at = now() WHERE id = $1")
        .bind(running)
        .execute(&app.pools.owner)
        .await
        .unwrap();
    let claim = || async {
        sqlx::query_scalar::<_, Uuid>("SELECT id FROM claim_job()")
            .fetch_one(&app.pools.app)
            .await
            .unwrap()
    };
    assert_eq!(claim().await, beta, "Beta's job goes before Acme's second");
    assert_eq!(claim().await, acme_next);
}

#[tokio::test]
async fn a_large_export_is_written_and_downloaded_in_parts() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    // 12,001 contacts: three parts of 5,000 rows, the last one short.
    sqlx::query(
        "INSERT INTO contacts (tenant_id, id, full_name, email, created_at)
         SELECT $1, gen_random_uuid(), 'Contact ' || i, 'c' || i || '@example.com',
                now() - make_interval(secs => 20000 - i)
           FROM generate_series(1, 12001) i",
    )
    .bind(tenant)
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let (status, id) =
        call_json::<StartExport>(&app, &owner, json!({ "entity": "Contact", "filter": {} })).await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let job = finish(&app, &owner, id.as_str().unwrap()).await;
    assert_eq!(job["processed"], 12001, "{job}");
    let parts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM job_files WHERE job_id = $1::uuid AND name = 'output'",
    )
    .bind(job["id"].as_str().unwrap())
    .fetch_one(&app.pools.owner)
    .await
    .unwrap();
    assert_eq!(parts, 3);
    let res = download(&app, &owner, &job["id"], "output").await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let text = text.strip_prefix(BOM).expect("one BOM, at the start");
    assert!(!text.contains(BOM), "a BOM inside the file");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12002, "a header and every row");
    assert!(lines[0].starts_with("Name,"), "{}", lines[0]);
    assert_eq!(lines.iter().filter(|l| l.starts_with("Name,")).count(), 1);
    // Oldest first, each row once, across the part boundaries.
    assert!(lines[1].starts_with("Contact 1,"), "{}", lines[1]);
    assert!(lines[5000].starts_with("Contact 5000,"), "{}", lines[5000]);
    assert!(lines[5001].starts_with("Contact 5001,"), "{}", lines[5001]);
    assert!(
        lines[12001].starts_with("Contact 12001,"),
        "{}",
        lines[12001]
    );
    let distinct: std::collections::HashSet<&&str> = lines.iter().collect();
    assert_eq!(distinct.len(), 12002);
}

#[tokio::test]
async fn a_csv_saved_by_excel_on_arabic_windows_imports_as_arabic() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    // What "Save as CSV" gives on a Windows set to Arabic: Windows-1256, no BOM.
    let csv = "الاسم,البريد الإلكتروني,المدينة\r\n\
               محمد علي,m.ali@example.com,القاهرة\r\n\
               سارة أحمد,sara@example.com,الإسكندرية\r\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(csv);
    assert!(!unmappable);
    let bytes = bytes.into_owned();
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
    let (status, info) = upload(&app, &owner, "CONTACT", "عملاء.csv", bytes).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(
        info["headers"],
        json!(["الاسم", "البريد الإلكتروني", "المدينة"])
    );
    let (status, id) = call_json::<StartImport>(
        &app,
        &owner,
        plan(&info["job_id"], &info["mapping"], "Skip"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let job = finish(&app, &owner, id.as_str().unwrap()).await;
    assert_eq!(counts(&job), [2, 0, 0, 0], "{job}");
    let names: Vec<String> =
        sqlx::query_scalar("SELECT full_name FROM contacts ORDER BY full_name")
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(names, ["سارة أحمد", "محمد علي"]);
}

#[tokio::test]
async fn a_member_cancels_a_waiting_or_running_job_and_nobody_else_can() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let sales = app
        .invite_and_join(&owner, "sam@example.com", "SALES")
        .await;
    let export = |client: reqwest::Client| {
        let app = &app;
        async move {
            let (status, id) = call_json::<StartExport>(
                app,
                &client,
                json!({ "entity": "Contact", "filter": {} }),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{id}");
            id.as_str().unwrap().to_string()
        }
    };
    let state = |id: String| {
        let pool = app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM jobs WHERE id = $1::uuid")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // Waiting: cancelled before any runner takes it, and no runner does afterwards.
    let waiting = export(owner.clone()).await;
    let (status, body) = app.call::<CancelJob>(&sales, &[("id", &waiting)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not theirs: {body}");
    let (status, view) = app.call::<CancelJob>(&owner, &[("id", &waiting)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["state"], "Cancelled");
    assert_eq!(
        leadline::jobs::run_until_idle(&app.pools.app)
            .await
            .unwrap(),
        0
    );
    assert_eq!(state(waiting.clone()).await, "CANCELLED");
    let (status, body) = app.call::<CancelJob>(&owner, &[("id", &waiting)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_text(&body).contains("already finished"), "{body}");

    // Running: the export waits behind a lock on its table while it is cancelled, and
    // stops without leaving a file.
    let running = export(owner.clone()).await;
    let mut blocker = app.pools.owner.begin().await.unwrap();
    sqlx::query("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let pool = app.pools.app.clone();
    let runner = tokio::spawn(async move { leadline::jobs::run_once(&pool).await });
    for _ in 0..100 {
        if state(running.clone()).await == "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state(running.clone()).await, "RUNNING");
    let (status, view) = app.call::<CancelJob>(&owner, &[("id", &running)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    blocker.rollback().await.unwrap();
    runner.await.unwrap().unwrap();
    assert_eq!(state(running.clone()).await, "CANCELLED");
    let files: i64 = sqlx::query_scalar("SELECT count(*) FROM job_files WHERE job_id = $1::uuid")
        .bind(&running)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(files, 0);
    let cancelled: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'job.cancelled'")
            .fetch_one(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(cancelled, 2);
}

#[tokio::test]
async fn a_failed_import_is_tried_again_and_resumes() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, info) = upload(
        &app,
        &owner,
        "CONTACT",
        "people.csv",
        "Name,Email\nOne,one@example.com\nTwo,two@example.com\n".to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let (status, id) = call_json::<StartImport>(
        &app,
        &owner,
        plan(&info["job_id"], &info["mapping"], "Skip"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let id = id.as_str().unwrap().to_string();
    // Not failed yet: nothing to retry.
    let (status, body) = app.call::<RetryJob>(&owner, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // As if a runner had failed it (the database went away, say).
    sqlx::query(
        "UPDATE jobs SET status = 'FAILED', error = 'lost the database', finished_at = now()",
    )
    .execute(&app.pools.owner)
    .await
    .unwrap();
    let (status, view) = app.call::<RetryJob>(&owner, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["state"], "Queued");
    assert_eq!(view["error"], Value::Null);
    let job = finish(&app, &owner, &id).await;
    assert_eq!(counts(&job), [2, 0, 0, 0], "{job}");
}
