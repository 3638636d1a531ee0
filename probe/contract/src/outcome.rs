//! What the probe's one-question subcommands found: did a signal arrive, are
//! there zombies, can the host's files be reached, could a file be made,
//! which mounts are there.

use serde::{Deserialize, Serialize};

use crate::Document;

/// An error number from the kernel (`errno`), as the probe got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Errno(pub i32);

impl Errno {
    /// Operation not permitted.
    pub const EPERM: Errno = Errno(1);
    /// No such process.
    pub const ESRCH: Errno = Errno(3);
    /// Read-only file system.
    pub const EROFS: Errno = Errno(30);
    /// Operation not supported (what the suite's seccomp profile answers).
    pub const EOPNOTSUPP: Errno = Errno(95);

    /// The symbolic name, for the errors the tests expect.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Errno::EPERM => Some("EPERM"),
            Errno::ESRCH => Some("ESRCH"),
            Errno::EROFS => Some("EROFS"),
            Errno::EOPNOTSUPP => Some("EOPNOTSUPP"),
            _ => None,
        }
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// `probe signal PID SIGNAL`: what `kill(PID, SIGNAL)` returned inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalOutcome {
    /// `None` when the signal was delivered (or, for signal 0, when the
    /// process exists and may be signalled); else why not.
    pub errno: Option<Errno>,
}

impl Document for SignalOutcome {
    const SUBCOMMAND: &'static str = "signal";
}

/// `probe orphan`: the zombies left after an orphaned grandchild exited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orphans {
    /// Pids in state Z once the orphans have had time to be reaped.
    pub zombies: Vec<u32>,
}

impl Document for Orphans {
    const SUBCOMMAND: &'static str = "orphan";
}

/// `probe escape MARKER`: which classic ways out reached the host's file
/// MARKER (`true` means the host's file was reached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escape {
    /// Through `/proc/1/root`: PID 1 lives in the host's root.
    pub proc1_root: bool,
    /// Through `/proc/1/cwd` and `..`: PID 1's working directory is outside.
    pub proc1_cwd: bool,
    /// By chrooting into a subdirectory and climbing `..`: the old root is
    /// still mounted.
    pub chroot_escape: bool,
}

impl Document for Escape {
    const SUBCOMMAND: &'static str = "escape";
}

/// `probe touch PATH`: whether PATH could be created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touched {
    /// `None` when PATH was created; else why not (`EROFS` on a read-only
    /// root).
    pub errno: Option<Errno>,
}

impl Document for Touched {
    const SUBCOMMAND: &'static str = "touch";
}

/// `probe mounts PATH…`: the mount table as the probe sees it, and whether
/// a file could be created at each PATH: a mount is read-only in effect,
/// not only in its options, when the kernel refuses with `EROFS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountsSeen {
    /// `/proc/self/mountinfo`, one line each (`suite::mountinfo` parses
    /// them), read before anything is created.
    pub mountinfo: Option<Vec<String>>,
    /// One entry per PATH, in order.
    pub created: Vec<Created>,
}

impl Document for MountsSeen {
    const SUBCOMMAND: &'static str = "mounts";
}

/// One file the probe tried to create, for [`MountsSeen`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The path asked about.
    pub path: String,
    /// `None` when the file was created (and left there, for the host to
    /// find); else why not.
    pub errno: Option<Errno>,
}

/// `probe ipc-look KEY NAME`: which of the IPC objects the suite made on
/// the host exist in the probe's IPC namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcLook {
    /// A System V message queue with key KEY exists.
    pub sysv_queue_found: bool,
    /// A POSIX message queue named NAME exists.
    pub posix_queue_found: bool,
}

impl Document for IpcLook {
    const SUBCOMMAND: &'static str = "ipc-look";
}

/// `probe ipc-make KEY NAME`: making a System V message queue KEY and a
/// POSIX message queue NAME, left behind on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcMade {
    /// `None` when the System V queue was made; else why not.
    pub sysv_queue: Option<Errno>,
    /// `None` when the POSIX queue was made; else why not.
    pub posix_queue: Option<Errno>,
}

impl Document for IpcMade {
    const SUBCOMMAND: &'static str = "ipc-make";
}
