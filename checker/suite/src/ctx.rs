//! What a test works with: the runtime under test, the probe, a scratch
//! directory, and a runner that enforces a deadline and resource limits.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::protocol::Status;
use crate::sandbox::RunCgroup;

/// Why a test did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `Fail`, `Timeout` or `Error`.
    pub status: Status,
    /// What went wrong, for the learner.
    pub message: String,
    /// The value the test wanted, if it compares one.
    pub expected: Option<String>,
    /// The value it found.
    pub actual: Option<String>,
}

impl Failure {
    /// A failure of the runtime under test.
    pub fn fail(message: impl Into<String>) -> Failure {
        Failure { status: Status::Fail, message: message.into(), expected: None, actual: None }
    }

    /// A fault of the grading itself, not of the learner's code.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure { status: Status::Error, ..Failure::fail(message) }
    }

    /// Adds what was expected and what was found.
    pub fn compare(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }
}

/// Fails with `message` unless `expected == actual`.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(message: &str, expected: T, actual: T) -> Result<(), Failure> {
    if expected == actual {
        Ok(())
    } else {
        Err(Failure::fail(message).compare(format!("{expected:?}"), format!("{actual:?}")))
    }
}

/// How one run of the runtime ended, and what it printed.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// The cgroups left inside the run's own cgroup once the runtime had
    /// exited, before the suite swept them away (chapter 6: none).
    pub cgroups_left: Vec<String>,
}

impl Run {
    /// "exit code 3", "killed by signal 9", plus why when the runtime
    /// panicked — the most common reason on a fresh starter.
    pub fn describe(&self) -> String {
        let ending = match (self.code, self.signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("the runtime was killed by signal {signal}"),
            (None, None) => "no exit status".to_string(),
        };
        match self.panic_message() {
            Some(panic) => format!("{ending}: the runtime panicked: {panic}"),
            None if self.stderr.trim().is_empty() => ending,
            None => format!("{ending}, stderr: {}", clip(self.stderr.trim(), 300)),
        }
    }

    /// The first line of a Rust panic message on stderr, if there is one.
    pub fn panic_message(&self) -> Option<String> {
        let mut lines = self.stderr.lines();
        lines.find(|line| line.contains("panicked at"))?;
        Some(clip(lines.next().unwrap_or("(no message)").trim(), 160))
    }

    /// Fails unless the runtime exited with `code`.
    pub fn expect_code(&self, code: i32, what: &str) -> Result<(), Failure> {
        if self.code == Some(code) {
            return Ok(());
        }
        Err(Failure::fail(what).compare(format!("exit code {code}"), self.describe()))
    }
}

/// The subset of the probe's report the tests read.
#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    /// Hostname inside.
    pub hostname: Option<String>,
    /// Pid inside.
    pub pid: u32,
    /// Parent pid inside.
    pub ppid: Option<u32>,
    /// Arguments received.
    pub argv: Vec<String>,
    /// Environment received.
    pub env: std::collections::BTreeMap<String, String>,
    /// Namespace identities by kind.
    pub namespaces: std::collections::BTreeMap<String, String>,
    /// Pids listed in the container's /proc.
    pub visible_pids: Option<Vec<u32>>,
    /// The container's /proc/self/mountinfo.
    pub mountinfo: Option<Vec<String>>,
    /// The container's /dev.
    pub dev: Option<Vec<DevEntry>>,
    /// The probe's working directory.
    pub cwd: Option<String>,
    /// Interfaces, addresses and routes inside (chapter 4).
    pub network: Option<crate::chapters::ch04_net::Network>,
}

/// One entry of the container's /dev.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DevEntry {
    /// Its name.
    pub name: String,
    /// char, block, dir, link, file or other.
    pub kind: String,
    /// Device number.
    pub major: Option<u64>,
    /// Device number.
    pub minor: Option<u64>,
    /// A link's target.
    pub target: Option<String>,
}

/// A runtime started but not yet finished (see [`Ctx::spawn`]).
pub struct Running {
    child: Child,
    cgroup: Option<RunCgroup>,
    output: mpsc::Receiver<(bool, String)>,
    deadline: Instant,
}

