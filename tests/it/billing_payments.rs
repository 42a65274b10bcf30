//! Collecting invoices through the peer's Stripe stand-in, over real HTTP: a charge
//! that pays, dunning on days 1, 3, 5 and 7 with emails, the read-only workspace and
//! its recovery, idempotent retries, and the soft usage warnings.

use crate::common::*;
use app::billing::api::{BillingOverview, ChangePlan, GetInvoice, PayInvoice, SetPaymentMethod};
use app::billing::payments::{self, idempotency_key};
use app::billing::provider::{
    Charge, NewCustomer, PaymentIntent, PaymentProvider, ProviderError, Stripe,
};
use app::crm::records::api::SaveRecord;
use app::db::Db;
use app::request::AppConfig;
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn set_plan(app: &TestApp, tenant: Uuid, plan: &str) {
    sqlx::query(
        "UPDATE subscriptions SET plan_id = $2, status = 'ACTIVE', current_period_start = now() - interval '10 days',
                current_period_end = now() + interval '20 days', currency = 'USD'
          WHERE tenant_id = $1",
    )
    .bind(tenant)
    .bind(plan)
    .execute(&app.pools.owner)
    .await
    .unwrap();
}

/// The charging worker as the server runs it, pointed at the peer's stand-in and
/// mailing through the peer's SMTP server; tests run it at the time they choose.
struct Worker {
    db: Db,
    config: AppConfig,
    stripe: Stripe,
}

impl Worker {
    fn new(app: &TestApp, peer: &peer::Peer) -> Worker {
        let mut config = AppConfig::local(&app.base);
        let smtp = peer.smtp_addr();
        config.account_mail = Some(app::request::AccountMail {
            smtp: mail::SmtpSettings {
                host: smtp.ip().to_string(),
                port: smtp.port(),
                security: mail::SmtpSecurity::None,
                username: None,
                password: None,
                timeout: std::time::Duration::from_secs(10),
                egress: mail::Egress::AnyAddress,
            },
            from: "no-reply@leadline.test".into(),
        });
        Worker {
            db: Db::new(app.pools.app.clone()),
            stripe: Stripe::new(
                &format!("{}/stripe", peer.http_base()),
                &config.stripe_secret_key,
            ),
            config,
        }
    }

    async fn run(&self, now: DateTime<Utc>) -> usize {
        payments::charge_due(&self.db, &self.config, &self.stripe, now, 16)
            .await
            .unwrap()
    }
}

/// Owner of a workspace on Starter, with `card` on file, upgraded to Pro: the
/// prorated invoice's id.
async fn upgraded_with(app: &TestApp, card: &str) -> (reqwest::Client, Uuid, Uuid) {
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    set_plan(app, tenant, "starter").await;
    let (status, body) = app
        .call::<SetPaymentMethod>(&owner, &[("payment_method", card)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, change) = app
        .call::<ChangePlan>(&owner, &[("plan", "pro"), ("cycle", "MONTHLY")])
        .await;
    assert_eq!(status, StatusCode::OK, "{change}");
    let invoice = Uuid::parse_str(change["Upgraded"]["invoice"].as_str().unwrap()).unwrap();
    (owner, tenant, invoice)
}

async fn scalar<T>(app: &TestApp, sql: &str, id: Uuid) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.pools.owner)
        .await
        .unwrap()
}

