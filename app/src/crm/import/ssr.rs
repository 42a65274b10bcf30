//! Import and export as a member asks for them: upload a file, preview and start an
//! import, start an export, follow a job, download its files. The work itself runs
//! later, in a job runner (see `runner.rs`).

use super::matching::{self, KeyMap};
use super::model::*;
use super::rows::RowRules;
use super::sheet::{self, Row, Sheet, SheetError};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::crm::model::{Entity, RecordFilter};
use crate::db::{internal, new_id, Db, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::jobs::model::LogLevel;
use crate::request::{Env, Principal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row as _;
use std::collections::HashMap;
use uuid::Uuid;

/// The largest file accepted: 100,000 typical contact rows take about 10 MB.
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;
const MAX_ROWS: u64 = 200_000;
const MAX_COLUMNS: usize = 200;
/// Rows kept from the upload for the preview.
const PREVIEW_ROWS: usize = 10;
/// Runners LISTEN here; starting a job NOTIFYs it (delivered at commit).
pub const JOBS_CHANNEL: &str = "leadline_jobs";

/// What `jobs.params` holds for an import, from the upload on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ImportParams {
    pub file_name: String,
    pub delimiter: char,
    pub headers: Vec<String>,
    /// The first rows, for the preview.
    pub sample: Vec<(u64, Vec<String>)>,
    /// Set when the import starts.
    #[serde(default)]
    pub mapping: Vec<Option<Field>>,
    #[serde(default)]
    pub dedupe: Dedupe,
    /// The starting member's language, for the reasons in the error file.
    #[serde(default)]
    pub locale: Locale,
}

/// What `jobs.params` holds for an export.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ExportParams {
    pub file_name: String,
    pub filter: RecordFilter,
    #[serde(default)]
    pub locale: Locale,
}

/// The answer to a body over [`MAX_UPLOAD_BYTES`].
pub fn too_large(locale: Locale) -> AppError {
    AppError::field(
        "file",
        tf(
            locale,
            "import.error.too_large",
            &[("mb", (MAX_UPLOAD_BYTES / (1024 * 1024)).to_string())],
        ),
    )
}

pub(crate) fn sheet_error(locale: Locale, err: SheetError) -> AppError {
    let key = match err {
        SheetError::Empty => "import.error.empty",
        SheetError::NoRows => "import.error.no_rows",
        SheetError::Workbook => "import.error.workbook",
        SheetError::TooBig => "import.error.workbook_too_big",
        SheetError::Binary => "import.error.binary",
        SheetError::Encoding => "import.error.encoding",
    };
    AppError::field("file", t(locale, key))
}

/// The kinds of record that import and export, or a message for the `entity` field.
fn importable(locale: Locale, code: &str) -> Result<Entity, AppError> {
    Entity::parse(code)
        .filter(|e| IMPORTABLE.contains(e))
        .ok_or_else(|| AppError::field("entity", t(locale, "import.error.entity")))
}

/// The name a file is shown and downloaded under: its last path part, printable,
/// at most 120 characters.
fn clean_file_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        fallback.to_string()
    } else {
        clean.to_string()
    }
}

/// Every label of every field in every language, as header keys: a file exported in
/// Arabic maps back to its fields when imported.
fn field_labels() -> Vec<(String, Field)> {
    Locale::ALL
        .into_iter()
        .flat_map(|l| Field::ALL.map(|f| (header_key(&t(l, &f.label_key())), f)))
        .collect()
}

/// The member's last mapping for these headers where it knows them, a guess for the
/// rest; each field at most once. True when the memory was used.
fn first_mapping(
    entity: Entity,
    headers: &[String],
    remembered: Option<serde_json::Value>,
) -> (Vec<Option<Field>>, bool) {
    let remembered: HashMap<String, Option<String>> = remembered
        .and_then(|m| serde_json::from_value(m).ok())
        .unwrap_or_default();
    let allowed = Field::for_entity(entity);
    let mut used = false;
    let mut mapping: Vec<Option<Option<Field>>> = headers
        .iter()
        .map(|h| {
            let known = remembered.get(&header_key(h))?;
            used = true;
            Some(
                known
                    .as_deref()
                    .and_then(Field::parse)
                    .filter(|f| allowed.contains(f)),
            )
        })
        .collect();
    let guesses = guess_all(entity, headers, &field_labels());
    let mut taken: Vec<Field> = mapping.iter().flatten().flatten().copied().collect();
    for (slot, guess) in mapping.iter_mut().zip(guesses) {
        if slot.is_none() {
            let field = guess.filter(|f| !taken.contains(f));
            taken.extend(field);
            *slot = Some(field);
        }
    }
    (mapping.into_iter().map(Option::flatten).collect(), used)
}

