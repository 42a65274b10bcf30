//! The signed-in app's frame: sidebar with the areas, top bar with search, tenant
//! switcher and user menu; plus the home page and the not-found page.

use crate::auth::api::{Logout, ResendConfirmation, SwitchTenant};
use crate::auth::model::Permission;
use crate::ui::{hard_redirect, page, tr, Card, PageHeader};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// The areas in the sidebar: path, locale key, icon path (24×24 outline).
const AREAS: [(&str, &str, &str); 13] = [
    (
        "/pipeline",
        "nav.pipeline",
        "M4 5h4v14H4zM10 5h4v9h-4zM16 5h4v6h-4z",
    ),
    (
        "/leads",
        "nav.leads",
        "M16 19v-1a4 4 0 0 0-8 0v1M12 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z",
    ),
    (
        "/contacts",
        "nav.contacts",
        "M4 5h16v14H4zM9 11a2 2 0 1 0 0-4 2 2 0 0 0 0 4zM6 16a3 3 0 0 1 6 0M14 9h4M14 13h4",
    ),
    (
        "/companies",
        "nav.companies",
        "M4 20V6l8-3v17M12 9h8v11M7 9h2M7 13h2M15 13h2",
    ),
    (
        "/tasks",
        "nav.tasks",
        "M9 6h11M9 12h11M9 18h11M4 6l1 1 2-2M4 12l1 1 2-2M4 18l1 1 2-2",
    ),
    (
        "/reports",
        "nav.reports",
        "M4 20V10M10 20V4M16 20v-7M22 20H2",
    ),
    ("/outreach", "nav.outreach", "M4 6h16v12H4zM4 7l8 6 8-6"),
    (
        "/inbox",
        "nav.inbox",
        "M4 13h4l2 3h4l2-3h4M4 13l3-8h10l3 8v6H4z",
    ),
    ("/review", "nav.review", "M5 12l4 4L19 6"),
    (
        "/inventory",
        "nav.inventory",
        "M3 10l9-6 9 6v10H3zM9 20v-6h6v6",
    ),
    ("/billing", "nav.billing", "M3 7h18v10H3zM3 11h18"),
    (
        "/staff",
        "nav.staff",
        "M12 3l8 4v5c0 5-3.5 8-8 9-4.5-1-8-4-8-9V7z",
    ),
    (
        "/settings",
        "nav.settings",
        "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM4 12h2M18 12h2M12 4v2M12 18v2",
    ),
];

/// Where the support banner's form posts.
fn end_support_path() -> &'static str {
    <crate::staff::api::EndSupport as leptos::server_fn::ServerFn>::PATH
}

#[component]
fn Icon(path: &'static str) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.75"
             stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
            <path d=path/>
        </svg>
    }
}

