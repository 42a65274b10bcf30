//! Scheduling: the quota under concurrent schedulers, numbers that stick to their
//! leads, business hours across daylight-saving changes, and suppressions.

use super::*;

pub(super) fn skipped(report: &Value, reason: &str) -> u64 {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == reason)
        .map(|p| p[1].as_u64().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn quota_holds_exactly_under_eight_concurrent_schedulers() {
    let w = world().await;
    let phones = [
        w.phone("P1", "q-1", 7, 1).await,
        w.phone("P2", "q-2", 5, 1).await,
        w.phone("P3", "q-3", 3, 2).await,
    ];
    let template = w.wa_template("Intro", "{Hi|Hello} {{first_name}}").await;
    let seq = w.sequence("Quota", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(60, true, false).await;
    let report = w.enrol(seq, &leads).await;
    assert_eq!(report["enrolled"], 60, "{report}");

    // Eight schedulers at once, each with its own connections, in small batches so
    // they really interleave.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect_with((*w.app.pools.app.connect_options()).clone())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let pool: PgPool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut queued = 0;
            loop {
                let r = schedule_once(&pool, 3).await.unwrap();
                queued += r.queued;
                if r.claimed == 0 {
                    return queued;
                }
            }
        }));
    }
    let mut queued = 0;
    for t in tasks {
        queued += t.await.unwrap();
    }
    assert_eq!(queued, 15, "7 + 5 + 3 new contacts, not one more");
    for (phone, quota) in phones.iter().zip([7_i64, 5, 3]) {
        let used: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM messages WHERE phone_id = $1 AND quota_cost = 1",
        )
        .bind(phone)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
        assert_eq!(used, quota, "phone {phone}");
        let counted: i32 =
            sqlx::query_scalar("SELECT new_contacts FROM wa_quota_usage WHERE phone_id = $1")
                .bind(phone)
                .fetch_one(&w.app.pools.owner)
                .await
                .unwrap();
        assert_eq!(i64::from(counted), quota);
    }
    // The other 45 wait for tomorrow, in the tenant's time zone.
    let waiting = w
        .scalar_i64(
            "SELECT count(*) FROM enrollments WHERE status = 'ACTIVE' AND next_step = 1
               AND next_run_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'",
        )
        .await;
    assert_eq!(waiting, 45);

    // The tenant-wide 24-hour guard: lowered to 15, a fourth number adds nothing.
    sqlx::query("UPDATE tenant_policies SET wa_daily_unique_limit = 15")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.phone("P4", "q-4", 50, 1).await;
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 0, "the tenant's 24-hour limit holds");
}

#[tokio::test]
async fn leads_stick_to_their_number_and_move_when_it_is_banned() {
    let w = world().await;
    let first = w.phone("First", "s-1", 100, 1).await;
    let second = w.phone("Second", "s-2", 100, 2).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let follow = w.wa_template("Follow", "Any news, {{first_name}}?").await;
    let seq = w.sequence("Sticky", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, follow, 60, None).await;
    w.step(seq, follow, 60, None).await;
    let leads = w.leads(4, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 4);
    // Priority 1 first.
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM lead_journeys WHERE assigned_phone_id = '{first}'"
        ))
        .await,
        4
    );
    // Lowering the first number's priority does not move its leads: follow-ups stay.
    sqlx::query("UPDATE wa_phone_numbers SET priority = 50 WHERE id = $1")
        .bind(first)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 4);
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM messages WHERE phone_id = '{first}' AND quota_cost = 0"
        ))
        .await,
        4,
        "follow-ups are free and stay on the sticky number"
    );
    // Banned: the leads move to the second number, as new contacts there, audited.
    let (status, body) = w
        .app
        .call::<SavePhone>(
            &w.admin,
            &[
                ("id", &first.to_string()),
                ("number", "+201250001100"),
                ("label", "First"),
                ("provider_phone_id", "s-1"),
                ("priority", "50"),
                ("daily_quota", "100"),
                ("status", "BANNED"),
            ],
        )
        .await;
    ok(status, &body);
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 4);
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM lead_journeys WHERE assigned_phone_id = '{second}'"
        ))
        .await,
        4
    );
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM messages WHERE phone_id = '{second}' AND quota_cost = 1"
        ))
        .await,
        4
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action = 'journey.phone_reassigned'")
            .await,
        4
    );
    // Every step rendered once per lead: the idempotency keys never repeat.
    assert_eq!(
        w.scalar_i64("SELECT count(DISTINCT idempotency_key) - count(*) FROM messages")
            .await,
        0
    );
}

