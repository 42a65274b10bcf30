//! A sequence's steps: added, edited, reordered and removed. Every change of one
//! sequence's steps runs under a lock on the sequence's row, so two admins' changes
//! (and a scheduler pass, which reads the steps under a share lock) take turns.
//!
//! An enrolment's place is `enrollments.next_step`, the *position* of the step it runs
//! next; it has been through every position before it. A change therefore reaches the
//! enrolments that have not reached that position: an edited step is what every
//! enrolment waiting for its position sends, a reorder changes what sits at each
//! position, and the waiting enrolment's time moves by the difference in delay, since
//! that time is its previous send plus the delay of the step at its position. A step
//! an enrolment already received is skipped if a reorder puts it ahead again
//! (scheduler). DECISIONS §47.

use super::manage::{bounded, clean, not_found};
use crate::audit::{self, AuditEntry};
use crate::auth::model::Permission;
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::outreach::model::{Branch, Condition, StepKind, CONDITION_FIELDS, JOURNEY_STATES};
use crate::request::Env;
use std::collections::HashSet;
use uuid::Uuid;

pub struct StepInput {
    /// `SEND`, `WAIT_UNTIL` or `CONDITION`; empty for `SEND`.
    pub kind: String,
    pub delay_minutes: String,
    pub template_id: String,
    pub fallback_template_id: String,
    pub skip_if_replied: bool,
    pub skip_if_opened: bool,
    /// The subject of the email this step sends, instead of its template's.
    pub subject_override: String,
    /// The sender name of that email, instead of the mailbox's.
    pub from_name: String,
    /// The mailbox that email goes from (its id), instead of the rotation; empty for
    /// the rotation.
    pub mailbox_id: String,
    /// A wait's moment, `2026-12-24T09:00` in the sequence's time zone.
    pub wait_until: String,
    /// A condition: what it asks (`OPENED`, …, `FIELD`), of which field, and the value.
    pub condition: String,
    pub condition_field: String,
    pub condition_value: String,
    /// Where a condition goes when it holds and when not: `next`, `end` or a step id.
    pub then_go: String,
    pub else_go: String,
}

/// What a step sends, once checked; `channel` is its template's.
struct Send {
    template_id: Uuid,
    channel: String,
    fallback: Option<Uuid>,
    subject_override: Option<String>,
    from_name: Option<String>,
    mailbox: Option<Uuid>,
    skip_if_replied: bool,
    skip_if_opened: bool,
}

/// A condition, once checked.
struct Branching {
    condition: Condition,
    field: Option<String>,
    value: Option<String>,
    then_go: Branch,
    else_go: Branch,
}

/// A step's fields once checked.
struct Checked {
    kind: StepKind,
    delay: i32,
    send: Option<Send>,
    wait_until: Option<chrono::DateTime<chrono::Utc>>,
    branching: Option<Branching>,
}

/// A subject of the step's own: a template (variables, spintax) of at most 300
/// characters that names only known variables.
fn check_subject(env: &Env, text: &str) -> Result<Option<String>, AppError> {
    let Some(subject) = clean(text) else {
        return Ok(None);
    };
    let known: Vec<&str> = crate::outreach::model::TEMPLATE_VARIABLES.to_vec();
    let valid = subject.chars().count() <= 300
        && crate::outreach::template::Template::parse(&subject)
            .is_ok_and(|t| t.check(&known, None).is_ok());
    if !valid {
        return Err(AppError::field(
            "subject_override",
            env.t("outreach.subject_override_invalid"),
        ));
    }
    Ok(Some(subject))
}

/// A sender name: one line of at most 100 characters (it becomes a mail header).
fn check_from_name(env: &Env, text: &str) -> Result<Option<String>, AppError> {
    let Some(name) = clean(text) else {
        return Ok(None);
    };
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::field(
            "from_name",
            env.t("outreach.from_name_invalid"),
        ));
    }
    Ok(Some(name))
}

