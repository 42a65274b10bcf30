//! The import page (upload, map, preview, start), the job page (progress, summary,
//! downloads) and the export button the record lists use.

use super::api::*;
use super::model::*;
use crate::crm::model::{Entity, RecordFilter};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::jobs::ui::JobLog;
use crate::ui::{locale, tr, Alert, Badge, Card, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use uuid::Uuid;

/// How often a page asks how a running job is doing.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(600);

fn entity_name(l: Locale, entity: Entity) -> String {
    t(l, entity_plural_key(entity))
}

pub(crate) fn job_title(l: Locale, job: &JobView) -> String {
    let key = match job.kind {
        JobKind::Import => "jobs.import_of",
        JobKind::Export => "jobs.export_of",
    };
    tf(l, key, &[("entity", entity_name(l, job.entity))])
}

pub(crate) fn state_tone(state: JobState) -> &'static str {
    match state {
        JobState::Done => "success",
        JobState::Failed | JobState::Dead => "warning",
        _ => "neutral",
    }
}

#[component]
pub fn ProgressBar(
    #[prop(into)] percent: Signal<u32>,
    #[prop(into)] label: String,
) -> impl IntoView {
    view! {
        <div class="h-2 w-full overflow-hidden rounded-full bg-line" role="progressbar" aria-label=label
             aria-valuemin="0" aria-valuemax="100" aria-valuenow=move || percent.get().to_string()>
            <div class="h-full bg-brand transition-[width] duration-300" style=move || format!("width: {}%", percent.get())></div>
        </div>
    }
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let query = use_query_map();
    let first = query
        .read_untracked()
        .get("entity")
        .and_then(|c| Entity::parse(&c))
        .filter(|e| IMPORTABLE.contains(e))
        .unwrap_or(Entity::Contact);
    let entity = RwSignal::new(first);
    let upload = RwSignal::new(None::<UploadInfo>);
    view! {
        <PageHeader title=tr("import.title")/>
        {move || match upload.get() {
            None => view! { <UploadStep entity upload/> }.into_any(),
            Some(info) => view! { <MappingStep info upload/> }.into_any(),
        }}
        <Card title=tr("export.title")>
            <p class="text-sm text-muted mb-3">{tr("export.intro")}</p>
            <div class="flex flex-wrap gap-4">
                {IMPORTABLE.into_iter().map(|e| view! {
                    <ExportButton entity=e filter=Signal::derive(RecordFilter::default)/>
                }).collect_view()}
            </div>
        </Card>
        <RecentJobs/>
    }
}

