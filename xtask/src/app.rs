//! Building the app with cargo-leptos and starting the server binary with
//! the environment it needs to find its site files.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Instant;

use crate::cmd::{describe, run, say, tail, Result};
use crate::paths::{Paths, Profile, APP_NAME};
use crate::tools::{self, Browser};

/// cargo-leptos compiles debug builds with this cfg (type-erased views).
/// `cargo test` gets the same flag so it reuses the dependencies built by
/// `cargo leptos build` instead of rebuilding them with different flags, and
/// tests the code the end-to-end server runs.
const LEPTOS_DEBUG_CFG: &str = "--cfg erase_components";

/// The server's feature with the benchmarks, the drills and the local provider peer:
/// on in every build xtask makes, so the tests and the end-to-end server share one.
const DEV_TOOLS: &str = "dev-tools";

/// `cargo xtask run|seed|bench`: release build, then replace this process
/// with the server (so signals and the exit code are the server's own).
pub fn exec_server(paths: &Paths, leading: &[&str], rest: &[String]) -> Result<ExitCode> {
    let tools = tools::ensure(paths, Browser::NotNeeded)?;
    leptos_build(paths, Profile::Release)?;
    let exe = paths.server_exe(Profile::Release);
    let mut cmd = Command::new(&exe);
    cmd.args(leading)
        .args(rest)
        .current_dir(&paths.root)
        .env("LEPTOS_ENV", "PROD");
    server_env(&mut cmd, paths, Profile::Release, &tools.pg_bin);
    say(format!("$ {}", describe(&cmd)));
    let error = cmd.exec();
    Err(format!("could not start {}: {error}", exe.display()))
}

/// `cargo leptos build`: server binary, wasm, JS and CSS into the profile's site.
pub fn leptos_build(paths: &Paths, profile: Profile) -> Result {
    say(format!("building ({})", profile.dir_name()));
    run(&mut leptos_build_command(paths, profile))
}

fn leptos_build_command(paths: &Paths, profile: Profile) -> Command {
    let mut cmd = Command::new(paths.cargo());
    // `--split`: every lazy route becomes its own WASM chunk (app/src/pages.rs).
    // `dev-tools`: the benchmarks, drills and provider peer, which a production
    // build (`cargo leptos build --release`) leaves out.
    cmd.args(["leptos", "build", "--split", "--bin-features", DEV_TOOLS])
        .current_dir(&paths.root)
        .env("PATH", paths.path_with_node_bin());
    if profile == Profile::Release {
        // Brotli and gzip files beside the assets, served as they are: no
        // compression work per request for the biggest downloads.
        cmd.args(["--release", "--precompress"]);
    }
    // The workspace config names `target/site`, which cargo-leptos does not
    // move along with CARGO_TARGET_DIR; the env override keeps the site
    // where the server is told to look.
    site_env(&mut cmd, paths, profile);
    cmd
}

/// The release build `cargo xtask test` runs beside `cargo test`, the debug smoke run
/// and Schemathesis (see `test::run_all`), its output in a log of its own. Dropped
/// unfinished, it is stopped.
pub struct BackgroundBuild {
    child: Child,
    log: PathBuf,
    started: Instant,
}

