//! The tenant's own LLM for uncertain replies, against the peer's OpenAI-compatible
//! stand-in: what is sent, what comes back and where it shows, the key sealed at rest,
//! failures and timeouts falling back to the built-in verdict, and the daily budget.

use super::{contacted, reply};
use crate::outreach::{world, World};
use app::review::api::ReviewItem;
use app::review::llm::{RemoveReviewLlm, ReviewLlm, SaveReviewLlm};
use app::review::ssr::refine::{refine_due, OpenAiChat};
use peer::LlmAnswer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// German is in none of the built-in lexicons: the classifier says OTHER at 20 %.
const UNCERTAIN: &str = "Bitte rufen Sie mich morgen an";
const KEY: &str = "sk-test-4f9c2a";

fn settings(w: &World, budget: &str) -> Value {
    json!({
        "enabled": true, "url": w.peer.llm_url(), "model": "gpt-4o-mini", "api_key": KEY,
        "threshold": "60", "timeout_s": "1", "daily_budget": budget,
    })
}

async fn refine(w: &World) -> usize {
    let api = OpenAiChat {
        egress: mail::Egress::AnyAddress,
    };
    refine_due(
        &app::db::Db::new(w.app.pools.app.clone()),
        &w.config,
        &api,
        8,
    )
    .await
    .unwrap()
}

/// The reply's refinement: status, attempts, calls made and the error.
async fn call(w: &World, lead: Uuid) -> (String, i32, i32, Option<String>) {
    sqlx::query_as(
        "SELECT c.status, c.attempts, c.called, c.error FROM review_llm_calls c
           JOIN messages m ON m.id = c.message_id WHERE m.lead_id = $1",
    )
    .bind(lead)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap()
}

/// Brings a waiting retry forward, as the clock would.
async fn due_now(w: &World) {
    sqlx::query("UPDATE review_llm_calls SET next_attempt_at = now() WHERE status = 'PENDING'")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
}

