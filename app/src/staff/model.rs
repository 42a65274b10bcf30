use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a staff role may do in the console (`staff_permissions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StaffPermission {
    /// See workspaces, figures, flags, provider events and the staff audit log.
    ConsoleView,
    /// Change flags, rollouts and per-workspace overrides.
    FlagsManage,
    /// Apply a provider event again.
    BillingReplay,
    /// Open a workspace read-only for support, with a reason.
    SupportAccess,
    /// Change plan limits, features and list prices.
    PlansManage,
    /// Change platform settings.
    ConfigManage,
    /// Add sending IP addresses, change their state and assign domains to them.
    IpsManage,
}

impl StaffPermission {
    pub fn key(self) -> &'static str {
        match self {
            StaffPermission::ConsoleView => "console.view",
            StaffPermission::FlagsManage => "flags.manage",
            StaffPermission::BillingReplay => "billing.replay",
            StaffPermission::SupportAccess => "support.access",
            StaffPermission::PlansManage => "plans.manage",
            StaffPermission::ConfigManage => "config.manage",
            StaffPermission::IpsManage => "ips.manage",
        }
    }

    pub fn parse(key: &str) -> Option<StaffPermission> {
        [
            StaffPermission::ConsoleView,
            StaffPermission::FlagsManage,
            StaffPermission::BillingReplay,
            StaffPermission::SupportAccess,
            StaffPermission::PlansManage,
            StaffPermission::ConfigManage,
            StaffPermission::IpsManage,
        ]
        .into_iter()
        .find(|p| p.key() == key)
    }
}

/// A workspace as staff see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffTenant {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub plan_name: Option<String>,
    pub subscription_status: Option<crate::billing::model::SubscriptionStatus>,
    pub cycle: Option<String>,
    pub currency: Option<String>,
    /// What the plan brings in a month, in minor units of `currency`; 0 while trialing.
    pub mrr_minor: i64,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    pub members: i64,
    pub seats_limit: Option<i32>,
    pub records: i64,
    pub records_limit: Option<i32>,
}

/// MRR of one plan in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrrLine {
    pub currency: String,
    pub plan_name: String,
    pub tenants: i64,
    pub mrr_minor: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub active_tenants: i64,
    pub trialing: i64,
    pub paying: i64,
    pub past_due: i64,
    pub trials_ended: i64,
    pub trials_converted: i64,
    pub churned_30d: i64,
}

impl Figures {
    /// Ended trials that pay now, in percent; `None` before any trial has ended.
    pub fn trial_conversion(&self) -> Option<u32> {
        percent(self.trials_converted, self.trials_ended)
    }

    /// Paying workspaces lost in 30 days, of those paying now plus those lost.
    pub fn churn(&self) -> Option<u32> {
        percent(self.churned_30d, self.paying + self.churned_30d)
    }
}

fn percent(part: i64, whole: i64) -> Option<u32> {
    (whole > 0).then(|| u32::try_from((part * 100 + whole / 2) / whole).unwrap_or(0))
}

/// The figures of one UTC day, as the worker last kept them that day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    pub day: chrono::NaiveDate,
    pub figures: Figures,
    /// MRR by currency, minor units.
    pub mrr: Vec<(String, i64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Console {
    pub permissions: Vec<StaffPermission>,
    pub figures: Figures,
    pub mrr: Vec<MrrLine>,
    /// The last 90 days kept, oldest first: the figures over time.
    pub days: Vec<DayFigures>,
    pub tenants: Vec<StaffTenant>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub tenant_slug: String,
    pub enabled: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub key: String,
    pub description: String,
    pub enabled: bool,
    pub rollout_percentage: i32,
    pub updated_at: DateTime<Utc>,
    pub overrides: Vec<Override>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    pub can_manage: bool,
    pub flags: Vec<Flag>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    pub id: String,
    pub tenant_name: Option<String>,
    pub kind: String,
    pub created: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub outcome: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvents {
    pub can_replay: bool,
    pub events: Vec<ProviderEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAuditEntry {
    pub id: Uuid,
    pub actor_name: String,
    pub actor_email: String,
    pub action: String,
    pub target: String,
    /// The JSON before and after, as text.
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A list price: minor units of `currency` per `cycle` (MONTHLY or YEARLY).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPrice {
    pub cycle: String,
    pub currency: String,
    pub amount_minor: i64,
}

/// A plan as the catalogue editor shows it. `None` limits are unlimited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CataloguePlan {
    pub id: String,
    pub name: String,
    pub seats: i32,
    pub records: Option<i32>,
    pub wa_numbers: Option<i32>,
    pub mailboxes: Option<i32>,
    pub wa_messages: Option<i32>,
    pub email_messages: Option<i32>,
    pub domains: Option<i32>,
    /// MiB.
    pub storage_mb: Option<i32>,
    pub api_per_minute: i32,
    /// `None`: no hourly limit.
    pub api_per_hour: Option<i32>,
    pub features: Vec<String>,
    pub prices: Vec<ListPrice>,
    /// Workspaces on it now.
    pub workspaces: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub can_manage: bool,
    /// Every currency some plan is priced in.
    pub currencies: Vec<String>,
    pub plans: Vec<CataloguePlan>,
}

/// A typed price of the editor: empty keeps the price as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceDraft {
    pub cycle: String,
    pub currency: String,
    pub amount: String,
}

/// The plan editor's form, as typed: limits empty for unlimited (seats and the API
/// rate are required).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanDraft {
    pub id: String,
    pub seats: String,
    pub records: String,
    pub wa_numbers: String,
    pub mailboxes: String,
    pub wa_messages: String,
    pub email_messages: String,
    pub domains: String,
    pub storage_mb: String,
    pub api_per_minute: String,
    /// Empty: no hourly limit.
    pub api_per_hour: String,
    pub features: Vec<String>,
    pub prices: Vec<PriceDraft>,
    pub reason: String,
}

/// A platform setting (`system_config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    pub key: String,
    pub description: String,
    pub category: String,
    /// As staff type it; `None` for a sensitive value, which is never sent.
    pub value: Option<String>,
    pub sensitive: bool,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
}

/// How this server was started (environment), secrets masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningSetting {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemConfig {
    pub can_manage: bool,
    pub entries: Vec<ConfigEntry>,
    pub running: Vec<RunningSetting>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_and_churn_round_and_wait_for_data() {
        let f = Figures {
            paying: 9,
            churned_30d: 1,
            trials_ended: 3,
            trials_converted: 2,
            ..Figures::default()
        };
        assert_eq!(f.trial_conversion(), Some(67));
        assert_eq!(f.churn(), Some(10));
        assert_eq!(Figures::default().trial_conversion(), None);
        assert_eq!(Figures::default().churn(), None);
        for p in [
            StaffPermission::ConsoleView,
            StaffPermission::FlagsManage,
            StaffPermission::BillingReplay,
            StaffPermission::SupportAccess,
            StaffPermission::PlansManage,
            StaffPermission::ConfigManage,
            StaffPermission::IpsManage,
        ] {
            assert_eq!(StaffPermission::parse(p.key()), Some(p));
        }
        assert_eq!(StaffPermission::parse("console"), None);
    }
}
