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
use crate::request::Env;
use std::collections::HashSet;
use uuid::Uuid;

pub struct StepInput {
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
}

/// A step's fields once checked; `channel` is its template's.
struct Checked {
    delay: i32,
    template_id: Uuid,
    channel: String,
    fallback: Option<Uuid>,
    subject_override: Option<String>,
    from_name: Option<String>,
    mailbox: Option<Uuid>,
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

/// The checks of adding and of editing a step: the delay's range, a template of this
/// workspace that is not archived, and a fallback on the other channel.
async fn check(env: &Env, tx: &mut Tx, input: &StepInput) -> Result<Checked, AppError> {
    let delay = bounded(env, "delay_minutes", &input.delay_minutes, 0, 525_600)?;
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
    Ok(Checked {
        delay,
        template_id,
        channel,
        subject_override,
        from_name,
        fallback,
        mailbox,
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
    let step = check(env, &mut tx, input).await?;
    let position: i32 = sqlx::query_scalar(
        "SELECT coalesce(max(position), 0) + 1 FROM sequence_steps WHERE sequence_id = $1",
    )
    .bind(sequence_id)
    .fetch_one(&mut *tx)
    .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO sequence_steps (tenant_id, id, sequence_id, position, delay_minutes, channel, template_id,
                                     fallback_template_id, skip_if_replied, skip_if_opened, subject_override,
                                     from_name, mailbox_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(sequence_id)
    .bind(position)
    .bind(step.delay)
    .bind(&step.channel)
    .bind(step.template_id)
    .bind(step.fallback)
    .bind(input.skip_if_replied)
    .bind(input.skip_if_opened)
    .bind(&step.subject_override)
    .bind(&step.from_name)
    .bind(step.mailbox)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.step_added", "sequence_steps", Some(id)).after(
            serde_json::json!({ "position": position, "channel": step.channel, "delay_minutes": step.delay }),
        ),
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
    channel: String,
    template_id: Uuid,
    fallback_template_id: Option<Uuid>,
    skip_if_replied: bool,
    skip_if_opened: bool,
}

async fn current(tx: &mut Tx, step_id: Uuid) -> Result<Option<Current>, AppError> {
    Ok(sqlx::query_as(
        "SELECT sequence_id, position, delay_minutes, channel, template_id, fallback_template_id,
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

/// Changes a step's delay, template (and with it the channel), fallback and skip
/// rules. Enrolments waiting for its position send the edited step, and their time
/// moves by the change in delay.
pub async fn update_step(env: &Env, step_id: Uuid, input: &StepInput) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::OutreachManage).await?;
    let before = locked_step(env, &mut tx, step_id).await?;
    let step = check(env, &mut tx, input).await?;
    sqlx::query(
        "UPDATE sequence_steps SET delay_minutes = $2, channel = $3, template_id = $4,
                fallback_template_id = $5, skip_if_replied = $6, skip_if_opened = $7,
                subject_override = $8, from_name = $9, mailbox_id = $10
          WHERE id = $1",
    )
    .bind(step_id)
    .bind(step.delay)
    .bind(&step.channel)
    .bind(step.template_id)
    .bind(step.fallback)
    .bind(input.skip_if_replied)
    .bind(input.skip_if_opened)
    .bind(&step.subject_override)
    .bind(&step.from_name)
    .bind(step.mailbox)
    .execute(&mut *tx)
    .await?;
    let shifted = shift_waiting(
        &mut tx,
        before.sequence_id,
        &[before.position],
        &[step.delay - before.delay_minutes],
    )
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("sequence.step_updated", "sequence_steps", Some(step_id)).change(
            serde_json::json!({
                "position": before.position, "delay_minutes": before.delay_minutes,
                "channel": before.channel, "template_id": before.template_id,
                "fallback_template_id": before.fallback_template_id,
                "skip_if_replied": before.skip_if_replied, "skip_if_opened": before.skip_if_opened,
            }),
            serde_json::json!({
                "position": before.position, "delay_minutes": step.delay,
                "channel": step.channel, "template_id": step.template_id,
                "fallback_template_id": step.fallback,
                "skip_if_replied": input.skip_if_replied, "skip_if_opened": input.skip_if_opened,
                "mailbox_id": step.mailbox, "waiting_enrollments_moved": shifted,
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
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
    let next: Option<(i32, i32)> = sqlx::query_as(
        "SELECT position, delay_minutes FROM sequence_steps
          WHERE sequence_id = $1 AND position > $2 ORDER BY position LIMIT 1",
    )
    .bind(step.sequence_id)
    .bind(step.position)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((position, delay)) = next {
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