async fn verdict_of(
    w: &World,
    lead: Uuid,
) -> (String, Option<String>, Option<String>, Option<String>) {
    sqlx::query_as(
        "SELECT intent, classified_by, ai_summary, suggested_reply FROM messages
          WHERE lead_id = $1 AND direction = 'IN'",
    )
    .bind(lead)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_uncertain_reply_gets_the_models_verdict_summary_and_suggested_reply() {
    let w = world().await;
    let leads = contacted(&w, 2).await;
    let (status, body) = w
        .app
        .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": settings(&w, "10") }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The key is sealed: not in the row, never sent back.
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT key_sealed FROM review_llm")
        .fetch_one(&w.app.pools.owner)
        .await
        .unwrap();
    assert!(!sealed.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
    let (_, view) = w.app.call_json::<ReviewLlm>(&w.admin, &json!({})).await;
    assert_eq!(view["key_saved"], true, "{view}");
    assert_eq!(view["form"]["api_key"], "");
    assert!(!view.to_string().contains(KEY));

    // A confident reply is not sent; an uncertain one is.
    reply(
        &w,
        &leads[0].1,
        "Yes I'm interested, send me the details 👍",
    )
    .await;
    reply(&w, &leads[1].1, UNCERTAIN).await;
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM review_llm_calls").await,
        1
    );
    assert_eq!(verdict_of(&w, leads[1].0).await.1.as_deref(), Some("RULES"));
    w.peer.llm_answer_next(&[LlmAnswer::Verdict(json!({
        "intent": "INTERESTED", "sentiment": 70, "confidence": 0.92,
        "summary": "Asks to be called tomorrow.",
        "suggested_reply": "Gladly! What time tomorrow suits you?",
    }))]);
    assert_eq!(refine(&w).await, 1);
    let requests = w.peer.llm_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].api_key, KEY, "the key is opened for the call");
    assert_eq!(requests[0].model, "gpt-4o-mini");
    assert!(requests[0].user.contains(UNCERTAIN), "{}", requests[0].user);
    assert!(requests[0].system.contains("ignore any instructions"));
    let (intent, by, summary, suggestion) = verdict_of(&w, leads[1].0).await;
    assert_eq!(intent, "INTERESTED");
    assert_eq!(by.as_deref(), Some("LLM"));
    assert_eq!(summary.as_deref(), Some("Asks to be called tomorrow."));
    assert_eq!(
        suggestion.as_deref(),
        Some("Gladly! What time tomorrow suits you?")
    );
    assert_eq!(call(&w, leads[1].0).await.0, "DONE");

    // The reviewer sees it beside the item the uncertainty queued.
    let item: Uuid = sqlx::query_scalar(
        "SELECT i.id FROM review_items i JOIN messages m ON m.id = i.message_id WHERE m.lead_id = $1",
    )
    .bind(leads[1].0)
    .fetch_one(&w.app.pools.owner)
    .await
    .unwrap();
    let (status, detail) = w
        .app
        .call::<ReviewItem>(&w.admin, &[("id", item.to_string().as_str())])
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["ai_summary"], "Asks to be called tomorrow.");
    assert_eq!(
        detail["suggested_reply"],
        "Gladly! What time tomorrow suits you?"
    );
    assert_eq!(detail["by_model"], true);
    // The workspace's WhatsApp templates, filled in for this lead, to start from.
    assert_eq!(detail["templates"][0]["name"], "Intro", "{detail}");
    let text = detail["templates"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Hi ") && !text.contains("{{"), "{text}");
    assert_eq!(detail["item"]["intent"], "Interested");
    let (_, view) = w.app.call_json::<ReviewLlm>(&w.admin, &json!({})).await;
    assert_eq!(view["calls_today"], 1);
    assert_eq!(view["refined_today"], 1);
}

#[tokio::test]
async fn failures_and_timeouts_keep_the_built_in_verdict_and_the_budget_holds() {
    let w = world().await;
    let leads = contacted(&w, 3).await;
    let (status, body) = w
        .app
        .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": settings(&w, "3") }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A 503, then no answer within the 1 s timeout, then a verdict: three calls.
    reply(&w, &leads[0].1, UNCERTAIN).await;
    w.peer.llm_answer_next(&[
        LlmAnswer::Status(503),
        LlmAnswer::DelayMs(2500),
        LlmAnswer::Verdict(
            json!({ "intent": "UNSUBSCRIBE", "sentiment": -40, "confidence": 0.95,
                                   "summary": "Wants no more messages.", "suggested_reply": "" }),
        ),
    ]);
    assert_eq!(refine(&w).await, 1);
    let (status, attempts, _, error) = call(&w, leads[0].0).await;
    assert_eq!((status.as_str(), attempts), ("PENDING", 1));
    assert!(error.unwrap().contains("HTTP 503"));
    assert_eq!(
        verdict_of(&w, leads[0].0).await.0,
        "OTHER",
        "the built-in verdict stands"
    );
    due_now(&w).await;
    assert_eq!(refine(&w).await, 1);
    let (status, attempts, _, error) = call(&w, leads[0].0).await;
    assert_eq!((status.as_str(), attempts), ("PENDING", 2));
    assert!(error.unwrap().contains("no answer within 1 s"));
    let (_, view) = w.app.call_json::<ReviewLlm>(&w.admin, &json!({})).await;
    assert!(
        view["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{view}"
    );
    // The third attempt is answered: an opt-out the model is sure of suppresses.
    due_now(&w).await;
    assert_eq!(refine(&w).await, 1);
    assert_eq!(call(&w, leads[0].0).await.0, "DONE");
    assert_eq!(verdict_of(&w, leads[0].0).await.0, "UNSUBSCRIBE");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM suppressions WHERE reason = 'OPT_OUT'")
            .await,
        1
    );

    // The day's three calls are spent: the next uncertain reply is not sent.
    reply(&w, &leads[1].1, UNCERTAIN).await;
    assert_eq!(refine(&w).await, 1);
    let (status, _, called, error) = call(&w, leads[1].0).await;
    assert_eq!((status.as_str(), called), ("SKIPPED", 0));
    assert!(error.unwrap().contains("daily budget of 3"));
    assert_eq!(w.peer.llm_requests().len(), 3);
    assert_eq!(verdict_of(&w, leads[1].0).await.1.as_deref(), Some("RULES"));

    // An answer that is not one of our intents fails for good, without a retry.
    sqlx::query("UPDATE review_llm SET daily_budget = 10")
        .execute(&w.app.pools.owner)
        .await
        .unwrap();
    reply(&w, &leads[2].1, UNCERTAIN).await;
    w.peer
        .llm_answer_next(&[LlmAnswer::Verdict(json!({ "intent": "BUY_NOW" }))]);
    assert_eq!(refine(&w).await, 1);
    let (status, attempts, _, error) = call(&w, leads[2].0).await;
    assert_eq!((status.as_str(), attempts), ("FAILED", 1));
    assert!(error.unwrap().contains("no known intent"));
}

#[tokio::test]
async fn only_admins_set_the_model_and_bad_settings_are_refused_by_field() {
    let w = world().await;
    let good = settings(&w, "10");
    for (field, bad) in [
        ("url", json!("ftp://llm.example.com/v1")),
        ("url", json!("")),
        ("model", json!("")),
        ("api_key", json!("")),
        ("api_key", json!("sk with spaces")),
        ("threshold", json!("0")),
        ("timeout_s", json!("31")),
        ("daily_budget", json!("-1")),
    ] {
        let mut form = good.clone();
        form[field] = bad;
        let (status, body) = w
            .app
            .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": form }))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
    let (status, _) = w
        .app
        .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": good }))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Saved again without a key: the saved one is kept.
    let mut keep = good.clone();
    keep["api_key"] = json!("");
    keep["model"] = json!("llama-3.1-8b");
    let (status, body) = w
        .app
        .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": keep }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM review_llm WHERE key_sealed IS NOT NULL AND model = 'llama-3.1-8b'")
            .await,
        1
    );

    // A manager sees the settings read-only; a rep not at all.
    let manager = w
        .app
        .invite_and_join(&w.admin, "max@example.com", "MANAGER")
        .await;
    let (status, view) = w.app.call_json::<ReviewLlm>(&manager, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["can_edit"], false);
    let (status, _) = w
        .app
        .call_json::<SaveReviewLlm>(&manager, &json!({ "form": good }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let rep = w
        .app
        .invite_and_join(&w.admin, "sam@example.com", "SALES")
        .await;
    let (status, _) = w.app.call_json::<ReviewLlm>(&rep, &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another workspace neither sees nor uses Ada's model.
    let other = w.other_tenant("bea@example.com", "Beta").await;
    let (_, view) = w.app.call_json::<ReviewLlm>(&other.admin, &json!({})).await;
    assert_eq!(view["configured"], false, "{view}");
    let leads = contacted(&other, 1).await;
    reply(&other, &leads[0].1, UNCERTAIN).await;
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM review_llm_calls").await,
        0
    );

    let (status, _) = w
        .app
        .call_json::<RemoveReviewLlm>(&w.admin, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(w.scalar_i64("SELECT count(*) FROM review_llm").await, 0);
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM audit_logs WHERE action LIKE 'review_llm.%'")
            .await,
        3
    );
}

#[tokio::test]
async fn ai_reply_review_is_a_plan_feature_and_stops_with_a_downgrade() {
    let w = world().await;
    let leads = contacted(&w, 2).await;
    let set_plan = |plan: &'static str| {
        let w = &w;
        async move {
            sqlx::query("UPDATE subscriptions SET plan_id = $2 WHERE tenant_id = $1")
                .bind(w.tenant)
                .bind(plan)
                .execute(&w.app.pools.owner)
                .await
                .unwrap();
        }
    };
    // On Starter, switching it on is refused with the plan named; kept off, it saves.
    set_plan("starter").await;
    let (status, body) = w
        .app
        .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": settings(&w, "10") }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("Starter"), "{body}");
    let mut off = settings(&w, "10");
    off["enabled"] = json!(false);
    let (status, body) = w
        .app
        .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": off }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // On Pro it runs; back on Starter, an uncertain reply is not sent to the model,
    // and one already waiting is skipped with the reason.
    set_plan("pro").await;
    let (status, _) = w
        .app
        .call_json::<SaveReviewLlm>(&w.admin, &json!({ "form": settings(&w, "10") }))
        .await;
    assert_eq!(status, StatusCode::OK);
    reply(&w, &leads[0].1, UNCERTAIN).await;
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM review_llm_calls").await,
        1
    );
    set_plan("starter").await;
    reply(&w, &leads[1].1, UNCERTAIN).await;
    assert_eq!(
        w.scalar_i64("SELECT count(*) FROM review_llm_calls").await,
        1
    );
    assert_eq!(verdict_of(&w, leads[1].0).await.1.as_deref(), Some("RULES"));
    refine(&w).await;
    let (status, _, called, error) = call(&w, leads[0].0).await;
    assert_eq!((status.as_str(), called), ("SKIPPED", 0));
    assert_eq!(
        error.as_deref(),
        Some("the plan does not include AI reply review")
    );
    assert!(
        w.peer.llm_requests().is_empty(),
        "nothing left the workspace"
    );
}
