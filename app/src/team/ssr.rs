//! Members, roles and invites of a tenant.

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::{Permission, Role};
use crate::auth::ssr::{normalize_email, required_text, security_rules, start_session};
use crate::crypto;
use crate::db::{internal, new_id, Tx};
use crate::error::AppError;
use crate::i18n::{t, tf, Locale};
use crate::request::Env;
use crate::throttle;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use uuid::Uuid;

const INVITE_DAYS: i64 = 7;

pub async fn team(env: &Env) -> Result<Team, AppError> {
    let (p, mut tx) = env.begin(Permission::TeamView).await?;
    let rows = sqlx::query(
        "SELECT m.id, m.user_id, u.name, u.email::text AS email, m.role, m.status, u.last_login_at,
                'inventory' = ANY (m.grants) AS inventory_grant, m.manager_id
           FROM memberships m JOIN users u ON u.id = m.user_id
          ORDER BY m.status, u.name",
    )
    .fetch_all(&mut *tx)
    .await?;
    // A row whose role does not parse is left out.
    let mut members = Vec::new();
    for r in rows {
        let Some(role) = Role::parse(r.try_get::<String, _>("role")?.as_str()) else {
            continue;
        };
        members.push(Member {
            membership_id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            role,
            active: r.try_get::<MembershipStatus, _>("status")? == MembershipStatus::Active,
            last_login_at: r.try_get("last_login_at")?,
            is_self: r.try_get::<Uuid, _>("user_id")? == p.user_id,
            inventory_grant: r.try_get("inventory_grant")?,
            manager_id: r.try_get("manager_id")?,
        });
    }
    let rows = sqlx::query(
        "SELECT id, email::text AS email, role, expires_at, expires_at < now() AS expired
           FROM invites WHERE status = 'PENDING' ORDER BY created_at DESC",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut invites = Vec::new();
    for r in rows {
        let Some(role) = Role::parse(r.try_get::<String, _>("role")?.as_str()) else {
            continue;
        };
        invites.push(PendingInvite {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            role,
            expires_at: r.try_get("expires_at")?,
            expired: r.try_get("expired")?,
        });
    }
    let seats = seats(&mut tx).await?;
    tx.commit().await?;
    Ok(Team {
        members,
        invites,
        seats_used: seats.used,
        seats_limit: seats.limit,
        plan_name: seats.plan,
    })
}

struct Seats {
    used: i64,
    pending: i64,
    limit: i64,
    plan: String,
}

/// Seats of the current tenant (the transaction's). Locks the subscription row so two
/// concurrent invites or acceptances cannot both take the last seat.
async fn seats(tx: &mut Tx) -> Result<Seats, AppError> {
    let row = sqlx::query(
        "SELECT p.seats_limit
                  + (SELECT coalesce(sum(sa.units * a.unit_quantity), 0)::integer
                       FROM subscription_addons sa JOIN addons a ON a.id = sa.addon_id
                      WHERE a.metric = 'Seats') AS seats_limit,
                p.name,
                (SELECT count(*) FROM memberships WHERE status = 'ACTIVE') AS used,
                (SELECT count(*) FROM invites WHERE status = 'PENDING' AND expires_at > now()) AS pending
           FROM subscriptions s JOIN plans p ON p.id = s.plan_id
          FOR UPDATE OF s",
    )
    .fetch_one(&mut **tx)
    .await
    ?;
    Ok(Seats {
        used: row.try_get("used")?,
        pending: row.try_get("pending")?,
        limit: row.try_get::<i32, _>("seats_limit")?.into(),
        plan: row.try_get("name")?,
    })
}

fn seat_error(locale: Locale, field: &str, seats: &Seats) -> AppError {
    AppError::field(
        field,
        tf(
            locale,
            "team.seat_limit",
            &[
                ("limit", seats.limit.to_string()),
                ("plan", seats.plan.clone()),
            ],
        ),
    )
}

fn invite_url(env: &Env, token: &str) -> String {
    format!(
        "{}/invite/{token}",
        env.ctx.config.public_url.trim_end_matches('/')
    )
}

pub async fn create_invite(env: &Env, email: &str, role: &str) -> Result<InviteLink, AppError> {
    let p = env.require(Permission::TeamManage)?;
    let locale = env.locale();
    let email = normalize_email(email, locale)?;
    let role =
        Role::parse(role).ok_or_else(|| AppError::field("role", t(locale, "validation.choice")))?;
    if role == Role::Owner || role > p.role {
        return Err(AppError::field("role", t(locale, "team.role_above_yours")));
    }
    let mut tx = env.tx(p).await?;
    let seats = seats(&mut tx).await?;
    let already_member: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                         WHERE u.email = $1::citext)",
    )
    .bind(&email)
    .fetch_one(&mut *tx)
    .await?;
    if already_member {
        return Err(AppError::field("email", t(locale, "team.already_member")));
    }
    // An expired invite for the same address no longer holds a seat: replace it.
    sqlx::query("UPDATE invites SET status = 'REVOKED' WHERE email = $1::citext AND status = 'PENDING' AND expires_at <= now()")
        .bind(&email)
        .execute(&mut *tx)
        .await
        ?;
    if seats.used + seats.pending >= seats.limit {
        return Err(seat_error(locale, "email", &seats));
    }
    let token = crypto::token();
    let id = new_id();
    sqlx::query(
        "INSERT INTO invites (id, tenant_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(p.tenant_id)
    .bind(&email)
    .bind(role.as_str())
    .bind(crypto::sha256(token.as_bytes()))
    .bind(p.user_id)
    .bind(Utc::now() + Duration::days(INVITE_DAYS))
    .execute(&mut *tx)
    .await
    .map_err(|e| match crate::db::violated_constraint(&e).as_deref() {
        Some("invites_open_email") => AppError::field("email", t(locale, "team.already_invited")),
        _ => internal(e),
    })?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("team.invite_sent", "invite", Some(id))
            .after(serde_json::json!({ "email": email, "role": role.as_str() })),
    )
    .await?;
    tx.commit().await?;
    Ok(InviteLink {
        url: invite_url(env, &token),
        email,
    })
}