/// A mapping the import can run: one entry per column, fields of this kind of record,
/// none twice, and something for the name.
fn check_mapping(
    locale: Locale,
    entity: Entity,
    columns: usize,
    mapping: &[Option<Field>],
) -> Result<(), AppError> {
    let wrong =
        |key: &str, args: &[(&str, String)]| Err(AppError::field("mapping", tf(locale, key, args)));
    if mapping.len() != columns {
        return wrong("import.mapping.stale", &[]);
    }
    let allowed = Field::for_entity(entity);
    let mut seen = Vec::new();
    for field in mapping.iter().flatten() {
        let label = t(locale, &field.label_key());
        if !allowed.contains(field) {
            return wrong("import.mapping.not_here", &[("field", label)]);
        }
        if seen.contains(field) {
            return wrong("import.mapping.twice", &[("field", label)]);
        }
        seen.push(*field);
    }
    if !seen
        .iter()
        .any(|f| matches!(f, Field::Name | Field::FirstName | Field::LastName))
    {
        return wrong("import.mapping.need_name", &[]);
    }
    Ok(())
}

/// Receives a file for an import of `entity`: checks that it is a CSV with rows,
/// keeps it as a draft job, and answers with its columns and a first mapping.
/// Uploaded files waiting to be mapped and imported, per tenant: two full-size files.
pub const MAX_DRAFT_BYTES: usize = 2 * MAX_UPLOAD_BYTES;

pub async fn upload(
    env: &Env,
    entity: &str,
    file_name: &str,
    bytes: &[u8],
) -> Result<UploadInfo, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let locale = env.locale();
    let entity = importable(locale, entity)?;
    if bytes.is_empty() {
        // No name either: nothing was chosen at all.
        let key = if file_name.trim().is_empty() {
            "import.error.no_file"
        } else {
            "import.error.empty"
        };
        return Err(AppError::field("file", t(locale, key)));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(too_large(locale));
    }
    let text = sheet::decode(bytes).map_err(|e| sheet_error(locale, e))?;
    let sheet = Sheet::new(&text);
    let survey = sheet
        .survey(PREVIEW_ROWS)
        .map_err(|e| sheet_error(locale, e))?;
    if survey.headers.len() > MAX_COLUMNS {
        return Err(AppError::field(
            "file",
            tf(
                locale,
                "import.error.too_many_columns",
                &[("max", MAX_COLUMNS.to_string())],
            ),
        ));
    }
    if survey.rows > MAX_ROWS {
        return Err(AppError::field(
            "file",
            tf(
                locale,
                "import.error.too_many_rows",
                &[("max", MAX_ROWS.to_string())],
            ),
        ));
    }
    let file_name = clean_file_name(file_name, "import.csv");
    let examples = (0..survey.headers.len())
        .map(|i| {
            survey
                .first
                .iter()
                .map(|r| r.cell(i))
                .find(|c| !c.is_empty())
                .unwrap_or("")
                .chars()
                .take(60)
                .collect()
        })
        .collect();
    let params = ImportParams {
        file_name: file_name.clone(),
        delimiter: char::from(sheet.delimiter),
        headers: survey.headers.clone(),
        sample: survey
            .first
            .into_iter()
            .map(|r| (r.line, r.cells))
            .collect(),
        mapping: Vec::new(),
        dedupe: Dedupe::default(),
        locale,
    };

    let mut tx = env.tx(p).await?;
    // Files nobody went on to import do not pile up: the worker sweeps drafts older
    // than a day, and meanwhile a tenant's waiting files share one budget. The lock
    // makes concurrent uploads of one tenant take turns at the count.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('import drafts ' || $1::text, 0))")
        .bind(p.tenant_id)
        .execute(&mut *tx)
        .await?;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(octet_length(f.content)), 0)::bigint
           FROM jobs j JOIN job_files f ON f.tenant_id = j.tenant_id AND f.job_id = j.id
          WHERE j.status = 'DRAFT' AND j.created_at >= now() - interval '1 day'",
    )
    .fetch_one(&mut *tx)
    .await?;
    if waiting as usize + text.len() > MAX_DRAFT_BYTES {
        return Err(AppError::field(
            "file",
            tf(
                locale,
                "import.error.drafts_full",
                &[("mb", (MAX_DRAFT_BYTES / (1024 * 1024)).to_string())],
            ),
        ));
    }
    let remembered: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT mapping FROM import_mappings WHERE user_id = $1 AND entity = $2",
    )
    .bind(p.user_id)
    .bind(entity.code())
    .fetch_optional(&mut *tx)
    .await?;
    let (mapping, remembered) = first_mapping(entity, &survey.headers, remembered);
    let job_id = new_id();
    sqlx::query(
        "INSERT INTO jobs (tenant_id, id, kind, entity, status, params, total, created_by)
         VALUES ($1, $2, 'IMPORT', $3, 'DRAFT', $4, $5, $6)",
    )
    .bind(p.tenant_id)
    .bind(job_id)
    .bind(entity.code())
    .bind(serde_json::to_value(&params).map_err(internal)?)
    .bind(survey.rows as i32)
    .bind(p.user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO job_files (tenant_id, job_id, name, content) VALUES ($1, $2, 'input', $3)",
    )
    .bind(p.tenant_id)
    .bind(job_id)
    .bind(text.as_bytes())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(UploadInfo {
        job_id,
        entity,
        file_name,
        rows: survey.rows as u32,
        delimiter: char::from(sheet.delimiter),
        headers: survey.headers,
        examples,
        mapping,
        remembered,
    })
}

