//! Invoices: numbered without gaps, read back for their page, and drawn as a PDF.

use super::*;

#[derive(sqlx::FromRow)]
pub(super) struct InvoiceSql {
    id: Uuid,
    number: i32,
    status: InvoiceStatus,
    currency: String,
    total_minor: i64,
    issued_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

impl From<InvoiceSql> for InvoiceRow {
    fn from(i: InvoiceSql) -> InvoiceRow {
        InvoiceRow {
            id: i.id,
            number: i.number,
            status: i.status,
            currency: i.currency,
            total_minor: i.total_minor,
            issued_at: i.issued_at,
            paid_at: i.paid_at,
        }
    }
}

pub(super) const INVOICE_COLUMNS: &str =
    "id, number, status, currency::text AS currency, total_minor, issued_at, paid_at";

/// Numbers and writes an invoice in the caller's transaction. The number comes from
/// the tenant's counter row, locked until commit: concurrent invoices queue for it,
/// and a rolled-back invoice gives its number back, so numbers have no gaps.
pub async fn create_invoice(
    tx: &mut Tx,
    tenant_id: Uuid,
    currency: &str,
    lines: &[(&str, String, i64)],
    period: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Uuid, AppError> {
    let number: i32 = sqlx::query_scalar(
        "INSERT INTO invoice_counters AS c (tenant_id, last_number) VALUES ($1, 1)
         ON CONFLICT (tenant_id) DO UPDATE SET last_number = c.last_number + 1
         RETURNING last_number",
    )
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await?;
    let profile = profile(tx).await?;
    let (rate_bp, note) = tax::rate(&profile.country, &profile.tax_id);
    let subtotal: i64 = lines.iter().map(|(_, _, amount)| amount).sum();
    let tax_minor = tax::tax(subtotal.max(0), rate_bp);
    let id = new_id();
    sqlx::query(
        "INSERT INTO invoices (tenant_id, id, number, status, currency, subtotal_minor, tax_rate_bp, tax_note,
                               tax_minor, total_minor, period_start, period_end)
         VALUES ($1, $2, $3, 'OPEN', $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(number)
    .bind(currency)
    .bind(subtotal)
    .bind(rate_bp)
    .bind(note)
    .bind(tax_minor)
    .bind(subtotal + tax_minor)
    .bind(period.0)
    .bind(period.1)
    .execute(&mut **tx)
    .await?;
    for (position, (kind, description, amount)) in lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO invoice_lines (tenant_id, invoice_id, position, kind, description, amount_minor)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(kind)
        .bind(description)
        .bind(amount)
        .execute(&mut **tx)
        .await?;
    }
    // Charged by the worker after this commits, never inside the request.
    if subtotal + tax_minor > 0 {
        payments::queue(tx, tenant_id, id, "ISSUE", Utc::now()).await?;
    }
    Ok(id)
}

pub async fn invoice(env: &Env, id: &str) -> Result<InvoiceDetail, AppError> {
    let p = env.require(Permission::BillingView)?;
    let not_found = || AppError::NotFound(env.t("billing.error.invoice_not_found"));
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    let mut tx = env.tx(p).await?;
    let row: InvoiceSql = sqlx::query_as(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    let (subtotal_minor, tax_rate_bp, tax_note, tax_minor): (i64, i32, Option<String>, i64) =
        sqlx::query_as(
            "SELECT subtotal_minor, tax_rate_bp, tax_note, tax_minor FROM invoices WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let lines: Vec<(String, i64)> = sqlx::query_as(
        "SELECT description, amount_minor FROM invoice_lines WHERE invoice_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let bill_to = profile(&mut tx).await?;
    let workspace: String = sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(p.tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    let attempts = crate::billing::pay::attempts(&mut tx, id).await?;
    tx.commit().await?;
    let can_pay =
        row.status == InvoiceStatus::Open && Permission::BillingManage.allowed_for(p.role);
    Ok(InvoiceDetail {
        invoice: row.into(),
        lines: lines
            .into_iter()
            .map(|(description, amount_minor)| InvoiceLine {
                description,
                amount_minor,
            })
            .collect(),
        subtotal_minor,
        tax_rate_bp,
        tax_note,
        tax_minor,
        bill_to,
        workspace,
        attempts,
        can_pay,
    })
}

/// The invoice `id` as a PDF drawn for the viewer (their language, time zone and
/// digits): its file name and bytes. Who may see the invoice page may download it.
pub async fn invoice_pdf(env: &Env, id: &str) -> Result<(String, Vec<u8>), AppError> {
    let detail = invoice(env, id).await?;
    let p = env.require(Permission::BillingView)?;
    let (locale, timezone, digits) = (env.locale(), p.timezone.clone(), p.digits);
    let name = crate::billing::invoice_pdf::file_name(detail.invoice.number);
    // Shaping, subsetting and compressing take milliseconds of CPU: off the async
    // workers, and after the transaction has ended.
    let bytes = tokio::task::spawn_blocking(move || {
        let reader = crate::billing::invoice_pdf::Reader {
            locale,
            timezone: &timezone,
            digits,
        };
        crate::billing::invoice_pdf::render(&detail, &reader)
    })
    .await
    .map_err(crate::db::internal)?;
    Ok((name, bytes))
}
