//! The work of a claimed job. An import reads its file in batches; each batch is
//! checked, matched against existing records in one query, written with one `UNNEST`
//! insert and one update, and committed with the job's progress, its tally and the
//! failed rows, so a runner that dies mid-file resumes after the last whole batch.
//! Exports are in `export.rs`.

use super::model::*;
use super::rows::{RowRules, Values};
use super::sheet::{CsvOut, Row, Sheet};
use super::ssr::{context, ImportParams};
use crate::auth::model::Role;
use crate::crm::access::Scope;
use crate::crm::model::Entity;
use crate::db::{internal, new_id, Db, Tx};
use crate::error::AppError;
use crate::i18n::{t, Locale};
use crate::jobs::ssr::{self as jobs, Failure};
use crate::request::Principal;
use sqlx::{Postgres, QueryBuilder, Row as _};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Rows per transaction: big enough that a round trip is cheap next to the rows it
/// carries, small enough that progress moves every fraction of a second.
const BATCH: usize = 2_000;

/// A record matched by email, phone or website.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Email(String),
    Phone(String),
    Domain(String),
}

fn keys_of(entity: Entity, v: &Values) -> Vec<Key> {
    let mut keys = Vec::new();
    match entity {
        Entity::Company => keys.extend(v.domain.clone().map(Key::Domain)),
        _ => keys.extend(v.email.as_ref().map(|e| Key::Email(e.to_lowercase()))),
    }
    keys.extend(v.phone.clone().map(Key::Phone));
    keys
}

/// A record found by its keys: id, owner, email (a company's website), phone, created.
type Found = (
    Uuid,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    chrono::DateTime<chrono::Utc>,
);

#[derive(Clone, Copy, Debug)]
struct Known {
    id: Uuid,
    /// In the importing member's scope: they may skip or update it. A record out of
    /// scope is known only so a contact's unique email can be refused.
    editable: bool,
}

/// The records seen so far: looked up in the database, or made by this import.
#[derive(Default)]
pub(super) struct KeyMap {
    known: HashMap<Key, Known>,
}

impl KeyMap {
    fn remember(&mut self, entity: Entity, v: &Values, known: Known) {
        for key in keys_of(entity, v) {
            let entry = self.known.entry(key).or_insert(known);
            if !entry.editable {
                *entry = known;
            }
        }
    }

    /// Looks up the keys of `values` not seen yet: one query per batch.
    async fn load<'a>(
        &mut self,
        tx: &mut Tx,
        entity: Entity,
        scope: &Scope,
        values: impl Iterator<Item = &'a Values>,
    ) -> Result<(), AppError> {
        let (mut emails, mut phones) = (HashSet::new(), HashSet::new());
        for key in values.flat_map(|v| keys_of(entity, v)) {
            if self.known.contains_key(&key) {
                continue;
            }
            match key {
                Key::Email(e) | Key::Domain(e) => emails.insert(e),
                Key::Phone(p) => phones.insert(p),
            };
        }
        if emails.is_empty() && phones.is_empty() {
            return Ok(());
        }
        // Joins with the keys rather than `= ANY($1)`: the planner then probes the
        // indexes key by key (or hashes the keys), and never compares every record
        // with every key. `email_key` is the leakproof twin of the citext email (see
        // migration 0003).
        let sql = match entity {
            Entity::Company => {
                "SELECT r.id, r.owner_id, lower(r.domain), r.phone_e164, r.created_at
                   FROM companies r JOIN unnest($1::text[]) AS k(v) ON lower(r.domain) = k.v
                 UNION
                 SELECT r.id, r.owner_id, lower(r.domain), r.phone_e164, r.created_at
                   FROM companies r JOIN unnest($2::text[]) AS k(v) ON r.phone_e164 = k.v
                 ORDER BY 5, 1"
            }
            Entity::Lead => {
                "SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM leads r JOIN unnest($1::text[]) AS k(v) ON r.email_key = k.v
                 UNION
                 SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM leads r JOIN unnest($2::text[]) AS k(v) ON r.phone_e164 = k.v
                 ORDER BY 5, 1"
            }
            _ => {
                "SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM contacts r JOIN unnest($1::text[]) AS k(v) ON r.email_key = k.v
                 UNION
                 SELECT r.id, r.owner_id, r.email_key, r.phone_e164, r.created_at
                   FROM contacts r JOIN unnest($2::text[]) AS k(v) ON r.phone_e164 = k.v
                 ORDER BY 5, 1"
            }
        };
        let mut found: Vec<Found> = sqlx::query_as(sql)
            .bind(emails.into_iter().collect::<Vec<_>>())
            .bind(phones.into_iter().collect::<Vec<_>>())
            .fetch_all(&mut **tx)
            .await?;
        // The oldest record in scope wins when several share an address: one out of
        // scope must not hide the member's own.
        found.sort_by_key(|(_, owner, ..)| !scope.allows(*owner));
        for (id, owner, email, phone, _) in found {
            let known = Known {
                id,
                editable: scope.allows(owner),
            };
            let email = email.map(|e| match entity {
                Entity::Company => Key::Domain(e),
                _ => Key::Email(e),
            });
            for key in email.into_iter().chain(phone.map(Key::Phone)) {
                self.known.entry(key).or_insert(known);
            }
        }
        Ok(())
    }
}

