//! Tenant settings, the security policy and the audit log.

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::auth::ssr::{required_text, timezone_exists};
use crate::db::internal;
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::request::Env;
use chrono::{NaiveDate, TimeZone, Utc};
use sqlx::Row;

pub const AUDIT_PAGE: i64 = 50;

pub async fn tenant_settings(env: &Env) -> Result<TenantSettings, AppError> {
    let (p, mut tx) = env.begin(Permission::TenantSettings).await?;
    let r = sqlx::query(
        "SELECT name, slug, brand_color, logo_url, locale, timezone, number_system FROM tenants WHERE id = $1",
    )
    .bind(p.tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(TenantSettings {
        name: r.try_get("name")?,
        slug: r.try_get("slug")?,
        brand_color: r.try_get("brand_color")?,
        logo_url: r.try_get("logo_url")?,
        locale: r.try_get("locale")?,
        timezone: r.try_get("timezone")?,
        number_system: r.try_get("number_system")?,
    })
}

pub fn valid_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// A logo comes over HTTPS or from our own files: a plain-http image would be mixed
/// content on every page, and `//host` or `/\\host` is another site in disguise.
pub fn valid_logo_url(url: &str) -> bool {
    (url.starts_with("https://") || (url.starts_with('/') && !url.starts_with("//")))
        && !url.contains('\\')
        && url.len() <= 2000
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>')
}

pub async fn update_tenant_settings(env: &Env, input: TenantSettings) -> Result<(), AppError> {
    let p = env.require(Permission::TenantSettings)?;
    let locale = env.locale();
    let name = required_text("name", &input.name, 200, locale)?;
    let color = input.brand_color.trim().to_lowercase();
    if !valid_color(&color) {
        return Err(AppError::field(
            "brand_color",
            t(locale, "validation.color"),
        ));
    }
    let logo = input
        .logo_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if logo.is_some_and(|u| !valid_logo_url(u)) {
        return Err(AppError::field("logo_url", t(locale, "validation.url")));
    }
    let tenant_locale = Locale::parse(&input.locale)
        .ok_or_else(|| AppError::field("locale", t(locale, "validation.choice")))?;
    let number_system = match input.number_system.trim() {
        s @ ("latn" | "arab") => s,
        _ => {
            return Err(AppError::field(
                "number_system",
                t(locale, "validation.choice"),
            ))
        }
    };
    let mut tx = env.tx(p).await?;
    if !timezone_exists(&mut tx, input.timezone.trim()).await? {
        return Err(AppError::field(
            "timezone",
            t(locale, "validation.timezone"),
        ));
    }
    let before = sqlx::query(
        "SELECT to_jsonb(t) - 'created_at' - 'updated_at' AS j FROM tenants t WHERE id = $1 FOR UPDATE",
    )
    .bind(p.tenant_id)
    .fetch_one(&mut *tx)
    .await
    ?
    .try_get::<serde_json::Value, _>("j")?;
    let after = sqlx::query(
        "UPDATE tenants SET name = $2, brand_color = $3, logo_url = $4, locale = $5, timezone = $6,
                number_system = $7, updated_at = now()
          WHERE id = $1 RETURNING to_jsonb(tenants) - 'created_at' - 'updated_at' AS j",
    )
    .bind(p.tenant_id)
    .bind(&name)
    .bind(&color)
    .bind(logo)
    .bind(tenant_locale.code())
    .bind(input.timezone.trim())
    .bind(number_system)
    .fetch_one(&mut *tx)
    .await?
    .try_get::<serde_json::Value, _>("j")?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("tenant.settings_updated", "tenant", Some(p.tenant_id))
            .change(before, after),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

pub async fn security_policy(env: &Env) -> Result<SecurityPolicy, AppError> {
    let (p, mut tx) = env.begin(Permission::SecurityPolicy).await?;
    let r = sqlx::query("SELECT * FROM tenant_policies WHERE tenant_id = $1")
        .bind(p.tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(SecurityPolicy {
        password_min_length: r.try_get("password_min_length")?,
        require_uppercase: r.try_get("require_uppercase")?,
        require_lowercase: r.try_get("require_lowercase")?,
        require_digit: r.try_get("require_digit")?,
        require_symbol: r.try_get("require_symbol")?,
        session_idle_minutes: r.try_get("session_idle_minutes")?,
        max_failed_logins: r.try_get("max_failed_logins")?,
        lockout_minutes: r.try_get("lockout_minutes")?,
        two_factor_required: r.try_get("two_factor_required")?,
        require_verified_email: r.try_get("require_verified_email")?,
    })
}

fn in_range(field: &str, value: i32, min: i32, max: i32, locale: Locale) -> Result<(), AppError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(AppError::field(
            field,
            tf(
                locale,
                "validation.range",
                &[("min", min.to_string()), ("max", max.to_string())],
            ),
        ))
    }
}

pub async fn update_security_policy(env: &Env, input: SecurityPolicy) -> Result<(), AppError> {
    let p = env.require(Permission::SecurityPolicy)?;
    let locale = env.locale();
    in_range(
        "password_min_length",
        input.password_min_length,
        8,
        128,
        locale,
    )?;
    in_range(
        "session_idle_minutes",
        input.session_idle_minutes,
        5,
        43_200,
        locale,
    )?;
    in_range("max_failed_logins", input.max_failed_logins, 3, 100, locale)?;
    in_range("lockout_minutes", input.lockout_minutes, 1, 1440, locale)?;
    let mut tx = env.tx(p).await?;
    let before = sqlx::query(
        "SELECT to_jsonb(p) - 'tenant_id' - 'updated_at' AS j FROM tenant_policies p
          WHERE tenant_id = $1 FOR UPDATE",
    )
    .bind(p.tenant_id)
    .fetch_one(&mut *tx)
    .await?
    .try_get::<serde_json::Value, _>("j")?;
    let after = sqlx::query(
        "UPDATE tenant_policies
            SET password_min_length = $2, require_uppercase = $3, require_lowercase = $4,
                require_digit = $5, require_symbol = $6, session_idle_minutes = $7,
                max_failed_logins = $8, lockout_minutes = $9, two_factor_required = $10,
                require_verified_email = $11, updated_at = now()
          WHERE tenant_id = $1
      RETURNING to_jsonb(tenant_policies) - 'tenant_id' - 'updated_at' AS j",
    )
    .bind(p.tenant_id)
    .bind(input.password_min_length)
    .bind(input.require_uppercase)
    .bind(input.require_lowercase)
    .bind(input.require_digit)
    .bind(input.require_symbol)
    .bind(input.session_idle_minutes)
    .bind(input.max_failed_logins)
    .bind(input.lockout_minutes)
    .bind(input.two_factor_required)
    .bind(input.require_verified_email)
    .fetch_one(&mut *tx)
    .await?
    .try_get::<serde_json::Value, _>("j")?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(
            "tenant.security_policy_updated",
            "tenant_policy",
            Some(p.tenant_id),
        )
        .change(before, after),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

fn parse_day(
    field: &str,
    value: &Option<String>,
    locale: Locale,
) -> Result<Option<NaiveDate>, AppError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::field(field, t(locale, "validation.date"))),
    }
}

