//! The container's init: PID 1 waits while the command runs as PID 2,
//! reaps every child, and forwards signals to the command.
//!
//! The core starts it (`spawn::init`), once every layer has entered: it
//! blocks [`Init::signals`] before `clone`, forks just before `exec`, and
//! calls [`Init::run`] in the half that stays behind as PID 1.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use spawn::Init;

/// The runtime's own minimal init, in the spirit of `tini`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TinyInit;

const SIGCHLD: Signal = Signal::SIGCHLD;

impl Init for TinyInit {
    /// Children ending, and the signals it passes on (the same the runtime
    /// forwards to it).
    fn signals(&self) -> SigSet {
        todo!(
            "the signals the init waits for: the one that says a child ended, and every \
             one it passes on to the command (book: chapter 2, \"The init\")"
        )
    }

    /// Returns the command's exit code (128 + N if signal N killed it) once
    /// the command has ended.
    fn run(&self, command: Pid) -> i32 {
        todo!(
            "PID 1's whole life: let go of what it inherited, then wait for signals one at a \
             time, reaping on a child's end and passing every other one on, until the \
             command has ended; return its exit code (book: chapter 2, \"The init\")"
        )
    }
}

/// Reaps every child that has ended — the command, and any orphan the
/// kernel re-parented to us — and returns the command's exit code once it
/// has ended.
fn reap_children(command: Pid) -> Option<i32> {
    todo!(
        "reap every child that has already ended, without ever blocking, and give back \
         the command's exit code once the command is among them (book: chapter 2, \"Reaping\")"
    )
}

/// Passes a signal the init received on to the command. PID 1 is exempt
/// from default signal actions, so without this a SIGTERM sent to the
/// container would do nothing at all.
fn forward(command: Pid, signal: Signal) {
    todo!("pass `signal` on to the command (book: chapter 2, \"Forwarding\")")
}

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
