//! Templates: the list (by folder, with tags), the editor with a live preview against a
//! real lead — rendered in the browser by the same code the server sends with — and
//! versions with their A/B split and stats.

use super::status_badge;
use crate::i18n::tf;
use crate::outreach::api::*;
use crate::outreach::model::*;
use crate::outreach::template::Template;
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Card, Field, LoadError, Skeleton, Submit,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::HashMap;
use uuid::Uuid;

const TEMPLATE_FIELDS: &[&str] = &[
    "name",
    "channel",
    "locale",
    "folder",
    "tags",
    "wa_template_name",
    "approval_status",
    "subject",
    "body",
];

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_templates());
    view! {
        <div class="grid gap-4 xl:grid-cols-[1fr_28rem]">
            <Card title=tr("outreach.templates")>
                <Suspense fallback=|| view! { <Skeleton lines=4/> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(rows) if rows.is_empty() => view! {
                                <div class="empty-state"><p>{tr("outreach.no_templates")}</p></div>
                            }.into_any(),
                            Ok(rows) => view! { <TemplateTable rows/> }.into_any(),
                            Err(error) => view! { <LoadError error/> }.into_any(),
                        }
                    })}
                </Suspense>
                <details class="mt-4" data-testid="archived-templates">
                    <summary class="cursor-pointer text-sm">{tr("outreach.archived_templates")}</summary>
                    <ArchivedTemplates/>
                </details>
            </Card>
            <NewTemplate/>
        </div>
    }
}

