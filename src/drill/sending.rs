//! The sending drill: 10,000 due WhatsApp first contacts, sent by a worker process
//! that is killed with SIGKILL twice mid-send and restarted, with PostgreSQL restarted
//! under it after that. What must hold: nothing lost (every message the quotas allow
//! reaches the provider), no recipient sent two messages, and no number past its daily
//! quota.
//!
//! A killed worker's claimed rows come back when their lease ends and are sent again:
//! a dispatcher records each wave's answers (16 messages) as soon as they come, so at
//! most the wave in flight, delivered but not yet recorded, goes out a second time,
//! under the same idempotency key. The peer recognises the key (as a provider that
//! honours one does) and the drill counts those repeats apart from duplicates a
//! recipient would see.
//!
//! The worker is this binary's `worker` command in a child process, pointed at the
//! drill's database and at a provider peer the drill runs and counts from.

use crate::bench::outreach::{in_tenant, quiet_peer, reset};
use crate::Database;
use app::db::Db;
use sqlx::PgPool;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const LEADS: i64 = 10_000;
const PHONES: i64 = 20;
/// 20 numbers × 450 = 9,000 first contacts today: the last 1,000 must wait, not go.
const QUOTA: i64 = 450;
const EXPECTED: usize = (PHONES * QUOTA) as usize;
/// The worker is killed when the provider has this many, and again at the second.
const KILL_AT: [usize; 2] = [2_500, 5_000];
/// PostgreSQL restarts when the provider has this many.
const RESTART_AT: usize = 7_000;
/// A killed worker's claimed rows come back when their lease (two minutes) runs out.
const DEADLINE: Duration = Duration::from_secs(9 * 60);

/// What the provider and the database saw.
#[derive(Debug, Default)]
pub struct SendDrill {
    pub expected: usize,
    /// Distinct messages the provider received.
    pub delivered: usize,
    /// Sends the provider recognised by idempotency key as a message it already had.
    pub repeated_sends: usize,
    /// Recipients who received more than one message.
    pub duplicates: usize,
    /// Numbers that sent more first contacts today than their quota.
    pub quota_overruns: i64,
    /// Messages the database holds as sent.
    pub recorded_sent: i64,
    /// Enrolments waiting for tomorrow's quota.
    pub waiting: i64,
    pub kills: usize,
    pub took: Duration,
}

impl SendDrill {
    pub fn lost(&self) -> usize {
        self.expected.saturating_sub(self.delivered)
    }

    pub fn clean(&self) -> bool {
        self.lost() == 0
            && self.duplicates == 0
            && self.quota_overruns == 0
            && self.recorded_sent == self.delivered as i64
    }
}

