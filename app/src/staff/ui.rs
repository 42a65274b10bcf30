//! The console's pages: the overview (figures, MRR, workspaces), feature flags with
//! their rollout and overrides, the provider's events with replay, and the staff log.

use super::api::*;
use super::model::*;
use crate::crm::money;
use crate::i18n::{t, tf};
use crate::l10n;
use crate::ui::{
    day_of, field_error, form_error, locale, tr, when, Alert, Badge, Bars, Card, LoadError,
    PageHeader, Skeleton,
};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_query_map;

#[component]
pub fn StaffLayout() -> impl IntoView {
    let links = [
        ("/staff", "staff.overview"),
        ("/staff/plans", "staff.plans"),
        ("/staff/flags", "staff.flags"),
        ("/staff/events", "staff.events"),
        ("/staff/config", "staff.config"),
        ("/staff/audit", "staff.audit"),
    ];
    view! {
        <div class="settings-grid">
            <nav aria-label=tr("staff.console") class="settings-nav">
                {links.into_iter().map(|(href, key)| view! {
                    <A href=href attr:class="nav-link" exact=true>{tr(key)}</A>
                }).collect_view()}
            </nav>
            <div class="min-w-0"><Outlet/></div>
        </div>
    }
}

fn percent_text(n: Option<u32>) -> String {
    n.map_or_else(
        || "—".to_string(),
        |p| l10n::percent(locale(), i64::from(p)),
    )
}

fn usage(used: i64, limit: Option<i32>) -> String {
    let l = locale();
    match limit {
        Some(limit) => tf(
            l,
            "staff.of",
            &[
                ("used", l10n::integer(l, used)),
                ("limit", l10n::integer(l, i64::from(limit))),
            ],
        ),
        None => l10n::integer(l, used),
    }
}

