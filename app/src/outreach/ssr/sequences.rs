//! Sequences and their steps, as admins configure them, and what managers run:
//! enrolments. Every change is audited in its own transaction.

use super::manage::{bounded, clean, name_taken, not_found};
use super::store;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::{push_filter, Scope};
use crate::crm::model::{Entity, RecordFilter};
use crate::db::{internal, new_id};
use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::model::*;
use crate::outreach::template::Template;
use crate::request::Env;
use sqlx::{Postgres, QueryBuilder, Row};
use std::collections::HashMap;
use uuid::Uuid;

pub async fn list_sequences(env: &Env) -> Result<Vec<SequenceSummary>, AppError> {
    let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let rows = sqlx::query(SEQUENCE_SUMMARY).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(sequence_summary)
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

const SEQUENCE_SUMMARY: &str = "SELECT s.id, s.name, s.status,
        (SELECT count(*) FROM sequence_steps st WHERE st.sequence_id = s.id) AS steps,
        (SELECT count(*) FROM enrollments e WHERE e.sequence_id = s.id AND e.status = 'ACTIVE') AS active,
        (SELECT count(*) FROM enrollments e WHERE e.sequence_id = s.id) AS enrolled,
        (SELECT count(*) FROM messages m JOIN enrollments e ON e.id = m.enrollment_id
          WHERE e.sequence_id = s.id AND m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
        (SELECT count(DISTINCT e.id) FROM messages m JOIN enrollments e ON e.id = m.enrollment_id
          WHERE e.sequence_id = s.id AND m.replied_at IS NOT NULL) AS replied
   FROM sequences s";

fn sequence_summary(r: &sqlx::postgres::PgRow) -> Result<SequenceSummary, sqlx::Error> {
    Ok(SequenceSummary {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        status: r.try_get("status")?,
        steps: r.try_get("steps")?,
        active: r.try_get("active")?,
        enrolled: r.try_get("enrolled")?,
        sent: r.try_get("sent")?,
        replied: r.try_get("replied")?,
    })
}

/// "mon 09:00-12:00, 13:00-17:00" per line ↔ {"mon": [["09:00","12:00"], ...]}.
pub fn parse_business_hours(text: &str) -> Result<serde_json::Value, String> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut map = serde_json::Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (day, windows) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| line.to_string())?;
        let day = day.to_lowercase();
        if !DAYS.contains(&day.as_str()) {
            return Err(line.to_string());
        }
        let mut list = Vec::new();
        for window in windows.split(',').map(str::trim) {
            let (from, to) = window.split_once('-').ok_or_else(|| line.to_string())?;
            let (from, to) = (from.trim(), to.trim());
            let valid = |t: &str| chrono::NaiveTime::parse_from_str(t, "%H:%M").is_ok();
            if !valid(from) || !valid(to) || from >= to {
                return Err(line.to_string());
            }
            list.push(serde_json::json!([from, to]));
        }
        map.insert(day, serde_json::Value::Array(list));
    }
    Ok(serde_json::Value::Object(map))
}