/// The worker process, started with the database and the peer it must use.
struct Worker {
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Worker {
    fn start(&mut self) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .arg("worker")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting the worker: {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no shutdown, no lease given back, a transaction cut mid-way.
    fn kill(&mut self) -> Result<(), String> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .map_err(|e| format!("kill -9 of the worker: {e}"))?;
            child.wait().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

pub async fn run(
    config: &crate::config::Config,
    database: &Database,
    owner_url: &str,
) -> Result<SendDrill, String> {
    let pools = &database.pools;
    let db = Db::new(pools.app.clone());
    let (user, tenant, fresh) = crate::bench::crm::workspace(
        &db,
        &pools.owner,
        "drill-sending@leadline.test",
        "Sending Drill",
    )
    .await?;
    if fresh {
        in_tenant(
            &pools.owner,
            tenant,
            &[format!(
                "INSERT INTO leads (tenant_id, id, name, phone_e164, created_at)
                 SELECT $1, gen_random_uuid(), 'Drill lead ' || i, '+2013' || lpad(i::text, 8, '0'), now()
                   FROM generate_series(1, {LEADS}) i"
            )],
        )
        .await?;
    }
    let app_config = crate::app_config(config);
    let peer = quiet_peer(&app_config).await?;
    reset(&pools.owner, tenant, user, &app_config, peer.smtp_addr()).await?;
    in_tenant(
        &pools.owner,
        tenant,
        &[format!(
            "UPDATE wa_phone_numbers SET daily_quota = {QUOTA} WHERE tenant_id = $1"
        )],
    )
    .await?;

    let mut worker = Worker {
        env: vec![
            ("DATABASE_URL".into(), owner_url.to_string()),
            (
                "LEADLINE_WA_API_URL".into(),
                format!("{}/v21.0", peer.http_base()),
            ),
            (
                "LEADLINE_D360_API_URL".into(),
                format!("{}/360dialog", peer.http_base()),
            ),
            ("LEADLINE_DEV_PEER".into(), "0".into()),
            ("LEADLINE_SECRET_KEY".into(), hex(config.secret_key.bytes())),
            ("LEADLINE_ALLOW_PRIVATE_EGRESS".into(), "1".into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
        child: None,
        log: std::env::temp_dir().join("leadline-drill-worker.log"),
    };
    let started = Instant::now();
    worker.start()?;
    let mut kills = 0;
    let mut restarted = false;
    let delivered = |peer: &peer::Peer| {
        peer.messages()
            .iter()
            .filter(|m| m.channel == peer::Channel::WhatsApp)
            .count()
    };
    loop {
        let now = delivered(&peer);
        if kills < KILL_AT.len() && now >= KILL_AT[kills] {
            worker.kill()?;
            kills += 1;
            println!(
                "  kill -9 of the worker at {now} delivered ({:.1} s); restarted",
                started.elapsed().as_secs_f64()
            );
            worker.start()?;
        }
        if !restarted && now >= RESTART_AT {
            restarted = true;
            match &database.embedded {
                Some(pg) => {
                    let at = Instant::now();
                    pg.restart()?;
                    println!(
                        "  PostgreSQL restarted at {now} delivered (took {:.1} s)",
                        at.elapsed().as_secs_f64()
                    );
                }
                None => println!(
                    "  PostgreSQL restart: skipped (DATABASE_URL is not our private cluster)"
                ),
            }
        }
        if now >= EXPECTED && outbox_empty(&pools.owner, tenant).await? {
            break;
        }
        if started.elapsed() > DEADLINE {
            println!(
                "  stopped waiting after {} s with {now} delivered",
                DEADLINE.as_secs()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    worker.kill()?;

    let messages = peer.messages();
    let whatsapp: Vec<_> = messages
        .iter()
        .filter(|m| m.channel == peer::Channel::WhatsApp)
        .collect();
    let mut per_recipient: HashMap<&str, usize> = HashMap::new();
    for m in &whatsapp {
        *per_recipient.entry(m.to.as_str()).or_default() += 1;
    }
    let scalar = |sql: &'static str| {
        let owner = pools.owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(tenant)
                .fetch_one(&owner)
                .await
                .map_err(|e| format!("{sql}: {e}"))
        }
    };
    Ok(SendDrill {
        expected: EXPECTED,
        delivered: whatsapp.len(),
        repeated_sends: whatsapp
            .iter()
            .map(|m| m.times_received.saturating_sub(1) as usize)
            .sum(),
        duplicates: per_recipient.values().filter(|n| **n > 1).count(),
        quota_overruns: scalar(
            "SELECT count(*) FROM (SELECT m.phone_id, count(*) AS used FROM messages m
                                    WHERE m.tenant_id = $1 AND m.quota_cost = 1 GROUP BY m.phone_id) x
               JOIN wa_phone_numbers p ON p.id = x.phone_id WHERE x.used > p.daily_quota",
        )
        .await?,
        recorded_sent: scalar(
            "SELECT count(*) FROM messages WHERE tenant_id = $1 AND channel = 'WHATSAPP' AND status = 'SENT'",
        )
        .await?,
        waiting: scalar(
            "SELECT count(*) FROM enrollments WHERE tenant_id = $1 AND status = 'ACTIVE' AND next_run_at > now()",
        )
        .await?,
        kills,
        took,
    })
}

async fn outbox_empty(owner: &PgPool, tenant: Uuid) -> Result<bool, String> {
    sqlx::query_scalar::<_, bool>("SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE tenant_id = $1)")
        .bind(tenant)
        .fetch_one(owner)
        .await
        .map_err(|e| e.to_string())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn print(report: &SendDrill) {
    println!(
        "sending under failure: {} due first contacts, {} kill -9 of the worker, then a PostgreSQL restart ({:.1} s):",
        LEADS, report.kills, report.took.as_secs_f64()
    );
    println!(
        "  delivered {} of the {} the quotas allow; lost {}",
        report.delivered,
        report.expected,
        report.lost()
    );
    println!(
        "  sent twice to a recipient: {} (sends repeated after a crash, recognised by their idempotency key: {})",
        report.duplicates, report.repeated_sends
    );
    println!(
        "  quota overruns: {} ({} wait for tomorrow's quota)",
        report.quota_overruns, report.waiting
    );
    println!(
        "  recorded as sent in the database: {} (delivered: {})",
        report.recorded_sent, report.delivered
    );
}
