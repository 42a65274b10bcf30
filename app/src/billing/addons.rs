//! Add-ons (migration 0065): extra seats and extra WhatsApp numbers held by the unit on
//! top of the plan's limit, invoiced for the rest of the period when added and with
//! the plan at each renewal; message packs that raise one UTC month's cap on one
//! channel, invoiced when bought.

use super::model::*;
use super::ssr::{create_invoice, plans, subscription, usage};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::request::Env;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct AddonSql {
    id: String,
    name: String,
    metric: String,
    unit_quantity: i32,
    recurring: bool,
    max_units: i32,
    price_minor: Option<i64>,
    units: i32,
}

impl AddonSql {
    fn metric(&self) -> Option<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| format!("{m:?}") == self.metric)
    }
}

/// The catalogue in `locale`, each add-on with its price in `currency` and the units
/// the transaction's tenant holds.
async fn catalogue(tx: &mut Tx, locale: Locale, currency: &str) -> Result<Vec<AddonSql>, AppError> {
    Ok(sqlx::query_as(
        "SELECT a.id, coalesce(a.names->>$1, a.name) AS name, a.metric, a.unit_quantity, a.recurring,
                a.max_units, p.amount_minor AS price_minor, coalesce(sa.units, 0) AS units
           FROM addons a
           LEFT JOIN addon_prices p ON p.addon_id = a.id AND p.currency = $2
           LEFT JOIN subscription_addons sa ON sa.addon_id = a.id
          ORDER BY a.sort_order",
    )
    .bind(locale.code())
    .bind(currency)
    .fetch_all(&mut **tx)
    .await?)
}

/// What the tenant's add-ons add to `metric`'s limit at `at`: units held times their
/// size, and for a monthly cap the packs bought for that month.
pub async fn extra(tx: &mut Tx, metric: Metric, at: DateTime<Utc>) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT ((SELECT coalesce(sum(sa.units::bigint * a.unit_quantity), 0)
                    FROM subscription_addons sa JOIN addons a ON a.id = sa.addon_id WHERE a.metric = $1)
               + (SELECT coalesce(sum(messages), 0) FROM message_packs WHERE metric = $1 AND period = $2))::bigint",
    )
    .bind(format!("{metric:?}"))
    .bind(super::meter::period(at))
    .fetch_one(&mut **tx)
    .await?)
}

/// The add-ons on offer to the transaction's tenant, for the billing page.
pub(super) async fn offers(
    tx: &mut Tx,
    locale: Locale,
    currency: &str,
    plan_limit: impl Fn(Metric) -> Option<i64>,
) -> Result<Vec<AddonOffer>, AppError> {
    let now = Utc::now();
    let mut offers = Vec::new();
    for a in catalogue(tx, locale, currency).await? {
        let Some(metric) = a.metric() else {
            continue;
        };
        let this_month = if a.recurring {
            0
        } else {
            sqlx::query_scalar(
                "SELECT coalesce(sum(messages), 0)::bigint FROM message_packs WHERE addon_id = $1 AND period = $2",
            )
            .bind(&a.id)
            .bind(super::meter::period(now))
            .fetch_one(&mut **tx)
            .await?
        };
        offers.push(AddonOffer {
            id: a.id,
            name: a.name,
            metric,
            unit_quantity: i64::from(a.unit_quantity),
            recurring: a.recurring,
            max_units: a.max_units,
            price_minor: a.price_minor,
            units: a.units,
            this_month,
            available: plan_limit(metric).is_some(),
        });
    }
    Ok(offers)
}

/// A recurring add-on's price for one unit over a whole billing period: a yearly
/// cycle pays ten months, as plans do.
pub fn period_price(monthly: i64, cycle: &str) -> i64 {
    if cycle == "YEARLY" {
        monthly * 10
    } else {
        monthly
    }
}

/// `amount` for the share of the period from `now` to its end, to the second.
pub fn prorate(amount: i64, start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let total = (end - start).num_seconds().max(1);
    let left = (end - now).num_seconds().clamp(0, total);
    (i128::from(amount) * i128::from(left) / i128::from(total)) as i64
}

