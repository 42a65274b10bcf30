//! Inventory pages: the units table with the bulk change, and a unit's page (hold,
//! release, price, its history). A plan's map is in `map.rs`.

use super::api::*;
use super::components::ComponentsCard;
use super::model::*;
use crate::crm::money;
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::ui::{locale, tr, Badge, Card, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

pub(super) fn status_tone(s: UnitStatus) -> &'static str {
    match s {
        UnitStatus::Available => "success",
        UnitStatus::Held | UnitStatus::Reserved => "warning",
        UnitStatus::Sold => "danger",
        UnitStatus::Blocked => "neutral",
    }
}

/// "Unit B-1204, 2 bedrooms, 118 m², EGP 4,350,000, available".
pub fn unit_name(l: Locale, u: &UnitRow) -> String {
    let mut args = vec![
        ("code", u.code.clone()),
        ("bedrooms", u.bedrooms.to_string()),
        (
            "price",
            money::format(crate::ui::locale(), u.price_minor, &u.currency),
        ),
        ("status", t(l, u.status.label_key()).to_lowercase()),
    ];
    match u.size_sqm {
        Some(size) => {
            args.push(("size", format!("{size:.0} m²")));
            tf(l, "inventory.unit_name", &args)
        }
        None => tf(l, "inventory.unit_name_no_size", &args),
    }
}

