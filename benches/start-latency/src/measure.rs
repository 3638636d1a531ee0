//! One timed run of a command: its wall-clock time and its peak resident
//! set size, from `wait4(2)`.
//!
//! What the RSS figure covers: `wait4` returns the child's rusage with its
//! own waited-for descendants folded in, and for `ru_maxrss` folding in is
//! a maximum, not a sum. So the figure is the largest peak of any single
//! process in the tree that was reaped inside it: the runtime, a helper it
//! forked and waited for (`runc init`, the container's init, the command
//! itself). A process reparented elsewhere (a daemon) is not counted.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a run could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The log file for the command's output.
    #[error("open the log file {0}")]
    Log(PathBuf, #[source] io::Error),
    /// The command could not be started.
    #[error("start {0:?}")]
    Spawn(String, #[source] io::Error),
    /// `wait4` failed.
    #[error("wait for {0:?}")]
    Wait(String, #[source] io::Error),
    /// The command did not succeed: timing a failure times the wrong work.
    #[error("{command:?} {how}; its output:\n{output}")]
    Failed {
        /// The command line.
        command: String,
        /// "exited with 1", "was killed by signal 9".
        how: String,
        /// What it wrote (both streams).
        output: String,
    },
}

/// What one run took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// From just before the fork to just after the reap.
    pub wall: Duration,
    /// The peak RSS, in KiB (see the module's doc for whose).
    pub max_rss_kib: u64,
}

/// Runs commands with their output sent to one log file, emptied before
/// each run and shown only when a run fails.
pub struct Runner {
    log_path: PathBuf,
    log: File,
}

impl Runner {
    /// A runner logging to `log_path`.
    pub fn new(log_path: &Path) -> Result<Runner, MeasureError> {
        // Append mode: every writer (the runtime, the container) writes at
        // the end, however the file was emptied before.
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|e| MeasureError::Log(log_path.to_path_buf(), e))?;
        Ok(Runner { log_path: log_path.to_path_buf(), log })
    }

    /// Runs `argv` once, stdin from /dev/null, and measures it. A command
    /// that exits other than 0 is an error carrying its output.
    pub fn run(&self, argv: &[String]) -> Result<Sample, MeasureError> {
        let line = argv.join(" ");
        let log_error = |e| MeasureError::Log(self.log_path.clone(), e);
        self.log.set_len(0).map_err(log_error)?;
        let stdout = self.log.try_clone().map_err(log_error)?;
        let stderr = self.log.try_clone().map_err(log_error)?;
        let (program, args) = argv.split_first().ok_or_else(|| {
            MeasureError::Spawn(line.clone(), io::Error::new(io::ErrorKind::InvalidInput, "empty command"))
        })?;
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        // A real fork(), not the vfork-like clone that std's posix_spawn
        // path uses: exec records the peak RSS of the memory it replaces,
        // and after a vfork that is *this* program's, which would put a
        // floor of several MiB under every figure. A forked child's memory
        // counts only the anonymous pages it copied (file mappings are not
        // copied at fork), a few hundred KiB. std forks whenever a
        // `pre_exec` hook is set, so an empty hook is what it takes.
        // SAFETY: the hook does nothing, which is async-signal-safe.
        unsafe { command.pre_exec(|| Ok(())) };

        let started = Instant::now();
        let child = command.spawn().map_err(|e| MeasureError::Spawn(line.clone(), e))?;
        let (status, usage) = wait4(child.id()).map_err(|e| MeasureError::Wait(line.clone(), e))?;
        let wall = started.elapsed();
        // The child is reaped: std's handle must not wait for it again,
        // and dropping a `Child` does not.
        drop(child);

        if let Some(how) = failure(status) {
            let output = fs::read_to_string(&self.log_path).unwrap_or_default();
            return Err(MeasureError::Failed { command: line, how, output });
        }
        // Linux reports ru_maxrss in KiB.
        Ok(Sample { wall, max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0) })
    }
}

/// Waits for process `pid` and returns its wait status and rusage.
fn wait4(pid: u32) -> io::Result<(libc::c_int, libc::rusage)> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: all zeroes is a valid rusage (integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types, and
        // `pid` is our own child, not yet reaped.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// How a wait status is a failure, in words; `None` for exit code 0.
fn failure(status: libc::c_int) -> Option<String> {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        return (code != 0).then(|| format!("exited with {code}"));
    }
    if libc::WIFSIGNALED(status) {
        return Some(format!("was killed by signal {}", libc::WTERMSIG(status)));
    }
    Some(format!("ended with wait status {status:#x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(name: &str) -> (Runner, PathBuf) {
        let path = std::env::temp_dir().join(format!("greenroom-start-latency-{name}-{}.log", std::process::id()));
        (Runner::new(&path).expect("log"), path)
    }

    #[test]
    fn a_run_is_timed_and_its_peak_rss_read() {
        let (runner, path) = runner("ok");
        let sample = runner.run(&["true".to_string()]).expect("true runs");
        assert!(sample.wall > Duration::ZERO);
        // Any process that ran has touched some memory.
        assert!(sample.max_rss_kib > 0, "{sample:?}");
        let _ = fs::remove_file(path);
    }

    #[test]
    fn a_failing_command_is_an_error_with_its_output() {
        let (runner, path) = runner("fail");
        let argv = ["sh", "-c", "echo first >&2; exit 3"].map(String::from);
        match runner.run(&argv) {
            Err(MeasureError::Failed { how, output, .. }) => {
                assert_eq!(how, "exited with 3");
                assert_eq!(output.trim(), "first");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        // The log is emptied before each run: only this run's output shows.
        let argv = ["sh", "-c", "echo second; exit 1"].map(String::from);
        match runner.run(&argv) {
            Err(MeasureError::Failed { output, .. }) => assert_eq!(output.trim(), "second"),
            other => panic!("expected a failure, got {other:?}"),
        }
        let _ = fs::remove_file(path);
    }

    #[test]
    fn a_missing_program_cannot_be_started() {
        let (runner, path) = runner("missing");
        assert!(matches!(runner.run(&["/nonexistent/program".to_string()]), Err(MeasureError::Spawn(..))));
        let _ = fs::remove_file(path);
    }
}
