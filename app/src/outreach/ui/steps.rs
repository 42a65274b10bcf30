//! A sequence's steps: the list with each step's numbers, an edit form per step,
//! move up/down buttons (keyboard first: the moved step's button keeps the focus after
//! the reload) and the form that adds a step.

use super::delay_label;
use crate::i18n::tf;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::ui::{field_error, form_error, locale, tr, Alert, DatePicker, Submit};
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
    let custom = Resource::new(|| (), |_| crate::crm::records::api::get_custom_fields());
    let order = StoredValue::new(steps.iter().map(|s| s.id).collect::<Vec<Uuid>>());
    // Each step as a condition's branch may name it: its id and "Step 3 · …".
    let later_steps = StoredValue::new(
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, step_label(i + 1, s)))
            .collect::<Vec<(Uuid, String)>>(),
    );
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
        let number_of = move |target: Uuid| {
            order.with_value(|o| o.iter().position(|x| *x == target).map(|i| i + 1))
        };
        view! {
            <li class="rounded border border-line p-2" data-testid="step" data-step=id.to_string()>
                <div class="flex flex-wrap items-center gap-2">
                    <span class="badge badge-neutral">{(index + 1).to_string()}</span>
                    <span class="text-sm text-muted">{tf(locale(), "outreach.after", &[("delay", delay_label(s.delay_minutes))])}</span>
                    {step_summary(&s, number_of)}
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
                                    let fields = custom.await.unwrap_or_default();
                                    let later = later_steps.with_value(|all| all.iter().skip(index + 1).cloned().collect::<Vec<_>>());
                                    view! { <EditStep step=s list boxes fields later update/> }
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
                let fields = custom.await.unwrap_or_default();
                let errors = Callback::new(move |field: &'static str| field_error(value, field));
                view! {
                    <ActionForm action=add attr:class="mt-3 grid gap-3 md:grid-cols-2" attr:data-testid="step-form" attr:novalidate="">
                        <input type="hidden" name="sequence_id" value=sequence_id.to_string()/>
                        <StepFields prefix="f-step" step=None list boxes fields later=Vec::new() errors/>
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
const STEP_FIELDS: [&str; 13] = [
    "kind",
    "template_id",
    "delay_minutes",
    "fallback_template_id",
    "subject_override",
    "from_name",
    "mailbox_id",
    "wait_until",
    "condition",
    "condition_field",
    "condition_value",
    "then_go",
    "else_go",
];

/// "Send from": the rotation over every active mailbox, or one of them.
#[component]
fn MailboxSelect(
    id: String,
    boxes: Vec<MailboxChoice>,
    selected: Option<Uuid>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let hint = format!("{id}-hint");
    view! {
        <div class="field">
            <label for=id.clone() class="field-label">{tr("outreach.step_mailbox")}</label>
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

/// "Step 3 · Email · Follow-up": how a branch's choices name a step.
fn step_label(number: usize, s: &StepView) -> String {
    let what = match s.kind {
        StepKind::Send => s.template_name.clone().unwrap_or_default(),
        kind => tr(&format!("outreach.kind.{}", kind.code())),
    };
    tf(
        locale(),
        "outreach.step_label",
        &[("n", number.to_string()), ("what", what)],
    )
}

/// What a step does, in words, for its row in the list.
fn step_summary(s: &StepView, number_of: impl Fn(Uuid) -> Option<usize>) -> AnyView {
    match s.kind {
        StepKind::Send => {
            let channel = s
                .channel
                .map(|c| tr(&format!("outreach.channel.{}", c.code())));
            view! {
                <span class="font-medium">{channel}</span>
                {s.template_id.map(|t| view! {
                    <a class="link" href=format!("/outreach/templates/{t}") data-testid="step-template">{s.template_name.clone()}</a>
                })}
                {s.fallback_template_name.clone().map(|f| view! { <span class="text-sm text-muted">{tf(locale(), "outreach.fallback_to", &[("template", f)])}</span> })}
                {s.subject_override.clone().map(|subject| view! { <span class="text-sm text-muted" data-testid="step-subject">{tf(locale(), "outreach.step_subject", &[("subject", subject)])}</span> })}
                {s.from_name.clone().map(|name| view! { <span class="text-sm text-muted">{tf(locale(), "outreach.step_from", &[("name", name)])}</span> })}
                {s.mailbox.clone().map(|address| view! { <span class="text-sm text-muted" data-testid="step-mailbox">{tf(locale(), "outreach.step_mailbox_shown", &[("address", address)])}</span> })}
                <span class="text-sm tabular-nums ms-auto">{format!("{} {} · {:.1}%", s.sent, tr("outreach.sent").to_lowercase(), rate(s.replied, s.sent))}</span>
            }
            .into_any()
        }
        StepKind::WaitUntil => {
            let at = s
                .wait_until
                .map(|at| crate::l10n::date_time(locale(), at))
                .unwrap_or_default();
            view! {
                <span class="font-medium">{tr("outreach.kind.WAIT_UNTIL")}</span>
                <span class="text-sm" data-testid="step-wait"><bdi>{at}</bdi></span>
                <span class="ms-auto"></span>
            }
            .into_any()
        }
        StepKind::Condition => {
            let branch = |b: Branch| match b {
                Branch::Next => tr("outreach.branch.next"),
                Branch::End => tr("outreach.branch.end"),
                Branch::Step(id) => tf(
                    locale(),
                    "outreach.branch.step",
                    &[(
                        "n",
                        number_of(id).map(|n| n.to_string()).unwrap_or_default(),
                    )],
                ),
            };
            view! {
                <span class="font-medium">{tr("outreach.kind.CONDITION")}</span>
                <span class="text-sm" data-testid="step-condition">
                    {tf(locale(), "outreach.condition_shown", &[
                        ("condition", condition_words(s)),
                        ("then", branch(s.then_go)),
                        ("else", branch(s.else_go)),
                    ])}
                </span>
                <span class="ms-auto"></span>
            }
            .into_any()
        }
    }
}

/// "the lead opened an email", "the score is at least 60", …
fn condition_words(s: &StepView) -> String {
    let value = s.condition_value.clone().unwrap_or_default();
    match s.condition {
        Some(Condition::JourneyState) => tf(
            locale(),
            "outreach.condition_words.JOURNEY_STATE",
            &[("state", tr(&format!("outreach.journey.{value}")))],
        ),
        Some(Condition::Field) => {
            let field = s.condition_field.clone().unwrap_or_default();
            match field.as_str() {
                "status" => tf(
                    locale(),
                    "outreach.condition_words.status",
                    &[("value", tr(&format!("status.{value}")))],
                ),
                "source" | "tag" | "score" => tf(
                    locale(),
                    &format!("outreach.condition_words.{field}"),
                    &[("value", value)],
                ),
                _ => tf(
                    locale(),
                    "outreach.condition_words.custom",
                    &[
                        ("field", s.condition_field_label.clone().unwrap_or(field)),
                        ("value", value),
                    ],
                ),
            }
        }
        Some(c) => tr(&format!("outreach.condition_words.{}", c.code())),
        None => String::new(),
    }
}

/// What a step form's fields say of their errors.
type Errors = Callback<&'static str, Signal<Option<String>>>;

/// The message next to `field`, while it has one.
fn error_text(errors: Errors, field: &'static str) -> impl Fn() -> Option<AnyView> {
    let error = errors.run(field);
    move || {
        error
            .get()
            .map(|e| view! { <p class="field-error" role="alert">{e}</p> }.into_any())
    }
}

/// `aria-invalid` of `field`'s input.
fn invalid(errors: Errors, field: &'static str) -> impl Fn() -> Option<&'static str> {
    let error = errors.run(field);
    move || error.get().is_some().then_some("true")
}

/// The fields of a step form, for adding a step (`step` is None) or editing one. The
/// kind decides which fields there are: the form sends only those.
#[component]
fn StepFields(
    prefix: &'static str,
    step: Option<StepView>,
    list: Vec<TemplateSummary>,
    boxes: Vec<MailboxChoice>,
    fields: Vec<crate::crm::records::model::CustomField>,
    /// The steps after this one, which a condition may jump to.
    later: Vec<(Uuid, String)>,
    errors: Callback<&'static str, Signal<Option<String>>>,
) -> impl IntoView {
    let kind = RwSignal::new(step.as_ref().map_or(StepKind::Send, |s| s.kind));
    let initial = kind.get_untracked();
    let step = StoredValue::new(step);
    let list = StoredValue::new(list);
    let boxes = StoredValue::new(boxes);
    let fields = StoredValue::new(fields);
    let later = StoredValue::new(later);
    let id = move |name: &str| format!("{prefix}-{name}");
    let delay = step.with_value(|s| s.as_ref().map_or(0, |s| s.delay_minutes));
    view! {
        <div class="field">
            <label for=id("kind") class="field-label">{tr("outreach.step_kind")}</label>
            <select id=id("kind") name="kind" class="input"
                    on:change=move |ev| kind.set(StepKind::parse(&event_target_value(&ev)).unwrap_or(StepKind::Send))>
                {StepKind::ALL.map(|k| view! {
                    <option value=k.code() selected=k == initial>{tr(&format!("outreach.kind.{}", k.code()))}</option>
                }).collect_view()}
            </select>
            {error_text(errors, "kind")}
        </div>
        <div class="field">
            <label for=id("delay") class="field-label">{tr("outreach.delay_minutes")}</label>
            <input id=id("delay") name="delay_minutes" type="number" class="input" value=delay.to_string()
                   aria-invalid=invalid(errors, "delay_minutes")/>
            {error_text(errors, "delay_minutes")}
        </div>
        {move || match kind.get() {
            StepKind::Send => view! { <SendFields prefix step=step.get_value() list=list.get_value() boxes=boxes.get_value() errors/> }.into_any(),
            StepKind::WaitUntil => {
                let value = step.with_value(|s| {
                    s.as_ref()
                        .and_then(|s| s.wait_until)
                        .map(|at| at.format("%Y-%m-%dT%H:%M").to_string())
                        .unwrap_or_default()
                });
                view! {
                    <div class="field">
                        <label for=id("wait") class="field-label">{tr("outreach.wait_until")}</label>
                        <div class="flex items-center gap-1">
                            <input id=id("wait") name="wait_until" type="datetime-local" class="input" value=value
                                   aria-describedby=id("wait-hint") aria-invalid=invalid(errors, "wait_until")/>
                            <DatePicker input=id("wait")/>
                        </div>
                        <p id=id("wait-hint") class="field-hint">{tr("outreach.wait_until_hint")}</p>
                        {error_text(errors, "wait_until")}
                    </div>
                }
                .into_any()
            }
            StepKind::Condition => view! {
                <ConditionFields prefix step=step.get_value() fields=fields.get_value() later=later.get_value() errors/>
            }
            .into_any(),
        }}
    }
}

/// A sending step's fields: template, fallback, skip rules and the email's own
/// subject, sender name and mailbox.
#[component]
fn SendFields(
    prefix: &'static str,
    step: Option<StepView>,
    list: Vec<TemplateSummary>,
    boxes: Vec<MailboxChoice>,
    errors: Callback<&'static str, Signal<Option<String>>>,
) -> impl IntoView {
    let id = move |name: &str| format!("{prefix}-{name}");
    let s = step.as_ref();
    let template = s.and_then(|s| s.template_id);
    let fallback = s.and_then(|s| s.fallback_template_id);
    let skip_if_replied = s.is_none_or(|s| s.skip_if_replied);
    let skip_if_opened = s.is_some_and(|s| s.skip_if_opened);
    let subject = s
        .and_then(|s| s.subject_override.clone())
        .unwrap_or_default();
    let from_name = s.and_then(|s| s.from_name.clone()).unwrap_or_default();
    let mailbox = s.and_then(|s| s.mailbox_id);
    view! {
        <div class="field">
            <label for=id("template") class="field-label">{tr("outreach.template")}</label>
            <select id=id("template") name="template_id" class="input" aria-invalid=invalid(errors, "template_id")>{template_options(&list, template)}</select>
            {error_text(errors, "template_id")}
        </div>
        <div class="field">
            <label for=id("fallback") class="field-label">{tr("outreach.fallback")}</label>
            <select id=id("fallback") name="fallback_template_id" class="input" aria-invalid=invalid(errors, "fallback_template_id")>
                <option value="" selected=fallback.is_none()>{tr("outreach.no_fallback")}</option>
                {template_options(&list, fallback)}
            </select>
            {error_text(errors, "fallback_template_id")}
        </div>
        <div class="flex flex-col gap-1 justify-end text-sm">
            <label class="flex items-center gap-2"><input type="checkbox" name="skip_if_replied" checked=skip_if_replied/>{tr("outreach.skip_if_replied")}</label>
            <label class="flex items-center gap-2"><input type="checkbox" name="skip_if_opened" checked=skip_if_opened/>{tr("outreach.skip_if_opened")}</label>
        </div>
        <div class="field">
            <label for=id("subject") class="field-label">{tr("outreach.subject_override")}</label>
            <input id=id("subject") name="subject_override" class="input" value=subject
                   aria-describedby=id("subject-hint") aria-invalid=invalid(errors, "subject_override")/>
            <p id=id("subject-hint") class="field-hint">{tr("outreach.subject_override_hint")}</p>
            {error_text(errors, "subject_override")}
        </div>
        <div class="field">
            <label for=id("from-name") class="field-label">{tr("outreach.step_from_name")}</label>
            <input id=id("from-name") name="from_name" class="input" value=from_name
                   aria-describedby=id("from-name-hint") aria-invalid=invalid(errors, "from_name")/>
            <p id=id("from-name-hint") class="field-hint">{tr("outreach.from_name_hint")}</p>
            {error_text(errors, "from_name")}
        </div>
        <MailboxSelect id=id("mailbox") boxes selected=mailbox error=errors.run("mailbox_id")/>
    }
}

/// A condition's fields: what it asks, the field and value where it needs them, and
/// where each branch goes.
#[component]
fn ConditionFields(
    prefix: &'static str,
    step: Option<StepView>,
    fields: Vec<crate::crm::records::model::CustomField>,
    later: Vec<(Uuid, String)>,
    errors: Callback<&'static str, Signal<Option<String>>>,
) -> impl IntoView {
    let id = move |name: &str| format!("{prefix}-{name}");
    let s = step.as_ref();
    let condition = RwSignal::new(s.and_then(|s| s.condition).unwrap_or(Condition::Opened));
    let field = RwSignal::new(
        s.and_then(|s| s.condition_field.clone())
            .unwrap_or_else(|| "status".into()),
    );
    let initial_condition = condition.get_untracked();
    let initial_field = field.get_untracked();
    let value = StoredValue::new(
        s.and_then(|s| s.condition_value.clone())
            .unwrap_or_default(),
    );
    let then_go = s.map_or(Branch::Next, |s| s.then_go);
    let else_go = s.map_or(Branch::Next, |s| s.else_go);
    let leads_fields: Vec<(String, String)> = fields
        .into_iter()
        .filter(|f| f.entity == crate::crm::model::Entity::Lead)
        .map(|f| (format!("custom.{}", f.key), f.label))
        .collect();
    let branch_select = move |name: &'static str, label: &'static str, chosen: Branch| {
        let later = later.clone();
        view! {
            <div class="field">
                <label for=id(name) class="field-label">{tr(label)}</label>
                <select id=id(name) name=name class="input" aria-invalid=invalid(errors, name)>
                    <option value="next" selected=chosen == Branch::Next>{tr("outreach.branch.next")}</option>
                    <option value="end" selected=chosen == Branch::End>{tr("outreach.branch.end")}</option>
                    {later.into_iter().map(|(step, label)| view! {
                        <option value=step.to_string() selected=chosen == Branch::Step(step)>{label}</option>
                    }).collect_view()}
                </select>
                {error_text(errors, name)}
            </div>
        }
    };
    let value_input = move || {
        let current = value.get_value();
        let options: Option<Vec<(&'static str, String)>> = match condition.get() {
            Condition::JourneyState => Some(
                JOURNEY_STATES
                    .iter()
                    .map(|s| (*s, tr(&format!("outreach.journey.{s}"))))
                    .collect(),
            ),
            Condition::Field if field.get() == "status" => Some(
                crate::crm::records::model::LEAD_STATUSES
                    .iter()
                    .map(|s| (*s, tr(&format!("status.{s}"))))
                    .collect(),
            ),
            _ => None,
        };
        match options {
            Some(options) => view! {
                <div class="field">
                    <label for=id("value") class="field-label">{tr("outreach.condition_value")}</label>
                    <select id=id("value") name="condition_value" class="input" aria-invalid=invalid(errors, "condition_value")>
                        {options.into_iter().map(|(code, label)| view! {
                            <option value=code selected=current == code>{label}</option>
                        }).collect_view()}
                    </select>
                    {error_text(errors, "condition_value")}
                </div>
            }
            .into_any(),
            None if condition.get() == Condition::Field => {
                let number = field.get() == "score";
                view! {
                    <div class="field">
                        <label for=id("value") class="field-label">{tr("outreach.condition_value")}</label>
                        <input id=id("value") name="condition_value" class="input" value=current
                               type=if number { "number" } else { "text" } maxlength="100"
                               aria-invalid=invalid(errors, "condition_value")/>
                        {error_text(errors, "condition_value")}
                    </div>
                }
                .into_any()
            }
            None => ().into_any(),
        }
    };
    view! {
        <div class="field">
            <label for=id("condition") class="field-label">{tr("outreach.condition")}</label>
            <select id=id("condition") name="condition" class="input" aria-invalid=invalid(errors, "condition")
                    on:change=move |ev| condition.set(Condition::parse(&event_target_value(&ev)).unwrap_or(Condition::Opened))>
                {Condition::ALL.map(|c| view! {
                    <option value=c.code() selected=c == initial_condition>{tr(&format!("outreach.condition.{}", c.code()))}</option>
                }).collect_view()}
            </select>
            {error_text(errors, "condition")}
        </div>
        {move || (condition.get() == Condition::Field).then(|| {
            let leads_fields = leads_fields.clone();
            let initial_field = initial_field.clone();
            view! {
                <div class="field">
                    <label for=id("field") class="field-label">{tr("outreach.condition_field")}</label>
                    <select id=id("field") name="condition_field" class="input" aria-invalid=invalid(errors, "condition_field")
                            on:change=move |ev| field.set(event_target_value(&ev))>
                        {CONDITION_FIELDS.map(|f| view! {
                            <option value=f selected=initial_field == f>{tr(&format!("outreach.condition_field.{f}"))}</option>
                        }).collect_view()}
                        {leads_fields.into_iter().map(|(key, label)| {
                            let selected = initial_field == key;
                            view! { <option value=key selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                    {error_text(errors, "condition_field")}
                </div>
            }
        })}
        {value_input}
        {branch_select("then_go", "outreach.then_go", then_go)}
        {branch_select("else_go", "outreach.else_go", else_go)}
        <p class="md:col-span-2 text-sm text-muted">{tr("outreach.branch_hint")}</p>
    }
}

/// One step's fields, with the checks (and messages) of adding a step.
#[component]
fn EditStep(
    step: StepView,
    list: Vec<TemplateSummary>,
    boxes: Vec<MailboxChoice>,
    fields: Vec<crate::crm::records::model::CustomField>,
    later: Vec<(Uuid, String)>,
    update: ServerAction<UpdateStep>,
) -> impl IntoView {
    let value = update.value();
    let errors = Callback::new(move |field: &'static str| field_error(value, field));
    view! {
        <ActionForm action=update attr:class="mt-3 grid gap-3 md:grid-cols-2" attr:data-testid="step-edit-form" attr:novalidate="">
            <input type="hidden" name="step_id" value=step.id.to_string()/>
            <StepFields prefix="f-edit" step=Some(step) list boxes fields later errors/>
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
