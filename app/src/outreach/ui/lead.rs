//! Outreach on a lead's page: the journey (with its previous state and reason), the
//! sequence it is in, human takeover, a journey move by hand, a one-off message through
//! the outbox, and every message with its live status.

use super::status_badge;
use crate::i18n::tf;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::ui::{
    field_error, form_error, locale, poll_while, tr, Alert, Badge, Card, LoadError, Skeleton,
    Submit,
};
use leptos::prelude::*;
use uuid::Uuid;

/// Statuses still expected to change, so the card keeps asking.
fn settling(o: &LeadOutreach) -> bool {
    o.messages.iter().any(|m| m.status.settling())
}

/// The workspace's templates, for the one-off message form.
type Templates = Resource<Result<Vec<TemplateSummary>, crate::error::AppError>>;

#[component]
pub fn LeadOutreachCard(lead_id: Uuid) -> impl IntoView {
    let tick = RwSignal::new(0_u32);
    let data = Resource::new(move || tick.get(), move |_| get_lead_outreach(lead_id));
    // Made here, not in the send form the card draws once `data` is in: a resource
    // made inside a resolving `Suspend` is not the one hydration finds, and the page
    // stopped with an unrecoverable hydration error.
    let templates = Resource::new(|| (), |_| list_templates());
    poll_while(
        move || matches!(data.try_get_untracked(), Some(Some(Ok(ref o))) if settling(o)),
        tick,
        std::time::Duration::from_secs(3),
    );
    view! {
        <Card title=tr("outreach.card_title")>
            <Transition fallback=|| view! { <Skeleton lines=3/> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(o) => view! { <OutreachView lead_id o tick templates/> }.into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

#[component]
fn OutreachView(
    lead_id: Uuid,
    o: LeadOutreach,
    tick: RwSignal<u32>,
    templates: Templates,
) -> impl IntoView {
    let refresh = move || tick.update(|t| *t += 1);
    let takeover = ServerAction::<SetTakeover>::new();
    Effect::new(move || {
        if let Some(Ok(_)) = takeover.value().get() {
            refresh()
        }
    });
    let mover = ServerAction::<MoveJourney>::new();
    let move_value = mover.value();
    Effect::new(move || {
        if let Some(Ok(_)) = move_value.get() {
            refresh()
        }
    });
    let enrollment = ServerAction::<SetEnrollmentStatus>::new();
    Effect::new(move || {
        if let Some(Ok(_)) = enrollment.value().get() {
            refresh()
        }
    });
    let state_label = tr(&format!("outreach.journey.{}", o.state));
    view! {
        <div class="space-y-3" data-testid="lead-outreach" data-state=o.state.clone()>
            <div class="flex flex-wrap items-center gap-2">
                <span class="text-sm text-muted">{tr("outreach.journey")}</span>
                <span class="badge badge-success" data-testid="journey-state">{state_label}</span>
                {o.previous_state.clone().map(|p| view! {
                    <span class="text-xs text-muted">{tf(locale(), "outreach.was", &[("state", tr(&format!("outreach.journey.{p}")))])}</span>
                })}
                {o.state_reason.clone().map(|r| view! { <span class="text-xs text-muted">"· "{r}</span> })}
            </div>
            {o.assigned_phone.clone().map(|p| view! { <p class="text-sm">{tf(locale(), "outreach.assigned_phone", &[("phone", p)])}</p> })}
            {o.enrollment.clone().map(|e| {
                let toggle = e.status.toggle();
                view! {
                    <div class="flex flex-wrap items-center gap-2 text-sm">
                        <span>{tf(locale(), "outreach.in_sequence", &[("sequence", o.sequence_name.clone().unwrap_or_default())])}</span>
                        {status_badge(e.status.code())}
                        {e.stop_reason.clone().map(|r| view! { <span class="text-muted">{tr(&format!("outreach.reason.{r}"))}</span> })}
                        {toggle.map(|(to, key)| view! {
                            <ActionForm action=enrollment>
                                <input type="hidden" name="id" value=e.id.to_string()/>
                                <input type="hidden" name="status" value=to.code()/>
                                <button type="submit" class="btn btn-ghost">{tr(key)}</button>
                            </ActionForm>
                        })}
                    </div>
                }
            })}
            {(!o.suppressed.is_empty()).then(|| view! {
                <p class="alert alert-warning text-sm" role="status">{tf(locale(), "outreach.suppressed_on", &[("what", o.suppressed.join(", "))])}</p>
            })}
            <div class="flex flex-wrap items-end gap-2">
                <ActionForm action=takeover>
                    <input type="hidden" name="lead_id" value=lead_id.to_string()/>
                    <input type="hidden" name="on" value=(!o.human_takeover).to_string()/>
                    <button type="submit" class="btn btn-secondary" aria-pressed=o.human_takeover.to_string() data-testid="takeover">
                        {if o.human_takeover { tr("outreach.hand_back") } else { tr("outreach.take_over") }}
                    </button>
                </ActionForm>
                {(!o.manual_moves.is_empty()).then(|| view! {
                    <ActionForm action=mover attr:class="flex flex-wrap items-end gap-2" attr:data-testid="journey-form" attr:novalidate="">
                        <input type="hidden" name="lead_id" value=lead_id.to_string()/>
                        <div>
                            <label for="f-journey" class="field-label">{tr("outreach.move_to")}</label>
                            <select id="f-journey" name="state" class="input">
                                {o.manual_moves.iter().map(|m| view! { <option value=m.clone()>{tr(&format!("outreach.journey.{m}"))}</option> }).collect_view()}
                            </select>
                        </div>
                        <div>
                            <label for="f-journey-reason" class="field-label">{tr("outreach.reason")}</label>
                            <input id="f-journey-reason" name="reason" class="input"/>
                        </div>
                        <button type="submit" class="btn btn-secondary">{tr("outreach.move")}</button>
                    </ActionForm>
                })}
            </div>
            {move || move_value.get().and_then(|r| r.err()).map(|e| view! { <p class="field-error" role="alert">{e.to_string()}</p> })}
            <SendForm lead_id wa_window_open=o.wa_window_open tick templates/>
            <Messages messages=o.messages.clone()/>
        </div>
    }
}

#[component]
fn SendForm(
    lead_id: Uuid,
    wa_window_open: bool,
    tick: RwSignal<u32>,
    templates: Templates,
) -> impl IntoView {
    let action = ServerAction::<SendMessage>::new();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            tick.update(|t| *t += 1)
        }
    });
    let channel = RwSignal::new("WHATSAPP".to_string());
    view! {
        <details class="rounded border border-line p-2">
            <summary class="cursor-pointer text-sm font-medium">{tr("outreach.send_message")}</summary>
            <ActionForm action attr:class="mt-2 space-y-2" attr:data-testid="send-form" attr:novalidate="">
                <input type="hidden" name="lead_id" value=lead_id.to_string()/>
                <div class="grid grid-cols-2 gap-2">
                    <div class="field">
                        <label for="f-send-channel" class="field-label">{tr("outreach.channel")}</label>
                        <select id="f-send-channel" name="channel" class="input" on:change=move |ev| channel.set(event_target_value(&ev))>
                            {Channel::ALL.into_iter().map(|c| view! { <option value=c.code()>{tr(&format!("outreach.channel.{}", c.code()))}</option> }).collect_view()}
                        </select>
                        {move || field_error(value, "channel").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    </div>
                    <div class="field">
                        <label for="f-send-template" class="field-label">{tr("outreach.template")}</label>
                        <Suspense fallback=|| view! { <select id="f-send-template" class="input" disabled=true></select> }>
                            {move || Suspend::new(async move {
                                let list = templates.await.unwrap_or_default();
                                view! {
                                    <select id="f-send-template" name="template_id" class="input">
                                        <option value="">{tr("outreach.own_text")}</option>
                                        {move || list.iter().filter(|t| t.channel.code() == channel.get()).map(|t| view! {
                                            <option value=t.id.to_string()>{t.name.clone()}</option>
                                        }).collect_view()}
                                    </select>
                                }
                            })}
                        </Suspense>
                    </div>
                </div>
                {move || (channel.get() == "EMAIL").then(|| view! {
                    <div class="field">
                        <label for="f-send-subject" class="field-label">{tr("outreach.subject")}</label>
                        <input id="f-send-subject" name="subject" class="input"/>
                        {move || field_error(value, "subject").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    </div>
                })}
                <div class="field">
                    <label for="f-send-body" class="field-label">{tr("outreach.body")}</label>
                    <textarea id="f-send-body" name="body" class="input" rows="3"></textarea>
                    {move || (channel.get() == "WHATSAPP" && !wa_window_open).then(|| view! {
                        <p class="field-hint">{tr("outreach.wa_window_hint")}</p>
                    })}
                    {move || field_error(value, "body").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
                <Submit label=tr("outreach.send") pending=action.pending()/>
                {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <p class="alert alert-success" role="status">{tr("outreach.queued")}</p> })}
                <Alert message=form_error(value, &["channel", "subject", "body", "template_id"])/>
            </ActionForm>
        </details>
    }
}

#[component]
fn Messages(messages: Vec<MessageView>) -> impl IntoView {
    if messages.is_empty() {
        return view! { <p class="text-sm text-muted">{tr("outreach.no_messages")}</p> }.into_any();
    }
    view! {
        <ol class="space-y-2" data-testid="lead-messages">
            {messages.into_iter().map(|m| {
                let incoming = m.direction == "IN";
                view! {
                    <li class="rounded border border-line p-2 text-sm" class:ms-8=incoming data-direction=m.direction.clone() data-channel=m.channel.code()>
                        <div class="flex flex-wrap items-center gap-2">
                            <span class="font-medium">{tr(&format!("outreach.channel.{}", m.channel.code()))}</span>
                            <span class="text-muted">{if incoming { tr("outreach.incoming") } else { tr("outreach.outgoing") }}</span>
                            {status_badge(m.status.code())}
                            <time class="ms-auto text-xs text-muted" datetime=m.created_at.to_rfc3339() title=m.created_at.to_rfc3339()>
                                {crate::ui::when(m.created_at)}
                            </time>
                        </div>
                        {m.subject.clone().map(|s| view! { <p class="font-medium mt-1">{s}</p> })}
                        <p class="whitespace-pre-wrap mt-1">{m.body.clone()}</p>
                        <FlagMessage message_id=m.id in_review=m.in_review/>
                        {m.last_error.clone().filter(|_| m.status.shows_error()).map(|e| view! {
                            <p class="text-xs text-danger mt-1">{e}</p>
                        })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}

/// "Flag for review" under a message: a note and a button; once flagged, a badge.
#[component]
fn FlagMessage(message_id: Uuid, in_review: bool) -> impl IntoView {
    use crate::review::api::FlagForReview;
    let action = ServerAction::<FlagForReview>::new();
    let value = action.value();
    let note = RwSignal::new(String::new());
    let flagged = move || in_review || matches!(value.get(), Some(Ok(_)));
    let note_id = format!("flag-note-{message_id}");
    let error = move || match value.get() {
        Some(Err(e)) => Some(e.for_field("note").unwrap_or_else(|| e.to_string())),
        _ => None,
    };
    view! {
        {move || if flagged() {
            view! { <p class="mt-1 text-xs" data-testid="in-review"><Badge text=tr("review.flag.in_queue")/></p> }.into_any()
        } else {
            let note_id = note_id.clone();
            view! {
                <details class="mt-1 text-xs">
                    <summary class="cursor-pointer text-muted">{tr("review.flag.open")}</summary>
                    <form class="mt-1 flex flex-wrap items-end gap-2" on:submit=move |ev| {
                        ev.prevent_default();
                        action.dispatch(FlagForReview { message_id, note: note.get_untracked() });
                    }>
                        <div class="field">
                            <label for=note_id.clone() class="field-label">{tr("review.flag.note")}</label>
                            <input id=note_id class="input" maxlength="500" prop:value=note
                                on:input=move |ev| note.set(event_target_value(&ev))/>
                        </div>
                        <button type="submit" class="btn btn-secondary" disabled=move || action.pending().get()>{tr("review.flag.submit")}</button>
                    </form>
                    {move || error().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </details>
            }.into_any()
        }}
    }
}
