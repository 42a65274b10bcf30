//! The notification centre's pages: `/notifications` (all of them, newest first, with
//! "unread only" and paging) and `/settings/notifications` (where each kind goes).

use super::*;
use crate::i18n::{t, tf};
use crate::ui::{locale, tr, Badge, LoadError, PageHeader, Skeleton};

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let l = locale();
    let unread_only = RwSignal::new(false);
    // The cursors of the pages before this one, so "Newer" can go back.
    let trail = RwSignal::new(Vec::<Option<String>>::new());
    let before = RwSignal::new(None::<String>);
    let read_one = ServerAction::<MarkNotificationRead>::new();
    let read_all = ServerAction::<crate::outreach::api::MarkNotificationsRead>::new();
    let tick = RwSignal::new(0u32);
    let list = Resource::new(
        move || {
            (
                before.get(),
                unread_only.get(),
                read_one.version().get(),
                read_all.version().get(),
                tick.get(),
            )
        },
        |(before, unread_only, _, _, _)| notification_page(before, unread_only),
    );
    crate::live::on_event("notice", move |_| {
        tick.try_update(|n| *n += 1);
    });
    let error = move || {
        read_one
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    view! {
        <PageHeader title=tr("notices.title")>
            <ActionForm action=read_all>
                <button type="submit" class="btn btn-secondary">{tr("nav.mark_all_read")}</button>
            </ActionForm>
        </PageHeader>
        <label class="mb-3 inline-flex items-center gap-2 text-sm">
            <input type="checkbox" class="h-4 w-4" prop:checked=move || unread_only.get()
                on:change=move |ev| {
                    trail.set(Vec::new());
                    before.set(None);
                    unread_only.set(event_target_checked(&ev));
                }/>
            {tr("notices.unread_only")}
        </label>
        {move || error().map(|e| view! { <p class="alert alert-danger" role="alert">{e}</p> })}
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(error) => view! { <LoadError error/> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <div class="empty-state"><p>{tr("nav.no_notifications")}</p></div>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next.clone();
                        view! {
                            <ul class="space-y-2" data-testid="notifications">
                                {page.items.into_iter().map(|n| {
                                    let unread = !n.read;
                                    view! {
                                        <li class="card flex flex-wrap items-start gap-3" data-testid="notification" data-unread=unread.to_string()>
                                            <div class="min-w-0 grow">
                                                <p class="flex flex-wrap items-center gap-2 text-xs text-muted">
                                                    {unread.then(|| view! { <Badge text=t(l, "inbox.unread") tone="info"/> })}
                                                    <span>{t(l, &format!("notices.kind.{}", n.kind))}</span>
                                                    <crate::ui::Ago at=n.created_at class="tabular-nums"/>
                                                </p>
                                                {match n.link.clone() {
                                                    Some(link) => view! { <a class="link" href=link>{n.body.clone()}</a> }.into_any(),
                                                    None => view! { <span>{n.body.clone()}</span> }.into_any(),
                                                }}
                                            </div>
                                            {unread.then(|| view! {
                                                <ActionForm action=read_one>
                                                    <input type="hidden" name="id" value=n.id.to_string()/>
                                                    <button type="submit" class="btn btn-ghost">{tr("inbox.mark_read")}</button>
                                                </ActionForm>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <nav class="mt-3 flex gap-2" aria-label=tr("notices.pages")>
                                {move || (!trail.get().is_empty()).then(|| view! {
                                    <button type="button" class="btn btn-secondary" on:click=move |_| {
                                        let mut back = trail.get_untracked();
                                        let previous = back.pop().flatten();
                                        trail.set(back);
                                        before.set(previous);
                                    }>{tr("notices.newer")}</button>
                                })}
                                {next.clone().map(|cursor| view! {
                                    <button type="button" class="btn btn-secondary" on:click=move |_| {
                                        trail.update(|t| t.push(before.get_untracked()));
                                        before.set(Some(cursor.clone()));
                                    }>{tr("notices.older")}</button>
                                })}
                            </nav>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
pub fn NotificationPrefsPage() -> impl IntoView {
    let l = locale();
    let prefs = Resource::new(|| (), |_| notification_prefs());
    let save = ServerAction::<SaveNotificationPrefs>::new();
    // The choices as edited, filled from the server once it answers.
    let edited = RwSignal::new(Vec::<NoticePref>::new());
    Effect::new(move || {
        if let Some(Ok(list)) = prefs.get() {
            edited.set(list);
        }
    });
    let toggle = move |kind: String, email: bool, on: bool| {
        edited.update(|list| {
            if let Some(p) = list.iter_mut().find(|p| p.kind == kind) {
                if email {
                    p.email = on;
                } else {
                    p.in_app = on;
                }
            }
        })
    };
    view! {
        <PageHeader title=tr("notices.prefs_title")/>
        <p class="mb-3 text-sm text-muted">{tr("notices.prefs_hint")}</p>
        <Transition fallback=|| view! { <Skeleton lines=8/> }>
            {move || Suspend::new(async move {
                match prefs.await {
                    Err(error) => view! { <LoadError error/> }.into_any(),
                    Ok(list) => view! {
                        <form on:submit=move |ev| {
                            ev.prevent_default();
                            save.dispatch(SaveNotificationPrefs { prefs: edited.get_untracked() });
                        }>
                            <div class="table-wrap">
                                <table class="table" data-testid="notification-prefs">
                                    <thead><tr>
                                        <th scope="col">{tr("notices.kind")}</th>
                                        <th scope="col">{tr("notices.in_app")}</th>
                                        <th scope="col">{tr("notices.email_digest")}</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|p| {
                                            let label = t(l, &format!("notices.kind.{}", p.kind));
                                            let (k1, k2) = (p.kind.clone(), p.kind.clone());
                                            view! {
                                                <tr>
                                                    <th scope="row" class="font-normal">{label.clone()}</th>
                                                    <td>
                                                        <input type="checkbox" class="h-4 w-4" checked=p.in_app
                                                            aria-label=tf(l, "notices.in_app_for", &[("kind", label.clone())])
                                                            on:change=move |ev| toggle(k1.clone(), false, event_target_checked(&ev))/>
                                                    </td>
                                                    <td>
                                                        <input type="checkbox" class="h-4 w-4" checked=p.email
                                                            aria-label=tf(l, "notices.email_for", &[("kind", label)])
                                                            on:change=move |ev| toggle(k2.clone(), true, event_target_checked(&ev))/>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <div class="mt-3 flex items-center gap-3">
                                <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>
                                    {tr("notices.save")}
                                </button>
                                {move || match save.value().get() {
                                    Some(Ok(())) => Some(view! { <p class="text-sm text-success" role="status">{tr("notices.saved")}</p> }.into_any()),
                                    Some(Err(e)) => Some(view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any()),
                                    None => None,
                                }}
                            </div>
                        </form>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