#[component]
pub fn AppLayout() -> impl IntoView {
    let Some(viewer) = page().viewer else {
        // The server redirects signed-out visitors before rendering; this only shows
        // if a page was kept open past sign-out.
        return view! {
            <main class="auth-page">
                <a class="btn btn-primary" href="/login">{tr("auth.sign_in")}</a>
            </main>
        }
        .into_any();
    };
    provide_context(crate::ui::PageClock(crate::ui::browser_clock()));
    let collapsed = RwSignal::new(false);
    let logout = ServerAction::<Logout>::new();
    Effect::new(move || {
        if let Some(Ok(())) = logout.value().get() {
            hard_redirect("/login");
        }
    });
    #[cfg(feature = "hydrate")]
    focus_search_on_slash();
    let initials = viewer.initials();
    let enrol = viewer.must_enrol_2fa;
    let confirm = viewer.must_verify_email;
    let unpaid = viewer.unpaid_invoice;
    let support_until = viewer.support_until;
    let support_name = viewer.tenant_name.clone();
    let resend = ServerAction::<ResendConfirmation>::new();
    view! {
        <a href="#main" class="skip-link">{tr("nav.skip")}</a>
        <div class="app-frame" class:collapsed=move || collapsed.get()>
            <aside class="sidebar" aria-label=tr("nav.areas")>
                <div class="sidebar-head">
                    <a href="/" class="brand">
                        {match viewer.logo_url.clone() {
                            Some(url) => view! { <img src=url alt="" class="h-6 w-6 rounded"/> }.into_any(),
                            None => view! { <span class="brand-mark" aria-hidden="true">"L"</span> }.into_any(),
                        }}
                        <span class="brand-name">{viewer.tenant_name.clone()}</span>
                    </a>
                    <button
                        type="button"
                        class="btn-icon"
                        data-testid="sidebar-toggle"
                        aria-expanded=move || (!collapsed.get()).to_string()
                        aria-label=move || tr(if collapsed.get() { "nav.expand" } else { "nav.collapse" })
                        on:click=move |_| collapsed.update(|c| *c = !*c)
                    >
                        <Icon path="M15 6l-6 6 6 6"/>
                    </button>
                </div>
                <nav>
                    <ul class="nav-list">
                        {AREAS
                            .into_iter()
                            // The queue is for those who work it.
                            .filter(|(href, _, _)| match *href {
                                "/review" => viewer.can(Permission::ReviewWork),
                                "/billing" => viewer.can(Permission::BillingView),
                                "/staff" => viewer.staff,
                                _ => true,
                            })
                            .map(|(href, key, icon)| {
                                view! {
                                    <li>
                                        <A href=href attr:class="nav-link">
                                            <Icon path=icon/>
                                            <span class="nav-label">{tr(key)}</span>
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
            </aside>
            <div class="main-column">
                <header class="topbar">
                    <form role="search" class="search" action="/search" method="get">
                        <label for="global-search" class="sr-only">{tr("nav.search")}</label>
                        <input id="global-search" name="q" type="search" class="input"
                               placeholder=tr("nav.search_placeholder")/>
                    </form>
                    <TenantSwitcher/>
                    <Bell/>
                    <details class="menu">
                        <summary class="avatar">
                            <span aria-hidden="true">{initials}</span>
                            <span class="sr-only">{tr("nav.user_menu")}</span>
                        </summary>
                        <div class="menu-panel">
                            <p class="font-medium">{viewer.name.clone()}</p>
                            <p class="text-muted text-sm">{viewer.email.clone()}</p>
                            <p class="text-muted text-sm">{tr(viewer.role.label_key())}</p>
                            <hr class="my-2 border-line"/>
                            <a class="menu-item" href="/settings">{tr("settings.profile")}</a>
                            <a class="menu-item" href="/settings/sessions">{tr("settings.sessions")}</a>
                            <ActionForm action=logout>
                                <button type="submit" class="menu-item w-full text-start">{tr("auth.sign_out")}</button>
                            </ActionForm>
                        </div>
                    </details>
                </header>
                {enrol.then(|| view! {
                    <div class="alert alert-warning m-4" role="status">
                        {tr("auth.must_enrol_2fa")} " "
                        <a class="underline" href="/settings/two-factor">{tr("settings.two_factor")}</a>
                    </div>
                })}
                {confirm.then(|| view! {
                    <div class="alert alert-warning m-4" role="status" data-testid="must-confirm">
                        {tr("recovery.must_confirm")}
                        <ActionForm action=resend attr:class="inline ms-2">
                            <button type="submit" class="underline">{tr("recovery.send_again")}</button>
                        </ActionForm>
                        {move || resend.value().get().map(|r| match r {
                            Ok(()) => view! { <span class="ms-2">{tr("recovery.sent_again")}</span> }.into_any(),
                            Err(e) => view! { <span class="ms-2">{e.to_string()}</span> }.into_any(),
                        })}
                    </div>
                })}
                {support_until.map(|until| view! {
                    <div class="alert alert-warning m-4 flex flex-wrap items-center gap-3" role="status" data-testid="support-banner">
                        <span>{crate::i18n::tf(crate::ui::locale(), "staff.support_banner", &[("workspace", support_name.clone()), ("until", crate::ui::clock(until))])}</span>
                        // A plain form: it works before the page hydrates, and the
                        // server answers it with a redirect to the console.
                        <form method="post" action=end_support_path()>
                            <button type="submit" class="btn">{tr("staff.end_support")}</button>
                        </form>
                    </div>
                })}
                {unpaid.map(|n| view! {
                    <div class="alert alert-danger m-4" role="alert" data-testid="read-only-banner">
                        {crate::i18n::tf(crate::ui::locale(), "billing.read_only", &[("n", n.to_string())])} " "
                        <a class="underline" href="/billing">{tr("billing.read_only_fix")}</a>
                    </div>
                })}
                <main id="main" class="content">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
    .into_any()
}

/// `/` focuses the search box, unless the user is typing somewhere.
#[cfg(feature = "hydrate")]
fn focus_search_on_slash() {
    use wasm_bindgen::JsCast;
    let handle = window_event_listener(leptos::ev::keydown, |ev| {
        if ev.key() != "/" || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let typing = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if typing {
            return;
        }
        if let Some(search) = document()
            .get_element_by_id("global-search")
            .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
        {
            ev.prevent_default();
            let _ = search.focus();
        }
    });
    on_cleanup(move || handle.remove());
}

/// The bell: the viewer's unread notifications (replies on their leads, SLA breaches,
/// finished imports, failed sends), counted in the top bar and listed in a panel.
/// Loaded in the browser only, so no page render waits for it, and re-read when the
/// tab's live stream says they changed (and each minute, should the stream be down).
#[component]
fn Bell() -> impl IntoView {
    use crate::outreach::api::{get_notifications, MarkNotificationsRead};
    let tick = RwSignal::new(0u32);
    let read = ServerAction::<MarkNotificationsRead>::new();
    // Fetched by an effect, which runs only in the browser after hydration: no resource
    // is registered, so the page's own resources hydrate exactly as the server sent them.
    let list = RwSignal::new(Vec::new());
    Effect::new(move |_| {
        tick.track();
        read.version().track();
        leptos::task::spawn_local(async move {
            if let Ok(notes) = get_notifications().await {
                list.set(notes);
            }
        });
    });
    crate::live::on_event("notice", move |_| {
        tick.try_update(|n| *n += 1);
    });
    crate::ui::poll_while(|| true, tick, std::time::Duration::from_secs(60));
    let items = move || list.get();
    let count = move || items().len();
    let label = move || match count() {
        0 => tr("nav.notifications"),
        n => crate::i18n::tf(
            crate::ui::locale(),
            "nav.notifications_unread",
            &[("n", n.to_string())],
        ),
    };
    view! {
        <details class="bell-menu" data-testid="bell">
            <summary class="bell" aria-label=label>
                <svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.75"
                     stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
                    <path d="M6 16V11a6 6 0 1 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0"/>
                </svg>
                {move || (count() > 0).then(|| view! { <span class="bell-count" aria-hidden="true" data-testid="bell-count">{count()}</span> })}
            </summary>
            <div class="menu-panel w-80" role="region" aria-label=tr("nav.notifications")>
                {move || {
                    let list = items();
                    if list.is_empty() {
                        return view! {
                            <p class="text-sm text-muted">{tr("nav.no_notifications")}</p>
                            <a class="link mt-2 block text-sm" href="/notifications">{tr("notices.all")}</a>
                        }.into_any();
                    }
                    view! {
                        <ul class="space-y-2 text-sm" data-testid="bell-items">
                            {list.into_iter().map(|n| view! {
                                <li>
                                    <crate::ui::Ago at=n.created_at class="block text-xs text-muted tabular-nums"/>
                                    {match n.link.clone() {
                                        Some(link) => view! { <a class="link" href=link>{n.body.clone()}</a> }.into_any(),
                                        None => view! { <span>{n.body.clone()}</span> }.into_any(),
                                    }}
                                </li>
                            }).collect_view()}
                        </ul>
                        <ActionForm action=read attr:class="mt-3">
                            <button type="submit" class="btn btn-secondary w-full">{tr("nav.mark_all_read")}</button>
                        </ActionForm>
                        <a class="link mt-2 block text-center text-sm" href="/notifications">{tr("notices.all")}</a>
                    }.into_any()
                }}
            </div>
        </details>
    }
}

#[component]
fn TenantSwitcher() -> impl IntoView {
    let viewer = page().viewer.expect("the layout renders only for a viewer");
    if viewer.tenants.len() < 2 {
        return view! { <span class="tenant-name">{viewer.tenant_name}</span> }.into_any();
    }
    let switch = ServerAction::<SwitchTenant>::new();
    Effect::new(move || {
        if let Some(Ok(())) = switch.value().get() {
            hard_redirect("/");
        }
    });
    let current = viewer.tenant_id;
    view! {
        <ActionForm action=switch attr:class="flex items-center gap-2">
            <label for="tenant-switch" class="sr-only">{tr("nav.switch_tenant")}</label>
            <select id="tenant-switch" name="tenant_id" class="input w-auto">
                {viewer
                    .tenants
                    .into_iter()
                    .map(|t| view! { <option value=t.id.to_string() selected=t.id == current>{t.name}</option> })
                    .collect_view()}
            </select>
            <button type="submit" class="btn btn-secondary">{tr("nav.switch")}</button>
        </ActionForm>
    }
    .into_any()
}

#[component]
pub fn HomePage() -> impl IntoView {
    let viewer = page().viewer.expect("the layout renders only for a viewer");
    let first_name = viewer
        .name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let tenant_name = viewer.tenant_name.clone();
    let role_key = viewer.role.label_key();
    let can_manage = viewer.can(Permission::TeamManage);
    view! {
        <PageHeader title=format!("{} {}", tr("home.hello"), first_name)/>
        <div class="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
            <Card title=tr("home.workspace")>
                <p>{tenant_name}</p>
                <p class="text-muted text-sm">{tr(role_key)}</p>
            </Card>
            {can_manage.then(|| view! {
                <Card title=tr("home.team")>
                    <p class="text-sm">{tr("home.team_hint")}</p>
                    <a class="btn btn-secondary mt-3" href="/settings/team">{tr("team.invite")}</a>
                </Card>
            })}
            <Card title=tr("home.security")>
                <p class="text-sm">{tr("home.security_hint")}</p>
                <a class="btn btn-secondary mt-3" href="/settings/two-factor">{tr("settings.two_factor")}</a>
            </Card>
        </div>
        <crate::crm::dashboard::DashboardCards/>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    crate::mark_hydrated();
    view! {
        <main class="auth-page">
            <div class="auth-card text-center">
                <h1 class="page-title">{tr("common.not_found")}</h1>
                <a class="btn btn-primary mt-4" href="/">{tr("common.home")}</a>
            </div>
        </main>
    }
}
