//! Boots the guest once, runs one command in it, and collects the results.
//!
//! The host listens on a Unix socket; QEMU connects it to the guest's
//! virtio-serial port `greenroom.results`. The guest's `/init` writes a
//! ready marker there, then the command writes its result lines, then
//! `/init` writes a sentinel with the exit code. A run is complete only if
//! the sentinel arrived: a panicking kernel also ends QEMU cleanly.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::accel::Accel;
use crate::assets::Assets;
use crate::initramfs::{self, GuestFile, InitramfsError};
use crate::qemu::{self, Console, QemuConfig, QemuGuard};

/// The line `/init` writes once the guest is set up.
const READY: &str = r#"{"greenroom":"ready"}"#;
/// The start of the line `/init` writes after the command, before `<code>}`.
const DONE_PREFIX: &str = r#"{"greenroom":"done","exit":"#;

/// What can keep the guest from running at all. A guest that runs but
/// misbehaves is a [`Verdict`], not an error.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// QEMU is not on the `PATH`.
    #[error("QEMU is not installed ({program} is not on PATH): sudo apt-get install {package}")]
    QemuMissing {
        /// The program looked for.
        program: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// QEMU could not be started.
    #[error("could not start {qemu}")]
    Spawn {
        /// The QEMU binary.
        qemu: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// QEMU exited before the guest connected, usually a bad option or kernel.
    #[error("QEMU exited ({status}) before the guest started: {stderr}")]
    QemuFailed {
        /// How QEMU ended.
        status: String,
        /// What QEMU printed.
        stderr: String,
    },
    /// The guest image could not be built.
    #[error(transparent)]
    Image(#[from] InitramfsError),
    /// A host-side file or socket could not be set up.
    #[error("could not set up {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A guest kept up ([`Guest`]) never said it was ready.
    #[error("the guest did not get ready in time (see {log})")]
    NotReady {
        /// The console log.
        log: PathBuf,
    },
    /// `GREENROOM_ACCEL` holds something other than `kvm` or `tcg`.
    #[error("GREENROOM_ACCEL must be `kvm` or `tcg`, not {0:?}")]
    BadAccel(String),
}

/// One boot of the guest.
#[derive(Debug, Clone)]
pub struct BootRequest<'a> {
    /// The kernel, modules and busybox (see [`crate::ensure_assets`]).
    pub assets: &'a Assets,
    /// The cache directory: the base image lives there, and the run's
    /// temporary initramfs while QEMU runs.
    pub cache: &'a Path,
    /// Files added to the guest's root filesystem for this run.
    pub files: Vec<GuestFile>,
    /// The argv that `/init` runs as root once the guest is set up.
    pub command: Vec<String>,
    /// Extra environment for the command (it always gets `GREENROOM_RESULTS`,
    /// the device to write result lines to).
    pub env: Vec<(String, String)>,
    /// Time allowed from starting QEMU to the end; QEMU is killed past it.
    pub deadline: Duration,
    /// Where the serial console (kernel messages, the command's output) is saved.
    pub log_path: PathBuf,
    /// How QEMU runs the guest's CPU.
    pub accel: Accel,
    /// Guest memory in MiB; 512 is a good default.
    pub memory_mib: u32,
    /// Disk images attached as virtio block devices, `/dev/vda` first
    /// (the capstone's programs come this way: see [`crate::capstone`]).
    pub disks: Vec<Disk>,
}

/// A disk image attached to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The raw image file.
    pub path: PathBuf,
    /// How the guest may use it.
    pub access: DiskAccess,
}

