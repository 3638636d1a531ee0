//! What a test works with: the runtime under test, the probe, a scratch
//! directory, and a runner that enforces a deadline and resource limits.

use std::collections::HashMap;
use std::io::Read;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use contract::{Document, Envelope, Nonce, Report};

use crate::protocol::Status;
use crate::rootfs::Template;
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
    /// The processes left in the run's cgroup once the runtime had exited,
    /// before the suite killed them (`None` without a cgroup per run).
    pub processes_left: Option<Vec<u32>>,
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
            // The location, as Rust prints it (`ch02-pid/src/init.rs:33:9`),
            // lets the checker name the unfinished function (`todo!()`).
            Some(panic) => match self.panic_location() {
                Some(at) => format!("{ending}: the runtime panicked at {at}: {panic}"),
                None => format!("{ending}: the runtime panicked: {panic}"),
            },
            None if self.stderr.trim().is_empty() => ending,
            None => format!("{ending}, stderr: {}", clip(self.stderr.trim(), 300)),
        }
    }

    /// Where the first Rust panic on stderr happened, `file:line:column`
    /// (from `thread 'main' panicked at src/main.rs:2:5:`), if it says.
    pub fn panic_location(&self) -> Option<String> {
        let line = self.stderr.lines().find(|line| line.contains("panicked at"))?;
        let (_, at) = line.split_once("panicked at ")?;
        let at = at.trim().trim_end_matches(':');
        (!at.is_empty()).then(|| clip(at, 160))
    }

    /// The first line of a Rust panic message on stderr, if there is one.
    pub fn panic_message(&self) -> Option<String> {
        let mut lines = self.stderr.lines();
        lines.find(|line| line.contains("panicked at"))?;
        Some(clip(lines.next().unwrap_or("(no message)").trim(), 160))
    }

    /// Fails unless the runtime exited with `code`, naming the likely
    /// mistake when the runtime's own error points at one.
    pub fn expect_code(&self, code: i32, what: &str) -> Result<(), Failure> {
        if self.code == Some(code) {
            return Ok(());
        }
        let message = match crate::chapters::ch03_rootfs::busy_hint(&self.stderr) {
            Some(hint) => format!("{what}: {hint}"),
            None => what.to_string(),
        };
        Err(Failure::fail(message).compare(format!("exit code {code}"), self.describe()))
    }
}

/// A runtime started but not yet finished (see [`Ctx::spawn`]).
pub struct Running {
    pid: u32,
    /// The runtime's exit status, from a thread blocked in `wait` (no
    /// polling: under emulation a polling loop takes CPU from the tests).
    status: mpsc::Receiver<std::io::Result<ExitStatus>>,
    cgroup: Option<RunCgroup>,
    output: mpsc::Receiver<(bool, String)>,
    deadline: Instant,
    /// Leave what it started running once it has exited (a container
    /// `create` made, waiting for `start`): only a timeout kills.
    keep: bool,
    /// Set once the runtime has exited, for the readers of a `keep` run
    /// (see [`read_output`]).
    exited: Arc<AtomicBool>,
}

impl Running {
    /// The runtime's pid, as the suite sees it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the runtime to end, killing everything it started if the
    /// deadline passes first.
    pub fn wait(mut self) -> Result<Run, Failure> {
        let wait = self.deadline.saturating_duration_since(Instant::now());
        let status = match self.status.recv_timeout(wait) {
            Ok(Ok(status)) => Some(status),
            Ok(Err(err)) => return Err(Failure::error(format!("wait for the runtime: {err}"))),
            Err(_) => None,
        };
        let cgroups_left = self.cgroup.as_ref().map(RunCgroup::children).unwrap_or_default();
        let processes_left = self.cgroup.as_ref().map(RunCgroup::processes);
        // Whatever the runtime left running (a container that outlived it,
        // a fork bomb) goes now, so the next test starts clean; a lifecycle
        // command's container stays, in the test's session cgroup.
        if !self.keep || status.is_none() {
            self.kill_all();
        }
        if status.is_none() {
            // Reap the runtime, now killed, before its cgroup is removed.
            let _ = self.status.recv_timeout(Duration::from_secs(2));
        }
        // The runtime is gone (exited, or killed and reaped): all it wrote
        // is in its pipes.
        self.exited.store(true, Ordering::SeqCst);
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
        Ok(Run { code: status.code(), signal: status.signal(), stdout, stderr, cgroups_left, processes_left })
    }

