//! The tenant's approval rules, kept by admins in Settings → Approvals.

use super::approver;
use crate::approvals::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::{Permission, Role};
use crate::crm::money::{self, Money};
use crate::db::{new_id, Tx};
use crate::error::AppError;
use crate::request::Env;
use uuid::Uuid;

/// The rule form as typed. Levels are picker values: `role:MANAGER` or `member:<id>`,
/// empty for "no such level".
#[derive(Clone, Debug, Default)]
pub struct RuleForm {
    pub name: String,
    pub trigger: String,
    pub stage_id: String,
    pub amount: String,
    pub currency: String,
    pub levels: [String; MAX_LEVELS],
}

#[derive(sqlx::FromRow)]
struct RuleSql {
    id: Uuid,
    name: String,
    trigger: String,
    stage_id: Option<Uuid>,
    stage: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LevelSql {
    rule_id: Uuid,
    role: Option<String>,
    member_id: Option<Uuid>,
    member: Option<String>,
}

#[derive(sqlx::FromRow)]
struct MemberSql {
    user_id: Uuid,
    name: String,
}

pub async fn page(env: &Env) -> Result<RulesPage, AppError> {
    let (_, mut tx) = env.begin(Permission::TenantSettings).await?;
    let rules: Vec<RuleSql> = sqlx::query_as(
        "SELECT r.id, r.name, r.trigger, r.stage_id, pl.name || ' › ' || s.name AS stage,
                r.amount_minor, r.currency::text AS currency
           FROM approval_rules r
           LEFT JOIN stages s ON s.id = r.stage_id LEFT JOIN pipelines pl ON pl.id = s.pipeline_id
          ORDER BY r.created_at, r.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let levels: Vec<LevelSql> = sqlx::query_as(
        "SELECT v.rule_id, v.role, v.member_id, u.name AS member
           FROM approval_rule_levels v LEFT JOIN users u ON u.id = v.member_id
          ORDER BY v.rule_id, v.position",
    )
    .fetch_all(&mut *tx)
    .await?;
    let stages: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT s.id, pl.name || ' › ' || s.name FROM stages s JOIN pipelines pl ON pl.id = s.pipeline_id
          ORDER BY pl.position, pl.created_at, s.position",
    )
    .fetch_all(&mut *tx)
    .await?;
    let members = approver_members(&mut tx).await?;
    let currency: String =
        sqlx::query_scalar("SELECT coalesce((SELECT currency::text FROM subscriptions), 'USD')")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    let rules = rules
        .into_iter()
        .map(|r| RuleView {
            id: r.id,
            levels: levels
                .iter()
                .filter(|v| v.rule_id == r.id)
                .map(|v| approver(v.role.as_deref(), v.member_id, v.member.clone()))
                .collect(),
            trigger: match (r.trigger.as_str(), r.stage_id) {
                ("STAGE_ENTERED", Some(stage_id)) => RuleTrigger::StageEntered {
                    stage_id,
                    stage: r.stage.unwrap_or_default(),
                },
                _ => RuleTrigger::AmountAbove(Money {
                    minor: r.amount_minor.unwrap_or_default(),
                    currency: r.currency.unwrap_or_default(),
                }),
            },
            name: r.name,
        })
        .collect();
    let approvers = [Role::Manager, Role::Admin, Role::Owner]
        .into_iter()
        .map(Approver::Role)
        .chain(members.into_iter().map(|m| Approver::Member {
            user_id: m.user_id,
            name: m.name,
        }))
        .collect();
    Ok(RulesPage {
        rules,
        stages: stages
            .into_iter()
            .map(|(id, label)| StageChoice { id, label })
            .collect(),
        approvers,
        currency,
    })
}

/// Active members who may approve: approving is a manager's work.
async fn approver_members(tx: &mut Tx) -> Result<Vec<MemberSql>, AppError> {
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.name FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.status = 'ACTIVE' AND m.role IN ('MANAGER', 'ADMIN', 'OWNER') ORDER BY u.name",
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// One level as picked: a role, or a member who may approve.
enum Picked {
    Role(Role),
    Member(Uuid),
}

fn pick(env: &Env, field: &str, value: &str) -> Result<Option<Picked>, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let bad = || AppError::field(field, env.t("approvals.error.approver_unknown"));
    match value.split_once(':') {
        Some(("role", code)) => match Role::parse(code) {
            Some(r) if r >= Role::Manager => Ok(Some(Picked::Role(r))),
            _ => Err(bad()),
        },
        Some(("member", id)) => Ok(Some(Picked::Member(id.parse().map_err(|_| bad())?))),
        _ => Err(bad()),
    }
}

pub async fn save(env: &Env, form: &RuleForm) -> Result<Uuid, AppError> {
    let p = env.require(Permission::TenantSettings)?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field(
            "name",
            env.t("approvals.error.name_required"),
        ));
    }
    let mut tx = env.tx(p).await?;
    let (trigger, stage_id, amount, currency) = match form.trigger.as_str() {
        "STAGE_ENTERED" => {
            let unknown = || AppError::field("stage_id", env.t("approvals.error.stage_unknown"));
            let id: Uuid = form.stage_id.trim().parse().map_err(|_| unknown())?;
            // RLS hides other tenants' stages, so theirs are as unknown as made-up ones.
            let known: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM stages WHERE id = $1)")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            if !known {
                return Err(unknown());
            }
            ("STAGE_ENTERED", Some(id), None, None)
        }
        "AMOUNT_ABOVE" => {
            let currency = form.currency.trim().to_ascii_uppercase();
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(AppError::field("currency", env.t("board.currency_invalid")));
            }
            let amount = money::parse(env.locale(), &form.amount, &currency)
                .filter(|a| *a >= 0)
                .ok_or_else(|| AppError::field("amount", env.t("board.amount_invalid")))?;
            ("AMOUNT_ABOVE", None, Some(amount), Some(currency))
        }
        _ => {
            return Err(AppError::field(
                "trigger",
                env.t("approvals.error.trigger_required"),
            ))
        }
    };
    let mut picked = Vec::new();
    let mut gap: Option<String> = None;
    for (i, value) in form.levels.iter().enumerate() {
        let field = format!("level_{}", i + 1);
        match pick(env, &field, value)? {
            Some(level) => {
                if let Some(missing) = gap.take() {
                    return Err(AppError::field(
                        &missing,
                        env.t("approvals.error.level_gap"),
                    ));
                }
                picked.push((field, level));
            }
            None if gap.is_none() => gap = Some(field),
            None => {}
        }
    }
    if picked.is_empty() {
        return Err(AppError::field(
            "level_1",
            env.t("approvals.error.level_required"),
        ));
    }
    let allowed: Vec<Uuid> = approver_members(&mut tx)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let mut seen = Vec::new();
    for (field, level) in &picked {
        if let Picked::Member(id) = level {
            if !allowed.contains(id) {
                return Err(AppError::field(
                    field,
                    env.t("approvals.error.approver_unknown"),
                ));
            }
            // One member cannot decide two levels of a request, so naming them twice
            // would make a rule nobody can finish.
            if seen.contains(id) {
                return Err(AppError::field(
                    field,
                    env.t("approvals.error.member_twice"),
                ));
            }
            seen.push(*id);
        }
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO approval_rules (tenant_id, id, name, trigger, stage_id, amount_minor, currency, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(name)
    .bind(trigger)
    .bind(stage_id)
    .bind(amount)
    .bind(&currency)
    .bind(p.actor())
    .execute(&mut *tx)
    .await?;
    for (position, (_, level)) in (1i16..).zip(&picked) {
        let (role, member) = match level {
            Picked::Role(r) => (Some(r.as_str()), None),
            Picked::Member(m) => (None, Some(*m)),
        };
        sqlx::query(
            "INSERT INTO approval_rule_levels (tenant_id, rule_id, position, role, member_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(p.tenant_id)
        .bind(id)
        .bind(position)
        .bind(role)
        .bind(member)
        .execute(&mut *tx)
        .await?;
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("approval_rule.created", "approval_rule", Some(id)).after(
            serde_json::json!({
                "name": name, "trigger": trigger, "stage_id": stage_id,
                "amount_minor": amount, "currency": currency, "levels": picked.len(),
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Deletes a rule. Requests it already holds keep their copy of its levels and go on.
pub async fn delete(env: &Env, id: &str) -> Result<(), AppError> {
    let p = env.require(Permission::TenantSettings)?;
    let not_found = || AppError::NotFound(env.t("approvals.error.rule_not_found"));
    let id: Uuid = id.trim().parse().map_err(|_| not_found())?;
    let mut tx = env.tx(p).await?;
    let name: String =
        sqlx::query_scalar("DELETE FROM approval_rules WHERE id = $1 RETURNING name")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(not_found)?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("approval_rule.deleted", "approval_rule", Some(id))
            .change(serde_json::json!({ "name": name }), serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