pub fn format_business_hours(hours: &serde_json::Value) -> String {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    DAYS.iter()
        .filter_map(|d| {
            let windows = hours.get(*d)?.as_array()?;
            let list: Vec<String> = windows
                .iter()
                .map(|w| {
                    format!(
                        "{}-{}",
                        w[0].as_str().unwrap_or(""),
                        w[1].as_str().unwrap_or("")
                    )
                })
                .collect();
            Some(format!("{d} {}", list.join(", ")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn sequence_detail(env: &Env, id: Uuid) -> Result<SequenceDetail, AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let row = sqlx::query(&format!("{SEQUENCE_SUMMARY} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(env))?;
    let extra = sqlx::query(
        "SELECT s.timezone, s.business_hours, array_to_string(s.holidays, ', ') AS holidays, s.exit_on_reply,
                s.exit_on_bounce, s.max_attempts,
                to_char(s.starts_at AT TIME ZONE coalesce(s.timezone, t.timezone), 'YYYY-MM-DD\"T\"HH24:MI') AS starts_at
           FROM sequences s JOIN tenants t ON t.id = s.tenant_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    ?;
    let steps = sqlx::query(
        "SELECT st.id, st.position, st.delay_minutes, st.kind, st.channel, st.template_id, t.name AS template_name,
                st.fallback_template_id, ft.name AS fallback_template_name, st.skip_if_replied, st.skip_if_opened,
                st.subject_override, st.from_name, st.mailbox_id, mb.from_address::text AS mailbox,
                st.wait_until AT TIME ZONE coalesce(s.timezone, tn.timezone) AS wait_local,
                st.condition, st.condition_field, st.condition_value,
                (SELECT cf.label FROM custom_fields cf WHERE cf.entity = 'LEAD'
                    AND 'custom.' || cf.key = st.condition_field) AS condition_field_label,
                st.then_go, st.then_step_id, st.else_go, st.else_step_id,
                (SELECT count(*) FROM messages m WHERE m.step_id = st.id AND m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                (SELECT count(*) FROM messages m WHERE m.step_id = st.id AND m.replied_at IS NOT NULL) AS replied
           FROM sequence_steps st JOIN sequences s ON s.id = st.sequence_id
           JOIN tenants tn ON tn.id = st.tenant_id
           LEFT JOIN templates t ON t.id = st.template_id
           LEFT JOIN templates ft ON ft.id = st.fallback_template_id
           LEFT JOIN email_accounts mb ON mb.id = st.mailbox_id
          WHERE st.sequence_id = $1 ORDER BY st.position",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| {
        Ok(StepView {
            id: r.try_get("id")?,
            position: r.try_get("position")?,
            delay_minutes: r.try_get("delay_minutes")?,
            kind: StepKind::parse(r.try_get("kind")?).unwrap_or(StepKind::Send),
            channel: r
                .try_get::<Option<&str>, _>("channel")?
                .and_then(Channel::parse),
            template_id: r.try_get("template_id")?,
            template_name: r.try_get("template_name")?,
            fallback_template_id: r.try_get("fallback_template_id")?,
            fallback_template_name: r.try_get("fallback_template_name")?,
            skip_if_replied: r.try_get("skip_if_replied")?,
            skip_if_opened: r.try_get("skip_if_opened")?,
            subject_override: r.try_get("subject_override")?,
            from_name: r.try_get("from_name")?,
            mailbox_id: r.try_get("mailbox_id")?,
            mailbox: r.try_get("mailbox")?,
            wait_until: r.try_get("wait_local")?,
            condition: r
                .try_get::<Option<&str>, _>("condition")?
                .and_then(Condition::parse),
            condition_field: r.try_get("condition_field")?,
            condition_field_label: r.try_get("condition_field_label")?,
            condition_value: r.try_get("condition_value")?,
            then_go: Branch::from_row(r.try_get("then_go")?, r.try_get("then_step_id")?),
            else_go: Branch::from_row(r.try_get("else_go")?, r.try_get("else_step_id")?),
            sent: r.try_get("sent")?,
            replied: r.try_get("replied")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // Only the leads the viewer may see are listed; the summary still counts them all.
    let scope = Scope::load(&mut tx, p).await?;
    let mut q = QueryBuilder::new(
        "SELECT e.id, e.lead_id, r.name AS lead_name, e.status, e.next_step, e.next_run_at, e.stop_reason
           FROM enrollments e JOIN leads r ON r.id = e.lead_id
          WHERE e.sequence_id = ",
    );
    q.push_bind(id);
    scope.push(&mut q, "r.owner_id");
    q.push(" ORDER BY e.created_at DESC, e.id LIMIT 200");
    let enrollments = q
        .build()
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(enrollment_view)
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    tx.commit().await?;
    Ok(SequenceDetail {
        summary: sequence_summary(&row)?,
        timezone: extra.try_get("timezone")?,
        business_hours: format_business_hours(
            &extra.try_get::<serde_json::Value, _>("business_hours")?,
        ),
        holidays: extra.try_get("holidays")?,
        exit_on_reply: extra.try_get("exit_on_reply")?,
        exit_on_bounce: extra.try_get("exit_on_bounce")?,
        max_attempts: extra.try_get("max_attempts")?,
        starts_at: extra.try_get("starts_at")?,
        steps,
        enrollments,
    })
}

pub fn enrollment_view(r: &sqlx::postgres::PgRow) -> Result<EnrollmentView, sqlx::Error> {
    Ok(EnrollmentView {
        id: r.try_get("id")?,
        lead_id: r.try_get("lead_id")?,
        lead_name: r.try_get("lead_name")?,
        status: r.try_get("status")?,
        next_step: r.try_get("next_step")?,
        next_run_at: r.try_get("next_run_at")?,
        stop_reason: r.try_get("stop_reason")?,
    })
}

pub struct SequenceInput {
    pub name: String,
    pub timezone: String,
    pub business_hours: String,
    pub holidays: String,
    pub exit_on_reply: bool,
    pub exit_on_bounce: bool,
    pub max_attempts: String,
    /// When sending starts, `YYYY-MM-DDTHH:MM` in the sequence's time zone; empty: at once.
    pub starts_at: String,
}

pub async fn save_sequence(
    env: &Env,
    id: Option<Uuid>,
    input: &SequenceInput,
) -> Result<Uuid, AppError> {
    let name = clean(&input.name)
        .filter(|n| n.chars().count() <= 100)
        .ok_or_else(|| AppError::field("name", env.t("outreach.name_required")))?;
    // The hours grid's word for "only in these hours" with no day open.
    if input.business_hours.trim() == "none" {
        return Err(AppError::field(
            "business_hours",
            env.t("outreach.hours.none_open"),
        ));
    }
    let hours = parse_business_hours(&input.business_hours).map_err(|line| {
        AppError::field(
            "business_hours",
            tf(env.locale(), "outreach.hours_invalid", &[("line", line)]),
        )
    })?;
    let mut holidays = Vec::new();
    for part in input
        .holidays
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let day = chrono::NaiveDate::parse_from_str(part, "%Y-%m-%d").map_err(|_| {
            AppError::field(
                "holidays",
                tf(
                    env.locale(),
                    "outreach.holiday_invalid",
                    &[("value", part.to_string())],
                ),
            )
        })?;
        holidays.push(day);
    }
    let max_attempts = bounded(env, "max_attempts", &input.max_attempts, 1, 10)?;
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let timezone = clean(&input.timezone);
    if let Some(tz) = &timezone {
        if !crate::auth::ssr::timezone_exists(&mut tx, tz).await? {
            return Err(AppError::field("timezone", env.t("validation.timezone")));
        }
    }
    let zone = match &timezone {
        Some(tz) => tz.clone(),
        None => {
            sqlx::query_scalar("SELECT timezone FROM tenants WHERE id = $1")
                .bind(p.tenant_id)
                .fetch_one(&mut *tx)
                .await?
        }
    };
    let starts_at = match clean(&input.starts_at) {
        None => None,
        Some(text) => {
            let at = super::steps::read_local(&text, &zone)
                .ok_or_else(|| AppError::field("starts_at", env.t("outreach.starts_at_invalid")))?;
            if at > chrono::Utc::now() + chrono::Duration::days(366) {
                return Err(AppError::field(
                    "starts_at",
                    env.t("outreach.starts_at_too_far"),
                ));
            }
            Some(at)
        }
    };
    // The start this save replaces: enrolments it held are let go with it.
    let previous_start: Option<chrono::DateTime<chrono::Utc>> = match id {
        Some(id) => sqlx::query_scalar("SELECT starts_at FROM sequences WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .flatten(),
        None => None,
    };
    let id = match id {
        Some(id) => {
            let n = sqlx::query(
                "UPDATE sequences SET name = $2, timezone = $3, business_hours = $4, holidays = $5,
                        exit_on_reply = $6, exit_on_bounce = $7, max_attempts = $8, starts_at = $9,
                        updated_at = now()
                  WHERE id = $1",
            )
            .bind(id)
            .bind(&name)
            .bind(&timezone)
            .bind(&hours)
            .bind(&holidays)
            .bind(input.exit_on_reply)
            .bind(input.exit_on_bounce)
            .bind(max_attempts)
            .bind(starts_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| name_taken(env, e))?
            .rows_affected();
            if n == 0 {
                return Err(not_found(env));
            }
            id
        }
        None => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO sequences (tenant_id, id, name, timezone, business_hours, holidays, exit_on_reply,
                                        exit_on_bounce, max_attempts, created_by, starts_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(p.tenant_id)
            .bind(id)
            .bind(&name)
            .bind(&timezone)
            .bind(&hours)
            .bind(&holidays)
            .bind(input.exit_on_reply)
            .bind(input.exit_on_bounce)
            .bind(max_attempts)
            .bind(p.user_id)
            .bind(starts_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| name_taken(env, e))?;
            id
        }
    };
    // Enrolments the old start held (their next run is exactly it) go at the new one,
    // or now when the start is cleared or already past.
    if let Some(old) = previous_start.filter(|old| Some(*old) != starts_at) {
        sqlx::query(
            "UPDATE enrollments SET next_run_at = greatest(coalesce($3, now()), now()), updated_at = now()
              WHERE sequence_id = $1 AND status IN ('ACTIVE', 'PAUSED') AND next_run_at = $2",
        )
        .bind(id)
        .bind(old)
        .bind(starts_at)
        .execute(&mut *tx)
        .await?;
    }
    // Enrolments already waiting wait for the start too; later ones are placed after
    // it when enrolled.
    if let Some(at) = starts_at {
        sqlx::query(
            "UPDATE enrollments SET next_run_at = $2, updated_at = now()
              WHERE sequence_id = $1 AND status IN ('ACTIVE', 'PAUSED') AND next_run_at < $2",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.saved", "sequences", Some(id))
            .after(serde_json::json!({ "name": name })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Pauses or resumes a whole sequence (its enrolments keep their place); archives it,
/// or restores it (paused), for those who configure sequences. An archived sequence
/// is only restored, never resumed directly.
pub async fn set_sequence_status(env: &Env, id: Uuid, status: &str) -> Result<(), AppError> {
    use SequenceStatus::{Active, Archived, Paused};
    // The request is a status, or RESTORED: out of the archive, paused.
    let (permission, from, to): (Permission, &[SequenceStatus], SequenceStatus) = match status {
        "ACTIVE" => (Permission::OutreachRun, &[Active, Paused], Active),
        "PAUSED" => (Permission::OutreachRun, &[Active, Paused], Paused),
        "ARCHIVED" => (Permission::OutreachManage, &[Active, Paused], Archived),
        "RESTORED" => (Permission::OutreachManage, &[Archived], Paused),
        _ => return Err(AppError::field("status", env.t("outreach.status_invalid"))),
    };
    let (p, mut tx) = env.begin(permission).await?;
    let current: Option<SequenceStatus> =
        sqlx::query_scalar("SELECT status FROM sequences WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(current) = current else {
        return Err(not_found(env));
    };
    if !from.contains(&current) {
        return Err(AppError::Conflict(env.t(if current == Archived {
            "outreach.sequence_archived"
        } else {
            "outreach.status_invalid"
        })));
    }
    sqlx::query("UPDATE sequences SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.status", "sequences", Some(id)).change(
            serde_json::json!({ "status": current }),
            serde_json::json!({ "status": to }),
        ),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

/// Pauses, resumes or stops one enrolment.
pub async fn set_enrollment_status(env: &Env, id: Uuid, status: &str) -> Result<(), AppError> {
    use EnrollmentStatus::{Active, Paused, Stopped};
    let (to, from, reason): (EnrollmentStatus, &[EnrollmentStatus], Option<&str>) =
        match EnrollmentStatus::parse(status) {
            Some(Paused) => (Paused, &[Active], None),
            Some(Active) => (Active, &[Paused], None),
            Some(Stopped) => (Stopped, &[Active, Paused], Some("stopped_by_member")),
            _ => return Err(AppError::field("status", env.t("outreach.status_invalid"))),
        };
    let (p, mut tx) = env.begin(Permission::OutreachRun).await?;
    // A manager runs the enrolments of the leads in their scope only.
    let scope = Scope::load(&mut tx, p).await?;
    let owner: Option<Option<Uuid>> = sqlx::query_scalar(
        "SELECT l.owner_id FROM enrollments e JOIN leads l ON l.id = e.lead_id
          WHERE e.id = $1 FOR UPDATE OF e",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if !owner.is_some_and(|o| scope.allows(o)) {
        return Err(not_found(env));
    }
    let n = sqlx::query(
        "UPDATE enrollments SET status = $2, stop_reason = coalesce($4, stop_reason),
                next_run_at = CASE WHEN $2 = 'ACTIVE' THEN greatest(next_run_at, now()) ELSE next_run_at END,
                updated_at = now()
          WHERE id = $1 AND status = ANY($3)",
    )
    .bind(id)
    .bind(to)
    .bind(from)
    .bind(reason)
    .execute(&mut *tx)
    .await
    ?
    .rows_affected();
    if n == 0 {
        return Err(AppError::Conflict(env.t("outreach.enrollment_state")));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("enrollment.status", "enrollments", Some(id))
            .after(serde_json::json!({ "status": to })),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

/// Enrols leads — a list's (static or smart) or a selection — in a sequence. Leads
/// that cannot take part are left out, and the report says how many and why.
pub async fn enrol(
    env: &Env,
    sequence_id: Uuid,
    list_id: Option<Uuid>,
    lead_ids: &[Uuid],
) -> Result<EnrolReport, AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachRun).await?;
    let scope = Scope::load(&mut tx, p).await?;
    // The sending steps: waits and conditions need nothing of the lead.
    let steps: Vec<(String, Uuid, Option<String>, Option<Uuid>)> = sqlx::query_as(
        "SELECT st.channel, st.template_id, ft.channel, st.fallback_template_id
           FROM sequence_steps st LEFT JOIN templates ft ON ft.id = st.fallback_template_id
          WHERE st.sequence_id = $1 AND st.kind = 'SEND' ORDER BY st.position",
    )
    .bind(sequence_id)
    .fetch_all(&mut *tx)
    .await?;
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM sequences WHERE id = $1")
        .bind(sequence_id)
        .fetch_optional(&mut *tx)
        .await?;
    match status.as_deref() {
        None => return Err(not_found(env)),
        Some("ARCHIVED") => {
            return Err(AppError::field(
                "sequence_id",
                env.t("outreach.sequence_archived"),
            ))
        }
        Some(_) => {}
    }
    if steps.is_empty() {
        return Err(AppError::field("sequence_id", env.t("outreach.no_steps")));
    }
    let first_delay: i32 = sqlx::query_scalar(
        "SELECT delay_minutes FROM sequence_steps WHERE sequence_id = $1 ORDER BY position LIMIT 1",
    )
    .bind(sequence_id)
    .fetch_one(&mut *tx)
    .await?;

    // The candidates, within what the member may see.
    let filter = match list_id {
        Some(list) => {
            let saved: Option<(String, serde_json::Value)> =
                sqlx::query_as("SELECT kind, filter FROM lists WHERE id = $1 AND entity = 'LEAD'")
                    .bind(list)
                    .fetch_optional(&mut *tx)
                    .await?;
            match saved {
                Some((kind, f)) if kind == "SMART" => serde_json::from_value(f).unwrap_or_default(),
                Some(_) => RecordFilter {
                    list_id: Some(list),
                    ..RecordFilter::default()
                },
                None => return Err(AppError::field("list_id", env.t("outreach.list_required"))),
            }
        }
        None if lead_ids.is_empty() => {
            return Err(AppError::field("list_id", env.t("outreach.list_required")))
        }
        None => RecordFilter::default(),
    };
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT r.id, r.name, r.email::text AS email, r.phone_e164, c.name AS company, u.name AS owner_name,
                coalesce(j.state, 'COLD') AS state,
                EXISTS (SELECT 1 FROM enrollments e WHERE e.lead_id = r.id AND e.status IN ('ACTIVE', 'PAUSED')) AS busy,
                EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'WHATSAPP' AND s.address = r.phone_e164) AS wa_suppressed,
                EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'EMAIL' AND s.address = lower(r.email::text)) AS email_suppressed,
                EXISTS (SELECT 1 FROM suppressions s WHERE s.reason IN ('OPT_OUT', 'UNSUBSCRIBE', 'COMPLAINT')
                          AND s.address IN (r.phone_e164, lower(r.email::text))) AS opted_out
           FROM leads r LEFT JOIN companies c ON c.id = r.company_id LEFT JOIN users u ON u.id = r.owner_id
           LEFT JOIN lead_journeys j ON j.lead_id = r.id
          WHERE r.tenant_id = ",
    );
    q.push_bind(p.tenant_id);
    scope.push(&mut q, "r.owner_id");
    push_filter(&mut q, Entity::Lead, &filter);
    if list_id.is_none() {
        q.push(" AND r.id = ANY(")
            .push_bind(lead_ids.to_vec())
            .push(")");
    }
    q.push(" ORDER BY r.created_at, r.id LIMIT 50000");
    let rows = q.build().fetch_all(&mut *tx).await?;

    let versions: Vec<(Uuid, String, Option<String>, String)> = sqlx::query_as(
        "SELECT v.template_id, v.body, v.subject, t.name FROM template_versions v JOIN templates t ON t.id = v.template_id
          WHERE v.active AND v.template_id = ANY($1)",
    )
    .bind(
        steps
            .iter()
            .flat_map(|(_, t, _, f)| std::iter::once(*t).chain(*f))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *tx)
    .await
    ?;
    let parsed: Vec<(Uuid, &str, Template)> = versions
        .iter()
        .flat_map(|(t, body, subject, name)| {
            std::iter::once(body.as_str())
                .chain(subject.as_deref())
                .filter_map(|text| Template::parse(text).ok().map(|p| (*t, name.as_str(), p)))
        })
        .collect();
    // (template name, problem) → the leads that have it, in first-seen order.
    let mut problems: Vec<((String, String), Vec<String>)> = Vec::new();

    let mut skipped: HashMap<&'static str, usize> = HashMap::new();
    let mut chosen = Vec::new();
    let found = rows.len();
    for r in &rows {
        let reason = (|| -> Result<Option<&'static str>, sqlx::Error> {
            let state: String = r.try_get("state")?;
            if matches!(state.as_str(), "CONVERTED" | "DEAD" | "PAUSED") {
                return Ok(Some("closed_journey"));
            }
            if r.try_get::<bool, _>("opted_out")? {
                return Ok(Some("opted_out"));
            }
            if r.try_get::<bool, _>("busy")? {
                return Ok(Some("in_sequence"));
            }
            let phone: Option<String> = r.try_get("phone_e164")?;
            let email: Option<String> = r.try_get("email")?;
            let wa_ok = phone.is_some() && !r.try_get::<bool, _>("wa_suppressed")?;
            let email_ok = email.is_some() && !r.try_get::<bool, _>("email_suppressed")?;
            let reachable = |c: &str| match c {
                "WHATSAPP" => wa_ok,
                _ => email_ok,
            };
            // Every step needs its channel or its fallback's; the first step decides
            // whether the lead can be started at all.
            let (channel, template, fallback_channel, fallback) = &steps[0];
            let usable = if reachable(channel) {
                Some(*template)
            } else {
                fallback_channel
                    .as_deref()
                    .filter(|c| reachable(c))
                    .and(*fallback)
            };
            let Some(template) = usable else {
                let any_suppressed = r.try_get::<bool, _>("wa_suppressed")?
                    || r.try_get::<bool, _>("email_suppressed")?;
                return Ok(Some(if any_suppressed {
                    "suppressed"
                } else {
                    "no_channel"
                }));
            };
            let values = store::lead_values(
                r.try_get("name")?,
                email.as_deref(),
                phone.as_deref(),
                r.try_get("company")?,
                r.try_get("owner_name")?,
            );
            let missing =
                parsed
                    .iter()
                    .filter(|(t, _, _)| *t == template)
                    .find_map(|(_, name, p)| {
                        p.check(&TEMPLATE_VARIABLES, Some(&values))
                            .err()
                            .map(|e| (name, e))
                    });
            if let Some((template_name, error)) = missing {
                let (key, args) = error.describe();
                let problem = ((*template_name).to_string(), tf(env.locale(), key, &args));
                let lead_name: String = r.try_get("name")?;
                match problems.iter_mut().find(|(p, _)| *p == problem) {
                    Some((_, leads)) => leads.push(lead_name),
                    None => problems.push((problem, vec![lead_name])),
                }
                return Ok(Some("missing_variable"));
            }
            Ok(None)
        })()?;
        match reason {
            Some(reason) => *skipped.entry(reason).or_default() += 1,
            None => chosen.push(r.try_get::<Uuid, _>("id")?),
        }
    }
    if list_id.is_none() && found < lead_ids.len() {
        skipped.insert("not_found", lead_ids.len() - found);
    }
    let enrolled = sqlx::query(
        "INSERT INTO enrollments (tenant_id, id, sequence_id, lead_id, next_step, next_run_at, enrolled_by)
         SELECT $1, gen_random_uuid(), $2, lead, (SELECT min(position) FROM sequence_steps WHERE sequence_id = $2),
                greatest(now() + make_interval(mins => $4), (SELECT starts_at FROM sequences WHERE id = $2)), $5
           FROM UNNEST($3::uuid[]) AS lead
         ON CONFLICT DO NOTHING",
    )
    .bind(p.tenant_id)
    .bind(sequence_id)
    .bind(&chosen)
    .bind(first_delay)
    .bind(p.actor())
    .execute(&mut *tx)
    .await
    ?
    .rows_affected() as usize;
    if enrolled < chosen.len() {
        *skipped.entry("in_sequence").or_default() += chosen.len() - enrolled;
    }
    sqlx::query(
        "INSERT INTO activities (tenant_id, id, kind, lead_id, actor_id, data)
         SELECT $1, gen_random_uuid(), 'ENROLLED', e.lead_id, $2, jsonb_build_object('sequence', s.name, 'sequence_id', s.id)
           FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
          WHERE e.sequence_id = $3 AND e.lead_id = ANY($4) AND e.status = 'ACTIVE' AND e.enrolled_by IS NOT DISTINCT FROM $2
            AND e.created_at = now()",
    )
    .bind(p.tenant_id)
    .bind(p.actor())
    .bind(sequence_id)
    .bind(&chosen)
    .execute(&mut *tx)
    .await
    ?;
    let mut skipped: Vec<(String, usize)> = skipped
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    skipped.sort();
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.enrolled", "sequences", Some(sequence_id)).after(
            serde_json::json!({
                "enrolled": enrolled, "skipped": skipped, "list_id": list_id,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    let template_problems = problems
        .into_iter()
        .map(|((template, problem), leads)| TemplateProblem {
            template,
            problem,
            leads: leads.len(),
            examples: leads.into_iter().take(3).collect(),
        })
        .collect();
    Ok(EnrolReport {
        enrolled,
        skipped,
        template_problems,
    })
}