    fn kill_all(&mut self) {
        match &self.cgroup {
            Some(cgroup) => cgroup.kill_all(),
            None => {
                let pgid = nix::unistd::Pid::from_raw(-(self.pid as i32));
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
    /// Run the runtime as this uid and gid rather than as the suite (see
    /// [`Ctx::as_user`]); `None`: as the suite itself, root.
    pub run_as: Option<(u32, u32)>,
    /// Supplementary groups the runtime starts with when it runs as root
    /// (see [`Ctx::with_groups`]); root's in the guest are none.
    pub groups: Vec<u32>,
    /// What this test's runs are named by (their cgroups): unique among
    /// the tests that run side by side.
    run_names: String,
    runs: u32,
    /// The cgroup of this test's lifecycle commands ([`Ctx::keep_spawn`]):
    /// the containers they leave running live here until the test ends.
    session: Option<RunCgroup>,
    /// The grading's template rootfs, shared by the tests side by side
    /// (see [`Ctx::with_rootfs_template`]).
    rootfs_template: Option<Arc<Template>>,
    /// The reports the job's tests share (see [`Ctx::shared_report`]).
    shared: Option<Arc<SharedReports>>,
    /// Whether each run's cgroup carries the limits itself (see
    /// [`Ctx::with_limits_above`]).
    limits_on_runs: bool,
    /// The folder of the latest run's cgroup, if it had one.
    last_cgroup: Option<PathBuf>,
}

/// The reports of one job's containers that several tests read and none
/// changes: one run each, made by the first test that asks, while a test
/// asking beside it waits. Under emulation a run costs a test most of its
/// time, and chapters 0–3 alone read the default container's report in
/// seven tests and the default rootfs's in five.
#[derive(Default)]
pub struct SharedReports {
    runs: Mutex<HashMap<ReportKey, Arc<OnceLock<SharedReport>>>>,
    /// What tests made some other way than from flags (chapter 7's
    /// bundles), by the name they give it (see [`Ctx::shared`]).
    made: Mutex<HashMap<String, Arc<OnceLock<SharedValue>>>>,
}

/// One value of [`Ctx::shared`]: a `Result<T, Failure>`, and the command
/// line that made it.
struct SharedValue {
    value: Box<dyn std::any::Any + Send + Sync>,
    command: Option<String>,
}

/// What makes two containers the same for a report: their flags (a rootfs
/// stands for itself: every test writes its own, all alike) and who runs
/// the runtime, with which groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReportKey {
    flags: Vec<String>,
    in_rootfs: bool,
    run_as: Option<(u32, u32)>,
    groups: Vec<u32>,
}

/// One shared run's report, and its command line for the tests' reports.
struct SharedReport {
    report: Result<Report, Failure>,
    command: Option<String>,
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
            groups: Vec::new(),
            run_names: "run".to_string(),
            runs: 0,
            session: None,
            rootfs_template: None,
            shared: None,
            limits_on_runs: true,
            last_cgroup: None,
        }
    }

    /// Makes every run's cgroup one without limits of its own, inside
    /// `leash`, whose limits hold for them all (see
    /// [`RunCgroup::create_unlimited`]).
    pub fn with_limits_above(mut self, leash: &RunCgroup) -> Ctx {
        self.cgroup_parent = Some(leash.path().to_path_buf());
        self.limits_on_runs = false;
        self
    }

    /// Lets this test share reports with the job's other tests (see
    /// [`Ctx::shared_report`]).
    pub fn with_shared_reports(mut self, shared: Arc<SharedReports>) -> Ctx {
        self.shared = Some(shared);
        self
    }