pub async fn audit_page(
    env: &Env,
    filter: AuditFilter,
    after: Option<AuditCursor>,
) -> Result<AuditPage, AppError> {
    let p = env.require(Permission::AuditView)?;
    let locale = env.locale();
    let from = parse_day("from", &filter.from, locale)?
        .map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists")));
    let to = parse_day("to", &filter.to, locale)?.map(|d| {
        Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            + chrono::Duration::days(1)
    });
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut tx = env.tx(p).await?;
    // Each filter is "parameter is null or matches", so one statement (and one plan
    // shape over audit_logs_page) serves every combination.
    let rows = sqlx::query(
        "SELECT a.id, a.created_at, u.name AS actor_name, u.email::text AS actor_email, a.action,
                a.entity_type, a.entity_id, a.before::text AS before, a.after::text AS after, a.ip
           FROM audit_logs a LEFT JOIN users u ON u.id = a.actor_user_id
          WHERE ($1::uuid IS NULL OR a.actor_user_id = $1)
            AND ($2::text IS NULL OR a.entity_type = $2)
            AND ($3::text IS NULL OR a.action ILIKE '%' || $3 || '%')
            AND ($4::timestamptz IS NULL OR a.created_at >= $4)
            AND ($5::timestamptz IS NULL OR a.created_at < $5)
            AND ($6::timestamptz IS NULL OR (a.created_at, a.id) < ($6, $7))
          ORDER BY a.created_at DESC, a.id DESC
          LIMIT $8",
    )
    .bind(filter.actor)
    .bind(text(&filter.entity_type))
    .bind(text(&filter.action))
    .bind(from)
    .bind(to)
    .bind(after.as_ref().map(|c| c.created_at))
    .bind(after.as_ref().map(|c| c.id))
    .bind(AUDIT_PAGE + 1)
    .fetch_all(&mut *tx)
    .await?;
    let actors = sqlx::query(
        "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id ORDER BY u.name",
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    tx.commit().await?;
    let mut rows: Vec<AuditRow> = rows
        .into_iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                actor_name: r.try_get("actor_name")?,
                actor_email: r.try_get("actor_email")?,
                action: r.try_get("action")?,
                entity_type: r.try_get("entity_type")?,
                entity_id: r.try_get("entity_id")?,
                before: r.try_get("before")?,
                after: r.try_get("after")?,
                ip: r.try_get("ip")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let next = if rows.len() as i64 > AUDIT_PAGE {
        rows.truncate(AUDIT_PAGE as usize);
        rows.last().map(|r| AuditCursor {
            created_at: r.created_at,
            id: r.id,
        })
    } else {
        None
    };
    Ok(AuditPage { rows, next, actors })
}

#[cfg(test)]
mod tests {
    use super::valid_logo_url;

    #[test]
    fn logos_come_over_https_or_from_us() {
        assert!(valid_logo_url("https://cdn.acme.example/logo.png"));
        assert!(valid_logo_url("/files/logo.png"));
        for bad in [
            "http://cdn.acme.example/logo.png",
            "//evil.example/logo.png",
            "/\\evil.example/logo.png",
            "javascript:alert(1)",
            "data:image/svg+xml,<svg/>",
            "https://a.example/\"onerror=\"x",
        ] {
            assert!(!valid_logo_url(bad), "{bad}");
        }
    }
}
