//! The core: clone a child, let every layer prepare it, start the init if a
//! layer supplies one, exec the command, wait for it.
//!
//! Two pipes connect parent and child:
//!
//! * **go** (parent → child): the child blocks on it until the parent has run
//!   every layer's [`prepare_parent`](crate::Layer::prepare_parent) step. Some
//!   steps (a uid map, a cgroup) must be in place before the child does
//!   anything at all.
//! * **report** (child → parent): opened with `O_CLOEXEC`, so a successful
//!   `exec` closes it and the parent reads end-of-file. If anything fails
//!   before `exec`, the child writes why, and the parent can tell "the
//!   runtime failed" (125) from "the command said 125".

use std::cell::Cell;
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, Pid};

use crate::exit::{exit_code, ChildFailure};
use crate::gate::Gate;
use crate::init::{self, InitError, Supplied};
use crate::layer::{BoxError, Layer};

/// What can go wrong while running a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `run` was given no command at all.
    #[error("no command given: say what to run, as in `run -- /bin/sh`")]
    EmptyCommand,
    /// An argument cannot be passed to `execve`.
    #[error("argument {0:?} contains a NUL byte")]
    NulInArgument(String),
    /// The layers' init could not be found or prepared (two layers supply
    /// one, or its signals could not be blocked).
    #[error(transparent)]
    Init(#[from] InitError),
    /// The descriptors the runtime inherited could not be marked
    /// close-on-exec (`close_range` needs Linux 5.11).
    #[error("mark the descriptors the runtime inherited close-on-exec")]
    InheritedDescriptors(#[source] Errno),
    /// The pipes between parent and child could not be created.
    #[error("create the pipes between runtime and container")]
    Pipe(#[source] Errno),
    /// `clone` itself failed (often: no permission to create a namespace).
    #[error("clone the container process with {flags:?}")]
    Clone {
        /// The flags that were asked for.
        flags: CloneFlags,
        /// Why the kernel refused.
        #[source]
        source: Errno,
    },
    /// A layer's parent-side step failed.
    #[error("{layer}: prepare the container")]
    PrepareParent {
        /// The layer's name.
        layer: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// The child reported a failure before `exec`.
    #[error("{0}")]
    Child(ChildFailure),
    /// Talking to the child over its pipes failed.
    #[error("talk to the container process")]
    Sync(#[source] std::io::Error),
    /// A detached container's process ended before it was ready, without
    /// saying why (a signal killed it).
    #[error("the container process ended before it was set up (exit code {0})")]
    DiedBeforeReady(u8),
    /// `waitpid` failed.
    #[error("wait for the container process")]
    Wait(#[source] Errno),
}

impl Error {
    /// The exit code the runtime ends with for this error: 126 or 127 when
    /// the command could not be executed, 125 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Child(failure) => failure.exit_code(),
            _ => 125,
        }
    }
}

/// The stack the child runs on until `exec` replaces its whole memory. The
/// child is a copy of the parent (no `CLONE_VM`), so this only needs to hold
/// the layers' `enter_child` steps.
const CHILD_STACK_SIZE: usize = 1024 * 1024;

// ANCHOR: run
/// Runs `command` in a child process wrapped in `layers`, and returns the
/// exit code to relay (see the table in the crate docs).
pub fn run(command: &[String], layers: &[Box<dyn Layer>]) -> Result<u8, Error> {
    // Whatever the caller left open (3 and up) is not the command's.
    close_inherited_on_exec()?;
    let Launch { argv, init, flags } = Launch::of(command, layers)?;

    let (go_read, go_write) = pipe2(OFlag::O_CLOEXEC).map_err(Error::Pipe)?;
    let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC).map_err(Error::Pipe)?;

    // The init's signals are blocked across `clone`: the child is born with
    // them blocked, so one forwarded to it while the layers still enter
    // waits, pending, for the init. The runtime unblocks them at once.
    let command_mask = init.map(|supplied| init::block(&supplied.init.signals())).transpose()?;
    let child = spawn_child(flags, || {
        // The child's copies of the parent's ends must go, or the pipes
        // would never reach end-of-file.
        close_in_child([&go_write, &report_read]);
        let failure = enter_and_exec(&argv, layers, init.zip(command_mask), &go_read, None);
        report(&report_write, &failure);
        failure.exit_code().into()
    });
    if let Some(mask) = &command_mask {
        init::unblock(mask)?;
    }
    let child = child?;
    drop((go_read, report_write));

    let result = supervise(child, layers, go_write, report_read);
    clean_up(layers);
    result
}
// ANCHOR_END: run

// ANCHOR: launch
/// What `run` and `create` know before anything exists: the command as
/// C strings, the init a layer supplies (two are refused), and the
/// namespaces every layer asks for, as one set of clone flags.
struct Launch<'a> {
    argv: Vec<CString>,
    init: Option<Supplied<'a>>,
    flags: CloneFlags,
}

impl<'a> Launch<'a> {
    fn of(command: &[String], layers: &'a [Box<dyn Layer>]) -> Result<Launch<'a>, Error> {
        let argv = to_argv(command)?;
        let init = init::find(layers)?;
        let flags = layers.iter().fold(CloneFlags::empty(), |flags, layer| flags | layer.clone_flags());
        Ok(Launch { argv, init, flags })
    }
}

/// Undoes what every layer did on the host, the last layer first (the
/// reverse of the order they entered); a failure is said, not fatal.
fn clean_up(layers: &[Box<dyn Layer>]) {
    for layer in layers.iter().rev() {
        if let Err(err) = layer.cleanup() {
            eprintln!("greenroom: {}: cleanup failed: {err}", layer.name());
        }
    }
}
// ANCHOR_END: launch

// ANCHOR: create
/// Creates a detached container: the same child as [`run`]'s, set up by
/// the same layers, which then waits at `gate` instead of going on to the
/// command. Returns the child's pid once it is set up and waiting; the
/// runtime does not wait for it, and its layers are not cleaned up (the
/// container lives on until it is deleted). If anything fails before the
/// child is waiting, the child is killed and every layer cleaned up, and
/// the error is returned: nothing is left behind.
pub fn create(command: &[String], layers: &[Box<dyn Layer>], gate: &dyn Gate) -> Result<Pid, Error> {
    let Launch { argv, init, flags } = Launch::of(command, layers)?;

    let (go_read, go_write) = pipe2(OFlag::O_CLOEXEC).map_err(Error::Pipe)?;
    let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC).map_err(Error::Pipe)?;

    let command_mask = init.map(|supplied| init::block(&supplied.init.signals())).transpose()?;
    let child = spawn_child(flags, || {
        close_in_child([&go_write, &report_read]);
        let told_ready = Cell::new(false);
        let detached = Detached { gate, ready: &report_write, told_ready: &told_ready };
        let failure = enter_and_exec(&argv, layers, init.zip(command_mask), &go_read, Some(detached));
        // Once READY is sent the runtime stops listening (it may have
        // exited): a failure after that was said on stderr, and writing it to
        // the pipe would only kill us with SIGPIPE instead of its exit code.
        if !told_ready.get() {
            report(&report_write, &failure);
        }
        failure.exit_code().into()
    });
    if let Some(mask) = &command_mask {
        init::unblock(mask)?;
    }
    let child = child?;
    drop((go_read, report_write));

    let result = prepare_and_release(child, layers, go_write).and_then(|()| await_ready(child, report_read));
    if result.is_err() {
        clean_up(layers);
    }
    result.map(|()| child)
}
// ANCHOR_END: create

/// What a detached child needs on top of [`run`]'s: the gate to wait at,
/// and the pipe on which it tells the runtime it got there.
struct Detached<'a> {
    gate: &'a dyn Gate,
    ready: &'a OwnedFd,
    /// Set once READY is written: nobody reads the pipe after that.
    told_ready: &'a Cell<bool>,
}