    /// Makes [`Ctx::rootfs`] link busybox and the probe from `template`
    /// rather than copy them for every test (see [`Template`]).
    pub fn with_rootfs_template(mut self, template: Arc<Template>) -> Ctx {
        self.rootfs_template = Some(template);
        self
    }

    /// Names this test's runs `PREFIX.run-N`, so that tests running side by
    /// side never share a cgroup.
    pub fn with_run_names(mut self, prefix: &str) -> Ctx {
        self.run_names = format!("{prefix}.run");
        self
    }

    /// The probe's path as text, for command lines.
    pub fn probe(&self) -> String {
        self.probe.display().to_string()
    }

    /// A path in the scratch directory.
    pub fn scratch_path(&self, name: &str) -> String {
        self.scratch.join(name).display().to_string()
    }

    /// Runs the runtime with `flags` and `probe touch MARKER` as the
    /// command, and expects bad input refused up front: exit 125, a
    /// message on stderr, and the command never run. `why` says what is
    /// wrong with the input, for the failure's message.
    pub fn expect_refused_up_front(&mut self, flags: &[&str], why: &str) -> Result<(), Failure> {
        let marker = self.scratch_path("refused-but-ran");
        let _ = std::fs::remove_file(&marker);
        let probe = self.probe();
        let run = self.run(flags, &[&probe, <contract::Touched as contract::Document>::SUBCOMMAND, &marker])?;
        let asked = flags.join(" ");
        run.expect_code(125, &format!("{asked}: {why}, and the runtime should refuse it with 125"))?;
        if Path::new(&marker).exists() {
            return Err(Failure::fail(format!("the command ran although {asked} is refused: refuse it first")));
        }
        if run.stderr.trim().is_empty() {
            return Err(Failure::fail(format!("say on stderr why {asked} is refused")).compare("a message", "nothing"));
        }
        Ok(())
    }

    /// The cgroup the latest run of the runtime started in, as the
    /// container's `/proc/self/cgroup` would name it were it still there.
    pub fn last_run_cgroup(&self) -> Option<String> {
        self.last_cgroup.as_deref().and_then(crate::sandbox::hierarchy_path)
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
        let runtime = self.runtime.clone();
        self.spawn_program(&runtime, args, env, false)
    }

