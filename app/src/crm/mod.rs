//! CRM core: companies, contacts, leads, pipelines and deals, the activity timeline,
//! tasks, lists, import and export.

pub mod import;
pub mod model;

#[cfg(feature = "ssr")]
pub mod access;
#[cfg(feature = "ssr")]
pub mod phone;
