//! Accounts, sessions, 2FA: the SQL and rules behind the auth server functions.

use super::{mail, recovery};
use crate::audit::{self, AuditEntry};
use crate::auth::model::*;
use crate::crypto;
use crate::db::{internal, new_id, violated_constraint, Db, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::request::{keys, Env, Principal, RequestCtx};
use crate::throttle;
use chrono::Utc;
use sqlx::Row;
use tower_sessions::{Expiry, Session};
use uuid::Uuid;

pub use super::account::{
    change_password, list_sessions, profile, revoke_session, timezone_exists, update_profile,
};

// ------------------------------------------------------------------ request context

/// Who the session belongs to, checked against the database on every request so a
/// deactivated member or a revoked session loses access at once.
pub async fn resolve_principal(
    db: &Db,
    session: &Session,
) -> Result<Option<(Principal, Locale)>, AppError> {
    let user: Option<Uuid> = session.get(keys::USER).await.map_err(internal)?;
    let tenant: Option<Uuid> = session.get(keys::TENANT).await.map_err(internal)?;
    let (Some(user_id), Some(tenant_id)) = (user, tenant) else {
        return Ok(None);
    };
    let mut tx = db.tenant_tx(tenant_id, Some(user_id)).await?;
    let row = sqlx::query(
        "SELECT m.id, m.role, u.email::text AS email, u.name, u.totp_enabled_at IS NOT NULL AS totp,
                COALESCE(p.language, t.locale) AS locale, pol.two_factor_required,
                pol.require_verified_email AND u.email_verified_at IS NULL AS must_verify,
                (SELECT i.number FROM subscriptions s JOIN invoices i ON i.status = 'OPEN' WHERE s.status = 'UNPAID' ORDER BY i.number LIMIT 1) AS unpaid_invoice
           FROM memberships m
           JOIN users u ON u.id = m.user_id
           JOIN tenants t ON t.id = m.tenant_id AND t.status = 'ACTIVE'
           JOIN tenant_policies pol ON pol.tenant_id = m.tenant_id
           LEFT JOIN user_preferences p ON p.user_id = u.id
          WHERE m.tenant_id = $1 AND m.user_id = $2 AND m.status = 'ACTIVE'",
    )
    .bind(tenant_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let role =
        Role::parse(row.get::<String, _>("role").as_str()).ok_or_else(|| internal("bad role"))?;
    let locale = Locale::parse(&row.get::<String, _>("locale")).unwrap_or_default();
    let totp: bool = row.get("totp");
    let required: bool = row.get("two_factor_required");
    Ok(Some((
        Principal {
            user_id,
            tenant_id,
            membership_id: row.get("id"),
            role,
            name: row.get("name"),
            email: row.get("email"),
            must_enrol_2fa: required && !totp,
            must_verify_email: row.get("must_verify"),
            api_key: None,
            unpaid_invoice: row.try_get("unpaid_invoice")?,
        },
        locale,
    )))
}

/// The shell's view of the signed-in member: their workspaces and the branding.
pub async fn load_viewer(
    db: &Db,
    principal: &Principal,
    locale: Locale,
) -> Result<Viewer, AppError> {
    // The user's rows in every tenant (own_memberships) and those tenants
    // (member_tenants) are visible only with no tenant set, so a tenant transaction
    // never counts another workspace's membership. One query gives the switcher and
    // the current workspace's branding.
    let mut tx = db.user_tx(principal.user_id).await?;
    let tenants: Vec<WorkspaceRow> = sqlx::query_as(
        "SELECT t.id, t.name, m.role, t.brand_color, t.logo_url
           FROM memberships m JOIN tenants t ON t.id = m.tenant_id
          WHERE m.user_id = $1 AND m.status = 'ACTIVE' AND t.status = 'ACTIVE'
          ORDER BY t.name",
    )
    .bind(principal.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let current = tenants
        .iter()
        .find(|t| t.id == principal.tenant_id)
        // Only if the membership ended between this query and the principal's.
        .ok_or_else(|| internal("the session's workspace is no longer the user's"))?;
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
        tenants: tenants
            .into_iter()
            .filter_map(|r| {
                Some(TenantChoice {
                    role: Role::parse(&r.role)?,
                    id: r.id,
                    name: r.name,
                })
            })
            .collect(),
        must_enrol_2fa: principal.must_enrol_2fa,
        must_verify_email: principal.must_verify_email,
        unpaid_invoice: principal.unpaid_invoice,
    })
}

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    id: Uuid,
    name: String,
    role: String,
    brand_color: String,
    logo_url: Option<String>,
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
                min_length: r.get::<i32, _>("password_min_length") as u32,
                require_uppercase: r.get("require_uppercase"),
                require_lowercase: r.get("require_lowercase"),
                require_digit: r.get("require_digit"),
                require_symbol: r.get("require_symbol"),
            },
            session_idle_minutes: r.get("session_idle_minutes"),
            two_factor_required: r.get("two_factor_required"),
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
    // Every workspace starts with a 14-day trial of its plan (billing::ssr rolls it on).
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, plan_id, status, trial_ends_at, current_period_end)
         VALUES ($1, $2, $3, 'TRIALING', now() + interval '14 days', now() + interval '14 days')",
    )
        .bind(new_id())
        .bind(tenant_id)
        .bind(input.plan)
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
    let user_id: Uuid = found.get("user_id");
    let max_failed: i32 = found.get("max_failed_logins");
    let lockout_minutes: i32 = found.get("lockout_minutes");

    let mut tx = env.db().user_tx(user_id).await?;
    let user = sqlx::query(
        "SELECT password_hash, failed_logins, locked_until > now() AS locked,
                totp_enabled_at IS NOT NULL AS totp
           FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    let matches = crypto::verify_password(password.to_string(), user.get("password_hash")).await?;
    if user.get::<Option<bool>, _>("locked").unwrap_or(false) {
        tracing::warn!(%user_id, "sign-in to a locked account");
        return failed().await;
    }
    if !matches {
        let failures: i32 = user.get::<i32, _>("failed_logins") + 1;
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

    if user.get::<bool, _>("totp") {
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
async fn clear_failures(db: &Db, user_id: Uuid) -> Result<(), AppError> {
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

/// How long a correct password waits for its second factor.
const PENDING_TOTP_SECS: i64 = 600;

pub async fn login_totp(env: &Env, code: &str) -> Result<(), AppError> {
    let locale = env.locale();
    let s = &env.session;
    let expired = || AppError::Unauthorized(t(locale, "auth.totp_expired"));
    let user_id: Uuid = s
        .get(keys::PENDING_USER)
        .await
        .map_err(internal)?
        .ok_or_else(expired)?;
    let since: i64 = s
        .get(keys::PENDING_SINCE)
        .await
        .map_err(internal)?
        .unwrap_or(0);
    if Utc::now().timestamp() - since > PENDING_TOTP_SECS {
        s.flush().await.map_err(internal)?;
        return Err(expired());
    }
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.is_empty() {
        return Err(AppError::field("code", t(locale, "validation.required")));
    }
    let ip = env.ctx.ip.as_deref().unwrap_or("unknown");
    throttle::hit(env.db(), throttle::TOTP_IP, ip, locale).await?;

    let mut tx = env.db().user_tx(user_id).await?;
    let row = TotpState::load(&mut tx, user_id).await?;
    if row.locked_minutes > 0 {
        return Err(AppError::Locked(tf(
            locale,
            "auth.totp_locked",
            &[("minutes", row.locked_minutes.to_string())],
        )));
    }
    let secret = stored_totp_secret(
        &env.ctx.config.secret_key,
        user_id,
        row.totp_secret_sealed,
        row.totp_secret.clone(),
    )?;
    let last_step = row.totp_last_step;
    let accepted_step = match &secret {
        Some(secret) if code.len() == 6 => {
            totp_step(secret, &code, now_unix()).filter(|step| last_step.is_none_or(|l| *step > l))
        }
        Some(_) => use_recovery_code(&mut tx, &env.ctx.config.secret_key, user_id, &code)
            .await?
            .then_some(last_step.unwrap_or(0)),
        None => None,
    };
    let Some(step) = accepted_step else {
        let failures = row.totp_failures + 1;
        let lock = failures >= TOTP_MAX_FAILURES;
        sqlx::query(
            "UPDATE users SET totp_failures = CASE WHEN $3 THEN 0 ELSE $2 END,
                    totp_locked_until = CASE WHEN $3 THEN now() + make_interval(mins => $4)
                                             ELSE totp_locked_until END
              WHERE id = $1",
        )
        .bind(user_id)
        .bind(failures)
        .bind(lock)
        .bind(TOTP_LOCK_MINUTES)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if lock {
            tracing::warn!(%user_id, "second factor locked after wrong codes");
            s.flush().await.map_err(internal)?;
            return Err(AppError::Locked(tf(
                locale,
                "auth.totp_locked",
                &[("minutes", TOTP_LOCK_MINUTES.to_string())],
            )));
        }
        return Err(AppError::field("code", t(locale, "auth.totp_wrong")));
    };
    // A secret still in the plain column (enrolled before 0007) is sealed now.
    let reseal = row.totp_secret.zip(secret);
    sqlx::query(
        "UPDATE users SET totp_last_step = $2,
                totp_secret_sealed = COALESCE($3, totp_secret_sealed),
                totp_secret = CASE WHEN $3 IS NULL THEN totp_secret END
          WHERE id = $1",
    )
    .bind(user_id)
    .bind(step)
    .bind(reseal.map(|(_, secret)| seal_totp(&env.ctx.config.secret_key, user_id, &secret)))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    clear_failures(env.db(), user_id).await?;
    let tenant_id = pick_tenant(env.db(), user_id, locale).await?;
    start_session(env, user_id, tenant_id).await
}

/// A user's second factor as stored, read under the row's lock.
#[derive(sqlx::FromRow)]
struct TotpState {
    totp_secret: Option<String>,
    totp_secret_sealed: Option<Vec<u8>>,
    totp_last_step: Option<i64>,
    totp_failures: i32,
    locked_minutes: i32,
}

impl TotpState {
    async fn load(tx: &mut Tx, user_id: Uuid) -> Result<TotpState, AppError> {
        sqlx::query_as(
            "SELECT totp_secret, totp_secret_sealed, totp_last_step, totp_failures,
                    COALESCE(ceil(extract(epoch FROM totp_locked_until - now()) / 60), 0)::int
                        AS locked_minutes
               FROM users WHERE id = $1 FOR UPDATE",
        )
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(internal)
    }
}

/// Wrong second-factor codes before the factor locks, and for how long.
const TOTP_MAX_FAILURES: i32 = 5;
const TOTP_LOCK_MINUTES: i32 = 15;

fn totp_at(user_id: Uuid) -> crypto::SealedAt<'static> {
    crypto::SealedAt {
        table: "users",
        column: "totp_secret_sealed",
        row: user_id,
    }
}

fn seal_totp(key: &[u8; 32], user_id: Uuid, secret_b32: &str) -> Vec<u8> {
    crypto::seal_field(key, &totp_at(user_id), secret_b32.as_bytes())
}

/// The user's TOTP secret (base32): sealed, or from the plain column of before 0007.
fn stored_totp_secret(
    key: &[u8; 32],
    user_id: Uuid,
    sealed: Option<Vec<u8>>,
    plain: Option<String>,
) -> Result<Option<String>, AppError> {
    match sealed {
        Some(sealed) => {
            let bytes = crypto::open_field(key, &totp_at(user_id), &sealed)?;
            String::from_utf8(bytes).map(Some).map_err(internal)
        }
        None => Ok(plain),
    }
}

/// A recovery code: 80 random bits as 16 base32 letters, grouped for reading.
fn new_recovery_code() -> String {
    let encoded = match totp_rs::Secret::Raw(crypto::random_bytes::<10>().to_vec()).to_encoded() {
        totp_rs::Secret::Encoded(s) => s.to_lowercase(),
        totp_rs::Secret::Raw(_) => unreachable!("to_encoded always encodes"),
    };
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What is stored of a recovery code: a digest keyed by the server key and bound to
/// the user, of the code as typed without dashes, spaces or case.
fn recovery_digest(key: &[u8; 32], user_id: Uuid, code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    crypto::keyed_digest(
        key,
        "recovery codes",
        format!("{user_id}:{normal}").as_bytes(),
    )
}

async fn use_recovery_code(
    tx: &mut Tx,
    key: &[u8; 32],
    user_id: Uuid,
    code: &str,
) -> Result<bool, AppError> {
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = now()
          WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(recovery_digest(key, user_id, code))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(used == 1)
}

pub async fn logout(env: &Env) -> Result<(), AppError> {
    if let Some(p) = &env.ctx.principal {
        let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
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

// ------------------------------------------------------------------ TOTP

const TOTP_ISSUER: &str = "Leadline";

fn now_unix() -> u64 {
    Utc::now().timestamp().max(0) as u64
}

fn totp_for(secret_b32: &str) -> Option<totp_rs::TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .ok()?;
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).ok()
}

/// The 30-second step whose code `code` is, among the current step and one either side
/// (clock drift between the phone and the server).
pub fn totp_step(secret_b32: &str, code: &str, unix_time: u64) -> Option<i64> {
    let totp = totp_for(secret_b32)?;
    let now_step = (unix_time / 30) as i64;
    (now_step - 1..=now_step + 1).find(|step| {
        let expected = totp.generate(*step as u64 * 30);
        crypto::constant_time_eq(expected.as_bytes(), code.as_bytes())
    })
}

/// An SVG drawing of a QR code, so the secret never goes to a third-party QR service.
pub fn qr_svg(text: &str) -> Result<String, AppError> {
    let qr =
        qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).map_err(internal)?;
    let size = qr.size();
    let border = 2;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + border * 2;
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {dim} {dim}" width="192" height="192" shape-rendering="crispEdges" role="img" aria-label="QR code"><rect width="100%" height="100%" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    ))
}

pub async fn totp_begin(env: &Env) -> Result<TotpEnrolment, AppError> {
    let p = env.signed_in()?;
    let secret = match totp_rs::Secret::Raw(crypto::random_bytes::<20>().to_vec()).to_encoded() {
        totp_rs::Secret::Encoded(s) => s,
        totp_rs::Secret::Raw(_) => return Err(internal("secret encoding")),
    };
    env.session
        .insert(
            keys::TOTP_DRAFT,
            seal_draft(&env.ctx.config.secret_key, p.user_id, &secret),
        )
        .await
        .map_err(internal)?;
    let otpauth_url = format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        issuer = TOTP_ISSUER,
        account = crate::encode::component(&p.email),
    );
    Ok(TotpEnrolment {
        qr_svg: qr_svg(&otpauth_url)?,
        secret,
        otpauth_url,
    })
}

fn draft_at(user_id: Uuid) -> crypto::SealedAt<'static> {
    crypto::SealedAt {
        table: "sessions",
        column: "totp_draft",
        row: user_id,
    }
}

fn seal_draft(key: &[u8; 32], user_id: Uuid, secret_b32: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crypto::seal_field(
        key,
        &draft_at(user_id),
        secret_b32.as_bytes(),
    ))
}