    /// Starts `program ARGS` (the runtime's lifecycle commands, or an
    /// engine such as podman that calls it) in this test's session cgroup,
    /// where what it leaves running (a created container) stays until the
    /// test ends, or until another command of the test ends it.
    pub fn keep_spawn(&mut self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Running, Failure> {
        self.spawn_program(program, args, env, true)
    }

    /// Runs [`Ctx::keep_spawn`] to the end.
    pub fn keep_run(&mut self, program: &Path, args: &[&str]) -> Result<Run, Failure> {
        self.keep_spawn(program, args, &[])?.wait()
    }

    /// The pids in this test's session cgroup now (see [`Ctx::keep_spawn`]).
    pub fn session_pids(&self) -> Vec<u32> {
        self.session.as_ref().map(RunCgroup::processes).unwrap_or_default()
    }

    fn spawn_program(
        &mut self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        keep: bool,
    ) -> Result<Running, Failure> {
        self.last_command = Some(match self.run_as {
            // To repeat it by hand as that user, from root's shell in the
            // guest: its busybox has `su`, not util-linux's `setpriv --reuid`.
            Some(_) => format!("su {} -c {}", crate::user::USER_NAME, quote(&shell_line(program, args, env))),
            // Root with supplementary groups: the suite sets them with
            // setgroups(2), and so does the probe's `with-groups` by hand
            // (the guest's busybox has no `setpriv --groups`).
            None if !self.groups.is_empty() => {
                let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
                // The environment first: the probe execs the runtime with its own.
                let with_groups = [contract::plain::WITH_GROUPS, &groups.join(","), "--"];
                let program_words =
                    std::iter::once(program.display().to_string()).chain(args.iter().map(|a| a.to_string()));
                let probe_args: Vec<String> = with_groups.iter().map(|w| w.to_string()).chain(program_words).collect();
                let probe_args: Vec<&str> = probe_args.iter().map(String::as_str).collect();
                shell_line(&self.probe, &probe_args, env)
            }
            None => shell_line(program, args, env),
        });
        self.runs += 1;
        let cgroup = match &self.cgroup_parent {
            Some(parent) if !keep => {
                let name = format!("{}-{}", self.run_names, self.runs);
                let made = match self.limits_on_runs {
                    true => RunCgroup::create(parent, &name),
                    false => RunCgroup::create_unlimited(parent, &name),
                };
                Some(made.map_err(|e| Failure::error(format!("create the test's cgroup: {e}")))?)
            }
            Some(parent) if self.session.is_none() => {
                let session = RunCgroup::create(parent, &format!("{}-session", self.run_names))
                    .map_err(|e| Failure::error(format!("create the test's cgroup: {e}")))?;
                self.session = Some(session);
                None
            }
            _ => None,
        };
        self.last_cgroup = cgroup.as_ref().map(|cgroup| cgroup.path().to_path_buf());
        let mut command = Command::new(program);
        command.args(args).envs(env.iter().copied()).stdin(Stdio::null());
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        // Started as a learner starts it: from a directory of their own,
        // with a descriptor or two open; none of it may reach the container.
        command.current_dir(&self.scratch);
        let caller = CallerFds::open(&self.scratch)?;
        caller.pass_on_exec(&mut command);
        if let Some(cgroup) = &cgroup {
            cgroup.enter_on_exec(&mut command);
        }
        if let (true, Some(session)) = (keep, &self.session) {
            session.enter_on_exec(&mut command);
        }
        if let Some((uid, gid)) = self.run_as {
            crate::user::drop_to(&mut command, uid, gid);
        } else if !self.groups.is_empty() {
            crate::user::join_groups(&mut command, self.groups.clone());
        }
        let mut child =
            command.spawn().map_err(|e| Failure::error(format!("start {}: {e}", self.runtime.display())))?;
        let (sender, output) = mpsc::channel();
        let exited = Arc::new(AtomicBool::new(false));
        let pipes = [(true, child.stdout.take().map(OwnedFd::from)), (false, child.stderr.take().map(OwnedFd::from))];
        for (is_stdout, pipe) in pipes {
            let sender = sender.clone();
            // A lifecycle command's container keeps the runtime's stdout
            // and stderr (OCI's pass-through): no end of file comes when
            // the runtime exits, so its readers stop at an empty pipe then.
            // An engine's (podman's) are read to the end as before, for at
            // most the usual 2 s after it exits.
            let until = (keep && program == self.runtime.as_path()).then(|| exited.clone());
            std::thread::spawn(move || {
                let (text, rest) = pipe.map(|pipe| read_output(pipe, until)).unwrap_or_default();
                let _ = sender.send((is_stdout, text));
                if let Some(mut rest) = rest {
                    let _ = std::io::copy(&mut rest, &mut std::io::sink());
                }
            });
        }
        drop(caller);
        let pid = child.id();
        let (sender, status) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait());
        });
        Ok(Running { pid, status, cgroup, output, deadline: Instant::now() + self.timeout, keep, exited })
    }

    /// Runs `runtime run FLAGS -- COMMAND` to the end.
    pub fn run(&mut self, flags: &[&str], command: &[&str]) -> Result<Run, Failure> {
        self.spawn(flags, command, &[])?.wait()
    }

    /// A call of the probe at its host path: `probe --nonce NONCE
    /// SUBCOMMAND ARGS…`, answered by a `T`.
    pub fn call<T: Document>(&self, args: &[&str]) -> Result<ProbeCall<T>, Failure> {
        ProbeCall::new(&self.probe(), args)
    }

    /// Runs `call` in a container made with `flags` and reads its answer.
    pub fn ask<T: Document>(&mut self, flags: &[&str], call: &ProbeCall<T>) -> Result<T, Failure> {
        let run = self.run(flags, &call.command())?;
        call.read(&run)
    }

    /// Runs `probe report` in a container made with `flags` and reads the
    /// report: the one way a test gets a report. With `--rootfs` the probe
    /// is the rootfs's own ([`ROOTFS_PROBE`], as [`Ctx::rootfs`] writes it).
    pub fn report(&mut self, flags: &[&str]) -> Result<Report, Failure> {
        let probe = if flags.contains(&"--rootfs") { ROOTFS_PROBE.to_string() } else { self.probe() };
        let call = ProbeCall::new(&probe, &[])?;
        self.ask(flags, &call)
    }

    /// The report of a container made with `flags`, from a run that the
    /// job's tests share: for tests that only read a report (a test that
    /// compares the host before and after its container uses
    /// [`Ctx::report`]). Its command line becomes this test's.
    pub fn shared_report(&mut self, flags: &[&str]) -> Result<Report, Failure> {
        self.shared_run(flags, false)
    }

    /// [`Ctx::shared_report`] of a container in a fresh rootfs
    /// (`--rootfs ROOTFS` and then `extra`).
    pub fn shared_report_in_rootfs(&mut self, extra: &[&str]) -> Result<Report, Failure> {
        self.shared_run(extra, true)
    }

    fn shared_run(&mut self, flags: &[&str], in_rootfs: bool) -> Result<Report, Failure> {
        let own_run = |ctx: &mut Ctx| -> Result<Report, Failure> {
            let mut all: Vec<String> = Vec::new();
            if in_rootfs {
                all.extend(["--rootfs".to_string(), ctx.rootfs()?]);
            }
            all.extend(flags.iter().map(|flag| flag.to_string()));
            ctx.report(&all.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let Some(shared) = self.shared.clone() else { return own_run(self) };
        let key = ReportKey {
            flags: flags.iter().map(|f| f.to_string()).collect(),
            in_rootfs,
            run_as: self.run_as,
            groups: self.groups.clone(),
        };
        // The map's lock is held only to find the cell; a test waiting on a
        // cell waits for that run alone.
        let cell = match shared.runs.lock() {
            Ok(mut runs) => runs.entry(key).or_default().clone(),
            Err(_) => return own_run(self),
        };
        let run = cell.get_or_init(|| {
            let report = own_run(self);
            SharedReport { report, command: self.last_command.clone() }
        });
        self.last_command = run.command.clone();
        run.report.clone()
    }

    /// What `make` returns, made once for the job's tests that ask for
    /// `key`, while a test asking beside it waits: for what several tests
    /// only read and their runs cannot name by flags (chapter 7's reports
    /// from bundles). Its command line becomes this test's. `key` names
    /// one way of making one type of value: two tests giving it must make
    /// the same thing.
    pub fn shared<T: Clone + Send + Sync + 'static>(
        &mut self,
        key: &str,
        make: impl FnOnce(&mut Ctx) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let Some(shared) = self.shared.clone() else { return make(self) };
        let cell = match shared.made.lock() {
            Ok(mut made) => made.entry(format!("{key}/{:?}", self.run_as)).or_default().clone(),
            Err(_) => return make(self),
        };
        let made = cell.get_or_init(|| {
            let value: Result<T, Failure> = make(self);
            SharedValue { value: Box::new(value), command: self.last_command.clone() }
        });
        self.last_command = made.command.clone();
        match made.value.downcast_ref::<Result<T, Failure>>() {
            Some(value) => value.clone(),
            None => {
                Err(Failure::error(format!("the shared value {key:?} was made with another type: a bug in the suite")))
            }
        }
    }

    /// Writes a fresh rootfs (busybox and the probe, as `/probe`) in the
    /// scratch directory and returns its path.
    pub fn rootfs(&mut self) -> Result<String, Failure> {
        let dir = self.scratch.join("rootfs");
        self.rootfs_at(&dir)?;
        Ok(dir.display().to_string())
    }

    /// Writes a fresh rootfs in `dir`, from the grading's template when
    /// there is one.
    pub fn rootfs_at(&self, dir: &Path) -> Result<(), Failure> {
        let written = match &self.rootfs_template {
            Some(template) => template.write_rootfs(dir),
            None => crate::rootfs::write_rootfs(dir, &self.probe),
        };
        written.map_err(|e| Failure::error(format!("write a rootfs: {e}")))
    }
}