#[component]
pub fn InventoryPage() -> impl IntoView {
    let l = locale();
    let filter = RwSignal::new(UnitFilter::default());
    let after = RwSignal::new(None::<UnitCursor>);
    let rows = RwSignal::new(Vec::<UnitRow>::new());
    let next = RwSignal::new(None::<UnitCursor>);
    let projects = RwSignal::new(Vec::<(Uuid, String)>::new());
    let plans = RwSignal::new(Vec::<(Uuid, String)>::new());
    let types = RwSignal::new(Vec::<(String, String)>::new());
    let error = RwSignal::new(None::<String>);
    let page = Resource::new(
        move || (filter.get(), after.get()),
        |(f, a)| list_units(f, a),
    );
    Effect::new(move || {
        if let Some(result) = page.get() {
            match result {
                Ok(p) => {
                    if after.get_untracked().is_none() {
                        rows.set(p.units);
                    } else {
                        rows.update(|r| r.extend(p.units));
                    }
                    next.set(p.next);
                    projects.set(p.projects);
                    plans.set(p.plans);
                    types.set(p.types);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let set = move |f: &dyn Fn(&mut UnitFilter)| {
        after.set(None);
        filter.update(|x| f(x));
    };
    let can_edit = RwSignal::new(false);
    let can_manage = RwSignal::new(false);
    Effect::new(move || {
        if let Some(Ok(p)) = page.get() {
            can_edit.set(p.can_edit_plans);
            can_manage.set(p.can_manage);
        }
    });
    view! {
        <PageHeader title=tr("nav.inventory")>
            {move || can_edit.get().then(|| view! {
                <a class="btn btn-secondary" href="/inventory/setup">{tr("inventory.setup.open")}</a>
            })}
        </PageHeader>
        {move || (!plans.get().is_empty()).then(|| view! {
            <nav class="card" aria-labelledby="plans-title">
                <h2 id="plans-title" class="card-title">{tr("inventory.plans")}</h2>
                <ul class="flex flex-wrap gap-2">
                    {plans.get().into_iter().map(|(id, name)| view! {
                        <li><a class="btn btn-secondary" href=format!("/inventory/plans/{id}")>{name}</a></li>
                    }).collect_view()}
                </ul>
            </nav>
        })}
        <form class="card grid gap-3 md:grid-cols-5 items-end" on:submit=|ev| ev.prevent_default() data-testid="unit-filters">
            <div class="field">
                <label for="u-type" class="field-label">{tr("inventory.type")}</label>
                <select id="u-type" class="input" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.type_code = Some(v.clone()).filter(|t| !t.is_empty()));
                }>
                    <option value="">{tr("inventory.any")}</option>
                    {move || types.get().into_iter().map(|(code, label)| view! { <option value=code.clone()>{format!("{label} ({code})")}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="u-min-price" class="field-label">{tr("inventory.min_price")}</label>
                <input id="u-min-price" class="input" inputmode="decimal" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.min_price_minor = money::parse(crate::ui::locale(), v.trim(), "EGP"));
                }/>
            </div>
            <div class="field">
                <label for="u-max-price" class="field-label">{tr("inventory.max_price")}</label>
                <input id="u-max-price" class="input" inputmode="decimal" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.max_price_minor = money::parse(crate::ui::locale(), v.trim(), "EGP"));
                }/>
            </div>
            <div class="field">
                <label for="u-view" class="field-label">{tr("inventory.view")}</label>
                <input id="u-view" class="input" maxlength="60" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.view = Some(v.clone()).filter(|q| !q.trim().is_empty()));
                }/>
            </div>
            <div class="field">
                <label for="u-project" class="field-label">{tr("inventory.project")}</label>
                <select id="u-project" class="input" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.project_id = Uuid::parse_str(&v).ok());
                }>
                    <option value="">{tr("inventory.any")}</option>
                    {move || projects.get().into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="u-status" class="field-label">{tr("inventory.status")}</label>
                <select id="u-status" class="input" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.status = UnitStatus::parse(&v));
                }>
                    <option value="">{tr("inventory.any")}</option>
                    {UnitStatus::ALL.into_iter().map(|s| view! { <option value=s.code()>{tr(s.label_key())}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="u-bedrooms" class="field-label">{tr("inventory.min_bedrooms")}</label>
                <input id="u-bedrooms" class="input" type="number" min="0" max="50" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.min_bedrooms = v.trim().parse().ok());
                }/>
            </div>
            <div class="field">
                <label for="u-floor" class="field-label">{tr("inventory.floor")}</label>
                <input id="u-floor" class="input" type="number" min="-5" max="200" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.floor = v.trim().parse().ok());
                }/>
            </div>
            <div class="field">
                <label for="u-q" class="field-label">{tr("inventory.code")}</label>
                <input id="u-q" class="input" maxlength="100" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    set(&|f| f.q = Some(v.clone()).filter(|q| !q.trim().is_empty()));
                }/>
            </div>
        </form>
        {move || error.get().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
        <div class="table-wrap">
            <table class="table" data-testid="units-table">
                <thead>
                    <tr>
                        <th>{tr("inventory.code")}</th>
                        <th>{tr("inventory.project")}</th>
                        <th>{tr("inventory.type")}</th>
                        <th>{tr("inventory.floor")}</th>
                        <th>{tr("inventory.size")}</th>
                        <th>{tr("inventory.bedrooms")}</th>
                        <th>{tr("inventory.price")}</th>
                        <th>{tr("inventory.status")}</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let list = rows.get();
                        if list.is_empty() {
                            return view! { <tr><td colspan="8" class="p-6 text-center text-muted">{tr("inventory.empty")}</td></tr> }.into_any();
                        }
                        list.into_iter().map(|u| view! {
                            <tr data-testid="unit-row" data-status=u.status.code()>
                                <td><a class="link" href=format!("/inventory/units/{}", u.id)>{u.code.clone()}</a></td>
                                <td>{u.project.clone()}</td>
                                <td>{u.type_code.clone()}</td>
                                <td class="tabular-nums">{u.floor.map(|f| f.to_string())}</td>
                                <td class="tabular-nums">{u.size_sqm.map(|s| format!("{s:.0} m²"))}</td>
                                <td class="tabular-nums">{u.bedrooms}</td>
                                <td class="tabular-nums">{money::format(crate::ui::locale(), u.price_minor, &u.currency)}</td>
                                <td><Badge text=t(l, u.status.label_key()) tone=status_tone(u.status)/></td>
                            </tr>
                        }).collect_view().into_any()
                    }}
                </tbody>
            </table>
        </div>
        {move || next.get().map(|n| view! {
            <button type="button" class="btn btn-secondary mt-4" on:click=move |_| after.set(Some(n.clone()))>{tr("inventory.more")}</button>
        })}
        {move || can_manage.get().then(|| view! {
            <BulkChangeCard projects on_applied=Callback::new(move |_| { after.set(None); filter.update(|_| {}); })/>
        })}
    }
}

