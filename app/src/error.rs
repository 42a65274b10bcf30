//! One error type for every server function. Validation errors name the field so the
//! form can put the message next to it; internal errors carry only a reference the
//! operator can find in the logs — never SQL or a stack trace.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The input is wrong; `field` is the form field's name.
    #[error("{message}")]
    Validation { field: String, message: String },
    /// Not signed in, or the credentials are wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The account is locked for a while after too many failed logins.
    #[error("{0}")]
    Locked(String),
    /// Too many attempts from this address or at this account; try again after
    /// `retry_after` seconds (sent as the `Retry-After` header).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u32 },
    /// Someone else changed the record since it was read (version check).
    #[error("{0}")]
    Conflict(String),
    /// The workspace is read-only until an invoice is paid.
    #[error("{0}")]
    PaymentRequired(String),
    /// Something broke on our side; the reference is in the server log.
    #[error("{message} (ref {reference})")]
    Internal { message: String, reference: String },
    /// The request never reached the server or its answer could not be read.
    #[error("{0}")]
    Transport(String),
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The message for `name` if this error is about that form field.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Validation { field, message } if field == name => Some(message.clone()),
            _ => None,
        }
    }

    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Validation { .. } => 422,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::PaymentRequired(_) => 402,
            AppError::Locked(_) => 423,
            AppError::TooManyRequests { .. } => 429,
            AppError::Internal { .. } => 500,
            AppError::Transport(_) => 400,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

/// A database error is an internal error: logged with a reference, answered without
/// the query. `?` on a sqlx result does this.
#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> AppError {
        if let sqlx::Error::Database(db) = &err {
            if db.code().as_deref() == Some(crate::db::READ_ONLY_SQLSTATE) {
                return AppError::PaymentRequired(crate::db::READ_ONLY.into());
            }
        }
        crate::db::internal(err)
    }
}
