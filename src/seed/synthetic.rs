//! Large synthetic tenants for benchmarks.

use super::DEMO_PASSWORD;
use crate::bootstrap::Pools;
use app::db::new_id;
use std::time::Instant;
use uuid::Uuid;

fn arg(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
    }
}

pub async fn synthetic_from_args(pools: &Pools, args: &[String]) -> Result<(), String> {
    let tenants = arg(args, "--tenants", 20)?;
    let users = arg(args, "--users-per-tenant", 10)?.max(1);
    let started = Instant::now();
    let made = synthetic(pools, tenants, users).await?;
    println!(
        "seeded {} tenants with {} users each ({} users) in {:.2} s",
        made.len(),
        users,
        made.len() * users,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates `tenants` tenants with `users` members each, in batched `UNNEST` inserts
/// through the owner pool (a maintenance path: RLS would need one transaction per row).
/// Every user shares one password hash, so seeding is bound by I/O, not argon2.
pub async fn synthetic(pools: &Pools, tenants: usize, users: usize) -> Result<Vec<Uuid>, String> {
    let hash = app::crypto::hash_password(DEMO_PASSWORD.into())
        .await
        .map_err(|e| e.to_string())?;
    let run = &Uuid::new_v4().simple().to_string()[..8];
    let tenant_ids: Vec<Uuid> = (0..tenants).map(|_| new_id()).collect();
    let mut tx = pools.owner.begin().await.map_err(|e| e.to_string())?;
    let names: Vec<String> = (0..tenants)
        .map(|i| format!("Synthetic {run} {i:04}"))
        .collect();
    let slugs: Vec<String> = (0..tenants).map(|i| format!("syn-{run}-{i}")).collect();
    sqlx::query("INSERT INTO tenants (id, name, slug) SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[])")
        .bind(&tenant_ids)
        .bind(&names)
        .bind(&slugs)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("INSERT INTO tenant_policies (tenant_id) SELECT UNNEST($1::uuid[])")
        .bind(&tenant_ids)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, plan_id)
         SELECT gen_random_uuid(), t, 'pro' FROM UNNEST($1::uuid[]) AS t",
    )
    .bind(&tenant_ids)
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    sqlx::query("SELECT crm_default_pipeline(t, 'Sales pipeline') FROM UNNEST($1::uuid[]) AS t")
        .bind(&tenant_ids)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    const BATCH: usize = 5_000;
    let roles = ["OWNER", "ADMIN", "MANAGER", "SALES", "SALES", "SALES"];
    let all: Vec<(Uuid, usize, usize)> = tenant_ids
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| (0..users).map(move |u| (*t, ti, u)))
        .collect();
    for chunk in all.chunks(BATCH) {
        let user_ids: Vec<Uuid> = chunk.iter().map(|_| new_id()).collect();
        let emails: Vec<String> = chunk
            .iter()
            .map(|(_, ti, u)| format!("u{u}@t{ti}.{run}.synthetic.test"))
            .collect();
        let names: Vec<String> = chunk
            .iter()
            .map(|(_, ti, u)| format!("User {u} of {ti}"))
            .collect();
        let tids: Vec<Uuid> = chunk.iter().map(|(t, _, _)| *t).collect();
        let member_roles: Vec<&str> = chunk
            .iter()
            .map(|(_, _, u)| roles[(*u).min(roles.len() - 1)])
            .collect();
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, last_tenant_id)
             SELECT id, email, name, $4, t FROM UNNEST($1::uuid[], $2::text[], $3::text[], $5::uuid[]) AS x(id, email, name, t)",
        )
        .bind(&user_ids)
        .bind(&emails)
        .bind(&names)
        .bind(&hash)
        .bind(&tids)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query(
            "INSERT INTO memberships (id, tenant_id, user_id, role)
             SELECT gen_random_uuid(), t, u, r FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS x(t, u, r)",
        )
        .bind(&tids)
        .bind(&user_ids)
        .bind(&member_roles)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(tenant_ids)
}
