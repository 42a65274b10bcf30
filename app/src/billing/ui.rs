//! The billing page (plan, usage against every limit, plans to change to, the
//! billing profile, invoices) and an invoice that prints well.

use super::api::*;
use super::model::*;
use crate::crm::money;
use crate::i18n::{t, tf};
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Badge, Card, Field, LoadError, PageHeader,
    Skeleton, Submit,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

fn date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn status_tone(status: &str) -> &'static str {
    match status {
        "ACTIVE" | "TRIALING" | "PAID" => "success",
        "PAST_DUE" | "OPEN" => "warning",
        _ => "danger",
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

fn limit_text(l: crate::i18n::Locale, limit: Option<i64>) -> String {
    limit.map_or_else(|| t(l, "billing.unlimited"), |n| n.to_string())
}

#[component]
pub fn BillingPage() -> impl IntoView {
    let l = locale();
    let change = ServerAction::<ChangePlan>::new();
    let cancel = ServerAction::<SetCancel>::new();
    let save = ServerAction::<SaveBillingProfile>::new();
    let overview = Resource::new(
        move || {
            (
                change.version().get(),
                cancel.version().get(),
                save.version().get(),
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
            Some(Ok(PlanChange::Upgraded { .. })) => Some(view! { <p class="alert alert-success" role="status">{tr("billing.upgraded")}</p> }.into_any()),
            Some(Ok(PlanChange::Scheduled { at })) => Some(view! {
                <p class="alert alert-success" role="status">{tf(l, "billing.scheduled", &[("at", date(at))])}</p>
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
                        let currency = o.currency.clone();
                        view! {
                            <Card>
                                <div class="flex flex-wrap items-center gap-3" data-testid="current-plan">
                                    <h2 class="card-title mb-0">{tf(l, "billing.on_plan", &[("plan", o.plan_name.clone())])}</h2>
                                    <Badge text=t(l, &format!("billing.status.{}", o.status.to_lowercase())) tone=status_tone(&o.status)/>
                                </div>
                                <p class="text-sm text-muted mt-1">
                                    {tf(l, "billing.period", &[("from", date(o.period_start)), ("to", date(o.period_end))])}
                                    {o.trial_ends_at.filter(|_| o.status == "TRIALING").map(|at| format!(" · {}", tf(l, "billing.trial_ends", &[("at", date(at))])))}
                                </p>
                                {o.pending_plan.clone().map(|p| view! {
                                    <p class="alert alert-warning mt-2" role="status">{tf(l, "billing.pending", &[("plan", p), ("at", date(o.period_end))])}</p>
                                })}
                                {o.cancel_at_period_end.then(|| view! {
                                    <p class="alert alert-warning mt-2" role="status">{tf(l, "billing.cancelling", &[("at", date(o.period_end))])}</p>
                                })}
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
                                        let text = tf(l, "billing.used_of", &[("used", u.used.to_string()), ("limit", limit_text(l, u.limit))]);
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
                                                        <td class="tabular-nums">{p.price_minor.map_or_else(|| t(l, "billing.quoted"), |m| money::format(m, &currency))}</td>
                                                        {p.limits.iter().map(|(_, lim)| view! { <td class="tabular-nums">{limit_text(l, *lim)}</td> }).collect_view()}
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
                                                    <span class="tabular-nums">{money::format(i.total_minor, &i.currency)}</span>
                                                    <span class="text-sm text-muted">{date(i.issued_at)}</span>
                                                    <Badge text=t(l, &format!("billing.invoice_status.{}", i.status.to_lowercase())) tone=status_tone(&i.status)/>
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

#[component]
pub fn InvoicePage() -> impl IntoView {
    let l = locale();
    let params = use_params_map();
    let invoice = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        get_invoice,
    );
    view! {
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match invoice.await {
                    Err(e) => view! { <PageHeader title=tr("billing.invoice")/> <LoadError error=e/> }.into_any(),
                    Ok(d) => {
                        let currency = d.invoice.currency.clone();
                        view! {
                            <PageHeader title=tf(l, "billing.invoice_no", &[("n", d.invoice.number.to_string())])>
                                <Badge text=t(l, &format!("billing.invoice_status.{}", d.invoice.status.to_lowercase())) tone=status_tone(&d.invoice.status)/>
                            </PageHeader>
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
                                            <tr><td>{line.description.clone()}</td><td class="text-end tabular-nums">{money::format(line.amount_minor, &currency)}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                    <tfoot>
                                        <tr><th scope="row">{tr("billing.subtotal")}</th><td class="text-end tabular-nums">{money::format(d.subtotal_minor, &currency)}</td></tr>
                                        <tr><th scope="row">{d.tax_note.clone().unwrap_or_else(|| t(l, "billing.no_tax"))}</th><td class="text-end tabular-nums">{money::format(d.tax_minor, &currency)}</td></tr>
                                        <tr><th scope="row">{tr("billing.total")}</th><td class="text-end tabular-nums font-semibold" data-testid="invoice-total">{money::format(d.invoice.total_minor, &currency)}</td></tr>
                                    </tfoot>
                                </table>
                            </article>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
