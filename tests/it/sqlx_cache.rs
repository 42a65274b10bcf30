//! The query macros' cache (`.sqlx/`, written by `cargo xtask prepare`) against the
//! schema the migrations make today. Builds type-check each macro against its cached
//! description (`SQLX_OFFLINE`), so a description gone stale after a migration would
//! let a query compile against columns that changed or are gone.

use crate::common::TestApp;
use serde_json::Value;
use sqlx::{Column, Either, Executor, TypeInfo};
use std::path::Path;

#[tokio::test]
async fn every_cached_query_matches_the_migrated_schema() {
    let pools = TestApp::database().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".sqlx");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cached queries in {}", dir.display());
    for path in files {
        let cached: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let sql = cached["query"].as_str().unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let now = (&pools.owner)
            .describe(sql)
            .await
            .unwrap_or_else(|e| panic!("{name} no longer prepares: {e}\n{sql}"));
        let was = &cached["describe"];

        let columns: Vec<(String, String)> = now
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
            .collect();
        let cached_columns: Vec<(String, String)> = was["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    type_name(&c["type_info"]),
                )
            })
            .collect();
        assert_eq!(columns, cached_columns, "{name}: columns\n{sql}");

        let nullable: Vec<Option<bool>> = (0..columns.len()).map(|i| now.nullable(i)).collect();
        let cached_nullable: Vec<Option<bool>> = was["nullable"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::as_bool)
            .collect();
        assert_eq!(nullable, cached_nullable, "{name}: nullability\n{sql}");

        let parameters: Vec<String> = match now.parameters() {
            Some(Either::Left(types)) => types.iter().map(|t| t.name().to_string()).collect(),
            _ => Vec::new(),
        };
        let cached_parameters: Vec<String> = was["parameters"]["Left"]
            .as_array()
            .map(|types| types.iter().map(type_name).collect())
            .unwrap_or_default();
        assert_eq!(parameters, cached_parameters, "{name}: parameters\n{sql}");
    }
}

/// A type as the cache writes it (sqlx's `PgType` variant, `"TextArray"`, or a custom
/// type by name) in the form `TypeInfo::name` gives (`"TEXT[]"`).
fn type_name(cached: &Value) -> String {
    if let Some(variant) = cached.as_str() {
        let (base, array) = match variant.strip_suffix("Array") {
            Some(base) => (base, "[]"),
            None => (variant, ""),
        };
        let base = match base {
            "Bpchar" => "CHAR".to_string(),
            other => other.to_uppercase(),
        };
        return format!("{base}{array}");
    }
    let custom = &cached["Custom"];
    custom["name"]
        .as_str()
        .or_else(|| cached["DeclareWithName"].as_str())
        .unwrap_or_else(|| panic!("a cached type this test cannot read: {cached}"))
        .to_string()
}

#[test]
fn cached_type_names_read_as_sqlx_names_them() {
    assert_eq!(type_name(&Value::from("Uuid")), "UUID");
    assert_eq!(type_name(&Value::from("TextArray")), "TEXT[]");
    assert_eq!(type_name(&Value::from("Timestamptz")), "TIMESTAMPTZ");
    assert_eq!(type_name(&Value::from("Bpchar")), "CHAR");
    assert_eq!(
        type_name(&serde_json::json!({"Custom": {"name": "citext", "kind": "Simple"}})),
        "citext"
    );
}
