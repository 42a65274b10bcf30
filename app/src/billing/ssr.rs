//! Billing on the server: the overview page, plan changes, the billing profile,
//! invoices and limits enforced at the action. Period roll-over is in `renewals.rs`,
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
    pub(super) status: String,
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
async fn stored_bytes(tx: &mut Tx) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT coalesce(sum(file_bytes), 0) FROM floor_plans)
              + (SELECT coalesce(sum(cover_bytes), 0) FROM projects)
              + (SELECT coalesce(sum(byte_size), 0) FROM template_files)",
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Refuses a file of `adding` bytes that would take the workspace past its plan's
/// storage, naming the limit, the usage and the billing page, and warns the admins at
/// 80 % and 100 %. `replacing` bytes (a cover being replaced) are given back first.
/// The subscription row is locked, so two uploads at once cannot both take the last
/// of the room.
pub async fn check_storage(
    tx: &mut Tx,
    locale: Locale,
    adding: usize,
    replacing: i64,
) -> Result<(), AppError> {
    let limit: Option<(Option<i32>, String)> = sqlx::query_as(
        "SELECT p.storage_limit_mb, coalesce(p.names->>$1, p.name)
           FROM subscriptions s JOIN plans p ON p.id = s.plan_id FOR UPDATE OF s",
    )
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(limit_mb), plan)) = limit else {
        return Ok(());
    };
    let limit = i64::from(limit_mb) * MIB;
    let used = stored_bytes(tx).await? - replacing;
    let after = used + i64::try_from(adding).unwrap_or(i64::MAX);
    if after > limit {
        return Err(AppError::Forbidden(tf(
            locale,
            "billing.error.storage_limit",
            &[
                ("plan", plan),
                ("limit", Metric::Storage.amount(locale, limit)),
                ("used", Metric::Storage.amount(locale, used.max(0))),
            ],
        )));
    }
    super::warnings::check(tx, locale, Metric::Storage, after, limit, None).await
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

