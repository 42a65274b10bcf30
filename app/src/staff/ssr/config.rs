//! Platform settings and the running configuration (`config.manage`).

use super::*;

/// A secret as the console shows it: whether it is set, and a typed key's prefix
/// (`sk_live_`, `whsec_`), which says which account or kind it is and nothing more.
pub fn mask(secret: &str) -> String {
    if secret.is_empty() {
        return "(not set)".into();
    }
    let prefix = secret
        .char_indices()
        .take(9)
        .filter(|(_, c)| *c == '_')
        .last()
        .map_or("", |(i, _)| &secret[..=i]);
    format!("{prefix}•••••••• ({} characters)", secret.chars().count())
}

pub async fn load(env: &Env) -> Result<SystemConfig, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let rows = sqlx::query("SELECT * FROM staff_config($1)")
        .bind(actor)
        .fetch_all(env.db().pool())
        .await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(ConfigEntry {
                key: r.try_get("key")?,
                description: r.try_get("description")?,
                category: r.try_get("category")?,
                value: r
                    .try_get::<Option<serde_json::Value>, _>("value")?
                    .map(|v| crate::sysconfig::Setting::show(&v)),
                sensitive: r.try_get("is_sensitive")?,
                updated_at: r.try_get("updated_at")?,
                updated_by: r.try_get("updated_by_name")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let c = &env.ctx.config;
    let running = [
        ("Public URL", c.public_url.clone()),
        ("Secure cookies", c.secure_cookies.to_string()),
        ("WhatsApp Cloud API", c.wa_api_url.clone()),
        ("360dialog API", c.d360_api_url.clone()),
        ("Stripe API", c.stripe_api_url.clone()),
        ("Stripe secret key", mask(&c.stripe_secret_key)),
        ("Stripe webhook secret", mask(&c.billing_webhook_secret)),
        ("Email events webhook secret", mask(&c.email_webhook_secret)),
        ("WhatsApp app secret", mask(&c.wa_app_secret)),
        ("WhatsApp verify token", mask(&c.wa_verify_token)),
        ("Encryption key", "•••••••• (32 bytes)".to_string()),
        ("DNS resolver", c.dns_resolver.to_string()),
        ("SPF include", c.spf_include.clone()),
        (
            "Account email",
            c.account_mail.as_ref().map_or_else(
                || "(not set: account emails are not sent)".to_string(),
                |m| m.from.clone(),
            ),
        ),
        (
            "Webhook delivery timeout",
            format!("{} s", c.webhook_timeout.as_secs()),
        ),
    ]
    .into_iter()
    .map(|(name, value)| RunningSetting {
        name: name.to_string(),
        value,
    })
    .collect();
    Ok(SystemConfig {
        can_manage: permissions(env, actor)
            .await?
            .contains(&StaffPermission::ConfigManage),
        entries,
        running,
    })
}

pub async fn set_config(env: &Env, key: &str, value: &str, reason: &str) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::ConfigManage).await?;
    let unknown = || {
        AppError::NotFound(tf(
            env.locale(),
            "staff.config.unknown",
            &[("key", key.to_string())],
        ))
    };
    let setting = crate::sysconfig::Setting::parse_key(key).ok_or_else(unknown)?;
    let value = setting
        .read(value)
        .map_err(|message| AppError::field("value", env.t(message)))?;
    let reason = reason_of(env, reason, false)?;
    let found: bool = sqlx::query_scalar("SELECT staff_set_config($1, $2, $3, $4, $5)")
        .bind(actor)
        .bind(key)
        .bind(&value)
        .bind(&reason)
        .bind(&env.ctx.ip)
        .fetch_one(env.db().pool())
        .await?;
    if !found {
        return Err(unknown());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_show_their_kind_and_length_only() {
        assert_eq!(
            super::mask("sk_live_51HxYz"),
            "sk_live_•••••••• (14 characters)"
        );
        assert_eq!(super::mask("whsec_abc"), "whsec_•••••••• (9 characters)");
        assert_eq!(super::mask("plainsecret"), "•••••••• (11 characters)");
        assert_eq!(super::mask(""), "(not set)");
        assert!(!super::mask("sk_test_verysecretvalue").contains("very"));
    }
}