/// A new token and a new expiry; the old link stops working.
pub async fn resend_invite(env: &Env, invite_id: Uuid) -> Result<InviteLink, AppError> {
    let p = env.require(Permission::TeamManage)?;
    let token = crypto::token();
    let mut tx = env.tx(p).await?;
    let email: Option<String> = sqlx::query_scalar(
        "UPDATE invites SET token_hash = $2, expires_at = $3
          WHERE id = $1 AND status = 'PENDING' RETURNING email::text",
    )
    .bind(invite_id)
    .bind(crypto::sha256(token.as_bytes()))
    .bind(Utc::now() + Duration::days(INVITE_DAYS))
    .fetch_optional(&mut *tx)
    .await?;
    let email = email.ok_or_else(|| AppError::NotFound(env.t("team.invite_not_found")))?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("team.invite_resent", "invite", Some(invite_id)),
    )
    .await?;
    tx.commit().await?;
    Ok(InviteLink {
        url: invite_url(env, &token),
        email,
    })
}

pub async fn revoke_invite(env: &Env, invite_id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::TeamManage).await?;
    let done =
        sqlx::query("UPDATE invites SET status = 'REVOKED' WHERE id = $1 AND status = 'PENDING'")
            .bind(invite_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t("team.invite_not_found")));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("team.invite_revoked", "invite", Some(invite_id)),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

struct Target {
    user_id: Uuid,
    role: Role,
    active: bool,
}

async fn target(tx: &mut Tx, env: &Env, membership_id: Uuid) -> Result<Target, AppError> {
    let row = sqlx::query("SELECT user_id, role, status FROM memberships WHERE id = $1 FOR UPDATE")
        .bind(membership_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| AppError::NotFound(env.t("team.member_not_found")))?;
    Ok(Target {
        user_id: row.try_get("user_id")?,
        role: Role::parse(row.try_get::<String, _>("role")?.as_str())
            .ok_or_else(|| internal("bad role"))?,
        active: row.try_get::<MembershipStatus, _>("status")? == MembershipStatus::Active,
    })
}

