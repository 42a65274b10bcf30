//! The one integration test binary: every suite is a module, so the server links once.

mod common;

mod api;
mod api_queue;
mod api_resources;
mod approvals;
mod auth;
mod billing;
mod billing_payments;
mod board;
mod convert;
mod dashboard;
mod demo;
mod facebook_leads;
mod forms;
mod import;
mod inventory;
mod inventory_plans;
mod inventory_units;
mod jobs;
mod notices;
mod outreach;
mod pool;
mod provider_switch;
mod records;
mod recovery;
mod research;
mod retention;
mod review;
mod rls;
mod security;
mod sequence_edit;
mod settings;
mod suppression;
mod team;
mod webhooks_out;
