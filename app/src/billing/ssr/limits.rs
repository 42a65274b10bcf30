//! Limits enforced at the action: contacts and leads, senders, and file storage.

use super::*;

/// Refuses a file of `adding` bytes that would take the workspace past its plan's
/// storage, naming the limit, the usage and the billing page, and warns the admins at
/// 80 % and 100 %. `replacing` bytes (a cover being replaced) are given back first.
/// The subscription row is locked, so two uploads at once cannot both take the last
/// of the room.
pub async fn check_storage(
    tx: &mut Tx,
    locale: Locale,
    adding: usize,
    replacing: i64,
) -> Result<(), AppError> {
    let limit: Option<(Option<i32>, String)> = sqlx::query_as(
        "SELECT p.storage_limit_mb, coalesce(p.names->>$1, p.name)
           FROM subscriptions s JOIN plans p ON p.id = s.plan_id FOR UPDATE OF s",
    )
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(limit_mb), plan)) = limit else {
        return Ok(());
    };
    let limit = i64::from(limit_mb) * MIB;
    let used = stored_bytes(tx).await? - replacing;
    let after = used + i64::try_from(adding).unwrap_or(i64::MAX);
    if after > limit {
        return Err(AppError::Forbidden(tf(
            locale,
            "billing.error.storage_limit",
            &[
                ("plan", plan),
                ("limit", Metric::Storage.amount(locale, limit)),
                ("used", Metric::Storage.amount(locale, used.max(0))),
            ],
        )));
    }
    crate::billing::warnings::check(tx, locale, Metric::Storage, after, limit, None).await
}

/// Refuses an action that would take the tenant past its plan's contacts-and-leads
/// limit, naming the limit, the usage and where to lift it. In the caller's
/// transaction, before the insert.
pub async fn check_records(tx: &mut Tx, locale: Locale, adding: i64) -> Result<(), AppError> {
    let limit: Option<(Option<i32>, String)> = sqlx::query_as(
        "SELECT p.records_limit, coalesce(p.names->>$1, p.name) FROM subscriptions s JOIN plans p ON p.id = s.plan_id",
    )
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(limit), plan)) = limit else {
        return Ok(());
    };
    // Counts no further than the limit: a big tenant's check costs no more than that.
    let used: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM leads LIMIT $1) a)
              + (SELECT count(*) FROM (SELECT 1 FROM contacts LIMIT $1) b)",
    )
    .bind(i64::from(limit) + 1)
    .fetch_one(&mut **tx)
    .await?;
    if used + adding > i64::from(limit) {
        return Err(AppError::Forbidden(tf(
            locale,
            "billing.error.records_limit",
            &[
                ("plan", plan),
                ("limit", limit.to_string()),
                ("used", used.min(i64::from(limit)).to_string()),
            ],
        )));
    }
    crate::billing::warnings::check(
        tx,
        locale,
        Metric::Records,
        used + adding,
        i64::from(limit),
        None,
    )
    .await
}

/// Refuses one more WhatsApp number, mailbox or sending domain past the plan's limit, naming the limit,
/// the usage and the billing page, and warns the admins at 80 % and 100 %. The
/// subscription row is locked, so two adds at once cannot both take the last place.
pub async fn check_senders(tx: &mut Tx, locale: Locale, metric: Metric) -> Result<(), AppError> {
    let (column, table) = match metric {
        Metric::WhatsAppNumbers => ("wa_numbers_limit", "wa_phone_numbers"),
        Metric::Mailboxes => ("mailboxes_limit", "email_accounts"),
        Metric::SendingDomains => ("domains_limit", "email_domains"),
        _ => return Err(crate::db::internal("check_senders counts senders only")),
    };
    let limit: Option<(Option<i32>, String)> = sqlx::query_as(&format!(
        "SELECT p.{column}, coalesce(p.names->>$1, p.name)
           FROM subscriptions s JOIN plans p ON p.id = s.plan_id FOR UPDATE OF s"
    ))
    .bind(locale.code())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((Some(limit), plan)) = limit else {
        return Ok(());
    };
    let limit = i64::from(limit) + crate::billing::addons::extra(tx, metric, Utc::now()).await?;
    // Archived senders send nothing, so they take no place.
    let used: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE archived_at IS NULL"
    ))
    .fetch_one(&mut **tx)
    .await?;
    if used >= limit {
        return Err(AppError::Forbidden(tf(
            locale,
            "billing.error.limit",
            &[
                ("what", t(locale, metric.label_key())),
                ("plan", plan),
                ("limit", limit.to_string()),
                ("used", used.to_string()),
            ],
        )));
    }
    crate::billing::warnings::check(tx, locale, metric, used + 1, limit, None).await
}
