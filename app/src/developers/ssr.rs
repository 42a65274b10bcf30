//! API keys and webhook endpoints: what an admin manages in Settings → Developers, and
//! how a request's bearer token becomes a principal of its tenant.

use super::model::*;
use crate::audit::{self, AuditEntry};
use crate::auth::model::{Permission, Role};
use crate::crypto;
use crate::db::{new_id, Db, Tx};
use crate::error::AppError;
use crate::request::{Env, Principal};
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use std::net::IpAddr;
use uuid::Uuid;

/// The start every token has, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "llk_";
/// How long the old key keeps working after a rotation, unless told otherwise.
pub const DEFAULT_OVERLAP_HOURS: u32 = 24;
/// Keys live at most two years; an admin may choose shorter.
pub const MAX_KEY_DAYS: u32 = 730;
/// `last_used_at` is written at most this often per key, not on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

pub(super) async fn open(env: &Env) -> Result<(&Principal, Tx), AppError> {
    let (p, tx) = env.begin(Permission::DevelopersManage).await?;
    if p.api_key.is_some() {
        // A key never manages keys or endpoints, whatever its scopes.
        return Err(AppError::Forbidden(env.t("error.forbidden")));
    }
    Ok((p, tx))
}

/// A new token: `llk_` and 16 hex digits (the stored prefix), `_`, and 32 random bytes
/// in URL-safe base64.
pub fn generate_token() -> (String, String) {
    use base64::Engine;
    let prefix = format!(
        "{TOKEN_PREFIX}{}",
        crypto::hex(&crypto::random_bytes::<8>())
    );
    let secret =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>());
    let token = format!("{prefix}_{secret}");
    (prefix, token)
}

/// The stored prefix of a token, if it has the shape of one.
pub fn token_prefix(token: &str) -> Option<&str> {
    let prefix = token.get(..TOKEN_PREFIX.len() + 16)?;
    let hex = prefix.strip_prefix(TOKEN_PREFIX)?;
    let well_formed = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && token.as_bytes().get(prefix.len()) == Some(&b'_');
    well_formed.then_some(prefix)
}

/// Reads "10.0.0.0/8, 2001:db8::1" into networks; a bare address is a network of one.
pub fn parse_networks(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| s.to_string())
        })
        .collect()
}

/// A request's key after checking: who it acts as, and what it may do.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub principal: Principal,
    pub scopes: Vec<String>,
    /// Requests per minute for this key, and for the whole tenant by its plan.
    pub key_per_minute: i32,
    pub tenant_per_minute: i32,
    /// The plan's allowance an hour for the whole tenant; `None`: no hourly limit.
    pub tenant_per_hour: Option<i32>,
    /// The tenant's plan, for the message of a limit reached.
    pub plan_name: String,
}

/// Why a token was refused. The message is the same for an unknown and a wrong
/// token, so guessing learns nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Missing, unknown, wrong, revoked or expired: 401.
    Unauthenticated(&'static str),
    /// A real key used from an address outside its allow-list: 403.
    AddressNotAllowed,
    /// The workspace's plan (named) does not include API access: 403.
    NotInPlan(String),
}

