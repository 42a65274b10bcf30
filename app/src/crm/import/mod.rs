//! CSV import of contacts, companies and leads, and CSV export of any table view,
//! both as background jobs with a page to follow them.

pub mod api;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
mod batch_sql;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
mod matching;
#[cfg(feature = "ssr")]
pub mod rows;
#[cfg(feature = "ssr")]
pub mod runner;
#[cfg(feature = "ssr")]
pub mod sheet;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod workbook;
