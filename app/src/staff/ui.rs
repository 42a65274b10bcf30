//! The console's pages: the layout, the overview (figures, MRR, workspaces), the
//! provider's events with replay and the staff log; flags, plans and settings have
//! a file each.

use super::api::*;
use super::model::*;
use crate::crm::money;
use crate::i18n::{t, tf, Locale};
use crate::l10n;
use crate::ui::{
    day_of, field_error, form_error, locale, tr, when, Alert, Badge, Bars, Card, LoadError,
    PageHeader, Skeleton, Trend,
};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_query_map;

mod config;
mod flags;
mod ips;
mod plans;

pub use config::StaffConfigPage;
pub use flags::StaffFlagsPage;
pub use ips::StaffIpsPage;
pub use plans::StaffPlansPage;

#[component]
pub fn StaffLayout() -> impl IntoView {
    let links = [
        ("/staff", "staff.overview"),
        ("/staff/plans", "staff.plans"),
        ("/staff/flags", "staff.flags"),
        ("/staff/events", "staff.events"),
        ("/staff/ips", "staff.ips"),
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

/// A figure's days: each day's value and the text it is read as.
type Points = Vec<(chrono::NaiveDate, f64, String)>;

/// The kept days as lines: workspaces by state, conversion and churn, and MRR in each
/// currency some day had. Empty before the worker has kept a day.
fn trends(l: Locale, days: &[DayFigures]) -> Vec<(String, Points)> {
    if days.is_empty() {
        return Vec::new();
    }
    let count = |key: &str, get: fn(&Figures) -> i64| -> (String, Points) {
        let points = days
            .iter()
            .map(|d| {
                let n = get(&d.figures);
                (d.day, n as f64, l10n::integer(l, n))
            })
            .collect();
        (t(l, key), points)
    };
    let share = |key: &str, get: fn(&Figures) -> Option<u32>| -> (String, Points) {
        let points = days
            .iter()
            .filter_map(|d| {
                get(&d.figures).map(|p| (d.day, f64::from(p), l10n::percent(l, i64::from(p))))
            })
            .collect();
        (t(l, key), points)
    };
    let mut out = vec![
        count("staff.fig.active", |f| f.active_tenants),
        count("staff.fig.paying", |f| f.paying),
        count("staff.fig.trialing", |f| f.trialing),
        count("staff.fig.past_due", |f| f.past_due),
        share("staff.fig.conversion", Figures::trial_conversion),
        share("staff.fig.churn", Figures::churn),
    ];
    let mut currencies: Vec<&str> = days
        .iter()
        .flat_map(|d| d.mrr.iter().map(|(c, _)| c.as_str()))
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    for currency in currencies {
        let points: Points = days
            .iter()
            .map(|d| {
                let minor = d
                    .mrr
                    .iter()
                    .find(|(c, _)| c == currency)
                    .map_or(0, |(_, m)| *m);
                let major = minor as f64 / 10f64.powi(money::exponent(currency) as i32);
                (d.day, major, money::format(l, minor, currency))
            })
            .collect();
        out.push((
            tf(l, "staff.trend.mrr", &[("currency", currency.to_string())]),
            points,
        ));
    }
    out.retain(|(_, points)| !points.is_empty());
    out
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
                        let trends = trends(l, &c.days);
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
                            <Card title=t(l, "staff.trends")>
                                {if trends.is_empty() {
                                    view! { <p class="text-muted">{tr("staff.trends_none")}</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="grid gap-3 md:grid-cols-3" data-testid="staff-trends">
                                            {trends.into_iter().map(|(label, points)| view! { <Trend label=label points=points/> }).collect_view()}
                                        </div>
                                    }.into_any()
                                }}
                            </Card>
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
                                                let status = w.subscription_status;
                                                let tone = status.map_or("neutral", |s| crate::billing::model::status_tone(s.code()));
                                                let status_text = status.map_or_else(|| "—".to_string(), |s| t(l, &format!("billing.status.{}", s.code().to_lowercase())));
                                                let mrr = w.currency.as_deref().map_or_else(|| "—".to_string(), |cur| money::format(l, w.mrr_minor, cur));
                                                view! {
                                                    <tr>
                                                        <th scope="row"><bdi>{w.name.clone()}</bdi><div class="text-xs text-muted">{w.slug}</div></th>
                                                        <td>{w.plan_name.unwrap_or_else(|| "—".into())}{w.cycle.map(|c| view! { <div class="text-xs text-muted">{t(l, &format!("staff.cycle.{}", c.to_lowercase()))}</div> })}</td>
                                                        <td><Badge text=status_text tone=tone/>{w.trial_ends_at.filter(|_| status == Some(crate::billing::model::SubscriptionStatus::Trialing)).map(|at| view! { <div class="text-xs text-muted">{tf(l, "billing.trial_ends", &[("at", day_of(at))])}</div> })}</td>
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
