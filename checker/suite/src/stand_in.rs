//! With `--host`, the suite runs on a machine that is not thrown away
//! afterwards. A runtime that gets a layer wrong changes whatever it
//! shares with the suite: a mount that leaks for want of `MS_PRIVATE`, a
//! hostname set without a UTS namespace, a queue made without an IPC
//! namespace, an interface left behind. In the guest that is what the tests
//! catch, and the guest is gone after. On a real machine it would stay.
//!
//! So before anything runs, the suite moves into namespaces of its own —
//! mount, UTS, IPC and network — which stand in for the machine's. To the
//! tests they *are* the host: a container is compared with the suite's own
//! namespaces, so a runtime that shares them is caught as before. But what
//! the runtime does to them ends with the suite.
//!
//! Mounts need one step more. The suite's copy of the mount table is made
//! a slave of the machine's (it still sees what the machine mounts, and
//! sends nothing back), then shared again among its own copies: a
//! container that forgets `MS_PRIVATE` still leaks its mounts into the
//! suite's table, where `host-mounts-unchanged` sees them, and no further.
//!
//! Processes and cgroups are not namespaced here: every run is already in a
//! cgroup of its own, killed and removed after it (`sandbox`).

use std::fmt;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// A step of entering the stand-in that failed.
#[derive(Debug)]
pub struct StandInError {
    step: &'static str,
    errno: nix::errno::Errno,
}

impl fmt::Display for StandInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not {} to stand in for this machine: {}", self.step, self.errno)
    }
}

impl std::error::Error for StandInError {}

/// Moves the calling process, before it starts any thread or child, into
/// mount, UTS, IPC and network namespaces of its own, its mounts receiving
/// the machine's and sending it none.
pub fn enter() -> Result<(), StandInError> {
    let kinds =
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNET;
    unshare(kinds).map_err(|errno| StandInError { step: "make namespaces of the suite's own", errno })?;
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none)
        .map_err(|errno| StandInError { step: "stop the suite's mounts from reaching the machine's", errno })?;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SHARED, none)
        .map_err(|errno| StandInError { step: "share the suite's mounts with its containers", errno })?;
    Ok(())
}
