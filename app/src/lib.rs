//! Leadline's Leptos app: pages, server functions and the shared types, compiled to
//! native code with `ssr` and to WASM with `hydrate`.

pub mod approvals;
pub mod auth;
pub mod billing;
pub mod calendar;
pub mod codes;
pub mod crm;
pub mod developers;
pub mod encode;
pub mod error;
pub mod i18n;
pub mod inventory;
pub mod jobs;
pub mod l10n;
pub mod layout;
pub mod live;
pub mod notices;
pub mod outreach;
pub mod pages;
pub mod review;
pub mod settings;
pub mod staff;
pub mod team;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod files;
#[cfg(feature = "ssr")]
pub mod flags;
#[cfg(feature = "ssr")]
pub mod pdf;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod standard_webhooks;
#[cfg(feature = "ssr")]
pub mod sysconfig;
#[cfg(feature = "ssr")]
pub mod throttle;

#[cfg(all(test, feature = "ssr"))]
mod fuzz;

use auth::model::PageContext;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy};

/// The id of the script element that carries the [`PageContext`] from the server's
/// render to the browser's hydration.
const PAGE_CONTEXT_ID: &str = "ll-page";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    let ctx = use_context::<PageContext>().unwrap_or_default();
    let json = script_json(&ctx);
    let brand = ctx
        .viewer
        .as_ref()
        // `--color-brand` too: a custom property resolves `var(--brand)` where it is
        // declared (Tailwind's `:root`), so setting `--brand` here alone would not
        // reach `bg-brand` and `text-brand`.
        .map(|v| format!("--brand: {0}; --color-brand: {0};", v.brand_color))
        .unwrap_or_default();
    let theme = ctx
        .viewer
        .as_ref()
        .map_or("light", |v| v.theme.as_str())
        .to_string();
    view! {
        <!DOCTYPE html>
        <html lang=ctx.locale.tag() dir=ctx.locale.dir() data-theme=theme>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <script id=PAGE_CONTEXT_ID type="application/json" nonce=use_nonce() inner_html=json></script>
                <link id="leptos" rel="stylesheet" href=stylesheet_href(&options)/>
                <link rel="icon" href="/favicon.ico"/>
                {match plain_page_script() {
                    Some(src) => view! { <script src=src defer nonce=use_nonce()></script> }.into_any(),
                    None => view! {
                        <link
                            id=i18n::TABLE_LINK_ID
                            rel="preload"
                            r#as="fetch"
                            crossorigin="anonymous"
                            href=table_url(ctx.locale)
                            data-reload=i18n::t(ctx.locale, "error.reload")
                            data-reload-action=i18n::t(ctx.locale, "error.reload_action")
                        />
                        <HydrationScripts options/>
                    }
                    .into_any(),
                }}
                <MetaTags/>
            </head>
            <body style=brand>
                <App/>
            </body>
        </html>
    }
}

/// The address of the page's string table, which the browser fetches before it
/// hydrates (`i18n::load_page_table`). The shell is rendered on the server only.
fn table_url(locale: i18n::Locale) -> &'static str {
    #[cfg(feature = "ssr")]
    {
        i18n::table_url(locale)
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = locale;
        ""
    }
}

/// On a page before sign-in, the address of the small script it loads instead of the
/// app's bundle (`auth::plain`). The shell is rendered on the server only.
fn plain_page_script() -> Option<&'static str> {
    #[cfg(feature = "ssr")]
    {
        let parts = use_context::<http::request::Parts>()?;
        auth::plain::is_plain_page(parts.uri.path()).then(auth::plain::script_url)
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// The stylesheet's URL, with the content hash cargo-leptos wrote to its hash file.
/// leptos_meta's `HashedStylesheet` finds and reads that file on every render (a
/// `readlink` and a file read per page); the file only changes with a new build, so
/// it is read once.
fn stylesheet_href(options: &LeptosOptions) -> String {
    static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HREF.get_or_init(|| {
        let mut name = options.output_name.to_string();
        if options.hash_files {
            let hash_file = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())));
            let hashes = hash_file
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default();
            if let Some(hash) = hashes
                .lines()
                .filter_map(|line| line.trim().split_once(':'))
                .find_map(|(file, hash)| (file == "css").then(|| hash.trim()))
            {
                name = format!("{name}.{hash}");
            }
        }
        format!("/{}/{name}.css", options.site_pkg_dir)
    })
    .clone()
}

