//! The two-instance drill: two `leadline serve` processes that run no background work
//! and one `leadline worker`, all on one PostgreSQL, as behind a load balancer with no
//! sticky sessions. What must hold:
//! - a session made on one instance is good on the other, and signing out on one ends
//!   it on both (and ends the other's open live stream);
//! - a deal moved through either instance reaches the live streams open on both;
//! - leads made on one instance and an export asked of the other are run by the
//!   worker (the instances run no jobs), and the file downloads from either.

use crate::bench::{ms, stats, Stats};
use app::crm::board::model::{DealCard, DealMove};
use app::crm::import::model::{download_path, JobState, JobView};
use app::crm::model::{Entity, RecordFilter};
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Requests made with one session, alternating between the instances.
const SESSION_REQUESTS: usize = 100;
/// Deal moves, alternating between the instances that make them.
const MOVES: usize = 20;
/// Leads made through B just before the export, which must all be in it.
const NEW_LEADS: usize = 10;
/// How long an event may take to reach a stream before it counts as missed.
const EVENT_WAIT: Duration = Duration::from_secs(5);
/// How long a process may take to answer its first request.
const START_WAIT: Duration = Duration::from_secs(60);
/// An export must be run and downloadable within this.
const EXPORT_WAIT: Duration = Duration::from_secs(30);
/// An open stream re-checks its session every 10 s (`events::RECHECK_EVERY`).
const STREAM_END_WAIT: Duration = Duration::from_secs(15);

/// What the two instances and the worker did.
#[derive(Debug, Default)]
pub struct InstancesDrill {
    /// Signed-in pages answered 200, of [`SESSION_REQUESTS`], half on each instance.
    pub pages_ok: usize,
    /// Moves whose event reached the stream on each instance, of [`MOVES`].
    pub heard: [usize; 2],
    /// From asking for a move to its event on the stream, over both streams.
    pub event_latency: Option<Stats>,
    /// From asking instance A for an export to downloading it from B.
    pub export_took: Option<Duration>,
    /// Data rows in the downloaded export.
    pub export_rows: usize,
    /// Of the [`NEW_LEADS`] made through B, how many the export holds.
    pub export_has_new: usize,
    /// After signing out on B: A's answer to the same cookie.
    pub signed_out_status: u16,
    /// After signing out on B: how long A's open stream took to end.
    pub stream_ended_after: Option<Duration>,
}

impl InstancesDrill {
    pub fn clean(&self) -> bool {
        self.pages_ok == SESSION_REQUESTS
            && self.heard == [MOVES; 2]
            && self.export_took.is_some()
            && self.export_has_new == NEW_LEADS
            && self.signed_out_status == 401
            && self.stream_ended_after.is_some()
    }
}

/// Who signs in, and the database every process is pointed at.
pub struct Setup<'a> {
    /// The `leadline` binary the processes run.
    pub exe: PathBuf,
    /// `DATABASE_URL` of the processes (the owner role).
    pub owner_url: &'a str,
    pub owner: &'a PgPool,
    pub secret_key_hex: String,
    pub email: &'a str,
    pub password: &'a str,
    /// Where the processes' output goes.
    pub log_dir: PathBuf,
}

/// A child process, killed when dropped so a failed drill leaves nothing running.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(setup: &Setup<'_>, command: &str, addr: Option<SocketAddr>) -> Result<Process, String> {
    let name = match addr {
        Some(addr) => format!("leadline-drill-{command}-{}.log", addr.port()),
        None => format!("leadline-drill-{command}.log"),
    };
    let log_path = setup.log_dir.join(name);
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&setup.exe);
    cmd.arg(command)
        .env("DATABASE_URL", setup.owner_url)
        .env("LEADLINE_SECRET_KEY", &setup.secret_key_hex)
        .env("LEADLINE_DEV_PEER", "0")
        .env("LEADLINE_DEMO_SEED", "0")
        .env("LEADLINE_BACKGROUND", "0")
        .env("LEADLINE_DB_POOL", "4")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_none() {
        cmd.env("LEPTOS_OUTPUT_NAME", "leadline");
    }
    if let Some(addr) = addr {
        cmd.env("LEADLINE_ADDR", addr.to_string())
            .env("LEADLINE_PUBLIC_URL", format!("http://{addr}"));
    }
    cmd.spawn()
        .map(Process)
        .map_err(|e| format!("starting `leadline {command}`: {e}"))
}

