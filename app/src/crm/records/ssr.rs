//! Record queries. Tables page by keyset on (name, id) or (created_at, id) over
//! tenant-leading indexes; every query adds the viewer's scope.

pub use super::custom::{
    add_custom_field, list_custom_fields, remove_custom_field, NewCustomField,
};
use super::custom::{check_custom, custom_fields, custom_text};
use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::{Permission, Role};
use crate::crm::access::{push_filter, Scope};
use crate::crm::activity;
use crate::crm::board::ssr::members;
use crate::crm::model::{Entity, MemberRef, RecordFilter};
use crate::crm::money::{self, Money};
use crate::crm::phone::{self, PhoneError};
use crate::db::{internal, new_id, take_page, violated_constraint, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::{Env, Principal};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;
use uuid::Uuid;

/// The table row of each kind of record, with the same column names for all.
fn row_select(entity: Entity) -> &'static str {
    match entity {
        Entity::Lead => "SELECT r.id, r.name, r.email::text AS email, r.phone_e164 AS phone, r.company_id,
                c.name AS company_name, r.owner_id, u.name AS owner_name, r.status, r.score,
                NULL::bigint AS amount_minor, NULL::text AS currency, r.tags, r.created_at
           FROM leads r LEFT JOIN companies c ON c.id = r.company_id LEFT JOIN users u ON u.id = r.owner_id",
        Entity::Contact => "SELECT r.id, r.full_name AS name, r.email::text AS email, r.phone_e164 AS phone, r.company_id,
                c.name AS company_name, r.owner_id, u.name AS owner_name, NULL::text AS status, NULL::int AS score,
                NULL::bigint AS amount_minor, NULL::text AS currency, r.tags, r.created_at
           FROM contacts r LEFT JOIN companies c ON c.id = r.company_id LEFT JOIN users u ON u.id = r.owner_id",
        Entity::Company => "SELECT r.id, r.name, NULL::text AS email, r.phone_e164 AS phone, NULL::uuid AS company_id,
                NULL::text AS company_name, r.owner_id, u.name AS owner_name, NULL::text AS status, NULL::int AS score,
                NULL::bigint AS amount_minor, NULL::text AS currency, r.tags, r.created_at
           FROM companies r LEFT JOIN users u ON u.id = r.owner_id",
        Entity::Deal => "SELECT r.id, r.name, NULL::text AS email, NULL::text AS phone, r.company_id,
                c.name AS company_name, r.owner_id, u.name AS owner_name, r.status, NULL::int AS score,
                r.amount_minor, r.currency::text AS currency, r.tags, r.created_at
           FROM deals r LEFT JOIN companies c ON c.id = r.company_id LEFT JOIN users u ON u.id = r.owner_id",
    }
}

fn record_row(row: &PgRow) -> RecordRow {
    let company_id: Option<Uuid> = row.get("company_id");
    let owner_id: Option<Uuid> = row.get("owner_id");
    let amount: Option<i64> = row.get("amount_minor");
    RecordRow {
        id: row.get("id"),
        name: row.get("name"),
        email: row.get("email"),
        phone: row.get("phone"),
        company: company_id.map(|id| Link {
            entity: Entity::Company,
            id,
            name: row
                .get::<Option<String>, _>("company_name")
                .unwrap_or_default(),
        }),
        owner: owner_id.map(|user_id| MemberRef {
            user_id,
            name: row
                .get::<Option<String>, _>("owner_name")
                .unwrap_or_default(),
        }),
        status: row.get("status"),
        score: row.get("score"),
        amount: amount.map(|minor| Money {
            minor,
            currency: row.get::<Option<String>, _>("currency").unwrap_or_default(),
        }),
        tags: row.get("tags"),
        created_at: row.get("created_at"),
    }
}

pub(super) async fn open(env: &Env) -> Result<(&Principal, Tx, Scope), AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let mut tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    let scope = Scope::load(&mut tx, p).await?;
    Ok((p, tx, scope))
}

