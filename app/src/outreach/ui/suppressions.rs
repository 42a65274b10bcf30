//! The suppression list: search and page it, see why each address is there, add one
//! address or a CSV file of them, and lift an entry with a reason.

use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Card, Field, LoadError, Skeleton, Submit,
};
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn SuppressionsPage() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let reload = RwSignal::new(0_u32);
    // Pages after the first, appended by "Load more"; emptied whenever the first page
    // is fetched again.
    let extra = RwSignal::new(Vec::<SuppressionView>::new());
    let next = RwSignal::new(None::<SuppressionCursor>);
    let first = Resource::new(
        move || (query.get(), reload.get()),
        |(q, _)| list_suppressions(q, None),
    );
    let refresh = move || {
        extra.set(Vec::new());
        reload.update(|n| *n += 1);
    };
    let more = Action::new(move |cursor: &SuppressionCursor| {
        let (q, cursor) = (query.get_untracked(), *cursor);
        async move { list_suppressions(q, Some(cursor)).await }
    });
    Effect::new(move || {
        if let Some(Ok(page)) = more.value().get() {
            extra.update(|rows| rows.extend(page.rows));
            next.set(page.next);
        }
    });
    view! {
        <div class="grid gap-4 xl:grid-cols-[1fr_24rem]">
            <Card title=tr("suppression.title")>
                <p class="text-sm text-muted mb-3">{tr("suppression.intro")}</p>
                <form role="search" class="mb-3" on:submit=move |ev: leptos::ev::SubmitEvent| ev.prevent_default()>
                    <label for="f-suppression-search" class="sr-only">{tr("suppression.search")}</label>
                    <input id="f-suppression-search" type="search" class="input max-w-80" data-testid="suppression-search"
                           placeholder=tr("suppression.search")
                           on:input=move |ev| {
                               extra.set(Vec::new());
                               query.set(event_target_value(&ev));
                           }/>
                </form>
                <Transition fallback=|| view! { <Skeleton lines=6/> }>
                    {move || Suspend::new(async move {
                        match first.await {
                            Ok(page) => {
                                next.set(page.next);
                                view! { <Entries page=page.rows extra refresh/> }.into_any()
                            }
                            Err(error) => view! { <LoadError error/> }.into_any(),
                        }
                    })}
                </Transition>
                {move || next.get().map(|cursor| view! {
                    <button type="button" class="btn btn-secondary mt-3" data-testid="suppression-more"
                            disabled=move || more.pending().get()
                            on:click=move |_| { more.dispatch(cursor); }>
                        {tr("suppression.more")}
                    </button>
                })}
            </Card>
            <div class="space-y-4">
                <AddOne refresh/>
                <Import refresh/>
            </div>
        </div>
    }
}

/// Why an address is on the list, in words: the event, or who added it.
fn why(s: &SuppressionView) -> String {
    let mut text = tr(&format!("suppression.reason.{}", s.reason));
    if let Some(name) = &s.added_by {
        text = tf(
            locale(),
            "suppression.by",
            &[("why", text), ("name", name.clone())],
        );
    }
    text
}