/// Whether the guest may write to a [`Disk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskAccess {
    /// The guest writes to the image itself (to prepare it, once).
    Write,
    /// The guest can only read it: the image stays as it was, and any
    /// number of guests can share it at once.
    ReadOnly,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The command ran to the end with this exit code.
    Completed {
        /// The command's exit status as the shell reports it (128+N for signal N).
        exit_code: i32,
    },
    /// The deadline passed; QEMU was killed.
    TimedOut,
    /// The guest kernel panicked (see the console log).
    Panicked,
    /// QEMU exited without the sentinel, for example when `/init` failed.
    NoSentinel,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct BootOutcome {
    /// Lines the command wrote to the results port, markers excluded.
    pub lines: Vec<String>,
    /// How the run ended.
    pub verdict: Verdict,
    /// Where the console log was saved.
    pub log_path: PathBuf,
    /// Host wall time from spawning QEMU to the guest's ready marker.
    pub qemu_to_ready: Option<Duration>,
    /// Host wall time of the whole call.
    pub total: Duration,
}

/// Boots the guest, runs `req.command` in it, and returns its results.
/// Blocks until the guest is done or the deadline passes; no QEMU process
/// outlives this call.
pub fn boot(req: &BootRequest) -> Result<BootOutcome, BootError> {
    let start = Instant::now();
    let outcome = |lines, verdict, qemu_to_ready| BootOutcome {
        lines,
        verdict,
        log_path: req.log_path.clone(),
        qemu_to_ready,
        total: start.elapsed(),
    };
    let Some(mut launched) = launch(req, false)? else {
        return Ok(outcome(Vec::new(), Verdict::TimedOut, None));
    };
    // Read result lines as they arrive, until the sentinel, the end of
    // the stream (QEMU exited) or the deadline.
    let mut results = read_results(&launched.lines, launched.spawned, launched.deadline);
    // After the sentinel the guest only syncs and powers off: stop it
    // now rather than wait. Otherwise QEMU has until the deadline to exit.
    let guard = &mut launched.guard;
    let mut exited = None;
    if results.exit_code.is_none() && !results.timed_out {
        exited = guard.wait_until(launched.deadline);
        results.timed_out = exited.is_none();
    }
    guard.kill();
    // A QEMU that failed before the guest was ready (a bad kernel, an
    // accelerator it cannot use) is an error; otherwise its complaints,
    // if any, go to the end of the log.
    let stderr = guard.stderr();
    if let Some(status) = exited.filter(|status| !status.success() && results.ready.is_none()) {
        return Err(BootError::QemuFailed { status: status.to_string(), stderr });
    }
    append_to_log(&req.log_path, &stderr);
    let verdict = match results.exit_code {
        Some(exit_code) => Verdict::Completed { exit_code },
        None if results.timed_out => Verdict::TimedOut,
        None if log_shows_panic(&req.log_path) => Verdict::Panicked,
        None => Verdict::NoSentinel,
    };
    Ok(outcome(results.lines, verdict, results.ready))
}

/// A QEMU started and connected to the results socket.
struct Launched {
    guard: QemuGuard,
    /// The host end of the results port, for writing to the guest.
    stream: UnixStream,
    /// Lines from the guest, each with the time it arrived.
    lines: mpsc::Receiver<(Instant, String)>,
    spawned: Instant,
    deadline: Instant,
    /// Removed when the guest is gone.
    _files: [TempPath; 2],
}

