//! Table views, record pages with their timeline, "My tasks" and search results,
//! one file per page or topic. The imports here are the children's common ground.

use super::api::*;
use super::model::*;
use crate::crm::model::{Entity, MemberRef, RecordFilter};
use crate::crm::money;
use crate::error::AppError;
use crate::i18n::tf;
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Card, Field, LoadError, PageHeader, Skeleton,
    Submit,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use uuid::Uuid;

mod custom;
mod record;
mod table;
mod tasks;
mod timeline;

pub use custom::CustomFieldsPage;
pub use record::{CompanyPage, ContactPage, DealPage, LeadPage};
pub use table::{CompaniesPage, ContactsPage, DealsPage, LeadsPage};
pub use tasks::{SearchPage, TasksPage};

// Shared between the pages (glob-imported by each child).
use custom::CustomInputs;
use table::{form_fields, ALL_FIELDS};
use timeline::Timeline;

fn entity_key(entity: Entity, what: &str) -> String {
    format!("records.{}.{what}", entity.table())
}

fn area(entity: Entity) -> &'static str {
    entity.table()
}
