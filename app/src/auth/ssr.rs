//! Accounts, sessions, 2FA: the SQL and rules behind the auth server functions.

use super::{mail, recovery};
use crate::audit::{self, AuditEntry};
use crate::auth::model::*;
use crate::crypto;
use crate::db::{internal, new_id, violated_constraint, Db, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::request::{keys, Env, Principal, RequestCtx, SupportGrant};
use crate::throttle;
use chrono::Utc;
use sqlx::Row;
use tower_sessions::{Expiry, Session};
use uuid::Uuid;

pub use super::account::{
    change_password, list_sessions, profile, revoke_session, timezone_exists, update_profile,
};
pub use super::totp::{login_totp, qr_svg, totp_begin, totp_confirm, totp_disable, totp_step};

// ------------------------------------------------------------------ request context

/// Who the session belongs to, checked against the database on every request so a
/// deactivated member or a revoked session loses access at once; with their language
/// and the workspaces they may switch to, read in the same query.
pub async fn resolve_principal(
    db: &Db,
    session: &Session,
) -> Result<Option<(Principal, Locale, Workspaces)>, AppError> {
    let user: Option<Uuid> = session.get(keys::USER).await.map_err(internal)?;
    let tenant: Option<Uuid> = session.get(keys::TENANT).await.map_err(internal)?;
    let (Some(user_id), Some(tenant_id)) = (user, tenant) else {
        return Ok(None);
    };
    if let Some(grant) = session.get::<Uuid>(keys::SUPPORT).await.map_err(internal)? {
        match support_principal(db, user_id, grant).await? {
            Some(found) => return Ok(Some(found)),
            // Ended, expired or no longer allowed: back to the member's own workspace.
            None => {
                session
                    .remove::<Uuid>(keys::SUPPORT)
                    .await
                    .map_err(internal)?;
            }
        }
    }
    let mut tx = db.tenant_tx(tenant_id, Some(user_id)).await?;
    let row = sqlx::query!(
        r#"SELECT m.id, m.role, m.grants, u.email::text AS "email!", u.name,
                u.totp_enabled_at IS NOT NULL AS "totp!",
                COALESCE(p.language, t.locale) AS "locale!",
                COALESCE(p.timezone, t.timezone) AS "timezone!",
                COALESCE(p.theme, 'light') AS "theme!", staff_role(u.id) IS NOT NULL AS "staff!",
                t.number_system, pol.two_factor_required,
                pol.require_verified_email AND u.email_verified_at IS NULL AS "must_verify!",
                (SELECT i.number FROM subscriptions s JOIN invoices i ON i.status = 'OPEN' WHERE s.status = 'UNPAID' ORDER BY i.number LIMIT 1) AS unpaid_invoice,
                (SELECT coalesce(json_agg(w ORDER BY w.name), '[]') FROM my_workspaces() w)
                  AS "workspaces!: sqlx::types::Json<Vec<Workspace>>"
           FROM memberships m
           JOIN users u ON u.id = m.user_id
           JOIN tenants t ON t.id = m.tenant_id AND t.status = 'ACTIVE'
           JOIN tenant_policies pol ON pol.tenant_id = m.tenant_id
           LEFT JOIN user_preferences p ON p.user_id = u.id
          WHERE m.tenant_id = $1 AND m.user_id = $2 AND m.status = 'ACTIVE'"#,
        tenant_id,
        user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let role = Role::parse(&row.role).ok_or_else(|| internal("bad role"))?;
    let locale = Locale::parse(&row.locale).unwrap_or_default();
    Ok(Some((
        Principal {
            user_id,
            tenant_id,
            membership_id: row.id,
            role,
            name: row.name,
            email: row.email,
            must_enrol_2fa: row.two_factor_required && !row.totp,
            must_verify_email: row.must_verify,
            api_key: None,
            unpaid_invoice: row.unpaid_invoice,
            grants: row
                .grants
                .iter()
                .filter_map(|g| Permission::from_grant(g))
                .collect(),
            timezone: row.timezone,
            theme: row.theme,
            digits: crate::l10n::Digits::parse(&row.number_system),
            staff: row.staff,
            support: None,
        },
        locale,
        Workspaces(row.workspaces.0),
    )))
}

/// A staff member working under support grant `grant`: the workspace it opens, as an
/// admin sees it. `None` once the grant is closed, expired or no longer allowed
/// (`staff_support_lookup` checks all three, and the staff permission).
async fn support_principal(
    db: &Db,
    user_id: Uuid,
    grant: Uuid,
) -> Result<Option<(Principal, Locale, Workspaces)>, AppError> {
    let open: Option<(Uuid, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT tenant_id, expires_at FROM staff_support_lookup($1, $2)")
            .bind(grant)
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    let Some((tenant_id, until)) = open else {
        return Ok(None);
    };
    let mut tx = db.tenant_tx(tenant_id, Some(user_id)).await?;
    let row = sqlx::query(
        "SELECT u.email::text AS email, u.name, COALESCE(p.language, t.locale) AS locale,
                COALESCE(p.timezone, t.timezone) AS timezone, COALESCE(p.theme, 'light') AS theme,
                t.name AS tenant_name, t.brand_color, t.logo_url, t.number_system,
                (SELECT coalesce(json_agg(w ORDER BY w.name), '[]') FROM my_workspaces() w) AS workspaces
           FROM users u JOIN tenants t ON t.id = $1
           LEFT JOIN user_preferences p ON p.user_id = u.id
          WHERE u.id = $2",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut workspaces: Vec<Workspace> = row
        .try_get::<sqlx::types::Json<Vec<Workspace>>, _>("workspaces")?
        .0;
    // The opened workspace is the current one, though the staff member is no member.
    workspaces.retain(|w| w.id != tenant_id);
    workspaces.push(Workspace {
        id: tenant_id,
        name: row.try_get("tenant_name")?,
        role: Role::Admin.as_str().to_string(),
        brand_color: row.try_get("brand_color")?,
        logo_url: row.try_get("logo_url")?,
    });
    Ok(Some((
        Principal {
            user_id,
            tenant_id,
            membership_id: grant,
            role: Role::Admin,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            must_enrol_2fa: false,
            must_verify_email: false,
            api_key: None,
            unpaid_invoice: None,
            grants: Vec::new(),
            timezone: row.try_get("timezone")?,
            theme: row.try_get("theme")?,
            digits: crate::l10n::Digits::parse(row.try_get("number_system")?),
            staff: true,
            support: Some(SupportGrant { id: grant, until }),
        },
        Locale::parse(&row.try_get::<String, _>("locale")?).unwrap_or_default(),
        Workspaces(workspaces),
    )))
}

/// One of the user's active workspaces, as `my_workspaces()` lists them.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Workspace {
    id: Uuid,
    name: String,
    role: String,
    brand_color: String,
    logo_url: Option<String>,
}

/// The user's active workspaces, by name: kept with the request for the page shell.
#[derive(Clone, Debug)]
pub struct Workspaces(pub Vec<Workspace>);

/// The shell's view of the signed-in member: their workspaces and the branding.
pub fn viewer(
    principal: &Principal,
    locale: Locale,
    workspaces: &Workspaces,
) -> Result<Viewer, AppError> {
    let current = workspaces
        .0
        .iter()
        .find(|t| t.id == principal.tenant_id)
        // The principal's query and the list are one snapshot, so this cannot happen.
        .ok_or_else(|| internal("the session's workspace is not among the user's"))?;
    Ok(Viewer {
        user_id: principal.user_id,
        name: principal.name.clone(),
        email: principal.email.clone(),
        tenant_id: principal.tenant_id,
        tenant_name: current.name.clone(),
        brand_color: current.brand_color.clone(),
        logo_url: current.logo_url.clone(),
        role: principal.role,
        locale,
        timezone: principal.timezone.clone(),
        theme: principal.theme.clone(),
        digits: principal.digits,
        tenants: workspaces
            .0
            .iter()
            .filter_map(|r| {
                Some(TenantChoice {
                    role: Role::parse(&r.role)?,
                    id: r.id,
                    name: r.name.clone(),
                })
            })
            .collect(),
        must_enrol_2fa: principal.must_enrol_2fa,
        must_verify_email: principal.must_verify_email,
        unpaid_invoice: principal.unpaid_invoice,
        staff: principal.staff,
        support_until: principal.support.as_ref().map(|s| s.until),
    })
}

// ------------------------------------------------------------------ policy

#[derive(Clone, Debug)]
pub struct SecurityRules {
    pub password: PasswordPolicy,
    pub session_idle_minutes: i32,
    pub two_factor_required: bool,
}

pub async fn security_rules(tx: &mut Tx, tenant_id: Uuid) -> Result<SecurityRules, AppError> {
    let row = sqlx::query(
        "SELECT password_min_length, require_uppercase, require_lowercase, require_digit,
                require_symbol, session_idle_minutes, two_factor_required
           FROM tenant_policies WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        Some(r) => SecurityRules {
            password: PasswordPolicy {
                min_length: r.try_get::<i32, _>("password_min_length")? as u32,
                require_uppercase: r.try_get("require_uppercase")?,
                require_lowercase: r.try_get("require_lowercase")?,
                require_digit: r.try_get("require_digit")?,
                require_symbol: r.try_get("require_symbol")?,
            },
            session_idle_minutes: r.try_get("session_idle_minutes")?,
            two_factor_required: r.try_get("two_factor_required")?,
        },
        None => SecurityRules {
            password: PasswordPolicy::default(),
            session_idle_minutes: 480,
            two_factor_required: false,
        },
    })
}

/// Whether `password` is the user's (in a transaction that can see the user's row).
pub async fn password_matches(
    tx: &mut Tx,
    user_id: Uuid,
    password: &str,
) -> Result<bool, AppError> {
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
    crypto::verify_password(password.to_string(), hash).await
}

// ------------------------------------------------------------------ validation

pub fn normalize_email(email: &str, locale: Locale) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    if ::mail::valid_address(&email) {
        Ok(email)
    } else {
        Err(AppError::field("email", t(locale, "validation.email")))
    }
}

pub fn required_text(
    field: &str,
    value: &str,
    max: usize,
    locale: Locale,
) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::field(field, t(locale, "validation.required")));
    }
    if value.chars().count() > max {
        return Err(AppError::field(
            field,
            tf(locale, "validation.too_long", &[("n", max.to_string())]),
        ));
    }
    Ok(value.to_string())
}