/// Builds the initramfs, starts QEMU and waits for it to connect to the
/// results socket; `None` if the deadline passes first.
fn launch(req: &BootRequest, terminal: bool) -> Result<Option<Launched>, BootError> {
    let qemu = qemu::find_qemu()?;
    // 1. The initramfs: the cached base plus this run's part, in a file
    //    that QEMU can read and that is removed when the guest is gone.
    let base = initramfs::base_image(req.cache, req.assets)?;
    let run = initramfs::run_part(&req.files, &req.command, &req.env)?;
    let initrd = TempPath(req.cache.join(format!("{}.cpio", unique_name())));
    std::fs::copy(&base, &initrd.0).map_err(io_err(&initrd.0))?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&initrd.0)
        .and_then(|mut f| f.write_all(&run))
        .map_err(io_err(&initrd.0))?;
    // 2. The results socket. Socket paths are limited to 108 bytes, so it
    //    lives in the temporary directory rather than in the cache.
    let socket = TempPath(std::env::temp_dir().join(format!("{}.sock", unique_name())));
    let listener = UnixListener::bind(&socket.0).map_err(io_err(&socket.0))?;
    if let Some(dir) = req.log_path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    // 3. Start QEMU and wait for it to connect to the socket.
    let config = QemuConfig {
        arch: crate::Arch::guest(),
        qemu: &qemu,
        kernel: &req.assets.kernel,
        initrd: &initrd.0,
        accel: req.accel,
        memory_mib: req.memory_mib,
        console: if terminal { Console::Terminal } else { Console::Log(&req.log_path) },
        results_socket: &socket.0,
        tsc_khz: qemu::host_tsc_khz(),
        disks: &req.disks,
    };
    let spawned = Instant::now();
    let deadline = spawned + req.deadline;
    let mut guard = if terminal {
        QemuGuard::spawn_on_terminal(&qemu, &config.args())?
    } else {
        QemuGuard::spawn(&qemu, &config.args())?
    };
    let Some(stream) = accept_until(&listener, &mut guard, deadline, &socket.0)? else {
        guard.kill();
        return Ok(None);
    };
    let reader = stream.try_clone().map_err(io_err(&socket.0))?;
    Ok(Some(Launched { guard, stream, lines: spawn_reader(reader), spawned, deadline, _files: [initrd, socket] }))
}

/// A guest that stays up: its command talks with the host over the results
/// port, both ways, for as long as it likes (`checker watch` keeps one to
/// grade again without a boot per save). Dropping it kills QEMU.
pub struct Guest {
    launched: Launched,
    log_path: PathBuf,
    /// Host wall time from spawning QEMU to the guest's ready marker.
    pub qemu_to_ready: Duration,
}

impl Guest {
    /// Boots the guest and waits, until `req.deadline`, for its ready marker.
    pub fn start(req: &BootRequest) -> Result<Guest, BootError> {
        Guest::start_with(req, false)
    }

    /// Boots the guest with its console on this process's terminal (its
    /// stdin and stdout, which QEMU takes over until it exits), and waits
    /// for its ready marker. The console log is not written; the command
    /// usually is an interactive shell (`checker shell`).
    pub fn start_on_terminal(req: &BootRequest) -> Result<Guest, BootError> {
        Guest::start_with(req, true)
    }

    fn start_with(req: &BootRequest, terminal: bool) -> Result<Guest, BootError> {
        let Some(launched) = launch(req, terminal)? else {
            return Err(BootError::NotReady { log: req.log_path.clone() });
        };
        let mut guest = Guest { launched, log_path: req.log_path.clone(), qemu_to_ready: Duration::ZERO };
        let deadline = guest.launched.deadline;
        loop {
            match guest.launched.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((at, line)) if line == READY => {
                    guest.qemu_to_ready = at.duration_since(guest.launched.spawned);
                    return Ok(guest);
                }
                Ok(_) => continue,
                Err(_) => return Err(BootError::NotReady { log: guest.log_path.clone() }),
            }
        }
    }

    /// Sends `bytes` to the command in the guest.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), BootError> {
        let log = self.log_path.clone();
        self.launched.stream.write_all(bytes).map_err(|source| BootError::Io { path: log, source })
    }

    /// The next line from the guest, or `None` if none came by `deadline`
    /// or the guest is gone.
    pub fn recv_line(&mut self, deadline: Instant) -> Option<String> {
        let wait = deadline.saturating_duration_since(Instant::now());
        self.launched.lines.recv_timeout(wait).ok().map(|(_, line)| line)
    }

    /// Whether QEMU still runs.
    pub fn is_running(&mut self) -> bool {
        self.launched.guard.try_wait().is_none()
    }

    /// Waits until `deadline` for QEMU to exit by itself (after the
    /// guest's `poweroff`); whether it did.
    pub fn wait_until_exited(&mut self, deadline: Instant) -> bool {
        self.launched.guard.wait_until(deadline).is_some()
    }

    /// The console log, shared by everything the guest runs.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("log_path", &self.log_path).finish_non_exhaustive()
    }
}

