//! Request bodies: a JSON object read as the record code's form fields (so `null` can
//! clear a field), checked for what PostgreSQL cannot store, and the schemas the
//! OpenAPI document gives them.

use super::ApiError;
use app::crm::model::Entity;
use axum::http::StatusCode;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// The fields each kind of record takes, as the API names them.
fn writable(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Contact => &[
            "name", "email", "phone", "title", "owner_id", "tags", "company", "custom",
        ],
        Entity::Company => &[
            "name", "phone", "domain", "industry", "city", "country", "owner_id", "tags", "custom",
        ],
        Entity::Lead => &[
            "name", "email", "phone", "source", "status", "score", "owner_id", "tags", "company",
            "custom",
        ],
        Entity::Deal => &[
            "name",
            "owner_id",
            "tags",
            "expected_close_on",
            "company",
            "contact",
            "amount_minor",
            "currency",
            "probability",
            "custom",
        ],
    }
}

/// The fields of a JSON body as the record code's form fields: text, with `null`
/// clearing a field, tags as a list and custom fields as an object of their own.
pub(super) type FormFields = (Vec<(String, String)>, HashMap<String, String>);

pub(super) fn bad_body(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message)
}

pub(super) fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", message).field(field)
}

fn as_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => Some(String::new()),
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// PostgreSQL keeps no NUL in text or JSON; a body carrying one anywhere is refused
/// with the field it is in.
fn reject_nul(value: &serde_json::Value, at: &str) -> Result<(), ApiError> {
    const MESSAGE: &str = "text cannot hold a NUL character (\\u0000)";
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Err(invalid(at, MESSAGE)),
        serde_json::Value::Array(items) => items.iter().try_for_each(|v| reject_nul(v, at)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let field = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                return Err(invalid(&field, MESSAGE));
            }
            reject_nul(v, &field)
        }),
        _ => Ok(()),
    }
}

/// A JSON body, with no NUL anywhere in it.
pub(super) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad_body(format!("the body is not JSON: {e}")))?;
    reject_nul(&value, "")?;
    serde_json::from_value(value).map_err(|e| bad_body(e.to_string()))
}

pub(super) fn form_fields(entity: Entity, body: &[u8]) -> Result<FormFields, ApiError> {
    let map: serde_json::Map<String, serde_json::Value> = json_body(body)?;
    let allowed = writable(entity);
    let mut fields = Vec::new();
    let mut custom = HashMap::new();
    let currency = map
        .get("currency")
        .and_then(|c| c.as_str())
        .unwrap_or("")
        .to_string();
    for (key, value) in &map {
        if !allowed.contains(&key.as_str()) {
            return Err(invalid(key, "not a field of this object"));
        }
        match key.as_str() {
            "custom" => {
                let object = value
                    .as_object()
                    .ok_or_else(|| invalid("custom", "an object of custom field values"))?;
                for (k, v) in object {
                    let text = as_text(v)
                        .ok_or_else(|| invalid(&format!("custom.{k}"), "a text, number or null"))?;
                    custom.insert(k.clone(), text);
                }
            }
            "tags" => {
                let list = value
                    .as_array()
                    .ok_or_else(|| invalid("tags", "a list of texts"))?;
                let tags: Option<Vec<&str>> = list.iter().map(|t| t.as_str()).collect();
                let tags = tags.ok_or_else(|| invalid("tags", "a list of texts"))?;
                if tags.iter().any(|t| t.contains(',')) {
                    return Err(invalid("tags", "a tag has no commas"));
                }
                fields.push(("tags".to_string(), tags.join(",")));
            }
            "amount_minor" => {
                let minor = value.as_i64().filter(|m| *m >= 0).ok_or_else(|| {
                    invalid("amount_minor", "a whole number of minor units, 0 or more")
                })?;
                if currency.is_empty() {
                    return Err(invalid("currency", "send the currency with amount_minor"));
                }
                fields.push(("amount".to_string(), minor_text(minor, &currency)));
            }
            _ => {
                let text = as_text(value).ok_or_else(|| invalid(key, "a text, number or null"))?;
                fields.push((key.clone(), text));
            }
        }
    }
    Ok((fields, custom))
}

/// 1250050 minor units of EGP → "12500.50", as the record code reads amounts.
pub(super) fn minor_text(minor: i64, currency: &str) -> String {
    let exp = app::crm::money::exponent(currency);
    if exp == 0 {
        return minor.to_string();
    }
    let unit = 10i64.pow(exp);
    format!(
        "{}.{:0width$}",
        minor / unit,
        minor % unit,
        width = exp as usize
    )
}

/// The record code names the amount's field `amount`; the API, `amount_minor`.
pub(super) fn api_field(err: app::error::AppError) -> ApiError {
    let mut e = ApiError::from(err);
    if e.field.as_deref() == Some("amount") {
        e.field = Some("amount_minor".into());
    }
    e
}

/// The fields a contact takes; `null` clears one.
// The *Write structs describe request bodies for the OpenAPI document only: bodies are
// read as JSON objects by `form_fields`, so that `null` can clear a field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ContactWrite {
    name: Option<String>,
    email: Option<String>,
    /// With its country code, or in the workspace's default region.
    phone: Option<String>,
    title: Option<String>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    /// The company's name: linked if the workspace has it, created if not.
    company: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CompanyWrite {
    name: Option<String>,
    phone: Option<String>,
    domain: Option<String>,
    industry: Option<String>,
    city: Option<String>,
    country: Option<String>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LeadWrite {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    source: Option<String>,
    status: Option<String>,
    score: Option<i32>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    company: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

/// A deal's fields. Creating one also takes `pipeline_id` and optionally `stage_id`
/// (the pipeline's first stage otherwise).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DealWrite {
    pipeline_id: Option<Uuid>,
    stage_id: Option<Uuid>,
    name: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    probability: Option<i32>,
    /// `YYYY-MM-DD`.
    expected_close_on: Option<String>,
    owner_id: Option<Uuid>,
    tags: Option<Vec<String>>,
    company: Option<String>,
    /// The contact's email or exact name.
    contact: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_minor_units_read_back_as_the_record_code_expects() {
        assert_eq!(minor_text(1_250_050, "EGP"), "12500.50");
        assert_eq!(minor_text(5, "USD"), "0.05");
        assert_eq!(minor_text(1500, "JPY"), "1500");
        assert_eq!(minor_text(1234, "KWD"), "1.234");
    }

    #[test]
    fn bodies_become_form_fields_and_unknown_fields_are_named() {
        let (fields, custom) = form_fields(
            Entity::Contact,
            br#"{"name":"Mona","tags":["vip","cairo"],"phone":null,"custom":{"budget":5}}"#,
        )
        .unwrap();
        assert!(fields.contains(&("name".into(), "Mona".into())));
        assert!(fields.contains(&("tags".into(), "vip,cairo".into())));
        assert!(fields.contains(&("phone".into(), String::new())));
        assert_eq!(custom.get("budget").map(String::as_str), Some("5"));
        let err = form_fields(Entity::Contact, br#"{"salary":1}"#)
            .err()
            .unwrap();
        assert_eq!(err.field.as_deref(), Some("salary"));
        assert!(form_fields(Entity::Contact, b"[1,2]").is_err());
        assert!(form_fields(Entity::Deal, br#"{"amount_minor":100}"#).is_err());
        let nul = form_fields(Entity::Contact, br#"{"custom":{"note":"a\u0000b"}}"#)
            .err()
            .unwrap();
        assert_eq!(nul.field.as_deref(), Some("custom.note"));
    }
}
