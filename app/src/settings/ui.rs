//! Settings: the user's own (profile, password, 2FA, sessions) and the tenant's
//! (workspace, security policy, team, audit log).

use super::api::*;
use super::model::*;
use crate::auth::api::{my_profile, my_sessions};
use crate::auth::api::{
    ChangePassword, RevokeSession, TotpBegin, TotpConfirm, TotpDisable, UpdateProfile,
};
use crate::auth::model::Permission;
use crate::i18n::Locale;
use crate::ui::{
    field_error, form_error, hard_redirect, page, tr, Alert, Card, Field, LoadError, PageHeader,
    Skeleton, Submit,
};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

#[component]
pub fn SettingsLayout() -> impl IntoView {
    let viewer = page().viewer.expect("settings render only for a viewer");
    let mut links = vec![
        ("/settings", "settings.profile"),
        ("/settings/password", "settings.password"),
        ("/settings/two-factor", "settings.two_factor"),
        ("/settings/sessions", "settings.sessions"),
        ("/settings/notifications", "settings.notifications"),
        ("/settings/calendar", "settings.calendar"),
    ];
    if viewer.can(Permission::TenantSettings) {
        links.push(("/settings/workspace", "settings.workspace"));
        links.push(("/settings/security", "settings.security"));
        links.push(("/settings/fields", "settings.fields"));
        links.push(("/settings/approvals", "settings.approvals"));
    }
    if viewer.can(Permission::ReviewWork) {
        links.push(("/settings/review", "settings.review_rules"));
    }
    if viewer.can(Permission::TeamView) {
        links.push(("/settings/team", "settings.team"));
    }
    if viewer.can(Permission::AuditView) {
        links.push(("/settings/audit", "settings.audit"));
    }
    if viewer.can(Permission::JobsManage) {
        links.push(("/settings/jobs", "settings.jobs"));
    }
    if viewer.can(Permission::DevelopersManage) {
        links.push(("/settings/developers", "settings.developers"));
    }
    view! {
        <div class="settings-grid">
            <nav aria-label=tr("nav.settings") class="settings-nav">
                {links.into_iter().map(|(href, key)| view! {
                    <A href=href attr:class="nav-link" exact=true>{tr(key)}</A>
                }).collect_view()}
            </nav>
            <div class="min-w-0"><Outlet/></div>
        </div>
    }
}

