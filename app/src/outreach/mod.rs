//! Outreach (issue 4), shared by the server and the browser: message templates and the
//! lead journey state machine. Sending, sequences and providers build on these.

pub mod journey;
pub mod template;
