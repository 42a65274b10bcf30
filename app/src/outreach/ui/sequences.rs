//! Sequences: the list, and one sequence's settings (business hours, holidays, exit
//! rules), steps, enrolment from a list with a report of who was left out and why,
//! pause and resume, and its enrolments.

use super::status_badge;
use super::steps::{StepFocus, Steps};
use crate::crm::model::Entity;
use crate::crm::records::api::get_lists;
use crate::i18n::tf;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Card, Field, LoadError, Skeleton, Submit,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

#[component]
pub fn SequencesPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_sequences());
    let show_archived = RwSignal::new(false);
    let action = ServerAction::<SaveSequence>::new();
    let value = action.value();
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(id)) = value.get() {
            navigate(&format!("/outreach/sequences/{id}"), Default::default());
        }
    });
    view! {
        <div class="grid gap-4 xl:grid-cols-[1fr_24rem]">
            <Card title=tr("outreach.sequences")>
                <Suspense fallback=|| view! { <Skeleton lines=4/> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(rows) if rows.is_empty() => view! {
                                <div class="empty-state"><p>{tr("outreach.no_sequences")}</p></div>
                            }.into_any(),
                            Ok(rows) => {
                                let archived_count = rows.iter().filter(|s| s.status == SequenceStatus::Archived).count();
                                view! {
                                <label class="flex items-center gap-2 text-sm mb-2">
                                    <input type="checkbox" prop:checked=move || show_archived.get()
                                        on:change=move |ev| show_archived.set(event_target_checked(&ev))/>
                                    {crate::i18n::tf(crate::ui::locale(), "outreach.show_archived", &[("n", archived_count.to_string())])}
                                </label>
                                <div class="table-wrap">
                                    <table class="table" data-testid="sequences-table">
                                        <thead><tr>
                                            <th scope="col">{tr("outreach.name")}</th>
                                            <th scope="col">{tr("outreach.status")}</th>
                                            <th scope="col" class="text-end">{tr("outreach.steps")}</th>
                                            <th scope="col" class="text-end">{tr("outreach.active_enrollments")}</th>
                                            <th scope="col" class="text-end">{tr("outreach.sent")}</th>
                                            <th scope="col" class="text-end">{tr("outreach.reply_rate")}</th>
                                        </tr></thead>
                                        <tbody>
                                            {move || rows.clone().into_iter().filter(|s| show_archived.get() || s.status != SequenceStatus::Archived).map(|s| view! {
                                                <tr>
                                                    <td><a class="link" href=format!("/outreach/sequences/{}", s.id)>{s.name.clone()}</a></td>
                                                    <td>{status_badge(s.status.code())}</td>
                                                    <td class="text-end tabular-nums">{s.steps}</td>
                                                    <td class="text-end tabular-nums">{s.active}</td>
                                                    <td class="text-end tabular-nums">{s.sent}</td>
                                                    <td class="text-end tabular-nums">{format!("{:.1}%", rate(s.replied, s.enrolled))}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any()
                            }
                            Err(error) => view! { <LoadError error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </Card>
            <Card title=tr("outreach.new_sequence")>
                <ActionForm action attr:class="space-y-3" attr:data-testid="sequence-form" attr:novalidate="">
                    <Field label=tr("outreach.name") name="name" required=true error=field_error(value, "name")/>
                    <input type="hidden" name="exit_on_reply" value="on"/>
                    <input type="hidden" name="exit_on_bounce" value="on"/>
                    <input type="hidden" name="max_attempts" value="5"/>
                    <Submit label=tr("outreach.create_sequence") pending=action.pending()/>
                    <Alert message=form_error(value, &["name"])/>
                </ActionForm>
            </Card>
        </div>
    }
}

#[component]
pub fn SequencePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .get()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    });
    let saved = RwSignal::new(0_u32);
    // The move button to focus again once the steps have reloaded in their new order.
    provide_context(StepFocus(RwSignal::new(None)));
    // Kept above the part that reloads after an enrolment, so the report stays.
    let report = RwSignal::new(None::<Result<EnrolReport, crate::error::AppError>>);
    let detail = Resource::new(
        move || (id.get(), saved.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_sequence(id).await,
                None => Err(crate::error::AppError::NotFound(String::new())),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <SequenceView d saved report/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SequenceView(
    d: SequenceDetail,
    saved: RwSignal<u32>,
    report: RwSignal<Option<Result<EnrolReport, crate::error::AppError>>>,
) -> impl IntoView {
    let id = d.summary.id;
    let bump = move || saved.update(|n| *n += 1);
    let settings = ServerAction::<SaveSequence>::new();
    let settings_value = settings.value();
    Effect::new(move || {
        if let Some(Ok(_)) = settings_value.get() {
            bump()
        }
    });
    let status = ServerAction::<SetSequenceStatus>::new();
    Effect::new(move || {
        if let Some(Ok(_)) = status.value().get() {
            bump()
        }
    });
    let paused = d.summary.status == SequenceStatus::Paused;
    let archived = d.summary.status == SequenceStatus::Archived;
    let manage = crate::ui::page()
        .viewer
        .is_some_and(|v| v.can(crate::auth::model::Permission::OutreachManage));
    // One form per button: the status it asks for is its own hidden field.
    let button =
        move |to: &'static str, key: &'static str, class: &'static str, testid: &'static str| {
            view! {
                <ActionForm action=status>
                    <input type="hidden" name="id" value=id.to_string()/>
                    <input type="hidden" name="status" value=to/>
                    <button type="submit" class=class data-testid=testid>{tr(key)}</button>
                </ActionForm>
            }
        };
    view! {
        <div class="flex flex-wrap items-center gap-3 mb-3">
            <h2 class="text-lg font-semibold">{d.summary.name.clone()}</h2>
            {status_badge(d.summary.status.code())}
            <div class="ms-auto flex gap-2">
                {if archived {
                    manage.then(|| button("RESTORED", "outreach.restore", "btn btn-secondary", "sequence-restore")).into_any()
                } else {
                    view! {
                        {if paused {
                            button("ACTIVE", "outreach.resume", "btn btn-secondary", "sequence-toggle")
                        } else {
                            button("PAUSED", "outreach.pause", "btn btn-secondary", "sequence-toggle")
                        }}
                        {manage.then(|| button("ARCHIVED", "outreach.archive", "btn btn-ghost", "sequence-archive"))}
                    }.into_any()
                }}
            </div>
        </div>
        <Alert message=form_error(status.value(), &[])/>
        {archived.then(|| view! { <p class="alert alert-warning mb-3" role="status">{tr("outreach.archived_note")}</p> })}
        <div class="grid gap-4 xl:grid-cols-[1fr_26rem]">
            <div class="space-y-4">
                <Card title=tr("outreach.steps")>
                    <Steps sequence_id=id steps=d.steps.clone() saved/>
                </Card>
                <Card title=tr("outreach.enrollments")>
                    <Enrollments rows=d.enrollments.clone() saved/>
                </Card>
            </div>
            <div class="space-y-4">
                <Enrol sequence_id=id saved report/>
                <Card title=tr("outreach.settings")>
                    <ActionForm action=settings attr:class="space-y-3" attr:data-testid="sequence-settings" attr:novalidate="">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <Field label=tr("outreach.name") name="name" value=d.summary.name.clone() error=field_error(settings_value, "name")/>
                        <Field label=tr("outreach.timezone") name="timezone" value=d.timezone.clone().unwrap_or_default() hint=tr("outreach.timezone_hint") error=field_error(settings_value, "timezone")/>
                        <super::hours::HoursGrid initial=d.business_hours.clone() error=field_error(settings_value, "business_hours")/>
                        <Field label=tr("outreach.holidays") name="holidays" value=d.holidays.clone() hint=tr("outreach.holidays_hint") error=field_error(settings_value, "holidays")/>
                        <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="exit_on_reply" checked=d.exit_on_reply/>{tr("outreach.exit_on_reply")}</label>
                        <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="exit_on_bounce" checked=d.exit_on_bounce/>{tr("outreach.exit_on_bounce")}</label>
                        <Field label=tr("outreach.max_attempts") name="max_attempts" kind="number" value=d.max_attempts.to_string() error=field_error(settings_value, "max_attempts")/>
                        <Field label=tr("outreach.starts_at") name="starts_at" kind="datetime-local" value=d.starts_at.clone().unwrap_or_default() hint=tr("outreach.starts_at_hint") error=field_error(settings_value, "starts_at")/>
                        <Submit label=tr("common.save") pending=settings.pending()/>
                        <Alert message=form_error(settings_value, &["name", "timezone", "business_hours", "holidays", "max_attempts", "starts_at"])/>
                    </ActionForm>
                </Card>
            </div>
        </div>
    }
}

#[component]
fn Enrol(
    sequence_id: Uuid,
    saved: RwSignal<u32>,
    report: RwSignal<Option<Result<EnrolReport, crate::error::AppError>>>,
) -> impl IntoView {
    let lists = Resource::new(|| (), |_| get_lists(Entity::Lead));
    let list_id = RwSignal::new(None::<Uuid>);
    let enrol_action = Action::new(move |list: &Option<Uuid>| {
        let list = *list;
        async move { enrol(sequence_id, list, Vec::new()).await }
    });
    Effect::new(move || {
        if let Some(outcome) = enrol_action.value().get() {
            let enrolled = outcome.is_ok();
            report.set(Some(outcome));
            if enrolled {
                saved.update(|n| *n += 1);
            }
        }
    });
    let result = report;
    view! {
        <Card title=tr("outreach.enrol")>
            <form class="space-y-3" data-testid="enrol-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                enrol_action.dispatch(list_id.get_untracked());
            }>
                <div class="field">
                    <label for="f-enrol-list" class="field-label">{tr("outreach.lead_list")}</label>
                    <Suspense fallback=|| view! { <select id="f-enrol-list" class="input" disabled=true></select> }>
                        {move || Suspend::new(async move {
                            let lists = lists.await.unwrap_or_default();
                            if let Some(first) = lists.first() {
                                list_id.set(Some(first.id));
                            }
                            view! {
                                <select id="f-enrol-list" class="input" on:change=move |ev| list_id.set(event_target_value(&ev).parse().ok())>
                                    {lists.into_iter().map(|l| view! {
                                        <option value=l.id.to_string()>{if l.smart { format!("{} ({})", l.name, tr("outreach.smart")) } else { l.name }}</option>
                                    }).collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                    <p class="field-hint">{tr("outreach.enrol_hint")}</p>
                </div>
                <button type="submit" class="btn btn-primary" disabled=move || enrol_action.pending().get()>{tr("outreach.enrol_button")}</button>
            </form>
            {move || result.get().map(|r| match r {
                Ok(report) => view! {
                    <div class="alert alert-success mt-3" role="status" data-testid="enrol-report">
                        <p>{tf(locale(), "outreach.enrolled_n", &[("n", report.enrolled.to_string())])}</p>
                        {(!report.skipped.is_empty()).then(|| view! {
                            <ul class="list-disc ps-5 text-sm">
                                {report.skipped.iter().map(|(reason, n)| view! {
                                    <li>{tf(locale(), &format!("outreach.skip.{reason}"), &[("n", n.to_string())])}</li>
                                }).collect_view()}
                            </ul>
                        })}
                        {(!report.template_problems.is_empty()).then(|| view! {
                            <ul class="list-disc ps-5 text-sm mt-2" data-testid="enrol-problems">
                                {report.template_problems.iter().map(|p| view! {
                                    <li>{tf(locale(), "outreach.enrol_problem", &[
                                        ("template", p.template.clone()),
                                        ("problem", p.problem.clone()),
                                        ("n", p.leads.to_string()),
                                        ("names", p.examples.join(", ")),
                                    ])}</li>
                                }).collect_view()}
                            </ul>
                        })}
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="alert alert-danger mt-3" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Card>
    }
}

/// Enrols the leads selected in the leads table in a sequence (managers and up).
#[component]
pub fn EnrolSelection(selected: RwSignal<Vec<Uuid>>) -> impl IntoView {
    let allowed = crate::ui::page()
        .viewer
        .is_some_and(|v| v.can(crate::auth::model::Permission::OutreachRun));
    let sequences = Resource::new(|| (), |_| list_sequences());
    let chosen = RwSignal::new(None::<Uuid>);
    let action = Action::new(move |(sequence, leads): &(Uuid, Vec<Uuid>)| {
        let (sequence, leads) = (*sequence, leads.clone());
        async move { enrol(sequence, None, leads).await }
    });
    let result = action.value();
    allowed.then(|| view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                // Archived sequences take no new enrolments.
                let list: Vec<_> = sequences
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|s| s.status != SequenceStatus::Archived)
                    .collect();
                if let Some(first) = list.first() {
                    chosen.set(Some(first.id));
                }
                (!list.is_empty()).then(|| view! {
                    <label class="sr-only" for="bulk-sequence">{tr("outreach.sequence")}</label>
                    <select id="bulk-sequence" class="input max-w-48" on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
                        {list.into_iter().map(|s| view! { <option value=s.id.to_string()>{s.name}</option> }).collect_view()}
                    </select>
                    <button type="button" class="btn btn-secondary" data-testid="bulk-enrol" on:click=move |_| {
                        if let Some(sequence) = chosen.get_untracked() {
                            action.dispatch((sequence, selected.get_untracked()));
                        }
                    }>{tr("outreach.enrol_button")}</button>
                })
            })}
        </Suspense>
        {move || result.get().map(|r| match r {
            Ok(report) => {
                let skipped: Vec<String> = report
                    .skipped
                    .iter()
                    .map(|(reason, n)| tf(locale(), &format!("outreach.skip.{reason}"), &[("n", n.to_string())]))
                    .collect();
                let mut text = tf(locale(), "outreach.enrolled_n", &[("n", report.enrolled.to_string())]);
                if !skipped.is_empty() {
                    text.push_str(&format!(" {}", skipped.join(", ")));
                }
                view! { <span class="text-sm" role="status" data-testid="bulk-enrol-report">{text}</span> }.into_any()
            }
            Err(e) => view! { <span class="text-sm text-danger" role="alert">{e.to_string()}</span> }.into_any(),
        })}
    })
}

#[component]
fn Enrollments(rows: Vec<EnrollmentView>, saved: RwSignal<u32>) -> impl IntoView {
    let change = ServerAction::<SetEnrollmentStatus>::new();
    Effect::new(move || {
        if let Some(Ok(_)) = change.value().get() {
            saved.update(|n| *n += 1)
        }
    });
    if rows.is_empty() {
        return view! { <p class="text-sm text-muted">{tr("outreach.no_enrollments")}</p> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="enrollments-table">
                <thead><tr>
                    <th scope="col">{tr("outreach.lead")}</th>
                    <th scope="col">{tr("outreach.status")}</th>
                    <th scope="col">{tr("outreach.next_step")}</th>
                    <th scope="col"><span class="sr-only">{tr("common.actions")}</span></th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|e| {
                        let next = match e.status {
                            EnrollmentStatus::Active => format!("{} · {}", e.next_step, crate::ui::when(e.next_run_at)),
                            _ => e.stop_reason.clone().map(|r| tr(&format!("outreach.reason.{r}"))).unwrap_or_default(),
                        };
                        let toggle = e.status.toggle();
                        view! {
                            <tr>
                                <td><a class="link" href=format!("/leads/{}", e.lead_id)>{e.lead_name.clone()}</a></td>
                                <td>{status_badge(e.status.code())}</td>
                                <td class="text-sm">{next}</td>
                                <td>
                                    {toggle.map(|(to, key)| view! {
                                        <ActionForm action=change>
                                            <input type="hidden" name="id" value=e.id.to_string()/>
                                            <input type="hidden" name="status" value=to.code()/>
                                            <button type="submit" class="btn btn-ghost">{tr(key)}</button>
                                        </ActionForm>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
