//! Where each outreach secret is sealed: a WhatsApp number's access token (and
//! 360dialog key, and those a provider switch moves it to or keeps), a sending
//! domain's DKIM key and a mailbox's SMTP password are each bound to their own column
//! and row (`crypto::seal_field`), so a ciphertext copied to another row does not open.

use crate::crypto::{open_sealed, seal_field, SealedAt};
use crate::error::AppError;
use uuid::Uuid;

pub fn phone_token(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "wa_phone_numbers",
        column: "access_token",
        row: id,
    }
}

/// A number's 360dialog API key (0023).
pub fn phone_d360_key(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "wa_phone_numbers",
        column: "d360_api_key",
        row: id,
    }
}

/// The credential a provider switch moves a number to.
pub fn switch_credential(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "provider_migrations",
        column: "new_credential",
        row: id,
    }
}

/// A provider switch's copy of the number's settings before it.
pub fn switch_backup(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "provider_migrations",
        column: "backup_data",
        row: id,
    }
}

pub fn dkim_key(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "email_domains",
        column: "dkim_private",
        row: id,
    }
}

pub fn smtp_password(id: Uuid) -> SealedAt<'static> {
    SealedAt {
        table: "email_accounts",
        column: "smtp_password",
        row: id,
    }
}

pub fn seal(key: &[u8; 32], at: &SealedAt, secret: &str) -> Vec<u8> {
    seal_field(key, at, secret.as_bytes())
}

pub fn open(key: &[u8; 32], at: &SealedAt, sealed: &[u8]) -> Result<String, AppError> {
    String::from_utf8(open_sealed(key, at, sealed)?).map_err(crate::db::internal)
}
