//! Read-only support access to one workspace (`support.access`).

use super::*;

/// Opens `tenant` read-only for the staff member, with `reason`, recorded in the staff
/// log and in the workspace's own audit log. Their session works in that workspace
/// until they end it, the hour is up, or their permission goes.
pub async fn open_support(env: &Env, tenant: Uuid, reason: &str) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::SupportAccess).await?;
    let reason = reason_of(env, reason, true)?;
    // Not the request's database: under support access it is read-only.
    let db = crate::db::Db::new(env.db().pool().clone());
    let mut tx = db.tenant_tx(tenant, Some(actor)).await?;
    let minutes = crate::sysconfig::support_minutes(&mut tx).await?;
    let grant: Option<Uuid> = sqlx::query_scalar("SELECT staff_support_open($1, $2, $3, $4, $5)")
        .bind(actor)
        .bind(tenant)
        .bind(&reason)
        .bind(i32::try_from(minutes).unwrap_or(60))
        .bind(&env.ctx.ip)
        .fetch_one(&mut *tx)
        .await?;
    let Some(grant) = grant else {
        return Err(AppError::NotFound(env.t("staff.no_workspace_id")));
    };
    audit::record(
        &mut tx,
        &env.ctx,
        tenant,
        Some(actor),
        AuditEntry::new("staff.support_opened", "support", Some(grant)).after(serde_json::json!({
            "reason": reason, "minutes": minutes, "read_only": true,
            "staff": staff_name(env),
        })),
    )
    .await?;
    tx.commit().await?;
    env.session
        .insert(crate::request::keys::SUPPORT, grant)
        .await
        .map_err(crate::db::internal)?;
    crate::request::go_after_form("/");
    Ok(())
}

/// Ends the session's support access, if any, and records it in the workspace's log.
pub async fn end_support(env: &Env) -> Result<(), AppError> {
    let p = env.signed_in()?;
    let key = crate::request::keys::SUPPORT;
    let Some(grant) = env
        .session
        .get::<Uuid>(key)
        .await
        .map_err(crate::db::internal)?
    else {
        return Ok(());
    };
    let db = crate::db::Db::new(env.db().pool().clone());
    let closed: Option<Uuid> = sqlx::query_scalar("SELECT staff_support_close($1, $2, $3)")
        .bind(p.user_id)
        .bind(grant)
        .bind(&env.ctx.ip)
        .fetch_one(db.pool())
        .await?;
    if let Some(tenant) = closed {
        let mut tx = db.tenant_tx(tenant, Some(p.user_id)).await?;
        audit::record(
            &mut tx,
            &env.ctx,
            tenant,
            Some(p.user_id),
            AuditEntry::new("staff.support_closed", "support", Some(grant))
                .after(serde_json::json!({ "staff": staff_name(env) })),
        )
        .await?;
        tx.commit().await?;
    }
    env.session
        .remove::<Uuid>(key)
        .await
        .map_err(crate::db::internal)?;
    crate::request::go_after_form("/staff");
    Ok(())
}