/// What the import does with one row.
pub(super) struct Planned {
    pub outcome: Outcome,
    pub values: Option<Values>,
    pub reason: Option<String>,
    /// The record created or updated.
    target: Option<Uuid>,
}

/// Decides every row of a batch: checked, matched, and created, updated, skipped or
/// failed under the duplicate rule. Reads only; the preview uses it as it is.
pub(super) async fn plan(
    tx: &mut Tx,
    rules: &RowRules<'_>,
    keys: &mut KeyMap,
    dedupe: Dedupe,
    rows: &[Row],
) -> Result<Vec<Planned>, AppError> {
    let locale = rules.locale;
    let entity = rules.entity;
    let checked: Vec<Result<Values, String>> = rows.iter().map(|r| rules.check(r)).collect();
    keys.load(tx, entity, rules.scope, checked.iter().flatten())
        .await?;
    let planned = checked
        .into_iter()
        .map(|checked| {
            let v = match checked {
                Ok(v) => v,
                Err(reason) => {
                    return Planned {
                        outcome: Outcome::Fail,
                        values: None,
                        reason: Some(reason),
                        target: None,
                    }
                }
            };
            let row_keys = keys_of(entity, &v);
            // A match out of scope is not the member's to skip or update, and the
            // answer must not tell them what it is: the row is created as if it were
            // not there, as saving the record by hand would.
            let hit = row_keys
                .iter()
                .filter_map(|k| keys.known.get(k).copied())
                .find(|k| k.editable);
            // A contact's email is unique, in scope or not: the row can only update the
            // contact that has it (the same answer as saving the contact by hand).
            let email_taken = entity == Entity::Contact
                && row_keys
                    .first()
                    .is_some_and(|k| matches!(k, Key::Email(_)) && keys.known.contains_key(k));
            let fail = |v: Values, key: &str| Planned {
                outcome: Outcome::Fail,
                values: Some(v),
                reason: Some(t(locale, key)),
                target: None,
            };
            match (hit, dedupe) {
                (Some(_), Dedupe::Skip) => Planned {
                    outcome: Outcome::Skip,
                    values: Some(v),
                    reason: Some(t(locale, "import.reason.exists")),
                    target: None,
                },
                (Some(known), Dedupe::Update) => {
                    keys.remember(entity, &v, known);
                    Planned {
                        outcome: Outcome::Update,
                        values: Some(v),
                        reason: None,
                        target: Some(known.id),
                    }
                }
                _ if email_taken => fail(v, "import.error.email_taken"),
                _ => {
                    let id = new_id();
                    keys.remember(entity, &v, Known { id, editable: true });
                    Planned {
                        outcome: Outcome::Create,
                        values: Some(v),
                        reason: None,
                        target: Some(id),
                    }
                }
            }
        })
        .collect();
    Ok(planned)
}

