//! The home dashboard: pipeline value by stage, won and lost this month, conversion
//! between stages and activities per rep this week, drawn as SVG with the numbers on
//! hover (and in text for screen readers). Everything respects who sees what.

use crate::crm::money::{self, Money};
use crate::error::AppError;
use crate::ui::{tr, Bars, Card, LoadError, Skeleton};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageValue {
    pub stage: String,
    pub color: String,
    pub deals: i64,
    pub value: i64,
    /// Deals that ever reached this stage (moved into it or created there).
    pub reached: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepActivity {
    pub name: String,
    pub count: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub pipeline: String,
    /// The currency the value chart is drawn in (the pipeline's most used one).
    pub currency: String,
    pub stages: Vec<StageValue>,
    pub won: Vec<Money>,
    pub won_count: i64,
    pub lost_count: i64,
    pub lost: Vec<Money>,
    pub activities: Vec<RepActivity>,
}

#[server]
pub async fn get_dashboard() -> Result<Dashboard, AppError> {
    use crate::request::{env, respond};
    respond(async { ssr::dashboard(&env()?).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::auth::model::Permission;
    use crate::crm::access::Scope;
    use crate::crm::board::model::DealStatus;

    use crate::request::Env;
    use sqlx::types::Json;
    use sqlx::QueryBuilder;

    /// Deals closed this month with one status, in one currency.
    #[derive(Deserialize)]
    struct ClosedTotal {
        status: DealStatus,
        currency: String,
        n: i64,
        total: i64,
    }

    #[derive(Deserialize)]
    struct StageRow {
        name: String,
        color: String,
        deals: i64,
        value: i64,
        moved_in: i64,
    }

    #[derive(sqlx::FromRow)]
    struct Figures {
        pipeline: String,
        currency: String,
        stages: Json<Vec<StageRow>>,
        closed: Json<Vec<ClosedTotal>>,
        activities: Json<Vec<RepActivity>>,
    }

    /// Every figure in one statement: the page is the home page, drawn on every
    /// sign-in, and each round trip was a share of its cost (issue 16).
    pub async fn dashboard(env: &Env) -> Result<Dashboard, AppError> {
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let scope = Scope::load(&mut tx, p).await?;
        let mut q = QueryBuilder::new(
            "WITH pipe AS (SELECT id, name FROM pipelines ORDER BY position, created_at LIMIT 1),
             cur AS (SELECT coalesce((SELECT r.currency::text FROM deals r
                                       WHERE r.tenant_id = ",
        );
        q.push_bind(p.tenant_id)
            .push(" AND r.pipeline_id = (SELECT id FROM pipe)");
        scope.push(&mut q, "r.owner_id");
        q.push(
            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1), 'USD') AS currency),
             stage_rows AS (
               SELECT s.position, s.name, s.color,
                      count(r.id) AS deals,
                      coalesce(sum(r.amount_minor) FILTER (WHERE r.currency::text = (SELECT currency FROM cur)), 0)::bigint AS value,
                      coalesce(max(x.n), 0)::bigint AS moved_in
                 FROM stages s
                 -- One pass over the tenant's reached stages (migration 0042), not one per stage.
                 LEFT JOIN (SELECT stage_id, count(*) AS n FROM deal_stage_reached
                             WHERE tenant_id = ",
        );
        q.push_bind(p.tenant_id).push(
            " GROUP BY stage_id) x ON x.stage_id = s.id
                 LEFT JOIN deals r ON r.tenant_id = s.tenant_id AND r.stage_id = s.id",
        );
        scope.push(&mut q, "r.owner_id");
        q.push(" WHERE s.tenant_id = ")
            .push_bind(p.tenant_id)
            .push(
                " AND s.pipeline_id = (SELECT id FROM pipe)
                GROUP BY s.id, s.name, s.color, s.position, s.tenant_id),
             closed AS (
               SELECT r.status, r.currency::text AS currency, count(*) AS n, sum(r.amount_minor)::bigint AS total
                 FROM deals r WHERE r.tenant_id = ",
            )
            .push_bind(p.tenant_id)
            .push(" AND r.status IN ('WON', 'LOST') AND r.closed_at >= date_trunc('month', now())");
        scope.push(&mut q, "r.owner_id");
        q.push(
            " GROUP BY 1, 2),
             acts AS (
               SELECT u.name, count(*) AS count FROM activities a JOIN users u ON u.id = a.actor_id
                WHERE a.tenant_id = ",
        );
        q.push_bind(p.tenant_id).push(
            " AND a.occurred_at >= date_trunc('week', now())
                  AND a.kind IN ('NOTE', 'CALL', 'EMAIL', 'WHATSAPP', 'MEETING', 'TASK', 'STAGE_CHANGE')",
        );
        scope.push(&mut q, "a.actor_id");
        q.push(
            " GROUP BY u.id, u.name ORDER BY 2 DESC LIMIT 12)
             SELECT pipe.name AS pipeline, cur.currency,
                    (SELECT coalesce(json_agg(t ORDER BY t.position), '[]') FROM stage_rows t) AS stages,
                    (SELECT coalesce(json_agg(t ORDER BY t.total DESC), '[]') FROM closed t) AS closed,
                    (SELECT coalesce(json_agg(t ORDER BY t.count DESC), '[]') FROM acts t) AS activities
               FROM pipe, cur",
        );
        let figures = q
            .build_query_as::<Figures>()
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(f) = figures else {
            return Ok(Dashboard::default());
        };
        let stages = f
            .stages
            .0
            .into_iter()
            .map(|s| StageValue {
                reached: s.deals.max(s.moved_in),
                stage: s.name,
                color: s.color,
                deals: s.deals,
                value: s.value,
            })
            .collect();
        let pick = |status: DealStatus| -> (i64, Vec<Money>) {
            let mine = f.closed.0.iter().filter(|t| t.status == status);
            (
                mine.clone().map(|t| t.n).sum(),
                mine.map(|t| Money {
                    minor: t.total,
                    currency: t.currency.clone(),
                })
                .collect(),
            )
        };
        let (won_count, won) = pick(DealStatus::Won);
        let (lost_count, lost) = pick(DealStatus::Lost);
        Ok(Dashboard {
            pipeline: f.pipeline,
            currency: f.currency,
            stages,
            won,
            won_count,
            lost,
            lost_count,
            activities: f.activities.0,
        })
    }
}

#[component]
pub fn DashboardCards() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_dashboard());
    view! {
        <Suspense fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <DashboardView d/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DashboardView(d: Dashboard) -> impl IntoView {
    let currency = d.currency.clone();
    let value_rows: Vec<_> = d
        .stages
        .iter()
        .map(|s| {
            (
                s.stage.clone(),
                s.value as f64,
                s.color.clone(),
                format!(
                    "{} · {} {}",
                    money::format(crate::ui::locale(), s.value, &currency),
                    s.deals,
                    tr("dashboard.deals")
                ),
            )
        })
        .collect();
    let conversion_rows: Vec<_> = d
        .stages
        .windows(2)
        .map(|w| {
            let rate = if w[0].reached == 0 {
                0.0
            } else {
                w[1].reached as f64 / w[0].reached as f64 * 100.0
            };
            (
                format!("{} → {}", w[0].stage, w[1].stage),
                rate,
                "#6366f1".to_string(),
                format!("{rate:.0}% ({}/{})", w[1].reached, w[0].reached),
            )
        })
        .collect();
    let rep_rows: Vec<_> = d
        .activities
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                r.count as f64,
                "#0ea5e9".to_string(),
                r.count.to_string(),
            )
        })
        .collect();
    let totals = |list: &[Money]| {
        if list.is_empty() {
            "—".to_string()
        } else {
            list.iter()
                .map(|m| money::format(crate::ui::locale(), m.minor, &m.currency))
                .collect::<Vec<_>>()
                .join(" · ")
        }
    };
    view! {
        <div class="grid gap-4 lg:grid-cols-2 mt-4" data-testid="dashboard">
            <Card title=format!("{} — {}", tr("dashboard.value_by_stage"), d.pipeline)>
                <Bars rows=value_rows label=tr("dashboard.value_by_stage")/>
            </Card>
            <Card title=tr("dashboard.this_month")>
                <dl class="grid grid-cols-2 gap-3" data-testid="won-lost">
                    <div><dt class="text-sm text-muted">{tr("dashboard.won")}</dt>
                        <dd class="text-2xl font-semibold">{d.won_count}</dd><dd class="text-sm">{totals(&d.won)}</dd></div>
                    <div><dt class="text-sm text-muted">{tr("dashboard.lost")}</dt>
                        <dd class="text-2xl font-semibold">{d.lost_count}</dd><dd class="text-sm">{totals(&d.lost)}</dd></div>
                </dl>
            </Card>
            <Card title=tr("dashboard.conversion")>
                <Bars rows=conversion_rows label=tr("dashboard.conversion")/>
            </Card>
            <Card title=tr("dashboard.activity_week")>
                {if rep_rows.is_empty() {
                    view! { <p class="text-sm text-muted">{tr("dashboard.no_activity")}</p> }.into_any()
                } else {
                    view! { <Bars rows=rep_rows label=tr("dashboard.activity_week")/> }.into_any()
                }}
            </Card>
        </div>
    }
}