/// The message a detached child writes on its report pipe once every layer
/// has entered, just before it waits at the gate. No [`ChildFailure`]
/// starts with this byte.
const READY: &[u8] = b"R";

/// Waits until the detached `child` is ready (every layer entered) or has
/// failed; on failure it is reaped and the reason returned.
fn await_ready(child: Pid, report: OwnedFd) -> Result<(), Error> {
    let mut report = File::from(report);
    let mut first = [0u8; 1];
    // One byte decides: READY, the start of a failure, or end-of-file (the
    // child died without a word, killed by a signal).
    let got = loop {
        match report.read(&mut first) {
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.map_err(Error::Sync)?,
        }
    };
    if got == 1 && first == READY {
        return Ok(());
    }
    let mut message = first[..got].to_vec();
    report.read_to_end(&mut message).map_err(Error::Sync)?;
    let status = waitpid(child, None).map_err(Error::Wait)?;
    match ChildFailure::decode(&message) {
        Some(ChildFailure::Aborted) | None => Err(Error::DiedBeforeReady(exit_code(status))),
        Some(failure) => Err(Error::Child(failure)),
    }
}

/// Clones the child process into the namespaces in `flags`; it runs `body`
/// and exits with the code `body` returns.
fn spawn_child(flags: CloneFlags, body: impl FnMut() -> isize) -> Result<Pid, Error> {
    // STARTER: todo!(
    // STARTER:     "start the child that runs `body`, created in the namespaces `flags` asks for, \
    // STARTER:      as a child that waitpid can wait for; a refusal becomes Error::Clone (book: \
    // STARTER:      chapter 0, \"Cloning\")"
    // STARTER: )
    // SOLUTION BEGIN
    let mut stack = vec![0u8; CHILD_STACK_SIZE];
    // SAFETY: without CLONE_VM the child gets a copy of our memory, as after
    // fork(), so `body` and the stack stay valid in it; the runtime is
    // single-threaded, so no lock is held by another thread at the copy.
    // SIGCHLD makes the child an ordinary child that `waitpid` can reap.
    let pid = unsafe { nix::sched::clone(Box::new(body), &mut stack, flags, Some(Signal::SIGCHLD as i32)) };
    pid.map_err(|source| Error::Clone { flags, source })
    // SOLUTION END
}

