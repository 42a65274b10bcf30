//! The work of a claimed job. An import reads its file in batches; each batch is
//! checked, matched against existing records in one query, written with one `UNNEST`
//! insert and one update, and committed with the job's progress, its tally and the
//! failed rows, so a runner that dies mid-file resumes after the last whole batch.
//! Rows are decided in `matching.rs` and written by the SQL in `batch_sql.rs`; exports
//! are in `export.rs`.

use super::batch_sql::{insert_sql, shape, update_sql};
use super::matching::{plan, KeyMap, Planned};
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
            timezone: "UTC".to_string(),
            theme: "light".to_string(),
            digits: Default::default(),
            staff: false,
            support: None,
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