impl BackgroundBuild {
    /// Starts the release build at normal priority: the whole browser suite waits for
    /// it, so it is the longest chain of the run. At the lowest priority it got almost
    /// no CPU beside `cargo test` and was the last thing CI waited for (DECISIONS 104).
    pub fn start_release(paths: &Paths) -> Result<BackgroundBuild> {
        let build = leptos_build_command(paths, Profile::Release);
        let log = paths.target.join("release-build.log");
        let out =
            File::create(&log).map_err(|e| format!("could not create {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("could not open {} twice: {e}", log.display()))?;
        let mut cmd = Command::new(build.get_program());
        // Incremental, unlike `cargo xtask run`: a fresh clone's release server then
        // rebuilds in seconds to minutes instead of 8 minutes (DECISIONS 104). The
        // WASM is built exactly as for production.
        cmd.env("CARGO_PROFILE_RELEASE_INCREMENTAL", "true")
            .args(build.get_args())
            // A group of its own, so stopping it stops the cargo and rustc under it.
            .process_group(0)
            .current_dir(&paths.root)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, value) in build.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        say(format!(
            "building (release) in the background, log in {}",
            log.display()
        ));
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start the release build: {e}"))?;
        Ok(BackgroundBuild {
            child,
            log,
            started: Instant::now(),
        })
    }

    /// Waits for the build; its log's tail if it failed.
    pub fn finish(&mut self) -> Result {
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for the release build: {e}"))?;
        if status.success() {
            say(format!(
                "release build done, {} s after it started",
                self.started.elapsed().as_secs()
            ));
            Ok(())
        } else {
            Err(format!(
                "the release build failed ({status}); the end of {}:\n{}",
                self.log.display(),
                tail(&self.log, 40)
            ))
        }
    }
}

impl Drop for BackgroundBuild {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            say("stopping the release build");
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

/// `cargo test` with the same compile-time environment as the server build.
pub fn cargo_test(paths: &Paths) -> Result {
    let mut cmd = Command::new(paths.cargo());
    cmd.args(["test", "--workspace", "--exclude", "xtask", "--features"])
        .arg(format!("leadline/{DEV_TOOLS}"))
        .current_dir(&paths.root);
    debug_build_env(&mut cmd, paths);
    run(&mut cmd)
}

/// The compile-time environment of cargo-leptos's debug build, for cargo commands of
/// our own (`test`, `check`), so they reuse its dependencies.
pub fn debug_build_env(cmd: &mut Command, paths: &Paths) {
    cmd.env(
        "RUSTFLAGS",
        debug_rustflags(std::env::var("RUSTFLAGS").ok()),
    );
    site_env(cmd, paths, Profile::Debug);
}

fn debug_rustflags(existing: Option<String>) -> String {
    match existing {
        Some(flags) if !flags.trim().is_empty() => format!("{} {LEPTOS_DEBUG_CFG}", flags.trim()),
        _ => LEPTOS_DEBUG_CFG.to_string(),
    }
}

/// Where cargo-leptos puts the site, and where the server looks for it.
fn site_env(cmd: &mut Command, paths: &Paths, profile: Profile) {
    cmd.env("LEPTOS_SITE_ROOT", paths.site(profile))
        .env("LEPTOS_SITE_PKG_DIR", "pkg")
        .env("LEPTOS_OUTPUT_NAME", APP_NAME);
}

/// Everything the server binary of `profile` needs when started outside cargo-leptos.
pub fn server_env(cmd: &mut Command, paths: &Paths, profile: Profile, pg_bin: &Path) {
    site_env(cmd, paths, profile);
    cmd.env("LEADLINE_PG_BIN", pg_bin);
    // With `hash-files` on, pages must reference the hashed file names in
    // hash.txt, and the server only does that when told to. cargo-leptos
    // reads the same Cargo.toml setting (or the same env override).
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        let enabled = hash_files_enabled(&paths.root.join("Cargo.toml"));
        cmd.env("LEPTOS_HASH_FILES", enabled.to_string());
    }
}

fn hash_files_enabled(manifest: &Path) -> bool {
    std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| hash_files_setting(&text))
        .unwrap_or(false)
}

/// The `hash-files = true|false` setting of the leptos metadata in a
/// Cargo.toml (cargo-leptos's default is false). A line scan is enough for
/// our one manifest and keeps xtask free of a TOML dependency.
fn hash_files_setting(manifest: &str) -> Option<bool> {
    manifest.lines().find_map(|line| {
        let line = line.split('#').next()?;
        let (key, value) = line.split_once('=')?;
        if key.trim() != "hash-files" {
            return None;
        }
        value.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_files_read_from_manifest() {
        let manifest = "[[workspace.metadata.leptos]]\nname = \"x\"\nhash-files = true # yes\n";
        assert_eq!(hash_files_setting(manifest), Some(true));
        assert_eq!(hash_files_setting("hash-files=false"), Some(false));
    }

    #[test]
    fn hash_files_absent_or_commented_out() {
        assert_eq!(hash_files_setting("[package]\nname = \"x\"\n"), None);
        assert_eq!(hash_files_setting("# hash-files = true\n"), None);
    }

    #[test]
    fn rustflags_keep_what_the_user_set() {
        assert_eq!(debug_rustflags(None), "--cfg erase_components");
        assert_eq!(debug_rustflags(Some("  ".into())), "--cfg erase_components");
        assert_eq!(
            debug_rustflags(Some("-C debuginfo=1".into())),
            "-C debuginfo=1 --cfg erase_components"
        );
    }
}
