//! Platform settings, secrets masked.

use super::*;

#[component]
pub fn StaffConfigPage() -> impl IntoView {
    let saved = RwSignal::new(0u32);
    let config = Resource::new(move || saved.get(), |_| staff_config());
    view! {
        <PageHeader title=tr("staff.config")/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match config.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(c) => {
                        let can = c.can_manage;
                        view! {
                            <Card title=t(locale(), "staff.config.settings")>
                                <div class="space-y-4" data-testid="platform-settings">
                                    {c.entries.into_iter().map(|entry| view! { <ConfigRow entry can saved/> }).collect_view()}
                                </div>
                            </Card>
                            <Card title=t(locale(), "staff.config.running")>
                                <p class="text-sm text-muted mb-2">{tr("staff.config.running_hint")}</p>
                                <table class="table" data-testid="running-config">
                                    <thead><tr>
                                        <th scope="col">{tr("staff.config.name")}</th>
                                        <th scope="col">{tr("staff.config.value")}</th>
                                    </tr></thead>
                                    <tbody>
                                        {c.running.into_iter().map(|r| view! {
                                            <tr><th scope="row">{r.name}</th><td dir="ltr"><code>{r.value}</code></td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </Card>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn ConfigRow(entry: ConfigEntry, can: bool, saved: RwSignal<u32>) -> impl IntoView {
    let l = locale();
    let save = ServerAction::<SetConfig>::new();
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let id = format!("config-{}", entry.key.replace('.', "-"));
    let error = field_error(save.value(), "value");
    let other = form_error(save.value(), &["value"]);
    let changed = match entry.updated_by.clone() {
        Some(who) => tf(
            l,
            "staff.config.changed_by",
            &[("who", who), ("at", when(entry.updated_at))],
        ),
        None => tf(l, "staff.config.since", &[("at", when(entry.updated_at))]),
    };
    let (vid, rid, eid) = (
        format!("{id}-value"),
        format!("{id}-reason"),
        format!("{id}-error"),
    );
    let key = entry.key.clone();
    view! {
        <div data-testid="setting" data-key=entry.key.clone()>
            <h3 class="font-semibold"><code>{entry.key.clone()}</code></h3>
            <p class="text-sm text-muted">{entry.description.clone()}</p>
            <p class="text-xs text-muted">{changed}</p>
            <ActionForm action=save attr:class="mt-2 flex flex-wrap items-end gap-3">
                <input type="hidden" name="key" value=key.clone()/>
                <div class="field mb-0">
                    <label for=vid.clone() class="field-label">{tf(l, "staff.config.value_of", &[("key", key.clone())])}</label>
                    <input id=vid name="value" class="input" disabled=!can
                           value=entry.value.clone().unwrap_or_default()
                           placeholder=entry.sensitive.then(|| t(l, "staff.config.hidden"))
                           aria-describedby=eid.clone()/>
                    {move || error.get().map(|m| view! { <p id=eid.clone() class="field-error" role="alert">{m}</p> })}
                </div>
                {can.then(|| view! {
                    <div class="field mb-0">
                        <label for=rid.clone() class="field-label">{tf(l, "staff.config.reason_for", &[("key", key.clone())])}</label>
                        <input id=rid name="reason" class="input" maxlength="500"/>
                    </div>
                    <button type="submit" class="btn btn-primary">{tf(l, "staff.config.save", &[("key", key.clone())])}</button>
                })}
            </ActionForm>
            <Alert message=other/>
        </div>
    }
}
