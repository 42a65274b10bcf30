//! A deal's units, on the deal's page: the units held for it or sold through it, a
//! hold of another available unit found by code, and the deal's amount filled from
//! its units' prices.

use super::model::UnitRow;
use crate::error::AppError;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Badge, Card};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::request::{env, respond};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DealUnit {
    pub unit: UnitRow,
    /// While held: until when.
    pub held_until: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DealUnits {
    pub units: Vec<DealUnit>,
    /// The units' prices added up, when they share one currency.
    pub total: Option<(i64, String)>,
    /// The deal's amount now.
    pub amount: (i64, String),
    /// The deal is open and the viewer may change it.
    pub can_change: bool,
}

#[server]
pub async fn get_deal_units(deal_id: Uuid) -> Result<DealUnits, AppError> {
    respond(async { ssr::units(&env()?, deal_id).await }).await
}

/// Available units whose code contains `q`, to hold for a deal.
#[server]
pub async fn find_available_units(q: String) -> Result<Vec<UnitRow>, AppError> {
    respond(async { ssr::available(&env()?, &q).await }).await
}

/// Sets the deal's amount and currency to its units' total.
#[server]
pub async fn fill_deal_amount(deal_id: Uuid) -> Result<DealUnits, AppError> {
    respond(async { ssr::fill_amount(&env()?, deal_id).await }).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::audit::{self, AuditEntry};
    use crate::auth::model::Permission;
    use crate::crm::access::Scope;
    use crate::crm::board::model::DealStatus;
    use crate::crm::model::Entity;
    use crate::inventory::ssr::{UnitSql, UNIT_COLUMNS};
    use crate::request::Env;

    #[derive(sqlx::FromRow)]
    struct HeldRow {
        #[sqlx(flatten)]
        unit: UnitSql,
        held_until: Option<DateTime<Utc>>,
    }

    /// The deal if the viewer may see it: its owner, status, amount and currency.
    async fn visible_deal(
        env: &Env,
        tx: &mut crate::db::Tx,
        deal_id: Uuid,
    ) -> Result<(Option<Uuid>, DealStatus, i64, String), AppError> {
        let p = env.require(Permission::WorkspaceUse)?;
        let deal: Option<(Option<Uuid>, DealStatus, i64, String)> = sqlx::query_as(
            "SELECT owner_id, status, amount_minor, currency::text FROM deals WHERE id = $1",
        )
        .bind(deal_id)
        .fetch_optional(&mut **tx)
        .await?;
        let scope = Scope::load(tx, p).await?;
        deal.filter(|d| scope.allows(d.0))
            .ok_or_else(|| AppError::NotFound(env.t("records.not_found")))
    }

    async fn load(env: &Env, tx: &mut crate::db::Tx, deal_id: Uuid) -> Result<DealUnits, AppError> {
        let p = env.require(Permission::WorkspaceUse)?;
        let (owner, status, amount, currency) = visible_deal(env, tx, deal_id).await?;
        // Held for the deal now, or sold through it.
        let rows: Vec<HeldRow> = sqlx::query_as(&format!(
            "SELECT {UNIT_COLUMNS}, max(h.expires_at) FILTER (WHERE h.released_at IS NULL) AS held_until
               FROM unit_holds h JOIN units u ON u.id = h.unit_id JOIN projects p ON p.id = u.project_id
              WHERE h.deal_id = $1 AND (h.released_at IS NULL OR h.release_reason = 'SOLD')
              GROUP BY u.id, p.name ORDER BY p.name, u.code"
        ))
        .bind(deal_id)
        .fetch_all(&mut **tx)
        .await?;
        let units: Vec<DealUnit> = rows
            .into_iter()
            .map(|r| DealUnit {
                unit: r.unit.into(),
                held_until: r.held_until,
            })
            .collect();
        let currencies: std::collections::BTreeSet<&str> =
            units.iter().map(|u| u.unit.currency.as_str()).collect();
        let total = (currencies.len() == 1).then(|| {
            (
                units.iter().map(|u| u.unit.price_minor).sum(),
                units[0].unit.currency.clone(),
            )
        });
        let own = owner == p.actor();
        Ok(DealUnits {
            units,
            total,
            amount: (amount, currency),
            can_change: status == DealStatus::Open
                && (own || Permission::InventoryManage.allowed_for(p.role)),
        })
    }

    pub async fn units(env: &Env, deal_id: Uuid) -> Result<DealUnits, AppError> {
        let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let units = load(env, &mut tx, deal_id).await?;
        tx.commit().await?;
        Ok(units)
    }

    pub async fn available(env: &Env, q: &str) -> Result<Vec<UnitRow>, AppError> {
        let p = env.require(Permission::WorkspaceUse)?;
        let q = q.trim();
        if q.chars().count() > 40 {
            return Err(AppError::field("q", env.t("inventory.error.search_long")));
        }
        let pattern = crate::db::contains_pattern(q);
        let mut tx = env.tx(p).await?;
        let rows: Vec<UnitSql> = sqlx::query_as(&format!(
            "SELECT {UNIT_COLUMNS} FROM units u JOIN projects p ON p.id = u.project_id
              WHERE u.status = 'AVAILABLE' AND u.code ILIKE $1 ORDER BY p.name, u.code LIMIT 20"
        ))
        .bind(pattern)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(UnitRow::from).collect())
    }

    pub async fn fill_amount(env: &Env, deal_id: Uuid) -> Result<DealUnits, AppError> {
        let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
        let before = load(env, &mut tx, deal_id).await?;
        if !before.can_change {
            return Err(AppError::Forbidden(env.t("inventory.deal.not_yours")));
        }
        let Some((total, currency)) = before.total.clone() else {
            return Err(AppError::Conflict(env.t("inventory.deal.no_total")));
        };
        sqlx::query(
            "UPDATE deals SET amount_minor = $2, currency = $3, version = version + 1, updated_at = now()
              WHERE id = $1",
        )
        .bind(deal_id)
        .bind(total)
        .bind(&currency)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("deal.amount_from_units", "deals", Some(deal_id)).change(
                serde_json::json!({ "amount_minor": before.amount.0, "currency": before.amount.1 }),
                serde_json::json!({ "amount_minor": total, "currency": currency }),
            ),
        )
        .await?;
        crate::developers::deliver::record_changed(
            &mut tx,
            p.tenant_id,
            Entity::Deal,
            &[deal_id],
            "updated",
        )
        .await?;
        let after = load(env, &mut tx, deal_id).await?;
        tx.commit().await?;
        Ok(after)
    }
}