#[component]
fn UploadStep(entity: RwSignal<Entity>, upload: RwSignal<Option<UploadInfo>>) -> impl IntoView {
    let l = locale();
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let first = entity.get_untracked();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let file = file_input
                .get()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let Some(file) = file else {
                error.set(Some(AppError::field("file", t(l, "import.error.no_file"))));
                return;
            };
            busy.set(true);
            error.set(None);
            let entity = entity.get_untracked();
            leptos::task::spawn_local(async move {
                let result = send_file(l, entity, file).await;
                busy.set(false);
                match result {
                    Ok(info) => upload.set(Some(info)),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, upload, busy);
    };
    let file_error = Signal::derive(move || error.get().and_then(|e| e.for_field("file")));
    let other_error = Signal::derive(move || match error.get() {
        Some(AppError::Validation { field, .. }) if field == "file" => None,
        Some(e) => Some(e.to_string()),
        None => None,
    });
    view! {
        <Card title=tr("import.step_upload")>
            <form class="form-col" on:submit=on_submit novalidate="">
                <Alert message=other_error/>
                <div class="field">
                    <label for="f-entity" class="field-label">{tr("import.what")}</label>
                    <select id="f-entity" name="entity" class="input"
                            on:change=move |ev| entity.set(Entity::parse(&event_target_value(&ev)).unwrap_or(Entity::Contact))>
                        {IMPORTABLE.into_iter().map(|e| view! {
                            <option value=e.code() selected=e == first>{entity_name(l, e)}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="f-file" class="field-label">{tr("import.file")}</label>
                    <input id="f-file" name="file" type="file" accept=".csv,.tsv,.txt,.xlsx,.xls,.ods,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.ms-excel,application/vnd.oasis.opendocument.spreadsheet" class="input" node_ref=file_input
                           aria-invalid=move || file_error.get().is_some().then_some("true")
                           aria-describedby=move || if file_error.get().is_some() { "f-file-error" } else { "f-file-hint" }/>
                    <p id="f-file-hint" class="field-hint">{tr("import.file_hint")}</p>
                    {move || file_error.get().map(|e| view! { <p id="f-file-error" class="field-error" role="alert">{e}</p> })}
                </div>
                <button type="submit" class="btn btn-primary" disabled=move || busy.get() aria-busy=move || busy.get().then_some("true")>
                    {move || if busy.get() { t(l, "import.uploading") } else { t(l, "import.upload") }}
                </button>
            </form>
        </Card>
    }
}

/// Sends the chosen file as the body of `POST /import/upload`.
#[cfg(feature = "hydrate")]
async fn send_file(l: Locale, entity: Entity, file: web_sys::File) -> Result<UploadInfo, AppError> {
    let url = format!(
        "/import/upload?entity={}&name={}",
        entity.code(),
        String::from(js_sys::encode_uri_component(&file.name()))
    );
    crate::ui::post_file(l, &url, file).await
}

#[component]
fn MappingStep(info: UploadInfo, upload: RwSignal<Option<UploadInfo>>) -> impl IntoView {
    let l = locale();
    let job_id = info.job_id;
    let entity = info.entity;
    let mapping = RwSignal::new(info.mapping.clone());
    let dedupe = RwSignal::new(Dedupe::Skip);
    let preview = Resource::new(
        move || ImportPlan {
            job_id,
            mapping: mapping.get(),
            dedupe: dedupe.get(),
        },
        preview_import,
    );
    let start = ServerAction::<StartImport>::new();
    let started = start.value();
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(id)) = started.get() {
            navigate(&format!("/jobs/{id}"), Default::default());
        }
    });
    let has_name = move || {
        mapping.with(|m| {
            m.iter()
                .flatten()
                .any(|f| matches!(f, Field::Name | Field::FirstName | Field::LastName))
        })
    };
    let mapping_error = Signal::derive(move || {
        if !has_name() {
            return Some(t(l, "import.mapping.need_name"));
        }
        started
            .get()
            .and_then(Result::err)
            .and_then(|e| e.for_field("mapping"))
    });
    let start_error = Signal::derive(move || match started.get() {
        Some(Err(AppError::Validation { field, .. })) if field == "mapping" => None,
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    });
    let fields = Field::for_entity(entity);
    let delimiter = match info.delimiter {
        '\t' => t(l, "import.delimiter_tab"),
        c => format!("“{c}”"),
    };
    let rows = info.rows;
    view! {
        <Card title=tr("import.step_map")>
            <div class="flex flex-wrap items-center gap-3 mb-3">
                <p class="grow" data-testid="upload-summary">
                    <strong>{info.file_name.clone()}</strong> " · "
                    {tf(l, "import.file_summary", &[
                        ("rows", rows.to_string()),
                        ("entity", entity_name(l, entity)),
                        ("delimiter", delimiter),
                    ])}
                </p>
                <button type="button" class="btn btn-ghost" on:click=move |_| upload.set(None)>{tr("import.other_file")}</button>
            </div>
            {info.remembered.then(|| view! { <p class="text-sm text-muted mb-2">{tr("import.remembered")}</p> })}
            <div class="table-wrap">
                <table class="table">
                    <thead><tr>
                        <th scope="col">{tr("import.column")}</th>
                        <th scope="col">{tr("import.example")}</th>
                        <th scope="col">{tr("import.import_as")}</th>
                    </tr></thead>
                    <tbody>
                        {info.headers.iter().enumerate().map(|(i, header)| {
                            let header = if header.is_empty() {
                                tf(l, "import.column_n", &[("n", (i + 1).to_string())])
                            } else {
                                header.clone()
                            };
                            let example = info.examples.get(i).cloned().unwrap_or_default();
                            let id = format!("map-{i}");
                            view! {
                                <tr>
                                    <td><label for=id.clone() class="font-medium">{header}</label></td>
                                    <td class="text-muted">{example}</td>
                                    <td>
                                        <select id=id class="input" data-column=i.to_string()
                                                on:change=move |ev| {
                                                    let chosen = Field::parse(&event_target_value(&ev));
                                                    // One column per field: taking a field frees the column that had it.
                                                    mapping.update(|m| {
                                                        for (j, slot) in m.iter_mut().enumerate() {
                                                            if j != i && chosen.is_some() && *slot == chosen {
                                                                *slot = None;
                                                            }
                                                        }
                                                        if let Some(slot) = m.get_mut(i) {
                                                            *slot = chosen;
                                                        }
                                                    });
                                                }>
                                            <option value="" prop:selected=move || mapping.with(|m| m.get(i).copied().flatten().is_none())>
                                                {tr("import.skip_column")}
                                            </option>
                                            {fields.iter().map(|f| {
                                                let f = *f;
                                                view! {
                                                    <option value=f.code() prop:selected=move || mapping.with(|m| m.get(i).copied().flatten() == Some(f))>
                                                        {t(l, &f.label_key())}
                                                    </option>
                                                }
                                            }).collect_view()}
                                        </select>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {move || mapping_error.get().map(|e| view! { <p id="mapping-error" class="field-error mt-2" role="alert">{e}</p> })}
        </Card>
        <Card title=tr("import.step_duplicates")>
            <fieldset>
                <legend class="text-sm text-muted mb-2">{tf(l, match entity {
                    Entity::Company => "import.dedupe_intro_company",
                    _ => "import.dedupe_intro",
                }, &[])}</legend>
                <div class="space-y-2">
                    {Dedupe::ALL.into_iter().map(|d| {
                        let id = format!("dedupe-{}", d.code());
                        view! {
                            <div class="flex items-start gap-2">
                                <input type="radio" name="dedupe" id=id.clone() value=d.code() class="mt-1"
                                       prop:checked=move || dedupe.get() == d on:change=move |_| dedupe.set(d)/>
                                <label for=id>
                                    <span class="font-medium">{t(l, &format!("import.dedupe.{}", d.code()))}</span>
                                    <span class="block text-sm text-muted">{t(l, &format!("import.dedupe.{}_hint", d.code()))}</span>
                                </label>
                            </div>
                        }
                    }).collect_view()}
                </div>
            </fieldset>
        </Card>
        <Card title=tr("import.step_preview")>
            <Transition fallback=|| view! { <Skeleton lines=4/> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Err(e) if e.for_field("mapping").is_some() => view! {
                            <p class="text-sm text-muted">{tr("import.preview_waits")}</p>
                        }.into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(p) => view! { <PreviewTable preview=p/> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
        <div class="flex flex-wrap items-center gap-3 mb-6">
            <button type="button" class="btn btn-primary" data-testid="start-import"
                    disabled=move || start.pending().get() || !has_name()
                    aria-busy=move || start.pending().get().then_some("true")
                    on:click=move |_| {
                        start.dispatch(StartImport {
                            plan: ImportPlan { job_id, mapping: mapping.get_untracked(), dedupe: dedupe.get_untracked() },
                        });
                    }>
                {move || if start.pending().get() {
                    t(l, "common.working")
                } else {
                    tf(l, "import.start", &[("rows", rows.to_string())])
                }}
            </button>
            <Alert message=start_error/>
        </div>
    }
}

#[component]
fn PreviewTable(preview: Preview) -> impl IntoView {
    let l = locale();
    view! {
        <p class="text-sm text-muted mb-2">{tr("import.preview_intro")}</p>
        <div class="table-wrap">
            <table class="table" data-testid="preview">
                <thead><tr>
                    <th scope="col">{tr("import.errors.line")}</th>
                    {preview.fields.iter().map(|f| view! { <th scope="col">{t(l, &f.label_key())}</th> }).collect_view()}
                    <th scope="col">{tr("import.outcome")}</th>
                </tr></thead>
                <tbody>
                    {preview.rows.into_iter().map(|row| {
                        let tone = match row.outcome {
                            Outcome::Create => "success",
                            Outcome::Update => "neutral",
                            Outcome::Skip | Outcome::Fail => "warning",
                        };
                        view! {
                            <tr data-outcome=format!("{:?}", row.outcome).to_lowercase()>
                                <td class="text-muted">{row.line}</td>
                                {row.values.into_iter().map(|v| view! { <td>{v}</td> }).collect_view()}
                                <td>
                                    <Badge text=t(l, row.outcome.label_key()) tone/>
                                    {row.reason.map(|r| view! { <p class="text-sm text-muted mt-1">{r}</p> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn RecentJobs() -> impl IntoView {
    let l = locale();
    let jobs = Resource::new(|| (), |_| recent_jobs());
    view! {
        <Card title=tr("jobs.recent")>
            <Suspense fallback=|| view! { <Skeleton lines=2/> }>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-muted">{tr("jobs.none")}</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="divide-y divide-line">
                                {list.into_iter().map(|j| view! {
                                    <li class="flex flex-wrap items-center gap-3 py-2">
                                        <a class="link grow" href=format!("/jobs/{}", j.id)>{job_title(l, &j)} " · " {j.file_name.clone()}</a>
                                        <span class="text-sm text-muted">{crate::ui::when(j.created_at)}</span>
                                        <Badge text=t(l, j.state.label_key()) tone=state_tone(j.state)/>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Card>
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let l = locale();
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| Uuid::parse_str(&s).ok())
    };
    let tick = RwSignal::new(0u32);
    let job = Resource::new(
        move || (id(), tick.get()),
        move |(id, _)| async move {
            match id {
                Some(id) => job_status(id.to_string()).await,
                None => Err(AppError::NotFound(t(l, "jobs.not_found"))),
            }
        },
    );
    crate::ui::poll_while(
        move || matches!(job.try_get_untracked(), Some(Some(Ok(j))) if j.state.active()),
        tick,
        POLL_EVERY,
    );
    view! {
        <Transition fallback=|| view! { <Skeleton lines=4/> }>
            {move || Suspend::new(async move {
                match job.await {
                    Err(e) => view! { <PageHeader title=tr("jobs.title")/> <LoadError error=e/> }.into_any(),
                    Ok(j) => view! { <JobDetails job=j tick/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn JobDetails(job: JobView, tick: RwSignal<u32>) -> impl IntoView {
    let l = locale();
    let cancel = ServerAction::<CancelJob>::new();
    let retry = ServerAction::<RetryJob>::new();
    // Show the changed job at once rather than at the next poll.
    Effect::new(move |_| {
        if matches!(cancel.value().get(), Some(Ok(_))) || matches!(retry.value().get(), Some(Ok(_)))
        {
            tick.update(|n| *n += 1);
        }
    });
    let cancel_error = move || match cancel.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let retry_error = move || match retry.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let job_id = job.id.to_string();
    let percent = job.percent();
    let counts = job.counts;
    let stat = move |key: &'static str, n: u32, testid: &'static str| {
        view! {
            <div class="card mb-0">
                <p class="text-2xl font-semibold tabular-nums" data-testid=testid>{n}</p>
                <p class="text-sm text-muted">{t(l, key)}</p>
            </div>
        }
    };
    view! {
        <PageHeader title=job_title(l, &job)>
            <a class="btn btn-secondary" href="/import">{tr("jobs.new_import")}</a>
        </PageHeader>
        <Card>
            <div class="flex flex-wrap items-center gap-3 mb-3">
                <p class="grow font-medium">{job.file_name.clone()}</p>
                <span data-testid="job-state"><Badge text=t(l, job.state.label_key()) tone=state_tone(job.state)/></span>
            </div>
            {match job.state {
                JobState::Queued | JobState::Running => view! {
                    {job.next_attempt_at.map(|at| view! {
                        <p class="alert alert-warning mb-3" role="status" data-testid="job-retrying">
                            {tf(l, "jobs.retrying", &[
                                ("attempt", job.attempts.to_string()),
                                ("max", job.max_attempts.to_string()),
                                ("at", crate::ui::when_seconds(at)),
                            ])}
                            {job.error.clone().map(|e| view! { <span class="block mt-1">{e}</span> })}
                        </p>
                    })}
                    <ProgressBar percent=percent label=tr("jobs.progress")/>
                    <div class="mt-3">
                        <button type="button" class="btn btn-secondary"
                            disabled=move || cancel.pending().get()
                            on:click={
                                let id = job_id.clone();
                                move |_| { cancel.dispatch(CancelJob { id: id.clone() }); }
                            }>
                            {tr("jobs.cancel")}
                        </button>
                        {move || cancel_error().map(|e| view! { <p class="field-error mt-1" role="alert">{e}</p> })}
                    </div>
                    <p class="text-sm text-muted mt-2" role="status" aria-live="polite">
                        {if job.kind == JobKind::Import {
                            tf(l, "jobs.processed", &[("done", job.processed.to_string()), ("total", job.total.to_string()), ("percent", percent.to_string())])
                        } else {
                            t(l, "export.preparing")
                        }}
                    </p>
                }.into_any(),
                JobState::Draft => view! {
                    <p class="text-sm">{tr("jobs.draft")} " " <a class="link" href="/import">{tr("jobs.new_import")}</a></p>
                }.into_any(),
                JobState::Cancelled => view! {
                    <p class="alert alert-warning" role="status">
                        {tf(l, "jobs.cancelled", &[("done", job.processed.to_string()), ("total", job.total.to_string())])}
                    </p>
                }.into_any(),
                JobState::Failed | JobState::Dead => view! {
                    <div class="alert alert-danger" role="alert">
                        <p>{if job.state == JobState::Dead {
                            tf(l, "jobs.dead", &[("attempts", job.attempts.to_string())])
                        } else {
                            t(l, "jobs.failed")
                        }}</p>
                        {job.error.clone().map(|e| view! { <p class="mt-1">{e}</p> })}
                    </div>
                    <div class="mt-3">
                        <button type="button" class="btn btn-primary"
                            disabled=move || retry.pending().get()
                            on:click={
                                let id = job_id.clone();
                                move |_| { retry.dispatch(RetryJob { id: id.clone() }); }
                            }>
                            {tr("jobs.retry")}
                        </button>
                        {move || retry_error().map(|e| view! { <p class="field-error mt-1" role="alert">{e}</p> })}
                    </div>
                }.into_any(),
                JobState::Done => match job.kind {
                    JobKind::Import => view! {
                        <p class="alert alert-success mb-3" role="status">
                            {tf(l, "jobs.import_done", &[("total", job.total.to_string())])}
                        </p>
                        <div class="grid gap-3 grid-cols-2 md:grid-cols-4" data-testid="summary">
                            {stat("jobs.created", counts.created, "count-created")}
                            {stat("jobs.updated", counts.updated, "count-updated")}
                            {stat("jobs.skipped", counts.skipped, "count-skipped")}
                            {stat("jobs.failed_rows", counts.failed, "count-failed")}
                        </div>
                        {(counts.companies_created > 0).then(|| view! {
                            <p class="text-sm text-muted mt-3">{tf(l, "jobs.companies_created", &[("n", counts.companies_created.to_string())])}</p>
                        })}
                        {job.has_errors_file.then(|| view! {
                            <p class="mt-4">
                                <a class="btn btn-secondary" href=download_path(job.id, "errors") download="" data-testid="errors-download">
                                    {tr("jobs.download_errors")}
                                </a>
                                <span class="block text-sm text-muted mt-1">{tr("jobs.errors_hint")}</span>
                            </p>
                        })}
                    }.into_any(),
                    JobKind::Export => view! {
                        <p class="mb-3">{tf(l, "jobs.export_done", &[("n", counts.exported.to_string())])}</p>
                        {job.has_output.then(|| view! {
                            <a class="btn btn-primary" href=download_path(job.id, "output") download="" data-testid="output-download">
                                {tf(l, "export.download", &[("file", job.file_name.clone())])}
                            </a>
                        })}
                    }.into_any(),
                },
            }}
        </Card>
        <JobLog id=job.id tick/>
    }
}

/// Exports what a table view shows: `entity` with the view's current `filter`, in the
/// viewer's scope. Starts a job, follows it, and offers the file when it is ready.
#[component]
pub fn ExportButton(entity: Entity, #[prop(into)] filter: Signal<RecordFilter>) -> impl IntoView {
    let l = locale();
    let start = ServerAction::<StartExport>::new();
    let started = start.value();
    let tick = RwSignal::new(0u32);
    // The started job, followed by an effect, which runs only in the browser. This
    // button is drawn inside the records table's Transition: a local resource read
    // there during the server's render marked the Transition unfinished, and the
    // browser then hydrated its skeleton over the table the server had sent (the page
    // stopped at "expected a <div>").
    let job = RwSignal::new(None::<Result<JobView, AppError>>);
    Effect::new(move || {
        let id = started.get().and_then(Result::ok);
        tick.track();
        if let Some(id) = id {
            leptos::task::spawn_local(async move {
                let status = job_status(id.to_string()).await;
                let _ = job.try_set(Some(status));
            });
        }
    });
    let active = move || matches!(job.try_get_untracked(), Some(Some(Ok(j))) if j.state.active());
    crate::ui::poll_while(active, tick, POLL_EVERY);
    let busy =
        move || start.pending().get() || matches!(job.get(), Some(Ok(j)) if j.state.active());
    // A file made for other filters than the view's current ones is not offered.
    let exported_for = RwSignal::new(None::<RecordFilter>);
    let current = move || filter.with(|f| exported_for.with(|e| e.as_ref() == Some(f)));
    let label = tf(l, "export.button", &[("entity", entity_name(l, entity))]);
    view! {
        <div class="flex flex-wrap items-center gap-2" data-testid=format!("export-{}", entity.table())>
            <button type="button" class="btn btn-secondary" disabled=busy aria-busy=move || busy().then_some("true")
                    on:click=move |_| {
                        let filter = filter.get_untracked();
                        exported_for.set(Some(filter.clone()));
                        start.dispatch(StartExport { entity, filter });
                    }>
                {label}
            </button>
            <span class="text-sm" role="status" aria-live="polite">
                {move || match (started.get().filter(|_| current()), job.get().filter(|_| current())) {
                    (Some(Err(e)), _) | (_, Some(Err(e))) => view! { <span class="text-danger">{e.to_string()}</span> }.into_any(),
                    (_, Some(Ok(j))) if j.state == JobState::Done => view! {
                        <a class="link" href=download_path(j.id, "output") download="" data-testid="export-download">
                            {tf(l, "export.download", &[("file", j.file_name.clone())])}
                        </a>
                    }.into_any(),
                    (_, Some(Ok(j))) if j.state.retryable() => view! {
                        <span class="text-danger">{j.error.clone().unwrap_or_else(|| t(l, "jobs.failed"))}</span>
                    }.into_any(),
                    (Some(Ok(_)), _) => view! { <span class="text-muted">{t(l, "export.preparing")}</span> }.into_any(),
                    _ => ().into_any(),
                }}
            </span>
        </div>
    }
}
