//! The outreach engine against real PostgreSQL, real HTTP and the local provider peer
//! (WhatsApp Cloud API over HTTP, SMTP over TCP): quotas under concurrency, sticky
//! numbers, business hours across DST, suppressions and opt-out words, webhook
//! signatures, a dispatcher killed mid-send, and the whole loop to a reply.

use crate::common;

use app::outreach::api::*;
use app::outreach::ssr::dispatch::dispatch_once;
use app::outreach::ssr::provider::{Providers, SendError, WaMessage, WabaNumber, WhatsAppApi};
use app::outreach::ssr::scheduler::schedule_once;
use app::request::AppConfig;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

pub(crate) struct World {
    pub(crate) app: Arc<TestApp>,
    pub(crate) admin: reqwest::Client,
    pub(crate) tenant: Uuid,
    pub(crate) peer: peer::Peer,
    pub(crate) providers: Providers,
    pub(crate) config: AppConfig,
}

pub(crate) async fn world() -> World {
    // Internal errors carry only a reference; the log next to the failure says what.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (app, peer) = TestApp::spawn_with_peer().await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let config = AppConfig::local(&app.base);
    let providers = Providers::real(
        &format!("{}/v21.0", peer.http_base()),
        &format!("{}/360dialog", peer.http_base()),
    );
    World {
        app: Arc::new(app),
        admin,
        tenant,
        peer,
        providers,
        config,
    }
}

fn ok(status: StatusCode, body: &Value) -> String {
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str().map(str::to_string).unwrap_or_default()
}

/// The WhatsApp Business Account of Ada's numbers on the peer, and its token.
const WABA: &str = "waba-acme";
const WA_TOKEN: &str = "token-1";

fn wa_number(waba_id: &str, provider_id: &str, token: &str) -> peer::WaNumber {
    peer::WaNumber {
        waba_id: waba_id.into(),
        phone_number_id: provider_id.into(),
        display_phone_number: format!("+20 {provider_id}"),
        verified_name: "Acme".into(),
        access_token: token.into(),
    }
}

impl World {
    /// Another workspace on the same server, peer and dispatchers.
    pub(crate) async fn other_tenant(&self, email: &str, company: &str) -> World {
        let admin = self.app.signup("Bea", email, company).await;
        World {
            app: self.app.clone(),
            admin,
            tenant: self.app.tenant_of(email).await,
            peer: self.peer.clone(),
            providers: self.providers.clone(),
            config: self.config.clone(),
        }
    }

    /// A number of Ada's WABA, known to the peer and saved (so confirmed) by Ada.
    pub(crate) async fn phone(
        &self,
        label: &str,
        provider_id: &str,
        quota: i32,
        priority: i32,
    ) -> Uuid {
        self.peer
            .add_whatsapp_number(wa_number(WABA, provider_id, WA_TOKEN));
        let number = format!("+2012{:08}", priority * 1000 + quota);
        let (status, body) = self
            .app
            .call::<SavePhone>(
                &self.admin,
                &[
                    ("number", &number),
                    ("label", label),
                    ("provider_phone_id", provider_id),
                    ("waba_id", WABA),
                    ("access_token", WA_TOKEN),
                    ("priority", &priority.to_string()),
                    ("daily_quota", &quota.to_string()),
                ],
            )
            .await;
        ok(status, &body).parse().unwrap()
    }

    pub(crate) async fn wa_template(&self, name: &str, body: &str) -> Uuid {
        let (status, b) = self
            .app
            .call::<SaveTemplate>(
                &self.admin,
                &[
                    ("name", name),
                    ("channel", "WHATSAPP"),
                    ("wa_template_name", &name.to_lowercase().replace(' ', "_")),
                    ("approval_status", "APPROVED"),
                    ("body", body),
                ],
            )
            .await;
        ok(status, &b).parse().unwrap()
    }

    pub(crate) async fn email_template(&self, name: &str, subject: &str, body: &str) -> Uuid {
        let (status, b) = self
            .app
            .call::<SaveTemplate>(
                &self.admin,
                &[
                    ("name", name),
                    ("channel", "EMAIL"),
                    ("subject", subject),
                    ("body", body),
                ],
            )
            .await;
        ok(status, &b).parse().unwrap()
    }

    pub(crate) async fn mailbox(&self) -> Uuid {
        let (status, b) = self
            .app
            .call::<AddDomain>(&self.admin, &[("domain", "acme.test")])
            .await;
        let domain = ok(status, &b);
        let port = self.peer.smtp_addr().port().to_string();
        let (status, b) = self
            .app
            .call::<SaveMailbox>(
                &self.admin,
                &[
                    ("domain_id", &domain),
                    ("from_address", "sales@acme.test"),
                    ("from_name", "Acme Sales"),
                    ("smtp_host", "127.0.0.1"),
                    ("smtp_port", &port),
                    ("smtp_security", "NONE"),
                    ("smtp_username", "sales"),
                    ("smtp_password", "pw"),
                    ("daily_cap", "100"),
                    ("warmup_start", "50"),
                    ("warmup_step", "10"),
                    ("min_gap_seconds", "0"),
                ],
            )
            .await;
        ok(status, &b).parse().unwrap()
    }

    pub(crate) async fn sequence(&self, name: &str, hours: &str) -> Uuid {
        let (status, b) = self
            .app
            .call::<SaveSequence>(
                &self.admin,
                &[
                    ("name", name),
                    ("business_hours", hours),
                    ("exit_on_reply", "on"),
                    ("exit_on_bounce", "on"),
                    ("max_attempts", "5"),
                ],
            )
            .await;
        ok(status, &b).parse().unwrap()
    }

    pub(crate) async fn step(
        &self,
        sequence: Uuid,
        template: Uuid,
        delay: i32,
        fallback: Option<Uuid>,
    ) {
        let fallback = fallback.map(|f| f.to_string()).unwrap_or_default();
        let (status, b) = self
            .app
            .call::<AddStep>(
                &self.admin,
                &[
                    ("sequence_id", &sequence.to_string()),
                    ("delay_minutes", &delay.to_string()),
                    ("template_id", &template.to_string()),
                    ("fallback_template_id", &fallback),
                    ("skip_if_replied", "on"),
                ],
            )
            .await;
        ok(status, &b);
    }

