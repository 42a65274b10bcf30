//! The plan editor: draw polygons and rectangles over an uploaded plan, move, add and
//! delete vertices by mouse or keyboard (snapping to nearby vertices and edges), move
//! and duplicate shapes, link each to a unit, label it, undo and redo, zoom and pan,
//! and set the plan's scale by drawing a line of known length. Each shape is saved on
//! its own with the version it was read at; the server measures it and refuses a stale
//! save, which the editor says.

use super::api::*;
use super::editor_panels::{ScalePanel, ShapePanel};
use super::geometry;
use super::model::*;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, LoadError, Skeleton};
use leptos::prelude::*;
use uuid::Uuid;

/// A shape as the editor holds it, saved or not.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Draft {
    pub(super) id: Option<Uuid>,
    pub(super) version: i32,
    pub(super) label: String,
    /// The linked unit's id and code.
    pub(super) unit: Option<(Uuid, String)>,
    /// The component of that unit the shape stands for, if not the whole unit.
    pub(super) component: Option<(Uuid, String)>,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) dirty: bool,
}

impl Draft {
    fn from_view(s: &ShapeView) -> Draft {
        Draft {
            id: Some(s.id),
            version: s.version,
            label: s.label.clone().unwrap_or_default(),
            unit: s.unit.as_ref().map(|u| (u.id, u.code.clone())),
            component: s.component.clone(),
            points: s.points.clone(),
            dirty: false,
        }
    }

    pub(super) fn name(&self, l: crate::i18n::Locale, index: usize) -> String {
        let what = self
            .unit
            .as_ref()
            .map(|(_, code)| match &self.component {
                Some((_, part)) => format!("{code} · {part}"),
                None => code.clone(),
            })
            .or_else(|| Some(self.label.clone()).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| (index + 1).to_string());
        tf(l, "inventory.editor.shape_name", &[("name", what)])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tool {
    Select,
    Polygon,
    Rectangle,
    Scale,
}

#[derive(Clone, Copy, Debug)]
enum Drag {
    Vertex {
        shape: usize,
        vertex: usize,
    },
    Shape {
        shape: usize,
        from: Option<(f64, f64)>,
    },
    Rect {
        from: (f64, f64),
    },
    Pan {
        from: (f64, f64),
    },
}

/// A box on screen, in px: left, top, width, height.
type Rect = (f64, f64, f64, f64);

/// The visible part of the plan, in plan pixels (the SVG's `viewBox`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct View {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl View {
    /// Zoomed by `factor` (above 1 is closer) around `at`, kept within 1×–40×.
    fn zoom(self, factor: f64, at: (f64, f64), full: (f64, f64)) -> View {
        let w = (self.w / factor).clamp(full.0 / 40.0, full.0);
        let h = w * full.1 / full.0;
        let fx = (at.0 - self.x) / self.w;
        let fy = (at.1 - self.y) / self.h;
        View {
            x: at.0 - fx * w,
            y: at.1 - fy * h,
            w,
            h,
        }
        .within(full)
    }

    fn pan(self, dx: f64, dy: f64, full: (f64, f64)) -> View {
        View {
            x: self.x + dx,
            y: self.y + dy,
            ..self
        }
        .within(full)
    }

    /// The view under two fingers that started at `from` (screen px, on a canvas whose
    /// box is `rect`) with this view, and are now at `to`: zoomed by how far they
    /// spread, and panned so the plan point first between them stays between them.
    fn pinched(
        self,
        from: [(f64, f64); 2],
        to: [(f64, f64); 2],
        rect: Rect,
        full: (f64, f64),
    ) -> View {
        let (left, top, width, height) = rect;
        let mid = |p: [(f64, f64); 2]| ((p[0].0 + p[1].0) / 2.0, (p[0].1 + p[1].1) / 2.0);
        let on_plan = |c: (f64, f64), v: View| {
            (
                v.x + (c.0 - left) * v.w / width,
                v.y + (c.1 - top) * v.h / height,
            )
        };
        let spread = distance(to[0], to[1]) / distance(from[0], from[1]).max(1.0);
        let anchor = on_plan(mid(from), self);
        let zoomed = self.zoom(spread, anchor, full);
        let now = on_plan(mid(to), zoomed);
        zoomed.pan(anchor.0 - now.0, anchor.1 - now.1, full)
    }

    fn within(self, full: (f64, f64)) -> View {
        View {
            x: self.x.clamp(0.0, (full.0 - self.w).max(0.0)),
            y: self.y.clamp(0.0, (full.1 - self.h).max(0.0)),
            ..self
        }
    }
}

/// The closest point of segment `a`–`b` to `p`.
fn nearest_on_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx * dx + dy * dy;
    if len == 0.0 {
        return a;
    }
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len).clamp(0.0, 1.0);
    (a.0 + t * dx, a.1 + t * dy)
}

