//! What each claimed message becomes before it is sent: a WhatsApp request with its
//! number's credential, or an email with its mailbox's settings and DKIM key, or the
//! reason it cannot go (yet).

use super::super::{links, reply, secrets};
use super::{Dkim, Work};
use crate::outreach::ssr::provider::{
    WaContent, WaMedia, WaMediaKind, WaMessage, WaProvider, WA_CAPTION_MAX_CHARS,
};
use crate::request::AppConfig;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub(super) fn whatsapp_work(
    config: &AppConfig,
    r: &sqlx::postgres::PgRow,
    to: &str,
) -> Result<Work, sqlx::Error> {
    match r.try_get::<Option<String>, _>("phone_status")?.as_deref() {
        Some("ACTIVE") => {}
        Some("BANNED") => return Ok(Work::Refuse("The sending number is banned.".into())),
        Some("MIGRATING") => return Ok(Work::Hold),
        _ => return Ok(Work::Later("The sending number is not active.".into())),
    }
    let (provider, provider_phone_id, idempotency_key) = match (
        r.try_get::<&str, _>("provider").map(WaProvider::parse),
        r.try_get::<String, _>("provider_phone_id"),
        r.try_get::<String, _>("idempotency_key"),
    ) {
        (Ok(Some(p)), Ok(phone), Ok(key)) => (p, phone, key),
        _ => return Ok(Work::Refuse("The number's provider cannot be read.".into())),
    };
    // The credential of the provider the number sends through at this moment.
    let (column, at): (&str, fn(Uuid) -> crate::crypto::SealedAt<'static>) = match provider {
        WaProvider::MetaCloud => ("access_token", secrets::phone_token),
        WaProvider::Dialog360 => ("d360_api_key", secrets::phone_d360_key),
    };
    let sealed = r
        .try_get::<Option<Vec<u8>>, _>(column)?
        .zip(r.try_get::<Option<Uuid>, _>("phone_id")?);
    let token = match sealed
        .map(|(sealed, phone)| secrets::open(&config.secret_key, &at(phone), &sealed))
    {
        Some(Ok(t)) => t,
        _ => {
            return Ok(Work::Refuse(
                "The number's access token cannot be read.".into(),
            ))
        }
    };
    // The template's file: its id at the number's API when known, else uploaded
    // before the send (`upload_media`).
    let media = match r.try_get::<Option<String>, _>("wa_file_name")? {
        Some(file_name) => Some(WaMedia {
            kind: WaMediaKind::of(r.try_get("wa_file_type")?),
            id: r
                .try_get::<Option<String>, _>("wa_media_id")?
                .unwrap_or_default(),
            file_name,
        }),
        None => None,
    };
    let content = match (r.try_get::<Option<String>, _>("wa_template_name")?, media) {
        (Some(name), header) => WaContent::Template {
            name,
            language: r.try_get("locale")?,
            params: r.try_get("wa_params")?,
            header,
        },
        (None, Some(media)) => {
            let caption: String = r.try_get("body")?;
            if caption.chars().count() > WA_CAPTION_MAX_CHARS {
                return Ok(Work::Refuse(format!(
                    "The text is longer than the {WA_CAPTION_MAX_CHARS} characters WhatsApp allows with a file."
                )));
            }
            WaContent::Media { media, caption }
        }
        (None, None) => WaContent::Text(r.try_get("body")?),
    };
    Ok(Work::WhatsApp(
        provider,
        WaMessage {
            provider_phone_id,
            access_token: token,
            to: to.to_string(),
            content,
            idempotency_key,
        },
    ))
}

/// What an email carries besides its row: its template's files, and whether it names
/// us under the unsubscribe link (its workspace has no white label).
pub(super) struct EmailExtras {
    pub(super) attachments: Vec<mail::EmailAttachment>,
    pub(super) attributed: bool,
}

pub(super) fn email_work(
    config: &AppConfig,
    r: &sqlx::postgres::PgRow,
    id: Uuid,
    to: &str,
    extras: EmailExtras,
    dkim_keys: &mut HashMap<Uuid, Result<Arc<mail::DkimKey>, String>>,
) -> Result<Work, sqlx::Error> {
    if r.try_get::<Option<String>, _>("mailbox_status")?.as_deref() != Some("ACTIVE") {
        return Ok(Work::Later("The mailbox is paused.".into()));
    }
    let domain: String = r.try_get("domain")?;
    let domain_id: Uuid = r.try_get("domain_id")?;
    let sealed: Vec<u8> = r.try_get("dkim_private")?;
    let key = dkim_keys.entry(domain_id).or_insert_with(|| {
        let pem = secrets::open(&config.secret_key, &secrets::dkim_key(domain_id), &sealed)
            .map_err(|e| e.to_string())?;
        mail::DkimKey::from_pkcs8_pem(&pem)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    });
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            return Ok(Work::Refuse(format!(
                "The domain's DKIM key cannot be read: {e}"
            )))
        }
    };
    let mailbox: Uuid = r.try_get("mailbox_id")?;
    let password = match r.try_get::<Option<Vec<u8>>, _>("smtp_password")? {
        Some(sealed) => {
            match secrets::open(
                &config.secret_key,
                &secrets::smtp_password(mailbox),
                &sealed,
            ) {
                Ok(p) => Some(p),
                Err(_) => return Ok(Work::Refuse("The mailbox password cannot be read.".into())),
            }
        }
        None => None,
    };
    let body: String = r.try_get("body")?;
    let (text, html) = links::email_bodies(
        &config.secret_key,
        &config.public_url,
        id,
        &body,
        extras.attributed,
    );
    let from_address: String = r.try_get("from_address")?;
    let in_reply_to: Option<String> = r.try_get("in_reply_to")?;
    let message = mail::OutgoingEmail {
        from_name: r.try_get("from_name")?,
        from_address: from_address.clone(),
        to: to.to_string(),
        subject: r
            .try_get::<Option<String>, _>("subject")?
            .unwrap_or_default(),
        text,
        html: Some(html),
        // Derived from the message's id, so a resend carries the same Message-ID.
        message_id: format!("{id}@{domain}"),
        references: in_reply_to.iter().cloned().collect(),
        in_reply_to,
        list_unsubscribe_url: Some(links::unsubscribe_url(
            &config.secret_key,
            &config.public_url,
            id,
        )),
        // Replies are attributed by this address alone (see `reply`).
        extra_headers: vec![(
            "Reply-To".into(),
            reply::reply_address(&config.secret_key, &from_address, id),
        )],
        attachments: extras.attachments,
    };
    let dkim = Dkim {
        domain,
        selector: r.try_get("dkim_selector")?,
        key: key.clone(),
    };
    let security = match r.try_get::<&str, _>("smtp_security")? {
        "NONE" => mail::SmtpSecurity::None,
        "TLS" => mail::SmtpSecurity::Tls,
        _ => mail::SmtpSecurity::StartTls,
    };
    Ok(Work::Email {
        settings: mail::SmtpSettings {
            host: r.try_get("smtp_host")?,
            port: u16::try_from(r.try_get::<i32, _>("smtp_port")?).unwrap_or(587),
            security,
            username: r.try_get("smtp_username")?,
            password,
            timeout: std::time::Duration::from_secs(30),
            egress: config.egress,
        },
        from: from_address,
        message: Box::new(message),
        dkim,
    })
}
