//! A record's timeline, newest first, paged.

use super::*;
use crate::crm::model::ActivityKind;

#[component]
pub(super) fn Timeline(entity: Entity, id: Uuid, members: Vec<MemberRef>) -> impl IntoView {
    let first = Resource::new(|| (), move |_| get_timeline(entity, id, None));
    let kind = RwSignal::new(ActivityKind::Note);
    let invited = RwSignal::new(Vec::<Uuid>::new());
    let attendees = members.clone();
    let action = ServerAction::<LogActivity>::new();
    let value = action.value();
    view! {
        <Card title=tr("timeline.title")>
            <ActionForm action attr:class="space-y-2 mb-4" attr:data-testid="composer" attr:novalidate="">
                <input type="hidden" name="entity" value=entity.code()/>
                <input type="hidden" name="id" value=id.to_string()/>
                <div class="flex flex-wrap gap-1" role="radiogroup" aria-label=tr("timeline.kind")>
                    {ActivityKind::WRITTEN.into_iter().map(|k| view! {
                        <label class="chip" class:chip-on=move || kind.get() == k>
                            <input type="radio" name="kind" value=k.code() class="sr-only" checked=k == ActivityKind::Note
                                   on:change=move |_| kind.set(k)/>
                            {tr(&format!("timeline.kind.{k}"))}
                        </label>
                    }).collect_view()}
                </div>
                {move || (kind.get() != ActivityKind::Note).then(|| view! {
                    <Field label=tr("timeline.subject") name="subject" error=field_error(value, "subject")/>
                })}
                {move || (kind.get() == ActivityKind::Task).then(|| {
                    let members = members.clone();
                    view! {
                        <Field label=tr("timeline.due") name="due_at" kind="datetime-local" error=field_error(value, "due_at")/>
                        <div class="field">
                            <label for="f-assignee_id" class="field-label">{tr("tasks.assignee")}</label>
                            <select id="f-assignee_id" name="assignee_id" class="input">
                                <option value="">{tr("tasks.assignee_default")}</option>
                                {members.into_iter().map(|m| view! { <option value=m.user_id.to_string()>{m.name}</option> }).collect_view()}
                            </select>
                            {move || field_error(value, "assignee_id").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                        </div>
                    }
                })}
                {move || (kind.get() == ActivityKind::Meeting).then(|| {
                    let attendees = attendees.clone();
                    view! {
                        <div class="grid grid-cols-2 gap-2">
                            <Field label=tr("timeline.starts") name="starts_at" kind="datetime-local" error=field_error(value, "starts_at")/>
                            <Field label=tr("timeline.ends") name="ends_at" kind="datetime-local" hint=tr("timeline.ends_hint") error=field_error(value, "ends_at")/>
                        </div>
                        <input type="hidden" name="attendee_ids"
                            prop:value=move || invited.with(|ids| ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(","))/>
                        <fieldset class="field">
                            <legend class="field-label">{tr("timeline.attendees")}</legend>
                            <div class="flex flex-wrap gap-x-4 gap-y-1">
                                {attendees.into_iter().map(|m| {
                                    let user = m.user_id;
                                    view! {
                                        <label class="flex items-center gap-2">
                                            <input type="checkbox" prop:checked=move || invited.with(|ids| ids.contains(&user))
                                                on:change=move |_| invited.update(|ids| {
                                                    if let Some(i) = ids.iter().position(|u| *u == user) {
                                                        ids.remove(i);
                                                    } else {
                                                        ids.push(user);
                                                    }
                                                })/>
                                            {m.name}
                                        </label>
                                    }
                                }).collect_view()}
                            </div>
                            {move || field_error(value, "attendee_ids").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                        </fieldset>
                    }
                })}
                {move || (kind.get() == ActivityKind::Call).then(|| view! {
                    <div class="grid grid-cols-2 gap-2">
                        <Field label=tr("timeline.duration") name="duration_minutes" kind="number" error=field_error(value, "duration_minutes")/>
                        <Field label=tr("timeline.outcome") name="outcome"/>
                    </div>
                })}
                <div class="field">
                    <label for="f-body" class="field-label">{tr("timeline.body")}</label>
                    <textarea id="f-body" name="body" rows="3" class="input"
                        aria-invalid=move || field_error(value, "body").get().is_some().then_some("true")></textarea>
                    {move || field_error(value, "body").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                </div>
                <div class="flex items-center gap-3">
                    <Submit label=tr("timeline.add") pending=action.pending()/>
                    <Alert message=form_error(value, &["subject", "body", "due_at", "duration_minutes", "kind", "assignee_id", "starts_at", "ends_at", "attendee_ids"])/>
                </div>
            </ActionForm>
            <Suspense fallback=|| view! { <Skeleton lines=4/> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(page) => view! { <TimelineList entity id page added=value/> }.into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    }
                })}
            </Suspense>
        </Card>
    }
}