/// The member's own draft import (locked for the transaction).
async fn draft(
    tx: &mut Tx,
    p: &Principal,
    locale: Locale,
    id: Uuid,
) -> Result<(Entity, ImportParams), AppError> {
    let row = sqlx::query(
        "SELECT entity, params FROM jobs
          WHERE id = $1 AND created_by = $2 AND kind = 'IMPORT' AND status = 'DRAFT'
          FOR UPDATE",
    )
    .bind(id)
    .bind(p.user_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| AppError::NotFound(t(locale, "import.error.draft_gone")))?;
    let entity = Entity::parse(row.try_get::<String, _>("entity")?.as_str())
        .ok_or_else(|| internal("job entity"))?;
    let params = serde_json::from_value(row.try_get("params")?).map_err(internal)?;
    Ok((entity, params))
}

/// What rows are checked against: the tenant's phone country, its active members by
/// email, and whom the member may give records to.
pub(super) struct Context {
    pub region: Option<String>,
    pub members: HashMap<String, Uuid>,
    pub scope: Scope,
}

pub(super) async fn context(tx: &mut Tx, p: &Principal) -> Result<Context, AppError> {
    let region: Option<String> =
        sqlx::query_scalar("SELECT phone_region FROM tenants WHERE id = $1")
            .bind(p.tenant_id)
            .fetch_optional(&mut **tx)
            .await?
            .flatten();
    let members = sqlx::query_as::<_, (String, Uuid)>(
        "SELECT lower(u.email::text), m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.status = 'ACTIVE'",
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let scope = Scope::load(tx, p).await?;
    Ok(Context {
        region,
        members,
        scope,
    })
}

/// The first rows of a draft as the import would write them with this plan.
pub async fn preview(env: &Env, plan: ImportPlan) -> Result<Preview, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let locale = env.locale();
    let mut tx = env.tx(p).await?;
    let (entity, params) = draft(&mut tx, p, locale, plan.job_id).await?;
    check_mapping(locale, entity, params.headers.len(), &plan.mapping)?;
    let ctx = context(&mut tx, p).await?;
    let rules = RowRules {
        entity,
        mapping: &plan.mapping,
        region: ctx.region.as_deref(),
        members: &ctx.members,
        scope: &ctx.scope,
        locale,
    };
    let rows: Vec<Row> = params
        .sample
        .into_iter()
        .map(|(line, cells)| Row { line, cells })
        .collect();
    let planned =
        matching::plan(&mut tx, &rules, &mut KeyMap::default(), plan.dedupe, &rows).await?;
    // Nothing was written; the lock on the draft goes with the transaction.
    tx.rollback().await?;
    let fields: Vec<Field> = Field::for_entity(entity)
        .iter()
        .copied()
        .filter(|f| !matches!(f, Field::FirstName | Field::LastName))
        .filter(|f| match f {
            Field::Name => true,
            f => plan.mapping.contains(&Some(*f)),
        })
        .collect();
    let rows = rows
        .iter()
        .zip(planned)
        .map(|(row, planned)| PreviewRow {
            line: row.line,
            // A row that fails shows what the file says, so the member sees what to fix.
            values: fields
                .iter()
                .map(|f| match &planned.values {
                    Some(v) => v.text(*f).unwrap_or_default(),
                    None => raw_value(row, &plan.mapping, *f),
                })
                .collect(),
            outcome: planned.outcome,
            reason: planned.reason,
        })
        .collect();
    Ok(Preview { fields, rows })
}

