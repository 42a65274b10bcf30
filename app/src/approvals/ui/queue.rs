//! The review queue's Approvals tab: open requests in SLA order beside the selected
//! one, decided with a comment; j/k move, a approves, x rejects.

use crate::approvals::api::*;
use crate::approvals::model::*;
use crate::crm::money;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Badge, Skeleton};
use leptos::prelude::*;
use uuid::Uuid;

/// How often the tab re-reads on its own, like the reply queue: should its live stream
/// be down (`review` events re-read it as soon as a request changes).
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

use crate::ui::when;

fn status_tone(s: RequestStatus) -> &'static str {
    match s {
        RequestStatus::Pending => "warning",
        RequestStatus::Approved => "success",
        RequestStatus::Rejected | RequestStatus::Failed => "danger",
    }
}

/// The Approvals tab. `selected` starts from the page's `?approval=` link.
#[component]
pub fn ApprovalsTab(selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    let l = locale();
    let tick = RwSignal::new(0u32);
    let decide = ServerAction::<DecideApproval>::new();
    let comment = RwSignal::new(String::new());
    let queue = Resource::new(
        move || (tick.get(), decide.version().get()),
        |_| approval_queue(),
    );
    let rows = RwSignal::new(Vec::<RequestRow>::new());
    let load_error = RwSignal::new(None::<String>);
    Effect::new(move || {
        if let Some(result) = queue.get() {
            match result {
                Ok(q) => {
                    if selected.get_untracked().is_none() {
                        selected.set(q.requests.first().map(|r| r.id));
                    }
                    rows.set(q.requests);
                    load_error.set(None);
                }
                Err(e) => load_error.set(Some(e.to_string())),
            }
        }
    });
    crate::live::on_event("review", move |_| {
        tick.try_update(|n| *n += 1);
    });
    crate::ui::poll_while(|| true, tick, REFRESH_EVERY);
    let detail = Resource::new(
        move || (selected.get(), decide.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => Some(approval_request(id.to_string()).await),
                None => None,
            }
        },
    );
    // The level the viewer decides is the one the detail showed them.
    let shown = RwSignal::new(None::<(Uuid, i32)>);
    Effect::new(move || {
        if let Some(Some(Ok(d))) = detail.get() {
            shown.set(Some((d.request.id, d.request.level)));
        }
    });
    let send = move |approve: bool| {
        if let Some((id, level)) = shown.get_untracked() {
            decide.dispatch(DecideApproval {
                id: id.to_string(),
                level,
                approve,
                comment: comment.get_untracked(),
            });
        }
    };
    Effect::new(move || {
        if let Some(Ok(_)) = decide.value().get() {
            comment.set(String::new());
        }
    });
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let step = move |by: i32| {
            let list = rows.get_untracked();
            if list.is_empty() {
                return;
            }
            let at = selected
                .get_untracked()
                .and_then(|id| list.iter().position(|r| r.id == id))
                .unwrap_or(0) as i32;
            let next = (at + by).clamp(0, list.len() as i32 - 1) as usize;
            selected.set(Some(list[next].id));
        };
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| {
                    matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                });
            if typing {
                return;
            }
            let handled = match ev.key().as_str() {
                "j" => {
                    step(1);
                    true
                }
                "k" => {
                    step(-1);
                    true
                }
                "a" => {
                    send(true);
                    true
                }
                "x" => {
                    send(false);
                    true
                }
                _ => false,
            };
            if handled {
                ev.prevent_default();
            }
        });
        on_cleanup(move || handle.remove());
    }
    let decide_error = move || match decide.value().get() {
        Some(Err(e)) if e.for_field("comment").is_none() => Some(e.to_string()),
        _ => None,
    };
    let comment_error = move || match decide.value().get() {
        Some(Err(e)) => e.for_field("comment"),
        _ => None,
    };
    let outcome = move || match decide.value().get() {
        Some(Ok(d)) if d.request.status != RequestStatus::Pending => Some(match d.request.status {
            RequestStatus::Approved => tf(
                l,
                "approvals.done.approved",
                &[
                    ("deal", d.request.deal_name.clone()),
                    ("stage", d.request.to_stage.clone()),
                ],
            ),
            RequestStatus::Failed => tf(
                l,
                "approvals.done.failed",
                &[("reason", d.request.reason.clone().unwrap_or_default())],
            ),
            _ => t(l, "approvals.done.rejected"),
        }),
        Some(Ok(d)) => Some(tf(
            l,
            "approvals.done.advanced",
            &[("who", d.request.approver.label(l))],
        )),
        _ => None,
    };
    view! {
        {move || decide_error().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
        {move || outcome().map(|m| view! { <p class="alert alert-success" role="status" data-testid="approval-outcome">{m}</p> })}
        {move || load_error.get().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
        <div class="grid gap-4 lg:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
            <section aria-labelledby="approvals-title">
                <h2 id="approvals-title" class="sr-only">{tr("approvals.queue")}</h2>
                <ul class="card divide-y divide-line p-0" data-testid="approval-list">
                    {move || {
                        let list = rows.get();
                        if list.is_empty() {
                            return view! { <li class="p-6 text-center text-muted">{tr("approvals.empty")}</li> }.into_any();
                        }
                        list.into_iter().map(|r| {
                            let id = r.id;
                            let current = move || selected.get() == Some(id);
                            view! {
                                <li data-testid="approval-item">
                                    <button type="button" class="block w-full p-3 text-start hover:bg-canvas"
                                        aria-current=move || current().then_some("true")
                                        class:bg-canvas=current
                                        on:click=move |_| selected.set(Some(id))>
                                        <span class="flex flex-wrap items-center gap-2">
                                            <span class="font-medium">{r.deal_name.clone()}</span>
                                            <Badge text=tf(l, "approvals.level_of", &[("level", r.level.to_string()), ("levels", r.levels.to_string())])/>
                                            {r.breached.then(|| view! { <Badge text=t(l, "review.breached") tone="danger"/> })}
                                        </span>
                                        <span class="mt-1 block text-sm">{tf(l, "approvals.change", &[("from", r.from_stage.clone()), ("to", r.to_stage.clone())])}</span>
                                        <span class="mt-1 block text-xs text-muted">
                                            {tf(l, "approvals.waiting_for", &[("who", r.approver.label(l))])}
                                            " · " {tf(l, "review.due", &[("at", when(r.sla_due_at))])}
                                        </span>
                                    </button>
                                </li>
                            }
                        }).collect_view().into_any()
                    }}
                </ul>
            </section>
            <section aria-labelledby="approval-title" class="min-w-0">
                <Transition fallback=|| view! { <Skeleton lines=5/> }>
                    {move || Suspend::new(async move {
                        match detail.await {
                            None => view! { <h2 id="approval-title" class="sr-only">{tr("approvals.request")}</h2> }.into_any(),
                            Some(Err(e)) => view! { <h2 id="approval-title" class="sr-only">{tr("approvals.request")}</h2> <p class="alert alert-danger" role="alert">{e.to_string()}</p> }.into_any(),
                            Some(Ok(d)) => view! { <RequestPanel detail=d comment comment_error=Signal::derive(comment_error) pending=decide.pending() send/> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </div>
    }
}

#[component]
fn RequestPanel(
    detail: RequestDetail,
    comment: RwSignal<String>,
    comment_error: Signal<Option<String>>,
    #[prop(into)] pending: Signal<bool>,
    send: impl Fn(bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    let r = detail.request.clone();
    let amount = money::format(crate::ui::locale(), r.amount.minor, &r.amount.currency);
    view! {
        <div class="card" data-testid="approval-detail">
            <h2 id="approval-title" class="card-title">
                <a class="link" href=format!("/deals/{}", r.deal_id)>{r.deal_name.clone()}</a>
            </h2>
            <p class="flex flex-wrap gap-2 text-sm">
                <Badge text=t(l, r.status.label_key()) tone=status_tone(r.status)/>
                <span>{tf(l, "approvals.change", &[("from", r.from_stage.clone()), ("to", r.to_stage.clone())])}</span>
                <span class="text-muted">{amount}</span>
            </p>
            <dl class="mt-3 grid grid-cols-2 gap-2 text-sm">
                <div><dt class="text-muted">{tr("approvals.rule")}</dt><dd>{r.rule_name.clone()}</dd></div>
                <div><dt class="text-muted">{tr("approvals.requester")}</dt><dd>{r.requester.clone().unwrap_or_else(|| t(l, "approvals.by_api"))}</dd></div>
                <div><dt class="text-muted">{tr("approvals.level")}</dt>
                    <dd>{tf(l, "approvals.level_of", &[("level", r.level.to_string()), ("levels", r.levels.to_string())])} " · " {r.approver.label(l)}</dd></div>
                <div><dt class="text-muted">{tr("approvals.due")}</dt><dd>{when(r.sla_due_at)}</dd></div>
            </dl>
            {r.reason.clone().map(|why| view! { <p class="mt-2 text-sm">{tr("approvals.reason")} " " {why}</p> })}
        </div>
        <section class="card" aria-labelledby="decisions-title">
            <h3 id="decisions-title" class="card-title">{tr("approvals.history")}</h3>
            {detail.decisions.is_empty().then(|| view! { <p class="text-sm text-muted">{tr("approvals.no_decisions")}</p> })}
            <ol class="space-y-2" data-testid="approval-history">
                {detail.decisions.iter().map(|d| view! {
                    <li class="rounded border border-line p-2 text-sm">
                        <Badge text=if d.approved { t(l, "approvals.status.approved") } else { t(l, "approvals.status.rejected") } tone=if d.approved { "success" } else { "danger" }/>
                        " " {tf(l, "approvals.decided_by", &[("level", d.level.to_string()), ("name", d.actor.clone()), ("at", when(d.at))])}
                        {d.comment.clone().map(|c| view! { <p class="mt-1 whitespace-pre-wrap break-words">{c}</p> })}
                    </li>
                }).collect_view()}
            </ol>
        </section>
        {(r.status == RequestStatus::Pending).then(|| if r.can_decide {
            view! {
                <div class="card">
                    <div class="field">
                        <label for="approval-comment" class="field-label">{tr("approvals.comment")}</label>
                        <textarea id="approval-comment" class="input" rows="3"
                            aria-invalid=move || comment_error.get().is_some().then_some("true")
                            aria-describedby=move || comment_error.get().is_some().then_some("approval-comment-error")
                            prop:value=comment on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                        {move || comment_error.get().map(|e| view! { <p id="approval-comment-error" class="field-error" role="alert">{e}</p> })}
                    </div>
                    <div class="mt-3 flex flex-wrap gap-2" role="group" aria-label=tr("approvals.decide")>
                        <button type="button" class="btn btn-primary" aria-keyshortcuts="a" disabled=move || pending.get() on:click=move |_| send(true)>{tr("approvals.approve")}</button>
                        <button type="button" class="btn btn-danger-ghost" aria-keyshortcuts="x" disabled=move || pending.get() on:click=move |_| send(false)>{tr("approvals.reject")}</button>
                    </div>
                </div>
            }.into_any()
        } else {
            view! { <p class="alert alert-warning" role="status">{tf(l, "approvals.not_yours", &[("who", r.approver.label(l))])}</p> }.into_any()
        })}
    }
}
