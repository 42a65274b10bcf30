//! The sending IP pool (`ips.manage`): addresses with their state and warm-up, their
//! reputation from DNS blocklists, and the workspace domains assigned to them.

use super::*;
use crate::staff::sending_ips::*;
use std::net::IpAddr;
use std::time::Duration;

/// Each blocklist question's time limit.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);
/// How many addresses one run of the scheduled check asks about.
const CHECK_BATCH: i32 = 500;

pub async fn list(env: &Env) -> Result<SendingIps, AppError> {
    let actor = staff(env, StaffPermission::ConsoleView).await?;
    let pool = env.db().pool();
    let rows = sqlx::query("SELECT * FROM staff_sending_ips($1)")
        .bind(actor)
        .fetch_all(pool)
        .await?;
    let today = Utc::now().date_naive();
    let ips = rows
        .iter()
        .map(|r| {
            let status: String = r.try_get("status")?;
            let status = IpStatus::parse(&status).unwrap_or(IpStatus::Quarantined);
            let started: Option<chrono::NaiveDate> = r.try_get("warmup_started_on")?;
            let json = |column: &str| -> Result<serde_json::Value, sqlx::Error> {
                r.try_get::<serde_json::Value, _>(column)
            };
            Ok(SendingIp {
                id: r.try_get("id")?,
                address: r.try_get("address")?,
                status,
                warmup: started
                    .filter(|_| status == IpStatus::Warming)
                    .and_then(|s| warmup_on(s, today)),
                reputation: r
                    .try_get::<Option<String>, _>("reputation")?
                    .as_deref()
                    .and_then(Reputation::parse),
                blocklists: serde_json::from_value(json("blocklists")?).unwrap_or_default(),
                checked_at: r.try_get("checked_at")?,
                status_note: r.try_get("status_note")?,
                note: r.try_get("note")?,
                domains: serde_json::from_value(json("domains")?).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let zones = zones(env.db()).await?;
    Ok(SendingIps {
        can_manage: permissions(env, actor)
            .await?
            .contains(&StaffPermission::IpsManage),
        zones,
        ips,
    })
}

/// What staff typed as an address, if it is one host address that can send to the
/// Internet (a private or documentation address is on no blocklist and reaches no
/// mailbox provider).
fn read_address(typed: &str) -> Result<IpAddr, &'static str> {
    let ip: IpAddr = typed
        .trim()
        .parse()
        .map_err(|_| "staff.ips.address_invalid")?;
    if mail::is_public(ip) {
        Ok(ip)
    } else {
        Err("staff.ips.address_private")
    }
}

pub async fn add(env: &Env, address: &str, note: &str) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::IpsManage).await?;
    let ip = read_address(address).map_err(|key| AppError::field("address", env.t(key)))?;
    let note = note.trim();
    if note.chars().count() > 500 {
        return Err(AppError::field("note", env.t("staff.ips.note_too_long")));
    }
    let added: Option<Uuid> = sqlx::query_scalar("SELECT staff_ip_add($1, $2, $3, $4)")
        .bind(actor)
        .bind(ip)
        .bind(note)
        .bind(&env.ctx.ip)
        .fetch_one(env.db().pool())
        .await?;
    match added {
        Some(_) => Ok(()),
        None => Err(AppError::field(
            "address",
            tf(
                env.locale(),
                "staff.ips.address_taken",
                &[("address", ip.to_string())],
            ),
        )),
    }
}

/// Sets an address's state; answers the domains that came off it (burned, quarantined).
pub async fn set_status(
    env: &Env,
    id: Uuid,
    status: &str,
    reason: &str,
) -> Result<Vec<String>, AppError> {
    let actor = staff(env, StaffPermission::IpsManage).await?;
    let status = IpStatus::parse(status)
        .ok_or_else(|| AppError::field("status", env.t("staff.ips.status_invalid")))?;
    let reason = reason_of(env, reason, false)?;
    let done: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT staff_ip_set_status($1, $2, $3, $4, $5)")
            .bind(actor)
            .bind(id)
            .bind(status.key())
            .bind(&reason)
            .bind(&env.ctx.ip)
            .fetch_one(env.db().pool())
            .await?;
    let done = done.ok_or_else(|| AppError::NotFound(env.t("staff.ips.not_found")))?;
    Ok(serde_json::from_value(done["ended"].clone()).unwrap_or_default())
}

/// Moves workspace `workspace`'s sending domain `domain` to address `id`.
pub async fn assign(
    env: &Env,
    id: Uuid,
    workspace: &str,
    domain: &str,
    reason: &str,
) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::IpsManage).await?;
    let reason = reason_of(env, reason, false)?;
    let workspace = workspace.trim().trim_start_matches('/');
    if workspace.is_empty() || workspace.len() > 100 {
        return Err(AppError::field(
            "workspace",
            env.t("staff.ips.workspace_missing"),
        ));
    }
    let domain = mail::ascii_name(domain.trim())
        .ok()
        .filter(|d| !d.is_empty() && d.len() <= 253)
        .ok_or_else(|| AppError::field("domain", env.t("staff.ips.domain_invalid")))?;
    let outcome: String = sqlx::query_scalar("SELECT staff_ip_assign($1, $2, $3, $4, $5, $6)")
        .bind(actor)
        .bind(id)
        .bind(workspace)
        .bind(&domain)
        .bind(&reason)
        .bind(&env.ctx.ip)
        .fetch_one(env.db().pool())
        .await?;
    let l = env.locale();
    match outcome.as_str() {
        "assigned" => Ok(()),
        "no_ip" => Err(AppError::NotFound(env.t("staff.ips.not_found"))),
        "unusable" => Err(AppError::Conflict(env.t("staff.ips.unusable"))),
        "no_workspace" => Err(AppError::field(
            "workspace",
            tf(
                l,
                "staff.ips.no_workspace",
                &[("slug", workspace.to_string())],
            ),
        )),
        "already" => Err(AppError::field(
            "domain",
            tf(l, "staff.ips.already", &[("domain", domain)]),
        )),
        _ => Err(AppError::field(
            "domain",
            tf(
                l,
                "staff.ips.no_domain",
                &[("domain", domain), ("slug", workspace.to_string())],
            ),
        )),
    }
}