/// The cells of `row` mapped to `field` as the file has them (first and last names
/// joined for the name).
fn raw_value(row: &Row, mapping: &[Option<Field>], field: Field) -> String {
    let wanted: &[Field] = match field {
        Field::Name if !mapping.contains(&Some(Field::Name)) => {
            &[Field::FirstName, Field::LastName]
        }
        _ => &[field],
    };
    wanted
        .iter()
        .filter_map(|f| mapping.iter().position(|m| *m == Some(*f)))
        .map(|i| row.cell(i))
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Queues a draft with its mapping and duplicate rule, and remembers the mapping.
pub async fn start(env: &Env, plan: ImportPlan) -> Result<Uuid, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let locale = env.locale();
    let mut tx = env.tx(p).await?;
    let (entity, mut params) = draft(&mut tx, p, locale, plan.job_id).await?;
    check_mapping(locale, entity, params.headers.len(), &plan.mapping)?;
    let memory: HashMap<String, Option<&str>> = params
        .headers
        .iter()
        .zip(&plan.mapping)
        .map(|(h, f)| (header_key(h), f.map(Field::code)))
        .filter(|(key, _)| !key.is_empty())
        .collect();
    params.mapping = plan.mapping;
    params.dedupe = plan.dedupe;
    params.locale = locale;
    let total: i32 = sqlx::query_scalar(
        "UPDATE jobs SET status = 'QUEUED', params = $2, created_at = now() WHERE id = $1 RETURNING total",
    )
    .bind(plan.job_id)
    .bind(serde_json::to_value(&params).map_err(internal)?)
    .fetch_one(&mut *tx)
    .await
    ?;
    sqlx::query(
        "INSERT INTO import_mappings (tenant_id, user_id, entity, mapping) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, user_id, entity)
         DO UPDATE SET mapping = EXCLUDED.mapping, updated_at = now()",
    )
    .bind(p.tenant_id)
    .bind(p.user_id)
    .bind(entity.code())
    .bind(json!(memory))
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("import.started", "job", Some(plan.job_id)).after(json!({
            "entity": entity.code(),
            "file": params.file_name,
            "rows": total,
            "dedupe": params.dedupe.code(),
            "mapping": params.mapping.iter().map(|f| f.map(Field::code)).collect::<Vec<_>>(),
        })),
    )
    .await?;
    notify(&mut tx).await?;
    tx.commit().await?;
    Ok(plan.job_id)
}

