//! The outreach engine on the server: configuration (manage), the lead page (lead),
//! the scheduler and dispatcher that run the outbox, inbound events, the providers
//! behind their traits, and the dashboard.

pub mod dashboard;
pub mod dispatch;
pub mod files;
pub mod inbound;
pub mod lead;
pub mod links;
pub mod manage;
pub mod provider;
pub mod reply;
pub mod scheduler;
pub mod secrets;
pub mod senders;
pub mod sequences;
pub mod steps;
pub mod store;
pub mod suppression;
pub mod switch;
