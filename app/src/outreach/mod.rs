//! Outreach (issue 4): templates with variables and spintax, the lead journey state
//! machine and opt-out words (shared by the server and the browser), server functions,
//! pages, and on the server the scheduler, the outbox dispatcher and the providers.

pub mod api;
pub mod journey;
pub mod model;
pub mod optout;
pub mod template;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod ssr;
