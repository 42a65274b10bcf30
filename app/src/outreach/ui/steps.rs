//! A sequence's steps: the list with each step's numbers, an edit form per step,
//! move up/down buttons (keyboard first: the moved step's button keeps the focus after
//! the reload) and the form that adds a step.

use super::delay_label;
use crate::i18n::tf;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::ui::{field_error, form_error, locale, tr, Alert, Field, Submit};
use leptos::prelude::*;
use uuid::Uuid;

/// The step whose move button should have the focus once the list is drawn again, and
/// which one ("up" or "down"). Provided by the sequence page, which outlives the list.
#[derive(Clone, Copy)]
pub struct StepFocus(pub RwSignal<Option<(Uuid, &'static str)>>);

/// `order` with the step at `index` swapped with its neighbour `by` (-1 or 1) away.
pub fn moved(order: &[Uuid], index: usize, by: isize) -> Option<Vec<Uuid>> {
    let other = index.checked_add_signed(by).filter(|o| *o < order.len())?;
    let mut order = order.to_vec();
    order.swap(index, other);
    Some(order)
}

/// Focuses the moved step's button in the list drawn for generation `generation`.
/// The list is swapped in by a `Transition` some frames after this component's
/// effects run, and until then the old list (same step ids) is on screen; so the
/// button is looked up inside the new list only, retried on the next frame for up
/// to a second.
#[cfg(feature = "hydrate")]
fn refocus(generation: u32, step: Uuid, direction: &'static str, frames_left: u8) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let list = format!("ol[data-generation='{generation}']");
    // At the top or bottom the button of that direction is disabled: the other one.
    for selector in [
        format!("{list} button[data-step='{step}'][data-move='{direction}']:not([disabled])"),
        format!("{list} button[data-step='{step}'][data-move]:not([disabled])"),
    ] {
        if let Some(button) = document
            .query_selector(&selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = button.focus();
            return;
        }
    }
    if frames_left > 0 {
        request_animation_frame(move || refocus(generation, step, direction, frames_left - 1));
    }
}

#[component]
pub fn Steps(sequence_id: Uuid, steps: Vec<StepView>, saved: RwSignal<u32>) -> impl IntoView {
    let add = ServerAction::<AddStep>::new();
    let value = add.value();
    let remove = ServerAction::<RemoveStep>::new();
    let update = ServerAction::<UpdateStep>::new();
    let reorder = Action::new(move |order: &Vec<Uuid>| {
        let order = order.clone();
        async move { reorder_steps(sequence_id, order).await }
    });
    let editing = RwSignal::new(None::<Uuid>);
    let focus = use_context::<StepFocus>();
    let reload = move || {
        editing.set(None);
        saved.update(|n| *n += 1)
    };
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            reload()
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = remove.value().get() {
            reload()
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = update.value().get() {
            reload()
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = reorder.value().get() {
            reload()
        }
    });
    // Which reload of the list this is; the moved step's button is focused in this
    // one, not in the list it replaces.
    let generation = saved.get_untracked();
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        if let Some(StepFocus(target)) = focus {
            if let Some((step, direction)) = target.get_untracked() {
                target.set(None);
                refocus(generation, step, direction, 60);
            }
        }
    });
    let templates = Resource::new(|| (), |_| list_templates());
    let mailboxes = Resource::new(|| (), |_| mailbox_choices());
    let order = StoredValue::new(steps.iter().map(|s| s.id).collect::<Vec<Uuid>>());
    let count = steps.len();
    let step_row = move |(index, s): (usize, StepView)| {
        let id = s.id;
        let n = (index + 1).to_string();
        let go = move |by: isize, direction: &'static str| {
            if let Some(new_order) = order.with_value(|o| moved(o, index, by)) {
                if let Some(StepFocus(target)) = focus {
                    target.set(Some((id, direction)));
                }
                reorder.dispatch(new_order);
            }
        };
        let edit_step = s.clone();
        view! {
            <li class="rounded border border-line p-2" data-testid="step" data-step=id.to_string()>
                <div class="flex flex-wrap items-center gap-2">
                    <span class="badge badge-neutral">{(index + 1).to_string()}</span>
                    <span class="text-sm text-muted">{tf(locale(), "outreach.after", &[("delay", delay_label(s.delay_minutes))])}</span>
                    <span class="font-medium">{tr(&format!("outreach.channel.{}", s.channel.code()))}</span>
                    <a class="link" href=format!("/outreach/templates/{}", s.template_id) data-testid="step-template">{s.template_name.clone()}</a>
                    {s.fallback_template_name.clone().map(|f| view! { <span class="text-sm text-muted">{tf(locale(), "outreach.fallback_to", &[("template", f)])}</span> })}
                    {s.subject_override.clone().map(|subject| view! { <span class="text-sm text-muted" data-testid="step-subject">{tf(locale(), "outreach.step_subject", &[("subject", subject)])}</span> })}
                    {s.from_name.clone().map(|name| view! { <span class="text-sm text-muted">{tf(locale(), "outreach.step_from", &[("name", name)])}</span> })}
                    {s.mailbox.clone().map(|address| view! { <span class="text-sm text-muted" data-testid="step-mailbox">{tf(locale(), "outreach.step_mailbox_shown", &[("address", address)])}</span> })}
                    <span class="text-sm tabular-nums ms-auto">{format!("{} {} · {:.1}%", s.sent, tr("outreach.sent").to_lowercase(), rate(s.replied, s.sent))}</span>
                    <button type="button" class="btn btn-ghost" data-step=id.to_string() data-move="up"
                            disabled=move || index == 0 || reorder.pending().get()
                            aria-label=tf(locale(), "outreach.move_up_label", &[("n", (index + 1).to_string())])
                            on:click=move |_| go(-1, "up")>{tr("outreach.move_up")}</button>
                    <button type="button" class="btn btn-ghost" data-step=id.to_string() data-move="down"
                            disabled=move || index + 1 == count || reorder.pending().get()
                            aria-label=tf(locale(), "outreach.move_down_label", &[("n", (index + 1).to_string())])
                            on:click=move |_| go(1, "down")>{tr("outreach.move_down")}</button>
                    <button type="button" class="btn btn-ghost"
                            aria-expanded=move || if editing.get() == Some(id) { "true" } else { "false" }
                            aria-label=tf(locale(), "outreach.edit_step", &[("n", (index + 1).to_string())])
                            on:click=move |_| editing.update(|e| *e = if *e == Some(id) { None } else { Some(id) })>{tr("outreach.edit")}</button>
                    <ActionForm action=remove>
                        <input type="hidden" name="step_id" value=id.to_string()/>
                        <button type="submit" class="btn btn-danger-ghost" aria-label=tf(locale(), "outreach.remove_step", &[("n", n)])>{tr("common.remove")}</button>
                    </ActionForm>
                </div>
                {move || (editing.get() == Some(id)).then(|| {
                    let s = edit_step.clone();
                    view! {
                        <Suspense fallback=|| ()>
                            {move || {
                                let s = s.clone();
                                Suspend::new(async move {
                                    let list = templates.await.unwrap_or_default();
                                    let boxes = mailboxes.await.unwrap_or_default();
                                    view! { <EditStep step=s list boxes update/> }
                                })
                            }}
                        </Suspense>
                    }
                })}
            </li>
        }
    };
    view! {
        {if steps.is_empty() {
            view! { <p class="text-sm text-muted">{tr("outreach.no_steps_yet")}</p> }.into_any()
        } else {
            view! {
                <ol class="space-y-2" data-testid="steps" data-generation=generation.to_string()>
                    {steps.into_iter().enumerate().map(step_row).collect_view()}
                </ol>
            }.into_any()
        }}
        {move || reorder.value().get().and_then(|r| r.err()).map(|e| view! {
            <p class="alert alert-danger mt-2" role="alert">{e.to_string()}</p>
        })}
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = templates.await.unwrap_or_default();
                let boxes = mailboxes.await.unwrap_or_default();
                view! {
                    <ActionForm action=add attr:class="mt-3 grid gap-3 md:grid-cols-2" attr:data-testid="step-form" attr:novalidate="">
                        <input type="hidden" name="sequence_id" value=sequence_id.to_string()/>
                        <div class="field">
                            <label for="f-step-template" class="field-label">{tr("outreach.template")}</label>
                            <select id="f-step-template" name="template_id" class="input">{template_options(&list, None)}</select>
                            {move || field_error(value, "template_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                        </div>
                        <Field label=tr("outreach.delay_minutes") name="delay_minutes" kind="number" value="0" error=field_error(value, "delay_minutes")/>
                        <div class="field">
                            <label for="f-step-fallback" class="field-label">{tr("outreach.fallback")}</label>
                            <select id="f-step-fallback" name="fallback_template_id" class="input">
                                <option value="">{tr("outreach.no_fallback")}</option>
                                {template_options(&list, None)}
                            </select>
                            {move || field_error(value, "fallback_template_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                        </div>
                        <div class="flex flex-col gap-1 justify-end text-sm">
                            <label class="flex items-center gap-2"><input type="checkbox" name="skip_if_replied" checked=true/>{tr("outreach.skip_if_replied")}</label>
                            <label class="flex items-center gap-2"><input type="checkbox" name="skip_if_opened"/>{tr("outreach.skip_if_opened")}</label>
                        </div>
                        <Field label=tr("outreach.subject_override") name="subject_override" hint=tr("outreach.subject_override_hint") error=field_error(value, "subject_override")/>
                        <Field label=tr("outreach.step_from_name") name="from_name" hint=tr("outreach.from_name_hint") error=field_error(value, "from_name")/>
                        <MailboxSelect id="f-step-mailbox" boxes selected=None error=field_error(value, "mailbox_id")/>
                        <div class="md:col-span-2 flex items-center gap-3">
                            <Submit label=tr("outreach.add_step") pending=add.pending()/>
                            <Alert message=form_error(value, &STEP_FIELDS)/>
                        </div>
                    </ActionForm>
                }
            })}
        </Suspense>
    }
}