/// The checks of adding and of editing a step: the kind, the delay's range, then what
/// the kind needs. `position` is the step's place in the sequence (a new step's is
/// after the last), which a condition's targets must be after.
async fn check(
    env: &Env,
    tx: &mut Tx,
    sequence_id: Uuid,
    position: i32,
    input: &StepInput,
) -> Result<Checked, AppError> {
    let kind = match input.kind.trim() {
        "" => StepKind::Send,
        code => StepKind::parse(code)
            .ok_or_else(|| AppError::field("kind", env.t("outreach.step_kind_invalid")))?,
    };
    let delay = bounded(env, "delay_minutes", &input.delay_minutes, 0, 525_600)?;
    let mut checked = Checked {
        kind,
        delay,
        send: None,
        wait_until: None,
        branching: None,
    };
    match kind {
        StepKind::Send => checked.send = Some(check_send(env, tx, input).await?),
        StepKind::WaitUntil => {
            checked.wait_until = Some(check_wait(env, tx, sequence_id, &input.wait_until).await?)
        }
        StepKind::Condition => {
            checked.branching = Some(check_condition(env, tx, sequence_id, position, input).await?)
        }
    }
    Ok(checked)
}

/// A sending step: a template of this workspace that is not archived, a fallback on
/// the other channel, and the email's own subject, sender name and mailbox.
async fn check_send(env: &Env, tx: &mut Tx, input: &StepInput) -> Result<Send, AppError> {
    let subject_override = check_subject(env, &input.subject_override)?;
    let from_name = check_from_name(env, &input.from_name)?;
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
    let channel: Option<String> =
        sqlx::query_scalar("SELECT channel FROM templates WHERE id = $1 AND NOT archived")
            .bind(template_id)
            .fetch_optional(&mut **tx)
            .await?;
    let channel = channel
        .ok_or_else(|| AppError::field("template_id", env.t("outreach.template_required")))?;
    if let Some(f) = fallback {
        let fallback_channel: Option<String> =
            sqlx::query_scalar("SELECT channel FROM templates WHERE id = $1 AND NOT archived")
                .bind(f)
                .fetch_optional(&mut **tx)
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
    // A mailbox of this workspace, not archived, for a step that sends an email (its
    // own channel, or its fallback's, which is always the other one).
    let mailbox: Option<Uuid> = match clean(&input.mailbox_id) {
        None => None,
        Some(m) => {
            let invalid = || AppError::field("mailbox_id", env.t("outreach.step_mailbox_invalid"));
            let id: Uuid = m.parse().map_err(|_| invalid())?;
            let usable: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM email_accounts WHERE id = $1 AND archived_at IS NULL)",
            )
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
            if !usable {
                return Err(invalid());
            }
            if channel != "EMAIL" && fallback.is_none() {
                return Err(AppError::field(
                    "mailbox_id",
                    env.t("outreach.step_mailbox_not_email"),
                ));
            }
            Some(id)
        }
    };
    Ok(Send {
        template_id,
        channel,
        fallback,
        subject_override,
        from_name,
        mailbox,
        skip_if_replied: input.skip_if_replied,
        skip_if_opened: input.skip_if_opened,
    })
}

/// A wait's moment: typed in the sequence's time zone, still to come, within a year.
async fn check_wait(
    env: &Env,
    tx: &mut Tx,
    sequence_id: Uuid,
    text: &str,
) -> Result<chrono::DateTime<chrono::Utc>, AppError> {
    let zone: String = sqlx::query_scalar(
        "SELECT coalesce(s.timezone, t.timezone) FROM sequences s JOIN tenants t ON t.id = s.tenant_id
          WHERE s.id = $1",
    )
    .bind(sequence_id)
    .fetch_one(&mut **tx)
    .await?;
    let invalid = || AppError::field("wait_until", env.t("outreach.wait_until_invalid"));
    let at = read_local(text.trim(), &zone).ok_or_else(invalid)?;
    let now = chrono::Utc::now();
    if at <= now {
        return Err(invalid());
    }
    if at > now + chrono::Duration::days(366) {
        return Err(AppError::field(
            "wait_until",
            env.t("outreach.starts_at_too_far"),
        ));
    }
    Ok(at)
}

