//! A member's private calendar feed: their meetings and open tasks as an iCalendar
//! (RFC 5545) URL that Google Calendar, Outlook and Apple Calendar subscribe to. The
//! URL carries a 256-bit token, kept only as its SHA-256: it is shown once, and can be
//! replaced (the old URL stops at once) or turned off.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod ics;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

/// Whether the member has a feed, and since when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedStatus {
    pub since: Option<DateTime<Utc>>,
}

#[server(input = Json)]
pub async fn calendar_feed() -> Result<FeedStatus, AppError> {
    respond(async { ssr::status(&env()?).await }).await
}

/// A new feed URL; any earlier one stops working. The URL is answered only here.
#[server(input = Json)]
pub async fn new_calendar_feed() -> Result<String, AppError> {
    respond(async { ssr::rotate(&env()?).await }).await
}

#[server(input = Json)]
pub async fn revoke_calendar_feed() -> Result<(), AppError> {
    respond(async { ssr::revoke(&env()?).await }).await
}
