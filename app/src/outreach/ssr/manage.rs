//! What admins configure: templates and their versions, senders (WhatsApp numbers,
//! sending domains, mailboxes) and sequences with their steps; and what managers run:
//! enrolments. Every change is audited in its own transaction.

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
use std::collections::HashMap;
use uuid::Uuid;

use super::provider::{CloudApi, SendError, WhatsAppApi};
use super::secrets;
use super::store::{self, TENANT_TODAY};

async fn begin(env: &Env, permission: Permission) -> Result<(&Principal, Tx), AppError> {
    let p = env.require(permission)?;
    let tx = env.db().tenant_tx(p.tenant_id, Some(p.user_id)).await?;
    Ok((p, tx))
}

fn not_found(env: &Env) -> AppError {
    AppError::NotFound(env.t("outreach.not_found"))
}

fn clean(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn bounded(env: &Env, field: &str, text: &str, min: i32, max: i32) -> Result<i32, AppError> {
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

pub async fn list_templates(env: &Env) -> Result<Vec<TemplateSummary>, AppError> {
    let (_, mut tx) = begin(env, Permission::WorkspaceUse).await?;
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.channel, t.locale, t.folder, t.tags, t.approval_status,
                (SELECT count(*) FROM template_versions v WHERE v.template_id = t.id) AS versions,
                (SELECT count(*) FROM messages m JOIN template_versions v ON v.id = m.template_version_id
                  WHERE v.template_id = t.id AND m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                (SELECT count(*) FROM messages m JOIN template_versions v ON v.id = m.template_version_id
                  WHERE v.template_id = t.id AND m.replied_at IS NOT NULL) AS replied
           FROM templates t WHERE NOT t.archived
          ORDER BY t.folder NULLS FIRST, t.name",
    )
    .fetch_all(&mut *tx)
    .await
    ?;
    tx.commit().await?;
    Ok(rows.iter().map(template_summary).collect())
}

fn template_summary(r: &sqlx::postgres::PgRow) -> TemplateSummary {
    TemplateSummary {
        id: r.get("id"),
        name: r.get("name"),
        channel: Channel::parse(r.get("channel")).unwrap_or(Channel::WhatsApp),
        locale: r.get("locale"),
        folder: r.get("folder"),
        tags: r.get("tags"),
        approval_status: r.get("approval_status"),
        versions: r.get("versions"),
        sent: r.get("sent"),
        replied: r.get("replied"),
    }
}

pub async fn template_detail(env: &Env, id: Uuid) -> Result<TemplateDetail, AppError> {
    let (_, mut tx) = begin(env, Permission::WorkspaceUse).await?;
    let row = sqlx::query(
        "SELECT t.id, t.name, t.channel, t.locale, t.folder, t.tags, t.approval_status, t.wa_template_name,
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
    .map(|r| VersionView {
        id: r.get("id"),
        version_no: r.get("version_no"),
        label: r.get("label"),
        subject: r.get("subject"),
        body: r.get("body"),
        weight: r.get("weight"),
        active: r.get("active"),
        sent: r.get("sent"),
        delivered: r.get("delivered"),
        replied: r.get("replied"),
    })
    .collect();
    tx.commit().await?;
    let mut summary = template_summary(&row);
    summary.sent = versions.iter().map(|v| v.sent).sum();
    summary.replied = versions.iter().map(|v| v.replied).sum();
    Ok(TemplateDetail {
        summary,
        wa_template_name: row.get("wa_template_name"),
        versions,
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
        (Channel::Email, _) => "APPROVED",
        (Channel::WhatsApp, s @ ("DRAFT" | "PENDING" | "APPROVED" | "REJECTED")) => s,
        (Channel::WhatsApp, "") => "PENDING",
        _ => {
            return Err(AppError::field(
                "approval_status",
                env.t("outreach.approval_invalid"),
            ))
        }
    };
    if approval == "APPROVED" && channel == Channel::WhatsApp && wa_name.is_none() {
        return Err(AppError::field(
            "wa_template_name",
            env.t("outreach.wa_name_required"),
        ));
    }
    if id.is_none() {
        check_version_text(env, channel, &input.subject, &input.body)?;
    }
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
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

fn name_taken(env: &Env, e: sqlx::Error) -> AppError {
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
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
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
    let (p, mut tx) = begin(env, Permission::WorkspaceUse).await?;
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
                r.get("name"),
                r.get("email"),
                r.get("phone_e164"),
                r.get("company"),
                r.get("owner_name"),
            );
            let mut values: Vec<(String, String)> = values.into_iter().collect();
            values.sort();
            PreviewLead {
                id: r.get("id"),
                name: r.get("name"),
                values,
            }
        })
        .collect())
}

// ---------------------------------------------------------------- senders

pub async fn senders(env: &Env) -> Result<Senders, AppError> {
    let (_, mut tx) = begin(env, Permission::OutreachRun).await?;
    let phones = sqlx::query(&format!(
        "SELECT p.id, p.number, p.label, p.provider_phone_id, p.provider, p.status, p.status_reason, p.priority, p.daily_quota,
                coalesce(u.new_contacts, 0) AS used, coalesce(u.followups, 0) AS followups,
                (SELECT count(*) FROM lead_journeys j WHERE j.assigned_phone_id = p.id) AS leads
           FROM wa_phone_numbers p LEFT JOIN wa_quota_usage u ON u.phone_id = p.id AND u.day = {TENANT_TODAY}
          ORDER BY p.priority, p.created_at"
    ))
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| -> Result<PhoneView, sqlx::Error> {
        Ok(PhoneView {
            id: r.try_get("id")?,
            number: r.try_get("number")?,
            label: r.try_get("label")?,
            provider_phone_id: r.try_get("provider_phone_id")?,
            provider: r.try_get("provider")?,
            status: r.try_get("status")?,
            status_reason: r.try_get("status_reason")?,
            priority: r.try_get("priority")?,
            daily_quota: r.try_get("daily_quota")?,
            used_today: r.try_get("used")?,
            followups_today: r.try_get("followups")?,
            leads: r.try_get("leads")?,
        })
    })
    .collect::<Result<Vec<_>, _>>()?;
    let domains = sqlx::query(
        "SELECT id, domain::text AS domain, dkim_selector, spf_ok, dkim_ok, dmarc_ok, checks, checked_at
           FROM email_domains ORDER BY domain",
    )
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(domain_view)
    .collect();
    let mailboxes = sqlx::query(&format!(
        "SELECT a.id, d.domain::text AS domain, a.from_address::text AS from_address, a.from_name, a.smtp_host,
                a.smtp_port, a.smtp_security, a.daily_cap, a.min_gap_seconds, a.status, a.status_reason,
                least(a.daily_cap, a.warmup_start + a.warmup_step * greatest(0, {TENANT_TODAY} - a.warmup_started_on)) AS cap_today,
                coalesce(u.sent, 0) AS sent_today,
                (SELECT count(*) FILTER (WHERE m.status = 'BOUNCED')::float8 / greatest(count(*), 1)
                   FROM messages m WHERE m.email_account_id = a.id AND m.direction = 'OUT'
                    AND m.status <> 'QUEUED') AS bounce_rate
           FROM email_accounts a JOIN email_domains d ON d.id = a.domain_id
           LEFT JOIN email_daily_usage u ON u.account_id = a.id AND u.day = {TENANT_TODAY}
          ORDER BY a.from_address"
    ))
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| MailboxView {
        id: r.get("id"),
        domain: r.get("domain"),
        from_address: r.get("from_address"),
        from_name: r.get("from_name"),
        smtp_host: r.get("smtp_host"),
        smtp_port: r.get("smtp_port"),
        smtp_security: r.get("smtp_security"),
        daily_cap: r.get("daily_cap"),
        cap_today: r.get("cap_today"),
        sent_today: r.get("sent_today"),
        min_gap_seconds: r.get("min_gap_seconds"),
        status: r.get("status"),
        status_reason: r.get("status_reason"),
        bounce_rate: r.get::<f64, _>("bounce_rate") * 100.0,
    })
    .collect();
    let limit: i32 = sqlx::query_scalar("SELECT wa_daily_unique_limit FROM tenant_policies")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Senders {
        phones,
        domains,
        mailboxes,
        wa_daily_unique_limit: limit,
    })
}