async fn active_owners(tx: &mut Tx) -> Result<i64, AppError> {
    sqlx::query_scalar(
        "SELECT count(*) FROM memberships WHERE role = 'OWNER' AND status = 'ACTIVE'",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(internal)
}

pub async fn change_role(env: &Env, membership_id: Uuid, role: &str) -> Result<(), AppError> {
    let p = env.require(Permission::TeamManage)?;
    let locale = env.locale();
    let role =
        Role::parse(role).ok_or_else(|| AppError::field("role", t(locale, "validation.choice")))?;
    let mut tx = env.tx(p).await?;
    let target = target(&mut tx, env, membership_id).await?;
    if target.user_id == p.user_id {
        return Err(AppError::Forbidden(t(locale, "team.not_own_role")));
    }
    // Only an owner makes or unmakes owners; nobody grants more than they hold.
    if (role == Role::Owner || target.role == Role::Owner) && p.role != Role::Owner {
        return Err(AppError::Forbidden(t(locale, "team.owner_only")));
    }
    if role > p.role {
        return Err(AppError::field("role", t(locale, "team.role_above_yours")));
    }
    if target.role == Role::Owner && role != Role::Owner && active_owners(&mut tx).await? <= 1 {
        return Err(AppError::Forbidden(t(locale, "team.last_owner")));
    }
    sqlx::query("UPDATE memberships SET role = $2, updated_at = now() WHERE id = $1")
        .bind(membership_id)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("team.role_changed", "membership", Some(membership_id)).change(
            serde_json::json!({ "role": target.role.as_str() }),
            serde_json::json!({ "role": role.as_str() }),
        ),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

/// Gives or takes a member's `inventory` grant: drawing plans and the inventory's
/// set-up, beyond what their role allows.
pub async fn set_inventory_grant(
    env: &Env,
    membership_id: Uuid,
    granted: bool,
) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::TeamManage).await?;
    let target = target(&mut tx, env, membership_id).await?;
    let code = Permission::InventoryEdit
        .grant_code()
        .ok_or_else(|| internal("inventory is grantable"))?;
    let changed = sqlx::query(
        "UPDATE memberships
            SET grants = CASE WHEN $2 THEN array_append(grants, $3) ELSE array_remove(grants, $3) END,
                updated_at = now()
          WHERE id = $1 AND ($3 = ANY (grants)) <> $2",
    )
    .bind(membership_id)
    .bind(granted)
    .bind(code)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 1 {
        audit::by_member(
            &mut tx,
            &env.ctx,
            p,
            AuditEntry::new(
                if granted {
                    "team.grant_given"
                } else {
                    "team.grant_taken"
                },
                "membership",
                Some(membership_id),
            )
            .after(serde_json::json!({ "grant": code, "user_id": target.user_id })),
        )
        .await?;
    }
    tx.commit().await.map_err(internal)
}

