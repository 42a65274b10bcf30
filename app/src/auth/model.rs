//! Types shared by the server and the browser: roles, permissions, the signed-in
//! viewer and the password policy. No secrets live here.

use crate::i18n::{tf, Locale};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Ordered from least to most powerful, so `role >= Role::Admin` reads as "ADMIN or
/// above": OWNER ⊇ ADMIN ⊇ MANAGER ⊇ SALES.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Sales,
    Manager,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Manager, Role::Sales];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sales => "SALES",
            Role::Manager => "MANAGER",
            Role::Admin => "ADMIN",
            Role::Owner => "OWNER",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "SALES" => Some(Role::Sales),
            "MANAGER" => Some(Role::Manager),
            "ADMIN" => Some(Role::Admin),
            "OWNER" => Some(Role::Owner),
            _ => None,
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Role::Sales => "role.sales",
            Role::Manager => "role.manager",
            Role::Admin => "role.admin",
            Role::Owner => "role.owner",
        }
    }
}

/// The one list of permissions. Each names the least role that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Use the workspace at all: pipeline, leads, own settings.
    WorkspaceUse,
    /// See the team's members.
    TeamView,
    /// Invite, change roles, deactivate.
    TeamManage,
    /// Tenant name, branding, locale, timezone.
    TenantSettings,
    /// Password rules, session timeout, lockout, 2FA requirement.
    SecurityPolicy,
    /// Read the audit log.
    AuditView,
    /// Change the plan and pay.
    BillingManage,
    /// See the plan, usage and invoices.
    BillingView,
    /// Enrol leads in sequences, pause and resume them.
    OutreachRun,
    /// Templates, senders (numbers, domains, mailboxes) and sequences.
    OutreachManage,
    /// Every member's background jobs: their logs, retry and cancel.
    JobsManage,
    /// API keys and webhook endpoints: each reaches the whole workspace's data.
    DevelopersManage,
    /// Work the review queue: replies, complaints and bounces a human decides on.
    ReviewWork,
    /// Change unit prices and statuses, release anyone's hold.
    InventoryManage,
    /// Draw plans and link their shapes to units.
    InventoryEdit,
}

impl Permission {
    pub fn min_role(self) -> Role {
        match self {
            Permission::WorkspaceUse => Role::Sales,
            Permission::TeamView
            | Permission::OutreachRun
            | Permission::ReviewWork
            | Permission::InventoryManage => Role::Manager,
            Permission::TeamManage
            | Permission::TenantSettings
            | Permission::SecurityPolicy
            | Permission::AuditView
            | Permission::OutreachManage
            | Permission::JobsManage
            | Permission::DevelopersManage
            | Permission::InventoryEdit
            | Permission::BillingView => Role::Admin,
            Permission::BillingManage => Role::Owner,
        }
    }

    pub fn allowed_for(self, role: Role) -> bool {
        role >= self.min_role()
    }

    /// The permissions an admin may give a member beyond their role, by their code in
    /// `memberships.grants`.
    pub const GRANTABLE: [(Permission, &'static str); 1] =
        [(Permission::InventoryEdit, "inventory")];

    pub fn from_grant(code: &str) -> Option<Permission> {
        Self::GRANTABLE
            .iter()
            .find(|(_, c)| *c == code)
            .map(|(p, _)| *p)
    }

    pub fn grant_code(self) -> Option<&'static str> {
        Self::GRANTABLE
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, c)| *c)
    }
}

/// A workspace the viewer belongs to, for the tenant switcher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantChoice {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
}

/// Who is looking at the page. Rendered into the page by the server and read back by
/// the browser at hydration, so both render the same shell without a round trip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub brand_color: String,
    pub logo_url: Option<String>,
    pub role: Role,
    pub locale: Locale,
    /// The IANA zone times are shown in (`l10n`).
    pub timezone: String,
    /// `light`, `dark` or `system`: the shell's `data-theme`.
    pub theme: String,
    /// The digits of the workspace's Arabic pages (`l10n::Digits`).
    pub digits: crate::l10n::Digits,
    pub tenants: Vec<TenantChoice>,
    /// The tenant requires 2FA and this user has not enrolled yet.
    pub must_enrol_2fa: bool,
    /// The tenant requires a confirmed address and this user's is not yet.
    pub must_verify_email: bool,
    /// The workspace is read-only until this invoice is paid: a banner on every page.
    pub unpaid_invoice: Option<i32>,
    /// Platform staff: the sidebar links the staff console.
    pub staff: bool,
    /// Staff reading this workspace for support, read-only, until then.
    pub support_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Viewer {
    pub fn can(&self, permission: Permission) -> bool {
        permission.allowed_for(self.role)
    }

    pub fn initials(&self) -> String {
        self.name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .take(2)
            .collect::<String>()
            .to_uppercase()
    }
}

