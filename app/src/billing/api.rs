use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[server]
pub async fn billing_overview() -> Result<Overview, AppError> {
    respond(async { super::ssr::overview(&env()?).await }).await
}

/// Switches to `plan` billed every `cycle` (MONTHLY or YEARLY).
#[server]
pub async fn change_plan(plan: String, cycle: String) -> Result<PlanChange, AppError> {
    respond(async { super::ssr::change_plan(&env()?, &plan, &cycle).await }).await
}

/// Holds `units` of the recurring add-on `addon` (0 removes it). More is invoiced now
/// for the rest of the period; fewer applies now when the workspace still fits.
#[server]
pub async fn set_addon_units(addon: String, units: String) -> Result<AddonChange, AppError> {
    respond(async { super::addons::set_units(&env()?, &addon, &units).await }).await
}

/// Buys `packs` of the message pack `addon`: this month's cap on its channel rises now,
/// and an invoice is issued for them.
#[server]
pub async fn buy_message_pack(addon: String, packs: String) -> Result<AddonChange, AppError> {
    respond(async { super::addons::buy_pack(&env()?, &addon, &packs).await }).await
}

/// Cancels at the end of the period (`cancel`), or takes that back.
#[server]
pub async fn set_cancel(cancel: bool) -> Result<(), AppError> {
    respond(async { super::ssr::set_cancel(&env()?, cancel).await }).await
}

#[server]
pub async fn save_billing_profile(
    company_name: String,
    address: String,
    country: String,
    tax_id: String,
    email: String,
) -> Result<(), AppError> {
    respond(async {
        let profile = BillingProfile {
            company_name,
            address,
            country,
            tax_id,
            email,
        };
        super::ssr::save_profile(&env()?, &profile).await
    })
    .await
}

#[server]
pub async fn get_invoice(id: String) -> Result<InvoiceDetail, AppError> {
    respond(async { super::ssr::invoice(&env()?, &id).await }).await
}

/// The card to charge, as the provider's id of it (`pm_…`).
#[server]
pub async fn set_payment_method(payment_method: String) -> Result<(), AppError> {
    respond(async { super::pay::set_payment_method(&env()?, &payment_method).await }).await
}

/// "Pay now": the open invoice `id` is charged by the worker in a moment.
#[server]
pub async fn pay_invoice(id: String) -> Result<(), AppError> {
    respond(async { super::pay::pay_now(&env()?, &id).await }).await
}

/// "Start paying now": ends the trial; the plan's first invoice, if it costs anything.
#[server]
pub async fn end_trial() -> Result<Option<uuid::Uuid>, AppError> {
    respond(async { super::pay::end_trial(&env()?).await }).await
}

/// Whether the member's workspace may use the plan feature `feature` (its key, e.g.
/// `api`): `None` if so, else the reason and where to get it.
#[server]
pub async fn feature_refusal(feature: String) -> Result<Option<String>, AppError> {
    respond(async { super::features::refusal_for(&env()?, &feature).await }).await
}
