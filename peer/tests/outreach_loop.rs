//! The whole loop against a stand-in for our server: sends in, signed
//! webhooks out, over real sockets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use peer::{Channel, Failure, Peer, PeerConfig, WaNumber};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const APP_SECRET: &str = "test-app-secret";
// base64 of "peer-test-email-webhook-key-0001"
const EMAIL_SECRET: &str = "whsec_cGVlci10ZXN0LWVtYWlsLXdlYmhvb2sta2V5LTAwMDE=";

/// One request the stand-in server received.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

type Hits = Arc<Mutex<Vec<Hit>>>;

async fn record(
    State(hits): State<Hits>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    hits.lock().unwrap().push(Hit {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    StatusCode::OK
}

async fn click(state: State<Hits>, uri: axum::http::Uri, headers: HeaderMap) -> impl IntoResponse {
    record(state, uri, headers, Bytes::new()).await;
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, "https://example.com/landing")],
    )
}

/// Starts the stand-in for our server and returns its address.
async fn receiver(hits: Hits) -> SocketAddr {
    let router = Router::new()
        .route("/webhooks/whatsapp", post(record))
        .route("/webhooks/email", post(record))
        .route("/t/o/{token}", get(record))
        .route("/t/c/{token}", get(click))
        .with_state(hits);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn hmac(key: &str, message: &[u8]) -> Vec<u8> {
    hmac_bytes(key.as_bytes(), message)
}

fn hmac_bytes(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn last_hit(hits: &Hits, path: &str) -> Hit {
    hits.lock()
        .unwrap()
        .iter()
        .rev()
        .find(|hit| hit.path == path)
        .cloned()
        .unwrap_or_else(|| panic!("nothing reached {path}"))
}

fn header<'a>(hit: &'a Hit, name: &str) -> &'a str {
    hit.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Checks X-Hub-Signature-256 and returns the `value` of the only change.
fn verified_whatsapp_value(hit: &Hit) -> Value {
    let expected = format!("sha256={}", hex::encode(hmac(APP_SECRET, &hit.body)));
    assert_eq!(header(hit, "x-hub-signature-256"), expected);
    assert_eq!(header(hit, "content-type"), "application/json");
    let body: Value = serde_json::from_slice(&hit.body).unwrap();
    assert_eq!(body["object"], "whatsapp_business_account");
    assert_eq!(body["entry"][0]["id"], "55501");
    assert_eq!(body["entry"][0]["changes"][0]["field"], "messages");
    let value = body["entry"][0]["changes"][0]["value"].clone();
    assert_eq!(value["messaging_product"], "whatsapp");
    assert_eq!(value["metadata"]["phone_number_id"], "1234567890");
    value
}

struct Smtp {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Smtp {
    async fn connect(addr: SocketAddr) -> Smtp {
        let (read, writer) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut smtp = Smtp {
            reader: BufReader::new(read),
            writer,
        };
        assert_eq!(smtp.reply().await, ["220 peer ESMTP"]);
        smtp
    }

    /// Reads one (possibly multi-line) reply.
    async fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.unwrap();
            assert!(
                line.ends_with("\r\n"),
                "reply line not ended by CRLF: {line:?}"
            );
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    /// Sends a command and returns the reply code.
    async fn code(&mut self, command: &str) -> String {
        self.command(command).await[0][..3].to_owned()
    }

    async fn command(&mut self, command: &str) -> Vec<String> {
        self.writer
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }
}

const EMAIL: &str = "From: Sales <sales@leadline.test>\r\n\
Reply-To: \"Sales\" <sales+r-tag@leadline.test>\r\n\
To: Lead <lead@example.com>\r\n\
Subject: =?UTF-8?B?2LnYsdi2INiu2KfYtQ==?=\r\n\
Message-ID: <outreach-1@leadline.test>\r\n\
X-Long: first\r\n\
\tsecond\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n\
\r\n\
--=_b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Hello Ahmed,=20\r\n\
..this line started with a dot\r\n\
caf=C3=A9\r\n\
--=_b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
<p>Hello <a href=\"/t/c/link-token\">see</a></p>\r\n\
<img src=\"/t/o/pixel-token.gif\" width=\"1\" height=\"1\" alt=\"\">\r\n\
--=_b1--\r\n\
.";

#[tokio::test]
async fn the_whole_outreach_loop() {
    let hits: Hits = Arc::default();
    let server = receiver(Arc::clone(&hits)).await;
    let peer = Peer::start(PeerConfig {
        whatsapp_webhook_url: format!("http://{server}/webhooks/whatsapp"),
        whatsapp_app_secret: APP_SECRET.to_owned(),
        email_webhook_url: format!("http://{server}/webhooks/email"),
        email_webhook_secret: EMAIL_SECRET.to_owned(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        smtp_addr: "127.0.0.1:0".parse().unwrap(),
        whatsapp_numbers: vec![WaNumber {
            waba_id: "55501".to_owned(),
            phone_number_id: "1234567890".to_owned(),
            display_phone_number: "+20 155 000 0101".to_owned(),
            verified_name: "Acme".to_owned(),
            access_token: "test-token".to_owned(),
        }],
    })
    .await
    .unwrap();
    let base = peer.http_base();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let send_url = format!("{base}/v21.0/1234567890/messages");
    let send = |body: Value| {
        client
            .post(&send_url)
            .bearer_auth("token")
            .json(&body)
            .send()
    };
    let text = |body: &str, key: &str| {
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+20 100 123 4567",
            "type": "text",
            "text": { "body": body },
            "biz_opaque_callback_data": key,
        })
    };

    // --- WhatsApp send endpoint ---
    let unauthorized = client
        .post(&send_url)
        .json(&text("hi", "k0"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let error: Value = unauthorized.json().await.unwrap();
    assert_eq!(error["error"]["code"], 190);
    assert_eq!(error["error"]["type"], "OAuthException");
    assert!(error["error"]["fbtrace_id"].is_string());

    let bad = send(json!({ "messaging_product": "sms", "to": "+1", "text": { "body": "x" } }))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"]["code"], 100);
    let too_long = send(text(&"x".repeat(4097), "k0")).await.unwrap();
    assert_eq!(too_long.status(), 400);

    let sent = send(text("<script>alert(1)</script> Hello", "key-1"))
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let sent: Value = sent.json().await.unwrap();
    assert_eq!(sent["messaging_product"], "whatsapp");
    assert_eq!(sent["contacts"][0]["input"], "+20 100 123 4567");
    assert_eq!(sent["contacts"][0]["wa_id"], "201001234567");
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_owned();
    assert!(wamid.starts_with("wamid."), "{wamid}");

    let again: Value = send(text("<script>alert(1)</script> Hello", "key-1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["messages"][0]["id"], wamid.as_str());
    let messages = peer.messages();
    assert_eq!(messages.len(), 1, "a repeat must not be stored twice");
    assert_eq!(messages[0].times_received, 2);
    assert_eq!(messages[0].channel, Channel::WhatsApp);
    assert_eq!(messages[0].from, "1234567890");
    assert_eq!(messages[0].to, "+20 100 123 4567");
    assert_eq!(messages[0].idempotency_key.as_deref(), Some("key-1"));

    peer.fail_next(1, Failure::Transient);
    let failed = send(text("retry me", "key-2")).await.unwrap();
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.json::<Value>().await.unwrap()["error"]["code"], 2);
    assert_eq!(peer.messages().len(), 1, "a failed send stores nothing");
    assert_eq!(send(text("retry me", "key-2")).await.unwrap().status(), 200);
    peer.fail_next(1, Failure::Permanent);
    let failed = send(text("never", "key-3")).await.unwrap();
    assert_eq!(failed.status(), 400);
    assert_eq!(
        failed.json::<Value>().await.unwrap()["error"]["code"],
        131026
    );
    assert_eq!(send(text("now", "key-3")).await.unwrap().status(), 200);
    assert_eq!(peer.messages().len(), 3);

    // --- A WABA's numbers: listed only for a token that manages the WABA ---
    let list = |waba: &str, token: Option<&str>| {
        let request = client.get(format!("{base}/v21.0/{waba}/phone_numbers"));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    let listed = list("55501", Some("test-token")).await.unwrap();
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], "1234567890");
    assert_eq!(
        listed["data"][0]["display_phone_number"],
        "+20 155 000 0101"
    );
    assert_eq!(listed["data"][0]["verified_name"], "Acme");
    assert_eq!(list("55501", None).await.unwrap().status(), 401);
    for (waba, token) in [("55501", "other-token"), ("55502", "test-token")] {
        let refused = list(waba, Some(token)).await.unwrap();
        assert_eq!(refused.status(), 400, "{waba} {token}");
        assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], 100);
    }
    let added = client
        .post(format!("{base}/_peer/whatsapp/numbers"))
        .json(&json!({
            "waba_id": "55502",
            "phone_number_id": "222",
            "display_phone_number": "+20 155 000 0202",
            "verified_name": "Other",
            "access_token": "other-token",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 204);
    let listed: Value = list("55502", Some("other-token"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], "222");

    // --- WhatsApp webhooks ---
    assert_eq!(peer.whatsapp_status(&wamid, "delivered").await, Ok(200));
    let value = verified_whatsapp_value(&last_hit(&hits, "/webhooks/whatsapp"));
    let status = &value["statuses"][0];
    assert_eq!(status["id"], wamid.as_str());
    assert_eq!(status["status"], "delivered");
    assert_eq!(status["recipient_id"], "201001234567");
    assert_eq!(status["biz_opaque_callback_data"], "key-1");
    assert!(
        status["timestamp"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 1_600_000_000
    );

    assert_eq!(peer.whatsapp_status(&wamid, "failed").await, Ok(200));
    let value = verified_whatsapp_value(&last_hit(&hits, "/webhooks/whatsapp"));
    assert_eq!(value["statuses"][0]["errors"][0]["code"], 131026);

    assert_eq!(peer.whatsapp_reply(&wamid, "Tell me more").await, Ok(200));
    let value = verified_whatsapp_value(&last_hit(&hits, "/webhooks/whatsapp"));
    assert_eq!(value["contacts"][0]["wa_id"], "201001234567");
    let inbound = &value["messages"][0];
    assert_eq!(inbound["from"], "201001234567");
    assert_eq!(inbound["type"], "text");
    assert_eq!(inbound["text"]["body"], "Tell me more");
    assert_eq!(inbound["context"]["id"], wamid.as_str());
    assert!(inbound["id"].as_str().unwrap().starts_with("wamid.in."));
    assert!(peer.whatsapp_status("wamid.unknown", "read").await.is_err());
    assert!(peer.whatsapp_status(&wamid, "opened").await.is_err());

    // --- SMTP ---
    let mut smtp = Smtp::connect(peer.smtp_addr()).await;
    let ehlo = smtp.command("EHLO client.test").await;
    assert_eq!(
        ehlo,
        [
            "250-peer",
            "250-AUTH PLAIN LOGIN",
            "250-8BITMIME",
            "250-SMTPUTF8",
            "250 SIZE 26214400"
        ]
    );
    assert_eq!(smtp.code("RCPT TO:<lead@example.com>").await, "503");
    let credentials = base64::engine::general_purpose::STANDARD.encode("\0user\0secret");
    assert_eq!(
        smtp.command(&format!("AUTH PLAIN {credentials}")).await,
        ["235 2.7.0 Authentication successful"]
    );
    assert_eq!(
        smtp.code("MAIL FROM:<sales@leadline.test> BODY=8BITMIME SMTPUTF8")
            .await,
        "250"
    );
    assert_eq!(smtp.code("RCPT TO:<lead@example.com>").await, "250");
    assert_eq!(smtp.code("RCPT TO:<cc@example.com>").await, "250");
    assert_eq!(smtp.code("DATA").await, "354");
    let queued = smtp.command(EMAIL).await;
    assert_eq!(queued, ["250 2.0.0 Ok: queued as outreach-1@leadline.test"]);
    // The same Message-ID again, as a retrying sender would send it.
    smtp.command("MAIL FROM:<sales@leadline.test>").await;
    smtp.command("RCPT TO:<lead@example.com>").await;
    smtp.command("DATA").await;
    assert_eq!(smtp.command(EMAIL).await, queued);
    assert_eq!(smtp.code("HELP").await, "502");
    assert_eq!(smtp.command("QUIT").await, ["221 2.0.0 Bye"]);

    let messages = peer.messages();
    assert_eq!(messages.len(), 4);
    let email = messages.last().unwrap();
    assert_eq!(email.channel, Channel::Email);
    assert_eq!(email.id, "outreach-1@leadline.test");
    assert_eq!(
        email.idempotency_key.as_deref(),
        Some("outreach-1@leadline.test")
    );
    assert_eq!(email.times_received, 2);
    assert_eq!(email.from, "sales@leadline.test");
    assert_eq!(email.to, "lead@example.com");
    assert_eq!(email.subject.as_deref(), Some("عرض خاص"));
    assert_eq!(
        email.body,
        "Hello Ahmed, \n.this line started with a dot\ncafé"
    );
    let html = email.html.as_deref().unwrap();
    assert!(html.contains("<img src=\"/t/o/pixel-token.gif\""), "{html}");
    assert!(email
        .headers
        .contains(&("X-Long".to_owned(), "first\tsecond".to_owned())));

    // --- Email events ---
    assert_eq!(
        peer.email_event(&email.id, "reply", "Sounds good").await,
        Ok(200)
    );
    let hit = last_hit(&hits, "/webhooks/email");
    let id = header(&hit, "webhook-id");
    let timestamp = header(&hit, "webhook-timestamp");
    let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", &hit.body].concat();
    let expected = format!("v1,{}", {
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = b64.decode(&EMAIL_SECRET["whsec_".len()..]).unwrap();
        b64.encode(hmac_bytes(&key, &signed))
    });
    assert_eq!(header(&hit, "webhook-signature"), expected);
    let event: Value = serde_json::from_slice(&hit.body).unwrap();
    assert_eq!(event["id"], id);
    assert!(id.starts_with("evt_"));
    assert_eq!(event["type"], "reply");
    assert_eq!(event["message_id"], "outreach-1@leadline.test");
    assert_eq!(event["from"], "lead@example.com");
    assert_eq!(
        event["to"], "sales+r-tag@leadline.test",
        "replies go to Reply-To"
    );
    assert_eq!(event["subject"], "Re: عرض خاص");
    assert_eq!(event["text"], "Sounds good");
    assert_eq!(event["timestamp"].to_string(), timestamp);

    assert_eq!(peer.email_open(&email.id).await, Ok(200));
    assert_eq!(
        last_hit(&hits, "/t/o/pixel-token.gif").path,
        "/t/o/pixel-token.gif"
    );
    assert_eq!(peer.email_click(&email.id).await, Ok(302));
    last_hit(&hits, "/t/c/link-token");
    assert!(peer.email_open(&wamid).await.is_err());

    // --- Control endpoints and the dev page ---
    let form = client
        .post(format!("{base}/_peer/messages/{wamid}/read"))
        .form(&[("text", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303);
    assert_eq!(form.headers()["location"], "/");
    let bounce = client
        .post(format!(
            "{base}/_peer/messages/outreach-1@leadline.test/bounce"
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(bounce.status(), 200);
    assert_eq!(bounce.json::<Value>().await.unwrap()["status"], 200);
    let event: Value = serde_json::from_slice(&last_hit(&hits, "/webhooks/email").body).unwrap();
    assert_eq!(event["type"], "bounce");
    let unknown = client
        .post(format!("{base}/_peer/messages/nope/read"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let wrong = client
        .post(format!("{base}/_peer/messages/{wamid}/open"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("not valid"));

    let listed: Value = client
        .get(format!("{base}/_peer/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert_eq!(listed[0]["channel"], "WHATSAPP");
    assert_eq!(listed[3]["channel"], "EMAIL");
    assert_eq!(
        listed[0]["events"],
        json!(["delivered", "failed", "reply", "read"])
    );
    assert_eq!(
        listed[3]["events"],
        json!(["reply", "open", "click", "bounce"])
    );

    let page = client.get(&base).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<title>Leadline provider peer</title>"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; Hello"));
    assert!(!page.contains("<script>"));
    assert!(page.contains(&format!("data-message-id=\"{wamid}\"")));
    assert!(page.contains("data-to=\"lead@example.com\""));
}

#[tokio::test]
async fn dropping_the_last_handle_stops_both_listeners() {
    let config = PeerConfig {
        whatsapp_webhook_url: "http://127.0.0.1:9/webhooks/whatsapp".to_owned(),
        whatsapp_app_secret: APP_SECRET.to_owned(),
        email_webhook_url: "http://127.0.0.1:9/webhooks/email".to_owned(),
        email_webhook_secret: EMAIL_SECRET.to_owned(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        smtp_addr: "127.0.0.1:0".parse().unwrap(),
        whatsapp_numbers: Vec::new(),
    };
    let peer = Peer::start(config).await.unwrap();
    let smtp = peer.smtp_addr();
    let http: SocketAddr = peer.http_base()["http://".len()..].parse().unwrap();
    let clone = peer.clone();
    drop(peer);
    assert!(
        TcpStream::connect(smtp).await.is_ok(),
        "a clone still holds it"
    );
    drop(clone);
    for addr in [smtp, http] {
        let mut closed = false;
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(closed, "{addr} still accepts connections");
    }
}
