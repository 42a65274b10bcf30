//! Schema and roles: migrations run as the owner; requests run as a runtime role that
//! owns nothing, is not a superuser and cannot bypass row-level security.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;

pub const APP_ROLE: &str = "leadline_app";

/// A pooled connection idle this long is pinged before it is handed out; one in
/// steady use is not (see the pool options in `prepare`).
pub const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Pools {
    /// Migrations, role management and maintenance commands only.
    pub owner: PgPool,
    /// Everything a request or a worker does.
    pub app: PgPool,
}

/// Creates the database named in `url` if it does not exist, connecting to the
/// server's `postgres` database to do it.
pub async fn ensure_database(url: &str) -> Result<(), String> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    let name = opts.get_database().unwrap_or("postgres").to_string();
    let mut conn = opts
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(|e| format!("connecting to PostgreSQL: {e}"))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    if !exists {
        let sql: String = sqlx::query_scalar("SELECT format('CREATE DATABASE %I', $1::text)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
            // Another instance may have created it meanwhile.
            if !e.to_string().contains("already exists") {
                return Err(format!("creating database {name}: {e}"));
            }
        }
    }
    conn.close().await.map_err(|e| e.to_string())
}

pub async fn prepare(
    owner_url: &str,
    app_url: Option<&str>,
    app_password: &str,
    pool_size: u32,
) -> Result<Pools, String> {
    let owner = PgPoolOptions::new()
        .max_connections(4)
        .connect(owner_url)
        .await
        .map_err(|e| format!("connecting as the owner: {e}"))?;
    sqlx::migrate!("./migrations")
        .run(&owner)
        .await
        .map_err(|e| format!("migrations: {e}"))?;

    let app_opts = match app_url {
        Some(url) => {
            PgConnectOptions::from_str(url).map_err(|e| format!("DATABASE_APP_URL: {e}"))?
        }
        None => {
            create_app_role(&owner, app_password).await?;
            PgConnectOptions::from_str(owner_url)
                .map_err(|e| e.to_string())?
                .username(APP_ROLE)
                .password(app_password)
        }
    };
    let role = app_opts.get_username().to_string();
    grant(&owner, &role).await?;
    let app = PgPoolOptions::new()
        .max_connections(pool_size)
        // sqlx pings every connection it hands out, and again as it takes it back: two
        // of a signed-in page's round trips. The ping on release stays (it flushes a
        // dropped transaction's rollback); the one on acquire is kept for connections
        // idle long enough to have been cut meanwhile (a restart, a killed backend).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(app_opts)
        .await
        .map_err(|e| format!("connecting as {role}: {e}"))?;
    let owner_role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&owner)
        .await
        .map_err(|e| e.to_string())?;
    let problems = runtime_role_problems(&app, &owner_role).await?;
    if !problems.is_empty() {
        return Err(format!(
            "refusing to run requests as database role {role}, which would step around row-level security:\n  - {}",
            problems.join("\n  - ")
        ));
    }
    Ok(Pools { owner, app })
}

async fn create_app_role(owner: &PgPool, password: &str) -> Result<(), String> {
    // Several app instances (or parallel tests on other databases) may race here:
    // roles are cluster-wide, so a duplicate is expected and fine.
    let sql = "DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%ROLE%') THEN
                   EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE',
                                  '%ROLE%', '%PW%');
                 END IF;
               EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
               END $$";
    let sql = sql
        .replace("%ROLE%", APP_ROLE)
        .replace("%PW%", &password.replace('\'', "''"));
    sqlx::query(&sql)
        .execute(owner)
        .await
        .map(|_| ())
        .map_err(|e| format!("creating role {APP_ROLE}: {e}"))
}