/// The templates put away, loaded when the member opens the list.
#[component]
fn ArchivedTemplates() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_archived_templates());
    view! {
        <Suspense fallback=|| view! { <Skeleton lines=2/> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="text-sm text-muted mt-2">{tr("outreach.no_archived_templates")}</p> }.into_any(),
                    Ok(rows) => view! { <TemplateTable rows/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TemplateTable(rows: Vec<TemplateSummary>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="templates-table">
                <thead><tr>
                    <th scope="col">{tr("outreach.folder")}</th>
                    <th scope="col">{tr("outreach.name")}</th>
                    <th scope="col">{tr("outreach.channel")}</th>
                    <th scope="col">{tr("outreach.approval")}</th>
                    <th scope="col" class="text-end">{tr("outreach.sent")}</th>
                    <th scope="col" class="text-end">{tr("outreach.reply_rate")}</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|t| view! {
                        <tr>
                            <td>{t.folder.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>
                                <a class="link" href=format!("/outreach/templates/{}", t.id)>{t.name.clone()}</a>
                                {t.tags.iter().map(|tag| view! { <span class="badge badge-neutral ms-1">{tag.clone()}</span> }).collect_view()}
                            </td>
                            <td>{tr(&format!("outreach.channel.{}", t.channel.code()))}</td>
                            <td>{status_badge(t.approval_status.code())}</td>
                            <td class="text-end tabular-nums">{t.sent}</td>
                            <td class="text-end tabular-nums">{format!("{:.1}%", rate(t.replied, t.sent))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn NewTemplate() -> impl IntoView {
    let action = ServerAction::<SaveTemplate>::new();
    let value = action.value();
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(Ok(id)) = value.get() {
            navigate(&format!("/outreach/templates/{id}"), Default::default());
        }
    });
    let channel = RwSignal::new("WHATSAPP".to_string());
    let subject = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    view! {
        <Card title=tr("outreach.new_template")>
            <ActionForm action attr:class="space-y-3" attr:data-testid="template-form" attr:novalidate="">
                <Field label=tr("outreach.name") name="name" required=true error=field_error(value, "name")/>
                <div class="field">
                    <label for="f-channel" class="field-label">{tr("outreach.channel")}</label>
                    <select id="f-channel" name="channel" class="input" on:change=move |ev| channel.set(event_target_value(&ev))>
                        {Channel::ALL.into_iter().map(|c| view! { <option value=c.code()>{tr(&format!("outreach.channel.{}", c.code()))}</option> }).collect_view()}
                    </select>
                </div>
                <div class="grid grid-cols-2 gap-3">
                    <Field label=tr("outreach.locale") name="locale" value="en" error=field_error(value, "locale")/>
                    <Field label=tr("outreach.folder") name="folder" error=field_error(value, "folder")/>
                </div>
                <Field label=tr("outreach.tags") name="tags" hint=tr("outreach.tags_hint") error=field_error(value, "tags")/>
                {move || (channel.get() == "WHATSAPP").then(|| view! {
                    <div class="grid grid-cols-2 gap-3">
                        <Field label=tr("outreach.wa_template_name") name="wa_template_name" hint=tr("outreach.wa_template_hint") error=field_error(value, "wa_template_name")/>
                        <div class="field">
                            <label for="f-approval" class="field-label">{tr("outreach.approval")}</label>
                            <select id="f-approval" name="approval_status" class="input">
                                {TemplateApproval::CODES.iter().map(|&s| view! { <option value=s>{tr(&format!("outreach.status.{s}"))}</option> }).collect_view()}
                            </select>
                        </div>
                    </div>
                })}
                <TextFields channel=channel.into() subject body subject_error=field_error(value, "subject") body_error=field_error(value, "body")/>
                <Preview channel=channel.into() subject body/>
                <Submit label=tr("outreach.create_template") pending=action.pending()/>
                <Alert message=form_error(value, TEMPLATE_FIELDS)/>
            </ActionForm>
        </Card>
    }
}

/// Subject (email) and body, feeding the live preview as the member types.
#[component]
fn TextFields(
    channel: Signal<String>,
    subject: RwSignal<String>,
    body: RwSignal<String>,
    subject_error: Signal<Option<String>>,
    body_error: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        {move || (channel.get() == "EMAIL").then(|| view! {
            <div class="field">
                <label for="f-subject" class="field-label">{tr("outreach.subject")}</label>
                <input id="f-subject" name="subject" class="input" prop:value=move || subject.get()
                    on:input=move |ev| subject.set(event_target_value(&ev))/>
                {move || subject_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            </div>
        })}
        <div class="field">
            <label for="f-body" class="field-label">{tr("outreach.body")}</label>
            <textarea id="f-body" name="body" class="input font-mono" rows="6" aria-describedby="f-body-hint"
                prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
            <p id="f-body-hint" class="field-hint">{tr("outreach.body_hint")}</p>
            {move || body_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        </div>
    }
}

/// The text one lead would get, or what is wrong with the template and where.
#[component]
fn Preview(
    channel: Signal<String>,
    subject: RwSignal<String>,
    body: RwSignal<String>,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let leads = Resource::new(move || query.get(), preview_leads);
    let chosen = RwSignal::new(None::<PreviewLead>);
    let render = move |text: String,
                       values: &HashMap<String, String>,
                       lead: Option<Uuid>|
          -> Result<String, String> {
        let describe = |e: &crate::outreach::template::TemplateError| {
            let (key, args) = e.describe();
            tf(locale(), key, &args)
        };
        let template = Template::parse(&text).map_err(|e| describe(&e))?;
        template
            .check(&TEMPLATE_VARIABLES, lead.map(|_| values))
            .map_err(|e| describe(&e))?;
        let seed = lead
            .map(|id| crate::outreach::template::seed_for(id.as_bytes(), 1))
            .unwrap_or(1);
        Ok(template.render(values, seed))
    };
    let output = move || {
        let lead = chosen.get();
        let values: HashMap<String, String> = lead
            .as_ref()
            .map(|l| l.values.iter().cloned().collect())
            .unwrap_or_default();
        let id = lead.as_ref().map(|l| l.id);
        let subject = (channel.get() == "EMAIL").then(|| render(subject.get(), &values, id));
        (subject, render(body.get(), &values, id))
    };
    view! {
        <section class="space-y-2" aria-labelledby="preview-title" data-testid="preview">
            <h3 id="preview-title" class="font-semibold text-sm">{tr("outreach.preview")}</h3>
            <div class="field">
                <label for="f-preview-lead" class="field-label">{tr("outreach.preview_lead")}</label>
                <input id="f-preview-lead" class="input" type="search" placeholder=tr("outreach.preview_search")
                    on:input=move |ev| query.set(event_target_value(&ev))/>
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = leads.await.unwrap_or_default();
                    view! {
                        <ul class="flex flex-wrap gap-1" aria-label=tr("outreach.matching_leads")>
                            {list.into_iter().take(8).map(|l| {
                                let name = l.name.clone();
                                let id = l.id;
                                view! {
                                    <li><button type="button" class="chip" class:chip-on=move || chosen.get().map(|c| c.id) == Some(id)
                                        aria-pressed=move || (chosen.get().map(|c| c.id) == Some(id)).to_string()
                                        on:click=move |_| chosen.set(Some(l.clone()))>{name}</button></li>
                                }
                            }).collect_view()}
                        </ul>
                    }
                })}
            </Suspense>
            {move || {
                let (subject, body) = output();
                view! {
                    {subject.map(|s| match s {
                        Ok(s) => view! { <p class="preview font-medium" data-testid="preview-subject">{s}</p> }.into_any(),
                        Err(e) => view! { <p class="field-error" role="status" data-testid="preview-error">{e}</p> }.into_any(),
                    })}
                    {match body {
                        Ok(b) => view! { <p class="preview" data-testid="preview-body">{b}</p> }.into_any(),
                        Err(e) => view! { <p class="field-error" role="status" data-testid="preview-error">{e}</p> }.into_any(),
                    }}
                }
            }}
        </section>
    }
}

#[component]
pub fn TemplatePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .get()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    });
    let saved = RwSignal::new(0_u32);
    let detail = Resource::new(
        move || (id.get(), saved.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_template(id).await,
                None => Err(crate::error::AppError::NotFound(String::new())),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <TemplateView d saved/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TemplateView(d: TemplateDetail, saved: RwSignal<u32>) -> impl IntoView {
    let s = d.summary.clone();
    let meta = ServerAction::<SaveTemplate>::new();
    let meta_value = meta.value();
    Effect::new(move || {
        if let Some(Ok(_)) = meta_value.get() {
            saved.update(|n| *n += 1);
        }
    });
    let channel = Signal::derive(move || s.channel.code().to_string());
    let is_wa = d.summary.channel == Channel::WhatsApp;
    let archive = ServerAction::<SetTemplateArchived>::new();
    Effect::new(move || {
        if let Some(Ok(())) = archive.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let archived = d.summary.archived;
    let template_id = d.summary.id;
    let manage = crate::ui::page()
        .viewer
        .is_some_and(|v| v.can(crate::auth::model::Permission::OutreachManage));
    view! {
        {archived.then(|| view! { <p class="alert alert-warning mb-3" role="status">{tr("outreach.template_archived_note")}</p> })}
        {manage.then(|| view! {
            <div class="flex items-center gap-3 mb-3">
                <ActionForm action=archive attr:class="ms-auto">
                    <input type="hidden" name="id" value=template_id.to_string()/>
                    <input type="hidden" name="archived" value=(!archived).to_string()/>
                    <button type="submit" class="btn btn-ghost" data-testid="template-archive">
                        {if archived { tr("outreach.restore") } else { tr("outreach.archive") }}
                    </button>
                </ActionForm>
            </div>
            <Alert message=form_error(archive.value(), &[])/>
        })}
        <div class="grid gap-4 xl:grid-cols-[1fr_28rem]">
            <div class="space-y-4">
                <Card title=d.summary.name.clone()>
                    <ActionForm action=meta attr:class="grid gap-3 md:grid-cols-2" attr:data-testid="template-meta" attr:novalidate="">
                        <input type="hidden" name="id" value=d.summary.id.to_string()/>
                        <input type="hidden" name="channel" value=d.summary.channel.code()/>
                        <Field label=tr("outreach.name") name="name" value=d.summary.name.clone() error=field_error(meta_value, "name")/>
                        <Field label=tr("outreach.locale") name="locale" value=d.summary.locale.clone() error=field_error(meta_value, "locale")/>
                        <Field label=tr("outreach.folder") name="folder" value=d.summary.folder.clone().unwrap_or_default() error=field_error(meta_value, "folder")/>
                        <Field label=tr("outreach.tags") name="tags" value=d.summary.tags.join(", ") error=field_error(meta_value, "tags")/>
                        {is_wa.then(|| {
                            let current = d.summary.approval_status.code();
                            view! {
                                <Field label=tr("outreach.wa_template_name") name="wa_template_name" value=d.wa_template_name.clone().unwrap_or_default() error=field_error(meta_value, "wa_template_name")/>
                                <div class="field">
                                    <label for="f-approval" class="field-label">{tr("outreach.approval")}</label>
                                    <select id="f-approval" name="approval_status" class="input">
                                        {TemplateApproval::CODES.iter().map(|&st| view! {
                                            <option value=st selected=current == st>{tr(&format!("outreach.status.{st}"))}</option>
                                        }).collect_view()}
                                    </select>
                                </div>
                            }
                        })}
                        <div class="md:col-span-2 flex items-center gap-3">
                            <Submit label=tr("common.save") pending=meta.pending()/>
                            <Alert message=form_error(meta_value, TEMPLATE_FIELDS)/>
                        </div>
                    </ActionForm>
                </Card>
                <Card title=tr("outreach.versions")>
                    <Versions template_id=d.summary.id versions=d.versions.clone() saved/>
                </Card>
                <Card title=tr(if is_wa { "outreach.file.header_title" } else { "outreach.file.attachments_title" })>
                    <TemplateFiles template_id is_wa files=d.files.clone() saved manage/>
                </Card>
            </div>
            <NewVersion template_id=d.summary.id channel saved/>
        </div>
    }
}

#[component]
fn Versions(template_id: Uuid, versions: Vec<VersionView>, saved: RwSignal<u32>) -> impl IntoView {
    let total: i32 = versions.iter().filter(|v| v.active).map(|v| v.weight).sum();
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="versions-table">
                <thead><tr>
                    <th scope="col">{tr("outreach.version")}</th>
                    <th scope="col">{tr("outreach.text")}</th>
                    <th scope="col" class="text-end">{tr("outreach.split")}</th>
                    <th scope="col" class="text-end">{tr("outreach.sent")}</th>
                    <th scope="col" class="text-end">{tr("outreach.delivered")}</th>
                    <th scope="col" class="text-end">{tr("outreach.replied")}</th>
                    <th scope="col" class="text-end">{tr("outreach.reply_rate")}</th>
                    <th scope="col"><span class="sr-only">{tr("common.actions")}</span></th>
                </tr></thead>
                <tbody>
                    {versions.into_iter().map(|v| {
                        let share = if v.active && total > 0 { v.weight as f64 * 100.0 / total as f64 } else { 0.0 };
                        let action = ServerAction::<SaveVersion>::new();
                        let value = action.value();
                        Effect::new(move || if let Some(Ok(_)) = value.get() { saved.update(|n| *n += 1) });
                        let rate_text = format!("{:.1}%", v.reply_rate());
                        view! {
                            <tr>
                                <td><span class="font-medium">{format!("{} · v{}", v.label, v.version_no)}</span>
                                    {(!v.active).then(|| view! { <span class="badge badge-neutral ms-1">{tr("outreach.inactive")}</span> })}</td>
                                <td class="max-w-md">
                                    {v.subject.clone().map(|s| view! { <p class="font-medium text-sm">{s}</p> })}
                                    <p class="text-sm whitespace-pre-wrap">{v.body.clone()}</p>
                                </td>
                                <td class="text-end tabular-nums">{format!("{share:.0}%")}</td>
                                <td class="text-end tabular-nums">{v.sent}</td>
                                <td class="text-end tabular-nums">{v.delivered}</td>
                                <td class="text-end tabular-nums">{v.replied}</td>
                                <td class="text-end tabular-nums">{rate_text}</td>
                                <td>
                                    <ActionForm action attr:class="flex items-center gap-2" attr:novalidate="">
                                        <input type="hidden" name="template_id" value=template_id.to_string()/>
                                        <input type="hidden" name="version_id" value=v.id.to_string()/>
                                        <label class="sr-only" for=format!("w-{}", v.id)>{tr("outreach.weight")}</label>
                                        <input id=format!("w-{}", v.id) name="weight" type="number" min="0" max="100" class="input w-20" value=v.weight.to_string()/>
                                        <label class="flex items-center gap-1 text-sm">
                                            <input type="checkbox" name="active" checked=v.active/>{tr("outreach.active")}
                                        </label>
                                        <button type="submit" class="btn btn-ghost">{tr("common.save")}</button>
                                    </ActionForm>
                                    {move || value.get().and_then(|r| r.err()).map(|e| view! { <p class="field-error" role="alert">{e.to_string()}</p> })}
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
fn NewVersion(template_id: Uuid, channel: Signal<String>, saved: RwSignal<u32>) -> impl IntoView {
    let action = ServerAction::<SaveVersion>::new();
    let value = action.value();
    let subject = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    Effect::new(move || {
        if let Some(Ok(_)) = value.get() {
            subject.set(String::new());
            body.set(String::new());
            saved.update(|n| *n += 1);
        }
    });
    view! {
        <Card title=tr("outreach.new_version")>
            <ActionForm action attr:class="space-y-3" attr:data-testid="version-form" attr:novalidate="">
                <input type="hidden" name="template_id" value=template_id.to_string()/>
                <input type="hidden" name="active" value="on"/>
                <div class="grid grid-cols-2 gap-3">
                    <Field label=tr("outreach.label") name="label" value="B" error=field_error(value, "label")/>
                    <Field label=tr("outreach.weight") name="weight" kind="number" value="50" hint=tr("outreach.weight_hint") error=field_error(value, "weight")/>
                </div>
                <TextFields channel subject body subject_error=field_error(value, "subject") body_error=field_error(value, "body")/>
                <Preview channel subject body/>
                <Submit label=tr("outreach.add_version") pending=action.pending()/>
                <Alert message=form_error(value, &["label", "weight", "subject", "body", "active"])/>
            </ActionForm>
        </Card>
    }
}

/// A template's files: the WhatsApp header, or the email attachments; each opens as a
/// download, and managers attach and remove them.
#[component]
fn TemplateFiles(
    template_id: Uuid,
    is_wa: bool,
    files: Vec<TemplateFileView>,
    saved: RwSignal<u32>,
    manage: bool,
) -> impl IntoView {
    let l = locale();
    let remove = ServerAction::<RemoveTemplateFile>::new();
    Effect::new(move || {
        if let Some(Ok(())) = remove.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let room = if is_wa {
        files.is_empty()
    } else {
        files.len() < EMAIL_MAX_ATTACHMENTS
    };
    let hint = if is_wa {
        "outreach.file.header_hint"
    } else {
        "outreach.file.attachments_hint"
    };
    view! {
        <p class="text-sm text-muted mb-3">{tr(hint)}</p>
        {if files.is_empty() {
            view! { <p class="text-sm" data-testid="template-files-empty">{tr("outreach.file.none")}</p> }.into_any()
        } else {
            view! {
                <ul class="divide-y divide-line" aria-label=tr("outreach.file.list") data-testid="template-files">
                    {files.into_iter().map(|f| {
                        let size = crate::l10n::file_size(l, i64::from(f.byte_size));
                        let remove_label = tf(l, "outreach.file.remove", &[("name", f.file_name.clone())]);
                        view! {
                            <li class="flex items-center gap-3 py-2">
                                {f.is_image().then(|| view! {
                                    <img src=f.url() alt="" class="h-10 w-10 rounded object-cover border border-line" loading="lazy"/>
                                })}
                                <div class="min-w-0 flex-1">
                                    <a class="link break-all" href=f.url() download=f.file_name.clone() rel="external">{f.file_name.clone()}</a>
                                    <p class="text-xs text-muted tabular-nums">{size}</p>
                                </div>
                                {manage.then(|| view! {
                                    <ActionForm action=remove>
                                        <input type="hidden" name="id" value=f.id.to_string()/>
                                        <button type="submit" class="btn btn-ghost" aria-label=remove_label>{tr("common.remove")}</button>
                                    </ActionForm>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <Alert message=form_error(remove.value(), &[])/>
        {(manage && room).then(|| view! { <AttachFile template_id saved/> })}
    }
}

/// Sends a chosen file as the request body to the template's files.
#[component]
fn AttachFile(template_id: Uuid, saved: RwSignal<u32>) -> impl IntoView {
    let l = locale();
    let error = RwSignal::new(None::<crate::error::AppError>);
    let busy = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let file = file_input
                .get()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            let Some(file) = file else {
                error.set(Some(crate::error::AppError::field(
                    "file",
                    crate::i18n::t(l, "outreach.file.empty"),
                )));
                return;
            };
            let url = format!(
                "/outreach/templates/files?template_id={template_id}&name={}",
                String::from(js_sys::encode_uri_component(&file.name()))
            );
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                let result: Result<TemplateFileView, crate::error::AppError> =
                    crate::ui::post_file(l, &url, file).await;
                busy.set(false);
                match result {
                    Ok(_) => saved.update(|n| *n += 1),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, template_id, saved, l);
    };
    let file_error = Signal::derive(move || {
        error
            .get()
            .and_then(|e| e.for_field("file").or_else(|| e.for_field("name")))
    });
    let other = Signal::derive(move || match error.get() {
        Some(crate::error::AppError::Validation { field, .. })
            if field == "file" || field == "name" =>
        {
            None
        }
        Some(e) => Some(e.to_string()),
        None => None,
    });
    view! {
        <form class="mt-3 flex flex-wrap items-end gap-3" on:submit=on_submit novalidate="" data-testid="template-file-form">
            <div class="field min-w-0 flex-1">
                <label for="f-template-file" class="field-label">{tr("outreach.file.choose")}</label>
                <input id="f-template-file" type="file" class="input" node_ref=file_input
                    accept=".pdf,.png,.jpg,.jpeg,.docx,.xlsx,.pptx,application/pdf,image/png,image/jpeg"
                    aria-invalid=move || file_error.get().is_some().then_some("true")
                    aria-describedby=move || file_error.get().is_some().then_some("f-template-file-error")/>
                {move || file_error.get().map(|e| view! { <p id="f-template-file-error" class="field-error" role="alert">{e}</p> })}
            </div>
            <Submit label=tr("outreach.file.attach") pending=busy/>
            <div class="basis-full"><Alert message=other/></div>
        </form>
    }
}
