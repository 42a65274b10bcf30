//! Record queries. Tables page by keyset on (name, id) or (created_at, id) over
//! tenant-leading indexes; every query adds the viewer's scope.

pub use super::custom::{
    add_custom_field, list_custom_fields, remove_custom_field, NewCustomField,
};
use super::custom::{check_custom, custom_fields, custom_text};
use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::{push_filter, Scope};
use crate::crm::activity;
use crate::crm::board::ssr::members;
use crate::crm::model::{ActivityKind, Entity, MemberRef, RecordFilter};
use crate::crm::money::{self, Money};
use crate::crm::phone::{self, PhoneError};
use crate::db::{internal, new_id, take_page, violated_constraint, Tx};
use crate::developers::deliver;
use crate::error::AppError;
use crate::request::{Env, Principal};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;
use uuid::Uuid;

// Kept here so callers see one module of record queries.
pub use super::bulk::{bulk, create_list, lists, update_list};
use super::search::search_text_fits;
pub use super::search::{search, MAX_SEARCH_CHARS};
pub use super::timeline::{
    add_activity, change_task, complete_task, my_tasks, timeline, NewActivity, TaskChange,
};

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

fn record_row(row: &PgRow) -> Result<RecordRow, sqlx::Error> {
    let company_id: Option<Uuid> = row.try_get("company_id")?;
    let company_name: Option<String> = row.try_get("company_name")?;
    let owner_id: Option<Uuid> = row.try_get("owner_id")?;
    let owner_name: Option<String> = row.try_get("owner_name")?;
    let amount: Option<i64> = row.try_get("amount_minor")?;
    let currency: Option<String> = row.try_get("currency")?;
    Ok(RecordRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        company: company_id.map(|id| Link {
            entity: Entity::Company,
            id,
            name: company_name.unwrap_or_default(),
        }),
        owner: owner_id.map(|user_id| MemberRef {
            user_id,
            name: owner_name.unwrap_or_default(),
        }),
        status: row.try_get("status")?,
        score: row.try_get("score")?,
        amount: amount.map(|minor| Money {
            minor,
            currency: currency.unwrap_or_default(),
        }),
        tags: row.try_get("tags")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) async fn open(env: &Env) -> Result<(&Principal, Tx, Scope), AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
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
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
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
    let row = record_row(&row)?;
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
    let rows = sqlx::query(&format!("SELECT * FROM ({related_sql}) x LIMIT 100"))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    let mut related = Vec::new();
    for r in &rows {
        if !scope.allows(r.try_get("owner_id")?) {
            continue;
        }
        let Some(entity) = Entity::parse(r.try_get::<String, _>("e")?.as_str()) else {
            continue;
        };
        related.push(Link {
            entity,
            id: r.try_get("id")?,
            name: r.try_get("name")?,
        });
    }
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
                let Some(status) = LeadStatus::parse(&text.to_ascii_uppercase()) else {
                    return Err(AppError::field("status", env.t("records.status_invalid")));
                };
                Value::Text(Some(status.code().to_string()))
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
                    money::parse(env.locale(), text, &currency)
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

pub(super) fn unique_error(env: &Env, err: sqlx::Error) -> AppError {
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
    activity::log(
        &mut tx,
        p,
        entity,
        id,
        ActivityKind::Created,
        serde_json::json!({}),
    )
    .await?;
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
        activity::log(&mut tx, p, entity, id, ActivityKind::Assignment, data).await?;
    }
    let old_status = before
        .get("status")
        .and_then(|s| s.as_str())
        .map(str::to_string);
    if let Some(status) = new_status.filter(|s| Some(s) != old_status.as_ref()) {
        let data = serde_json::json!({ "from": old_status, "to": status });
        activity::log(&mut tx, p, entity, id, ActivityKind::StatusChange, data).await?;
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
