//! Where things live: the repository, the Cargo target dir, and the build
//! outputs inside it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The server binary's name, also cargo-leptos's `output-name`.
pub const APP_NAME: &str = "leadline";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// The directory Cargo puts this profile's binaries in.
    pub fn dir_name(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    pub fn discover() -> Paths {
        // xtask lives one level below the repository root. `cargo run` sets the
        // manifest dir at run time too; prefer it over the compile-time value, which
        // is stale when checkouts at different paths share one target dir (CI does).
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest
            .parent()
            .expect("xtask has a parent directory")
            .to_path_buf();
        let target = resolve_target_dir(&root, std::env::var_os("CARGO_TARGET_DIR").as_deref());
        Paths { root, target }
    }

    /// cargo-leptos's site root for a profile: static assets, wasm, js and css. Each
    /// profile has its own, so a release build can go on while a debug server serves.
    pub fn site(&self, profile: Profile) -> PathBuf {
        self.target.join(match profile {
            Profile::Debug => "site",
            Profile::Release => "site-release",
        })
    }

    pub fn server_exe(&self, profile: Profile) -> PathBuf {
        self.target.join(profile.dir_name()).join(APP_NAME)
    }

    pub fn node_bin(&self) -> PathBuf {
        self.root.join("node_modules").join(".bin")
    }

    /// The cargo that started us (set by `cargo run`), so child builds use
    /// the same toolchain.
    pub fn cargo(&self) -> OsString {
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
    }

    /// `PATH` with `node_modules/.bin` first: cargo-leptos (built with
    /// `no_downloads`) looks up `tailwindcss` and `wasm-opt` on `PATH`.
    pub fn path_with_node_bin(&self) -> OsString {
        let mut dirs = vec![self.node_bin()];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).unwrap_or_else(|_| std::env::var_os("PATH").unwrap_or_default())
    }
}

/// `CARGO_TARGET_DIR` if set (relative paths are taken from the repository
/// root, which is where we run cargo), else `<root>/target`.
pub fn resolve_target_dir(root: &Path, env: Option<&OsStr>) -> PathBuf {
    match env {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dir_defaults_to_repo_target() {
        let root = Path::new("/repo");
        assert_eq!(resolve_target_dir(root, None), Path::new("/repo/target"));
        assert_eq!(
            resolve_target_dir(root, Some(OsStr::new(""))),
            Path::new("/repo/target")
        );
    }

    #[test]
    fn target_dir_from_env_absolute_or_relative() {
        let root = Path::new("/repo");
        assert_eq!(
            resolve_target_dir(root, Some(OsStr::new("/cache/t"))),
            Path::new("/cache/t")
        );
        assert_eq!(
            resolve_target_dir(root, Some(OsStr::new("build/t"))),
            Path::new("/repo/build/t")
        );
    }

    #[test]
    fn server_exe_is_per_profile() {
        let paths = Paths {
            root: "/repo".into(),
            target: "/t".into(),
        };
        assert_eq!(
            paths.server_exe(Profile::Release),
            Path::new("/t/release/leadline")
        );
        assert_eq!(
            paths.server_exe(Profile::Debug),
            Path::new("/t/debug/leadline")
        );
        assert_eq!(paths.site(Profile::Debug), Path::new("/t/site"));
        assert_eq!(paths.site(Profile::Release), Path::new("/t/site-release"));
    }
}
