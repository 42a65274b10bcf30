//! Senders: a WhatsApp number saved only when Meta confirms it, webhooks routed by
//! both ids, senders that pause themselves, and sending domains checked by real DNS.

use super::*;
use app::billing::api::BillingOverview;

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

#[tokio::test]
async fn sending_domains_are_checked_by_real_dns_lookups() {
    let records = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let resolver = crate::common::dns::server(records.clone()).await;
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
    let resolver = crate::common::dns::server(records.clone()).await;
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

/// The plan caps WhatsApp numbers and mailboxes where they are added: past the limit,
/// a clear refusal that names it and the way to lift it; at the limit, a warning to
/// the owner. Editing a saved sender is never refused.
#[tokio::test]
async fn the_plan_caps_numbers_and_mailboxes_where_they_are_added() {
    let w = world().await;
    // Free: one number and one mailbox.
    sqlx::query("UPDATE subscriptions SET plan_id = 'free' WHERE tenant_id = $1")
        .bind(w.tenant)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let first = w.phone("First", "cap-1", 100, 1).await;
    w.peer
        .add_whatsapp_number(wa_number(WABA, "cap-2", WA_TOKEN));
    let (status, body) = w
        .app
        .call::<SavePhone>(
            &w.admin,
            &[
                ("number", "+201299999999"),
                ("label", "Second"),
                ("provider_phone_id", "cap-2"),
                ("waba_id", WABA),
                ("access_token", WA_TOKEN),
                ("priority", "2"),
                ("daily_quota", "100"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let text = error_text(&body);
    assert!(
        text.contains("WhatsApp numbers: your Free plan allows 1, and the workspace has 1")
            && text.contains("/billing"),
        "{text}"
    );
    // The saved one is still edited freely.
    let (status, body) = w
        .app
        .call::<SavePhone>(
            &w.admin,
            &[
                ("id", &first.to_string()),
                ("number", "+201200100007"),
                ("label", "Renamed"),
                ("provider_phone_id", "cap-1"),
                ("waba_id", WABA),
                ("priority", "1"),
                ("daily_quota", "100"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    w.mailbox().await;
    let domain: Uuid = sqlx::query_scalar("SELECT id FROM email_domains")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let (status, body) = w
        .app
        .call::<SaveMailbox>(
            &w.admin,
            &[
                ("domain_id", &domain.to_string()),
                ("from_address", "more@acme.test"),
                ("from_name", "More"),
                ("smtp_host", "127.0.0.1"),
                ("smtp_port", "25"),
                ("smtp_security", "NONE"),
                ("daily_cap", "100"),
                ("warmup_start", "50"),
                ("warmup_step", "10"),
                ("min_gap_seconds", "0"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        error_text(&body).contains("Mailboxes: your Free plan allows 1, and the workspace has 1"),
        "{body}"
    );
    // One sending domain on Free: a second is refused.
    let (status, body) = w
        .app
        .call::<AddDomain>(&w.admin, &[("domain", "second.example")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        error_text(&body)
            .contains("Sending domains: your Free plan allows 1, and the workspace has 1"),
        "{body}"
    );
    // Reaching each limit told the owner once.
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM notifications WHERE kind = 'USAGE_WARNING' AND body LIKE '%the whole of your plan%'"
        )
        .await,
        3
    );
    let (status, body) = w.app.call::<BillingOverview>(&w.admin, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let domains = usage_of(&body, "SendingDomains");
    assert_eq!(
        (domains["used"].clone(), domains["limit"].clone()),
        (json!(1), json!(1))
    );
}

/// An archived number takes no new send and frees its place under the plan: its lead
/// moves to another number at its next message. A number with messages still waiting
/// is not archived, and restoring one past the plan's limit is refused.
#[tokio::test]
async fn an_archived_number_sends_nothing_new_and_frees_its_place() {
    let w = world().await;
    sqlx::query("UPDATE subscriptions SET plan_id = 'free' WHERE tenant_id = $1")
        .bind(w.tenant)
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let first = w.phone("First", "arc-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Archive", "").await;
    w.step(seq, template, 0, None).await;
    w.step(seq, template, 60, None).await;
    let leads = w.leads(1, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, 1);
    let archive = |id: Uuid, archived: bool| {
        let app = w.app.clone();
        let admin = w.admin.clone();
        async move {
            app.call_json::<SetSenderArchived>(
                &admin,
                &json!({ "kind": "phone", "id": id, "archived": archived }),
            )
            .await
        }
    };
    let (status, body) = archive(first, true).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "its message is still queued: {body}"
    );
    assert_eq!(w.dispatch().await, 1);
    let (status, body) = archive(first, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The Free plan's one number is free again.
    let second = w.phone("Second", "arc-2", 100, 2).await;
    let (_, senders) = w.app.call_json::<GetSenders>(&w.admin, &json!({})).await;
    assert_eq!(senders["phones"][1]["archived"], json!(true), "{senders}");
    w.fast_forward().await;
    assert_eq!(w.schedule().await, 1);
    let from: Uuid = sqlx::query_scalar(
        "SELECT phone_id FROM messages WHERE direction = 'OUT' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    assert_eq!(from, second, "the lead moved to the number still in use");
    let (status, body) = archive(first, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_text(&body).contains("WhatsApp numbers"), "{body}");
    let (status, _) = w
        .app
        .call_json::<SetSenderArchived>(
            &w.admin,
            &json!({ "kind": "printer", "id": first, "archived": true }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A sending domain is archived once no mailbox on it is live, is then offered for no
/// new mailbox, and must be restored before one of its mailboxes is.
#[tokio::test]
async fn a_domain_is_archived_after_its_mailboxes_and_restored_before_them() {
    let w = world().await;
    let mailbox = w.mailbox().await;
    let domain: Uuid = sqlx::query_scalar("SELECT domain_id FROM email_accounts WHERE id = $1")
        .bind(mailbox)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    let archive = |kind: &'static str, id: Uuid, archived: bool| {
        let app = w.app.clone();
        let admin = w.admin.clone();
        async move {
            app.call_json::<SetSenderArchived>(
                &admin,
                &json!({ "kind": kind, "id": id, "archived": archived }),
            )
            .await
        }
    };
    let (status, body) = archive("domain", domain, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        error_text(&body).contains("A mailbox on this domain is not archived"),
        "{body}"
    );
    assert_eq!(archive("mailbox", mailbox, true).await.0, StatusCode::OK);
    let (status, body) = archive("domain", domain, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, senders) = w.app.call_json::<GetSenders>(&w.admin, &json!({})).await;
    assert_eq!(senders["domains"][0]["archived"], json!(true), "{senders}");

    // No new mailbox on it, and its mailbox waits for it.
    let (status, body) = w
        .save_mailbox(&domain.to_string(), "more@acme.test", "More")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_field(&body), Some("domain_id"));
    let (status, body) = archive("mailbox", mailbox, false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        error_text(&body).contains("acme.test, is archived"),
        "{body}"
    );

    // Another workspace cannot touch it; a restore lets the mailbox back.
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let (status, _) = other
        .app
        .call_json::<SetSenderArchived>(
            &other.admin,
            &json!({ "kind": "domain", "id": domain, "archived": false }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(archive("domain", domain, false).await.0, StatusCode::OK);
    assert_eq!(archive("mailbox", mailbox, false).await.0, StatusCode::OK);
    let audited: i64 = w
        .scalar_i64("SELECT count(*) FROM audit_logs WHERE entity_type = 'email_domains' AND action IN ('sender.archived', 'sender.restored')")
        .await;
    assert_eq!(audited, 2);
}
