//! Accounts, sessions, 2FA: the SQL and rules behind the auth server functions.

use crate::audit::{self, AuditEntry};
use crate::auth::model::*;
use crate::crypto;
use crate::db::{internal, new_id, violated_constraint, Db, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::request::{keys, Env, Principal, RequestCtx};
use chrono::{DateTime, Utc};
use sqlx::Row;
use tower_sessions::{Expiry, Session};
use uuid::Uuid;

const TOTP_MAX_FAILURES: u32 = 5;

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
                COALESCE(p.language, t.locale) AS locale, pol.two_factor_required
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
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
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
    let mut tx = db
        .tenant_tx(principal.tenant_id, Some(principal.user_id))
        .await?;
    let tenant = sqlx::query("SELECT name, brand_color, logo_url FROM tenants WHERE id = $1")
        .bind(principal.tenant_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    // The user's rows in every tenant (own_memberships) and those tenants' names
    // (member_tenants) are visible only with no tenant set, so a tenant transaction
    // never counts another workspace's membership.
    let mut tx = db.user_tx(principal.user_id).await?;
    let tenants = sqlx::query(
        "SELECT t.id, t.name, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id
          WHERE m.user_id = $1 AND m.status = 'ACTIVE' AND t.status = 'ACTIVE'
          ORDER BY t.name",
    )
    .bind(principal.user_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(Viewer {
        user_id: principal.user_id,
        name: principal.name.clone(),
        email: principal.email.clone(),
        tenant_id: principal.tenant_id,
        tenant_name: tenant.get("name"),
        brand_color: tenant.get("brand_color"),
        logo_url: tenant.get("logo_url"),
        role: principal.role,
        locale,
        tenants: tenants
            .into_iter()
            .filter_map(|r| {
                Some(TenantChoice {
                    id: r.get("id"),
                    name: r.get("name"),
                    role: Role::parse(r.get::<String, _>("role").as_str())?,
                })
            })
            .collect(),
        must_enrol_2fa: principal.must_enrol_2fa,
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
    .await
    .map_err(internal)?;
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
        .await
        .map_err(internal)?;
    crypto::verify_password(password.to_string(), hash).await
}

// ------------------------------------------------------------------ validation

pub fn normalize_email(email: &str, locale: Locale) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
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
        .await
        .map_err(internal)?
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
        .await
        .map_err(internal)?;
    sqlx::query("SELECT crm_default_pipeline($1, $2)")
        .bind(tenant_id)
        .bind(t(input.locale, "crm.default_pipeline"))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    sqlx::query("INSERT INTO subscriptions (id, tenant_id, plan_id) VALUES ($1, $2, $3)")
        .bind(new_id())
        .bind(tenant_id)
        .bind(input.plan)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    let membership_id = new_id();
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, user_id, role) VALUES ($1, $2, $3, 'OWNER')",
    )
    .bind(membership_id)
    .bind(tenant_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    audit::record(
        &mut tx,
        ctx,
        tenant_id,
        Some(user_id),
        AuditEntry::new("tenant.created", "tenant", Some(tenant_id))
            .after(serde_json::json!({ "name": input.company, "slug": slug })),
    )
    .await?;
    tx.commit().await.map_err(internal)?;
    Ok((user_id, tenant_id))
}

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
    let password_hash = crypto::hash_password(password.to_string()).await?;
    let (user_id, tenant_id) = create_workspace(
        &env.ctx,
        NewWorkspace {
            name,
            email,
            password_hash,
            company,
            locale,
            plan: "starter",
        },
    )
    .await?;
    start_session(env, user_id, tenant_id).await
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
    let mut tx = env.db().anon_tx().await?;
    let found = sqlx::query(
        "SELECT user_id, max_failed_logins, lockout_minutes FROM auth_login_lookup($1)",
    )
    .bind(&email)
    .fetch_optional(&mut *tx)
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let Some(found) = found else {
        crypto::burn_password_check(password.to_string()).await;
        return Err(wrong());
    };
    let user_id: Uuid = found.get("user_id");
    let max_failed: i32 = found.get("max_failed_logins");
    let lockout_minutes: i32 = found.get("lockout_minutes");

    let mut tx = env.db().user_tx(user_id).await?;
    let user = sqlx::query(
        "SELECT password_hash, failed_logins, locked_until, totp_enabled_at IS NOT NULL AS totp
           FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(internal)?;
    let locked_until: Option<DateTime<Utc>> = user.get("locked_until");
    if let Some(until) = locked_until.filter(|u| *u > Utc::now()) {
        let minutes = ((until - Utc::now()).num_seconds() + 59) / 60;
        return Err(AppError::Locked(tf(
            locale,
            "auth.locked",
            &[("minutes", minutes.max(1).to_string())],
        )));
    }
    if !crypto::verify_password(password.to_string(), user.get("password_hash")).await? {
        let failures: i32 = user.get::<i32, _>("failed_logins") + 1;
        if failures >= max_failed {
            sqlx::query(
                "UPDATE users SET failed_logins = 0,
                        locked_until = now() + make_interval(mins => $2) WHERE id = $1",
            )
            .bind(user_id)
            .bind(lockout_minutes)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            tracing::warn!(%user_id, "account locked after failed logins");
            return Err(AppError::Locked(tf(
                locale,
                "auth.locked",
                &[("minutes", lockout_minutes.to_string())],
            )));
        }
        sqlx::query("UPDATE users SET failed_logins = $2 WHERE id = $1")
            .bind(user_id)
            .bind(failures)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        return Err(wrong());
    }
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;

    if user.get::<bool, _>("totp") {
        env.session.cycle_id().await.map_err(internal)?;
        env.session
            .remove_value(keys::USER)
            .await
            .map_err(internal)?;
        env.session
            .insert(keys::PENDING_USER, user_id)
            .await
            .map_err(internal)?;
        env.session
            .insert(keys::TOTP_FAILURES, 0u32)
            .await
            .map_err(internal)?;
        return Ok(LoginStep::NeedTotp);
    }
    let tenant_id = pick_tenant(env.db(), user_id, locale).await?;
    start_session(env, user_id, tenant_id).await?;
    Ok(LoginStep::Done)
}

/// The tenant a login lands in: the last one used if still active, else the oldest.
async fn pick_tenant(db: &Db, user_id: Uuid, locale: Locale) -> Result<Uuid, AppError> {
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
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
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
        .await
        .map_err(internal)?;
    audit::record(
        &mut tx,
        &env.ctx,
        tenant_id,
        Some(user_id),
        AuditEntry::new("auth.login", "user", Some(user_id)),
    )
    .await?;
    tx.commit().await.map_err(internal)?;

    let s = &env.session;
    s.cycle_id().await.map_err(internal)?;
    s.remove_value(keys::PENDING_USER).await.map_err(internal)?;
    s.remove_value(keys::TOTP_FAILURES)
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
    s.set_expiry(Some(Expiry::OnInactivity(time::Duration::minutes(
        rules.session_idle_minutes.into(),
    ))));
    Ok(())
}

pub async fn login_totp(env: &Env, code: &str) -> Result<(), AppError> {
    let locale = env.locale();
    let s = &env.session;
    let user_id: Uuid = s
        .get(keys::PENDING_USER)
        .await
        .map_err(internal)?
        .ok_or_else(|| AppError::Unauthorized(t(locale, "auth.totp_expired")))?;
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.is_empty() {
        return Err(AppError::field("code", t(locale, "validation.required")));
    }
    let mut tx = env.db().user_tx(user_id).await?;
    let secret: Option<String> = sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?;
    let ok = match &secret {
        Some(secret) if code.len() == 6 => totp_matches(secret, &code, now_unix()),
        Some(_) => use_recovery_code(&mut tx, user_id, &code).await?,
        None => false,
    };
    tx.commit().await.map_err(internal)?;
    if !ok {
        let failures: u32 = s
            .get(keys::TOTP_FAILURES)
            .await
            .map_err(internal)?
            .unwrap_or(0)
            + 1;
        if failures >= TOTP_MAX_FAILURES {
            s.flush().await.map_err(internal)?;
            return Err(AppError::Unauthorized(t(locale, "auth.totp_too_many")));
        }
        s.insert(keys::TOTP_FAILURES, failures)
            .await
            .map_err(internal)?;
        return Err(AppError::field("code", t(locale, "auth.totp_wrong")));
    }
    let tenant_id = pick_tenant(env.db(), user_id, locale).await?;
    start_session(env, user_id, tenant_id).await
}

async fn use_recovery_code(tx: &mut Tx, user_id: Uuid, code: &str) -> Result<bool, AppError> {
    let hash = crypto::sha256(code.to_lowercase().as_bytes());
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = now()
          WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(hash)
    .execute(&mut **tx)
    .await
    .map_err(internal)?
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
        tx.commit().await.map_err(internal)?;
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
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    if !member {
        return Err(AppError::Forbidden(env.t("auth.not_a_member")));
    }
    start_session(env, p.user_id, tenant_id).await
}

// ------------------------------------------------------------------ sessions

pub async fn list_sessions(env: &Env) -> Result<Vec<SessionInfo>, AppError> {
    let p = env.signed_in()?;
    let current = env
        .session
        .id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let rows = sqlx::query(
        "SELECT encode(sha256(convert_to(id, 'UTF8')), 'hex') AS handle, id = $2 AS current,
                user_agent, ip, created_at, last_seen_at
           FROM sessions WHERE user_id = $1 AND expiry_date > now()
          ORDER BY last_seen_at DESC",
    )
    .bind(p.user_id)
    .bind(current)
    .fetch_all(env.db().pool())
    .await
    .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|r| SessionInfo {
            handle: r.get("handle"),
            user_agent: r.get("user_agent"),
            ip: r.get("ip"),
            created_at: r.get("created_at"),
            last_seen_at: r.get("last_seen_at"),
            current: r.get("current"),
        })
        .collect())
}

