//! Inventory: projects and units with their prices and holds, and plans whose shapes
//! stand for units on a clickable map.

pub mod api;
pub mod bulk;
pub mod catalog;
pub mod components;
#[cfg(feature = "ssr")]
pub mod covers;
pub mod deal;
pub mod editor;
mod editor_panels;
pub mod geometry;
pub mod map;
pub mod model;
#[cfg(feature = "ssr")]
pub mod plan_file;
#[cfg(feature = "ssr")]
pub mod plans;
pub mod setup;
mod setup_import;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod ui;
pub mod unit_import;
