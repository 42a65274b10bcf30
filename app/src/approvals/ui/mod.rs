//! Approvals in the browser: the rules page in Settings and the review queue's tab.

pub mod queue;
pub mod rules;
