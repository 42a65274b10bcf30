//! End-to-end suites, driven by Playwright in the system Chromium: the whole suite
//! against the release build, which is what ships and where a release-only hydration
//! break would show, and the smoke tests (tagged `@smoke`) and Schemathesis against
//! the debug build. Each server gets a database of its own.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::app;
use crate::cmd::{run, say, tail_matching, Result};
use crate::paths::{Paths, Profile};
use crate::pg::TestCluster;
use crate::tools::{self, Tools};

const DATABASE: &str = "leadline_e2e";
const RELEASE_DATABASE: &str = "leadline_e2e_release";
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Only the server's warnings and errors are echoed on failure: its request lines would
/// push Playwright's summary of what failed out of a CI log's visible tail.
const LOG_LINES_ON_FAILURE: usize = 25;

/// The smoke tests against the debug build, which carries the debug assertions a
/// release build leaves out, then the API's schema tests. Schemathesis takes about
/// 5 min on either build (its examples and rate limit set the pace), so it runs here,
/// while the release build is still going, not after the release suite.
pub fn run_debug_suites(paths: &Paths, tools: &Tools, cluster: &TestCluster, port: u16) -> Result {
    say("end-to-end smoke tests and API schema tests (debug build)");
    with_server(paths, tools, cluster, Profile::Debug, port, || {
        playwright(paths, port, &["--grep", "@smoke"])
            // Last: it writes at random into the demo workspace the browser tests read.
            .and_then(|()| schemathesis(tools, port))
    })
}

/// The whole end-to-end suite against the release build
/// (`cargo leptos build --release`): it runs the specs about twice as fast as debug.
pub fn run_release_suite(paths: &Paths, tools: &Tools, cluster: &TestCluster, port: u16) -> Result {
    say("end-to-end tests (release build)");
    with_server(paths, tools, cluster, Profile::Release, port, || {
        playwright(paths, port, &[])
    })
}

/// Runs `tests` against a server of `profile` on a fresh database, and stops it.
fn with_server(
    paths: &Paths,
    tools: &Tools,
    cluster: &TestCluster,
    profile: Profile,
    port: u16,
    tests: impl FnOnce() -> Result,
) -> Result {
    let database = match profile {
        Profile::Debug => DATABASE,
        Profile::Release => RELEASE_DATABASE,
    };
    cluster.recreate_database(database)?;
    let log = paths
        .target
        .join(format!("e2e-server-{}.log", profile.dir_name()));
    let mut server = Server::spawn(paths, tools, profile, &cluster.url(database), port, &log)?;
    let outcome = server.wait_until_ready(port).and_then(|()| tests());
    server.stop();
    if outcome.is_err() {
        eprintln!(
            "xtask: the server's last {LOG_LINES_ON_FAILURE} warnings and errors (all of it in {}):\n{}",
            log.display(),
            tail_matching(&log, LOG_LINES_ON_FAILURE, is_warning)
        );
    }
    outcome
}

