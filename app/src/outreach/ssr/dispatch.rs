//! The dispatcher: sends the outbox. It claims due `outbox` rows across tenants
//! (`claim_outbox()`, SKIP LOCKED, so any number of dispatchers share the work, and
//! a lease so a dead dispatcher's rows come back), sends them outside any
//! transaction, and records each answer on its message, deleting the outbox row. The idempotency key
//! goes with every send, so a message whose answer was lost in a crash is recognised
//! by the provider when it is sent again after its lease runs out.

use super::provider::{Providers, SendError, WaMessage, WaProvider};

mod media;
mod work;
use super::store::{self, Stat};
use crate::billing;
use crate::db::{Db, Tx};
use crate::error::AppError;
use crate::outreach::model::Channel;
use crate::request::AppConfig;
use chrono::{Duration, Utc};
use media::{email_attachments, media_of, upload_media, Upload};
use sqlx::{PgPool, Row};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;
use work::{email_work, whatsapp_work, EmailExtras};

/// Sends at once per tenant within a pass. Tenants of a pass run side by side, so one
/// tenant's slow or silent server holds up only that tenant's sends.
const CONCURRENCY_PER_TENANT: usize = 16;
/// How often a pass extends the leases of the rows it holds. A pass can outlast the
/// two-minute lease (a mailbox that answers only at the 30 s timeout, wave after wave);
/// without renewal another dispatcher would claim those rows and send them again.
pub const LEASE_RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(20);
/// Tries before a transient failure becomes permanent.
pub const MAX_SEND_ATTEMPTS: i32 = 5;

/// One provider answer, for `leadline_outreach_sends_total` (the server's src/metrics.rs).
fn count_send(channel: Channel, result: &'static str) {
    metrics::counter!(
        "leadline_outreach_sends_total",
        "channel" => channel.code(),
        "result" => result
    )
    .increment(1);
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

struct Outgoing {
    id: Uuid,
    /// The month this send was counted in, to give it back if it does not go.
    metered: Option<chrono::NaiveDate>,
    lead_id: Uuid,
    channel: Channel,
    created_by: Option<Uuid>,
    owner: Option<Uuid>,
    enrollment_id: Option<Uuid>,
    phone_id: Option<Uuid>,
    attempts: i32,
    to: String,
    work: Work,
    /// A WhatsApp message's file that its number's API does not hold yet: uploaded
    /// (once per number and file in a pass) before the send names it.
    upload: Option<Upload>,
}

enum Work {
    /// A status webhook already told us the provider has it (the answer to an
    /// earlier try was lost): record, do not send again.
    AlreadySent(String),
    Refuse(String),
    Later(String),
    /// Its number is being switched to another provider (claimed in the moment
    /// before the switch held it): back to the outbox untouched, the try not counted.
    Hold,
    /// Its channel's monthly message limit is reached: back to the outbox until the
    /// month turns or the plan changes, the try not counted, the reason on the message.
    OverLimit(String),
    WhatsApp(WaProvider, WaMessage),
    /// Built and signed when sent, not before: with its attachments a message can
    /// weigh megabytes, and only a wave's worth of them is ever in memory.
    Email {
        settings: mail::SmtpSettings,
        from: String,
        message: Box<mail::OutgoingEmail>,
        dkim: Dkim,
    },
}

/// What signs a domain's mail.
struct Dkim {
    domain: String,
    selector: String,
    key: Arc<mail::DkimKey>,
}

type Outcome = Result<String, SendError>;

/// Whether sends are counted against the plan's monthly message limits. Always on in
/// the worker; the outreach benchmark turns it off to measure what metering costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metering {
    On,
    Off,
}

/// Claims up to `batch` messages, sends them, records the results.
pub async fn dispatch_once(
    pool: &PgPool,
    providers: &Providers,
    config: &AppConfig,
    batch: i64,
) -> Result<DispatchReport, AppError> {
    dispatch_metered(pool, providers, config, batch, Metering::On).await
}

