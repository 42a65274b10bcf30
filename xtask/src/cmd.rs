//! Small helpers around `std::process::Command`: uniform progress output and
//! error messages that say which command failed.

use std::ffi::OsStr;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// Errors are plain messages: every one ends up printed for a human.
pub type Result<T = ()> = std::result::Result<T, String>;

/// Prints a progress line. Everything xtask says starts with `xtask` and the minutes
/// and seconds since it started, so it stands out among the output of the tools it
/// drives and a CI log shows where its time went.
pub fn say(message: impl Display) {
    let elapsed = started().elapsed().as_secs();
    println!("xtask {:02}:{:02}: {message}", elapsed / 60, elapsed % 60);
}

/// When xtask started: `main` asks first, so every later line counts from there.
pub fn started() -> Instant {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

/// A copy-pasteable rendering of a command, for progress and error lines.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Runs a command with inherited stdio; non-zero exit is an error.
pub fn run(cmd: &mut Command) -> Result {
    let shown = describe(cmd);
    say(format!("$ {shown}"));
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs a command quietly, showing its output only if it fails: for chatty
/// tools (initdb, pg_ctl) whose output only matters when something is wrong.
pub fn run_quiet(cmd: &mut Command) -> Result {
    let shown = describe(cmd);
    say(format!("$ {shown}"));
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    Err(format!("`{shown}` failed ({})", out.status))
}

/// Stdout of a successful command, or `None` if it is missing or failed.
/// Used for probes such as `--version`, where failure just means "absent".
pub fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Searches `PATH` for an executable, like `command -v`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether we run as root. Asks `id -u` because std has no geteuid and the
/// crate stays free of dependencies and unsafe code.
pub fn is_root() -> bool {
    stdout_of(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

/// A command that runs `program args...` with root privileges: directly when
/// we are root, through sudo otherwise.
pub fn as_root<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<Command> {
    let mut cmd = if is_root() {
        Command::new(program)
    } else if on_path("sudo").is_some() {
        let mut sudo = Command::new("sudo");
        sudo.arg(program);
        sudo
    } else {
        return Err(format!(
            "`{program}` needs root privileges, and we are neither root nor is sudo available"
        ));
    };
    cmd.args(args);
    Ok(cmd)
}

/// `apt-get install`s packages (Debian/Ubuntu), refreshing the index first.
pub fn apt_install(packages: &[&str]) -> Result {
    if on_path("apt-get").is_none() {
        return Err(format!(
            "apt-get not found; install {} by hand",
            packages.join(" ")
        ));
    }
    // Once per run: a fresh machine may need python3-venv, chromium and PostgreSQL.
    static UPDATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !UPDATED.load(std::sync::atomic::Ordering::Relaxed) {
        run(&mut as_root("apt-get", &["update"])?)?;
        UPDATED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // Going through `env` keeps the variable when sudo resets the environment.
    let mut args = vec![
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
    ];
    args.extend_from_slice(packages);
    run(&mut as_root("env", &args)?)
}

/// The last `lines` lines of a text file, for showing logs after a failure.
pub fn tail(path: &Path, lines: usize) -> String {
    tail_matching(path, lines, |_| true)
}

/// The last `lines` lines of a file that `keep` accepts.
pub fn tail_matching(path: &Path, lines: usize, keep: impl Fn(&str) -> bool) -> String {
    match std::fs::read(path) {
        Ok(bytes) => last_lines(&String::from_utf8_lossy(&bytes), lines, keep),
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

fn last_lines(text: &str, n: usize, keep: impl Fn(&str) -> bool) -> String {
    let kept: Vec<&str> = text.lines().filter(|line| keep(line)).collect();
    kept[kept.len().saturating_sub(n)..].join("\n")
}

/// Quotes a word for `/bin/sh`, which is how pg_ctl hands `-o` to postgres.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_end() {
        let all = |_: &str| true;
        assert_eq!(last_lines("a\nb\nc\n", 2, all), "b\nc");
        assert_eq!(last_lines("a\nb", 10, all), "a\nb");
        assert_eq!(last_lines("", 3, all), "");
        assert_eq!(
            last_lines("a1\nb\na2\nc", 5, |l| l.starts_with('a')),
            "a1\na2"
        );
    }

    #[test]
    fn shell_quote_leaves_plain_words_alone() {
        assert_eq!(shell_quote("/tmp/pg-test_1"), "/tmp/pg-test_1");
        assert_eq!(shell_quote("fsync=off"), "fsync=off");
    }

    #[test]
    fn shell_quote_protects_spaces_and_quotes() {
        assert_eq!(shell_quote("/a b"), "'/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn describe_joins_program_and_args() {
        let mut cmd = Command::new("pg_ctl");
        cmd.args(["-D", "/x", "start"]);
        assert_eq!(describe(&cmd), "pg_ctl -D /x start");
    }
}
