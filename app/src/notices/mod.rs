//! The notification centre (seed 004 `notifications`): every notification a member
//! has had, on a page of its own with paging and "unread only", and per-kind choices
//! of where each kind goes: the app (bell and page) and a daily email digest. The bell
//! itself is in `layout.rs`; the live updates in `live.rs`.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// Every kind of notification, in the order the preferences list them.
pub const KINDS: &[&str] = &[
    "REPLY",
    "REVIEW_ASSIGNED",
    "SLA_BREACH",
    "APPROVAL_REQUESTED",
    "APPROVAL_DECIDED",
    "TASK_DUE",
    "TASK_ASSIGNED",
    "MEETING_INVITED",
    "MENTION",
    "HOLD_EXPIRING",
    "SEND_FAILED",
    "SENDER_PAUSED",
    "JOB_FINISHED",
    "WEBHOOK_DISABLED",
    "PAYMENT_FAILED",
    "USAGE_WARNING",
];

/// Notifications per page.
pub const PAGE_SIZE: i64 = 25;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Notice {
    pub id: Uuid,
    pub kind: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticePage {
    pub items: Vec<Notice>,
    /// The cursor of the next (older) page, if there is one.
    pub next: Option<String>,
}

/// Where one kind of notification goes for the signed-in member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoticePref {
    pub kind: String,
    pub in_app: bool,
    pub email: bool,
}

/// One page of the viewer's notifications, newest first; `before` is the previous
/// page's `next`.
#[server(input = Json)]
pub async fn notification_page(
    before: Option<String>,
    unread_only: bool,
) -> Result<NoticePage, AppError> {
    respond(async { ssr::page(&env()?, before.as_deref(), unread_only).await }).await
}

#[server]
pub async fn mark_notification_read(id: Uuid) -> Result<(), AppError> {
    respond(async { ssr::mark_read(&env()?, id).await }).await
}

#[server(input = Json)]
pub async fn notification_prefs() -> Result<Vec<NoticePref>, AppError> {
    respond(async { ssr::prefs(&env()?).await }).await
}

#[server(input = Json)]
pub async fn save_notification_prefs(prefs: Vec<NoticePref>) -> Result<(), AppError> {
    respond(async { ssr::save_prefs(&env()?, &prefs).await }).await
}
