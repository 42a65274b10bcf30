//! Settings → Developers, the lead sources: website forms (an endpoint and a signing
//! secret each) and Facebook Lead Ads (a Page, with the callback URL and verify token
//! to give Meta). Each list shows what the source has sent and its last error, and
//! pauses or resumes it.

use super::api::*;
use super::model::*;
use super::ui::{when, ShownOnce};
use crate::i18n::tf;
use crate::ui::{field_error, form_error, locale, tr, Alert, Badge, LoadError, Skeleton};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// What a source has sent and its last error: the lists' activity cell.
#[component]
fn Activity(
    received: i64,
    last_event_at: Option<DateTime<Utc>>,
    /// Leads waiting to be fetched and those that failed for good, where the source
    /// has such a queue.
    #[prop(default = None)]
    queue: Option<(i64, i64)>,
    last_error: Option<String>,
    #[prop(default = None)] last_error_at: Option<DateTime<Utc>>,
) -> impl IntoView {
    let l = locale();
    view! {
        <td class="text-sm tabular-nums" data-testid="source-activity">
            {match last_event_at {
                Some(at) => tf(l, "developers.received_count", &[("count", received.to_string()), ("at", when(Some(at)))]),
                None => received.to_string(),
            }}
            {queue.filter(|(pending, failed)| pending + failed > 0).map(|(pending, failed)| view! {
                <span class="block text-muted">
                    {tf(l, "developers.facebook.queue", &[("pending", pending.to_string()), ("failed", failed.to_string())])}
                </span>
            })}
            {last_error.map(|e| view! {
                <span class="block text-danger" data-testid="source-last-error">
                    {last_error_at.map(|at| format!("{} · ", when(Some(at))))}{e}
                </span>
            })}
        </td>
    }
}

/// Pause or resume, with the state as a badge.
#[component]
fn PauseCell(active: bool, #[prop(into)] name: String, on_toggle: Callback<()>) -> impl IntoView {
    let l = locale();
    let label = if active {
        tf(l, "developers.pause_named", &[("name", name)])
    } else {
        tf(l, "developers.resume_named", &[("name", name)])
    };
    view! {
        <td class="text-end whitespace-nowrap">
            {(!active).then(|| view! { <Badge text=tr("developers.paused") tone="warning"/> " " })}
            <button type="button" class="btn btn-secondary" aria-label=label
                on:click=move |_| on_toggle.run(())>
                {if active { tr("developers.pause") } else { tr("developers.resume") }}
            </button>
        </td>
    }
}

/// A text field of a source's form, with its error beside it.
#[component]
fn SourceField(
    id: &'static str,
    #[prop(into)] label: String,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = false)] required: bool,
    #[prop(default = 100)] max: usize,
    #[prop(optional, into)] hint: Option<String>,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    let described = hint.is_some().then(|| hint_id.clone());
    view! {
        <div class="field">
            <label for=id class="field-label">{label}</label>
            <input id=id class="input" type=kind required=required maxlength=max.to_string() autocomplete="off"
                aria-describedby=described
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))
                aria-invalid=move || error.get().is_some().then_some("true")/>
            {hint.map(|h| view! { <p id=hint_id class="field-hint">{h}</p> })}
            {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        </div>
    }
}

