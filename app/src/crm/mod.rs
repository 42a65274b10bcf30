//! CRM core: companies, contacts, leads, pipelines and deals, the activity timeline,
//! tasks, lists, import and export.

pub mod board;
pub mod convert;
pub mod dashboard;
pub mod import;
pub mod merge;
pub mod model;
pub mod money;
pub mod records;
pub mod reports;
pub mod research;

#[cfg(feature = "ssr")]
pub mod access;
#[cfg(feature = "ssr")]
pub mod activity;
#[cfg(feature = "ssr")]
pub mod phone;
