//! The plan catalogue: limits, features and list prices, edited in place.

use super::*;

#[component]
pub fn StaffPlansPage() -> impl IntoView {
    let saved = RwSignal::new(0u32);
    let catalogue = Resource::new(move || saved.get(), |_| staff_plans());
    view! {
        <PageHeader title=tr("staff.plans")/>
        <p class="text-sm text-muted mb-4">{tr("staff.plans_hint")}</p>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match catalogue.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(c) => {
                        let (can, currencies) = (c.can_manage, c.currencies.clone());
                        c.plans.into_iter().map(|plan| view! {
                            <PlanEditor plan can currencies=currencies.clone() saved/>
                        }).collect_view().into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// One plan's limits, features and list prices, edited in place.
#[component]
fn PlanEditor(
    plan: CataloguePlan,
    can: bool,
    currencies: Vec<String>,
    saved: RwSignal<u32>,
) -> impl IntoView {
    use crate::billing::model::Feature;
    let l = locale();
    let save = ServerAction::<SavePlan>::new();
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let text = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
    let limits = [
        ("seats", "staff.limit.seats", plan.seats.to_string()),
        ("records", "staff.limit.records", text(plan.records)),
        (
            "wa_numbers",
            "staff.limit.wa_numbers",
            text(plan.wa_numbers),
        ),
        ("mailboxes", "staff.limit.mailboxes", text(plan.mailboxes)),
        (
            "wa_messages",
            "staff.limit.wa_messages",
            text(plan.wa_messages),
        ),
        (
            "email_messages",
            "staff.limit.email_messages",
            text(plan.email_messages),
        ),
        ("domains", "staff.limit.domains", text(plan.domains)),
        (
            "storage_mb",
            "staff.limit.storage_mb",
            text(plan.storage_mb),
        ),
        (
            "api_per_minute",
            "staff.limit.api_per_minute",
            plan.api_per_minute.to_string(),
        ),
        (
            "api_per_hour",
            "staff.limit.api_per_hour",
            text(plan.api_per_hour),
        ),
    ]
    .map(|(field, key, value)| (field, key, RwSignal::new(value)));
    let features: Vec<(Feature, RwSignal<bool>)> = Feature::ALL
        .into_iter()
        .map(|f| (f, RwSignal::new(plan.features.iter().any(|k| k == f.key()))))
        .collect();
    let prices: Vec<(String, String, RwSignal<String>)> = currencies
        .iter()
        .flat_map(|cur| ["MONTHLY", "YEARLY"].map(|cycle| (cycle.to_string(), cur.clone())))
        .map(|(cycle, currency)| {
            let typed = plan
                .prices
                .iter()
                .find(|p| p.cycle == cycle && p.currency == currency)
                .map(|p| l10n::decimal(l, p.amount_minor, money::exponent(&currency)))
                .unwrap_or_default();
            (cycle, currency, RwSignal::new(typed))
        })
        .collect();
    let reason = RwSignal::new(String::new());
    let id = plan.id.clone();
    let (limits_c, features_c, prices_c) = (limits, features.clone(), prices.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let get = |f: &str| {
            limits_c
                .iter()
                .find(|(field, _, _)| *field == f)
                .map(|(_, _, v)| v.get_untracked())
                .unwrap_or_default()
        };
        save.dispatch(SavePlan {
            plan: PlanDraft {
                id: id.clone(),
                seats: get("seats"),
                records: get("records"),
                wa_numbers: get("wa_numbers"),
                mailboxes: get("mailboxes"),
                wa_messages: get("wa_messages"),
                email_messages: get("email_messages"),
                domains: get("domains"),
                storage_mb: get("storage_mb"),
                api_per_minute: get("api_per_minute"),
                api_per_hour: get("api_per_hour"),
                features: features_c
                    .iter()
                    .filter(|(_, on)| on.get_untracked())
                    .map(|(f, _)| f.key().to_string())
                    .collect(),
                prices: prices_c
                    .iter()
                    .map(|(cycle, currency, v)| PriceDraft {
                        cycle: cycle.clone(),
                        currency: currency.clone(),
                        amount: v.get_untracked(),
                    })
                    .collect(),
                reason: reason.get_untracked(),
            },
        });
    };
    let pid = plan.id.clone();
    let name = plan.name.clone();
    let error_for = move |field: String| {
        move || match save.value().get() {
            Some(Err(crate::error::AppError::Validation { field: f, message })) if f == field => {
                Some(message)
            }
            _ => None,
        }
    };
    view! {
        <section class="card" data-testid="plan-editor" data-plan=plan.id.clone() aria-labelledby=format!("plan-{pid}-title")>
            <div class="flex flex-wrap items-center gap-2">
                <h2 class="card-title mb-0" id=format!("plan-{pid}-title")>{name.clone()}</h2>
                <Badge text=tf(l, "staff.workspaces_n", &[("n", l10n::integer(l, plan.workspaces))])/>
            </div>
            <form on:submit=submit class="mt-3">
                <fieldset disabled=!can class="grid gap-3 md:grid-cols-4">
                    <legend class="sr-only">{tf(l, "staff.limits_of", &[("plan", name.clone())])}</legend>
                    {limits.into_iter().map(|(field, key, value)| {
                        let fid = format!("plan-{pid}-{field}");
                        let eid = format!("{fid}-error");
                        let error = error_for(field.to_string());
                        view! {
                            <div class="field">
                                <label for=fid.clone() class="field-label">{tr(key)}</label>
                                <input id=fid name=field class="input" inputmode="numeric" bind:value=value aria-describedby=eid.clone()/>
                                {move || error().map(|m| view! { <p id=eid.clone() class="field-error" role="alert">{m}</p> })}
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <fieldset disabled=!can class="mt-3">
                    <legend class="field-label">{tf(l, "staff.features_of", &[("plan", name.clone())])}</legend>
                    <div class="flex flex-wrap gap-4">
                        {features.into_iter().map(|(f, on)| {
                            let fid = format!("plan-{pid}-f-{}", f.key().replace('.', "-"));
                            let input_id = fid.clone();
                            view! {
                                <label for=fid class="flex items-center gap-2">
                                    <input id=input_id type="checkbox" bind:checked=on/>
                                    {tr(f.label_key())}
                                </label>
                            }
                        }).collect_view()}
                    </div>
                </fieldset>
                <fieldset disabled=!can class="mt-3">
                    <legend class="field-label">{tf(l, "staff.prices_of", &[("plan", name.clone())])}</legend>
                    <p class="field-hint">{tr("staff.prices_hint")}</p>
                    <div class="grid gap-3 md:grid-cols-4">
                        {prices.into_iter().map(|(cycle, currency, value)| {
                            let fid = format!("plan-{pid}-{cycle}-{currency}");
                            let eid = format!("{fid}-error");
                            let error = error_for(format!("price-{cycle}-{currency}"));
                            let label = tf(l, if cycle == "MONTHLY" { "staff.price_monthly" } else { "staff.price_yearly" }, &[("currency", currency.clone())]);
                            view! {
                                <div class="field">
                                    <label for=fid.clone() class="field-label">{label}</label>
                                    <input id=fid class="input" inputmode="decimal" bind:value=value aria-describedby=eid.clone()/>
                                    {move || error().map(|m| view! { <p id=eid.clone() class="field-error" role="alert">{m}</p> })}
                                </div>
                            }
                        }).collect_view()}
                    </div>
                </fieldset>
                {can.then(|| {
                    let rid = format!("plan-{pid}-reason");
                    view! {
                        <div class="mt-3 flex flex-wrap items-end gap-3">
                            <div class="field mb-0">
                                <label for=rid.clone() class="field-label">{tf(l, "staff.plan_reason", &[("plan", name.clone())])}</label>
                                <input id=rid class="input" maxlength="500" bind:value=reason/>
                            </div>
                            <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>{tf(l, "staff.save_plan", &[("plan", name.clone())])}</button>
                        </div>
                    }
                })}
                // Errors of a field show at the field; the rest here.
                {move || match save.value().get() {
                    Some(Err(crate::error::AppError::Validation { field, .. }))
                        if field != "reason" && field != "features" => None,
                    Some(Err(e)) => Some(view! { <p class="alert alert-danger mt-2" role="alert">{e.to_string()}</p> }),
                    _ => None,
                }}
                {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! {
                    <p class="alert alert-success mt-2" role="status">{tr("common.saved")}</p>
                })}
            </form>
        </section>
    }
}