/// What came through the results port.
#[derive(Debug, Default)]
struct Results {
    lines: Vec<String>,
    ready: Option<Duration>,
    exit_code: Option<i32>,
    timed_out: bool,
}

/// Collects lines until the sentinel, the end of the stream or the deadline.
fn read_results(receiver: &mpsc::Receiver<(Instant, String)>, spawned: Instant, deadline: Instant) -> Results {
    let mut results = Results::default();
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(wait) {
            Ok((at, line)) if line == READY => results.ready = Some(at.duration_since(spawned)),
            Ok((_, line)) => match parse_sentinel(&line) {
                Some(code) => {
                    results.exit_code = Some(code);
                    return results;
                }
                None => results.lines.push(line),
            },
            Err(mpsc::RecvTimeoutError::Disconnected) => return results,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                results.timed_out = true;
                return results;
            }
        }
    }
}

/// Appends QEMU's own messages (if any) to the console log.
fn append_to_log(log: &Path, qemu_stderr: &str) {
    if qemu_stderr.is_empty() {
        return;
    }
    let file = std::fs::OpenOptions::new().append(true).create(true).open(log);
    // Best effort: the log is for reading; the verdict does not depend on it.
    let _ = file.and_then(|mut f| writeln!(f, "\n[greenroom] QEMU said:\n{qemu_stderr}"));
}

/// Waits for QEMU to connect to the results socket. Returns `None` at the
/// deadline, and an error if QEMU exits first (it failed to start).
fn accept_until(
    listener: &UnixListener,
    guard: &mut QemuGuard,
    deadline: Instant,
    path: &Path,
) -> Result<Option<UnixStream>, BootError> {
    listener.set_nonblocking(true).map_err(io_err(path))?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(io_err(path))?;
                return Ok(Some(stream));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(io_err(path)(e)),
        }
        if let Some(status) = guard.try_wait() {
            return Err(BootError::QemuFailed { status: status.to_string(), stderr: guard.stderr() });
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reads lines on a thread and sends each with the time it arrived, so the
/// main thread can wait on "a line or the deadline". The thread ends when
/// QEMU closes the socket (it exits or is killed).
fn spawn_reader(stream: UnixStream) -> mpsc::Receiver<(Instant, String)> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut raw = Vec::new();
        while matches!(reader.read_until(b'\n', &mut raw), Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&raw).trim_end_matches(['\n', '\r']).to_owned();
            raw.clear();
            if sender.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Returns the exit code in a `{"greenroom":"done","exit":N}` line: the
/// line `/init` writes once the command has ended.
pub fn parse_sentinel(line: &str) -> Option<i32> {
    line.strip_prefix(DONE_PREFIX)?.strip_suffix('}')?.trim().parse().ok()
}

fn log_shows_panic(log: &Path) -> bool {
    let log = std::fs::read(log).unwrap_or_default();
    log.windows(12).any(|w| w == b"Kernel panic")
}

/// A name no other run of any process uses at the same time.
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("greenroom-run-{}-{n}", std::process::id())
}

/// A file removed when dropped.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        // Best effort: a leftover file in the cache is harmless.
        let _ = std::fs::remove_file(&self.0);
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BootError + '_ {
    move |source| BootError::Io { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sentinel() {
        assert_eq!(parse_sentinel(r#"{"greenroom":"done","exit":0}"#), Some(0));
        assert_eq!(parse_sentinel(r#"{"greenroom":"done","exit":137}"#), Some(137));
        assert_eq!(parse_sentinel(r#"{"greenroom":"ready"}"#), None);
        assert_eq!(parse_sentinel("hello"), None);
    }

    #[test]
    fn detects_a_panic_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        std::fs::write(&log, "[ 1.0] Kernel panic - not syncing: VFS\n").unwrap();
        assert!(log_shows_panic(&log));
        std::fs::write(&log, "all fine\n").unwrap();
        assert!(!log_shows_panic(&log));
        assert!(!log_shows_panic(&dir.path().join("missing.log")));
    }
}