/// [`dispatch_once`], with metering chosen.
pub async fn dispatch_metered(
    pool: &PgPool,
    providers: &Providers,
    config: &AppConfig,
    batch: i64,
    metering: Metering,
) -> Result<DispatchReport, AppError> {
    let claimed: Vec<(Uuid, Uuid, i32)> =
        sqlx::query_as("SELECT tenant_id, message_id, attempts FROM claim_outbox($1::int)")
            .bind(batch)
            .fetch_all(pool)
            .await?;
    let mut by_tenant: HashMap<Uuid, Vec<(Uuid, i32)>> = HashMap::new();
    for (tenant, id, attempts) in &claimed {
        by_tenant.entry(*tenant).or_default().push((*id, *attempts));
    }
    let db = Db::new(pool.clone());
    let mut report = DispatchReport {
        claimed: claimed.len(),
        ..DispatchReport::default()
    };
    let passes = by_tenant.into_iter().map(|(tenant, claims)| {
        let db = &db;
        async move {
            let mut outgoing = prepare(db, config, tenant, &claims, metering).await?;
            upload_media(db, providers, config, tenant, &mut outgoing).await?;
            // In waves, each recorded as soon as it is answered: a process killed
            // mid-pass leaves at most one wave sent but unrecorded, to go again when its
            // lease ends (a plain loop: stream combinators over borrowed items trip the
            // compiler's Send checks in spawned tasks).
            let mut done = DispatchReport::default();
            for chunk in outgoing.chunks(CONCURRENCY_PER_TENANT) {
                let sends = chunk.iter().map(|o| send(providers, o));
                let answers = futures_util::future::join_all(sends).await;
                let ids: Vec<Uuid> = chunk.iter().map(|o| o.id).collect();
                let wave = record(
                    db,
                    tenant,
                    &ids,
                    chunk,
                    answers.into_iter().enumerate().collect(),
                )
                .await?;
                done.sent += wave.sent;
                done.retried += wave.retried;
                done.failed += wave.failed;
            }
            // Claims whose message is gone: nothing to send, so done with.
            let gone: Vec<Uuid> = claims
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !outgoing.iter().any(|o| o.id == *id))
                .collect();
            if !gone.is_empty() {
                record(db, tenant, &gone, &[], Vec::new()).await?;
            }
            Ok::<_, AppError>(done)
        }
    });
    let ids: Vec<Uuid> = claimed.iter().map(|(_, id, _)| *id).collect();
    let work = futures_util::future::join_all(passes);
    tokio::pin!(work);
    let mut renew = tokio::time::interval(LEASE_RENEW_EVERY);
    renew.reset();
    let outcomes = loop {
        tokio::select! {
            outcomes = &mut work => break outcomes,
            _ = renew.tick() => {
                if let Err(e) = sqlx::query("SELECT renew_outbox_leases($1)")
                    .bind(&ids)
                    .execute(pool)
                    .await
                {
                    tracing::warn!(error = %e, "outbox leases not renewed");
                }
            }
        }
    };
    // A tenant whose pass failed keeps its rows leased; they come back when the lease
    // ends. The other tenants' results stand.
    let mut first_error = None;
    for outcome in outcomes {
        match outcome {
            Ok(done) => {
                report.sent += done.sent;
                report.retried += done.retried;
                report.failed += done.failed;
            }
            Err(e) => {
                tracing::warn!(error = %e, "a tenant's dispatch pass failed");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if report.sent + report.retried + report.failed == 0 => Err(e),
        _ => Ok(report),
    }
}

async fn send(providers: &Providers, o: &Outgoing) -> Outcome {
    match &o.work {
        Work::AlreadySent(id) => Ok(id.clone()),
        Work::Refuse(reason) => Err(SendError::Permanent(reason.clone())),
        Work::Later(reason) => Err(SendError::Transient(reason.clone())),
        Work::Hold => Err(SendError::Transient("held for a provider switch".into())),
        Work::OverLimit(reason) => Err(SendError::Transient(reason.clone())),
        Work::WhatsApp(provider, message) => providers.whatsapp_for(*provider).send(message).await,
        Work::Email {
            settings,
            from,
            message,
            dkim,
        } => {
            let raw = mail::build_message(message, Some((&dkim.domain, &dkim.selector, &dkim.key)))
                .map_err(|e| SendError::Permanent(format!("The email could not be built: {e}")))?;
            providers.email.send(settings, from, &o.to, &raw).await
        }
    }
}

async fn prepare(
    db: &Db,
    config: &AppConfig,
    tenant_id: Uuid,
    claims: &[(Uuid, i32)],
    metering: Metering,
) -> Result<Vec<Outgoing>, AppError> {
    let ids: Vec<Uuid> = claims.iter().map(|(id, _)| *id).collect();
    let attempts: HashMap<Uuid, i32> = claims.iter().copied().collect();
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let rows = sqlx::query(
        "SELECT m.id, m.lead_id, m.channel, m.to_address, m.subject, m.body, m.wa_template_name, m.wa_params,
                m.idempotency_key, m.provider_message_id, m.in_reply_to, m.created_by,
                m.enrollment_id, m.phone_id, l.owner_id,
                p.provider_phone_id, p.access_token, p.status AS phone_status, p.provider, p.d360_api_key,
                a.from_address::text AS from_address, coalesce(st.from_name, a.from_name) AS from_name, a.smtp_host, a.smtp_port, a.smtp_security,
                a.id AS mailbox_id, a.smtp_username, a.smtp_password, a.status AS mailbox_status,
                d.id AS domain_id, d.domain::text AS domain, d.dkim_selector, d.dkim_private,
                coalesce(t.locale, 'en') AS locale, t.id AS template_id,
                wf.id AS wa_file_id, wf.file_key AS wa_file_key, wf.file_name AS wa_file_name,
                wf.content_type AS wa_file_type, u.media_id AS wa_media_id,
                EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = m.channel
                          AND s.address = CASE WHEN m.channel = 'EMAIL' THEN lower(m.to_address) ELSE m.to_address END)
                    AS suppressed
           FROM messages m
           JOIN leads l ON l.id = m.lead_id
           LEFT JOIN wa_phone_numbers p ON p.id = m.phone_id
           LEFT JOIN email_accounts a ON a.id = m.email_account_id
           LEFT JOIN email_domains d ON d.id = a.domain_id
           -- A step may send under a name of its own.
           LEFT JOIN sequence_steps st ON st.id = m.step_id
           LEFT JOIN template_versions v ON v.id = m.template_version_id
           LEFT JOIN templates t ON t.id = v.template_id
           -- A WhatsApp template's header file, and the id its number's API gave it
           -- when it was last uploaded there (reused for a week: DECISIONS 87).
           LEFT JOIN template_files wf ON m.channel = 'WHATSAPP' AND wf.template_id = t.id
           LEFT JOIN wa_media_uploads u ON u.phone_id = m.phone_id AND u.file_id = wf.id
                 AND u.provider = p.provider AND u.uploaded_at > now() - interval '7 days'
          WHERE m.id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    ?;
    // Emails to leads name us unless the workspace's plan has white label.
    let attributed = if rows
        .iter()
        .any(|r| r.try_get::<&str, _>("channel").is_ok_and(|c| c == "EMAIL"))
    {
        !crate::billing::features::has(
            &mut tx,
            tenant_id,
            crate::billing::model::Feature::WhiteLabel,
        )
        .await?
    } else {
        false
    };
    // Committed before the CPU work below (rendering, DKIM signing): an open snapshot
    // held through it by every dispatcher would keep the outbox's dead rows from
    // being pruned, and the claims would slow.
    tx.commit().await?;

    let attachments = email_attachments(db, config, tenant_id, &rows).await?;
    let mut dkim_keys: HashMap<Uuid, Result<Arc<mail::DkimKey>, String>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: Uuid = r.try_get("id")?;
        let channel = Channel::parse(r.try_get("channel")?).unwrap_or(Channel::WhatsApp);
        let to: String = r.try_get("to_address")?;
        let work =
            if let Some(provider_id) = r.try_get::<Option<String>, _>("provider_message_id")? {
                Work::AlreadySent(provider_id)
            } else if r.try_get::<bool, _>("suppressed")? {
                Work::Refuse("The recipient is on the suppression list.".into())
            } else {
                match channel {
                    Channel::WhatsApp => whatsapp_work(config, r, &to)?,
                    Channel::Email => {
                        let files = r
                            .try_get::<Option<Uuid>, _>("template_id")?
                            .and_then(|t| attachments.get(&t));
                        match files {
                            Some(Err(reason)) => Work::Refuse(reason.clone()),
                            files => {
                                let files = files.and_then(|f| f.as_ref().ok());
                                let extras = EmailExtras {
                                    attachments: files.cloned().unwrap_or_default(),
                                    attributed,
                                };
                                email_work(config, r, id, &to, extras, &mut dkim_keys)?
                            }
                        }
                    }
                }
            };
        let upload = match (&work, r.try_get::<Option<Uuid>, _>("wa_file_id")?) {
            (Work::WhatsApp(_, m), Some(file_id))
                if media_of(&m.content).is_some_and(|m| m.id.is_empty()) =>
            {
                Some(Upload {
                    file_id,
                    file_key: r.try_get("wa_file_key")?,
                    file_name: r.try_get("wa_file_name")?,
                    content_type: r.try_get("wa_file_type")?,
                    phone_id: r.try_get("phone_id")?,
                })
            }
            _ => None,
        };
        out.push(Outgoing {
            id,
            metered: None,
            lead_id: r.try_get("lead_id")?,
            channel,
            created_by: r.try_get("created_by")?,
            owner: r.try_get("owner_id")?,
            enrollment_id: r.try_get("enrollment_id")?,
            phone_id: r.try_get("phone_id")?,
            attempts: attempts.get(&id).copied().unwrap_or(1),
            to,
            work,
            upload,
        });
    }
    if metering == Metering::On {
        // Its own short transaction: the counter row is locked only for this.
        let mut tx = db.tenant_tx(tenant_id, None).await?;
        meter(&mut tx, tenant_id, &mut out).await?;
        tx.commit().await?;
    }
    Ok(out)
}