pub async fn revoke_session(env: &Env, handle: &str) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let deleted = sqlx::query(
        "DELETE FROM sessions
          WHERE user_id = $1 AND encode(sha256(convert_to(id, 'UTF8')), 'hex') = $2",
    )
    .bind(p.user_id)
    .bind(handle)
    .execute(env.db().pool())
    .await
    .map_err(internal)?
    .rows_affected();
    if deleted == 0 {
        return Err(AppError::NotFound(env.t("sessions.not_found")));
    }
    Ok(())
}

// ------------------------------------------------------------------ profile and password

pub async fn profile(env: &Env) -> Result<Profile, AppError> {
    let p = env.signed_in()?;
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let row = sqlx::query(
        "SELECT u.name, u.email::text AS email, u.totp_enabled_at IS NOT NULL AS totp,
                pr.language, pr.timezone, COALESCE(pr.theme, 'light') AS theme
           FROM users u LEFT JOIN user_preferences pr ON pr.user_id = u.id
          WHERE u.id = $1",
    )
    .bind(p.user_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(internal)?;
    let rules = security_rules(&mut tx, p.tenant_id).await?;
    tx.commit().await.map_err(internal)?;
    Ok(Profile {
        name: row.get("name"),
        email: row.get("email"),
        language: row
            .get::<Option<String>, _>("language")
            .as_deref()
            .and_then(Locale::parse),
        timezone: row.get("timezone"),
        theme: row.get("theme"),
        totp_enabled: row.get("totp"),
        two_factor_required: rules.two_factor_required,
    })
}

pub async fn timezone_exists(tx: &mut Tx, tz: &str) -> Result<bool, AppError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
        .bind(tz)
        .fetch_one(&mut **tx)
        .await
        .map_err(internal)
}