/// The deal page's units card.
#[component]
pub fn DealUnitsCard(deal_id: Uuid, saved: RwSignal<u32>) -> impl IntoView {
    let l = locale();
    let tick = RwSignal::new(0u32);
    let data = RwSignal::new(None::<DealUnits>);
    let error = RwSignal::new(None::<String>);
    let load = Resource::new(move || (deal_id, tick.get()), |(id, _)| get_deal_units(id));
    Effect::new(move || match load.get() {
        Some(Ok(d)) => data.set(Some(d)),
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    let query = RwSignal::new(String::new());
    let found = RwSignal::new(Vec::<UnitRow>::new());
    let search = move |q: String| {
        query.set(q.clone());
        leptos::task::spawn_local(async move {
            if let Ok(units) = find_available_units(q.clone()).await {
                if query.get_untracked() == q {
                    found.set(units);
                }
            }
        });
    };
    let hold = move |unit: Uuid| {
        leptos::task::spawn_local(async move {
            match super::api::hold_unit(unit.to_string(), deal_id.to_string()).await {
                Ok(_) => {
                    error.set(None);
                    found.update(|f| f.retain(|u| u.id != unit));
                    tick.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let fill = move |_| {
        leptos::task::spawn_local(async move {
            match fill_deal_amount(deal_id).await {
                Ok(d) => {
                    data.set(Some(d));
                    error.set(None);
                    // The facts card above shows the amount: read the deal again.
                    saved.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <Card title=t(l, "inventory.deal.title")>
            <div data-testid="deal-units">
                {move || error.get().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
                {move || data.get().map(|d| {
                    let can_change = d.can_change;
                    let fillable = d.total.as_ref().is_some_and(|t| *t != d.amount);
                    view! {
                        {if d.units.is_empty() {
                            view! { <p class="text-sm text-muted">{tr("inventory.deal.none")}</p> }.into_any()
                        } else {
                            view! {
                                <ul class="divide-y divide-line text-sm">
                                    {d.units.iter().map(|u| {
                                        let unit = &u.unit;
                                        view! {
                                            <li class="flex flex-wrap items-center gap-2 py-2">
                                                <a class="link" href=format!("/inventory/units/{}", unit.id)>{super::ui::unit_name(l, unit)}</a>
                                                <Badge text=t(l, unit.status.label_key()) tone="neutral"/>
                                                {u.held_until.map(|until| view! {
                                                    <span class="text-muted">{tf(l, "inventory.deal.until", &[("until", crate::ui::when(until))])}</span>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                        {d.total.clone().map(|(total, currency)| view! {
                            <p class="text-sm mt-2" data-testid="deal-units-total">
                                {tf(l, "inventory.deal.total", &[("total", crate::crm::money::format(crate::ui::locale(), total, &currency))])}
                            </p>
                        })}
                        {(can_change && fillable).then(|| view! {
                            <button type="button" class="btn btn-secondary mt-2" on:click=fill>{tr("inventory.deal.fill")}</button>
                        })}
                        {can_change.then(|| view! {
                            <div class="field mt-3">
                                <label for="deal-unit-search" class="field-label">{tr("inventory.deal.find")}</label>
                                <input id="deal-unit-search" class="input" type="search" maxlength="40"
                                    on:input=move |ev| search(event_target_value(&ev))/>
                            </div>
                            <ul class="text-sm">
                                {move || found.get().into_iter().map(|u| {
                                    let id = u.id;
                                    let name = super::ui::unit_name(l, &u);
                                    view! {
                                        <li class="flex flex-wrap items-center gap-2 py-1">
                                            <span>{name}</span>
                                            <button type="button" class="btn btn-ghost" on:click=move |_| hold(id)>
                                                {tf(l, "inventory.deal.hold", &[("code", u.code.clone())])}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        })}
                    }
                })}
            </div>
        </Card>
    }
}
