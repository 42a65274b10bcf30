//! Feature flags: rollout, per-workspace overrides.

use super::*;

#[component]
pub fn StaffFlagsPage() -> impl IntoView {
    // Each flag's form has its own action (its errors stay on its card); a save
    // anywhere reloads the list.
    let saved = RwSignal::new(0u32);
    let grant = ServerAction::<SetOverride>::new();
    let remove = ServerAction::<ClearOverride>::new();
    let flags = Resource::new(
        move || (saved.get(), grant.version().get(), remove.version().get()),
        |_| staff_flags(),
    );
    view! {
        <PageHeader title=tr("staff.flags")/>
        <Alert message=form_error(remove.value(), &["reason"])/>
        <Transition fallback=|| view! { <Skeleton lines=6/> }>
            {move || Suspend::new(async move {
                match flags.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(f) => {
                        let can = f.can_manage;
                        let keys: Vec<String> = f.flags.iter().map(|x| x.key.clone()).collect();
                        view! {
                            {f.flags.into_iter().map(|flag| view! { <FlagCard flag can saved remove/> }).collect_view()}
                            {can.then(|| view! { <OverrideForm keys grant/> })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn FlagCard(
    flag: Flag,
    can: bool,
    saved: RwSignal<u32>,
    remove: ServerAction<ClearOverride>,
) -> impl IntoView {
    let l = locale();
    let id = flag.key.replace('.', "-");
    let state = if !flag.enabled {
        t(l, "staff.flag_off")
    } else {
        tf(
            l,
            "staff.flag_on",
            &[(
                "percent",
                l10n::percent(l, i64::from(flag.rollout_percentage)),
            )],
        )
    };
    let tone = if flag.enabled { "success" } else { "neutral" };
    let key = flag.key.clone();
    let (enabled, rollout) = (flag.enabled, flag.rollout_percentage);
    let save = ServerAction::<SetFlag>::new();
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let rollout_error = field_error(save.value(), "rollout");
    let other_error = form_error(save.value(), &["rollout"]);
    view! {
        <section class="card" data-testid="flag" data-key=flag.key.clone() aria-labelledby={format!("{id}-title")}>
            <div class="flex flex-wrap items-center gap-2">
                <h2 class="card-title mb-0" id={format!("{id}-title")}><code>{flag.key.clone()}</code></h2>
                <Badge text=state tone=tone/>
            </div>
            <p class="text-sm text-muted">{flag.description.clone()}</p>
            {can.then(|| {
                let key = key.clone();
                let id = id.clone();
                let label = |k: &str| tf(l, k, &[("key", key.clone())]);
                let (on_label, rollout_label, reason_label, save_label) = (
                    label("staff.enabled_for"),
                    label("staff.rollout_for"),
                    label("staff.reason_for"),
                    label("staff.save_flag"),
                );
                view! {
                    <ActionForm action=save attr:class="mt-3 flex flex-wrap items-end gap-3">
                        <input type="hidden" name="key" value=key.clone()/>
                        <div class="field mb-0 flex items-center gap-2">
                            <input id={format!("{id}-enabled")} type="checkbox" name="enabled" value="on" checked=enabled/>
                            <label for={format!("{id}-enabled")}>{on_label}</label>
                        </div>
                        <div class="field mb-0">
                            <label for={format!("{id}-rollout")} class="field-label">{rollout_label}</label>
                            <input id={format!("{id}-rollout")} name="rollout" type="number" min="0" max="100" class="input w-28"
                                   value=rollout.to_string()
                                   aria-describedby={format!("{id}-rollout-hint")}/>
                            <p id={format!("{id}-rollout-hint")} class="field-hint">{tr("staff.rollout_hint")}</p>
                        </div>
                        <div class="field mb-0">
                            <label for={format!("{id}-reason")} class="field-label">{reason_label}</label>
                            <input id={format!("{id}-reason")} name="reason" class="input" maxlength="500"/>
                        </div>
                        <button type="submit" class="btn btn-primary">{save_label}</button>
                    </ActionForm>
                }
            })}
            {move || rollout_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            <Alert message=other_error/>
            {(!flag.overrides.is_empty()).then(|| view! {
                <table class="table mt-3">
                    <caption class="text-start text-sm font-semibold">{tr("staff.overrides")}</caption>
                    <thead><tr>
                        <th scope="col">{tr("staff.col.workspace")}</th>
                        <th scope="col">{tr("staff.col.override")}</th>
                        <th scope="col">{tr("staff.col.expires")}</th>
                        {can.then(|| view! { <th scope="col">{tr("staff.col.remove")}</th> })}
                    </tr></thead>
                    <tbody>
                        {flag.overrides.into_iter().map(|o| {
                            let key = key.clone();
                            let rid = format!("{id}-{}-reason", o.tenant_id);
                            view! {
                                <tr>
                                    <th scope="row"><bdi>{o.tenant_name.clone()}</bdi><div class="text-xs text-muted">{o.tenant_slug.clone()}</div></th>
                                    <td>{tr(if o.enabled { "staff.granted" } else { "staff.withdrawn" })}</td>
                                    <td>{o.expires_at.map_or_else(|| t(l, "staff.never"), when)}</td>
                                    {can.then(|| view! {
                                        <td>
                                            <ActionForm action=remove attr:class="flex flex-wrap items-end gap-2">
                                                <input type="hidden" name="key" value=key/>
                                                <input type="hidden" name="tenant" value=o.tenant_id.to_string()/>
                                                <label for=rid.clone() class="sr-only">{tf(l, "staff.remove_reason", &[("workspace", o.tenant_name.clone())])}</label>
                                                <input id=rid name="reason" class="input w-40" required maxlength="500" placeholder=t(l, "staff.reason")/>
                                                <button type="submit" class="btn">{tf(l, "staff.remove_override", &[("workspace", o.tenant_name.clone())])}</button>
                                            </ActionForm>
                                        </td>
                                    })}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}

#[component]
fn OverrideForm(keys: Vec<String>, grant: ServerAction<SetOverride>) -> impl IntoView {
    let l = locale();
    let error_of = move |name: &'static str| {
        let e = field_error(grant.value(), name);
        move || {
            e.get().map(|m| view! { <p id={format!("o-{name}-error")} class="field-error" role="alert">{m}</p> })
        }
    };
    view! {
        <Card title=t(l, "staff.add_override")>
            <Alert message=form_error(grant.value(), &["workspace", "state", "days", "reason"])/>
            {move || matches!(grant.value().get(), Some(Ok(()))).then(|| view! {
                <p class="alert alert-success" role="status">{tr("staff.override_saved")}</p>
            })}
            <ActionForm action=grant attr:class="grid gap-3 md:grid-cols-2">
                <div class="field">
                    <label for="o-key" class="field-label">{tr("staff.flag")}</label>
                    <select id="o-key" name="key" class="input">
                        {keys.into_iter().map(|k| view! { <option value=k.clone()>{k.clone()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="o-workspace" class="field-label">{tr("staff.workspace_address")}</label>
                    <input id="o-workspace" name="workspace" class="input" required aria-describedby="o-workspace-error"/>
                    {error_of("workspace")}
                </div>
                <div class="field">
                    <label for="o-state" class="field-label">{tr("staff.override_state")}</label>
                    <select id="o-state" name="state" class="input">
                        <option value="on">{tr("staff.granted")}</option>
                        <option value="off">{tr("staff.withdrawn")}</option>
                    </select>
                </div>
                <div class="field">
                    <label for="o-days" class="field-label">{tr("staff.days")}</label>
                    <input id="o-days" name="days" type="number" min="1" max="365" class="input" aria-describedby="o-days-hint o-days-error"/>
                    <p id="o-days-hint" class="field-hint">{tr("staff.days_hint")}</p>
                    {error_of("days")}
                </div>
                <div class="field md:col-span-2">
                    <label for="o-reason" class="field-label">{tr("staff.reason")}</label>
                    <input id="o-reason" name="reason" class="input" required maxlength="500" aria-describedby="o-reason-error"/>
                    {error_of("reason")}
                </div>
                <div><button type="submit" class="btn btn-primary">{tr("staff.save_override")}</button></div>
            </ActionForm>
        </Card>
    }
}
