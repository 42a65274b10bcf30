//! A plan's map: every unit a shape coloured by status that a keyboard reaches and
//! names, narrowed by filters, recoloured live, with the same units as a list; or, for
//! editors, the shape editor.

use super::api::*;
use super::components::component_summary;
use super::editor::PlanEditor;
use super::model::*;
use super::ui::{status_tone, unit_name, UnitActions};
use crate::crm::money;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Badge, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

/// A plan: the map every member uses, or (`?edit=1`, for editors) the shape editor.
#[component]
pub fn PlanPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let editing = move || query.read().get("edit").as_deref() == Some("1");
    view! {
        {move || if editing() {
            let id = id();
            let back = format!("/inventory/plans/{id}");
            view! {
                <PageHeader title=tr("inventory.editor.title")>
                    <a class="btn btn-secondary" href=back>{tr("inventory.editor.done")}</a>
                </PageHeader>
                <PlanEditor plan_id=id/>
            }.into_any()
        } else {
            view! { <PlanMap/> }.into_any()
        }}
    }
}

/// The map: shapes coloured by their units' status, recoloured live when any member
/// holds, releases, sells or reprices a unit.
#[component]
fn PlanMap() -> impl IntoView {
    let l = locale();
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let tick = RwSignal::new(0u32);
    let plan = Resource::new(move || (id(), tick.get()), |(id, _)| get_plan(id));
    crate::live::on_event("unit", move |_| tick.update(|n| *n += 1));
    let selected = RwSignal::new(None::<Uuid>);
    // Outside the plan's reload, so a live recolour keeps what the member narrowed to.
    let filter = RwSignal::new(MapFilter::default());
    let hovered = RwSignal::new(None::<(UnitRow, f64, f64)>);
    let whole_list = RwSignal::new(false);
    view! {
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Err(e) => view! { <PageHeader title=tr("inventory.plan")/> <LoadError error=e/> }.into_any(),
                    Ok(p) => {
                        let shapes = p.shapes.clone();
                        // The list names each unit once, however many of its rooms are drawn.
                        let mut list: Vec<UnitRow> = p.shapes.iter().filter_map(|sh| sh.unit.clone()).collect();
                        list.sort_by(|a, b| a.code.cmp(&b.code));
                        list.dedup_by_key(|u| u.id);
                        let listed = list.len();
                        let counts: Vec<(UnitStatus, usize)> = UnitStatus::ALL.into_iter()
                            .map(|s| (s, list.iter().filter(|u| u.status == s).count()))
                            .collect();
                        let mut types: Vec<String> = p.shapes.iter().filter_map(|sh| sh.unit.as_ref().map(|u| u.type_code.clone())).collect();
                        types.sort();
                        types.dedup();
                        let (plan_w, plan_h) = (f64::from(p.width_px), f64::from(p.height_px));
                        view! {
                            <PageHeader title=format!("{} — {}", p.project, p.name)>
                                {p.project_cover.clone().map(|src| view! {
                                    <img src=src alt=tf(l, "inventory.cover_of", &[("project", p.project.clone())])
                                        class="h-12 w-20 rounded object-cover" data-testid="project-cover"/>
                                })}
                                {p.can_edit.then(|| view! {
                                    <a class="btn btn-secondary" href=format!("/inventory/plans/{}?edit=1", p.id)>{tr("inventory.editor.open")}</a>
                                })}
                                <a class="btn btn-secondary" href="/inventory">{tr("inventory.units")}</a>
                            </PageHeader>
                            <div class="flex flex-wrap gap-2 mb-3" role="group" aria-label=tr("inventory.legend") data-testid="legend">
                                {counts.into_iter().map(|(s, n)| view! {
                                    <button type="button" class="badge badge-neutral" aria-pressed=move || (filter.with(|f| f.status) == Some(s)).to_string()
                                        on:click=move |_| filter.update(|f| f.status = if f.status == Some(s) { None } else { Some(s) })>
                                        <svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill=s.fill()/></svg>
                                        {format!("{} {}", t(l, s.label_key()), n)}
                                    </button>
                                }).collect_view()}
                            </div>
                            <MapFilters filter types/>
                            <div class="grid gap-4 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
                                <div class="card overflow-auto p-2 relative">
                                    {move || hovered.get().map(|(u, x, y)| view! {
                                        <div class="absolute z-10 card p-2 text-sm shadow pointer-events-none max-w-64" aria-hidden="true"
                                            data-testid="hover-card" style=format!("left: {x:.1}%; top: {y:.1}%")>
                                            <p class="font-medium">{tf(l, "inventory.unit_title", &[("code", u.code.clone())])}</p>
                                            <p>{format!("{} · {}", u.type_code, t(l, u.status.label_key()))}</p>
                                            <p class="tabular-nums">{money::format(crate::ui::locale(), u.price_minor, &u.currency)}</p>
                                            <p class="text-muted">{tf(l, "inventory.hover_facts", &[
                                                ("bedrooms", u.bedrooms.to_string()),
                                                ("size", u.size_sqm.map(|s| format!("{s:.0} m²")).unwrap_or_else(|| "—".into())),
                                                ("floor", u.floor.map(|f| f.to_string()).unwrap_or_else(|| "—".into())),
                                                ("view", u.view.clone().unwrap_or_else(|| "—".into())),
                                            ])}</p>
                                        </div>
                                    })}
                                    <svg viewBox=format!("0 0 {} {}", p.width_px, p.height_px) class="w-full h-auto" role="group"
                                        aria-label=tf(l, "inventory.map_of", &[("plan", p.name.clone())]) data-testid="plan-map">
                                        {match p.file_url.clone() {
                                            Some(url) => view! { <image href=url width=p.width_px height=p.height_px preserveAspectRatio="none"/> }.into_any(),
                                            None => view! { <rect width=p.width_px height=p.height_px fill="#f8fafc" stroke="#94a3b8"/> }.into_any(),
                                        }}
                                        {shapes.into_iter().map(|sh| {
                                            let points = sh.points.iter().map(|(x, y)| format!("{x},{y}")).collect::<Vec<_>>().join(" ");
                                            let (cx, cy) = centroid(&sh.points);
                                            let status = sh.unit.as_ref().map(|u| u.status);
                                            let fill = status.map_or("#e2e8f0", UnitStatus::fill);
                                            let name = match (&sh.unit, &sh.component) {
                                                (Some(u), Some((_, part))) => tf(l, "inventory.component_of", &[("component", part.clone()), ("unit", unit_name(l, u))]),
                                                (Some(u), None) => unit_name(l, u),
                                                (None, _) => sh.label.clone().unwrap_or_default(),
                                            };
                                            let unit_id = sh.unit.as_ref().map(|u| u.id);
                                            let label = sh.label.clone()
                                                .or_else(|| sh.component.as_ref().map(|(_, part)| part.clone()))
                                                .or_else(|| sh.unit.as_ref().map(|u| u.code.clone()))
                                                .unwrap_or_default();
                                            let unit = sh.unit.clone();
                                            let dim = {
                                                let unit = unit.clone();
                                                move || filter.with(|f| match &unit {
                                                    Some(u) => !f.matches(u),
                                                    None => !f.is_empty(),
                                                })
                                            };
                                            let pick = move || if let Some(u) = unit_id { selected.set(Some(u)) };
                                            // The hover card sits at the shape's centre, in percent of the plan.
                                            let show = move || if let Some(u) = unit.clone() {
                                                hovered.set(Some((u, cx / plan_w * 100.0, cy / plan_h * 100.0)))
                                            };
                                            let show_on_focus = show.clone();
                                            view! {
                                                <g role="button" tabindex="0" aria-label=name data-testid="plan-shape"
                                                    data-status=status.map(UnitStatus::code) class="cursor-pointer"
                                                    aria-pressed=move || (unit_id.is_some() && selected.get() == unit_id).to_string()
                                                    opacity=move || if dim() { "0.25" } else { "1" }
                                                    on:click=move |_| pick()
                                                    on:mouseenter=move |_| show()
                                                    on:mouseleave=move |_| hovered.set(None)
                                                    on:focus=move |_| show_on_focus()
                                                    on:blur=move |_| hovered.set(None)
                                                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                                                        if ev.key() == "Enter" || ev.key() == " " { ev.prevent_default(); pick(); }
                                                    }>
                                                    <polygon points=points fill=fill fill-opacity="0.65" stroke="#0f172a" stroke-width="2"/>
                                                    <text x=cx y=cy text-anchor="middle" dominant-baseline="middle" font-size="14" fill="#0f172a" aria-hidden="true">{label}</text>
                                                </g>
                                            }
                                        }).collect_view()}
                                    </svg>
                                </div>
                                <aside aria-labelledby="unit-panel-title" data-testid="unit-panel">
                                    <h2 id="unit-panel-title" class="sr-only">{tr("inventory.selected_unit")}</h2>
                                    {move || match selected.get() {
                                        None => view! { <p class="card text-sm text-muted">{tr("inventory.pick_unit")}</p> }.into_any(),
                                        Some(unit) => view! { <UnitPanel unit=unit tick/> }.into_any(),
                                    }}
                                </aside>
                            </div>
                            <section class="card mt-4" aria-labelledby="unit-list-title">
                                <h2 id="unit-list-title" class="card-title">{tr("inventory.units_on_plan")}</h2>
                                {move || if listed <= LIST_AT_ONCE || whole_list.get() {
                                    let list = list.clone();
                                    view! {
                                        <ul class="divide-y divide-line" data-testid="plan-list">
                                            {move || {
                                                let f = filter.get();
                                                list.iter().filter(|u| f.matches(u)).map(|u| {
                                                    let id = u.id;
                                                    view! {
                                                        <li class="flex flex-wrap items-center gap-2 py-2">
                                                            <a class="link" href=format!("/inventory/units/{id}")>{unit_name(l, u)}</a>
                                                            <Badge text=t(l, u.status.label_key()) tone=status_tone(u.status)/>
                                                        </li>
                                                    }
                                                }).collect_view()
                                            }}
                                        </ul>
                                    }.into_any()
                                } else {
                                    view! {
                                        <button type="button" class="btn btn-secondary" aria-expanded="false"
                                            on:click=move |_| whole_list.set(true)>
                                            {tf(l, "inventory.show_list", &[("n", listed.to_string())])}
                                        </button>
                                    }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Plans with more units than this draw their list of units when asked: a list of
/// thousands helps nobody read, and drawing it took 40 % of a 2,000-shape map's server
/// time (p95 118.6 ms with it, 67.7 ms without). Every shape stays reachable and named
/// by keyboard either way.
const LIST_AT_ONCE: usize = 300;

/// The selected unit beside the map, with its actions.
#[component]
fn UnitPanel(unit: Uuid, tick: RwSignal<u32>) -> impl IntoView {
    let l = locale();
    let detail = Resource::new(move || unit, |u| get_unit(u.to_string()));
    view! {
        <Transition fallback=|| view! { <Skeleton lines=3/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(d) => {
                        let u = d.unit.clone();
                        let components = d.components.items.clone();
                        view! {
                            <div class="card">
                                <h3 class="card-title"><a class="link" href=format!("/inventory/units/{}", u.id)>{tf(l, "inventory.unit_title", &[("code", u.code.clone())])}</a></h3>
                                <p class="text-sm">{unit_name(l, &u)}</p>
                                {(!components.is_empty()).then(|| view! {
                                    <ul class="text-sm my-2" aria-label=tr("inventory.components.title") data-testid="panel-components">
                                        {components.into_iter().map(|c| view! {
                                            <li>{c.label.clone()} " · " <bdi class="tabular-nums">{component_summary(&c)}</bdi></li>
                                        }).collect_view()}
                                    </ul>
                                })}
                                <UnitActions detail=d on_change=Callback::new(move |_| tick.update(|n| *n += 1))/>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Where a shape's label goes: the average of its vertices.
fn centroid(points: &[(f64, f64)]) -> (f64, f64) {
    if points.is_empty() {
        return (0.0, 0.0);
    }
    let n = points.len() as f64;
    (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    )
}

/// The map's filters beside its legend: type, bedrooms, price range, floor and view.
#[component]
fn MapFilters(filter: RwSignal<MapFilter>, types: Vec<String>) -> impl IntoView {
    let set = move |f: &dyn Fn(&mut MapFilter)| filter.update(|x| f(x));
    let text =
        |ev: &leptos::ev::Event| Some(event_target_value(ev)).filter(|v| !v.trim().is_empty());
    view! {
        <form class="card grid gap-3 grid-cols-2 md:grid-cols-6 items-end mb-3" on:submit=|ev| ev.prevent_default()
            aria-label=tr("inventory.map_filters") data-testid="map-filters">
            <div class="field">
                <label for="m-type" class="field-label">{tr("inventory.type")}</label>
                <select id="m-type" class="input" on:change=move |ev| { let v = text(&ev); set(&|f| f.type_code = v.clone()); }>
                    <option value="">{tr("inventory.any")}</option>
                    {types.into_iter().map(|code| view! { <option value=code.clone()>{code.clone()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="m-bedrooms" class="field-label">{tr("inventory.min_bedrooms")}</label>
                <input id="m-bedrooms" class="input" type="number" min="0" max="50"
                    on:change=move |ev| { let v = text(&ev); set(&|f| f.min_bedrooms = v.as_deref().and_then(|v| v.trim().parse().ok())); }/>
            </div>
            <div class="field">
                <label for="m-min-price" class="field-label">{tr("inventory.min_price")}</label>
                <input id="m-min-price" class="input" inputmode="decimal"
                    on:change=move |ev| { let v = text(&ev); set(&|f| f.min_price_minor = v.as_deref().and_then(|v| money::parse(crate::ui::locale(), v.trim(), "EGP"))); }/>
            </div>
            <div class="field">
                <label for="m-max-price" class="field-label">{tr("inventory.max_price")}</label>
                <input id="m-max-price" class="input" inputmode="decimal"
                    on:change=move |ev| { let v = text(&ev); set(&|f| f.max_price_minor = v.as_deref().and_then(|v| money::parse(crate::ui::locale(), v.trim(), "EGP"))); }/>
            </div>
            <div class="field">
                <label for="m-floor" class="field-label">{tr("inventory.floor")}</label>
                <input id="m-floor" class="input" type="number" min="-5" max="200"
                    on:change=move |ev| { let v = text(&ev); set(&|f| f.floor = v.as_deref().and_then(|v| v.trim().parse().ok())); }/>
            </div>
            <div class="field">
                <label for="m-view" class="field-label">{tr("inventory.view")}</label>
                <input id="m-view" class="input" maxlength="60"
                    on:change=move |ev| { let v = text(&ev); set(&|f| f.view = v.clone()); }/>
            </div>
        </form>
    }
}