/// Sets whom a member reports to (`None`: nobody). The manager must be an active
/// manager, admin or owner of the workspace, and not the member or one of the
/// member's own reports, at any depth: reporting lines never loop.
pub async fn set_manager(
    env: &Env,
    membership_id: Uuid,
    manager: Option<Uuid>,
) -> Result<(), AppError> {
    let (p, mut tx) = env.begin(Permission::TeamManage).await?;
    // One change to the reporting lines at a time per workspace, so two changes that
    // are each fine alone cannot close a loop together.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('team.lines:' || $1::text, 0))")
        .bind(p.tenant_id)
        .execute(&mut *tx)
        .await?;
    let member = target(&mut tx, env, membership_id).await?;
    let before: Option<Uuid> =
        sqlx::query_scalar("SELECT manager_id FROM memberships WHERE id = $1")
            .bind(membership_id)
            .fetch_one(&mut *tx)
            .await?;
    if before == manager {
        return Ok(());
    }
    if let Some(manager) = manager {
        let refuse = |key: &str| Err(AppError::field("manager", env.t(key)));
        let role: Option<(String, MembershipStatus)> =
            sqlx::query_as("SELECT role, status FROM memberships WHERE user_id = $1")
                .bind(manager)
                .fetch_optional(&mut *tx)
                .await?;
        let eligible = role.is_some_and(|(role, status)| {
            status == MembershipStatus::Active
                && Role::parse(&role).is_some_and(|r| r >= Role::Manager)
        });
        if !eligible {
            return refuse("team.manager_not_eligible");
        }
        let loops: bool = sqlx::query_scalar(
            "WITH RECURSIVE below AS (
                 SELECT $1::uuid AS user_id
                 UNION
                 SELECT m.user_id FROM memberships m JOIN below b ON m.manager_id = b.user_id
             )
             SELECT EXISTS (SELECT 1 FROM below WHERE user_id = $2)",
        )
        .bind(member.user_id)
        .bind(manager)
        .fetch_one(&mut *tx)
        .await?;
        if loops {
            return refuse("team.manager_loop");
        }
    }
    sqlx::query("UPDATE memberships SET manager_id = $2, updated_at = now() WHERE id = $1")
        .bind(membership_id)
        .bind(manager)
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("team.manager_changed", "membership", Some(membership_id)).change(
            serde_json::json!({ "manager_id": before }),
            serde_json::json!({ "manager_id": manager }),
        ),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

pub async fn set_member_active(
    env: &Env,
    membership_id: Uuid,
    active: bool,
) -> Result<(), AppError> {
    let p = env.require(Permission::TeamManage)?;
    let locale = env.locale();
    let mut tx = env.tx(p).await?;
    let target = target(&mut tx, env, membership_id).await?;
    if target.user_id == p.user_id {
        return Err(AppError::Forbidden(t(locale, "team.not_self")));
    }
    if target.role > p.role {
        return Err(AppError::Forbidden(t(locale, "team.owner_only")));
    }
    if target.active == active {
        return Ok(());
    }
    if !active && target.role == Role::Owner && active_owners(&mut tx).await? <= 1 {
        return Err(AppError::Forbidden(t(locale, "team.last_owner")));
    }
    if active {
        let seats = seats(&mut tx).await?;
        if seats.used >= seats.limit {
            return Err(seat_error(locale, "member", &seats));
        }
    }
    sqlx::query("UPDATE memberships SET status = $2, updated_at = now() WHERE id = $1")
        .bind(membership_id)
        .bind(if active {
            MembershipStatus::Active
        } else {
            MembershipStatus::Suspended
        })
        .execute(&mut *tx)
        .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new(
            if active {
                "team.member_reactivated"
            } else {
                "team.member_deactivated"
            },
            "membership",
            Some(membership_id),
        ),
    )
    .await?;
    tx.commit().await.map_err(internal)
}

// ------------------------------------------------------------------ accepting

struct FoundInvite {
    id: Uuid,
    tenant_id: Uuid,
    tenant_name: String,
    email: String,
    role: Role,
    status: InviteStatus,
    expires_at: DateTime<Utc>,
}

async fn find_invite(env: &Env, token: &str) -> Result<Option<FoundInvite>, AppError> {
    let mut tx = env.db().anon_tx().await?;
    let row = sqlx::query(
        "SELECT id, tenant_id, tenant_name, email, role, status, expires_at FROM invite_lookup($1)",
    )
    .bind(crypto::sha256(token.trim().as_bytes()))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let Some(role) = Role::parse(r.try_get::<String, _>("role")?.as_str()) else {
        return Ok(None);
    };
    Ok(Some(FoundInvite {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        tenant_name: r.try_get("tenant_name")?,
        email: r.try_get("email")?,
        role,
        status: r.try_get("status")?,
        expires_at: r.try_get("expires_at")?,
    }))
}

