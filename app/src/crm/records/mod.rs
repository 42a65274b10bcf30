//! Leads, contacts, companies and deals as tables and as pages: lists with search,
//! filters, keyset paging and bulk actions; one page per record with its facts,
//! related records and timeline; tasks.

pub mod api;
#[cfg(feature = "ssr")]
pub mod bulk;
#[cfg(feature = "ssr")]
pub mod custom;
#[cfg(feature = "ssr")]
pub mod edits;
#[cfg(feature = "ssr")]
pub mod mentions;
pub mod model;
#[cfg(feature = "ssr")]
pub mod search;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod timeline;
pub mod ui;