#[component]
fn TimelineList<S>(entity: Entity, id: Uuid, page: TimelinePage, added: S) -> impl IntoView
where
    S: Get<Value = Option<Result<TimelineItem, AppError>>> + Send + Sync + Copy + 'static,
{
    let items = RwSignal::new(page.items);
    let next = RwSignal::new(page.next);
    Effect::new(move || {
        if let Some(Ok(item)) = added.get() {
            items.update(|list| {
                if !list.iter().any(|i| i.id == item.id) {
                    list.insert(0, item);
                }
            });
        }
    });
    view! {
        <ol class="timeline" data-testid="timeline">
            {move || items.get().into_iter().map(|item| view! { <TimelineEntry item/> }).collect_view()}
        </ol>
        {move || next.get().map(|cursor| view! {
            <button type="button" class="btn btn-ghost w-full" data-testid="timeline-more" on:click=move |_| {
                spawn_local(async move {
                    if let Ok(page) = get_timeline(entity, id, Some(cursor)).await {
                        items.update(|i| i.extend(page.items));
                        next.set(page.next);
                    }
                });
            }>{tr("board.load_more")}</button>
        })}
    }
}

#[component]
fn TimelineEntry(item: TimelineItem) -> impl IntoView {
    let kind = item.kind;
    let summary = match kind {
        ActivityKind::StageChange => tf(
            locale(),
            "timeline.stage_change",
            &[
                ("from", item.data["from"].as_str().unwrap_or("").to_string()),
                ("to", item.data["to"].as_str().unwrap_or("").to_string()),
            ],
        ),
        ActivityKind::StatusChange => tf(
            locale(),
            "timeline.status_change",
            &[
                (
                    "from",
                    item.data["from"]
                        .as_str()
                        .map(|s| tr(&format!("status.{s}")))
                        .unwrap_or_default(),
                ),
                (
                    "to",
                    item.data["to"]
                        .as_str()
                        .map(|s| tr(&format!("status.{s}")))
                        .unwrap_or_default(),
                ),
            ],
        ),
        ActivityKind::Assignment => tf(
            locale(),
            "timeline.assignment",
            &[(
                "to",
                item.data["to_name"].as_str().unwrap_or("—").to_string(),
            )],
        ),
        ActivityKind::ListAdd | ActivityKind::ListRemove => tf(
            locale(),
            if kind == ActivityKind::ListAdd {
                "timeline.list_add"
            } else {
                "timeline.list_remove"
            },
            &[("list", item.data["list"].as_str().unwrap_or("").to_string())],
        ),
        ActivityKind::Journey => {
            let state = |k: &str| {
                tr(&format!(
                    "outreach.journey.{}",
                    item.data[k].as_str().unwrap_or("COLD")
                ))
            };
            let mut s = tf(
                locale(),
                "timeline.journey",
                &[("from", state("from")), ("to", state("to"))],
            );
            if let Some(reason) = item.data["reason"].as_str().filter(|r| !r.is_empty()) {
                s.push_str(&format!(" · {reason}"));
            }
            s
        }
        ActivityKind::Merged | ActivityKind::MergeUndone => tf(
            locale(),
            if kind == ActivityKind::Merged {
                "timeline.merged"
            } else {
                "timeline.merge_undone"
            },
            &[(
                "name",
                item.data["merged"].as_str().unwrap_or("").to_string(),
            )],
        ),
        ActivityKind::Enrolled => tf(
            locale(),
            "timeline.enrolled",
            &[(
                "sequence",
                item.data["sequence"].as_str().unwrap_or("").to_string(),
            )],
        ),
        ActivityKind::Whatsapp | ActivityKind::Email => {
            let incoming = item.data["direction"].as_str() == Some("IN");
            let direction = if incoming {
                tr("outreach.incoming")
            } else {
                tr("outreach.outgoing")
            };
            // An incoming message's status says nothing more than that it came in.
            let status = item.data["status"]
                .as_str()
                .filter(|_| !incoming)
                .map(|s| format!(" · {}", tr(&format!("outreach.status.{s}"))))
                .unwrap_or_default();
            let subject = item
                .subject
                .clone()
                .map(|s| format!(" — {s}"))
                .unwrap_or_default();
            format!("{direction}{status}{subject}")
        }
        ActivityKind::Approval => crate::approvals::model::timeline_text(locale(), &item.data),
        ActivityKind::Call => {
            let mut s = item.subject.clone().unwrap_or_default();
            if let Some(m) = item.data["duration_minutes"].as_u64() {
                s.push_str(&format!(" · {m} min"));
            }
            if let Some(o) = item.data["outcome"].as_str() {
                s.push_str(&format!(" · {o}"));
            }
            s
        }
        ActivityKind::Note
        | ActivityKind::Meeting
        | ActivityKind::Task
        | ActivityKind::Created
        | ActivityKind::Imported => item.subject.clone().unwrap_or_default(),
    };
    let task = (kind == ActivityKind::Task).then(|| TaskLine {
        id: item.id,
        due_at: item.due_at,
        assignee: item.assignee.clone(),
        closed: RwSignal::new(item.done_at.map(|_| item.cancelled)),
    });
    view! {
        <li class="timeline-item" data-testid="timeline-item" data-kind=kind.code()>
            <div class="flex items-center gap-2 text-xs text-muted">
                <span class="badge badge-neutral">{tr(&format!("timeline.kind.{kind}"))}</span>
                <span>{item.actor.clone().unwrap_or_default()}</span>
                <crate::ui::Ago at=item.occurred_at/>
            </div>
            {(!summary.is_empty()).then(|| view! { <p class="font-medium text-sm mt-1">{summary}</p> })}
            {task.map(|t| view! { <TaskState task=t/> })}
            {meeting_line(&item).map(|line| view! { <p class="text-sm text-muted mt-1" data-testid="meeting-time">{line}</p> })}
            {item.body.clone().map(|b| view! { <p class="text-sm mt-1 whitespace-pre-wrap">{b}</p> })}
        </li>
    }
}