#[component]
pub fn StaffOverviewPage() -> impl IntoView {
    let l = locale();
    let query = use_query_map();
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let console = Resource::new(q, staff_console);
    let open = ServerAction::<OpenSupport>::new();
    Effect::new(move || {
        if let Some(Ok(())) = open.value().get() {
            // A full load: the shell (sidebar, banner) is the opened workspace's now.
            crate::ui::hard_redirect("/");
        }
    });
    view! {
        <PageHeader title=tr("staff.console")/>
        <form role="search" method="get" action="/staff" class="mb-4 flex flex-wrap items-end gap-2">
            <div class="field mb-0">
                <label for="staff-q" class="field-label">{tr("staff.search")}</label>
                <input id="staff-q" name="q" type="search" class="input" value=q/>
            </div>
            <button type="submit" class="btn">{tr("staff.search_go")}</button>
        </form>
        <Alert message=form_error(open.value(), &[])/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match console.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(c) => {
                        let f = c.figures.clone();
                        let figures = [
                            ("staff.fig.active", l10n::integer(l, f.active_tenants)),
                            ("staff.fig.paying", l10n::integer(l, f.paying)),
                            ("staff.fig.trialing", l10n::integer(l, f.trialing)),
                            ("staff.fig.past_due", l10n::integer(l, f.past_due)),
                            ("staff.fig.conversion", percent_text(f.trial_conversion())),
                            ("staff.fig.churn", percent_text(f.churn())),
                        ];
                        let bars: Vec<(String, f64, String, String)> = c.mrr.iter().map(|m| {
                            (
                                format!("{} · {}", m.plan_name, m.currency),
                                m.mrr_minor as f64 / 10f64.powi(money::exponent(&m.currency) as i32),
                                "var(--color-brand)".to_string(),
                                format!("{} ({})", money::format(l, m.mrr_minor, &m.currency), tf(l, "staff.workspaces_n", &[("n", l10n::integer(l, m.tenants))])),
                            )
                        }).collect();
                        let has_mrr = !bars.is_empty();
                        let support = c.permissions.contains(&StaffPermission::SupportAccess);
                        view! {
                            <dl class="mb-4 grid grid-cols-2 gap-3 md:grid-cols-3" data-testid="staff-figures">
                                {figures.into_iter().map(|(key, value)| view! {
                                    <div class="card">
                                        <dt class="text-sm text-muted">{tr(key)}</dt>
                                        <dd class="text-2xl font-semibold">{value}</dd>
                                    </div>
                                }).collect_view()}
                            </dl>
                            <Card title=t(l, "staff.mrr")>
                                {if has_mrr {
                                    view! { <Bars rows=bars label=t(l, "staff.mrr")/> }.into_any()
                                } else {
                                    view! { <p class="text-muted">{tr("staff.no_mrr")}</p> }.into_any()
                                }}
                            </Card>
                            <Card title=t(l, "staff.workspaces")>
                                <div class="overflow-x-auto">
                                    <table class="table" data-testid="staff-tenants">
                                        <thead><tr>
                                            <th scope="col">{tr("staff.col.workspace")}</th>
                                            <th scope="col">{tr("staff.col.plan")}</th>
                                            <th scope="col">{tr("staff.col.status")}</th>
                                            <th scope="col">{tr("staff.col.mrr")}</th>
                                            <th scope="col">{tr("staff.col.seats")}</th>
                                            <th scope="col">{tr("staff.col.records")}</th>
                                            <th scope="col">{tr("staff.col.since")}</th>
                                            {support.then(|| view! { <th scope="col">{tr("staff.col.support")}</th> })}
                                        </tr></thead>
                                        <tbody>
                                            {c.tenants.is_empty().then(|| view! {
                                                <tr><td colspan="7" class="text-muted">{tr("staff.no_workspaces")}</td></tr>
                                            })}
                                            {c.tenants.into_iter().map(|w| {
                                                let status = w.subscription_status.clone().unwrap_or_default();
                                                let tone = match status.as_str() {
                                                    "ACTIVE" | "TRIALING" => "success",
                                                    "PAST_DUE" | "CANCELLED" => "warning",
                                                    "" => "neutral",
                                                    _ => "danger",
                                                };
                                                let status_text = if status.is_empty() { "—".to_string() } else { t(l, &format!("billing.status.{}", status.to_lowercase())) };
                                                let mrr = w.currency.as_deref().map_or_else(|| "—".to_string(), |cur| money::format(l, w.mrr_minor, cur));
                                                view! {
                                                    <tr>
                                                        <th scope="row"><bdi>{w.name.clone()}</bdi><div class="text-xs text-muted">{w.slug}</div></th>
                                                        <td>{w.plan_name.unwrap_or_else(|| "—".into())}{w.cycle.map(|c| view! { <div class="text-xs text-muted">{t(l, &format!("staff.cycle.{}", c.to_lowercase()))}</div> })}</td>
                                                        <td><Badge text=status_text tone=tone/>{w.trial_ends_at.filter(|_| status == "TRIALING").map(|at| view! { <div class="text-xs text-muted">{tf(l, "billing.trial_ends", &[("at", day_of(at))])}</div> })}</td>
                                                        <td>{mrr}</td>
                                                        <td>{usage(w.members, w.seats_limit)}</td>
                                                        <td>{usage(w.records, w.records_limit)}</td>
                                                        <td>{day_of(w.created_at)}</td>
                                                        {support.then(|| view! { <td><SupportForm tenant=w.id name=w.name.clone() open=open/></td> })}
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            </Card>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Opens one workspace read-only for support: a reason first, which its owner reads.
#[component]
fn SupportForm(tenant: uuid::Uuid, name: String, open: ServerAction<OpenSupport>) -> impl IntoView {
    let l = locale();
    let id = format!("support-{tenant}");
    view! {
        <details>
            <summary class="cursor-pointer text-sm underline">{tr("staff.open_support")}</summary>
            <ActionForm action=open attr:class="mt-2 flex flex-col gap-2">
                <input type="hidden" name="tenant" value=tenant.to_string()/>
                <label for=id.clone() class="field-label">{tf(l, "staff.support_reason_for", &[("workspace", name.clone())])}</label>
                <input id=id name="reason" class="input" required maxlength="500"/>
                <button type="submit" class="btn">{tf(l, "staff.open_support_for", &[("workspace", name)])}</button>
            </ActionForm>
        </details>
    }
}

#[component]
pub fn StaffFlagsPage() -> impl IntoView {
    // Each flag's form has its own action (its errors stay on its card); a save
    // anywhere reloads the list.
    let saved = RwSignal::new(0u32);
    let grant = ServerAction::<SetOverride>::new();
    let remove = ServerAction::<ClearOverride>::new();
    let flags = Resource::new(
        move || (saved.get(), grant.version().get(), remove.version().get()),
        |_| staff_flags(),
    );
    view! {
        <PageHeader title=tr("staff.flags")/>
        <Alert message=form_error(remove.value(), &["reason"])/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match flags.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(f) => {
                        let can = f.can_manage;
                        let keys: Vec<String> = f.flags.iter().map(|x| x.key.clone()).collect();
                        view! {
                            {f.flags.into_iter().map(|flag| view! { <FlagCard flag can saved remove/> }).collect_view()}
                            {can.then(|| view! { <OverrideForm keys grant/> })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn FlagCard(
    flag: Flag,
    can: bool,
    saved: RwSignal<u32>,
    remove: ServerAction<ClearOverride>,
) -> impl IntoView {
    let l = locale();
    let id = flag.key.replace('.', "-");
    let state = if !flag.enabled {
        t(l, "staff.flag_off")
    } else {
        tf(
            l,
            "staff.flag_on",
            &[(
                "percent",
                l10n::percent(l, i64::from(flag.rollout_percentage)),
            )],
        )
    };
    let tone = if flag.enabled { "success" } else { "neutral" };
    let key = flag.key.clone();
    let (enabled, rollout) = (flag.enabled, flag.rollout_percentage);
    let save = ServerAction::<SetFlag>::new();
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let rollout_error = field_error(save.value(), "rollout");
    let other_error = form_error(save.value(), &["rollout"]);
    view! {
        <section class="card" data-testid="flag" data-key=flag.key.clone() aria-labelledby={format!("{id}-title")}>
            <div class="flex flex-wrap items-center gap-2">
                <h2 class="card-title mb-0" id={format!("{id}-title")}><code>{flag.key.clone()}</code></h2>
                <Badge text=state tone=tone/>
            </div>
            <p class="text-sm text-muted">{flag.description.clone()}</p>
            {can.then(|| {
                let key = key.clone();
                let id = id.clone();
                let label = |k: &str| tf(l, k, &[("key", key.clone())]);
                let (on_label, rollout_label, reason_label, save_label) = (
                    label("staff.enabled_for"),
                    label("staff.rollout_for"),
                    label("staff.reason_for"),
                    label("staff.save_flag"),
                );
                view! {
                    <ActionForm action=save attr:class="mt-3 flex flex-wrap items-end gap-3">
                        <input type="hidden" name="key" value=key.clone()/>
                        <div class="field mb-0 flex items-center gap-2">
                            <input id={format!("{id}-enabled")} type="checkbox" name="enabled" value="on" checked=enabled/>
                            <label for={format!("{id}-enabled")}>{on_label}</label>
                        </div>
                        <div class="field mb-0">
                            <label for={format!("{id}-rollout")} class="field-label">{rollout_label}</label>
                            <input id={format!("{id}-rollout")} name="rollout" type="number" min="0" max="100" class="input w-28"
                                   value=rollout.to_string()
                                   aria-describedby={format!("{id}-rollout-hint")}/>
                            <p id={format!("{id}-rollout-hint")} class="field-hint">{tr("staff.rollout_hint")}</p>
                        </div>
                        <div class="field mb-0">
                            <label for={format!("{id}-reason")} class="field-label">{reason_label}</label>
                            <input id={format!("{id}-reason")} name="reason" class="input" maxlength="500"/>
                        </div>
                        <button type="submit" class="btn btn-primary">{save_label}</button>
                    </ActionForm>
                }
            })}
            {move || rollout_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            <Alert message=other_error/>
            {(!flag.overrides.is_empty()).then(|| view! {
                <table class="table mt-3">
                    <caption class="text-start text-sm font-semibold">{tr("staff.overrides")}</caption>
                    <thead><tr>
                        <th scope="col">{tr("staff.col.workspace")}</th>
                        <th scope="col">{tr("staff.col.override")}</th>
                        <th scope="col">{tr("staff.col.expires")}</th>
                        {can.then(|| view! { <th scope="col">{tr("staff.col.remove")}</th> })}
                    </tr></thead>
                    <tbody>
                        {flag.overrides.into_iter().map(|o| {
                            let key = key.clone();
                            let rid = format!("{id}-{}-reason", o.tenant_id);
                            view! {
                                <tr>
                                    <th scope="row"><bdi>{o.tenant_name.clone()}</bdi><div class="text-xs text-muted">{o.tenant_slug.clone()}</div></th>
                                    <td>{tr(if o.enabled { "staff.granted" } else { "staff.withdrawn" })}</td>
                                    <td>{o.expires_at.map_or_else(|| t(l, "staff.never"), when)}</td>
                                    {can.then(|| view! {
                                        <td>
                                            <ActionForm action=remove attr:class="flex flex-wrap items-end gap-2">
                                                <input type="hidden" name="key" value=key/>
                                                <input type="hidden" name="tenant" value=o.tenant_id.to_string()/>
                                                <label for=rid.clone() class="sr-only">{tf(l, "staff.remove_reason", &[("workspace", o.tenant_name.clone())])}</label>
                                                <input id=rid name="reason" class="input w-40" required maxlength="500" placeholder=t(l, "staff.reason")/>
                                                <button type="submit" class="btn">{tf(l, "staff.remove_override", &[("workspace", o.tenant_name.clone())])}</button>
                                            </ActionForm>
                                        </td>
                                    })}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}

#[component]
fn OverrideForm(keys: Vec<String>, grant: ServerAction<SetOverride>) -> impl IntoView {
    let l = locale();
    let error_of = move |name: &'static str| {
        let e = field_error(grant.value(), name);
        move || {
            e.get().map(|m| view! { <p id={format!("o-{name}-error")} class="field-error" role="alert">{m}</p> })
        }
    };
    view! {
        <Card title=t(l, "staff.add_override")>
            <Alert message=form_error(grant.value(), &["workspace", "state", "days", "reason"])/>
            {move || matches!(grant.value().get(), Some(Ok(()))).then(|| view! {
                <p class="alert alert-success" role="status">{tr("staff.override_saved")}</p>
            })}
            <ActionForm action=grant attr:class="grid gap-3 md:grid-cols-2">
                <div class="field">
                    <label for="o-key" class="field-label">{tr("staff.flag")}</label>
                    <select id="o-key" name="key" class="input">
                        {keys.into_iter().map(|k| view! { <option value=k.clone()>{k.clone()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="o-workspace" class="field-label">{tr("staff.workspace_address")}</label>
                    <input id="o-workspace" name="workspace" class="input" required aria-describedby="o-workspace-error"/>
                    {error_of("workspace")}
                </div>
                <div class="field">
                    <label for="o-state" class="field-label">{tr("staff.override_state")}</label>
                    <select id="o-state" name="state" class="input">
                        <option value="on">{tr("staff.granted")}</option>
                        <option value="off">{tr("staff.withdrawn")}</option>
                    </select>
                </div>
                <div class="field">
                    <label for="o-days" class="field-label">{tr("staff.days")}</label>
                    <input id="o-days" name="days" type="number" min="1" max="365" class="input" aria-describedby="o-days-hint o-days-error"/>
                    <p id="o-days-hint" class="field-hint">{tr("staff.days_hint")}</p>
                    {error_of("days")}
                </div>
                <div class="field md:col-span-2">
                    <label for="o-reason" class="field-label">{tr("staff.reason")}</label>
                    <input id="o-reason" name="reason" class="input" required maxlength="500" aria-describedby="o-reason-error"/>
                    {error_of("reason")}
                </div>
                <div><button type="submit" class="btn btn-primary">{tr("staff.save_override")}</button></div>
            </ActionForm>
        </Card>
    }
}

#[component]
pub fn StaffEventsPage() -> impl IntoView {
    let l = locale();
    let replay = ServerAction::<ReplayEvent>::new();
    let events = Resource::new(move || replay.version().get(), |_| staff_provider_events());
    view! {
        <PageHeader title=tr("staff.events")/>
        <Alert message=form_error(replay.value(), &[])/>
        {move || replay.value().get().and_then(|r| r.ok()).map(|outcome| view! {
            <p class="alert alert-success" role="status">{tf(l, "staff.replayed", &[("outcome", outcome)])}</p>
        })}
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match events.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(list) => {
                        let can = list.can_replay;
                        view! {
                            <div class="overflow-x-auto">
                                <table class="table" data-testid="staff-events">
                                    <thead><tr>
                                        <th scope="col">{tr("staff.col.event")}</th>
                                        <th scope="col">{tr("staff.col.workspace")}</th>
                                        <th scope="col">{tr("staff.col.received")}</th>
                                        <th scope="col">{tr("staff.col.outcome")}</th>
                                        {can.then(|| view! { <th scope="col">{tr("staff.col.replay")}</th> })}
                                    </tr></thead>
                                    <tbody>
                                        {list.events.is_empty().then(|| view! {
                                            <tr><td colspan="5" class="text-muted">{tr("staff.no_events")}</td></tr>
                                        })}
                                        {list.events.into_iter().map(|e| view! {
                                            <tr>
                                                <th scope="row"><code>{e.kind.clone()}</code><div class="text-xs text-muted">{e.id.clone()}</div></th>
                                                <td><bdi>{e.tenant_name.clone().unwrap_or_else(|| "—".into())}</bdi></td>
                                                <td>{when(e.received_at)}</td>
                                                <td>{e.outcome.clone()}</td>
                                                {can.then(|| view! {
                                                    <td>
                                                        <ActionForm action=replay>
                                                            <input type="hidden" name="id" value=e.id.clone()/>
                                                            <button type="submit" class="btn" aria-label=tf(l, "staff.replay_event", &[("id", e.id.clone())])>{tr("staff.replay")}</button>
                                                        </ActionForm>
                                                    </td>
                                                })}
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
pub fn StaffAuditPage() -> impl IntoView {
    let entries = Resource::new(|| (), |_| staff_audit_log());
    view! {
        <PageHeader title=tr("staff.audit")/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(list) => view! {
                        <div class="overflow-x-auto">
                            <table class="table" data-testid="staff-audit">
                                <thead><tr>
                                    <th scope="col">{tr("audit.when")}</th>
                                    <th scope="col">{tr("audit.who")}</th>
                                    <th scope="col">{tr("staff.col.action")}</th>
                                    <th scope="col">{tr("staff.col.change")}</th>
                                    <th scope="col">{tr("staff.reason")}</th>
                                </tr></thead>
                                <tbody>
                                    {list.is_empty().then(|| view! {
                                        <tr><td colspan="5" class="text-muted">{tr("staff.no_audit")}</td></tr>
                                    })}
                                    {list.into_iter().map(|a| view! {
                                        <tr>
                                            <td>{when(a.created_at)}</td>
                                            <td><bdi>{a.actor_name.clone()}</bdi><div class="text-xs text-muted">{a.actor_email.clone()}{a.ip.clone().map(|ip| format!(" · {ip}"))}</div></td>
                                            <th scope="row"><code>{a.action.clone()}</code><div class="text-xs"><bdi>{a.target.clone()}</bdi></div></th>
                                            <td class="text-xs"><div dir="ltr">{a.before.clone().unwrap_or_default()}</div><div dir="ltr">{"→ "}{a.after.clone().unwrap_or_default()}</div></td>
                                            <td>{a.reason.clone().unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

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

#[component]
pub fn StaffConfigPage() -> impl IntoView {
    let saved = RwSignal::new(0u32);
    let config = Resource::new(move || saved.get(), |_| staff_config());
    view! {
        <PageHeader title=tr("staff.config")/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match config.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(c) => {
                        let can = c.can_manage;
                        view! {
                            <Card title=t(locale(), "staff.config.settings")>
                                <div class="space-y-4" data-testid="platform-settings">
                                    {c.entries.into_iter().map(|entry| view! { <ConfigRow entry can saved/> }).collect_view()}
                                </div>
                            </Card>
                            <Card title=t(locale(), "staff.config.running")>
                                <p class="text-sm text-muted mb-2">{tr("staff.config.running_hint")}</p>
                                <table class="table" data-testid="running-config">
                                    <thead><tr>
                                        <th scope="col">{tr("staff.config.name")}</th>
                                        <th scope="col">{tr("staff.config.value")}</th>
                                    </tr></thead>
                                    <tbody>
                                        {c.running.into_iter().map(|r| view! {
                                            <tr><th scope="row">{r.name}</th><td dir="ltr"><code>{r.value}</code></td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </Card>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn ConfigRow(entry: ConfigEntry, can: bool, saved: RwSignal<u32>) -> impl IntoView {
    let l = locale();
    let save = ServerAction::<SetConfig>::new();
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let id = format!("config-{}", entry.key.replace('.', "-"));
    let error = field_error(save.value(), "value");
    let other = form_error(save.value(), &["value"]);
    let changed = match entry.updated_by.clone() {
        Some(who) => tf(
            l,
            "staff.config.changed_by",
            &[("who", who), ("at", when(entry.updated_at))],
        ),
        None => tf(l, "staff.config.since", &[("at", when(entry.updated_at))]),
    };
    let (vid, rid, eid) = (
        format!("{id}-value"),
        format!("{id}-reason"),
        format!("{id}-error"),
    );
    let key = entry.key.clone();
    view! {
        <div data-testid="setting" data-key=entry.key.clone()>
            <h3 class="font-semibold"><code>{entry.key.clone()}</code></h3>
            <p class="text-sm text-muted">{entry.description.clone()}</p>
            <p class="text-xs text-muted">{changed}</p>
            <ActionForm action=save attr:class="mt-2 flex flex-wrap items-end gap-3">
                <input type="hidden" name="key" value=key.clone()/>
                <div class="field mb-0">
                    <label for=vid.clone() class="field-label">{tf(l, "staff.config.value_of", &[("key", key.clone())])}</label>
                    <input id=vid name="value" class="input" disabled=!can
                           value=entry.value.clone().unwrap_or_default()
                           placeholder=entry.sensitive.then(|| t(l, "staff.config.hidden"))
                           aria-describedby=eid.clone()/>
                    {move || error.get().map(|m| view! { <p id=eid.clone() class="field-error" role="alert">{m}</p> })}
                </div>
                {can.then(|| view! {
                    <div class="field mb-0">
                        <label for=rid.clone() class="field-label">{tf(l, "staff.config.reason_for", &[("key", key.clone())])}</label>
                        <input id=rid name="reason" class="input" maxlength="500"/>
                    </div>
                    <button type="submit" class="btn btn-primary">{tf(l, "staff.config.save", &[("key", key.clone())])}</button>
                })}
            </ActionForm>
            <Alert message=other/>
        </div>
    }
}
