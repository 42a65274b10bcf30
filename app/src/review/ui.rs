//! The review queue: the list in SLA order beside the selected item's thread, lead and
//! classification, with one-key triage (j/k move, a claim, r reply, i ignore,
//! e escalate, t take over, c confirm, ? lists them). Approvals have their own tab
//! (`approvals::ui::queue`), with their own keys.

use super::api::*;
use super::model::*;
use crate::approvals::ui::queue::ApprovalsTab;
use crate::error::AppError;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Badge, PageHeader, Skeleton};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

/// How often an open queue re-reads on its own, should its live stream be down: the
/// stream's `review` events re-read it as soon as an item or approval changes.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

fn priority_tone(p: Urgency) -> &'static str {
    match p {
        Urgency::Urgent | Urgency::High => "danger",
        Urgency::Medium => "warning",
        Urgency::Low => "neutral",
    }
}

fn intent_tone(i: Intent) -> &'static str {
    match i {
        Intent::Interested | Intent::Question => "success",
        Intent::NotInterested | Intent::Complaint | Intent::Unsubscribe | Intent::Bounce => {
            "danger"
        }
        Intent::NotNow | Intent::WrongPerson => "warning",
        _ => "neutral",
    }
}

use crate::ui::when;

#[component]
pub fn ReviewPage() -> impl IntoView {
    let l = locale();
    let filter = RwSignal::new(QueueFilter::default());
    let tick = RwSignal::new(0u32);
    let selected = RwSignal::new(None::<Uuid>);
    let show_keys = RwSignal::new(false);
    // The Approvals tab, opened by `?tab=approvals` (the links in approval notifications).
    let query = use_query_map();
    let approvals_tab =
        RwSignal::new(query.with_untracked(|q| q.get("tab").as_deref() == Some("approvals")));
    let approval = RwSignal::new(
        query.with_untracked(|q| q.get("approval").and_then(|id| id.parse::<Uuid>().ok())),
    );
    let approvals_count = RwSignal::new(0u32);
    let act = ServerAction::<ReviewAct>::new();
    let reply = ServerAction::<ReviewReply>::new();
    let queue = Resource::new(
        move || {
            (
                filter.get(),
                tick.get(),
                act.version().get(),
                reply.version().get(),
            )
        },
        |(f, _, _, _)| review_queue(f, None),
    );
    let items = RwSignal::new(Vec::<ItemRow>::new());
    let counts = RwSignal::new(Vec::<(ItemStatus, u32)>::new());
    let load_error = RwSignal::new(None::<String>);
    Effect::new(move || {
        if let Some(result) = queue.get() {
            match result {
                Ok(page) => {
                    // Keep the selection if it is still listed, else the first item.
                    let keep = selected
                        .get_untracked()
                        .filter(|id| page.items.iter().any(|i| i.id == *id));
                    if keep.is_none() {
                        selected.set(page.items.first().map(|i| i.id));
                    }
                    items.set(page.items);
                    counts.set(page.counts);
                    approvals_count.set(page.approvals);
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
        move || (selected.get(), act.version().get(), reply.version().get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => Some(review_item(id.to_string()).await),
                None => None,
            }
        },
    );
    let action_error = move || {
        let a = act.value().get().and_then(|r| r.err());
        let b = reply.value().get().and_then(|r| r.err());
        a.or(b).map(|e: AppError| e.to_string())
    };
    let dispatch = move |action: ItemAction| {
        if let Some(id) = selected.get_untracked() {
            act.dispatch(ReviewAct {
                id: id.to_string(),
                action,
            });
        }
    };
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let step = move |by: i32| {
            let list = items.get_untracked();
            if list.is_empty() {
                return;
            }
            let at = selected
                .get_untracked()
                .and_then(|id| list.iter().position(|i| i.id == id))
                .unwrap_or(0) as i32;
            let next = (at + by).clamp(0, list.len() as i32 - 1) as usize;
            selected.set(Some(list[next].id));
        };
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || approvals_tab.get_untracked() {
                return;
            }
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| {
                    matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                });
            if typing {
                if ev.key() == "Escape" {
                    if let Some(el) = document()
                        .active_element()
                        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                    {
                        let _ = el.blur();
                    }
                }
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
                    dispatch(ItemAction::Claim);
                    true
                }
                "i" => {
                    dispatch(ItemAction::Ignore);
                    true
                }
                "e" => {
                    dispatch(ItemAction::Escalate);
                    true
                }
                "t" => {
                    dispatch(ItemAction::TakeOver);
                    true
                }
                "c" => {
                    dispatch(ItemAction::Confirm);
                    true
                }
                "r" => {
                    if let Some(el) = document()
                        .get_element_by_id("review-reply")
                        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                    {
                        let _ = el.focus();
                    }
                    true
                }
                "?" => {
                    show_keys.update(|s| *s = !*s);
                    true
                }
                "Escape" => {
                    show_keys.set(false);
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
    let status_button = move |s: Option<ItemStatus>, label: String| {
        let count = move || match s {
            None => counts.with(|c| c.iter().map(|(_, n)| n).sum::<u32>()),
            Some(s) => counts.with(|c| c.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n)),
        };
        view! {
            <button type="button" aria-pressed=move || (!approvals_tab.get() && filter.with(|f| f.status) == s).to_string()
                on:click=move |_| {
                    approvals_tab.set(false);
                    filter.update(|f| f.status = s);
                }>
                {label} " " <span class="badge badge-neutral tabular-nums">{move || (s != Some(ItemStatus::Resolved)).then(count)}</span>
            </button>
        }
    };
    let select_reason = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        filter.update(|f| f.reason = Reason::parse(&v));
    };
    let select_priority = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        filter.update(|f| f.priority = Urgency::parse(&v));
    };
    let select_channel = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        filter.update(|f| f.channel = Some(v).filter(|v| !v.is_empty()));
    };
    let options = Resource::new(|| (), |_| review_filter_options());
    let select_assignee = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        filter.update(|f| f.assignee = v.parse().ok());
    };
    let select_sequence = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        filter.update(|f| f.sequence = v.parse().ok());
    };
    let choices = move |pick: fn(&FilterOptions) -> &Vec<(Uuid, String)>| {
        options.get().and_then(Result::ok).map(|o| {
            pick(&o)
                .iter()
                .map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> })
                .collect_view()
        })
    };
    view! {
        <PageHeader title=tr("nav.review")>
            <button type="button" class="btn btn-secondary" aria-keyshortcuts="?" on:click=move |_| show_keys.update(|s| *s = !*s)>
                {tr("review.shortcuts")}
            </button>
        </PageHeader>
        {move || show_keys.get().then(|| view! {
            <div class="card" role="dialog" aria-labelledby="keys-title" data-testid="shortcuts">
                <h2 id="keys-title" class="card-title">{tr("review.shortcuts")}</h2>
                <dl class="grid grid-cols-2 gap-1 text-sm md:grid-cols-4">
                    {[("j / k", "review.key.move"), ("a", "review.key.claim"), ("r", "review.key.reply"), ("i", "review.key.ignore"),
                      ("e", "review.key.escalate"), ("t", "review.key.take_over"), ("c", "review.key.confirm"), ("?", "review.key.help")]
                        .into_iter().map(|(k, key)| view! { <div><dt class="inline font-mono font-semibold">{k}</dt> " " <dd class="inline">{tr(key)}</dd></div> }).collect_view()}
                </dl>
            </div>
        })}
        <div class="tabs" role="group" aria-label=tr("review.filter_status")>
            {status_button(None, t(l, "review.status.open"))}
            {ItemStatus::ALL.iter().map(|s| status_button(Some(*s), t(l, s.label_key()))).collect_view()}
            <button type="button" data-testid="approvals-tab" aria-pressed=move || approvals_tab.get().to_string()
                on:click=move |_| approvals_tab.set(true)>
                {tr("approvals.tab")} " " <span class="badge badge-neutral tabular-nums">{move || approvals_count.get()}</span>
            </button>
        </div>
        {move || approvals_tab.get().then(|| view! { <ApprovalsTab selected=approval/> })}
        <div class:hidden=move || approvals_tab.get()>
        <div class="card grid gap-3 md:grid-cols-4 items-end" data-testid="review-filters">
            <div class="field">
                <label for="r-reason" class="field-label">{tr("review.reason")}</label>
                <select id="r-reason" class="input" on:change=select_reason>
                    <option value="">{tr("review.any")}</option>
                    {Reason::ALL.iter().map(|r| view! { <option value=r.code()>{tr(r.label_key())}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="r-priority" class="field-label">{tr("review.priority")}</label>
                <select id="r-priority" class="input" on:change=select_priority>
                    <option value="">{tr("review.any")}</option>
                    {Urgency::ALL.iter().map(|p| view! { <option value=p.code()>{tr(p.label_key())}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="r-channel" class="field-label">{tr("review.channel")}</label>
                <select id="r-channel" class="input" on:change=select_channel>
                    <option value="">{tr("review.any")}</option>
                    <option value="WHATSAPP">"WhatsApp"</option>
                    <option value="EMAIL">{tr("review.email")}</option>
                </select>
            </div>
            <div class="field">
                <label for="r-assignee" class="field-label">{tr("review.assignee")}</label>
                <select id="r-assignee" class="input" on:change=select_assignee>
                    <option value="">{tr("review.any")}</option>
                    <Transition>{move || choices(|o| &o.assignees)}</Transition>
                </select>
            </div>
            <div class="field">
                <label for="r-sequence" class="field-label">{tr("review.sequence")}</label>
                <select id="r-sequence" class="input" on:change=select_sequence>
                    <option value="">{tr("review.any")}</option>
                    <Transition>{move || choices(|o| &o.sequences)}</Transition>
                </select>
            </div>
            <label class="flex items-center gap-2">
                <input type="checkbox" on:change=move |ev| filter.update(|f| f.mine = event_target_checked(&ev))/>
                {tr("review.mine")}
            </label>
            <label class="flex items-center gap-2">
                <input type="checkbox" on:change=move |ev| filter.update(|f| f.breached = event_target_checked(&ev))/>
                {tr("review.breached_only")}
            </label>
        </div>
        {move || action_error().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
        {move || load_error.get().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
        <div class="grid gap-4 lg:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
            <section aria-labelledby="queue-title">
                <h2 id="queue-title" class="sr-only">{tr("review.queue")}</h2>
                <ul class="card divide-y divide-line p-0" data-testid="review-list">
                    {move || {
                        let list = items.get();
                        if list.is_empty() {
                            return view! { <li class="p-6 text-center text-muted">{tr("review.empty")}</li> }.into_any();
                        }
                        list.into_iter().map(|item| {
                            let id = item.id;
                            let current = move || selected.get() == Some(id);
                            view! {
                                <li data-testid="review-item" data-status=item.status.code()>
                                    <button type="button" class="block w-full p-3 text-start hover:bg-canvas"
                                        aria-current=move || current().then_some("true")
                                        class:bg-canvas=current
                                        on:click=move |_| selected.set(Some(id))>
                                        <span class="flex flex-wrap items-center gap-2">
                                            <span class="font-medium">{item.lead_name.clone()}</span>
                                            <Badge text=t(l, item.priority.label_key()) tone=priority_tone(item.priority)/>
                                            <Badge text=t(l, item.reason.label_key())/>
                                            {item.intent.map(|i| view! { <Badge text=t(l, i.label_key()) tone=intent_tone(i)/> })}
                                            {item.breached.then(|| view! { <Badge text=t(l, "review.breached") tone="danger"/> })}
                                        </span>
                                        <span class="mt-1 block truncate text-sm">{item.excerpt.clone()}</span>
                                        <span class="mt-1 block text-xs text-muted">
                                            {t(l, item.status.label_key())}
                                            {item.assignee.clone().map(|a| format!(" · {a}"))}
                                            " · " {tf(l, "review.due", &[("at", when(item.sla_due_at))])}
                                        </span>
                                    </button>
                                </li>
                            }
                        }).collect_view().into_any()
                    }}
                </ul>
            </section>
            <section aria-labelledby="item-title" class="min-w-0">
                <Transition fallback=|| view! { <Skeleton lines=6/> }>
                    {move || Suspend::new(async move {
                        match detail.await {
                            None => view! { <h2 id="item-title" class="sr-only">{tr("review.item")}</h2> }.into_any(),
                            Some(Err(e)) => view! { <h2 id="item-title" class="sr-only">{tr("review.item")}</h2> <p class="alert alert-danger" role="alert">{e.to_string()}</p> }.into_any(),
                            Some(Ok(d)) => view! { <ItemPanel detail=d act reply dispatch/> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </div>
        </div>
    }
}

#[component]
fn ItemPanel(
    detail: ItemDetail,
    act: ServerAction<ReviewAct>,
    reply: ServerAction<ReviewReply>,
    dispatch: impl Fn(ItemAction) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let l = locale();
    let item = detail.item.clone();
    let open = item.status != ItemStatus::Resolved;
    let id = item.id.to_string();
    let body = RwSignal::new(String::new());
    let pending = move || act.pending().get() || reply.pending().get();
    let reply_error = move || match reply.value().get() {
        Some(Err(e)) => e.for_field("body"),
        _ => None,
    };
    let intent = detail.corrected_intent.or(item.intent);
    let suggestion = detail.suggested_reply.clone();
    let templates = detail.templates.clone();
    let picked = RwSignal::new(None::<(Uuid, String)>);
    view! {
        <div class="card" data-testid="review-detail">
            <h2 id="item-title" class="card-title">
                <a class="link" href=format!("/leads/{}", item.lead_id)>{item.lead_name.clone()}</a>
            </h2>
            <p class="flex flex-wrap gap-2 text-sm">
                <Badge text=t(l, item.reason.label_key())/>
                <Badge text=t(l, item.priority.label_key()) tone=priority_tone(item.priority)/>
                <span>{t(l, item.status.label_key())}</span>
                {item.assignee.clone().map(|a| view! { <span>"· " {a}</span> })}
                <span class="text-muted">{tf(l, "review.due", &[("at", when(item.sla_due_at))])}</span>
            </p>
            <dl class="mt-3 grid grid-cols-2 gap-2 text-sm md:grid-cols-4" data-testid="classification">
                <div><dt class="text-muted">{tr("review.intent")}</dt>
                    <dd>{intent.map(|i| t(l, i.label_key())).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt class="text-muted">{tr("review.sentiment")}</dt>
                    <dd class="tabular-nums">{detail.sentiment.map(|s| s.to_string()).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt class="text-muted">{tr("review.confidence")}</dt>
                    <dd class="tabular-nums">{detail.confidence.map(|c| format!("{:.0}%", c * 100.0)).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt class="text-muted">{tr("review.journey")}</dt>
                    <dd>{detail.journey.clone().unwrap_or_else(|| "—".into())}</dd></div>
            </dl>
            {(!detail.reasons.is_empty()).then(|| view! {
                <p class="mt-2 text-sm"><span class="text-muted">{tr("review.why")} " "</span>{detail.reasons.join(" · ")}</p>
            })}
            {detail.ai_summary.clone().map(|summary| view! {
                <div class="mt-2 text-sm" data-testid="ai-summary">
                    <span class="text-muted">{tr("review.ai.summary")} " "</span>
                    <bdi dir="auto">{summary}</bdi>
                    {detail.by_model.then(|| view! { <span class="ms-2"><Badge text=tr("review.ai.by_model")/></span> })}
                </div>
            })}
            <p class="mt-2 text-sm text-muted">
                {[detail.lead_email.clone(), detail.lead_phone.clone(), detail.company.clone(), detail.owner.clone().map(|o| tf(l, "review.owner", &[("name", o)]))]
                    .into_iter().flatten().collect::<Vec<_>>().join(" · ")}
            </p>
        </div>
        <section class="card" aria-labelledby="thread-title">
            <h3 id="thread-title" class="card-title">{tr("review.thread")}</h3>
            <ol class="space-y-2" data-testid="review-thread">
                {detail.thread.iter().map(|m| view! {
                    <li class=if m.inbound { "rounded border border-line p-2" } else { "rounded border border-line bg-canvas p-2 ms-8" }>
                        <p class="text-xs text-muted">
                            {if m.inbound { t(l, "review.from_lead") } else { t(l, "review.from_us") }}
                            " · " {m.channel.clone()} " · " {when(m.at)}
                        </p>
                        {m.subject.clone().filter(|s| !s.is_empty()).map(|s| view! { <p class="font-medium">{s}</p> })}
                        <p class="whitespace-pre-wrap break-words">{m.body.clone()}</p>
                    </li>
                }).collect_view()}
            </ol>
        </section>
        {open.then(|| view! {
            <div class="card">
                <div class="flex flex-wrap gap-2" role="group" aria-label=tr("review.actions")>
                    <button type="button" class="btn btn-secondary" aria-keyshortcuts="a" disabled=pending on:click=move |_| dispatch(ItemAction::Claim)>{tr("review.claim")}</button>
                    <button type="button" class="btn btn-secondary" aria-keyshortcuts="c" disabled=pending on:click=move |_| dispatch(ItemAction::Confirm)>{tr("review.confirm")}</button>
                    <button type="button" class="btn btn-secondary" aria-keyshortcuts="i" disabled=pending on:click=move |_| dispatch(ItemAction::Ignore)>{tr("review.ignore")}</button>
                    <button type="button" class="btn btn-secondary" aria-keyshortcuts="e" disabled=pending on:click=move |_| dispatch(ItemAction::Escalate)>{tr("review.escalate")}</button>
                    <button type="button" class="btn btn-secondary" aria-keyshortcuts="t" disabled=pending on:click=move |_| dispatch(ItemAction::TakeOver)>{tr("review.take_over")}</button>
                </div>
                <div class="field mt-3">
                    <label for="r-correct" class="field-label">{tr("review.correct")}</label>
                    <select id="r-correct" class="input" disabled=pending
                        on:change=move |ev| {
                            if let Some(i) = Intent::parse(&event_target_value(&ev)) {
                                dispatch(ItemAction::Correct(i));
                            }
                        }>
                        <option value="">{tr("review.correct_choose")}</option>
                        {Intent::ALL.iter().filter(|i| Some(**i) != intent).map(|i| view! { <option value=i.code()>{tr(i.label_key())}</option> }).collect_view()}
                    </select>
                </div>
                <form class="mt-3 form-col" on:submit=move |ev| {
                    ev.prevent_default();
                    // A template sent as it stands goes as the template (a closed
                    // WhatsApp window needs one); edited, it is the member's own text.
                    let text = body.get_untracked();
                    let template_id = picked
                        .get_untracked()
                        .filter(|(_, t)| *t == text)
                        .map(|(template, _)| template.to_string());
                    reply.dispatch(ReviewReply { id: id.clone(), body: text, template_id });
                }>
                    <div class="field">
                        <label for="review-reply" class="field-label">{tr("review.reply")}</label>
                        <textarea id="review-reply" class="input" rows="4" aria-keyshortcuts="r"
                            aria-invalid=move || reply_error().is_some().then_some("true")
                            aria-describedby=move || reply_error().is_some().then_some("review-reply-error")
                            prop:value=body on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                        {move || reply_error().map(|e| view! { <p id="review-reply-error" class="field-error" role="alert">{e}</p> })}
                        {(!templates.is_empty()).then(|| {
                            let texts: Vec<(Uuid, String)> = templates.iter().map(|t| (t.id, t.text.clone())).collect();
                            view! {
                                <div class="field mt-2">
                                    <label for="review-template" class="field-label">{tr("review.template")}</label>
                                    <select id="review-template" class="input" on:change=move |ev| {
                                        if let Some((template, text)) = event_target_value(&ev).parse::<usize>().ok().and_then(|i| texts.get(i)) {
                                            body.set(text.clone());
                                            picked.set(Some((*template, text.clone())));
                                        }
                                    }>
                                        <option value="">{tr("review.template_choose")}</option>
                                        {templates.iter().enumerate().map(|(i, t)| view! { <option value=i.to_string()>{t.name.clone()}</option> }).collect_view()}
                                    </select>
                                </div>
                            }
                        })}
                        {suggestion.clone().map(|text| {
                            let fill = text.clone();
                            view! {
                                <div class="mt-2 rounded border border-line p-2 text-sm" data-testid="ai-suggestion">
                                    <p class="text-muted">{tr("review.ai.suggestion")}</p>
                                    <p class="whitespace-pre-wrap break-words" dir="auto">{text}</p>
                                    <button type="button" class="btn btn-secondary mt-2"
                                        on:click=move |_| body.set(fill.clone())>{tr("review.ai.use_suggestion")}</button>
                                </div>
                            }
                        })}
                        {(item.channel.as_deref() == Some("WHATSAPP") && !detail.wa_window_open).then(|| view! {
                            <p class="text-sm text-muted">{tr("review.window_closed")}</p>
                        })}
                    </div>
                    <div><button type="submit" class="btn btn-primary" disabled=pending>{tr("review.send")}</button></div>
                </form>
            </div>
        })}
        {(!open).then(|| view! {
            <p class="alert alert-success" role="status">
                {tf(l, "review.resolved_as", &[("how", detail.resolution.map(|r| t(l, r.label_key())).unwrap_or_default())])}
            </p>
        })}
    }
}
