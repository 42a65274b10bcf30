//! Provider switching (issue 14): a number moves between Meta's Cloud API and
//! 360dialog's behind the outbox, without losing or doubling a queued message.
//!
//! A member asks for it (`start`); a worker loop (`switch_once`, next to the
//! dispatcher, because it needs the same provider clients) runs it as a state machine
//! kept in `provider_migrations`, one step per claim, so a worker that dies leaves the
//! switch to the next one after its one-minute lease:
//!
//! 1. VERIFY the new credential with the new provider; refused → FAILED, nothing
//!    changed. Accepted → the number becomes MIGRATING: `claim_outbox()` leaves its
//!    rows alone, so its messages stay QUEUED in the outbox.
//! 2. DRAIN: wait until none of its outbox rows is leased (sends in flight through
//!    the old provider finish, or their leases run out).
//! 3. SWAP, in one transaction: provider and credential change, the old ones are kept
//!    sealed in `backup_data`, the number gets its status back, COMPLETED. The held
//!    messages then go out through the new provider with their same idempotency keys.
//!
//! Any failure puts the number back as it was (the provider only ever changes in the
//! swap's transaction) and marks the switch FAILED. Every step is logged on the
//! switch and audited. DECISIONS §43.

use super::provider::{Providers, WaProvider};
use super::secrets;
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::db::{internal, new_id, violated_constraint, Db, Tx};
use crate::error::AppError;
use crate::outreach::model::{PhoneStatus, ProviderSwitchView, SwitchStep};
use crate::request::{AppConfig, Env, RequestCtx};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// How long the drain waits for sends in flight. A live dispatcher finishes or renews
/// its leases (two minutes each); one that died lets them lapse within two minutes.
const DRAIN_LIMIT_MINUTES: i32 = 10;
/// How soon a switch waiting on sends in flight is looked at again.
const DRAIN_POLL_MS: i32 = 300;
/// Switches advanced per claim.
const BATCH: i32 = 10;

#[derive(sqlx::FromRow)]
struct Switch {
    id: Uuid,
    phone_id: Uuid,
    to_provider: String,
    step: String,
    new_credential: Vec<u8>,
    prior_status: Option<String>,
    prior_reason: Option<String>,
    drain_deadline: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Number {
    provider_phone_id: String,
    waba_id: Option<String>,
    provider: String,
    status: PhoneStatus,
    status_reason: Option<String>,
    access_token: Vec<u8>,
    d360_api_key: Option<Vec<u8>>,
}

/// What a step came to.
enum Step {
    /// On to the next step now.
    Next,
    /// Look again later (the drain is waiting).
    Later,
    /// Finished (COMPLETED).
    Done,
    /// The switch fails, and the number is put back as it was.
    Fail(String),
}

/// Claims due switches across tenants and advances each as far as it can go now;
/// how many were claimed.
pub async fn switch_once(
    pool: &sqlx::PgPool,
    providers: &Providers,
    config: &AppConfig,
) -> Result<usize, AppError> {
    let claimed: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT tenant_id, id FROM claim_provider_migrations($1)")
            .bind(BATCH)
            .fetch_all(pool)
            .await?;
    let worker = Worker {
        db: Db::new(pool.clone()),
        providers,
        config,
    };
    for (tenant_id, id) in &claimed {
        if let Err(e) = worker.advance(*tenant_id, *id).await {
            // A database failure: the lease lapses and the step is tried again.
            tracing::warn!(switch = %id, error = %e, "provider switch step");
        }
    }
    Ok(claimed.len())
}

struct Worker<'a> {
    db: Db,
    providers: &'a Providers,
    config: &'a AppConfig,
}

/// Appends one entry to a switch's steps log (bound as $2, $3, $4).
const LOG_STEP: &str = "steps || jsonb_build_array(jsonb_build_object(
    'step', $2::text, 'outcome', $3::text, 'detail', $4::text, 'at', now()))";