/// One add-on of the catalogue by id, or the field error that names the choice.
async fn find(env: &Env, tx: &mut Tx, id: &str, currency: &str) -> Result<AddonSql, AppError> {
    catalogue(tx, env.locale(), currency)
        .await?
        .into_iter()
        .find(|a| a.id == id.trim())
        .ok_or_else(|| AppError::field("addon", env.t("billing.error.addon_unknown")))
}

/// A count typed in a form: whole, from `min` to `max`.
fn read_count(env: &Env, field: &str, input: &str, min: i32, max: i32) -> Result<i32, AppError> {
    input
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            AppError::field(
                field,
                tf(
                    env.locale(),
                    "billing.error.addon_count",
                    &[("min", min.to_string()), ("max", max.to_string())],
                ),
            )
        })
}

async fn invoice_number(tx: &mut Tx, id: Option<Uuid>) -> Result<Option<i32>, AppError> {
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(Some(
        sqlx::query_scalar("SELECT number FROM invoices WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?,
    ))
}

/// The plan's limit on `metric` and the add-on's price in the subscription's currency,
/// or the field error saying why the add-on cannot be sold: the plan has no limit
/// there, or the add-on no price in that currency.
async fn sellable(
    env: &Env,
    tx: &mut Tx,
    sub: &super::ssr::SubscriptionSql,
    a: &AddonSql,
    metric: Metric,
) -> Result<(i64, i64), AppError> {
    let l = env.locale();
    let catalogue = plans(tx, l).await?;
    let plan = catalogue
        .iter()
        .find(|pl| pl.id == sub.plan_id)
        .ok_or_else(|| crate::db::internal("the subscription's plan is not in the catalogue"))?;
    let Some(limit) = plan.limit(metric) else {
        return Err(AppError::field(
            "addon",
            tf(
                l,
                "billing.error.addon_unlimited",
                &[
                    ("plan", plan.name.clone()),
                    ("what", t(l, metric.label_key())),
                ],
            ),
        ));
    };
    let price = a.price_minor.ok_or_else(|| {
        AppError::field(
            "addon",
            tf(
                l,
                "billing.error.addon_price",
                &[("currency", sub.currency.clone())],
            ),
        )
    })?;
    Ok((limit, price))
}

/// Sets the units held of a recurring add-on. More units apply now, with an invoice
/// for the added units over the rest of the period (none in a trial, as for an
/// upgrade). Fewer apply now too, without a refund, and only while the workspace still
/// fits its plan plus what remains.
pub async fn set_units(env: &Env, addon: &str, units: &str) -> Result<AddonChange, AppError> {
    let (p, mut tx) = env.begin(Permission::BillingManage).await?;
    let l = env.locale();
    // Locked: changes to the plan and its add-ons take turns.
    let sub = subscription(&mut tx, true).await?;
    let a = find(env, &mut tx, addon, &sub.currency).await?;
    let Some(metric) = a.metric().filter(|_| a.recurring) else {
        return Err(AppError::field(
            "addon",
            env.t("billing.error.addon_unknown"),
        ));
    };
    let units = read_count(env, "units", units, 0, a.max_units)?;
    if sub.status == SubscriptionStatus::Cancelled {
        return Err(AppError::Conflict(env.t("billing.error.addon_cancelled")));
    }
    let (plan_limit, monthly) = sellable(env, &mut tx, &sub, &a, metric).await?;
    if units == a.units {
        return Ok(AddonChange {
            invoice: None,
            invoice_number: None,
        });
    }
    let now = Utc::now();
    let added = units - a.units;
    let invoice = if added > 0 && sub.status != SubscriptionStatus::Trialing {
        let amount = prorate(
            period_price(monthly, &sub.cycle) * i64::from(added),
            sub.current_period_start,
            sub.current_period_end,
            now,
        );
        let line = tf(
            l,
            "billing.line.addon_prorated",
            &[("name", a.name.clone()), ("units", added.to_string())],
        );
        let lines = [("ADDON", line, amount)];
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
    } else {
        None
    };
    if added < 0 {
        let limit = plan_limit + i64::from(units) * i64::from(a.unit_quantity);
        let used = usage(&mut tx)
            .await?
            .into_iter()
            .find(|(m, _)| *m == metric)
            .map_or(0, |(_, n)| n);
        if used > limit {
            return Err(AppError::field(
                "units",
                tf(
                    l,
                    "billing.error.addon_does_not_fit",
                    &[
                        ("what", t(l, metric.label_key())),
                        ("used", used.to_string()),
                        ("limit", limit.to_string()),
                    ],
                ),
            ));
        }
    }
    if units == 0 {
        sqlx::query("DELETE FROM subscription_addons WHERE addon_id = $1")
            .bind(&a.id)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO subscription_addons (tenant_id, addon_id, units) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, addon_id) DO UPDATE SET units = EXCLUDED.units, updated_at = now()",
        )
        .bind(p.tenant_id)
        .bind(&a.id)
        .bind(units)
        .execute(&mut *tx)
        .await?;
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("billing.addon_changed", "subscription_addons", None).change(
            serde_json::json!({ "addon": a.id, "units": a.units }),
            serde_json::json!({ "addon": a.id, "units": units, "invoice": invoice }),
        ),
    )
    .await?;
    let invoice_number = invoice_number(&mut tx, invoice).await?;
    tx.commit().await?;
    Ok(AddonChange {
        invoice,
        invoice_number,
    })
}

