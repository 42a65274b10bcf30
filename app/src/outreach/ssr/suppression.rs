//! The suppression list as admins see it: searched and paged, added to one address at
//! a time or from a CSV file, and lifted with a reason. A lifted entry moves to
//! `suppression_lifts` (DECISIONS §47), so every send-time check keeps reading
//! `suppressions` alone.

use super::manage::not_found;
use super::store::suppression_key;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::db::{new_id, take_page};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::outreach::model::{
    Channel, InvalidLine, SuppressionCursor, SuppressionImport, SuppressionPage, SuppressionView,
    SUPPRESSION_IMPORT_MAX_BYTES,
};
use crate::request::Env;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use uuid::Uuid;

/// Rows per page of the list.
const PAGE: i64 = 50;
/// Invalid lines listed in the report; the count beyond it is still exact.
const MAX_LISTED_INVALID: usize = 200;

#[derive(sqlx::FromRow)]
struct Entry {
    id: Uuid,
    channel: String,
    address: String,
    reason: String,
    message_id: Option<Uuid>,
    lead_id: Option<Uuid>,
    added_by: Option<String>,
    note: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Entry> for SuppressionView {
    fn from(r: Entry) -> Self {
        SuppressionView {
            id: r.id,
            channel: Channel::parse(&r.channel).unwrap_or(Channel::Email),
            address: r.address,
            reason: r.reason,
            message_id: r.message_id,
            lead_id: r.lead_id,
            added_by: r.added_by,
            note: r.note,
            created_at: r.created_at,
        }
    }
}

/// A page of the list, newest first, whose address contains `query` (case folded).
pub async fn list(
    env: &Env,
    query: &str,
    after: Option<SuppressionCursor>,
) -> Result<SuppressionPage, AppError> {
    let (_, mut tx) = env.begin(Permission::OutreachManage).await?;
    let needle = query.trim().to_lowercase();
    // A substring test rather than a trigram index: under RLS the index would not be
    // used anyway (0004_search.sql), and the tenant-leading index bounds the scan.
    let mut rows: Vec<Entry> = sqlx::query_as(
        "SELECT s.id, s.channel, s.address, s.reason, s.message_id, m.lead_id, u.name AS added_by,
                s.note, s.created_at
           FROM suppressions s
           LEFT JOIN messages m ON m.id = s.message_id
           LEFT JOIN users u ON u.id = s.created_by
          WHERE ($1 = '' OR strpos(s.address, $1) > 0)
            AND ($2::timestamptz IS NULL OR (s.created_at, s.id) < ($2, $3))
          ORDER BY s.created_at DESC, s.id DESC
          LIMIT $4",
    )
    .bind(&needle)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(PAGE + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let more = take_page(&mut rows, PAGE);
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|r| SuppressionCursor {
            created_at: r.created_at,
            id: r.id,
        });
    Ok(SuppressionPage {
        rows: rows.into_iter().map(SuppressionView::from).collect(),
        next,
    })
}

/// The channel and normalised form of an address typed or imported: an email address,
/// or a phone number in E.164 (with its `+`), which is what WhatsApp sends to.
pub fn parse_address(raw: &str, locale: Locale) -> Result<(Channel, String), String> {
    let raw = raw.trim().trim_matches('"').trim();
    if raw.is_empty() {
        return Err(t(locale, "suppression.address_required"));
    }
    if raw.contains('@') {
        let email = raw.trim_start_matches("mailto:").to_lowercase();
        return if ::mail::valid_address(&email) {
            Ok((Channel::Email, suppression_key(Channel::Email, &email)))
        } else {
            Err(t(locale, "suppression.email_invalid"))
        };
    }
    if !raw.starts_with('+') {
        return Err(t(locale, "suppression.phone_needs_plus"));
    }
    match crate::crm::phone::normalize(raw, None) {
        Ok(Some(e164)) => Ok((Channel::WhatsApp, e164)),
        _ => Err(t(locale, "suppression.phone_invalid")),
    }
}

fn clean_note(env: &Env, note: &str) -> Result<Option<String>, AppError> {
    let note = note.trim();
    if note.chars().count() > 500 {
        return Err(AppError::field(
            "note",
            tf(
                env.locale(),
                "suppression.too_long",
                &[("max", "500".into())],
            ),
        ));
    }
    Ok((!note.is_empty()).then(|| note.to_string()))
}

/// Adds one address by hand.
pub async fn add(env: &Env, address: &str, note: &str) -> Result<Uuid, AppError> {
    let (channel, address) =
        parse_address(address, env.locale()).map_err(|m| AppError::field("address", m))?;
    let note = clean_note(env, note)?;
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let id = new_id();
    let added = sqlx::query(
        "INSERT INTO suppressions (tenant_id, id, channel, address, reason, created_by, note)
         VALUES ($1, $2, $3, $4, 'MANUAL', $5, $6) ON CONFLICT (tenant_id, channel, address) DO NOTHING",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(channel.code())
    .bind(&address)
    .bind(p.actor())
    .bind(&note)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Err(AppError::field("address", env.t("suppression.already")));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("suppression.added", "suppressions", Some(id)).after(
            serde_json::json!({ "channel": channel.code(), "address": address, "note": note }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What a CSV file holds: the addresses with their line numbers, and the lines that
/// are not addresses.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub entries: Vec<(usize, Channel, String)>,
    pub invalid: Vec<InvalidLine>,
}

/// Reads a CSV file of addresses: one per line, or a header row with a column named
/// `email` or `phone` (either or both; other columns are ignored). Blank lines and
/// blank cells are skipped. Line numbers are the file's, header included.
pub fn parse_csv(text: &str, locale: Locale) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = Parsed::default();
    // The columns to read: every cell of a headerless file, or the named ones.
    let mut columns: Option<Vec<usize>> = None;
    // Line by line, each line one CSV record: the csv reader's own line count leaves
    // out blank lines, and the report must name the file's lines. (A quoted cell
    // spanning lines is no address anyway.)
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    for (i, (index, raw)) in lines.enumerate() {
        let line = index + 1;
        let record = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(raw.as_bytes())
            .records()
            .next();
        let record = match record {
            Some(Ok(r)) => r,
            _ => {
                parsed.invalid.push(InvalidLine {
                    line,
                    value: raw.trim().chars().take(100).collect(),
                    problem: t(locale, "suppression.csv_unreadable"),
                });
                continue;
            }
        };
        if i == 0 {
            let named: Vec<usize> = record
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    matches!(
                        h.trim().to_lowercase().as_str(),
                        "email" | "e-mail" | "phone" | "whatsapp"
                    )
                })
                .map(|(n, _)| n)
                .collect();
            if !named.is_empty() {
                columns = Some(named);
                continue;
            }
        }
        let cells: Vec<&str> = match &columns {
            Some(cols) => cols.iter().filter_map(|c| record.get(*c)).collect(),
            None => record.iter().collect(),
        };
        for cell in cells.into_iter().filter(|c| !c.trim().is_empty()) {
            match parse_address(cell, locale) {
                Ok((channel, address)) => parsed.entries.push((line, channel, address)),
                Err(problem) => parsed.invalid.push(InvalidLine {
                    line,
                    value: cell.trim().chars().take(100).collect(),
                    problem,
                }),
            }
        }
    }
    parsed
}

/// Adds every address of a CSV file (`IMPORTED`, by this member) and reports what
/// was added, what was already on the list and which lines were not addresses.
pub async fn import(env: &Env, text: &str) -> Result<SuppressionImport, AppError> {
    if text.len() > SUPPRESSION_IMPORT_MAX_BYTES {
        return Err(AppError::field(
            "file",
            tf(
                env.locale(),
                "suppression.file_too_large",
                &[("max", "1 MB".into())],
            ),
        ));
    }
    let parsed = parse_csv(text, env.locale());
    if parsed.entries.is_empty() && parsed.invalid.is_empty() {
        return Err(AppError::field("file", env.t("suppression.file_empty")));
    }
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    // The same address twice in the file counts as already there the second time.
    let mut seen = HashSet::new();
    let mut already = Vec::new();
    let (mut lines, mut channels, mut addresses) = (Vec::new(), Vec::new(), Vec::new());
    for (line, channel, address) in parsed.entries {
        if seen.insert((channel, address.clone())) {
            lines.push(line);
            channels.push(channel.code().to_string());
            addresses.push(address);
        } else {
            already.push(line);
        }
    }
    // Keyed by address, not line: a line may hold an email and a phone.
    let added: HashSet<(String, String)> = sqlx::query_as(
        "INSERT INTO suppressions (tenant_id, id, channel, address, reason, created_by)
         SELECT $1, gen_random_uuid(), x.channel, x.address, 'IMPORTED', $4
           FROM UNNEST($2::text[], $3::text[]) AS x (channel, address)
         ON CONFLICT (tenant_id, channel, address) DO NOTHING
         RETURNING channel, address",
    )
    .bind(p.tenant_id)
    .bind(&channels)
    .bind(&addresses)
    .bind(p.actor())
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    already.extend(
        lines
            .iter()
            .zip(channels.into_iter().zip(addresses))
            .filter(|(_, key)| !added.contains(key))
            .map(|(line, _)| *line),
    );
    already.sort_unstable();
    let invalid_count = parsed.invalid.len();
    let report = SuppressionImport {
        added: added.len(),
        already,
        invalid_count,
        invalid: parsed
            .invalid
            .into_iter()
            .take(MAX_LISTED_INVALID)
            .collect(),
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("suppression.imported", "suppressions", None).after(serde_json::json!({
            "added": report.added, "already": report.already.len(), "invalid": invalid_count,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

#[derive(sqlx::FromRow)]
struct Lifted {
    channel: String,
    address: String,
    reason: String,
}

/// Takes an address off the list. The reason is required and kept with the entry as
/// it was in `suppression_lifts`, and in the audit log.
pub async fn lift(env: &Env, id: Uuid, reason: &str) -> Result<(), AppError> {
    let reason = reason.trim();
    let length = reason.chars().count();
    if length < 3 {
        return Err(AppError::field(
            "reason",
            env.t("suppression.reason_required"),
        ));
    }
    if length > 500 {
        return Err(AppError::field(
            "reason",
            tf(
                env.locale(),
                "suppression.too_long",
                &[("max", "500".into())],
            ),
        ));
    }
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let entry: Option<Lifted> = sqlx::query_as(
        "WITH gone AS (DELETE FROM suppressions WHERE id = $1
                        RETURNING tenant_id, id, channel, address, reason, message_id, created_by, note, created_at),
              kept AS (
                INSERT INTO suppression_lifts (tenant_id, id, suppression_id, channel, address, reason, message_id,
                                               created_by, note, suppressed_at, lift_reason, lifted_by)
                SELECT tenant_id, $2, id, channel, address, reason, message_id, created_by, note, created_at, $3, $4
                  FROM gone)
         SELECT channel, address, reason FROM gone",
    )
    .bind(id)
    .bind(new_id())
    .bind(reason)
    .bind(p.actor())
    .fetch_optional(&mut *tx)
    .await?;
    let entry = entry.ok_or_else(|| not_found(env))?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("suppression.lifted", "suppressions", Some(id)).change(
            serde_json::json!({
                "channel": entry.channel, "address": entry.address, "reason": entry.reason,
            }),
            serde_json::json!({ "lift_reason": reason }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_emails_or_e164_numbers() {
        let l = Locale::En;
        assert_eq!(
            parse_address(" Ana@Example.COM ", l),
            Ok((Channel::Email, "ana@example.com".into()))
        );
        assert_eq!(
            parse_address("+20 100 123 4567", l),
            Ok((Channel::WhatsApp, "+201001234567".into()))
        );
        assert_eq!(
            parse_address("0100 123 4567", l),
            Err(t(l, "suppression.phone_needs_plus"))
        );
        assert_eq!(
            parse_address("+1 23", l),
            Err(t(l, "suppression.phone_invalid"))
        );
        assert_eq!(
            parse_address("ana@", l),
            Err(t(l, "suppression.email_invalid"))
        );
        assert!(parse_address("  ", l).is_err());
    }

    #[test]
    fn a_plain_list_has_one_address_per_line() {
        let parsed = parse_csv(
            "ana@example.com\n\n+201001234567\nnot an address\n",
            Locale::En,
        );
        assert_eq!(
            parsed.entries,
            vec![
                (1, Channel::Email, "ana@example.com".into()),
                (3, Channel::WhatsApp, "+201001234567".into()),
            ]
        );
        assert_eq!(parsed.invalid.len(), 1);
        assert_eq!(parsed.invalid[0].line, 4);
        assert_eq!(parsed.invalid[0].value, "not an address");
    }

    #[test]
    fn a_header_names_the_columns_to_read() {
        let text =
            "\u{feff}Name,Email,Phone\nAna,ana@example.com,\nBo,,+201001234567\nCy,cy@,+1 23\n";
        let parsed = parse_csv(text, Locale::En);
        assert_eq!(
            parsed.entries,
            vec![
                (2, Channel::Email, "ana@example.com".into()),
                (3, Channel::WhatsApp, "+201001234567".into()),
            ]
        );
        let lines: Vec<usize> = parsed.invalid.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![4, 4], "the name column is not read");
    }
}
