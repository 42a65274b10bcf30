use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::db_codes! {
    /// Where a subscription stands (`subscriptions.status`).
    SubscriptionStatus {
        Trialing = "TRIALING",
        Active = "ACTIVE",
        PastDue = "PAST_DUE",
        Cancelled = "CANCELLED",
        /// Dunning ran out: the workspace is read-only until the invoice is paid.
        Unpaid = "UNPAID",
    }
}

crate::db_codes! {
    /// Where an invoice stands (`invoices.status`).
    InvoiceStatus {
        Draft = "DRAFT",
        Open = "OPEN",
        Paid = "PAID",
        Void = "VOID",
        Uncollectible = "UNCOLLECTIBLE",
    }
}

crate::db_codes! {
    /// Why an invoice is charged (`payment_attempts.kind`).
    AttemptKind {
        /// The charge made when the invoice is issued.
        Issue = "ISSUE",
        /// A dunning retry.
        Retry = "RETRY",
        /// The member pressed "Pay now".
        Manual = "MANUAL",
    }
}

crate::db_codes! {
    /// One charge's outcome (`payment_attempts.status`).
    AttemptStatus {
        Due = "DUE",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        Cancelled = "CANCELLED",
    }
}

/// The badge tone of a subscription's, invoice's or charge's status.
pub fn status_tone(code: &str) -> &'static str {
    match code {
        "ACTIVE" | "TRIALING" | "PAID" | "SUCCEEDED" => "success",
        "PAST_DUE" | "OPEN" | "DUE" | "CANCELLED" => "warning",
        _ => "danger",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cycle {
    Monthly,
    Yearly,
}

impl Cycle {
    pub fn code(self) -> &'static str {
        match self {
            Cycle::Monthly => "MONTHLY",
            Cycle::Yearly => "YEARLY",
        }
    }

    pub fn parse(code: &str) -> Option<Cycle> {
        match code {
            "MONTHLY" => Some(Cycle::Monthly),
            "YEARLY" => Some(Cycle::Yearly),
            _ => None,
        }
    }
}

/// What a plan limits, in the order the billing page shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    Seats,
    Records,
    WhatsAppNumbers,
    Mailboxes,
    /// Email sending domains not archived.
    SendingDomains,
    /// WhatsApp messages handed to a provider this UTC month.
    WhatsAppMessages,
    /// Emails handed to a mailbox's server this UTC month.
    EmailMessages,
    /// Bytes of the files the workspace uploaded (plans, covers, template files).
    Storage,
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::Seats,
        Metric::Records,
        Metric::WhatsAppNumbers,
        Metric::Mailboxes,
        Metric::SendingDomains,
        Metric::WhatsAppMessages,
        Metric::EmailMessages,
        Metric::Storage,
    ];

    /// Counted per month rather than at a moment: usage past such a limit waits for
    /// the next month instead of blocking a change of plan.
    pub fn monthly(self) -> bool {
        matches!(self, Metric::WhatsAppMessages | Metric::EmailMessages)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Metric::Seats => "billing.metric.seats",
            Metric::Records => "billing.metric.records",
            Metric::WhatsAppNumbers => "billing.metric.wa_numbers",
            Metric::Mailboxes => "billing.metric.mailboxes",
            Metric::SendingDomains => "billing.metric.domains",
            Metric::WhatsAppMessages => "billing.metric.wa_messages",
            Metric::EmailMessages => "billing.metric.email_messages",
            Metric::Storage => "billing.metric.storage",
        }
    }

    /// An amount of this metric as a reader reads it: storage as a file size
    /// (`1.5 MB`), everything else as a count.
    pub fn amount(self, locale: crate::i18n::Locale, n: i64) -> String {
        match self {
            Metric::Storage => crate::l10n::file_size(locale, n),
            _ => n.to_string(),
        }
    }
}

/// What a plan may include beyond its limits, by the key plans and flags use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Feature {
    InventoryMaps,
    ReviewAi,
    Api,
    WhiteLabel,
    Analytics,
}

impl Feature {
    pub const ALL: [Feature; 5] = [
        Feature::InventoryMaps,
        Feature::ReviewAi,
        Feature::Api,
        Feature::WhiteLabel,
        Feature::Analytics,
    ];

    /// The key in `plans.features`, `feature_flags` and `tenant_features`.
    pub fn key(self) -> &'static str {
        match self {
            Feature::InventoryMaps => "inventory.maps",
            Feature::ReviewAi => "review.ai",
            Feature::Api => "api",
            Feature::WhiteLabel => "white_label",
            Feature::Analytics => "analytics",
        }
    }

    pub fn parse(key: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.key() == key)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Feature::InventoryMaps => "billing.feature.inventory_maps",
            Feature::ReviewAi => "billing.feature.review_ai",
            Feature::Api => "billing.feature.api",
            Feature::WhiteLabel => "billing.feature.white_label",
            Feature::Analytics => "billing.feature.analytics",
        }
    }
}

