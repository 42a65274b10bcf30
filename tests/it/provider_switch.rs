//! Provider switching (issue 14, DECISIONS §43) against real PostgreSQL, real HTTP
//! and the local peer, which serves both Meta's Cloud API and 360dialog's and records
//! which one each message came through: a switch while the dispatcher works loses and
//! doubles nothing; held messages wait for the swap; refused credentials change
//! nothing; one switch at a time; another tenant's number is not found.

use crate::common::*;
use crate::outreach::{world, World};

use app::outreach::api::{ListProviderSwitches, StartProviderSwitch};
use app::outreach::ssr::dispatch::dispatch_once;
use app::outreach::ssr::provider::{
    MediaFile, Providers, SendError, WaMessage, WabaNumber, WhatsAppApi,
};
use app::outreach::ssr::switch::switch_once;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const D360_KEY: &str = "d360-key-good";

/// A number with `n` template messages queued on it, and a 360dialog key for it on
/// the peer.
async fn queued(w: &World, provider_id: &str, n: usize) -> Uuid {
    let phone = w.phone("P", provider_id, 1000, 1).await;
    w.peer.add_dialog360_key(provider_id, D360_KEY);
    let template = w.wa_template("Intro", "Hi {{first_name}}").await;
    let seq = w.sequence("Switch", "").await;
    w.step(seq, template, 0, None).await;
    let leads = w.leads(n, true, false).await;
    w.enrol(seq, &leads).await;
    assert_eq!(w.schedule().await, n);
    phone
}

async fn start(
    w: &World,
    client: &reqwest::Client,
    phone: Uuid,
    to: &str,
    credential: &str,
) -> (StatusCode, Value) {
    w.app
        .call::<StartProviderSwitch>(
            client,
            &[
                ("phone_id", &phone.to_string()),
                ("to_provider", to),
                ("credential", credential),
            ],
        )
        .await
}

/// Runs the switch worker until the switch is no longer open; its status.
async fn run_switch(w: &World, switch: &str) -> String {
    for _ in 0..400 {
        switch_once(&w.app.pools.app, &w.providers, &w.config)
            .await
            .unwrap();
        let status: String =
            sqlx::query_scalar("SELECT status FROM provider_migrations WHERE id = $1::uuid")
                .bind(switch)
                .fetch_one(&w.app.pools.owner)
                .await
                .unwrap();
        if status == "COMPLETED" || status == "FAILED" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the switch did not finish");
}

async fn number_state(w: &World, phone: Uuid) -> (String, String) {
    sqlx::query_as("SELECT provider, status FROM wa_phone_numbers WHERE id = $1")
        .bind(phone)
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap()
}

fn via(m: &peer::Received) -> &'static str {
    match m.provider {
        Some(peer::WaApi::Dialog360) => "DIALOG360",
        Some(peer::WaApi::MetaCloud) => "META_CLOUD",
        None => "none",
    }
}

/// The peer's providers, each send taking `delay` (a dispatcher at work for a while).
struct Slow(Arc<dyn WhatsAppApi>, Duration);

