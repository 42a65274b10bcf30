//! Plan changes: upgrades prorated now, downgrades at the period's end if the
//! workspace fits, cancelling and resuming.

use super::*;

/// What the add-ons held add to each limit now (`addons::extra`), for every metric
/// an add-on lifts.
pub(super) async fn extras(tx: &mut Tx) -> Result<Vec<(Metric, i64)>, AppError> {
    let now = Utc::now();
    let mut extras = Vec::new();
    for metric in [
        Metric::Seats,
        Metric::WhatsAppNumbers,
        Metric::WhatsAppMessages,
        Metric::EmailMessages,
    ] {
        extras.push((
            metric,
            crate::billing::addons::extra(tx, metric, now).await?,
        ));
    }
    Ok(extras)
}

/// `plan`'s limit on `metric` with the add-ons on top; unlimited stays unlimited.
pub(super) fn with_extras(plan: &PlanSql, metric: Metric, extras: &[(Metric, i64)]) -> Option<i64> {
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
            crate::billing::addons::end_unlimited_on(&mut tx, env.locale(), &sub.currency, target)
                .await?;
        let invoice = if sub.status == SubscriptionStatus::Trialing {
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
                let paid = crate::billing::addons::period_price(h.monthly?, &sub.cycle)
                    * i64::from(h.units);
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
            crate::billing::addons::held_under(&mut tx, env.locale(), &sub.currency, target)
                .await?;
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
    if sub.status == SubscriptionStatus::Cancelled {
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
