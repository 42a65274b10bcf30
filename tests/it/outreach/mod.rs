//! The outreach engine against real PostgreSQL, real HTTP and the local provider peer
//! (WhatsApp Cloud API over HTTP, SMTP over TCP): quotas under concurrency, sticky
//! numbers, business hours across DST, suppressions and opt-out words, webhook
//! signatures, a dispatcher killed mid-send, and the whole loop to a reply.

mod branching;
mod dispatch;
mod files;
mod inbound;
mod metering;
mod scheduling;
mod senders;
mod sequence_settings;
mod world;

use crate::common;

use app::outreach::api::*;
use app::outreach::ssr::dispatch::dispatch_once;
use app::outreach::ssr::provider::{
    MediaFile, Providers, SendError, WaMessage, WabaNumber, WhatsAppApi,
};
use app::outreach::ssr::scheduler::schedule_once;
use app::request::AppConfig;
use common::*;
use inbound::meta_signature;
use reqwest::StatusCode;
use scheduling::skipped;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;
use world::*;
pub(crate) use world::{ok, world, World};

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
    async fn upload_media(
        &self,
        phone: &str,
        credential: &str,
        file: &MediaFile<'_>,
    ) -> Result<String, SendError> {
        self.0.upload_media(phone, credential, file).await
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
    async fn upload_media(
        &self,
        phone: &str,
        credential: &str,
        file: &MediaFile<'_>,
    ) -> Result<String, SendError> {
        self.1.upload_media(phone, credential, file).await
    }
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
    // A person's choice of status stands: outreach will not move this one.
    let name: String = sqlx::query_scalar("SELECT name FROM leads WHERE id = $1")
        .bind(both[1])
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let id = both[1].to_string();
    let (status, body) = w
        .app
        .call::<app::crm::records::api::SaveRecord>(
            &w.admin,
            &[
                ("entity", "LEAD"),
                ("id", &id),
                ("name", &name),
                ("status", "QUALIFIED"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

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
    // The lead's status follows its journey, except where a person set it.
    for lead in [both[0], email_only[0]] {
        assert_eq!(
            w.lead_status(lead).await,
            ("CONTACTED".into(), "AUTO".into())
        );
    }
    assert_eq!(w.journey(both[1]).await, "CONTACTED_WA");
    assert_eq!(
        w.lead_status(both[1]).await,
        ("QUALIFIED".into(), "MANUAL".into())
    );

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
    assert_eq!(w.lead_status(replied_lead).await.0, "REPLIED");
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