impl Running {
    /// The runtime's pid, as the suite sees it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the runtime to end, killing everything it started if the
    /// deadline passes first.
    pub fn wait(mut self) -> Result<Run, Failure> {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= self.deadline => break None,
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(err) => return Err(Failure::error(format!("wait for the runtime: {err}"))),
            }
        };
        let cgroups_left = self.cgroup.as_ref().map(RunCgroup::children).unwrap_or_default();
        // Whatever the runtime left running (a container that outlived it,
        // a fork bomb) goes now, so the next test starts clean.
        self.kill_all();
        let _ = self.child.wait();
        let (mut stdout, mut stderr) = (String::new(), String::new());
        for _ in 0..2 {
            match self.output.recv_timeout(Duration::from_secs(2)) {
                Ok((true, text)) => stdout = text,
                Ok((false, text)) => stderr = text,
                Err(_) => break,
            }
        }
        let Some(status) = status else {
            return Err(Failure {
                status: Status::Timeout,
                message: "the runtime did not finish in time and was killed: does it wait for the \
                          right process, and does the container's command ever start?"
                    .to_string(),
                expected: None,
                actual: None,
            });
        };
        Ok(Run { code: status.code(), signal: status.signal(), stdout, stderr, cgroups_left })
    }

    fn kill_all(&mut self) {
        match &self.cgroup {
            Some(cgroup) => cgroup.kill_all(),
            None => {
                let pgid = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
                let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// The state one test runs with.
pub struct Ctx {
    /// The runtime under test.
    pub runtime: PathBuf,
    /// The probe binary.
    pub probe: PathBuf,
    /// A fresh, empty directory for this test.
    pub scratch: PathBuf,
    /// How long one run of the runtime may take.
    pub timeout: Duration,
    /// The last command run, shell-quoted, for the report.
    pub last_command: Option<String>,
    /// Where to make a cgroup per run, when cgroup v2 is available.
    pub cgroup_parent: Option<PathBuf>,
    /// Run the runtime as this uid and gid rather than as root (see
    /// [`crate::user`]); `None`: as the suite itself.
    pub run_as: Option<(u32, u32)>,
    runs: u32,
}

impl Ctx {
    /// A context for one test.
    pub fn new(runtime: &Path, probe: &Path, scratch: &Path, timeout: Duration, cgroup_parent: Option<PathBuf>) -> Ctx {
        Ctx {
            runtime: runtime.to_path_buf(),
            probe: probe.to_path_buf(),
            scratch: scratch.to_path_buf(),
            timeout,
            last_command: None,
            cgroup_parent,
            run_as: None,
            runs: 0,
        }
    }

    /// The probe's path as text, for command lines.
    pub fn probe(&self) -> String {
        self.probe.display().to_string()
    }

    /// A path in the scratch directory.
    pub fn scratch_path(&self, name: &str) -> String {
        self.scratch.join(name).display().to_string()
    }

    /// Starts `runtime run FLAGS -- COMMAND` with `env` added.
    pub fn spawn(&mut self, flags: &[&str], command: &[&str], env: &[(&str, &str)]) -> Result<Running, Failure> {
        let mut args: Vec<&str> = vec!["run"];
        args.extend_from_slice(flags);
        args.push("--");
        args.extend_from_slice(command);
        self.spawn_raw(&args, env)
    }

    /// Starts the runtime with exactly `args`.
    pub fn spawn_raw(&mut self, args: &[&str], env: &[(&str, &str)]) -> Result<Running, Failure> {
        self.last_command = Some(match self.run_as {
            // To repeat it by hand as that user, as root: setpriv (util-linux).
            Some((uid, gid)) => {
                format!("setpriv --reuid={uid} --regid={gid} --clear-groups {}", shell_line(&self.runtime, args, env))
            }
            None => shell_line(&self.runtime, args, env),
        });
        self.runs += 1;
        let cgroup = match &self.cgroup_parent {
            Some(parent) => Some(
                RunCgroup::create(parent, self.runs)
                    .map_err(|e| Failure::error(format!("create the test's cgroup: {e}")))?,
            ),
            None => None,
        };
        let mut command = Command::new(&self.runtime);
        command.args(args).envs(env.iter().copied()).stdin(Stdio::null());
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        if let Some(cgroup) = &cgroup {
            cgroup.enter_on_exec(&mut command);
        }
        if let Some((uid, gid)) = self.run_as {
            crate::user::drop_to(&mut command, uid, gid);
        }
        let mut child =
            command.spawn().map_err(|e| Failure::error(format!("start {}: {e}", self.runtime.display())))?;
        let (sender, output) = mpsc::channel();
        for (is_stdout, pipe) in [
            (true, child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
            (false, child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    // Keep at most 1 MiB: a runaway runtime must not fill memory.
                    let _ = pipe.by_ref().take(1 << 20).read_to_end(&mut bytes);
                    let _ = std::io::copy(&mut pipe, &mut std::io::sink());
                }
                let _ = sender.send((is_stdout, String::from_utf8_lossy(&bytes).into_owned()));
            });
        }
        Ok(Running { child, cgroup, output, deadline: Instant::now() + self.timeout })
    }

    /// Runs `runtime run FLAGS -- COMMAND` to the end.
    pub fn run(&mut self, flags: &[&str], command: &[&str]) -> Result<Run, Failure> {
        self.spawn(flags, command, &[])?.wait()
    }

    /// Runs the probe's `report` in a container made with `flags` and
    /// parses it. The runtime must exit with 0.
    pub fn report(&mut self, flags: &[&str]) -> Result<Report, Failure> {
        let probe = self.probe();
        let run = self.run(flags, &[&probe, "report"])?;
        parse_report(&run)
    }

    /// Writes a fresh rootfs (busybox and the probe, as `/probe`) in the
    /// scratch directory and returns its path.
    pub fn rootfs(&mut self) -> Result<String, Failure> {
        let dir = self.scratch.join("rootfs");
        crate::rootfs::write_rootfs(&dir, &self.probe).map_err(|e| Failure::error(format!("write a rootfs: {e}")))?;
        Ok(dir.display().to_string())
    }
}

/// The identity of the suite's own namespace of `kind` (`uts`, `pid`, …):
/// the host's, as far as the container is concerned.
pub fn host_namespace(kind: &str) -> Result<String, Failure> {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .map(|link| link.display().to_string())
        .map_err(|e| Failure::error(format!("read the host's {kind} namespace: {e}")))
}

/// The suite's own mount table. Unreadable means a container's /proc was
/// mounted over the host's — a mount that leaked for want of MS_PRIVATE.
pub fn host_mountinfo() -> Result<String, Failure> {
    std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
        Failure::fail(format!(
            "the host's /proc/self/mountinfo cannot be read ({e}): a container's /proc replaced the host's — \
             make every mount private (MS_REC | MS_PRIVATE) before mounting"
        ))
    })
}

/// Reads the probe's JSON from a run's stdout.
pub fn parse_report(run: &Run) -> Result<Report, Failure> {
    run.expect_code(0, "the container running the probe should exit with 0")?;
    let line = run.stdout.lines().rev().find(|line| line.starts_with('{'));
    let line = line.ok_or_else(|| {
        Failure::fail("the probe's report did not reach stdout: is the command's output relayed?")
            .compare("a JSON line from the probe", clip(&run.stdout, 300))
    })?;
    serde_json::from_str(line).map_err(|e| Failure::fail(format!("the probe's report is garbled: {e}")))
}

fn shell_line(runtime: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let env = env.iter().map(|(key, value)| format!("{key}={}", quote(value)));
    let words = std::iter::once(quote(&runtime.display().to_string())).chain(args.iter().map(|a| quote(a)));
    env.chain(words).collect::<Vec<_>>().join(" ")
}

/// Quotes `word` for a POSIX shell when it needs it.
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// At most `max` characters of `text`, marked when cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
