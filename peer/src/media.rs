//! The Cloud API's media: uploads (`POST /{version}/{phone_number_id}/media`, and
//! 360dialog's `POST /media`) checked as Meta checks them, and the files that sends
//! name by the ids those uploads answered.

use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::http::{
    dialog360_number, dialog360_unauthorized, has_bearer_token, invalid_parameter, missing_token,
    str_at, AppState,
};
use crate::{MediaUpload, ReceivedFile, Shared};

/// Meta's limits on uploaded media: images 5 MB, documents 100 MB.
pub(crate) const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
pub(crate) const MAX_DOCUMENT_BYTES: usize = 100 * 1024 * 1024;
/// The media types the Cloud API takes as an image, and some it takes as a document.
pub(crate) const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png"];
pub(crate) const DOCUMENT_TYPES: &[&str] = &[
    "application/pdf",
    "text/plain",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

/// The file a media object (`{"id": …}` or `{"link": …}`) names: by id, one
/// uploaded for the sending number; a link is taken as it is, unread.
pub(crate) fn media_named(
    object: Option<&Value>,
    kind: &str,
    media: &dyn Fn(&str) -> Option<ReceivedFile>,
) -> Result<ReceivedFile, String> {
    let object = object.ok_or(format!("{kind} is required for a {kind} message"))?;
    if let Some(id) = str_at(object, "/id") {
        let mut file = media(id).ok_or(format!(
            "{kind}.id {id:?} names no media uploaded for this number"
        ))?;
        if kind == "image" && !IMAGE_TYPES.contains(&file.content_type.as_str()) {
            return Err(format!(
                "media {id:?} is {}, not an image",
                file.content_type
            ));
        }
        if let Some(name) = str_at(object, "/filename") {
            file.name = Some(name.to_owned());
        }
        return Ok(file);
    }
    let link = str_at(object, "/link").ok_or(format!("{kind} needs an id or a link"))?;
    Ok(ReceivedFile {
        name: str_at(object, "/filename").map(str::to_owned),
        content_type: format!("{kind} link: {link}"),
        size: 0,
        sha256: String::new(),
    })
}

/// `POST /{version}/{phone_number_id}/media`: a `multipart/form-data` upload
/// with `messaging_product`, `type` and `file`, as Meta takes it.
pub(crate) async fn upload_whatsapp(
    State(shared): State<AppState>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    if !has_bearer_token(&headers) {
        return missing_token();
    }
    accept_media(&shared, phone_number_id, form).await
}

/// `POST /360dialog/media`: Meta's form; the key names the number.
pub(crate) async fn upload_dialog360(
    State(shared): State<AppState>,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(phone_number_id) = dialog360_number(&shared, &headers) else {
        return dialog360_unauthorized();
    };
    accept_media(&shared, phone_number_id, form).await
}

/// Reads and checks an upload form the way the Cloud API does; answers the
/// media id.
async fn accept_media(
    shared: &Shared,
    phone_number_id: String,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let mut form = match form {
        Ok(form) => form,
        Err(e) => return invalid_parameter(&format!("not a multipart form: {e}")),
    };
    let (mut product, mut declared, mut file) = (None, None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return invalid_parameter(&format!("the form cannot be read: {e}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let part_type = field.content_type().map(str::to_owned);
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return invalid_parameter(&format!("the form cannot be read: {e}")),
        };
        match name.as_str() {
            "messaging_product" => product = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "type" => declared = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "file" => file = Some((file_name, part_type, bytes)),
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return invalid_parameter("messaging_product must be \"whatsapp\"");
    }
    let Some(declared) = declared else {
        return invalid_parameter("type is required");
    };
    let Some((file_name, part_type, bytes)) = file else {
        return invalid_parameter("file is required");
    };
    let is_image = IMAGE_TYPES.contains(&declared.as_str());
    if !is_image && !DOCUMENT_TYPES.contains(&declared.as_str()) {
        return invalid_parameter(&format!("type {declared:?} is not a supported media type"));
    }
    if part_type.as_deref().is_some_and(|t| t != declared) {
        return invalid_parameter("the file's Content-Type does not match type");
    }
    let max = if is_image {
        MAX_IMAGE_BYTES
    } else {
        MAX_DOCUMENT_BYTES
    };
    if bytes.is_empty() || bytes.len() > max {
        return invalid_parameter(&format!("the file must hold 1 to {max} bytes"));
    }
    let id = uuid::Uuid::new_v4().as_u128().to_string();
    shared.add_media(MediaUpload {
        id: id.clone(),
        phone_number_id,
        declared_type: declared.clone(),
        file: ReceivedFile::of(file_name, declared, &bytes),
    });
    Json(json!({ "id": id })).into_response()
}