/// One limit of the plan and how much of it is used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub metric: Metric,
    pub used: i64,
    /// `None`: no limit on this plan.
    pub limit: Option<i64>,
}

impl Usage {
    /// Whole percent of the limit used (capped at 100 for the bar).
    pub fn percent(&self) -> u32 {
        match self.limit {
            Some(l) if l > 0 => ((self.used.max(0) * 100) / l).min(100) as u32,
            Some(_) => 100,
            None => 0,
        }
    }
}

/// A plan as the comparison shows it, priced in the workspace's currency and cycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOffer {
    pub id: String,
    pub name: String,
    /// `None`: quoted, not on the list.
    pub price_minor: Option<i64>,
    pub limits: Vec<(Metric, Option<i64>)>,
    /// Public API requests the workspace may make a minute, and an hour (`None`: no
    /// hourly limit); they matter only with the API feature.
    pub api_per_minute: i32,
    pub api_per_hour: Option<i32>,
    pub features: Vec<String>,
    pub current: bool,
    pub rank: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct BillingProfile {
    pub company_name: String,
    pub address: String,
    pub country: String,
    pub tax_id: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRow {
    pub id: Uuid,
    pub number: i32,
    pub status: InvoiceStatus,
    pub currency: String,
    pub total_minor: i64,
    pub issued_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub description: String,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDetail {
    pub invoice: InvoiceRow,
    pub lines: Vec<InvoiceLine>,
    pub subtotal_minor: i64,
    pub tax_rate_bp: i32,
    pub tax_note: Option<String>,
    pub tax_minor: i64,
    pub bill_to: BillingProfile,
    pub workspace: String,
    /// Every try to collect it, oldest first.
    pub attempts: Vec<PaymentAttempt>,
    /// The viewer may ask for it to be charged now (the owner, while it is open).
    pub can_pay: bool,
}

/// One try to collect an invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAttempt {
    pub attempt: i32,
    pub kind: AttemptKind,
    pub status: AttemptStatus,
    pub due_at: DateTime<Utc>,
    pub failure: Option<String>,
}

/// Stripe's test payment methods, which the dev peer's stand-in honours too, and the
/// locale key of each one's name. A real deployment collects the card with Stripe's
/// own form (Elements or Checkout) and keeps only the `pm_…` id it answers.
pub const TEST_PAYMENT_METHODS: [(&str, &str); 3] = [
    ("pm_card_visa", "billing.card.visa"),
    ("pm_card_chargeDeclined", "billing.card.declined"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "billing.card.insufficient",
    ),
];

/// How the workspace pays, for the billing page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The saved payment method (`pm_…`), if any.
    pub method: Option<String>,
    /// A charge is queued or under way: the page looks again until it is done.
    pub pending: bool,
    /// The open invoice whose last charge failed, and why.
    pub failed: Option<(Uuid, i32, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub plan_id: String,
    pub plan_name: String,
    pub status: SubscriptionStatus,
    pub cycle: Cycle,
    pub currency: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub pending_plan: Option<String>,
    pub usage: Vec<Usage>,
    pub plans: Vec<PlanOffer>,
    pub invoices: Vec<InvoiceRow>,
    pub profile: BillingProfile,
    pub payment: Payment,
    /// Limits used to 80 % or more, with the percentage: the owners' and admins' banner.
    pub warnings: Vec<(Metric, u32)>,
    /// Messages waiting in the outbox because a monthly message limit is reached.
    pub held_messages: i64,
    /// Add-ons on offer, with what the workspace holds of each.
    pub addons: Vec<AddonOffer>,
    /// The owner changes the plan; admins read.
    pub can_manage: bool,
}

/// An add-on on the billing page: extra seats or numbers held by the unit, or a
/// message pack bought for the month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddonOffer {
    pub id: String,
    pub name: String,
    pub metric: Metric,
    /// How much of the metric one unit or pack adds.
    pub unit_quantity: i64,
    /// Renews with the plan (seats, numbers), or counts for this month (packs).
    pub recurring: bool,
    pub max_units: i32,
    /// Per unit and billing period, or per pack, in the subscription's currency;
    /// `None` when it is not sold in that currency.
    pub price_minor: Option<i64>,
    /// Units held now (recurring add-ons).
    pub units: i32,
    /// What packs bought this month add to the cap.
    pub this_month: i64,
    /// The plan caps the metric; an unlimited one needs no add-on.
    pub available: bool,
}

/// What a change of add-ons did: the invoice for the rest of the period, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddonChange {
    pub invoice: Option<Uuid>,
    pub invoice_number: Option<i32>,
}

/// What a plan change did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlanChange {
    /// Applied now; the prorated invoice, and the add-ons the new plan made pointless
    /// (it has no limit on what they raise), which ended with it.
    Upgraded {
        invoice: Option<Uuid>,
        ended_addons: Vec<String>,
    },
    /// Applied when the period ends; the add-ons that carry on, and renew, with it.
    Scheduled {
        at: DateTime<Utc>,
        kept_addons: Vec<String>,
    },
}