pub async fn list(
    env: &Env,
    entity: Entity,
    filter: &RecordFilter,
    sort: Sort,
    after: Option<RowCursor>,
) -> Result<RecordPage, AppError> {
    search_text_fits(env, &filter.q)?;
    let (p, mut tx, scope) = open(env).await?;
    // A smart list is a saved filter: opening it re-evaluates that filter.
    let saved: Option<serde_json::Value> = match filter.list_id {
        Some(list) => {
            sqlx::query_scalar("SELECT filter FROM lists WHERE id = $1 AND kind = 'SMART'")
                .bind(list)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    let smart = saved.map(|f| serde_json::from_value::<RecordFilter>(f).unwrap_or_default());
    let filter = smart.as_ref().unwrap_or(filter);
    let name = format!("r.{}", entity.name_column());
    let mut q = QueryBuilder::new(row_select(entity));
    q.push(" WHERE r.tenant_id = ").push_bind(p.tenant_id);
    scope.push(&mut q, "r.owner_id");
    push_filter(&mut q, entity, filter);
    if let Some(cursor) = &after {
        match sort {
            Sort::Name => {
                q.push(format_args!(" AND ({name}, r.id) > ("))
                    .push_bind(cursor.key.clone())
                    .push(", ")
                    .push_bind(cursor.id)
                    .push(")");
            }
            Sort::Newest => {
                let at = DateTime::parse_from_rfc3339(&cursor.key)
                    .map_err(|_| AppError::field("after", env.t("records.bad_cursor")))?
                    .with_timezone(&Utc);
                q.push(" AND (r.created_at, r.id) < (")
                    .push_bind(at)
                    .push(", ")
                    .push_bind(cursor.id)
                    .push(")");
            }
        }
    }
    match sort {
        Sort::Name => q.push(format_args!(" ORDER BY {name}, r.id")),
        Sort::Newest => q.push(" ORDER BY r.created_at DESC, r.id DESC"),
    };
    q.push(" LIMIT ").push_bind(TABLE_PAGE + 1);
    let mut rows: Vec<RecordRow> = q
        .build()
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(record_row)
        .collect();
    let members = members(&mut tx).await?;
    tx.commit().await?;
    let next = if take_page(&mut rows, TABLE_PAGE) {
        rows.last().map(|r| RowCursor {
            key: match sort {
                Sort::Name => r.name.clone(),
                Sort::Newest => r.created_at.to_rfc3339(),
            },
            id: r.id,
        })
    } else {
        None
    };
    Ok(RecordPage {
        rows,
        next,
        members,
    })
}

/// The record's owner, if the record exists in the tenant and is in the viewer's scope.
pub async fn check_visible(
    env: &Env,
    tx: &mut Tx,
    scope: &Scope,
    entity: Entity,
    id: Uuid,
) -> Result<Option<Uuid>, AppError> {
    let owner: Option<Option<Uuid>> = sqlx::query_scalar(&format!(
        "SELECT owner_id FROM {} WHERE id = $1",
        entity.table()
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match owner {
        Some(owner) if scope.allows(owner) => Ok(owner),
        _ => Err(AppError::NotFound(env.t("records.not_found"))),
    }
}

pub async fn detail(env: &Env, entity: Entity, id: Uuid) -> Result<RecordDetail, AppError> {
    let (_, mut tx, scope) = open(env).await?;
    check_visible(env, &mut tx, &scope, entity, id).await?;
    let row = sqlx::query(&format!("{} WHERE r.id = $1", row_select(entity)))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let row = record_row(&row);
    let facts_sql = match entity {
        Entity::Lead => "SELECT jsonb_build_array(jsonb_build_array('source', coalesce(source, ''))) FROM leads WHERE id = $1",
        Entity::Contact => "SELECT jsonb_build_array(jsonb_build_array('title', coalesce(title, ''))) FROM contacts WHERE id = $1",
        Entity::Company => "SELECT jsonb_build_array(jsonb_build_array('domain', coalesce(domain, '')), jsonb_build_array('industry', coalesce(industry, '')),
                                    jsonb_build_array('city', coalesce(city, '')), jsonb_build_array('country', coalesce(country, ''))) FROM companies WHERE id = $1",
        Entity::Deal => "SELECT jsonb_build_array(jsonb_build_array('stage', s.name), jsonb_build_array('pipeline', p.name),
                                    jsonb_build_array('contact', coalesce((SELECT coalesce(c.email::text, c.full_name) FROM contacts c WHERE c.id = d.contact_id), '')),
                                    jsonb_build_array('expected_close_on', coalesce(d.expected_close_on::text, '')),
                                    jsonb_build_array('amount', trim_scale(d.amount_minor::numeric / (10::numeric ^ currency_exponent(d.currency)))::text),
                                    jsonb_build_array('currency', d.currency::text),
                                    jsonb_build_array('probability', d.probability::text),
                                    jsonb_build_array('lost_reason', coalesce(d.lost_reason, '')))
                           FROM deals d JOIN stages s ON s.id = d.stage_id JOIN pipelines p ON p.id = d.pipeline_id WHERE d.id = $1",
    };
    let facts: serde_json::Value = sqlx::query_scalar(facts_sql)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let facts = serde_json::from_value::<Vec<(String, String)>>(facts).unwrap_or_default();
    // Linked records in both directions, each only if the viewer may see it.
    let related_sql = match entity {
        Entity::Lead => "SELECT 'CONTACT' AS e, c.id, c.full_name AS name, c.owner_id FROM leads l JOIN contacts c ON c.id = l.contact_id WHERE l.id = $1
                   UNION ALL SELECT 'DEAL', d.id, d.name, d.owner_id FROM deals d WHERE d.lead_id = $1",
        Entity::Contact => "SELECT 'LEAD' AS e, l.id, l.name, l.owner_id FROM leads l WHERE l.contact_id = $1
                   UNION ALL SELECT 'DEAL', d.id, d.name, d.owner_id FROM deals d WHERE d.contact_id = $1",
        Entity::Company => "SELECT 'CONTACT' AS e, c.id, c.full_name AS name, c.owner_id FROM contacts c WHERE c.company_id = $1
                   UNION ALL SELECT 'LEAD', l.id, l.name, l.owner_id FROM leads l WHERE l.company_id = $1
                   UNION ALL SELECT 'DEAL', d.id, d.name, d.owner_id FROM deals d WHERE d.company_id = $1",
        Entity::Deal => "SELECT 'CONTACT' AS e, c.id, c.full_name AS name, c.owner_id FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.id = $1
                   UNION ALL SELECT 'LEAD', l.id, l.name, l.owner_id FROM deals d JOIN leads l ON l.id = d.lead_id WHERE d.id = $1",
    };
    let related = sqlx::query(&format!("SELECT * FROM ({related_sql}) x LIMIT 100"))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .filter(|r| scope.allows(r.get("owner_id")))
        .filter_map(|r| {
            Some(Link {
                entity: Entity::parse(r.get::<String, _>("e").as_str())?,
                id: r.get("id"),
                name: r.get("name"),
            })
        })
        .collect();
    let members = members(&mut tx).await?;
    let values: serde_json::Value = sqlx::query_scalar(&format!(
        "SELECT custom FROM {} WHERE id = $1",
        entity.table()
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let custom = custom_fields(&mut tx, Some(entity))
        .await?
        .into_iter()
        .map(|def| {
            let text = custom_text(values.get(&def.key));
            (def, text)
        })
        .collect();
    tx.commit().await?;
    Ok(RecordDetail {
        entity,
        row,
        custom,
        facts,
        related,
        members,
    })
}

/// The fields a form may set on each kind of record.
fn editable(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Lead => &[
            "name", "email", "phone", "source", "status", "score", "owner_id", "tags", "company",
        ],
        Entity::Contact => &[
            "name", "email", "phone", "title", "owner_id", "tags", "company",
        ],
        Entity::Company => &[
            "name", "phone", "domain", "industry", "city", "country", "owner_id", "tags",
        ],
        Entity::Deal => &[
            "name",
            "owner_id",
            "tags",
            "expected_close_on",
            "company",
            "contact",
            "amount",
            "currency",
            "probability",
        ],
    }
}

/// A record's fields after validation, ready to write.
struct Checked {
    values: Vec<(&'static str, Value)>,
    company: Option<String>,
    /// A deal's contact, by email or exact name; `Some("")` unlinks it.
    contact: Option<String>,
}

enum Value {
    Text(Option<String>),
    Int(i32),
    /// An amount in minor units.
    Minor(i64),
    Uuid(Option<Uuid>),
    Tags(Vec<String>),
    Date(Option<NaiveDate>),
}

async fn check_fields(
    env: &Env,
    tx: &mut Tx,
    scope: &Scope,
    entity: Entity,
    fields: &[(String, String)],
    creating: bool,
) -> Result<Checked, AppError> {
    let allowed = editable(entity);
    let region: Option<String> =
        sqlx::query_scalar("SELECT phone_region FROM tenants WHERE id = app_tenant()")
            .fetch_optional(&mut **tx)
            .await?
            .flatten();
    let mut values = Vec::new();
    let mut company = None;
    let mut contact = None;
    if creating
        && !fields
            .iter()
            .any(|(k, v)| k == "name" && !v.trim().is_empty())
    {
        return Err(AppError::field("name", env.t("records.name_required")));
    }
    for (key, raw) in fields {
        let Some(field) = allowed.iter().find(|f| **f == key.as_str()).copied() else {
            return Err(AppError::field(key, env.t("records.unknown_field")));
        };
        // PostgreSQL stores no NUL in text or JSON: refused here, not a 500 there.
        if raw.contains('\0') {
            return Err(AppError::field(key, env.t("records.nul_character")));
        }
        let text = raw.trim();
        let opt = (!text.is_empty()).then(|| text.to_string());
        let value = match field {
            "name" => {
                if text.is_empty() || text.chars().count() > 200 {
                    return Err(AppError::field("name", env.t("records.name_required")));
                }
                Value::Text(opt)
            }
            "email" => {
                if let Some(e) = &opt {
                    if !mail::valid_address(e) {
                        return Err(AppError::field("email", env.t("records.email_invalid")));
                    }
                }
                Value::Text(opt.map(|e| e.to_lowercase()))
            }
            "phone" => match phone::normalize(text, region.as_deref()) {
                Ok(p) => Value::Text(p),
                Err(PhoneError::NeedsCountryCode) => {
                    return Err(AppError::field(
                        "phone",
                        env.t("records.phone_needs_country"),
                    ))
                }
                Err(PhoneError::Invalid) => {
                    return Err(AppError::field("phone", env.t("records.phone_invalid")))
                }
            },
            "status" => {
                let s = text.to_ascii_uppercase();
                if !LEAD_STATUSES.contains(&s.as_str()) {
                    return Err(AppError::field("status", env.t("records.status_invalid")));
                }
                Value::Text(Some(s))
            }
            "score" => match text.parse::<i32>() {
                Ok(n) if (0..=100).contains(&n) => Value::Int(n),
                _ => return Err(AppError::field("score", env.t("records.score_invalid"))),
            },
            "owner_id" => {
                let owner = match opt {
                    None => None,
                    Some(s) => Some(s.parse::<Uuid>().map_err(|_| {
                        AppError::field("owner_id", env.t("board.owner_out_of_scope"))
                    })?),
                };
                if !scope.allows(owner) {
                    return Err(AppError::field(
                        "owner_id",
                        env.t("board.owner_out_of_scope"),
                    ));
                }
                Value::Uuid(owner)
            }
            "tags" => Value::Tags(parse_tags(text)),
            "expected_close_on" => Value::Date(match opt {
                None => None,
                Some(s) => Some(NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| {
                    AppError::field("expected_close_on", env.t("board.date_invalid"))
                })?),
            }),
            "currency" => {
                if text.len() != 3 || !text.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(AppError::field("currency", env.t("board.currency_invalid")));
                }
                Value::Text(Some(text.to_ascii_uppercase()))
            }
            "amount" => {
                // Read in the currency sent with it: the form always sends both.
                let currency = fields
                    .iter()
                    .find(|(k, _)| k == "currency")
                    .map(|(_, c)| c.trim().to_ascii_uppercase())
                    .ok_or_else(|| AppError::field("currency", env.t("board.currency_invalid")))?;
                Value::Minor(
                    money::parse(text, &currency)
                        .ok_or_else(|| AppError::field("amount", env.t("board.amount_invalid")))?,
                )
            }
            "probability" => Value::Int(
                text.parse::<i32>()
                    .ok()
                    .filter(|p| (0..=100).contains(p))
                    .ok_or_else(|| {
                        AppError::field("probability", env.t("records.probability_invalid"))
                    })?,
            ),
            "company" => {
                company = opt;
                continue;
            }
            "contact" => {
                contact = Some(text.to_string());
                continue;
            }
            _ => {
                if text.chars().count() > 200 {
                    return Err(AppError::field(field, env.t("records.too_long")));
                }
                Value::Text(opt)
            }
        };
        values.push((field, value));
    }
    Ok(Checked {
        values,
        company,
        contact,
    })
}

/// "vip, Cairo ,vip" → ["vip", "Cairo"]: trimmed, unique, at most 20 of 40 chars each.
pub fn parse_tags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let tag: String = tag.chars().take(40).collect();
        if !tags.contains(&tag) && tags.len() < 20 {
            tags.push(tag);
        }
    }
    tags
}

