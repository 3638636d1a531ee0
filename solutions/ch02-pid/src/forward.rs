//! Passing signals the runtime receives on to the container.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::Pid;

/// The container's first process, for the signal handler to find. A handler
/// cannot take arguments, and an atomic is safe to read from one.
static CONTAINER: AtomicI32 = AtomicI32::new(0);

/// The signals a user or a supervisor sends to stop or poke a program.
pub const FORWARDED: [Signal; 6] =
    [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

/// Installing a handler failed.
#[derive(Debug, thiserror::Error)]
#[error("install a handler for {signal}")]
pub struct ForwardError {
    /// The signal.
    pub signal: Signal,
    /// Why.
    #[source]
    pub source: Errno,
}

extern "C" fn forward_to_container(signal: i32) {
    let pid = CONTAINER.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe, and takes no pointers.
        unsafe { nix::libc::kill(pid, signal) };
    }
}

/// From now on, the signals in [`FORWARDED`] that reach the runtime are
/// sent on to `container`. `SA_RESTART` keeps the runtime's `waitpid` going
/// after a handler ran.
pub fn forward_signals_to(container: Pid) -> Result<(), ForwardError> {
    // STARTER: todo!(
    // STARTER:     "from now on, every signal in FORWARDED that reaches the runtime goes on to \
    // STARTER:      `container`, and the runtime's wait carries on after it (book: chapter 2, \"Signals, end to \
    // STARTER:      end\")"
    // STARTER: )
    // SOLUTION BEGIN
    CONTAINER.store(container.as_raw(), Ordering::Relaxed);
    let action = SigAction::new(SigHandler::Handler(forward_to_container), SaFlags::SA_RESTART, SigSet::empty());
    for signal in FORWARDED {
        // SAFETY: the handler only reads an atomic and calls kill(2), both
        // async-signal-safe.
        unsafe { sigaction(signal, &action) }.map_err(|source| ForwardError { signal, source })?;
    }
    Ok(())
    // SOLUTION END
}