/// Checks a bearer token and records its use (at most once a minute per key).
pub async fn authenticate(
    db: &Db,
    token: &str,
    ip: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<Result<ApiCaller, Refusal>, AppError> {
    const UNKNOWN: Refusal = Refusal::Unauthenticated("the API key is not valid");
    let Some(prefix) = token_prefix(token) else {
        return Ok(Err(UNKNOWN));
    };
    let Some(row) = sqlx::query("SELECT * FROM api_key_lookup($1)")
        .bind(prefix)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(Err(UNKNOWN));
    };
    let hash: Vec<u8> = row.try_get("secret_hash")?;
    if !crypto::constant_time_eq(&crypto::sha256(token.as_bytes()), &hash) {
        return Ok(Err(UNKNOWN));
    }
    if row
        .try_get::<Option<DateTime<Utc>>, _>("revoked_at")?
        .is_some()
    {
        return Ok(Err(Refusal::Unauthenticated(
            "the API key has been revoked",
        )));
    }
    if row
        .try_get::<Option<DateTime<Utc>>, _>("expires_at")?
        .is_some_and(|e| e <= now)
    {
        return Ok(Err(Refusal::Unauthenticated("the API key has expired")));
    }
    let allowed: Vec<ipnet::IpNet> = row.try_get("allowed_ips")?;
    if !allowed.is_empty() && !ip.is_some_and(|ip| allowed.iter().any(|n| n.contains(&ip))) {
        return Ok(Err(Refusal::AddressNotAllowed));
    }
    let tenant_id: Uuid = row.try_get("tenant_id")?;
    let api = crate::billing::features::available(
        crate::billing::model::Feature::Api,
        tenant_id,
        row.try_get("plan_has_api")?,
        row.try_get("api_override")?,
        row.try_get::<Option<bool>, _>("api_flag_enabled")?
            .zip(row.try_get::<Option<i32>, _>("api_flag_rollout")?),
    );
    if !api {
        return Ok(Err(Refusal::NotInPlan(row.try_get("plan_name")?)));
    }
    let id: Uuid = row.try_get("id")?;
    let ip_text = ip.map(|i| i.to_string());
    let last_used: Option<DateTime<Utc>> = row.try_get("last_used_at")?;
    let last_ip: Option<String> = row.try_get("last_used_ip")?;
    if last_used.is_none_or(|at| now - at >= TOUCH_EVERY) || last_ip != ip_text {
        let mut tx = db.tenant_tx(tenant_id, None).await?;
        sqlx::query("UPDATE api_keys SET last_used_at = $2, last_used_ip = $3 WHERE id = $1")
            .bind(id)
            .bind(now)
            .bind(&ip_text)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Ok(ApiCaller {
        principal: Principal {
            user_id: id,
            tenant_id,
            membership_id: id,
            // Its scopes, checked per request, are what limit a key; within them it
            // sees the whole workspace, as an admin does.
            role: Role::Admin,
            name: row.try_get("name")?,
            email: String::new(),
            must_enrol_2fa: false,
            must_verify_email: false,
            unpaid_invoice: None,
            grants: Vec::new(),
            api_key: Some(id),
            timezone: "UTC".to_string(),
            theme: "light".to_string(),
            digits: Default::default(),
            staff: false,
            support: None,
        },
        scopes: row.try_get("scopes")?,
        key_per_minute: row.try_get("per_minute")?,
        tenant_per_minute: row.try_get("tenant_per_minute")?,
        tenant_per_hour: row.try_get("tenant_per_hour")?,
        plan_name: row.try_get("plan_name")?,
    }))
}

fn key_view(r: &sqlx::postgres::PgRow) -> Result<ApiKeyView, AppError> {
    let ips: Vec<ipnet::IpNet> = r.try_get("allowed_ips")?;
    Ok(ApiKeyView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        scopes: r.try_get("scopes")?,
        allowed_ips: ips.iter().map(ToString::to_string).collect(),
        per_minute: r.try_get("per_minute")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by_name")?,
        last_used_at: r.try_get("last_used_at")?,
        last_used_ip: r.try_get("last_used_ip")?,
        replaced_by: r.try_get("replaced_by")?,
        active: r.try_get("active")?,
    })
}

pub async fn list_keys(env: &Env) -> Result<Vec<ApiKeyView>, AppError> {
    let (_, mut tx) = open(env).await?;
    let rows = sqlx::query(
        "SELECT k.*, u.name AS created_by_name,
                k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) AS active
           FROM api_keys k LEFT JOIN users u ON u.id = k.created_by
          ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.id DESC LIMIT 200",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(key_view).collect()
}

pub async fn create_key(env: &Env, input: &NewApiKey) -> Result<CreatedKey, AppError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field(
            "name",
            env.t("developers.key_name_required"),
        ));
    }
    let scopes = parse_scopes(&input.scopes)
        .map_err(|_| AppError::field("scopes", env.t("developers.scope_unknown")))?;
    if scopes.is_empty() {
        return Err(AppError::field(
            "scopes",
            env.t("developers.scopes_required"),
        ));
    }
    let expires_at = match input.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_KEY_DAYS).contains(&days) => {
            Some(Utc::now() + Duration::days(i64::from(days)))
        }
        Some(_) => {
            return Err(AppError::field(
                "expires_in_days",
                env.t("developers.expiry_invalid"),
            ))
        }
    };
    let networks = parse_networks(&input.allowed_ips)
        .map_err(|_| AppError::field("allowed_ips", env.t("developers.ips_invalid")))?;
    if networks.len() > 50 {
        return Err(AppError::field(
            "allowed_ips",
            env.t("developers.ips_invalid"),
        ));
    }
    let (p, mut tx) = open(env).await?;
    use crate::billing::features::{self, Feature};
    features::require(&mut tx, p.tenant_id, env.locale(), Feature::Api).await?;
    let created = insert_key(&mut tx, p, name, &scopes, &networks, None, expires_at).await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("api_key.created", "api_key", Some(created.id))
            .after(serde_json::json!({ "name": name, "scopes": scopes })),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

