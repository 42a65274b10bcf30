//! Files in and out over plain HTTP rather than server functions: uploads sent as the
//! raw request body (the browser's `fetch` with the `File` as body: no multipart
//! parser, and each limit holds while reading), plans' drawings and jobs' files.

use super::{attachment, error_json, request_env};
use app::auth::model::Permission;
use app::crm::import::ssr::{self as import, MAX_UPLOAD_BYTES};
use app::error::AppError;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The body, or `None` when it is (or says it is) over `max` bytes. A declared length
/// over the limit is refused before a byte is read.
async fn read_body(req: Request, max: usize) -> Option<Bytes> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return None;
    }
    axum::body::to_bytes(req.into_body(), max).await.ok()
}

#[derive(serde::Deserialize)]
pub(super) struct UploadQuery {
    #[serde(default)]
    entity: String,
    #[serde(default)]
    name: String,
}

/// A CSV file for import, sent as the raw request body (the browser's `fetch` with the
/// `File` as body): no multipart parser, and the size limit holds while reading.
pub(super) async fn import_upload(Query(query): Query<UploadQuery>, req: Request) -> Response {
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    // Who may upload is known before a byte of the body is read.
    if let Err(e) = env.require(Permission::WorkspaceUse) {
        return error_json(e);
    }
    let Some(bytes) = read_body(req, MAX_UPLOAD_BYTES).await else {
        return error_json(import::too_large(env.locale()));
    };
    match import::upload(&env, &query.entity, &query.name, &bytes).await {
        Ok(info) => axum::Json(info).into_response(),
        Err(e) => error_json(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct PlanUploadQuery {
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

/// A plan's drawing, sent as the raw request body like an import's file; answers the
/// new plan's id.
pub(super) async fn plan_upload(Query(query): Query<PlanUploadQuery>, req: Request) -> Response {
    use app::inventory::plan_file::MAX_PLAN_BYTES;
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    if let Err(e) = env.require(Permission::InventoryEdit) {
        return error_json(e);
    }
    let too_large = || {
        let mb = (MAX_PLAN_BYTES / (1024 * 1024)).to_string();
        error_json(AppError::field(
            "file",
            app::i18n::tf(env.locale(), "inventory.upload.too_large", &[("mb", mb)]),
        ))
    };
    let Some(bytes) = read_body(req, MAX_PLAN_BYTES).await else {
        return too_large();
    };
    let made =
        app::inventory::ssr::upload_plan(&env, &query.project_id, &query.name, &query.kind, &bytes)
            .await;
    match made {
        Ok(id) => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({ "id": id })),
        )
            .into_response(),
        Err(e) => error_json(e),
    }
}

/// A plan's drawing, to members of its tenant.
pub(super) async fn plan_file(Path(id): Path<String>, req: Request) -> Response {
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error_json(AppError::NotFound(env.t("inventory.not_found")));
    };
    image_response(app::inventory::ssr::plan_file(&env, id).await)
}

/// A stored picture (a plan's drawing, a project's cover). An SVG opened on its own
/// runs sandboxed with nothing allowed to load, on top of the sanitising at upload.
fn image_response(file: Result<(String, Vec<u8>), AppError>) -> Response {
    match file {
        Ok((content_type, bytes)) => {
            let content_type = HeaderValue::from_str(&content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            let headers = [
                (header::CONTENT_TYPE, content_type),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=3600"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
                    ),
                ),
            ];
            (headers, bytes).into_response()
        }
        Err(e) => error_json(e),
    }
}

/// A project's cover, to members of its tenant.
pub(super) async fn project_cover(Path(id): Path<String>, req: Request) -> Response {
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    image_response(app::inventory::covers::cover_file(&env, &id).await)
}

#[derive(serde::Deserialize)]
pub(super) struct CoverQuery {
    #[serde(default)]
    project_id: String,
}

