//! Senders: WhatsApp numbers (confirmed against the provider), the daily limit,
//! sending domains with their DNS checks, and mailboxes. Every change is audited in its
//! own transaction.

use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::billing::model::Metric;
use crate::billing::ssr::check_senders;
use crate::db::{internal, new_id, violated_constraint};
use crate::error::AppError;
use crate::i18n::tf;
use crate::outreach::model::*;
use crate::request::Env;
use sqlx::Row;
use uuid::Uuid;

use super::manage::{bounded, clean, not_found};
use super::provider::{CloudApi, SendError, WhatsAppApi};
use super::secrets;
use super::store::TENANT_TODAY;

pub async fn senders(env: &Env) -> Result<Senders, AppError> {
    let (_, mut tx) = env.begin(Permission::OutreachRun).await?;
    let phones = sqlx::query(&format!(
        "SELECT p.id, p.number, p.label, p.provider_phone_id, p.provider, p.status, p.status_reason, p.priority, p.daily_quota,
                coalesce(u.new_contacts, 0) AS used, coalesce(u.followups, 0) AS followups,
                (SELECT count(*) FROM lead_journeys j WHERE j.assigned_phone_id = p.id) AS leads,
                p.archived_at IS NOT NULL AS archived
           FROM wa_phone_numbers p LEFT JOIN wa_quota_usage u ON u.phone_id = p.id AND u.day = {TENANT_TODAY}
          ORDER BY p.archived_at IS NOT NULL, p.priority, p.created_at"
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
            archived: r.try_get("archived")?,
        })
    })
    .collect::<Result<Vec<_>, _>>()?;
    let domains = sqlx::query(
        "SELECT id, domain::text AS domain, dkim_selector, spf_ok, dkim_ok, dmarc_ok, checks, checked_at,
                archived_at IS NOT NULL AS archived
           FROM email_domains ORDER BY archived_at IS NOT NULL, domain",
    )
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(domain_view)
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mailboxes = sqlx::query(&format!(
        "SELECT a.id, d.domain::text AS domain, a.from_address::text AS from_address, a.from_name, a.smtp_host,
                a.smtp_port, a.smtp_security, a.daily_cap, a.min_gap_seconds, a.status, a.status_reason,
                least(a.daily_cap, a.warmup_start + a.warmup_step * greatest(0, {TENANT_TODAY} - a.warmup_started_on)) AS cap_today,
                coalesce(u.sent, 0) AS sent_today,
                (SELECT count(*) FILTER (WHERE m.status = 'BOUNCED')::float8 / greatest(count(*), 1)
                   FROM messages m WHERE m.email_account_id = a.id AND m.direction = 'OUT'
                    AND m.status <> 'QUEUED') AS bounce_rate,
                a.archived_at IS NOT NULL AS archived
           FROM email_accounts a JOIN email_domains d ON d.id = a.domain_id
           LEFT JOIN email_daily_usage u ON u.account_id = a.id AND u.day = {TENANT_TODAY}
          ORDER BY a.archived_at IS NOT NULL, a.from_address"
    ))
    .fetch_all(&mut *tx)
    .await
    ?
    .iter()
    .map(|r| {
        Ok(MailboxView {
            id: r.try_get("id")?,
            domain: r.try_get("domain")?,
            from_address: r.try_get("from_address")?,
            from_name: r.try_get("from_name")?,
            smtp_host: r.try_get("smtp_host")?,
            smtp_port: r.try_get("smtp_port")?,
            smtp_security: r.try_get("smtp_security")?,
            daily_cap: r.try_get("daily_cap")?,
            cap_today: r.try_get("cap_today")?,
            sent_today: r.try_get("sent_today")?,
            min_gap_seconds: r.try_get("min_gap_seconds")?,
            status: r.try_get("status")?,
            status_reason: r.try_get("status_reason")?,
            bounce_rate: r.try_get::<f64, _>("bounce_rate")? * 100.0,
            archived: r.try_get("archived")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
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

fn domain_view(r: &sqlx::postgres::PgRow) -> Result<DomainView, sqlx::Error> {
    let checks: Vec<DnsCheckView> =
        serde_json::from_value(r.try_get("checks")?).unwrap_or_default();
    Ok(DomainView {
        id: r.try_get("id")?,
        domain: r.try_get("domain")?,
        dkim_selector: r.try_get("dkim_selector")?,
        spf_ok: r.try_get("spf_ok")?,
        dkim_ok: r.try_get("dkim_ok")?,
        dmarc_ok: r.try_get("dmarc_ok")?,
        checks,
        checked_at: r.try_get("checked_at")?,
        archived: r.try_get("archived")?,
    })
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
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
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
    let status = match clean(&input.status) {
        None => PhoneStatus::Active,
        Some(code) => PhoneStatus::parse(&code)
            .filter(|s| PhoneStatus::SETTABLE.contains(s))
            .ok_or_else(|| AppError::field("status", env.t("outreach.status_invalid")))?,
    };
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
    let (_, mut tx) = env.begin(Permission::OutreachManage).await?;
    if id.is_none() {
        check_senders(&mut tx, env.locale(), Metric::WhatsAppNumbers).await?;
    }
    // One parameter list for both statements; only the insert takes the tenant.
    let (sql, before) = match id {
        Some(id) => {
            let before: Option<PhoneStatus> =
                sqlx::query_scalar("SELECT status FROM wa_phone_numbers WHERE id = $1 FOR UPDATE")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    ?;
            let before = before.ok_or_else(|| not_found(env))?;
            // The switch gives the number its status back when it ends; a change now
            // would be lost, or release the messages it holds too early.
            if before == PhoneStatus::Migrating {
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
        .bind(status)
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
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
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
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    check_senders(&mut tx, env.locale(), Metric::SendingDomains).await?;
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
    let (_, mut tx) = env.begin(Permission::OutreachManage).await?;
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
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let row = sqlx::query(
        "UPDATE email_domains SET spf_ok = $2, dkim_ok = $3, dmarc_ok = $4, checks = $5, checked_at = now()
          WHERE id = $1
          RETURNING id, domain::text AS domain, dkim_selector, spf_ok, dkim_ok, dmarc_ok, checks, checked_at,
                    archived_at IS NOT NULL AS archived",
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
    Ok(domain_view(&row)?)
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
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let domain: Option<(String, bool)> = sqlx::query_as(
        "SELECT domain::text, archived_at IS NOT NULL FROM email_domains WHERE id = $1",
    )
    .bind(domain_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (domain, domain_archived) =
        domain.ok_or_else(|| AppError::field("domain_id", env.t("outreach.domain_required")))?;
    if domain_archived {
        return Err(AppError::field(
            "domain_id",
            env.t("outreach.domain_archived"),
        ));
    }
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
    if id.is_none() {
        check_senders(&mut tx, env.locale(), Metric::Mailboxes).await?;
    }
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

/// Archives a WhatsApp number, mailbox or sending domain (`kind` "phone", "mailbox"
/// or "domain"), or restores one. A sender with messages still waiting to go out is
/// not archived: they would wait for it forever; nor is a domain with a mailbox that
/// is not archived. Restoring a sender takes a place under the plan's limit again; a
/// mailbox on an archived domain waits for its domain.
pub async fn set_archived(env: &Env, kind: &str, id: Uuid, archived: bool) -> Result<(), AppError> {
    let (table, column, metric) = match kind {
        "phone" => (
            "wa_phone_numbers",
            "phone_id",
            Some(Metric::WhatsAppNumbers),
        ),
        "mailbox" => (
            "email_accounts",
            "email_account_id",
            Some(Metric::Mailboxes),
        ),
        "domain" => ("email_domains", "", None),
        _ => {
            return Err(AppError::field(
                "kind",
                env.t("outreach.sender_kind_invalid"),
            ))
        }
    };
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let now_archived: Option<bool> = sqlx::query_scalar(&format!(
        "SELECT archived_at IS NOT NULL FROM {table} WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let now_archived = now_archived.ok_or_else(|| not_found(env))?;
    if now_archived == archived {
        tx.commit().await?;
        return Ok(());
    }
    match (metric, archived) {
        (None, true) => {
            let live: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM email_accounts WHERE domain_id = $1 AND archived_at IS NULL",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if live > 0 {
                return Err(AppError::Conflict(tf(
                    env.locale(),
                    "outreach.domain_has_mailboxes",
                    &[("count", live.to_string())],
                )));
            }
        }
        // A restored domain takes a place under the plan's limit again.
        (None, false) => check_senders(&mut tx, env.locale(), Metric::SendingDomains).await?,
        (Some(_), true) => {
            let waiting: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM messages WHERE {column} = $1 AND status IN ('QUEUED', 'SENDING')"
            ))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if waiting > 0 {
                return Err(AppError::Conflict(tf(
                    env.locale(),
                    "outreach.sender_has_queue",
                    &[("count", waiting.to_string())],
                )));
            }
        }
        (Some(metric), false) => {
            let archived_domain: Option<String> = sqlx::query_scalar(
                "SELECT d.domain::text FROM email_accounts a JOIN email_domains d ON d.id = a.domain_id
                  WHERE a.id = $1 AND d.archived_at IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(domain) = archived_domain {
                return Err(AppError::Conflict(tf(
                    env.locale(),
                    "outreach.restore_domain_first",
                    &[("domain", domain)],
                )));
            }
            check_senders(&mut tx, env.locale(), metric).await?;
        }
    }
    sqlx::query(&format!(
        "UPDATE {table} SET archived_at = CASE WHEN $2 THEN now() END WHERE id = $1"
    ))
    .bind(id)
    .bind(archived)
    .execute(&mut *tx)
    .await?;
    let action = if archived {
        "sender.archived"
    } else {
        "sender.restored"
    };
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(action, table, Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
