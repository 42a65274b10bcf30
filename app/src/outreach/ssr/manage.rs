//! What admins configure: templates and their versions, and the helpers the other
//! configuration files share; senders live in `senders`, sequences in `sequences`.
//! Every change is audited in its own transaction.

use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::crm::access::{push_filter, Scope};
use crate::crm::model::{Entity, RecordFilter};
use crate::db::{internal, new_id, violated_constraint, Tx};
use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::model::*;
use crate::outreach::template::Template;
use crate::request::{Env, Principal};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::store;

pub(super) fn not_found(env: &Env) -> AppError {
    AppError::NotFound(env.t("outreach.not_found"))
}

pub(super) fn clean(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

pub(super) fn bounded(
    env: &Env,
    field: &str,
    text: &str,
    min: i32,
    max: i32,
) -> Result<i32, AppError> {
    match text.trim().parse::<i32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(AppError::field(
            field,
            tf(
                env.locale(),
                "outreach.number_range",
                &[("min", min.to_string()), ("max", max.to_string())],
            ),
        )),
    }
}

/// A template problem as a message on `field`, with its position.
pub fn template_error(
    env: &Env,
    field: &str,
    err: &crate::outreach::template::TemplateError,
) -> AppError {
    let (key, args) = err.describe();
    AppError::field(field, tf(env.locale(), key, &args))
}

/// Parses and checks a template text against the variables we know.
fn check_template(env: &Env, field: &str, text: &str) -> Result<(), AppError> {
    let template = Template::parse(text).map_err(|e| template_error(env, field, &e))?;
    template
        .check(&TEMPLATE_VARIABLES, None)
        .map_err(|e| template_error(env, field, &e))
}

// ---------------------------------------------------------------- templates