pub async fn unassign(env: &Env, assignment: Uuid, reason: &str) -> Result<(), AppError> {
    let actor = staff(env, StaffPermission::IpsManage).await?;
    let reason = reason_of(env, reason, false)?;
    let ended: bool = sqlx::query_scalar("SELECT staff_ip_unassign($1, $2, $3, $4)")
        .bind(actor)
        .bind(assignment)
        .bind(&reason)
        .bind(&env.ctx.ip)
        .fetch_one(env.db().pool())
        .await?;
    if ended {
        Ok(())
    } else {
        Err(AppError::NotFound(env.t("staff.ips.assignment_gone")))
    }
}

/// Checks one address against the blocklists now, as the schedule does.
pub async fn check_now(env: &Env, id: Uuid) -> Result<(), AppError> {
    staff(env, StaffPermission::IpsManage).await?;
    let pool = env.db().pool();
    let address: Option<String> =
        sqlx::query_scalar("SELECT host(address) FROM sending_ips WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let address = address.ok_or_else(|| AppError::NotFound(env.t("staff.ips.not_found")))?;
    let zones = zones(env.db()).await?;
    let lists = blocklists(env.ctx.config.dns_resolver)?;
    check_one(pool, &lists, &zones, id, &address).await?;
    Ok(())
}

/// The scheduled check: every address, least recently checked first. Answers what it
/// found, for the schedule's log.
pub async fn check_all(
    pool: &sqlx::PgPool,
    resolver: std::net::SocketAddr,
) -> Result<String, AppError> {
    let due: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, address, status FROM sending_ips_to_check($1)")
            .bind(CHECK_BATCH)
            .fetch_all(pool)
            .await?;
    if due.is_empty() {
        return Ok("no sending addresses to check".into());
    }
    let zones = zones(&crate::db::Db::new(pool.clone())).await?;
    let lists = blocklists(resolver)?;
    let (mut degraded, mut warmed) = (0, 0);
    for (id, address, before) in &due {
        let after = check_one(pool, &lists, &zones, *id, address).await?;
        let before = IpStatus::parse(before);
        if after != before {
            match after {
                Some(IpStatus::Degraded) => degraded += 1,
                Some(IpStatus::Warmed) => warmed += 1,
                _ => {}
            }
        }
    }
    Ok(format!(
        "{} sending addresses checked against {} blocklists; {degraded} newly degraded, {warmed} newly warmed",
        due.len(),
        zones.len()
    ))
}

/// The blocklist zones the platform setting names.
async fn zones(db: &crate::db::Db) -> Result<Vec<String>, AppError> {
    let mut tx = db.anon_tx().await?;
    let zones = crate::sysconfig::dnsbl_zones(&mut tx).await?;
    tx.commit().await?;
    Ok(zones)
}

fn blocklists(resolver: std::net::SocketAddr) -> Result<mail::Blocklists, AppError> {
    mail::Blocklists::new(resolver, DNS_TIMEOUT).map_err(crate::db::internal)
}

/// Asks every list about one address and records what they said; answers the
/// address's state afterwards.
async fn check_one(
    pool: &sqlx::PgPool,
    lists: &mail::Blocklists,
    zones: &[String],
    id: Uuid,
    address: &str,
) -> Result<Option<IpStatus>, AppError> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| crate::db::internal(format!("stored address {address:?} does not parse")))?;
    let answers: Vec<BlocklistAnswer> = lists
        .check(ip, zones)
        .await
        .into_iter()
        .map(|a| match a.verdict {
            mail::Verdict::Clear => BlocklistAnswer {
                zone: a.zone,
                verdict: "clear".into(),
                codes: Vec::new(),
                reason: None,
            },
            mail::Verdict::Listed { codes, reason } => BlocklistAnswer {
                zone: a.zone,
                verdict: "listed".into(),
                codes: codes.iter().map(ToString::to_string).collect(),
                reason,
            },
            mail::Verdict::Unknown(why) => BlocklistAnswer {
                zone: a.zone,
                verdict: "unknown".into(),
                codes: Vec::new(),
                reason: Some(why),
            },
        })
        .collect();
    let listed = answers.iter().filter(|a| a.verdict == "listed").count();
    let answered = answers.iter().filter(|a| a.verdict != "unknown").count();
    let status: Option<String> = sqlx::query_scalar("SELECT sending_ip_checked($1, $2, $3, $4)")
        .bind(id)
        .bind(Reputation::of_check(listed, answered).map(Reputation::key))
        .bind(serde_json::to_value(&answers).unwrap_or_default())
        .bind(WARMUP_DAYS as i32)
        .fetch_one(pool)
        .await?;
    Ok(status.as_deref().and_then(IpStatus::parse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_host_addresses_are_taken() {
        assert!(read_address(" 5.9.0.10 ").is_ok());
        assert!(read_address("2a01:4f8::25").is_ok());
        assert_eq!(read_address("10.0.0.7"), Err("staff.ips.address_private"));
        assert_eq!(
            read_address("203.0.113.9"),
            Err("staff.ips.address_private")
        );
        assert_eq!(read_address("::1"), Err("staff.ips.address_private"));
        for bad in ["", "5.9.0", "5.9.0.10/24", "mail.example.com", "5.9.0.256"] {
            assert_eq!(read_address(bad), Err("staff.ips.address_invalid"), "{bad}");
        }
    }
}
