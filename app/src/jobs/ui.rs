//! A job's log (on its own page) and the admin's list of every job in the workspace.

use super::api::*;
use super::model::*;
use crate::crm::import::api::{CancelJob, RetryJob};
use crate::crm::import::model::{JobState, JobView};
use crate::crm::import::ui::{job_title, state_tone};
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Alert, Badge, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;
use uuid::Uuid;

/// How often the admin's list refreshes while a job on it is moving.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

fn level_tone(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => "neutral",
        LogLevel::Warn => "warning",
        LogLevel::Error => "danger",
    }
}

fn level_key(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => "jobs.level.info",
        LogLevel::Warn => "jobs.level.warn",
        LogLevel::Error => "jobs.level.error",
    }
}

/// A job's log, reloaded whenever its page reloads the job (`tick`).
#[component]
pub fn JobLog(id: Uuid, tick: RwSignal<u32>) -> impl IntoView {
    let lines = Resource::new(move || tick.get(), move |_| job_logs(id.to_string()));
    view! {
        <section class="card" aria-labelledby="job-log-title">
            <h2 id="job-log-title" class="card-title">{tr("jobs.log")}</h2>
            <Transition fallback=|| view! { <Skeleton lines=2/> }>
                {move || Suspend::new(async move {
                    match lines.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-muted">{tr("jobs.log_empty")}</p> }.into_any(),
                        Ok(list) => view! {
                            <ol class="divide-y divide-line text-sm" data-testid="job-log">
                                {list.into_iter().map(|line| view! {
                                    <li class="flex flex-wrap items-baseline gap-2 py-2">
                                        <time class="text-muted tabular-nums" datetime=line.at.to_rfc3339()>
                                            {crate::ui::when_seconds(line.at)}
                                        </time>
                                        <Badge text=tr(level_key(line.level)) tone=level_tone(line.level)/>
                                        <span class="min-w-0 grow break-words">{line.message}</span>
                                    </li>
                                }).collect_view()}
                            </ol>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Settings → Jobs: every import and export in the workspace, whoever started it,
/// with its progress and attempts; an admin retries or cancels from here.
#[component]
pub fn JobsAdminPage() -> impl IntoView {
    let l = locale();
    let state = RwSignal::new(None::<JobState>);
    let cursor = RwSignal::new(None::<JobsCursor>);
    let tick = RwSignal::new(0u32);
    let rows = RwSignal::new(Vec::<JobView>::new());
    let counts = RwSignal::new(Vec::<(JobState, u32)>::new());
    let next = RwSignal::new(None::<JobsCursor>);
    let error = RwSignal::new(None::<String>);
    let cancel = ServerAction::<CancelJob>::new();
    let retry = ServerAction::<RetryJob>::new();
    let page = Resource::new(
        move || {
            (
                state.get(),
                cursor.get(),
                tick.get(),
                cancel.version().get(),
                retry.version().get(),
            )
        },
        |(s, c, _, _, _)| list_jobs(s, c),
    );
    Effect::new(move || {
        if let Some(result) = page.get() {
            match result {
                Ok(p) => {
                    if cursor.get_untracked().is_none() {
                        rows.set(p.jobs);
                    } else {
                        // A refresh of a later page replaces the rows it holds.
                        rows.update(|r| {
                            r.retain(|j| !p.jobs.iter().any(|n| n.id == j.id));
                            r.extend(p.jobs);
                        });
                    }
                    counts.set(p.counts);
                    next.set(p.next);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    crate::ui::poll_while(
        move || rows.with_untracked(|r| r.iter().any(|j| j.state.active())),
        tick,
        POLL_EVERY,
    );
    let action_error = move || {
        [cancel.value().get(), retry.value().get()]
            .into_iter()
            .find_map(|v| match v {
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            })
    };
    let tab = move |s: Option<JobState>, label: String| {
        let count = move || match s {
            None => counts.with(|c| c.iter().map(|(_, n)| n).sum::<u32>()),
            Some(s) => counts.with(|c| c.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n)),
        };
        view! {
            <button type="button" aria-pressed=move || (state.get() == s).to_string()
                on:click=move |_| { cursor.set(None); state.set(s); }>
                {label} " " <span class="badge badge-neutral tabular-nums">{count}</span>
            </button>
        }
    };
    view! {
        <PageHeader title=tr("settings.jobs")/>
        <p class="text-sm text-muted mb-3">{tr("jobs.admin_intro")}</p>
        <div class="tabs" role="group" aria-label=tr("jobs.filter")>
            {tab(None, t(l, "jobs.all"))}
            {LISTED_STATES.into_iter().map(|s| tab(Some(s), t(l, s.label_key()))).collect_view()}
        </div>
        <Alert message=Signal::derive(action_error)/>
        {move || error.get().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                let _ = page.await;
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="jobs-table">
                            <thead>
                                <tr>
                                    <th>{tr("jobs.column.job")}</th>
                                    <th>{tr("jobs.column.started_by")}</th>
                                    <th>{tr("jobs.column.status")}</th>
                                    <th>{tr("jobs.column.progress")}</th>
                                    <th>{tr("jobs.column.attempts")}</th>
                                    <th>{tr("jobs.column.created")}</th>
                                    <th><span class="sr-only">{tr("jobs.column.actions")}</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {move || {
                                    let list = rows.get();
                                    if list.is_empty() {
                                        return view! { <tr><td colspan="7" class="p-6 text-center text-muted">{tr("jobs.none")}</td></tr> }.into_any();
                                    }
                                    list.into_iter().map(|j| {
                                        let title = job_title(l, &j);
                                        let id = j.id.to_string();
                                        let name = if j.file_name.is_empty() { title.clone() } else { j.file_name.clone() };
                                        view! {
                                            <tr data-testid="job-row" data-state=j.state.code()>
                                                <td>
                                                    <a class="link" href=format!("/jobs/{}", j.id)>{title}</a>
                                                    <span class="block text-sm text-muted truncate">{j.file_name.clone()}</span>
                                                </td>
                                                <td>{j.creator.clone()}</td>
                                                <td>
                                                    <Badge text=t(l, j.state.label_key()) tone=state_tone(j.state)/>
                                                    {j.error.clone().map(|e| view! { <span class="block text-sm text-muted">{e}</span> })}
                                                </td>
                                                <td class="tabular-nums">{format!("{}%", j.percent())}</td>
                                                <td class="tabular-nums">{format!("{}/{}", j.attempts, j.max_attempts)}</td>
                                                <td class="tabular-nums">
                                                    <time datetime=j.created_at.to_rfc3339()>{crate::ui::when(j.created_at)}</time>
                                                </td>
                                                <td class="text-end">
                                                    {j.state.active().then(|| {
                                                        let id = id.clone();
                                                        view! {
                                                            <button type="button" class="btn btn-secondary"
                                                                aria-label=tf(l, "jobs.cancel_named", &[("name", name.clone())])
                                                                disabled=move || cancel.pending().get()
                                                                on:click=move |_| { cancel.dispatch(CancelJob { id: id.clone() }); }>
                                                                {tr("jobs.cancel")}
                                                            </button>
                                                        }
                                                    })}
                                                    {j.state.retryable().then(|| {
                                                        let id = id.clone();
                                                        view! {
                                                            <button type="button" class="btn btn-primary"
                                                                aria-label=tf(l, "jobs.retry_named", &[("name", name.clone())])
                                                                disabled=move || retry.pending().get()
                                                                on:click=move |_| { retry.dispatch(RetryJob { id: id.clone() }); }>
                                                                {tr("jobs.retry")}
                                                            </button>
                                                        }
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view().into_any()
                                }}
                            </tbody>
                        </table>
                    </div>
                    {move || next.get().map(|n| view! {
                        <button type="button" class="btn btn-secondary mt-4" on:click=move |_| cursor.set(Some(n))>{tr("jobs.more")}</button>
                    })}
                }
            })}
        </Transition>
    }
}
