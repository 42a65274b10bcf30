//! The staff console (`/staff`): platform staff, who hold a staff role apart from any
//! workspace role, see every workspace with its plan, state, MRR and usage, the
//! platform's figures, feature flags with their rollout and per-workspace overrides,
//! the payment provider's events (with replay), and their own audit log.

pub mod api;
pub mod model;
pub mod sending_ips;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;