/// A port nobody listens on now.
fn free_addr() -> Result<SocketAddr, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())
}

/// One instance as a browser sees it: its base and the session cookie.
#[derive(Clone)]
struct Instance {
    base: String,
    http: reqwest::Client,
}

impl Instance {
    fn new(addr: SocketAddr) -> Result<Instance, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Instance {
            base: format!("http://{addr}"),
            http,
        })
    }

    async fn wait_ready(&self, process: &mut Process) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(res) = self.http.get(format!("{}/login", self.base)).send().await {
                if res.status().is_success() {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = process.0.try_wait() {
                return Err(format!("{} exited before serving: {status}", self.base));
            }
            if started.elapsed() > START_WAIT {
                return Err(format!("{} did not serve within {START_WAIT:?}", self.base));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Calls a server function with a form body; its status and body.
    async fn form<F: ServerFn>(
        &self,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> Result<(u16, String), String> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.post(F::PATH, cookie, "application/x-www-form-urlencoded", body)
            .await
    }

    /// Calls a server function that takes JSON.
    async fn json<F: ServerFn>(
        &self,
        cookie: &str,
        args: serde_json::Value,
    ) -> Result<(u16, String), String> {
        self.post(F::PATH, cookie, "application/json", args.to_string())
            .await
    }

    async fn post(
        &self,
        path: &str,
        cookie: &str,
        content_type: &str,
        body: String,
    ) -> Result<(u16, String), String> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{path} on {}: {e}", self.base))?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| e.to_string())?;
        Ok((status, text))
    }

    async fn get(&self, path: &str, cookie: &str) -> Result<reqwest::Response, String> {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .map_err(|e| format!("{path} on {}: {e}", self.base))
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    (status, body): (u16, String),
) -> Result<T, String> {
    if status != 200 {
        return Err(format!("{what}: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{what}: {e}: {body}"))
}

/// A `deal` event seen on instance `on`: the deal's version, when it arrived.
struct Heard {
    on: usize,
    deal: Uuid,
    version: i64,
    at: Instant,
}

/// Reads one instance's `/events` stream and reports each `deal` event; sends `None`
/// when the stream ends.
async fn follow(
    instance: Instance,
    cookie: String,
    on: usize,
    out: mpsc::UnboundedSender<Option<Heard>>,
) -> Result<(), String> {
    let mut res = instance
        .http
        .get(format!("{}/events", instance.base))
        .header("cookie", &cookie)
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .map_err(|e| format!("/events on {}: {e}", instance.base))?;
    if res.status() != reqwest::StatusCode::OK {
        return Err(format!("/events on {}: {}", instance.base, res.status()));
    }
    let mut pending = String::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let mut name = "";
            let mut data = "";
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim();
                }
            }
            if name != "deal" {
                continue;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
                continue;
            };
            let deal = v["d"].as_str().and_then(|d| d.parse().ok());
            if let (Some(deal), Some(version)) = (deal, v["v"].as_i64()) {
                let _ = out.send(Some(Heard {
                    on,
                    deal,
                    version,
                    at: Instant::now(),
                }));
            }
        }
    }
    let _ = out.send(None);
    Ok(())
}

