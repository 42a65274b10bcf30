//! A private PostgreSQL cluster for when no `DATABASE_URL` is given: initialised once
//! under the project, started on its own port, stopped when the server exits.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct EmbeddedPg {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    /// PostgreSQL refuses to run as root; as root we run it as this user.
    run_as: Option<&'static str>,
    pub url: String,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `initdb` on PATH (resolving symlinks to reach its sibling `pg_ctl`), else the
/// newest `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir(configured: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = configured {
        return Ok(dir.to_path_buf());
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("initdb");
            if let Ok(real) = std::fs::canonicalize(&candidate) {
                if let Some(parent) = real.parent().filter(|p| p.join("pg_ctl").exists()) {
                    return Ok(parent.to_path_buf());
                }
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| {
            "PostgreSQL server binaries not found: install PostgreSQL or set DATABASE_URL"
                .to_string()
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "no /usr/lib/postgresql/*/bin/initdb: install PostgreSQL or set DATABASE_URL".into()
    })
}

impl EmbeddedPg {
    pub fn start(data_dir: &Path, port: u16, bin: Option<&Path>) -> Result<EmbeddedPg, String> {
        let bin_dir = find_bin_dir(bin)?;
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let data_dir = std::fs::canonicalize(data_dir).map_err(|e| e.to_string())?;
        let run_as = is_root().then_some("postgres");
        let pg = EmbeddedPg {
            url: format!("postgres://postgres@127.0.0.1:{port}/leadline"),
            data_dir,
            bin_dir,
            run_as,
        };
        if let Some(user) = run_as {
            pg.run(Command::new("chown").args(["-R", user]).arg(&pg.data_dir))?;
        }
        if !pg.data_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %pg.data_dir.display(), "initialising a private PostgreSQL cluster");
            pg.run(pg.tool("initdb").arg("-D").arg(&pg.data_dir).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]))?;
        }
        // A cluster left running by a crash is reused; `status` exits 0 if it runs.
        if !pg
            .tool("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&pg.data_dir)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            let opts = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {}",
                pg.data_dir.display()
            );
            pg.run(
                pg.tool("pg_ctl")
                    .arg("-D")
                    .arg(&pg.data_dir)
                    .args(["-o", &opts, "-l"])
                    .arg(pg.data_dir.join("server.log"))
                    .args(["-w", "start"]),
            )?;
        }
        tracing::info!(port, "private PostgreSQL is up");
        Ok(pg)
    }

    pub fn server_url(&self) -> String {
        self.url.replace("/leadline", "/postgres")
    }

    fn tool(&self, name: &str) -> Command {
        let exe = self.bin_dir.join(name);
        match self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(exe);
                cmd
            }
            None => Command::new(exe),
        }
    }

    fn run(&self, cmd: &mut Command) -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Restarts the cluster (fast shutdown: open connections are cut), for the drills.
    /// With its log file, as at start: a server writing to our pipe would keep
    /// `output()` waiting for as long as it runs.
    pub fn restart(&self) -> Result<(), String> {
        self.run(
            self.tool("pg_ctl")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(self.data_dir.join("server.log"))
                .args(["-m", "fast", "-w", "restart"]),
        )
    }

    pub fn stop(&self) {
        let result = self.run(
            self.tool("pg_ctl")
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "fast", "-w", "stop"]),
        );
        match result {
            Ok(()) => tracing::info!("private PostgreSQL stopped"),
            Err(e) => tracing::warn!(error = %e, "stopping private PostgreSQL"),
        }
    }
}