/// The most of a run's stdout or stderr kept: a runaway runtime must not
/// fill memory.
const OUTPUT_KEPT: usize = 1 << 20;

/// Reads what the runtime writes to `pipe`, up to [`OUTPUT_KEPT`] bytes,
/// until the pipe ends, or, with `until`, until `until` is set (the runtime
/// has exited, so all it wrote is in the pipe) and the pipe is empty. Then
/// returns the text, and the pipe if it has not ended: the caller reads and
/// drops the rest, so that a container still writing is not killed by
/// SIGPIPE.
fn read_output(pipe: OwnedFd, until: Option<Arc<AtomicBool>>) -> (String, Option<std::fs::File>) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::ErrorKind::{Interrupted, WouldBlock};
    let mut kept = Vec::new();
    let mut keep = |bytes: &[u8]| {
        let room = OUTPUT_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    };
    let mut chunk = [0u8; 8192];
    let mut file = std::fs::File::from(pipe);
    let Some(until) = until else {
        loop {
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => keep(&chunk[..n]),
                Err(e) if e.kind() == Interrupted => {}
                Err(_) => break,
            }
        }
        return (String::from_utf8_lossy(&kept).into_owned(), None);
    };
    // Reads must not block, so that an empty pipe can be told apart.
    let _ = fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    let ended = loop {
        let _ = poll(&mut [PollFd::new(file.as_fd(), PollFlags::POLLIN)], PollTimeout::from(20u8));
        // Seen before the read: a pipe found empty after the exit is done.
        let exited = until.load(Ordering::SeqCst);
        match file.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => keep(&chunk[..n]),
            Err(e) if e.kind() == WouldBlock && exited => break false,
            Err(e) if e.kind() == WouldBlock || e.kind() == Interrupted => {}
            Err(_) => break true,
        }
    };
    let _ = fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(OFlag::empty()));
    (String::from_utf8_lossy(&kept).into_owned(), (!ended).then_some(file))
}

