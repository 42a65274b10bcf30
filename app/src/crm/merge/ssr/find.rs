//! Likely duplicates: of one record (its card), across the workspace (the duplicates
//! page), and where a merged record went.

use super::{mergeable, name_column, UNDO_DAYS};
use crate::auth::model::Permission;
use crate::crm::access::Scope;
use crate::crm::merge::{Candidate, Duplicates, MergeInto, Pair, PastMerge};
use crate::crm::model::Entity;
use crate::error::AppError;
use crate::request::Env;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

/// Why a row is a likely duplicate, from its flag columns: `name_flag` is the column
/// saying the names match (alike on a record's card, equal across the workspace).
fn reasons(r: &PgRow, name_flag: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut reasons = Vec::new();
    for (column, reason) in [
        ("same_email", "email"),
        ("same_phone", "phone"),
        (name_flag, "name"),
    ] {
        if r.try_get::<bool, _>(column)? {
            reasons.push(reason.to_string());
        }
    }
    Ok(reasons)
}

/// The likely duplicates of a record the member sees, and the merges into it that can
/// still be undone.
pub async fn duplicates(env: &Env, entity: Entity, id: Uuid) -> Result<Duplicates, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    crate::crm::records::ssr::check_visible(env, &mut tx, &scope, entity, id).await?;
    let name = name_column(entity);
    let table = entity.table();
    // Same address once normalised, same number, or a name alike (the trigram index
    // finds candidates by word similarity; the full-name similarity decides).
    let rows = sqlx::query(&format!(
        "WITH me AS (SELECT id, email_norm(email::text) AS e, phone_e164 AS ph, search_norm({name}) AS n
                       FROM {table} WHERE id = $1)
         SELECT r.id, r.{name} AS name, r.email::text AS email, r.phone_e164, r.owner_id,
                coalesce(me.e IS NOT NULL AND email_norm(r.email::text) = me.e, false) AS same_email,
                coalesce(me.ph IS NOT NULL AND r.phone_e164 = me.ph, false) AS same_phone,
                similarity(search_norm(r.{name}), me.n) >= 0.5 AS similar_name
           FROM {table} r, me
          WHERE r.id <> me.id
            AND ((me.e IS NOT NULL AND r.email IS NOT NULL AND email_norm(r.email::text) = me.e)
                 OR (me.ph IS NOT NULL AND r.phone_e164 = me.ph)
                 OR (me.n <% r.search AND similarity(search_norm(r.{name}), me.n) >= 0.5))
          ORDER BY 6 DESC, 7 DESC, similarity(search_norm(r.{name}), me.n) DESC, r.id
          LIMIT 50"
    ))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let mut candidates = Vec::new();
    for r in rows {
        let owner: Option<Uuid> = r.try_get("owner_id")?;
        if !scope.allows(owner) {
            continue;
        }
        candidates.push(Candidate {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone_e164")?,
            reasons: reasons(&r, "similar_name")?,
        });
        if candidates.len() == 10 {
            break;
        }
    }
    let merges = sqlx::query(
        "SELECT m.id, m.merged_name, u.name AS merged_by, m.created_at, m.undone_at
           FROM record_merges m LEFT JOIN users u ON u.id = m.merged_by
          WHERE m.kept_id = $1 AND m.entity = $2 AND m.created_at > now() - make_interval(days => $3)
          ORDER BY m.created_at DESC LIMIT 20",
    )
    .bind(id)
    .bind(entity.code())
    .bind(UNDO_DAYS as i32)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| {
        Ok(PastMerge {
            id: r.try_get("id")?,
            merged_name: r.try_get("merged_name")?,
            merged_by: r.try_get("merged_by")?,
            at: r.try_get("created_at")?,
            undone: r.try_get::<Option<DateTime<Utc>>, _>("undone_at")?.is_some(),
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    tx.commit().await?;
    Ok(Duplicates { candidates, merges })
}

/// Records the member sees that a new one with this email or phone would duplicate,
/// for the warning on the create form: the address compared once normalised, the
/// number once read as the record's save reads it. Five at most.
pub async fn matching(
    env: &Env,
    entity: Entity,
    email: &str,
    phone: &str,
) -> Result<Vec<Candidate>, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let email = email.trim();
    // What the save would refuse matches nothing.
    let email = (email.len() <= 254 && mail::valid_address(email)).then_some(email);
    let region: Option<String> =
        sqlx::query_scalar("SELECT phone_region FROM tenants WHERE id = app_tenant()")
            .fetch_one(&mut *tx)
            .await?;
    let phone = match phone.trim() {
        p if p.is_empty() || p.len() > 40 => None,
        p => crate::crm::phone::normalize(p, region.as_deref())
            .ok()
            .flatten(),
    };
    if email.is_none() && phone.is_none() {
        return Ok(Vec::new());
    }
    let scope = Scope::load(&mut tx, p).await?;
    let name = name_column(entity);
    let rows = sqlx::query(&format!(
        "SELECT r.id, r.{name} AS name, r.email::text AS email, r.phone_e164, r.owner_id,
                coalesce($1::text IS NOT NULL AND email_norm(r.email::text) = email_norm($1), false) AS same_email,
                coalesce($2::text IS NOT NULL AND r.phone_e164 = $2, false) AS same_phone,
                false AS same_name
           FROM {} r
          WHERE ($1::text IS NOT NULL AND r.email IS NOT NULL AND email_norm(r.email::text) = email_norm($1))
             OR ($2::text IS NOT NULL AND r.phone_e164 = $2)
          ORDER BY r.created_at DESC, r.id
          LIMIT 50",
        entity.table()
    ))
    .bind(email)
    .bind(&phone)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut found = Vec::new();
    for r in rows {
        if !scope.allows(r.try_get("owner_id")?) {
            continue;
        }
        found.push(Candidate {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone_e164")?,
            reasons: reasons(&r, "same_name")?,
        });
        if found.len() == 5 {
            break;
        }
    }
    Ok(found)
}

/// Where a record that is gone was merged to, if the member sees that record.
pub async fn merged_into(
    env: &Env,
    entity: Entity,
    id: Uuid,
) -> Result<Option<MergeInto>, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let found: Option<(Uuid, Option<Uuid>, String)> = sqlx::query_as(&format!(
        "SELECT r.id, r.owner_id, r.{name} FROM record_merges m JOIN {table} r ON r.id = m.kept_id
          WHERE m.merged_id = $1 AND m.entity = $2 AND m.undone_at IS NULL
          ORDER BY m.created_at DESC LIMIT 1",
        name = name_column(entity),
        table = entity.table()
    ))
    .bind(id)
    .bind(entity.code())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(found
        .filter(|(_, owner, _)| scope.allows(*owner))
        .map(|(id, _, name)| MergeInto { id, name }))
}