async fn insert_key(
    tx: &mut Tx,
    p: &Principal,
    name: &str,
    scopes: &[String],
    networks: &[ipnet::IpNet],
    per_minute: Option<i32>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedKey, AppError> {
    let (prefix, token) = generate_token();
    let id = new_id();
    sqlx::query(
        "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, scopes, allowed_ips,
                               per_minute, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 600), $9, $10)",
    )
    .bind(p.tenant_id)
    .bind(id)
    .bind(name)
    .bind(&prefix)
    .bind(crypto::sha256(token.as_bytes()))
    .bind(scopes)
    .bind(networks)
    .bind(per_minute)
    .bind(expires_at)
    .bind(p.actor())
    .execute(&mut **tx)
    .await?;
    Ok(CreatedKey {
        id,
        name: name.to_string(),
        token,
    })
}

pub async fn revoke_key(env: &Env, id: Uuid) -> Result<(), AppError> {
    let (p, mut tx) = open(env).await?;
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if done == 0 {
        return Err(AppError::NotFound(env.t("developers.key_not_found")));
    }
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("api_key.revoked", "api_key", Some(id)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new key with the old one's name, scopes and addresses; the old one keeps working
/// for `overlap_hours` (0 ends it now), so clients can move over without downtime.
pub async fn rotate_key(env: &Env, id: Uuid, overlap_hours: u32) -> Result<CreatedKey, AppError> {
    if overlap_hours > 24 * 30 {
        return Err(AppError::field(
            "overlap_hours",
            env.t("developers.overlap_invalid"),
        ));
    }
    let (p, mut tx) = open(env).await?;
    let old = sqlx::query(
        "SELECT name, scopes, allowed_ips, per_minute, expires_at FROM api_keys
          WHERE id = $1 AND revoked_at IS NULL AND replaced_by IS NULL
            AND (expires_at IS NULL OR expires_at > now())
          FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(env.t("developers.key_not_found")))?;
    let networks: Vec<ipnet::IpNet> = old.try_get("allowed_ips")?;
    let scopes: Vec<String> = old.try_get("scopes")?;
    let name: String = old.try_get("name")?;
    let created = insert_key(
        &mut tx,
        p,
        &name,
        &scopes,
        &networks,
        Some(old.try_get("per_minute")?),
        old.try_get("expires_at")?,
    )
    .await?;
    sqlx::query(
        "UPDATE api_keys SET replaced_by = $2,
                expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(hours => $3))
          WHERE id = $1",
    )
    .bind(id)
    .bind(created.id)
    .bind(overlap_hours as i32)
    .execute(&mut *tx)
    .await?;
    audit::by_member(
        &mut tx,
        &env.ctx,
        p,
        AuditEntry::new("api_key.rotated", "api_key", Some(id)).after(
            serde_json::json!({ "replaced_by": created.id, "overlap_hours": overlap_hours }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_findable_prefix_and_a_256_bit_secret() {
        let (prefix, token) = generate_token();
        assert_eq!(token_prefix(&token), Some(prefix.as_str()));
        assert_eq!(prefix.len(), 20);
        // 32 bytes in unpadded base64 are 43 characters.
        assert_eq!(token.len(), 20 + 1 + 43);
        let (_, other) = generate_token();
        assert_ne!(token, other);
    }

    #[test]
    fn malformed_tokens_have_no_prefix() {
        assert_eq!(token_prefix(""), None);
        assert_eq!(token_prefix("llk_0123"), None);
        assert_eq!(token_prefix("llk_0123456789ABCDEF_x"), None);
        assert_eq!(token_prefix("sk_live_0123456789abcdef_x"), None);
        assert_eq!(token_prefix("llk_0123456789abcdefXsecret"), None);
        assert_eq!(
            token_prefix("llk_0123456789abcdef_secret"),
            Some("llk_0123456789abcdef")
        );
        // Multi-byte text where the prefix would end is no panic.
        assert_eq!(token_prefix("llk_٠١٢٣٤٥٦٧٨٩"), None);
    }

    #[test]
    fn the_stored_hash_is_sha256_of_the_whole_token() {
        // FIPS 180-2's test vector: SHA-256("abc").
        assert_eq!(
            crypto::hex(&crypto::sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn allow_lists_take_addresses_and_networks() {
        let nets = parse_networks("10.0.0.0/8, 2001:db8::1\n192.168.1.7").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[0].contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        assert!(nets[2].contains(&"192.168.1.7".parse::<IpAddr>().unwrap()));
        assert!(!nets[2].contains(&"192.168.1.8".parse::<IpAddr>().unwrap()));
        assert_eq!(parse_networks("10.0.0.300"), Err("10.0.0.300".to_string()));
        assert_eq!(parse_networks("  "), Ok(vec![]));
    }
}