#[derive(sqlx::FromRow)]
struct InvoiceSql {
    id: Uuid,
    number: i32,
    status: String,
    currency: String,
    total_minor: i64,
    issued_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

impl From<InvoiceSql> for InvoiceRow {
    fn from(i: InvoiceSql) -> InvoiceRow {
        InvoiceRow {
            id: i.id,
            number: i.number,
            status: i.status,
            currency: i.currency,
            total_minor: i.total_minor,
            issued_at: i.issued_at,
            paid_at: i.paid_at,
        }
    }
}

const INVOICE_COLUMNS: &str =
    "id, number, status, currency::text AS currency, total_minor, issued_at, paid_at";

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

/// Numbers and writes an invoice in the caller's transaction. The number comes from
/// the tenant's counter row, locked until commit: concurrent invoices queue for it,
/// and a rolled-back invoice gives its number back, so numbers have no gaps.
pub async fn create_invoice(
    tx: &mut Tx,
    tenant_id: Uuid,
    currency: &str,
    lines: &[(&str, String, i64)],
    period: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Uuid, AppError> {
    let number: i32 = sqlx::query_scalar(
        "INSERT INTO invoice_counters AS c (tenant_id, last_number) VALUES ($1, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last_number = c.last_number + 1
         RETURNING last_number",
    )
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await?;
    let profile = profile(tx).await?;
    let (rate_bp, note) = tax::rate(&profile.country, &profile.tax_id);
    let subtotal: i64 = lines.iter().map(|(_, _, amount)| amount).sum();
    let tax_minor = tax::tax(subtotal.max(0), rate_bp);
    let id = new_id();
    sqlx::query(
        "INSERT INTO invoices (tenant_id, id, number, status, currency, subtotal_minor, tax_rate_bp, tax_note,
                               tax_minor, total_minor, period_start, period_end)
         VALUES ($1, $2, $3, 'OPEN', $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(number)
    .bind(currency)
    .bind(subtotal)
    .bind(rate_bp)
    .bind(note)
    .bind(tax_minor)
    .bind(subtotal + tax_minor)
    .bind(period.0)
    .bind(period.1)
    .execute(&mut **tx)
    .await?;
    for (position, (kind, description, amount)) in lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO invoice_lines (tenant_id, invoice_id, position, kind, description, amount_minor)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(kind)
        .bind(description)
        .bind(amount)
        .execute(&mut **tx)
        .await?;
    }
    // Charged by the worker after this commits, never inside the request.
    if subtotal + tax_minor > 0 {
        payments::queue(tx, tenant_id, id, "ISSUE", Utc::now()).await?;
    }
    Ok(id)
}

/// What the add-ons held add to each limit now (`addons::extra`), for every metric
/// an add-on lifts.
async fn extras(tx: &mut Tx) -> Result<Vec<(Metric, i64)>, AppError> {
    let now = Utc::now();
    let mut extras = Vec::new();
    for metric in [
        Metric::Seats,
        Metric::WhatsAppNumbers,
        Metric::WhatsAppMessages,
        Metric::EmailMessages,
    ] {
        extras.push((metric, super::addons::extra(tx, metric, now).await?));
    }
    Ok(extras)
}

/// `plan`'s limit on `metric` with the add-ons on top; unlimited stays unlimited.
fn with_extras(plan: &PlanSql, metric: Metric, extras: &[(Metric, i64)]) -> Option<i64> {
    let extra = extras
        .iter()
        .find(|(m, _)| *m == metric)
        .map_or(0, |(_, n)| *n);
    plan.limit(metric).map(|limit| limit + extra)
}

/// What of the tenant's usage does not fit `plan` with its add-ons: "Records: 812 of
/// 500", one per limit.
fn excess(
    l: Locale,
    plan: &PlanSql,
    used: &[(Metric, i64)],
    extras: &[(Metric, i64)],
) -> Vec<String> {
    used.iter()
        .filter(|(m, _)| !m.monthly())
        .filter_map(|(m, n)| {
            with_extras(plan, *m, extras)
                .filter(|limit| n > limit)
                .map(|limit| {
                    tf(
                        l,
                        "billing.excess",
                        &[
                            ("what", t(l, m.label_key())),
                            ("used", m.amount(l, *n)),
                            ("limit", m.amount(l, limit)),
                        ],
                    )
                })
        })
        .collect()
}

/// Changes the plan (and billing cycle). A dearer plan applies now, with a prorated
/// invoice for the rest of the period (none during a trial); a cheaper one applies at
/// the period's end, and only if the workspace's usage fits it.
pub async fn change_plan(env: &Env, plan_id: &str, cycle: &str) -> Result<PlanChange, AppError> {
    let p = env.require(Permission::BillingManage)?;
    let cycle = Cycle::parse(cycle)
        .ok_or_else(|| AppError::field("cycle", env.t("billing.error.cycle")))?;
    let mut tx = env.tx(p).await?;
    // The row lock makes concurrent changes take turns; each sees the last one's result.
    let sub = subscription(&mut tx, true).await?;
    let catalogue = plans(&mut tx, env.locale()).await?;
    let target = catalogue
        .iter()
        .find(|pl| pl.id == plan_id.trim())
        .ok_or_else(|| AppError::field("plan", env.t("billing.error.unknown_plan")))?;
    let current = catalogue
        .iter()
        .find(|pl| pl.id == sub.plan_id)
        .ok_or_else(|| crate::db::internal("the subscription's plan is not in the catalogue"))?;
    if target.id == current.id && cycle.code() == sub.cycle && sub.pending_plan_id.is_none() {
        return Err(AppError::Conflict(tf(
            env.locale(),
            "billing.error.already_on",
            &[("plan", target.name.clone())],
        )));
    }
    let Some(new_price) = price(&mut tx, &target.id, cycle.code(), &sub.currency).await? else {
        return Err(AppError::field("plan", env.t("billing.error.quoted")));
    };
    let old_price = price(&mut tx, &current.id, &sub.cycle, &sub.currency)
        .await?
        .unwrap_or(0);
    let now = Utc::now();
    let outcome = if target.sort_order > current.sort_order
        || (target.sort_order == current.sort_order && cycle == Cycle::Yearly)
    {
        let total = (sub.current_period_end - sub.current_period_start)
            .num_seconds()
            .max(1);
        let left = (sub.current_period_end - now).num_seconds().clamp(0, total);
        let share =
            |amount: i64| (i128::from(amount) * i128::from(left) / i128::from(total)) as i64;
        let ended =
            super::addons::end_unlimited_on(&mut tx, env.locale(), &sub.currency, target).await?;
        let invoice = if sub.status == "TRIALING" {
            None
        } else {
            let mut lines = vec![
                (
                    "PRORATION",
                    tf(
                        env.locale(),
                        "billing.line.unused",
                        &[("plan", current.name.clone())],
                    ),
                    -share(old_price),
                ),
                (
                    "PRORATION",
                    tf(
                        env.locale(),
                        "billing.line.remaining",
                        &[("plan", target.name.clone())],
                    ),
                    share(new_price),
                ),
            ];
            // Ended add-ons were paid to the period's end: their unused time is credited.
            lines.extend(ended.iter().filter_map(|h| {
                let paid = super::addons::period_price(h.monthly?, &sub.cycle) * i64::from(h.units);
                Some((
                    "PRORATION",
                    tf(
                        env.locale(),
                        "billing.line.addon_unused",
                        &[("item", h.describe(env.locale()))],
                    ),
                    -share(paid),
                ))
            }));
            Some(
                create_invoice(
                    &mut tx,
                    p.tenant_id,
                    &sub.currency,
                    &lines,
                    (now, sub.current_period_end),
                )
                .await?,
            )
        };
        sqlx::query(
            "UPDATE subscriptions SET plan_id = $1, cycle = $2, pending_plan_id = NULL,
                    cancel_at_period_end = false, version = version + 1",
        )
        .bind(&target.id)
        .bind(cycle.code())
        .execute(&mut *tx)
        .await?;
        PlanChange::Upgraded {
            invoice,
            ended_addons: ended.iter().map(|h| h.describe(env.locale())).collect(),
        }
    } else {
        let over = excess(
            env.locale(),
            target,
            &usage(&mut tx).await?,
            &extras(&mut tx).await?,
        );
        if !over.is_empty() {
            return Err(AppError::field(
                "plan",
                tf(
                    env.locale(),
                    "billing.error.does_not_fit",
                    &[("plan", target.name.clone()), ("what", over.join("; "))],
                ),
            ));
        }
        sqlx::query(
            "UPDATE subscriptions SET pending_plan_id = $1, cycle = $2, version = version + 1",
        )
        .bind(&target.id)
        .bind(cycle.code())
        .execute(&mut *tx)
        .await?;
        let (kept, _) =
            super::addons::held_under(&mut tx, env.locale(), &sub.currency, target).await?;
        PlanChange::Scheduled {
            at: sub.current_period_end,
            kept_addons: kept.iter().map(|h| h.describe(env.locale())).collect(),
        }
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("billing.plan_changed", "subscriptions", None).change(
            serde_json::json!({ "plan": current.id, "cycle": sub.cycle }),
            serde_json::json!({ "plan": target.id, "cycle": cycle.code(), "applies": match &outcome {
                PlanChange::Upgraded { .. } => "now",
                PlanChange::Scheduled { .. } => "period_end",
            }, "ended_addons": match &outcome {
                PlanChange::Upgraded { ended_addons, .. } => ended_addons.clone(),
                PlanChange::Scheduled { .. } => Vec::new(),
            } }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Cancels at the end of the period, or takes a cancellation back.
pub async fn set_cancel(env: &Env, cancel: bool) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::BillingManage).await?;
    let sub = subscription(&mut tx, true).await?;
    if sub.status == "CANCELLED" {
        return Err(AppError::Conflict(env.t("billing.error.cancelled")));
    }
    sqlx::query("UPDATE subscriptions SET cancel_at_period_end = $1, version = version + 1")
        .bind(cancel)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(
            if cancel {
                "billing.cancelled"
            } else {
                "billing.resumed"
            },
            "subscriptions",
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
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

pub async fn invoice(env: &Env, id: &str) -> Result<InvoiceDetail, AppError> {
    let p = env.require(Permission::BillingView)?;
    let not_found = || AppError::NotFound(env.t("billing.error.invoice_not_found"));
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let mut tx = env.tx(p).await?;
    let row: InvoiceSql = sqlx::query_as(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    let (subtotal_minor, tax_rate_bp, tax_note, tax_minor): (i64, i32, Option<String>, i64) =
        sqlx::query_as(
            "SELECT subtotal_minor, tax_rate_bp, tax_note, tax_minor FROM invoices WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let lines: Vec<(String, i64)> = sqlx::query_as(
        "SELECT description, amount_minor FROM invoice_lines WHERE invoice_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let bill_to = profile(&mut tx).await?;
    let workspace: String = sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(p.tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    let attempts = super::pay::attempts(&mut tx, id).await?;
    tx.commit().await?;
    let can_pay = row.status == "OPEN" && Permission::BillingManage.allowed_for(p.role);
    Ok(InvoiceDetail {
        invoice: row.into(),
        lines: lines
            .into_iter()
            .map(|(description, amount_minor)| InvoiceLine {
                description,
                amount_minor,
            })
            .collect(),
        subtotal_minor,
        tax_rate_bp,
        tax_note,
        tax_minor,
        bill_to,
        workspace,
        attempts,
        can_pay,
    })
}

/// The invoice `id` as a PDF drawn for the viewer (their language, time zone and
/// digits): its file name and bytes. Who may see the invoice page may download it.
pub async fn invoice_pdf(env: &Env, id: &str) -> Result<(String, Vec<u8>), AppError> {
    let detail = invoice(env, id).await?;
    let p = env.require(Permission::BillingView)?;
    let (locale, timezone, digits) = (env.locale(), p.timezone.clone(), p.digits);
    let name = super::invoice_pdf::file_name(detail.invoice.number);
    // Shaping, subsetting and compressing take milliseconds of CPU: off the async
    // workers, and after the transaction has ended.
    let bytes = tokio::task::spawn_blocking(move || {
        let reader = super::invoice_pdf::Reader {
            locale,
            timezone: &timezone,
            digits,
        };
        super::invoice_pdf::render(&detail, &reader)
    })
    .await
    .map_err(crate::db::internal)?;
    Ok((name, bytes))
}

/// Refuses an action that would take the tenant past its plan's contacts-and-leads
/// limit, naming the limit, the usage and where to lift it. In the caller's
/// transaction, before the insert.
pub async fn check_records(tx: &mut Tx, locale: Locale, adding: i64) -> Result<(), AppError> {
    let limit: Option<(Option<i32>, String)> = sqlx::query_as(
        "SELECT p.records_limit, coalesce(p.names->>$1, p.name) FROM subscriptions s JOIN plans p ON p.id = s.plan_id",
    )
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(limit), plan)) = limit else {
        return Ok(());
    };
    // Counts no further than the limit: a big tenant's check costs no more than that.
    let used: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM leads LIMIT $1) a)
              + (SELECT count(*) FROM (SELECT 1 FROM contacts LIMIT $1) b)",
    )
    .bind(i64::from(limit) + 1)
    .fetch_one(&mut **tx)
    .await?;
    if used + adding > i64::from(limit) {
        return Err(AppError::Forbidden(tf(
            locale,
            "billing.error.records_limit",
            &[
                ("plan", plan),
                ("limit", limit.to_string()),
                ("used", used.min(i64::from(limit)).to_string()),
            ],
        )));
    }
    super::warnings::check(
        tx,
        locale,
        Metric::Records,
        used + adding,
        i64::from(limit),
        None,
    )
    .await
}

/// Refuses one more WhatsApp number, mailbox or sending domain past the plan's limit, naming the limit,
/// the usage and the billing page, and warns the admins at 80 % and 100 %. The
/// subscription row is locked, so two adds at once cannot both take the last place.
pub async fn check_senders(tx: &mut Tx, locale: Locale, metric: Metric) -> Result<(), AppError> {
    let (column, table) = match metric {
        Metric::WhatsAppNumbers => ("wa_numbers_limit", "wa_phone_numbers"),
        Metric::Mailboxes => ("mailboxes_limit", "email_accounts"),
        Metric::SendingDomains => ("domains_limit", "email_domains"),
        _ => return Err(crate::db::internal("check_senders counts senders only")),
    };
    let limit: Option<(Option<i32>, String)> = sqlx::query_as(&format!(
        "SELECT p.{column}, coalesce(p.names->>$1, p.name)
           FROM subscriptions s JOIN plans p ON p.id = s.plan_id FOR UPDATE OF s"
    ))
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(limit), plan)) = limit else {
        return Ok(());
    };
    let limit = i64::from(limit) + super::addons::extra(tx, metric, Utc::now()).await?;
    // Archived senders send nothing, so they take no place.
    let used: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE archived_at IS NULL"
    ))
    .fetch_one(&mut **tx)
    .await?;
    if used >= limit {
        return Err(AppError::Forbidden(tf(
            locale,
            "billing.error.limit",
            &[
                ("what", t(locale, metric.label_key())),
                ("plan", plan),
                ("limit", limit.to_string()),
                ("used", used.to_string()),
            ],
        )));
    }
    super::warnings::check(tx, locale, metric, used + 1, limit, None).await
}
