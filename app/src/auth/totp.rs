//! Two-factor sign-in: the second step of a login, recovery codes, and enrolling
//! and removing an authenticator app (RFC 6238 TOTP).

use crate::audit::{self, AuditEntry};
use crate::auth::model::*;
use crate::crypto;
use crate::db::{internal, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf};
use crate::request::{keys, Env};
use crate::throttle;
use chrono::Utc;
use uuid::Uuid;

use super::ssr::*;

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
    let mut tx = env.tx(p).await?;
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
    let mut tx = env.tx(p).await?;
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
    fn qr_codes_render() {
        let svg = qr_svg("otpauth://totp/Leadline:a%40b.c?secret=ABC").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path"));
    }
}
