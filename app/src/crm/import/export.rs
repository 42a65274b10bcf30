//! An export writes what the starting member's table view shows, as CSV, a batch
//! at a time.

use super::batch_sql::shape;
use super::model::*;
use super::runner::Claimed;
use super::sheet::CsvOut;
use super::ssr::ExportParams;
use crate::crm::access::{push_filter, Scope};
use crate::crm::model::Entity;
use crate::db::{internal, Db};
use crate::error::AppError;
use crate::i18n::t;
use crate::jobs::ssr as jobs;
use sqlx::{Postgres, QueryBuilder, Row as _};
use uuid::Uuid;

/// The fields an export writes for `entity`, in the order of the import form, so the
/// file imports back as it is.
fn export_fields(entity: Entity) -> Vec<Field> {
    Field::for_entity(entity)
        .iter()
        .copied()
        .filter(|f| !matches!(f, Field::FirstName | Field::LastName))
        .collect()
}

fn export_sql(entity: Entity) -> String {
    let shape = shape(entity);
    let exprs: Vec<String> = export_fields(entity)
        .into_iter()
        .map(|f| match f {
            Field::Company => "(SELECT c.name FROM companies c WHERE c.id = r.company_id)".to_string(),
            Field::Tags => "array_to_string(r.tags, ', ')".into(),
            Field::Owner => "(SELECT o.email::text FROM users o WHERE o.id = r.owner_id)".into(),
            f => {
                let column = shape
                    .columns
                    .iter()
                    .find(|c| c.0 == f)
                    .map_or("NULL", |c| c.1);
                format!("r.{column}::text")
            }
        })
        .chain([
            "to_char(r.created_at AT TIME ZONE (SELECT coalesce(t.timezone, 'UTC') FROM tenants t WHERE t.id = r.tenant_id), 'YYYY-MM-DD HH24:MI')".to_string(),
        ])
        .collect();
    // The keyset of the batches comes last, after the cells.
    format!(
        "SELECT {}, r.created_at, r.id FROM {} r WHERE true",
        exprs.join(", "),
        shape.table
    )
}

/// Rows an export reads, and writes as one part of its file, at a time.
const EXPORT_BATCH: i64 = 5_000;

/// Writes the member's view as CSV a batch at a time: each batch is a keyset page of
/// the same query, its own transaction and its own part of the file, so memory stays
/// at one batch whatever the size, and the progress shows while it runs.
pub(super) async fn export(db: &Db, job: &Claimed) -> Result<(), AppError> {
    let params: ExportParams = serde_json::from_value(job.params.clone()).map_err(internal)?;
    let locale = params.locale;
    let fields = export_fields(job.entity);
    let mut tx = db
        .tenant_tx(job.tenant_id, Some(job.creator.user_id))
        .await?;
    // Exactly what the member's table view shows: their scope, their filter.
    let scope = Scope::load(&mut tx, &job.creator).await?;
    let mut count: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "SELECT count(*) FROM {} r WHERE true",
        shape(job.entity).table
    ));
    scope.push(&mut count, "r.owner_id");
    push_filter(&mut count, job.entity, &params.filter);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
    // A retried job starts its file again.
    sqlx::query("DELETE FROM job_files WHERE job_id = $1 AND name = 'output'")
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE jobs SET total = $2, processed = 0, locked_at = now() WHERE id = $1")
        .bind(job.id)
        .bind(i32::try_from(total).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    let mut after: Option<(chrono::DateTime<chrono::Utc>, Uuid)> = None;
    let mut written: i64 = 0;
    for part in 0.. {
        let mut tx = db
            .tenant_tx(job.tenant_id, Some(job.creator.user_id))
            .await?;
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(export_sql(job.entity));
        scope.push(&mut qb, "r.owner_id");
        push_filter(&mut qb, job.entity, &params.filter);
        if let Some((at, id)) = after {
            qb.push(" AND (r.created_at, r.id) > (")
                .push_bind(at)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        qb.push(" ORDER BY r.created_at, r.id LIMIT ")
            .push_bind(EXPORT_BATCH);
        let rows = qb.build().fetch_all(&mut *tx).await?;
        // The first part carries the byte-order mark (for Excel) and the header row;
        // an empty view still gets them.
        let mut out = CsvOut::new(b',', part == 0);
        if part == 0 {
            out.row(
                fields
                    .iter()
                    .map(|f| t(locale, &f.label_key()))
                    .chain([t(locale, "export.created")]),
            )
            .map_err(internal)?;
        }
        for row in &rows {
            let cells = (0..=fields.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .map(Option::unwrap_or_default)
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.row(cells).map_err(internal)?;
        }
        let keys = fields.len() + 1;
        after = match rows.last() {
            Some(last) => Some((last.try_get(keys)?, last.try_get(keys + 1)?)),
            None => after,
        };
        written += rows.len() as i64;
        sqlx::query(
            "INSERT INTO job_files (tenant_id, job_id, name, part, content) VALUES ($1, $2, 'output', $3, $4)",
        )
        .bind(job.tenant_id)
        .bind(job.id)
        .bind(part)
        .bind(out.finish().map_err(internal)?)
        .execute(&mut *tx)
        .await?;
        let last = (rows.len() as i64) < EXPORT_BATCH;
        let n = i32::try_from(written).unwrap_or(i32::MAX);
        let still_running = sqlx::query(
            "UPDATE jobs SET processed = $2, locked_at = now(),
                    status = CASE WHEN $3 THEN 'DONE' ELSE status END,
                    total = CASE WHEN $3 THEN $2 ELSE total END,
                    result = CASE WHEN $3 THEN $4 ELSE result END,
                    finished_at = CASE WHEN $3 THEN now() END
              WHERE id = $1 AND status = 'RUNNING'",
        )
        .bind(job.id)
        .bind(n)
        .bind(last)
        .bind(
            serde_json::to_value(Counts {
                exported: n.unsigned_abs(),
                ..Counts::default()
            })
            .map_err(internal)?,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !still_running {
            // Cancelled meanwhile: this part is rolled back and the file removed.
            tx.rollback().await?;
            let mut tx = db
                .tenant_tx(job.tenant_id, Some(job.creator.user_id))
                .await?;
            sqlx::query("DELETE FROM job_files WHERE job_id = $1 AND name = 'output'")
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(());
        }
        if last {
            jobs::finished(&mut tx, job.tenant_id, job.id).await?;
        }
        tx.commit().await?;
        if last {
            break;
        }
    }
    Ok(())
}