/// Buys `packs` message packs: this month's cap on their channel rises at once,
/// messages held by the cap are due again, and an invoice is issued (in a trial too:
/// a pack is a purchase, not part of the plan).
pub async fn buy_pack(env: &Env, addon: &str, packs: &str) -> Result<AddonChange, AppError> {
    let (p, mut tx) = env.begin(Permission::BillingManage).await?;
    let l = env.locale();
    let sub = subscription(&mut tx, true).await?;
    let a = find(env, &mut tx, addon, &sub.currency).await?;
    let Some(metric) = a.metric().filter(|_| !a.recurring) else {
        return Err(AppError::field(
            "addon",
            env.t("billing.error.addon_unknown"),
        ));
    };
    let packs = read_count(env, "packs", packs, 1, a.max_units)?;
    if sub.status == SubscriptionStatus::Cancelled {
        return Err(AppError::Conflict(env.t("billing.error.addon_cancelled")));
    }
    let (_, price) = sellable(env, &mut tx, &sub, &a, metric).await?;
    let now = Utc::now();
    let period = super::meter::period(now);
    let messages = i64::from(packs) * i64::from(a.unit_quantity);
    let line = tf(
        l,
        "billing.line.pack",
        &[
            ("name", a.name.clone()),
            ("packs", packs.to_string()),
            ("messages", crate::l10n::integer(l, messages)),
        ],
    );
    let lines = [("ADDON", line, price * i64::from(packs))];
    let invoice = create_invoice(
        &mut tx,
        p.tenant_id,
        &sub.currency,
        &lines,
        (now, super::meter::next_period(now)),
    )
    .await?;
    sqlx::query(
        "INSERT INTO message_packs (tenant_id, id, addon_id, metric, messages, period, invoice_id, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.tenant_id)
    .bind(new_id())
    .bind(&a.id)
    .bind(format!("{metric:?}"))
    .bind(i32::try_from(messages).unwrap_or(i32::MAX))
    .bind(period)
    .bind(invoice)
    .bind(p.user_id)
    .execute(&mut *tx)
    .await?;
    // Messages the cap held wait for next month; the room is here now. Those still
    // over it are held again by the dispatcher, with their reason.
    sqlx::query(
        "UPDATE outbox o SET due_at = now(), held_by_limit = false
           FROM messages m
          WHERE o.held_by_limit AND m.id = o.message_id AND m.channel = $1",
    )
    .bind(match metric {
        Metric::WhatsAppMessages => "WHATSAPP",
        _ => "EMAIL",
    })
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("billing.pack_bought", "message_packs", None).change(
            serde_json::json!(null),
            serde_json::json!({ "addon": a.id, "packs": packs, "messages": messages, "invoice": invoice }),
        ),
    )
    .await?;
    let invoice_number = invoice_number(&mut tx, Some(invoice)).await?;
    tx.commit().await?;
    Ok(AddonChange {
        invoice: Some(invoice),
        invoice_number,
    })
}