/// The descriptor number at which the suite hands the runtime a file of the
/// host's, open and without close-on-exec, as a caller's shell might.
pub const CALLER_FILE_FD: i32 = 40;

/// The descriptor number at which it hands the runtime a directory of the
/// host's (the runtime's working directory): a door out of any root.
pub const CALLER_DIR_FD: i32 = 41;

/// The name of the file behind [`CALLER_FILE_FD`], in the scratch directory.
pub const CALLER_FILE: &str = "caller-file";

/// What the suite holds open for one start of the runtime, to hand it at
/// [`CALLER_FILE_FD`] and [`CALLER_DIR_FD`].
struct CallerFds {
    file: std::fs::File,
    dir: std::fs::File,
}

impl CallerFds {
    fn open(scratch: &Path) -> Result<CallerFds, Failure> {
        let path = scratch.join(CALLER_FILE);
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        let file = file.map_err(|e| Failure::error(format!("open {}: {e}", path.display())))?;
        let dir =
            std::fs::File::open(scratch).map_err(|e| Failure::error(format!("open {}: {e}", scratch.display())))?;
        Ok(CallerFds { file, dir })
    }

    /// Makes the runtime start with the two at their numbers. `dup2` gives
    /// the copy no close-on-exec flag (std opens everything with one).
    fn pass_on_exec(&self, command: &mut Command) {
        use std::os::fd::AsRawFd;
        let pairs = [(self.file.as_raw_fd(), CALLER_FILE_FD), (self.dir.as_raw_fd(), CALLER_DIR_FD)];
        // SAFETY: between fork and exec only async-signal-safe calls run:
        // dup2 and fcntl, on descriptors this process holds open.
        unsafe {
            command.pre_exec(move || {
                for (from, to) in pairs {
                    if from == to {
                        // dup2 onto itself keeps the flag: clear it.
                        if nix::libc::fcntl(to, nix::libc::F_SETFD, 0) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    } else if nix::libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            })
        };
    }
}

/// Where [`Ctx::rootfs`] puts the probe, as the container sees it.
pub const ROOTFS_PROBE: &str = "/probe";

/// One run of the probe that answers with a document `T`: its command line,
/// carrying a nonce made for this run alone, and the reading of its answer.
#[derive(Debug, Clone)]
pub struct ProbeCall<T> {
    nonce: Nonce,
    command: Vec<String>,
    answer: PhantomData<fn() -> T>,
}

impl<T: Document> ProbeCall<T> {
    /// `PROBE --nonce NONCE SUBCOMMAND ARGS…` with a fresh nonce, where
    /// PROBE is the probe's path as the container sees it.
    pub fn new(probe: &str, args: &[&str]) -> Result<ProbeCall<T>, Failure> {
        let nonce = fresh_nonce()?;
        let mut command = vec![probe.to_string()];
        command.extend(contract::command_line(&nonce, T::SUBCOMMAND, args));
        Ok(ProbeCall { nonce, command, answer: PhantomData })
    }

