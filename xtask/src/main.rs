//! Task runner for leadline: `cargo xtask run | test | seed | bench | drill | prepare`.
//!
//! std-only on purpose: it must compile in seconds on a fresh machine, before
//! any of the heavy tooling it installs exists. Everything else (cargo-leptos,
//! PostgreSQL, Playwright, Chromium) is driven as child processes.

mod app;
mod cmd;
mod e2e;
mod mirror;
mod paths;
mod pg;
mod prepare;
mod test;
mod tidy;
mod tools;

use std::process::ExitCode;

use paths::Paths;

const USAGE: &str = "\
usage: cargo xtask <command> [args...]

commands:
  run   [args...]  build in release mode and start the server (args go to the server)
  test             run unit, integration and end-to-end tests against a private PostgreSQL
  seed  [args...]  build in release mode and run `leadline seed [args...]`
  bench [args...]  build in release mode and run `leadline bench [args...]`
  drill            build in release mode and run the failure drills (`leadline drill`)
  prepare          describe every SQL query macro against the migrated schema into .sqlx/

environment:
  CARGO_TARGET_DIR       build directory (default: <repo>/target)
  LEADLINE_TEST_PG_PORT  port of the test PostgreSQL cluster (default: 54331)
  LEADLINE_E2E_PORT      port of the server under end-to-end test (default: 3100)
  LEADLINE_PG_BIN        directory holding initdb/pg_ctl (default: found automatically)
  CHROMIUM_PATH          browser for end-to-end tests (default: /usr/bin/chromium)";

fn main() -> ExitCode {
    cmd::started();
    // Before the cargo-run variables go: discovery reads CARGO_MANIFEST_DIR.
    let paths = Paths::discover();
    forget_cargo_run_env();
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();

    let result = match command.as_deref() {
        Some("run") => app::exec_server(&paths, &[], &rest),
        Some("seed") => app::exec_server(&paths, &["seed"], &rest),
        Some("bench") => app::exec_server(&paths, &["bench"], &rest),
        Some("drill") => app::exec_server(&paths, &["drill"], &rest),
        Some("test") if rest.is_empty() => test::run_all(&paths),
        Some("prepare") if rest.is_empty() => prepare::run_prepare(&paths),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };

    // Every guard (database cluster, server process) lives inside the
    // command functions, so by now they have been dropped and cleaned up.
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo run` describes the xtask package to us in env vars (manifest dir,
/// package name, ...). They are about xtask, not about the builds and the
/// server we start, so they must not leak into those.
fn forget_cargo_run_env() {
    const EXACT: [&str; 5] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
    ];
    let leaked: Vec<_> = std::env::vars_os()
        .map(|(key, _)| key)
        .filter(|key| {
            let key = key.to_string_lossy();
            key.starts_with("CARGO_PKG_") || EXACT.contains(&key.as_ref())
        })
        .collect();
    // Still single-threaded here, so changing our own environment is sound.
    for key in leaked {
        std::env::remove_var(key);
    }
}
