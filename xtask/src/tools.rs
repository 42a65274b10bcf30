//! Makes sure every tool the build and the tests need is present, installing
//! only what is missing. Nothing is downloaded as a prebuilt binary from the
//! web: Rust tools are built with `cargo install`, JS tools come from npm,
//! system packages from apt.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, apt_install, on_path, run, say, stdout_of, Result};
use crate::paths::Paths;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CARGO_LEPTOS_VERSION: &str = "0.3.10";
/// Must equal the `wasm-bindgen` version pinned in the root Cargo.toml.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const PG_VERSIONS_DIR: &str = "/usr/lib/postgresql";
/// Binaries the app and the tests call from the PostgreSQL bin dir.
const PG_TOOLS: [&str; 4] = ["initdb", "pg_ctl", "createdb", "dropdb"];

/// Schemathesis probes the public API from its OpenAPI document (PyPI, in a venv).
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// What later steps need to know about the tools found.
pub struct Tools {
    /// Directory holding initdb, pg_ctl, postgres, createdb, ...
    pub pg_bin: PathBuf,
    /// The `st` command of Schemathesis, when the end-to-end suite needs it.
    pub schemathesis: Option<PathBuf>,
}

/// Whether the end-to-end browser is needed (only `test` drives one).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Needed,
    NotNeeded,
}

pub fn ensure(paths: &Paths, browser: Browser) -> Result<Tools> {
    say("checking tools");
    ensure_wasm_target(paths)?;
    ensure_cargo_leptos(paths)?;
    ensure_wasm_bindgen(paths)?;
    ensure_node_modules(paths)?;
    let schemathesis = if browser == Browser::Needed {
        ensure_chromium()?;
        Some(ensure_schemathesis(paths)?)
    } else {
        None
    };
    let pg_bin = ensure_postgres()?;
    say(format!("PostgreSQL binaries: {}", pg_bin.display()));
    Ok(Tools {
        pg_bin,
        schemathesis,
    })
}

/// Schemathesis in a virtual environment of its own next to the build, pinned, so
/// the system's Python packages are neither used nor changed.
fn ensure_schemathesis(paths: &Paths) -> Result<PathBuf> {
    let venv = paths
        .target
        .join(format!("schemathesis-{SCHEMATHESIS_VERSION}"));
    let st = venv.join("bin").join("st");
    if st.is_file() {
        return Ok(st);
    }
    say(format!(
        "installing Schemathesis {SCHEMATHESIS_VERSION} from PyPI"
    ));
    let make_venv = || run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    if make_venv().is_err() {
        apt_install(&["python3-venv"])?;
        make_venv()?;
    }
    run(Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}")))?;
    if st.is_file() {
        Ok(st)
    } else {
        Err(format!(
            "installed Schemathesis, but {} is missing",
            st.display()
        ))
    }
}

fn ensure_wasm_target(paths: &Paths) -> Result {
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"])
        .current_dir(&paths.root);
    let installed = stdout_of(&mut list)
        .ok_or("`rustup target list --installed` failed; is rustup installed?")?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(&paths.root))
}

fn ensure_cargo_leptos(paths: &Paths) -> Result {
    let probe = || installed_version(Command::new(paths.cargo()).args(["leptos", "--version"]));
    ensure_cargo_tool(
        paths,
        "cargo-leptos",
        CARGO_LEPTOS_VERSION,
        probe,
        // `no_downloads`: cargo-leptos must use our npm-installed tailwindcss
        // and wasm-opt instead of fetching binaries from GitHub. `--locked`
        // because its published lock file is known to build.
        &["--locked", "--features", "no_downloads"],
    )
}

fn ensure_wasm_bindgen(paths: &Paths) -> Result {
    let probe = || installed_version(Command::new("wasm-bindgen").arg("--version"));
    // Exact-version requirement; without `--locked` because old lock files of
    // wasm-bindgen-cli stop compiling on newer toolchains.
    let version = format!("={WASM_BINDGEN_VERSION}");
    ensure_cargo_tool(paths, "wasm-bindgen-cli", &version, probe, &[])
}

/// Installs `krate` at `version` unless `probe` already reports it.
fn ensure_cargo_tool(
    paths: &Paths,
    krate: &str,
    version: &str,
    probe: impl Fn() -> Option<String>,
    extra: &[&str],
) -> Result {
    let wanted = version.trim_start_matches('=');
    let found = probe();
    if found.as_deref() == Some(wanted) {
        return Ok(());
    }
    let found_text = found.as_deref().unwrap_or("none");
    say(format!("installing {krate} {wanted} (found: {found_text})"));
    run(cargo_install(paths)
        .args([krate, "--version", version])
        .args(extra))?;
    match probe() {
        Some(v) if v == wanted => Ok(()),
        other => Err(format!(
            "installed {krate} {wanted}, but the one on PATH reports {}; is ~/.cargo/bin first on PATH?",
            other.as_deref().unwrap_or("nothing")
        )),
    }
}

/// `cargo install` with settings that keep tool builds from slowing CI.
fn cargo_install(paths: &Paths) -> Command {
    let mut cmd = Command::new(paths.cargo());
    cmd.arg("install")
        .current_dir(&paths.root)
        // Our CARGO_TARGET_DIR is the project's build cache; tool builds
        // would pollute it, so cargo install gets its own temp dir.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        // Tools don't need to be fast; LTO and one codegen unit only make
        // the one-time install take much longer.
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
    cmd
}