/// JSON to put inside a `<script>` element. Tenant and user names are anyone's text:
/// with `<`, `>` and `&` escaped (JSON allows `\u003c` where it allows `<`), none of
/// them can close the element (`</script>`) or open a comment that changes how the
/// rest of the page parses.
pub fn script_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn page_context() -> PageContext {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(PAGE_CONTEXT_ID))
            .and_then(|el| el.text_content())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        use_context::<PageContext>().unwrap_or_default()
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let page = page_context();
    // Every number and date on the page is written in the workspace's digits.
    provide_context(page.viewer.as_ref().map(|v| v.digits).unwrap_or_default());
    provide_context(page.locale);
    provide_context(page);
    view! {
        <Title text="Leadline"/>
        <Router>
            <Routes fallback=layout::NotFound>
                <Route path=path!("/login") view={Lazy::<pages::Login>::new()}/>
                <Route path=path!("/login/2fa") view={Lazy::<pages::TotpLogin>::new()}/>
                <Route path=path!("/signup") view={Lazy::<pages::Signup>::new()}/>
                <Route path=path!("/invite/:token") view={Lazy::<pages::Invite>::new()}/>
                <Route path=path!("/forgot") view={Lazy::<pages::Forgot>::new()}/>
                <Route path=path!("/reset/:token") view={Lazy::<pages::Reset>::new()}/>
                <Route path=path!("/verify/:token") view={Lazy::<pages::ConfirmEmail>::new()}/>
                <ParentRoute path=path!("") view=layout::AppLayout>
                    <Route path=path!("") view={Lazy::<pages::Home>::new()}/>
                    <Route path=path!("pipeline") view={Lazy::<pages::Board>::new()}/>
                    <Route path=path!("pipeline/:id") view={Lazy::<pages::Board>::new()}/>
                    <Route path=path!("leads") view={Lazy::<pages::Leads>::new()}/>
                    <Route path=path!("leads/:id") view={Lazy::<pages::Lead>::new()}/>
                    <Route path=path!("contacts") view={Lazy::<pages::Contacts>::new()}/>
                    <Route path=path!("contacts/:id") view={Lazy::<pages::Contact>::new()}/>
                    <Route path=path!("duplicates/:area") view={Lazy::<pages::Duplicates>::new()}/>
                    <Route path=path!("companies") view={Lazy::<pages::Companies>::new()}/>
                    <Route path=path!("companies/:id") view={Lazy::<pages::Company>::new()}/>
                    <Route path=path!("deals") view={Lazy::<pages::Deals>::new()}/>
                    <Route path=path!("deals/:id") view={Lazy::<pages::Deal>::new()}/>
                    <Route path=path!("tasks") view={Lazy::<pages::Tasks>::new()}/>
                    <Route path=path!("reports") view={Lazy::<pages::Reports>::new()}/>
                    <Route path=path!("search") view={Lazy::<pages::Search>::new()}/>
                    <ParentRoute path=path!("outreach") view=outreach::ui::OutreachLayout>
                        <Route path=path!("") view={Lazy::<pages::OutreachDashboard>::new()}/>
                        <Route path=path!("sequences") view={Lazy::<pages::Sequences>::new()}/>
                        <Route path=path!("sequences/:id") view={Lazy::<pages::Sequence>::new()}/>
                        <Route path=path!("templates") view={Lazy::<pages::Templates>::new()}/>
                        <Route path=path!("templates/:id") view={Lazy::<pages::Template>::new()}/>
                        <Route path=path!("senders") view={Lazy::<pages::Senders>::new()}/>
                        <Route path=path!("suppressions") view={Lazy::<pages::Suppressions>::new()}/>
                    </ParentRoute>
                    <Route path=path!("review") view={Lazy::<pages::Review>::new()}/>
                    <Route path=path!("inbox") view={Lazy::<pages::Inbox>::new()}/>
                    <Route path=path!("notifications") view={Lazy::<pages::Notifications>::new()}/>
                    <Route path=path!("inventory") view={Lazy::<pages::Inventory>::new()}/>
                    <Route path=path!("inventory/units/:id") view={Lazy::<pages::Unit>::new()}/>
                    <Route path=path!("inventory/plans/:id") view={Lazy::<pages::Plan>::new()}/>
                    <Route path=path!("inventory/setup") view={Lazy::<pages::InventorySetup>::new()}/>
                    <Route path=path!("billing") view={Lazy::<pages::Billing>::new()}/>
                    <Route path=path!("billing/invoices/:id") view={Lazy::<pages::Invoice>::new()}/>
                    <Route path=path!("import") view={Lazy::<pages::Import>::new()}/>
                    <Route path=path!("jobs/:id") view={Lazy::<pages::Job>::new()}/>
                    <ParentRoute path=path!("staff") view=staff::ui::StaffLayout>
                        <Route path=path!("") view={Lazy::<pages::StaffOverview>::new()}/>
                        <Route path=path!("plans") view={Lazy::<pages::StaffPlans>::new()}/>
                        <Route path=path!("flags") view={Lazy::<pages::StaffFlags>::new()}/>
                        <Route path=path!("events") view={Lazy::<pages::StaffEvents>::new()}/>
                        <Route path=path!("audit") view={Lazy::<pages::StaffAudit>::new()}/>
                        <Route path=path!("config") view={Lazy::<pages::StaffConfig>::new()}/>
                        <Route path=path!("ips") view={Lazy::<pages::StaffIps>::new()}/>
                    </ParentRoute>
                    <ParentRoute path=path!("settings") view=settings::ui::SettingsLayout>
                        <Route path=path!("") view={Lazy::<pages::Profile>::new()}/>
                        <Route path=path!("password") view={Lazy::<pages::Password>::new()}/>
                        <Route path=path!("two-factor") view={Lazy::<pages::TwoFactor>::new()}/>
                        <Route path=path!("sessions") view={Lazy::<pages::Sessions>::new()}/>
                        <Route path=path!("workspace") view={Lazy::<pages::Workspace>::new()}/>
                        <Route path=path!("security") view={Lazy::<pages::Security>::new()}/>
                        <Route path=path!("jobs") view={Lazy::<pages::JobsAdmin>::new()}/>
                        <Route path=path!("developers") view={Lazy::<pages::Developers>::new()}/>
                        <Route path=path!("developers/webhooks/:id") view={Lazy::<pages::Webhook>::new()}/>
                        <Route path=path!("developers/api") view={Lazy::<pages::ApiReference>::new()}/>
                        <Route path=path!("team") view={Lazy::<pages::Team>::new()}/>
                        <Route path=path!("audit") view={Lazy::<pages::Audit>::new()}/>
                        <Route path=path!("fields") view={Lazy::<pages::CustomFields>::new()}/>
                        <Route path=path!("approvals") view={Lazy::<pages::ApprovalRules>::new()}/>
                        <Route path=path!("notifications") view={Lazy::<pages::NotificationPrefs>::new()}/>
                        <Route path=path!("calendar") view={Lazy::<pages::CalendarFeed>::new()}/>
                        <Route path=path!("review") view={Lazy::<pages::ReviewRules>::new()}/>
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Tells end-to-end tests (and curious developers) that the page is interactive:
/// called by every page's view, so it runs once the page's own chunk has loaded and
/// hydrated, not when the shell around it has.
pub fn mark_hydrated() {
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        offer_reload();
    }));
    remember_link_clicks();
    wasm_bindgen_futures::spawn_local(async {
        // The strings first, then the current page's chunk (inside `hydrate_lazy`),
        // so the first render in the browser matches the server's. Without its
        // strings the page stays as the server rendered it, with a reload offer.
        match i18n::load_page_table().await {
            Ok(()) => leptos::mount::hydrate_lazy(App),
            Err(e) => {
                leptos::logging::error!("the page's strings did not load: {e:?}");
                offer_reload();
            }
        }
    });
}

