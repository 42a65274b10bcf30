//! Outreach (issue 4), shared by the server and the browser: message templates, the lead
//! journey state machine and opt-out words. Sending, sequences and providers build on
//! these.

pub mod journey;
pub mod optout;
pub mod template;