/// The fields the step forms show their errors beside.
const STEP_FIELDS: [&str; 6] = [
    "template_id",
    "delay_minutes",
    "fallback_template_id",
    "subject_override",
    "from_name",
    "mailbox_id",
];

/// "Send from": the rotation over every active mailbox, or one of them.
#[component]
fn MailboxSelect(
    id: &'static str,
    boxes: Vec<MailboxChoice>,
    selected: Option<Uuid>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let hint = format!("{id}-hint");
    view! {
        <div class="field">
            <label for=id class="field-label">{tr("outreach.step_mailbox")}</label>
            <select id=id name="mailbox_id" class="input" aria-describedby=hint.clone()
                    aria-invalid=move || error.get().is_some().then_some("true")>
                <option value="" selected=selected.is_none()>{tr("outreach.step_mailbox_rotation")}</option>
                {boxes.into_iter().map(|b| view! {
                    <option value=b.id.to_string() selected=selected == Some(b.id)>{b.address}</option>
                }).collect_view()}
            </select>
            <p id=hint class="field-hint">{tr("outreach.step_mailbox_hint")}</p>
            {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        </div>
    }
}

fn template_options(list: &[TemplateSummary], selected: Option<Uuid>) -> impl IntoView {
    list.iter()
        .map(|t| {
            view! {
                <option value=t.id.to_string() selected=selected == Some(t.id)>
                    {format!("{} · {}", tr(&format!("outreach.channel.{}", t.channel.code())), t.name)}
                </option>
            }
        })
        .collect_view()
}

/// One step's fields, with the checks (and messages) of adding a step.
#[component]
fn EditStep(
    step: StepView,
    list: Vec<TemplateSummary>,
    boxes: Vec<MailboxChoice>,
    update: ServerAction<UpdateStep>,
) -> impl IntoView {
    let value = update.value();
    let error = move |field: &'static str| field_error(value, field);
    view! {
        <ActionForm action=update attr:class="mt-3 grid gap-3 md:grid-cols-2" attr:data-testid="step-edit-form" attr:novalidate="">
            <input type="hidden" name="step_id" value=step.id.to_string()/>
            <div class="field">
                <label for="f-edit-template" class="field-label">{tr("outreach.template")}</label>
                <select id="f-edit-template" name="template_id" class="input">{template_options(&list, Some(step.template_id))}</select>
                {move || error("template_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="field">
                <label for="f-edit-delay" class="field-label">{tr("outreach.delay_minutes")}</label>
                <input id="f-edit-delay" name="delay_minutes" type="number" class="input" value=step.delay_minutes.to_string()
                       aria-invalid=move || error("delay_minutes").get().is_some().then_some("true")/>
                {move || error("delay_minutes").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="field">
                <label for="f-edit-fallback" class="field-label">{tr("outreach.fallback")}</label>
                <select id="f-edit-fallback" name="fallback_template_id" class="input">
                    <option value="" selected=step.fallback_template_id.is_none()>{tr("outreach.no_fallback")}</option>
                    {template_options(&list, step.fallback_template_id)}
                </select>
                {move || error("fallback_template_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="flex flex-col gap-1 justify-end text-sm">
                <label class="flex items-center gap-2"><input type="checkbox" name="skip_if_replied" checked=step.skip_if_replied/>{tr("outreach.skip_if_replied")}</label>
                <label class="flex items-center gap-2"><input type="checkbox" name="skip_if_opened" checked=step.skip_if_opened/>{tr("outreach.skip_if_opened")}</label>
            </div>
            <div class="field">
                <label for="f-edit-subject" class="field-label">{tr("outreach.subject_override")}</label>
                <input id="f-edit-subject" name="subject_override" class="input" value=step.subject_override.clone().unwrap_or_default()
                       aria-describedby="f-edit-subject-hint" aria-invalid=move || error("subject_override").get().is_some().then_some("true")/>
                <p id="f-edit-subject-hint" class="field-hint">{tr("outreach.subject_override_hint")}</p>
                {move || error("subject_override").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="field">
                <label for="f-edit-from-name" class="field-label">{tr("outreach.step_from_name")}</label>
                <input id="f-edit-from-name" name="from_name" class="input" value=step.from_name.clone().unwrap_or_default()
                       aria-describedby="f-edit-from-name-hint" aria-invalid=move || error("from_name").get().is_some().then_some("true")/>
                <p id="f-edit-from-name-hint" class="field-hint">{tr("outreach.from_name_hint")}</p>
                {move || error("from_name").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <MailboxSelect id="f-edit-mailbox" boxes selected=step.mailbox_id error=error("mailbox_id")/>
            <p class="md:col-span-2 text-sm text-muted">{tr("outreach.edit_applies")}</p>
            <div class="md:col-span-2 flex items-center gap-3">
                <Submit label=tr("common.save") pending=update.pending()/>
                <Alert message=form_error(value, &STEP_FIELDS)/>
            </div>
        </ActionForm>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_swaps_with_the_neighbour_and_stops_at_the_ends() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(moved(&[a, b, c], 1, -1), Some(vec![b, a, c]));
        assert_eq!(moved(&[a, b, c], 1, 1), Some(vec![a, c, b]));
        assert_eq!(moved(&[a, b, c], 0, -1), None);
        assert_eq!(moved(&[a, b, c], 2, 1), None);
    }
}