/// Counts this pass's sends against the month's limits, per channel, in the order
/// they were claimed; those past a limit are held instead of sent.
async fn meter(tx: &mut Tx, tenant_id: Uuid, out: &mut [Outgoing]) -> Result<(), AppError> {
    let now = Utc::now();
    let month = billing::meter::period(now);
    for channel in [Channel::WhatsApp, Channel::Email] {
        let sends = |o: &&mut Outgoing| {
            o.channel == channel && matches!(o.work, Work::WhatsApp(..) | Work::Email { .. })
        };
        let want = out.iter_mut().filter(sends).count() as i64;
        let grant = billing::meter::reserve(tx, tenant_id, channel, now, want).await?;
        let mut left = grant.granted;
        for o in out.iter_mut().filter(sends) {
            if left > 0 {
                left -= 1;
                o.metered = Some(month);
            } else {
                o.work = Work::OverLimit(grant.held_reason(channel));
            }
        }
    }
    Ok(())
}

/// 30 s, 1 min, 2 min, 4 min … between tries.
pub fn backoff(attempt: i32) -> Duration {
    Duration::seconds(30 * (1_i64 << attempt.clamp(1, 10).saturating_sub(1)))
}

/// Records every claimed message's outcome and deletes its outbox row, except for
/// retries, which go back to the outbox with their backoff.
async fn record(
    db: &Db,
    tenant_id: Uuid,
    claimed: &[Uuid],
    outgoing: &[Outgoing],
    results: Vec<(usize, Outcome)>,
) -> Result<DispatchReport, AppError> {
    let mut report = DispatchReport::default();
    let mut tx = db.tenant_tx(tenant_id, None).await?;
    let (mut sent_ids, mut sent_provider, mut sent_attempts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut retry_ids, mut retry_at, mut retry_error) = (Vec::new(), Vec::new(), Vec::new());
    let mut retry_attempts = Vec::new();
    let mut failed = Vec::new();
    let mut failing_phones = Vec::new();
    let mut held = Vec::new();
    let (mut over_ids, mut over_reasons) = (Vec::new(), Vec::new());
    let mut unsent: HashMap<(Channel, chrono::NaiveDate), i64> = HashMap::new();
    let now = Utc::now();
    for (i, outcome) in results {
        let o = &outgoing[i];
        if matches!(o.work, Work::Hold) {
            held.push(o.id);
            continue;
        }
        if let Work::OverLimit(reason) = &o.work {
            over_ids.push(o.id);
            over_reasons.push(reason.clone());
            continue;
        }
        if let (Some(month), Err(_)) = (o.metered, &outcome) {
            *unsent.entry((o.channel, month)).or_default() += 1;
        }
        match outcome {
            Ok(provider_id) => {
                count_send(o.channel, "sent");
                sent_ids.push(o.id);
                sent_provider.push(provider_id);
                sent_attempts.push(o.attempts);
            }
            Err(SendError::Transient(reason)) if o.attempts < MAX_SEND_ATTEMPTS => {
                count_send(o.channel, "retry");
                retry_ids.push(o.id);
                retry_at.push(now + backoff(o.attempts));
                retry_error.push(reason);
                retry_attempts.push(o.attempts);
            }
            Err(e) => {
                count_send(o.channel, "failed");
                failed.push((o, e.message().to_string()));
                if let Some(phone) = o.phone_id {
                    failing_phones.push(phone);
                }
            }
        }
    }

    if !sent_ids.is_empty() {
        // A status webhook may have been first (the answer to an earlier try was lost):
        // that message is past QUEUED already and keeps what it knows.
        sqlx::query(
            "UPDATE messages m SET status = 'SENT', provider_message_id = x.provider, sent_at = now(),
                    attempts = x.attempts, last_error = NULL
               FROM UNNEST($1::uuid[], $2::text[], $3::int[]) AS x (id, provider, attempts)
              WHERE m.id = x.id AND m.status = 'QUEUED'",
        )
        .bind(&sent_ids)
        .bind(&sent_provider)
        .bind(&sent_attempts)
        .execute(&mut *tx)
        .await
        ?;
        let sent: std::collections::HashSet<&Uuid> = sent_ids.iter().collect();
        let leads: Vec<(Uuid, Channel)> = outgoing
            .iter()
            .filter(|o| sent.contains(&o.id))
            .map(|o| (o.lead_id, o.channel))
            .collect();
        store::sent_to(&mut tx, tenant_id, &leads).await?;
        report.sent = sent_ids.len();
    }

    if !retry_ids.is_empty() {
        sqlx::query(
            "UPDATE outbox o SET due_at = x.at, leased_until = NULL
               FROM UNNEST($1::uuid[], $2::timestamptz[]) AS x (id, at) WHERE o.message_id = x.id",
        )
        .bind(&retry_ids)
        .bind(&retry_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE messages m SET last_error = x.error, attempts = x.attempts
               FROM UNNEST($1::uuid[], $2::text[], $3::int[]) AS x (id, error, attempts)
              WHERE m.id = x.id AND m.status = 'QUEUED'",
        )
        .bind(&retry_ids)
        .bind(&retry_error)
        .bind(&retry_attempts)
        .execute(&mut *tx)
        .await?;
        report.retried = retry_ids.len();
    }

    for (o, reason) in &failed {
        sqlx::query(
            "UPDATE messages SET status = 'FAILED', failed_at = now(), last_error = $2, attempts = $3
              WHERE id = $1 AND status = 'QUEUED'",
        )
        .bind(o.id)
        .bind(reason)
        .bind(o.attempts)
        .execute(&mut *tx)
        .await
        ?;
        if o.enrollment_id.is_some() {
            store::stop_enrollment(&mut tx, o.lead_id, "send_failed").await?;
        }
        if let Some(user) = o.created_by.or(o.owner) {
            let body = format!(
                "A {} message to {} could not be sent: {reason}",
                o.channel.code().to_lowercase(),
                o.to
            );
            let link = format!("/leads/{}", o.lead_id);
            store::notify(&mut tx, tenant_id, user, "SEND_FAILED", &body, Some(&link)).await?;
        }
    }
    report.failed = failed.len();
    store::bump(&mut tx, tenant_id, &[(Stat::Failed, failed.len() as i64)]).await?;

    if !held.is_empty() {
        // The claim counted a try that was never made.
        sqlx::query(
            "UPDATE outbox SET leased_until = NULL, attempts = greatest(attempts - 1, 0)
              WHERE message_id = ANY($1)",
        )
        .bind(&held)
        .execute(&mut *tx)
        .await?;
    }

    if !over_ids.is_empty() {
        sqlx::query(
            "UPDATE outbox SET leased_until = NULL, attempts = greatest(attempts - 1, 0),
                    due_at = $2, held_by_limit = true
              WHERE message_id = ANY($1)",
        )
        .bind(&over_ids)
        .bind(billing::meter::next_period(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE messages m SET last_error = x.reason
               FROM UNNEST($1::uuid[], $2::text[]) AS x (id, reason) WHERE m.id = x.id AND m.status = 'QUEUED'",
        )
        .bind(&over_ids)
        .bind(&over_reasons)
        .execute(&mut *tx)
        .await?;
    }

    // Done with, whatever became of them: sent, failed, or (a claim whose message
    // is gone) nothing to do. Retries and held rows stay, due again later.
    retry_ids.extend_from_slice(&held);
    retry_ids.extend_from_slice(&over_ids);
    sqlx::query("DELETE FROM outbox WHERE message_id = ANY($1) AND NOT (message_id = ANY($2))")
        .bind(claimed)
        .bind(&retry_ids)
        .execute(&mut *tx)
        .await?;

    failing_phones.sort();
    failing_phones.dedup();
    for phone in failing_phones {
        store::pause_if_failing(&mut tx, tenant_id, store::Sender::Phone(phone)).await?;
    }
    // Last, so the counter row is locked for the shortest time.
    for ((channel, month), n) in unsent {
        billing::meter::give_back(&mut tx, tenant_id, channel, month, n).await?;
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(4), Duration::seconds(240));
        assert_eq!(backoff(0), Duration::seconds(30));
    }
}