#[cfg(feature = "hydrate")]
thread_local! {
    /// The last link clicked, and when (ms since the epoch): where a reload should go
    /// if that navigation's chunk fails, since the address bar still shows the page
    /// the user is leaving.
    static LAST_LINK: std::cell::RefCell<Option<(String, f64)>> =
        const { std::cell::RefCell::new(None) };
}

#[cfg(feature = "hydrate")]
fn remember_link_clicks() {
    use wasm_bindgen::JsCast;
    let _listener = window_event_listener(leptos::ev::click, |ev| {
        let href = ev
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("a[href]").ok().flatten())
            .and_then(|link| link.get_attribute("href"));
        if let Some(href) = href {
            LAST_LINK.with(|last| *last.borrow_mut() = Some((href, js_sys::Date::now())));
        }
    });
}

/// Where "Reload the page" goes: the link clicked in the last 30 seconds (whose page
/// failed to load), else the page on screen.
#[cfg(feature = "hydrate")]
fn reload_target() -> Option<String> {
    let recent = LAST_LINK.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|(_, at)| js_sys::Date::now() - at < 30_000.0)
            .map(|(href, _)| href.clone())
    });
    recent.or_else(|| web_sys::window()?.location().href().ok())
}

/// After a panic the page's WASM is dead, and a chunk that failed to download (a
/// new deploy, a dropped connection) panics inside the loader. Rather than a page
/// that silently stops answering, a banner offers a reload. Plain DOM: nothing
/// reactive can be trusted at this point.
#[cfg(feature = "hydrate")]
fn offer_reload() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if document.get_element_by_id("ll-reload").is_some() {
        return;
    }
    // The shell carries the two strings, for when the page's table never arrived.
    let table_link = document.get_element_by_id(i18n::TABLE_LINK_ID);
    let text = |attribute: &str| {
        table_link
            .as_ref()
            .and_then(|link| link.get_attribute(attribute))
            .unwrap_or_default()
    };
    let build = || -> Option<()> {
        let banner = document.create_element("div").ok()?;
        banner.set_id("ll-reload");
        banner.set_attribute("role", "alert").ok()?;
        banner
            .set_attribute(
                "class",
                "fixed inset-x-0 top-0 z-50 bg-red-700 p-3 text-center text-sm text-white",
            )
            .ok()?;
        banner.set_text_content(Some(&format!("{} ", text("data-reload"))));
        let link = document.create_element("a").ok()?;
        link.set_attribute("href", &reload_target()?).ok()?;
        // `external` keeps the router's click handler (dead WASM) out of it: a
        // full load.
        link.set_attribute("rel", "external").ok()?;
        link.set_attribute("class", "font-semibold underline")
            .ok()?;
        link.set_text_content(Some(&text("data-reload-action")));
        banner.append_child(&link).ok()?;
        document.body()?.append_child(&banner).ok()?;
        Some(())
    };
    let _ = build();
}