fn open_draft(key: &[u8; 32], user_id: Uuid, sealed: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .ok()?;
    String::from_utf8(crypto::open_field(key, &draft_at(user_id), &bytes).ok()?).ok()
}

/// Confirms enrolment with a code from the app; returns ten one-time recovery codes,
/// shown once and stored only as keyed digests.
pub async fn totp_confirm(env: &Env, code: &str) -> Result<Vec<String>, AppError> {
    let p = env.signed_in()?;
    let locale = env.locale();
    let key = &env.ctx.config.secret_key;
    let start_again = || AppError::field("code", t(locale, "auth.totp_start_again"));
    let draft: String = env
        .session
        .get(keys::TOTP_DRAFT)
        .await
        .map_err(internal)?
        .ok_or_else(start_again)?;
    let secret = open_draft(key, p.user_id, &draft).ok_or_else(start_again)?;
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    let Some(step) = totp_step(&secret, &code, now_unix()) else {
        return Err(AppError::field("code", t(locale, "auth.totp_wrong")));
    };
    let codes: Vec<String> = (0..10).map(|_| new_recovery_code()).collect();
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_secret_sealed = $2, totp_enabled_at = now(),
                totp_last_step = $3, totp_failures = 0, totp_locked_until = NULL
          WHERE id = $1",
    )
    .bind(p.user_id)
    .bind(seal_totp(key, p.user_id, &secret))
    .bind(step)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?;
    for c in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(p.user_id)
            .bind(recovery_digest(key, p.user_id, c))
            .execute(&mut *tx)
            .await?;
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("auth.2fa_enabled", "user", Some(p.user_id)),
    )
    .await?;
    tx.commit().await?;
    env.session
        .remove_value(keys::TOTP_DRAFT)
        .await
        .map_err(internal)?;
    Ok(codes)
}