pub(super) fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// `p` moved onto the nearest vertex of another shape within `radius`, else onto the
/// nearest edge within `radius`, else left where it is.
fn snap(p: (f64, f64), shapes: &[Draft], except: Option<usize>, radius: f64) -> (f64, f64) {
    let others = shapes
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .map(|(_, s)| s);
    let mut best: Option<((f64, f64), f64)> = None;
    for s in others.clone() {
        for v in &s.points {
            let d = distance(p, *v);
            if d <= radius && best.is_none_or(|(_, b)| d < b) {
                best = Some((*v, d));
            }
        }
    }
    if let Some((v, _)) = best {
        return v;
    }
    for s in others {
        let n = s.points.len();
        for i in 0..n {
            let q = nearest_on_segment(p, s.points[i], s.points[(i + 1) % n]);
            let d = distance(p, q);
            if d <= radius && best.is_none_or(|(_, b)| d < b) {
                best = Some((q, d));
            }
        }
    }
    best.map_or(p, |(q, _)| q)
}

/// The four corners of the rectangle spanned by `a` and `b`.
fn rectangle(a: (f64, f64), b: (f64, f64)) -> Vec<(f64, f64)> {
    vec![a, (b.0, a.1), b, (a.0, b.1)]
}

fn clamp_point(p: (f64, f64), full: (f64, f64)) -> (f64, f64) {
    (p.0.clamp(0.0, full.0), p.1.clamp(0.0, full.1))
}

fn points_attr(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a mouse event is on the plan, and how many plan pixels one screen pixel is.
fn plan_point(ev: &web_sys::MouseEvent, view: View) -> Option<((f64, f64), f64)> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let el: web_sys::Element = ev.current_target()?.dyn_into().ok()?;
        let r = el.get_bounding_client_rect();
        if r.width() <= 0.0 || r.height() <= 0.0 {
            return None;
        }
        let per_px = view.w / r.width();
        Some((
            (
                view.x + (f64::from(ev.client_x()) - r.left()) * per_px,
                view.y + (f64::from(ev.client_y()) - r.top()) * view.h / r.height(),
            ),
            per_px,
        ))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, view);
        None
    }
}

/// The two fingers of a touch, in screen px, and the canvas's box; `None` unless
/// exactly two touch it.
fn two_fingers(ev: &web_sys::TouchEvent) -> Option<([(f64, f64); 2], Rect)> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let touches = ev.touches();
        if touches.length() != 2 {
            return None;
        }
        let at = |i| {
            touches
                .get(i)
                .map(|t| (f64::from(t.client_x()), f64::from(t.client_y())))
        };
        let el: web_sys::Element = ev.current_target()?.dyn_into().ok()?;
        let r = el.get_bounding_client_rect();
        if r.width() <= 0.0 || r.height() <= 0.0 {
            return None;
        }
        Some(([at(0)?, at(1)?], (r.left(), r.top(), r.width(), r.height())))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// The editor of plan `plan_id`, read once: live changes elsewhere do not disturb
