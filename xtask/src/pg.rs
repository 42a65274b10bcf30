//! A throwaway PostgreSQL cluster for the test suites, created fresh on
//! every run and stopped when the guard is dropped, whatever happened.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, on_path, run_quiet, say, shell_quote, tail, Result};

/// Settings that trade durability (worthless for a test cluster) for
/// speed, plus enough connections for parallel integration tests.
const SERVER_SETTINGS: &str = "-c listen_addresses=127.0.0.1 -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
    -c shared_buffers=256MB";

pub struct TestCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// PostgreSQL refuses to run as root, so as root we act as `postgres`.
    as_postgres: bool,
    running: bool,
}

impl TestCluster {
    /// Wipes `preferred_dir`, initialises a cluster there and starts it.
    pub fn start(bin: &Path, preferred_dir: &Path, port: u16) -> Result<TestCluster> {
        let as_postgres = cmd::is_root();
        if as_postgres {
            check_can_switch_to_postgres()?;
        }
        let mut cluster = TestCluster {
            bin: bin.to_path_buf(),
            data: choose_data_dir(preferred_dir, port, as_postgres),
            port,
            as_postgres,
            running: false,
        };
        say(format!(
            "starting test PostgreSQL on port {port} in {}",
            cluster.data.display()
        ));
        cluster.stop_stale();
        cluster.init()?;
        // Set before starting: a server that came up half-way (e.g. pg_ctl
        // timed out waiting) must still be stopped by Drop.
        cluster.running = true;
        cluster.launch()?;
        Ok(cluster)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Drops and re-creates a database so each run starts from nothing.
    pub fn recreate_database(&self, name: &str) -> Result {
        run_quiet(self.client("dropdb").args(["--if-exists", name]))?;
        run_quiet(self.client("createdb").arg(name))
    }

    /// Runs SQL files in `database`, in order, as one transaction that stops at the
    /// first error.
    pub fn run_sql_files(&self, database: &str, files: &[PathBuf]) -> Result {
        let mut psql = self.client("psql");
        psql.args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", database]);
        for file in files {
            psql.arg("-f").arg(file);
        }
        run_quiet(&mut psql)
    }

    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        say("stopping test PostgreSQL");
        if let Err(e) = run_quiet(&mut self.pg_ctl_stop()) {
            eprintln!("xtask: warning: {e}");
        }
    }

    /// A cluster left running by an interrupted run would hold the port and
    /// the files we are about to delete.
    fn stop_stale(&self) {
        if self.data.join("postmaster.pid").exists() {
            say("stopping a test PostgreSQL left over from an earlier run");
            // Failure is fine: the pid file may be stale with no server.
            let _ = run_quiet(&mut self.pg_ctl_stop());
        }
    }

    fn init(&self) -> Result {
        let data = &self.data;
        if data.exists() {
            std::fs::remove_dir_all(data)
                .map_err(|e| format!("could not remove {}: {e}", data.display()))?;
        }
        std::fs::create_dir_all(data)
            .map_err(|e| format!("could not create {}: {e}", data.display()))?;
        if self.as_postgres {
            run_quiet(Command::new("chown").args(["-R", "postgres"]).arg(data))?;
        }
        run_quiet(self.server_tool("initdb").arg("-D").arg(data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]))
    }

    fn launch(&self) -> Result {
        let log = self.data.join("log");
        let options = server_options(&self.data, self.port);
        let mut start = self.server_tool("pg_ctl");
        start
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(&log)
            .args(["-w", "start"]);
        run_quiet(&mut start)
            .map_err(|e| format!("{e}\nlast lines of {}:\n{}", log.display(), tail(&log, 40)))
    }

    fn pg_ctl_stop(&self) -> Command {
        let mut stop = self.server_tool("pg_ctl");
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"]);
        stop
    }

    /// initdb / pg_ctl, run as `postgres` when we are root.
    fn server_tool(&self, name: &str) -> Command {
        let exe = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(exe);
            runuser
        } else {
            Command::new(exe)
        };
        // Our working directory may be unreadable for `postgres` (/root).
        cmd.current_dir("/");
        cmd
    }

    /// createdb / dropdb: plain clients over TCP, any user will do.
    fn client(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(name));
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ]);
        cmd
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn check_can_switch_to_postgres() -> Result {
    if on_path("runuser").is_none() {
        return Err("running as root, but `runuser` (util-linux) is missing; \
                    it is needed to run PostgreSQL as the `postgres` user"
            .into());
    }
    let exists = Command::new("id")
        .arg("postgres")
        .output()
        .is_ok_and(|out| out.status.success());
    if exists {
        Ok(())
    } else {
        Err(
            "running as root, but there is no `postgres` user to run PostgreSQL as; \
             create one (e.g. `useradd --system postgres`)"
                .into(),
        )
    }
}

/// `preferred`, unless we hand the cluster to `postgres` and that user
/// cannot reach it (a target dir under /root, as in CI): then a dir in /tmp.
fn choose_data_dir(preferred: &Path, port: u16, as_postgres: bool) -> PathBuf {
    if !as_postgres || traversable_by_others(preferred) {
        return preferred.to_path_buf();
    }
    let fallback = std::env::temp_dir().join(format!("leadline-pgtest-{port}"));
    say(format!(
        "{} is not reachable for the postgres user; using {} instead",
        preferred.display(),
        fallback.display()
    ));
    fallback
}

/// Whether every existing ancestor of `path` lets other users through.
/// Missing ones will be created by us with the usual 755.
fn traversable_by_others(path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .filter_map(|dir| std::fs::metadata(dir).ok())
        .all(|meta| meta.permissions().mode() & 0o001 != 0)
}

/// The `pg_ctl -o` string: our port, the socket in the data dir (so test
/// clusters never collide with a system one), and the speed settings.
fn server_options(data: &Path, port: u16) -> String {
    let socket_dir = shell_quote(&data.to_string_lossy());
    format!("-p {port} -k {socket_dir} {SERVER_SETTINGS}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_carry_port_socket_dir_and_settings() {
        let options = server_options(Path::new("/t/pg test"), 54331);
        assert!(options.starts_with("-p 54331 -k '/t/pg test' -c listen_addresses=127.0.0.1"));
        assert!(options.ends_with("-c shared_buffers=256MB"));
        assert!(options.contains("-c max_connections=300"));
    }

    #[test]
    fn private_dirs_are_not_traversable() {
        let base = std::env::temp_dir().join(format!("xtask-perm-test-{}", std::process::id()));
        let private = base.join("private");
        std::fs::create_dir_all(private.join("inner")).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();

        let through_private = traversable_by_others(&private.join("inner").join("pg"));
        let beside_private = traversable_by_others(&base.join("open").join("pg"));
        std::fs::remove_dir_all(&base).unwrap();

        assert!(!through_private);
        assert!(beside_private);
    }

    #[test]
    fn data_dir_kept_when_not_switching_user() {
        let dir = Path::new("/root/x/pgtest");
        assert_eq!(choose_data_dir(dir, 1, false), dir);
    }
}