async fn account_for(env: &Env, email: &str) -> Result<Option<Uuid>, AppError> {
    let mut tx = env.db().anon_tx().await?;
    let id = sqlx::query_scalar("SELECT user_id FROM auth_login_lookup($1)")
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

fn state_of(invite: &Option<FoundInvite>) -> Option<InviteState> {
    match invite {
        None => Some(InviteState::Unknown),
        Some(i) if i.status == InviteStatus::Revoked => Some(InviteState::Revoked),
        Some(i) if i.status == InviteStatus::Accepted => Some(InviteState::Used),
        Some(i) if i.expires_at <= Utc::now() => Some(InviteState::Expired),
        Some(_) => None,
    }
}

/// Whether the signed-in user is an active member of `tenant_id`.
async fn is_member(env: &Env, user_id: Uuid, tenant_id: Uuid) -> Result<bool, AppError> {
    let mut tx = env.db().user_tx(user_id).await?;
    let member = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM memberships
                         WHERE user_id = $1 AND tenant_id = $2 AND status = 'ACTIVE')",
    )
    .bind(user_id)
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(member)
}

pub async fn invite_state(env: &Env, token: &str) -> Result<InviteState, AppError> {
    let ip = env.ctx.ip.as_deref().unwrap_or("unknown");
    throttle::hit(env.db(), throttle::INVITE_IP, ip, env.locale()).await?;
    let invite = find_invite(env, token).await?;
    let viewer = env.ctx.principal.as_ref();
    // The invitee who has joined (they signed in right after accepting) is shown the
    // way in rather than "already used".
    if let (Some(i), Some(p)) = (&invite, viewer) {
        if i.email.eq_ignore_ascii_case(&p.email) && is_member(env, p.user_id, i.tenant_id).await? {
            return Ok(InviteState::Joined {
                tenant_id: i.tenant_id,
                tenant_name: i.tenant_name.clone(),
            });
        }
    }
    if let Some(closed) = state_of(&invite) {
        return Ok(closed);
    }
    let invite = invite.expect("state_of returns None only for an open invite");
    let viewer = match viewer {
        None => InviteViewer::SignedOut,
        Some(p) if p.email.eq_ignore_ascii_case(&invite.email) => InviteViewer::Invited,
        Some(p) => InviteViewer::Other {
            email: p.email.clone(),
        },
    };
    Ok(InviteState::Open {
        tenant_name: invite.tenant_name,
        email: invite.email,
        role: invite.role,
        viewer,
    })
}

fn closed_error(locale: Locale, state: InviteState) -> AppError {
    let key = match state {
        InviteState::Expired => "invite.expired",
        InviteState::Revoked => "invite.revoked",
        InviteState::Used => "invite.used",
        _ => "invite.unknown",
    };
    AppError::NotFound(t(locale, key))
}

/// Accepts an invite. Signed in with the invited address, the user joins at once.
/// Signed out, the form creates an account when the address has none; when it has one,
/// nothing is checked or changed here. Either way the answer is "sign in next", so the
/// invite page is neither a password oracle nor a way to learn who has an account:
/// an existing account proves itself through the normal sign-in (throttle, lockout,
/// second factor) and comes back to join.
pub async fn accept_invite(
    env: &Env,
    token: &str,
    name: &str,
    password: &str,
) -> Result<InviteOutcome, AppError> {
    let locale = env.locale();
    let ip = env.ctx.ip.as_deref().unwrap_or("unknown");
    throttle::hit(env.db(), throttle::INVITE_IP, ip, locale).await?;
    let invite = find_invite(env, token).await?;
    if let Some(closed) = state_of(&invite) {
        return Err(closed_error(locale, closed));
    }
    let invite = invite.expect("state_of returns None only for an open invite");

    if let Some(p) = &env.ctx.principal {
        if !p.email.eq_ignore_ascii_case(&invite.email) {
            return Err(AppError::Forbidden(tf(
                locale,
                "invite.wrong_account",
                &[
                    ("email", invite.email.clone()),
                    ("current", p.email.clone()),
                ],
            )));
        }
        join(env, &invite, p.user_id, None).await?;
        start_session(env, p.user_id, invite.tenant_id).await?;
        return Ok(InviteOutcome::Joined);
    }

    let name = required_text("name", name, 200, locale)?;
    if password.is_empty() {
        return Err(AppError::field(
            "password",
            t(locale, "validation.required"),
        ));
    }
    let rules = {
        let mut tx = env.db().tenant_tx(invite.tenant_id, None).await?;
        let rules = security_rules(&mut tx, invite.tenant_id).await?;
        tx.commit().await?;
        rules
    };
    rules
        .password
        .check(password, locale)
        .map_err(|m| AppError::field("password", m))?;
    // Hashed either way, so both branches take the same time.
    let hash = crypto::hash_password(password.to_string()).await?;
    if account_for(env, &invite.email).await?.is_some() {
        tracing::info!(invite_id = %invite.id, "invite form used for an existing account");
        return Ok(InviteOutcome::SignInNext);
    }
    let user_id = new_id();
    match join(env, &invite, user_id, Some((name, hash))).await {
        Ok(()) => {
            crate::auth::recovery::send_confirmation(env, user_id, &invite.email).await?;
            Ok(InviteOutcome::SignInNext)
        }
        // Created by a concurrent request a moment ago: the same answer.
        Err(JoinError::EmailTaken) => Ok(InviteOutcome::SignInNext),
        Err(JoinError::App(e)) => Err(e),
    }
}