/// what is being drawn.
#[component]
pub fn PlanEditor(plan_id: String) -> impl IntoView {
    let plan = Resource::new(move || plan_id.clone(), get_plan);
    view! {
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(p) => view! { <Editor plan=p/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Editor(plan: PlanView) -> impl IntoView {
    let l = locale();
    let plan_id = plan.id;
    let full = (f64::from(plan.width_px), f64::from(plan.height_px));
    let shapes = RwSignal::new(plan.shapes.iter().map(Draft::from_view).collect::<Vec<_>>());
    let selected = RwSignal::new(None::<usize>);
    let tool = RwSignal::new(Tool::Select);
    let drawing = RwSignal::new(Vec::<(f64, f64)>::new());
    let hover = RwSignal::new(None::<(f64, f64)>);
    let scale_line = RwSignal::new(Vec::<(f64, f64)>::new());
    let meters_per_px = RwSignal::new(plan.meters_per_px);
    let view = RwSignal::new(View {
        x: 0.0,
        y: 0.0,
        w: full.0,
        h: full.1,
    });
    let per_px = StoredValue::new(full.0 / 800.0);
    let drag = StoredValue::new(None::<Drag>);
    let undo = StoredValue::new(Vec::<Vec<Draft>>::new());
    let redo = StoredValue::new(Vec::<Vec<Draft>>::new());
    let history = RwSignal::new((0usize, 0usize));
    let status = RwSignal::new(None::<(bool, String)>);
    let stale = RwSignal::new(false);

    let sync_history = move || history.set((undo.with_value(Vec::len), redo.with_value(Vec::len)));
    // Keeps the shapes as they are now for undo; every change calls it first.
    let remember = move || {
        let now = shapes.get_untracked();
        undo.update_value(|u| {
            u.push(now);
            if u.len() > 100 {
                u.remove(0);
            }
        });
        redo.update_value(Vec::clear);
        sync_history();
    };
    let restore = move |from: StoredValue<Vec<Vec<Draft>>>, to: StoredValue<Vec<Vec<Draft>>>| {
        if let Some(previous) = from.try_update_value(Vec::pop).flatten() {
            to.update_value(|t| t.push(shapes.get_untracked()));
            let n = previous.len();
            shapes.set(previous);
            selected.update(|s| *s = s.filter(|i| *i < n));
            sync_history();
        }
    };
    let do_undo = move || restore(undo, redo);
    let do_redo = move || restore(redo, undo);
    let radius = move || 10.0 * per_px.get_value();
    let say = move |ok: bool, key: &str| status.set(Some((ok, t(l, key))));

    let finish_polygon = move |points: Vec<(f64, f64)>| {
        match geometry::validate(&points, full.0, full.1) {
            Ok(ring) => {
                remember();
                shapes.update(|s| {
                    s.push(Draft {
                        id: None,
                        version: 0,
                        label: String::new(),
                        unit: None,
                        component: None,
                        points: ring,
                        dirty: true,
                    })
                });
                selected.set(Some(shapes.with_untracked(Vec::len) - 1));
                tool.set(Tool::Select);
                say(true, "inventory.editor.drawn");
            }
            Err(e) => say(false, e.message_key()),
        }
        drawing.set(Vec::new());
    };

    let move_vertex = move |shape: usize, vertex: usize, p: (f64, f64)| {
        shapes.update(|s| {
            if let Some(v) = s.get_mut(shape).and_then(|d| d.points.get_mut(vertex)) {
                *v = clamp_point(p, full);
                s[shape].dirty = true;
            }
        });
    };

    let on_down = move |ev: web_sys::MouseEvent| {
        if ev.button() != 0 {
            return;
        }
        let Some((p, px)) = plan_point(&ev, view.get_untracked()) else {
            return;
        };
        per_px.set_value(px);
        let p = clamp_point(p, full);
        match tool.get_untracked() {
            Tool::Polygon => {
                let points = drawing.get_untracked();
                if points.len() >= 3 && distance(p, points[0]) <= radius() {
                    finish_polygon(points);
                } else {
                    let p = snap(p, &shapes.get_untracked(), None, radius());
                    drawing.update(|d| d.push(p));
                }
            }
            Tool::Rectangle => {
                let p = snap(p, &shapes.get_untracked(), None, radius());
                drag.set_value(Some(Drag::Rect { from: p }));
                drawing.set(vec![p]);
            }
            Tool::Scale => scale_line.update(|line| {
                if line.len() >= 2 {
                    line.clear();
                }
                line.push(p);
            }),
            Tool::Select => {
                selected.set(None);
                drag.set_value(Some(Drag::Pan {
                    from: (f64::from(ev.client_x()), f64::from(ev.client_y())),
                }));
            }
        }
    };
    let on_move = move |ev: web_sys::MouseEvent| {
        let Some((p, px)) = plan_point(&ev, view.get_untracked()) else {
            return;
        };
        per_px.set_value(px);
        hover.set(Some(clamp_point(p, full)));
        match drag.get_value() {
            Some(Drag::Vertex { shape, vertex }) => {
                let p = snap(p, &shapes.get_untracked(), Some(shape), radius());
                move_vertex(shape, vertex, p);
            }
            Some(Drag::Shape { shape, from }) => {
                if let Some(from) = from {
                    let (dx, dy) = (p.0 - from.0, p.1 - from.1);
                    shapes.update(|s| {
                        if let Some(d) = s.get_mut(shape) {
                            let fits = d.points.iter().all(|(x, y)| {
                                (0.0..=full.0).contains(&(x + dx))
                                    && (0.0..=full.1).contains(&(y + dy))
                            });
                            if fits {
                                d.points.iter_mut().for_each(|v| *v = (v.0 + dx, v.1 + dy));
                                d.dirty = true;
                            }
                        }
                    });
                }
                drag.set_value(Some(Drag::Shape {
                    shape,
                    from: Some(p),
                }));
            }
            Some(Drag::Rect { from }) => {
                let p = snap(p, &shapes.get_untracked(), None, radius());
                drawing.set(rectangle(from, clamp_point(p, full)));
            }
            Some(Drag::Pan { from }) => {
                let now = (f64::from(ev.client_x()), f64::from(ev.client_y()));
                view.update(|v| *v = v.pan((from.0 - now.0) * px, (from.1 - now.1) * px, full));
                drag.set_value(Some(Drag::Pan { from: now }));
            }
            None => {}
        }
    };
    let on_up = move |_: web_sys::MouseEvent| {
        if let Some(Drag::Rect { .. }) = drag.get_value() {
            let points = drawing.get_untracked();
            if points.len() == 4 {
                finish_polygon(points);
            } else {
                drawing.set(Vec::new());
            }
        }
        drag.set_value(None);
    };
    let on_wheel = move |ev: web_sys::WheelEvent| {
        let Some((p, _)) = plan_point(&ev, view.get_untracked()) else {
            return;
        };
        ev.prevent_default();
        let factor = if ev.delta_y() < 0.0 { 1.25 } else { 0.8 };
        view.update(|v| *v = v.zoom(factor, p, full));
    };
    // A two-finger pinch zooms around the fingers and moving both pans; one finger
    // taps through as a click (shapes, corners, polygon points).
    let pinch = StoredValue::new(None::<([(f64, f64); 2], View)>);
    let on_touch_start = move |ev: web_sys::TouchEvent| {
        if let Some((fingers, _)) = two_fingers(&ev) {
            ev.prevent_default();
            drag.set_value(None);
            pinch.set_value(Some((fingers, view.get_untracked())));
        }
    };
    let on_touch_move = move |ev: web_sys::TouchEvent| {
        if let (Some((from, start)), Some((to, rect))) = (pinch.get_value(), two_fingers(&ev)) {
            ev.prevent_default();
            view.set(start.pinched(from, to, rect, full));
        }
    };
    let on_touch_end = move |ev: web_sys::TouchEvent| {
        if ev.touches().length() < 2 {
            pinch.set_value(None);
        }
    };
    let zoom_by = move |factor: f64| {
        view.update(|v| {
            let centre = (v.x + v.w / 2.0, v.y + v.h / 2.0);
            *v = v.zoom(factor, centre, full)
        })
    };
    let on_key = move |ev: web_sys::KeyboardEvent| {
        let key = ev.key();
        let command = ev.ctrl_key() || ev.meta_key();
        let step = view.get_untracked().w / 10.0;
        let handled = match key.as_str() {
            "z" | "Z" if command && ev.shift_key() => {
                do_redo();
                true
            }
            "z" | "Z" if command => {
                do_undo();
                true
            }
            "y" | "Y" if command => {
                do_redo();
                true
            }
            "Escape" => {
                drawing.set(Vec::new());
                scale_line.set(Vec::new());
                tool.set(Tool::Select);
                true
            }
            "Enter" if tool.get_untracked() == Tool::Polygon => {
                finish_polygon(drawing.get_untracked());
                true
            }
            "+" | "=" => {
                zoom_by(1.25);
                true
            }
            "-" => {
                zoom_by(0.8);
                true
            }
            "0" => {
                view.set(View {
                    x: 0.0,
                    y: 0.0,
                    w: full.0,
                    h: full.1,
                });
                true
            }
            "ArrowLeft" => {
                view.update(|v| *v = v.pan(-step, 0.0, full));
                true
            }
            "ArrowRight" => {
                view.update(|v| *v = v.pan(step, 0.0, full));
                true
            }
            "ArrowUp" => {
                view.update(|v| *v = v.pan(0.0, -step, full));
                true
            }
            "ArrowDown" => {
                view.update(|v| *v = v.pan(0.0, step, full));
                true
            }
            _ => false,
        };
        if handled {
            ev.prevent_default();
        }
    };

    // A vertex handle by keyboard: arrows move it (Shift: 10 px), Delete removes it.
    let on_vertex_key = move |shape: usize, vertex: usize, ev: web_sys::KeyboardEvent| {
        let step = if ev.shift_key() { 10.0 } else { 1.0 };
        let delta = match ev.key().as_str() {
            "ArrowLeft" => Some((-step, 0.0)),
            "ArrowRight" => Some((step, 0.0)),
            "ArrowUp" => Some((0.0, -step)),
            "ArrowDown" => Some((0.0, step)),
            _ => None,
        };
        if let Some((dx, dy)) = delta {
            ev.prevent_default();
            ev.stop_propagation();
            remember();
            if let Some(at) = shapes.with_untracked(|s| s.get(shape)?.points.get(vertex).copied()) {
                move_vertex(shape, vertex, (at.0 + dx, at.1 + dy));
            }
        } else if matches!(ev.key().as_str(), "Delete" | "Backspace") {
            ev.prevent_default();
            ev.stop_propagation();
            if shapes.with_untracked(|s| s.get(shape).map_or(0, |d| d.points.len())) <= 3 {
                say(false, "inventory.shape.too_few_points");
                return;
            }
            remember();
            shapes.update(|s| {
                if let Some(d) = s.get_mut(shape).filter(|d| vertex < d.points.len()) {
                    d.points.remove(vertex);
                    d.dirty = true;
                }
            });
        }
    };

    // The side panel follows which shape is chosen, not each change to it, so what is
    // typed there stays while the shape is dragged.
    let chosen = Memo::new(move |_| selected.get());
    let others = Memo::new(move |_| {
        let chosen = selected.get();
        shapes.with(|s| {
            s.iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != chosen)
                .map(|(i, d)| (i, d.clone()))
                .collect::<Vec<_>>()
        })
    });
    let handle_r = move || view.get().w / 140.0;
    let pick_shape = move |i: usize, ev: &web_sys::MouseEvent| {
        if tool.get_untracked() != Tool::Select || ev.button() != 0 {
            return;
        }
        ev.stop_propagation();
        selected.set(Some(i));
        remember();
        drag.set_value(Some(Drag::Shape {
            shape: i,
            from: None,
        }));
    };

    let tool_button = move |which: Tool, key: &'static str| {
        view! {
            <button type="button" class="btn btn-secondary" aria-pressed=move || (tool.get() == which).to_string()
                on:click=move |_| {
                    tool.set(which);
                    drawing.set(Vec::new());
                    if which != Tool::Scale {
                        scale_line.set(Vec::new());
                    }
                }>{tr(key)}</button>
        }
    };
    let file_url = plan.file_url.clone();
    let view_box = move || {
        let v = view.get();
        format!("{} {} {} {}", v.x, v.y, v.w, v.h)
    };

    view! {
        <div class="flex flex-wrap items-center gap-2 mb-3" role="toolbar" aria-label=tr("inventory.editor.tools")>
            {tool_button(Tool::Select, "inventory.editor.select")}
            {tool_button(Tool::Polygon, "inventory.editor.polygon")}
            {tool_button(Tool::Rectangle, "inventory.editor.rectangle")}
            {tool_button(Tool::Scale, "inventory.editor.scale")}
            <span class="mx-1 h-6 border-s border-line" aria-hidden="true"></span>
            <button type="button" class="btn btn-secondary" disabled=move || history.get().0 == 0 on:click=move |_| do_undo()>{tr("inventory.editor.undo")}</button>
            <button type="button" class="btn btn-secondary" disabled=move || history.get().1 == 0 on:click=move |_| do_redo()>{tr("inventory.editor.redo")}</button>
            <button type="button" class="btn btn-secondary" on:click=move |_| zoom_by(1.25)>{tr("inventory.editor.zoom_in")}</button>
            <button type="button" class="btn btn-secondary" on:click=move |_| zoom_by(0.8)>{tr("inventory.editor.zoom_out")}</button>
        </div>
        <p class="text-sm text-muted mb-2" id="editor-help">{move || match tool.get() {
            Tool::Select => t(l, "inventory.editor.help_select"),
            Tool::Polygon => t(l, "inventory.editor.help_polygon"),
            Tool::Rectangle => t(l, "inventory.editor.help_rectangle"),
            Tool::Scale => t(l, "inventory.editor.help_scale"),
        }}</p>
        <p role="status" aria-live="polite" data-testid="editor-status"
            class=move || match status.get() { Some((false, _)) => "alert alert-danger", Some(_) => "alert alert-success", None => "sr-only" }>
            {move || status.get().map(|(_, m)| m)}
            {move || stale.get().then(|| view! {
                " " <button type="button" class="btn btn-secondary" on:click=move |_| crate::ui::hard_redirect(&format!("/inventory/plans/{plan_id}?edit=1"))>{tr("inventory.editor.reload")}</button>
            })}
        </p>
        <div class="grid gap-4 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
            <div class="card p-2 overflow-hidden">
                <svg viewBox=view_box class="w-full h-auto select-none touch-none bg-surface" tabindex="0"
                    style=format!("aspect-ratio: {} / {}", plan.width_px, plan.height_px)
                    role="application" aria-label=tf(l, "inventory.editor.canvas", &[("plan", plan.name.clone())])
                    aria-describedby="editor-help" data-testid="plan-editor"
                    class:cursor-crosshair=move || tool.get() != Tool::Select
                    on:mousedown=on_down on:mousemove=on_move on:mouseup=on_up
                    on:mouseleave=move |_| { hover.set(None); drag.set_value(None); }
                    on:dblclick=move |_| if tool.get_untracked() == Tool::Polygon {
                        // The double click's second press added a point on the first one.
                        let mut points = drawing.get_untracked();
                        points.dedup();
                        finish_polygon(points);
                    }
                    on:wheel=on_wheel on:keydown=on_key
                    on:touchstart=on_touch_start on:touchmove=on_touch_move
                    on:touchend=on_touch_end on:touchcancel=on_touch_end>
                    {match file_url {
                        Some(url) => view! { <image href=url x="0" y="0" width=plan.width_px height=plan.height_px preserveAspectRatio="none"/> }.into_any(),
                        None => view! { <rect width=plan.width_px height=plan.height_px fill="#f8fafc" stroke="#94a3b8"/> }.into_any(),
                    }}
                    {move || others.get().into_iter().map(|(i, d)| {
                        let name = d.name(l, i);
                        view! {
                            <polygon points=points_attr(&d.points) fill=if d.unit.is_some() { "#4575b466" } else { "#94a3b855" }
                                stroke="#0f172a" stroke-width=move || handle_r() / 3.0 role="button" tabindex="0" aria-label=name
                                data-testid="editor-shape" class="cursor-pointer"
                                on:mousedown=move |ev| pick_shape(i, &ev)
                                on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Enter" || ev.key() == " " {
                                    ev.prevent_default();
                                    ev.stop_propagation();
                                    selected.set(Some(i));
                                }/>
                        }
                    }).collect_view()}
                    // The chosen shape's nodes stay while it is edited, so a focused
                    // corner keeps focus as the arrow keys move it.
                    {move || chosen.get().map(|i| {
                        let point = move |k: usize| shapes.with(|s| s.get(i).and_then(|d| d.points.get(k).copied()));
                        let count = move || shapes.with(|s| s.get(i).map_or(0, |d| d.points.len()));
                        let edge_mid = move |k: usize| {
                            let n = count();
                            match (point(k), point((k + 1) % n.max(1))) {
                                (Some(a), Some(b)) => ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0),
                                _ => (0.0, 0.0),
                            }
                        };
                        view! {
                            <polygon points=move || shapes.with(|s| s.get(i).map(|d| points_attr(&d.points)).unwrap_or_default())
                                fill="#fdae6188" stroke="#b45309" stroke-width=move || handle_r() / 2.0
                                role="button" tabindex="0" aria-pressed="true" data-testid="editor-shape"
                                aria-label=move || shapes.with(|s| s.get(i).map(|d| d.name(l, i)).unwrap_or_default())
                                on:mousedown=move |ev| pick_shape(i, &ev)/>
                            <For each=move || 0..count() key=|k| *k let:k>
                                <circle cx=move || edge_mid(k).0 cy=move || edge_mid(k).1 r=move || handle_r() * 0.6
                                    fill="#ffffff" stroke="#b45309" stroke-width=move || handle_r() / 4.0
                                    class="cursor-copy" aria-hidden="true"
                                    on:mousedown=move |ev: web_sys::MouseEvent| {
                                        if tool.get_untracked() != Tool::Select { return; }
                                        ev.stop_propagation();
                                        remember();
                                        let mid = edge_mid(k);
                                        shapes.update(|s| if let Some(d) = s.get_mut(i) { d.points.insert(k + 1, mid); d.dirty = true; });
                                        drag.set_value(Some(Drag::Vertex { shape: i, vertex: k + 1 }));
                                    }/>
                            </For>
                            <For each=move || 0..count() key=|k| *k let:k>
                                <circle cx=move || point(k).map(|p| p.0) cy=move || point(k).map(|p| p.1) r=handle_r
                                    fill="#b45309" stroke="#ffffff" stroke-width=move || handle_r() / 4.0
                                    tabindex="0" role="button" data-testid="editor-vertex" class="cursor-move"
                                    aria-label=move || {
                                        let (x, y) = point(k).unwrap_or_default();
                                        tf(l, "inventory.editor.vertex", &[
                                            ("n", (k + 1).to_string()), ("of", count().to_string()),
                                            ("x", format!("{x:.0}")), ("y", format!("{y:.0}")),
                                        ])
                                    }
                                    on:mousedown=move |ev: web_sys::MouseEvent| {
                                        if tool.get_untracked() != Tool::Select { return; }
                                        ev.stop_propagation();
                                        remember();
                                        drag.set_value(Some(Drag::Vertex { shape: i, vertex: k }));
                                    }
                                    on:keydown=move |ev| on_vertex_key(i, k, ev)/>
                            </For>
                        }
                    })}
                    {move || {
                        let mut points = drawing.get();
                        if tool.get() == Tool::Polygon {
                            points.extend(hover.get());
                        }
                        (!points.is_empty()).then(|| view! {
                            <polyline points=points_attr(&points) fill="none" stroke="#1d4ed8" stroke-width=handle_r() / 2.5
                                stroke-dasharray=format!("{} {}", handle_r(), handle_r() / 2.0) pointer-events="none"/>
                        })
                    }}
                    {move || {
                        let line = scale_line.get();
                        (!line.is_empty()).then(|| view! {
                            <polyline points=points_attr(&line) fill="none" stroke="#be123c" stroke-width=handle_r() / 2.0 pointer-events="none"/>
                            {line.iter().map(|(x, y)| view! { <circle cx=*x cy=*y r=handle_r() * 0.7 fill="#be123c" pointer-events="none"/> }).collect_view()}
                        })
                    }}
                </svg>
            </div>
            <aside class="grid gap-4 content-start" aria-label=tr("inventory.editor.details")>
                <ScalePanel plan_id scale_line meters_per_px tool status shapes/>
                {move || match chosen.get() {
                    None => view! { <p class="card text-sm text-muted">{tr("inventory.editor.none_selected")}</p> }.into_any(),
                    Some(i) => match shapes.with_untracked(|s| s.get(i).cloned()) {
                        None => ().into_any(),
                        Some(d) => view! {
                            <ShapePanel plan_id index=i draft=d shapes selected meters_per_px status stale remember=Callback::new(move |_| remember())/>
                        }.into_any(),
                    },
                }}
            </aside>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64) -> Draft {
        Draft {
            id: None,
            version: 0,
            label: String::new(),
            unit: None,
            component: None,
            points: vec![(x, y), (x + 10.0, y), (x + 10.0, y + 10.0), (x, y + 10.0)],
            dirty: false,
        }
    }

    #[test]
    fn points_snap_to_vertices_first_then_edges_and_never_to_their_own_shape() {
        let shapes = vec![square(0.0, 0.0), square(100.0, 100.0)];
        assert_eq!(snap((11.0, 12.0), &shapes, None, 3.0), (10.0, 10.0));
        assert_eq!(snap((5.0, 11.5), &shapes, None, 3.0), (5.0, 10.0));
        assert_eq!(snap((50.0, 50.0), &shapes, None, 3.0), (50.0, 50.0));
        assert_eq!(snap((11.0, 12.0), &shapes, Some(0), 3.0), (11.0, 12.0));
    }

    #[test]
    fn a_pinch_zooms_by_the_spread_and_keeps_the_plan_point_between_the_fingers() {
        let full = (1000.0, 800.0);
        let whole = View {
            x: 0.0,
            y: 0.0,
            w: 1000.0,
            h: 800.0,
        };
        // A 500 × 400 px canvas at (100, 50): 2 plan px a screen px.
        let rect = (100.0, 50.0, 500.0, 400.0);
        let spread = whole.pinched(
            [(330.0, 250.0), (370.0, 250.0)],
            [(310.0, 250.0), (390.0, 250.0)],
            rect,
            full,
        );
        assert!((spread.w - 500.0).abs() < 1e-9, "{spread:?}");
        // The plan point under the middle, (500, 400), is still under it.
        let under = (
            spread.x + (350.0 - 100.0) * spread.w / 500.0,
            spread.y + (250.0 - 50.0) * spread.h / 400.0,
        );
        assert!(
            (under.0 - 500.0).abs() < 1e-9 && (under.1 - 400.0).abs() < 1e-9,
            "{under:?}"
        );
        // Both fingers 50 screen px left: the view moves 50 × (500 / 500) plan px right.
        let panned = spread.pinched(
            [(330.0, 250.0), (370.0, 250.0)],
            [(280.0, 250.0), (320.0, 250.0)],
            rect,
            full,
        );
        assert_eq!((panned.w, panned.x), (spread.w, spread.x + 50.0));
    }

    #[test]
    fn zoom_keeps_the_point_under_the_pointer_and_stays_on_the_plan() {
        let full = (1000.0, 800.0);
        let v = View {
            x: 0.0,
            y: 0.0,
            w: 1000.0,
            h: 800.0,
        };
        let z = v.zoom(2.0, (250.0, 200.0), full);
        assert_eq!((z.w, z.h), (500.0, 400.0));
        assert_eq!((z.x, z.y), (125.0, 100.0));
        assert_eq!(v.zoom(0.5, (0.0, 0.0), full), v);
        let far = z.pan(10_000.0, 10_000.0, full);
        assert_eq!((far.x, far.y), (500.0, 400.0));
        assert!(v.zoom(1000.0, (0.0, 0.0), full).w >= 25.0);
    }

    #[test]
    fn a_rectangle_has_its_four_corners_in_order() {
        assert_eq!(
            rectangle((1.0, 2.0), (5.0, 8.0)),
            vec![(1.0, 2.0), (5.0, 2.0), (5.0, 8.0), (1.0, 8.0)]
        );
    }
}
