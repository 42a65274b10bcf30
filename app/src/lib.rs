//! Leadline's Leptos app: pages, server functions and the shared types, compiled to
//! native code with `ssr` and to WASM with `hydrate`.

pub mod approvals;
pub mod auth;
pub mod billing;
pub mod crm;
pub mod developers;
pub mod encode;
pub mod error;
pub mod i18n;
pub mod inventory;
pub mod jobs;
pub mod layout;
pub mod outreach;
pub mod review;
pub mod settings;
pub mod team;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod audit;
#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod flags;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod standard_webhooks;
#[cfg(feature = "ssr")]
pub mod throttle;

#[cfg(all(test, feature = "ssr"))]
mod fuzz;

use auth::model::PageContext;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

/// The id of the script element that carries the [`PageContext`] from the server's
/// render to the browser's hydration.
const PAGE_CONTEXT_ID: &str = "ll-page";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    let ctx = use_context::<PageContext>().unwrap_or_default();
    let json = script_json(&ctx);
    let brand = ctx
        .viewer
        .as_ref()
        .map(|v| format!("--brand: {};", v.brand_color))
        .unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang=ctx.locale.code() dir=ctx.locale.dir()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <script id=PAGE_CONTEXT_ID type="application/json" nonce=use_nonce() inner_html=json></script>
                <link id="leptos" rel="stylesheet" href=stylesheet_href(&options)/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body style=brand>
                <App/>
            </body>
        </html>
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
    provide_context(page_context());
    // Tells end-to-end tests (and curious developers) that the page is interactive.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Title text="Leadline"/>
        <Router>
            <Routes fallback=layout::NotFound>
                <Route path=path!("/login") view=auth::ui::LoginPage/>
                <Route path=path!("/login/2fa") view=auth::ui::TotpLoginPage/>
                <Route path=path!("/signup") view=auth::ui::SignupPage/>
                <Route path=path!("/invite/:token") view=team::ui::InvitePage/>
                <Route path=path!("/forgot") view=auth::ui::ForgotPage/>
                <Route path=path!("/reset/:token") view=auth::ui::ResetPage/>
                <Route path=path!("/verify/:token") view=auth::ui::ConfirmEmailPage/>
                <ParentRoute path=path!("") view=layout::AppLayout>
                    <Route path=path!("") view=layout::HomePage/>
                    <Route path=path!("pipeline") view=crm::board::ui::BoardPage/>
                    <Route path=path!("pipeline/:id") view=crm::board::ui::BoardPage/>
                    <Route path=path!("leads") view=crm::records::ui::LeadsPage/>
                    <Route path=path!("leads/:id") view=crm::records::ui::LeadPage/>
                    <Route path=path!("contacts") view=crm::records::ui::ContactsPage/>
                    <Route path=path!("contacts/:id") view=crm::records::ui::ContactPage/>
                    <Route path=path!("companies") view=crm::records::ui::CompaniesPage/>
                    <Route path=path!("companies/:id") view=crm::records::ui::CompanyPage/>
                    <Route path=path!("deals") view=crm::records::ui::DealsPage/>
                    <Route path=path!("deals/:id") view=crm::records::ui::DealPage/>
                    <Route path=path!("tasks") view=crm::records::ui::TasksPage/>
                    <Route path=path!("search") view=crm::records::ui::SearchPage/>
                    <ParentRoute path=path!("outreach") view=outreach::ui::OutreachLayout>
                        <Route path=path!("") view=outreach::ui::OutreachDashboardPage/>
                        <Route path=path!("sequences") view=outreach::ui::SequencesPage/>
                        <Route path=path!("sequences/:id") view=outreach::ui::SequencePage/>
                        <Route path=path!("templates") view=outreach::ui::TemplatesPage/>
                        <Route path=path!("templates/:id") view=outreach::ui::TemplatePage/>
                        <Route path=path!("senders") view=outreach::ui::SendersPage/>
                        <Route path=path!("suppressions") view=outreach::ui::SuppressionsPage/>
                    </ParentRoute>
                    <Route path=path!("review") view=review::ui::ReviewPage/>
                    <Route path=path!("inbox") view=review::inbox::InboxPage/>
                    <Route path=path!("inventory") view=inventory::ui::InventoryPage/>
                    <Route path=path!("inventory/units/:id") view=inventory::ui::UnitPage/>
                    <Route path=path!("inventory/plans/:id") view=inventory::ui::PlanPage/>
                    <Route path=path!("billing") view=billing::ui::BillingPage/>
                    <Route path=path!("billing/invoices/:id") view=billing::ui::InvoicePage/>
                    <Route path=path!("import") view=crm::import::ui::ImportPage/>
                    <Route path=path!("jobs/:id") view=crm::import::ui::JobPage/>
                    <ParentRoute path=path!("settings") view=settings::ui::SettingsLayout>
                        <Route path=path!("") view=settings::ui::ProfilePage/>
                        <Route path=path!("password") view=settings::ui::PasswordPage/>
                        <Route path=path!("two-factor") view=settings::ui::TwoFactorPage/>
                        <Route path=path!("sessions") view=settings::ui::SessionsPage/>
                        <Route path=path!("workspace") view=settings::ui::WorkspacePage/>
                        <Route path=path!("security") view=settings::ui::SecurityPage/>
                        <Route path=path!("jobs") view=jobs::ui::JobsAdminPage/>
                        <Route path=path!("developers") view=developers::ui::DevelopersPage/>
                        <Route path=path!("developers/webhooks/:id") view=developers::webhook_page::WebhookPage/>
                        <Route path=path!("developers/api") view=developers::reference_page::ApiReferencePage/>
                        <Route path=path!("team") view=team::ui::TeamPage/>
                        <Route path=path!("audit") view=settings::ui::AuditPage/>
                        <Route path=path!("fields") view=crm::records::ui::CustomFieldsPage/>
                        <Route path=path!("approvals") view=approvals::ui::rules::ApprovalRulesPage/>
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
