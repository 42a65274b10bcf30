//! `leadline bench http`: what requests cost over real HTTP, through the production
//! accept loop (`server::serve`) on a loopback port.
//!
//! - Throughput with 32 keep-alive connections, like `wrk -c32`: the signed-in home
//!   page against the anonymous sign-in page. Target: the signed-in page at ≥ 0.5× the
//!   anonymous one.
//! - Slow clients: 1,000 connections that trickle a request head and never finish it.
//!   The sign-in page's p95 with them open, against without. Target: ≤ 2×, and every
//!   slow connection closed by the head timeout.

use crate::bench::{ms, stats, Stats};
use crate::server::{serve, Timeouts};
use axum::Router;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 32;
const LOAD_FOR: Duration = Duration::from_secs(6);
const SLOW_CLIENTS: usize = 1_000;
/// The head timeout the bench's server uses: short, so the bench sees it act.
const HEAD_TIMEOUT: Duration = Duration::from_secs(4);

pub struct Load {
    pub per_second: f64,
    pub latency: Stats,
    pub failures: usize,
}

pub async fn run(router: &Router, cookie: &str) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let timeouts = Timeouts {
        header_read: HEAD_TIMEOUT,
        ..Timeouts::default()
    };
    let server = tokio::spawn(serve(listener, router.clone(), timeouts, async {
        let _ = stopped.await;
    }));

    let anonymous = load(addr, "/login", &[], CONNECTIONS, LOAD_FOR).await?;
    let cookie = [("cookie", cookie.to_string())];
    let signed_in = load(addr, "/", &cookie, CONNECTIONS, LOAD_FOR).await?;
    println!(
        "over HTTP, {CONNECTIONS} keep-alive connections, {} s each:",
        LOAD_FOR.as_secs()
    );
    print_load("anonymous sign-in page", &anonymous);
    print_load("signed-in home page", &signed_in);
    println!(
        "  signed-in / anonymous throughput: {:.2}x (target >= 0.5x)",
        signed_in.per_second / anonymous.per_second.max(1e-9)
    );

    let calm = load(addr, "/login", &[], 4, Duration::from_secs(3)).await?;
    let slow = SlowClients::open(addr, SLOW_CLIENTS).await?;
    let opened = Instant::now();
    let crowded = load(addr, "/login", &[], 4, Duration::from_secs(3)).await?;
    let held = slow.still_open().await;
    let closed = slow.wait_closed(HEAD_TIMEOUT * 2).await;
    println!(
        "with {SLOW_CLIENTS} clients trickling a request head (server head timeout {} s):",
        HEAD_TIMEOUT.as_secs()
    );
    print_load("sign-in page, 4 connections, none slow", &calm);
    print_load("sign-in page, 4 connections, 1,000 slow", &crowded);
    println!(
        "  p95 with / without: {:.2}x (target <= 2x); slow connections open during the load {held}, closed by the timeout {closed} of {SLOW_CLIENTS} after {:.1} s",
        ms(crowded.latency.p95) / ms(calm.latency.p95).max(1e-9),
        opened.elapsed().as_secs_f64()
    );
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

pub fn print_load(what: &str, load: &Load) {
    println!(
        "  {what}: {:.0} req/s   p50 {:.2} ms   p95 {:.2} ms   failures {}",
        load.per_second,
        ms(load.latency.p50),
        ms(load.latency.p95),
        load.failures
    );
}

/// `connections` clients, each on one keep-alive connection, asking for `path` (with
/// these headers) as fast as answers come for `period`.
pub async fn load(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    connections: usize,
    period: Duration,
) -> Result<Load, String> {
    let url = format!("http://{addr}{path}");
    let started = Instant::now();
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let url = url.clone();
        let headers = headers.to_vec();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut failures = 0;
            while started.elapsed() < period {
                let mut req = client.get(&url);
                for (name, value) in &headers {
                    req = req.header(*name, value);
                }
                let sent = Instant::now();
                let ok = match req.send().await {
                    Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    samples.push(sent.elapsed());
                } else {
                    failures += 1;
                }
            }
            (samples, failures)
        }));
    }
    let mut samples = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (s, f) = worker.await.map_err(|e| e.to_string())?;
        samples.extend(s);
        failures += f;
    }
    let took = started.elapsed();
    if samples.is_empty() {
        return Err(format!(
            "no request to {path} succeeded ({failures} failed)"
        ));
    }
    Ok(Load {
        per_second: samples.len() as f64 / took.as_secs_f64(),
        latency: stats(samples),
        failures,
    })
}

/// Clients that send a request head one header line a second and never end it.
struct SlowClients {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    open: Arc<Vec<AtomicBool>>,
}

impl SlowClients {
    async fn open(addr: SocketAddr, count: usize) -> Result<SlowClients, String> {
        let open: Arc<Vec<AtomicBool>> =
            Arc::new((0..count).map(|_| AtomicBool::new(false)).collect());
        let mut tasks = Vec::with_capacity(count);
        for i in 0..count {
            let mut stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("slow client {i}: {e}"))?;
            open[i].store(true, Ordering::Relaxed);
            let open = open.clone();
            tasks.push(tokio::spawn(async move {
                let mut buf = [0u8; 256];
                let _ = stream
                    .write_all(b"GET /login HTTP/1.1\r\nHost: bench\r\n")
                    .await;
                loop {
                    tokio::select! {
                        // Any answer (a 408, EOF or a reset) means the server gave up on us.
                        _ = stream.read(&mut buf) => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {
                            if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                                break;
                            }
                        }
                    }
                }
                open[i].store(false, Ordering::Relaxed);
            }));
        }
        Ok(SlowClients { tasks, open })
    }

    async fn still_open(&self) -> usize {
        self.open
            .iter()
            .filter(|o| o.load(Ordering::Relaxed))
            .count()
    }

    /// Waits up to `limit` for the server to close them; how many it closed.
    async fn wait_closed(self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline && self.still_open().await > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let closed = self.open.len() - self.still_open().await;
        for task in self.tasks {
            task.abort();
        }
        closed
    }
}