async fn grant(owner: &PgPool, role: &str) -> Result<(), String> {
    let role: String = sqlx::query_scalar("SELECT quote_ident($1)")
        .bind(role)
        .fetch_one(owner)
        .await
        .map_err(|e| e.to_string())?;
    let statements = [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("REVOKE ALL ON _sqlx_migrations FROM {role}"),
        // The audit log is append-only for the app; the trigger is the second wall.
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM {role}"),
        // Its archives are written only by retention_sweep() and never changed.
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_archives FROM {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE ON plans, plan_prices, addons, addon_prices, feature_flags, unit_type_catalog, system_config FROM {role}"),
        // Stamps are bumped only by the triggers of migration 0063.
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON principal_stamps FROM {role}"),
        // Provider events are written only through billing_event_record().
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON billing_events FROM {role}"),
        // A lift's reason is kept as it was written (0029).
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON suppression_lifts FROM {role}"),
        format!(
            "GRANT EXECUTE ON FUNCTION auth_login_lookup(text), invite_lookup(bytea), claim_job(), search_ids(text, text[], integer) TO {role}"
        ),
        format!(
            "GRANT EXECUTE ON FUNCTION claim_due_enrollments(integer), claim_outbox(integer), renew_outbox_leases(uuid[]), claim_provider_migrations(integer), wa_phone_route(text, text), message_route(uuid) TO {role}"
        ),
        format!(
            "GRANT EXECUTE ON FUNCTION rate_limit_hit(text, text, integer, integer, integer), rate_limit_sweep(), auth_token_user(bytea, text), sweep_import_drafts(), renew_job_lease(uuid), retention_sweep(), review_sla_sweep(timestamptz), release_expired_holds(timestamptz), remind_lapsing_holds(timestamptz), billing_due_renewals(timestamptz, integer), billing_event_record(text, uuid, text, timestamptz, jsonb, text), notices_digest_pending(timestamptz, integer), notices_digest_sent(uuid[], timestamptz), task_due_sweep(timestamptz) TO {role}"
        ),
        // Staff and their audit log are reached only through the staff_* functions,
        // each of which checks the actor's staff permission itself (0055).
        format!("REVOKE ALL ON staff_permissions, staff_roles, staff_role_permissions, staff_members, staff_audit FROM {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON support_sessions FROM {role}"),
        // The platform's daily figures: written by platform_daily_take(), read by staff_daily() (0066).
        format!("REVOKE ALL ON platform_daily FROM {role}"),
        // The sending IP pool: read by workspaces (their domain's address), changed only
        // by the staff_ip_* functions and the reputation check (0068).
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON sending_ips, domain_ip_assignments FROM {role}"),
        format!(
            "GRANT EXECUTE ON FUNCTION staff_sending_ips(uuid), staff_ip_add(uuid, inet, text, text), staff_ip_set_status(uuid, uuid, text, text, text), staff_ip_assign(uuid, uuid, text, text, text, text), staff_ip_unassign(uuid, uuid, text, text), sending_ips_to_check(integer), sending_ip_checked(uuid, text, jsonb, integer) TO {role}"
        ),
        format!("GRANT EXECUTE ON FUNCTION platform_daily_take(date), staff_daily(uuid, integer) TO {role}"),
        format!(
            "GRANT EXECUTE ON FUNCTION staff_role(uuid), staff_may(uuid, text), staff_check(uuid, text), staff_permissions_of(uuid), staff_tenants(uuid, text, integer), staff_mrr(uuid), staff_figures(uuid), staff_audit_add(uuid, text, text, jsonb, jsonb, text, text), staff_audit_page(uuid, integer), staff_set_flag(uuid, text, boolean, integer, text, text), staff_overrides(uuid), staff_billing_events(uuid, integer), staff_billing_event(uuid, text), staff_billing_event_replayed(uuid, text, uuid, text), staff_support_open(uuid, uuid, text, integer, text), staff_support_lookup(uuid, uuid), staff_support_close(uuid, uuid, text), staff_save_plan(uuid, text, integer, integer, integer, integer, integer, integer, integer, integer, integer, integer, jsonb, jsonb, text, text), staff_set_config(uuid, text, jsonb, text, text), staff_config(uuid) TO {role}"
        ),
        format!(
            "GRANT EXECUTE ON FUNCTION api_key_lookup(text), integration_lookup(text), api_rate_take(text, text, integer, integer, integer), webhook_claim(integer, integer), api_sweep(), integration_claim(integer, integer), payment_attempt_claim(timestamptz, integer, integer), review_llm_claim(integer, integer), outbox_stats(), my_workspaces(), calendar_feed_lookup(bytea) TO {role}"
        ),
    ];
    // Instances starting together would otherwise fail each other's GRANT on the same
    // catalogue rows ("tuple concurrently updated"); one at a time, all or nothing.
    let mut tx = owner.begin().await.map_err(|e| e.to_string())?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('leadline.grant'))")
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("waiting for other instances' grants: {e}"))?;
    for sql in statements {
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}

/// What would let the runtime role (the one `app` connects as) step around row-level
/// security: superuser, `BYPASSRLS`, owning a table (owners skip policies unless
/// forced, and can drop them), or membership in the migrating role `owner_role`, which
/// brings its privileges along. Pointing `DATABASE_APP_URL` at the owner does all of
/// this silently, so it is refused in every mode.
pub async fn runtime_role_problems(app: &PgPool, owner_role: &str) -> Result<Vec<String>, String> {
    let (superuser, bypass, owns, member): (bool, bool, bool, bool) = sqlx::query_as(
        "SELECT r.rolsuper, r.rolbypassrls,
                EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = 'public' AND c.relowner = r.oid),
                pg_has_role(r.oid, $1::name, 'MEMBER')
           FROM pg_roles r WHERE r.rolname = current_user",
    )
    .bind(owner_role)
    .fetch_one(app)
    .await
    .map_err(|e| format!("checking the runtime role: {e}"))?;
    let mut problems = Vec::new();
    if superuser {
        problems.push("it is a superuser".to_string());
    }
    if bypass {
        problems.push("it has BYPASSRLS".to_string());
    }
    if owns {
        problems.push("it owns tables in schema public".to_string());
    }
    if member {
        problems.push(format!(
            "it is (a member of) the migrating role {owner_role}"
        ));
    }
    Ok(problems)
}