/// Waits for `check` to hold, up to ten seconds: emails and provider events arrive
/// from tasks of their own.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test]
async fn an_issued_invoice_is_charged_by_the_worker_and_paid() {
    let (app, peer) = TestApp::spawn_with_stripe().await;
    let (owner, tenant, invoice) = upgraded_with(&app, "pm_card_visa").await;
    // Issued, not charged: the request never talks to the provider.
    assert!(peer.stripe_intents().is_empty());
    let status: String = scalar(&app, "SELECT status FROM invoices WHERE id = $1", invoice).await;
    assert_eq!(status, "OPEN");

    let worker = Worker::new(&app, &peer);
    assert_eq!(worker.run(Utc::now()).await, 1);
    let total: i64 = scalar(
        &app,
        "SELECT total_minor FROM invoices WHERE id = $1",
        invoice,
    )
    .await;
    let intents = peer.stripe_intents();
    assert_eq!(intents.len(), 1, "{intents:?}");
    let intent = &intents[0];
    assert_eq!(
        (
            intent.amount,
            intent.currency.as_str(),
            intent.status.as_str()
        ),
        (total, "usd", "succeeded")
    );
    assert!(intent.customer.starts_with("cus_"));
    assert_eq!(intent.metadata["invoice_id"], invoice.to_string());
    assert_eq!(intent.metadata["tenant_id"], tenant.to_string());
    assert_eq!(intent.idempotency_key, Some(idempotency_key(invoice, 1)));

    let (_, inv) = app
        .call::<GetInvoice>(&owner, &[("id", &invoice.to_string())])
        .await;
    assert_eq!(inv["invoice"]["status"], "PAID", "{inv}");
    assert_eq!(inv["attempts"][0]["status"], "SUCCEEDED");
    assert_eq!(inv["can_pay"], false);
    let customer: Option<String> = scalar(
        &app,
        "SELECT provider_customer_id FROM billing_profiles WHERE tenant_id = $1",
        tenant,
    )
    .await;
    assert_eq!(customer.as_deref(), Some(intent.customer.as_str()));
    // The stand-in's signed event arrives too, accepted once. Whichever of the answer
    // and the event comes second finds the invoice paid and changes nothing.
    eventually("the payment_intent.succeeded event", || {
        peer.stripe_intents()[0].events == ["payment_intent.succeeded (200)"]
    })
    .await;
    let outcome: String = scalar(
        &app,
        "SELECT outcome FROM billing_events WHERE tenant_id = $1 AND type = 'payment_intent.succeeded'",
        tenant,
    )
    .await;
    assert!(
        outcome == "paid" || outcome.starts_with("ignored: already settled"),
        "{outcome}"
    );
    let paid_at: Vec<DateTime<Utc>> =
        sqlx::query_scalar("SELECT paid_at FROM invoices WHERE id = $1 AND status = 'PAID'")
            .bind(invoice)
            .fetch_all(&app.pools.owner)
            .await
            .unwrap();
    assert_eq!(paid_at.len(), 1);
    // Nothing is due any more.
    assert_eq!(worker.run(Utc::now() + Duration::days(30)).await, 0);
}

