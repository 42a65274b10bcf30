//! Files that go with a template: a WhatsApp template's header (an image or a
//! document) and an email template's attachments. Checked at upload (the type sniffed
//! from the bytes, never taken from the name or the request; sizes and counts by
//! channel), kept in the file store under the tenant's prefix, and read back by the
//! dispatcher for every message the template sends.

use super::manage::not_found;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::model::*;
use crate::request::Env;
use sha2::Digest;
use sqlx::Row;
use uuid::Uuid;

/// What a template's file may be. Each is something a phone or a mail client opens
/// without help, and none can carry script into our own pages (no HTML, no SVG).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
    Docx,
    Xlsx,
    Pptx,
}

impl FileKind {
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Png => "png",
            FileKind::Jpeg => "jpg",
            FileKind::Docx => "docx",
            FileKind::Xlsx => "xlsx",
            FileKind::Pptx => "pptx",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Png | FileKind::Jpeg)
    }
}

/// The kind of file `bytes` are, from their first bytes (and, for Office files, the
/// part names their zip directory lists: a `.docx` is a zip with `word/document.xml`).
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    if bytes.starts_with(b"%PDF-") {
        return Some(FileKind::Pdf);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(FileKind::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(FileKind::Jpeg);
    }
    if bytes.starts_with(b"PK\x03\x04") && contains(bytes, b"[Content_Types].xml") {
        for (part, kind) in [
            (&b"word/document.xml"[..], FileKind::Docx),
            (b"xl/workbook.xml", FileKind::Xlsx),
            (b"ppt/presentation.xml", FileKind::Pptx),
        ] {
            if contains(bytes, part) {
                return Some(kind);
            }
        }
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The name a recipient sees: the last path segment of what the member's browser
/// sent, without control characters, ending in the extension of what the file is.
pub fn clean_name(name: &str, kind: FileKind) -> Option<String> {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .collect::<String>();
    let base = base.trim().trim_start_matches('.');
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.trim().is_empty() => stem.trim(),
        _ => base,
    };
    let stem: String = stem.chars().take(180).collect();
    (!stem.is_empty()).then(|| format!("{stem}.{}", kind.extension()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::crypto::hex(&sha2::Sha256::digest(bytes))
}

fn file_error(env: &Env, key: &str, args: &[(&str, String)]) -> AppError {
    AppError::field("file", tf(env.locale(), key, args))
}

fn mb(bytes: usize) -> String {
    (bytes / (1024 * 1024)).to_string()
}

fn file_view(r: &sqlx::postgres::PgRow) -> Result<TemplateFileView, sqlx::Error> {
    Ok(TemplateFileView {
        id: r.try_get("id")?,
        file_name: r.try_get("file_name")?,
        content_type: r.try_get("content_type")?,
        byte_size: r.try_get("byte_size")?,
        sha256: r.try_get("sha256")?,
    })
}

const FILE_COLUMNS: &str = "id, file_name, content_type, byte_size, sha256";

/// A template's files, oldest first (the order they are attached in).
pub async fn list_files(tx: &mut Tx, template_id: Uuid) -> Result<Vec<TemplateFileView>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {FILE_COLUMNS} FROM template_files WHERE template_id = $1 ORDER BY created_at, id"
    ))
    .bind(template_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.iter().map(file_view).collect::<Result<_, _>>()?)
}