    /// The command line, for [`Ctx::run`] and [`Ctx::spawn`].
    pub fn command(&self) -> Vec<&str> {
        self.command.iter().map(String::as_str).collect()
    }

    /// Reads this call's answer from `run`: the container exited with 0 and
    /// relayed a line that bears this call's nonce and parses as a `T`.
    pub fn read(&self, run: &Run) -> Result<T, Failure> {
        let subcommand = T::SUBCOMMAND;
        run.expect_code(0, &format!("the container running `probe {subcommand}` should exit with 0"))?;
        let lines: Vec<&str> = run.stdout.lines().filter(|line| line.trim_start().starts_with('{')).collect();
        let Some(last) = lines.last() else {
            return Err(Failure::fail(format!(
                "the probe's answer to `{subcommand}` did not reach stdout: is the command's output relayed?"
            ))
            .compare("a JSON line from the probe", clip(&run.stdout, 300)));
        };
        // The newest line of this run wins; any line may carry it, since a
        // runtime may print lines of its own around the command's output.
        for line in lines.iter().rev() {
            let Ok(envelope) = serde_json::from_str::<Envelope<serde::de::IgnoredAny>>(line) else { continue };
            if envelope.nonce.as_ref() == Some(&self.nonce) {
                return serde_json::from_str::<Envelope<T>>(line).map(|envelope| envelope.body).map_err(|e| {
                    Failure::fail(format!("the probe's answer to `{subcommand}` is garbled: {e}"))
                        .compare(format!("a {subcommand} document"), clip(line, 300))
                });
            }
        }
        Err(Failure::fail(
            "the output did not come from this run's probe: the command was not run, or something printed a \
             canned answer (each run's probe echoes a fresh nonce)",
        )
        .compare(format!("a JSON line with \"nonce\":\"{}\"", self.nonce), clip(last, 160)))
    }

    /// Reads a `U` that this call's probe wrote to the file `path` rather
    /// than to stdout (as `probe serve` says where it listens while it
    /// runs), in an envelope bearing this call's nonce; else says why not.
    pub fn read_file<U: serde::de::DeserializeOwned>(&self, path: &str) -> Result<U, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
        let envelope: Envelope<U> = serde_json::from_str(&text).map_err(|e| format!("{path} is garbled: {e}"))?;
        if envelope.nonce.as_ref() != Some(&self.nonce) {
            return Err(format!("{path} was not written by this run's probe (its nonce is not {})", self.nonce));
        }
        Ok(envelope.body)
    }
}