// ANCHOR: enter_and_exec
/// The child's whole life: wait for the parent, enter every layer, start
/// the init if a layer supplies one (with the signal mask for the command),
/// then become the command. A detached child ([`create`]) waits at its
/// gate after the layers. Returns only on failure, with the reason.
fn enter_and_exec(
    argv: &[CString],
    layers: &[Box<dyn Layer>],
    init: Option<(Supplied<'_>, SigSet)>,
    go: &OwnedFd,
    detached: Option<Detached<'_>>,
) -> ChildFailure {
    let mut byte = [0u8; 1];
    match nix::unistd::read(go.as_raw_fd(), &mut byte) {
        Ok(1) => {}
        // End-of-file: the parent gave up on us (a prepare step failed).
        _ => return ChildFailure::Aborted,
    }
    if let Some(detached) = &detached {
        if let Err(err) = detached.gate.arm() {
            return ChildFailure::Setup { layer: "gate".to_string(), message: error_chain(&*err) };
        }
    }
    for layer in layers {
        // A panic cannot unwind out of the clone callback (the process would
        // abort and look killed by SIGABRT), so it becomes a setup failure.
        let entered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| layer.enter_child()));
        let message = match entered {
            Ok(Ok(())) => continue,
            Ok(Err(err)) => error_chain(&*err),
            Err(_) => "panicked (the message is above)".to_string(),
        };
        return ChildFailure::Setup { layer: layer.name().to_string(), message };
    }
    if let Some(detached) = detached {
        // From here on the runtime that created us may be gone: what fails
        // is said on the container's own stderr.
        if nix::unistd::write(detached.ready, READY).is_err() {
            return ChildFailure::Aborted;
        }
        detached.told_ready.set(true);
        if let Err(err) = detached.gate.wait() {
            return said(ChildFailure::Setup { layer: "gate".to_string(), message: error_chain(&*err) });
        }
        return said(start_and_exec(argv, init));
    }
    start_and_exec(argv, init)
}
// ANCHOR_END: enter_and_exec

