//! A webhook receiver, standing in for a customer's endpoint: it records what our
//! server sends to `POST /_peer/hooks/{name}` and answers as told — succeed, fail
//! with a status, a share of requests failing, or a delay longer than any timeout.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

/// One request as it arrived.
#[derive(Clone, Debug, Serialize)]
pub struct HookRequest {
    /// The path's last segment: which endpoint it was sent to.
    pub name: String,
    pub webhook_id: String,
    pub webhook_timestamp: String,
    pub webhook_signature: String,
    pub body: String,
    /// What the receiver answered; 0 while it is still holding the request.
    pub answered: u16,
}

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookAnswer {
    /// Answer with this status.
    Status(u16),
    /// Wait this long, then answer 200: longer than the sender's timeout, it is a
    /// timeout.
    Delay(Duration),
}

#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) received: Vec<HookRequest>,
    /// Answers for the next requests, in order; then the standing rule.
    pub(crate) next: VecDeque<HookAnswer>,
    /// Of every ten requests beyond those, how many fail with 503 (0 to 10).
    pub(crate) fail_tenths: u8,
    pub(crate) counter: u64,
}

impl Hooks {
    /// The answer to the next request.
    pub(crate) fn answer(&mut self) -> HookAnswer {
        if let Some(a) = self.next.pop_front() {
            return a;
        }
        self.counter += 1;
        // A fixed pattern rather than chance: the same run fails the same requests.
        if (self.counter * 7 % 10) < u64::from(self.fail_tenths) {
            HookAnswer::Status(503)
        } else {
            HookAnswer::Status(200)
        }
    }
}