/// What the page shell knows about the request before any data loads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageContext {
    pub locale: Locale,
    pub viewer: Option<Viewer>,
}

/// The tenant's password rules, checked on sign-up, invite acceptance and change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 10,
            require_uppercase: false,
            require_lowercase: false,
            require_digit: false,
            require_symbol: false,
        }
    }
}

impl PasswordPolicy {
    /// The first rule the password breaks, as a message for the person typing it.
    pub fn check(&self, password: &str, locale: Locale) -> Result<(), String> {
        let len = password.chars().count();
        if len < self.min_length as usize {
            return Err(tf(
                locale,
                "password.too_short",
                &[("n", self.min_length.to_string())],
            ));
        }
        if len > 256 {
            return Err(tf(locale, "password.too_long", &[]));
        }
        let rules = [
            (
                self.require_uppercase,
                password.chars().any(char::is_uppercase),
                "password.need_upper",
            ),
            (
                self.require_lowercase,
                password.chars().any(char::is_lowercase),
                "password.need_lower",
            ),
            (
                self.require_digit,
                password.chars().any(|c| c.is_ascii_digit()),
                "password.need_digit",
            ),
            (
                self.require_symbol,
                password
                    .chars()
                    .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
                "password.need_symbol",
            ),
        ];
        for (required, present, key) in rules {
            if required && !present {
                return Err(tf(locale, key, &[]));
            }
        }
        Ok(())
    }
}

/// What a login attempt needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginStep {
    Done,
    NeedTotp,
}

/// A browser session of the signed-in user, for "Active sessions".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// A hash of the session id: the id itself is a bearer token and never leaves
    /// the cookie.
    pub handle: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub email: String,
    pub language: Option<Locale>,
    pub timezone: Option<String>,
    pub theme: String,
    pub totp_enabled: bool,
    pub two_factor_required: bool,
    /// The time zones the picker offers (IANA names by region, and UTC).
    #[serde(default)]
    pub zones: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest() {
        for p in [
            Permission::WorkspaceUse,
            Permission::TeamView,
            Permission::TeamManage,
            Permission::AuditView,
            Permission::BillingManage,
        ] {
            let holders: Vec<Role> = Role::ALL
                .into_iter()
                .filter(|r| p.allowed_for(*r))
                .collect();
            // Whoever holds it, everyone above holds it too.
            for r in &holders {
                for above in Role::ALL.into_iter().filter(|a| a > r) {
                    assert!(p.allowed_for(above), "{above:?} lacks {p:?} held by {r:?}");
                }
            }
            assert!(p.allowed_for(Role::Owner));
        }
        assert!(!Permission::TeamManage.allowed_for(Role::Manager));
        assert!(!Permission::TeamView.allowed_for(Role::Sales));
        assert!(!Permission::BillingManage.allowed_for(Role::Admin));
    }

    #[test]
    fn role_strings_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("owner"), None);
    }

    #[test]
    fn password_policy_names_the_broken_rule() {
        let strict = PasswordPolicy {
            min_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_digit: true,
            require_symbol: true,
        };
        assert!(strict.check("short", Locale::En).unwrap_err().contains('8'));
        assert!(strict.check("alllowercase1!", Locale::En).is_err());
        assert!(strict.check("NoDigitsHere!", Locale::En).is_err());
        assert!(strict.check("NoSymbols123", Locale::En).is_err());
        assert!(strict.check("Good-Passw0rd", Locale::En).is_ok());
        // Arabic letters count as characters, not bytes.
        assert!(PasswordPolicy::default()
            .check("كلمةسرطويلة", Locale::Ar)
            .is_ok());
    }
}
