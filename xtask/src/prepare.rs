//! `cargo xtask prepare`: the query macros' cache in `.sqlx/`, described by a database
//! migrated from `migrations/`.
//!
//! Every build reads the cache (`SQLX_OFFLINE` in `.cargo/config.toml`), so no build
//! needs a database, and `tests/it/sqlx_cache.rs` fails when a cached description no
//! longer matches the schema. Run this after changing a query macro or a migration.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::SystemTime;

use crate::app;
use crate::cmd::{run, say, Result};
use crate::paths::Paths;
use crate::pg::TestCluster;
use crate::tools::{self, Browser};

const PG_PORT: u16 = 54332;
const DATABASE: &str = "leadline_prepare";
/// Where the query macros live.
const SOURCE_DIRS: [&str; 2] = ["src", "app/src"];

pub fn run_prepare(paths: &Paths) -> Result<ExitCode> {
    let tools = tools::ensure(paths, Browser::NotNeeded)?;
    let cluster = TestCluster::start(&tools.pg_bin, &paths.target.join("pgprepare"), PG_PORT)?;
    cluster.recreate_database(DATABASE)?;
    let migrations = files_ending(&paths.root.join("migrations"), ".sql")?;
    say(format!("applying {} migrations", migrations.len()));
    cluster.run_sql_files(DATABASE, &migrations)?;

    let cache = paths.root.join(".sqlx");
    fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    for old in files_ending(&cache, ".json")? {
        fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
    }
    // The macros run only when their file is compiled again, and Cargo cannot know
    // they read the environment: every source file is made newer than its build.
    for dir in SOURCE_DIRS {
        touch_rust_files(&paths.root.join(dir))?;
    }
    say("describing every query macro against the migrated schema");
    // The test build, so the dependencies `cargo xtask test` built are reused.
    let mut cmd = Command::new(paths.cargo());
    cmd.args(["test", "--no-run", "--workspace", "--exclude", "xtask"])
        .args(["--features", "leadline/dev-tools"])
        .current_dir(&paths.root)
        .env("SQLX_OFFLINE", "false")
        .env("SQLX_OFFLINE_DIR", &cache)
        .env("DATABASE_URL", cluster.url(DATABASE));
    app::debug_build_env(&mut cmd, paths);
    run(&mut cmd)?;
    say(format!(
        "{} queries cached in {}",
        files_ending(&cache, ".json")?.len(),
        cache.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The files in `dir` whose names end with `suffix`, sorted by name.
fn files_ending(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    Ok(files)
}

fn touch_rust_files(dir: &Path) -> Result {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.filter_map(std::result::Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            touch_rust_files(&path)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            fs::File::options()
                .append(true)
                .open(&path)
                .and_then(|f| f.set_modified(SystemTime::now()))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}
