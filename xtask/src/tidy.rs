//! Keeps the shared build cache from filling its disk. CI reuses one target dir
//! across fresh clones (`.ci/run`), and each build leaves incremental caches and
//! test executables under new hashes behind: some 10 GB a day of work here, until
//! a run fails half-way with "No space left on device".

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::cmd::say;

/// Below this much free space the caches of earlier builds go.
const LOW_WATER: u64 = 20 * 1024 * 1024 * 1024;
/// Executables newer than this are this build's own or a concurrent one's.
const KEEP_RECENT: Duration = Duration::from_secs(60 * 60);

/// When the disk under `target` runs low: removes the incremental caches (pure
/// speed-ups, rebuilt on demand) and the test and binary executables of earlier
/// builds. Nothing a build needs is lost; it is only slower once.
pub fn free_space_if_low(target: &Path) {
    let Some(free) = free_bytes(target) else {
        return;
    };
    if free >= LOW_WATER {
        return;
    }
    say(format!(
        "{} GiB free under {}: removing earlier builds' caches",
        free / (1024 * 1024 * 1024),
        target.display()
    ));
    for dir in build_dirs(target) {
        let _ = std::fs::remove_dir_all(dir.join("incremental"));
        remove_old_executables(&dir.join("deps"));
    }
    if let Some(after) = free_bytes(target) {
        say(format!("{} GiB free now", after / (1024 * 1024 * 1024)));
    }
}

/// The profile directories a build of ours writes: the server's, and the WASM
/// front's (cargo-leptos builds it in `front/`).
fn build_dirs(target: &Path) -> Vec<std::path::PathBuf> {
    let front = target.join("front");
    let wasm = front.join("wasm32-unknown-unknown");
    [target, front.as_path(), wasm.as_path()]
        .into_iter()
        .flat_map(|base| ["debug", "release"].map(|profile| base.join(profile)))
        .filter(|dir| dir.join("deps").is_dir())
        .collect()
}

/// Extensionless files in `deps` are the executables of test and bin targets;
/// each build writes its own under a new hash.
fn remove_old_executables(deps: &Path) {
    let Ok(entries) = std::fs::read_dir(deps) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > KEEP_RECENT);
        if old && path.is_file() && path.extension().is_none() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Free bytes on the filesystem holding `path`, from POSIX `df -Pk`.
fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let out = Command::new("df").arg("-Pk").arg(existing).output().ok()?;
    parse_df(&String::from_utf8_lossy(&out.stdout))
}

/// The "Available" column (KiB) of `df -P`'s one data line, in bytes.
fn parse_df(text: &str) -> Option<u64> {
    let line = text.lines().nth(1)?;
    let available: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(available * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_available_column_is_read_in_bytes() {
        let text = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                    /dev/vda         263174212 40063344  55555000      42% /\n";
        assert_eq!(parse_df(text), Some(55_555_000 * 1024));
        assert_eq!(parse_df("Filesystem\n"), None);
        assert_eq!(parse_df(""), None);
    }
}