pub async fn update_profile(
    env: &Env,
    name: &str,
    language: &str,
    timezone: &str,
    theme: &str,
) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let locale = env.locale();
    let name = required_text("name", name, 200, locale)?;
    let language = match language {
        "" => None,
        code => Some(
            Locale::parse(code)
                .ok_or_else(|| AppError::field("language", t(locale, "validation.choice")))?,
        ),
    };
    let theme = match theme {
        "light" | "dark" | "system" => theme,
        _ => return Err(AppError::field("theme", t(locale, "validation.choice"))),
    };
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let timezone = match timezone.trim() {
        "" => None,
        tz if timezone_exists(&mut tx, tz).await? => Some(tz.to_string()),
        _ => {
            return Err(AppError::field(
                "timezone",
                t(locale, "validation.timezone"),
            ))
        }
    };
    let before = sqlx::query_scalar::<_, String>("SELECT name FROM users WHERE id = $1")
        .bind(p.user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?;
    sqlx::query("UPDATE users SET name = $2, updated_at = now() WHERE id = $1")
        .bind(p.user_id)
        .bind(&name)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    sqlx::query(
        "INSERT INTO user_preferences (user_id, language, timezone, theme) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE
            SET language = $2, timezone = $3, theme = $4, updated_at = now()",
    )
    .bind(p.user_id)
    .bind(language.map(Locale::code))
    .bind(&timezone)
    .bind(theme)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("user.profile_updated", "user", Some(p.user_id)).change(
            serde_json::json!({ "name": before }),
            serde_json::json!({ "name": name, "language": language.map(Locale::code),
                                "timezone": timezone, "theme": theme }),
        ),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

pub async fn change_password(env: &Env, current: &str, new: &str) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let locale = env.locale();
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let rules = security_rules(&mut tx, p.tenant_id).await?;
    if !password_matches(&mut tx, p.user_id, current).await? {
        return Err(AppError::field(
            "current",
            t(locale, "auth.current_password_wrong"),
        ));
    }
    rules
        .password
        .check(new, locale)
        .map_err(|m| AppError::field("new", m))?;
    let new_hash = crypto::hash_password(new.to_string()).await?;
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(p.user_id)
        .bind(new_hash)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("auth.password_changed", "user", Some(p.user_id)),
    )
    .await?;
    tx.commit().await.map_err(internal)?;
    // Other browsers signed in with the old password are signed out.
    let current_id = env
        .session
        .id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(p.user_id)
        .bind(current_id)
        .execute(env.db().pool())
        .await
        .map_err(internal)?;
    Ok(())
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

