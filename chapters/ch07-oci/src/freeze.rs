//! Chapter 7's challenge: `pause` and `resume`, every process of a
//! container stopped where it stands and let go again, with cgroup v2's
//! freezer. podman's `pause` and `unpause` call them. The book states the
//! goal in "Challenge: pause and resume"; there is no walkthrough.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a cgroup could not be frozen or thawed.
#[derive(Debug, thiserror::Error)]
pub enum FreezeError {
    /// Writing `cgroup.freeze` failed.
    #[error("write {}", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
    /// The kernel did not report the change in time.
    #[error("{} did not report \"frozen {}\" within {} ms", .0.display(), u8::from(*.1), FREEZE_TIMEOUT.as_millis())]
    Timeout(PathBuf, bool),
}

/// How long the kernel may take to freeze or thaw every process: each must
/// reach a point where it can stop (a process in a long system call is
/// stopped when it returns).
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often `cgroup.events` is read while the kernel works.
const POLL: Duration = Duration::from_millis(2);

/// Whether the cgroup `dir` is frozen now, as the kernel says in its
/// `cgroup.events` (`frozen 1`). A cgroup that cannot be read is not.
pub fn is_frozen(dir: &Path) -> bool {
    let events = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
    events.lines().any(|line| line.trim() == "frozen 1")
}

/// Freezes (`frozen`) or thaws every process of the cgroup `dir` and of
/// the cgroups below it, and returns once the kernel says it is done.
pub fn set_frozen(dir: &Path, frozen: bool) -> Result<(), FreezeError> {
    todo!(
        "challenge: ask the kernel to freeze or thaw the whole cgroup, and return only once it says every \
         process is where it was asked to be (book: chapter 7, \"The bundle and the lifecycle\", \
         \"Challenge: pause and resume\")"
    )
}
