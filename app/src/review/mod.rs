//! Review: every inbound reply classified on arrival, explainably (`classify`), and
//! the queue where managers decide what the machine should not decide alone.

pub mod api;
#[cfg(feature = "ssr")]
pub mod classify;
#[cfg(feature = "ssr")]
pub mod dates;
#[cfg(feature = "ssr")]
pub mod eval;
#[cfg(feature = "ssr")]
pub mod headers;
pub mod inbox;
pub mod llm;
pub mod model;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;
