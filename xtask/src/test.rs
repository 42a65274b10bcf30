//! `cargo xtask test`: every suite, against a private PostgreSQL.

use std::process::ExitCode;

use crate::app;
use crate::cmd::{say, Result};
use crate::e2e;
use crate::paths::{Paths, Profile};
use crate::pg::TestCluster;
use crate::tools::{self, Browser};

const DEFAULT_PG_PORT: u16 = 54331;
const DEFAULT_E2E_PORT: u16 = 3100;

pub fn run_all(paths: &Paths) -> Result<ExitCode> {
    crate::tidy::free_space_if_low(&paths.target);
    let tools = tools::ensure(paths, Browser::Needed)?;
    let pg_port = port_from_env("LEADLINE_TEST_PG_PORT", DEFAULT_PG_PORT)?;
    let e2e_port = port_from_env("LEADLINE_E2E_PORT", DEFAULT_E2E_PORT)?;

    let cluster = TestCluster::start(&tools.pg_bin, &paths.target.join("pgtest"), pg_port)?;
    // Exported rather than set per command: every later step (the build,
    // the tests, Playwright) sees the test cluster and nothing else.
    std::env::set_var("DATABASE_URL", cluster.url("postgres"));

    // Compiled from a copy at a fixed path, so rustc's incremental caches survive a
    // fresh clone (mirror.rs). Playwright runs from the checkout: its traces and
    // screenshots land where whoever ran the tests looks.
    let build = &crate::mirror::sync(paths)?;
    app::leptos_build(build, Profile::Debug).map_err(|e| format!("{e}; no test suite ran"))?;
    // The release build is the longest chain: the whole browser suite waits for it. It
    // goes on beside `cargo test`, the debug smoke run and Schemathesis; Cargo locks
    // each profile's directory on its own, so neither waits for the other. Not beside
    // the debug build: both would write cargo-leptos's one Tailwind output file.
    let release_build = app::BackgroundBuild::start_release(build);
    // Every suite always runs, so one failure does not hide another.
    say("unit + integration tests");
    let unit = report("unit+integration", app::cargo_test(build));
    let debug_suites = report(
        "debug smoke + API schema",
        e2e::run_debug_suites(paths, &tools, &cluster, e2e_port),
    );
    let end_to_end = report(
        "end-to-end (release)",
        release_build
            .and_then(|mut background| background.finish())
            .and_then(|()| e2e::run_release_suite(paths, &tools, &cluster, e2e_port)),
    );
    drop(cluster);

    say(format!(
        "unit+integration {}, debug smoke + API schema {}, end-to-end (release) {}",
        verdict(unit),
        verdict(debug_suites),
        verdict(end_to_end)
    ));
    Ok(if unit && debug_suites && end_to_end {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints why a suite failed, right after its output; true if it passed.
fn report(suite: &str, outcome: Result) -> bool {
    match outcome {
        Ok(()) => true,
        Err(e) => {
            eprintln!("xtask: {suite} FAILED: {e}");
            false
        }
    }
}

fn verdict(passed: bool) -> &'static str {
    if passed {
        "ok"
    } else {
        "FAILED"
    }
}

fn port_from_env(var: &str, default: u16) -> Result<u16> {
    parse_port(var, std::env::var(var).ok().as_deref(), default)
}

fn parse_port(var: &str, value: Option<&str>, default: u16) -> Result<u16> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("{var}={text} is not a port number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_defaults_when_unset_or_empty() {
        assert_eq!(parse_port("P", None, 3100), Ok(3100));
        assert_eq!(parse_port("P", Some(" "), 3100), Ok(3100));
    }

    #[test]
    fn port_from_value_or_error() {
        assert_eq!(parse_port("P", Some("4000"), 3100), Ok(4000));
        assert!(parse_port("P", Some("0"), 3100).is_err());
        assert!(parse_port("P", Some("70000"), 3100).is_err());
        assert!(parse_port("P", Some("abc"), 3100).is_err());
    }
}