/// "8 Dec 2026, 14:00 – 15:30 · with Lina, Omar" for a meeting with a time.
fn meeting_line(item: &TimelineItem) -> Option<String> {
    let (start, end) = (item.starts_at?, item.ends_at?);
    let end_text = if crate::ui::day_of(start) == crate::ui::day_of(end) {
        crate::ui::clock(end)
    } else {
        crate::ui::when(end)
    };
    let mut line = format!("{} – {end_text}", crate::ui::when(start));
    if !item.attendees.is_empty() {
        line.push_str(" · ");
        line.push_str(&tf(
            locale(),
            "timeline.with",
            &[("names", item.attendees.join(", "))],
        ));
    }
    Some(line)
}

/// A task on the timeline: whether it is open, and its state's controls.
struct TaskLine {
    id: Uuid,
    due_at: Option<chrono::DateTime<chrono::Utc>>,
    assignee: Option<String>,
    /// `None` while open; `Some(true)` cancelled, `Some(false)` done.
    closed: RwSignal<Option<bool>>,
}

/// "Due …, for X" with Cancel, or "Done"/"Cancelled" with Reopen.
#[component]
fn TaskState(task: TaskLine) -> impl IntoView {
    let TaskLine {
        id,
        due_at,
        assignee,
        closed,
    } = task;
    let error = RwSignal::new(None::<String>);
    let act = move |reopen: bool| {
        spawn_local(async move {
            let result = if reopen {
                reopen_task(id).await
            } else {
                cancel_task(id).await
            };
            match result {
                Ok(()) => {
                    closed.set((!reopen).then_some(true));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <div class="flex flex-wrap items-center gap-2 text-xs" data-testid="task-state">
            {move || match closed.get() {
                Some(true) => view! { <span class="badge badge-neutral">{tr("tasks.cancelled")}</span> }.into_any(),
                Some(false) => view! { <span class="badge badge-success">{tr("timeline.done")}</span> }.into_any(),
                None => view! {
                    <span>{due_at.map(|due| tf(locale(), "timeline.due_on", &[("due", crate::ui::when(due))]))}</span>
                }.into_any(),
            }}
            {assignee.clone().map(|name| view! { <span class="text-muted">{crate::ui::isolated("tasks.for", &[("name", name)])}</span> })}
            {move || if closed.get().is_some() {
                view! { <button type="button" class="btn btn-ghost" on:click=move |_| act(true)>{tr("tasks.reopen")}</button> }.into_any()
            } else {
                view! { <button type="button" class="btn btn-ghost" on:click=move |_| act(false)>{tr("tasks.cancel")}</button> }.into_any()
            }}
            {move || error.get().map(|e| view! { <span class="field-error" role="alert">{e}</span> })}
        </div>
    }
}
