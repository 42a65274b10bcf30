//! The billing page (plan, usage against every limit, plans to change to, the
//! billing profile, invoices) and an invoice that prints well.

use super::api::*;
use super::model::*;
use crate::crm::money;
use crate::i18n::{t, tf, Locale};
use crate::ui::{
    field_error, form_error, hard_redirect, locale, page, poll_while, tr, Alert, Badge, Card,
    Field, LoadError, PageHeader, Skeleton, Submit,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::ui::day_of as date;

/// A plan's features by name, in the catalogue's order.
fn features_text(l: Locale, keys: &[String]) -> String {
    let names: Vec<String> = Feature::ALL
        .iter()
        .filter(|f| keys.iter().any(|k| k == f.key()))
        .map(|f| t(l, f.label_key()))
        .collect();
    if names.is_empty() {
        t(l, "billing.no_features")
    } else {
        names.join(", ")
    }
}

/// The usage bar's colour: warning from 80 %, danger at the limit.
fn bar_class(percent: u32) -> &'static str {
    match percent {
        100.. => "h-full bg-danger",
        80..=99 => "h-full bg-warning",
        _ => "h-full bg-brand",
    }
}

/// While a charge is on its way, the page looks again this often.
const PAYMENT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

fn limit_text(l: crate::i18n::Locale, metric: Metric, limit: Option<i64>) -> String {
    limit.map_or_else(|| t(l, "billing.unlimited"), |n| metric.amount(l, n))
}

/// A plan's public API allowance: "300 a minute, 5,000 an hour", or that it has no API.
fn api_text(l: Locale, p: &PlanOffer) -> String {
    if !p.features.iter().any(|f| f == Feature::Api.key()) {
        return t(l, "billing.api.none");
    }
    let minute = crate::l10n::integer(l, i64::from(p.api_per_minute));
    match p.api_per_hour {
        Some(hour) => tf(
            l,
            "billing.api.rate",
            &[
                ("minute", minute),
                ("hour", crate::l10n::integer(l, i64::from(hour))),
            ],
        ),
        None => tf(l, "billing.api.rate_minute", &[("minute", minute)]),
    }
}