    /// `n` leads; with a WhatsApp number and/or an email address.
    pub(crate) async fn leads(&self, n: usize, phone: bool, email: bool) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for i in 0..n {
            let id = Uuid::now_v7();
            let unique = &id.simple().to_string()[20..];
            let number = phone.then(|| {
                format!(
                    "+2010{:08}",
                    (u64::from_str_radix(unique, 16).unwrap() % 100_000_000)
                )
            });
            sqlx::query(
                "INSERT INTO leads (tenant_id, id, name, phone_e164, email) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.tenant)
            .bind(id)
            .bind(format!("Mona Lead{i}"))
            .bind(number)
            .bind(email.then(|| format!("lead{i}-{unique}@example.com")))
            .execute(&self.app.pools.owner)
            .await
            .unwrap();
            ids.push(id);
        }
        ids
    }

    pub(crate) async fn enrol(&self, sequence: Uuid, leads: &[Uuid]) -> Value {
        let (status, body) = self
            .app
            .call_json::<Enrol>(
                &self.admin,
                &json!({ "sequence_id": sequence, "list_id": null, "lead_ids": leads }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub(crate) async fn schedule(&self) -> usize {
        let mut queued = 0;
        loop {
            let r = schedule_once(&self.app.pools.app, 500).await.unwrap();
            queued += r.queued;
            if r.claimed == 0 {
                return queued;
            }
        }
    }

    pub(crate) async fn dispatch(&self) -> usize {
        let mut sent = 0;
        loop {
            let r = dispatch_once(&self.app.pools.app, &self.providers, &self.config, 200)
                .await
                .unwrap();
            sent += r.sent;
            if r.claimed == 0 {
                return sent;
            }
        }
    }

    /// Makes due what waits for a delay (moves time forward for the enrolments).
    pub(crate) async fn fast_forward(&self) {
        sqlx::query("UPDATE enrollments SET next_run_at = now() WHERE status = 'ACTIVE' AND next_run_at < now() + interval '1 day'")
            .execute(&self.app.pools.owner)
            .await
            .unwrap();
    }

    pub(crate) async fn scalar_i64(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.app.pools.owner)
            .await
            .unwrap()
    }

    pub(crate) async fn journey(&self, lead: Uuid) -> String {
        sqlx::query_scalar("SELECT state FROM lead_journeys WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&self.app.pools.owner)
            .await
            .unwrap()
    }
}

fn skipped(report: &Value, reason: &str) -> u64 {
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

fn meta_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        app::crypto::hex(&app::crypto::hmac_sha256(secret.as_bytes(), body))
    )
}

#[tokio::test]
async fn webhooks_are_verified_and_applied_once() {
    let w = world().await;
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/whatsapp", w.app.base);
    // The subscription handshake.
    let good = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1158201444",
            w.config.wa_verify_token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    assert_eq!(good.text().await.unwrap(), "1158201444");
    let bad = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);

    w.phone("P", "w-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Hooks", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, true, false).await;
    w.enrol(seq, &leads).await;
    w.schedule().await;
    w.dispatch().await;
    let wamid: String =
        sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE direction = 'OUT'")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    let lead_phone: String = sqlx::query_scalar("SELECT phone_e164 FROM leads WHERE id = $1")
        .bind(leads[0])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "x", "phone_number_id": "w-1" },
            "contacts": [{ "profile": { "name": "Mona 😀" }, "wa_id": lead_phone.trim_start_matches('+') }],
            "messages": [{ "from": lead_phone.trim_start_matches('+'), "id": "wamid.in.1", "timestamp": "1",
                           "type": "text", "text": { "body": "Yes please 👍🏽 أرسل التفاصيل" } }],
            "statuses": [{ "id": wamid, "status": "delivered", "timestamp": "1", "recipient_id": "x" }]
        }}]}]
    })
    .to_string()
    .into_bytes();
    let post = |bytes: Vec<u8>, signature: Option<String>| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let mut req = client
                .post(url)
                .header("content-type", "application/json")
                .body(bytes);
            if let Some(s) = signature {
                req = req.header("x-hub-signature-256", s);
            }
            req.send().await.unwrap().status()
        }
    };
    let secret = w.config.wa_app_secret.clone();
    // Tampered byte, wrong secret, no signature: refused, nothing applied.
    let mut tampered = body.clone();
    let i = tampered.iter().position(|b| *b == b'Y').unwrap();
    tampered[i] = b'N';
    assert_eq!(
        post(tampered, Some(meta_signature(&secret, &body))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(body.clone(), Some(meta_signature("wrong", &body))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(body.clone(), None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE direction = 'IN'")
            .await,
        0
    );
    // Valid (emoji and Arabic in the body): applied. Replayed: nothing more.
    for _ in 0..2 {
        assert_eq!(
            post(body.clone(), Some(meta_signature(&secret, &body))).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE direction = 'IN'")
            .await,
        1
    );
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(wa_delivered), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(wa_replies), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    let text: String = sqlx::query_scalar("SELECT body FROM messages WHERE direction = 'IN'")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(text, "Yes please 👍🏽 أرسل التفاصيل");
    // Not JSON but correctly signed: a 400 with a reason.
    assert_eq!(
        post(b"nope".to_vec(), Some(meta_signature(&secret, b"nope"))).await,
        StatusCode::BAD_REQUEST
    );

    // Email events: Standard Webhooks signatures with a timestamp tolerance.
    w.mailbox().await;
    let tpl = w
        .email_template("Mail", "Hello {{first_name}}", "Hi {{first_name}}")
        .await;
    let mseq = w.sequence("Mail", "").await;
    w.step(mseq, tpl, 0, None).await;
    let mail_leads = w.leads(1, false, true).await;
    w.enrol(mseq, &mail_leads).await;
    w.schedule().await;
    w.dispatch().await;
    let message_id: String = sqlx::query_scalar(
        "SELECT m.id::text || '@acme.test' FROM messages m WHERE m.channel = 'EMAIL'",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    let event = json!({ "id": "evt_1", "type": "reply", "message_id": format!("<{message_id}>"),
                        "from": "x@example.com", "to": reply_to(&w.peer.messages()[1]),
                        "subject": "Re: Hello", "text": "Interested!" })
    .to_string();
    let send_event = |id: &str, ts: i64, secret: &str| {
        let signed = format!("{id}.{ts}.{event}");
        let sig = base64_sig(secret, signed.as_bytes());
        client
            .post(format!("{}/webhooks/email", w.app.base))
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", format!("v1,{sig}"))
            .body(event.clone())
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let email_secret = w.config.email_webhook_secret.clone();
    assert_eq!(
        send_event("evt_1", now - 3600, &email_secret)
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send_event("evt_1", now, "wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send_event("evt_2", now, &email_secret)
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    for _ in 0..2 {
        assert_eq!(
            send_event("evt_1", now, &email_secret)
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE direction = 'IN' AND channel = 'EMAIL'")
            .await,
        1,
        "a replayed event id changes nothing"
    );
    assert_eq!(w.journey(mail_leads[0]).await, "WARM_REPLY");
}

/// The address an email asks replies to go to.
fn reply_to(email: &peer::Received) -> String {
    email
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("reply-to"))
        .map(|(_, value)| value.clone())
        .expect("our emails carry a Reply-To")
}

#[tokio::test]
async fn email_replies_are_attributed_by_their_signed_reply_address_only() {
    let w = world().await;
    w.mailbox().await;
    let template = w.email_template("Mail", "Hello", "Hi {{first_name}}").await;
    let seq = w.sequence("Mail", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, false, true).await;
    w.enrol(seq, &leads).await;
    w.schedule().await;
    assert_eq!(w.dispatch().await, 1);
    let email = w.peer.messages().pop().unwrap();
    let tagged = reply_to(&email);
    assert!(tagged.starts_with("sales+r-"), "{tagged}");
    assert!(tagged.ends_with("@acme.test"), "{tagged}");

    let client = reqwest::Client::new();
    let secret = w.config.email_webhook_secret.clone();
    let post = |n: u32, to: String| {
        let event = json!({ "id": format!("evt_{n}"), "type": "reply",
                            "message_id": format!("<{}>", email.id), "from": email.to,
                            "to": to, "subject": "Re: Hello", "text": "Interested!" })
        .to_string();
        let ts = chrono::Utc::now().timestamp();
        let sig = base64_sig(&secret, format!("evt_{n}.{ts}.{event}").as_bytes());
        client
            .post(format!("{}/webhooks/email", w.app.base))
            .header("webhook-id", format!("evt_{n}"))
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", format!("v1,{sig}"))
            .body(event)
            .send()
    };
    let replies = "SELECT count(*) FROM messages WHERE direction = 'IN'";
    // Only the known Message-ID (sent to the plain mailbox), or a forged MAC: accepted
    // as events, attributed to nothing.
    let mut forged = tagged.clone();
    let last = forged.find('@').unwrap() - 1;
    let flipped = if &forged[last..=last] == "a" {
        "b"
    } else {
        "a"
    };
    forged.replace_range(last..=last, flipped);
    for (n, to) in [(1, "sales@acme.test".to_string()), (2, forged)] {
        assert_eq!(post(n, to).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(w.scalar_i64(replies).await, 0);
    assert_eq!(w.journey(leads[0]).await, "CONTACTED_EMAIL");
    // The peer replies as a mail client does, to Reply-To: attributed.
    assert_eq!(
        w.peer.email_event(&email.id, "reply", "Interested!").await,
        Ok(200)
    );
    assert_eq!(w.scalar_i64(replies).await, 1);
    assert_eq!(w.journey(leads[0]).await, "WARM_REPLY");
}

/// A Standard Webhooks MAC keyed the way the specification says: by the bytes the
/// `whsec_` secret encodes (nothing, for a secret that is not base64).
fn base64_sig(secret: &str, data: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap_or_default();
    b64.encode(app::crypto::hmac_sha256(&key, data))
}

/// A WhatsApp client that delivers to the peer and then never answers, like a worker
/// killed between the provider's accept and our record of it.
struct DiesAfterSend(Arc<dyn WhatsAppApi>);

#[async_trait::async_trait]
impl WhatsAppApi for DiesAfterSend {
    async fn send(&self, message: &WaMessage) -> Result<String, SendError> {
        let _ = self.0.send(message).await;
        std::future::pending().await
    }
    async fn waba_numbers(
        &self,
        waba_id: &str,
        access_token: &str,
    ) -> Result<Vec<WabaNumber>, SendError> {
        self.0.waba_numbers(waba_id, access_token).await
    }
}

#[tokio::test]
async fn a_dispatcher_killed_mid_send_loses_nothing_and_sends_nothing_twice() {
    let w = world().await;
    w.phone("P", "k-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Crash", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(12, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 12);

    let dying = Providers {
        whatsapp: Arc::new(DiesAfterSend(w.providers.whatsapp.clone())),
        dialog360: w.providers.dialog360.clone(),
        email: w.providers.email.clone(),
    };
    let pool = w.app.pools.app.clone();
    let config = w.config.clone();
    let worker = tokio::spawn(async move { dispatch_once(&pool, &dying, &config, 200).await });
    // Wait until the peer has every message, then kill the worker.
    for _ in 0..100 {
        if w.peer.messages().len() == 12 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    worker.abort();
    let _ = worker.await;
    assert_eq!(w.peer.messages().len(), 12);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM outbox WHERE leased_until > now() AND attempts = 1")
            .await,
        12,
        "all twelve are leased to the dead dispatcher"
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE status = 'QUEUED'")
            .await,
        12
    );
    // Nothing is sent again while the lease holds.
    assert_eq!(w.dispatch().await, 0);
    // The lease runs out; a restarted dispatcher resends with the same keys.
    sqlx::query("UPDATE outbox SET leased_until = now() - interval '1 second'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.dispatch().await, 12);
    let received = w.peer.messages();
    assert_eq!(received.len(), 12, "the provider has each message once");
    assert!(
        received.iter().all(|m| m.times_received == 2),
        "each was offered twice, recognised once"
    );
    let matched = w
        .scalar_i64(
            "SELECT count(*) FROM messages WHERE status = 'SENT' AND provider_message_id IS NOT NULL",
        )
        .await;
    assert_eq!(matched, 12, "nothing lost");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM outbox").await,
        0,
        "the outbox is empty once every answer is recorded"
    );
    for m in &received {
        let ours: String = sqlx::query_scalar(
            "SELECT provider_message_id FROM messages WHERE idempotency_key = $1",
        )
        .bind(m.idempotency_key.as_deref().unwrap())
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
        assert_eq!(ours, m.id);
    }
}

/// A WhatsApp client whose sends from one number never get an answer (a provider that
/// hangs for that tenant), and pass through for every other number.
struct HangsFor(&'static str, Arc<dyn WhatsAppApi>);

#[async_trait::async_trait]
impl WhatsAppApi for HangsFor {
    async fn send(&self, message: &WaMessage) -> Result<String, SendError> {
        if message.provider_phone_id == self.0 {
            return std::future::pending().await;
        }
        self.1.send(message).await
    }
    async fn waba_numbers(
        &self,
        waba_id: &str,
        access_token: &str,
    ) -> Result<Vec<WabaNumber>, SendError> {
        self.1.waba_numbers(waba_id, access_token).await
    }
}

#[tokio::test]
async fn one_tenants_silent_provider_does_not_hold_up_another_tenant() {
    let acme = world().await;
    let beta = acme.other_tenant("bea@example.com", "Beta").await;
    for (w, number) in [(&acme, "fair-a"), (&beta, "fair-b")] {
        w.phone("P", number, 100, 1).await;
        let template = w.wa_template("Intro", "Hi {{first_name}}").await;
        let seq = w.sequence("Fair", "").await;
        w.step(seq, template, 0, None).await;
        let leads = w.leads(3, true, false).await;
        w.enrol(seq, &leads).await;
    }
    assert_eq!(acme.schedule().await, 6);
    let providers = Providers {
        whatsapp: Arc::new(HangsFor("fair-a", acme.providers.whatsapp.clone())),
        dialog360: acme.providers.dialog360.clone(),
        email: acme.providers.email.clone(),
    };
    let pool = acme.app.pools.app.clone();
    let config = acme.config.clone();
    let worker = tokio::spawn(async move { dispatch_once(&pool, &providers, &config, 200).await });
    let mut beta_sent = 0;
    for _ in 0..100 {
        beta_sent = acme
            .scalar_i64(&format!(
                "SELECT count(*) FROM messages WHERE tenant_id = '{}' AND status = 'SENT'",
                beta.tenant
            ))
            .await;
        if beta_sent == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        beta_sent, 3,
        "Beta's messages went out while Acme's provider hung"
    );
    worker.abort();
}

#[tokio::test]
async fn a_tenants_backlog_does_not_fill_the_claims_of_others() {
    let acme = world().await;
    let beta = acme.other_tenant("bea@example.com", "Beta").await;
    for (w, number, leads) in [(&acme, "share-a", 30), (&beta, "share-b", 3)] {
        w.phone("P", number, 100, 1).await;
        let template = w.wa_template("Intro", "Hi {{first_name}}").await;
        let seq = w.sequence("Share", "").await;
        w.step(seq, template, 0, None).await;
        let leads = w.leads(leads, true, false).await;
        w.enrol(seq, &leads).await;
    }
    assert_eq!(acme.schedule().await, 33);
    // Acme's backlog is an hour older than Beta's three messages.
    sqlx::query("UPDATE outbox SET due_at = now() - interval '1 hour' WHERE tenant_id = $1")
        .bind(acme.tenant)
        .execute(&acme.app.pools.owner)
        .await
        .unwrap();
    let claimed: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT tenant_id, count(*) FROM claim_outbox(10) GROUP BY tenant_id ORDER BY count(*)",
    )
    .fetch_all(&acme.app.pools.app)
    .await
    .unwrap();
    assert_eq!(claimed, vec![(beta.tenant, 3), (acme.tenant, 5)]);
    // Beta has nothing left to claim: the next claim is Acme's alone.
    let next: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT tenant_id, count(*) FROM claim_outbox(10) GROUP BY tenant_id")
            .fetch_all(&acme.app.pools.app)
            .await
            .unwrap();
    assert_eq!(next, vec![(acme.tenant, 10)]);
}

#[tokio::test]
async fn a_slow_pass_renews_its_leases_so_no_other_dispatcher_sends_its_rows() {
    let w = world().await;
    w.phone("P", "slow-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Slow", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(4, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 4);
    // Every send is accepted by the peer and then never answers: a pass that outlasts
    // its lease.
    let stuck = Providers {
        whatsapp: Arc::new(DiesAfterSend(w.providers.whatsapp.clone())),
        dialog360: w.providers.dialog360.clone(),
        email: w.providers.email.clone(),
    };
    let pool = w.app.pools.app.clone();
    let config = w.config.clone();
    let worker = tokio::spawn(async move { dispatch_once(&pool, &stuck, &config, 200).await });
    for _ in 0..100 {
        if w.peer.messages().len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(w.peer.messages().len(), 4);
    // The leases are about to run out...
    sqlx::query("UPDATE outbox SET leased_until = now() + interval '3 seconds'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    tokio::time::sleep(
        app::outreach::ssr::dispatch::LEASE_RENEW_EVERY + std::time::Duration::from_secs(2),
    )
    .await;
    // ...and the pass still running has renewed them: a second dispatcher finds nothing.
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM outbox WHERE leased_until > now() + interval '1 minute'"
        )
        .await,
        4
    );
    assert_eq!(w.dispatch().await, 0);
    assert!(
        w.peer.messages().iter().all(|m| m.times_received == 1),
        "sent once"
    );
    worker.abort();
}

#[tokio::test]
async fn transient_failures_retry_and_permanent_ones_tell_the_owner() {
    let w = world().await;
    w.phone("P", "f-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Failures", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, template, 60, None).await;
    let leads = w.leads(2, true, false).await;
    w.enrol(seq, &leads[..1]).await;
    w.schedule().await;
    w.peer.fail_next(1, peer::Failure::Transient);
    assert_eq!(w.dispatch().await, 0);
    let (status, attempts): (String, i32) = sqlx::query_as("SELECT status, attempts FROM messages")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("QUEUED", 1));
    sqlx::query("UPDATE outbox SET due_at = now()")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(w.dispatch().await, 1);

    w.enrol(seq, &leads[1..]).await;
    w.schedule().await;
    w.peer.fail_next(1, peer::Failure::Permanent);
    w.dispatch().await;
    let failed: (String, String) =
        sqlx::query_as("SELECT status, last_error FROM messages WHERE lead_id = $1")
            .bind(leads[1])
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(failed.0, "FAILED");
    assert!(failed.1.contains("131026"), "{}", failed.1);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM notifications WHERE kind = 'SEND_FAILED'")
            .await,
        1,
        "the member who enrolled the lead is told"
    );
    let stop: String = sqlx::query_scalar("SELECT stop_reason FROM enrollments WHERE lead_id = $1")
        .bind(leads[1])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(stop, "send_failed");
}

#[tokio::test]
async fn a_two_step_sequence_runs_from_whatsapp_to_email_to_a_reply() {
    let w = world().await;
    w.phone("P", "e-1", 100, 1).await;
    w.mailbox().await;
    let wa = w
        .wa_template(
            "Intro",
            "{Hi|Hello} {{first_name}}, new units at {{company|our project}}",
        )
        .await;
    let mail = w
        .email_template(
            "Brochure",
            "Brochure for {{first_name}}",
            "Dear {{first_name}},\n\nSee https://example.com/brochure\n\nThanks",
        )
        .await;
    let fallback = w
        .email_template("Fallback", "About our units", "Hello {{first_name}}")
        .await;
    let seq = w.sequence("Two step", "").await;
    w.step(seq, wa, 0, Some(fallback)).await;
    w.step(seq, mail, 60, None).await;
    let both = w.leads(2, true, true).await;
    let email_only = w.leads(1, false, true).await;
    let mut leads = both.clone();
    leads.extend(&email_only);
    assert_eq!(w.enrol(seq, &leads).await["enrolled"], 3);

    // Step 1: WhatsApp for those with a number, the email fallback for the other.
    assert_eq!(w.schedule().await, 3);
    assert_eq!(w.dispatch().await, 3);
    let sent = w.peer.messages();
    assert_eq!(
        sent.iter()
            .filter(|m| m.channel == peer::Channel::WhatsApp)
            .count(),
        2
    );
    let wa_msg = sent
        .iter()
        .find(|m| m.channel == peer::Channel::WhatsApp)
        .unwrap();
    assert!(
        wa_msg.body.starts_with("template:intro:en"),
        "{}",
        wa_msg.body
    );
    let fallback_mail = sent
        .iter()
        .find(|m| m.channel == peer::Channel::Email)
        .unwrap();
    assert_eq!(fallback_mail.subject.as_deref(), Some("About our units"));
    assert_eq!(w.journey(both[0]).await, "CONTACTED_WA");
    assert_eq!(w.journey(email_only[0]).await, "CONTACTED_EMAIL");

    // Delivered and read come back through signed webhooks.
    assert_eq!(
        w.peer
            .whatsapp_status(&wa_msg.id, "delivered")
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        w.peer.whatsapp_status(&wa_msg.id, "read").await.unwrap(),
        200
    );
    assert_eq!(
        w.peer
            .whatsapp_status(&wa_msg.id, "delivered")
            .await
            .unwrap(),
        200
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM messages WHERE provider_message_id = $1")
            .bind(&wa_msg.id)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(status, "READ", "a late 'delivered' does not move it back");

    // Step 2 (an hour later): email, DKIM-signed, with one-click unsubscribe.
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 3);
    assert_eq!(w.dispatch().await, 3);
    let emails: Vec<_> = w
        .peer
        .messages()
        .into_iter()
        .filter(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.starts_with("Brochure for"))
        })
        .collect();
    assert_eq!(emails.len(), 3);
    let header = |m: &peer::Received, name: &str| {
        m.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let first = &emails[0];
    assert!(header(first, "DKIM-Signature")
        .unwrap()
        .contains("d=acme.test"));
    assert!(header(first, "List-Unsubscribe").unwrap().contains("/u/"));
    assert_eq!(
        header(first, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    // The fallback lead's second email threads under its first.
    let threaded = emails
        .iter()
        .find(|m| m.to.starts_with("lead0-") && header(m, "In-Reply-To").is_some());
    assert!(threaded.is_some() || emails.iter().any(|m| header(m, "In-Reply-To").is_some()));

    // Open and click through our tracking links; the click goes where the email said.
    assert_eq!(w.peer.email_open(&first.id).await.unwrap(), 200);
    assert_eq!(w.peer.email_click(&first.id).await.unwrap(), 303);
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(email_opens), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    assert_eq!(
        w.scalar_i64("SELECT coalesce(sum(email_clicks), 0) FROM outreach_daily_stats")
            .await,
        1
    );
    // A forged click target is refused (no open redirect): the MAC covers the target,
    // and only web addresses are followed even when the email contained another.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let key = &w.config.secret_key;
    let first_id = app::outreach::ssr::inbound::message_id_of(&first.id).unwrap();
    let real = app::outreach::ssr::links::click_token(key, first_id, "https://acme.example/offer");
    for (token, target) in [
        (real.clone(), "https://evil.test"),
        (
            app::outreach::ssr::links::click_token(key, first_id, "javascript:alert(1)"),
            "javascript:alert(1)",
        ),
        (
            app::outreach::ssr::links::token(key, "click", first_id),
            "https://acme.example/offer",
        ),
    ] {
        let forged = no_redirects
            .get(format!("{}/t/c/{token}", w.app.base))
            .query(&[("u", target)])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::NOT_FOUND, "{target}");
    }

    // A reply to the email warms the lead and ends its sequence.
    assert_eq!(
        w.peer
            .email_event(&first.id, "reply", "Call me tomorrow")
            .await
            .unwrap(),
        200
    );
    let replied_lead: Uuid =
        sqlx::query_scalar("SELECT lead_id FROM messages WHERE direction = 'IN'")
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(w.journey(replied_lead).await, "WARM_REPLY");
    // Unsubscribe (RFC 8058 one-click POST) and a bounce both suppress.
    let unsubscribe = header(&emails[1], "List-Unsubscribe").unwrap();
    let url = unsubscribe.trim_matches(|c| c == '<' || c == '>');
    let res = reqwest::Client::new()
        .post(url)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        w.peer
            .email_event(&emails[2].id, "bounce", "550 no such user")
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM suppressions WHERE channel = 'EMAIL' AND reason IN ('UNSUBSCRIBE', 'BOUNCE')").await,
        2
    );

    // The lead's page shows the journey and every message; the dashboard counts.
    let (status, outreach) = w
        .app
        .call_json::<GetLeadOutreach>(&w.admin, &json!({ "lead_id": replied_lead }))
        .await;
    assert_eq!(status, StatusCode::OK, "{outreach}");
    assert_eq!(outreach["state"], "WARM_REPLY");
    assert!(
        outreach["messages"].as_array().unwrap().len() >= 3,
        "{outreach}"
    );
    assert!(outreach["manual_moves"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "NEGOTIATION"));
    let journey_entries = w
        .scalar_i64(&format!(
            "SELECT count(*) FROM activities WHERE kind = 'JOURNEY' AND lead_id = '{replied_lead}'"
        ))
        .await;
    assert!(journey_entries >= 2, "first send and reply on the timeline");
    let (status, dash) = w
        .app
        .call_json::<GetOutreachDashboard>(&w.admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(dash["funnel"]["contacted"], 3);
    assert_eq!(dash["funnel"]["replied"], 1);

    // By hand: negotiation, then converted; converted is final.
    let (status, body) = w
        .app
        .call::<MoveJourney>(
            &w.admin,
            &[
                ("lead_id", &replied_lead.to_string()),
                ("state", "CONVERTED"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = w
        .app
        .call::<MoveJourney>(
            &w.admin,
            &[("lead_id", &replied_lead.to_string()), ("state", "COLD")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("state"));
}

#[tokio::test]
async fn templates_report_mistakes_with_their_position() {
    let w = world().await;
    let cases = [
        ("Hi {there", "body", "4"),
        ("Hi {{first_name}", "body", "4"),
        ("Hi {{nickname}}", "body", "nickname"),
        ("Hi there}", "body", "9"),
    ];
    for (body, field, needle) in cases {
        let (status, b) = w
            .app
            .call::<SaveTemplate>(
                &w.admin,
                &[
                    ("name", "Broken"),
                    ("channel", "WHATSAPP"),
                    ("approval_status", "DRAFT"),
                    ("body", body),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(error_field(&b), Some(field), "{b}");
        assert!(b.to_string().contains(needle), "{body}: {b}");
    }
    let (status, b) = w
        .app
        .call::<SaveTemplate>(
            &w.admin,
            &[("name", "Mail"), ("channel", "EMAIL"), ("body", "Hi")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&b), Some("subject"));
    // An approved WhatsApp template needs the name Meta approved.
    let (status, b) = w
        .app
        .call::<SaveTemplate>(
            &w.admin,
            &[
                ("name", "WA"),
                ("channel", "WHATSAPP"),
                ("approval_status", "APPROVED"),
                ("body", "Hi"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&b), Some("wa_template_name"));

    // A required variable a lead lacks keeps that lead out of the sequence.
    w.phone("P", "t-1", 100, 1).await;
    let template = w
        .wa_template("Needs company", "Hi {{first_name}} from {{company}}")
        .await;
    let seq = w.sequence("Needs", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(2, true, false).await;
    let report = w.enrol(seq, &leads).await;
    assert_eq!(skipped(&report, "missing_variable"), 2, "{report}");
    // The report names the template, the variable and its position, and the leads.
    let problems = report["template_problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0]["template"], "Needs company");
    assert_eq!(problems[0]["leads"], 2);
    assert_eq!(problems[0]["examples"].as_array().unwrap().len(), 2);
    let problem = problems[0]["problem"].as_str().unwrap();
    assert!(
        problem.contains("Character 24") && problem.contains("company"),
        "{problem}"
    );

    // A/B variants: a second version splits the sends and keeps its own stats.
    let (status, b) = w
        .app
        .call::<SaveVersion>(
            &w.admin,
            &[
                ("template_id", &template.to_string()),
                ("label", "B"),
                ("body", "Hello {{first_name}}"),
                ("weight", "50"),
                ("active", "on"),
            ],
        )
        .await;
    ok(status, &b);
    let (status, detail) = w
        .app
        .call_json::<GetTemplate>(&w.admin, &json!({ "id": template }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_tenant_sees_and_reaches_nothing() {
    let w = world().await;
    let phone = w.phone("P", "x-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi").await;
    let seq = w.sequence("Ours", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(1, true, false).await;
    w.enrol(seq, &leads).await;

    let other = w.app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, _) = w
        .app
        .call_json::<GetTemplate>(&other, &json!({ "id": template }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w
        .app
        .call_json::<GetSequence>(&other, &json!({ "id": seq }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = w
        .app
        .call_json::<GetLeadOutreach>(&other, &json!({ "lead_id": leads[0] }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, senders) = w.app.call_json::<GetSenders>(&other, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(senders["phones"].as_array().unwrap().is_empty());
    // Enrolling our lead into their sequence, or our lead into our sequence from
    // their account, finds nothing.
    let (status, body) = w
        .app
        .call_json::<Enrol>(
            &other,
            &json!({ "sequence_id": seq, "list_id": null, "lead_ids": leads }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Their phone form cannot take our number's provider id.
    let (status, body) = w
        .app
        .call::<SavePhone>(
            &other,
            &[
                ("number", "+201234567890"),
                ("label", "Mine"),
                ("provider_phone_id", "x-1"),
                ("waba_id", WABA),
                ("access_token", "t"),
                ("priority", "1"),
                ("daily_quota", "10"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("provider_phone_id"));
    // A SALES member may not change senders.
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    let (status, _) = w
        .app
        .call::<SavePhone>(
            &rep,
            &[
                ("id", &phone.to_string()),
                ("number", "+201234567891"),
                ("label", "Mine"),
                ("provider_phone_id", "x-9"),
                ("priority", "1"),
                ("daily_quota", "10"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Signs `body` as Meta would and posts it to our WhatsApp webhook.
async fn post_whatsapp(w: &World, body: &Value) -> StatusCode {
    let bytes = body.to_string().into_bytes();
    reqwest::Client::new()
        .post(format!("{}/webhooks/whatsapp", w.app.base))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            meta_signature(&w.config.wa_app_secret, &bytes),
        )
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_number_is_saved_only_when_meta_confirms_it_and_routes_by_both_ids() {
    let w = world().await;
    w.phone("Ours", "own-1", 100, 1).await;
    let confirmed: Option<String> = sqlx::query_scalar(
        "SELECT waba_id FROM wa_phone_numbers WHERE provider_phone_id = 'own-1'",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(confirmed.as_deref(), Some(WABA));

    // Bea's business has its own WABA and token on the peer.
    let bea = w.app.signup("Bea", "bea@example.com", "Beta").await;
    w.peer
        .add_whatsapp_number(wa_number("waba-beta", "b-1", "token-b"));
    let (app, bea) = (&w.app, &bea);
    let save = |provider_id: &'static str, waba: &'static str| async move {
        {
            app.call::<SavePhone>(
                bea,
                &[
                    ("number", "+201234567890"),
                    ("label", "Mine"),
                    ("provider_phone_id", provider_id),
                    ("waba_id", waba),
                    ("access_token", "token-b"),
                    ("priority", "1"),
                    ("daily_quota", "10"),
                ],
            )
            .await
        }
    };
    // Ada's number under Bea's own WABA, under Ada's WABA (which Bea's token does not
    // manage), and a number nobody has: one answer for all, naming no one.
    let (status, refused) = save("own-1", "waba-beta").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(error_field(&refused), Some("provider_phone_id"));
    for (provider_id, waba) in [("own-1", WABA), ("nobody-9", "waba-beta")] {
        let (status, body) = save(provider_id, waba).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body, refused, "{provider_id} under {waba}");
    }
    // Even if Meta lists Ada's number under Bea's WABA too (a number moving between
    // businesses), one confirmed holder at a time.
    w.peer
        .add_whatsapp_number(wa_number("waba-beta", "own-1", "token-b"));
    let (status, body) = save("own-1", "waba-beta").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body, refused);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM wa_phone_numbers WHERE provider_phone_id = 'own-1'")
            .await,
        1
    );
    // Her own number is confirmed and saved.
    let (status, body) = save("b-1", "waba-beta").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A webhook about Ada's number is routed only when its WABA is Ada's too.
    let lead = w.leads(1, true, false).await[0];
    let from: String = sqlx::query_scalar("SELECT phone_e164 FROM leads WHERE id = $1")
        .bind(lead)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let inbound = |waba: &str, wamid: &str| {
        json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": waba, "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "x", "phone_number_id": "own-1" },
                "messages": [{ "from": from.trim_start_matches('+'), "id": wamid, "timestamp": "1",
                               "type": "text", "text": { "body": "Hello" } }]
            }}]}]
        })
    };
    assert_eq!(
        post_whatsapp(&w, &inbound("waba-beta", "wamid.in.wrong")).await,
        StatusCode::OK
    );
    let received = "SELECT count(*) FROM messages WHERE direction = 'IN'";
    assert_eq!(
        w.scalar_i64(received).await,
        0,
        "a wrong WABA is not routed"
    );
    assert_eq!(
        post_whatsapp(&w, &inbound(WABA, "wamid.in.right")).await,
        StatusCode::OK
    );
    assert_eq!(w.scalar_i64(received).await, 1);
}

#[tokio::test]
async fn senders_pause_themselves_and_tell_the_admins() {
    let w = world().await;
    let phone = w.phone("Flaky", "p-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Flaky", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(24, true, false).await;
    w.enrol(seq, &leads).await;
    w.schedule().await;
    // Three in four sends are refused for good: well past the 10% the number may fail.
    w.peer.fail_next(18, peer::Failure::Permanent);
    w.dispatch().await;
    let (status, reason): (String, String) =
        sqlx::query_as("SELECT status, status_reason FROM wa_phone_numbers WHERE id = $1")
            .bind(phone)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    assert_eq!(status, "PAUSED");
    assert!(reason.contains("failed"), "{reason}");
    let (status, notices) = w
        .app
        .call_json::<GetNotifications>(&w.admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        notices
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "SENDER_PAUSED"),
        "{notices}"
    );
    let (status, _) = w.app.call::<MarkNotificationsRead>(&w.admin, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, notices) = w
        .app
        .call_json::<GetNotifications>(&w.admin, &json!({}))
        .await;
    assert!(notices.as_array().unwrap().is_empty());

    // A mailbox whose bounce rate passes 5% pauses too.
    let mailbox = w.mailbox().await;
    let mail = w
        .email_template("Mail", "Hi {{first_name}}", "Hello {{first_name}}")
        .await;
    let mseq = w.sequence("Mail", "").await;
    w.step(mseq, mail, 0, None).await;
    let mail_leads = w.leads(20, false, true).await;
    w.enrol(mseq, &mail_leads).await;
    w.schedule().await;
    assert_eq!(w.dispatch().await, 20);
    let emails: Vec<_> = w
        .peer
        .messages()
        .into_iter()
        .filter(|m| m.channel == peer::Channel::Email)
        .collect();
    for m in &emails[..2] {
        assert_eq!(
            w.peer
                .email_event(&m.id, "bounce", "550 5.1.1 no such user")
                .await
                .unwrap(),
            200
        );
    }
    let status: String = sqlx::query_scalar("SELECT status FROM email_accounts WHERE id = $1")
        .bind(mailbox)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(status, "PAUSED", "2 bounces of 20 is 10%");

    // An admin resumes it with a new cap; the stored password stays. An unknown id is
    // not found rather than created.
    let domain: Uuid = sqlx::query_scalar("SELECT domain_id FROM email_accounts WHERE id = $1")
        .bind(mailbox)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let port = w.peer.smtp_addr().port().to_string();
    let resume = |id: String| {
        let (domain, port) = (domain.to_string(), port.clone());
        vec![
            ("id".to_string(), id),
            ("domain_id".to_string(), domain),
            ("from_address".to_string(), "sales@acme.test".to_string()),
            ("from_name".to_string(), "Acme Sales".to_string()),
            ("smtp_host".to_string(), "127.0.0.1".to_string()),
            ("smtp_port".to_string(), port),
            ("smtp_security".to_string(), "NONE".to_string()),
            ("smtp_username".to_string(), "sales".to_string()),
            ("daily_cap".to_string(), "250".to_string()),
            ("warmup_start".to_string(), "50".to_string()),
            ("warmup_step".to_string(), "10".to_string()),
            ("min_gap_seconds".to_string(), "0".to_string()),
            ("status".to_string(), "ACTIVE".to_string()),
        ]
    };
    let fields = resume(mailbox.to_string());
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (code, body) = w.app.call::<SaveMailbox>(&w.admin, &pairs).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (status, cap, has_password): (String, i32, bool) = sqlx::query_as(
        "SELECT status, daily_cap, smtp_password IS NOT NULL FROM email_accounts WHERE id = $1",
    )
    .bind(mailbox)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!((status.as_str(), cap, has_password), ("ACTIVE", 250, true));
    let fields = resume(Uuid::new_v4().to_string());
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (code, body) = w.app.call::<SaveMailbox>(&w.admin, &pairs).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
}

/// A DNS server for the tests: answers TXT questions from `records`, NXDOMAIN
/// otherwise (RFC 1035 wire format, one UDP socket).
async fn dns_server(
    records: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>>,
) -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let query = &buf[..n];
            // The question: labels from byte 12 to the zero length, then type and class.
            let mut name = Vec::new();
            let mut i = 12;
            while i < n && query[i] != 0 {
                let len = query[i] as usize;
                name.push(String::from_utf8_lossy(&query[i + 1..i + 1 + len]).to_lowercase());
                i += 1 + len;
            }
            let question_end = i + 5;
            let answers = records.lock().unwrap().get(&name.join(".")).cloned();
            let mut reply = query[..2].to_vec();
            let rcode = if answers.is_some() { 0 } else { 3 };
            reply.extend([0x81, 0x80 | rcode, 0, 1]);
            let count = answers.as_ref().map_or(0, Vec::len) as u16;
            reply.extend(count.to_be_bytes());
            reply.extend([0, 0, 0, 0]);
            reply.extend(&query[12..question_end]);
            for text in answers.unwrap_or_default() {
                let mut rdata = Vec::new();
                for chunk in text.as_bytes().chunks(255) {
                    rdata.push(chunk.len() as u8);
                    rdata.extend(chunk);
                }
                reply.extend([0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 60]);
                reply.extend((rdata.len() as u16).to_be_bytes());
                reply.extend(rdata);
            }
            let _ = socket.send_to(&reply, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn sending_domains_are_checked_by_real_dns_lookups() {
    let records = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let resolver = dns_server(records.clone()).await;
    let app = TestApp::spawn_with(|c| c.dns_resolver = resolver).await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, body) = app
        .call::<AddDomain>(&admin, &[("domain", "not a domain")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&body), Some("domain"));
    let (status, body) = app
        .call::<AddDomain>(&admin, &[("domain", "Acme.example")])
        .await;
    let id = ok(status, &body);
    let (status, again) = app
        .call::<AddDomain>(&admin, &[("domain", "acme.example")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{again}");

    // Nothing published yet: every record fails, with the value to publish.
    let (status, view) = app.call::<VerifyDomain>(&admin, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["spf_ok"], false);
    let checks = view["checks"].as_array().unwrap().clone();
    assert_eq!(checks.len(), 3);
    assert!(checks
        .iter()
        .all(|c| c["ok"] == false && c["problem"].is_string()));

    // Publish what the check asked for; SPF with a second record first (a permerror).
    {
        let mut r = records.lock().unwrap();
        for c in &checks {
            r.insert(
                c["name"].as_str().unwrap().to_string(),
                vec![c["expected"].as_str().unwrap().to_string()],
            );
        }
        r.get_mut("acme.example")
            .unwrap()
            .push("v=spf1 -all".into());
    }
    let (_, view) = app.call::<VerifyDomain>(&admin, &[("id", &id)]).await;
    assert_eq!(
        (
            view["spf_ok"].clone(),
            view["dkim_ok"].clone(),
            view["dmarc_ok"].clone()
        ),
        (json!(false), json!(true), json!(true)),
        "{view}"
    );
    records
        .lock()
        .unwrap()
        .get_mut("acme.example")
        .unwrap()
        .pop();
    let (_, view) = app.call::<VerifyDomain>(&admin, &[("id", &id)]).await;
    assert_eq!(view["spf_ok"], true, "{view}");
    // Another tenant cannot check (or learn of) this domain.
    let other = app.signup("Bea", "bea@example.com", "Beta").await;
    let (status, _) = app.call::<VerifyDomain>(&other, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_arabic_sending_domain_is_kept_checked_and_used_in_punycode() {
    let records = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let resolver = dns_server(records.clone()).await;
    let app = TestApp::spawn_with(|c| c.dns_resolver = resolver).await;
    let admin = app.signup("Ada", "ada@example.com", "Acme").await;
    let (status, body) = app
        .call::<AddDomain>(&admin, &[("domain", "مثال.مصر")])
        .await;
    let id = ok(status, &body);
    let stored: String = sqlx::query_scalar("SELECT domain::text FROM email_domains")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(stored, "xn--mgbh0fb.xn--wgbh1c");
    let (_, view) = app.call::<VerifyDomain>(&admin, &[("id", &id)]).await;
    let checks = view["checks"].as_array().unwrap().clone();
    {
        let mut r = records.lock().unwrap();
        for c in &checks {
            let name = c["name"].as_str().unwrap();
            assert!(name.ends_with("xn--mgbh0fb.xn--wgbh1c"), "{name}");
            r.insert(
                name.to_string(),
                vec![c["expected"].as_str().unwrap().to_string()],
            );
        }
    }
    let (_, view) = app.call::<VerifyDomain>(&admin, &[("id", &id)]).await;
    assert_eq!(
        (
            view["spf_ok"].clone(),
            view["dkim_ok"].clone(),
            view["dmarc_ok"].clone()
        ),
        (json!(true), json!(true), json!(true)),
        "{view}"
    );
    // A mailbox typed with the Arabic domain belongs to it.
    let (status, body) = app
        .call::<SaveMailbox>(
            &admin,
            &[
                ("domain_id", id.as_str()),
                ("from_address", "sales@مثال.مصر"),
                ("from_name", "Sales"),
                ("smtp_host", "127.0.0.1"),
                ("smtp_port", "2525"),
                ("smtp_security", "NONE"),
                ("smtp_username", "sales"),
                ("smtp_password", "pw"),
                ("daily_cap", "100"),
                ("warmup_start", "50"),
                ("warmup_step", "10"),
                ("min_gap_seconds", "0"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let from: String = sqlx::query_scalar("SELECT from_address FROM email_accounts")
        .fetch_one(&app.pools.owner)
        .await
        .unwrap();
    assert_eq!(from, "sales@xn--mgbh0fb.xn--wgbh1c");
}

/// Sequence pages and enrolment controls keep to the viewer's scope: a SALES member
/// sees only their own leads named, a manager pauses only their team's enrolments.
#[tokio::test]
async fn enrolments_out_of_scope_are_neither_named_nor_paused() {
    let w = world().await;
    w.phone("P", "x-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi").await;
    let seq = w.sequence("Ours", "").await;
    w.step(seq, template, 0, None).await;
    let rep = w
        .app
        .invite_and_join(&w.admin, "rep@example.com", "SALES")
        .await;
    let manager = w
        .app
        .invite_and_join(&w.admin, "mo@example.com", "MANAGER")
        .await;
    let leads = w.leads(2, true, false).await;
    // The first lead is the rep's, the second Ada's.
    for (lead, email) in [(leads[0], "rep@example.com"), (leads[1], "ada@example.com")] {
        sqlx::query(
            "UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = $2) WHERE id = $1",
        )
        .bind(lead)
        .bind(email)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    }
    let report = w.enrol(seq, &leads).await;
    assert_eq!(report["enrolled"], 2, "{report}");

    let (status, detail) = w
        .app
        .call_json::<GetSequence>(&rep, &json!({ "id": seq }))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let named: Vec<&Value> = detail["enrollments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["lead_id"])
        .collect();
    assert_eq!(named, [&json!(leads[0])], "{detail}");
    assert_eq!(detail["summary"]["enrolled"], 2, "{detail}");

    let enrolment = |lead: Uuid| {
        let pool = w.app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM enrollments WHERE lead_id = $1")
                .bind(lead)
                .fetch_one(&pool)
                .await
                .unwrap()
                .to_string()
        }
    };
    let reps = enrolment(leads[0]).await;
    let pause = |client: &reqwest::Client, id: &str| {
        let (app, client, id) = (&w.app, client.clone(), id.to_string());
        async move {
            app.call::<SetEnrollmentStatus>(&client, &[("id", &id), ("status", "PAUSED")])
                .await
        }
    };
    // Mo manages nobody yet: the rep's enrolment is out of his scope.
    let (status, body) = pause(&manager, &reps).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    sqlx::query(
        "UPDATE memberships SET manager_id = (SELECT id FROM users WHERE email = 'mo@example.com')
          WHERE user_id = (SELECT id FROM users WHERE email = 'rep@example.com')",
    )
    .execute(&w.app.pools.owner)
    .await
    .unwrap();
    let (status, body) = pause(&manager, &reps).await;
    assert_eq!(status, StatusCode::OK, "the rep now reports to Mo: {body}");
    let (status, body) = pause(&manager, &enrolment(leads[1]).await).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "Ada's lead is not Mo's: {body}"
    );
    let paused = w
        .scalar_i64("SELECT count(*) FROM enrollments WHERE status = 'PAUSED'")
        .await;
    assert_eq!(paused, 1);
}
