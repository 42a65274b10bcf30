//! A sequence's settings and its steps' own choices: archiving, a scheduled start, a
//! step's subject, sender name and mailbox, and the sending-hours grid.

use super::*;

/// An archived sequence takes no step and no new enrolment, and is archived and
/// restored only by those who configure sequences; restored, it comes back paused and
/// its enrolments go on from where they waited.
#[tokio::test]
async fn an_archived_sequence_holds_its_enrolments_and_takes_no_new_ones() {
    let w = world().await;
    w.phone("P", "arch-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Spring launch", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(3, true, false).await;
    w.enrol(seq, &leads[..2]).await;
    let set = |client: reqwest::Client, status: &'static str| {
        let app = w.app.clone();
        async move {
            app.call::<SetSequenceStatus>(&client, &[("id", &seq.to_string()), ("status", status)])
                .await
        }
    };
    // A manager runs outreach but does not configure it.
    let manager = w
        .app
        .invite_and_join(&w.admin, "mo@example.com", "MANAGER")
        .await;
    assert_eq!(
        set(manager.clone(), "ARCHIVED").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = set(w.admin.clone(), "ARCHIVED").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(w.schedule().await, 0, "its enrolments wait");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM enrollments WHERE status = 'ACTIVE'")
            .await,
        2
    );
    let (status, body) = w
        .app
        .call_json::<Enrol>(
            &w.admin,
            &json!({ "sequence_id": seq, "list_id": null, "lead_ids": [leads[2]] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("sequence_id"));
    // Resuming is not restoring.
    assert_eq!(set(w.admin.clone(), "ACTIVE").await.0, StatusCode::CONFLICT);
    let (status, body) = set(w.admin.clone(), "RESTORED").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, list) = w.app.call_json::<ListSequences>(&w.admin, &json!({})).await;
    assert_eq!(list[0]["status"], "PAUSED", "{list}");
    assert_eq!(set(manager, "ACTIVE").await.0, StatusCode::OK);
    assert_eq!(w.schedule().await, 2);
    let changes: i64 = w
        .scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'sequence.status'")
        .await;
    assert_eq!(changes, 3);
}

/// A template a live sequence uses cannot be archived; once that sequence is archived
/// it can, and it leaves the pickers for the archived list until restored.
#[tokio::test]
async fn a_template_is_archived_only_when_no_live_sequence_uses_it() {
    let w = world().await;
    let template = w.wa_template("Spring hello", "Hi {{first_name}}").await;
    let seq = w.sequence("Spring", "").await;
    w.step(seq, template, 0, None).await;
    let archive = |archived: &'static str| {
        let (app, admin) = (w.app.clone(), w.admin.clone());
        async move {
            app.call::<SetTemplateArchived>(
                &admin,
                &[("id", &template.to_string()), ("archived", archived)],
            )
            .await
        }
    };
    let (status, body) = archive("true").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(error_text(&body).contains("Spring"), "{body}");
    let (status, body) = w
        .app
        .call::<SetSequenceStatus>(
            &w.admin,
            &[("id", &seq.to_string()), ("status", "ARCHIVED")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = archive("true").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = |list: Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, live) = w.app.call_json::<ListTemplates>(&w.admin, &json!({})).await;
    assert!(!names(live).contains(&"Spring hello".to_string()));
    let (_, put_away) = w
        .app
        .call_json::<ListArchivedTemplates>(&w.admin, &json!({}))
        .await;
    assert_eq!(names(put_away), ["Spring hello"]);
    let (status, _) = archive("false").await;
    assert_eq!(status, StatusCode::OK);
    let (_, live) = w.app.call_json::<ListTemplates>(&w.admin, &json!({})).await;
    assert!(names(live).contains(&"Spring hello".to_string()));
}

/// A sequence given a start sends nothing before it, to leads enrolled before or after
/// the start was set; clearing the start lets them go at once.
#[tokio::test]
async fn a_scheduled_start_holds_every_enrolment_until_it() {
    let w = world().await;
    w.phone("P", "start-1", 100, 1).await;
    let template = w.wa_template("Launch", "Hi {{first_name}}").await;
    let seq = w.sequence("Launch day", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(2, true, false).await;
    w.enrol(seq, &leads[..1]).await;
    let save = |starts_at: String| {
        let app = w.app.clone();
        let admin = w.admin.clone();
        async move {
            app.call::<SaveSequence>(
                &admin,
                &[
                    ("id", seq.to_string().as_str()),
                    ("name", "Launch day"),
                    ("timezone", "Africa/Cairo"),
                    ("exit_on_reply", "on"),
                    ("max_attempts", "5"),
                    ("starts_at", starts_at.as_str()),
                ],
            )
            .await
        }
    };
    for bad in ["next week", "2031-13-01T09:00", "2040-01-01T09:00"] {
        let (status, body) = save(bad.into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(error_field(&body), Some("starts_at"), "{bad}");
    }
    // 09:00 in Cairo, three days on.
    let day = (chrono::Utc::now() + chrono::Duration::days(3)).date_naive();
    let typed = format!("{day}T09:00");
    let (status, body) = save(typed.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let start = app::l10n::from_local("Africa/Cairo", day.and_hms_opt(9, 0, 0).unwrap());
    let (_, detail) = w
        .app
        .call_json::<GetSequence>(&w.admin, &json!({ "id": seq }))
        .await;
    assert_eq!(detail["starts_at"], json!(typed), "shown as typed");
    w.enrol(seq, &leads[1..]).await;
    let runs: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT next_run_at FROM enrollments ORDER BY created_at")
            .fetch_all(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(
        runs,
        vec![start, start],
        "enrolled before and after the start was set"
    );
    assert_eq!(w.schedule().await, 0, "nothing before the start");
    // Launching now instead.
    let (status, body) = save(String::new()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(w.schedule().await, 2);
}

/// A step's own subject and sender name reach the recipient; a subject with an unknown
/// variable or an open brace, and a name that would break the From header, are refused
/// next to their field.
#[tokio::test]
async fn a_step_sends_under_its_own_subject_and_sender_name() {
    let w = world().await;
    w.mailbox().await;
    let mail = w
        .email_template("Brochure", "Our brochure", "Hi {{first_name}}")
        .await;
    let seq = w.sequence("Own subject", "").await;
    let add = |subject: String, from: &'static str| {
        let app = w.app.clone();
        let admin = w.admin.clone();
        async move {
            app.call::<AddStep>(
                &admin,
                &[
                    ("sequence_id", seq.to_string().as_str()),
                    ("delay_minutes", "0"),
                    ("template_id", mail.to_string().as_str()),
                    ("subject_override", subject.as_str()),
                    ("from_name", from),
                ],
            )
            .await
        }
    };
    for (subject, from, field) in [
        ("Hi {{budget}}".to_string(), "", "subject_override"),
        ("Hi {{first_name".to_string(), "", "subject_override"),
        ("x".repeat(301), "", "subject_override"),
        (String::new(), "Sara\r\nBcc: all@example.com", "from_name"),
    ] {
        let (status, body) = add(subject, from).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let (status, body) = add("Viewing for {{first_name}}".into(), "Sara from Nile").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, detail) = w
        .app
        .call_json::<GetSequence>(&w.admin, &json!({ "id": seq }))
        .await;
    assert_eq!(
        detail["steps"][0]["subject_override"],
        "Viewing for {{first_name}}"
    );
    let leads = w.leads(1, false, true).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 1);
    assert_eq!(w.dispatch().await, 1);
    let sent = w.peer.messages();
    assert_eq!(sent[0].subject.as_deref(), Some("Viewing for Mona"));
    let from = sent[0]
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("from"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        from.contains("Sara from Nile") && from.contains("<sales@acme.test>"),
        "{from}"
    );
}

/// A step that names its mailbox sends from it instead of the rotation, and waits for
/// tomorrow when that mailbox's cap for today is used; a WhatsApp step with no email
/// fallback has no mailbox to name, and another workspace's mailbox is refused.
#[tokio::test]
async fn a_step_sends_from_the_mailbox_it_names() {
    let w = world().await;
    let sales = w.mailbox().await;
    let domain: Uuid = sqlx::query_scalar("SELECT domain_id FROM email_accounts WHERE id = $1")
        .bind(sales)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let viewings = w
        .mailbox_on(&domain.to_string(), "viewings@acme.test", "Acme Viewings")
        .await
        .to_string();
    let mail = w
        .email_template("Viewing", "Your viewing", "Hi {{first_name}}")
        .await;
    let wa = w.wa_template("Hello", "Hello {{first_name}}").await;
    let seq = w.sequence("From viewings", "").await;
    let add = |template: Uuid, mailbox: String| {
        let app = w.app.clone();
        let admin = w.admin.clone();
        async move {
            app.call::<AddStep>(
                &admin,
                &[
                    ("sequence_id", seq.to_string().as_str()),
                    ("delay_minutes", "0"),
                    ("template_id", template.to_string().as_str()),
                    ("mailbox_id", mailbox.as_str()),
                ],
            )
            .await
        }
    };
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let theirs = other.mailbox().await;
    for (template, mailbox, field) in [
        (mail, theirs.to_string(), "mailbox_id"),
        (mail, "not-an-id".to_string(), "mailbox_id"),
        (wa, viewings.clone(), "mailbox_id"),
    ] {
        let (status, body) = add(template, mailbox).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let (status, body) = add(mail, viewings.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, detail) = w
        .app
        .call_json::<GetSequence>(&w.admin, &json!({ "id": seq }))
        .await;
    assert_eq!(detail["steps"][0]["mailbox"], "viewings@acme.test");
    let (status, choices) = w.app.call::<MailboxChoices>(&w.admin, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        choices,
        json!([{ "id": sales, "address": "sales@acme.test" }, { "id": viewings, "address": "viewings@acme.test" }])
    );

    // Three leads: all three from viewings@, none from the rotation's sales@.
    let leads = w.leads(3, false, true).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 3);
    assert_eq!(w.dispatch().await, 3);
    let froms: Vec<String> = w
        .peer
        .messages()
        .iter()
        .map(|m| {
            m.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("from"))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(froms.len(), 3);
    assert!(
        froms.iter().all(|f| f.contains("<viewings@acme.test>")),
        "{froms:?}"
    );

    // Its cap for today used: the next lead waits for tomorrow rather than going
    // from sales@.
    sqlx::query("UPDATE email_accounts SET daily_cap = 3, warmup_start = 3 WHERE from_address = 'viewings@acme.test'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let more = w.leads(1, false, true).await;
    w.enrol(seq, &more).await;
    assert_eq!(w.schedule().await, 0);
    let waiting: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT next_run_at FROM enrollments WHERE lead_id = $1")
            .bind(more[0])
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    // Tomorrow, not an hour from now: near midnight UTC tomorrow is that close.
    assert!(
        waiting.date_naive() > chrono::Utc::now().date_naive(),
        "{waiting}"
    );
}

/// The hours grid's "only in these hours" with no day open is refused, not taken as
/// "any time"; a day with two windows is kept as two.
#[tokio::test]
async fn sending_hours_with_no_open_day_are_refused_and_two_windows_are_kept() {
    let w = world().await;
    let save = |hours: &'static str| {
        let app = w.app.clone();
        let admin = w.admin.clone();
        async move {
            app.call::<SaveSequence>(
                &admin,
                &[
                    ("name", "Hours"),
                    ("business_hours", hours),
                    ("max_attempts", "3"),
                ],
            )
            .await
        }
    };
    let (status, body) = save("none").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("business_hours"));
    let (status, body) = save("mon 09:00-13:00, 14:00-18:00\nfri 09:00-12:00").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored: Value = sqlx::query_scalar("SELECT business_hours FROM sequences")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(
        stored,
        json!({ "mon": [["09:00", "13:00"], ["14:00", "18:00"]], "fri": [["09:00", "12:00"]] })
    );
}
