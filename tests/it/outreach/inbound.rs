//! Inbound provider events: signed WhatsApp and email webhooks, applied once, and
//! email replies attributed by their signed reply address.

use super::*;

pub(super) fn meta_signature(secret: &str, body: &[u8]) -> String {
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