async fn next_moment(
    pool: &PgPool,
    from: &str,
    tz: &str,
    hours: Value,
    holidays: &[&str],
) -> String {
    let holidays: Vec<chrono::NaiveDate> = holidays.iter().map(|d| d.parse().unwrap()).collect();
    sqlx::query_scalar(
        "SELECT to_char(next_business_moment($1::timestamptz, $2, $3, $4) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')",
    )
    .bind(from)
    .bind(tz)
    .bind(hours)
    .bind(holidays)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn business_hours_hold_across_daylight_saving_changes() {
    let w = world().await;
    let pool = &w.app.pools.owner;
    let weekdays = json!({
        "mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]], "wed": [["09:00", "17:00"]],
        "thu": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]],
    });
    // Bucharest springs forward on Sunday 29 March 2026 (UTC+2 → UTC+3): Friday
    // evening waits until Monday 09:00 local, which is 06:00 UTC, not 07:00.
    assert_eq!(
        next_moment(
            pool,
            "2026-03-27 16:00:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-03-30 06:00"
    );
    // ... and falls back on 25 October 2026: Monday 09:00 local is 07:00 UTC again.
    assert_eq!(
        next_moment(
            pool,
            "2026-10-23 16:00:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-10-26 07:00"
    );
    // Inside a window: now.
    assert_eq!(
        next_moment(
            pool,
            "2026-03-30 07:30:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-03-30 07:30"
    );
    // A holiday on Monday pushes to Tuesday; lunch breaks split a day.
    assert_eq!(
        next_moment(
            pool,
            "2026-03-27 16:00:00+00",
            "Europe/Bucharest",
            weekdays.clone(),
            &["2026-03-30"]
        )
        .await,
        "2026-03-31 06:00"
    );
    let split = json!({ "mon": [["09:00", "12:00"], ["14:00", "18:00"]] });
    assert_eq!(
        next_moment(
            pool,
            "2026-03-30 10:30:00+00",
            "Europe/Bucharest",
            split,
            &[]
        )
        .await,
        "2026-03-30 11:00"
    );
    // Cairo and São Paulo, and "any time".
    assert_eq!(
        next_moment(
            pool,
            "2026-06-05 20:00:00+00",
            "America/Sao_Paulo",
            weekdays.clone(),
            &[]
        )
        .await,
        "2026-06-08 12:00"
    );
    assert_eq!(
        next_moment(
            pool,
            "2026-06-05 20:00:00+00",
            "Africa/Cairo",
            json!({}),
            &[]
        )
        .await,
        "2026-06-05 20:00"
    );

    // A sequence outside its hours queues nothing and waits for the window.
    let _phone = w.phone("P", "h-1", 10, 1).await;
    let template = w.wa_template("Intro", "Hi").await;
    let seq = w.sequence("Closed now", "").await;
    sqlx::query(
        "UPDATE sequences SET timezone = 'UTC', business_hours = jsonb_build_object(
            lower(to_char(now() AT TIME ZONE 'UTC' + interval '2 days', 'Dy')), jsonb_build_array(jsonb_build_array('10:00', '11:00')))",
    )
    .execute(pool)
    .await
    .unwrap();
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 0);
    let wait_hours = w
        .scalar_i64(
            "SELECT extract(epoch FROM next_run_at - now())::bigint / 3600 FROM enrollments",
        )
        .await;
    assert!(
        (24..=72).contains(&wait_hours),
        "waits {wait_hours} h for the window"
    );
}