enum JoinError {
    EmailTaken,
    App(AppError),
}

impl From<AppError> for JoinError {
    fn from(e: AppError) -> Self {
        JoinError::App(e)
    }
}

impl From<JoinError> for AppError {
    fn from(e: JoinError) -> Self {
        match e {
            JoinError::App(e) => e,
            JoinError::EmailTaken => internal("join an existing account without creating it"),
        }
    }
}

/// Makes `user_id` a member through the invite, creating the account first when
/// `new_account` gives its name and password hash; the invite is used up.
async fn join(
    env: &Env,
    invite: &FoundInvite,
    user_id: Uuid,
    new_account: Option<(String, String)>,
) -> Result<(), JoinError> {
    let locale = env.locale();
    let mut tx = env.db().tenant_tx(invite.tenant_id, Some(user_id)).await?;
    // Re-read under lock: the invite may have been revoked or used since.
    let still_open: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM invites WHERE id = $1 AND status = 'PENDING' AND expires_at > now()
            FOR UPDATE",
    )
    .bind(invite.id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(internal)?;
    if still_open.is_none() {
        return Err(closed_error(locale, InviteState::Used).into());
    }
    let seats = seats(&mut tx).await?;
    if seats.used >= seats.limit {
        return Err(seat_error(locale, "password", &seats).into());
    }
    if let Some((name, hash)) = &new_account {
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(user_id)
        .bind(&invite.email)
        .bind(name)
        .bind(hash)
        .execute(&mut *tx)
        .await
        .map_err(internal)?
        .rows_affected();
        if inserted == 0 {
            return Err(JoinError::EmailTaken);
        }
    }
    let membership_id: Uuid = sqlx::query_scalar(
        "INSERT INTO memberships (id, tenant_id, user_id, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, user_id)
            DO UPDATE SET role = EXCLUDED.role, status = 'ACTIVE', updated_at = now()
         RETURNING id",
    )
    .bind(new_id())
    .bind(invite.tenant_id)
    .bind(user_id)
    .bind(invite.role.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(internal)?;
    sqlx::query("UPDATE invites SET status = 'ACCEPTED', accepted_at = now(), accepted_by = $2 WHERE id = $1")
        .bind(invite.id)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    audit::record(
        &mut tx,
        &env.ctx,
        invite.tenant_id,
        Some(user_id),
        AuditEntry::new("team.invite_accepted", "membership", Some(membership_id))
            .after(serde_json::json!({ "email": invite.email, "role": invite.role.as_str() })),
    )
    .await?;
    // The first sign-in after joining lands in the new workspace.
    sqlx::query("UPDATE users SET last_tenant_id = $2 WHERE id = $1")
        .bind(user_id)
        .bind(invite.tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(())
}