fn playwright(paths: &Paths, port: u16, filter: &[&str]) -> Result {
    run(Command::new(paths.node_bin().join("playwright"))
        .args(["test", "--config", "end2end/playwright.config.ts"])
        .args(filter)
        .current_dir(&paths.root)
        .env("BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("PEER_URL", format!("http://127.0.0.1:{}", peer_port(port)))
        .env("CHROMIUM_PATH", tools::chromium_path()))
}

/// The demo workspace's API key (`leadline::seed::DEMO_API_TOKEN`; xtask links no
/// crate of ours).
const DEMO_API_TOKEN: &str = "llk_00000000000de0de_bGVhZGxpbmUtZGVtby1hcGkta2V5LW5vdC1zZWNyZXQ";

/// Property-based tests of the whole public API from its OpenAPI document: any 5xx,
/// or an answer its schema does not describe, fails the suite.
fn schemathesis(tools: &Tools, port: u16) -> Result {
    let Some(st) = &tools.schemathesis else {
        return Err("Schemathesis was not installed".into());
    };
    say("schema-driven API tests (Schemathesis)");
    run(Command::new(st)
        .arg("run")
        .arg(format!("http://127.0.0.1:{port}/api/v1/openapi.json"))
        .args(["--url", &format!("http://127.0.0.1:{port}/api/v1")])
        .args(["--header", &format!("Authorization: Bearer {DEMO_API_TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // Under the demo plan's limit (1,200 a minute), so requests test logic, not 429s.
        .args(["--max-examples", "20", "--seed", "1", "--rate-limit", "1100/m"]))
}

/// A log line at WARN or ERROR, as tracing's plain formatter writes it
/// (`2026-12-02T18:31:20.601415Z  WARN request{…}: …`), or a panic's message.
fn is_warning(line: &str) -> bool {
    let level = line.split_whitespace().nth(1);
    matches!(level, Some("WARN" | "ERROR")) || line.contains("panicked at")
}

/// The provider peer's HTTP port for a server on `port` (SMTP is the next one).
fn peer_port(port: u16) -> u16 {
    port.saturating_add(1800)
}

/// The server under test; killed when dropped so no run leaves it behind.
struct Server {
    child: Child,
    exited: bool,
}

impl Server {
    fn spawn(
        paths: &Paths,
        tools: &Tools,
        profile: Profile,
        database_url: &str,
        port: u16,
        log: &Path,
    ) -> Result<Server> {
        let exe = paths.server_exe(profile);
        let log_file =
            File::create(log).map_err(|e| format!("could not create {}: {e}", log.display()))?;
        let log_copy = log_file
            .try_clone()
            .map_err(|e| format!("could not open {} twice: {e}", log.display()))?;
        let mut cmd = Command::new(&exe);
        cmd.current_dir(&paths.root)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_copy)
            .env("DATABASE_URL", database_url)
            .env("LEADLINE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEADLINE_DEMO_SEED", "1")
            // One browser on loopback signs in and up far more often than one office
            // would; the per-email limits and lockouts stay as in production.
            .env("LEADLINE_IP_LIMIT_SCALE", "10")
            // The provider peer on ports of its own, so a `cargo xtask run` next door
            // keeps its peer.
            .env(
                "LEADLINE_PEER_ADDR",
                format!("127.0.0.1:{}", peer_port(port)),
            )
            .env(
                "LEADLINE_PEER_SMTP_ADDR",
                format!("127.0.0.1:{}", peer_port(port) + 1),
            )
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        if profile == Profile::Release {
            cmd.env("LEPTOS_ENV", "PROD");
        }
        app::server_env(&mut cmd, paths, profile, &tools.pg_bin);
        say(format!(
            "starting {} on port {port}, log in {}",
            exe.display(),
            log.display()
        ));
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", exe.display()))?;
        Ok(Server {
            child,
            exited: false,
        })
    }

    fn wait_until_ready(&mut self, port: u16) -> Result {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = true;
                return Err(format!("the server exited before it was ready ({status})"));
            }
            if http_status(port, "/readyz") == Some(200) {
                say("server is ready");
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "http://127.0.0.1:{port}/readyz did not answer 200 within {} s",
                    READY_TIMEOUT.as_secs()
                ));
            }
            sleep(Duration::from_millis(250));
        }
    }

    /// SIGTERM for a graceful shutdown, SIGKILL if it takes too long.
    fn stop(&mut self) {
        if self.exited {
            return;
        }
        self.exited = true;
        say("stopping the server");
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            sleep(Duration::from_millis(100));
        }
        eprintln!("xtask: the server ignored SIGTERM for 10 s; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Status code of `GET path` on localhost, or `None` if nothing answers.
/// A raw HTTP/1.1 request keeps xtask free of an HTTP client dependency.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).ok()?;
    parse_status_line(&status_line)
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status_line("HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(""), None);
    }

    #[test]
    fn http_status_talks_to_a_real_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = String::new();
            BufReader::new(conn.try_clone().unwrap())
                .read_line(&mut request)
                .unwrap();
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            request
        });
        assert_eq!(http_status(port, "/readyz"), Some(200));
        assert_eq!(server.join().unwrap(), "GET /readyz HTTP/1.1\r\n");
    }

    #[test]
    fn only_warnings_errors_and_panics_are_echoed() {
        assert!(is_warning(
            "2026-12-02T18:31:20.601415Z  WARN request{method=POST}: leadline::web: slow"
        ));
        assert!(is_warning(
            "2026-12-02T18:31:20.601415Z ERROR leadline::worker: gone"
        ));
        assert!(is_warning(
            "thread 'tokio-runtime-worker' panicked at src/web.rs:1:2:"
        ));
        assert!(!is_warning(
            "2026-12-02T18:31:20.601415Z  INFO request{method=GET}: leadline::web: answered"
        ));
        assert!(!is_warning(
            "A local-resource notification could not be delivered because its listener was already dropped."
        ));
    }
}
