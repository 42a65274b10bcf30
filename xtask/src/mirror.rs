//! `cargo xtask test` builds from a copy of the checkout kept at one path inside the
//! target dir, whatever path the checkout itself has.
//!
//! rustc tracks its working directory as a compiler option: when it differs from the
//! last build's, it throws the crate's whole incremental cache away (`--remap-path-prefix`
//! does not stop that). CI builds a fresh clone each time, and its path need not match
//! the previous build's: the release server then rebuilt from scratch, 9 to 14 minutes
//! of every run, where the same path takes under a minute (DECISIONS 104). The copy also
//! keeps the modification time of every file whose content did not change, so Cargo
//! recompiles only the crates that did change, not every crate of a fresh clone.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{say, stdout_of, Result};
use crate::paths::Paths;

/// Where the copy lives, under the (shared) target dir.
const MIRROR_DIR: &str = "checkout";

/// Brings the copy up to date with the checkout's files (tracked, and untracked ones
/// git does not ignore, as they are on disk) and returns the paths to build from.
pub fn sync(paths: &Paths) -> Result<Paths> {
    let mirror = paths.target.join(MIRROR_DIR);
    let files = checkout_files(&paths.root)?;
    let mut written = 0;
    for file in &files {
        let from = paths.root.join(file);
        // Deleted in the working tree but still in git's index: gone for the build too.
        if !from.is_file() {
            continue;
        }
        let to = mirror.join(file);
        if copy_if_changed(&from, &to)? {
            written += 1;
        }
    }
    let keep: HashSet<PathBuf> = files.into_iter().collect();
    let removed = remove_others(&mirror, &mirror, &keep)?;
    link_node_modules(&paths.root, &mirror)?;
    say(format!(
        "building from {} ({written} files updated, {removed} removed)",
        mirror.display()
    ));
    Ok(Paths {
        root: mirror,
        target: paths.target.clone(),
    })
}

/// The checkout's files, relative to its root: what git tracks plus what it would.
fn checkout_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut git = Command::new("git");
    git.args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ])
    .current_dir(root);
    let listing = stdout_of(&mut git)
        .ok_or_else(|| format!("`git ls-files` failed in {}", root.display()))?;
    let mut files: Vec<PathBuf> = listing
        .split('\0')
        .filter(|name| !name.is_empty())
        .map(PathBuf::from)
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Copies `from` over `to` unless `to` already has the same bytes (and so keeps its
/// modification time). True if it wrote.
fn copy_if_changed(from: &Path, to: &Path) -> Result<bool> {
    let wanted = fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    if fs::read(to).is_ok_and(|have| have == wanted) && same_permissions(from, to) {
        return Ok(false);
    }
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // A symlink left where a file now belongs would be written through.
    if to.is_symlink() {
        fs::remove_file(to).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    fs::copy(from, to)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    Ok(true)
}

fn same_permissions(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.permissions() == b.permissions(),
        _ => false,
    }
}

/// Deletes what the checkout no longer has (and directories left empty), but not the
/// `node_modules` link. Returns how many files went.
fn remove_others(mirror: &Path, dir: &Path, keep: &HashSet<PathBuf>) -> Result<usize> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let relative = path.strip_prefix(mirror).unwrap_or(&path).to_path_buf();
        if relative == Path::new("node_modules") {
            continue;
        }
        if path.is_dir() && !path.is_symlink() {
            removed += remove_others(mirror, &path, keep)?;
            // Fails, as it should, while anything is left inside.
            let _ = fs::remove_dir(&path);
        } else if !keep.contains(&relative) {
            fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Tailwind (run by cargo-leptos) and Playwright resolve their packages from the
/// project's `node_modules`: the copy points at the checkout's, which `npm ci` filled.
fn link_node_modules(root: &Path, mirror: &Path) -> Result {
    let target = root.join("node_modules");
    let link = mirror.join("node_modules");
    if fs::read_link(&link).is_ok_and(|current| current == target) {
        return Ok(());
    }
    if link.is_symlink() || link.is_file() {
        fs::remove_file(&link).map_err(|e| format!("{}: {e}", link.display()))?;
    } else if link.is_dir() {
        fs::remove_dir_all(&link).map_err(|e| format!("{}: {e}", link.display()))?;
    }
    std::os::unix::fs::symlink(&target, &link)
        .map_err(|e| format!("linking {} to {}: {e}", link.display(), target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-mirror-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mtime(path: &Path) -> SystemTime {
        fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn an_unchanged_file_keeps_its_time_and_a_changed_one_is_rewritten() {
        let dir = scratch("copy");
        let (from, to) = (dir.join("a.rs"), dir.join("out/a.rs"));
        fs::write(&from, "fn a() {}").unwrap();
        assert!(copy_if_changed(&from, &to).unwrap());
        let old = SystemTime::now() - Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&to)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!copy_if_changed(&from, &to).unwrap());
        assert_eq!(mtime(&to), old);
        fs::write(&from, "fn a() { b() }").unwrap();
        assert!(copy_if_changed(&from, &to).unwrap());
        assert_eq!(fs::read_to_string(&to).unwrap(), "fn a() { b() }");
        assert!(mtime(&to) > old);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_the_checkout_dropped_are_removed_and_node_modules_stays() {
        let mirror = scratch("prune");
        fs::create_dir_all(mirror.join("src/gone")).unwrap();
        fs::write(mirror.join("src/kept.rs"), "").unwrap();
        fs::write(mirror.join("src/gone/old.rs"), "").unwrap();
        fs::create_dir_all(mirror.join("node_modules/x")).unwrap();
        let keep: HashSet<PathBuf> = [PathBuf::from("src/kept.rs")].into_iter().collect();
        assert_eq!(remove_others(&mirror, &mirror, &keep).unwrap(), 1);
        assert!(mirror.join("src/kept.rs").is_file());
        assert!(!mirror.join("src/gone").exists());
        assert!(mirror.join("node_modules/x").is_dir());
        fs::remove_dir_all(&mirror).unwrap();
    }
}