fn installed_version(cmd: &mut Command) -> Option<String> {
    stdout_of(cmd).and_then(|out| parse_version(&out).map(str::to_owned))
}

/// The version in `--version` output such as `cargo-leptos 0.3.10` or
/// `wasm-bindgen 0.2.130 (abc123)`: the first word that starts with a digit.
pub fn parse_version(output: &str) -> Option<&str> {
    output
        .lines()
        .next()?
        .split_whitespace()
        .map(|word| word.trim_start_matches('v'))
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
}

fn ensure_node_modules(paths: &Paths) -> Result {
    if node_modules_current(paths) {
        return Ok(());
    }
    if on_path("npm").is_none() {
        return Err("npm not found; install Node.js (20 or newer) with npm".into());
    }
    say("installing JS tooling (tailwindcss, wasm-opt, playwright) with npm ci");
    run(Command::new("npm")
        .arg("ci")
        .current_dir(&paths.root)
        // The tests drive the system Chromium; never fetch browsers.
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))
}

/// node_modules has our tools and was installed from the current lock file.
fn node_modules_current(paths: &Paths) -> bool {
    let bins_present = ["tailwindcss", "wasm-opt", "playwright"]
        .iter()
        .all(|bin| paths.node_bin().join(bin).is_file());
    let installed = paths.root.join("node_modules").join(".package-lock.json");
    let wanted = paths.root.join("package-lock.json");
    bins_present && is_newer_or_same(&installed, &wanted)
}

fn is_newer_or_same(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(a), modified(b)) {
        (Some(a), Some(b)) => a >= b,
        _ => false,
    }
}

/// The browser Playwright drives: `CHROMIUM_PATH`, else the Debian package's.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM_PATH")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from)
}

fn ensure_chromium() -> Result {
    let path = chromium_path();
    if path.is_file() {
        return Ok(());
    }
    if path != Path::new(DEFAULT_CHROMIUM) {
        return Err(format!("CHROMIUM_PATH={} does not exist", path.display()));
    }
    say("installing chromium for the end-to-end tests");
    apt_install(&["chromium"])?;
    if path.is_file() {
        Ok(())
    } else {
        Err(format!(
            "installed chromium, but {DEFAULT_CHROMIUM} is still missing"
        ))
    }
}

fn ensure_postgres() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LEADLINE_PG_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_pg_tools(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "LEADLINE_PG_BIN={} lacks one of {}",
                dir.display(),
                PG_TOOLS.join(", ")
            ))
        };
    }
    if let Some(dir) = find_pg_bin() {
        return Ok(dir);
    }
    if cmd::is_root() {
        say("PostgreSQL not found; installing it with apt");
        apt_install(&["postgresql"])?;
        if let Some(dir) = find_pg_bin() {
            return Ok(dir);
        }
    }
    Err(format!(
        "PostgreSQL server binaries ({}) not found on PATH or in {PG_VERSIONS_DIR}/*/bin; \
         install PostgreSQL (e.g. `apt-get install postgresql`) or set LEADLINE_PG_BIN",
        PG_TOOLS.join(", ")
    ))
}

/// `initdb` on PATH (following symlinks to the real bin dir, since a lone
/// symlinked initdb does not bring pg_ctl along), else the newest
/// `/usr/lib/postgresql/<version>/bin` that has the server tools.
fn find_pg_bin() -> Option<PathBuf> {
    let from_path = on_path("initdb")
        .and_then(|initdb| std::fs::canonicalize(initdb).ok())
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|dir| has_pg_tools(dir));
    if from_path.is_some() {
        return from_path;
    }
    let versions: Vec<String> = std::fs::read_dir(PG_VERSIONS_DIR)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    versions_newest_first(versions)
        .into_iter()
        .map(|v| Path::new(PG_VERSIONS_DIR).join(v).join("bin"))
        .find(|dir| has_pg_tools(dir))
}

fn has_pg_tools(dir: &Path) -> bool {
    PG_TOOLS.iter().all(|tool| dir.join(tool).is_file())
}

/// PostgreSQL version directory names (`16`, `9.6`), newest first; anything
/// that is not a version is dropped.
pub fn versions_newest_first(names: Vec<String>) -> Vec<String> {
    let mut parsed: Vec<(Vec<u32>, String)> = names
        .into_iter()
        .filter_map(|name| {
            let key = name
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((key, name))
        })
        .collect();
    parsed.sort_by(|a, b| b.0.cmp(&a.0));
    parsed.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cargo_leptos_version() {
        assert_eq!(parse_version("cargo-leptos 0.3.10\n"), Some("0.3.10"));
    }

    #[test]
    fn parses_wasm_bindgen_version_with_suffix() {
        assert_eq!(
            parse_version("wasm-bindgen 0.2.130 (3a1b2c4d)\n"),
            Some("0.2.130")
        );
        assert_eq!(parse_version("tool v1.2.3"), Some("1.2.3"));
    }

    #[test]
    fn no_version_in_garbage() {
        assert_eq!(parse_version("error: no such command: `leptos`"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn picks_the_highest_postgres_version() {
        let names = ["9.6", "15", "common", "16", "10"]
            .map(String::from)
            .to_vec();
        assert_eq!(versions_newest_first(names), ["16", "15", "10", "9.6"]);
    }

    #[test]
    fn no_postgres_versions() {
        assert!(versions_newest_first(vec!["common".into()]).is_empty());
    }
}
