//! A project's cover picture: checked like a plan's drawing (type sniffed, size read,
//! SVG rebuilt), kept in the file store, served to the tenant's members.

use super::plan_file;
use super::ssr::parse_id;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::error::AppError;
use crate::i18n::tf;
use crate::request::Env;
use uuid::Uuid;

/// Stores `bytes` as the project's cover, replacing the last one; answers its address.
pub async fn set_cover(env: &Env, project_id: &str, bytes: &[u8]) -> Result<String, AppError> {
    let p = env.require(Permission::InventoryEdit)?;
    let project_id = Uuid::parse_str(project_id.trim())
        .map_err(|_| AppError::field("project_id", env.t("inventory.upload.project")))?;
    let file = plan_file::check(bytes).map_err(|e| {
        let mb = (plan_file::MAX_PLAN_BYTES / (1024 * 1024)).to_string();
        AppError::field("file", tf(env.locale(), e.message_key(), &[("mb", mb)]))
    })?;
    let mut tx = env.tx(p).await?;
    let current: Option<(Option<String>, i32, Option<i32>)> = sqlx::query_as(
        "SELECT cover_key, cover_version, cover_bytes FROM projects WHERE id = $1 FOR UPDATE",
    )
    .bind(project_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((old_key, version, old_bytes)) = current else {
        return Err(AppError::field(
            "project_id",
            env.t("inventory.upload.project"),
        ));
    };
    // The picture it replaces is given back.
    crate::billing::ssr::check_storage(
        &mut tx,
        env.locale(),
        file.bytes.len(),
        old_bytes.map_or(0, i64::from),
    )
    .await?;
    let size = i32::try_from(file.bytes.len()).unwrap_or(i32::MAX);
    let version = version + 1;
    let key = format!(
        "tenants/{}/projects/{project_id}/cover-{version}.{}",
        p.tenant_id,
        file.kind.extension()
    );
    let files = &env.ctx.config.files;
    files.put(&key, file.bytes).await?;
    let recorded = async {
        sqlx::query(
            "UPDATE projects SET cover_key = $2, cover_type = $3, cover_version = $4, cover_bytes = $5
              WHERE id = $1",
        )
        .bind(project_id)
        .bind(&key)
        .bind(file.kind.content_type())
        .bind(version)
        .bind(size)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("project.cover_set", "projects", Some(project_id)).after(
                serde_json::json!({ "content_type": file.kind.content_type(),
                                    "width_px": file.width, "height_px": file.height }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = recorded {
        files.delete(&key).await?;
        return Err(e);
    }
    // The replaced picture goes once the new one is recorded; a failure here leaves
    // an unreferenced file, never a project without its cover.
    if let Some(old) = old_key {
        if let Err(e) = files.delete(&old).await {
            tracing::warn!(error = %e, "an old project cover was not removed");
        }
    }
    Ok(cover_url(project_id, version))
}

pub fn cover_url(project_id: Uuid, version: i32) -> String {
    format!("/files/projects/{project_id}/cover?v={version}")
}

/// A project's cover, for any member of its tenant: its type and bytes.
pub async fn cover_file(env: &Env, project_id: &str) -> Result<(String, Vec<u8>), AppError> {
    let id = parse_id(env, project_id)?;
    super::plans::stored_file(
        env,
        "SELECT cover_key, cover_type FROM projects WHERE id = $1",
        id,
    )
    .await
}
