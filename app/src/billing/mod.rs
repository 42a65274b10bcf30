//! Billing: the plan catalogue and its limits, the workspace's subscription and usage,
//! plan changes (prorated now, or at period end when usage fits), invoices with
//! gapless numbers and tax by country, the payment provider (charges, dunning and
//! read-only mode, its signed events), and warnings as usage nears a limit.

#[cfg(feature = "ssr")]
pub mod addons;
pub mod api;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod features;
#[cfg(feature = "ssr")]
pub mod invoice_pdf;
#[cfg(feature = "ssr")]
pub mod meter;
pub mod model;
#[cfg(feature = "ssr")]
pub mod pay;
#[cfg(feature = "ssr")]
pub mod payments;
#[cfg(feature = "ssr")]
pub mod provider;
#[cfg(feature = "ssr")]
pub mod renewals;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod stripe;
pub mod tax;
pub mod ui;
#[cfg(feature = "ssr")]
pub mod warnings;
