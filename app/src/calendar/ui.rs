//! Settings → Calendar: make, replace or turn off the member's feed URL.

use super::*;
use crate::developers::ui::ShownOnce;
use crate::ui::{tr, Alert, Card, LoadError, PageHeader, Skeleton};

#[component]
pub fn CalendarFeedPage() -> impl IntoView {
    let create = ServerAction::<NewCalendarFeed>::new();
    let revoke = ServerAction::<RevokeCalendarFeed>::new();
    let status = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| calendar_feed(),
    );
    // The URL exists only in the answer that made it; turning the feed off forgets it.
    let url = RwSignal::new(None::<String>);
    Effect::new(move || {
        if let Some(Ok(u)) = create.value().get() {
            url.set(Some(u));
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = revoke.value().get() {
            url.set(None);
        }
    });
    let error = Signal::derive(move || {
        [
            create.value().get().and_then(Result::err),
            revoke.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string())
    });
    view! {
        <PageHeader title=tr("calendar.title")/>
        <Card>
            <p class="mb-3">{tr("calendar.intro")}</p>
            <Alert message=error/>
            <Transition fallback=|| view! { <Skeleton/> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                        Ok(s) => {
                            let active = s.since.is_some();
                            view! {
                                <div class="space-y-3" data-testid="calendar-feed">
                                    {match s.since {
                                        Some(since) => view! {
                                            <p class="badge badge-success">{tr("calendar.on")}</p>
                                            <p class="text-sm text-muted">
                                                {tr("calendar.since")} " "
                                                <time datetime=since.to_rfc3339()>{crate::ui::when(since)}</time>
                                            </p>
                                        }.into_any(),
                                        None => view! { <p class="text-sm text-muted">{tr("calendar.off")}</p> }.into_any(),
                                    }}
                                    {move || url.get().map(|u| view! {
                                        <ShownOnce label=tr("calendar.url") secret=u testid="calendar-url"/>
                                    })}
                                    <div class="flex flex-wrap gap-2">
                                        <button type="button" class="btn btn-primary" disabled=move || create.pending().get()
                                            on:click=move |_| {
                                                create.dispatch(NewCalendarFeed {});
                                            }>
                                            {if active { tr("calendar.replace") } else { tr("calendar.create") }}
                                        </button>
                                        {active.then(|| view! {
                                            <button type="button" class="btn btn-danger-ghost" disabled=move || revoke.pending().get()
                                                on:click=move |_| { revoke.dispatch(RevokeCalendarFeed {}); }>
                                                {tr("calendar.revoke")}
                                            </button>
                                        })}
                                    </div>
                                    {active.then(|| view! { <p class="field-hint">{tr("calendar.replace_hint")}</p> })}
                                </div>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </Card>
    }
}
