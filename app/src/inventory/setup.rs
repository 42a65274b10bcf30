//! Inventory set-up, for its editors (`/inventory/setup`): projects with their
//! developers, new units, units from a spreadsheet, plan uploads, and the unit and
//! component types.

use super::catalog::*;
use super::setup_import::UnitImport;
use crate::error::AppError;
use crate::i18n::{t, tf};
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Badge, Card, Field, LoadError, PageHeader,
    Skeleton, Submit,
};
use leptos::prelude::*;

/// What the last change did, said above the cards: they are drawn again from the
/// saved catalogue after each change, so a message inside them would vanish.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Done {
    pub(super) message: String,
    pub(super) link: Option<String>,
}

impl Done {
    fn said(l: crate::i18n::Locale, key: &str) -> Done {
        Done {
            message: t(l, key),
            link: None,
        }
    }
}

#[component]
pub fn InventorySetupPage() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let catalog = Resource::new(move || tick.get(), |_| get_catalog());
    let notice = RwSignal::new(None::<Done>);
    let refresh = Callback::new(move |done: Done| {
        notice.set(Some(done));
        tick.update(|n| *n += 1);
    });
    view! {
        <PageHeader title=tr("inventory.setup.title")>
            <a class="btn btn-secondary" href="/inventory">{tr("inventory.units")}</a>
        </PageHeader>
        <div role="status" aria-live="polite" data-testid="setup-status">
            {move || notice.get().map(|d| view! {
                <p class="alert alert-success">
                    {d.message}
                    {d.link.map(|href| view! { " " <a class="link" href=href>{tr("inventory.setup.open_unit")}</a> })}
                </p>
            })}
        </div>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match catalog.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(c) if !c.can_edit => view! {
                        <LoadError error=AppError::Forbidden(t(locale(), "error.forbidden"))/>
                    }.into_any(),
                    Ok(c) => view! {
                        <Projects projects=c.projects.clone() refresh/>
                        <NewUnit projects=c.projects.clone() types=c.types.clone() refresh/>
                        <UnitImport projects=c.projects.clone() refresh/>
                        <PlanUpload projects=c.projects.clone()/>
                        <HoldPolicy hours=c.hold_hours reminder=c.hold_reminder_hours reserve_at=c.reserve_at/>
                        <Types types=c.types refresh/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Projects(projects: Vec<ProjectRow>, refresh: Callback<Done>) -> impl IntoView {
    let l = locale();
    let editing = RwSignal::new(None::<ProjectRow>);
    let save = ServerAction::<SaveProject>::new();
    Effect::new(move || {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(None);
            refresh.run(Done::said(l, "inventory.setup.project_saved"));
        }
    });
    let value = save.value();
    let fields: &'static [&'static str] = &[
        "developer",
        "name",
        "location",
        "status",
        "delivery_on",
        "description",
    ];
    view! {
        <Card title=t(l, "inventory.setup.projects")>
            {if projects.is_empty() {
                view! { <p class="text-sm text-muted">{tr("inventory.setup.no_projects")}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="projects-table">
                            <thead><tr>
                                <th><span class="sr-only">{tr("inventory.setup.cover")}</span></th>
                                <th>{tr("inventory.project")}</th>
                                <th>{tr("inventory.project_form.developer_label")}</th>
                                <th>{tr("inventory.status")}</th>
                                <th>{tr("inventory.setup.units_available")}</th>
                                <th><span class="sr-only">{tr("inventory.actions")}</span></th>
                            </tr></thead>
                            <tbody>
                                {projects.into_iter().map(|p| {
                                    let row = p.clone();
                                    view! {
                                        <tr>
                                            <td>{p.cover_url.clone().map(|src| view! {
                                                <img src=src alt=tf(l, "inventory.cover_of", &[("project", p.name.clone())]) class="h-10 w-16 rounded object-cover"/>
                                            })}</td>
                                            <td>{p.name.clone()}</td>
                                            <td>{p.developer.clone()}</td>
                                            <td><Badge text=t(l, &format!("inventory.project_status.{}", p.status)) tone="neutral"/></td>
                                            <td class="tabular-nums">{format!("{} / {}", p.available, p.units)}</td>
                                            <td><button type="button" class="btn btn-ghost" on:click=move |_| editing.set(Some(row.clone()))>
                                                {tf(l, "inventory.setup.edit_project", &[("name", p.name.clone())])}
                                            </button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {move || {
                let p = editing.get();
                let cover = p.clone();
                let title = match &p {
                    Some(p) => tf(l, "inventory.setup.edit_project", &[("name", p.name.clone())]),
                    None => t(l, "inventory.setup.new_project"),
                };
                let status = p.as_ref().map_or("SELLING".to_string(), |p| p.status.clone());
                view! {
                    <h3 class="card-title mt-4">{title}</h3>
                    <ActionForm action=save attr:class="grid gap-3 md:grid-cols-2" attr:novalidate="" attr:data-testid="project-form">
                        {p.as_ref().map(|p| view! { <input type="hidden" name="input[id]" value=p.id.to_string()/> })}
                        <Field label=t(l, "inventory.project_form.name_label") name="input[name]" required=true
                            value=p.as_ref().map(|p| p.name.clone()).unwrap_or_default() error=field_error(value, "name")/>
                        <Field label=t(l, "inventory.project_form.developer_label") name="input[developer]"
                            value=p.as_ref().and_then(|p| p.developer.clone()).unwrap_or_default() error=field_error(value, "developer")/>
                        <Field label=t(l, "inventory.project_form.location_label") name="input[location]"
                            value=p.as_ref().and_then(|p| p.location.clone()).unwrap_or_default() error=field_error(value, "location")/>
                        <div class="field">
                            <label for="f-project-status" class="field-label">{tr("inventory.status")}</label>
                            <select id="f-project-status" name="input[status]" class="input">
                                {PROJECT_STATUSES.into_iter().map(|s| view! {
                                    <option value=s selected=s == status>{tr(&format!("inventory.project_status.{s}"))}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <Field label=t(l, "inventory.project_form.delivery_label") name="input[delivery_on]" kind="date"
                            value=p.as_ref().and_then(|p| p.delivery_on).map(|d| d.to_string()).unwrap_or_default()
                            error=field_error(value, "delivery_on")/>
                        <div class="field md:col-span-2">
                            <label for="f-project-description" class="field-label">{tr("inventory.project_form.description_label")}</label>
                            <textarea id="f-project-description" name="input[description]" class="input" rows="3" maxlength="5000">
                                {p.as_ref().and_then(|p| p.description.clone()).unwrap_or_default()}
                            </textarea>
                        </div>
                        <div class="md:col-span-2 flex gap-2">
                            <Alert message=form_error(value, fields)/>
                            <Submit label=t(l, "inventory.setup.save_project") pending=save.pending()/>
                            {p.is_some().then(|| view! {
                                <button type="button" class="btn btn-secondary" on:click=move |_| editing.set(None)>{tr("inventory.setup.cancel")}</button>
                            })}
                        </div>
                    </ActionForm>
                    {cover.map(|p| view! { <CoverUpload project=p refresh/> })}
                }
            }}
        </Card>
    }
}

/// Uploads the edited project's cover picture as the request body.
#[component]
fn CoverUpload(project: ProjectRow, refresh: Callback<Done>) -> impl IntoView {
    let l = locale();
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let id = project.id;
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let file = file_input
                .get()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let Some(file) = file else {
                error.set(Some(AppError::field(
                    "file",
                    t(l, "inventory.upload.empty"),
                )));
                return;
            };
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                let url = format!("/inventory/projects/cover?project_id={id}");
                let result: Result<serde_json::Value, AppError> =
                    crate::ui::post_file(l, &url, file).await;
                busy.set(false);
                match result {
                    Ok(_) => refresh.run(Done::said(l, "inventory.setup.cover_saved")),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, busy, refresh, id);
    };
    let file_error = Signal::derive(move || error.get().and_then(|e| e.for_field("file")));
    let other = Signal::derive(move || match error.get() {
        Some(AppError::Validation { field, .. }) if field == "file" => None,
        Some(e) => Some(e.to_string()),
        None => None,
    });
    view! {
        <form class="grid gap-3 md:grid-cols-[1fr_auto] items-end mt-4" on:submit=on_submit novalidate="" data-testid="cover-upload">
            <div class="md:col-span-2"><Alert message=other/></div>
            <div class="field">
                <label for="f-cover-file" class="field-label">{tf(l, "inventory.setup.cover_for", &[("project", project.name.clone())])}</label>
                <input id="f-cover-file" type="file" class="input" node_ref=file_input
                    accept=".png,.jpg,.jpeg,.webp,.svg,image/png,image/jpeg,image/webp,image/svg+xml"
                    aria-invalid=move || file_error.get().is_some().then_some("true")
                    aria-describedby=move || if file_error.get().is_some() { "f-cover-file-error" } else { "f-cover-file-hint" }/>
                <p id="f-cover-file-hint" class="field-hint">{tr("inventory.setup.cover_hint")}</p>
                {move || file_error.get().map(|e| view! { <p id="f-cover-file-error" class="field-error" role="alert">{e}</p> })}
            </div>
            <Submit label=t(l, "inventory.setup.cover_upload") pending=busy/>
        </form>
    }
}

#[component]
fn NewUnit(
    projects: Vec<ProjectRow>,
    types: Vec<TypeRow>,
    refresh: Callback<Done>,
) -> impl IntoView {
    let l = locale();
    let create = ServerAction::<CreateUnit>::new();
    let value = create.value();
    Effect::new(move || {
        if let Some(Ok(id)) = value.get() {
            refresh.run(Done {
                message: t(l, "inventory.setup.unit_added"),
                link: Some(format!("/inventory/units/{id}")),
            });
        }
    });
    let fields: &'static [&'static str] = &[
        "project_id",
        "code",
        "type_code",
        "building",
        "floor",
        "size_sqm",
        "bedrooms",
        "bathrooms",
        "view",
        "price",
        "currency",
    ];
    let select = move |id: &'static str,
                       name: &'static str,
                       label: &'static str,
                       options: Vec<(String, String)>,
                       field: &'static str| {
        let error = field_error(value, field);
        view! {
            <div class="field">
                <label for=id class="field-label">{tr(label)}</label>
                <select id=id name=name class="input" aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby=move || error.get().is_some().then(|| format!("{id}-error"))>
                    {options.into_iter().map(|(v, text)| view! { <option value=v>{text}</option> }).collect_view()}
                </select>
                {move || error.get().map(|e| view! { <p id=format!("{id}-error") class="field-error" role="alert">{e}</p> })}
            </div>
        }
    };
    let project_options: Vec<(String, String)> = projects
        .iter()
        .map(|p| (p.id.to_string(), p.name.clone()))
        .collect();
    let type_options: Vec<(String, String)> = types
        .iter()
        .filter(|t| t.kind == "UNIT")
        .map(|t| (t.code.clone(), format!("{} — {}", t.code, t.label)))
        .collect();
    view! {
        <Card title=t(l, "inventory.setup.new_unit")>
            {if projects.is_empty() {
                view! { <p class="text-sm text-muted">{tr("inventory.setup.project_first")}</p> }.into_any()
            } else {
                view! {
                    <ActionForm action=create attr:class="grid gap-3 md:grid-cols-3" attr:novalidate="" attr:data-testid="unit-form">
                        {select("f-unit-project", "input[project_id]", "inventory.project", project_options, "project_id")}
                        <Field label=t(l, "inventory.code") name="input[code]" required=true error=field_error(value, "code")/>
                        {select("f-unit-type", "input[type_code]", "inventory.type", type_options, "type_code")}
                        <Field label=t(l, "inventory.unit_form.building_label") name="input[building]" error=field_error(value, "building")/>
                        <Field label=t(l, "inventory.floor") name="input[floor]" error=field_error(value, "floor")/>
                        <Field label=t(l, "inventory.unit_form.size_label") name="input[size_sqm]" error=field_error(value, "size_sqm")/>
                        <Field label=t(l, "inventory.bedrooms") name="input[bedrooms]" error=field_error(value, "bedrooms")/>
                        <Field label=t(l, "inventory.bathrooms") name="input[bathrooms]" error=field_error(value, "bathrooms")/>
                        <Field label=t(l, "inventory.view") name="input[view]" error=field_error(value, "view")/>
                        <Field label=t(l, "inventory.price") name="input[price]" required=true error=field_error(value, "price")/>
                        <Field label=t(l, "inventory.unit_form.currency_label") name="input[currency]" value="EGP" error=field_error(value, "currency")/>
                        <div class="md:col-span-3 flex flex-wrap items-center gap-2">
                            <Alert message=form_error(value, fields)/>
                            <Submit label=t(l, "inventory.setup.add_unit") pending=create.pending()/>
                        </div>
                    </ActionForm>
                }.into_any()
            }}
        </Card>
    }
}

/// Uploads a plan's drawing as the request body, then opens it in the editor.
#[component]
fn PlanUpload(projects: Vec<ProjectRow>) -> impl IntoView {
    let l = locale();
    let error = RwSignal::new(None::<AppError>);
    let busy = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let project = NodeRef::<leptos::html::Select>::new();
    let name = NodeRef::<leptos::html::Input>::new();
    let kind = NodeRef::<leptos::html::Select>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let file = file_input
                .get()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let Some(file) = file else {
                error.set(Some(AppError::field(
                    "file",
                    t(l, "inventory.upload.empty"),
                )));
                return;
            };
            let encode = |v: String| String::from(js_sys::encode_uri_component(&v));
            let url = format!(
                "/inventory/plans/upload?project_id={}&name={}&kind={}",
                encode(project.get().map(|s| s.value()).unwrap_or_default()),
                encode(name.get().map(|s| s.value()).unwrap_or_default()),
                encode(kind.get().map(|s| s.value()).unwrap_or_default()),
            );
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                let result: Result<serde_json::Value, AppError> =
                    crate::ui::post_file(l, &url, file).await;
                busy.set(false);
                match result {
                    Ok(made) => {
                        let id = made["id"].as_str().unwrap_or_default().to_string();
                        crate::ui::hard_redirect(&format!("/inventory/plans/{id}?edit=1"));
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, project, name, kind, busy);
    };
    let for_field =
        move |f: &'static str| Signal::derive(move || error.get().and_then(|e| e.for_field(f)));
    let (file_error, name_error) = (for_field("file"), for_field("name"));
    let other = Signal::derive(move || match error.get() {
        Some(AppError::Validation { field, .. }) if field == "file" || field == "name" => None,
        Some(e) => Some(e.to_string()),
        None => None,
    });
    view! {
        <Card title=t(l, "inventory.setup.new_plan")>
            {if projects.is_empty() {
                view! { <p class="text-sm text-muted">{tr("inventory.setup.project_first")}</p> }.into_any()
            } else {
                view! {
                    <form class="grid gap-3 md:grid-cols-2" on:submit=on_submit novalidate="" data-testid="plan-upload">
                        <div class="md:col-span-2"><Alert message=other/></div>
                        <div class="field">
                            <label for="f-plan-project" class="field-label">{tr("inventory.project")}</label>
                            <select id="f-plan-project" class="input" node_ref=project>
                                {projects.iter().map(|p| view! { <option value=p.id.to_string()>{p.name.clone()}</option> }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="f-plan-name" class="field-label">{tr("inventory.setup.plan_name")}</label>
                            <input id="f-plan-name" class="input" maxlength="200" required=true node_ref=name
                                aria-invalid=move || name_error.get().is_some().then_some("true")
                                aria-describedby=move || name_error.get().is_some().then_some("f-plan-name-error")/>
                            {move || name_error.get().map(|e| view! { <p id="f-plan-name-error" class="field-error" role="alert">{e}</p> })}
                        </div>
                        <div class="field">
                            <label for="f-plan-kind" class="field-label">{tr("inventory.setup.plan_kind")}</label>
                            <select id="f-plan-kind" class="input" node_ref=kind>
                                <option value="FLOOR">{tr("inventory.setup.floor_plan")}</option>
                                <option value="SITE">{tr("inventory.setup.site_plan")}</option>
                            </select>
                        </div>
                        <div class="field">
                            <label for="f-plan-file" class="field-label">{tr("inventory.setup.plan_file")}</label>
                            <input id="f-plan-file" type="file" class="input" node_ref=file_input
                                accept=".png,.jpg,.jpeg,.webp,.svg,image/png,image/jpeg,image/webp,image/svg+xml"
                                aria-invalid=move || file_error.get().is_some().then_some("true")
                                aria-describedby=move || if file_error.get().is_some() { "f-plan-file-error" } else { "f-plan-file-hint" }/>
                            <p id="f-plan-file-hint" class="field-hint">{tr("inventory.setup.plan_file_hint")}</p>
                            {move || file_error.get().map(|e| view! { <p id="f-plan-file-error" class="field-error" role="alert">{e}</p> })}
                        </div>
                        <div class="md:col-span-2">
                            <Submit label=t(l, "inventory.setup.upload") pending=busy/>
                        </div>
                    </form>
                }.into_any()
            }}
        </Card>
    }
}

#[component]
fn Types(types: Vec<TypeRow>, refresh: Callback<Done>) -> impl IntoView {
    let l = locale();
    let save = ServerAction::<SaveUnitType>::new();
    let delete = ServerAction::<DeleteUnitType>::new();
    let value = save.value();
    Effect::new(move || {
        if matches!(save.value().get(), Some(Ok(()))) {
            refresh.run(Done::said(l, "inventory.types.saved"));
        }
        if matches!(delete.value().get(), Some(Ok(()))) {
            refresh.run(Done::said(l, "inventory.types.deleted"));
        }
    });
    let delete_error = Signal::derive(move || match delete.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    });
    view! {
        <Card title=t(l, "inventory.types.title")>
            <Alert message=delete_error/>
            <div class="table-wrap">
                <table class="table" data-testid="types-table">
                    <thead><tr>
                        <th>{tr("inventory.types.code_label")}</th>
                        <th>{tr("inventory.types.label_label")}</th>
                        <th>{tr("inventory.types.kind_label")}</th>
                        <th>{tr("inventory.types.source")}</th>
                        <th><span class="sr-only">{tr("inventory.actions")}</span></th>
                    </tr></thead>
                    <tbody>
                        {types.into_iter().map(|ty| view! {
                            <tr>
                                <td><code>{ty.code.clone()}</code></td>
                                <td>{ty.label.clone()}</td>
                                <td>{tr(&format!("inventory.types.kind_{}", ty.kind.to_lowercase()))}</td>
                                <td>{if ty.global { tr("inventory.types.global") } else { tr("inventory.types.own") }}</td>
                                <td>{(!ty.global).then(|| view! {
                                    <ActionForm action=delete>
                                        <input type="hidden" name="code" value=ty.code.clone()/>
                                        <button type="submit" class="btn btn-ghost">{tf(l, "inventory.types.delete", &[("code", ty.code.clone())])}</button>
                                    </ActionForm>
                                })}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <ActionForm action=save attr:class="grid gap-3 md:grid-cols-4 items-end mt-4" attr:novalidate="" attr:data-testid="type-form">
                <Field label=t(l, "inventory.types.code_label") name="code" hint=t(l, "inventory.types.code_hint") error=field_error(value, "code")/>
                <Field label=t(l, "inventory.types.label_label") name="label" error=field_error(value, "label")/>
                <div class="field">
                    <label for="f-type-kind" class="field-label">{tr("inventory.types.kind_label")}</label>
                    <select id="f-type-kind" name="kind" class="input">
                        <option value="UNIT">{tr("inventory.types.kind_unit")}</option>
                        <option value="COMPONENT">{tr("inventory.types.kind_component")}</option>
                    </select>
                </div>
                <Submit label=t(l, "inventory.types.save") pending=save.pending()/>
            </ActionForm>
        </Card>
    }
}

#[component]
fn HoldPolicy(hours: i32, reminder: i32, reserve_at: Option<i32>) -> impl IntoView {
    let l = locale();
    let save = ServerAction::<SaveHoldPolicy>::new();
    let value = save.value();
    view! {
        <Card title=t(l, "inventory.holds.title")>
            <ActionForm action=save attr:class="grid gap-3 md:grid-cols-2 items-end" attr:novalidate="" attr:data-testid="hold-policy">
                <Field label=t(l, "inventory.holds.hours_label") name="hours" kind="number" value=hours.to_string()
                    required=true error=field_error(value, "hours")/>
                <Field label=t(l, "inventory.holds.reminder_label") name="reminder_hours" kind="number" value=reminder.to_string()
                    hint=t(l, "inventory.holds.reminder_hint") error=field_error(value, "reminder_hours")/>
                <Field label=t(l, "inventory.holds.reserve_at_label") name="reserve_at" kind="number"
                    value=reserve_at.map(|p| p.to_string()).unwrap_or_default()
                    hint=t(l, "inventory.holds.reserve_at_hint") error=field_error(value, "reserve_at")/>
                <Submit label=t(l, "inventory.holds.save") pending=save.pending()/>
            </ActionForm>
            {move || matches!(value.get(), Some(Ok(()))).then(|| view! { <p role="status" class="text-sm mt-2">{tr("common.saved")}</p> })}
        </Card>
    }
}
