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