/// A condition: what it asks, the field and value that needs, and two branches that
/// go on, end, or jump to a later step of the same sequence.
async fn check_condition(
    env: &Env,
    tx: &mut Tx,
    sequence_id: Uuid,
    position: i32,
    input: &StepInput,
) -> Result<Branching, AppError> {
    let condition = Condition::parse(&input.condition)
        .ok_or_else(|| AppError::field("condition", env.t("outreach.condition_required")))?;
    let value = clean(&input.condition_value).filter(|v| v.chars().count() <= 100);
    let value_error =
        || AppError::field("condition_value", env.t("outreach.condition_value_invalid"));
    let (field, value) = match condition {
        Condition::Opened | Condition::Clicked | Condition::Replied => (None, None),
        Condition::JourneyState => {
            let state = value
                .filter(|v| JOURNEY_STATES.contains(&v.as_str()))
                .ok_or_else(value_error)?;
            (None, Some(state))
        }
        Condition::Field => {
            let field = clean(&input.condition_field).unwrap_or_default();
            let known = match field.strip_prefix("custom.") {
                Some(key) => sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM custom_fields WHERE entity = 'LEAD' AND key = $1)",
                )
                .bind(key)
                .fetch_one(&mut **tx)
                .await?,
                None => CONDITION_FIELDS.contains(&field.as_str()),
            };
            if !known {
                return Err(AppError::field(
                    "condition_field",
                    env.t("outreach.condition_field_invalid"),
                ));
            }
            let value = value.ok_or_else(value_error)?;
            let fits = match field.as_str() {
                "status" => crate::crm::records::model::LeadStatus::parse(&value).is_some(),
                "score" => value.parse::<i32>().is_ok_and(|n| (0..=100).contains(&n)),
                _ => true,
            };
            if !fits {
                return Err(value_error());
            }
            (Some(field), Some(value))
        }
    };
    // A branch goes forward only, so every enrolment reaches the end of its sequence.
    let later: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM sequence_steps WHERE sequence_id = $1 AND position > $2",
    )
    .bind(sequence_id)
    .bind(position)
    .fetch_all(&mut **tx)
    .await?;
    let branch = |name: &'static str, text: &str| match Branch::from_form(text) {
        Some(Branch::Step(id)) if !later.contains(&id) => {
            Err(AppError::field(name, env.t("outreach.branch_invalid")))
        }
        Some(b) => Ok(b),
        None => Err(AppError::field(name, env.t("outreach.branch_invalid"))),
    };
    Ok(Branching {
        condition,
        field,
        value,
        then_go: branch("then_go", &input.then_go)?,
        else_go: branch("else_go", &input.else_go)?,
    })
}

/// A moment typed as `2026-12-24T09:00` (or a date: its midnight) in `zone`.
pub(super) fn read_local(text: &str, zone: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(crate::l10n::from_local(zone, local))
}

