//! Duplicates: found by normalised email, phone and name; merged field by field with
//! everything that points at them; undone within 30 days, exactly.

use crate::common::*;
use app::crm::merge::{
    GetDuplicatePairs, GetDuplicates, GetMergePreview, GetMergedInto, MergeRecords, UndoMerge,
};
use app::crm::model::Entity;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

/// Runs a script of several statements with `$n` standing for the n-th id (the ids
/// are the test's own, so writing them in is safe).
async fn exec(pool: &PgPool, sql: &str, ids: &[Uuid]) {
    let mut script = sql.to_string();
    for (n, id) in ids.iter().enumerate().rev() {
        script = script.replace(&format!("${}", n + 1), &format!("'{id}'::uuid"));
    }
    sqlx::raw_sql(&script).execute(pool).await.unwrap();
}

async fn one<T>(pool: &PgPool, sql: &str, id: Uuid) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Name, email, phone, company, title, tags and custom fields.
type ContactFacts = (
    String,
    String,
    Option<String>,
    Option<Uuid>,
    Option<String>,
    Vec<String>,
    Value,
);

#[tokio::test]
async fn two_contacts_merge_with_all_that_points_at_them_and_the_merge_undoes_exactly() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let db = &app.pools.owner;
    let [kept, other, stranger, company, deal, note, lead, both_list, other_list] =
        [(); 9].map(|_| Uuid::now_v7());
    exec(
        db,
        "INSERT INTO companies (tenant_id, id, name) VALUES ($1, $5, 'Nile Towers');
         INSERT INTO contacts (tenant_id, id, full_name, email, tags, custom)
              VALUES ($1, $2, 'Maria Santos', 'maria.santos@gmail.com', '{vip}', '{\"a\": \"1\"}');
         INSERT INTO contacts (tenant_id, id, full_name, email, phone_e164, title, company_id, tags, custom)
              VALUES ($1, $3, 'Maria Santo', 'M.aria.Santos+work@gmail.com', '+201001234567', 'Buyer', $5,
                      '{investor,vip}', '{\"a\": \"9\", \"b\": \"2\"}');
         INSERT INTO contacts (tenant_id, id, full_name) VALUES ($1, $4, 'Omar Farouk')",
        &[tenant, kept, other, stranger, company],
    )
    .await;
    let pipeline: (Uuid, Uuid) = sqlx::query_as(
        "SELECT pipeline_id, id FROM stages WHERE tenant_id = $1 AND kind = 'OPEN' LIMIT 1",
    )
    .bind(tenant)
    .fetch_one(db)
    .await
    .unwrap();
    exec(
        db,
        "INSERT INTO deals (tenant_id, id, pipeline_id, stage_id, name, contact_id, position)
              VALUES ($1, $2, $3, $4, 'Penthouse', $5, 0);
         INSERT INTO activities (tenant_id, id, kind, contact_id, body) VALUES ($1, $6, 'NOTE', $5, 'Called her');
         INSERT INTO leads (tenant_id, id, name, contact_id) VALUES ($1, $7, 'Maria — 2 flats', $5);
         INSERT INTO lists (tenant_id, id, name, entity, kind) VALUES ($1, $8, 'VIP', 'CONTACT', 'STATIC'),
                                                                      ($1, $9, 'Cairo', 'CONTACT', 'STATIC');
         INSERT INTO list_members (tenant_id, list_id, record_id) VALUES ($1, $8, $5), ($1, $8, $10), ($1, $9, $5)",
        &[
            tenant, deal, pipeline.0, pipeline.1, other, note, lead, both_list, other_list, kept,
        ],
    )
    .await;

    // The other Maria is found (the same Gmail address once normalised, a name alike);
    // Omar is not.
    let (status, found) = app
        .call_json::<GetDuplicates>(&ada, &json!({ "entity": Entity::Contact, "id": kept }))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let candidates = found["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{found}");
    assert_eq!(candidates[0]["id"], json!(other));
    assert_eq!(candidates[0]["reasons"], json!(["email", "name"]));

    let (status, preview) = app
        .call_json::<GetMergePreview>(
            &ada,
            &json!({ "entity": Entity::Contact, "kept_id": kept, "other_id": other }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let company_field = preview["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "company")
        .unwrap();
    assert_eq!(
        (
            company_field["kept"].as_str(),
            company_field["other"].as_str()
        ),
        (Some(""), Some("Nile Towers"))
    );
    assert_eq!(preview["moves"], json!(3), "a deal, a note and a lead");

    // Keep this Maria, with the other's address and number.
    let (status, merge) = app
        .call_json::<MergeRecords>(
            &ada,
            &json!({ "entity": Entity::Contact, "kept_id": kept, "other_id": other,
                     "take": ["email", "phone", "company"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merge}");
    let merge_id: Uuid = serde_json::from_value(merge).unwrap();
    let gone: i64 = one(db, "SELECT count(*) FROM contacts WHERE id = $1", other).await;
    assert_eq!(gone, 0);
    let row: ContactFacts =
        sqlx::query_as(
            "SELECT full_name, email::text, phone_e164, company_id, title, tags, custom FROM contacts WHERE id = $1",
        )
        .bind(kept)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(
        row,
        (
            "Maria Santos".into(),
            "M.aria.Santos+work@gmail.com".into(),
            Some("+201001234567".into()),
            Some(company),
            None,
            vec!["vip".into(), "investor".into()],
            json!({ "a": "1", "b": "2" })
        )
    );
    for (sql, id) in [
        ("SELECT contact_id FROM deals WHERE id = $1", deal),
        ("SELECT contact_id FROM activities WHERE id = $1", note),
        ("SELECT contact_id FROM leads WHERE id = $1", lead),
    ] {
        let now: Option<Uuid> = one(db, sql, id).await;
        assert_eq!(now, Some(kept), "{sql}");
    }
    let members = |list: Uuid| async move {
        let mut m: Vec<Uuid> =
            sqlx::query_scalar("SELECT record_id FROM list_members WHERE list_id = $1")
                .bind(list)
                .fetch_all(db)
                .await
                .unwrap();
        m.sort();
        m
    };
    assert_eq!(members(both_list).await, vec![kept]);
    assert_eq!(members(other_list).await, vec![kept]);
    let (_, into) = app
        .call_json::<GetMergedInto>(&ada, &json!({ "entity": Entity::Contact, "id": other }))
        .await;
    assert_eq!(into["id"], json!(kept), "{into}");
    let logged: i64 = one(
        db,
        "SELECT count(*) FROM activities WHERE contact_id = $1 AND kind = 'MERGED'",
        kept,
    )
    .await;
    assert_eq!(logged, 1);
    let audited: i64 = one(
        db,
        "SELECT count(*) FROM audit_logs WHERE action = 'contact.merged' AND entity_id = $1",
        kept,
    )
    .await;
    assert_eq!(audited, 1);

    // Work done on the kept record after the merge survives the undo.
    let later = Uuid::now_v7();
    exec(
        db,
        "INSERT INTO activities (tenant_id, id, kind, contact_id, body) VALUES ($1, $2, 'NOTE', $3, 'Met her');
         UPDATE contacts SET title = 'Director' WHERE id = $3",
        &[tenant, later, kept],
    )
    .await;
    // Meanwhile someone gave the kept contact's old address to a new contact: the undo
    // says so instead of failing, and works once that is sorted out.
    let squatter = Uuid::now_v7();
    exec(
        db,
        "INSERT INTO contacts (tenant_id, id, full_name, email) VALUES ($1, $2, 'Other Maria', 'maria.santos@gmail.com')",
        &[tenant, squatter],
    )
    .await;
    let (status, body) = app
        .call_json::<UndoMerge>(&ada, &json!({ "merge_id": merge_id }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    exec(db, "DELETE FROM contacts WHERE id = $1", &[squatter]).await;
    let (status, back) = app
        .call_json::<UndoMerge>(&ada, &json!({ "merge_id": merge_id }))
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back, json!(format!("/contacts/{other}")));
    let restored: (String, String, Option<String>, Option<Uuid>, Vec<String>) = sqlx::query_as(
        "SELECT full_name, email::text, phone_e164, company_id, tags FROM contacts WHERE id = $1",
    )
    .bind(other)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(
        restored,
        (
            "Maria Santo".into(),
            "M.aria.Santos+work@gmail.com".into(),
            Some("+201001234567".into()),
            Some(company),
            vec!["investor".into(), "vip".into()]
        )
    );
    let kept_now: (String, Option<String>, Option<Uuid>, Option<String>, Vec<String>, Value) =
        sqlx::query_as(
            "SELECT email::text, phone_e164, company_id, title, tags, custom FROM contacts WHERE id = $1",
        )
        .bind(kept)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(
        kept_now,
        (
            "maria.santos@gmail.com".into(),
            None,
            None,
            Some("Director".into()),
            vec!["vip".into()],
            json!({ "a": "1" })
        )
    );
    for (sql, id, owner) in [
        ("SELECT contact_id FROM deals WHERE id = $1", deal, other),
        (
            "SELECT contact_id FROM activities WHERE id = $1",
            note,
            other,
        ),
        ("SELECT contact_id FROM leads WHERE id = $1", lead, other),
        (
            "SELECT contact_id FROM activities WHERE id = $1",
            later,
            kept,
        ),
    ] {
        let now: Option<Uuid> = one(db, sql, id).await;
        assert_eq!(now, Some(owner), "{sql}");
    }
    let mut both = vec![kept, other];
    both.sort();
    assert_eq!(members(both_list).await, both);
    assert_eq!(members(other_list).await, vec![other]);
    let (_, into) = app
        .call_json::<GetMergedInto>(&ada, &json!({ "entity": Entity::Contact, "id": other }))
        .await;
    assert_eq!(into, Value::Null);

    // Once only, and within 30 days.
    let (status, _) = app
        .call_json::<UndoMerge>(&ada, &json!({ "merge_id": merge_id }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, again) = app
        .call_json::<MergeRecords>(
            &ada,
            &json!({ "entity": Entity::Contact, "kept_id": kept, "other_id": other }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let again: Uuid = serde_json::from_value(again).unwrap();
    exec(
        db,
        "UPDATE record_merges SET created_at = now() - interval '31 days' WHERE id = $1",
        &[again],
    )
    .await;
    let (status, body) = app
        .call_json::<UndoMerge>(&ada, &json!({ "merge_id": again }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn merging_is_refused_across_workspaces_out_of_scope_and_with_itself() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bob = app.signup("Bob", "bob@example.com", "Other").await;
    let rep = app.invite_and_join(&ada, "sam@example.com", "SALES").await;
    let (acme, other_ws) = (
        app.tenant_of("ada@example.com").await,
        app.tenant_of("bob@example.com").await,
    );
    let db = &app.pools.owner;
    let [a1, a2, b1] = [(); 3].map(|_| Uuid::now_v7());
    exec(
        db,
        "INSERT INTO contacts (tenant_id, id, full_name, phone_e164, owner_id)
              VALUES ($1, $3, 'Karim Adel', '+201112223334', (SELECT id FROM users WHERE email = 'ada@example.com')),
                     ($1, $4, 'Karim Adel', '+201112223334', (SELECT id FROM users WHERE email = 'ada@example.com'));
         INSERT INTO contacts (tenant_id, id, full_name, phone_e164) VALUES ($2, $5, 'Karim Adel', '+201112223334')",
        &[acme, other_ws, a1, a2, b1],
    )
    .await;
    let merge = |who: &reqwest::Client, kept: Uuid, other: Uuid, take: Value| {
        let body =
            json!({ "entity": Entity::Contact, "kept_id": kept, "other_id": other, "take": take });
        let app = &app;
        let who = who.clone();
        async move { app.call_json::<MergeRecords>(&who, &body).await }
    };
    // Another workspace's twin is neither found nor mergeable.
    let (_, found) = app
        .call_json::<GetDuplicates>(&ada, &json!({ "entity": Entity::Contact, "id": a1 }))
        .await;
    let ids: Vec<&Value> = found["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&json!(a2)], "{found}");
    // The workspace's pairs: Ada's two Karims, for Ada only.
    let pairs = |who: &reqwest::Client| {
        let app = &app;
        let who = who.clone();
        async move {
            let (status, body) = app
                .call_json::<GetDuplicatePairs>(&who, &json!({ "entity": Entity::Contact }))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let ada_pairs = pairs(&ada).await;
    assert_eq!(ada_pairs.as_array().unwrap().len(), 1, "{ada_pairs}");
    assert_eq!(ada_pairs[0]["first"]["id"], json!(a1.min(a2)));
    assert_eq!(ada_pairs[0]["first"]["reasons"], json!(["phone", "name"]));
    assert_eq!(pairs(&bob).await, json!([]));
    assert_eq!(pairs(&rep).await, json!([]));
    assert_eq!(
        merge(&ada, a1, b1, json!([])).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        merge(&bob, b1, a1, json!([])).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .call_json::<GetDuplicates>(&bob, &json!({ "entity": Entity::Contact, "id": a1 }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A rep does not see Ada's contacts, so cannot merge them.
    assert_eq!(
        merge(&rep, a1, a2, json!([])).await.0,
        StatusCode::NOT_FOUND
    );
    // Nonsense is refused by field.
    let (status, body) = merge(&ada, a1, a1, json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = merge(&ada, a1, a2, json!(["tenant_id"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Deals cannot be merged here.
    let (status, _) = app
        .call_json::<MergeRecords>(
            &ada,
            &json!({ "entity": Entity::Deal, "kept_id": a1, "other_id": a2 }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Ada's merge cannot be undone from the other workspace.
    let (status, merged) = merge(&ada, a1, a2, json!([])).await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let (status, _) = app
        .call_json::<UndoMerge>(&bob, &json!({ "merge_id": merged }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let still: i64 = one(db, "SELECT count(*) FROM contacts WHERE id = $1", a2).await;
    assert_eq!(still, 0);
}

#[tokio::test]
async fn two_leads_merge_with_messages_journey_and_enrolment_and_undo() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let db = &app.pools.owner;
    let [kept, other, message, sequence, enrolment, third, third_enrolment] =
        [(); 7].map(|_| Uuid::now_v7());
    exec(
        db,
        "INSERT INTO leads (tenant_id, id, name, phone_e164, score)
              VALUES ($1, $2, 'Hassan Ali', '+966501234567', 10),
                     ($1, $3, 'H. Ali', '+966501234567', 70),
                     ($1, $8, 'Hassan Aly', NULL, 0);
         INSERT INTO lead_journeys (tenant_id, lead_id, state) VALUES ($1, $3, 'WARM_REPLY');
         INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, to_address, body, idempotency_key)
              VALUES ($1, $4, $3, 'WHATSAPP', 'IN', 'RECEIVED', '+15550001', 'Is it still available?', 'in-1');
         INSERT INTO sequences (tenant_id, id, name) VALUES ($1, $5, 'Launch');
         INSERT INTO enrollments (tenant_id, id, sequence_id, lead_id, status) VALUES ($1, $6, $5, $3, 'PAUSED'),
                                                                               ($1, $7, $5, $8, 'PAUSED')",
        &[tenant, kept, other, message, sequence, enrolment, third_enrolment, third],
    )
    .await;
    let (status, found) = app
        .call_json::<GetDuplicates>(&ada, &json!({ "entity": Entity::Lead, "id": kept }))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["candidates"][0]["id"], json!(other), "{found}");
    assert_eq!(
        found["candidates"][0]["reasons"],
        json!(["phone"]),
        "{found}"
    );

    let (status, merged) = app
        .call_json::<MergeRecords>(
            &ada,
            &json!({ "entity": Entity::Lead, "kept_id": kept, "other_id": other, "take": ["score"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let score: i32 = one(db, "SELECT score FROM leads WHERE id = $1", kept).await;
    assert_eq!(score, 70);
    for sql in [
        "SELECT lead_id FROM messages WHERE id = $1",
        "SELECT lead_id FROM enrollments WHERE id = $1",
    ] {
        let id = if sql.contains("messages") {
            message
        } else {
            enrolment
        };
        let now: Uuid = one(db, sql, id).await;
        assert_eq!(now, kept, "{sql}");
    }
    let journey: String = one(
        db,
        "SELECT state FROM lead_journeys WHERE lead_id = $1",
        kept,
    )
    .await;
    assert_eq!(journey, "WARM_REPLY", "the only journey moved over");

    // The kept lead now runs a sequence, and so does the third: merging them would
    // leave one lead in two sequences.
    let (status, body) = app
        .call_json::<MergeRecords>(
            &ada,
            &json!({ "entity": Entity::Lead, "kept_id": kept, "other_id": third }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, _) = app
        .call_json::<UndoMerge>(&ada, &json!({ "merge_id": merged }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (score, status_now): (i32, String) =
        sqlx::query_as("SELECT score, status FROM leads WHERE id = $1")
            .bind(other)
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!((score, status_now.as_str()), (70, "NEW"));
    let kept_score: i32 = one(db, "SELECT score FROM leads WHERE id = $1", kept).await;
    assert_eq!(kept_score, 10);
    let msg_lead: Uuid = one(db, "SELECT lead_id FROM messages WHERE id = $1", message).await;
    assert_eq!(msg_lead, other);
    let journeys: Vec<Uuid> =
        sqlx::query_scalar("SELECT lead_id FROM lead_journeys WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(db)
            .await
            .unwrap();
    assert_eq!(journeys, vec![other]);
}

/// Every foreign key to a contact or a lead is one a merge moves: a table added later
/// that points at them must be handled by the merge, or its rows would be deleted with
/// the merged record.
#[tokio::test]
async fn the_merge_moves_every_reference_the_schema_has() {
    let app = TestApp::spawn().await;
    for (entity, table) in [(Entity::Contact, "contacts"), (Entity::Lead, "leads")] {
        let mut referencing: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.conrelid::regclass::text, a.attname::text
               FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[array_length(c.conkey, 1)]
              WHERE c.contype = 'f' AND c.confrelid = $1::regclass
              ORDER BY 1, 2",
        )
        .bind(table)
        .fetch_all(&app.pools.owner)
        .await
        .unwrap();
        referencing.dedup();
        let moved = app::crm::merge::ssr::linked_columns(entity);
        for (t, c) in &referencing {
            assert!(
                moved.contains(&(t.as_str(), c.as_str())),
                "{t}.{c} points at {table} and a merge does not move it"
            );
        }
        assert!(!referencing.is_empty());
    }
}

#[tokio::test]
async fn a_new_records_email_or_phone_finds_the_one_already_there_in_its_workspace_only() {
    let app = TestApp::spawn().await;
    let ada = app.signup("Ada", "ada@example.com", "Acme").await;
    let bea = app.signup("Bea", "bea@example.com", "Beta").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let existing = Uuid::now_v7();
    exec(
        &app.pools.owner,
        "INSERT INTO contacts (tenant_id, id, full_name, email, phone_e164)
              VALUES ($1, $2, 'Omar Farouk', 'omarfarouk@gmail.com', '+201001234567');",
        &[tenant, existing],
    )
    .await;
    let find = |client: &reqwest::Client, entity: &str, email: &str, phone: &str| {
        let (client, body) = (
            client.clone(),
            json!({ "entity": entity, "email": email, "phone": phone }),
        );
        let app = &app;
        async move {
            app.call_json::<app::crm::merge::FindMatching>(&client, &body)
                .await
        }
    };
    // The address as typed differently (case, dots, a +tag) and the number as typed
    // with spaces both find it, with the reason.
    let (status, found) = find(&ada, "Contact", "Omar.Farouk+crm@GMAIL.com", "").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found[0]["id"], existing.to_string());
    assert_eq!(found[0]["reasons"], json!(["email"]));
    let (_, found) = find(&ada, "Contact", "", "+20 100 123 4567").await;
    assert_eq!(found[0]["reasons"], json!(["phone"]));
    let (_, found) = find(&ada, "Contact", "omarfarouk@gmail.com", "+201001234567").await;
    assert_eq!(found[0]["reasons"], json!(["email", "phone"]));
    // Nothing for what the save would refuse, for leads here, or for another workspace.
    for (client, entity, email) in [
        (&ada, "Contact", "not an address"),
        (&ada, "Lead", "omarfarouk@gmail.com"),
        (&bea, "Contact", "omarfarouk@gmail.com"),
    ] {
        let (status, found) = find(client, entity, email, "").await;
        assert_eq!(
            (status, found),
            (StatusCode::OK, json!([])),
            "{entity} {email}"
        );
    }
    let (status, _) = find(&ada, "Company", "omarfarouk@gmail.com", "").await;
    assert!(status.is_client_error(), "{status}");
}
