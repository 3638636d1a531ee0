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
        // STARTER: todo!(
        // STARTER:     "the signals the init waits for: the one that says a child ended, and every \
        // STARTER:      one it passes on to the command (book: chapter 2, \"The init\")"
        // STARTER: )
        // SOLUTION BEGIN
        let mut set = SigSet::empty();
        set.add(SIGCHLD);
        for signal in crate::forward::FORWARDED {
            set.add(signal);
        }
        set
        // SOLUTION END
    }

    /// Returns the command's exit code (128 + N if signal N killed it) once
    /// the command has ended.
    fn run(&self, command: Pid) -> i32 {
        // STARTER: todo!(
        // STARTER:     "PID 1's whole life: let go of what it inherited, then wait for signals one at a \
        // STARTER:      time, reaping on a child's end and passing every other one on, until the \
        // STARTER:      command has ended; return its exit code (book: chapter 2, \"The init\")"
        // STARTER: )
        // SOLUTION BEGIN
        close_inherited_descriptors();
        // The init has no use for a working directory. `/` keeps it from
        // holding the command's busy for the container's whole life, and
        // /proc/1/cwd from leading into a directory of the host's, should
        // the layers have left the process in one.
        let _ = nix::unistd::chdir("/");
        let signals = self.signals();
        loop {
            match signals.wait() {
                Ok(SIGCHLD) => {
                    if let Some(code) = reap_children(command) {
                        return code;
                    }
                }
                Ok(signal) => forward(command, signal),
                Err(_) => continue,
            }
        }
        // SOLUTION END
    }
}

/// Reaps every child that has ended — the command, and any orphan the
/// kernel re-parented to us — and returns the command's exit code once it
/// has ended.
fn reap_children(command: Pid) -> Option<i32> {
    // STARTER: todo!(
    // STARTER:     "reap every child that has already ended, without ever blocking, and give back \
    // STARTER:      the command's exit code once the command is among them (book: chapter 2, \"Reaping\")"
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

/// Passes a signal the init received on to the command. PID 1 is exempt
/// from default signal actions, so without this a SIGTERM sent to the
/// container would do nothing at all.
fn forward(command: Pid, signal: Signal) {
    // STARTER: todo!("pass `signal` on to the command (book: chapter 2, \"Forwarding\")")
    // SOLUTION BEGIN
    // The command may have just ended; then there is nobody to tell.
    let _ = kill(command, signal);
    // SOLUTION END
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