/// The renewal invoice's lines for the recurring add-ons held: one per add-on, its
/// units over the whole new period.
pub(super) async fn renewal_lines(
    tx: &mut Tx,
    locale: Locale,
    cycle: &str,
    currency: &str,
    period: &str,
) -> Result<Vec<(&'static str, String, i64)>, AppError> {
    Ok(catalogue(tx, locale, currency)
        .await?
        .into_iter()
        .filter(|a| a.recurring && a.units > 0)
        .filter_map(|a| {
            let monthly = a.price_minor?;
            let line = tf(
                locale,
                "billing.line.addon",
                &[
                    ("name", a.name.clone()),
                    ("units", a.units.to_string()),
                    ("period", period.to_string()),
                ],
            );
            Some((
                "ADDON",
                line,
                period_price(monthly, cycle) * i64::from(a.units),
            ))
        })
        .collect())
}

/// A recurring add-on the tenant holds, as a plan change sees it.
pub(super) struct Held {
    id: String,
    pub(super) name: String,
    pub(super) units: i32,
    /// Per unit and month in the subscription's currency, if sold in it.
    pub(super) monthly: Option<i64>,
    metric: Metric,
}

impl Held {
    /// "Extra seat × 2", for the messages that list them.
    pub(super) fn describe(&self, l: Locale) -> String {
        tf(
            l,
            "billing.addon.item",
            &[
                ("name", self.name.clone()),
                ("units", self.units.to_string()),
            ],
        )
    }
}

/// The recurring add-ons the transaction's tenant holds, split by whether `plan` limits
/// what they raise: those it does keep their meaning on it; the rest would be paid for
/// nothing.
pub(super) async fn held_under(
    tx: &mut Tx,
    locale: Locale,
    currency: &str,
    plan: &super::ssr::PlanSql,
) -> Result<(Vec<Held>, Vec<Held>), AppError> {
    let held = catalogue(tx, locale, currency)
        .await?
        .into_iter()
        .filter(|a| a.recurring && a.units > 0)
        .filter_map(|a| {
            Some(Held {
                metric: a.metric()?,
                id: a.id,
                name: a.name,
                units: a.units,
                monthly: a.price_minor,
            })
        });
    Ok(held.partition(|h| plan.limit(h.metric).is_some()))
}

/// Ends the recurring add-ons `plan` has no limit for (an upgrade to unlimited
/// WhatsApp numbers makes extra numbers pointless), so they are neither renewed nor
/// counted; what ended.
pub(super) async fn end_unlimited_on(
    tx: &mut Tx,
    locale: Locale,
    currency: &str,
    plan: &super::ssr::PlanSql,
) -> Result<Vec<Held>, AppError> {
    let (_, pointless) = held_under(tx, locale, currency, plan).await?;
    for h in &pointless {
        sqlx::query("DELETE FROM subscription_addons WHERE addon_id = $1")
            .bind(&h.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(pointless)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_yearly_unit_pays_ten_months() {
        assert_eq!(period_price(900, "MONTHLY"), 900);
        assert_eq!(period_price(900, "YEARLY"), 9_000);
    }

    #[test]
    fn proration_is_to_the_second_and_never_negative_or_more_than_whole() {
        let start = Utc.with_ymd_and_hms(2028, 2, 1, 0, 0, 0).unwrap();
        // February of a leap year: 29 days.
        let end = Utc.with_ymd_and_hms(2028, 3, 1, 0, 0, 0).unwrap();
        let mid = Utc.with_ymd_and_hms(2028, 2, 15, 12, 0, 0).unwrap();
        assert_eq!(prorate(2_900, start, end, mid), 1_450);
        assert_eq!(prorate(2_900, start, end, start), 2_900);
        assert_eq!(prorate(2_900, start, end, end), 0);
        assert_eq!(
            prorate(2_900, start, end, end + chrono::Duration::days(3)),
            0
        );
        assert_eq!(
            prorate(2_900, start, end, start - chrono::Duration::days(3)),
            2_900
        );
        // EGP has two decimals, but a yen-like currency with none prorates the same way.
        assert_eq!(prorate(45_000, start, end, mid), 22_500);
    }
}
