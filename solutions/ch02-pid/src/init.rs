//! The container's init: PID 1 runs the command as PID 2, reaps every
//! child, and forwards signals to the command.

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// What can go wrong while starting the init.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Changing the signal mask failed.
    #[error("block signals for the init")]
    BlockSignals(#[source] Errno),
    /// `fork` failed.
    #[error("fork the command from the init")]
    Fork(#[source] Errno),
}

const SIGCHLD: Signal = Signal::SIGCHLD;

/// The signals the init handles: children ending, and those it passes on
/// (the same the runtime forwards to it).
fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(SIGCHLD);
    for signal in crate::forward::FORWARDED {
        set.add(signal);
    }
    set
}

// ANCHOR: fork_init
/// Splits the calling process (PID 1 of the new namespace) in two. The
/// child returns `Ok` and goes on to exec the command as PID 2; the parent
/// never returns: it becomes the init and exits when the command does.
pub fn fork_init() -> Result<(), InitError> {
    // Block the signals before fork, so none is lost between the fork and
    // the init's first wait: a blocked signal waits, pending, for sigwait.
    let mut previous = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled_signals()), Some(&mut previous))
        .map_err(InitError::BlockSignals)?;
    // SAFETY: the runtime is single-threaded, so the child inherits no lock
    // held by another thread; it only restores its signal mask and returns
    // to exec the command.
    match unsafe { fork() }.map_err(InitError::Fork)? {
        ForkResult::Child => {
            // The mask survives exec: give the command the one it expects.
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None)
                .map_err(InitError::BlockSignals)?;
            Ok(())
        }
        ForkResult::Parent { child } => run_init(child),
    }
}
// ANCHOR_END: fork_init

// ANCHOR: run_init
/// The init's whole life. Exits the process with the command's exit code
/// (128 + N if signal N killed it); never returns.
fn run_init(command: Pid) -> ! {
    close_inherited_descriptors();
    // The init still has the runtime's working directory, a directory of
    // the host's: /proc/1/cwd would lead the container out of its root.
    let _ = nix::unistd::chdir("/");
    let signals = handled_signals();
    loop {
        match signals.wait() {
            Ok(SIGCHLD) => {
                if let Some(code) = reap_children(command) {
                    exit_now(code);
                }
            }
            Ok(signal) => forward(command, signal),
            Err(_) => continue,
        }
    }
}
// ANCHOR_END: run_init

// ANCHOR: reap_children
/// Reaps every child that has ended — the command, and any orphan the
/// kernel re-parented to us — and returns the command's exit code once it
/// has ended.
fn reap_children(command: Pid) -> Option<i32> {
    // STARTER: todo!(
    // STARTER:     "loop over waitpid(None, Some(WaitPidFlag::WNOHANG)) until it says StillAlive or \
    // STARTER:      fails with ECHILD; when the ended child is `command`, remember its exit code \
    // STARTER:      (its own code, or 128 + N for signal N) and return it (book: chapter 2, \"PID 1's duties\")"
    // STARTER: )
    // SOLUTION BEGIN
    let mut command_code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => command_code = Some(code),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == command => command_code = Some(128 + signal as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return command_code,
            // An orphan, now reaped: nothing more to do for it.
            Ok(_) => {}
        }
    }
    // SOLUTION END
}
// ANCHOR_END: reap_children

// ANCHOR: forward
/// Passes a signal the init received on to the command. PID 1 is exempt
/// from default signal actions, so without this a SIGTERM sent to the
/// container would do nothing at all.
fn forward(command: Pid, signal: Signal) {
    // STARTER: todo!("send `signal` to `command` (book: chapter 2, \"PID 1's duties\")")
    // SOLUTION BEGIN
    // The command may have just ended; then there is nobody to tell.
    let _ = kill(command, signal);
    // SOLUTION END
}
// ANCHOR_END: forward

// ANCHOR: close_inherited_descriptors
/// Closes every descriptor above stderr. The init never execs, so without
/// this it would hold the runtime's descriptors for the container's whole
/// life: the runtime would learn that the command was executed only when
/// everything ends, and the container could reach them through /proc/1/fd.
fn close_inherited_descriptors() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<i32> = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        let _ = nix::unistd::close(fd);
    }
}
// ANCHOR_END: close_inherited_descriptors

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once, skipping destructors and
    // atexit handlers, which belong to the runtime this process was copied
    // from and must not run twice.
    unsafe { nix::libc::_exit(code) }
}
