//! The set-up page's spreadsheet import of units: choose a project and a file, read
//! the preview (what is created, updated, left alone, and each refused row), then
//! apply exactly that.

use super::catalog::ProjectRow;
use super::setup::Done;
use super::unit_import::{ImportPreview, MAX_IMPORT_ROWS};
use crate::error::AppError;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Alert, Card, Submit};
use leptos::prelude::*;

#[component]
pub(super) fn UnitImport(projects: Vec<ProjectRow>, refresh: Callback<Done>) -> impl IntoView {
    let l = locale();
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let preview = RwSignal::new(None::<ImportPreview>);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let project = NodeRef::<leptos::html::Select>::new();
    // Sends the chosen file: to preview it, or with the preview's token to apply it.
    let send = move |token: Option<String>| {
        #[cfg(feature = "hydrate")]
        {
            let file = file_input
                .get()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let Some(file) = file else {
                error.set(Some(AppError::field(
                    "file",
                    t(l, "inventory.import.choose_file"),
                )));
                return;
            };
            let encode = |v: String| String::from(js_sys::encode_uri_component(&v));
            let mut url = format!(
                "/inventory/units/import?project_id={}",
                encode(project.get().map(|s| s.value()).unwrap_or_default())
            );
            if let Some(token) = &token {
                url.push_str(&format!("&token={}", encode(token.clone())));
            }
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                let result: Result<ImportPreview, AppError> =
                    crate::ui::post_file(l, &url, file).await;
                busy.set(false);
                match result {
                    Ok(done) if done.applied => {
                        preview.set(None);
                        refresh.run(Done {
                            message: tf(
                                l,
                                "inventory.import.done",
                                &[
                                    ("created", done.create.to_string()),
                                    ("updated", done.update.to_string()),
                                ],
                            ),
                            link: None,
                        });
                    }
                    Ok(checked) => preview.set(Some(checked)),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (token, file_input, project, busy, refresh);
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        preview.set(None);
        send(None);
    };
    let file_error = Signal::derive(move || error.get().and_then(|e| e.for_field("file")));
    let other = Signal::derive(move || match error.get() {
        Some(AppError::Validation { field, .. }) if field == "file" => None,
        Some(e) => Some(e.to_string()),
        None => None,
    });
    view! {
        <Card title=t(l, "inventory.import.title")>
            {if projects.is_empty() {
                view! { <p class="text-sm text-muted">{tr("inventory.setup.project_first")}</p> }.into_any()
            } else {
                view! {
                    <p class="text-sm text-muted mb-3">{tf(l, "inventory.import.intro", &[("max", MAX_IMPORT_ROWS.to_string())])}</p>
                    <form class="grid gap-3 md:grid-cols-2" on:submit=on_submit novalidate="" data-testid="unit-import">
                        <div class="md:col-span-2"><Alert message=other/></div>
                        <div class="field">
                            <label for="f-import-project" class="field-label">{tr("inventory.project")}</label>
                            <select id="f-import-project" class="input" node_ref=project on:change=move |_| preview.set(None)>
                                {projects.iter().map(|p| view! { <option value=p.id.to_string()>{p.name.clone()}</option> }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="f-import-file" class="field-label">{tr("inventory.import.file")}</label>
                            <input id="f-import-file" type="file" class="input" node_ref=file_input on:change=move |_| preview.set(None)
                                accept=".csv,.txt,.xlsx,.xls,.ods,text/csv"
                                aria-invalid=move || file_error.get().is_some().then_some("true")
                                aria-describedby=move || if file_error.get().is_some() { "f-import-file-error" } else { "f-import-file-hint" }/>
                            <p id="f-import-file-hint" class="field-hint">{tr("inventory.import.file_hint")}</p>
                            {move || file_error.get().map(|e| view! { <p id="f-import-file-error" class="field-error" role="alert">{e}</p> })}
                        </div>
                        <div class="md:col-span-2">
                            <Submit label=t(l, "inventory.import.check") pending=busy/>
                        </div>
                    </form>
                    {move || preview.get().map(|p| view! { <PreviewPanel preview=p busy apply=Callback::new(move |token| send(Some(token)))/> })}
                }.into_any()
            }}
        </Card>
    }
}

#[component]
fn PreviewPanel(
    preview: ImportPreview,
    busy: RwSignal<bool>,
    apply: Callback<String>,
) -> impl IntoView {
    let l = locale();
    let changes = preview.create + preview.update;
    let token = preview.token.clone();
    let ignored: Vec<String> = preview
        .columns
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(h, _)| h.clone())
        .collect();
    view! {
        <section class="mt-4" aria-labelledby="import-preview-title" data-testid="import-preview">
            <h3 id="import-preview-title" class="font-semibold">{tr("inventory.import.preview")}</h3>
            <dl class="grid grid-cols-2 gap-2 md:grid-cols-5 my-2">
                <div><dt class="text-muted text-sm">{tr("inventory.import.rows")}</dt><dd class="tabular-nums">{preview.rows}</dd></div>
                <div><dt class="text-muted text-sm">{tr("inventory.import.create")}</dt><dd class="tabular-nums" data-testid="import-create">{preview.create}</dd></div>
                <div><dt class="text-muted text-sm">{tr("inventory.import.update")}</dt><dd class="tabular-nums" data-testid="import-update">{preview.update}</dd></div>
                <div><dt class="text-muted text-sm">{tr("inventory.import.unchanged")}</dt><dd class="tabular-nums">{preview.unchanged}</dd></div>
                <div><dt class="text-muted text-sm">{tr("inventory.import.price_changes")}</dt><dd class="tabular-nums">{preview.price_changes}</dd></div>
            </dl>
            <p class="text-sm">
                {tr("inventory.import.columns")} " "
                {preview.columns.iter().filter_map(|(h, c)| c.map(|c| format!("{h} → {}", t(l, c.label_key())))).collect::<Vec<_>>().join(" · ")}
            </p>
            {(!ignored.is_empty()).then(|| view! {
                <p class="text-sm text-muted">{tf(l, "inventory.import.ignored", &[("columns", ignored.join(", "))])}</p>
            })}
            {if preview.error_count > 0 {
                view! {
                    <div class="alert alert-danger mt-2" role="alert">
                        <p>{tf(l, "inventory.import.has_errors", &[("n", preview.error_count.to_string())])}</p>
                        <ul class="list-disc ps-5 text-sm" data-testid="import-errors">
                            {preview.errors.iter().map(|e| view! {
                                <li>{tf(l, "inventory.import.line", &[("line", e.line.to_string())])} " " {e.message.clone()}</li>
                            }).collect_view()}
                        </ul>
                    </div>
                }.into_any()
            } else if changes == 0 {
                view! { <p class="text-sm mt-2" role="status">{tr("inventory.import.nothing")}</p> }.into_any()
            } else {
                view! {
                    <p class="text-sm mt-2">{tr("inventory.import.others_kept")}</p>
                    <button type="button" class="btn btn-primary mt-2" disabled=move || busy.get()
                        on:click=move |_| apply.run(token.clone())>
                        {tr("inventory.import.apply")}
                    </button>
                }.into_any()
            }}
        </section>
    }
}