async fn notify(tx: &mut Tx) -> Result<(), AppError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(JOBS_CHANNEL)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Queues an export of what the member's table view of `entity` shows with `filter`.
pub async fn start_export(
    env: &Env,
    entity: Entity,
    filter: RecordFilter,
) -> Result<Uuid, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let locale = env.locale();
    let entity = importable(locale, entity.code())?;
    if filter.q.chars().count() > 200 {
        return Err(AppError::field(
            "q",
            t(locale, "export.error.query_too_long"),
        ));
    }
    let params = ExportParams {
        file_name: format!(
            "{}-{}.csv",
            entity.table(),
            chrono::Utc::now().format("%Y-%m-%d-%H%M")
        ),
        filter,
        locale,
    };
    let mut tx = env.tx(p).await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO jobs (tenant_id, id, kind, entity, status, params, created_by)
         VALUES ($1, $2, 'EXPORT', $3, 'QUEUED', $4, $5)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(entity.code())
    .bind(serde_json::to_value(&params).map_err(internal)?)
    .bind(p.user_id)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("export.started", "job", Some(id)).after(json!({
            "entity": entity.code(),
            "filter": params.filter,
        })),
    )
    .await?;
    notify(&mut tx).await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) const JOB_COLUMNS: &str =
    "j.id, j.kind, j.entity, j.status, coalesce(j.params->>'file_name', '') AS file_name,
    j.total, j.processed, j.result, j.error, j.created_at, j.finished_at, j.attempts,
    j.max_attempts, j.run_at, coalesce(u.name, '') AS creator,
    EXISTS (SELECT 1 FROM job_files f WHERE f.job_id = j.id AND f.name = 'errors') AS has_errors,
    EXISTS (SELECT 1 FROM job_files f WHERE f.job_id = j.id AND f.name = 'output') AS has_output";

/// `FROM` with the creator's name, for [`JOB_COLUMNS`].
pub(crate) const JOB_FROM: &str = "jobs j LEFT JOIN users u ON u.id = j.created_by";

/// A row of [`JOB_COLUMNS`].
#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: Uuid,
    kind: String,
    entity: String,
    status: String,
    file_name: String,
    total: i32,
    processed: i32,
    result: serde_json::Value,
    error: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    attempts: i32,
    max_attempts: i32,
    run_at: chrono::DateTime<chrono::Utc>,
    creator: String,
    has_errors: bool,
    has_output: bool,
}

impl TryFrom<JobRow> for JobView {
    type Error = AppError;

    fn try_from(row: JobRow) -> Result<JobView, AppError> {
        let state = JobState::parse(&row.status).ok_or_else(|| internal("job status"))?;
        let count = |n: i32| u32::try_from(n).unwrap_or(0);
        Ok(JobView {
            id: row.id,
            kind: JobKind::parse(&row.kind).ok_or_else(|| internal("job kind"))?,
            entity: Entity::parse(&row.entity).ok_or_else(|| internal("job entity"))?,
            state,
            file_name: row.file_name,
            total: count(row.total),
            processed: count(row.processed),
            counts: serde_json::from_value(row.result).unwrap_or_default(),
            error: row.error,
            has_errors_file: row.has_errors,
            has_output: row.has_output,
            created_at: row.created_at,
            finished_at: row.finished_at,
            attempts: count(row.attempts),
            max_attempts: count(row.max_attempts),
            next_attempt_at: (state == JobState::Queued && row.attempts > 0).then_some(row.run_at),
            creator: row.creator,
        })
    }
}

/// A job of the member's tenant that they started, or any job for ADMIN and OWNER.
/// Everything else — another member's job, another tenant's — is "not found".
pub async fn job(env: &Env, id: &str) -> Result<JobView, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let id = Uuid::parse_str(id.trim()).map_err(|_| AppError::NotFound(env.t("jobs.not_found")))?;
    let mut tx = env.tx(p).await?;
    let row: JobRow = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM {JOB_FROM} WHERE j.id = $1 AND (j.created_by = $2 OR $3)"
    ))
    .bind(id)
    .bind(p.user_id)
    .bind(Permission::JobsManage.allowed_for(p.role))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(env.t("jobs.not_found")))?;
    tx.commit().await?;
    row.try_into()
}

/// Cancels a job that is waiting or running, for its creator or an admin. A running
/// job stops at its next batch: the runner finds the job no longer RUNNING and rolls
/// that batch back.
pub async fn cancel(env: &Env, id: &str) -> Result<JobView, AppError> {
    let change = Change {
        from: &[JobState::Queued, JobState::Running],
        to: JobState::Cancelled,
        set: "status = 'CANCELLED', finished_at = now()",
        action: "job.cancelled",
        log: "jobs.log.cancelled",
        refused: "jobs.error.not_active",
    };
    change_state(env, id, change).await
}

