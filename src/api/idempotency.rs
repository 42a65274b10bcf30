//! `Idempotency-Key` on POST, with Stripe's semantics: the first request with a key
//! runs and its answer is kept for 24 hours; a repeat with the same body gets that
//! answer again (`Idempotent-Replayed: true`), with another body a 422, and while the
//! first still runs a 409. The key's row is claimed by one INSERT, so of any number of
//! concurrent requests with one key exactly one runs.

use super::{problem_response, ApiError, Caller, MAX_API_BODY};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get("idempotency-key").cloned() else {
        return next.run(req).await;
    };
    let key = match key.to_str().map(str::trim) {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k.to_string(),
        _ => {
            return problem_response(
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_idempotency_key",
                    "an Idempotency-Key is 1 to 255 visible characters",
                )
                .field("Idempotency-Key"),
            )
        }
    };
    let Some(caller) = req.extensions().get::<Caller>().cloned() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_API_BODY).await else {
        return problem_response(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the body is larger than 1 MB",
        ));
    };
    let mut fingerprint = format!("{} {}\n", parts.method, parts.uri.path()).into_bytes();
    fingerprint.extend_from_slice(&bytes);
    let hash = app::crypto::sha256(&fingerprint);
    let principal = &caller.0.principal;
    let claimed = claim(&state, principal.tenant_id, principal.user_id, &key, &hash).await;
    match claimed {
        Err(e) => return problem_response(e.into()),
        Ok(Claim::Stored { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut r = (status, axum::Json(body)).into_response();
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return r;
        }
        Ok(Claim::OtherBody) => {
            return problem_response(
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request",
                )
                .field("Idempotency-Key"),
            )
        }
        Ok(Claim::InProgress) => {
            return problem_response(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            ))
        }
        Ok(Claim::Mine) => {}
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_API_BODY)
        .await
        .unwrap_or_default();
    let status = parts.status.as_u16();
    // Our own failure is not an answer to keep: the client may try again.
    let kept = if parts.status.is_server_error() {
        None
    } else {
        Some(serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or(serde_json::Value::Null))
    };
    if let Err(e) = finish(
        &state,
        principal.tenant_id,
        principal.user_id,
        &key,
        status,
        kept,
    )
    .await
    {
        tracing::warn!(error = %e, "idempotency key not recorded");
    }
    Response::from_parts(parts, Body::from(bytes))
}

enum Claim {
    Mine,
    Stored {
        status: u16,
        body: serde_json::Value,
    },
    OtherBody,
    InProgress,
}

async fn claim(
    state: &AppState,
    tenant: uuid::Uuid,
    api_key: uuid::Uuid,
    key: &str,
    hash: &[u8],
) -> Result<Claim, app::error::AppError> {
    let mut tx = state.db.tenant_tx(tenant, None).await?;
    // A key older than 24 hours is free again.
    let mine: Option<bool> = sqlx::query_scalar(
        "INSERT INTO api_idempotency AS i (tenant_id, api_key_id, key, request_hash)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, api_key_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, status = NULL, response = NULL, created_at = now()
          WHERE i.created_at < now() - interval '24 hours'
         RETURNING true",
    )
    .bind(tenant)
    .bind(api_key)
    .bind(key)
    .bind(hash)
    .fetch_optional(&mut *tx)
    .await?;
    let claim = if mine.is_some() {
        Claim::Mine
    } else {
        let (stored_hash, status, body): (Vec<u8>, Option<i32>, Option<serde_json::Value>) =
            sqlx::query_as(
                "SELECT request_hash, status, response FROM api_idempotency
                  WHERE api_key_id = $1 AND key = $2",
            )
            .bind(api_key)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        if stored_hash != hash {
            Claim::OtherBody
        } else {
            match status {
                None => Claim::InProgress,
                Some(s) => Claim::Stored {
                    status: u16::try_from(s).unwrap_or(200),
                    body: body.unwrap_or_default(),
                },
            }
        }
    };
    tx.commit().await?;
    Ok(claim)
}

async fn finish(
    state: &AppState,
    tenant: uuid::Uuid,
    api_key: uuid::Uuid,
    key: &str,
    status: u16,
    kept: Option<serde_json::Value>,
) -> Result<(), app::error::AppError> {
    let mut tx = state.db.tenant_tx(tenant, None).await?;
    match kept {
        Some(body) => {
            sqlx::query(
                "UPDATE api_idempotency SET status = $3, response = $4 WHERE api_key_id = $1 AND key = $2",
            )
            .bind(api_key)
            .bind(key)
            .bind(i32::from(status))
            .bind(body)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM api_idempotency WHERE api_key_id = $1 AND key = $2")
                .bind(api_key)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
