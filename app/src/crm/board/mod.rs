//! The kanban board: one per pipeline, columns paged from the server, cards moved by
//! mouse or keyboard with a version check, live updates from other members.

pub mod api;
pub mod deal_stage;
mod forms;
pub mod model;
#[cfg(feature = "ssr")]
pub mod moves;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod stages;
pub mod ui;