#[async_trait::async_trait]
impl WhatsAppApi for Slow {
    async fn send(&self, message: &WaMessage) -> Result<String, SendError> {
        tokio::time::sleep(self.1).await;
        self.0.send(message).await
    }
    async fn waba_numbers(&self, waba_id: &str, token: &str) -> Result<Vec<WabaNumber>, SendError> {
        self.0.waba_numbers(waba_id, token).await
    }
    async fn verify(&self, waba_id: &str, phone: &str, credential: &str) -> Result<(), SendError> {
        self.0.verify(waba_id, phone, credential).await
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

/// A send that never answers and never reaches the provider: a dispatcher stuck
/// mid-pass, holding its leases.
struct Stuck;

#[async_trait::async_trait]
impl WhatsAppApi for Stuck {
    async fn send(&self, _: &WaMessage) -> Result<String, SendError> {
        std::future::pending().await
    }
    async fn waba_numbers(&self, _: &str, _: &str) -> Result<Vec<WabaNumber>, SendError> {
        std::future::pending().await
    }
    async fn upload_media(&self, _: &str, _: &str, _: &MediaFile<'_>) -> Result<String, SendError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_switch_while_the_dispatcher_works_loses_and_doubles_nothing() {
    const N: usize = 40;
    let w = world().await;
    let phone = queued(&w, "sw-load", N).await;

    // A dispatcher at work: two messages a pass, 80 ms a send, both providers slow.
    let slow = Providers {
        whatsapp: Arc::new(Slow(
            w.providers.whatsapp.clone(),
            Duration::from_millis(80),
        )),
        dialog360: Arc::new(Slow(
            w.providers.dialog360.clone(),
            Duration::from_millis(80),
        )),
        email: w.providers.email.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let dispatcher = tokio::spawn({
        let (pool, config, stop) = (w.app.pools.app.clone(), w.config.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let r = dispatch_once(&pool, &slow, &config, 2).await.unwrap();
                if r.claimed == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    });
    for _ in 0..200 {
        if w.peer.messages().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = start(&w, &w.admin, phone, "DIALOG360", D360_KEY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let switch = body.as_str().unwrap().to_string();
    assert_eq!(run_switch(&w, &switch).await, "COMPLETED");

    for _ in 0..400 {
        if w.scalar_i64("SELECT count(*) FROM outbox").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.store(true, Ordering::Relaxed);
    dispatcher.await.unwrap();

    let received = w.peer.messages();
    let keys: HashSet<_> = received
        .iter()
        .filter_map(|m| m.idempotency_key.clone())
        .collect();
    assert_eq!(
        received.len(),
        N,
        "every message reached a provider, none twice"
    );
    assert_eq!(keys.len(), N, "no idempotency key went out twice");
    assert!(received.iter().all(|m| m.times_received == 1));
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE status = 'SENT' AND direction = 'OUT'")
            .await,
        N as i64
    );
    let completed: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT completed_at FROM provider_migrations WHERE id = $1::uuid")
            .bind(&switch)
            .fetch_one(&w.app.pools.owner)
            .await
            .unwrap();
    let after: Vec<_> = received
        .iter()
        .filter(|m| m.received_at > completed)
        .collect();
    assert!(
        !after.is_empty(),
        "the switch finished before the queue was empty"
    );
    assert!(
        after.iter().all(|m| via(m) == "DIALOG360"),
        "sent after COMPLETED through 360dialog"
    );
    let by_meta = received.iter().filter(|m| via(m) == "META_CLOUD").count();
    assert!(by_meta >= 4, "the first ones went through Meta ({by_meta})");
    assert!(received
        .iter()
        .filter(|m| via(m) == "META_CLOUD")
        .all(|m| m.received_at <= completed));
    // Each message's provider id is the one the provider that sent it gave.
    for m in &received {
        assert_eq!(
            w.scalar_i64(&format!(
                "SELECT count(*) FROM messages WHERE provider_message_id = '{}'",
                m.id
            ))
            .await,
            1
        );
    }
    assert_eq!(
        number_state(&w, phone).await,
        ("DIALOG360".into(), "ACTIVE".into())
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM provider_migrations WHERE backup_data IS NOT NULL")
            .await,
        1,
        "the old provider's settings are kept"
    );

    // The history tells the steps, in order.
    let (status, list) = w
        .app
        .call_json::<ListProviderSwitches>(&w.admin, &json!({ "phone_id": phone }))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["status"], "COMPLETED");
    let steps: Vec<&str> = list[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "OK")
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["REQUEST", "VERIFY", "HOLD", "DRAIN", "SWAP"]);
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM audit_logs WHERE action IN ('phone.provider_switch_started', 'phone.switch_held', 'phone.provider_switched')"
        )
        .await,
        3
    );

    // Webhooks still find the number: same phone_number_id and WABA behind 360dialog.
    let last = after.last().unwrap();
    assert_eq!(
        w.peer.whatsapp_status(&last.id, "delivered").await.unwrap(),
        200
    );
    assert_eq!(
        w.scalar_i64(&format!("SELECT count(*) FROM messages WHERE provider_message_id = '{}' AND status = 'DELIVERED'", last.id)).await,
        1
    );
    assert_eq!(
        w.peer
            .whatsapp_reply(&last.id, "Tell me more")
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE direction = 'IN' ")
            .await,
        1
    );
}

#[tokio::test]
async fn held_messages_wait_for_sends_in_flight_and_leave_through_the_new_provider() {
    let w = world().await;
    let phone = queued(&w, "sw-hold", 3).await;
    // A dispatcher stuck mid-send holds all three leases.
    let stuck = Providers {
        whatsapp: Arc::new(Stuck),
        dialog360: Arc::new(Stuck),
        email: w.providers.email.clone(),
    };
    let worker = tokio::spawn({
        let (pool, config) = (w.app.pools.app.clone(), w.config.clone());
        async move { dispatch_once(&pool, &stuck, &config, 200).await }
    });
    for _ in 0..100 {
        if w.scalar_i64("SELECT count(*) FROM outbox WHERE leased_until > now()")
            .await
            == 3
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = start(&w, &w.admin, phone, "DIALOG360", D360_KEY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..3 {
        switch_once(&w.app.pools.app, &w.providers, &w.config)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    // Verified and held, waiting for the three sends in flight.
    assert_eq!(
        number_state(&w, phone).await,
        ("META_CLOUD".into(), "MIGRATING".into())
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM provider_migrations WHERE status = 'IN_PROGRESS' AND step = 'DRAIN' AND steps @> '[{\"step\": \"DRAIN\", \"outcome\": \"WAITING\"}]'").await,
        1
    );
    // The stuck dispatcher dies; its leases run out. Nothing claims the held rows.
    worker.abort();
    let _ = worker.await;
    sqlx::query("UPDATE outbox SET leased_until = now() - interval '1 second'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    assert_eq!(
        w.dispatch().await,
        0,
        "a MIGRATING number's messages are not claimed"
    );
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM outbox WHERE leased_until IS NULL OR leased_until < now()"
        )
        .await,
        3
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE status = 'QUEUED'")
            .await,
        3
    );
    assert_eq!(run_switch(&w, body.as_str().unwrap()).await, "COMPLETED");
    assert_eq!(w.dispatch().await, 3);
    let received = w.peer.messages();
    assert_eq!(received.len(), 3);
    assert!(received
        .iter()
        .all(|m| via(m) == "DIALOG360" && m.times_received == 1));
    // The try the stuck dispatcher counted stands; the held wait counted none.
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM messages WHERE status = 'SENT' AND attempts = 2")
            .await,
        3
    );
}

#[tokio::test]
async fn refused_credentials_fail_the_switch_and_change_nothing() {
    let w = world().await;
    let phone = queued(&w, "sw-bad", 6).await;
    let (status, body) = start(&w, &w.admin, phone, "DIALOG360", "d360-wrong").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(run_switch(&w, body.as_str().unwrap()).await, "FAILED");
    assert_eq!(
        number_state(&w, phone).await,
        ("META_CLOUD".into(), "ACTIVE".into())
    );
    let (_, list) = w
        .app
        .call_json::<ListProviderSwitches>(&w.admin, &json!({ "phone_id": phone }))
        .await;
    assert_eq!(list[0]["status"], "FAILED");
    assert!(
        list[0]["error"].as_str().unwrap().contains("refused"),
        "{list}"
    );
    let last = list[0]["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["step"].as_str(), last["outcome"].as_str()),
        (Some("VERIFY"), Some("FAILED"))
    );
    // The queue is untouched and goes out through Meta.
    assert_eq!(w.dispatch().await, 6);
    let received = w.peer.messages();
    assert_eq!(received.len(), 6);
    assert!(received.iter().all(|m| via(m) == "META_CLOUD"));
    assert_eq!(
        w.scalar_i64(
            "SELECT count(*) FROM audit_logs WHERE action = 'phone.provider_switch_failed'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn one_switch_at_a_time_with_field_errors_and_a_way_back() {
    let w = world().await;
    let phone = queued(&w, "sw-two", 1).await;
    for (to, credential, field) in [
        ("TWILIO", D360_KEY, "to_provider"),
        ("META_CLOUD", "token-1", "to_provider"),
        ("DIALOG360", "   ", "credential"),
    ] {
        let (status, body) = start(&w, &w.admin, phone, to, credential).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_field(&body), Some(field), "{body}");
    }
    let (status, first) = start(&w, &w.admin, phone, "DIALOG360", D360_KEY).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = start(&w, &w.admin, phone, "DIALOG360", D360_KEY).await;
    assert_eq!(status, StatusCode::CONFLICT, "{second}");
    assert!(
        error_text(&second).contains("already under way"),
        "{second}"
    );
    assert_eq!(run_switch(&w, first.as_str().unwrap()).await, "COMPLETED");
    // Back to Meta with its token, once the first has finished.
    let (status, back) = start(&w, &w.admin, phone, "META_CLOUD", "token-1").await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(run_switch(&w, back.as_str().unwrap()).await, "COMPLETED");
    assert_eq!(
        number_state(&w, phone).await,
        ("META_CLOUD".into(), "ACTIVE".into())
    );
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM wa_phone_numbers WHERE d360_api_key IS NULL")
            .await,
        1
    );
    assert_eq!(w.dispatch().await, 1);
    assert_eq!(via(&w.peer.messages()[0]), "META_CLOUD");
}

#[tokio::test]
async fn another_tenants_number_is_not_found() {
    let w = world().await;
    let phone = queued(&w, "sw-tenant", 1).await;
    let bea = w.other_tenant("bea@example.com", "Beta").await;
    let (status, body) = start(&bea, &bea.admin, phone, "DIALOG360", D360_KEY).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = bea
        .app
        .call_json::<ListProviderSwitches>(&bea.admin, &json!({ "phone_id": phone }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM provider_migrations")
            .await,
        0
    );
    assert_eq!(
        number_state(&w, phone).await,
        ("META_CLOUD".into(), "ACTIVE".into())
    );
}
