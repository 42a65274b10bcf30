//! The SQL an import's batch runs, by entity: which field fills which column, and the
//! one `UNNEST` insert and one update each batch is written with.

use super::model::Field;
use crate::crm::model::Entity;

/// How an entity's columns are filled: (field, column, SQL type, default on insert).
pub(super) type Column = (Field, &'static str, &'static str, Option<&'static str>);

pub(super) struct Shape {
    pub(super) table: &'static str,
    pub(super) columns: &'static [Column],
    /// Has a `company_id` filled from a company name.
    pub(super) company: bool,
}

pub(super) fn shape(entity: Entity) -> Shape {
    match entity {
        Entity::Company => Shape {
            table: "companies",
            columns: &[
                (Field::Name, "name", "text", None),
                (Field::Domain, "domain", "text", None),
                (Field::Industry, "industry", "text", None),
                (Field::City, "city", "text", None),
                (Field::Country, "country", "text", None),
                (Field::Phone, "phone_e164", "text", None),
            ],
            company: false,
        },
        Entity::Lead => Shape {
            table: "leads",
            columns: &[
                (Field::Name, "name", "text", None),
                (Field::Email, "email", "citext", None),
                (Field::Phone, "phone_e164", "text", None),
                (Field::Status, "status", "text", Some("'NEW'")),
                (Field::Score, "score", "integer", Some("0")),
                (Field::Source, "source", "text", None),
            ],
            company: true,
        },
        _ => Shape {
            table: "contacts",
            columns: &[
                (Field::Name, "full_name", "text", None),
                (Field::Email, "email", "citext", None),
                (Field::Phone, "phone_e164", "text", None),
                (Field::Title, "title", "text", None),
            ],
            company: true,
        },
    }
}

/// `u.tags`, one string joined by the unit separator (see `rows::TAG_JOIN`), as an array.
const TAGS: &str = "coalesce(string_to_array(nullif(u.tags, ''), chr(31)), '{}')";

/// The `UNNEST(...) AS u(...)` of a batch: id, owner, tags, [company], c0, c1, ...
/// numbered from `$first`.
fn unnest(shape: &Shape, first: usize) -> String {
    let mut types = vec!["uuid[]", "uuid[]", "text[]"];
    let mut names = vec!["id".to_string(), "owner".into(), "tags".into()];
    if shape.company {
        types.push("uuid[]");
        names.push("company".into());
    }
    for (i, _) in shape.columns.iter().enumerate() {
        types.push("text[]");
        names.push(format!("c{i}"));
    }
    let params: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}", first + i))
        .collect();
    format!("UNNEST({}) AS u({})", params.join(", "), names.join(", "))
}

pub(super) fn insert_sql(entity: Entity) -> String {
    let shape = shape(entity);
    let mut columns = vec!["tenant_id", "id", "owner_id", "tags"];
    let mut values = vec![
        "$1".to_string(),
        "u.id".into(),
        "u.owner".into(),
        TAGS.into(),
    ];
    if shape.company {
        columns.push("company_id");
        values.push("u.company".into());
    }
    for (i, (_, column, ty, default)) in shape.columns.iter().enumerate() {
        columns.push(column);
        values.push(match default {
            Some(d) => format!("coalesce(u.c{i}::{ty}, {d})"),
            None => format!("u.c{i}::{ty}"),
        });
    }
    // A contact's email is unique: a row that lost a race for it fails, not the batch.
    let conflict = match entity {
        Entity::Contact => " ON CONFLICT (tenant_id, email) WHERE email IS NOT NULL DO NOTHING",
        _ => "",
    };
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM {}{conflict} RETURNING id",
        shape.table,
        columns.join(", "),
        values.join(", "),
        unnest(&shape, 2)
    )
}

/// Fills in what the rows hold and keeps what they leave empty; tags add up.
pub(super) fn update_sql(entity: Entity) -> String {
    let shape = shape(entity);
    let mut sets = vec![
        "owner_id = coalesce(u.owner, r.owner_id)".to_string(),
        format!(
            "tags = r.tags || ARRAY(SELECT x FROM unnest({TAGS}) AS x WHERE x <> ALL (r.tags))"
        ),
        "updated_at = now()".into(),
    ];
    if shape.company {
        sets.push("company_id = coalesce(u.company, r.company_id)".into());
    }
    for (i, (_, column, ty, _)) in shape.columns.iter().enumerate() {
        sets.push(format!("{column} = coalesce(u.c{i}::{ty}, r.{column})"));
    }
    format!(
        "UPDATE {} r SET {} FROM {} WHERE r.id = u.id",
        shape.table,
        sets.join(", "),
        unnest(&shape, 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_statements_line_up_their_parameters() {
        let sql = insert_sql(Entity::Contact);
        assert!(sql.contains("UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[])"), "{sql}");
        assert!(sql.contains("ON CONFLICT (tenant_id, email)"));
        let sql = insert_sql(Entity::Lead);
        assert!(sql.contains("coalesce(u.c3::text, 'NEW')"), "{sql}");
        assert!(sql.contains("coalesce(u.c4::integer, 0)"), "{sql}");
        assert!(!sql.contains("ON CONFLICT"));
        let sql = update_sql(Entity::Company);
        assert!(
            sql.contains("UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[]"),
            "{sql}"
        );
        assert!(!sql.contains("company_id"), "{sql}");
    }
}
