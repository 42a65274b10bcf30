//! Links sent by email: confirming an address, and resetting a forgotten password.
//! A link is a random token of 256 bits; only its SHA-256 is stored, it works once,
//! and it expires (30 minutes for a reset, a day for a confirmation).

use super::mail::{send_later, AccountEmail};
use super::ssr::{clear_failures_and_password, normalize_email, pick_tenant, security_rules};
use crate::audit::{self, AuditEntry};
use crate::crypto;
use crate::db::{internal, Db};
use crate::error::AppError;
use crate::i18n::{t, Locale};
use crate::request::Env;
use crate::throttle;
use chrono::Duration;
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn code(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "VERIFY_EMAIL",
            Purpose::ResetPassword => "RESET_PASSWORD",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Purpose::VerifyEmail => Duration::hours(24),
            Purpose::ResetPassword => Duration::minutes(30),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify",
            Purpose::ResetPassword => "reset",
        }
    }
}

/// Makes a new link for `user_id` and returns its URL; earlier unused links of the
/// same purpose stop working.
pub async fn issue(env: &Env, user_id: Uuid, purpose: Purpose) -> Result<String, AppError> {
    let token = crypto::token();
    let mut tx = env.db().user_tx(user_id).await?;
    sqlx::query("DELETE FROM auth_tokens WHERE user_id = $1 AND purpose = $2")
        .bind(user_id)
        .bind(purpose.code())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO auth_tokens (token_hash, user_id, purpose, expires_at)
         VALUES ($1, $2, $3, now() + $4)",
    )
    .bind(crypto::sha256(token.as_bytes()))
    .bind(user_id)
    .bind(purpose.code())
    .bind(purpose.lifetime())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(format!(
        "{}/{}/{token}",
        env.ctx.config.public_url.trim_end_matches('/'),
        purpose.path()
    ))
}

/// Uses up a link: the user it belongs to, or "not valid" when it is unknown, used or
/// expired. Runs inside the user's transaction so that the change it unlocks commits
/// with it or not at all.
async fn redeem(
    db: &Db,
    token: &str,
    purpose: Purpose,
    locale: Locale,
) -> Result<(Uuid, crate::db::Tx), AppError> {
    let invalid = || AppError::NotFound(t(locale, "recovery.link_invalid"));
    let hash = crypto::sha256(token.trim().as_bytes());
    let mut tx = db.anon_tx().await?;
    let user_id: Option<Uuid> = sqlx::query_scalar("SELECT auth_token_user($1, $2)")
        .bind(&hash)
        .bind(purpose.code())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let user_id = user_id.ok_or_else(invalid)?;
    let mut tx = db.user_tx(user_id).await?;
    let used = sqlx::query(
        "UPDATE auth_tokens SET used_at = now()
          WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(&hash)
    .bind(purpose.code())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if used != 1 {
        return Err(invalid());
    }
    Ok((user_id, tx))
}

fn subject_of(env: &Env) -> &str {
    env.ctx.ip.as_deref().unwrap_or("unknown")
}

/// Sends `user_id` a link to confirm `email`.
pub async fn send_confirmation(env: &Env, user_id: Uuid, email: &str) -> Result<(), AppError> {
    let link = issue(env, user_id, Purpose::VerifyEmail).await?;
    send_later(
        &env.ctx.config,
        AccountEmail::confirm(env.locale(), email, &link),
    );
    Ok(())
}

/// The signed-in member asks for a new confirmation link.
pub async fn resend_confirmation(env: &Env) -> Result<(), AppError> {
    let p = env.signed_in()?;
    throttle::hit(
        env.db(),
        throttle::ACCOUNT_EMAIL,
        &p.user_id.to_string(),
        env.locale(),
    )
    .await?;
    send_confirmation(env, p.user_id, &p.email).await
}

/// Confirms the address the link was sent to.
pub async fn confirm_email(env: &Env, token: &str) -> Result<(), AppError> {
    throttle::hit(env.db(), throttle::LINK_IP, subject_of(env), env.locale()).await?;
    let (_, mut tx) = redeem(env.db(), token, Purpose::VerifyEmail, env.locale()).await?;
    sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, now())
          WHERE id = (SELECT app_user())",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await.map_err(internal)
}

/// "Forgot your password": always the same answer, and the email (if any) goes out
/// from a task of its own, so nothing here tells whether the address has an account.
pub async fn request_reset(env: &Env, email: &str) -> Result<(), AppError> {
    let locale = env.locale();
    let email = normalize_email(email, locale)?;
    throttle::hit(env.db(), throttle::RESET_IP, subject_of(env), locale).await?;
    let email_key = throttle::email_subject(&env.ctx.config.secret_key, &email);
    throttle::hit(env.db(), throttle::ACCOUNT_EMAIL, &email_key, locale).await?;
    let mut tx = env.db().anon_tx().await?;
    let user_id: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM auth_login_lookup($1)")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    if let Some(user_id) = user_id {
        let link = issue(env, user_id, Purpose::ResetPassword).await?;
        send_later(&env.ctx.config, AccountEmail::reset(locale, &email, &link));
    }
    Ok(())
}

/// Sets a new password through a reset link. Every session of the user ends, locks
/// and failure counts clear, and the address counts as confirmed (the link reached it).
pub async fn reset_password(env: &Env, token: &str, password: &str) -> Result<(), AppError> {
    let locale = env.locale();
    throttle::hit(env.db(), throttle::LINK_IP, subject_of(env), locale).await?;
    if password.is_empty() {
        return Err(AppError::field(
            "password",
            t(locale, "validation.required"),
        ));
    }
    let hash = crypto::sha256(token.trim().as_bytes());
    let mut tx = env.db().anon_tx().await?;
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT auth_token_user($1, 'RESET_PASSWORD')")
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let owner = owner.ok_or_else(|| AppError::NotFound(t(locale, "recovery.link_invalid")))?;
    // The password rules of the workspace the user works in; checked before the link is
    // used up, so a rejected password leaves the link working.
    let tenant_id = pick_tenant(env.db(), owner, locale).await.ok();
    let rules = match tenant_id {
        Some(tenant_id) => {
            let mut tx = env.db().tenant_tx(tenant_id, Some(owner)).await?;
            let rules = security_rules(&mut tx, tenant_id).await?;
            tx.commit().await?;
            rules.password
        }
        None => Default::default(),
    };
    rules
        .check(password, locale)
        .map_err(|m| AppError::field("password", m))?;
    let password_hash = crypto::hash_password(password.to_string()).await?;
    let (user_id, mut tx) = redeem(env.db(), token, Purpose::ResetPassword, locale).await?;
    clear_failures_and_password(&mut tx, user_id, &password_hash).await?;
    tx.commit().await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(env.db().pool())
        .await?;
    if let Some(tenant_id) = tenant_id {
        let mut tx = env.db().tenant_tx(tenant_id, Some(user_id)).await?;
        audit::record(
            &mut tx,
            &env.ctx,
            tenant_id,
            Some(user_id),
            AuditEntry::new("auth.password_reset", "user", Some(user_id)),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}