/// Pairs of likely duplicates across the workspace, among records the member sees: the
/// same address once normalised, the same number, or the same name once normalised.
/// Each test is an equality join, so this stays a few hash joins on a large workspace
/// (the similar-name test of a single record's card would compare every pair).
pub async fn pairs(env: &Env, entity: Entity) -> Result<Vec<Pair>, AppError> {
    mergeable(env, entity)?;
    let (p, mut tx) = env.begin(Permission::WorkspaceUse).await?;
    let scope = Scope::load(&mut tx, p).await?;
    let name = name_column(entity);
    let table = entity.table();
    let rows = sqlx::query(&format!(
        "WITH pairs AS (
            SELECT a.id AS a, b.id AS b FROM {table} a JOIN {table} b
                ON email_norm(b.email::text) = email_norm(a.email::text) AND b.id > a.id
             WHERE a.email IS NOT NULL AND b.email IS NOT NULL
            UNION
            SELECT a.id, b.id FROM {table} a JOIN {table} b ON b.phone_e164 = a.phone_e164 AND b.id > a.id
            UNION
            SELECT a.id, b.id FROM {table} a JOIN {table} b
                ON search_norm(b.{name}) = search_norm(a.{name}) AND b.id > a.id)
         SELECT a.id AS a_id, a.{name} AS a_name, a.email::text AS a_email, a.phone_e164 AS a_phone,
                a.owner_id AS a_owner,
                b.id AS b_id, b.{name} AS b_name, b.email::text AS b_email, b.phone_e164 AS b_phone,
                b.owner_id AS b_owner,
                coalesce(email_norm(a.email::text) = email_norm(b.email::text), false) AS same_email,
                coalesce(a.phone_e164 = b.phone_e164, false) AS same_phone,
                search_norm(a.{name}) = search_norm(b.{name}) AS same_name
           FROM pairs JOIN {table} a ON a.id = pairs.a JOIN {table} b ON b.id = pairs.b
          ORDER BY greatest(a.created_at, b.created_at) DESC, a.id, b.id
          LIMIT 500"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for r in rows {
        let (a_owner, b_owner): (Option<Uuid>, Option<Uuid>) =
            (r.try_get("a_owner")?, r.try_get("b_owner")?);
        if !scope.allows(a_owner) || !scope.allows(b_owner) {
            continue;
        }
        let reasons = reasons(&r, "same_name")?;
        let side = |prefix: &str| -> Result<Candidate, sqlx::Error> {
            Ok(Candidate {
                id: r.try_get(format!("{prefix}_id").as_str())?,
                name: r.try_get(format!("{prefix}_name").as_str())?,
                email: r.try_get(format!("{prefix}_email").as_str())?,
                phone: r.try_get(format!("{prefix}_phone").as_str())?,
                reasons: reasons.clone(),
            })
        };
        out.push(Pair {
            first: side("a")?,
            second: side("b")?,
        });
        if out.len() == 100 {
            break;
        }
    }
    Ok(out)
}