/// Website forms that send leads: each has an endpoint and a signing secret; what it
/// has sent and its last refusal show in the list.
#[component]
pub fn FormSources() -> impl IntoView {
    let create = ServerAction::<CreateFormSource>::new();
    let toggle = ServerAction::<SetFormSourceActive>::new();
    let forms = Resource::new(
        move || (create.version().get(), toggle.version().get()),
        |_| list_form_sources(),
    );
    let name = RwSignal::new(String::new());
    let source = RwSignal::new(String::new());
    let value = create.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateFormSource {
            input: NewFormSource {
                name: name.get_untracked(),
                lead_source: source.get_untracked(),
            },
        });
    };
    let create_error = form_error(value, &["name", "lead_source"]);
    let errors = move || {
        [
            create_error.get(),
            toggle
                .value()
                .get()
                .and_then(|r| r.err())
                .map(|e| e.to_string()),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    view! {
        <section class="card mt-4" aria-labelledby="forms-title">
            <h2 id="forms-title" class="card-title">{tr("developers.forms")}</h2>
            <p class="text-sm text-muted mb-3">{tr("developers.forms_intro")}</p>
            <form on:submit=submit class="grid gap-3 sm:grid-cols-2 mb-4" aria-label=tr("developers.new_form")>
                <SourceField id="f-form-name" label=tr("developers.form_name") value=name required=true
                    error=field_error(value, "name")/>
                <SourceField id="f-form-source" label=tr("developers.lead_source") value=source
                    error=field_error(value, "lead_source") hint=tr("developers.lead_source_hint")/>
                <div>
                    <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>{tr("developers.connect_form")}</button>
                </div>
            </form>
            {move || match value.get() {
                Some(Ok(s)) => Some(view! {
                    <p class="text-sm">{tr("developers.form_endpoint")} " " <code class="break-all" data-testid="new-form-endpoint">{s.endpoint.clone()}</code></p>
                    <ShownOnce label=tr("developers.signing_secret") secret=s.secret.clone() testid="new-form-secret"/>
                }.into_any()),
                _ => None,
            }}
            <Alert message=Signal::derive(errors)/>
            <Transition fallback=|| view! { <Skeleton/> }>
                {move || Suspend::new(async move {
                    match forms.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-muted">{tr("developers.no_forms")}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="form-sources">
                                    <thead><tr>
                                        <th>{tr("developers.form_name")}</th>
                                        <th>{tr("developers.form_endpoint")}</th>
                                        <th>{tr("developers.received")}</th>
                                        <th><span class="sr-only">{tr("jobs.column.actions")}</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|f| {
                                            let (id, active) = (f.id, f.active);
                                            view! {
                                                <tr data-testid="form-source-row">
                                                    <td>
                                                        <span class="font-medium">{f.name.clone()}</span>
                                                        <span class="block text-sm text-muted">{f.lead_source.clone()}</span>
                                                    </td>
                                                    <td><code class="text-sm break-all">{f.endpoint.clone()}</code></td>
                                                    <Activity received=f.received last_event_at=f.last_event_at last_error=f.last_error.clone()/>
                                                    <PauseCell active name=f.name.clone()
                                                        on_toggle=Callback::new(move |()| { toggle.dispatch(SetFormSourceActive { id, active: !active }); })/>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Facebook Pages whose Lead Ads send leads, each through the tenant's own Meta app:
/// the callback URL and verify token to subscribe there, and what came of its leads.
#[component]
pub fn FacebookSources() -> impl IntoView {
    let create = ServerAction::<CreateFacebookSource>::new();
    let toggle = ServerAction::<SetFacebookSourceActive>::new();
    let pages = Resource::new(
        move || (create.version().get(), toggle.version().get()),
        |_| list_facebook_sources(),
    );
    let name = RwSignal::new(String::new());
    let page_id = RwSignal::new(String::new());
    let app_secret = RwSignal::new(String::new());
    let page_token = RwSignal::new(String::new());
    let source = RwSignal::new(String::new());
    let value = create.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateFacebookSource {
            input: NewFacebookSource {
                name: name.get_untracked(),
                page_id: page_id.get_untracked(),
                app_secret: app_secret.get_untracked(),
                page_token: page_token.get_untracked(),
                lead_source: source.get_untracked(),
            },
        });
    };
    // The secrets leave the page once they are saved.
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            app_secret.set(String::new());
            page_token.set(String::new());
        }
    });
    let create_error = form_error(
        value,
        &["name", "page_id", "app_secret", "page_token", "lead_source"],
    );
    let errors = move || {
        [
            create_error.get(),
            toggle
                .value()
                .get()
                .and_then(|r| r.err())
                .map(|e| e.to_string()),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    view! {
        <section class="card mt-4" aria-labelledby="facebook-title">
            <h2 id="facebook-title" class="card-title">{tr("developers.facebook.title")}</h2>
            <p class="text-sm text-muted mb-3">{tr("developers.facebook.intro")}</p>
            <form on:submit=submit class="grid gap-3 sm:grid-cols-2 mb-4" aria-label=tr("developers.facebook.new")>
                <SourceField id="f-fb-name" label=tr("developers.facebook.name") value=name required=true
                    error=field_error(value, "name")/>
                <SourceField id="f-fb-page" label=tr("developers.facebook.page_id") value=page_id required=true max=30
                    error=field_error(value, "page_id") hint=tr("developers.facebook.page_id_hint")/>
                <SourceField id="f-fb-secret" label=tr("developers.facebook.app_secret") value=app_secret required=true
                    kind="password" max=200 error=field_error(value, "app_secret")
                    hint=tr("developers.facebook.app_secret_hint")/>
                <SourceField id="f-fb-token" label=tr("developers.facebook.page_token") value=page_token required=true
                    kind="password" max=2000 error=field_error(value, "page_token")
                    hint=tr("developers.facebook.page_token_hint")/>
                <SourceField id="f-fb-source" label=tr("developers.lead_source") value=source
                    error=field_error(value, "lead_source") hint=tr("developers.facebook.lead_source_hint")/>
                <div class="sm:col-span-2">
                    <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>{tr("developers.facebook.connect")}</button>
                </div>
            </form>
            {move || match value.get() {
                Some(Ok(s)) => Some(view! {
                    <div class="alert alert-success" role="status" data-testid="new-facebook-source">
                        <p>{tr("developers.facebook.subscribe_hint")}</p>
                        <p>{tr("developers.facebook.callback_url")} " " <code class="break-all">{s.callback_url.clone()}</code></p>
                        <p>{tr("developers.facebook.verify_token")} " " <code class="break-all">{s.verify_token.clone()}</code></p>
                    </div>
                }.into_any()),
                _ => None,
            }}
            <Alert message=Signal::derive(errors)/>
            <Transition fallback=|| view! { <Skeleton/> }>
                {move || Suspend::new(async move {
                    match pages.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-muted">{tr("developers.facebook.none")}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="facebook-sources">
                                    <thead><tr>
                                        <th>{tr("developers.facebook.name")}</th>
                                        <th>{tr("developers.facebook.subscription")}</th>
                                        <th>{tr("developers.received")}</th>
                                        <th><span class="sr-only">{tr("jobs.column.actions")}</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|f| {
                                            let (id, active) = (f.id, f.active);
                                            view! {
                                                <tr data-testid="facebook-source-row">
                                                    <td>
                                                        <span class="font-medium">{f.name.clone()}</span>
                                                        <span class="block text-sm text-muted">{f.lead_source.clone()}</span>
                                                        <span class="block text-sm text-muted">{tr("developers.facebook.page_id")} " " {f.page_id.clone()}</span>
                                                    </td>
                                                    <td class="text-sm">
                                                        <span class="block">{tr("developers.facebook.callback_url")}</span>
                                                        <code class="block break-all">{f.callback_url.clone()}</code>
                                                        <span class="block">{tr("developers.facebook.verify_token")}</span>
                                                        <code class="block break-all">{f.verify_token.clone()}</code>
                                                    </td>
                                                    <Activity received=f.received last_event_at=f.last_event_at queue=Some((f.pending, f.failed))
                                                        last_error=f.last_error.clone() last_error_at=f.last_error_at/>
                                                    <PauseCell active name=f.name.clone()
                                                        on_toggle=Callback::new(move |()| { toggle.dispatch(SetFacebookSourceActive { id, active: !active }); })/>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
