//! The plan editor's side panels: the plan's scale, and the chosen shape (its
//! measurements, label, linked unit or component, save, duplicate and delete).

use super::api::*;
use super::editor::{distance, Draft, Tool};
use super::geometry;
use super::model::*;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr};
use leptos::prelude::*;
use uuid::Uuid;

/// The plan's scale: what it is, and setting it from the line drawn with the scale tool.
#[component]
pub(super) fn ScalePanel(
    plan_id: Uuid,
    scale_line: RwSignal<Vec<(f64, f64)>>,
    meters_per_px: RwSignal<Option<f64>>,
    tool: RwSignal<Tool>,
    status: RwSignal<Option<(bool, String)>>,
    shapes: RwSignal<Vec<Draft>>,
) -> impl IntoView {
    let l = locale();
    let meters = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let line = scale_line.get_untracked();
        let [a, b] = line[..] else {
            error.set(Some(t(l, "inventory.scale.line")));
            return;
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = set_plan_scale(plan_id.to_string(), [a, b], meters.get_untracked()).await;
            busy.set(false);
            match result {
                Ok(mpp) => {
                    meters_per_px.set(Some(mpp));
                    error.set(None);
                    scale_line.set(Vec::new());
                    tool.set(Tool::Select);
                    // Saved shapes were measured again on the server; unsaved ones on save.
                    shapes.update(|_| {});
                    status.set(Some((true, t(l, "inventory.scale.set"))));
                }
                Err(e) => error.set(Some(
                    e.for_field("meters")
                        .or(e.for_field("line"))
                        .unwrap_or(e.to_string()),
                )),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="scale-title">
            <h2 id="scale-title" class="card-title">{tr("inventory.scale.title")}</h2>
            <p class="text-sm" data-testid="plan-scale">{move || match meters_per_px.get() {
                Some(m) => tf(l, "inventory.scale.is", &[("m", format!("{:.2}", m * 100.0))]),
                None => t(l, "inventory.scale.unset"),
            }}</p>
            {move || (tool.get() == Tool::Scale).then(|| {
                let line = scale_line.get();
                if line.len() < 2 {
                    return view! { <p class="text-sm text-muted">{tr("inventory.editor.help_scale")}</p> }.into_any();
                }
                let px = distance(line[0], line[1]);
                view! {
                    <form class="form-col mt-2" on:submit=submit novalidate="">
                        <p class="text-sm">{tf(l, "inventory.scale.line_px", &[("px", format!("{px:.0}"))])}</p>
                        <div class="field">
                            <label for="scale-meters" class="field-label">{tr("inventory.scale.meters_label")}</label>
                            <input id="scale-meters" class="input" inputmode="decimal" required=true
                                prop:value=move || meters.get() on:input=move |ev| meters.set(event_target_value(&ev))
                                aria-invalid=move || error.get().is_some().then_some("true")
                                aria-describedby=move || error.get().is_some().then_some("scale-error")/>
                            {move || error.get().map(|e| view! { <p id="scale-error" class="field-error" role="alert">{e}</p> })}
                        </div>
                        <button type="submit" class="btn btn-primary" disabled=move || busy.get()>{tr("inventory.scale.save")}</button>
                    </form>
                }.into_any()
            })}
        </section>
    }
}

/// The selected shape: its measurements, label and unit, and save, duplicate, delete.
#[component]
#[allow(clippy::too_many_arguments)]
pub(super) fn ShapePanel(
    plan_id: Uuid,
    index: usize,
    draft: Draft,
    shapes: RwSignal<Vec<Draft>>,
    selected: RwSignal<Option<usize>>,
    meters_per_px: RwSignal<Option<f64>>,
    status: RwSignal<Option<(bool, String)>>,
    stale: RwSignal<bool>,
    remember: Callback<()>,
) -> impl IntoView {
    let l = locale();
    let query = RwSignal::new(String::new());
    let found = RwSignal::new(Vec::<UnitRow>::new());
    Effect::new(move || {
        let q = query.get();
        leptos::task::spawn_local(async move {
            if let Ok(units) = plan_units(plan_id.to_string(), q.clone()).await {
                // An older search answering late does not replace a newer one's list.
                if query.get_untracked() == q {
                    found.set(units);
                }
            }
        });
    });
    // The linked unit's components, read again only when the unit changes.
    let unit_of = Memo::new(move |_| {
        shapes.with(|s| {
            s.get(index)
                .and_then(|d| d.unit.as_ref().map(|(id, _)| *id))
        })
    });
    let parts = RwSignal::new(Vec::<super::components::ComponentRow>::new());
    Effect::new(move || match unit_of.get() {
        None => parts.set(Vec::new()),
        Some(unit) => leptos::task::spawn_local(async move {
            if let Ok(list) = unit_components(unit).await {
                if unit_of.get_untracked() == Some(unit) {
                    parts.set(list);
                }
            }
        }),
    });
    let busy = RwSignal::new(false);
    let field_error = RwSignal::new(None::<(String, String)>);
    let error_for = move |f: &'static str| {
        Signal::derive(move || {
            field_error
                .get()
                .filter(|(name, _)| name == f)
                .map(|(_, m)| m)
        })
    };
    let edit = move |f: &dyn Fn(&mut Draft)| {
        shapes.update(|s| {
            if let Some(d) = s.get_mut(index) {
                f(d);
                d.dirty = true;
            }
        })
    };
    let measured = move || {
        let points = shapes.with(|s| s.get(index).map(|d| d.points.clone()))?;
        let mpp = meters_per_px.get()?;
        Some(geometry::measure(&points, mpp))
    };
    let save = move |_| {
        let Some(d) = shapes.with_untracked(|s| s.get(index).cloned()) else {
            return;
        };
        busy.set(true);
        field_error.set(None);
        leptos::task::spawn_local(async move {
            let result = save_shape(
                plan_id.to_string(),
                d.id,
                d.unit.as_ref().map(|(id, _)| *id),
                d.component.as_ref().map(|(id, _)| *id),
                d.label.clone(),
                d.points.clone(),
                d.version,
            )
            .await;
            busy.set(false);
            match result {
                Ok(id) => {
                    shapes.update(|s| {
                        if let Some(x) = s.get_mut(index) {
                            x.id = Some(id);
                            x.version = if d.id.is_some() { d.version + 1 } else { 1 };
                            x.dirty = x.points != d.points
                                || x.label != d.label
                                || x.unit != d.unit
                                || x.component != d.component;
                        }
                    });
                    status.set(Some((true, t(l, "inventory.editor.saved"))));
                }
                Err(crate::error::AppError::Conflict(m)) => {
                    stale.set(true);
                    status.set(Some((false, m)));
                }
                Err(crate::error::AppError::Validation { field, message }) => {
                    status.set(Some((false, message.clone())));
                    field_error.set(Some((field, message)));
                }
                Err(e) => status.set(Some((false, e.to_string()))),
            }
        });
    };
    let delete = move |_| {
        let Some(d) = shapes.with_untracked(|s| s.get(index).cloned()) else {
            return;
        };
        let drop_it = move || {
            remember.run(());
            shapes.update(|s| {
                if index < s.len() {
                    s.remove(index);
                }
            });
            selected.set(None);
            status.set(Some((true, t(l, "inventory.editor.deleted"))));
        };
        match d.id {
            None => drop_it(),
            Some(id) => {
                busy.set(true);
                leptos::task::spawn_local(async move {
                    let result = delete_shape(plan_id.to_string(), id, d.version).await;
                    busy.set(false);
                    match result {
                        Ok(()) => drop_it(),
                        Err(crate::error::AppError::Conflict(m)) => {
                            stale.set(true);
                            status.set(Some((false, m)));
                        }
                        Err(e) => status.set(Some((false, e.to_string()))),
                    }
                });
            }
        }
    };
    let duplicate = move |_| {
        remember.run(());
        let copy = shapes.with_untracked(|s| s.get(index).cloned());
        if let Some(mut copy) = copy {
            let offset = 20.0;
            copy.points
                .iter_mut()
                .for_each(|p| *p = (p.0 + offset, p.1 + offset));
            copy.id = None;
            copy.version = 0;
            copy.unit = None;
            copy.component = None;
            copy.dirty = true;
            shapes.update(|s| s.push(copy));
            selected.set(Some(shapes.with_untracked(Vec::len) - 1));
        }
    };
    let unit_now = draft.unit.clone();
    let draft_unit = draft.unit.clone();
    let label_error = error_for("label");
    let unit_error = error_for("unit_id");
    let component_error = error_for("component_id");
    let points_error = error_for("points");
    view! {
        <section class="card" aria-labelledby="shape-title" data-testid="shape-panel">
            <h2 id="shape-title" class="card-title">{move || shapes.with(|s| s.get(index).map(|d| d.name(l, index)))}</h2>
            <p class="text-sm" data-testid="shape-measure">{move || match measured() {
                Some((area, perimeter)) => tf(l, "inventory.editor.measure", &[
                    ("area", format!("{area:.1}")), ("perimeter", format!("{perimeter:.1}")),
                ]),
                None => t(l, "inventory.editor.no_scale"),
            }}</p>
            {move || points_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            <div class="field">
                <label for="shape-label" class="field-label">{tr("inventory.editor.label")}</label>
                <input id="shape-label" class="input" maxlength="60" prop:value=draft.label.clone()
                    on:change=move |ev| { remember.run(()); let v = event_target_value(&ev); edit(&|d| d.label = v.clone()); }
                    aria-invalid=move || label_error.get().is_some().then_some("true")
                    aria-describedby=move || label_error.get().is_some().then_some("shape-label-error")/>
                {move || label_error.get().map(|e| view! { <p id="shape-label-error" class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="field">
                <label for="unit-search" class="field-label">{tr("inventory.editor.find_unit")}</label>
                <input id="unit-search" class="input" type="search" maxlength="40"
                    on:input=move |ev| query.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="shape-unit" class="field-label">{tr("inventory.editor.unit")}</label>
                <select id="shape-unit" class="input"
                    aria-invalid=move || unit_error.get().is_some().then_some("true")
                    aria-describedby=move || unit_error.get().is_some().then_some("shape-unit-error")
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        let choice = Uuid::parse_str(&v).ok().and_then(|id| {
                            let code = found.get_untracked().into_iter().find(|u| u.id == id)?.code;
                            Some((id, code))
                        }).or_else(|| unit_now.clone().filter(|(id, _)| id.to_string() == v));
                        remember.run(());
                        edit(&|d| {
                            d.unit = choice.clone();
                            d.component = None;
                        });
                    }>
                    <option value="">{tr("inventory.editor.no_unit")}</option>
                    {draft.unit.clone().map(|(id, code)| view! { <option value=id.to_string() selected=true>{code}</option> })}
                    {move || {
                        let current = draft_unit.as_ref().map(|(id, _)| *id);
                        found.get().into_iter().filter(|u| Some(u.id) != current).map(|u| {
                            let text = super::ui::unit_name(l, &u);
                            view! { <option value=u.id.to_string()>{text}</option> }
                        }).collect_view()
                    }}
                </select>
                {move || unit_error.get().map(|e| view! { <p id="shape-unit-error" class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="field">
                <label for="shape-component" class="field-label">{tr("inventory.editor.component")}</label>
                <select id="shape-component" class="input" disabled=move || unit_of.get().is_none()
                    aria-invalid=move || component_error.get().is_some().then_some("true")
                    aria-describedby=move || if component_error.get().is_some() { "shape-component-error" } else { "shape-component-hint" }
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        let choice = parts.get_untracked().into_iter()
                            .find(|c| c.id.to_string() == v)
                            .map(|c| (c.id, c.label));
                        remember.run(());
                        edit(&|d| d.component = choice.clone());
                    }>
                    <option value="">{tr("inventory.editor.whole_unit")}</option>
                    {move || {
                        let chosen = shapes.with(|s| s.get(index).and_then(|d| d.component.as_ref().map(|(id, _)| *id)));
                        parts.get().into_iter().map(|c| view! {
                            <option value=c.id.to_string() selected=chosen == Some(c.id)>{c.label.clone()}</option>
                        }).collect_view()
                    }}
                </select>
                <p id="shape-component-hint" class="field-hint">{tr("inventory.editor.component_hint")}</p>
                {move || component_error.get().map(|e| view! { <p id="shape-component-error" class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="flex flex-wrap gap-2">
                <button type="button" class="btn btn-primary" on:click=save disabled=move || busy.get()
                    aria-busy=move || busy.get().then_some("true")>
                    {move || if shapes.with(|s| s.get(index).is_some_and(|d| d.dirty)) { t(l, "inventory.editor.save") } else { t(l, "inventory.editor.saved_button") }}
                </button>
                <button type="button" class="btn btn-secondary" on:click=duplicate>{tr("inventory.editor.duplicate")}</button>
                <button type="button" class="btn btn-danger" on:click=delete disabled=move || busy.get()>{tr("inventory.editor.delete")}</button>
            </div>
        </section>
    }
}