/// A project's cover picture, sent as the raw request body; answers its address.
pub(super) async fn cover_upload(Query(query): Query<CoverQuery>, req: Request) -> Response {
    use app::inventory::plan_file::MAX_PLAN_BYTES;
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    if let Err(e) = env.require(Permission::InventoryEdit) {
        return error_json(e);
    }
    let Some(bytes) = read_body(req, MAX_PLAN_BYTES).await else {
        let mb = (MAX_PLAN_BYTES / (1024 * 1024)).to_string();
        return error_json(AppError::field(
            "file",
            app::i18n::tf(env.locale(), "inventory.upload.too_large", &[("mb", mb)]),
        ));
    };
    match app::inventory::covers::set_cover(&env, &query.project_id, &bytes).await {
        Ok(url) => axum::Json(serde_json::json!({ "url": url })).into_response(),
        Err(e) => error_json(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct TemplateFileQuery {
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    name: String,
}

/// A file for a template (a WhatsApp header, an email attachment), sent as the raw
/// request body; answers the stored file.
pub(super) async fn template_file_upload(
    Query(query): Query<TemplateFileQuery>,
    req: Request,
) -> Response {
    use app::outreach::model::TEMPLATE_FILES_MAX_BYTES;
    use app::outreach::ssr::files;
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    if let Err(e) = env.require(Permission::OutreachManage) {
        return error_json(e);
    }
    let Some(bytes) = read_body(req, TEMPLATE_FILES_MAX_BYTES).await else {
        return error_json(files::too_large(&env));
    };
    match files::add_file(&env, &query.template_id, &query.name, &bytes).await {
        Ok(file) => (StatusCode::CREATED, axum::Json(file)).into_response(),
        Err(e) => error_json(e),
    }
}

/// A template's file, as an attachment, to members of its tenant. Never rendered by
/// the browser as a page of ours: a download, sandboxed, its type not guessed.
pub(super) async fn template_file(Path(id): Path<String>, req: Request) -> Response {
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    match app::outreach::ssr::files::download(&env, &id).await {
        Ok((file, bytes)) => {
            let content_type = HeaderValue::from_str(&file.content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            let disposition = HeaderValue::from_str(&attachment(&file.file_name))
                .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            let headers = [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_DISPOSITION, disposition),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=3600"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; sandbox"),
                ),
            ];
            (headers, bytes).into_response()
        }
        Err(e) => error_json(e),
    }
}

/// An invoice as a PDF, to those who may see its page, drawn in the reader's language.
/// Not cached: an open invoice becomes paid.
pub(super) async fn invoice_pdf(Path(id): Path<String>, req: Request) -> Response {
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    match app::billing::ssr::invoice_pdf(&env, &id).await {
        Ok((name, bytes)) => {
            let disposition = HeaderValue::from_str(&attachment(&name))
                .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            let headers = [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/pdf"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-cache"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ];
            (headers, bytes).into_response()
        }
        Err(e) => error_json(e),
    }
}

/// A job's file (an import's failed rows, an export) as an attachment, to the member
/// who started the job or an admin of its tenant; "not found" to everyone else.
pub(super) async fn job_download(
    Path((id, name)): Path<(String, String)>,
    req: Request,
) -> Response {
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return (StatusCode::NOT_FOUND, env.t("jobs.file_not_found")).into_response();
    };
    match import::download(&env, id, &name).await {
        Ok(file) => {
            let disposition = HeaderValue::from_str(&attachment(&file.download_name))
                .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            let headers = [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-store"),
                ),
            ];
            // Part by part as the client reads: a large export is never whole in
            // memory, and a slow client holds no database connection between parts.
            let db = env.ctx.db.clone();
            let parts = file.parts.clone();
            let body =
                futures_util::StreamExt::then(futures_util::stream::iter(parts), move |part| {
                    let (db, file) = (db.clone(), file.clone());
                    async move {
                        import::file_part(&db, &file, part)
                            .await
                            .map(axum::body::Bytes::from)
                            .map_err(|e| std::io::Error::other(e.to_string()))
                    }
                });
            (headers, Body::from_stream(body)).into_response()
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, e.to_string()).into_response()
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct UnitImportQuery {
    #[serde(default)]
    project_id: String,
    /// The preview's token: present, the import is applied.
    token: Option<String>,
}

/// A spreadsheet of units for a project: previewed, or with the preview's token
/// applied (see `app::inventory::unit_import`).
pub(super) async fn units_import(Query(query): Query<UnitImportQuery>, req: Request) -> Response {
    use app::inventory::unit_import::{ssr::import_units, MAX_IMPORT_BYTES};
    let env = match request_env(&req) {
        Ok(env) => env,
        Err(e) => return error_json(e),
    };
    if let Err(e) = env.require(Permission::InventoryEdit) {
        return error_json(e);
    }
    let Some(bytes) = read_body(req, MAX_IMPORT_BYTES).await else {
        let mb = (MAX_IMPORT_BYTES / (1024 * 1024)).to_string();
        return error_json(AppError::field(
            "file",
            app::i18n::tf(env.locale(), "import.error.too_large", &[("mb", mb)]),
        ));
    };
    match import_units(&env, &query.project_id, query.token.as_deref(), &bytes).await {
        Ok(preview) => axum::Json(preview).into_response(),
        Err(e) => error_json(e),
    }
}