/// Queues a failed or dead-lettered job again, for its creator or an admin, with its
/// attempts counted afresh. An import resumes after its last committed batch; an
/// export starts its file again.
pub async fn retry(env: &Env, id: &str) -> Result<JobView, AppError> {
    let change = Change {
        from: &[JobState::Failed, JobState::Dead],
        to: JobState::Queued,
        set: "status = 'QUEUED', error = NULL, finished_at = NULL, locked_at = NULL,
              attempts = 0, run_at = now()",
        action: "job.retried",
        log: "jobs.log.retried",
        refused: "jobs.error.not_failed",
    };
    change_state(env, id, change).await
}

/// A member's move of a job from one state to another.
struct Change {
    from: &'static [JobState],
    to: JobState,
    /// The `SET` list of the update.
    set: &'static str,
    action: &'static str,
    /// The line it adds to the job's log, naming the member.
    log: &'static str,
    /// The message when the job is in none of the `from` states.
    refused: &'static str,
}

async fn change_state(env: &Env, id: &str, change: Change) -> Result<JobView, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let not_found = || AppError::NotFound(env.t("jobs.not_found"));
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let mut tx = env.tx(p).await?;
    let state: String = sqlx::query_scalar(
        "SELECT status FROM jobs WHERE id = $1 AND (created_by = $2 OR $3) FOR UPDATE",
    )
    .bind(id)
    .bind(p.user_id)
    .bind(Permission::JobsManage.allowed_for(p.role))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    if !JobState::parse(&state).is_some_and(|s| change.from.contains(&s)) {
        return Err(AppError::field("id", env.t(change.refused)));
    }
    sqlx::query(&format!("UPDATE jobs SET {} WHERE id = $1", change.set))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(change.action, "jobs", Some(id)).change(
            serde_json::json!({ "status": state }),
            serde_json::json!({ "status": change.to.code() }),
        ),
    )
    .await?;
    let line = tf(env.locale(), change.log, &[("name", p.name.clone())]);
    crate::jobs::ssr::log(&mut tx, p.tenant_id, id, LogLevel::Info, &line).await?;
    if change.to == JobState::Queued {
        // Wakes a runner now rather than at its next poll.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(JOBS_CHANNEL)
            .execute(&mut *tx)
            .await?;
    }
    let row: JobRow = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM {JOB_FROM} WHERE j.id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    row.try_into()
}

/// The member's latest imports and exports.
pub async fn recent(env: &Env) -> Result<Vec<JobView>, AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM {JOB_FROM} WHERE j.created_by = $1 AND j.status <> 'DRAFT'
          ORDER BY j.created_at DESC LIMIT 10"
    ))
    .bind(p.user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(JobView::try_from).collect()
}

/// Where a job's file is, once [`download`] has allowed it: read a part at a time with
/// [`file_part`], so a download never holds the whole file.
#[derive(Clone, Debug)]
pub struct JobFile {
    pub download_name: String,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub job_id: Uuid,
    pub name: &'static str,
    pub parts: Vec<i32>,
}

/// A job's file, under the same rule as [`job`]: the download name and its parts.
pub async fn download(env: &Env, id: Uuid, name: &str) -> Result<JobFile, AppError> {
    let p = env.require(Permission::WorkspaceUse)?;
    let not_found = || AppError::NotFound(env.t("jobs.file_not_found"));
    let name = match name {
        "errors" => "errors",
        "output" => "output",
        _ => return Err(not_found()),
    };
    let mut tx = env.tx(p).await?;
    let rows: Vec<(i32, String)> = sqlx::query_as(
        "SELECT f.part, coalesce(j.params->>'file_name', '') FROM job_files f
           JOIN jobs j ON j.id = f.job_id
          WHERE f.job_id = $1 AND f.name = $2 AND (j.created_by = $3 OR $4)
          ORDER BY f.part",
    )
    .bind(id)
    .bind(name)
    .bind(p.user_id)
    .bind(Permission::JobsManage.allowed_for(p.role))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let file_name = rows.first().ok_or_else(not_found)?.1.clone();
    let download_name = match name {
        "errors" => {
            let stem = file_name
                .strip_suffix(".csv")
                .or_else(|| file_name.strip_suffix(".CSV"))
                .unwrap_or(&file_name);
            format!("{stem}-errors.csv")
        }
        _ => file_name,
    };
    Ok(JobFile {
        download_name,
        tenant_id: p.tenant_id,
        user_id: p.user_id,
        job_id: id,
        name,
        parts: rows.into_iter().map(|(part, _)| part).collect(),
    })
}