#[tokio::test]
async fn suppressions_and_opt_out_words_stop_outreach() {
    let w = world().await;
    w.phone("P", "o-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Opt out", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, template, 60, None).await;
    let leads = w.leads(3, true, false).await;
    let phone_of = |i: usize| {
        let pool = w.app.pools.owner.clone();
        let id = leads[i];
        async move {
            sqlx::query_scalar::<_, String>("SELECT phone_e164 FROM leads WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // One is suppressed before enrolment; one has no number.
    sqlx::query("INSERT INTO suppressions (tenant_id, id, channel, address, reason) VALUES ($1, gen_random_uuid(), 'WHATSAPP', $2, 'MANUAL')")
        .bind(w.tenant)
        .bind(phone_of(0).await)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let no_phone = w.leads(1, false, false).await;
    let mut all = leads.clone();
    all.extend(&no_phone);
    all.push(Uuid::now_v7());
    let report = w.enrol(seq, &all).await;
    assert_eq!(report["enrolled"], 2, "{report}");
    assert_eq!(skipped(&report, "suppressed"), 1, "{report}");
    assert_eq!(skipped(&report, "no_channel"), 1, "{report}");
    assert_eq!(skipped(&report, "not_found"), 1, "{report}");
    assert_eq!(skipped(&w.enrol(seq, &leads[1..2]).await, "in_sequence"), 1);

    assert_eq!(w.schedule().await, 2);
    assert_eq!(w.dispatch().await, 2);
    // Lead 1 answers "STOP" in Arabic: suppressed, its sequence stops.
    let sent = w.peer.messages();
    let phone1 = phone_of(1).await;
    let to_lead1 = sent.iter().find(|m| m.to == phone1).unwrap();
    assert_eq!(
        w.peer.whatsapp_reply(&to_lead1.id, "توقف").await.unwrap(),
        200
    );
    assert_eq!(
        w.scalar_i64(&format!(
            "SELECT count(*) FROM suppressions WHERE reason = 'OPT_OUT' AND address = '{}'",
            phone_of(1).await
        ))
        .await,
        1
    );
    let stop: String = sqlx::query_scalar("SELECT stop_reason FROM enrollments WHERE lead_id = $1")
        .bind(leads[1])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(stop, "opt_out");
    // An opt-out is not a warm reply: the journey stays where it was.
    assert_eq!(w.journey(leads[1]).await, "CONTACTED_WA");
    // Lead 2's plain reply does not opt out.
    let phone2 = phone_of(2).await;
    let to_lead2 = sent.iter().find(|m| m.to == phone2).unwrap();
    w.peer
        .whatsapp_reply(&to_lead2.id, "Sure, send me the brochure")
        .await
        .unwrap();
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM suppressions WHERE reason = 'OPT_OUT'")
            .await,
        1
    );
    // A suppressed lead cannot be enrolled again, nor written to by hand.
    let again = w.sequence("Again", "").await;
    w.step(again, template, 0, None).await;
    assert_eq!(skipped(&w.enrol(again, &leads[1..2]).await, "opted_out"), 1);
    let (status, body) = w
        .app
        .call::<SendMessage>(
            &w.admin,
            &[
                ("lead_id", &leads[1].to_string()),
                ("channel", "WHATSAPP"),
                ("body", "Hello?"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // And the message already queued for a suppressed address is refused at send time.
    sqlx::query(
        "WITH queued AS (
            INSERT INTO messages (tenant_id, id, lead_id, channel, direction, status, phone_id, to_address, body, idempotency_key)
            SELECT tenant_id, gen_random_uuid(), $1, 'WHATSAPP', 'OUT', 'QUEUED', phone_id, to_address, 'late', 'late-1'
              FROM messages WHERE lead_id = $1 AND direction = 'OUT' LIMIT 1
            RETURNING tenant_id, id)
         INSERT INTO outbox (tenant_id, message_id) SELECT tenant_id, id FROM queued",
    )
    .bind(leads[1])
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    w.dispatch().await;
    let late: String =
        sqlx::query_scalar("SELECT status FROM messages WHERE idempotency_key = 'late-1'")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(late, "FAILED");
}

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
    let port = w.peer.smtp_addr().port().to_string();
    let (status, body) = w
        .app
        .call::<SaveMailbox>(
            &w.admin,
            &[
                ("domain_id", &domain.to_string()),
                ("from_address", "viewings@acme.test"),
                ("from_name", "Acme Viewings"),
                ("smtp_host", "127.0.0.1"),
                ("smtp_port", &port),
                ("smtp_security", "NONE"),
                ("smtp_username", "viewings"),
                ("smtp_password", "pw"),
                ("daily_cap", "100"),
                ("warmup_start", "50"),
                ("warmup_step", "10"),
                ("min_gap_seconds", "0"),
            ],
        )
        .await;
    let viewings = ok(status, &body);
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
    assert!(
        waiting > chrono::Utc::now() + chrono::Duration::hours(1),
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