fn column_of(entity: Entity, field: &str) -> &'static str {
    match (entity, field) {
        (Entity::Contact, "name") => "full_name",
        (_, "name") => "name",
        (_, "phone") => "phone_e164",
        (_, "email") => "email",
        (_, "source") => "source",
        (_, "status") => "status",
        (_, "score") => "score",
        (_, "owner_id") => "owner_id",
        (_, "tags") => "tags",
        (_, "title") => "title",
        (_, "domain") => "domain",
        (_, "industry") => "industry",
        (_, "city") => "city",
        (_, "country") => "country",
        (_, "expected_close_on") => "expected_close_on",
        (_, "amount") => "amount_minor",
        (_, "currency") => "currency",
        (_, "probability") => "probability",
        _ => "name",
    }
}

fn unique_error(env: &Env, err: sqlx::Error) -> AppError {
    match violated_constraint(&err).as_deref() {
        Some("contacts_email") => AppError::field("email", env.t("records.email_taken")),
        Some(c) if c.ends_with("owner_id_fkey") => {
            AppError::field("owner_id", env.t("board.owner_out_of_scope"))
        }
        _ => internal(err),
    }
}

/// The contact a deal links to, found by email or exact name among those the member
/// may see; `None` for an empty reference (unlink).
async fn contact_named(
    env: &Env,
    tx: &mut Tx,
    scope: &Scope,
    reference: &str,
) -> Result<Option<Uuid>, AppError> {
    let reference = reference.trim();
    if reference.is_empty() {
        return Ok(None);
    }
    let mut q =
        QueryBuilder::new("SELECT r.id FROM contacts r WHERE (lower(r.email::text) = lower(");
    q.push_bind(reference.to_string())
        .push(") OR lower(r.full_name) = lower(")
        .push_bind(reference.to_string())
        .push("))");
    scope.push(&mut q, "r.owner_id");
    q.push(" ORDER BY r.created_at LIMIT 1");
    let found: Option<Uuid> = q.build_query_scalar().fetch_optional(&mut **tx).await?;
    found
        .map(Some)
        .ok_or_else(|| AppError::field("contact", env.t("records.contact_not_found")))
}

