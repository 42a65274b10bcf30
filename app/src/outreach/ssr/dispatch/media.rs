//! The files a pass sends: email templates' attachments, read from the file store
//! once per template, and WhatsApp header media, uploaded to each number's API once
//! and remembered (DECISIONS 87).

use super::{Outgoing, Work};
use crate::db::Db;
use crate::error::AppError;
use crate::outreach::ssr::provider::{
    MediaFile, Providers, SendError, WaContent, WaMedia, WaProvider,
};
use crate::request::AppConfig;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// A template file to upload for a WhatsApp message before it is sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Upload {
    pub(super) file_id: Uuid,
    pub(super) file_key: String,
    pub(super) file_name: String,
    pub(super) content_type: String,
    pub(super) phone_id: Uuid,
}

/// The media a WhatsApp message names, if any.
pub(super) fn media_of(content: &WaContent) -> Option<&WaMedia> {
    match content {
        WaContent::Media { media, .. } => Some(media),
        WaContent::Template { header, .. } => header.as_ref(),
        WaContent::Text(_) => None,
    }
}

fn media_of_mut(content: &mut WaContent) -> Option<&mut WaMedia> {
    match content {
        WaContent::Media { media, .. } => Some(media),
        WaContent::Template { header, .. } => header.as_mut(),
        WaContent::Text(_) => None,
    }
}

/// The attachments of the email templates this pass sends, by template: read from the
/// file store once each however many messages carry them. A template whose file is
/// gone maps to the reason its messages are refused.
pub(super) async fn email_attachments(
    db: &Db,
    config: &AppConfig,
    tenant_id: Uuid,
    rows: &[sqlx::postgres::PgRow],
) -> Result<HashMap<Uuid, Result<Vec<mail::EmailAttachment>, String>>, AppError> {
    let mut templates: Vec<Uuid> = Vec::new();
    for r in rows {
        if r.try_get::<&str, _>("channel")? == "EMAIL" {
            if let Some(t) = r.try_get::<Option<Uuid>, _>("template_id")? {
                if !templates.contains(&t) {
                    templates.push(t);
                }
            }
        }
    }
    let mut by_template = HashMap::new();
    if templates.is_empty() {
        return Ok(by_template);
    }
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let files: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT template_id, file_name, content_type, file_key FROM template_files
          WHERE template_id = ANY($1) ORDER BY created_at, id",
    )
    .bind(&templates)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for (template_id, file_name, content_type, key) in files {
        let entry = by_template
            .entry(template_id)
            .or_insert_with(|| Ok(Vec::new()));
        let Ok(list) = entry else { continue };
        match config.files.get(&key).await? {
            Some(bytes) => list.push(mail::EmailAttachment {
                file_name,
                content_type,
                bytes: Arc::new(bytes),
            }),
            None => {
                *entry = Err(format!(
                    "The template's attachment {file_name} is missing from file storage."
                ))
            }
        }
    }
    Ok(by_template)
}

/// Uploads the files this pass's WhatsApp messages name but their numbers' APIs do not
/// hold yet: each file once per number, remembered for the next passes. A message
/// whose upload failed is retried later (or refused, when the API refused the file).
pub(super) async fn upload_media(
    db: &Db,
    providers: &Providers,
    config: &AppConfig,
    tenant_id: Uuid,
    outgoing: &mut [Outgoing],
) -> Result<(), AppError> {
    let mut uploads: Vec<(Upload, WaProvider, String, String)> = Vec::new();
    for o in outgoing.iter() {
        if let (Some(upload), Work::WhatsApp(provider, message)) = (&o.upload, &o.work) {
            if !uploads
                .iter()
                .any(|(u, p, ..)| u == upload && p == provider)
            {
                uploads.push((
                    upload.clone(),
                    *provider,
                    message.provider_phone_id.clone(),
                    message.access_token.clone(),
                ));
            }
        }
    }
    for (upload, provider, provider_phone_id, credential) in uploads {
        let uploaded = match config.files.get(&upload.file_key).await? {
            Some(bytes) => {
                let file = MediaFile {
                    file_name: &upload.file_name,
                    content_type: &upload.content_type,
                    bytes: &bytes,
                };
                providers
                    .whatsapp_for(provider)
                    .upload_media(&provider_phone_id, &credential, &file)
                    .await
            }
            None => Err(SendError::Permanent(format!(
                "The template's file {} is missing from file storage.",
                upload.file_name
            ))),
        };
        if let Ok(media_id) = &uploaded {
            let mut tx = db.tenant_tx(tenant_id, None).await?;
            sqlx::query(
                "INSERT INTO wa_media_uploads (tenant_id, phone_id, file_id, provider, media_id)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant_id, phone_id, file_id, provider)
                 DO UPDATE SET media_id = EXCLUDED.media_id, uploaded_at = now()",
            )
            .bind(tenant_id)
            .bind(upload.phone_id)
            .bind(upload.file_id)
            .bind(provider.code())
            .bind(media_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        for o in outgoing.iter_mut() {
            let Work::WhatsApp(p, message) = &mut o.work else {
                continue;
            };
            if *p != provider || o.upload.as_ref() != Some(&upload) {
                continue;
            }
            match &uploaded {
                Ok(media_id) => {
                    if let Some(media) = media_of_mut(&mut message.content) {
                        media.id = media_id.clone();
                    }
                }
                Err(SendError::Transient(reason)) => {
                    o.work = Work::Later(format!("The file could not be uploaded: {reason}"));
                }
                Err(SendError::Permanent(reason)) => {
                    o.work = Work::Refuse(format!("The file could not be uploaded: {reason}"));
                }
            }
        }
    }
    Ok(())
}
