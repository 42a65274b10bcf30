//! Billing on the server: the catalogue, the subscription, usage, the overview page
//! and the billing profile here; plan changes in `changes`, invoices in `invoices`,
//! limits enforced at the action in `limits`. Period roll-over is in `renewals.rs`,
//! the payment provider's events in `events.rs`.

use super::model::*;
use super::payments;
use super::tax;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::outreach::model::Channel;
use crate::request::Env;
use chrono::{DateTime, Utc};
use uuid::Uuid;

mod changes;
mod invoices;
mod limits;

pub use changes::{change_plan, set_cancel};
use changes::{extras, with_extras};
pub use invoices::{create_invoice, invoice, invoice_pdf};
use invoices::{InvoiceSql, INVOICE_COLUMNS};
pub use limits::{check_records, check_senders, check_storage};

#[derive(sqlx::FromRow)]
pub(super) struct PlanSql {
    pub(super) id: String,
    pub(super) name: String,
    seats_limit: i32,
    records_limit: Option<i32>,
    wa_numbers_limit: Option<i32>,
    mailboxes_limit: Option<i32>,
    wa_messages_limit: Option<i32>,
    email_messages_limit: Option<i32>,
    domains_limit: Option<i32>,
    storage_limit_mb: Option<i32>,
    api_per_minute: i32,
    api_per_hour: Option<i32>,
    features: serde_json::Value,
    sort_order: i32,
}

impl PlanSql {
    pub(super) fn limit(&self, metric: Metric) -> Option<i64> {
        match metric {
            Metric::Seats => Some(i64::from(self.seats_limit)),
            Metric::Records => self.records_limit.map(i64::from),
            Metric::WhatsAppNumbers => self.wa_numbers_limit.map(i64::from),
            Metric::Mailboxes => self.mailboxes_limit.map(i64::from),
            Metric::SendingDomains => self.domains_limit.map(i64::from),
            Metric::WhatsAppMessages => self.wa_messages_limit.map(i64::from),
            Metric::EmailMessages => self.email_messages_limit.map(i64::from),
            Metric::Storage => self.storage_limit_mb.map(|mb| i64::from(mb) * MIB),
        }
    }
}

pub(super) async fn plans(tx: &mut Tx, locale: Locale) -> Result<Vec<PlanSql>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, coalesce(names->>$1, name) AS name, seats_limit, records_limit, wa_numbers_limit,
                mailboxes_limit, wa_messages_limit, email_messages_limit, domains_limit, storage_limit_mb,
                api_per_minute, api_per_hour, features,
                sort_order
           FROM plans ORDER BY sort_order",
    )
    .bind(locale.code())
    .fetch_all(&mut **tx)
    .await?)
}

#[derive(sqlx::FromRow)]
pub(super) struct SubscriptionSql {
    pub(super) plan_id: String,
    pub(super) status: SubscriptionStatus,
    pub(super) cycle: String,
    pub(super) currency: String,
    pub(super) current_period_start: DateTime<Utc>,
    pub(super) current_period_end: DateTime<Utc>,
    pub(super) trial_ends_at: Option<DateTime<Utc>>,
    pub(super) cancel_at_period_end: bool,
    pub(super) pending_plan_id: Option<String>,
}

/// The transaction's tenant's subscription, locked when `lock` (a change follows).
pub(super) async fn subscription(tx: &mut Tx, lock: bool) -> Result<SubscriptionSql, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT plan_id, status, cycle, currency::text AS currency, current_period_start,
                current_period_end, trial_ends_at, cancel_at_period_end, pending_plan_id
           FROM subscriptions {}",
        if lock { "FOR UPDATE" } else { "" }
    ))
    .fetch_one(&mut **tx)
    .await?)
}

/// How much of each limit the tenant uses now.
pub(super) async fn usage(tx: &mut Tx) -> Result<Vec<(Metric, i64)>, AppError> {
    let (seats, records, numbers, mailboxes, domains): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM memberships WHERE status = 'ACTIVE'),
                (SELECT count(*) FROM leads) + (SELECT count(*) FROM contacts),
                (SELECT count(*) FROM wa_phone_numbers WHERE archived_at IS NULL),
                (SELECT count(*) FROM email_accounts WHERE archived_at IS NULL),
                (SELECT count(*) FROM email_domains WHERE archived_at IS NULL)",
    )
    .fetch_one(&mut **tx)
    .await?;
    let stored = stored_bytes(tx).await?;
    let now = Utc::now();
    let wa_messages = super::meter::used(tx, Channel::WhatsApp, now).await?;
    let email_messages = super::meter::used(tx, Channel::Email, now).await?;
    Ok(vec![
        (Metric::Seats, seats),
        (Metric::Records, records),
        (Metric::WhatsAppNumbers, numbers),
        (Metric::Mailboxes, mailboxes),
        (Metric::SendingDomains, domains),
        (Metric::WhatsAppMessages, wa_messages),
        (Metric::EmailMessages, email_messages),
        (Metric::Storage, stored),
    ])
}

/// A mebibyte: plans state storage in MiB, as `l10n::file_size` writes sizes.
const MIB: i64 = 1024 * 1024;

/// Bytes of the files the transaction's workspace has uploaded, from their rows.
pub(super) async fn stored_bytes(tx: &mut Tx) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT coalesce(sum(file_bytes), 0) FROM floor_plans)
              + (SELECT coalesce(sum(cover_bytes), 0) FROM projects)
              + (SELECT coalesce(sum(byte_size), 0) FROM template_files)",
    )
    .fetch_one(&mut **tx)
    .await?)
}