/// The id of the company with this name among those the member may see, created if
/// there is none: a company out of scope is neither linked nor revealed.
async fn company_named(
    tx: &mut Tx,
    p: &Principal,
    scope: &Scope,
    name: &str,
) -> Result<Uuid, AppError> {
    let mut q = QueryBuilder::new("SELECT r.id FROM companies r WHERE lower(r.name) = lower(");
    q.push_bind(name.to_string()).push(")");
    scope.push(&mut q, "r.owner_id");
    q.push(" ORDER BY r.created_at LIMIT 1");
    let found: Option<Uuid> = q.build_query_scalar().fetch_optional(&mut **tx).await?;
    if let Some(id) = found {
        return Ok(id);
    }
    let id = new_id();
    sqlx::query("INSERT INTO companies (tenant_id, id, name, owner_id) VALUES ($1, $2, $3, $4)")
        .bind(p.tenant_id)
        .bind(id)
        .bind(name)
        .bind(p.actor())
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

pub async fn create(
    env: &Env,
    entity: Entity,
    fields: &[(String, String)],
    custom: &HashMap<String, String>,
) -> Result<Uuid, AppError> {
    if entity == Entity::Deal {
        return Err(AppError::field("entity", env.t("records.deals_on_board")));
    }
    let (p, mut tx, scope) = open(env).await?;
    let mut checked = check_fields(env, &mut tx, &scope, entity, fields, true).await?;
    let defs = custom_fields(&mut tx, Some(entity)).await?;
    let custom = check_custom(env, &defs, custom, true)?;
    if matches!(entity, Entity::Lead | Entity::Contact) {
        crate::billing::ssr::check_records(&mut tx, env.locale(), 1).await?;
    }
    if !checked.values.iter().any(|(f, _)| *f == "owner_id") {
        // An API key owns nothing: what it creates without an owner is unassigned.
        checked.values.push(("owner_id", Value::Uuid(p.actor())));
    }
    let id = new_id();
    let mut q = QueryBuilder::new(format!("INSERT INTO {} (tenant_id, id", entity.table()));
    for (field, _) in &checked.values {
        q.push(", ").push(column_of(entity, field));
    }
    if checked.company.is_some() {
        q.push(", company_id");
    }
    q.push(", custom) VALUES (")
        .push_bind(p.tenant_id)
        .push(", ")
        .push_bind(id);
    for (_, value) in checked.values {
        q.push(", ");
        push_value(&mut q, value);
    }
    if let Some(name) = &checked.company {
        let company = company_named(&mut tx, p, &scope, name).await?;
        q.push(", ").push_bind(company);
    }
    q.push(", ")
        .push_bind(serde_json::Value::Object(custom))
        .push(")");
    q.build()
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_error(env, e))?;
    activity::log(&mut tx, p, entity, id, "CREATED", serde_json::json!({})).await?;
    deliver::record_changed(&mut tx, p.tenant_id, entity, &[id], "created").await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("record.created", entity.table(), Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn push_value(q: &mut QueryBuilder<'_, sqlx::Postgres>, value: Value) {
    match value {
        Value::Text(v) => q.push_bind(v),
        Value::Int(v) => q.push_bind(v),
        Value::Minor(v) => q.push_bind(v),
        Value::Uuid(v) => q.push_bind(v),
        Value::Tags(v) => q.push_bind(v),
        Value::Date(v) => q.push_bind(v),
    };
}

pub async fn update(
    env: &Env,
    entity: Entity,
    id: Uuid,
    fields: &[(String, String)],
    custom: &HashMap<String, String>,
) -> Result<(), AppError> {
    update_if(env, entity, id, fields, custom, None).await
}

/// An update that applies only if the record was last changed at `if_unchanged_since`
/// (the API's `If-Match`); otherwise a `Conflict` and no change.
pub async fn update_if(
    env: &Env,
    entity: Entity,
    id: Uuid,
    fields: &[(String, String)],
    custom: &HashMap<String, String>,
    if_unchanged_since: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let before_owner = check_visible(env, &mut tx, &scope, entity, id).await?;
    if let Some(expected) = if_unchanged_since {
        let current: DateTime<Utc> = sqlx::query_scalar(&format!(
            "SELECT updated_at FROM {} WHERE id = $1 FOR UPDATE",
            entity.table()
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if current != expected {
            return Err(AppError::Conflict(env.t("records.stale")));
        }
    }
    let checked = check_fields(env, &mut tx, &scope, entity, fields, false).await?;
    let defs = custom_fields(&mut tx, Some(entity)).await?;
    let custom = check_custom(env, &defs, custom, false)?;
    let before: serde_json::Value = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(r) - 'search' - 'tenant_id' FROM {} r WHERE id = $1",
        entity.table()
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let new_owner = checked.values.iter().find_map(|(f, v)| match (f, v) {
        (&"owner_id", Value::Uuid(o)) => Some(*o),
        _ => None,
    });
    let new_status = checked.values.iter().find_map(|(f, v)| match (f, v) {
        (&"status", Value::Text(s)) => s.clone(),
        _ => None,
    });
    let mut q = QueryBuilder::new(format!("UPDATE {} SET updated_at = now()", entity.table()));
    for (field, value) in checked.values {
        q.push(format_args!(", {} = ", column_of(entity, field)));
        push_value(&mut q, value);
    }
    if let Some(name) = &checked.company {
        let company = company_named(&mut tx, p, &scope, name).await?;
        q.push(", company_id = ").push_bind(company);
    }
    if let Some(who) = &checked.contact {
        let contact = contact_named(env, &mut tx, &scope, who).await?;
        q.push(", contact_id = ").push_bind(contact);
    }
    if !custom.is_empty() {
        q.push(", custom = custom || ")
            .push_bind(serde_json::Value::Object(custom));
    }
    q.push(" WHERE id = ").push_bind(id);
    q.build()
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_error(env, e))?;
    if let Some(owner) = new_owner.filter(|o| *o != before_owner) {
        let to_name: Option<String> = match owner {
            Some(user) => {
                sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let data = serde_json::json!({ "from": before_owner, "to": owner, "to_name": to_name });
        activity::log(&mut tx, p, entity, id, "ASSIGNMENT", data).await?;
    }
    let old_status = before
        .get("status")
        .and_then(|s| s.as_str())
        .map(str::to_string);
    if let Some(status) = new_status.filter(|s| Some(s) != old_status.as_ref()) {
        let data = serde_json::json!({ "from": old_status, "to": status });
        activity::log(&mut tx, p, entity, id, "STATUS_CHANGE", data).await?;
    }
    let after: serde_json::Value = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(r) - 'search' - 'tenant_id' FROM {} r WHERE id = $1",
        entity.table()
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("record.updated", entity.table(), Some(id)).change(before, after),
    )
    .await?;
    deliver::record_changed(&mut tx, p.tenant_id, entity, &[id], "updated").await?;
    tx.commit().await?;
    Ok(())
}

fn timeline_item(r: &PgRow) -> TimelineItem {
    TimelineItem {
        id: r.get("id"),
        kind: r.get("kind"),
        actor: r.get("actor"),
        subject: r.get("subject"),
        body: r.get("body"),
        data: r.get("data"),
        due_at: r.get("due_at"),
        done_at: r.get("done_at"),
        occurred_at: r.get("occurred_at"),
    }
}

// A message's timeline entry shows the message's live status (messages.status).
const TIMELINE_SELECT: &str = "SELECT a.id, a.kind, u.name AS actor, a.subject, a.body,
        CASE WHEN m.status IS NULL THEN a.data ELSE a.data || jsonb_build_object('status', m.status) END AS data,
        a.due_at, a.done_at, a.occurred_at
   FROM activities a LEFT JOIN users u ON u.id = a.actor_id
   LEFT JOIN messages m ON a.kind IN ('WHATSAPP', 'EMAIL') AND m.id = (a.data ->> 'message_id')::uuid";

pub async fn timeline(
    env: &Env,
    entity: Entity,
    id: Uuid,
    before: Option<TimelineCursor>,
) -> Result<TimelinePage, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    check_visible(env, &mut tx, &scope, entity, id).await?;
    let column = entity.activity_column();
    let mut q = QueryBuilder::new(TIMELINE_SELECT);
    q.push(" WHERE a.tenant_id = ")
        .push_bind(p.tenant_id)
        .push(format_args!(" AND a.{column} = "))
        .push_bind(id);
    if let Some(c) = before {
        q.push(" AND (a.occurred_at, a.id) < (")
            .push_bind(c.at)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }
    q.push(" ORDER BY a.occurred_at DESC, a.id DESC LIMIT ")
        .push_bind(TIMELINE_PAGE + 1);
    let mut items: Vec<TimelineItem> = q
        .build()
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(timeline_item)
        .collect();
    tx.commit().await?;
    let next = if take_page(&mut items, TIMELINE_PAGE) {
        items.last().map(|i| TimelineCursor {
            at: i.occurred_at,
            id: i.id,
        })
    } else {
        None
    };
    Ok(TimelinePage { items, next })
}

/// What a member logs on a record's page.
pub struct NewActivity {
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub due_at: String,
    pub duration_minutes: String,
    pub outcome: String,
}

pub async fn add_activity(
    env: &Env,
    entity: Entity,
    id: Uuid,
    input: &NewActivity,
) -> Result<TimelineItem, AppError> {
    let (p, mut tx, scope) = open(env).await?;
    let owner = check_visible(env, &mut tx, &scope, entity, id).await?;
    let kind = input.kind.trim().to_ascii_uppercase();
    if !matches!(kind.as_str(), "NOTE" | "CALL" | "MEETING" | "TASK") {
        return Err(AppError::field("kind", env.t("timeline.kind_invalid")));
    }
    let body = input.body.trim();
    let subject = input.subject.trim();
    if kind == "NOTE" && body.is_empty() {
        return Err(AppError::field("body", env.t("timeline.note_required")));
    }
    if kind != "NOTE" && subject.is_empty() {
        return Err(AppError::field(
            "subject",
            env.t("timeline.subject_required"),
        ));
    }
    if body.chars().count() > 10_000 || subject.chars().count() > 200 {
        return Err(AppError::field("body", env.t("records.too_long")));
    }
    let due_at = if kind == "TASK" {
        Some(
            parse_due(&input.due_at)
                .ok_or_else(|| AppError::field("due_at", env.t("timeline.due_invalid")))?,
        )
    } else {
        None
    };
    let mut data = serde_json::Map::new();
    if kind == "CALL" {
        let minutes = input.duration_minutes.trim();
        if !minutes.is_empty() {
            match minutes.parse::<u32>() {
                Ok(m) if m <= 24 * 60 => {
                    data.insert("duration_minutes".into(), m.into());
                }
                _ => {
                    return Err(AppError::field(
                        "duration_minutes",
                        env.t("timeline.duration_invalid"),
                    ))
                }
            }
        }
        let outcome = input.outcome.trim();
        if !outcome.is_empty() {
            data.insert("outcome".into(), outcome.into());
        }
    }
    let activity_id = new_id();
    sqlx::query(&format!(
        "INSERT INTO activities (tenant_id, id, kind, {}, actor_id, assignee_id, subject, body, data, due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        entity.activity_column()
    ))
    .bind(p.tenant_id)
    .bind(activity_id)
    .bind(&kind)
    .bind(id)
    .bind(p.actor())
    // A task goes to the record's owner, or to whoever wrote it.
    .bind(if kind == "TASK" { owner.or(p.actor()) } else { None })
    .bind((!subject.is_empty()).then_some(subject))
    .bind((!body.is_empty()).then_some(body))
    .bind(serde_json::Value::Object(data))
    .bind(due_at)
    .execute(&mut *tx)
    .await
    ?;
    let item = sqlx::query(&format!("{TIMELINE_SELECT} WHERE a.id = $1"))
        .bind(activity_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(timeline_item(&item))
}

/// `2026-12-01` (end of that day, UTC) or `2026-12-01T14:30` (a datetime-local input).
fn parse_due(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        return Some(dt.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 0))
        .map(|dt| dt.and_utc())
}

pub async fn my_tasks(env: &Env) -> Result<MyTasks, AppError> {
    let (p, mut tx, _) = open(env).await?;
    let rows = sqlx::query(
        "SELECT a.id, a.subject, a.due_at,
                CASE WHEN a.lead_id IS NOT NULL THEN 'LEAD' WHEN a.deal_id IS NOT NULL THEN 'DEAL'
                     WHEN a.contact_id IS NOT NULL THEN 'CONTACT' ELSE 'COMPANY' END AS e,
                coalesce(a.lead_id, a.deal_id, a.contact_id, a.company_id) AS rid,
                coalesce(l.name, d.name, c.full_name, co.name) AS rname
           FROM activities a
           LEFT JOIN leads l ON l.id = a.lead_id
           LEFT JOIN deals d ON d.id = a.deal_id
           LEFT JOIN contacts c ON c.id = a.contact_id
           LEFT JOIN companies co ON co.id = a.company_id
          WHERE a.tenant_id = $1 AND a.kind = 'TASK' AND a.done_at IS NULL AND a.assignee_id = $2
          ORDER BY a.due_at NULLS LAST, a.id LIMIT 500",
    )
    .bind(p.tenant_id)
    .bind(p.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let now = Utc::now();
    let end_of_today = (now.date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now);
    let mut tasks = MyTasks::default();
    for r in rows {
        let task = TaskRow {
            id: r.get("id"),
            subject: r.get::<Option<String>, _>("subject").unwrap_or_default(),
            due_at: r.get("due_at"),
            about: Entity::parse(r.get::<String, _>("e").as_str()).map(|entity| Link {
                entity,
                id: r.get("rid"),
                name: r.get::<Option<String>, _>("rname").unwrap_or_default(),
            }),
        };
        match task.due_at {
            Some(d) if d < now => tasks.overdue.push(task),
            Some(d) if d < end_of_today => tasks.today.push(task),
            _ => tasks.upcoming.push(task),
        }
    }
    Ok(tasks)
}

pub async fn complete_task(env: &Env, task_id: Uuid) -> Result<(), AppError> {
    let (p, mut tx, scope) = open(env).await?;
    // A member completes their own tasks and those they set; a manager also their
    // reports' (the scope's owners), an admin anyone's.
    let done = sqlx::query(
        "UPDATE activities SET done_at = now(), updated_at = now()
          WHERE id = $1 AND kind = 'TASK' AND done_at IS NULL
            AND (actor_id = $2 OR assignee_id = ANY($3) OR $4)",
    )
    .bind(task_id)
    .bind(p.user_id)
    .bind(&scope.owners)
    .bind(scope.all)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t("timeline.task_not_found")));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn bulk(
    env: &Env,
    entity: Entity,
    ids: &[Uuid],
    action: &BulkAction,
) -> Result<u64, AppError> {
    if ids.is_empty() || ids.len() > 1000 {
        return Err(AppError::field("ids", env.t("records.bulk_count")));
    }
    let (p, mut tx, scope) = open(env).await?;
    if matches!(action, BulkAction::Delete) && p.role < Role::Manager {
        return Err(AppError::Forbidden(env.t("records.delete_forbidden")));
    }
    // Only the selected rows the member may touch.
    let mut q = QueryBuilder::new(format!(
        "SELECT r.id FROM {} r WHERE r.id = ANY(",
        entity.table()
    ));
    q.push_bind(ids.to_vec()).push(")");
    scope.push(&mut q, "r.owner_id");
    let targets: Vec<Uuid> = q.build_query_scalar().fetch_all(&mut *tx).await?;
    if targets.len() != ids.len() {
        return Err(AppError::NotFound(env.t("records.not_found")));
    }
    let table = entity.table();
    let column = entity.activity_column();
    let changed = match action {
        BulkAction::Assign(owner) => {
            if !scope.allows(*owner) {
                return Err(AppError::field(
                    "owner_id",
                    env.t("board.owner_out_of_scope"),
                ));
            }
            let n = sqlx::query(&format!(
                "UPDATE {table} SET owner_id = $2, updated_at = now() WHERE id = ANY($1)"
            ))
            .bind(&targets)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_error(env, e))?
            .rows_affected();
            sqlx::query(&format!(
                "INSERT INTO activities (tenant_id, id, kind, {column}, actor_id, data)
                 SELECT $1, gen_random_uuid(), 'ASSIGNMENT', t, $3, jsonb_build_object('to', $4::uuid,
                        'to_name', (SELECT name FROM users WHERE id = $4))
                   FROM unnest($2::uuid[]) t"
            ))
            .bind(p.tenant_id)
            .bind(&targets)
            .bind(p.actor())
            .bind(owner)
            .execute(&mut *tx)
            .await
            ?;
            n
        }
        BulkAction::Tag(tag) => {
            let tags = parse_tags(tag);
            if tags.is_empty() {
                return Err(AppError::field("tag", env.t("records.tag_required")));
            }
            sqlx::query(&format!(
                "UPDATE {table} SET tags = ARRAY(SELECT DISTINCT unnest(tags || $2::text[])), updated_at = now()
                  WHERE id = ANY($1)"
            ))
            .bind(&targets)
            .bind(&tags)
            .execute(&mut *tx)
            .await
            ?
            .rows_affected()
        }
        BulkAction::AddToList(list_id) => {
            let kind: Option<String> =
                sqlx::query_scalar("SELECT kind FROM lists WHERE id = $1 AND entity = $2")
                    .bind(list_id)
                    .bind(entity.code())
                    .fetch_optional(&mut *tx)
                    .await?;
            if kind.as_deref() != Some("STATIC") {
                return Err(AppError::field("list_id", env.t("lists.not_static")));
            }
            sqlx::query("UPDATE lists SET updated_at = now() WHERE id = $1")
                .bind(list_id)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query(
                "INSERT INTO list_members (tenant_id, list_id, record_id)
                 SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING",
            )
            .bind(p.tenant_id)
            .bind(list_id)
            .bind(&targets)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(&format!(
                "INSERT INTO activities (tenant_id, id, kind, {column}, actor_id, data)
                 SELECT $1, gen_random_uuid(), 'LIST_ADD', t, $3,
                        jsonb_build_object('list', (SELECT name FROM lists WHERE id = $4))
                   FROM unnest($2::uuid[]) t"
            ))
            .bind(p.tenant_id)
            .bind(&targets)
            .bind(p.actor())
            .bind(list_id)
            .execute(&mut *tx)
            .await?;
            n
        }
        BulkAction::Delete => sqlx::query(&format!("DELETE FROM {table} WHERE id = ANY($1)"))
            .bind(&targets)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
    };
    let event = match action {
        BulkAction::Assign(_) | BulkAction::Tag(_) => Some("updated"),
        BulkAction::Delete => Some("deleted"),
        BulkAction::AddToList(_) => None,
    };
    if let Some(event) = event {
        deliver::record_changed(&mut tx, p.tenant_id, entity, &targets, event).await?;
    }
    let action_name = match action {
        BulkAction::Assign(_) => "bulk.assigned",
        BulkAction::Tag(_) => "bulk.tagged",
        BulkAction::AddToList(_) => "bulk.listed",
        BulkAction::Delete => "bulk.deleted",
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(action_name, table, None).after(serde_json::json!({
            "ids": targets, "action": action,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(changed)
}

pub async fn lists(env: &Env, entity: Entity) -> Result<Vec<ListRef>, AppError> {
    let (_, mut tx, _) = open(env).await?;
    let lists = sqlx::query("SELECT id, name, kind FROM lists WHERE entity = $1 ORDER BY name")
        .bind(entity.code())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| ListRef {
            id: r.get("id"),
            name: r.get("name"),
            smart: r.get::<String, _>("kind") == "SMART",
        })
        .collect();
    tx.commit().await?;
    Ok(lists)
}

/// A static list, or a smart list that saves `filter` and re-evaluates it when opened.
pub async fn create_list(
    env: &Env,
    entity: Entity,
    name: &str,
    smart: Option<&RecordFilter>,
) -> Result<Uuid, AppError> {
    let (p, mut tx, _) = open(env).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field("name", env.t("lists.name_required")));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO lists (tenant_id, id, name, entity, kind, filter, owner_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(name)
    .bind(entity.code())
    .bind(if smart.is_some() { "SMART" } else { "STATIC" })
    .bind(serde_json::to_value(smart).map_err(internal)?)
    .bind(p.actor())
    .execute(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("lists_tenant_id_entity_name_key") => AppError::field("name", env.t("lists.name_taken")),
        _ => internal(e),
    })?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("list.created", "lists", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// One search box across names, emails, phones and companies; typos tolerated.
/// Longer search text than this is refused: no name or email is longer, and each
/// character costs trigram work.
pub const MAX_SEARCH_CHARS: usize = 200;

fn search_text_fits(env: &Env, q: &str) -> Result<(), AppError> {
    if q.chars().count() <= MAX_SEARCH_CHARS {
        return Ok(());
    }
    Err(AppError::field(
        "q",
        crate::i18n::tf(
            env.locale(),
            "validation.too_long",
            &[("n", MAX_SEARCH_CHARS.to_string())],
        ),
    ))
}

pub async fn search(env: &Env, q: &str) -> Result<SearchHits, AppError> {
    let q = q.trim();
    search_text_fits(env, q)?;
    let (p, mut tx, scope) = open(env).await?;
    if q.is_empty() {
        return Ok(SearchHits::default());
    }
    let mut hits = Vec::new();
    for entity in Entity::ALL {
        let mut query = QueryBuilder::new(format!(
            "SELECT r.id, r.{} AS name FROM {} r WHERE r.tenant_id = ",
            entity.name_column(),
            entity.table()
        ));
        query.push_bind(p.tenant_id);
        scope.push(&mut query, "r.owner_id");
        push_filter(
            &mut query,
            entity,
            &RecordFilter {
                q: q.to_string(),
                ..RecordFilter::default()
            },
        );
        query
            .push(" ORDER BY word_similarity(search_norm(")
            .push_bind(q.to_string())
            .push("), r.search) DESC, r.id LIMIT 8");
        for r in query.build().fetch_all(&mut *tx).await? {
            hits.push(Link {
                entity,
                id: r.get("id"),
                name: r.get("name"),
            });
        }
    }
    tx.commit().await?;
    Ok(SearchHits { hits })
}
