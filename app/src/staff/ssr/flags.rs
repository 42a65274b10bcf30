//! Feature flags: their rollout, and per-workspace overrides (`flags.manage`).

use super::*;

pub async fn list(env: &Env) -> Result<Flags, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let pool = env.db().pool();
    let rows = sqlx::query(
        "SELECT key, description, enabled, rollout_percentage, updated_at
           FROM feature_flags ORDER BY key",
    )
    .fetch_all(pool)
    .await?;
    let overrides = sqlx::query("SELECT * FROM staff_overrides($1)")
        .bind(actor)
        .fetch_all(pool)
        .await?;
    let mut flags = Vec::with_capacity(rows.len());
    for r in rows {
        let key: String = r.try_get("key")?;
        let mut mine = Vec::new();
        for o in overrides.iter() {
            if o.try_get::<String, _>("feature_key")? == key {
                mine.push(Override {
                    tenant_id: o.try_get("tenant_id")?,
                    tenant_name: o.try_get("tenant_name")?,
                    tenant_slug: o.try_get("tenant_slug")?,
                    enabled: o.try_get("enabled")?,
                    expires_at: o.try_get("expires_at")?,
                });
            }
        }
        flags.push(Flag {
            key,
            description: r.try_get("description")?,
            enabled: r.try_get("enabled")?,
            rollout_percentage: r.try_get("rollout_percentage")?,
            updated_at: r.try_get("updated_at")?,
            overrides: mine,
        });
    }
    Ok(Flags {
        can_manage: permissions(env, actor)
            .await?
            .contains(&StaffPermission::FlagsManage),
        flags,
    })
}

/// Turns a flag on or off and sets the share of workspaces it reaches.
pub async fn set_flag(
    env: &Env,
    key: &str,
    enabled: bool,
    rollout: &str,
    reason: &str,
) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::FlagsManage).await?;
    let rollout: i32 = rollout
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..=100).contains(n))
        .ok_or_else(|| AppError::field("rollout", env.t("staff.rollout_range")))?;
    let reason = reason_of(env, reason, false)?;
    let found: bool = sqlx::query_scalar("SELECT staff_set_flag($1, $2, $3, $4, $5, $6)")
        .bind(actor)
        .bind(key)
        .bind(enabled)
        .bind(rollout)
        .bind(&reason)
        .bind(&env.ctx.ip)
        .fetch_one(env.db().pool())
        .await?;
    if !found {
        return Err(no_flag(env, key));
    }
    Ok(())
}

/// The workspace whose address is `slug`, as staff may find it.
async fn workspace(env: &Env, actor: Uuid, slug: &str) -> Result<(Uuid, String), AppError> {
    let slug = slug.trim().to_lowercase();
    let found: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, name, slug FROM staff_tenants($1, $2, $3)")
            .bind(actor)
            .bind(&slug)
            .bind(PAGE)
            .fetch_all(env.db().pool())
            .await?;
    found
        .into_iter()
        .find(|(_, _, s)| *s == slug)
        .map(|(id, name, _)| (id, name))
        .ok_or_else(|| {
            AppError::field(
                "workspace",
                tf(env.locale(), "staff.no_workspace", &[("slug", slug)]),
            )
        })
}

fn no_flag(env: &Env, key: &str) -> AppError {
    AppError::NotFound(tf(
        env.locale(),
        "staff.no_flag",
        &[("key", key.to_string())],
    ))
}

async fn flag_exists(env: &Env, key: &str) -> Result<(), AppError> {
    let found: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM feature_flags WHERE key = $1)")
            .bind(key)
            .fetch_one(env.db().pool())
            .await?;
    if found {
        Ok(())
    } else {
        Err(no_flag(env, key))
    }
}

/// Grants (`enabled`) or withdraws a flag for one workspace, whatever its plan and the
/// rollout, for `days` days or until removed. Recorded in the staff log and in the
/// workspace's own audit log, with the reason.
pub async fn set_override(
    env: &Env,
    key: &str,
    slug: &str,
    enabled: bool,
    days: &str,
    reason: &str,
) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::FlagsManage).await?;
    flag_exists(env, key).await?;
    let expires_at: Option<DateTime<Utc>> = match days.trim() {
        "" => None,
        d => {
            let n: i64 = d
                .parse()
                .ok()
                .filter(|n| (1..=365).contains(n))
                .ok_or_else(|| AppError::field("days", env.t("staff.days_range")))?;
            Some(Utc::now() + chrono::Duration::days(n))
        }
    };
    let reason = reason_of(env, reason, true)?;
    let (tenant, name) = workspace(env, actor, slug).await?;
    let mut tx = env.db().tenant_tx(tenant, Some(actor)).await?;
    // The database's own check, in the transaction that writes.
    sqlx::query("SELECT staff_check($1, 'flags.manage')")
        .bind(actor)
        .execute(&mut *tx)
        .await?;
    let before: Option<(bool, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT enabled, expires_at FROM tenant_features WHERE feature_key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO tenant_features (tenant_id, id, feature_key, enabled, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, feature_key)
         DO UPDATE SET enabled = EXCLUDED.enabled, expires_at = EXCLUDED.expires_at",
    )
    .bind(tenant)
    .bind(crate::db::new_id())
    .bind(key)
    .bind(enabled)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let before = before.map(|(enabled, expires_at)| {
        serde_json::json!({ "feature": key, "enabled": enabled, "expires_at": expires_at })
    });
    let after = serde_json::json!({
        "feature": key, "enabled": enabled, "expires_at": expires_at, "reason": reason,
        "staff": staff_name(env),
    });
    record_both(
        env,
        &mut tx,
        actor,
        tenant,
        "feature.override_set",
        &format!("{key} @ {name}"),
        before,
        Some(after),
        &reason,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a workspace's override: the plan and the rollout decide again.
pub async fn clear_override(
    env: &Env,
    key: &str,
    tenant: Uuid,
    reason: &str,
) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::FlagsManage).await?;
    let reason = reason_of(env, reason, true)?;
    let mut tx = env.db().tenant_tx(tenant, Some(actor)).await?;
    sqlx::query("SELECT staff_check($1, 'flags.manage')")
        .bind(actor)
        .execute(&mut *tx)
        .await?;
    let removed: Option<(bool, Option<DateTime<Utc>>)> = sqlx::query_as(
        "DELETE FROM tenant_features WHERE feature_key = $1 RETURNING enabled, expires_at",
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((enabled, expires_at)) = removed else {
        return Err(AppError::NotFound(env.t("staff.no_override")));
    };
    let name: String = sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
    record_both(
        env,
        &mut tx,
        actor,
        tenant,
        "feature.override_removed",
        &format!("{key} @ {name}"),
        Some(serde_json::json!({ "feature": key, "enabled": enabled, "expires_at": expires_at })),
        None,
        &reason,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
