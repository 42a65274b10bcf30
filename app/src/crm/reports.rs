//! Reports, the Advanced analytics plan feature: over a chosen period, each owner's
//! won and lost deals with win rate, won value and days to win; leads by source and
//! how many converted; and won deals month by month for a year. Everything respects
//! who sees what, as the dashboard does; a plan without the feature is told so, with
//! the way to get it.

use crate::crm::money;
use crate::error::AppError;
use crate::i18n::{tf, Locale};
use crate::ui::{locale, tr, Bars, Card, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// The periods offered, in days.
pub const PERIODS: [i32; 3] = [30, 90, 365];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OwnerFigures {
    /// Empty for deals nobody owns.
    pub name: String,
    pub won: i64,
    pub lost: i64,
    /// Won value in the report's currency.
    pub won_value: i64,
    /// Mean days from creation to won, over the deals won.
    pub days_to_win: Option<f64>,
}

impl OwnerFigures {
    /// Won of closed, in whole percent; `None` when nothing closed.
    pub fn win_rate(&self) -> Option<i64> {
        let closed = self.won + self.lost;
        (closed > 0).then(|| (self.won * 100 + closed / 2) / closed)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SourceFigures {
    /// Empty for leads with no source.
    pub source: String,
    pub leads: i64,
    pub converted: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonthFigures {
    /// The month's first day.
    pub month: chrono::NaiveDate,
    pub won: i64,
    pub won_value: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reports {
    pub days: i32,
    /// The currency values are counted in: the one most won in, over the year.
    pub currency: String,
    pub owners: Vec<OwnerFigures>,
    pub sources: Vec<SourceFigures>,
    /// The last twelve months, oldest first, months without a win included.
    pub months: Vec<MonthFigures>,
}

/// `days` arrives as text so a bad value is named, not a failure to decode the call.
#[server]
pub async fn get_reports(days: String) -> Result<Reports, AppError> {
    use crate::request::{env, respond};
    respond(async { ssr::reports(&env()?, &days).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::auth::model::Permission;
    use crate::billing::features;
    use crate::billing::model::Feature;
    use crate::crm::access::Scope;
    use crate::request::Env;
    use chrono::{Datelike, Months, NaiveDate, Utc};
    use sqlx::QueryBuilder;

    pub async fn reports(env: &Env, days: &str) -> Result<Reports, AppError> {
        let days: i32 = days
            .trim()
            .parse()
            .ok()
            .filter(|d| PERIODS.contains(d))
            .ok_or_else(|| AppError::field("days", env.t("reports.error.period")))?;
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        features::require(&mut tx, p.tenant_id, env.locale(), Feature::Analytics).await?;
        let scope = Scope::load(&mut tx, p).await?;
        let year_start = {
            let today = Utc::now().date_naive();
            NaiveDate::from_ymd_opt(today.year(), today.month(), 1)
                .and_then(|d| d.checked_sub_months(Months::new(11)))
                .unwrap_or(today)
        };

        let mut q = QueryBuilder::new(
            "SELECT coalesce((SELECT d.currency::text FROM deals d WHERE d.status = 'WON' AND d.closed_at >= ",
        );
        q.push_bind(year_start);
        scope.push(&mut q, "d.owner_id");
        q.push(" GROUP BY 1 ORDER BY count(*) DESC LIMIT 1), 'USD')");
        let currency: String = q.build_query_scalar().fetch_one(&mut *tx).await?;

        let mut q = QueryBuilder::new(
            "SELECT coalesce(u.name, '') AS name,
                    count(*) FILTER (WHERE d.status = 'WON') AS won,
                    count(*) FILTER (WHERE d.status = 'LOST') AS lost,
                    coalesce(sum(d.amount_minor) FILTER (WHERE d.status = 'WON' AND d.currency::text = ",
        );
        q.push_bind(currency.clone()).push(
            "), 0)::bigint AS won_value,
                    (avg(greatest(extract(epoch FROM d.closed_at - d.created_at), 0) / 86400)
                        FILTER (WHERE d.status = 'WON'))::float8 AS days_to_win
               FROM deals d LEFT JOIN users u ON u.id = d.owner_id
              WHERE d.status IN ('WON', 'LOST') AND d.closed_at >= now() - make_interval(days => ",
        );
        q.push_bind(days).push(")");
        scope.push(&mut q, "d.owner_id");
        q.push(" GROUP BY d.owner_id, u.name ORDER BY 4 DESC, 2 DESC, 1");
        let owners: Vec<OwnerFigures> = q.build_query_as().fetch_all(&mut *tx).await?;

        let mut q = QueryBuilder::new(
            "SELECT coalesce(nullif(trim(l.source), ''), '') AS source, count(*) AS leads,
                    count(*) FILTER (WHERE l.status = 'CONVERTED') AS converted
               FROM leads l WHERE l.created_at >= now() - make_interval(days => ",
        );
        q.push_bind(days).push(")");
        scope.push(&mut q, "l.owner_id");
        q.push(" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20");
        let sources: Vec<SourceFigures> = q.build_query_as().fetch_all(&mut *tx).await?;

        let mut q = QueryBuilder::new(
            "SELECT date_trunc('month', d.closed_at)::date AS month, count(*) AS won,
                    coalesce(sum(d.amount_minor) FILTER (WHERE d.currency::text = ",
        );
        q.push_bind(currency.clone())
            .push("), 0)::bigint AS won_value FROM deals d WHERE d.status = 'WON' AND d.closed_at >= ")
            .push_bind(year_start);
        scope.push(&mut q, "d.owner_id");
        q.push(" GROUP BY 1");
        let won: Vec<(NaiveDate, i64, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;

        let months = (0..12)
            .filter_map(|i| year_start.checked_add_months(Months::new(i)))
            .map(|month| {
                let (won, won_value) = won
                    .iter()
                    .find(|(m, _, _)| *m == month)
                    .map_or((0, 0), |(_, n, v)| (*n, *v));
                MonthFigures {
                    month,
                    won,
                    won_value,
                }
            })
            .collect();
        Ok(Reports {
            days,
            currency,
            owners,
            sources,
            months,
        })
    }
}

/// The period's name in the picker: "Last 90 days".
fn period_label(l: Locale, days: i32) -> String {
    tf(l, "reports.period.days", &[("n", days.to_string())])
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let l = locale();
    let query = use_query_map();
    let days = move || {
        query
            .read()
            .get("days")
            .filter(|d| PERIODS.iter().any(|p| p.to_string() == *d))
            .unwrap_or_else(|| "90".to_string())
    };
    let data = Resource::new(days, get_reports);
    view! {
        <PageHeader title=tr("nav.reports")>
            <nav aria-label=tr("reports.period") class="flex gap-2" data-testid="periods">
                {PERIODS.into_iter().map(|p| {
                    let current = move || days() == p.to_string();
                    view! {
                        <a href=format!("/reports?days={p}") class="btn btn-secondary"
                            aria-current=move || current().then_some("page")>{period_label(l, p)}</a>
                    }
                }).collect_view()}
            </nav>
        </PageHeader>
        <Suspense fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(r) => view! { <ReportsView r/> }.into_any(),
                    // The plan lacks the feature: what it would give, and where to get it.
                    Err(AppError::Forbidden(why)) => view! {
                        <div class="card mt-4" data-testid="reports-locked">
                            <h2 class="text-lg font-semibold">{tr("billing.feature.analytics")}</h2>
                            <p class="mt-2">{tr("reports.locked")}</p>
                            <p class="mt-2 text-muted">{why}</p>
                            <a class="btn btn-primary mt-3" href="/billing">{tr("reports.see_plans")}</a>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <crate::ui::LoadError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ReportsView(r: Reports) -> impl IntoView {
    let l = locale();
    let currency = r.currency.clone();
    let value = move |minor: i64| money::format(l, minor, &currency);
    let month_rows: Vec<_> = r
        .months
        .iter()
        .map(|m| {
            (
                crate::l10n::month_year(l, m.month),
                m.won_value as f64,
                "#16a34a".to_string(),
                format!("{} · {}", value(m.won_value), m.won),
            )
        })
        .collect();
    let (none, none_too) = (tr("reports.none"), tr("reports.none"));
    let owners = r.owners.clone();
    let sources = r.sources.clone();
    view! {
        <p class="text-sm text-muted mt-2" data-testid="reports-scope">
            {tf(l, "reports.scope", &[("period", period_label(l, r.days)), ("currency", r.currency.clone())])}
        </p>
        <div class="grid gap-4 lg:grid-cols-2 mt-4" data-testid="reports">
            <Card title=tr("reports.owners")>
                {if owners.is_empty() {
                    view! { <p class="text-sm text-muted">{none}</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="report-owners">
                                <thead><tr>
                                    <th scope="col">{tr("reports.owner")}</th>
                                    <th scope="col">{tr("dashboard.won")}</th>
                                    <th scope="col">{tr("dashboard.lost")}</th>
                                    <th scope="col">{tr("reports.win_rate")}</th>
                                    <th scope="col">{tr("reports.won_value")}</th>
                                    <th scope="col">{tr("reports.days_to_win")}</th>
                                </tr></thead>
                                <tbody>
                                    {owners.into_iter().map(|o| {
                                        let rate = o.win_rate().map_or("—".to_string(), |r| crate::l10n::percent(l, r));
                                        let days = o.days_to_win.map_or("—".to_string(), |d| crate::l10n::integer(l, d.round() as i64));
                                        let name = if o.name.is_empty() { tr("reports.unassigned") } else { o.name.clone() };
                                        view! {
                                            <tr>
                                                <th scope="row"><bdi>{name}</bdi></th>
                                                <td class="tabular-nums">{crate::l10n::integer(l, o.won)}</td>
                                                <td class="tabular-nums">{crate::l10n::integer(l, o.lost)}</td>
                                                <td class="tabular-nums">{rate}</td>
                                                <td class="tabular-nums">{value(o.won_value)}</td>
                                                <td class="tabular-nums">{days}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                }}
            </Card>
            <Card title=tr("reports.sources")>
                {if sources.is_empty() {
                    view! { <p class="text-sm text-muted">{none_too}</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="report-sources">
                                <thead><tr>
                                    <th scope="col">{tr("reports.source")}</th>
                                    <th scope="col">{tr("reports.leads")}</th>
                                    <th scope="col">{tr("reports.converted")}</th>
                                    <th scope="col">{tr("reports.conversion")}</th>
                                </tr></thead>
                                <tbody>
                                    {sources.into_iter().map(|s| {
                                        let rate = if s.leads > 0 { crate::l10n::percent(l, (s.converted * 100 + s.leads / 2) / s.leads) } else { "—".to_string() };
                                        let name = if s.source.is_empty() { tr("reports.no_source") } else { s.source.clone() };
                                        view! {
                                            <tr>
                                                <th scope="row"><bdi>{name}</bdi></th>
                                                <td class="tabular-nums">{crate::l10n::integer(l, s.leads)}</td>
                                                <td class="tabular-nums">{crate::l10n::integer(l, s.converted)}</td>
                                                <td class="tabular-nums">{rate}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                }}
            </Card>
            <Card title=tr("reports.months")>
                <Bars rows=month_rows label=tr("reports.months")/>
            </Card>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_win_rate_rounds_and_is_none_when_nothing_closed() {
        let owner = |won, lost| OwnerFigures {
            name: String::new(),
            won,
            lost,
            won_value: 0,
            days_to_win: None,
        };
        assert_eq!(owner(0, 0).win_rate(), None);
        assert_eq!(owner(1, 2).win_rate(), Some(33));
        assert_eq!(owner(2, 1).win_rate(), Some(67));
        assert_eq!(owner(3, 0).win_rate(), Some(100));
    }
}
