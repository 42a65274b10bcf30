//! The dispatcher under failure: killed mid-send, a silent provider, backlogs, slow
//! passes renewing leases, and retries with the metrics they count.

use super::*;

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
    let sends = |result: &str| {
        let line =
            format!("leadline_outreach_sends_total{{channel=\"WHATSAPP\",result=\"{result}\"}} ");
        counter(&leadline::metrics::render(0, 0), &line)
    };
    let (retries, failures) = (sends("retry"), sends("failed"));
    w.peer.fail_next(1, peer::Failure::Transient);
    assert_eq!(w.dispatch().await, 0);
    let (status, attempts): (String, i32) = sqlx::query_as("SELECT status, attempts FROM messages")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("QUEUED", 1));
    // Other tests in this process send too: the counters only ever go up.
    assert!(sends("retry") > retries);
    // The worker's gauges read the outbox across tenants, as the runtime role.
    let (depth, lag): (i64, f64) = sqlx::query_as("SELECT depth, lag_seconds FROM outbox_stats()")
        .fetch_one(&w.app.pools.app)
        .await
        .unwrap();
    assert_eq!(
        (depth, lag),
        (1, 0.0),
        "one message waits its backoff, none is due"
    );
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
    assert!(sends("failed") > failures);
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

/// A counter's value in a scrape, 0 before it was first counted.
fn counter(scrape: &str, line_start: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(line_start))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// A workspace whose dunning ran out sends nothing: its enrolments take no step and its
/// queued messages wait in the outbox. Once paid, both go on, and nothing was lost.
#[tokio::test]
async fn an_unpaid_workspace_sends_nothing_until_paid_and_loses_nothing() {
    let w = world().await;
    w.phone("P", "unpaid-1", 100, 1).await;
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Unpaid", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(3, true, false).await;
    w.enrol(seq, &leads).await;
    let subscription = |status: &'static str| {
        let (pool, tenant) = (w.app.pools.owner.clone(), w.tenant);
        async move {
            sqlx::query("UPDATE subscriptions SET status = $2 WHERE tenant_id = $1")
                .bind(tenant)
                .bind(status)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    subscription("UNPAID").await;
    assert_eq!(w.schedule().await, 0, "no enrolment takes a step");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM enrollments WHERE status = 'ACTIVE'")
            .await,
        3
    );
    subscription("ACTIVE").await;
    assert_eq!(w.schedule().await, 3);
    subscription("UNPAID").await;
    assert_eq!(w.dispatch().await, 0, "queued messages wait");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE status = 'QUEUED'")
            .await,
        3
    );
    assert!(w.peer.messages().is_empty());
    subscription("ACTIVE").await;
    assert_eq!(w.dispatch().await, 3);
    assert_eq!(w.peer.messages().len(), 3);
}

#[tokio::test]
async fn emails_and_the_unsubscribe_page_name_leadline_unless_the_plan_has_white_label() {
    let w = world().await;
    w.mailbox().await;
    let leads = w.leads(2, false, true).await;
    let send = |lead: Uuid, subject: &'static str| {
        let w = &w;
        async move {
            let (status, body) = w
                .app
                .call::<SendMessage>(
                    &w.admin,
                    &[
                        ("lead_id", &lead.to_string()),
                        ("channel", "EMAIL"),
                        ("subject", subject),
                        ("body", "Hello from Acme"),
                    ],
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(w.dispatch().await, 1);
            let mail = w
                .peer
                .messages()
                .into_iter()
                .find(|m| m.subject.as_deref() == Some(subject))
                .unwrap();
            let unsubscribe = mail
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("List-Unsubscribe"))
                .map(|(_, v)| v.trim_matches(|c| c == '<' || c == '>').to_string())
                .unwrap();
            let page = reqwest::get(&unsubscribe)
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (mail, page, unsubscribe)
        }
    };

    // Starter has no white label: the email and the page say who sent it through whom.
    sqlx::query("UPDATE subscriptions SET plan_id = 'starter'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let (mail, page, _) = send(leads[0], "On Starter").await;
    assert!(mail.body.ends_with("Sent with Leadline"), "{}", mail.body);
    assert!(mail.html.unwrap().contains("Sent with Leadline"));
    assert!(
        page.contains("Stop receiving emails from <bdi>Acme</bdi>?"),
        "{page}"
    );
    assert!(page.contains("Sent with Leadline"), "{page}");

    // Pro has it: neither names us.
    sqlx::query("UPDATE subscriptions SET plan_id = 'pro'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let (mail, page, unsubscribe) = send(leads[1], "On Pro").await;
    assert!(!mail.body.contains("Leadline"), "{}", mail.body);
    assert!(!mail.html.unwrap().contains("Leadline"));
    assert!(
        page.contains("Stop receiving emails from <bdi>Acme</bdi>?"),
        "{page}"
    );
    assert!(!page.contains("Leadline"), "{page}");

    // The lead's browser language decides, else the workspace's.
    let in_language = |accept: Option<&'static str>, post: bool| {
        let url = unsubscribe.clone();
        async move {
            let client = reqwest::Client::new();
            let request = if post {
                client.post(&url)
            } else {
                client.get(&url)
            };
            let request = match accept {
                Some(accept) => request.header("Accept-Language", accept),
                None => request,
            };
            request.send().await.unwrap().text().await.unwrap()
        }
    };
    let arabic = in_language(Some("ar-EG,ar;q=0.9,en;q=0.5"), false).await;
    assert!(arabic.contains(r#"<html lang="ar" dir="rtl">"#), "{arabic}");
    assert!(
        arabic.contains("هل تريد التوقف عن تلقي رسائل البريد من <bdi>Acme</bdi>؟"),
        "{arabic}"
    );
    assert!(arabic.contains(">ألغِ الاشتراك</button>"), "{arabic}");
    sqlx::query("UPDATE tenants SET locale = 'ar'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    let fallback = in_language(Some("de-DE,de;q=0.9"), false).await;
    assert!(fallback.contains(r#"lang="ar""#), "{fallback}");
    let done = in_language(Some("pt-BR"), true).await;
    assert!(done.contains(r#"<html lang="pt-BR" dir="ltr">"#), "{done}");
    assert!(
        done.contains("Você não receberá mais e-mails de <bdi>Acme</bdi>."),
        "{done}"
    );
    let forged = reqwest::Client::new()
        .get(format!("{}x", unsubscribe))
        .header("Accept-Language", "ro")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    assert!(forged
        .text()
        .await
        .unwrap()
        .contains("Acest link de dezabonare nu este valid."));
}