/// Adds `bytes` to the template as a file named `name`. A WhatsApp template takes one
/// file (its header: a PNG or JPEG up to Meta's 5 MB, or a document); an email
/// template up to five, 10 MB together.
pub async fn add_file(
    env: &Env,
    template_id: &str,
    name: &str,
    bytes: &[u8],
) -> Result<TemplateFileView, AppError> {
    let p = env.require(Permission::OutreachManage)?;
    let template_id = Uuid::parse_str(template_id.trim()).map_err(|_| not_found(env))?;
    if bytes.is_empty() {
        return Err(file_error(env, "outreach.file.empty", &[]));
    }
    if bytes.len() > TEMPLATE_FILES_MAX_BYTES {
        return Err(too_large(env));
    }
    let kind = sniff(bytes).ok_or_else(|| file_error(env, "outreach.file.unknown_type", &[]))?;
    let file_name = clean_name(name, kind)
        .ok_or_else(|| AppError::field("name", env.t("outreach.file.name")))?;
    let mut tx = env.tx(p).await?;
    let channel: Option<String> =
        sqlx::query_scalar("SELECT channel FROM templates WHERE id = $1 FOR UPDATE")
            .bind(template_id)
            .fetch_optional(&mut *tx)
            .await?;
    let channel = channel
        .as_deref()
        .and_then(Channel::parse)
        .ok_or_else(|| not_found(env))?;
    let (count, total): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(byte_size), 0)::bigint FROM template_files WHERE template_id = $1",
    )
    .bind(template_id)
    .fetch_one(&mut *tx)
    .await?;
    match channel {
        Channel::WhatsApp if count >= 1 => {
            return Err(file_error(env, "outreach.file.wa_one", &[]));
        }
        Channel::WhatsApp if kind.is_image() && bytes.len() > WA_IMAGE_MAX_BYTES => {
            return Err(file_error(
                env,
                "outreach.file.wa_image_too_large",
                &[("mb", mb(WA_IMAGE_MAX_BYTES))],
            ));
        }
        Channel::Email if count as usize >= EMAIL_MAX_ATTACHMENTS => {
            return Err(file_error(
                env,
                "outreach.file.email_count",
                &[("count", EMAIL_MAX_ATTACHMENTS.to_string())],
            ));
        }
        Channel::Email if total as usize + bytes.len() > TEMPLATE_FILES_MAX_BYTES => {
            return Err(file_error(
                env,
                "outreach.file.email_total",
                &[("mb", mb(TEMPLATE_FILES_MAX_BYTES))],
            ));
        }
        _ => {}
    }
    crate::billing::ssr::check_storage(&mut tx, env.locale(), bytes.len(), 0).await?;
    let id = new_id();
    let key = format!(
        "tenants/{}/template-files/{id}.{}",
        p.tenant_id,
        kind.extension()
    );
    let view = TemplateFileView {
        id,
        file_name,
        content_type: kind.content_type().to_string(),
        byte_size: i32::try_from(bytes.len()).unwrap_or(i32::MAX),
        sha256: sha256_hex(bytes),
    };
    let files = &env.ctx.config.files;
    files.put(&key, bytes.to_vec()).await?;
    let recorded = async {
        sqlx::query(
            "INSERT INTO template_files (tenant_id, id, template_id, file_name, content_type, byte_size,
                                         sha256, file_key, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(p.tenant_id)
        .bind(id)
        .bind(template_id)
        .bind(&view.file_name)
        .bind(&view.content_type)
        .bind(view.byte_size)
        .bind(&view.sha256)
        .bind(&key)
        .bind(p.user_id)
        .execute(&mut *tx)
        .await?;
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new("template.file_added", "templates", Some(template_id)).after(
                serde_json::json!({ "file_id": id, "file_name": view.file_name,
                                    "content_type": view.content_type, "bytes": view.byte_size,
                                    "sha256": view.sha256 }),
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
    Ok(view)
}

/// The message for a file over the limit, also said before a body over it is read.
pub fn too_large(env: &Env) -> AppError {
    file_error(
        env,
        "outreach.file.too_large",
        &[("mb", mb(TEMPLATE_FILES_MAX_BYTES))],
    )
}

/// Takes a file off its template. Messages already sent keep what they carried;
/// those still queued go without it.
pub async fn remove_file(env: &Env, id: Uuid) -> Result<(), AppError> {
    let p = env.require(Permission::OutreachManage)?;
    let mut tx = env.tx(p).await?;
    let row = sqlx::query(&format!(
        "DELETE FROM template_files WHERE id = $1 RETURNING template_id, file_key, {FILE_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| not_found(env))?;
    let template_id: Uuid = row.try_get("template_id")?;
    let key: String = row.try_get("file_key")?;
    let view = file_view(&row)?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("template.file_removed", "templates", Some(template_id)).change(
            serde_json::json!({ "file_id": id, "file_name": view.file_name,
                                "content_type": view.content_type, "bytes": view.byte_size,
                                "sha256": view.sha256 }),
            serde_json::Value::Null,
        ),
    )
    .await?;
    tx.commit().await?;
    // The row is gone first: a failure here leaves an unreferenced file, never a
    // template naming a file that is not there.
    if let Err(e) = env.ctx.config.files.delete(&key).await {
        tracing::warn!(error = %e, "a removed template file was not deleted");
    }
    Ok(())
}

/// A template's file, for any member of its tenant: what it is, and its bytes.
pub async fn download(env: &Env, id: &str) -> Result<(TemplateFileView, Vec<u8>), AppError> {
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found(env))?;
    let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let row = sqlx::query(&format!(
        "SELECT file_key, {FILE_COLUMNS} FROM template_files WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| not_found(env))?;
    tx.commit().await?;
    let key: String = row.try_get("file_key")?;
    let bytes = env
        .ctx
        .config
        .files
        .get(&key)
        .await?
        .ok_or_else(|| not_found(env))?;
    Ok((file_view(&row)?, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest zip of an Office file: a local header, then the part names.
    fn office(part: &str) -> Vec<u8> {
        let mut bytes = b"PK\x03\x04\x14\x00".to_vec();
        bytes.extend_from_slice(b"[Content_Types].xml......");
        bytes.extend_from_slice(part.as_bytes());
        bytes
    }

    #[test]
    fn types_are_sniffed_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Some(FileKind::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(FileKind::Png));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]),
            Some(FileKind::Jpeg)
        );
        assert_eq!(sniff(&office("word/document.xml")), Some(FileKind::Docx));
        assert_eq!(sniff(&office("xl/workbook.xml")), Some(FileKind::Xlsx));
        assert_eq!(sniff(&office("ppt/presentation.xml")), Some(FileKind::Pptx));
        // A zip that is no Office file, HTML, SVG and programs are refused.
        assert_eq!(sniff(b"PK\x03\x04\x14\x00payload.exe"), None);
        assert_eq!(sniff(b"<!doctype html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff(b"MZ\x90\x00"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn names_keep_their_stem_and_take_the_true_extension() {
        assert_eq!(
            clean_name("Brochure 2026.pdf", FileKind::Pdf).as_deref(),
            Some("Brochure 2026.pdf")
        );
        // The name says PDF; the bytes are a PNG.
        assert_eq!(
            clean_name("plan.pdf", FileKind::Png).as_deref(),
            Some("plan.png")
        );
        assert_eq!(
            clean_name("C:\\Users\\mona\\كتيب.PDF", FileKind::Pdf).as_deref(),
            Some("كتيب.pdf")
        );
        assert_eq!(
            clean_name("../../etc/passwd", FileKind::Pdf).as_deref(),
            Some("passwd.pdf")
        );
        assert_eq!(
            clean_name("a\r\nb\"<x>.jpeg", FileKind::Jpeg).as_deref(),
            Some("abx.jpg")
        );
        assert_eq!(clean_name("  ", FileKind::Pdf), None);
        assert_eq!(
            clean_name(".pdf", FileKind::Pdf).as_deref(),
            Some("pdf.pdf")
        );
    }

    #[test]
    fn digests_match_the_published_vector() {
        // FIPS 180-2's "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
