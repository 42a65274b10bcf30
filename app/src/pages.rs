//! Pages load by area: each area's code is one lazily loaded WASM split, fetched the
//! first time one of its pages is opened (or, on a full page load, before hydration).
//! The main bundle holds the runtime, the router and the signed-in layout; an area a
//! user never opens is never downloaded (issue 16, DECISIONS 49).
//!
//! One split per area rather than per page: wasm-split makes a chunk for every set of
//! splits that share code, so 48 page splits came out as 899 files (84–420 requests
//! for one page); nine area splits share far less.

use leptos::prelude::*;
use leptos_router::LazyRoute;

/// An area: an enum of its pages, one `#[lazy]` function that draws any of them (the
/// split point), and one route type per page. `$preload` is the preload function
/// `#[lazy]` generates for `$area` (`__preload_` + its name).
macro_rules! lazy_area {
    ($area:ident, $preload:ident, $pages:ident { $($name:ident => $page:path,)* }) => {
        #[derive(Clone, Copy)]
        pub enum $pages {
            $($name,)*
        }

        #[leptos::lazy]
        fn $area(page: $pages) -> AnyView {
            // A component called as a function, untracked as `view!` would call it.
            let view = match page {
                $($pages::$name => untrack($page).into_any(),)*
            };
            crate::mark_hydrated();
            view
        }

        $(
            pub struct $name;

            impl LazyRoute for $name {
                fn data() -> Self {
                    $name
                }

                async fn view(_this: Self) -> AnyView {
                    $area($pages::$name).await
                }

                async fn preload() {
                    #[cfg(target_arch = "wasm32")]
                    $preload().await;
                }
            }
        )*
    };
}

lazy_area!(auth_area, __preload_auth_area, AuthPages {
    Login => crate::auth::ui::LoginPage,
    TotpLogin => crate::auth::ui::TotpLoginPage,
    Signup => crate::auth::ui::SignupPage,
    Invite => crate::team::ui::InvitePage,
    Forgot => crate::auth::ui::ForgotPage,
    Reset => crate::auth::ui::ResetPage,
    ConfirmEmail => crate::auth::ui::ConfirmEmailPage,
});

lazy_area!(board_area, __preload_board_area, BoardPages {
    Home => crate::layout::HomePage,
    Board => crate::crm::board::ui::BoardPage,
});

// Its own split, so the board's first load does not carry the reports' tables.
lazy_area!(reports_area, __preload_reports_area, ReportPages {
    Reports => crate::crm::reports::ReportsPage,
});

lazy_area!(records_area, __preload_records_area, RecordPages {
    Leads => crate::crm::records::ui::LeadsPage,
    Lead => crate::crm::records::ui::LeadPage,
    Contacts => crate::crm::records::ui::ContactsPage,
    Contact => crate::crm::records::ui::ContactPage,
    Duplicates => crate::crm::merge::DuplicatesPage,
    Companies => crate::crm::records::ui::CompaniesPage,
    Company => crate::crm::records::ui::CompanyPage,
    Deals => crate::crm::records::ui::DealsPage,
    Deal => crate::crm::records::ui::DealPage,
    Tasks => crate::crm::records::ui::TasksPage,
    Search => crate::crm::records::ui::SearchPage,
    Import => crate::crm::import::ui::ImportPage,
    Job => crate::crm::import::ui::JobPage,
});

lazy_area!(outreach_area, __preload_outreach_area, OutreachPages {
    OutreachDashboard => crate::outreach::ui::OutreachDashboardPage,
    Sequences => crate::outreach::ui::SequencesPage,
    Sequence => crate::outreach::ui::SequencePage,
    Templates => crate::outreach::ui::TemplatesPage,
    Template => crate::outreach::ui::TemplatePage,
    Senders => crate::outreach::ui::SendersPage,
    Suppressions => crate::outreach::ui::SuppressionsPage,
});

lazy_area!(review_area, __preload_review_area, ReviewPages {
    Review => crate::review::ui::ReviewPage,
    Inbox => crate::review::inbox::InboxPage,
    Notifications => crate::notices::ui::NotificationsPage,
});

lazy_area!(inventory_area, __preload_inventory_area, InventoryPages {
    Inventory => crate::inventory::ui::InventoryPage,
    Unit => crate::inventory::ui::UnitPage,
    Plan => crate::inventory::map::PlanPage,
    InventorySetup => crate::inventory::setup::InventorySetupPage,
});

lazy_area!(billing_area, __preload_billing_area, BillingPages {
    Billing => crate::billing::ui::BillingPage,
    Invoice => crate::billing::ui::InvoicePage,
});

lazy_area!(settings_area, __preload_settings_area, SettingsPages {
    Profile => crate::settings::ui::ProfilePage,
    Password => crate::settings::ui::PasswordPage,
    TwoFactor => crate::settings::ui::TwoFactorPage,
    Sessions => crate::settings::ui::SessionsPage,
    Workspace => crate::settings::ui::WorkspacePage,
    Security => crate::settings::ui::SecurityPage,
    JobsAdmin => crate::jobs::ui::JobsAdminPage,
    Team => crate::team::ui::TeamPage,
    Audit => crate::settings::ui::AuditPage,
    CustomFields => crate::crm::records::ui::CustomFieldsPage,
    ApprovalRules => crate::approvals::ui::rules::ApprovalRulesPage,
    NotificationPrefs => crate::notices::ui::NotificationPrefsPage,
    CalendarFeed => crate::calendar::ui::CalendarFeedPage,
    ReviewRules => crate::review::rules::ReviewRulesPage,
});

lazy_area!(developers_area, __preload_developers_area, DeveloperPages {
    Developers => crate::developers::ui::DevelopersPage,
    Webhook => crate::developers::webhook_page::WebhookPage,
    ApiReference => crate::developers::reference_page::ApiReferencePage,
});

lazy_area!(staff_area, __preload_staff_area, StaffPages {
    StaffOverview => crate::staff::ui::StaffOverviewPage,
    StaffPlans => crate::staff::ui::StaffPlansPage,
    StaffFlags => crate::staff::ui::StaffFlagsPage,
    StaffEvents => crate::staff::ui::StaffEventsPage,
    StaffAudit => crate::staff::ui::StaffAuditPage,
    StaffConfig => crate::staff::ui::StaffConfigPage,
    StaffIps => crate::staff::ui::StaffIpsPage,
});
