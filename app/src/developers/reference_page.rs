//! The API reference in the app (Settings → Developers → API reference): every
//! operation of the OpenAPI document, grouped by resource, with its parameters, body
//! fields and answers, and a contents list to jump to one.

use super::api::get_api_reference;
use super::model::{ApiField, ApiOperation};
use crate::ui::{tr, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;

fn method_tone(method: &str) -> &'static str {
    match method {
        "GET" => "badge badge-neutral",
        "POST" => "badge badge-success",
        "DELETE" => "badge badge-danger",
        _ => "badge badge-warning",
    }
}

#[component]
fn Fields(#[prop(into)] caption: String, fields: Vec<ApiField>) -> impl IntoView {
    (!fields.is_empty()).then(|| {
        view! {
            <div class="table-wrap mt-2">
                <table class="table">
                    <caption class="text-start text-sm font-medium">{caption}</caption>
                    <thead><tr>
                        <th scope="col">{tr("developers.ref.name")}</th>
                        <th scope="col">{tr("developers.ref.type")}</th>
                        <th scope="col">{tr("developers.ref.about")}</th>
                    </tr></thead>
                    <tbody>
                        {fields.into_iter().map(|f| view! {
                            <tr>
                                <td>
                                    <code dir="ltr">{f.name}</code>
                                    {f.required.then(|| view! { <span class="block text-xs text-muted">{tr("developers.ref.required")}</span> })}
                                    {(f.location != "body").then(|| view! { <span class="block text-xs text-muted">{f.location}</span> })}
                                </td>
                                <td class="text-sm font-mono" dir="ltr">{f.kind}</td>
                                <td class="text-sm">{f.description}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
    })
}

#[component]
fn Operation(op: ApiOperation) -> impl IntoView {
    let anchor = op.anchor();
    let heading = format!("{anchor}-title");
    let labelled_by = heading.clone();
    view! {
        <section id=anchor class="border-t pt-3 mt-3" aria-labelledby=labelled_by>
            <h3 id=heading class="font-medium flex items-center gap-2" dir="ltr">
                <span class=method_tone(&op.method)>{op.method.clone()}</span>
                " "
                <code>{format!("/api/v1{}", op.path)}</code>
            </h3>
            {(!op.description.is_empty()).then(|| view! { <p class="text-sm mt-1 whitespace-pre-line">{op.description.clone()}</p> })}
            <Fields caption=tr("developers.ref.parameters") fields=op.params/>
            <Fields caption=tr("developers.ref.body") fields=op.body/>
            <p class="text-sm mt-2 font-medium">{tr("developers.ref.responses")}</p>
            <ul class="text-sm">
                {op.responses.into_iter().map(|(code, about)| view! {
                    <li><code>{code}</code>" " {about}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let reference = Resource::new(|| (), |_| get_api_reference());
    view! {
        <PageHeader title=tr("developers.ref.title")/>
        <p class="mb-3 text-sm">
            <a class="link" href="/settings/developers">{tr("developers.back")}</a>
            " · "
            <a class="link" href="/api/v1/openapi.json">{tr("developers.openapi")}</a>
        </p>
        <Transition fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                match reference.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(r) => {
                        let contents = r.groups.iter().map(|g| {
                            let first = g.operations.first().map(|o| format!("#{}", o.anchor())).unwrap_or_default();
                            view! { <li><a class="link" href=first>{g.tag.clone()}</a>" " <span class="text-muted">{format!("({})", g.operations.len())}</span></li> }
                        }).collect_view();
                        view! {
                            <section class="card" aria-labelledby="api-intro-title">
                                <h2 id="api-intro-title" class="card-title">{r.title.clone()}</h2>
                                <p class="text-sm">{r.description.clone()}</p>
                                <p class="text-sm mt-2">{tr("developers.ref.auth")}</p>
                                <nav aria-label=tr("developers.ref.contents") class="mt-2">
                                    <ul class="text-sm flex flex-wrap gap-x-4 gap-y-1">{contents}</ul>
                                </nav>
                            </section>
                            {r.groups.into_iter().map(|g| {
                                let id = format!("tag-{}", g.tag.replace(' ', "-"));
                                let labelled_by = id.clone();
                                view! {
                                    <section class="card mt-3" aria-labelledby=labelled_by>
                                        <h2 id=id class="card-title" dir="ltr">{g.tag.clone()}</h2>
                                        {g.operations.into_iter().map(|op| view! { <Operation op=op/> }).collect_view()}
                                    </section>
                                }
                            }).collect_view()}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