/// A nonce for one run of the probe: 4 random bytes from the kernel, in
/// hex: short enough to read in a pasted command line, and a one in four
/// billion chance for a canned answer to match.
pub fn fresh_nonce() -> Result<Nonce, Failure> {
    Ok(Nonce::from_bytes(&random_bytes::<4>("a nonce")?))
}

/// `N` random bytes from the kernel, for `what` (named in the error).
pub fn random_bytes<const N: usize>(what: &str) -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|e| Failure::error(format!("read /dev/urandom for {what}: {e}")))?;
    Ok(bytes)
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
            "the host's /proc/self/mountinfo cannot be read ({e}): a container's /proc was left over the host's \
             (how it got there is said after the test)"
        ))
    })
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

#[cfg(test)]
mod tests {
    use contract::{Envelope, Nonce, Orphans};

    use super::*;

    fn exited(stdout: String) -> Run {
        Run {
            code: Some(0),
            signal: None,
            stdout,
            stderr: String::new(),
            cgroups_left: Vec::new(),
            processes_left: None,
        }
    }

    #[test]
    fn a_panic_is_described_with_where_it_happened() {
        let stderr = "thread 'main' panicked at ch02-pid/src/init.rs:33:9:\n\
                      not yet implemented: PID 1's whole life\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let run = Run { code: Some(101), stderr: stderr.into(), ..exited(String::new()) };
        assert_eq!(run.panic_location().as_deref(), Some("ch02-pid/src/init.rs:33:9"));
        assert_eq!(
            run.describe(),
            "exit code 101: the runtime panicked at ch02-pid/src/init.rs:33:9: not yet implemented: PID 1's whole life"
        );
        assert_eq!(exited(String::new()).panic_location(), None);
    }

    fn line(nonce: &Nonce, zombies: Vec<u32>) -> String {
        serde_json::to_string(&Envelope { nonce: Some(nonce.clone()), body: Orphans { zombies } }).expect("encode")
    }

    #[test]
    fn the_answer_bearing_this_calls_nonce_is_read_whatever_surrounds_it() {
        let call = ProbeCall::<Orphans>::new("/probe", &[]).expect("a nonce");
        assert_eq!(call.command()[..3], ["/probe", "--nonce", call.nonce.as_str()]);
        let stdout = format!("runtime: starting\n{}\n{{\"not\":\"the probe\"}}\n", line(&call.nonce, vec![9]));
        assert_eq!(call.read(&exited(stdout)), Ok(Orphans { zombies: vec![9] }));
    }

    #[test]
    fn a_canned_answer_is_refused_as_not_from_this_run() {
        let call = ProbeCall::<Orphans>::new("/probe", &[]).expect("a nonce");
        let canned = line(&Nonce::new("0badc0de"), vec![]);
        let failure = call.read(&exited(format!("{canned}\n"))).expect_err("a canned answer");
        assert!(failure.message.contains("did not come from this run's probe"), "{failure:?}");
        assert_eq!(failure.actual.as_deref(), Some(canned.as_str()));
        let unsigned = call.read(&exited("{\"nonce\":null,\"body\":{\"zombies\":[]}}\n".into()));
        assert!(unsigned.expect_err("no nonce").message.contains("did not come from this run's probe"));
    }

    #[test]
    fn missing_or_garbled_answers_say_so() {
        let call = ProbeCall::<Orphans>::new("/probe", &[]).expect("a nonce");
        let nothing = call.read(&exited(String::new())).expect_err("no answer");
        assert!(nothing.message.contains("did not reach stdout"), "{nothing:?}");
        let garbled = format!("{{\"nonce\":\"{}\",\"body\":{{\"zombies\":\"none\"}}}}", call.nonce);
        let garbled = call.read(&exited(garbled)).expect_err("a garbled answer");
        assert!(garbled.message.contains("garbled"), "{garbled:?}");
    }
}