fn domain_view(r: &sqlx::postgres::PgRow) -> DomainView {
    let checks: Vec<DnsCheckView> = serde_json::from_value(r.get("checks")).unwrap_or_default();
    DomainView {
        id: r.get("id"),
        domain: r.get("domain"),
        dkim_selector: r.get("dkim_selector"),
        spf_ok: r.get("spf_ok"),
        dkim_ok: r.get("dkim_ok"),
        dmarc_ok: r.get("dmarc_ok"),
        checks,
        checked_at: r.get("checked_at"),
    }
}

pub struct PhoneInput {
    pub number: String,
    pub label: String,
    pub provider_phone_id: String,
    /// The WhatsApp Business Account that holds the number; empty on an update keeps
    /// the saved one.
    pub waba_id: String,
    pub access_token: String,
    pub priority: String,
    pub daily_quota: String,
    pub status: String,
}

/// A Graph node id as we accept it: what Meta issues, and nothing that changes a URL.
fn graph_id(text: &str) -> Option<String> {
    clean(text).filter(|s| {
        s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// What is saved of a number before this save.
#[derive(sqlx::FromRow)]
struct SavedPhone {
    provider_phone_id: String,
    waba_id: Option<String>,
    access_token: Vec<u8>,
}

/// Asks Meta, with the tenant's own token, whether WABA `waba_id` holds number
/// `provider_id`. Every "no" — a wrong token, another business's WABA, a number not in
/// it — gets one message, which says nothing of who else may hold the number.
async fn confirm_number(
    env: &Env,
    waba_id: &str,
    provider_id: &str,
    token: &str,
) -> Result<(), AppError> {
    let api = CloudApi::new(&env.ctx.config.wa_api_url);
    match api.waba_numbers(waba_id, token).await {
        Ok(numbers) if numbers.iter().any(|n| n.id == provider_id) => Ok(()),
        Ok(_) | Err(SendError::Permanent(_)) => Err(unconfirmed(env)),
        Err(SendError::Transient(reason)) => {
            tracing::warn!(%reason, "confirming a WhatsApp number");
            Err(AppError::field(
                "provider_phone_id",
                env.t("outreach.wa_unreachable"),
            ))
        }
    }
}

fn unconfirmed(env: &Env) -> AppError {
    AppError::field("provider_phone_id", env.t("outreach.wa_unconfirmed"))
}

pub async fn save_phone(env: &Env, id: Option<Uuid>, input: &PhoneInput) -> Result<Uuid, AppError> {
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    let region: Option<String> =
        sqlx::query_scalar("SELECT phone_region FROM tenants WHERE id = $1")
            .bind(p.tenant_id)
            .fetch_one(&mut *tx)
            .await?;
    let saved: Option<SavedPhone> = match id {
        Some(id) => Some(
            sqlx::query_as(
                "SELECT provider_phone_id, waba_id, access_token FROM wa_phone_numbers WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            ?
            .ok_or_else(|| not_found(env))?,
        ),
        None => None,
    };
    // No network inside a transaction: the provider is asked between the two.
    tx.rollback().await?;
    let number = crate::crm::phone::normalize(&input.number, region.as_deref())
        .ok()
        .flatten()
        .ok_or_else(|| AppError::field("number", env.t("records.phone_invalid")))?;
    let label = clean(&input.label)
        .filter(|l| l.chars().count() <= 60)
        .ok_or_else(|| AppError::field("label", env.t("outreach.name_required")))?;
    let provider_id = graph_id(&input.provider_phone_id).ok_or_else(|| {
        AppError::field("provider_phone_id", env.t("outreach.provider_id_invalid"))
    })?;
    let waba_id = match clean(&input.waba_id) {
        Some(_) => Some(
            graph_id(&input.waba_id)
                .ok_or_else(|| AppError::field("waba_id", env.t("outreach.waba_id_invalid")))?,
        ),
        None => saved.as_ref().and_then(|s| s.waba_id.clone()),
    };
    let priority = bounded(env, "priority", &input.priority, 1, 100)?;
    let quota = bounded(env, "daily_quota", &input.daily_quota, 1, 100_000)?;
    let status = clean(&input.status).unwrap_or_else(|| "ACTIVE".into());
    if !PHONE_STATUSES.contains(&status.as_str()) {
        return Err(AppError::field("status", env.t("outreach.status_invalid")));
    }
    let new_token = clean(&input.access_token);
    // A new number, a new token or a different number or WABA is confirmed again; a
    // change of label, quota or status is not (nor does it change where webhooks go).
    let changed = saved.as_ref().is_none_or(|s| {
        new_token.is_some() || s.provider_phone_id != provider_id || s.waba_id != waba_id
    });
    if changed {
        let token = match (&new_token, &saved) {
            (Some(token), _) => token.clone(),
            (None, Some(s)) => secrets::open(
                &env.ctx.config.secret_key,
                &secrets::phone_token(id.ok_or_else(|| internal("a saved number has an id"))?),
                &s.access_token,
            )?,
            (None, None) => {
                return Err(AppError::field(
                    "access_token",
                    env.t("outreach.token_required"),
                ))
            }
        };
        let waba = waba_id
            .as_deref()
            .ok_or_else(|| AppError::field("waba_id", env.t("outreach.waba_id_invalid")))?;
        confirm_number(env, waba, &provider_id, &token).await?;
    }
    let target = id.unwrap_or_else(new_id);
    let token = new_token.map(|t| {
        secrets::seal(
            &env.ctx.config.secret_key,
            &secrets::phone_token(target),
            &t,
        )
    });
    let taken = |e: sqlx::Error| match violated_constraint(&e).as_deref() {
        Some("wa_phone_numbers_tenant_id_number_key") => {
            AppError::field("number", env.t("outreach.number_taken"))
        }
        // Confirmed with Meta by another tenant too (a number moved between
        // businesses): the same answer as any refusal, naming no one.
        Some("wa_phone_numbers_confirmed") => unconfirmed(env),
        _ => internal(e),
    };
    let (_, mut tx) = begin(env, Permission::OutreachManage).await?;
    // One parameter list for both statements; only the insert takes the tenant.
    let (sql, before) = match id {
        Some(id) => {
            let before: Option<String> =
                sqlx::query_scalar("SELECT status FROM wa_phone_numbers WHERE id = $1 FOR UPDATE")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    ?;
            let before = before.ok_or_else(|| not_found(env))?;
            // The switch gives the number its status back when it ends; a change now
            // would be lost, or release the messages it holds too early.
            if before == MIGRATING {
                return Err(AppError::Conflict(env.t("outreach.switch_in_progress")));
            }
            (
                "UPDATE wa_phone_numbers SET number = $1, label = $2, provider_phone_id = $3,
                        access_token = coalesce($4, access_token), priority = $5, daily_quota = $6,
                        status = $7,
                        status_reason = CASE WHEN status = $7 THEN status_reason ELSE 'set by a member' END,
                        status_changed_at = CASE WHEN status = $7 THEN status_changed_at ELSE now() END,
                        waba_id = $8
                  WHERE id = $9",
                Some(before),
            )
        }
        None => (
            "INSERT INTO wa_phone_numbers (number, label, provider_phone_id, access_token, priority,
                                           daily_quota, status, waba_id, id, tenant_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            None,
        ),
    };
    let mut query = sqlx::query(sql)
        .bind(&number)
        .bind(&label)
        .bind(&provider_id)
        .bind(&token)
        .bind(priority)
        .bind(quota)
        .bind(&status)
        .bind(&waba_id)
        .bind(target);
    if id.is_none() {
        query = query.bind(p.tenant_id);
    }
    query.execute(&mut *tx).await.map_err(taken)?;
    let id = target;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("phone.saved", "wa_phone_numbers", Some(id)).change(
            serde_json::json!({ "status": before }),
            serde_json::json!({ "number": number, "status": status, "daily_quota": quota, "priority": priority, "waba_id": waba_id }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn save_wa_limit(env: &Env, limit: &str) -> Result<(), AppError> {
    let limit = bounded(env, "wa_daily_unique_limit", limit, 1, 10_000_000)?;
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    sqlx::query("UPDATE tenant_policies SET wa_daily_unique_limit = $1 WHERE tenant_id = $2")
        .bind(limit)
        .bind(p.tenant_id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("outreach.wa_limit_set", "tenant_policies", None)
            .after(serde_json::json!({ "wa_daily_unique_limit": limit })),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

pub async fn save_domain(env: &Env, domain: &str, selector: &str) -> Result<Uuid, AppError> {
    // An internationalised domain (مثال.مصر) is kept in the punycode form its DNS
    // records and DKIM signatures use.
    let domain = mail::ascii_name(domain.trim()).unwrap_or_default();
    let valid = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !valid {
        return Err(AppError::field("domain", env.t("outreach.domain_invalid")));
    }
    let selector = clean(selector)
        .unwrap_or_else(|| "leadline".into())
        .to_lowercase();
    if !(selector.len() <= 63
        && selector
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(AppError::field(
            "dkim_selector",
            env.t("outreach.selector_invalid"),
        ));
    }
    // RSA key generation takes a while: off the async workers, and before the
    // transaction opens, so no connection sits idle in one meanwhile. The permission
    // is checked first, so nobody else can spend our CPU on keys.
    env.require(Permission::OutreachManage)?;
    let key = tokio::task::spawn_blocking(mail::DkimKey::generate)
        .await
        .map_err(internal)?
        .map_err(internal)?;
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    let id = new_id();
    let sealed_key = secrets::seal(
        &env.ctx.config.secret_key,
        &secrets::dkim_key(id),
        &key.to_pkcs8_pem(),
    );
    sqlx::query(
        "INSERT INTO email_domains (tenant_id, id, domain, dkim_selector, dkim_private, dkim_public)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(&domain)
    .bind(&selector)
    .bind(sealed_key)
    .bind(key.public_key_b64())
    .execute(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("email_domains_tenant_id_domain_key") => {
            AppError::field("domain", env.t("outreach.domain_taken"))
        }
        _ => internal(e),
    })?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("domain.added", "email_domains", Some(id))
            .after(serde_json::json!({ "domain": domain })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Looks the domain's SPF, DKIM and DMARC records up in DNS and stores the result.
pub async fn verify_domain(env: &Env, id: Uuid) -> Result<DomainView, AppError> {
    let (_, mut tx) = begin(env, Permission::OutreachManage).await?;
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT domain::text, dkim_selector, dkim_public FROM email_domains WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    // The DNS lookups (seconds, against a server the tenant's records point at) run
    // with no transaction open.
    tx.commit().await?;
    let (domain, selector, public) = row.ok_or_else(|| not_found(env))?;
    let setup = mail::DomainSetup {
        domain,
        dkim_selector: selector,
        dkim_public_key_b64: public,
        spf_include: env.ctx.config.spf_include.clone(),
    };
    let checks = mail::verify_domain(
        env.ctx.config.dns_resolver,
        &setup,
        std::time::Duration::from_secs(3),
    )
    .await
    .map_err(|e| {
        AppError::field(
            "domain",
            tf(
                env.locale(),
                "outreach.dns_failed",
                &[("reason", e.to_string())],
            ),
        )
    })?;
    let views: Vec<DnsCheckView> = checks
        .iter()
        .map(|c| DnsCheckView {
            kind: format!("{:?}", c.kind).to_uppercase(),
            name: c.name.clone(),
            expected: c.expected.clone(),
            found: c.found.clone(),
            ok: c.ok,
            problem: c.problem.clone(),
        })
        .collect();
    let ok = |kind: &str| views.iter().any(|v| v.kind == kind && v.ok);
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    let row = sqlx::query(
        "UPDATE email_domains SET spf_ok = $2, dkim_ok = $3, dmarc_ok = $4, checks = $5, checked_at = now()
          WHERE id = $1
          RETURNING id, domain::text AS domain, dkim_selector, spf_ok, dkim_ok, dmarc_ok, checks, checked_at",
    )
    .bind(id)
    .bind(ok("SPF"))
    .bind(ok("DKIM"))
    .bind(ok("DMARC"))
    .bind(serde_json::to_value(&views).map_err(internal)?)
    .fetch_optional(&mut *tx)
    .await
    ?
    // Removed while its records were being looked up.
    .ok_or_else(|| not_found(env))?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("domain.verified", "email_domains", Some(id)).after(serde_json::json!({
            "spf": ok("SPF"), "dkim": ok("DKIM"), "dmarc": ok("DMARC"),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(domain_view(&row))
}

pub struct MailboxInput {
    pub domain_id: String,
    pub from_address: String,
    pub from_name: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: String,
    pub daily_cap: String,
    pub warmup_start: String,
    pub warmup_step: String,
    pub min_gap_seconds: String,
    pub status: String,
}

pub async fn save_mailbox(
    env: &Env,
    id: Option<Uuid>,
    input: &MailboxInput,
) -> Result<Uuid, AppError> {
    let domain_id: Uuid = input
        .domain_id
        .trim()
        .parse()
        .map_err(|_| AppError::field("domain_id", env.t("outreach.domain_required")))?;
    let from = input.from_address.trim().to_lowercase();
    // The domain in the punycode form sending domains are kept in.
    let from = match from.rsplit_once('@') {
        Some((local, domain)) => match mail::ascii_name(domain) {
            Ok(domain) => format!("{local}@{domain}"),
            Err(_) => from,
        },
        None => from,
    };
    if !mail::valid_address(&from) {
        return Err(AppError::field(
            "from_address",
            env.t("records.email_invalid"),
        ));
    }
    let from_name = clean(&input.from_name)
        .filter(|n| n.chars().count() <= 100)
        .ok_or_else(|| AppError::field("from_name", env.t("outreach.name_required")))?;
    let host = clean(&input.smtp_host)
        .filter(|h| h.len() <= 253 && !h.contains(char::is_whitespace))
        .ok_or_else(|| AppError::field("smtp_host", env.t("outreach.host_invalid")))?;
    let port = bounded(env, "smtp_port", &input.smtp_port, 1, 65535)?;
    // Checked after DNS resolution; the member learns only that the host is not
    // allowed, the log has the detail.
    if let Err(e) = mail::resolve(&host, port as u16, env.ctx.config.egress).await {
        tracing::warn!(host = %host, port, error = %e, "mailbox host refused");
        return Err(AppError::field(
            "smtp_host",
            env.t("outreach.host_not_allowed"),
        ));
    }
    let security = match input.smtp_security.trim() {
        "" => "STARTTLS",
        s @ ("NONE" | "STARTTLS" | "TLS") => s,
        _ => {
            return Err(AppError::field(
                "smtp_security",
                env.t("outreach.status_invalid"),
            ))
        }
    };
    let cap = bounded(env, "daily_cap", &input.daily_cap, 1, 100_000)?;
    let warm_start = bounded(env, "warmup_start", &input.warmup_start, 1, 100_000)?;
    let warm_step = bounded(env, "warmup_step", &input.warmup_step, 0, 100_000)?;
    let gap = bounded(env, "min_gap_seconds", &input.min_gap_seconds, 0, 86_400)?;
    let status = match input.status.trim() {
        "" => "ACTIVE",
        s @ ("ACTIVE" | "PAUSED") => s,
        _ => return Err(AppError::field("status", env.t("outreach.status_invalid"))),
    };
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    let domain: Option<String> =
        sqlx::query_scalar("SELECT domain::text FROM email_domains WHERE id = $1")
            .bind(domain_id)
            .fetch_optional(&mut *tx)
            .await?;
    let domain =
        domain.ok_or_else(|| AppError::field("domain_id", env.t("outreach.domain_required")))?;
    if !from.ends_with(&format!("@{domain}")) {
        return Err(AppError::field(
            "from_address",
            tf(
                env.locale(),
                "outreach.address_not_on_domain",
                &[("domain", domain)],
            ),
        ));
    }
    let username = clean(&input.smtp_username);
    let target = id.unwrap_or_else(new_id);
    let password = clean(&input.smtp_password).map(|pw| {
        secrets::seal(
            &env.ctx.config.secret_key,
            &secrets::smtp_password(target),
            &pw,
        )
    });
    let taken = |e: sqlx::Error| match violated_constraint(&e).as_deref() {
        Some("email_accounts_tenant_id_from_address_key") => {
            AppError::field("from_address", env.t("outreach.address_taken"))
        }
        _ => internal(e),
    };
    // One parameter list for both statements; only the insert takes the tenant.
    let sql = match id {
        Some(_) => {
            "UPDATE email_accounts SET domain_id = $1, from_address = $2, from_name = $3, smtp_host = $4,
                    smtp_port = $5, smtp_security = $6, smtp_username = $7,
                    smtp_password = coalesce($8, smtp_password), daily_cap = $9, warmup_start = $10,
                    warmup_step = $11, min_gap_seconds = $12, status = $13,
                    status_reason = CASE WHEN status = $13 THEN status_reason ELSE 'set by a member' END
              WHERE id = $14"
        }
        None => {
            "INSERT INTO email_accounts (domain_id, from_address, from_name, smtp_host, smtp_port, smtp_security,
                                         smtp_username, smtp_password, daily_cap, warmup_start, warmup_step,
                                         min_gap_seconds, status, id, tenant_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        }
    };
    let mut query = sqlx::query(sql)
        .bind(domain_id)
        .bind(&from)
        .bind(&from_name)
        .bind(&host)
        .bind(port)
        .bind(security)
        .bind(&username)
        .bind(&password)
        .bind(cap)
        .bind(warm_start)
        .bind(warm_step)
        .bind(gap)
        .bind(status)
        .bind(target);
    if id.is_none() {
        query = query.bind(p.tenant_id);
    }
    let written = query
        .execute(&mut *tx)
        .await
        .map_err(taken)?
        .rows_affected();
    if written == 0 {
        return Err(not_found(env));
    }
    let id = target;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("mailbox.saved", "email_accounts", Some(id)).after(serde_json::json!({
            "from_address": from, "daily_cap": cap, "status": status,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

// ---------------------------------------------------------------- sequences

pub async fn list_sequences(env: &Env) -> Result<Vec<SequenceSummary>, AppError> {
    let (_, mut tx) = begin(env, Permission::WorkspaceUse).await?;
    let rows = sqlx::query(SEQUENCE_SUMMARY).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows.iter().map(sequence_summary).collect())
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

fn sequence_summary(r: &sqlx::postgres::PgRow) -> SequenceSummary {
    SequenceSummary {
        id: r.get("id"),
        name: r.get("name"),
        status: r.get("status"),
        steps: r.get("steps"),
        active: r.get("active"),
        enrolled: r.get("enrolled"),
        sent: r.get("sent"),
        replied: r.get("replied"),
    }
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
    let (p, mut tx) = begin(env, Permission::WorkspaceUse).await?;
    let row = sqlx::query(&format!("{SEQUENCE_SUMMARY} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found(env))?;
    let extra = sqlx::query(
        "SELECT timezone, business_hours, array_to_string(holidays, ', ') AS holidays, exit_on_reply,
                exit_on_bounce, max_attempts FROM sequences WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    ?;
    let steps = sqlx::query(
        "SELECT st.id, st.position, st.delay_minutes, st.channel, st.template_id, t.name AS template_name,
                st.fallback_template_id, ft.name AS fallback_template_name, st.skip_if_replied, st.skip_if_opened,
                (SELECT count(*) FROM messages m WHERE m.step_id = st.id AND m.status NOT IN ('QUEUED', 'FAILED')) AS sent,
                (SELECT count(*) FROM messages m WHERE m.step_id = st.id AND m.replied_at IS NOT NULL) AS replied
           FROM sequence_steps st JOIN templates t ON t.id = st.template_id
           LEFT JOIN templates ft ON ft.id = st.fallback_template_id
          WHERE st.sequence_id = $1 ORDER BY st.position",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| StepView {
        id: r.get("id"),
        position: r.get("position"),
        delay_minutes: r.get("delay_minutes"),
        channel: Channel::parse(r.get("channel")).unwrap_or(Channel::WhatsApp),
        template_id: r.get("template_id"),
        template_name: r.get("template_name"),
        fallback_template_id: r.get("fallback_template_id"),
        fallback_template_name: r.get("fallback_template_name"),
        skip_if_replied: r.get("skip_if_replied"),
        skip_if_opened: r.get("skip_if_opened"),
        sent: r.get("sent"),
        replied: r.get("replied"),
    })
    .collect();
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
        .collect();
    tx.commit().await?;
    Ok(SequenceDetail {
        summary: sequence_summary(&row),
        timezone: extra.get("timezone"),
        business_hours: format_business_hours(&extra.get::<serde_json::Value, _>("business_hours")),
        holidays: extra.get("holidays"),
        exit_on_reply: extra.get("exit_on_reply"),
        exit_on_bounce: extra.get("exit_on_bounce"),
        max_attempts: extra.get("max_attempts"),
        steps,
        enrollments,
    })
}

pub fn enrollment_view(r: &sqlx::postgres::PgRow) -> EnrollmentView {
    EnrollmentView {
        id: r.get("id"),
        lead_id: r.get("lead_id"),
        lead_name: r.get("lead_name"),
        status: r.get("status"),
        next_step: r.get("next_step"),
        next_run_at: r.get("next_run_at"),
        stop_reason: r.get("stop_reason"),
    }
}

pub struct SequenceInput {
    pub name: String,
    pub timezone: String,
    pub business_hours: String,
    pub holidays: String,
    pub exit_on_reply: bool,
    pub exit_on_bounce: bool,
    pub max_attempts: String,
}

pub async fn save_sequence(
    env: &Env,
    id: Option<Uuid>,
    input: &SequenceInput,
) -> Result<Uuid, AppError> {
    let name = clean(&input.name)
        .filter(|n| n.chars().count() <= 100)
        .ok_or_else(|| AppError::field("name", env.t("outreach.name_required")))?;
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
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    let timezone = clean(&input.timezone);
    if let Some(tz) = &timezone {
        if !crate::auth::ssr::timezone_exists(&mut tx, tz).await? {
            return Err(AppError::field("timezone", env.t("validation.timezone")));
        }
    }
    let id = match id {
        Some(id) => {
            let n = sqlx::query(
                "UPDATE sequences SET name = $2, timezone = $3, business_hours = $4, holidays = $5,
                        exit_on_reply = $6, exit_on_bounce = $7, max_attempts = $8, updated_at = now()
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
                                        exit_on_bounce, max_attempts, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
            .execute(&mut *tx)
            .await
            .map_err(|e| name_taken(env, e))?;
            id
        }
    };
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

pub struct StepInput {
    pub delay_minutes: String,
    pub template_id: String,
    pub fallback_template_id: String,
    pub skip_if_replied: bool,
    pub skip_if_opened: bool,
}

/// Adds a step at the end of the sequence.
pub async fn add_step(env: &Env, sequence_id: Uuid, input: &StepInput) -> Result<Uuid, AppError> {
    let delay = bounded(env, "delay_minutes", &input.delay_minutes, 0, 525_600)?;
    let template_id: Uuid = input
        .template_id
        .trim()
        .parse()
        .map_err(|_| AppError::field("template_id", env.t("outreach.template_required")))?;
    let fallback: Option<Uuid> = match clean(&input.fallback_template_id) {
        Some(f) => Some(f.parse().map_err(|_| {
            AppError::field("fallback_template_id", env.t("outreach.template_required"))
        })?),
        None => None,
    };
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sequences WHERE id = $1)")
        .bind(sequence_id)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(not_found(env));
    }
    let channel: Option<String> =
        sqlx::query_scalar("SELECT channel FROM templates WHERE id = $1 AND NOT archived")
            .bind(template_id)
            .fetch_optional(&mut *tx)
            .await?;
    let channel = channel
        .ok_or_else(|| AppError::field("template_id", env.t("outreach.template_required")))?;
    if let Some(f) = fallback {
        let fallback_channel: Option<String> =
            sqlx::query_scalar("SELECT channel FROM templates WHERE id = $1 AND NOT archived")
                .bind(f)
                .fetch_optional(&mut *tx)
                .await?;
        match fallback_channel {
            Some(c) if c != channel => {}
            _ => {
                return Err(AppError::field(
                    "fallback_template_id",
                    env.t("outreach.fallback_other_channel"),
                ))
            }
        }
    }
    let position: i32 = sqlx::query_scalar(
        "SELECT coalesce(max(position), 0) + 1 FROM sequence_steps WHERE sequence_id = $1",
    )
    .bind(sequence_id)
    .fetch_one(&mut *tx)
    .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO sequence_steps (tenant_id, id, sequence_id, position, delay_minutes, channel, template_id,
                                     fallback_template_id, skip_if_replied, skip_if_opened)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(sequence_id)
    .bind(position)
    .bind(delay)
    .bind(&channel)
    .bind(template_id)
    .bind(fallback)
    .bind(input.skip_if_replied)
    .bind(input.skip_if_opened)
    .execute(&mut *tx)
    .await
    ?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.step_added", "sequence_steps", Some(id)).after(
            serde_json::json!({ "position": position, "channel": channel, "delay_minutes": delay }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn remove_step(env: &Env, step_id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = begin(env, Permission::OutreachManage).await?;
    let n = sqlx::query("DELETE FROM sequence_steps WHERE id = $1")
        .bind(step_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(not_found(env));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.step_removed", "sequence_steps", Some(step_id)),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

/// Pauses or resumes a whole sequence (its enrolments keep their place).
pub async fn set_sequence_status(env: &Env, id: Uuid, status: &str) -> Result<(), AppError> {
    if !matches!(status, "ACTIVE" | "PAUSED") {
        return Err(AppError::field("status", env.t("outreach.status_invalid")));
    }
    let (p, mut tx) = begin(env, Permission::OutreachRun).await?;
    let n = sqlx::query("UPDATE sequences SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(not_found(env));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.status", "sequences", Some(id))
            .after(serde_json::json!({ "status": status })),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

/// Pauses, resumes or stops one enrolment.
pub async fn set_enrollment_status(env: &Env, id: Uuid, status: &str) -> Result<(), AppError> {
    let (from, reason): (&[&str], Option<&str>) = match status {
        "PAUSED" => (&["ACTIVE"], None),
        "ACTIVE" => (&["PAUSED"], None),
        "STOPPED" => (&["ACTIVE", "PAUSED"], Some("stopped_by_member")),
        _ => return Err(AppError::field("status", env.t("outreach.status_invalid"))),
    };
    let (p, mut tx) = begin(env, Permission::OutreachRun).await?;
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
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    let n = sqlx::query(
        "UPDATE enrollments SET status = $2, stop_reason = coalesce($4, stop_reason),
                next_run_at = CASE WHEN $2 = 'ACTIVE' THEN greatest(next_run_at, now()) ELSE next_run_at END,
                updated_at = now()
          WHERE id = $1 AND status = ANY($3)",
    )
    .bind(id)
    .bind(status)
    .bind(&from)
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
            .after(serde_json::json!({ "status": status })),
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
    let (p, mut tx) = begin(env, Permission::OutreachRun).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let steps: Vec<(String, Uuid, Option<String>, Option<Uuid>)> = sqlx::query_as(
        "SELECT st.channel, st.template_id, ft.channel, st.fallback_template_id
           FROM sequence_steps st LEFT JOIN templates ft ON ft.id = st.fallback_template_id
          WHERE st.sequence_id = $1 ORDER BY st.position",
    )
    .bind(sequence_id)
    .fetch_all(&mut *tx)
    .await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sequences WHERE id = $1)")
        .bind(sequence_id)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(not_found(env));
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
        let reason = (|| {
            let state: String = r.get("state");
            if matches!(state.as_str(), "CONVERTED" | "DEAD" | "PAUSED") {
                return Some("closed_journey");
            }
            if r.get::<bool, _>("opted_out") {
                return Some("opted_out");
            }
            if r.get::<bool, _>("busy") {
                return Some("in_sequence");
            }
            let phone: Option<String> = r.get("phone_e164");
            let email: Option<String> = r.get("email");
            let wa_ok = phone.is_some() && !r.get::<bool, _>("wa_suppressed");
            let email_ok = email.is_some() && !r.get::<bool, _>("email_suppressed");
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
                let any_suppressed =
                    r.get::<bool, _>("wa_suppressed") || r.get::<bool, _>("email_suppressed");
                return Some(if any_suppressed {
                    "suppressed"
                } else {
                    "no_channel"
                });
            };
            let values = store::lead_values(
                r.get("name"),
                email.as_deref(),
                phone.as_deref(),
                r.get("company"),
                r.get("owner_name"),
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
                let lead_name: String = r.get("name");
                match problems.iter_mut().find(|(p, _)| *p == problem) {
                    Some((_, leads)) => leads.push(lead_name),
                    None => problems.push((problem, vec![lead_name])),
                }
                return Some("missing_variable");
            }
            None
        })();
        match reason {
            Some(reason) => *skipped.entry(reason).or_default() += 1,
            None => chosen.push(r.get::<Uuid, _>("id")),
        }
    }
    if list_id.is_none() && found < lead_ids.len() {
        skipped.insert("not_found", lead_ids.len() - found);
    }
    let enrolled = sqlx::query(
        "INSERT INTO enrollments (tenant_id, id, sequence_id, lead_id, next_step, next_run_at, enrolled_by)
         SELECT $1, gen_random_uuid(), $2, lead, (SELECT min(position) FROM sequence_steps WHERE sequence_id = $2),
                now() + make_interval(mins => $4), $5
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
