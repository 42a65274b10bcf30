//! One webhook endpoint: its deliveries newest first, each attempt with what came
//! back, replay of one delivery or of all that failed, and rotation of its key.

use super::api::*;
use super::model::*;
use super::ui::{when, ShownOnce};
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Alert, Badge, LoadError, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

fn status_tone(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "warning",
        DeliveryStatus::Succeeded => "success",
        DeliveryStatus::Failed => "danger",
    }
}

/// One endpoint: its deliveries newest first, each attempt with what came back, and
/// replay of one delivery or of all that failed.
#[component]
pub fn WebhookPage() -> impl IntoView {
    let l = locale();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<Uuid>().ok()));
    let replay = ServerAction::<ReplayDelivery>::new();
    let replay_all = ServerAction::<ReplayFailed>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let tick = RwSignal::new(0u32);
    let detail = Resource::new(
        move || {
            (
                id(),
                replay.version().get(),
                replay_all.version().get(),
                tick.get(),
            )
        },
        |(id, _, _, _)| async move {
            match id {
                Some(id) => get_webhook(id).await,
                None => Err(crate::error::AppError::NotFound(String::new())),
            }
        },
    );
    let pending = RwSignal::new(false);
    crate::ui::poll_while(
        move || pending.get_untracked(),
        tick,
        std::time::Duration::from_secs(2),
    );
    let action_error = move || {
        [
            replay.value().get().and_then(|r| r.err()),
            replay_all.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string())
    };
    view! {
        <PageHeader title=tr("developers.webhook")/>
        <p class="mb-3"><a class="link" href="/settings/developers">{tr("developers.back")}</a></p>
        <Alert message=Signal::derive(action_error)/>
        {move || match rotate.value().get() {
            Some(Ok(s)) => Some(view! { <ShownOnce label=tr("developers.signing_secret") secret=s.secret.clone() testid="rotated-webhook-secret"/> }.into_any()),
            _ => None,
        }}
        <Transition fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(d) => {
                        pending.set(d.deliveries.iter().any(|x| x.status == DeliveryStatus::Pending));
                        let endpoint = d.endpoint.id;
                        view! {
                            <section class="card" aria-labelledby="endpoint-title">
                                <h2 id="endpoint-title" class="card-title break-all">{d.endpoint.url.clone()}</h2>
                                <p class="text-sm text-muted">{d.endpoint.event_types.join(", ")}</p>
                                {d.endpoint.disabled_reason.clone().map(|_| view! {
                                    <p class="alert alert-danger" role="alert">{tf(l, "developers.auto_disabled", &[("count", d.endpoint.consecutive_failures.to_string())])}</p>
                                })}
                                <div class="flex flex-wrap gap-2 mt-3">
                                    <button type="button" class="btn btn-secondary" on:click=move |_| { rotate.dispatch(RotateWebhookSecret { id: endpoint }); }>
                                        {tr("developers.rotate_secret")}
                                    </button>
                                    <button type="button" class="btn btn-secondary" disabled=d.endpoint.failed == 0
                                        on:click=move |_| { replay_all.dispatch(ReplayFailed { endpoint }); }>
                                        {tf(l, "developers.replay_failed", &[("count", d.endpoint.failed.to_string())])}
                                    </button>
                                </div>
                            </section>
                            <section class="card mt-4" aria-labelledby="deliveries-title">
                                <h2 id="deliveries-title" class="card-title">{tr("developers.deliveries")}</h2>
                                {if d.deliveries.is_empty() {
                                    view! { <p class="text-sm text-muted">{tr("developers.no_deliveries")}</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="divide-y divide-line" data-testid="deliveries">
                                            {d.deliveries.into_iter().map(|x| {
                                                let delivery = x.id;
                                                let last = x.attempts.last().cloned();
                                                view! {
                                                    <li class="py-3" data-testid="delivery" data-status=x.status.code()>
                                                        <div class="flex flex-wrap items-center gap-2">
                                                            <span class="font-mono text-sm">{x.event_type.clone()}</span>
                                                            <Badge text=t(l, x.status.label_key()) tone=status_tone(x.status)/>
                                                            <span class="text-sm text-muted font-mono">{x.event_id.clone()}</span>
                                                            <span class="grow"></span>
                                                            <button type="button" class="btn btn-secondary"
                                                                aria-label=tf(l, "developers.replay_named", &[("event", x.event_type.clone())])
                                                                on:click=move |_| { replay.dispatch(ReplayDelivery { id: delivery }); }>
                                                                {tr("developers.replay")}
                                                            </button>
                                                        </div>
                                                        <p class="text-sm text-muted">
                                                            {tf(l, "developers.attempt_count", &[("count", x.attempts.len().to_string())])}
                                                            {last.as_ref().map(|a| format!(" · {}", a.status.map(|s| format!("HTTP {s}")).or(a.error.clone()).unwrap_or_default()))}
                                                            {x.next_attempt_at.map(|n| format!(" · {} {}", t(l, "developers.next_attempt"), when(Some(n))))}
                                                        </p>
                                                        {(!x.attempts.is_empty()).then(|| view! {
                                                            <details class="mt-1">
                                                                <summary class="text-sm link">{tr("developers.attempts")}</summary>
                                                                <ol class="text-sm">
                                                                    {x.attempts.into_iter().map(|a| view! {
                                                                        <li class="py-1">
                                                                            <span class="tabular-nums">{format!("#{} {} · {} ms · ", a.attempt, when(Some(a.at)), a.duration_ms)}</span>
                                                                            {a.status.map(|s| format!("HTTP {s}")).or(a.error.clone()).unwrap_or_default()}
                                                                            {a.body_excerpt.map(|b| view! { <pre class="whitespace-pre-wrap break-all text-muted">{b}</pre> })}
                                                                        </li>
                                                                    }).collect_view()}
                                                                </ol>
                                                            </details>
                                                        })}
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