/// Accepts the code of the current 30-second step and one step either side, for clock
/// drift between the phone and the server.
pub fn totp_matches(secret_b32: &str, code: &str, unix_time: u64) -> bool {
    totp_for(secret_b32).is_some_and(|totp| totp.check(code, unix_time))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
        .insert(keys::TOTP_DRAFT, &secret)
        .await
        .map_err(internal)?;
    let otpauth_url = format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        issuer = TOTP_ISSUER,
        account = percent_encode(&p.email),
    );
    Ok(TotpEnrolment {
        qr_svg: qr_svg(&otpauth_url)?,
        secret,
        otpauth_url,
    })
}

/// Confirms enrolment with a code from the app; returns ten one-time recovery codes,
/// shown once and stored only as hashes.
pub async fn totp_confirm(env: &Env, code: &str) -> Result<Vec<String>, AppError> {
    let p = env.signed_in()?;
    let locale = env.locale();
    let secret: String = env
        .session
        .get(keys::TOTP_DRAFT)
        .await
        .map_err(internal)?
        .ok_or_else(|| AppError::field("code", t(locale, "auth.totp_start_again")))?;
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    if !totp_matches(&secret, &code, now_unix()) {
        return Err(AppError::field("code", t(locale, "auth.totp_wrong")));
    }
    let codes: Vec<String> = (0..10).map(|_| crypto::token()[..10].to_string()).collect();
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    sqlx::query("UPDATE users SET totp_secret = $2, totp_enabled_at = now() WHERE id = $1")
        .bind(p.user_id)
        .bind(&secret)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    for c in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(p.user_id)
            .bind(crypto::sha256(c.as_bytes()))
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("auth.2fa_enabled", "user", Some(p.user_id)),
    )
    .await?;
    tx.commit().await.map_err(internal)?;
    env.session
        .remove_value(keys::TOTP_DRAFT)
        .await
        .map_err(internal)?;
    Ok(codes)
}

pub async fn totp_disable(env: &Env, password: &str) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let locale = env.locale();
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
    sqlx::query("UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL WHERE id = $1")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(p.user_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
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
        let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        let totp = totp_for(secret).unwrap();
        let t0 = 1_700_000_000;
        let code = totp.generate(t0);
        assert!(totp_matches(secret, &code, t0));
        assert!(totp_matches(secret, &code, t0 + 30));
        assert!(!totp_matches(secret, &code, t0 + 120));
        assert!(!totp_matches(secret, "000000", t0) || code == "000000");
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