/// A URL-safe workspace slug from a company name; names with no Latin letters
/// (Arabic, say) get a random one.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(40).collect();
    if slug.len() < 2 {
        format!("ws-{}", &crypto::token()[..8])
    } else {
        slug
    }
}

// ------------------------------------------------------------------ sign-up

pub struct NewWorkspace {
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub company: String,
    pub locale: Locale,
    pub plan: &'static str,
}

/// Creates a user, their tenant with the default policy and plan, and their OWNER
/// membership, in one transaction.
pub async fn create_workspace(
    ctx: &RequestCtx,
    input: NewWorkspace,
) -> Result<(Uuid, Uuid), AppError> {
    let user_id = new_id();
    let tenant_id = new_id();
    let mut tx = ctx.db.tenant_tx(tenant_id, Some(user_id)).await?;
    sqlx::query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(&input.email)
        .bind(&input.name)
        .bind(&input.password_hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| match violated_constraint(&e).as_deref() {
            Some("users_email_key") => {
                AppError::field("email", t(input.locale, "auth.email_taken"))
            }
            _ => internal(e),
        })?;
    let base = slugify(&input.company);
    let mut slug = base.clone();
    for attempt in 0..5 {
        let inserted = sqlx::query(
            "INSERT INTO tenants (id, name, slug, locale) VALUES ($1, $2, $3, $4)
             ON CONFLICT (slug) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&input.company)
        .bind(&slug)
        .bind(input.locale.code())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            break;
        }
        if attempt == 4 {
            return Err(internal("could not find a free workspace slug"));
        }
        slug = format!("{base}-{}", &crypto::token()[..6]);
    }
    sqlx::query("INSERT INTO tenant_policies (tenant_id) VALUES ($1)")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT crm_default_pipeline($1, $2)")
        .bind(tenant_id)
        .bind(t(input.locale, "crm.default_pipeline"))
        .execute(&mut *tx)
        .await?;
    // Every workspace starts with a trial of its plan, as long as staff set
    // (`billing.trial_days`, 14 by default); the period roll ends it.
    let trial_days = crate::sysconfig::trial_days(&mut tx).await?;
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, plan_id, status, trial_ends_at, current_period_end)
         VALUES ($1, $2, $3, 'TRIALING', now() + make_interval(days => $4), now() + make_interval(days => $4))",
    )
        .bind(new_id())
        .bind(tenant_id)
        .bind(input.plan)
        .bind(i32::try_from(trial_days).unwrap_or(14))
        .execute(&mut *tx)
        .await?;
    let membership_id = new_id();
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, user_id, role) VALUES ($1, $2, $3, 'OWNER')",
    )
    .bind(membership_id)
    .bind(tenant_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        ctx,
        tenant_id,
        Some(user_id),
        AuditEntry::new("tenant.created", "tenant", Some(tenant_id))
            .after(serde_json::json!({ "name": input.company, "slug": slug })),
    )
    .await?;
    tx.commit().await?;
    Ok((user_id, tenant_id))
}

