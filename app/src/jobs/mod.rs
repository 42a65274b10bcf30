//! The job facility's member-facing side: every job's log, and the admin page that
//! lists the tenant's jobs with their progress, attempts, retry and cancel. The
//! runner that claims and retries them is `src/jobs.rs` in the server crate.

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;
