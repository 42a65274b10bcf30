//! The board's dialogs and forms: a lost deal's reason, a new deal, a new pipeline.

use super::api::*;
use super::model::*;
use crate::ui::{field_error, form_error, tr, Alert, Field, Submit};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use uuid::Uuid;

#[component]
pub(super) fn LostReasonDialog(
    on_confirm: impl Fn(String) + 'static + Clone,
    on_cancel: impl Fn() + 'static + Clone,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let cancel = on_cancel.clone();
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="lost-title"
                 on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { cancel() }>
                <h2 id="lost-title" class="card-title">{tr("board.lost_title")}</h2>
                <form on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    let text = reason.get_untracked().trim().to_string();
                    if text.is_empty() {
                        error.set(Some(tr("board.lost_reason_required")));
                    } else {
                        on_confirm(text);
                    }
                }>
                    <div class="field">
                        <label for="lost-reason" class="field-label">{tr("board.lost_reason")}</label>
                        <textarea id="lost-reason" class="input" rows="3" autofocus
                            aria-invalid=move || error.get().is_some().then_some("true")
                            on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                        {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    </div>
                    <div class="flex justify-end gap-2 mt-3">
                        <button type="button" class="btn btn-secondary" on:click=move |_| on_cancel()>{tr("common.cancel")}</button>
                        <button type="submit" class="btn btn-primary">{tr("board.mark_lost")}</button>
                    </div>
                </form>
            </div>
        </div>
    }
}

#[component]
pub(super) fn NewDealForm(
    pipeline_id: Uuid,
    stages: Vec<StageInfo>,
    members: Vec<crate::crm::model::MemberRef>,
    on_created: impl Fn(DealCard) + 'static + Copy + Send + Sync,
) -> impl IntoView {
    let action = ServerAction::<CreateDeal>::new();
    let value = action.value();
    Effect::new(move || {
        if let Some(Ok(card)) = value.get() {
            on_created(card);
        }
    });
    let me = crate::ui::page().viewer.map(|v| v.user_id);
    view! {
        <ActionForm action attr:class="card grid gap-3 md:grid-cols-3" attr:data-testid="new-deal-form" attr:novalidate="">
            <input type="hidden" name="pipeline_id" value=pipeline_id.to_string()/>
            <Field label=tr("board.deal_name") name="name" required=true error=field_error(value, "name")/>
            <Field label=tr("board.amount") name="amount" error=field_error(value, "amount") hint=tr("board.amount_hint")/>
            <Field label=tr("board.currency") name="currency" value="USD" error=field_error(value, "currency")/>
            <div class="field">
                <label for="f-stage_id" class="field-label">{tr("board.stage")}</label>
                <select id="f-stage_id" name="stage_id" class="input">
                    {stages.into_iter().map(|s| view! { <option value=s.id.to_string()>{s.name}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-owner_id" class="field-label">{tr("board.owner")}</label>
                <select id="f-owner_id" name="owner_id" class="input">
                    {members.into_iter().map(|m| view! { <option value=m.user_id.to_string() selected=Some(m.user_id) == me>{m.name}</option> }).collect_view()}
                </select>
                {move || field_error(value, "owner_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
            <Field label=tr("board.expected_close") name="expected_close_on" kind="date" error=field_error(value, "expected_close_on")/>
            <div class="md:col-span-3 flex items-center gap-3">
                <Submit label=tr("board.create_deal") pending=action.pending()/>
                <Alert message=form_error(value, &["name", "amount", "currency", "owner_id", "expected_close_on", "stage_id"])/>
            </div>
        </ActionForm>
    }
}

#[component]
pub(super) fn NewPipeline() -> impl IntoView {
    let action = ServerAction::<CreatePipeline>::new();
    let value = action.value();
    let open = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(id)) = value.get() {
            open.set(false);
            navigate(&format!("/pipeline/{id}"), Default::default());
        }
    });
    view! {
        <button type="button" class="btn btn-ghost" data-testid="new-pipeline"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>{tr("board.new_pipeline")}</button>
        {move || open.get().then(|| view! {
            <ActionForm action attr:class="flex items-start gap-2" attr:novalidate="">
                <Field label=tr("board.pipeline_name") name="name" required=true error=field_error(value, "name")/>
                <div class="pt-6"><Submit label=tr("board.create_pipeline") pending=action.pending()/></div>
            </ActionForm>
        })}
    }
}