pub async fn run(setup: &Setup<'_>) -> Result<InstancesDrill, String> {
    let mut report = InstancesDrill::default();
    let addrs = [free_addr()?, free_addr()?];
    let mut processes = Vec::new();
    for addr in addrs {
        processes.push(spawn(setup, "serve", Some(addr))?);
    }
    let _worker = spawn(setup, "worker", None)?;
    let instances = [Instance::new(addrs[0])?, Instance::new(addrs[1])?];
    for (instance, process) in instances.iter().zip(processes.iter_mut()) {
        instance.wait_ready(process).await?;
    }
    let [a, b] = &instances;

    // Signed in on A; the cookie alone is the session, wherever it lands.
    let login = a
        .http
        .post(format!("{}{}", a.base, app::auth::api::Login::PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("email", setup.email)
                .append_pair("password", setup.password)
                .finish(),
        )
        .send()
        .await
        .map_err(|e| format!("signing in on A: {e}"))?;
    if login.status() != reqwest::StatusCode::OK {
        return Err(format!("signing in on A: {}", login.status()));
    }
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie from A")?
        .to_string();
    for i in 0..SESSION_REQUESTS {
        let res = instances[i % 2].get("/", &cookie).await?;
        if res.status() == reqwest::StatusCode::OK {
            report.pages_ok += 1;
        }
        let _ = res.bytes().await;
    }

    // A stream open on each instance, then moves made through each in turn.
    let (tx, mut heard) = mpsc::unbounded_channel();
    let streams: Vec<_> = instances
        .iter()
        .enumerate()
        .map(|(on, instance)| {
            tokio::spawn(follow(instance.clone(), cookie.clone(), on, tx.clone()))
        })
        .collect();
    drop(tx);
    let (pipeline, stages) = pipeline_of(setup.owner, setup.email).await?;
    let card: DealCard = decode(
        "creating a deal on A",
        a.form::<app::crm::board::api::CreateDeal>(
            &cookie,
            &[
                ("pipeline_id", &pipeline.to_string()),
                ("stage_id", &stages[0].to_string()),
                ("name", "Drill: a deal seen everywhere"),
                ("amount", "1000"),
                ("currency", "USD"),
                ("owner_id", ""),
                ("expected_close_on", ""),
            ],
        )
        .await?,
    )?;
    let mut version = card.version;
    // A stream listens from its first poll; a warm-up move heard on both says both are.
    let mut listening = [false; 2];
    let mut latencies = Vec::new();
    let mut warmups = 0;
    let mut measured = 0;
    while measured < MOVES {
        let moved_by = &instances[(warmups + measured) % 2];
        let asked = Instant::now();
        let moved: DealCard = decode(
            "moving the deal",
            moved_by
                .json::<app::crm::board::api::MoveDeal>(
                    &cookie,
                    serde_json::json!({ "change": DealMove {
                        deal_id: card.id,
                        version,
                        stage_id: stages[(warmups + measured + 1) % 2],
                        after_id: None,
                        lost_reason: None,
                    }}),
                )
                .await?,
        )?;
        version = moved.version;
        let warm = listening == [true; 2];
        let mut got = [false; 2];
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        while got != [true; 2] {
            match tokio::time::timeout_at(deadline, heard.recv()).await {
                Ok(Some(Some(h))) if h.deal == card.id && h.version == i64::from(version) => {
                    got[h.on] = true;
                    if warm {
                        latencies.push(h.at - asked);
                    }
                }
                Ok(Some(Some(_))) => {}
                Ok(Some(None)) | Ok(None) => return Err("a live stream ended early".into()),
                Err(_) => break,
            }
        }
        if warm {
            for (heard, got) in report.heard.iter_mut().zip(got) {
                *heard += usize::from(got);
            }
            measured += 1;
        } else {
            listening = got;
            warmups += 1;
            if warmups > 10 {
                return Err("the live streams heard no move in 10 tries".into());
            }
        }
    }
    report.event_latency = (!latencies.is_empty()).then(|| stats(latencies));

    // Leads made through B, exported through A. The instances run no jobs: only the
    // worker can make the file.
    let run = Uuid::new_v4().simple().to_string();
    let names: Vec<String> = (0..NEW_LEADS)
        .map(|i| format!("Drill lead {} {i}", &run[..8]))
        .collect();
    for name in &names {
        let _: Uuid = decode(
            "making a lead on B",
            b.form::<app::crm::records::api::SaveRecord>(
                &cookie,
                &[("entity", "lead"), ("name", name)],
            )
            .await?,
        )?;
    }
    let asked = Instant::now();
    let job: Uuid = decode(
        "starting an export on A",
        a.json::<app::crm::import::api::StartExport>(
            &cookie,
            serde_json::json!({ "entity": Entity::Lead, "filter": RecordFilter::default() }),
        )
        .await?,
    )?;
    loop {
        let view: JobView = decode(
            "the export's progress on B",
            b.form::<app::crm::import::api::JobStatus>(&cookie, &[("id", &job.to_string())])
                .await?,
        )?;
        if view.state == JobState::Done && view.has_output {
            let res = b.get(&download_path(job, "output"), &cookie).await?;
            if res.status() != reqwest::StatusCode::OK {
                return Err(format!("downloading the export from B: {}", res.status()));
            }
            let csv = res.text().await.map_err(|e| e.to_string())?;
            report.export_rows = csv.lines().count().saturating_sub(1);
            report.export_has_new = names.iter().filter(|n| csv.contains(n.as_str())).count();
            report.export_took = Some(asked.elapsed());
            break;
        }
        if matches!(view.state, JobState::Failed | JobState::Dead) || asked.elapsed() > EXPORT_WAIT
        {
            println!(
                "  the export did not finish: {:?} {:?}",
                view.state, view.error
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Signed out on B: A refuses the cookie at once, and A's open stream ends.
    let (status, body) = b.form::<app::auth::api::Logout>(&cookie, &[]).await?;
    if status != 200 {
        return Err(format!("signing out on B: {status} {body}"));
    }
    let signed_out = Instant::now();
    report.signed_out_status = a
        .post(
            app::crm::board::api::GetBoard::PATH,
            &cookie,
            "application/json",
            serde_json::json!({ "pipeline_id": pipeline, "filter": {} }).to_string(),
        )
        .await?
        .0;
    let deadline = tokio::time::Instant::now() + STREAM_END_WAIT;
    let mut ended = 0;
    while ended < 2 {
        match tokio::time::timeout_at(deadline, heard.recv()).await {
            Ok(Some(None)) | Ok(None) => ended += 1,
            Ok(Some(Some(_))) => {}
            Err(_) => break,
        }
    }
    if ended == 2 {
        report.stream_ended_after = Some(signed_out.elapsed());
    }
    for stream in streams {
        stream.abort();
    }
    Ok(report)
}

/// The signed-in member's first pipeline and two of its open stages.
async fn pipeline_of(owner: &PgPool, email: &str) -> Result<(Uuid, [Uuid; 2]), String> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT s.pipeline_id, s.id FROM stages s
           JOIN pipelines p ON p.id = s.pipeline_id
          WHERE s.kind = 'OPEN'
            AND p.id = (SELECT p2.id FROM pipelines p2
                          JOIN memberships m ON m.tenant_id = p2.tenant_id
                          JOIN users u ON u.id = m.user_id
                         WHERE u.email = $1 ORDER BY p2.created_at, p2.id LIMIT 1)
          ORDER BY s.position LIMIT 2",
    )
    .bind(email)
    .fetch_all(owner)
    .await
    .map_err(|e| format!("finding a pipeline: {e}"))?;
    match rows.as_slice() {
        [(pipeline, first), (_, second)] => Ok((*pipeline, [*first, *second])),
        _ => Err(format!("{email} has no pipeline with two open stages")),
    }
}

pub fn print(report: &InstancesDrill) {
    println!("two app instances (serving only) and a worker on one PostgreSQL:");
    println!(
        "  one session, pages alternating between the instances: {} of {SESSION_REQUESTS} answered 200",
        report.pages_ok
    );
    match &report.event_latency {
        Some(s) => println!(
            "  {MOVES} moves made through both instances, heard live on A {} and on B {}; move to event p50 {:.1} ms, p95 {:.1} ms",
            report.heard[0],
            report.heard[1],
            ms(s.p50),
            ms(s.p95)
        ),
        None => println!("  no move was heard live"),
    }
    match report.export_took {
        Some(took) => println!(
            "  {NEW_LEADS} leads made on B, an export asked of A, run by the worker, downloaded from B: {} rows ({} of the new leads) in {:.2} s",
            report.export_rows,
            report.export_has_new,
            took.as_secs_f64()
        ),
        None => println!("  the export asked of A never downloaded from B"),
    }
    println!(
        "  signed out on B: A answers {} to the same cookie; the open streams ended after {}",
        report.signed_out_status,
        report
            .stream_ended_after
            .map_or("more than 15 s".to_string(), |d| format!(
                "{:.1} s",
                d.as_secs_f64()
            ))
    );
}
