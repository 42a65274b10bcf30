//! An OpenAI-compatible chat completions stand-in (`POST /llm/v1/chat/completions`),
//! for the review queue's LLM path: a bearer key is required (OpenAI's 401 error
//! object without one), the request is recorded, and the answer is OpenAI's
//! `chat.completion` object whose message content is the JSON verdict the prompt asks
//! for. Tests queue the next answers (a verdict, an HTTP status, or a delay past the
//! caller's timeout); without one, a small keyword reading of the reply answers, so the
//! dev stack shows the path working.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::{bearer_token, AppState};

/// One request as it arrived.
#[derive(Clone, Debug, Serialize)]
pub struct LlmRequest {
    /// The bearer key it came with.
    pub api_key: String,
    pub model: String,
    /// The last `user` message: the reply as the caller framed it.
    pub user: String,
    /// The `system` message.
    pub system: String,
}

/// How the stand-in answers the next request.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmAnswer {
    /// This verdict as the message content (any JSON; a test may send a malformed one).
    Verdict(Value),
    /// This HTTP status with OpenAI's error object.
    Status(u16),
    /// Wait this many milliseconds, then answer with the keyword reading.
    DelayMs(u64),
}

#[derive(Default)]
pub(crate) struct Llm {
    pub(crate) requests: Vec<LlmRequest>,
    pub(crate) next: VecDeque<LlmAnswer>,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
pub(crate) struct ChatRequest {
    model: String,
    messages: Vec<ChatMessage>,
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body =
        json!({ "error": { "message": message, "type": kind, "param": null, "code": null } });
    (status, Json(body)).into_response()
}

/// What a person would read from the reply, by a few phrases: enough for a demo.
pub fn keyword_verdict(text: &str) -> Value {
    // The reply itself follows the caller's header lines and a blank line, and ends
    // where the quoted message it answers begins.
    let body = text.split_once("\n\n").map_or(text, |(_, body)| body);
    let body: String = body
        .lines()
        .take_while(|l| !l.starts_with('>') && !l.trim_end().ends_with("wrote:"))
        .collect::<Vec<_>>()
        .join("\n");
    let lower = body.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let (intent, sentiment, reply) = if has(&["unsubscribe", "remove me", "stop sending"]) {
        (
            "UNSUBSCRIBE",
            -40,
            "Understood, we will not contact you again.",
        )
    } else if has(&["not interested", "no thanks", "no, thanks"]) {
        ("NOT_INTERESTED", -30, "Thanks for letting us know.")
    } else if has(&["price", "cost", "how much", "?"]) {
        (
            "QUESTION",
            10,
            "Thanks for asking! Here are the details you asked about.",
        )
    } else if has(&["interested", "call me", "sounds good", "yes"]) {
        (
            "INTERESTED",
            60,
            "Great to hear! When would suit you for a short call?",
        )
    } else {
        ("OTHER", 0, "Thanks for your message.")
    };
    let first: String = body
        .split(['.', '\n'])
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(80)
        .collect();
    json!({
        "intent": intent,
        "sentiment": sentiment,
        "confidence": 0.9,
        "summary": format!("The lead wrote: {first}"),
        "suggested_reply": reply,
    })
}

pub(crate) async fn chat_completions(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<ChatRequest>,
) -> Response {
    let Some(key) = bearer_token(&headers).map(str::to_string) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You didn't provide an API key.",
        );
    };
    let of_role = |role: &str| {
        request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == role)
            .map(|m| m.content.clone())
            .unwrap_or_default()
    };
    let user = of_role("user");
    let answer = {
        let mut llm = shared.llm();
        llm.requests.push(LlmRequest {
            api_key: key,
            model: request.model.clone(),
            user: user.clone(),
            system: of_role("system"),
        });
        llm.next.pop_front()
    };
    let verdict = match answer {
        Some(LlmAnswer::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "server_error", "The stand-in was told to fail.");
        }
        Some(LlmAnswer::DelayMs(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            keyword_verdict(&user)
        }
        Some(LlmAnswer::Verdict(v)) => v,
        None => keyword_verdict(&user),
    };
    let content = verdict.to_string();
    let prompt_tokens = (user.len() / 4) as u64;
    let completion_tokens = (content.len() / 4) as u64;
    Json(json!({
        "id": format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": request.model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }))
    .into_response()
}

/// `POST /_peer/llm/answers`: the next answers, in order.
pub(crate) async fn queue_answers(
    State(shared): State<AppState>,
    Json(answers): Json<Vec<LlmAnswer>>,
) -> StatusCode {
    shared.llm().next.extend(answers);
    StatusCode::NO_CONTENT
}

/// `GET /_peer/llm/requests`: every request so far.
pub(crate) async fn list_requests(State(shared): State<AppState>) -> Json<Vec<LlmRequest>> {
    Json(shared.llm().requests.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyword_reading_names_an_intent_and_a_reply() {
        let v = keyword_verdict("How much is the 2-bedroom? Thanks");
        assert_eq!(v["intent"], "QUESTION");
        assert_eq!(
            v["summary"],
            "The lead wrote: How much is the 2-bedroom? Thanks"
        );
        let framed = keyword_verdict(
            "Channel: EMAIL\nSubject: Re: Villa?\n\nCall me tomorrow. Thanks\nOn Monday Nile wrote:\n> Price?",
        );
        assert_eq!(framed["intent"], "INTERESTED");
        assert_eq!(framed["summary"], "The lead wrote: Call me tomorrow");
        assert_eq!(keyword_verdict("Please remove me")["intent"], "UNSUBSCRIBE");
        assert_eq!(keyword_verdict("ok")["intent"], "OTHER");
    }

    #[test]
    fn answers_parse_from_the_control_endpoints_json() {
        let answers: Vec<LlmAnswer> = serde_json::from_value(
            json!([{ "status": 503 }, { "delay_ms": 2000 }, { "verdict": { "intent": "OTHER" } }]),
        )
        .unwrap();
        assert_eq!(answers[0], LlmAnswer::Status(503));
        assert_eq!(answers[1], LlmAnswer::DelayMs(2000));
    }
}
