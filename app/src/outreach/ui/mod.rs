//! Outreach pages: the dashboard, sequences, templates and senders, and the outreach
//! card on a lead's page.

mod hours;
mod lead;
mod senders;
mod sequences;
mod steps;
mod suppressions;
mod switch;
mod templates;

pub use lead::LeadOutreachCard;
pub use senders::SendersPage;
pub use sequences::{EnrolSelection, SequencePage, SequencesPage};
pub use suppressions::SuppressionsPage;
pub use templates::{TemplatePage, TemplatesPage};

use super::api::{get_notifications, get_outreach_dashboard, MarkNotificationsRead};
use super::model::{rate, OutreachDashboard, RateRow, ReviewDay};
use crate::ui::{tr, Bars, Card, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// The outreach area: a tab bar over its pages.
#[component]
pub fn OutreachLayout() -> impl IntoView {
    // The suppression list is an admin's screen; the other tabs show what they may.
    let admin = crate::ui::page()
        .viewer
        .is_some_and(|v| v.can(crate::auth::model::Permission::OutreachManage));
    let tabs = [
        ("/outreach", "outreach.dashboard"),
        ("/outreach/sequences", "outreach.sequences"),
        ("/outreach/templates", "outreach.templates"),
        ("/outreach/senders", "outreach.senders"),
        ("/outreach/suppressions", "suppression.title"),
    ];
    view! {
        <PageHeader title=tr("nav.outreach")/>
        <nav class="tabs" aria-label=tr("nav.outreach")>
            {tabs
                .into_iter()
                .filter(|(href, _)| admin || *href != "/outreach/suppressions")
                .map(|(href, key)| view! { <A href=href exact=true>{tr(key)}</A> })
                .collect_view()}
        </nav>
        <Outlet/>
    }
}

/// A badge for a message or enrolment status, coloured and always with its word.
pub fn status_badge(status: &str) -> impl IntoView {
    let tone = match status {
        "DELIVERED" | "READ" | "OPENED" | "CLICKED" | "REPLIED" | "RECEIVED" | "ACTIVE"
        | "APPROVED" | "COMPLETED" => "success",
        "FAILED" | "BOUNCED" | "BANNED" | "REJECTED" | "STOPPED" => "danger",
        "QUEUED" | "PAUSED" | "PENDING" | "OFFLINE" | "RECONNECTING" | "DRAFT" | "MIGRATING"
        | "IN_PROGRESS" => "warning",
        _ => "neutral",
    };
    view! { <span class=format!("badge badge-{tone}") data-status=status.to_string()>{tr(&format!("outreach.status.{status}"))}</span> }
}

/// Unread notices of the viewer: failed sends, senders that paused themselves.
#[component]
fn Notices() -> impl IntoView {
    let read = ServerAction::<MarkNotificationsRead>::new();
    let notices = Resource::new(move || read.version().get(), |_| get_notifications());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = notices.await.unwrap_or_default();
                (!list.is_empty()).then(|| view! {
                    <section class="alert alert-warning mb-4" aria-labelledby="notices-title" data-testid="notices">
                        <div class="flex items-center gap-2">
                            <h2 id="notices-title" class="font-semibold">{tr("outreach.notices")}</h2>
                            <ActionForm action=read attr:class="ms-auto">
                                <button type="submit" class="btn btn-ghost">{tr("outreach.mark_read")}</button>
                            </ActionForm>
                        </div>
                        <ul class="mt-2 space-y-1 text-sm">
                            {list.into_iter().map(|n| view! {
                                <li>
                                    <time class="me-2 tabular-nums" datetime=n.created_at.to_rfc3339()>{crate::ui::when(n.created_at)}</time>
                                    {match n.link.clone() {
                                        Some(link) => view! { <a class="link" href=link>{n.body.clone()}</a> }.into_any(),
                                        None => view! { <span>{n.body.clone()}</span> }.into_any(),
                                    }}
                                </li>
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}

#[component]
pub fn OutreachDashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_outreach_dashboard());
    view! {
        <Notices/>
        <Suspense fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <DashboardView d/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn rate_bars(rows: &[RateRow], color: &str) -> Vec<(String, f64, String, String)> {
    rows.iter()
        .map(|r| {
            let pct = rate(r.replied, r.sent);
            (
                r.label.clone(),
                pct,
                color.to_string(),
                format!("{pct:.1}% ({}/{})", r.replied, r.sent),
            )
        })
        .collect()
}

#[component]
fn DashboardView(d: OutreachDashboard) -> impl IntoView {
    let f = d.funnel.clone();
    let funnel = vec![
        (
            tr("outreach.contacted"),
            f.contacted as f64,
            "#6366f1".to_string(),
            f.contacted.to_string(),
        ),
        (
            tr("outreach.replied"),
            f.replied as f64,
            "#0ea5e9".to_string(),
            format!("{} ({:.1}%)", f.replied, rate(f.replied, f.contacted)),
        ),
        (
            tr("outreach.converted"),
            f.converted as f64,
            "#16a34a".to_string(),
            format!("{} ({:.1}%)", f.converted, rate(f.converted, f.contacted)),
        ),
    ];
    let phones: Vec<_> = d
        .phones
        .iter()
        .map(|p| {
            (
                p.label.clone(),
                p.used as f64,
                if p.used >= p.limit {
                    "#b42318"
                } else {
                    "#6366f1"
                }
                .to_string(),
                format!("{}/{}", p.used, p.limit),
            )
        })
        .collect();
    let mailboxes: Vec<_> = d
        .mailboxes
        .iter()
        .map(|m| {
            let pct = rate(m.used, m.limit);
            (
                m.label.clone(),
                pct,
                if pct > 5.0 { "#b42318" } else { "#0ea5e9" }.to_string(),
                format!("{pct:.1}% ({}/{})", m.used, m.limit),
            )
        })
        .collect();
    let days: Vec<_> = d
        .days
        .iter()
        .map(|day| {
            (
                day.day.clone(),
                day.sent as f64,
                "#6366f1".to_string(),
                format!("{} · {} {}", day.sent, day.replies, tr("outreach.replies")),
            )
        })
        .collect();
    let bars = |rows: Vec<(String, f64, String, String)>, key: &str| {
        if rows.is_empty() {
            view! { <p class="text-sm text-muted">{tr("outreach.nothing_yet")}</p> }.into_any()
        } else {
            view! { <Bars rows label=tr(key)/> }.into_any()
        }
    };
    view! {
        <div class="grid gap-4 lg:grid-cols-2" data-testid="outreach-dashboard">
            <Card title=tr("outreach.funnel")>
                <div data-testid="funnel" data-contacted=f.contacted data-replied=f.replied data-converted=f.converted>
                    <Bars rows=funnel label=tr("outreach.funnel")/>
                </div>
            </Card>
            <Card title=tr("outreach.last_14_days")>{bars(days, "outreach.last_14_days")}</Card>
            <Card title=tr("outreach.reply_rate_sequence")>{bars(rate_bars(&d.sequences, "#0ea5e9"), "outreach.reply_rate_sequence")}</Card>
            <Card title=tr("outreach.reply_rate_step")>{bars(rate_bars(&d.steps, "#0ea5e9"), "outreach.reply_rate_step")}</Card>
            <Card title=tr("outreach.reply_rate_variant")>{bars(rate_bars(&d.variants, "#8b5cf6"), "outreach.reply_rate_variant")}</Card>
            <Card title=tr("outreach.quota_today")>{bars(phones, "outreach.quota_today")}</Card>
            <Card title=tr("outreach.bounce_rate")>{bars(mailboxes, "outreach.bounce_rate")}</Card>
            <div class="lg:col-span-2">
                <Card title=tr("outreach.review_stats")><ReviewStats days=d.review.clone()/></Card>
            </div>
        </div>
    }
}

/// The review queue by day: what arrived, what breached, what was resolved and how
/// fast, and how often a person agreed with the classifier's reading.
#[component]
fn ReviewStats(days: Vec<ReviewDay>) -> impl IntoView {
    let (items, breaches, resolved, confirmed, corrected) =
        days.iter().fold((0, 0, 0, 0, 0), |t, d| {
            (
                t.0 + d.items,
                t.1 + d.breaches,
                t.2 + d.resolved,
                t.3 + d.confirmed,
                t.4 + d.corrected,
            )
        });
    let accuracy = |confirmed: i64, corrected: i64| match confirmed + corrected {
        0 => "—".to_string(),
        judged => format!("{:.0}%", 100.0 * confirmed as f64 / judged as f64),
    };
    let total_accuracy = accuracy(confirmed, corrected);
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="review-stats" data-items=items data-breaches=breaches data-resolved=resolved>
                <caption class="sr-only">{tr("outreach.review_stats")}</caption>
                <thead><tr>
                    <th scope="col">{tr("outreach.review_day")}</th>
                    <th scope="col" class="text-end">{tr("outreach.review_items")}</th>
                    <th scope="col" class="text-end">{tr("outreach.review_breaches")}</th>
                    <th scope="col" class="text-end">{tr("outreach.review_resolved")}</th>
                    <th scope="col" class="text-end">{tr("outreach.review_median")}</th>
                    <th scope="col" class="text-end">{tr("outreach.review_accuracy")}</th>
                </tr></thead>
                <tbody>
                    {days.iter().rev().map(|d| view! {
                        <tr>
                            <th scope="row" class="font-normal tabular-nums">{d.day.clone()}</th>
                            <td class="text-end tabular-nums">{d.items}</td>
                            <td class="text-end tabular-nums">{d.breaches}</td>
                            <td class="text-end tabular-nums">{d.resolved}</td>
                            <td class="text-end tabular-nums">{d.median_resolve_min.map(|m| delay_label(m.round() as i32)).unwrap_or_else(|| "—".into())}</td>
                            <td class="text-end tabular-nums">{accuracy(d.confirmed, d.corrected)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
                <tfoot><tr>
                    <th scope="row">{tr("outreach.review_total")}</th>
                    <td class="text-end tabular-nums">{items}</td>
                    <td class="text-end tabular-nums">{breaches}</td>
                    <td class="text-end tabular-nums">{resolved}</td>
                    <td class="text-end">"—"</td>
                    <td class="text-end tabular-nums">{total_accuracy}</td>
                </tr></tfoot>
            </table>
        </div>
    }
}

/// "90 min" → "1 h 30 min", "2880" → "2 d".
pub fn delay_label(minutes: i32) -> String {
    let (d, h, m) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m} min"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_as_days_hours_minutes() {
        assert_eq!(delay_label(0), "0 min");
        assert_eq!(delay_label(90), "1 h 30 min");
        assert_eq!(delay_label(2880), "2 d");
        assert_eq!(delay_label(1441), "1 d 1 min");
    }
}
