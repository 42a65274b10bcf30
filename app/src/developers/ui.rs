//! Settings → Developers: API keys (made, shown once, rotated, revoked), webhook
//! endpoints with their delivery log and replay, and the lead sources
//! (`sources_ui.rs`).

use super::api::*;
use super::model::*;
use crate::billing::api::feature_refusal;
use crate::i18n::{t, tf};
use crate::ui::{
    field_error, form_error, locale, tr, Alert, Badge, LoadError, PageHeader, Skeleton,
};
use chrono::Utc;
use leptos::prelude::*;

/// Puts text on the clipboard (`navigator.clipboard.writeText`), where the browser
/// allows it; the text also stays selectable on the page.
pub(crate) fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let get = |target: &wasm_bindgen::JsValue, key: &str| {
            js_sys::Reflect::get(target, &wasm_bindgen::JsValue::from_str(key)).ok()
        };
        let clipboard = web_sys::window()
            .and_then(|w| get(&w.into(), "navigator"))
            .and_then(|n| get(&n, "clipboard"));
        if let Some(clipboard) = clipboard {
            if let Some(write) =
                get(&clipboard, "writeText").and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            {
                let _ = write.call1(&clipboard, &wasm_bindgen::JsValue::from_str(text));
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// A secret shown once, with a copy button and the warning that it will not be again.
#[component]
pub(crate) fn ShownOnce(
    #[prop(into)] label: String,
    secret: String,
    testid: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let for_copy = secret.clone();
    view! {
        <div class="alert alert-success" role="status">
            <label class="field-label" for=format!("{testid}-value")>{label}</label>
            <div class="flex flex-wrap items-center gap-2">
                <input id=format!("{testid}-value") class="input font-mono grow" readonly value=secret data-testid=testid
                    on:focus=move |ev| {
                        #[cfg(feature = "hydrate")]
                        {
                            use wasm_bindgen::JsCast;
                            if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                input.select();
                            }
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = ev;
                    }/>
                <button type="button" class="btn btn-secondary" on:click=move |_| { copy_text(&for_copy); copied.set(true); }>
                    {move || if copied.get() { tr("developers.copied") } else { tr("developers.copy") }}
                </button>
            </div>
            <p class="field-hint">{tr("developers.shown_once")}</p>
        </div>
    }
}

pub(super) fn when(at: Option<chrono::DateTime<Utc>>) -> String {
    at.map(crate::ui::when).unwrap_or_default()
}

#[component]
pub fn DevelopersPage() -> impl IntoView {
    view! {
        <PageHeader title=tr("settings.developers")/>
        <p class="text-sm text-muted mb-3">
            {tr("developers.intro")} " "
            <a class="link" href="/settings/developers/api">{tr("developers.ref.title")}</a>
            " · "
            <a class="link" href="/api/v1/openapi.json">{tr("developers.openapi")}</a>
        </p>
        <ApiKeys/>
        <Webhooks/>
        <super::sources_ui::FormSources/>
        <super::sources_ui::FacebookSources/>
    }
}

#[component]
fn ApiKeys() -> impl IntoView {
    let l = locale();
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let rotate = ServerAction::<RotateApiKey>::new();
    let keys = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                rotate.version().get(),
            )
        },
        |_| list_api_keys(),
    );
    // Said before the form, so nobody fills it in for nothing.
    let not_in_plan = Resource::new(|| (), |_| feature_refusal("api".to_string()));
    let name = RwSignal::new(String::new());
    let scopes = RwSignal::new(Vec::<String>::new());
    let expiry = RwSignal::new(String::from("365"));
    let ips = RwSignal::new(String::new());
    let value = create.value();
    let name_error = field_error(value, "name");
    let scopes_error = field_error(value, "scopes");
    let ips_error = field_error(value, "allowed_ips");
    let expiry_error = field_error(value, "expires_in_days");
    let create_error = form_error(value, &["name", "scopes", "allowed_ips", "expires_in_days"]);
    let toggle = move |scope: String| {
        scopes.update(|s| {
            if let Some(i) = s.iter().position(|x| *x == scope) {
                s.remove(i);
            } else {
                s.push(scope);
            }
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateApiKey {
            input: NewApiKey {
                name: name.get_untracked(),
                scopes: scopes.get_untracked(),
                expires_in_days: expiry.get_untracked().parse().ok(),
                allowed_ips: ips.get_untracked(),
            },
        });
    };
    let action_error = move || {
        [
            revoke.value().get().and_then(|r| r.err()),
            rotate.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string())
    };
    view! {
        <section class="card" aria-labelledby="api-keys-title">
            <h2 id="api-keys-title" class="card-title">{tr("developers.keys")}</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    not_in_plan.await.ok().flatten().map(|why| view! {
                        <p class="alert alert-warning mb-3" role="status" data-testid="api-not-in-plan">
                            {why} " " <a class="underline" href="/billing">{tr("nav.billing")}</a>
                        </p>
                    })
                })}
            </Transition>
            <form on:submit=submit class="grid gap-3 mb-4" aria-label=tr("developers.new_key")>
                <div class="field">
                    <label for="f-key-name" class="field-label">{tr("developers.key_name")}</label>
                    <input id="f-key-name" class="input" required maxlength="100"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))
                        aria-invalid=move || name_error.get().is_some().then_some("true")/>
                    {move || name_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
                <fieldset class="field">
                    <legend class="field-label">{tr("developers.scopes")}</legend>
                    <div class="grid gap-1 sm:grid-cols-2">
                        {RESOURCES.into_iter().map(|r| {
                            let accesses: &[Access] = if READ_ONLY.contains(&r) { &[Access::Read] } else { &[Access::Read, Access::Write] };
                            accesses.iter().copied().map(move |a| {
                                let s = scope(r, a);
                                let label = tf(l, "developers.scope_label", &[
                                    ("resource", t(l, &format!("developers.resource.{r}"))),
                                    ("access", t(l, &format!("developers.access.{}", a.code()))),
                                ]);
                                let checked = s.clone();
                                view! {
                                    <label class="flex items-center gap-2">
                                        <input type="checkbox" value=s.clone()
                                            prop:checked=move || scopes.with(|x| x.contains(&checked))
                                            on:change=move |_| toggle(s.clone())/>
                                        {label}
                                    </label>
                                }
                            }).collect_view()
                        }).collect_view()}
                    </div>
                    {move || scopes_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </fieldset>
                <div class="grid gap-3 sm:grid-cols-2">
                    <div class="field">
                        <label for="f-key-expiry" class="field-label">{tr("developers.expires")}</label>
                        <select id="f-key-expiry" class="input" on:change=move |ev| expiry.set(event_target_value(&ev))>
                            <option value="30">{tf(l, "developers.days", &[("n", "30".into())])}</option>
                            <option value="90">{tf(l, "developers.days", &[("n", "90".into())])}</option>
                            <option value="365" selected>{tf(l, "developers.days", &[("n", "365".into())])}</option>
                            <option value="never">{tr("developers.never")}</option>
                        </select>
                        {move || expiry_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    </div>
                    <div class="field">
                        <label for="f-key-ips" class="field-label">{tr("developers.allowed_ips")}</label>
                        <input id="f-key-ips" class="input" placeholder="203.0.113.0/24"
                            prop:value=move || ips.get() on:input=move |ev| ips.set(event_target_value(&ev))
                            aria-invalid=move || ips_error.get().is_some().then_some("true")
                            aria-describedby="f-key-ips-hint"/>
                        <p id="f-key-ips-hint" class="field-hint">{tr("developers.allowed_ips_hint")}</p>
                        {move || ips_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    </div>
                </div>
                <div>
                    <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>{tr("developers.create_key")}</button>
                </div>
                <Alert message=create_error/>
            </form>
            {move || match value.get() {
                Some(Ok(k)) => Some(view! { <ShownOnce label=tf(l, "developers.token_for", &[("name", k.name.clone())]) secret=k.token.clone() testid="new-token"/> }.into_any()),
                _ => None,
            }}
            {move || match rotate.value().get() {
                Some(Ok(k)) => Some(view! { <ShownOnce label=tf(l, "developers.token_for", &[("name", k.name.clone())]) secret=k.token.clone() testid="rotated-token"/> }.into_any()),
                _ => None,
            }}
            <Alert message=Signal::derive(action_error)/>
            <Transition fallback=|| view! { <Skeleton/> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-muted">{tr("developers.no_keys")}</p> }.into_any(),
                        Ok(list) => {
                            view! {
                                <div class="table-wrap">
                                    <table class="table" data-testid="api-keys">
                                        <thead><tr>
                                            <th>{tr("developers.key_name")}</th>
                                            <th>{tr("developers.scopes")}</th>
                                            <th>{tr("developers.last_used")}</th>
                                            <th>{tr("developers.expires")}</th>
                                            <th><span class="sr-only">{tr("jobs.column.actions")}</span></th>
                                        </tr></thead>
                                        <tbody>
                                            {list.into_iter().map(|k| {
                                                let active = k.active;
                                                let id = k.id;
                                                let name = k.name.clone();
                                                view! {
                                                    <tr data-testid="api-key-row">
                                                        <td>
                                                            <span class="font-medium">{k.name.clone()}</span>
                                                            <span class="block text-sm text-muted font-mono">{k.prefix.clone()}</span>
                                                        </td>
                                                        <td class="text-sm">{k.scopes.join(", ")}</td>
                                                        <td class="text-sm tabular-nums" data-testid="last-used">
                                                            {match k.last_used_at {
                                                                None => tr("developers.never_used"),
                                                                Some(at) => format!("{} · {}", when(Some(at)), k.last_used_ip.clone().unwrap_or_default()),
                                                            }}
                                                        </td>
                                                        <td class="text-sm tabular-nums">
                                                            {if k.revoked_at.is_some() {
                                                                view! { <Badge text=tr("developers.revoked") tone="danger"/> }.into_any()
                                                            } else if !active {
                                                                view! { <Badge text=tr("developers.expired") tone="warning"/> }.into_any()
                                                            } else {
                                                                view! { <span>{k.expires_at.map(|e| when(Some(e))).unwrap_or_else(|| tr("developers.never"))}</span> }.into_any()
                                                            }}
                                                        </td>
                                                        <td class="text-end whitespace-nowrap">
                                                            {(active && k.replaced_by.is_none()).then(|| {
                                                                let (n1, n2) = (name.clone(), name.clone());
                                                                view! {
                                                                    <button type="button" class="btn btn-secondary"
                                                                        aria-label=tf(l, "developers.rotate_named", &[("name", n1)])
                                                                        on:click=move |_| { rotate.dispatch(RotateApiKey { id, overlap_hours: 24 }); }>
                                                                        {tr("developers.rotate")}
                                                                    </button>
                                                                    " "
                                                                    <button type="button" class="btn btn-danger"
                                                                        aria-label=tf(l, "developers.revoke_named", &[("name", n2)])
                                                                        on:click=move |_| { revoke.dispatch(RevokeApiKey { id }); }>
                                                                        {tr("developers.revoke")}
                                                                    </button>
                                                                }
                                                            })}
                                                        </td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Webhooks() -> impl IntoView {
    let l = locale();
    let create = ServerAction::<CreateWebhook>::new();
    let remove = ServerAction::<DeleteWebhook>::new();
    let toggle = ServerAction::<SetWebhookEnabled>::new();
    let hooks = Resource::new(
        move || {
            (
                create.version().get(),
                remove.version().get(),
                toggle.version().get(),
            )
        },
        |_| list_webhooks(),
    );
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let events = RwSignal::new(Vec::<String>::new());
    let value = create.value();
    let url_error = field_error(value, "url");
    let events_error = field_error(value, "event_types");
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateWebhook {
            input: NewWebhook {
                url: url.get_untracked(),
                description: description.get_untracked(),
                event_types: events.get_untracked(),
            },
        });
    };
    let action_error = move || {
        [
            remove.value().get().and_then(|r| r.err()),
            toggle.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string())
    };
    view! {
        <section class="card mt-4" aria-labelledby="webhooks-title">
            <h2 id="webhooks-title" class="card-title">{tr("developers.webhooks")}</h2>
            <form on:submit=submit class="grid gap-3 mb-4" aria-label=tr("developers.new_webhook")>
                <div class="field">
                    <label for="f-hook-url" class="field-label">{tr("developers.url")}</label>
                    <input id="f-hook-url" class="input" type="url" required placeholder="https://example.com/hooks/leadline"
                        prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))
                        aria-invalid=move || url_error.get().is_some().then_some("true")/>
                    {move || url_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
                <div class="field">
                    <label for="f-hook-description" class="field-label">{tr("developers.description")}</label>
                    <input id="f-hook-description" class="input" maxlength="200"
                        prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))/>
                </div>
                <fieldset class="field">
                    <legend class="field-label">{tr("developers.events")}</legend>
                    <div class="grid gap-1 sm:grid-cols-3">
                        {EVENT_TYPES.into_iter().map(|e| {
                            let checked = e.to_string();
                            view! {
                                <label class="flex items-center gap-2 font-mono text-sm">
                                    <input type="checkbox" value=e
                                        prop:checked=move || events.with(|x| x.contains(&checked))
                                        on:change=move |_| events.update(|x| {
                                            if let Some(i) = x.iter().position(|v| v == e) { x.remove(i); } else { x.push(e.to_string()); }
                                        })/>
                                    {e}
                                </label>
                            }
                        }).collect_view()}
                    </div>
                    {move || events_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </fieldset>
                <div>
                    <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>{tr("developers.add_webhook")}</button>
                </div>
            </form>
            {move || match value.get() {
                Some(Ok(s)) => Some(view! { <ShownOnce label=tr("developers.signing_secret") secret=s.secret.clone() testid="new-webhook-secret"/> }.into_any()),
                _ => None,
            }}
            <Alert message=Signal::derive(action_error)/>
            <Transition fallback=|| view! { <Skeleton/> }>
                {move || Suspend::new(async move {
                    match hooks.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-muted">{tr("developers.no_webhooks")}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="webhooks">
                                    <thead><tr>
                                        <th>{tr("developers.url")}</th>
                                        <th>{tr("developers.events")}</th>
                                        <th>{tr("jobs.column.status")}</th>
                                        <th><span class="sr-only">{tr("jobs.column.actions")}</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|h| {
                                            let id = h.id;
                                            let enabled = h.enabled;
                                            view! {
                                                <tr data-testid="webhook-row">
                                                    <td class="break-all">
                                                        <a class="link" href=format!("/settings/developers/webhooks/{}", h.id)>{h.url.clone()}</a>
                                                        <span class="block text-sm text-muted">{h.description.clone()}</span>
                                                    </td>
                                                    <td class="text-sm">{h.event_types.len()}</td>
                                                    <td>
                                                        {if h.enabled {
                                                            view! { <Badge text=tr("developers.enabled") tone="success"/> }.into_any()
                                                        } else {
                                                            view! { <Badge text=tr("developers.disabled") tone="danger"/> }.into_any()
                                                        }}
                                                        <span class="block text-sm text-muted">
                                                            {tf(l, "developers.queue_counts", &[("pending", h.pending.to_string()), ("failed", h.failed.to_string())])}
                                                        </span>
                                                    </td>
                                                    <td class="text-end whitespace-nowrap">
                                                        <button type="button" class="btn btn-secondary"
                                                            on:click=move |_| { toggle.dispatch(SetWebhookEnabled { id, enabled: !enabled }); }>
                                                            {if enabled { tr("developers.disable") } else { tr("developers.enable") }}
                                                        </button>
                                                        " "
                                                        <button type="button" class="btn btn-danger"
                                                            aria-label=tf(l, "developers.delete_named", &[("url", h.url.clone())])
                                                            on:click=move |_| { remove.dispatch(DeleteWebhook { id }); }>
                                                            {tr("developers.delete")}
                                                        </button>
                                                    </td>
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