pub(super) async fn price(
    tx: &mut Tx,
    plan: &str,
    cycle: &str,
    currency: &str,
) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT amount_minor FROM plan_prices WHERE plan_id = $1 AND cycle = $2 AND currency = $3",
    )
    .bind(plan)
    .bind(cycle)
    .bind(currency)
    .fetch_optional(&mut **tx)
    .await?)
}

async fn profile(tx: &mut Tx) -> Result<BillingProfile, AppError> {
    // Empty text where nothing was given: the form shows blank fields.
    Ok(sqlx::query_as(
        "SELECT coalesce(company_name, '') AS company_name, coalesce(address, '') AS address,
                coalesce(country::text, '') AS country, coalesce(tax_id, '') AS tax_id,
                coalesce(email, '') AS email
           FROM billing_profiles",
    )
    .fetch_optional(&mut **tx)
    .await?
    .unwrap_or_default())
}

/// The billing page: plan, period, usage against every limit, the plans to change to
/// in the workspace's currency, invoices and the billing profile.
pub async fn overview(env: &Env) -> Result<Overview, AppError> {
    let (p, mut tx) = env.begin(Permission::BillingView).await?;
    let sub = subscription(&mut tx, false).await?;
    let catalogue = plans(&mut tx, env.locale()).await?;
    let used = usage(&mut tx).await?;
    let current = catalogue
        .iter()
        .find(|pl| pl.id == sub.plan_id)
        .ok_or_else(|| crate::db::internal("the subscription's plan is not in the catalogue"))?;
    let mut offers = Vec::new();
    for pl in &catalogue {
        offers.push(PlanOffer {
            id: pl.id.clone(),
            name: pl.name.clone(),
            price_minor: price(&mut tx, &pl.id, &sub.cycle, &sub.currency).await?,
            limits: Metric::ALL.iter().map(|m| (*m, pl.limit(*m))).collect(),
            api_per_minute: pl.api_per_minute,
            api_per_hour: pl.api_per_hour,
            features: serde_json::from_value(pl.features.clone()).unwrap_or_default(),
            current: pl.id == sub.plan_id,
            rank: pl.sort_order,
        });
    }
    let invoices: Vec<InvoiceSql> = sqlx::query_as(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices ORDER BY number DESC LIMIT 24"
    ))
    .fetch_all(&mut *tx)
    .await?;
    let profile = profile(&mut tx).await?;
    let payment = super::pay::state(&mut tx).await?;
    let held_messages: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE held_by_limit")
        .fetch_one(&mut *tx)
        .await?;
    let extras = extras(&mut tx).await?;
    let addons =
        super::addons::offers(&mut tx, env.locale(), &sub.currency, |m| current.limit(m)).await?;
    tx.commit().await?;
    let usage: Vec<Usage> = used
        .into_iter()
        .map(|(metric, used)| Usage {
            metric,
            used,
            limit: with_extras(current, metric, &extras),
        })
        .collect();
    Ok(Overview {
        plan_id: sub.plan_id.clone(),
        plan_name: current.name.clone(),
        status: sub.status,
        cycle: Cycle::parse(&sub.cycle).unwrap_or(Cycle::Monthly),
        currency: sub.currency,
        period_start: sub.current_period_start,
        period_end: sub.current_period_end,
        trial_ends_at: sub.trial_ends_at,
        cancel_at_period_end: sub.cancel_at_period_end,
        pending_plan: sub.pending_plan_id.and_then(|id| {
            catalogue
                .iter()
                .find(|pl| pl.id == id)
                .map(|pl| pl.name.clone())
        }),
        warnings: usage
            .iter()
            .filter(|u| u.limit.is_some() && u.percent() >= 80)
            .map(|u| (u.metric, u.percent()))
            .collect(),
        usage,
        held_messages,
        addons,
        plans: offers,
        invoices: invoices.into_iter().map(InvoiceRow::from).collect(),
        profile,
        payment,
        can_manage: Permission::BillingManage.allowed_for(p.role),
    })
}
pub async fn save_profile(env: &Env, input: &BillingProfile) -> Result<(), AppError> {
    let p = env.require(Permission::BillingManage)?;
    let company = input.company_name.trim();
    let address = input.address.trim();
    let country = input.country.trim().to_ascii_uppercase();
    let tax_id = input.tax_id.trim().to_ascii_uppercase();
    let email = input.email.trim();
    if company.chars().count() > 200 {
        return Err(AppError::field(
            "company_name",
            env.t("billing.error.too_long"),
        ));
    }
    if address.chars().count() > 500 {
        return Err(AppError::field("address", env.t("billing.error.too_long")));
    }
    let two_letters = country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase());
    if !country.is_empty() && !two_letters {
        return Err(AppError::field("country", env.t("billing.error.country")));
    }
    if tax_id.chars().count() > 40 {
        return Err(AppError::field("tax_id", env.t("billing.error.too_long")));
    }
    if !email.is_empty() && !mail::valid_address(email) {
        return Err(AppError::field("email", env.t("billing.error.email")));
    }
    let mut tx = env.tx(p).await?;
    let blank = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    sqlx::query(
        "INSERT INTO billing_profiles (tenant_id, company_name, address, country, tax_id, email)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id) DO UPDATE SET company_name = $2, address = $3, country = $4,
                tax_id = $5, email = $6, updated_at = now()",
    )
    .bind(p.tenant_id)
    .bind(blank(company))
    .bind(blank(address))
    .bind(blank(&country))
    .bind(blank(&tax_id))
    .bind(blank(email))
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("billing.profile_saved", "billing_profiles", None),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