/// The end of the child's life: the init stage, then `exec`. Last, once
/// every layer has entered: what they did to this process holds for the
/// init too. Only the command's half returns from the init stage.
fn start_and_exec(argv: &[CString], init: Option<(Supplied<'_>, SigSet)>) -> ChildFailure {
    if let Some((supplied, command_mask)) = init {
        if let Err(err) = init::start_init(supplied.init, &command_mask) {
            return ChildFailure::Setup { layer: supplied.layer.to_string(), message: error_chain(&err) };
        }
    }
    default_signals();
    // execvp searches $PATH like a shell does, and only returns on failure.
    let Err(errno) = nix::unistd::execvp(&argv[0], argv);
    ChildFailure::Exec { program: argv[0].to_string_lossy().into_owned(), errno }
}

/// Puts every signal the C library lets a program set back to its default
/// action. An ignored signal stays ignored across exec, and the runtime
/// may have inherited some from its caller, or ignored them itself: Rust's
/// runtime ignores SIGPIPE in every program it starts, this one included,
/// and a command that should die writing to a closed pipe would get EPIPE
/// instead (`yes | head -1` would never end). Handlers need no reset:
/// exec resets them.
fn default_signals() {
    let realtime = nix::libc::SIGRTMIN()..=nix::libc::SIGRTMAX();
    for number in Signal::iterator().map(|signal| signal as i32).chain(realtime) {
        // SAFETY: SIG_DFL installs no handler, and this child runs one
        // thread. SIGKILL and SIGSTOP refuse with EINVAL: they cannot be
        // ignored in the first place.
        unsafe { nix::libc::signal(number, nix::libc::SIG_DFL) };
    }
}

/// Prints a detached child's failure on its stderr, where the container's
/// supervisor (conmon, a terminal) sees it, and returns it.
fn said(failure: ChildFailure) -> ChildFailure {
    eprintln!("greenroom: {failure}");
    failure
}

/// The parent's side: prepare every layer, release the child, learn whether
/// its `exec` worked, and wait for it to end.
fn supervise(child: Pid, layers: &[Box<dyn Layer>], go: OwnedFd, report: OwnedFd) -> Result<u8, Error> {
    prepare_and_release(child, layers, go)?;
    let mut message = Vec::new();
    File::from(report).read_to_end(&mut message).map_err(Error::Sync)?;
    let status = waitpid(child, None).map_err(Error::Wait)?;
    match ChildFailure::decode(&message) {
        Some(ChildFailure::Aborted) | None => Ok(exit_code(status)),
        Some(failure) => Err(Error::Child(failure)),
    }
}

/// Runs every layer's parent-side step while the child waits, then writes
/// the byte on `go` that lets it enter its layers. If a step fails, the
/// child is killed and reaped, so no zombie stays.
fn prepare_and_release(child: Pid, layers: &[Box<dyn Layer>], go: OwnedFd) -> Result<(), Error> {
    for layer in layers {
        if let Err(source) = layer.prepare_parent(child) {
            // Closing `go` unblocks the child with end-of-file; kill it too
            // in case it is past that point, and reap it so no zombie stays.
            drop(go);
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Err(Error::PrepareParent { layer: layer.name(), source });
        }
    }
    if let Err(err) = File::from(go).write_all(b"g") {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(Error::Sync(err));
    }
    Ok(())
}

/// Marks every descriptor from 3 up close-on-exec: those the runtime's
/// caller left open, which the command must not inherit (a directory of the
/// host's is a way out of any root). The runtime may still use them; its
/// own descriptors it opens with `O_CLOEXEC`.
fn close_inherited_on_exec() -> Result<(), Error> {
    // SAFETY: close_range takes no pointers; with CLOSE_RANGE_CLOEXEC it
    // only sets a flag on each descriptor in the range, closing none.
    let done = unsafe { nix::libc::syscall(nix::libc::SYS_close_range, 3, u32::MAX, nix::libc::CLOSE_RANGE_CLOEXEC) };
    Errno::result(done).map(drop).map_err(Error::InheritedDescriptors)
}

fn to_argv(command: &[String]) -> Result<Vec<CString>, Error> {
    if command.is_empty() {
        return Err(Error::EmptyCommand);
    }
    command.iter().map(|arg| CString::new(arg.as_bytes()).map_err(|_| Error::NulInArgument(arg.clone()))).collect()
}

/// Writes the child's failure to the report pipe in one `write`, which a
/// pipe keeps whole. Nothing more can be done if that fails: the exit code
/// still says something went wrong.
fn report(pipe: &OwnedFd, failure: &ChildFailure) {
    let _ = nix::unistd::write(pipe, &failure.encode());
}

/// Closes the child's copies of the parent's pipe ends. The child never
/// runs destructors (it ends in `exec` or `_exit`), so closing the raw
/// descriptors cannot lead to a double close.
fn close_in_child(fds: [&OwnedFd; 2]) {
    for fd in fds {
        let _ = nix::unistd::close(fd.as_raw_fd());
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
