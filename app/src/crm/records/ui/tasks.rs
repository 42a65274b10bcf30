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
                        let s = t.sections(now, &crate::ui::zone());
                        let sections = [("tasks.overdue", s.overdue), ("tasks.today", s.today), ("tasks.upcoming", s.upcoming)];
                        view! {
                            {sections.into_iter().map(|(key, list)| view! {
                                <Card title=tr(key)>
                                    {if list.is_empty() {
                                        view! { <p class="text-sm text-muted">{tr("tasks.none")}</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="divide-y divide-line" data-testid=key>
                                                {list.into_iter().map(|task| {
                                                    let task_id = task.id;
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
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
                                </Card>
                            }).collect_view()}
                        }.into_any()
                    }
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Transition>
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