#[component]
fn Saved<T, S>(value: S) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, crate::error::AppError>>> + Send + Sync + 'static,
{
    view! {
        {move || matches!(value.get(), Some(Ok(_))).then(|| view! {
            <p class="alert alert-success" role="status">{tr("common.saved")}</p>
        })}
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let save = ServerAction::<UpdateProfile>::new();
    let value = save.value();
    let profile = Resource::new(|| (), |_| my_profile());
    // The language decides the whole page's direction, so a change reloads it.
    let current = page().locale;
    Effect::new(move || {
        if let Some(Ok(())) = value.get() {
            hard_redirect("/settings");
        }
    });
    view! {
        <PageHeader title=tr("settings.profile")/>
        <Suspense fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(p) => {
                        let lang = p.language.map(Locale::code).unwrap_or_default();
                        let theme = p.theme.clone();
                        view! {
                            <Card>
                                <ActionForm action=save attr:class="form-col" attr:novalidate="">
                                    <Alert message=form_error(value, &["name", "language", "timezone", "theme"])/>
                                    <Field label=tr("auth.name") name="name" value=p.name.clone() required=true error=field_error(value, "name")/>
                                    <div class="field">
                                        <span class="field-label">{tr("auth.email")}</span>
                                        <p>{p.email.clone()}</p>
                                    </div>
                                    <div class="field">
                                        <label for="f-language" class="field-label">{tr("settings.language")}</label>
                                        <select id="f-language" name="language" class="input">
                                            <option value="" selected=lang.is_empty()>{tr("settings.language_workspace")}</option>
                                            {Locale::ALL.into_iter().map(|l| view! {
                                                <option value=l.code() selected=lang == l.code()>{l.native_name()}</option>
                                            }).collect_view()}
                                        </select>
                                        <p class="field-hint">{format!("{}: {}", tr("settings.language_now"), current.native_name())}</p>
                                    </div>
                                    <div class="field">
                                        <label for="f-timezone" class="field-label">{tr("settings.timezone")}</label>
                                        // A datalist: type any part of a name ("Cairo") to find it.
                                        <input id="f-timezone" name="timezone" class="input" list="f-timezone-zones" autocomplete="off"
                                            value=p.timezone.clone().unwrap_or_default()
                                            aria-describedby="f-timezone-hint"
                                            aria-invalid=move || field_error(value, "timezone").get().is_some().then_some("true")/>
                                        <datalist id="f-timezone-zones">
                                            {p.zones.iter().map(|z| view! { <option value=z.clone()/> }).collect_view()}
                                        </datalist>
                                        <p id="f-timezone-hint" class="field-hint">{tr("settings.timezone_hint")}</p>
                                        {move || field_error(value, "timezone").get().map(|e| view! { <p id="f-timezone-error" class="field-error" role="alert">{e}</p> })}
                                    </div>
                                    <div class="field">
                                        <label for="f-theme" class="field-label">{tr("settings.theme")}</label>
                                        <select id="f-theme" name="theme" class="input">
                                            {["light", "dark", "system"].into_iter().map(|t| view! {
                                                <option value=t selected=theme == t>{tr(&format!("settings.theme_{t}"))}</option>
                                            }).collect_view()}
                                        </select>
                                    </div>
                                    <Submit label=tr("common.save") pending=save.pending()/>
                                </ActionForm>
                            </Card>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn PasswordPage() -> impl IntoView {
    let save = ServerAction::<ChangePassword>::new();
    let value = save.value();
    view! {
        <PageHeader title=tr("settings.password")/>
        <Card>
            <ActionForm action=save attr:class="form-col" attr:novalidate="">
                <Saved value/>
                <Alert message=form_error(value, &["current", "new"])/>
                <Field label=tr("settings.current_password") name="current" kind="password" autocomplete="current-password"
                       required=true error=field_error(value, "current")/>
                <Field label=tr("settings.new_password") name="new" kind="password" autocomplete="new-password"
                       required=true error=field_error(value, "new") hint=tr("settings.password_hint")/>
                <Submit label=tr("settings.change_password") pending=save.pending()/>
            </ActionForm>
        </Card>
    }
}

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    let begin = ServerAction::<TotpBegin>::new();
    let confirm = ServerAction::<TotpConfirm>::new();
    let disable = ServerAction::<TotpDisable>::new();
    let profile = Resource::new(
        move || (confirm.version().get(), disable.version().get()),
        |_| my_profile(),
    );
    let confirm_value = confirm.value();
    let disable_value = disable.value();
    view! {
        <PageHeader title=tr("settings.two_factor")/>
        <Suspense fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(p) if p.totp_enabled => view! {
                        <Card>
                            <p class="alert alert-success" role="status" data-testid="2fa-on">{tr("twofa.enabled")}</p>
                            {move || confirm_value.get().and_then(Result::ok).map(|codes| view! {
                                <div class="mt-4">
                                    <p class="font-medium">{tr("twofa.recovery_codes")}</p>
                                    <p class="text-sm text-muted">{tr("twofa.recovery_hint")}</p>
                                    <ul class="grid grid-cols-2 gap-1 font-mono text-sm mt-2" data-testid="recovery-codes">
                                        {codes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                                    </ul>
                                </div>
                            })}
                            {(!p.two_factor_required).then(|| view! {
                                <ActionForm action=disable attr:class="form-col mt-6" attr:novalidate="">
                                    <Alert message=form_error(disable_value, &["password", "code"])/>
                                    <Field label=tr("auth.password") name="password" kind="password" autocomplete="current-password"
                                           required=true error=field_error(disable_value, "password")/>
                                    <Field label=tr("auth.totp_disable_code") name="code" autocomplete="one-time-code"
                                           required=true error=field_error(disable_value, "code")/>
                                    <button class="btn btn-danger" type="submit">{tr("twofa.disable")}</button>
                                </ActionForm>
                            })}
                        </Card>
                    }.into_any(),
                    Ok(p) => view! {
                        <Card>
                            {p.two_factor_required.then(|| view! { <p class="alert alert-warning" role="status">{tr("auth.must_enrol_2fa")}</p> })}
                            <p class="text-sm">{tr("twofa.intro")}</p>
                            <ActionForm action=begin attr:class="mt-4">
                                <button class="btn btn-primary" type="submit" data-testid="2fa-begin">{tr("twofa.begin")}</button>
                            </ActionForm>
                            {move || begin.value().get().map(|r| match r {
                                Err(e) => view! { <LoadError error=e/> }.into_any(),
                                Ok(enrol) => view! {
                                    <div class="mt-4 grid gap-4 md:grid-cols-[auto_1fr] items-start">
                                        <div inner_html=enrol.qr_svg.clone()></div>
                                        <div>
                                            <p class="text-sm">{tr("twofa.scan")}</p>
                                            <p class="text-sm mt-2">{tr("twofa.secret")}</p>
                                            <code class="block font-mono text-sm break-all" data-testid="totp-secret">{enrol.secret.clone()}</code>
                                            <ActionForm action=confirm attr:class="form-col mt-4" attr:novalidate="">
                                                <Field label=tr("auth.totp_code") name="code" autocomplete="one-time-code"
                                                       required=true error=field_error(confirm_value, "code")/>
                                                <Alert message=form_error(confirm_value, &["code"])/>
                                                <Submit label=tr("twofa.confirm") pending=confirm.pending()/>
                                            </ActionForm>
                                        </div>
                                    </div>
                                }.into_any(),
                            })}
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let sessions = Resource::new(move || revoke.version().get(), |_| my_sessions());
    view! {
        <PageHeader title=tr("settings.sessions")/>
        <Alert message=form_error(revoke.value(), &[])/>
        <Suspense fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                match sessions.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(list) => view! {
                        <ul class="card divide-y divide-line" data-testid="sessions">
                            {list.into_iter().map(|s| view! {
                                <li class="flex flex-wrap items-center gap-3 py-3">
                                    <div class="grow min-w-0">
                                        <p class="truncate">{s.user_agent.clone().unwrap_or_else(|| tr("sessions.unknown_device"))}</p>
                                        <p class="text-muted text-sm">
                                            {s.ip.clone().unwrap_or_default()} " · " {tr("sessions.last_seen")} " "
                                            <time datetime=s.last_seen_at.to_rfc3339()>{crate::ui::when(s.last_seen_at)}</time>
                                        </p>
                                    </div>
                                    {if s.current {
                                        view! { <span class="badge badge-success">{tr("sessions.this_one")}</span> }.into_any()
                                    } else {
                                        view! {
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="handle" value=s.handle.clone()/>
                                                <button class="btn btn-danger-ghost" type="submit">{tr("sessions.revoke")}</button>
                                            </ActionForm>
                                        }.into_any()
                                    }}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn WorkspacePage() -> impl IntoView {
    let save = ServerAction::<UpdateTenantSettings>::new();
    let value = save.value();
    let settings = Resource::new(|| (), |_| get_tenant_settings());
    Effect::new(move || {
        if let Some(Ok(())) = value.get() {
            // Branding and language live in the shell: reload to show them.
            hard_redirect("/settings/workspace");
        }
    });
    view! {
        <PageHeader title=tr("settings.workspace")/>
        <Suspense fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(s) => view! {
                        <Card>
                            <ActionForm action=save attr:class="form-col" attr:novalidate="">
                                <Alert message=form_error(value, &["name", "brand_color", "logo_url", "locale", "timezone", "number_system"])/>
                                <Field label=tr("settings.workspace_name") name="name" value=s.name.clone() required=true error=field_error(value, "name")/>
                                <div class="field">
                                    <label for="f-brand_color" class="field-label">{tr("settings.brand_color")}</label>
                                    <input id="f-brand_color" name="brand_color" type="color" value=s.brand_color.clone() class="h-10 w-20"/>
                                    {move || field_error(value, "brand_color").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                </div>
                                <Field label=tr("settings.logo_url") name="logo_url" kind="url" value=s.logo_url.clone().unwrap_or_default()
                                       error=field_error(value, "logo_url")/>
                                <div class="field">
                                    <label for="f-locale" class="field-label">{tr("settings.default_language")}</label>
                                    <select id="f-locale" name="locale" class="input">
                                        {Locale::ALL.into_iter().map(|l| view! {
                                            <option value=l.code() selected=s.locale == l.code()>{l.native_name()}</option>
                                        }).collect_view()}
                                    </select>
                                </div>
                                <Field label=tr("settings.timezone") name="timezone" value=s.timezone.clone() required=true
                                       hint=tr("settings.timezone_hint") error=field_error(value, "timezone")/>
                                <div class="field">
                                    <label for="f-number_system" class="field-label">{tr("settings.number_system")}</label>
                                    <select id="f-number_system" name="number_system" class="input" aria-describedby="f-number_system-hint">
                                        <option value="latn" selected=s.number_system == "latn">{tr("settings.number_system.latn")}</option>
                                        <option value="arab" selected=s.number_system == "arab">{tr("settings.number_system.arab")}</option>
                                    </select>
                                    <p id="f-number_system-hint" class="field-hint">{tr("settings.number_system_hint")}</p>
                                    {move || field_error(value, "number_system").get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                </div>
                                <Submit label=tr("common.save") pending=save.pending()/>
                            </ActionForm>
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Check(name: &'static str, label: String, checked: bool) -> impl IntoView {
    view! {
        <label class="flex items-center gap-2">
            <input type="checkbox" name=name checked=checked class="h-4 w-4"/>
            <span>{label}</span>
        </label>
    }
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let save = ServerAction::<UpdateSecurityPolicy>::new();
    let value = save.value();
    let policy = Resource::new(move || save.version().get(), |_| get_security_policy());
    const FIELDS: &[&str] = &[
        "password_min_length",
        "session_idle_minutes",
        "max_failed_logins",
        "lockout_minutes",
    ];
    view! {
        <PageHeader title=tr("settings.security")/>
        <Suspense fallback=|| view! { <Skeleton/> }>
            {move || Suspend::new(async move {
                match policy.await {
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                    Ok(p) => view! {
                        <Card>
                            <ActionForm action=save attr:class="form-col" attr:novalidate="">
                                <Saved value/>
                                <Alert message=form_error(value, FIELDS)/>
                                <Field label=tr("policy.min_length") name="password_min_length" kind="number"
                                       value=p.password_min_length.to_string() error=field_error(value, "password_min_length")/>
                                <fieldset class="space-y-1">
                                    <legend class="field-label">{tr("policy.classes")}</legend>
                                    <Check name="require_uppercase" label=tr("policy.upper") checked=p.require_uppercase/>
                                    <Check name="require_lowercase" label=tr("policy.lower") checked=p.require_lowercase/>
                                    <Check name="require_digit" label=tr("policy.digit") checked=p.require_digit/>
                                    <Check name="require_symbol" label=tr("policy.symbol") checked=p.require_symbol/>
                                </fieldset>
                                <Field label=tr("policy.idle") name="session_idle_minutes" kind="number"
                                       value=p.session_idle_minutes.to_string() error=field_error(value, "session_idle_minutes")/>
                                <Field label=tr("policy.max_failed") name="max_failed_logins" kind="number"
                                       value=p.max_failed_logins.to_string() error=field_error(value, "max_failed_logins")/>
                                <Field label=tr("policy.lockout") name="lockout_minutes" kind="number"
                                       value=p.lockout_minutes.to_string() error=field_error(value, "lockout_minutes")/>
                                <Check name="two_factor_required" label=tr("policy.require_2fa") checked=p.two_factor_required/>
                                <Check name="require_verified_email" label=tr("policy.require_verified_email") checked=p.require_verified_email/>
                                <Submit label=tr("common.save") pending=save.pending()/>
                            </ActionForm>
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let filter = RwSignal::new(AuditFilter::default());
    // Pages loaded so far; "Load more" appends the next keyset page.
    let cursor = RwSignal::new(None::<AuditCursor>);
    let rows = RwSignal::new(Vec::<AuditRow>::new());
    // Loaded in the browser only: the rows are drawn from signals an effect fills, so
    // a value the server had resolved would meet hydration before the effect ran and
    // draw what the server's render did not (an unrecoverable hydration error).
    let data = LocalResource::new(move || {
        let (f, c) = (filter.get(), cursor.get());
        async move { get_audit_page(f, c).await }
    });
    let actors = RwSignal::new(Vec::<(uuid::Uuid, String)>::new());
    let next = RwSignal::new(None::<AuditCursor>);
    let error = RwSignal::new(None::<String>);
    Effect::new(move || {
        if let Some(result) = data.get() {
            match result {
                Ok(page) => {
                    if cursor.get_untracked().is_none() {
                        rows.set(page.rows);
                    } else {
                        rows.update(|r| r.extend(page.rows));
                    }
                    actors.set(page.actors);
                    next.set(page.next);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let (actor, entity, action, from, to) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let some = |s: RwSignal<String>| Some(s.get_untracked()).filter(|v| !v.trim().is_empty());
        cursor.set(None);
        filter.set(AuditFilter {
            actor: some(actor).and_then(|v| v.parse().ok()),
            entity_type: some(entity),
            action: some(action),
            from: some(from),
            to: some(to),
        });
    };
    view! {
        <PageHeader title=tr("settings.audit")/>
        <form class="card grid gap-3 md:grid-cols-5 items-end" on:submit=apply data-testid="audit-filters">
            <div class="field">
                <label for="a-actor" class="field-label">{tr("audit.who")}</label>
                <select id="a-actor" name="actor" class="input" on:change=move |ev| actor.set(event_target_value(&ev))>
                    <option value="">{tr("audit.anyone")}</option>
                    {move || actors.get().into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="a-entity" class="field-label">{tr("audit.entity")}</label>
                <input id="a-entity" name="entity_type" class="input" placeholder="membership" on:input=move |ev| entity.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="a-action" class="field-label">{tr("audit.action")}</label>
                <input id="a-action" name="action" class="input" placeholder="team." on:input=move |ev| action.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="a-from" class="field-label">{tr("audit.from")}</label>
                <div class="flex items-center gap-1">
                    <input id="a-from" name="from" type="date" class="input" on:input=move |ev| from.set(event_target_value(&ev))/>
                    <crate::ui::DatePicker input="a-from"/>
                </div>
            </div>
            <div class="field">
                <label for="a-to" class="field-label">{tr("audit.to")}</label>
                <div class="flex items-center gap-1">
                    <input id="a-to" name="to" type="date" class="input" on:input=move |ev| to.set(event_target_value(&ev))/>
                    <crate::ui::DatePicker input="a-to"/>
                </div>
            </div>
            <button type="submit" class="btn btn-secondary md:col-span-5 justify-self-start">{tr("audit.apply")}</button>
        </form>
        <Alert message=error/>
        <div class="table-wrap mt-4">
            <table class="table" data-testid="audit-table">
                <thead><tr>
                    <th scope="col">{tr("audit.when")}</th>
                    <th scope="col">{tr("audit.who")}</th>
                    <th scope="col">{tr("audit.action")}</th>
                    <th scope="col">{tr("audit.entity")}</th>
                    <th scope="col">{tr("audit.change")}</th>
                </tr></thead>
                <tbody>
                    {move || rows.get().into_iter().map(|r| view! {
                        <tr>
                            <td class="whitespace-nowrap"><time datetime=r.created_at.to_rfc3339()>{crate::ui::when_seconds(r.created_at)}</time></td>
                            <td>{r.actor_name.clone().unwrap_or_else(|| "—".into())}</td>
                            <td><code>{r.action.clone()}</code></td>
                            <td>{r.entity_type.clone()}</td>
                            <td class="text-xs font-mono max-w-md break-all">
                                {r.before.clone().map(|b| view! { <div class="text-danger">"− " {b}</div> })}
                                {r.after.clone().map(|a| view! { <div class="text-success">"+ " {a}</div> })}
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {move || (rows.get().is_empty() && data.get().is_some()).then(|| view! {
            <div class="empty-state">{tr("audit.empty")}</div>
        })}
        {move || next.get().map(|n| view! {
            <button class="btn btn-secondary mt-4" on:click=move |_| cursor.set(Some(n.clone()))>{tr("audit.more")}</button>
        })}
    }
}
