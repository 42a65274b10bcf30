//! Provider switching on the senders page: per number, a "Switch provider" form (the
//! new provider and its credential) and the number's switches with their steps.
//! DECISIONS §43.

use super::status_badge;
use crate::i18n::tf;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::ui::{field_error, form_error, locale, tr, Alert, Submit};
use leptos::prelude::*;

const SWITCH_FIELDS: &[&str] = &["to_provider", "credential"];

/// One `<details>` per number, below the number table. `started` is the number whose
/// switch this page just started: the page redraws every number after a save (the
/// switched one turns MIGRATING and loses its form), so the open panel and the
/// confirmation are kept above that redraw, not in the form.
#[component]
pub fn ProviderSwitches(
    phones: Vec<PhoneView>,
    saved: RwSignal<u32>,
    started: RwSignal<Option<uuid::Uuid>>,
    can_manage: bool,
) -> impl IntoView {
    view! {
        <div class="mt-4 space-y-2" data-testid="provider-switches">
            {phones.into_iter().map(|p| view! { <NumberSwitch p saved started can_manage/> }).collect_view()}
        </div>
    }
}

#[component]
fn NumberSwitch(
    p: PhoneView,
    saved: RwSignal<u32>,
    started: RwSignal<Option<uuid::Uuid>>,
    can_manage: bool,
) -> impl IntoView {
    let phone_id = p.id;
    let history = Resource::new(
        move || saved.get(),
        move |_| list_provider_switches(phone_id),
    );
    let open_form = can_manage && !matches!(p.status, PhoneStatus::Banned | PhoneStatus::Migrating);
    let just_started = move || started.get() == Some(phone_id);
    view! {
        <details class="rounded border p-2" data-testid=format!("switch-{}", p.id) open=just_started>
            <summary class="cursor-pointer text-sm font-medium">
                {tr("outreach.switch_provider")}": "{p.label.clone()}" "
                <span class="tabular-nums">{p.number.clone()}</span>" · "
                {tr(&format!("outreach.provider.{}", p.provider))}
            </summary>
            <p class="mt-2 text-xs text-muted">{tr("outreach.switch_hint")}</p>
            // 360dialog keeps Meta's id for the number; webhooks keep finding it by it.
            <p class="text-xs text-muted">{tr("outreach.provider_phone_id")}": "<span class="tabular-nums">{p.provider_phone_id.clone()}</span></p>
            {open_form.then(|| view! { <SwitchForm p=p.clone() saved started/> })}
            {move || just_started().then(|| view! {
                <p class="mt-2 text-sm text-muted" role="status">{tr("outreach.switch_started")}</p>
            })}
            <h3 class="mt-3 text-sm font-medium">{tr("outreach.switch_history")}</h3>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-muted">{tr("outreach.switch_none")}</p> }.into_any(),
                        Ok(list) => view! { <SwitchList list/> }.into_any(),
                        Err(e) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </details>
    }
}

#[component]
fn SwitchForm(
    p: PhoneView,
    saved: RwSignal<u32>,
    started: RwSignal<Option<uuid::Uuid>>,
) -> impl IntoView {
    let action = ServerAction::<StartProviderSwitch>::new();
    let value = action.value();
    let phone_id = p.id;
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            started.set(Some(phone_id));
            saved.update(|n| *n += 1)
        }
    });
    // Ids unique on the page: every number has this form.
    let to_id = format!("sw-to-{}", p.id);
    let cred_id = format!("sw-cred-{}", p.id);
    let to_error = field_error(value, "to_provider");
    let cred_error = field_error(value, "credential");
    let targets: Vec<&'static str> = WA_PROVIDERS
        .into_iter()
        .filter(|code| *code != p.provider)
        .collect();
    let (to_err_id, cred_err_id, cred_hint_id) = (
        format!("{to_id}-error"),
        format!("{cred_id}-error"),
        format!("{cred_id}-hint"),
    );
    let (to_err_id2, cred_err_id2, cred_hint_id2) =
        (to_err_id.clone(), cred_err_id.clone(), cred_hint_id.clone());
    view! {
        <ActionForm action attr:class="mt-2 grid gap-3 md:grid-cols-3" attr:data-testid="switch-form" attr:novalidate="">
            <input type="hidden" name="phone_id" value=p.id.to_string()/>
            <div class="field">
                <label for=to_id.clone() class="field-label">{tr("outreach.switch_to")}</label>
                <select id=to_id name="to_provider" class="input"
                    aria-invalid=move || to_error.get().is_some().then_some("true")
                    aria-describedby=move || to_error.get().is_some().then(|| to_err_id.clone())>
                    {targets.into_iter().map(|code| view! {
                        <option value=code>{tr(&format!("outreach.provider.{code}"))}</option>
                    }).collect_view()}
                </select>
                {move || to_error.get().map(|e| view! { <p id=to_err_id2.clone() class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="field">
                <label for=cred_id.clone() class="field-label">{tr("outreach.switch_credential")}</label>
                <input id=cred_id name="credential" type="password" autocomplete="off" required=true class="input"
                    class:input-invalid=move || cred_error.get().is_some()
                    aria-invalid=move || cred_error.get().is_some().then_some("true")
                    aria-describedby=move || if cred_error.get().is_some() { cred_err_id.clone() } else { cred_hint_id.clone() }/>
                <p id=cred_hint_id2 class="field-hint">{tr("outreach.switch_credential_hint")}</p>
                {move || cred_error.get().map(|e| view! { <p id=cred_err_id2.clone() class="field-error" role="alert">{e}</p> })}
            </div>
            <div class="flex items-end gap-3">
                <Submit label=tr("outreach.switch_start") pending=action.pending()/>
            </div>
            <div class="md:col-span-3">
                <Alert message=form_error(value, SWITCH_FIELDS)/>
            </div>
        </ActionForm>
    }
}

#[component]
fn SwitchList(list: Vec<ProviderSwitchView>) -> impl IntoView {
    view! {
        <ol class="space-y-2" data-testid="switch-history">
            {list.into_iter().map(|s| view! {
                <li class="text-sm" data-switch-status=s.status.clone()>
                    <div class="flex flex-wrap items-center gap-2">
                        {status_badge(&s.status)}
                        <span>{tr(&format!("outreach.provider.{}", s.from_provider))}" → "{tr(&format!("outreach.provider.{}", s.to_provider))}</span>
                        <time class="text-xs text-muted" datetime=s.created_at.to_rfc3339()>{crate::ui::when(s.created_at)}</time>
                        {s.started_by.clone().map(|name| view! { <span class="text-xs text-muted">{tf(locale(), "outreach.switch_by", &[("name", name)])}</span> })}
                    </div>
                    {s.error.clone().map(|e| view! { <p class="field-error">{e}</p> })}
                    <ul class="ms-4 list-disc text-xs text-muted">
                        {s.steps.into_iter().map(|step| view! {
                            <li>
                                <time datetime=step.at.to_rfc3339()>{crate::ui::when_seconds(step.at)}</time>" "
                                {tr(&format!("outreach.switch_step.{}", step.step))}": "
                                {tr(&format!("outreach.switch_outcome.{}", step.outcome))}
                                {step.detail.map(|d| format!(" ({d})"))}
                            </li>
                        }).collect_view()}
                    </ul>
                </li>
            }).collect_view()}
        </ol>
    }
}