#[tokio::test]
async fn a_declined_card_is_dunned_on_days_1_3_5_7_then_the_workspace_is_read_only_until_paid() {
    let (app, peer) = TestApp::spawn_with_stripe().await;
    let (owner, tenant, invoice) =
        upgraded_with(&app, "pm_card_chargeDeclinedInsufficientFunds").await;
    let number: i32 = scalar(&app, "SELECT number FROM invoices WHERE id = $1", invoice).await;
    let worker = Worker::new(&app, &peer);
    let t0 = Utc::now();
    assert_eq!(worker.run(t0).await, 1);
    let sub = |app: &TestApp| {
        let pool = app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM subscriptions WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(sub(&app).await, "PAST_DUE");
    let lead = |name: &'static str| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.call::<SaveRecord>(&owner, &[("entity", "LEAD"), ("name", name)])
                .await
        }
    };
    // Past due is not read-only yet.
    let (status, body) = lead("While past due").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let due_days = |app: &TestApp| {
        let pool = app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, DateTime<Utc>>(
                "SELECT due_at FROM payment_attempts WHERE invoice_id = $1 AND status = 'DUE'",
            )
            .bind(invoice)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    for (i, day) in [1, 3, 5, 7].into_iter().enumerate() {
        let due = due_days(&app).await;
        assert_eq!(due.len(), 1, "one retry waits");
        let expected = t0 + Duration::days(day);
        assert!(
            (due[0] - expected).num_seconds().abs() <= 1,
            "retry {i}: {due:?} vs day {day}"
        );
        // Not a moment before its day.
        assert_eq!(worker.run(expected - Duration::minutes(1)).await, 0);
        assert_eq!(worker.run(expected).await, 1);
        if day < 7 {
            assert_eq!(sub(&app).await, "PAST_DUE");
        }
    }
    assert!(due_days(&app).await.is_empty(), "no fifth retry");
    assert_eq!(sub(&app).await, "UNPAID");
    let intents = peer.stripe_intents();
    assert_eq!(intents.len(), 5);
    assert!(intents
        .iter()
        .all(|i| i.status == "requires_payment_method"));

    // Five failures, five emails to the owner, and five notifications.
    eventually("five dunning emails", || {
        peer.messages()
            .iter()
            .filter(|m| {
                m.to == "ada@example.com"
                    && m.subject.as_deref() == Some(&*format!("Payment of invoice {number} failed"))
            })
            .count()
            == 5
    })
    .await;
    let mails: Vec<String> = peer
        .messages()
        .into_iter()
        .filter(|m| m.to == "ada@example.com" && m.body.contains("insufficient funds"))
        .map(|m| m.body)
        .collect();
    let link = format!("{}/billing/invoices/{invoice}", app.base);
    assert!(mails.iter().all(|b| b.contains(&link)), "{mails:?}");
    assert_eq!(
        mails
            .iter()
            .filter(|b| b.contains("We will try again on"))
            .count(),
        4,
        "{mails:?}"
    );
    assert_eq!(
        mails.iter().filter(|b| b.contains("read-only")).count(),
        1,
        "{mails:?}"
    );
    let notified: i64 = scalar(
        &app,
        "SELECT count(*) FROM notifications WHERE tenant_id = $1 AND kind = 'PAYMENT_FAILED'",
        tenant,
    )
    .await;
    assert_eq!(notified, 5);

    // Read-only: writes are refused with the invoice to pay; reads still work.
    let message = format!(
        "Your workspace is read-only, and sending is paused, until invoice {number} is paid."
    );
    let (status, body) = lead("While unpaid").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert!(body.to_string().contains(&message), "{body}");
    let (status, o) = app.call::<BillingOverview>(&owner, &[]).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(o["payment"]["failed"][1], number);
    let page = app.page(&owner, "/leads").await.1;
    assert!(page.contains("read-only-banner") && page.contains(&message));
    // The billing page says which charge failed and offers to pay it.
    let page = app.page(&owner, "/billing").await.1;
    assert!(page.contains("payment-failed"), "{page}");
    assert!(page.contains(&format!("Pay invoice {number} now")));
    let page = app
        .page(&owner, &format!("/billing/invoices/{invoice}"))
        .await
        .1;
    assert!(page.contains("Your card has insufficient funds."));
    assert_eq!(
        page.matches("Failed").count(),
        5,
        "five failed attempts listed"
    );

    // The card is fixed and paid: active and writable at once.
    let (status, body) = app
        .call::<SetPaymentMethod>(&owner, &[("payment_method", "pm_card_visa")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .call::<PayInvoice>(&owner, &[("id", &invoice.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        worker
            .run(t0 + Duration::days(7) + Duration::minutes(5))
            .await,
        1
    );
    assert_eq!(sub(&app).await, "ACTIVE");
    let paid: String = scalar(&app, "SELECT status FROM invoices WHERE id = $1", invoice).await;
    assert_eq!(paid, "PAID");
    let (status, body) = lead("Paid up").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = app.page(&owner, "/leads").await.1;
    assert!(!page.contains("read-only-banner"));
    // Every attempt had its own key, each asked once.
    let intents = peer.stripe_intents();
    assert_eq!(intents.len(), 6);
    assert!(intents.iter().all(|i| i.requests == 1));
    assert_eq!(intents[5].status, "succeeded");
}

#[tokio::test]
async fn api_writes_of_a_read_only_workspace_are_refused_and_its_reads_go_on() {
    let (app, peer) = TestApp::spawn_with_stripe().await;
    let (owner, tenant, invoice) = upgraded_with(&app, "pm_card_chargeDeclined").await;
    let token = app
        .api_key(&owner, "CRM sync", &["contacts:write", "contacts:read"])
        .await;
    let worker = Worker::new(&app, &peer);
    let t0 = Utc::now();
    worker.run(t0).await;
    for day in [1, 3, 5, 7] {
        worker.run(t0 + Duration::days(day)).await;
    }
    let number: i32 = scalar(&app, "SELECT number FROM invoices WHERE id = $1", invoice).await;
    let res = app
        .api(Method::POST, "/contacts", &token)
        .json(&json!({ "name": "Mona Saleh" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    let problem: Value = res.json().await.unwrap();
    assert!(
        problem.to_string().contains(&format!(
            "sending is paused, until invoice {number} is paid"
        )),
        "{problem}"
    );
    let res = app
        .api(Method::GET, "/contacts", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let contacts: i64 = scalar(
        &app,
        "SELECT count(*) FROM contacts WHERE tenant_id = $1",
        tenant,
    )
    .await;
    assert_eq!(contacts, 0);
}

/// A provider whose answers are lost on the way back, as when a worker dies between
/// the charge and recording it.
struct LostAnswers<'a>(&'a Stripe);

#[async_trait::async_trait]
impl PaymentProvider for LostAnswers<'_> {
    async fn create_customer(&self, customer: &NewCustomer) -> Result<String, ProviderError> {
        self.0.create_customer(customer).await
    }

    async fn charge(&self, charge: &Charge) -> Result<PaymentIntent, ProviderError> {
        self.0.charge(charge).await?;
        Err(ProviderError::Unavailable("connection reset".into()))
    }
}

#[tokio::test]
async fn a_charge_tried_again_after_a_lost_answer_charges_once() {
    let (app, peer) = TestApp::spawn_with_stripe().await;
    let (_owner, _tenant, invoice) = upgraded_with(&app, "pm_card_visa").await;
    // The event would pay the invoice behind the test's back: this one has no endpoint.
    peer.set_stripe_webhook("http://127.0.0.1:9/closed", "whsec_unused");
    let worker = Worker::new(&app, &peer);
    let now = Utc::now();
    let lossy = LostAnswers(&worker.stripe);
    let taken = payments::charge_due(&worker.db, &worker.config, &lossy, now, 16)
        .await
        .unwrap();
    assert_eq!(taken, 1);
    let status: String = scalar(&app, "SELECT status FROM invoices WHERE id = $1", invoice).await;
    assert_eq!(status, "OPEN", "the answer never came back");
    // Tried again after its backoff, under the same key: the first answer, no new charge.
    assert_eq!(worker.run(now + Duration::hours(1)).await, 1);
    let status: String = scalar(&app, "SELECT status FROM invoices WHERE id = $1", invoice).await;
    assert_eq!(status, "PAID");
    let intents = peer.stripe_intents();
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0].requests, 2);
    assert_eq!(
        intents[0].idempotency_key,
        Some(idempotency_key(invoice, 1))
    );
}

#[tokio::test]
async fn another_workspaces_invoice_cannot_be_paid_or_seen() {
    let (app, _peer) = TestApp::spawn_with_stripe().await;
    let (_ada, _tenant, invoice) = upgraded_with(&app, "pm_card_visa").await;
    let bob = app.signup("Bob", "bob@example.com", "Other").await;
    let (status, body) = app
        .call::<SetPaymentMethod>(&bob, &[("payment_method", "pm_card_visa")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .call::<PayInvoice>(&bob, &[("id", &invoice.to_string())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call::<GetInvoice>(&bob, &[("id", &invoice.to_string())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .call::<SetPaymentMethod>(&bob, &[("payment_method", "4242 4242 4242 4242")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let manual: i64 = scalar(
        &app,
        "SELECT count(*) FROM payment_attempts WHERE invoice_id = $1 AND kind = 'MANUAL'",
        invoice,
    )
    .await;
    assert_eq!(manual, 0);
}

#[tokio::test]
async fn usage_warnings_fire_once_at_80_and_once_at_100_percent() {
    let app = TestApp::spawn().await;
    let owner = app.signup("Ada", "ada@example.com", "Acme").await;
    let tenant = app.tenant_of("ada@example.com").await;
    let admin = app.invite_and_join(&owner, "al@example.com", "ADMIN").await;
    set_plan(&app, tenant, "free").await;
    let add_leads = |n: i64| {
        let pool = app.pools.owner.clone();
        async move {
            sqlx::query(
                "INSERT INTO leads (tenant_id, id, name) SELECT $1, gen_random_uuid(), 'Lead ' || n FROM generate_series(1, $2) n",
            )
            .bind(tenant)
            .bind(n)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let warnings = || {
        let pool = app.pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT body FROM notifications WHERE tenant_id = $1 AND kind = 'USAGE_WARNING'
                   AND user_id = (SELECT id FROM users WHERE email = 'ada@example.com') ORDER BY created_at",
            )
            .bind(tenant)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let create = |name: &'static str| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.call::<SaveRecord>(&owner, &[("entity", "LEAD"), ("name", name)])
                .await
                .0
        }
    };
    add_leads(398).await;
    assert_eq!(create("399th").await, StatusCode::OK);
    assert!(warnings().await.is_empty(), "399 of 500 is under 80 %");
    assert_eq!(create("400th").await, StatusCode::OK);
    assert_eq!(create("401st").await, StatusCode::OK);
    let once = warnings().await;
    assert_eq!(once.len(), 1, "{once:?}");
    assert!(once[0].contains("400 of 500"), "{once:?}");
    add_leads(98).await;
    assert_eq!(create("500th").await, StatusCode::OK);
    assert_eq!(create("501st").await, StatusCode::FORBIDDEN);
    let twice = warnings().await;
    assert_eq!(twice.len(), 2, "{twice:?}");
    assert!(twice[1].contains("500 of 500"), "{twice:?}");
    // Admins hear it too; the banner shows where they look.
    let admin_count: i64 = scalar(
        &app,
        "SELECT count(*) FROM notifications WHERE kind = 'USAGE_WARNING'
           AND user_id = (SELECT id FROM users WHERE email = 'al@example.com') AND tenant_id = $1",
        tenant,
    )
    .await;
    assert_eq!(admin_count, 2);
    let (_, o) = app.call::<BillingOverview>(&admin, &[]).await;
    assert_eq!(o["warnings"], json!([["Records", 100]]), "{o}");
}

/// The PDF of `invoice` as `client` downloads it: status, headers and bytes.
async fn invoice_pdf(
    app: &TestApp,
    client: &reqwest::Client,
    invoice: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .get(client, &format!("/billing/invoices/{invoice}/pdf"))
        .await;
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The text of every page, as lopdf reads it through the fonts' ToUnicode maps.
fn pdf_text(bytes: &[u8]) -> (usize, String) {
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF lopdf can read");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    (pages.len(), doc.extract_text(&pages).expect("its text"))
}

#[tokio::test]
async fn an_invoice_downloads_as_a_pdf_in_the_readers_language_and_only_for_its_workspace() {
    let (app, _peer) = TestApp::spawn_with_stripe().await;
    let (owner, _tenant, invoice) = upgraded_with(&app, "pm_card_visa").await;
    let (_, detail) = app
        .call::<GetInvoice>(&owner, &[("id", &invoice.to_string())])
        .await;
    let number = detail["invoice"]["number"].as_i64().unwrap();
    let total = app::crm::money::format(
        app::i18n::Locale::En,
        detail["invoice"]["total_minor"].as_i64().unwrap(),
        detail["invoice"]["currency"].as_str().unwrap(),
    );
    assert!(
        detail["invoice"]["total_minor"].as_i64().unwrap() > 0,
        "{detail}"
    );

    let (status, headers, bytes) = invoice_pdf(&app, &owner, &invoice.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"invoice-{number}.pdf\"")),
        "{disposition}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(bytes.starts_with(b"%PDF-"));
    let (pages, text) = pdf_text(&bytes);
    assert_eq!(pages, 1);
    assert!(text.contains(&format!("Invoice {number}")), "{text}");
    assert!(text.contains(&total), "{total} in {text}");
    for line in detail["lines"].as_array().unwrap() {
        let description = line["description"].as_str().unwrap();
        let first_words: String = description.split(' ').take(2).collect::<Vec<_>>().join(" ");
        assert!(text.contains(&first_words), "{first_words} in {text}");
    }
    assert!(
        text.contains("Subtotal") && text.contains("Total"),
        "{text}"
    );

    // In Arabic: the document says so, and its words are there. Right-to-left glyphs
    // are drawn right to left, so a reader that does not reorder (lopdf) yields
    // each word's letters reversed: proof that each shaped glyph maps back to its
    // own letter.
    let (status, body) = app
        .call::<app::auth::api::UpdateProfile>(
            &owner,
            &[
                ("name", "Ada"),
                ("language", "ar"),
                ("timezone", "Asia/Riyadh"),
                ("theme", "light"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, arabic) = invoice_pdf(&app, &owner, &invoice.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (pages, text) = pdf_text(&arabic);
    assert_eq!(pages, 1);
    let reversed = |word: &str| word.chars().rev().collect::<String>();
    assert!(text.contains(&reversed("فاتورة")), "{text}");
    assert!(text.contains(&reversed("المبلغ")), "{text}");
    let lang = lopdf::Document::load_mem(&arabic)
        .unwrap()
        .catalog()
        .unwrap()
        .get(b"Lang")
        .unwrap()
        .as_str()
        .unwrap()
        .to_vec();
    assert_eq!(lang, b"ar");

    // Nobody else: a rep of the workspace, another workspace, the signed out, a
    // malformed id.
    let rep = app
        .invite_and_join(&owner, "rep@example.com", "SALES")
        .await;
    let (status, _, _) = invoice_pdf(&app, &rep, &invoice.to_string()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let bob = app.signup("Bob", "bob@example.com", "Other").await;
    let (status, _, body) = invoice_pdf(&app, &bob, &invoice.to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.starts_with(b"%PDF"));
    let (status, _, _) = invoice_pdf(&app, &app.client(), &invoice.to_string()).await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status.is_redirection(),
        "{status}"
    );
    let (status, _, _) = invoice_pdf(&app, &owner, "not-an-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