/// Sign-up answers the same whether or not the address has an account: a new account
/// gets its workspace and a confirmation link; an existing one gets an email saying so
/// (with sign-in and reset links). Nobody is signed in here: the link or the normal
/// sign-in comes next.
pub async fn signup(
    env: &Env,
    name: &str,
    email: &str,
    password: &str,
    company: &str,
) -> Result<(), AppError> {
    let locale = env.locale();
    let name = required_text("name", name, 200, locale)?;
    let email = normalize_email(email, locale)?;
    let company = required_text("company", company, 200, locale)?;
    PasswordPolicy::default()
        .check(password, locale)
        .map_err(|m| AppError::field("password", m))?;
    let ip = env.ctx.ip.as_deref().unwrap_or("unknown");
    throttle::hit(env.db(), throttle::SIGN_UP_IP, ip, locale).await?;
    // Hashed either way, so both answers take the same time.
    let password_hash = crypto::hash_password(password.to_string()).await?;
    let created = create_workspace(
        &env.ctx,
        NewWorkspace {
            name,
            email: email.clone(),
            password_hash,
            company,
            locale,
            plan: "starter",
        },
    )
    .await;
    match created {
        Ok((user_id, _)) => recovery::send_confirmation(env, user_id, &email).await,
        Err(AppError::Validation { field, .. }) if field == "email" => {
            let base = env.ctx.config.public_url.trim_end_matches('/');
            mail::send_later(
                &env.ctx.config,
                mail::AccountEmail::already_registered(
                    locale,
                    &email,
                    &format!("{base}/login"),
                    &format!("{base}/forgot"),
                ),
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

// ------------------------------------------------------------------ login

pub async fn login(env: &Env, email: &str, password: &str) -> Result<LoginStep, AppError> {
    let locale = env.locale();
    let wrong = || AppError::Unauthorized(t(locale, "auth.wrong_credentials"));
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Err(AppError::field("email", t(locale, "validation.required")));
    }
    if password.is_empty() {
        return Err(AppError::field(
            "password",
            t(locale, "validation.required"),
        ));
    }
    let ip = env.ctx.ip.as_deref().unwrap_or("unknown");
    throttle::hit(env.db(), throttle::SIGN_IN_IP, ip, locale).await?;
    let email_key = throttle::email_subject(&env.ctx.config.secret_key, &email);
    throttle::allowed(env.db(), throttle::SIGN_IN_EMAIL, &email_key, locale).await?;
    // Every failure below answers the same words, after the same argon2 work, whether
    // the account is missing, locked or given the wrong password.
    let failed = || async {
        throttle::hit(env.db(), throttle::SIGN_IN_EMAIL, &email_key, locale).await?;
        Err::<LoginStep, AppError>(wrong())
    };

    let mut tx = env.db().anon_tx().await?;
    let found = sqlx::query(
        "SELECT user_id, max_failed_logins, lockout_minutes FROM auth_login_lookup($1)",
    )
    .bind(&email)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(found) = found else {
        crypto::burn_password_check(password.to_string()).await;
        return failed().await;
    };
    let user_id: Uuid = found.try_get("user_id")?;
    let max_failed: i32 = found.try_get("max_failed_logins")?;
    let lockout_minutes: i32 = found.try_get("lockout_minutes")?;

    let mut tx = env.db().user_tx(user_id).await?;
    let user = sqlx::query(
        "SELECT password_hash, failed_logins, locked_until > now() AS locked,
                totp_enabled_at IS NOT NULL AS totp
           FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    let matches =
        crypto::verify_password(password.to_string(), user.try_get("password_hash")?).await?;
    if user.try_get::<Option<bool>, _>("locked")?.unwrap_or(false) {
        tracing::warn!(%user_id, "sign-in to a locked account");
        return failed().await;
    }
    if !matches {
        let failures: i32 = user.try_get::<i32, _>("failed_logins")? + 1;
        let lock = failures >= max_failed;
        sqlx::query(
            "UPDATE users SET failed_logins = CASE WHEN $3 THEN 0 ELSE $2 END,
                    locked_until = CASE WHEN $3 THEN now() + make_interval(mins => $4)
                                        ELSE locked_until END
              WHERE id = $1",
        )
        .bind(user_id)
        .bind(failures)
        .bind(lock)
        .bind(lockout_minutes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if lock {
            tracing::warn!(%user_id, "account locked after failed logins");
        }
        return failed().await;
    }
    tx.commit().await?;

    if user.try_get::<bool, _>("totp")? {
        // The password counters are cleared only once the second factor passes too:
        // a known password must not reset the guesses left at the code.
        let s = &env.session;
        s.cycle_id().await.map_err(internal)?;
        s.remove_value(keys::USER).await.map_err(internal)?;
        s.insert(keys::PENDING_USER, user_id)
            .await
            .map_err(internal)?;
        s.insert(keys::PENDING_SINCE, Utc::now().timestamp())
            .await
            .map_err(internal)?;
        return Ok(LoginStep::NeedTotp);
    }
    clear_failures(env.db(), user_id).await?;
    let tenant_id = pick_tenant(env.db(), user_id, locale).await?;
    start_session(env, user_id, tenant_id).await?;
    Ok(LoginStep::Done)
}

/// A new password from a reset link: every failure counter and lock goes with the old
/// one, and the address counts as confirmed, since the link reached it.
pub async fn clear_failures_and_password(
    tx: &mut Tx,
    user_id: Uuid,
    password_hash: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL,
                totp_failures = 0, totp_locked_until = NULL,
                email_verified_at = COALESCE(email_verified_at, now()), updated_at = now()
          WHERE id = $1",
    )
    .bind(user_id)
    .bind(password_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// After a whole sign-in succeeded: every failure counter and lock of the user goes.
pub(super) async fn clear_failures(db: &Db, user_id: Uuid) -> Result<(), AppError> {
    let mut tx = db.user_tx(user_id).await?;
    sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = NULL,
                totp_failures = 0, totp_locked_until = NULL
          WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await.map_err(internal)
}

/// The tenant a login lands in: the last one used if still active, else the oldest.
pub async fn pick_tenant(db: &Db, user_id: Uuid, locale: Locale) -> Result<Uuid, AppError> {
    let mut tx = db.user_tx(user_id).await?;
    let tenant: Option<Uuid> = sqlx::query_scalar(
        "SELECT m.tenant_id FROM memberships m
           JOIN users u ON u.id = m.user_id
           JOIN tenants t ON t.id = m.tenant_id AND t.status = 'ACTIVE'
          WHERE m.user_id = $1 AND m.status = 'ACTIVE'
          ORDER BY (m.tenant_id = u.last_tenant_id) DESC, m.created_at
          LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    tenant.ok_or_else(|| AppError::Forbidden(t(locale, "auth.no_workspace")))
}

/// Signs the user into a tenant: a fresh session id (no fixation), the tenant's idle
/// timeout, and an audit entry.
pub async fn start_session(env: &Env, user_id: Uuid, tenant_id: Uuid) -> Result<(), AppError> {
    let mut tx = env.db().tenant_tx(tenant_id, Some(user_id)).await?;
    let rules = security_rules(&mut tx, tenant_id).await?;
    sqlx::query("UPDATE users SET last_login_at = now(), last_tenant_id = $2 WHERE id = $1")
        .bind(user_id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &env.ctx,
        tenant_id,
        Some(user_id),
        AuditEntry::new("auth.login", "user", Some(user_id)),
    )
    .await?;
    tx.commit().await?;

    let s = &env.session;
    s.cycle_id().await.map_err(internal)?;
    s.remove_value(keys::PENDING_USER).await.map_err(internal)?;
    s.remove_value(keys::PENDING_SINCE)
        .await
        .map_err(internal)?;
    // Switching workspace (or signing in again) leaves support access.
    s.remove_value(keys::SUPPORT).await.map_err(internal)?;
    s.insert(keys::USER, user_id).await.map_err(internal)?;
    s.insert(keys::TENANT, tenant_id).await.map_err(internal)?;
    s.insert(keys::USER_AGENT, env.ctx.user_agent.clone())
        .await
        .map_err(internal)?;
    s.insert(keys::IP, env.ctx.ip.clone())
        .await
        .map_err(internal)?;
    let idle = i64::from(rules.session_idle_minutes);
    s.insert(keys::IDLE_MINUTES, idle).await.map_err(internal)?;
    s.set_expiry(Some(Expiry::OnInactivity(time::Duration::minutes(idle))));
    Ok(())
}

pub async fn logout(env: &Env) -> Result<(), AppError> {
    if let Some(p) = &env.ctx.principal {
        let mut tx = env.tx(p).await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("auth.logout", "user", Some(p.user_id)),
        )
        .await?;
        tx.commit().await?;
    }
    env.session.flush().await.map_err(internal)
}

pub async fn switch_tenant(env: &Env, tenant_id: Uuid) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let mut tx = env.db().user_tx(p.user_id).await?;
    let member: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships m JOIN tenants t ON t.id = m.tenant_id
                         WHERE m.user_id = $1 AND m.tenant_id = $2 AND m.status = 'ACTIVE'
                           AND t.status = 'ACTIVE')",
    )
    .bind(p.user_id)
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    if !member {
        return Err(AppError::Forbidden(env.t("auth.not_a_member")));
    }
    start_session(env, p.user_id, tenant_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Acme Realty, Ltd."), "acme-realty-ltd");
        assert!(slugify("شركة العقارات").starts_with("ws-"));
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            normalize_email(" Ada@Example.COM ", Locale::En).unwrap(),
            "ada@example.com"
        );
        for bad in ["", "ada", "ada@", "@x.com", "ada@x", "a da@x.com"] {
            assert!(normalize_email(bad, Locale::En).is_err(), "{bad}");
        }
    }
}