/// Turning the second factor off takes the password and a current code (or a recovery
/// code): a borrowed unlocked browser alone cannot strip it.
pub async fn totp_disable(env: &Env, password: &str, code: &str) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let locale = env.locale();
    let key = &env.ctx.config.secret_key;
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.is_empty() {
        return Err(AppError::field("code", t(locale, "validation.required")));
    }
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    if security_rules(&mut tx, p.tenant_id)
        .await?
        .two_factor_required
    {
        return Err(AppError::Forbidden(t(
            locale,
            "auth.2fa_required_by_policy",
        )));
    }
    if !password_matches(&mut tx, p.user_id, password).await? {
        return Err(AppError::field(
            "password",
            t(locale, "auth.current_password_wrong"),
        ));
    }
    let row = TotpState::load(&mut tx, p.user_id).await?;
    let secret = stored_totp_secret(key, p.user_id, row.totp_secret_sealed, row.totp_secret)?;
    let last_step = row.totp_last_step;
    let code_ok = match &secret {
        Some(secret) if code.len() == 6 => totp_step(secret, &code, now_unix())
            .is_some_and(|step| last_step.is_none_or(|l| step > l)),
        Some(_) => use_recovery_code(&mut tx, key, p.user_id, &code).await?,
        None => false,
    };
    if !code_ok {
        return Err(AppError::field("code", t(locale, "auth.totp_wrong")));
    }
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_secret_sealed = NULL, totp_enabled_at = NULL,
                totp_last_step = NULL
          WHERE id = $1",
    )
    .bind(p.user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("auth.2fa_disabled", "user", Some(p.user_id)),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_accepts_adjacent_steps_only() {
        // RFC 6238 appendix B: the SHA-1 secret "12345678901234567890", 6 digits.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(totp_step(secret, "287082", 59), Some(1));
        assert_eq!(totp_step(secret, "081804", 1_111_111_109), Some(37_037_036));
        assert_eq!(
            totp_step(secret, "081804", 1_111_111_109 + 30),
            Some(37_037_036)
        );
        assert_eq!(totp_step(secret, "081804", 1_111_111_109 + 120), None);
        assert_eq!(totp_step(secret, "081805", 1_111_111_109), None);
    }

    #[test]
    fn recovery_codes_carry_80_bits_and_are_keyed() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.chars().filter(|c| *c != '-').count() * 5, 80);
        let (key, user) = ([1u8; 32], Uuid::from_u128(5));
        assert_eq!(
            recovery_digest(&key, user, &code),
            recovery_digest(&key, user, &code.to_uppercase().replace('-', " "))
        );
        assert_ne!(
            recovery_digest(&key, user, &code),
            recovery_digest(&[2u8; 32], user, &code)
        );
        assert_ne!(
            recovery_digest(&key, user, &code),
            recovery_digest(&key, Uuid::from_u128(6), &code)
        );
    }

    #[test]
    fn totp_drafts_open_only_for_their_user() {
        let key = [3u8; 32];
        let sealed = seal_draft(&key, Uuid::from_u128(1), "JBSWY3DPEHPK3PXP");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(
            open_draft(&key, Uuid::from_u128(1), &sealed).as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
        assert_eq!(open_draft(&key, Uuid::from_u128(2), &sealed), None);
    }

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

    #[test]
    fn qr_codes_render() {
        let svg = qr_svg("otpauth://totp/Leadline:a%40b.c?secret=ABC").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path"));
    }
}
