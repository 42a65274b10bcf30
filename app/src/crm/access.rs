//! Who sees what: SALES their own records (and unassigned ones if the tenant allows),
//! MANAGER their team's (everyone who reports to them, at any depth: Settings →
//! Team sets the lines), ADMIN and OWNER everything. Every CRM query adds this scope;
//! row-level security only keeps tenants apart.

use super::model::{Entity, RecordFilter};
use crate::auth::model::Role;
use crate::db::Tx;
use crate::error::AppError;
use crate::request::Principal;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct Scope {
    /// ADMIN and OWNER: no restriction.
    pub all: bool,
    /// The owners whose records are visible (the member, and a manager's reports).
    pub owners: Vec<Uuid>,
    /// Records without an owner are visible too.
    pub unassigned: bool,
}

impl Scope {
    /// The scope of `principal` in the transaction's tenant.
    pub async fn load(tx: &mut Tx, principal: &Principal) -> Result<Scope, AppError> {
        // Admins see everything: no round trip (their pages are the busiest).
        if principal.role >= Role::Admin {
            return Ok(Scope {
                all: true,
                owners: Vec::new(),
                unassigned: true,
            });
        }
        let (unassigned, reports): (bool, Vec<Uuid>) = sqlx::query_as(
            "SELECT coalesce((SELECT sales_see_unassigned FROM tenant_policies), true),
                    array(WITH RECURSIVE below AS (
                              SELECT user_id FROM memberships WHERE manager_id = $1 AND $2
                              UNION
                              SELECT m.user_id FROM memberships m JOIN below b ON m.manager_id = b.user_id
                          ) SELECT user_id FROM below)",
        )
        .bind(principal.user_id)
        .bind(principal.role >= Role::Manager)
        .fetch_one(&mut **tx)
        .await?;
        let mut owners = vec![principal.user_id];
        owners.extend(reports);
        Ok(Scope {
            all: false,
            owners,
            unassigned,
        })
    }

    /// Whether a record with this owner is in scope.
    pub fn allows(&self, owner: Option<Uuid>) -> bool {
        self.all
            || match owner {
                Some(id) => self.owners.contains(&id),
                None => self.unassigned,
            }
    }

    /// Appends ` AND (<column> in scope)` to a query.
    pub fn push(&self, qb: &mut QueryBuilder<'_, Postgres>, column: &str) {
        if self.all {
            return;
        }
        qb.push(format_args!(" AND ({column} = ANY("))
            .push_bind(self.owners.clone())
            .push(")");
        if self.unassigned {
            qb.push(format_args!(" OR {column} IS NULL"));
        }
        qb.push(")");
    }
}

/// Matches a text search considers at most; the table then sorts and pages them.
pub const SEARCH_CANDIDATES: i64 = 1000;

/// Appends the view filters of `filter` for a table of `entity` aliased `r`.
pub fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, entity: Entity, filter: &RecordFilter) {
    // Every word must match, as a substring or a close word (typos). The candidates
    // come from `search_ids()`, which can use the trigram index where a query under RLS
    // cannot (migrations/0004_search.sql).
    let words: Vec<String> = filter
        .q
        .split_whitespace()
        .take(5)
        .map(str::to_string)
        .collect();
    if !words.is_empty() {
        qb.push(format_args!(
            " AND r.id IN (SELECT search_ids('{}', ",
            entity.table()
        ))
        .push_bind(words)
        .push(format_args!(", {SEARCH_CANDIDATES}))"));
    }
    if let Some(owner) = filter.owner {
        qb.push(" AND r.owner_id = ").push_bind(owner);
    }
    if let Some(tag) = filter
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        qb.push(" AND r.tags @> ARRAY[")
            .push_bind(tag.to_string())
            .push("]::text[]");
    }
    if let Some(status) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        if matches!(entity, Entity::Lead | Entity::Deal) {
            qb.push(" AND r.status = ").push_bind(status.to_string());
        }
    }
    if let Some(list) = filter.list_id {
        qb.push(" AND r.id IN (SELECT record_id FROM list_members WHERE list_id = ")
            .push_bind(list)
            .push(")");
    }
}