/// Hold, release and price actions for one unit, shared by its page and the map.
#[component]
pub(super) fn UnitActions(detail: UnitDetail, on_change: Callback<UnitDetail>) -> impl IntoView {
    let l = locale();
    let hold = ServerAction::<HoldUnit>::new();
    let release = ServerAction::<ReleaseUnit>::new();
    let price = ServerAction::<SetUnitPrice>::new();
    Effect::new(move || {
        for v in [
            hold.value().get(),
            release.value().get(),
            price.value().get(),
        ] {
            if let Some(Ok(d)) = v {
                on_change.run(d);
            }
        }
    });
    let error = move || {
        [
            hold.value().get(),
            release.value().get(),
            price.value().get(),
        ]
        .into_iter()
        .find_map(|v| v.and_then(|r| r.err()))
    };
    let unit = detail.unit.clone();
    let id = unit.id.to_string();
    let (hold_id, release_id, price_id) = (id.clone(), id.clone(), id);
    view! {
        {move || error().map(|e| view! { <p class="alert alert-danger" role="alert" data-testid="unit-error">{e.to_string()}</p> })}
        {match (&detail.hold, unit.status) {
            (Some(h), _) => view! {
                <p class="text-sm" data-testid="unit-hold">
                    {if h.reserved {
                        tf(l, "inventory.reserved_for", &[("deal", h.deal.clone()), ("name", h.held_by.clone())])
                    } else {
                        tf(l, "inventory.held_for", &[("deal", h.deal.clone()), ("name", h.held_by.clone()),
                            ("until", crate::ui::when(h.expires_at))])
                    }}
                </p>
                <ActionForm action=release attr:class="mt-2">
                    <input type="hidden" name="unit_id" value=release_id/>
                    <button type="submit" class="btn btn-secondary">{tr("inventory.release")}</button>
                </ActionForm>
            }.into_any(),
            (None, UnitStatus::Available) if !detail.deals.is_empty() => view! {
                <ActionForm action=hold attr:class="flex flex-wrap items-end gap-2">
                    <input type="hidden" name="unit_id" value=hold_id.clone()/>
                    <div class="field">
                        <label for=format!("hold-deal-{hold_id}") class="field-label">{tr("inventory.hold_for")}</label>
                        <select id=format!("hold-deal-{hold_id}") name="deal_id" class="input">
                            {detail.deals.iter().map(|d| view! { <option value=d.id.to_string()>{d.name.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <button type="submit" class="btn btn-primary">{tr("inventory.hold")}</button>
                </ActionForm>
            }.into_any(),
            (None, UnitStatus::Available) => view! { <p class="text-sm text-muted">{tr("inventory.no_deals")}</p> }.into_any(),
            _ => ().into_any(),
        }}
        {detail.can_manage.then(|| view! {
            <ActionForm action=price attr:class="mt-3 flex flex-wrap items-end gap-2" attr:novalidate="">
                <input type="hidden" name="unit_id" value=price_id.clone()/>
                <div class="field">
                    <label for=format!("price-{price_id}") class="field-label">{tf(l, "inventory.new_price", &[("currency", unit.currency.clone())])}</label>
                    <input id=format!("price-{price_id}") name="price" class="input" inputmode="decimal" required=true/>
                </div>
                <div class="field">
                    <label for=format!("reason-{price_id}") class="field-label">{tr("inventory.price_reason")}</label>
                    <input id=format!("reason-{price_id}") name="reason" class="input" maxlength="200"/>
                </div>
                <button type="submit" class="btn btn-secondary">{tr("inventory.change_price")}</button>
            </ActionForm>
        })}
    }
}

#[component]
pub fn UnitPage() -> impl IntoView {
    let l = locale();
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let current = RwSignal::new(None::<UnitDetail>);
    let unit = Resource::new(id, get_unit);
    view! {
        <Transition fallback=|| view! { <Skeleton lines=5/> }>
            {move || Suspend::new(async move {
                match unit.await {
                    Err(e) => view! { <PageHeader title=tr("inventory.unit")/> <LoadError error=e/> }.into_any(),
                    Ok(d) => {
                        current.set(Some(d));
                        view! {
                            {move || current.get().map(|d| {
                                let u = d.unit.clone();
                                let prices = d.prices.clone();
                                let history = d.history.clone();
                                let components = d.components.clone();
                                let statuses = d.statuses.clone();
                                let (price_now, currency) = (u.price_minor, u.currency.clone());
                                view! {
                                    <PageHeader title=tf(l, "inventory.unit_title", &[("code", u.code.clone())])>
                                        <Badge text=t(l, u.status.label_key()) tone=status_tone(u.status)/>
                                    </PageHeader>
                                    <Card>
                                        <dl class="grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="unit-facts">
                                            <div><dt class="text-muted text-sm">{tr("inventory.project")}</dt><dd>{u.project.clone()}</dd></div>
                                            <div><dt class="text-muted text-sm">{tr("inventory.type")}</dt><dd>{u.type_code.clone()}</dd></div>
                                            <div><dt class="text-muted text-sm">{tr("inventory.floor")}</dt><dd>{u.floor.map(|f| f.to_string()).unwrap_or_else(|| "—".into())}</dd></div>
                                            <div><dt class="text-muted text-sm">{tr("inventory.size")}</dt><dd>{u.size_sqm.map(|s| format!("{s:.0} m²")).unwrap_or_else(|| "—".into())}</dd></div>
                                            <div><dt class="text-muted text-sm">{tr("inventory.bedrooms")}</dt><dd>{u.bedrooms}</dd></div>
                                            <div><dt class="text-muted text-sm">{tr("inventory.bathrooms")}</dt><dd>{u.bathrooms}</dd></div>
                                            <div><dt class="text-muted text-sm">{tr("inventory.view")}</dt><dd>{u.view.clone().unwrap_or_else(|| "—".into())}</dd></div>
                                            <div><dt class="text-muted text-sm">{tr("inventory.price")}</dt><dd data-testid="unit-price">{money::format(crate::ui::locale(), u.price_minor, &u.currency)}</dd></div>
                                        </dl>
                                    </Card>
                                    <Card title=t(l, "inventory.actions")>
                                        <UnitActions detail=d on_change=Callback::new(move |d| current.set(Some(d)))/>
                                    </Card>
                                    <ComponentsCard unit_id=u.id components/>
                                    <Card title=t(l, "inventory.history.title")>
                                        {if history.is_empty() {
                                            view! { <p class="text-sm text-muted">{tr("inventory.history.none")}</p> }.into_any()
                                        } else {
                                            view! {
                                                <ol class="divide-y divide-line text-sm" data-testid="unit-history">
                                                    {history.iter().map(|e| view! {
                                                        <li class="py-2">
                                                            <span class="tabular-nums text-muted">{crate::ui::when(e.at)}</span>
                                                            " · " {t(l, &format!("inventory.history.{}", e.kind))} " · "
                                                            <a class="link" href=format!("/deals/{}", e.deal_id)>{e.deal.clone()}</a>
                                                            {e.by.clone().map(|n| format!(" · {n}"))}
                                                        </li>
                                                    }).collect_view()}
                                                </ol>
                                            }.into_any()
                                        }}
                                    </Card>
                                    <Card title=t(l, "inventory.statuses.title")>
                                        {if statuses.is_empty() {
                                            view! { <p class="text-sm text-muted">{tr("inventory.statuses.none")}</p> }.into_any()
                                        } else {
                                            let label = move |code: &str| UnitStatus::parse(code).map(|s| t(l, s.label_key())).unwrap_or_else(|| code.to_string());
                                            view! {
                                                <ol class="divide-y divide-line text-sm" data-testid="unit-statuses">
                                                    {statuses.iter().map(|e| view! {
                                                        <li class="py-2">
                                                            <span class="tabular-nums text-muted">{crate::ui::when(e.at)}</span>
                                                            " · " {tf(l, "inventory.statuses.change", &[("from", label(&e.from_status)), ("to", label(&e.to_status))])}
                                                            {" · "}
                                                            {e.by.clone().unwrap_or_else(|| t(l, "inventory.statuses.by_platform"))}
                                                        </li>
                                                    }).collect_view()}
                                                </ol>
                                            }.into_any()
                                        }}
                                    </Card>
                                    <Card title=t(l, "inventory.price_history")>
                                        <PriceChart prices=prices.clone() now=price_now currency/>
                                        {if prices.is_empty() {
                                            view! { <p class="text-sm text-muted">{tr("inventory.no_price_changes")}</p> }.into_any()
                                        } else {
                                            view! {
                                                <ol class="divide-y divide-line text-sm" data-testid="price-history">
                                                    {prices.iter().map(|pp| view! {
                                                        <li class="py-2">
                                                            <span class="tabular-nums font-medium">{money::format(crate::ui::locale(), pp.price_minor, &pp.currency)}</span>
                                                            " · " {crate::ui::when(pp.at)}
                                                            {pp.changed_by.clone().map(|n| format!(" · {n}"))}
                                                            {pp.reason.clone().map(|r| format!(" · {r}"))}
                                                        </li>
                                                    }).collect_view()}
                                                </ol>
                                            }.into_any()
                                        }}
                                    </Card>
                                }
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// A manager's change to many units at once: choose the units, preview exactly what
/// changes, then apply it as one operation.
#[component]
fn BulkChangeCard(
    projects: RwSignal<Vec<(Uuid, String)>>,
    on_applied: Callback<()>,
) -> impl IntoView {
    use super::bulk::*;
    let l = locale();
    let project = RwSignal::new(String::new());
    let (min_floor, max_floor) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let type_code = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let percent = RwSignal::new(String::new());
    let new_status = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<BulkPreview>);
    let error = RwSignal::new(None::<AppError>);
    let done = RwSignal::new(None::<i64>);
    let busy = RwSignal::new(false);
    let open = RwSignal::new(false);
    let floor_of = |s: RwSignal<String>| s.get_untracked().trim().parse::<i32>().ok();
    let selection = move || BulkSelection {
        project_id: Uuid::parse_str(&project.get_untracked())
            .ok()
            .or_else(|| projects.get_untracked().first().map(|p| p.0)),
        min_floor: floor_of(min_floor),
        max_floor: floor_of(max_floor),
        type_code: Some(type_code.get_untracked().trim().to_uppercase()).filter(|t| !t.is_empty()),
        status: UnitStatus::parse(&status.get_untracked()),
    };
    let change = move || BulkChange {
        percent: percent.get_untracked(),
        status: UnitStatus::parse(&new_status.get_untracked()),
        reason: reason.get_untracked(),
    };
    // Any edit to the form makes the shown preview stale.
    let edited = move || {
        preview.set(None);
        done.set(None);
    };
    let run = move |apply: bool| {
        let expected = preview.get_untracked().map(|p| p.token);
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let result = match (apply, expected) {
                (true, Some(token)) => apply_bulk(selection(), change(), token).await,
                _ => preview_bulk(selection(), change()).await,
            };
            busy.set(false);
            match result {
                Ok(p) if apply => {
                    done.set(Some(p.changing));
                    preview.set(None);
                    on_applied.run(());
                }
                Ok(p) => preview.set(Some(p)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let field_error =
        move |f: &'static str| Signal::derive(move || error.get().and_then(|e| e.for_field(f)));
    let other_error = Signal::derive(move || match error.get() {
        Some(AppError::Validation { .. }) | None => None,
        Some(e) => Some(e.to_string()),
    });
    let input = move |id: &'static str,
                      key: &'static str,
                      value: RwSignal<String>,
                      field: &'static str| {
        let err = field_error(field);
        view! {
            <div class="field">
                <label for=id class="field-label">{tr(key)}</label>
                <input id=id class="input" prop:value=move || value.get()
                    on:input=move |ev| { value.set(event_target_value(&ev)); edited(); }
                    aria-invalid=move || err.get().is_some().then_some("true")
                    aria-describedby=move || err.get().is_some().then(|| format!("{id}-error"))/>
                {move || err.get().map(|e| view! { <p id=format!("{id}-error") class="field-error" role="alert">{e}</p> })}
            </div>
        }
    };
    view! {
        <section class="card mt-4" data-testid="bulk-change" aria-labelledby="bulk-title">
            <h2 id="bulk-title" class="card-title">
                <button type="button" class="btn btn-ghost" aria-expanded=move || open.get().to_string() aria-controls="bulk-form"
                    on:click=move |_| open.update(|o| *o = !*o)>{tr("inventory.bulk.title")}</button>
            </h2>
            // Drawn only when opened, so its fields never crowd the filters' labels.
            {move || open.get().then(|| view! {
            <form id="bulk-form" class="grid gap-3 md:grid-cols-4 items-end mt-3" novalidate="" on:submit=move |ev| { ev.prevent_default(); run(false); }>
                <div class="field">
                    <label for="b-project" class="field-label">{tr("inventory.bulk.project")}</label>
                    <select id="b-project" class="input" on:change=move |ev| { project.set(event_target_value(&ev)); edited(); }>
                        {move || projects.get().into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                    </select>
                </div>
                {input("b-min-floor", "inventory.bulk.min_floor", min_floor, "min_floor")}
                {input("b-max-floor", "inventory.bulk.max_floor", max_floor, "max_floor")}
                {input("b-type", "inventory.bulk.type", type_code, "type_code")}
                <div class="field">
                    <label for="b-status" class="field-label">{tr("inventory.bulk.only_status")}</label>
                    <select id="b-status" class="input" on:change=move |ev| { status.set(event_target_value(&ev)); edited(); }>
                        <option value="">{tr("inventory.any")}</option>
                        {UnitStatus::ALL.into_iter().map(|s| view! { <option value=s.code()>{tr(s.label_key())}</option> }).collect_view()}
                    </select>
                </div>
                {input("b-percent", "inventory.bulk.percent_label", percent, "percent")}
                <div class="field">
                    <label for="b-new-status" class="field-label">{tr("inventory.bulk.new_status")}</label>
                    <select id="b-new-status" class="input" on:change=move |ev| { new_status.set(event_target_value(&ev)); edited(); }>
                        <option value="">{tr("inventory.bulk.keep_status")}</option>
                        <option value="BLOCKED">{tr("inventory.status.blocked")}</option>
                        <option value="AVAILABLE">{tr("inventory.status.available")}</option>
                    </select>
                </div>
                {input("b-reason", "inventory.bulk.reason", reason, "reason")}
                <div class="md:col-span-4 flex flex-wrap gap-2 items-center">
                    <button type="submit" class="btn btn-secondary" disabled=move || busy.get()>{tr("inventory.bulk.preview")}</button>
                    {move || preview.get().filter(|p| p.changing > 0).map(|p| view! {
                        <button type="button" class="btn btn-primary" disabled=move || busy.get() on:click=move |_| run(true)>
                            {tf(l, "inventory.bulk.apply", &[("n", p.changing.to_string())])}
                        </button>
                    })}
                </div>
            </form>
            {move || other_error.get().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
            {move || done.get().map(|n| view! {
                <p class="alert alert-success" role="status">{tf(l, "inventory.bulk.done", &[("n", n.to_string())])}</p>
            })}
            {move || preview.get().map(|p| view! {
                <div data-testid="bulk-preview" class="mt-3">
                    <p role="status">{tf(l, "inventory.bulk.summary", &[("n", p.changing.to_string()), ("of", p.selected.to_string())])}</p>
                    <ul class="text-sm">
                        {p.totals.iter().map(|(c, before, after)| view! {
                            <li>{tf(l, "inventory.bulk.total", &[("before", money::format(crate::ui::locale(), *before, c)), ("after", money::format(crate::ui::locale(), *after, c))])}</li>
                        }).collect_view()}
                    </ul>
                    <div class="table-wrap">
                        <table class="table">
                            <thead><tr>
                                <th>{tr("inventory.code")}</th>
                                <th>{tr("inventory.floor")}</th>
                                <th>{tr("inventory.price")}</th>
                                <th>{tr("inventory.status")}</th>
                            </tr></thead>
                            <tbody>
                                {p.rows.iter().map(|r| view! {
                                    <tr>
                                        <td>{r.code.clone()}</td>
                                        <td class="tabular-nums">{r.floor.map(|f| f.to_string())}</td>
                                        <td class="tabular-nums">{format!("{} → {}", money::format(crate::ui::locale(), r.price_before, &r.currency), money::format(crate::ui::locale(), r.price_after, &r.currency))}</td>
                                        <td>{if r.status_before == r.status_after { t(l, r.status_after.label_key()) } else {
                                            format!("{} → {}", t(l, r.status_before.label_key()), t(l, r.status_after.label_key()))
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                </div>
            })}
            })}
        </section>
    }
}

/// A unit's prices over time as a step line, oldest to now, with its range in words for
/// screen readers.
#[component]
fn PriceChart(prices: Vec<PricePoint>, now: i64, currency: String) -> impl IntoView {
    let l = locale();
    let mut points: Vec<(i64, i64)> = prices
        .iter()
        .rev()
        .map(|p| (p.at.timestamp(), p.price_minor))
        .collect();
    let Some(last) = points.last().copied() else {
        return ().into_any();
    };
    // The price now, a step after the last change (the browser has no clock we trust).
    points.push((last.0 + 86_400, now));
    let (w, h, pad) = (600.0, 160.0, 8.0);
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let low = points.iter().map(|p| p.1).min().unwrap_or(0);
    let high = points.iter().map(|p| p.1).max().unwrap_or(0);
    let x = |t: i64| pad + (t - t0) as f64 / (t1 - t0).max(1) as f64 * (w - 2.0 * pad);
    let y = |v: i64| h - pad - (v - low) as f64 / (high - low).max(1) as f64 * (h - 2.0 * pad);
    let mut path = format!("M{:.1},{:.1}", x(points[0].0), y(points[0].1));
    for pair in points.windows(2) {
        path.push_str(&format!(" H{:.1} V{:.1}", x(pair[1].0), y(pair[1].1)));
    }
    let label = tf(
        l,
        "inventory.price_chart",
        &[
            ("low", money::format(crate::ui::locale(), low, &currency)),
            ("high", money::format(crate::ui::locale(), high, &currency)),
            ("now", money::format(crate::ui::locale(), now, &currency)),
        ],
    );
    let title = label.clone();
    view! {
        <svg viewBox=format!("0 0 {w} {h}") class="w-full h-auto mb-3" role="img" aria-label=label data-testid="price-chart">
            <title>{title}</title>
            <path d=path fill="none" stroke="#1d4ed8" stroke-width="2"/>
        </svg>
    }
    .into_any()
}
