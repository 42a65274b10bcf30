//! The developer surface of a workspace: API keys with scopes, webhook endpoints
//! with their delivery log, and lead sources (website forms, Facebook Lead Ads)
//! (Settings → Developers). The REST API itself is served by
//! the server crate (`src/api/`), through the same record code the pages use.

pub mod api;
#[cfg(feature = "ssr")]
pub mod deliver;
#[cfg(feature = "ssr")]
pub mod endpoints;
#[cfg(feature = "ssr")]
pub mod facebook;
#[cfg(feature = "ssr")]
pub mod facebook_fetch;
#[cfg(feature = "ssr")]
pub mod intake;
pub mod model;
#[cfg(feature = "ssr")]
pub mod objects;
#[cfg(feature = "ssr")]
pub mod reference;
pub mod reference_page;
#[cfg(feature = "ssr")]
pub mod sources;
pub mod sources_ui;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;
pub mod webhook_page;
#[cfg(feature = "ssr")]
pub mod work_objects;
