//! Approvals (seed 004): a tenant's rules hold guarded deal stage moves until each
//! ordered level has said yes; the requests are worked in the review queue's
//! Approvals tab.

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;