/// Writes a checked step: a new row at `position`, or the fields of the step `id`.
async fn store(
    tx: &mut Tx,
    tenant_id: Uuid,
    sequence_id: Uuid,
    position: i32,
    id: Uuid,
    step: &Checked,
) -> Result<(), AppError> {
    let send = step.send.as_ref();
    let branching = step.branching.as_ref();
    let then_go = branching.map_or(Branch::Next, |b| b.then_go);
    let else_go = branching.map_or(Branch::Next, |b| b.else_go);
    sqlx::query(
        "INSERT INTO sequence_steps AS st (tenant_id, id, sequence_id, position, kind, delay_minutes, channel,
                template_id, fallback_template_id, skip_if_replied, skip_if_opened, subject_override, from_name,
                mailbox_id, wait_until, condition, condition_field, condition_value, then_go, then_step_id,
                else_go, else_step_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
         ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, delay_minutes = EXCLUDED.delay_minutes,
                channel = EXCLUDED.channel, template_id = EXCLUDED.template_id,
                fallback_template_id = EXCLUDED.fallback_template_id, skip_if_replied = EXCLUDED.skip_if_replied,
                skip_if_opened = EXCLUDED.skip_if_opened, subject_override = EXCLUDED.subject_override,
                from_name = EXCLUDED.from_name, mailbox_id = EXCLUDED.mailbox_id, wait_until = EXCLUDED.wait_until,
                condition = EXCLUDED.condition, condition_field = EXCLUDED.condition_field,
                condition_value = EXCLUDED.condition_value, then_go = EXCLUDED.then_go,
                then_step_id = EXCLUDED.then_step_id, else_go = EXCLUDED.else_go, else_step_id = EXCLUDED.else_step_id",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(sequence_id)
    .bind(position)
    .bind(step.kind.code())
    .bind(step.delay)
    .bind(send.map(|s| s.channel.as_str()))
    .bind(send.map(|s| s.template_id))
    .bind(send.and_then(|s| s.fallback))
    .bind(send.is_some_and(|s| s.skip_if_replied))
    .bind(send.is_some_and(|s| s.skip_if_opened))
    .bind(send.and_then(|s| s.subject_override.as_deref()))
    .bind(send.and_then(|s| s.from_name.as_deref()))
    .bind(send.and_then(|s| s.mailbox))
    .bind(step.wait_until)
    .bind(branching.map(|b| b.condition.code()))
    .bind(branching.and_then(|b| b.field.as_deref()))
    .bind(branching.and_then(|b| b.value.as_deref()))
    .bind(then_go.go())
    .bind(then_go.step())
    .bind(else_go.go())
    .bind(else_go.step())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What the audit log keeps of a step.
fn described(position: i32, step: &Checked) -> serde_json::Value {
    let send = step.send.as_ref();
    let branching = step.branching.as_ref();
    serde_json::json!({
        "position": position, "kind": step.kind.code(), "delay_minutes": step.delay,
        "channel": send.map(|s| s.channel.as_str()), "template_id": send.map(|s| s.template_id),
        "fallback_template_id": send.and_then(|s| s.fallback),
        "skip_if_replied": send.is_some_and(|s| s.skip_if_replied),
        "skip_if_opened": send.is_some_and(|s| s.skip_if_opened),
        "mailbox_id": send.and_then(|s| s.mailbox),
        "wait_until": step.wait_until,
        "condition": branching.map(|b| b.condition.code()),
        "condition_field": branching.and_then(|b| b.field.as_deref()),
        "condition_value": branching.and_then(|b| b.value.as_deref()),
        "then": branching.map(|b| b.then_go.form_value()),
        "else": branching.map(|b| b.else_go.form_value()),
    })
}

/// The mailboxes a step may name, by address.
pub async fn mailbox_choices(
    env: &Env,
) -> Result<Vec<crate::outreach::model::MailboxChoice>, AppError> {
    let (_, mut tx) = env.begin(Permission::OutreachManage).await?;
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, from_address::text FROM email_accounts WHERE archived_at IS NULL
          ORDER BY from_address",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, address)| crate::outreach::model::MailboxChoice { id, address })
        .collect())
}

/// Locks the sequence's row for the rest of the transaction; false when there is no
/// such sequence in this workspace.
async fn lock_sequence(tx: &mut Tx, sequence_id: Uuid) -> Result<bool, AppError> {
    Ok(
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM sequences WHERE id = $1 FOR UPDATE")
            .bind(sequence_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// Moves the time of the enrolments waiting at each position by its delta (minutes):
/// they wait for the delay of the step now at their position, from their last send.
async fn shift_waiting(
    tx: &mut Tx,
    sequence_id: Uuid,
    positions: &[i32],
    deltas: &[i32],
) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "UPDATE enrollments e SET next_run_at = e.next_run_at + make_interval(mins => x.delta), updated_at = now()
           FROM UNNEST($2::int[], $3::int[]) AS x (position, delta)
          WHERE e.sequence_id = $1 AND e.status IN ('ACTIVE', 'PAUSED')
            AND e.next_step = x.position AND x.delta <> 0",
    )
    .bind(sequence_id)
    .bind(positions)
    .bind(deltas)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Adds a step at the end of the sequence.
pub async fn add_step(env: &Env, sequence_id: Uuid, input: &StepInput) -> Result<Uuid, AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    if !lock_sequence(&mut tx, sequence_id).await? {
        return Err(not_found(env));
    }
    let position: i32 = sqlx::query_scalar(
        "SELECT coalesce(max(position), 0) + 1 FROM sequence_steps WHERE sequence_id = $1",
    )
    .bind(sequence_id)
    .fetch_one(&mut *tx)
    .await?;
    let step = check(env, &mut tx, sequence_id, position, input).await?;
    let id = new_id();
    store(&mut tx, p.tenant_id, sequence_id, position, id, &step).await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.step_added", "sequence_steps", Some(id))
            .after(described(position, &step)),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct Current {
    sequence_id: Uuid,
    position: i32,
    delay_minutes: i32,
    kind: String,
    channel: Option<String>,
    template_id: Option<Uuid>,
    fallback_template_id: Option<Uuid>,
    skip_if_replied: bool,
    skip_if_opened: bool,
}

async fn current(tx: &mut Tx, step_id: Uuid) -> Result<Option<Current>, AppError> {
    Ok(sqlx::query_as(
        "SELECT sequence_id, position, delay_minutes, kind, channel, template_id, fallback_template_id,
                skip_if_replied, skip_if_opened
           FROM sequence_steps WHERE id = $1",
    )
    .bind(step_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Reads a step, then locks its sequence and reads it again (it may have moved or gone
/// while the lock was awaited).
async fn locked_step(env: &Env, tx: &mut Tx, step_id: Uuid) -> Result<Current, AppError> {
    let sequence_id = current(tx, step_id)
        .await?
        .ok_or_else(|| not_found(env))?
        .sequence_id;
    lock_sequence(tx, sequence_id).await?;
    current(tx, step_id).await?.ok_or_else(|| not_found(env))
}

/// Changes a step: its kind, delay, and what the kind needs. Enrolments waiting for
/// its position run the edited step, and their time moves by the change in delay.
pub async fn update_step(env: &Env, step_id: Uuid, input: &StepInput) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let before = locked_step(env, &mut tx, step_id).await?;
    let step = check(env, &mut tx, before.sequence_id, before.position, input).await?;
    store(
        &mut tx,
        p.tenant_id,
        before.sequence_id,
        before.position,
        step_id,
        &step,
    )
    .await?;
    let shifted = shift_waiting(
        &mut tx,
        before.sequence_id,
        &[before.position],
        &[step.delay - before.delay_minutes],
    )
    .await?;
    let mut after = described(before.position, &step);
    after["waiting_enrollments_moved"] = shifted.into();
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.step_updated", "sequence_steps", Some(step_id)).change(
            serde_json::json!({
                "position": before.position, "kind": before.kind,
                "delay_minutes": before.delay_minutes,
                "channel": before.channel, "template_id": before.template_id,
                "fallback_template_id": before.fallback_template_id,
                "skip_if_replied": before.skip_if_replied, "skip_if_opened": before.skip_if_opened,
            }),
            after,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether every (condition, target) pair keeps its target after its condition in
/// `order`.
pub fn branches_forward(order: &[Uuid], targets: &[(Uuid, Uuid)]) -> bool {
    let at = |id: &Uuid| order.iter().position(|o| o == id);
    targets
        .iter()
        .all(|(from, to)| matches!((at(from), at(to)), (Some(f), Some(t)) if t > f))
}

/// Whether `order` lists each of `steps` exactly once.
pub fn is_permutation(steps: &[Uuid], order: &[Uuid]) -> bool {
    let known: HashSet<&Uuid> = steps.iter().collect();
    let mut seen = HashSet::new();
    order.len() == steps.len() && order.iter().all(|id| known.contains(id) && seen.insert(id))
}

/// Puts the sequence's steps in `order`, which must name each of its steps once. The
/// steps take the positions the sequence already uses, in the new order, so an
/// enrolment's position keeps meaning "this far into the sequence".
pub async fn reorder(env: &Env, sequence_id: Uuid, order: &[Uuid]) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    if !lock_sequence(&mut tx, sequence_id).await? {
        return Err(not_found(env));
    }
    let steps: Vec<(Uuid, i32, i32)> = sqlx::query_as(
        "SELECT id, position, delay_minutes FROM sequence_steps WHERE sequence_id = $1 ORDER BY position",
    )
    .bind(sequence_id)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = steps.iter().map(|s| s.0).collect();
    if !is_permutation(&ids, order) {
        return Err(AppError::field(
            "step_ids",
            env.t("outreach.order_mismatch"),
        ));
    }
    if ids == order {
        return Ok(());
    }
    // A condition's targets must stay after it (branches only go forward).
    let targets: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT id, target FROM sequence_steps, LATERAL (VALUES (then_step_id), (else_step_id)) AS t (target)
          WHERE sequence_id = $1 AND target IS NOT NULL",
    )
    .bind(sequence_id)
    .fetch_all(&mut *tx)
    .await?;
    if !branches_forward(order, &targets) {
        return Err(AppError::field(
            "step_ids",
            env.t("outreach.order_breaks_branch"),
        ));
    }
    let positions: Vec<i32> = steps.iter().map(|s| s.1).collect();
    let delay_of = |id: &Uuid| steps.iter().find(|s| s.0 == *id).map_or(0, |s| s.2);
    let deltas: Vec<i32> = steps
        .iter()
        .zip(order)
        .map(|(old, new)| delay_of(new) - old.2)
        .collect();
    // The unique (sequence, position) constraint is checked at commit, so the steps
    // can trade places in one statement.
    sqlx::query(
        "UPDATE sequence_steps st SET position = x.position
           FROM UNNEST($1::uuid[], $2::int[]) AS x (id, position)
          WHERE st.id = x.id",
    )
    .bind(order)
    .bind(&positions)
    .execute(&mut *tx)
    .await?;
    let shifted = shift_waiting(&mut tx, sequence_id, &positions, &deltas).await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.steps_reordered", "sequences", Some(sequence_id)).change(
            serde_json::json!({ "order": ids }),
            serde_json::json!({ "order": order, "waiting_enrollments_moved": shifted }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a step. Enrolments waiting for it move on to the step after it (their time
/// moving by the difference in delay); with none after it they complete when due.
pub async fn remove_step(env: &Env, step_id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let step = locked_step(env, &mut tx, step_id).await?;
    let next: Option<(Uuid, i32, i32)> = sqlx::query_as(
        "SELECT id, position, delay_minutes FROM sequence_steps
          WHERE sequence_id = $1 AND position > $2 ORDER BY position LIMIT 1",
    )
    .bind(step.sequence_id)
    .bind(step.position)
    .fetch_optional(&mut *tx)
    .await?;
    // Conditions that jump to this step jump to the one after it (where its waiting
    // enrolments go too), or end the enrolment when it was the last.
    let (go, target) = match next {
        Some((id, _, _)) => ("STEP", Some(id)),
        None => ("END", None),
    };
    sqlx::query(
        "UPDATE sequence_steps SET then_go = CASE WHEN then_step_id = $1 THEN $2 ELSE then_go END,
                then_step_id = CASE WHEN then_step_id = $1 THEN $3 ELSE then_step_id END,
                else_go = CASE WHEN else_step_id = $1 THEN $2 ELSE else_go END,
                else_step_id = CASE WHEN else_step_id = $1 THEN $3 ELSE else_step_id END
          WHERE then_step_id = $1 OR else_step_id = $1",
    )
    .bind(step_id)
    .bind(go)
    .bind(target)
    .execute(&mut *tx)
    .await?;
    if let Some((_, position, delay)) = next {
        shift_waiting(
            &mut tx,
            step.sequence_id,
            &[step.position],
            &[delay - step.delay_minutes],
        )
        .await?;
        sqlx::query(
            "UPDATE enrollments SET next_step = $3, updated_at = now()
              WHERE sequence_id = $1 AND next_step = $2 AND status IN ('ACTIVE', 'PAUSED')",
        )
        .bind(step.sequence_id)
        .bind(step.position)
        .bind(position)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM sequence_steps WHERE id = $1")
        .bind(step_id)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.step_removed", "sequence_steps", Some(step_id)).after(
            serde_json::json!({ "position": step.position, "template_id": step.template_id }),
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
    fn an_order_must_name_each_step_once() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert!(is_permutation(&[a, b, c], &[c, a, b]));
        assert!(is_permutation(&[], &[]));
        assert!(!is_permutation(&[a, b, c], &[a, b]), "missing");
        assert!(!is_permutation(&[a, b, c], &[a, b, b]), "duplicate");
        assert!(!is_permutation(&[a, b], &[a, Uuid::now_v7()]), "foreign");
        assert!(!is_permutation(&[a, b], &[a, b, c]), "extra");
    }
}
