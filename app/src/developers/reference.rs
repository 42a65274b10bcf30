//! The API reference page's content, read from the OpenAPI document the server builds
//! from the handlers at start-up (`install`), so the page, the JSON document and the
//! routes cannot disagree.

use super::model::{ApiField, ApiGroup, ApiOperation, ApiReference};
use serde_json::Value;
use std::sync::OnceLock;

static DOCUMENT: OnceLock<ApiReference> = OnceLock::new();

/// Keeps the server's OpenAPI document for the reference page. The first call wins:
/// every server in a process builds the same document.
pub fn install(document: &Value) {
    let _ = DOCUMENT.set(reference_of(document));
}

/// The reference, or an empty one before the server installed its document.
pub fn reference() -> ApiReference {
    DOCUMENT.get().cloned().unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").trim().to_string()
}

/// `#/components/schemas/Contact` → the schema; anything else as it is.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => r
            .strip_prefix("#/components/schemas/")
            .map(|name| &doc["components"]["schemas"][name])
            .unwrap_or(schema),
        None => schema,
    }
}

/// A schema's type in a word: `uuid`, `date-time`, `string`, `array of uuid`, …
fn kind(doc: &Value, schema: &Value) -> String {
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return name.to_string();
    }
    let schema = resolve(doc, schema);
    if let Some(format) = schema["format"].as_str() {
        return format.to_string();
    }
    // OpenAPI 3.1 writes an optional field's type as ["string", "null"].
    let ty = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("")
            .to_string(),
        _ => {
            let any = schema["oneOf"].as_array().or(schema["anyOf"].as_array());
            match any.and_then(|v| v.iter().find(|s| s["type"] != "null")) {
                Some(s) => return kind(doc, s),
                None => "object".to_string(),
            }
        }
    };
    if ty == "array" {
        return format!("array of {}", kind(doc, &schema["items"]));
    }
    ty
}

fn fields_of(doc: &Value, schema: &Value) -> Vec<ApiField> {
    let schema = resolve(doc, schema);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, p)| ApiField {
            name: name.clone(),
            location: "body".into(),
            kind: kind(doc, p),
            required: required.contains(&name.as_str()),
            description: text(&p["description"]),
        })
        .collect()
}

fn operation(doc: &Value, method: &str, path: &str, op: &Value) -> ApiOperation {
    let description = [text(&op["summary"]), text(&op["description"])]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    let params = op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| ApiField {
                    name: text(&p["name"]),
                    location: text(&p["in"]),
                    kind: kind(doc, &p["schema"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    description: text(&p["description"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let body = fields_of(
        doc,
        &op["requestBody"]["content"]["application/json"]["schema"],
    );
    let mut responses: Vec<(String, String)> = op["responses"]
        .as_object()
        .map(|rs| {
            rs.iter()
                .map(|(code, r)| (code.clone(), text(&r["description"])))
                .collect()
        })
        .unwrap_or_default();
    responses.sort();
    ApiOperation {
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        description,
        params,
        body,
        responses,
    }
}

pub fn reference_of(doc: &Value) -> ApiReference {
    let mut groups: Vec<ApiGroup> = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "patch", "put", "delete"] {
                let op = &item[method];
                if !op.is_object() {
                    continue;
                }
                let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
                let operation = operation(doc, method, path, op);
                match groups.iter_mut().find(|g| g.tag == tag) {
                    Some(g) => g.operations.push(operation),
                    None => groups.push(ApiGroup {
                        tag,
                        operations: vec![operation],
                    }),
                }
            }
        }
    }
    ApiReference {
        title: text(&doc["info"]["title"]),
        description: text(&doc["info"]["description"]),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_are_grouped_by_tag_with_their_parameters_body_and_answers() {
        let doc = json!({
            "info": { "title": "Leadline API", "description": "Records." },
            "paths": {
                "/contacts/{id}": {
                    "get": { "tags": ["contacts"], "summary": "One contact.",
                             "parameters": [{ "name": "id", "in": "path", "required": true,
                                              "schema": { "type": "string", "format": "uuid" } }],
                             "responses": { "404": { "description": "No such" }, "200": { "description": "The contact" } } },
                    "patch": { "tags": ["contacts"],
                               "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ContactWrite" } } } },
                               "responses": {} }
                },
                "/lists": { "get": { "tags": ["lists"], "responses": {} } }
            },
            "components": { "schemas": { "ContactWrite": {
                "type": "object", "required": ["name"],
                "properties": { "name": { "type": "string", "description": "Full name" },
                                "tags": { "type": ["array", "null"], "items": { "type": "string" } } } } } }
        });
        let r = reference_of(&doc);
        assert_eq!(r.title, "Leadline API");
        assert_eq!(
            r.groups.iter().map(|g| g.tag.as_str()).collect::<Vec<_>>(),
            ["contacts", "lists"]
        );
        let get = &r.groups[0].operations[0];
        assert_eq!(
            (get.method.as_str(), get.anchor().as_str()),
            ("GET", "get-contacts-id")
        );
        assert_eq!(get.params[0].kind, "uuid");
        assert_eq!(
            get.responses[0],
            ("200".to_string(), "The contact".to_string())
        );
        let patch = &r.groups[0].operations[1];
        let name = patch.body.iter().find(|f| f.name == "name").unwrap();
        assert!(name.required);
        assert_eq!(name.description, "Full name");
        let tags = patch.body.iter().find(|f| f.name == "tags").unwrap();
        assert_eq!(
            (tags.kind.as_str(), tags.required),
            ("array of string", false)
        );
    }
}