/// The templates to work with, or (`archived`) those put away.
pub async fn list_templates(env: &Env, archived: bool) -> Result<Vec<TemplateSummary>, AppError> {
    let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.channel, t.locale, t.folder, t.tags, t.approval_status, t.archived,
                (SELECT count(*) FROM template_versions v WHERE v.template_id = t.id) AS versions,
                (SELECT count(*) FROM messages m JOIN template_versions v ON v.id = m.template_version_id
                  WHERE v.template_id = t.id AND m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                (SELECT count(*) FROM messages m JOIN template_versions v ON v.id = m.template_version_id
                  WHERE v.template_id = t.id AND m.replied_at IS NOT NULL) AS replied
           FROM templates t WHERE t.archived = $1
          ORDER BY t.folder NULLS FIRST, t.name",
    )
    .bind(archived)
    .fetch_all(&mut *tx)
    .await
    ?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(template_summary)
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

fn template_summary(r: &sqlx::postgres::PgRow) -> Result<TemplateSummary, sqlx::Error> {
    Ok(TemplateSummary {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        channel: Channel::parse(r.try_get("channel")?).unwrap_or(Channel::WhatsApp),
        locale: r.try_get("locale")?,
        folder: r.try_get("folder")?,
        tags: r.try_get("tags")?,
        approval_status: r.try_get("approval_status")?,
        versions: r.try_get("versions")?,
        sent: r.try_get("sent")?,
        replied: r.try_get("replied")?,
        archived: r.try_get("archived")?,
    })
}

/// Puts a template away, or brings it back. One that a sequence still uses (as a step
/// or a fallback) stays: the answer names those sequences.
pub async fn set_template_archived(env: &Env, id: Uuid, archived: bool) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let found: Option<bool> =
        sqlx::query_scalar("SELECT archived FROM templates WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        return Err(not_found(env));
    }
    if archived {
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT s.name FROM sequence_steps st JOIN sequences s ON s.id = st.sequence_id
              WHERE (st.template_id = $1 OR st.fallback_template_id = $1) AND s.status <> 'ARCHIVED'
              ORDER BY s.name",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !users.is_empty() {
            return Err(AppError::Conflict(tf(
                env.locale(),
                "outreach.template_in_use",
                &[("sequences", users.join(", "))],
            )));
        }
    }
    sqlx::query("UPDATE templates SET archived = $2 WHERE id = $1")
        .bind(id)
        .bind(archived)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(
            if archived {
                "template.archived"
            } else {
                "template.restored"
            },
            "templates",
            Some(id),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn template_detail(env: &Env, id: Uuid) -> Result<TemplateDetail, AppError> {
    let (_, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let row = sqlx::query(
        "SELECT t.id, t.name, t.channel, t.locale, t.folder, t.tags, t.approval_status, t.wa_template_name, t.archived,
                (SELECT count(*) FROM template_versions v WHERE v.template_id = t.id) AS versions,
                0::bigint AS sent, 0::bigint AS replied
           FROM templates t WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    ?
    .ok_or_else(|| not_found(env))?;
    let versions: Vec<VersionView> = sqlx::query(
        "SELECT v.id, v.version_no, v.label, v.subject, v.body, v.weight, v.active,
                count(m.id) FILTER (WHERE m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                count(m.id) FILTER (WHERE m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL OR m.opened_at IS NOT NULL) AS delivered,
                count(m.id) FILTER (WHERE m.replied_at IS NOT NULL) AS replied
           FROM template_versions v LEFT JOIN messages m ON m.template_version_id = v.id
          WHERE v.template_id = $1
          GROUP BY v.id ORDER BY v.version_no",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| {
        Ok(VersionView {
            id: r.try_get("id")?,
            version_no: r.try_get("version_no")?,
            label: r.try_get("label")?,
            subject: r.try_get("subject")?,
            body: r.try_get("body")?,
            weight: r.try_get("weight")?,
            active: r.try_get("active")?,
            sent: r.try_get("sent")?,
            delivered: r.try_get("delivered")?,
            replied: r.try_get("replied")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let files = super::files::list_files(&mut tx, id).await?;
    tx.commit().await?;
    let mut summary = template_summary(&row)?;
    summary.sent = versions.iter().map(|v| v.sent).sum();
    summary.replied = versions.iter().map(|v| v.replied).sum();
    Ok(TemplateDetail {
        summary,
        wa_template_name: row.try_get("wa_template_name")?,
        versions,
        files,
    })
}

pub struct TemplateInput {
    pub name: String,
    pub channel: String,
    pub locale: String,
    pub folder: String,
    pub tags: String,
    pub wa_template_name: String,
    pub approval_status: String,
    /// The first version's text, when the template is created.
    pub subject: String,
    pub body: String,
}

pub async fn save_template(
    env: &Env,
    id: Option<Uuid>,
    input: &TemplateInput,
) -> Result<Uuid, AppError> {
    let name = clean(&input.name)
        .filter(|n| n.chars().count() <= 100)
        .ok_or_else(|| AppError::field("name", env.t("outreach.name_required")))?;
    let channel = Channel::parse(&input.channel)
        .ok_or_else(|| AppError::field("channel", env.t("outreach.channel_invalid")))?;
    let locale = clean(&input.locale).unwrap_or_else(|| "en".into());
    if !(locale.len() == 2 && locale.chars().all(|c| c.is_ascii_lowercase())) {
        return Err(AppError::field("locale", env.t("outreach.locale_invalid")));
    }
    let folder = clean(&input.folder);
    if folder.as_ref().is_some_and(|f| f.chars().count() > 60) {
        return Err(AppError::field("folder", env.t("records.too_long")));
    }
    let tags: Vec<String> = input.tags.split(',').filter_map(clean).take(20).collect();
    let wa_name = clean(&input.wa_template_name);
    if wa_name.as_ref().is_some_and(|n| {
        !n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }) {
        return Err(AppError::field(
            "wa_template_name",
            env.t("outreach.wa_name_invalid"),
        ));
    }
    let approval = match (channel, input.approval_status.trim()) {
        (Channel::Email, _) => TemplateApproval::Approved,
        (Channel::WhatsApp, "") => TemplateApproval::Pending,
        (Channel::WhatsApp, code) => TemplateApproval::parse(code).ok_or_else(|| {
            AppError::field("approval_status", env.t("outreach.approval_invalid"))
        })?,
    };
    if approval == TemplateApproval::Approved && channel == Channel::WhatsApp && wa_name.is_none() {
        return Err(AppError::field(
            "wa_template_name",
            env.t("outreach.wa_name_required"),
        ));
    }
    if id.is_none() {
        check_version_text(env, channel, &input.subject, &input.body)?;
    }
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let id = match id {
        Some(id) => {
            let n = sqlx::query(
                "UPDATE templates SET name = $2, locale = $3, folder = $4, tags = $5, wa_template_name = $6,
                        approval_status = $7, updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(&name)
            .bind(&locale)
            .bind(&folder)
            .bind(&tags)
            .bind(&wa_name)
            .bind(approval)
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
                "INSERT INTO templates (tenant_id, id, name, channel, locale, folder, tags, wa_template_name,
                                        approval_status, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(p.tenant_id)
            .bind(id)
            .bind(&name)
            .bind(channel.code())
            .bind(&locale)
            .bind(&folder)
            .bind(&tags)
            .bind(&wa_name)
            .bind(approval)
            .bind(p.user_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| name_taken(env, e))?;
            insert_version(&mut tx, p, id, 1, "A", &input.subject, &input.body, 100).await?;
            id
        }
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("template.saved", "templates", Some(id)).after(serde_json::json!({
            "name": name, "channel": channel.code(), "approval_status": approval,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(super) fn name_taken(env: &Env, e: sqlx::Error) -> AppError {
    match violated_constraint(&e).as_deref() {
        Some(c) if c.ends_with("_name_key") => {
            AppError::field("name", env.t("outreach.name_taken"))
        }
        _ => internal(e),
    }
}

fn check_version_text(
    env: &Env,
    channel: Channel,
    subject: &str,
    body: &str,
) -> Result<(), AppError> {
    if body.trim().is_empty() {
        return Err(AppError::field("body", env.t("outreach.body_required")));
    }
    if body.chars().count() > 4096 {
        return Err(AppError::field("body", env.t("records.too_long")));
    }
    check_template(env, "body", body)?;
    if channel == Channel::Email {
        if subject.trim().is_empty() {
            return Err(AppError::field(
                "subject",
                env.t("outreach.subject_required"),
            ));
        }
        if subject.chars().count() > 300 {
            return Err(AppError::field("subject", env.t("records.too_long")));
        }
        check_template(env, "subject", subject)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    tx: &mut Tx,
    p: &Principal,
    template_id: Uuid,
    version_no: i32,
    label: &str,
    subject: &str,
    body: &str,
    weight: i32,
) -> Result<Uuid, AppError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO template_versions (tenant_id, id, template_id, version_no, label, subject, body, weight, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(template_id)
    .bind(version_no)
    .bind(label)
    .bind(clean(subject))
    .bind(body.trim())
    .bind(weight)
    .bind(p.user_id)
    .execute(&mut **tx)
    .await
    ?;
    Ok(id)
}

pub struct VersionInput {
    pub label: String,
    pub subject: String,
    pub body: String,
    pub weight: String,
    pub active: bool,
}

/// A new version (an A/B variant when several are active), or a change of an existing
/// version's split and activity. Texts of a version that has been sent never change,
/// so per-version stats keep meaning what they say.
pub async fn save_version(
    env: &Env,
    template_id: Uuid,
    version_id: Option<Uuid>,
    input: &VersionInput,
) -> Result<Uuid, AppError> {
    let weight = bounded(env, "weight", &input.weight, 0, 100)?;
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let channel: Option<String> = sqlx::query_scalar("SELECT channel FROM templates WHERE id = $1")
        .bind(template_id)
        .fetch_optional(&mut *tx)
        .await?;
    let channel = channel
        .and_then(|c| Channel::parse(&c))
        .ok_or_else(|| not_found(env))?;
    let id = match version_id {
        Some(id) => {
            let n = sqlx::query(
                "UPDATE template_versions SET weight = $3, active = $4 WHERE id = $1 AND template_id = $2",
            )
            .bind(id)
            .bind(template_id)
            .bind(weight)
            .bind(input.active)
            .execute(&mut *tx)
            .await
            ?
            .rows_affected();
            if n == 0 {
                return Err(not_found(env));
            }
            id
        }
        None => {
            check_version_text(env, channel, &input.subject, &input.body)?;
            let label = clean(&input.label)
                .filter(|l| l.chars().count() <= 20)
                .ok_or_else(|| AppError::field("label", env.t("outreach.label_required")))?;
            let next: i32 = sqlx::query_scalar(
                "SELECT coalesce(max(version_no), 0) + 1 FROM template_versions WHERE template_id = $1",
            )
            .bind(template_id)
            .fetch_one(&mut *tx)
            .await
            ?;
            insert_version(
                &mut tx,
                p,
                template_id,
                next,
                &label,
                &input.subject,
                &input.body,
                weight,
            )
            .await?
        }
    };
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM template_versions WHERE template_id = $1 AND active",
    )
    .bind(template_id)
    .fetch_one(&mut *tx)
    .await?;
    if active == 0 {
        return Err(AppError::field(
            "active",
            env.t("outreach.one_version_active"),
        ));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("template.version_saved", "template_versions", Some(id))
            .after(serde_json::json!({ "weight": weight, "active": input.active })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Leads to preview a template against: the viewer's visible leads, by name.
pub async fn preview_leads(env: &Env, query: &str) -> Result<Vec<PreviewLead>, AppError> {
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT r.id, r.name, r.email::text AS email, r.phone_e164, c.name AS company, u.name AS owner_name
           FROM leads r LEFT JOIN companies c ON c.id = r.company_id LEFT JOIN users u ON u.id = r.owner_id
          WHERE r.tenant_id = ",
    );
    q.push_bind(p.tenant_id);
    scope.push(&mut q, "r.owner_id");
    push_filter(
        &mut q,
        Entity::Lead,
        &RecordFilter {
            q: query.to_string(),
            ..RecordFilter::default()
        },
    );
    q.push(" ORDER BY r.name, r.id LIMIT 20");
    let rows = q.build().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|r| {
            let values = store::lead_values(
                r.try_get("name")?,
                r.try_get("email")?,
                r.try_get("phone_e164")?,
                r.try_get("company")?,
                r.try_get("owner_name")?,
            );
            let mut values: Vec<(String, String)> = values.into_iter().collect();
            values.sort();
            Ok(PreviewLead {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                values,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}
