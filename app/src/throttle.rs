//! Throttles on the doors anyone can knock on before signing in: sign-in, sign-up,
//! invites, the second factor, webhooks and public links. Counts live in PostgreSQL
//! (`rate_limit_hit`, migration 0007) so a limit holds however many instances serve.

use crate::db::Db;
use crate::error::AppError;
use crate::i18n::{tf, Locale};

/// At most `max` hits per subject in a fixed window of `window_secs`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub bucket: &'static str,
    pub max: i32,
    pub window_secs: i32,
}

/// Sign-in attempts from one address: room for an office behind one NAT, not for a
/// password spray.
pub const SIGN_IN_IP: Limit = Limit {
    bucket: "sign_in_ip",
    max: 60,
    window_secs: 300,
};
/// Failed sign-ins per email, whether or not an account has it, so an unknown address
/// is throttled exactly like a real one and the answer reveals nothing.
pub const SIGN_IN_EMAIL: Limit = Limit {
    bucket: "sign_in_email",
    max: 10,
    window_secs: 900,
};
pub const SIGN_UP_IP: Limit = Limit {
    bucket: "sign_up_ip",
    max: 10,
    window_secs: 3600,
};
pub const INVITE_IP: Limit = Limit {
    bucket: "invite_ip",
    max: 30,
    window_secs: 300,
};
/// "Forgot password" requests per address.
pub const RESET_IP: Limit = Limit {
    bucket: "reset_ip",
    max: 10,
    window_secs: 3600,
};
/// Account emails (confirmation, reset) per account or per address asked for, so
/// nobody's inbox can be flooded through us.
pub const ACCOUNT_EMAIL: Limit = Limit {
    bucket: "account_email",
    max: 5,
    window_secs: 3600,
};
/// Confirmation and reset links tried per address.
pub const LINK_IP: Limit = Limit {
    bucket: "link_ip",
    max: 30,
    window_secs: 300,
};
/// Second-factor attempts per address; the per-user lock is in `users`.
pub const TOTP_IP: Limit = Limit {
    bucket: "totp_ip",
    max: 30,
    window_secs: 300,
};
/// Provider webhooks per sending address: generous, since Meta and mail relays batch.
pub const WEBHOOK_IP: Limit = Limit {
    bucket: "webhook_ip",
    max: 1200,
    window_secs: 60,
};
/// Tracking pixels, click redirects and unsubscribe links per address.
pub const PUBLIC_LINK_IP: Limit = Limit {
    bucket: "public_link_ip",
    max: 300,
    window_secs: 60,
};

/// The subject for a limit on an email address: a digest keyed by the server key, so
/// the counts table holds no addresses.
pub fn email_subject(key: &[u8; 32], email: &str) -> String {
    crate::crypto::hex(&crate::crypto::keyed_digest(
        key,
        "throttle subject",
        email.as_bytes(),
    ))
}

/// Counts one attempt by `subject`; past the limit, answers 429 with a Retry-After.
/// How many times the per-address limits (`*_ip` buckets) are raised:
/// `LEADLINE_IP_LIMIT_SCALE`, 1 by default, at most 100. For deployments where many
/// people share one address (an office behind NAT, a test runner on loopback); the
/// per-email limits and lockouts stay as they are whatever it says.
fn ip_scale() -> i32 {
    static SCALE: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var("LEADLINE_IP_LIMIT_SCALE")
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .map_or(1, |scale| scale.clamp(1, 100))
    })
}

fn max_of(limit: Limit) -> i32 {
    if limit.bucket.ends_with("_ip") {
        limit.max.saturating_mul(ip_scale())
    } else {
        limit.max
    }
}

pub async fn hit(db: &Db, limit: Limit, subject: &str, locale: Locale) -> Result<(), AppError> {
    verdict(db, limit, subject, 1, locale).await
}

/// Whether `subject` may try once more, without counting this look.
pub async fn allowed(db: &Db, limit: Limit, subject: &str, locale: Locale) -> Result<(), AppError> {
    verdict(db, limit, subject, 0, locale).await
}

async fn verdict(
    db: &Db,
    limit: Limit,
    subject: &str,
    cost: i32,
    locale: Locale,
) -> Result<(), AppError> {
    let retry_after: i32 = sqlx::query_scalar("SELECT rate_limit_hit($1, $2, $3, $4, $5)")
        .bind(limit.bucket)
        .bind(subject)
        .bind(max_of(limit))
        .bind(limit.window_secs)
        .bind(cost)
        .fetch_one(db.pool())
        .await?;
    if retry_after == 0 {
        return Ok(());
    }
    tracing::warn!(bucket = limit.bucket, retry_after, "throttled");
    Err(too_many(locale, retry_after as u32))
}

pub fn too_many(locale: Locale, retry_after: u32) -> AppError {
    let minutes = retry_after.div_ceil(60).max(1);
    AppError::TooManyRequests {
        message: tf(
            locale,
            "error.too_many",
            &[("minutes", minutes.to_string())],
        ),
        retry_after,
    }
}