impl Worker<'_> {
    async fn advance(&self, tenant_id: Uuid, id: Uuid) -> Result<(), AppError> {
        loop {
            let mut tx = self.db.tenant_tx(tenant_id, None).await?;
            let switch: Option<Switch> = sqlx::query_as(
                "SELECT id, phone_id, to_provider, step, new_credential, prior_status, prior_reason, drain_deadline
                   FROM provider_migrations
                  WHERE tenant_id = $1 AND id = $2 AND status IN ('PENDING', 'IN_PROGRESS')",
            )
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            let Some(switch) = switch else {
                return Ok(());
            };
            let outcome = match switch.step.as_str() {
                "VERIFY" => self.verify(tenant_id, &switch).await?,
                "DRAIN" => self.drain(tenant_id, &switch).await?,
                "SWAP" => match self.swap(tenant_id, &switch).await {
                    Ok(step) => step,
                    // The swap's transaction is rolled back whole; the number still
                    // has its old provider.
                    Err(e) => Step::Fail(format!("The swap could not be saved: {e}")),
                },
                _ => return Ok(()),
            };
            match outcome {
                Step::Next => continue,
                Step::Later | Step::Done => return Ok(()),
                Step::Fail(reason) => return self.fail(tenant_id, &switch, &reason).await,
            }
        }
    }

    async fn number(
        &self,
        tx: &mut Tx,
        tenant_id: Uuid,
        phone_id: Uuid,
    ) -> Result<Number, AppError> {
        sqlx::query_as(
            "SELECT provider_phone_id, waba_id, provider, status, status_reason, access_token, d360_api_key
               FROM wa_phone_numbers WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(tenant_id)
        .bind(phone_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| internal("a switch's number is gone"))
    }

    fn open(&self, at: crate::crypto::SealedAt, sealed: &[u8]) -> Result<String, AppError> {
        secrets::open(&self.config.secret_key, &at, sealed)
    }

    async fn audit(
        &self,
        tx: &mut Tx,
        tenant_id: Uuid,
        entry: AuditEntry<'_>,
    ) -> Result<(), AppError> {
        let ctx = RequestCtx {
            db: self.db.clone(),
            config: Arc::new(self.config.clone()),
            request_id: "provider-switch".into(),
            ip: None,
            user_agent: None,
            locale: Default::default(),
            principal: None,
        };
        audit::record(tx, &ctx, tenant_id, None, entry).await
    }

    /// Step (a) and (b): the new provider accepts the credential, then the number is
    /// held.
    async fn verify(&self, tenant_id: Uuid, s: &Switch) -> Result<Step, AppError> {
        let mut tx = self.db.tenant_tx(tenant_id, None).await?;
        let number = self.number(&mut tx, tenant_id, s.phone_id).await?;
        tx.commit().await?;
        if number.status == PhoneStatus::Banned {
            return Ok(Step::Fail("The number is banned.".into()));
        }
        let Some(to) = WaProvider::parse(&s.to_provider) else {
            return Ok(Step::Fail(format!("Unknown provider {}.", s.to_provider)));
        };
        let credential = self.open(secrets::switch_credential(s.id), &s.new_credential)?;
        // No network inside a transaction: the provider is asked between the two.
        let checked = self
            .providers
            .whatsapp_for(to)
            .verify(
                number.waba_id.as_deref().unwrap_or_default(),
                &number.provider_phone_id,
                &credential,
            )
            .await;
        if let Err(e) = checked {
            return Ok(Step::Fail(format!(
                "The new provider refused the credentials: {}",
                e.message()
            )));
        }
        let mut tx = self.db.tenant_tx(tenant_id, None).await?;
        let number = self.number(&mut tx, tenant_id, s.phone_id).await?;
        if matches!(number.status, PhoneStatus::Banned | PhoneStatus::Migrating) {
            return Ok(Step::Fail(format!("The number is {}.", number.status)));
        }
        sqlx::query(
            "UPDATE wa_phone_numbers SET status = 'MIGRATING', status_reason = 'provider switch',
                    status_changed_at = now()
              WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(s.phone_id)
        .execute(&mut *tx)
        .await?;
        let detail = format!("{} accepted the credentials", s.to_provider);
        log_step(&mut tx, tenant_id, s.id, "VERIFY", "OK", Some(&detail)).await?;
        let held = format!("was {}; its queued messages wait", number.status);
        log_step(&mut tx, tenant_id, s.id, "HOLD", "OK", Some(&held)).await?;
        sqlx::query(
            "UPDATE provider_migrations
                SET status = 'IN_PROGRESS', step = 'DRAIN', prior_status = $2, prior_reason = $3,
                    started_at = now(), drain_deadline = now() + make_interval(mins => $4),
                    updated_at = now()
              WHERE tenant_id = $1 AND id = $5",
        )
        .bind(tenant_id)
        .bind(number.status)
        .bind(&number.status_reason)
        .bind(DRAIN_LIMIT_MINUTES)
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            tenant_id,
            AuditEntry::new("phone.switch_held", "wa_phone_numbers", Some(s.phone_id)).change(
                json!({ "status": number.status }),
                json!({ "status": PhoneStatus::Migrating, "switch": s.id }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Step::Next)
    }

    /// Sends of the number leased to a dispatcher right now.
    async fn in_flight(tx: &mut Tx, tenant_id: Uuid, phone_id: Uuid) -> Result<i64, AppError> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM outbox o JOIN messages m ON m.id = o.message_id
              WHERE o.tenant_id = $1 AND m.phone_id = $2 AND o.leased_until > now()",
        )
        .bind(tenant_id)
        .bind(phone_id)
        .fetch_one(&mut **tx)
        .await?)
    }

    /// Step (c): the sends already in flight through the old provider end first.
    async fn drain(&self, tenant_id: Uuid, s: &Switch) -> Result<Step, AppError> {
        let mut tx = self.db.tenant_tx(tenant_id, None).await?;
        let busy = Self::in_flight(&mut tx, tenant_id, s.phone_id).await?;
        if busy == 0 {
            log_step(
                &mut tx,
                tenant_id,
                s.id,
                "DRAIN",
                "OK",
                Some("no sends in flight"),
            )
            .await?;
            sqlx::query(
                "UPDATE provider_migrations SET step = 'SWAP', updated_at = now()
                  WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant_id)
            .bind(s.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Step::Next);
        }
        if s.drain_deadline.is_some_and(|d| d < Utc::now()) {
            return Ok(Step::Fail(format!(
                "{busy} sends through the old provider did not finish within {DRAIN_LIMIT_MINUTES} minutes."
            )));
        }
        // Logged once, however long the wait.
        let waiting = format!("{busy} sends in flight");
        sqlx::query(&format!(
            "UPDATE provider_migrations
                SET steps = CASE WHEN steps @> '[{{\"step\": \"DRAIN\", \"outcome\": \"WAITING\"}}]'
                                 THEN steps ELSE {LOG_STEP} END,
                    due_at = now() + make_interval(secs => $5::float8 / 1000),
                    leased_until = NULL, updated_at = now()
              WHERE tenant_id = $1 AND id = $6",
        ))
        .bind(tenant_id)
        .bind("DRAIN")
        .bind("WAITING")
        .bind(&waiting)
        .bind(DRAIN_POLL_MS)
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Step::Later)
    }

    /// Step (d), in one transaction: provider and credential change, the old ones are
    /// kept as the backup, the number gets its status back.
    async fn swap(&self, tenant_id: Uuid, s: &Switch) -> Result<Step, AppError> {
        let key = &self.config.secret_key;
        let mut tx = self.db.tenant_tx(tenant_id, None).await?;
        let number = self.number(&mut tx, tenant_id, s.phone_id).await?;
        // A send claimed in the moment before the hold: back to waiting for it.
        if Self::in_flight(&mut tx, tenant_id, s.phone_id).await? > 0 {
            sqlx::query(
                "UPDATE provider_migrations SET step = 'DRAIN' WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant_id)
            .bind(s.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Step::Next);
        }
        let old_key = match &number.d360_api_key {
            Some(sealed) => Some(self.open(secrets::phone_d360_key(s.phone_id), sealed)?),
            None => None,
        };
        let backup = json!({
            "provider": number.provider,
            "access_token": self.open(secrets::phone_token(s.phone_id), &number.access_token)?,
            "d360_api_key": old_key,
        });
        let backup = secrets::seal(key, &secrets::switch_backup(s.id), &backup.to_string());
        let credential = self.open(secrets::switch_credential(s.id), &s.new_credential)?;
        // Meta's token stays in `access_token` either way (it proves the number is the
        // tenant's when it is saved again); a 360dialog number adds its key.
        let (token, d360_key) = match WaProvider::parse(&s.to_provider) {
            Some(WaProvider::MetaCloud) => (
                Some(secrets::seal(
                    key,
                    &secrets::phone_token(s.phone_id),
                    &credential,
                )),
                None,
            ),
            Some(WaProvider::Dialog360) => (
                None,
                Some(secrets::seal(
                    key,
                    &secrets::phone_d360_key(s.phone_id),
                    &credential,
                )),
            ),
            None => return Ok(Step::Fail(format!("Unknown provider {}.", s.to_provider))),
        };
        let prior = s.prior_status.clone().unwrap_or_else(|| "ACTIVE".into());
        sqlx::query(
            "UPDATE wa_phone_numbers
                SET provider = $3, access_token = coalesce($4, access_token), d360_api_key = $5,
                    status = $6, status_reason = $7, status_changed_at = now()
              WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(s.phone_id)
        .bind(&s.to_provider)
        .bind(&token)
        .bind(&d360_key)
        .bind(&prior)
        .bind(&s.prior_reason)
        .execute(&mut *tx)
        .await?;
        let detail = format!("{} → {}; back to {prior}", number.provider, s.to_provider);
        sqlx::query(&format!(
            "UPDATE provider_migrations
                SET status = 'COMPLETED', step = 'DONE', backup_data = $5, completed_at = now(),
                    leased_until = NULL, updated_at = now(), steps = {LOG_STEP}
              WHERE tenant_id = $1 AND id = $6",
        ))
        .bind(tenant_id)
        .bind("SWAP")
        .bind("OK")
        .bind(&detail)
        .bind(&backup)
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            tenant_id,
            AuditEntry::new(
                "phone.provider_switched",
                "wa_phone_numbers",
                Some(s.phone_id),
            )
            .change(
                json!({ "provider": number.provider, "status": PhoneStatus::Migrating }),
                json!({ "provider": s.to_provider, "status": prior, "switch": s.id }),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Step::Done)
    }

    /// The switch fails: the number gets back the status it had (its provider never
    /// changed), and the reason is kept for the page.
    async fn fail(&self, tenant_id: Uuid, s: &Switch, reason: &str) -> Result<(), AppError> {
        let mut tx = self.db.tenant_tx(tenant_id, None).await?;
        let restored = sqlx::query(
            "UPDATE wa_phone_numbers p
                SET status = m.prior_status, status_reason = m.prior_reason, status_changed_at = now()
               FROM provider_migrations m
              WHERE p.tenant_id = $1 AND p.id = $2 AND p.status = 'MIGRATING'
                AND m.tenant_id = $1 AND m.id = $3 AND m.prior_status IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(s.phone_id)
        .bind(s.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let step = if s.step == "VERIFY" && restored == 0 {
            "VERIFY"
        } else {
            "ROLLBACK"
        };
        sqlx::query(&format!(
            "UPDATE provider_migrations
                SET status = 'FAILED', step = 'DONE', error = $5, completed_at = now(),
                    leased_until = NULL, updated_at = now(), steps = {LOG_STEP}
              WHERE tenant_id = $1 AND id = $6 AND status IN ('PENDING', 'IN_PROGRESS')",
        ))
        .bind(tenant_id)
        .bind(step)
        .bind("FAILED")
        .bind(reason)
        .bind(reason)
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            tenant_id,
            AuditEntry::new(
                "phone.provider_switch_failed",
                "wa_phone_numbers",
                Some(s.phone_id),
            )
            .after(json!({ "switch": s.id, "reason": reason, "status_restored": restored > 0 })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn log_step(
    tx: &mut Tx,
    tenant_id: Uuid,
    id: Uuid,
    step: &str,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(&format!(
        "UPDATE provider_migrations SET steps = {LOG_STEP}, updated_at = now()
          WHERE tenant_id = $1 AND id = $5"
    ))
    .bind(tenant_id)
    .bind(step)
    .bind(outcome)
    .bind(detail)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A member asks for number `phone_id` to move to `to_provider` with `credential`
/// (Meta's access token, or the 360dialog API key). The worker does the rest.
pub async fn start(
    env: &Env,
    phone_id: Uuid,
    to_provider: &str,
    credential: &str,
) -> Result<Uuid, AppError> {
    let p = env.require(Permission::OutreachManage)?;
    let to = WaProvider::parse(to_provider.trim())
        .ok_or_else(|| AppError::field("to_provider", env.t("outreach.switch_provider_invalid")))?;
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(AppError::field(
            "credential",
            env.t("outreach.switch_credential_required"),
        ));
    }
    if credential.len() > 4096 || credential.chars().any(char::is_control) {
        return Err(AppError::field(
            "credential",
            env.t("outreach.switch_credential_invalid"),
        ));
    }
    let mut tx = env.tx(p).await?;
    let number: Option<(String, PhoneStatus, Option<String>)> = sqlx::query_as(
        "SELECT provider, status, waba_id FROM wa_phone_numbers
          WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(p.tenant_id)
    .bind(phone_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (from, status, waba_id) =
        number.ok_or_else(|| AppError::NotFound(env.t("outreach.not_found")))?;
    if from == to.code() {
        return Err(AppError::field(
            "to_provider",
            env.t("outreach.switch_same_provider"),
        ));
    }
    if status == PhoneStatus::Banned {
        return Err(AppError::field(
            "to_provider",
            env.t("outreach.switch_banned"),
        ));
    }
    if to == WaProvider::MetaCloud && waba_id.is_none() {
        return Err(AppError::field(
            "credential",
            env.t("outreach.waba_id_invalid"),
        ));
    }
    let id = new_id();
    let sealed = secrets::seal(
        &env.ctx.config.secret_key,
        &secrets::switch_credential(id),
        credential,
    );
    sqlx::query(
        "INSERT INTO provider_migrations (tenant_id, id, phone_id, from_provider, to_provider,
                                          new_credential, started_by, steps)
         VALUES ($1, $2, $3, $4, $5, $6, $7, jsonb_build_array(jsonb_build_object(
                 'step', 'REQUEST', 'outcome', 'OK', 'detail', NULL, 'at', now())))",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(phone_id)
    .bind(&from)
    .bind(to.code())
    .bind(&sealed)
    .bind(p.user_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e).as_deref() {
        Some("provider_migrations_open") => {
            AppError::Conflict(env.t("outreach.switch_in_progress"))
        }
        _ => internal(e),
    })?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(
            "phone.provider_switch_started",
            "wa_phone_numbers",
            Some(phone_id),
        )
        .after(json!({ "switch": id, "from": from, "to": to.code() })),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct SwitchRow {
    id: Uuid,
    from_provider: String,
    to_provider: String,
    status: String,
    error: Option<String>,
    steps: sqlx::types::Json<Vec<SwitchStep>>,
    started_by: Option<String>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

/// A number's switches, newest first.
pub async fn history(env: &Env, phone_id: Uuid) -> Result<Vec<ProviderSwitchView>, AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachRun).await?;
    let known: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM wa_phone_numbers WHERE tenant_id = $1 AND id = $2)",
    )
    .bind(p.tenant_id)
    .bind(phone_id)
    .fetch_one(&mut *tx)
    .await?;
    if !known {
        return Err(AppError::NotFound(env.t("outreach.not_found")));
    }
    let rows: Vec<SwitchRow> = sqlx::query_as(
        "SELECT m.id, m.from_provider, m.to_provider, m.status, m.error, m.steps,
                u.name AS started_by, m.created_at, m.completed_at
           FROM provider_migrations m LEFT JOIN users u ON u.id = m.started_by
          WHERE m.tenant_id = $1 AND m.phone_id = $2
          ORDER BY m.created_at DESC LIMIT 20",
    )
    .bind(p.tenant_id)
    .bind(phone_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| ProviderSwitchView {
            id: r.id,
            from_provider: r.from_provider,
            to_provider: r.to_provider,
            status: r.status,
            error: r.error,
            steps: r.steps.0,
            started_by: r.started_by,
            created_at: r.created_at,
            completed_at: r.completed_at,
        })
        .collect())
}
