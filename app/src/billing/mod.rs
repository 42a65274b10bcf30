//! Billing: the plan catalogue and its limits, the workspace's subscription and usage,
//! plan changes (prorated now, or at period end when usage fits), invoices with
//! gapless numbers and tax by country, and the payment provider's signed events.

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod stripe;
pub mod tax;
pub mod ui;
