//! A signed-in user's own account: their sessions (listed, revoked), profile and
//! password.

use super::ssr::{password_matches, required_text, security_rules};
use crate::audit::{self, AuditEntry};
use crate::auth::model::*;
use crate::crypto;
use crate::db::{internal, Tx};
use crate::error::AppError;
use crate::i18n::{t, Locale};
use crate::request::Env;
use sqlx::Row;

// ------------------------------------------------------------------ sessions

pub async fn list_sessions(env: &Env) -> Result<Vec<SessionInfo>, AppError> {
    let p = env.signed_in()?;
    let current = env
        .session
        .id()
        .map(|id| crypto::session_key(&id.to_string()))
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
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(SessionInfo {
                handle: r.try_get("handle")?,
                user_agent: r.try_get("user_agent")?,
                ip: r.try_get("ip")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                current: r.try_get("current")?,
            })
        })
        .collect()
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
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(AppError::NotFound(env.t("sessions.not_found")));
    }
    Ok(())
}

// ------------------------------------------------------------------ profile and password

pub async fn profile(env: &Env) -> Result<Profile, AppError> {
    let p = env.signed_in()?;
    let mut tx = env.tx(p).await?;
    let row = sqlx::query(
        "SELECT u.name, u.email::text AS email, u.totp_enabled_at IS NOT NULL AS totp,
                pr.language, pr.timezone, COALESCE(pr.theme, 'light') AS theme
           FROM users u LEFT JOIN user_preferences pr ON pr.user_id = u.id
          WHERE u.id = $1",
    )
    .bind(p.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let rules = security_rules(&mut tx, p.tenant_id).await?;
    // The names `timezone_exists` accepts, without the legacy and POSIX aliases.
    let zones = sqlx::query_scalar(
        "SELECT name FROM pg_timezone_names
          WHERE name ~ '^(Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific)/'
             OR name = 'UTC'
          ORDER BY name",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Profile {
        zones,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        language: row
            .try_get::<Option<String>, _>("language")?
            .as_deref()
            .and_then(Locale::parse),
        timezone: row.try_get("timezone")?,
        theme: row.try_get("theme")?,
        totp_enabled: row.try_get("totp")?,
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
    let mut tx = env.tx(p).await?;
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
        .await?;
    sqlx::query("UPDATE users SET name = $2, updated_at = now() WHERE id = $1")
        .bind(p.user_id)
        .bind(&name)
        .execute(&mut *tx)
        .await?;
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
    .await?;
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
    let mut tx = env.tx(p).await?;
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
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("auth.password_changed", "user", Some(p.user_id)),
    )
    .await?;
    tx.commit().await?;
    // Other browsers signed in with the old password are signed out.
    let current_id = env
        .session
        .id()
        .map(|id| crypto::session_key(&id.to_string()))
        .unwrap_or_default();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(p.user_id)
        .bind(current_id)
        .execute(env.db().pool())
        .await?;
    Ok(())
}