#[component]
fn Entries(
    page: Vec<SuppressionView>,
    extra: RwSignal<Vec<SuppressionView>>,
    refresh: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let open = RwSignal::new(None::<Uuid>);
    let lift = ServerAction::<LiftSuppression>::new();
    let lifted = lift.value();
    Effect::new(move || {
        if let Some(Ok(())) = lifted.get() {
            open.set(None);
            refresh();
        }
    });
    let empty = page.is_empty();
    let row = move |s: SuppressionView| {
        let id = s.id;
        let address = s.address.clone();
        let label = tf(
            locale(),
            "suppression.lift_label",
            &[("address", address.clone())],
        );
        view! {
            <tr data-testid="suppression-row" data-address=address.clone()>
                <td class="font-mono text-sm"><bdi>{address.clone()}</bdi></td>
                <td>{tr(&format!("outreach.channel.{}", s.channel.code()))}</td>
                <td class="text-sm">
                    {why(&s)}
                    {s.lead_id.map(|lead| view! { " · " <a class="link" href=format!("/leads/{lead}")>{tr("suppression.lead")}</a> })}
                    {s.note.clone().map(|n| view! { <span class="block text-muted">{n}</span> })}
                </td>
                <td class="text-sm tabular-nums">
                    <time datetime=s.created_at.to_rfc3339()>{crate::ui::when(s.created_at)}</time>
                </td>
                <td>
                    <button type="button" class="btn btn-ghost" aria-label=label
                            aria-expanded=move || if open.get() == Some(id) { "true" } else { "false" }
                            on:click=move |_| open.update(|o| *o = if *o == Some(id) { None } else { Some(id) })>
                        {tr("suppression.lift")}
                    </button>
                </td>
            </tr>
            {move || (open.get() == Some(id)).then(|| view! {
                <tr>
                    <td colspan="5">
                        <ActionForm action=lift attr:class="flex flex-wrap items-end gap-3" attr:data-testid="lift-form" attr:novalidate="">
                            <input type="hidden" name="id" value=id.to_string()/>
                            <div class="field grow">
                                <label for="f-lift-reason" class="field-label">{tr("suppression.lift_reason")}</label>
                                <textarea id="f-lift-reason" name="reason" class="input" rows="2" required=true
                                          aria-describedby="f-lift-reason-hint"></textarea>
                                <p id="f-lift-reason-hint" class="field-hint">{tr("suppression.lift_hint")}</p>
                                {move || field_error(lifted, "reason").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                            </div>
                            <Submit label=tr("suppression.lift_confirm") pending=lift.pending()/>
                            <button type="button" class="btn btn-ghost" on:click=move |_| open.set(None)>{tr("common.cancel")}</button>
                            <Alert message=form_error(lifted, &["reason"])/>
                        </ActionForm>
                    </td>
                </tr>
            })}
        }
    };
    if empty {
        return view! { <div class="empty-state"><p>{tr("suppression.empty")}</p></div> }
            .into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="suppressions-table">
                <thead><tr>
                    <th scope="col">{tr("suppression.address")}</th>
                    <th scope="col">{tr("outreach.channel")}</th>
                    <th scope="col">{tr("suppression.why")}</th>
                    <th scope="col">{tr("suppression.when")}</th>
                    <th scope="col"><span class="sr-only">{tr("common.actions")}</span></th>
                </tr></thead>
                <tbody>
                    {page.into_iter().map(row).collect_view()}
                    {move || extra.get().into_iter().map(row).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn AddOne(refresh: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let add = ServerAction::<AddSuppression>::new();
    let value = add.value();
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            refresh();
        }
    });
    view! {
        <Card title=tr("suppression.add")>
            <ActionForm action=add attr:class="space-y-3" attr:data-testid="suppression-form" attr:novalidate="">
                <Field label=tr("suppression.address") name="address" required=true
                       hint=tr("suppression.address_hint") error=field_error(value, "address")/>
                <Field label=tr("suppression.note") name="note" error=field_error(value, "note")/>
                <Submit label=tr("suppression.add_button") pending=add.pending()/>
                <Alert message=form_error(value, &["address", "note"])/>
                {move || matches!(value.get(), Some(Ok(_))).then(|| view! {
                    <p class="text-sm" role="status">{tr("suppression.added")}</p>
                })}
            </ActionForm>
        </Card>
    }
}

#[component]
fn Import(refresh: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let file_input = NodeRef::<leptos::html::Input>::new();
    let busy = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<SuppressionImport, AppError>>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let file = file_input
                .get()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let Some(file) = file else {
                result.set(Some(Err(AppError::field(
                    "file",
                    tr("suppression.file_required"),
                ))));
                return;
            };
            // Checked here too, so a large file is refused before it is sent.
            if file.size() > SUPPRESSION_IMPORT_MAX_BYTES as f64 {
                result.set(Some(Err(AppError::field(
                    "file",
                    tf(
                        locale(),
                        "suppression.file_too_large",
                        &[("max", "1 MB".into())],
                    ),
                ))));
                return;
            }
            busy.set(true);
            leptos::task::spawn_local(async move {
                let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
                let outcome = match text.ok().and_then(|t| t.as_string()) {
                    Some(text) => import_suppressions(text).await,
                    None => Err(AppError::field("file", tr("suppression.file_unreadable"))),
                };
                busy.set(false);
                if outcome.is_ok() {
                    refresh();
                }
                result.set(Some(outcome));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, busy, refresh);
    };
    let file_error = Signal::derive(move || {
        result
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.for_field("file"))
    });
    view! {
        <Card title=tr("suppression.import")>
            <form class="space-y-3" data-testid="suppression-import" on:submit=on_submit novalidate="">
                <div class="field">
                    <label for="f-suppression-file" class="field-label">{tr("suppression.file")}</label>
                    <input id="f-suppression-file" name="file" type="file" accept=".csv,.txt,text/csv,text/plain" class="input" node_ref=file_input
                           aria-invalid=move || file_error.get().is_some().then_some("true")
                           aria-describedby=move || if file_error.get().is_some() { "f-suppression-file-error" } else { "f-suppression-file-hint" }/>
                    <p id="f-suppression-file-hint" class="field-hint">{tr("suppression.file_hint")}</p>
                    {move || file_error.get().map(|e| view! { <p id="f-suppression-file-error" class="field-error" role="alert">{e}</p> })}
                </div>
                <Submit label=tr("suppression.import_button") pending=busy/>
            </form>
            {move || result.get().map(|r| match r {
                Ok(report) => view! { <ImportReport report/> }.into_any(),
                Err(AppError::Validation { field, .. }) if field == "file" => ().into_any(),
                Err(e) => view! { <p class="alert alert-danger mt-3" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Card>
    }
}

#[component]
fn ImportReport(report: SuppressionImport) -> impl IntoView {
    let lines = |lines: &[usize]| {
        lines
            .iter()
            .take(50)
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <div class="alert alert-success mt-3 text-sm" role="status" data-testid="import-report"
             data-added=report.added.to_string() data-already=report.already.len().to_string() data-invalid=report.invalid_count.to_string()>
            <p>{tf(locale(), "suppression.import_added", &[("n", report.added.to_string())])}</p>
            {(!report.already.is_empty()).then(|| view! {
                <p>{tf(locale(), "suppression.import_already", &[
                    ("n", report.already.len().to_string()),
                    ("lines", lines(&report.already)),
                ])}</p>
            })}
            {(report.invalid_count > 0).then(|| view! {
                <p>{tf(locale(), "suppression.import_invalid", &[("n", report.invalid_count.to_string())])}</p>
                <ul class="list-disc ps-5">
                    {report.invalid.iter().map(|i| view! {
                        <li>{tf(locale(), "suppression.import_line", &[
                            ("line", i.line.to_string()),
                            ("value", i.value.clone()),
                            ("problem", i.problem.clone()),
                        ])}</li>
                    }).collect_view()}
                </ul>
            })}
        </div>
    }
}