/// One part of a file [`download`] allowed, in a transaction of its own, so a slow
/// client holds no connection between parts.
pub async fn file_part(db: &Db, file: &JobFile, part: i32) -> Result<Vec<u8>, AppError> {
    let mut tx = db.tenant_tx(file.tenant_id, Some(file.user_id)).await?;
    let content: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT content FROM job_files WHERE job_id = $1 AND name = $2 AND part = $3",
    )
    .bind(file.job_id)
    .bind(file.name)
    .bind(part)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    // A part gone meanwhile (the job was deleted or retried) ends the download short.
    content.ok_or_else(|| internal("a part of the file went away during its download"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn remembered_choices_win_and_fields_stay_unique() {
        let h = headers(&["Identifier", "Email", "Phone"]);
        // Last time "Identifier" held the name and "Phone" was left out.
        let memory = json!({ "identifier": "name", "phone": null });
        let (mapping, used) = first_mapping(Entity::Contact, &h, Some(memory));
        assert!(used);
        assert_eq!(mapping, vec![Some(Field::Name), Some(Field::Email), None]);
        let (mapping, used) = first_mapping(Entity::Contact, &h, None);
        assert!(!used);
        assert_eq!(mapping, vec![None, Some(Field::Email), Some(Field::Phone)]);
        // A remembered field the guess would also pick is used once.
        let memory = json!({ "identifier": "email" });
        let (mapping, _) = first_mapping(Entity::Contact, &h, Some(memory));
        assert_eq!(mapping, vec![Some(Field::Email), None, Some(Field::Phone)]);
    }

    #[test]
    fn exported_headers_map_back_in_both_languages() {
        for locale in Locale::ALL {
            let h: Vec<String> = [Field::Name, Field::Email, Field::Phone, Field::Owner]
                .iter()
                .map(|f| t(locale, &f.label_key()))
                .collect();
            let (mapping, _) = first_mapping(Entity::Contact, &h, None);
            assert_eq!(
                mapping,
                vec![
                    Some(Field::Name),
                    Some(Field::Email),
                    Some(Field::Phone),
                    Some(Field::Owner)
                ],
                "{locale:?}: {h:?}"
            );
        }
    }

    #[test]
    fn mappings_are_checked() {
        let en = Locale::En;
        let ok = [Some(Field::Name), None];
        assert!(check_mapping(en, Entity::Contact, 2, &ok).is_ok());
        let field = |r: Result<(), AppError>| r.unwrap_err().for_field("mapping");
        assert!(field(check_mapping(en, Entity::Contact, 3, &ok)).is_some());
        assert!(field(check_mapping(
            en,
            Entity::Contact,
            2,
            &[Some(Field::Email), None]
        ))
        .unwrap()
        .contains("name"));
        assert!(field(check_mapping(
            en,
            Entity::Contact,
            2,
            &[Some(Field::Name), Some(Field::Name)]
        ))
        .is_some());
        assert!(field(check_mapping(
            en,
            Entity::Contact,
            2,
            &[Some(Field::Name), Some(Field::Status)]
        ))
        .is_some());
        assert!(check_mapping(
            en,
            Entity::Lead,
            2,
            &[Some(Field::LastName), Some(Field::Status)]
        )
        .is_ok());
    }

    #[test]
    fn file_names_are_tamed() {
        assert_eq!(
            clean_file_name("C:\\Users\\me\\leads \"new\".csv", "x"),
            "leads new.csv"
        );
        assert_eq!(clean_file_name("../../etc/passwd", "x"), "passwd");
        assert_eq!(clean_file_name("  ", "import.csv"), "import.csv");
        assert_eq!(clean_file_name("عملاء.csv", "x"), "عملاء.csv");
    }
}