/// How an entity's columns are filled: (field, column, SQL type, default on insert).
type Column = (Field, &'static str, &'static str, Option<&'static str>);

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

fn insert_sql(entity: Entity) -> String {
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
fn update_sql(entity: Entity) -> String {
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

/// One record to write, and the rows of the batch that make it.
struct Pending {
    id: Uuid,
    new: bool,
    values: Values,
    rows: Vec<usize>,
}

/// The importing job, as the batches need it.
struct ImportJob<'a> {
    tenant_id: Uuid,
    user_id: Uuid,
    job_id: Uuid,
    file_name: &'a str,
    entity: Entity,
    locale: Locale,
    /// The importing member's: a company name links only to a company they may see.
    scope: &'a Scope,
}

/// Writes a planned batch; adds to the tally and returns the failed rows with their
/// reason.
async fn write(
    tx: &mut Tx,
    job: &ImportJob<'_>,
    companies: &mut HashMap<String, Uuid>,
    planned: Vec<Planned>,
    counts: &mut Counts,
) -> Result<Vec<(usize, String)>, AppError> {
    let mut failed = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut by_id: HashMap<Uuid, usize> = HashMap::new();
    for (i, p) in planned.into_iter().enumerate() {
        match (p.outcome, p.target, p.values) {
            (Outcome::Skip, ..) => counts.skipped += 1,
            (Outcome::Create | Outcome::Update, Some(id), Some(values)) => match by_id.get(&id) {
                Some(&at) => {
                    pending[at].values.merge(values);
                    pending[at].rows.push(i);
                }
                None => {
                    by_id.insert(id, pending.len());
                    pending.push(Pending {
                        id,
                        new: p.outcome == Outcome::Create,
                        values,
                        rows: vec![i],
                    });
                }
            },
            (_, _, _) => failed.push((i, p.reason.unwrap_or_default())),
        }
    }
    if pending.is_empty() {
        counts.failed += failed.len() as u32;
        return Ok(failed);
    }
    let shape = shape(job.entity);
    let company_ids = if shape.company {
        counts.companies_created += resolve_companies(tx, job, companies, &pending).await?;
        pending
            .iter()
            .map(|p| {
                p.values
                    .company
                    .as_ref()
                    .and_then(|c| companies.get(&c.to_lowercase()).copied())
            })
            .collect()
    } else {
        Vec::new()
    };

    let (new, old): (Vec<usize>, Vec<usize>) = (0..pending.len()).partition(|&i| pending[i].new);
    // Inserts take the tenant first and give ownerless rows to the importer; updates
    // leave the owner alone unless the row names one.
    let (insert_text, update_text) = (insert_sql(job.entity), update_sql(job.entity));
    let (insert_text, update_text) = (insert_text.as_str(), update_text.as_str());
    let bind = |which: &[usize], insert: bool| {
        let mut q = sqlx::query(if insert { insert_text } else { update_text });
        if insert {
            q = q.bind(job.tenant_id);
        }
        let owner_default = insert.then_some(job.user_id);
        q = q
            .bind(which.iter().map(|&i| pending[i].id).collect::<Vec<_>>())
            .bind(
                which
                    .iter()
                    .map(|&i| pending[i].values.owner.or(owner_default))
                    .collect::<Vec<_>>(),
            )
            .bind(
                which
                    .iter()
                    .map(|&i| pending[i].values.joined_tags())
                    .collect::<Vec<_>>(),
            );
        if shape.company {
            q = q.bind(
                which
                    .iter()
                    .map(|&i| company_ids[i])
                    .collect::<Vec<Option<Uuid>>>(),
            );
        }
        for (field, ..) in shape.columns {
            q = q.bind(
                which
                    .iter()
                    .map(|&i| pending[i].values.text(*field))
                    .collect::<Vec<_>>(),
            );
        }
        q
    };

    let mut inserted: HashSet<Uuid> = HashSet::new();
    if !new.is_empty() {
        let ids: Vec<Uuid> = bind(&new, true)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        inserted.extend(ids);
    }
    if !old.is_empty() {
        bind(&old, false).execute(&mut **tx).await?;
    }

    let mut touched: Vec<(Uuid, &str)> = Vec::new();
    for p in &pending {
        match (p.new, inserted.contains(&p.id)) {
            (true, true) => {
                counts.created += 1;
                counts.updated += p.rows.len() as u32 - 1;
                touched.push((p.id, "created"));
            }
            (true, false) => {
                let reason = t(job.locale, "import.error.email_taken");
                failed.extend(p.rows.iter().map(|&i| (i, reason.clone())));
            }
            (false, _) => {
                counts.updated += p.rows.len() as u32;
                touched.push((p.id, "updated"));
            }
        }
    }
    counts.failed += failed.len() as u32;
    failed.sort_by_key(|(i, _)| *i);

    // The records' timelines say where they came from.
    sqlx::query(&format!(
        "INSERT INTO activities (tenant_id, id, kind, {}, actor_id, subject, data)
         SELECT $1, u.id, 'IMPORTED', u.record, $2, $3,
                jsonb_build_object('job_id', $4::uuid, 'action', u.action)
           FROM UNNEST($5::uuid[], $6::uuid[], $7::text[]) AS u(id, record, action)",
        job.entity.activity_column()
    ))
    .bind(job.tenant_id)
    .bind(job.user_id)
    .bind(job.file_name)
    .bind(job.job_id)
    .bind(touched.iter().map(|_| new_id()).collect::<Vec<_>>())
    .bind(touched.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(touched.iter().map(|(_, a)| *a).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(failed)
}

/// Company names to ids: the tenant's company of that name (any letter case), or a
/// new one owned like the first record naming it. Returns how many were made.
async fn resolve_companies(
    tx: &mut Tx,
    job: &ImportJob<'_>,
    cache: &mut HashMap<String, Uuid>,
    pending: &[Pending],
) -> Result<u32, AppError> {
    let mut wanted: Vec<(String, &str, Option<Uuid>)> = Vec::new();
    for p in pending {
        if let Some(name) = &p.values.company {
            let key = name.to_lowercase();
            if !cache.contains_key(&key) && !wanted.iter().any(|(k, ..)| *k == key) {
                wanted.push((key, name, p.values.owner));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(0);
    }
    // A company out of the member's scope is neither linked nor revealed: the name
    // makes a company of their own, as saving a record by hand does.
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT DISTINCT ON (k.v) k.v, r.id FROM companies r JOIN unnest(");
    q.push_bind(wanted.iter().map(|(k, ..)| k.clone()).collect::<Vec<_>>())
        .push("::text[]) AS k(v) ON lower(r.name) = k.v WHERE true");
    job.scope.push(&mut q, "r.owner_id");
    q.push(" ORDER BY k.v, r.created_at, r.id");
    let found: Vec<(String, Uuid)> = q.build_query_as().fetch_all(&mut **tx).await?;
    cache.extend(found);
    let missing: Vec<_> = wanted
        .into_iter()
        .filter(|(k, ..)| !cache.contains_key(k))
        .map(|(k, name, owner)| (k, name, owner, new_id()))
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "INSERT INTO companies (tenant_id, id, name, owner_id)
         SELECT $1, u.id, u.name, u.owner FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS u(id, name, owner)",
    )
    .bind(job.tenant_id)
    .bind(missing.iter().map(|m| m.3).collect::<Vec<_>>())
    .bind(missing.iter().map(|m| m.1).collect::<Vec<_>>())
    .bind(
        missing
            .iter()
            .map(|m| m.2.unwrap_or(job.user_id))
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    let made = missing.len() as u32;
    cache.extend(missing.into_iter().map(|(k, _, _, id)| (k, id)));
    Ok(made)
}

/// A claimed job as the runner reads it.
pub(super) struct Claimed {
    pub(super) id: Uuid,
    pub(super) tenant_id: Uuid,
    pub(super) kind: JobKind,
    pub(super) entity: Entity,
    pub(super) params: serde_json::Value,
    pub(super) processed: i32,
    pub(super) counts: Counts,
    pub(super) creator: Principal,
    pub(super) creator_active: bool,
}

async fn load(db: &Db, tenant_id: Uuid, id: Uuid) -> Result<Claimed, AppError> {
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let row = sqlx::query(
        "SELECT j.kind, j.entity, j.params, j.processed, j.result, j.created_by,
                m.id AS membership_id, m.role, m.status, u.name, u.email::text AS email
           FROM jobs j
           JOIN memberships m ON m.user_id = j.created_by
           JOIN users u ON u.id = j.created_by
          WHERE j.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let code = |col: &str| row.try_get::<String, _>(col);
    Ok(Claimed {
        id,
        tenant_id,
        kind: JobKind::parse(&code("kind")?).ok_or_else(|| internal("job kind"))?,
        entity: Entity::parse(&code("entity")?).ok_or_else(|| internal("job entity"))?,
        params: row.try_get("params")?,
        processed: row.try_get("processed")?,
        counts: serde_json::from_value(row.try_get("result")?).unwrap_or_default(),
        creator: Principal {
            user_id: row.try_get("created_by")?,
            tenant_id,
            membership_id: row.try_get("membership_id")?,
            role: Role::parse(&code("role")?).ok_or_else(|| internal("member role"))?,
            name: code("name")?,
            email: code("email")?,
            must_enrol_2fa: false,
            must_verify_email: false,
            unpaid_invoice: None,
            grants: Vec::new(),
            api_key: None,
        },
        creator_active: code("status")? == "ACTIVE",
    })
}

/// Runs an attempt of a job the caller claimed (`claim_job()`). A finished job is
/// DONE; a failed attempt goes to the job facility, which retries it after a pause,
/// dead-letters it, or fails it for good (`jobs::ssr::fail`). An error is returned
/// only when even recording the outcome failed.
pub async fn run_job(db: &Db, tenant_id: Uuid, id: Uuid) -> Result<(), AppError> {
    jobs::started(db, tenant_id, id).await?;
    let outcome = match load(db, tenant_id, id).await {
        Err(err) => Err(err),
        Ok(job) if !job.creator_active => {
            // Work done in the name of someone who may no longer act for the tenant.
            let locale = job
                .params
                .get("locale")
                .and_then(|l| serde_json::from_value::<Locale>(l.clone()).ok())
                .unwrap_or_default();
            Err(AppError::Forbidden(t(locale, "jobs.error.member_inactive")))
        }
        Ok(job) => match job.kind {
            JobKind::Import => import(db, &job).await,
            JobKind::Export => super::export::export(db, &job).await,
        },
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(err) => {
            tracing::warn!(job = %id, tenant = %tenant_id, error = %err, "job attempt failed");
            jobs::fail(db, tenant_id, id, Failure::of(&err))
                .await
                .map(|_| ())
        }
    }
}

async fn import(db: &Db, job: &Claimed) -> Result<(), AppError> {
    let params: ImportParams = serde_json::from_value(job.params.clone()).map_err(internal)?;
    let user_id = job.creator.user_id;
    let mut tx = db.tenant_tx(job.tenant_id, Some(user_id)).await?;
    let content: Vec<u8> =
        sqlx::query_scalar("SELECT content FROM job_files WHERE job_id = $1 AND name = 'input'")
            .bind(job.id)
            .fetch_one(&mut *tx)
            .await?;
    let ctx = context(&mut tx, &job.creator).await?;
    tx.commit().await?;
    let text = String::from_utf8(content).map_err(internal)?;
    let sheet = Sheet::new(&text);
    let (_, rows) = sheet.rows();
    let rules = RowRules {
        entity: job.entity,
        mapping: &params.mapping,
        region: ctx.region.as_deref(),
        members: &ctx.members,
        scope: &ctx.scope,
        locale: params.locale,
    };
    let import_job = ImportJob {
        tenant_id: job.tenant_id,
        user_id,
        job_id: job.id,
        file_name: &params.file_name,
        entity: job.entity,
        locale: params.locale,
        scope: &ctx.scope,
    };
    // The error file starts with the file's own header and two more columns.
    let mut errors_header = CsvOut::new(sheet.delimiter, true);
    errors_header
        .row(params.headers.iter().map(String::as_str).chain([
            t(params.locale, "import.errors.line").as_str(),
            t(params.locale, "import.errors.reason").as_str(),
        ]))
        .map_err(internal)?;
    let errors_header = errors_header.finish().map_err(internal)?;

    let mut keys = KeyMap::default();
    let mut companies = HashMap::new();
    let mut counts = job.counts;
    let mut processed = job.processed.max(0) as usize;
    // Resuming after a runner died: the committed batches are done.
    let mut rows = rows.skip(processed);
    loop {
        let batch: Vec<Row> = rows.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        let mut tx = db.tenant_tx(job.tenant_id, Some(user_id)).await?;
        // While a table fills faster than autovacuum analyzes it, the planner's
        // estimates are far off and it would JIT-compile these short statements on
        // every batch, which costs more than running them.
        sqlx::query("SELECT set_config('jit', 'off', true)")
            .execute(&mut *tx)
            .await?;
        let planned = plan(&mut tx, &rules, &mut keys, params.dedupe, &batch).await?;
        let failed = write(&mut tx, &import_job, &mut companies, planned, &mut counts).await?;
        processed += batch.len();
        if !failed.is_empty() {
            let mut out = CsvOut::new(sheet.delimiter, false);
            for (i, reason) in &failed {
                let row = &batch[*i];
                let mut cells: Vec<String> = (0..params.headers.len().max(row.cells.len()))
                    .map(|c| row.cell(c).to_string())
                    .collect();
                cells.truncate(params.headers.len());
                cells.resize(params.headers.len(), String::new());
                cells.push(row.line.to_string());
                cells.push(reason.clone());
                out.row(&cells).map_err(internal)?;
            }
            let lines = out.finish().map_err(internal)?;
            // Part 0 is the header; each batch with failures adds the next part.
            sqlx::query(
                "INSERT INTO job_files (tenant_id, job_id, name, part, content)
                 VALUES ($1, $2, 'errors', 0, $3), ($1, $2, 'errors', $4, $5)
                 ON CONFLICT (tenant_id, job_id, name, part) DO UPDATE SET content = EXCLUDED.content",
            )
            .bind(job.tenant_id)
            .bind(job.id)
            .bind(&errors_header)
            .bind(i32::try_from(processed.div_ceil(BATCH)).unwrap_or(i32::MAX))
            .bind(&lines)
            .execute(&mut *tx)
            .await?;
        }
        let still_running = sqlx::query(
            "UPDATE jobs SET processed = $2, result = $3, locked_at = now()
              WHERE id = $1 AND status = 'RUNNING'",
        )
        .bind(job.id)
        .bind(processed as i32)
        .bind(serde_json::to_value(counts).map_err(internal)?)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !still_running {
            // Cancelled meanwhile: this batch is rolled back, the earlier ones stay.
            tx.rollback().await?;
            return Ok(());
        }
        tx.commit().await?;
    }
    let mut tx = db.tenant_tx(job.tenant_id, Some(user_id)).await?;
    let done = sqlx::query(
        "UPDATE jobs SET status = 'DONE', finished_at = now() WHERE id = $1 AND status = 'RUNNING'",
    )
    .bind(job.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        jobs::finished(&mut tx, job.tenant_id, job.id).await?;
    }
    tx.commit().await.map_err(internal)
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

    #[test]
    fn companies_match_on_website_and_people_on_email() {
        let v = Values {
            email: Some("A@X.com".into()),
            domain: Some("x.com".into()),
            phone: Some("+14155552671".into()),
            ..Values::default()
        };
        assert_eq!(
            keys_of(Entity::Contact, &v),
            vec![
                Key::Email("a@x.com".into()),
                Key::Phone("+14155552671".into())
            ]
        );
        assert_eq!(
            keys_of(Entity::Company, &v),
            vec![
                Key::Domain("x.com".into()),
                Key::Phone("+14155552671".into())
            ]
        );
    }
}
