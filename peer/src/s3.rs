//! An S3 stand-in, path-style (`/s3/{bucket}/{*key}`), for the file store's S3 mode:
//! whole objects put, read (GET and HEAD) and deleted, kept in memory, with the
//! headers a real S3 answers (`ETag`, `Last-Modified`, `Content-Length`) and its XML
//! error for a missing key. It records how each request was authorised, so a test can
//! see that the client signed it (AWS Signature Version 4); it does not check the
//! signature itself.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::http::AppState;

#[derive(Default)]
pub(crate) struct S3 {
    objects: HashMap<(String, String), Object>,
    /// The scheme of each request's `Authorization` header ("AWS4-HMAC-SHA256"), or
    /// "none".
    pub(crate) auth: Vec<String>,
}

struct Object {
    body: Vec<u8>,
    etag: String,
    modified: DateTime<Utc>,
}

fn note_auth(state: &AppState, headers: &HeaderMap) {
    let scheme = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("none")
        .to_string();
    state.s3().auth.push(scheme);
}

fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub(crate) async fn put_object(
    State(state): State<AppState>,
    Path((bucket, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    note_auth(&state, &headers);
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
    state.s3().objects.insert(
        (bucket, key),
        Object {
            body: body.to_vec(),
            etag: etag.clone(),
            modified: Utc::now(),
        },
    );
    (StatusCode::OK, [(header::ETAG, etag)]).into_response()
}

pub(crate) async fn get_object(
    State(state): State<AppState>,
    Path((bucket, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    note_auth(&state, &headers);
    let s3 = state.s3();
    match s3.objects.get(&(bucket, key.clone())) {
        Some(o) => (
            StatusCode::OK,
            [
                (header::ETAG, o.etag.clone()),
                (header::LAST_MODIFIED, http_date(o.modified)),
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            ],
            o.body.clone(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/xml")],
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>{}</Key></Error>",
                html_escape::encode_text(&key)
            ),
        )
            .into_response(),
    }
}

pub(crate) async fn delete_object(
    State(state): State<AppState>,
    Path((bucket, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> StatusCode {
    note_auth(&state, &headers);
    state.s3().objects.remove(&(bucket, key));
    StatusCode::NO_CONTENT
}