#[component]
pub fn BillingPage() -> impl IntoView {
    let l = locale();
    let change = ServerAction::<ChangePlan>::new();
    let cancel = ServerAction::<SetCancel>::new();
    let save = ServerAction::<SaveBillingProfile>::new();
    let set_card = ServerAction::<SetPaymentMethod>::new();
    let pay = ServerAction::<PayInvoice>::new();
    let end_trial = ServerAction::<EndTrial>::new();
    let set_units = ServerAction::<SetAddonUnits>::new();
    let buy_pack = ServerAction::<BuyMessagePack>::new();
    // The add-on row last submitted: its outcome shows there once the page reloads.
    let last_addon = RwSignal::new(String::new());
    let tick = RwSignal::new(0u32);
    let pending = RwSignal::new(false);
    poll_while(move || pending.get_untracked(), tick, PAYMENT_POLL);
    let read_only = page().viewer.and_then(|v| v.unpaid_invoice).is_some();
    let overview = Resource::new(
        move || {
            (
                change.version().get(),
                cancel.version().get(),
                save.version().get(),
                set_card.version().get(),
                (pay.version().get(), end_trial.version().get()),
                (set_units.version().get(), buy_pack.version().get()),
                tick.get(),
            )
        },
        |_| billing_overview(),
    );
    let cycle = RwSignal::new(String::new());
    view! {
        <PageHeader title=tr("nav.billing")/>
        <Alert message=form_error(change.value(), &[])/>
        {move || change.value().get().and_then(|r| r.err()).and_then(|e| e.for_field("plan")).map(|m| view! {
            <p class="alert alert-danger" role="alert" data-testid="plan-error">{m}</p>
        })}
        {move || match change.value().get() {
            Some(Ok(PlanChange::Upgraded { ended_addons, .. })) => Some(view! {
                <p class="alert alert-success" role="status">
                    {tr("billing.upgraded")}{addons_note(l, "billing.addons_ended", &ended_addons)}
                </p>
            }.into_any()),
            Some(Ok(PlanChange::Scheduled { at, kept_addons })) => Some(view! {
                <p class="alert alert-success" role="status">
                    {tf(l, "billing.scheduled", &[("at", date(at))])}{addons_note(l, "billing.addons_kept", &kept_addons)}
                </p>
            }.into_any()),
            _ => None,
        }}
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(o) => {
                        if cycle.get_untracked().is_empty() {
                            cycle.set(o.cycle.code().to_string());
                        }
                        pending.set(o.payment.pending);
                        if read_only && o.status != SubscriptionStatus::Unpaid {
                            // Paid: the shell's read-only banner and every page's
                            // writes come back with a fresh load.
                            hard_redirect("/billing");
                        }
                        let currency = o.currency.clone();
                        view! {
                            {(!o.warnings.is_empty()).then(|| view! {
                                <div class="alert alert-warning" role="status" data-testid="usage-warnings">
                                    <ul>
                                        {o.warnings.iter().map(|(m, percent)| view! {
                                            <li>{tf(l, "billing.warning.banner", &[("what", t(l, m.label_key())), ("percent", percent.to_string())])}</li>
                                        }).collect_view()}
                                    </ul>
                                </div>
                            })}
                            <PaymentCard payment=o.payment.clone() can_manage=o.can_manage set_card=set_card pay=pay/>
                            <Card>
                                <div class="flex flex-wrap items-center gap-3" data-testid="current-plan">
                                    <h2 class="card-title mb-0">{tf(l, "billing.on_plan", &[("plan", o.plan_name.clone())])}</h2>
                                    <Badge text=t(l, &format!("billing.status.{}", o.status.code().to_lowercase())) tone=status_tone(o.status.code())/>
                                </div>
                                <p class="text-sm text-muted mt-1">
                                    {tf(l, "billing.period", &[("from", date(o.period_start)), ("to", date(o.period_end))])}
                                    {o.trial_ends_at.filter(|_| o.status == SubscriptionStatus::Trialing).map(|at| format!(" · {}", tf(l, "billing.trial_ends", &[("at", date(at))])))}
                                </p>
                                {o.pending_plan.clone().map(|p| view! {
                                    <p class="alert alert-warning mt-2" role="status">{tf(l, "billing.pending", &[("plan", p), ("at", date(o.period_end))])}</p>
                                })}
                                {o.cancel_at_period_end.then(|| view! {
                                    <p class="alert alert-warning mt-2" role="status">{tf(l, "billing.cancelling", &[("at", date(o.period_end))])}</p>
                                })}
                                {(o.can_manage && o.status == SubscriptionStatus::Trialing).then(|| view! {
                                    <ActionForm action=end_trial attr:class="mt-3">
                                        <button type="submit" class="btn btn-primary" aria-describedby="b-end-trial">{tr("billing.end_trial")}</button>
                                        <p id="b-end-trial" class="field-hint">{tr("billing.end_trial_hint")}</p>
                                    </ActionForm>
                                })}
                                <Alert message=form_error(end_trial.value(), &[])/>
                                {o.can_manage.then(|| view! {
                                    <ActionForm action=cancel attr:class="mt-3">
                                        <input type="hidden" name="cancel" value=(!o.cancel_at_period_end).to_string()/>
                                        <button type="submit" class="btn btn-secondary">
                                            {if o.cancel_at_period_end { tr("billing.resume") } else { tr("billing.cancel") }}
                                        </button>
                                    </ActionForm>
                                })}
                            </Card>
                            <Card title=t(l, "billing.usage")>
                                <ul class="space-y-3" data-testid="usage">
                                    {o.usage.iter().map(|u| {
                                        let label = t(l, u.metric.label_key());
                                        let text = tf(l, "billing.used_of", &[("used", u.metric.amount(l, u.used)), ("limit", limit_text(l, u.metric, u.limit))]);
                                        let percent = u.percent();
                                        view! {
                                            <li>
                                                <div class="flex justify-between text-sm"><span>{label.clone()}</span><span class="tabular-nums">{text}</span></div>
                                                {u.limit.map(|_| view! {
                                                    <div class="h-2 w-full overflow-hidden rounded-full bg-line" role="progressbar" aria-label=label.clone()
                                                        aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent.to_string()>
                                                        <div class=bar_class(percent)
                                                            style=format!("width: {percent}%")></div>
                                                    </div>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                {(o.held_messages > 0).then(|| view! {
                                    <p class="alert alert-warning mt-3" role="status" data-testid="held-messages">
                                        {tf(l, "billing.held_messages", &[("count", o.held_messages.to_string())])}
                                    </p>
                                })}
                            </Card>
                            <Card title=t(l, "billing.plans")>
                                {o.can_manage.then(|| view! {
                                    <div class="field mb-3">
                                        <label for="b-cycle" class="field-label">{tr("billing.cycle")}</label>
                                        <select id="b-cycle" class="input" on:change=move |ev| cycle.set(event_target_value(&ev))>
                                            <option value="MONTHLY" selected=o.cycle == Cycle::Monthly>{tr("billing.monthly")}</option>
                                            <option value="YEARLY" selected=o.cycle == Cycle::Yearly>{tr("billing.yearly")}</option>
                                        </select>
                                    </div>
                                })}
                                <div class="table-wrap">
                                    <table class="table" data-testid="plans">
                                        <thead>
                                            <tr>
                                                <th>{tr("billing.plan")}</th>
                                                <th>{tr("billing.price")}</th>
                                                {Metric::ALL.iter().map(|m| view! { <th>{tr(m.label_key())}</th> }).collect_view()}
                                                <th>{tr("billing.api.requests")}</th>
                                                <th>{tr("billing.features")}</th>
                                                <th><span class="sr-only">{tr("billing.actions")}</span></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {o.plans.iter().map(|p| {
                                                let id = p.id.clone();
                                                let name = p.name.clone();
                                                view! {
                                                    <tr data-plan=p.id.clone()>
                                                        <td class="font-medium">{p.name.clone()}</td>
                                                        <td class="tabular-nums">{p.price_minor.map_or_else(|| t(l, "billing.quoted"), |m| money::format(crate::ui::locale(), m, &currency))}</td>
                                                        {p.limits.iter().map(|(m, lim)| view! { <td class="tabular-nums">{limit_text(l, *m, *lim)}</td> }).collect_view()}
                                                        <td class="tabular-nums" data-testid="plan-api">{api_text(l, p)}</td>
                                                        <td data-testid="plan-features">{features_text(l, &p.features)}</td>
                                                        <td>
                                                            {if p.current {
                                                                view! { <Badge text=t(l, "billing.current") tone="success"/> }.into_any()
                                                            } else if o.can_manage && p.price_minor.is_some() {
                                                                view! {
                                                                    <button type="button" class="btn btn-secondary" disabled=move || change.pending().get()
                                                                        on:click=move |_| { change.dispatch(ChangePlan { plan: id.clone(), cycle: cycle.get_untracked() }); }>
                                                                        {tf(l, "billing.switch_to", &[("plan", name.clone())])}
                                                                    </button>
                                                                }.into_any()
                                                            } else {
                                                                ().into_any()
                                                            }}
                                                        </td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            </Card>
                            <AddonsCard addons=o.addons.clone() currency=o.currency.clone() cycle=o.cycle can_manage=o.can_manage set_units=set_units buy_pack=buy_pack last=last_addon/>
                            <Card title=t(l, "billing.profile")>
                                {if o.can_manage {
                                    view! {
                                        <ActionForm action=save attr:class="form-col" attr:novalidate="">
                                            <Alert message=form_error(save.value(), &["company_name", "address", "country", "tax_id", "email"])/>
                                            <Field label=tr("billing.company") name="company_name" value=o.profile.company_name.clone() error=field_error(save.value(), "company_name")/>
                                            <Field label=tr("billing.address") name="address" value=o.profile.address.clone() error=field_error(save.value(), "address")/>
                                            <Field label=tr("billing.country") name="country" value=o.profile.country.clone() hint=tr("billing.country_hint") error=field_error(save.value(), "country")/>
                                            <Field label=tr("billing.tax_id") name="tax_id" value=o.profile.tax_id.clone() error=field_error(save.value(), "tax_id")/>
                                            <Field label=tr("billing.email") name="email" kind="email" value=o.profile.email.clone() error=field_error(save.value(), "email")/>
                                            <Submit label=tr("common.save") pending=save.pending()/>
                                        </ActionForm>
                                    }.into_any()
                                } else {
                                    view! { <p class="text-sm">{[o.profile.company_name.clone(), o.profile.country.clone(), o.profile.email.clone()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" · ")}</p> }.into_any()
                                }}
                            </Card>
                            <Card title=t(l, "billing.invoices")>
                                {if o.invoices.is_empty() {
                                    view! { <p class="text-sm text-muted">{tr("billing.no_invoices")}</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="divide-y divide-line" data-testid="invoices">
                                            {o.invoices.iter().map(|i| view! {
                                                <li class="flex flex-wrap items-center gap-3 py-2">
                                                    <a class="link" href=format!("/billing/invoices/{}", i.id)>{tf(l, "billing.invoice_no", &[("n", i.number.to_string())])}</a>
                                                    <span class="tabular-nums">{money::format(crate::ui::locale(), i.total_minor, &i.currency)}</span>
                                                    <span class="text-sm text-muted">{date(i.issued_at)}</span>
                                                    <Badge text=t(l, &format!("billing.invoice_status.{}", i.status.code().to_lowercase())) tone=status_tone(i.status.code())/>
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </Card>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn method_name(l: crate::i18n::Locale, method: &str) -> String {
    TEST_PAYMENT_METHODS
        .iter()
        .find(|(id, _)| *id == method)
        .map_or_else(|| method.to_string(), |(_, key)| t(l, key))
}

/// The card on file, a charge on its way, and the failed one with "Pay now".
#[component]
fn PaymentCard(
    payment: Payment,
    can_manage: bool,
    set_card: ServerAction<SetPaymentMethod>,
    pay: ServerAction<PayInvoice>,
) -> impl IntoView {
    let l = locale();
    let current = payment.method.clone().unwrap_or_default();
    view! {
        <Card title=t(l, "billing.payment")>
            {payment.failed.clone().map(|(id, n, why)| {
                let id = id.to_string();
                view! {
                    <div class="alert alert-danger" role="alert" data-testid="payment-failed">
                        <p>{tf(l, "billing.payment_failed", &[("n", n.to_string()), ("reason", why)])}</p>
                        {can_manage.then(|| view! {
                            <button type="button" class="btn btn-primary mt-2" disabled=move || pay.pending().get()
                                on:click=move |_| { pay.dispatch(PayInvoice { id: id.clone() }); }>
                                {tf(l, "billing.pay_now", &[("n", n.to_string())])}
                            </button>
                        })}
                    </div>
                }
            })}
            <Alert message=form_error(pay.value(), &[])/>
            {payment.pending.then(|| view! {
                <p class="alert alert-warning" role="status" data-testid="payment-pending">{tr("billing.payment_pending")}</p>
            })}
            {if can_manage {
                view! {
                    <ActionForm action=set_card attr:class="form-col">
                        <Alert message=form_error(set_card.value(), &["payment_method"])/>
                        <div class="field">
                            <label for="b-card" class="field-label">{tr("billing.card")}</label>
                            <select id="b-card" name="payment_method" class="input" aria-describedby="b-card-hint">
                                {(current.is_empty()).then(|| view! { <option value="" selected=true>{tr("billing.card_none")}</option> })}
                                {TEST_PAYMENT_METHODS.iter().map(|(id, key)| view! {
                                    <option value=*id selected=current == *id>{tr(key)}</option>
                                }).collect_view()}
                            </select>
                            <p id="b-card-hint" class="field-hint">{tr("billing.card_hint")}</p>
                            {move || field_error(set_card.value(), "payment_method").get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                        </div>
                        <Submit label=tr("billing.save_card") pending=set_card.pending()/>
                    </ActionForm>
                }.into_any()
            } else {
                view! {
                    <p class="text-sm" data-testid="card">{payment.method.as_deref().map_or_else(|| t(l, "billing.card_none"), |m| method_name(l, m))}</p>
                }.into_any()
            }}
        </Card>
    }
}

/// What an add-on change answered, for the row it was made in: the done message or
/// the error, the invoice it made linked.
fn addon_outcome(
    l: Locale,
    value: Option<Result<AddonChange, crate::error::AppError>>,
    field: &str,
) -> Option<AnyView> {
    match value? {
        Ok(AddonChange { invoice: Some(id), invoice_number: Some(n) }) => Some(view! {
            <p class="alert alert-success mt-2" role="status">
                <a class="underline" href=format!("/billing/invoices/{id}")>{tf(l, "billing.addon.invoiced", &[("n", n.to_string())])}</a>
            </p>
        }.into_any()),
        Ok(_) => Some(view! { <p class="alert alert-success mt-2" role="status">{t(l, "billing.addon.done")}</p> }.into_any()),
        Err(e) if e.for_field(field).is_some() => None,
        Err(e) => Some(view! { <p class="alert alert-danger mt-2" role="alert">{e.for_field("addon").unwrap_or_else(|| e.to_string())}</p> }.into_any()),
    }
}

/// Extra seats and numbers held by the unit, and message packs for this month. The
/// owner changes them; admins read.
#[component]
fn AddonsCard(
    addons: Vec<AddonOffer>,
    currency: String,
    cycle: Cycle,
    can_manage: bool,
    set_units: ServerAction<SetAddonUnits>,
    buy_pack: ServerAction<BuyMessagePack>,
    /// The row last submitted, kept by the page: this card is drawn anew on reload.
    last: RwSignal<String>,
) -> impl IntoView {
    let l = locale();
    let rows = addons
        .into_iter()
        .map(|a| {
            let id = a.id.clone();
            let input_id = format!("addon-{}", a.id);
            let error_id = format!("{input_id}-error");
            let price = a.price_minor.map(|m| money::format(crate::ui::locale(), m, &currency));
            let price_text = price.map(|p| {
                if a.recurring {
                    let key = if cycle == Cycle::Yearly { "billing.addon.each_year" } else { "billing.addon.each_month" };
                    tf(l, key, &[("price", p)])
                } else {
                    tf(l, "billing.addon.each_pack", &[("price", p), ("n", crate::l10n::integer(l, a.unit_quantity))])
                }
            });
            let status = if !a.available {
                t(l, "billing.addon.unlimited")
            } else if a.recurring {
                tf(l, "billing.addon.held", &[("n", a.units.to_string())])
            } else {
                tf(l, "billing.addon.this_month", &[("n", crate::l10n::integer(l, a.this_month))])
            };
            let field = if a.recurring { "units" } else { "packs" };
            let mine = {
                let id = id.clone();
                move || last.get() == id
            };
            let error = {
                let mine = mine.clone();
                Signal::derive(move || {
                    if !mine() {
                        return None;
                    }
                    if a.recurring {
                        set_units.value().get().and_then(|r| r.err()).and_then(|e| e.for_field("units"))
                    } else {
                        buy_pack.value().get().and_then(|r| r.err()).and_then(|e| e.for_field("packs"))
                    }
                })
            };
            let outcome = {
                let mine = mine.clone();
                move || {
                    if !mine() {
                        return None;
                    }
                    if a.recurring {
                        addon_outcome(l, set_units.value().get(), "units")
                    } else {
                        addon_outcome(l, buy_pack.value().get(), "packs")
                    }
                }
            };
            let form = (can_manage && a.available && a.price_minor.is_some()).then(|| {
                let label = if a.recurring { t(l, "billing.addon.units") } else { t(l, "billing.addon.packs") };
                let button = if a.recurring {
                    tf(l, "billing.addon.save", &[("name", a.name.clone())])
                } else {
                    tf(l, "billing.addon.buy", &[("name", a.name.clone())])
                };
                let value = if a.recurring { a.units.to_string() } else { "1".to_string() };
                let min = if a.recurring { "0" } else { "1" };
                // Only the units field has a hint; a pack's field is described by its
                // error alone.
                let described = a.recurring.then(|| format!("{input_id}-hint"));
                let hint = described.clone().map(|id| view! { <p id=id class="field-hint">{t(l, "billing.addon.units_hint")}</p> });
                let click_id = id.clone();
                let input = view! {
                    <input id=input_id.clone() name=field type="number" inputmode="numeric" min=min max=a.max_units.to_string()
                        value=value class="input w-24"
                        class:input-invalid=move || error.get().is_some()
                        aria-invalid=move || error.get().is_some().then_some("true")
                        aria-describedby={
                            let (error_id, described) = (error_id.clone(), described.clone());
                            move || if error.get().is_some() { Some(error_id.clone()) } else { described.clone() }
                        }/>
                };
                let submit = view! {
                    <button type="submit" class="btn btn-secondary" on:click=move |_| last.set(click_id.clone())
                        disabled=move || set_units.pending().get() || buy_pack.pending().get()>{button}</button>
                };
                let fields = view! {
                    <input type="hidden" name="addon" value=id.clone()/>
                    <div class="field">
                        <label for=input_id.clone() class="field-label">{label}</label>
                        <div class="flex items-center gap-2">{input}{submit}</div>
                        {hint}
                        {move || error.get().map(|e| view! { <p id=error_id.clone() class="field-error" role="alert">{e}</p> })}
                    </div>
                };
                if a.recurring {
                    view! { <ActionForm action=set_units attr:class="mt-2" attr:novalidate="">{fields}</ActionForm> }.into_any()
                } else {
                    view! { <ActionForm action=buy_pack attr:class="mt-2" attr:novalidate="">{fields}</ActionForm> }.into_any()
                }
            });
            view! {
                <li class="py-3" data-addon=a.id.clone()>
                    <p class="font-medium">{a.name.clone()}</p>
                    <p class="text-sm text-muted">{[price_text.unwrap_or_default(), status].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" · ")}</p>
                    {form}
                    {outcome}
                </li>
            }
        })
        .collect_view();
    view! {
        <Card title=t(l, "billing.addons")>
            <ul class="divide-y divide-line" data-testid="addons">{rows}</ul>
        </Card>
    }
}

/// Where an invoice's PDF is served (`src/web/files.rs`); a download, not a route.
fn pdf_path(id: uuid::Uuid) -> String {
    format!("/billing/invoices/{id}/pdf")
}

#[component]
pub fn InvoicePage() -> impl IntoView {
    let l = locale();
    let params = use_params_map();
    let pay = ServerAction::<PayInvoice>::new();
    let tick = RwSignal::new(0u32);
    let pending = RwSignal::new(false);
    poll_while(move || pending.get_untracked(), tick, PAYMENT_POLL);
    let invoice = Resource::new(
        move || {
            (
                params.read().get("id").unwrap_or_default(),
                pay.version().get(),
                tick.get(),
            )
        },
        |(id, _, _)| get_invoice(id),
    );
    view! {
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match invoice.await {
                    Err(e) => view! { <PageHeader title=tr("billing.invoice")/> <LoadError error=e/> }.into_any(),
                    Ok(d) => {
                        let currency = d.invoice.currency.clone();
                        let charging = d.invoice.status == InvoiceStatus::Open
                            && d.attempts.iter().any(|a| a.status == AttemptStatus::Due && a.kind != AttemptKind::Retry);
                        pending.set(charging);
                        let id = d.invoice.id.to_string();
                        view! {
                            <PageHeader title=tf(l, "billing.invoice_no", &[("n", d.invoice.number.to_string())])>
                                <Badge text=t(l, &format!("billing.invoice_status.{}", d.invoice.status.code().to_lowercase())) tone=status_tone(d.invoice.status.code())/>
                                <a class="btn btn-secondary print:hidden" href=pdf_path(d.invoice.id) download="" rel="external" data-testid="invoice-pdf">{tr("billing.download_pdf")}</a>
                                {d.can_pay.then(|| view! {
                                    <button type="button" class="btn btn-primary print:hidden" data-testid="pay-now" disabled=move || pay.pending().get() || charging
                                        on:click=move |_| { pay.dispatch(PayInvoice { id: id.clone() }); }>
                                        {tf(l, "billing.pay_now", &[("n", d.invoice.number.to_string())])}
                                    </button>
                                })}
                            </PageHeader>
                            <Alert message=form_error(pay.value(), &[])/>
                            {move || pay.value().get().and_then(|r| r.err()).and_then(|e| e.for_field("payment_method")).map(|m| view! {
                                <p class="alert alert-danger" role="alert">{m} " " <a class="underline" href="/billing">{tr("billing.read_only_fix")}</a></p>
                            })}
                            {charging.then(|| view! {
                                <p class="alert alert-warning print:hidden" role="status" data-testid="payment-pending">{tr("billing.payment_pending")}</p>
                            })}
                            <article class="card invoice" data-testid="invoice">
                                <div class="grid gap-4 md:grid-cols-2">
                                    <div>
                                        <p class="text-sm text-muted">{tr("billing.bill_to")}</p>
                                        <p class="font-medium">{if d.bill_to.company_name.is_empty() { d.workspace.clone() } else { d.bill_to.company_name.clone() }}</p>
                                        <p class="whitespace-pre-line text-sm">{d.bill_to.address.clone()}</p>
                                        <p class="text-sm">{d.bill_to.country.clone()} {(!d.bill_to.tax_id.is_empty()).then(|| format!(" · {}", d.bill_to.tax_id))}</p>
                                    </div>
                                    <div class="md:text-end text-sm">
                                        <p>{tf(l, "billing.issued", &[("at", date(d.invoice.issued_at))])}</p>
                                        {d.invoice.paid_at.map(|at| view! { <p>{tf(l, "billing.paid_on", &[("at", date(at))])}</p> })}
                                    </div>
                                </div>
                                <table class="table mt-4">
                                    <thead><tr><th>{tr("billing.description")}</th><th class="text-end">{tr("billing.amount")}</th></tr></thead>
                                    <tbody>
                                        {d.lines.iter().map(|line| view! {
                                            <tr><td>{line.description.clone()}</td><td class="text-end tabular-nums">{money::format(crate::ui::locale(), line.amount_minor, &currency)}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                    <tfoot>
                                        <tr><th scope="row">{tr("billing.subtotal")}</th><td class="text-end tabular-nums">{money::format(crate::ui::locale(), d.subtotal_minor, &currency)}</td></tr>
                                        <tr><th scope="row">{d.tax_note.clone().unwrap_or_else(|| t(l, "billing.no_tax"))}</th><td class="text-end tabular-nums">{money::format(crate::ui::locale(), d.tax_minor, &currency)}</td></tr>
                                        <tr><th scope="row">{tr("billing.total")}</th><td class="text-end tabular-nums font-semibold" data-testid="invoice-total">{money::format(crate::ui::locale(), d.invoice.total_minor, &currency)}</td></tr>
                                    </tfoot>
                                </table>
                            </article>
                            {(!d.attempts.is_empty()).then(|| view! {
                                <Card title=t(l, "billing.attempts")>
                                    <ul class="divide-y divide-line text-sm" data-testid="attempts">
                                        {d.attempts.iter().map(|a| view! {
                                            <li class="flex flex-wrap gap-3 py-2">
                                                <span class="tabular-nums">{date(a.due_at)}</span>
                                                <span>{t(l, &format!("billing.attempt.{}", a.kind.code().to_lowercase()))}</span>
                                                <Badge text=t(l, &format!("billing.attempt_status.{}", a.status.code().to_lowercase())) tone=status_tone(a.status.code())/>
                                                {a.failure.clone().map(|f| view! { <span class="text-muted">{f}</span> })}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </Card>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// What a plan change did to the add-ons held, as a sentence after its message; empty
/// when none were held.
fn addons_note(l: Locale, key: &str, addons: &[String]) -> String {
    if addons.is_empty() {
        return String::new();
    }
    let separator = if l == Locale::Ar { "، " } else { ", " };
    format!(" {}", tf(l, key, &[("list", addons.join(separator))]))
}
