//! "My tasks" and search results.

use super::*;

#[component]
pub fn TasksPage() -> impl IntoView {
    let done = RwSignal::new(0_u32);
    let tasks = Resource::new(move || done.get(), |_| get_my_tasks());
    let notice = RwSignal::new(None::<String>);
    let clock = crate::ui::browser_clock();
    view! {
        <PageHeader title=tr("tasks.title")/>
        <Alert message=notice/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match tasks.await {
                    Ok(t) => {
                        let now = clock.get().unwrap_or(t.read_at);
                        let zone = crate::ui::zone();
                        let s = t.sections(now, &zone);
                        let members = t.members.clone();
                        let sections = [("tasks.overdue", s.overdue), ("tasks.today", s.today), ("tasks.upcoming", s.upcoming)];
                        let meetings = t.meetings.clone();
                        view! {
                            {(!meetings.is_empty()).then(|| view! {
                                <Card title=tr("tasks.meetings")>
                                    <ul class="divide-y divide-line" data-testid="meetings">
                                        {meetings.into_iter().map(|m| view! {
                                            <li class="flex flex-wrap items-center gap-3 py-2" data-testid="meeting">
                                                <span class="grow">{m.subject.clone()}</span>
                                                {m.about.clone().map(|l| view! { <a class="link text-sm" href=l.entity.path(l.id)>{l.name}</a> })}
                                                <span class="text-xs text-muted">{format!("{} – {}", crate::ui::when(m.starts_at), crate::ui::clock(m.ends_at))}</span>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </Card>
                            })}
                            {sections.into_iter().map(|(key, list)| { let (zone, members) = (zone.clone(), members.clone()); view! {
                                <Card title=tr(key)>
                                    {if list.is_empty() {
                                        view! { <p class="text-sm text-muted">{tr("tasks.none")}</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="divide-y divide-line" data-testid=key>
                                                {list.into_iter().map(|task| {
                                                    let task_id = task.id;
                                                    let controls = TaskControls { task: task.clone(), zone: zone.clone(), members: members.clone(), done, notice };
                                                    view! {
                                                        <li class="flex items-center gap-3 py-2" data-testid="task">
                                                            <button type="button" class="btn btn-secondary" on:click=move |_| {
                                                                spawn_local(async move {
                                                                    match complete_task(task_id).await {
                                                                        Ok(()) => done.update(|d| *d += 1),
                                                                        Err(e) => notice.set(Some(e.to_string())),
                                                                    }
                                                                });
                                                            }>{tr("tasks.complete")}</button>
                                                            <span class="grow">{task.subject.clone()}</span>
                                                            {task.about.clone().map(|l| view! { <a class="link text-sm" href=l.entity.path(l.id)>{l.name}</a> })}
                                                            <span class="text-xs text-muted">{task.due_at.map(crate::ui::when)}</span>
                                                            {controls.view()}
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
                                </Card>
                            }}).collect_view()}
                        }.into_any()
                    }
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A task row's reschedule, reassign and cancel controls.
struct TaskControls {
    task: TaskRow,
    zone: String,
    members: Vec<MemberRef>,
    done: RwSignal<u32>,
    notice: RwSignal<Option<String>>,
}

impl TaskControls {
    fn view(self) -> impl IntoView {
        let TaskControls {
            task,
            zone,
            members,
            done,
            notice,
        } = self;
        let id = task.id;
        let after = move |result: Result<(), AppError>| match result {
            Ok(()) => {
                notice.set(None);
                done.update(|d| *d += 1);
            }
            Err(e) => notice.set(Some(e.to_string())),
        };
        let due = RwSignal::new(
            task.due_at
                .map(|d| {
                    crate::l10n::to_local(&zone, d)
                        .format("%Y-%m-%dT%H:%M")
                        .to_string()
                })
                .unwrap_or_default(),
        );
        let about = task.subject.clone();
        view! {
            <form class="flex items-center gap-1" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let text = due.get_untracked();
                spawn_local(async move { after(reschedule_task(id, text).await) });
            }>
                <input type="datetime-local" id=format!("due-{id}") class="input w-auto text-xs" prop:value=move || due.get()
                    aria-label=tf(locale(), "tasks.due_of", &[("task", about.clone())])
                    on:input=move |ev| due.set(event_target_value(&ev))/>
                <crate::ui::DatePicker input=format!("due-{id}")/>
                <button type="submit" class="btn btn-ghost">{tr("tasks.reschedule")}</button>
            </form>
            {(members.len() > 1).then(|| view! {
                <select class="input w-auto text-xs" aria-label=tf(locale(), "tasks.assignee_of", &[("task", task.subject.clone())])
                    on:change=move |ev| {
                        if let Ok(user) = event_target_value(&ev).parse::<Uuid>() {
                            spawn_local(async move { after(assign_task(id, user).await) });
                        }
                    }>
                    <option value="" selected=true>{tr("tasks.reassign")}</option>
                    {members.into_iter().map(|m| view! { <option value=m.user_id.to_string()>{m.name}</option> }).collect_view()}
                </select>
            })}
            <button type="button" class="btn btn-ghost" on:click=move |_| {
                spawn_local(async move { after(cancel_task(id).await) });
            }>{tr("tasks.cancel")}<span class="sr-only">{format!(" — {}", task.subject)}</span></button>
        }
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.get().get("q").unwrap_or_default());
    let hits = Resource::new(move || q.get(), search_records);
    view! {
        <PageHeader title=tr("search.title")/>
        <Transition fallback=|| view! { <Skeleton lines=4/> }>
            {move || Suspend::new(async move {
                match hits.await {
                    Ok(found) if found.hits.is_empty() => view! { <div class="empty-state"><p>{tr("search.none")}</p></div> }.into_any(),
                    Ok(found) => view! {
                        <ul class="card space-y-1" data-testid="search-hits">
                            {found.hits.into_iter().map(|l| view! {
                                <li><span class="badge badge-neutral me-2">{tr(&entity_key(l.entity, "one"))}</span>
                                    <a class="link" href=l.entity.path(l.id)>{l.name}</a></li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}
