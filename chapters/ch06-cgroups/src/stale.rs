//! Cgroups left behind by a runtime that could not clean up (it was
//! killed with SIGKILL): removed by the next run under the same parent.

use std::path::Path;

use nix::unistd::Pid;

use crate::cgroup::children;

/// The prefix of every cgroup this runtime makes: `greenroom-<pid>` for a
/// container, `greenroom-<pid>-supervisor` for the runtime itself.
pub const PREFIX: &str = "greenroom-";

/// The name of the container's cgroup for the runtime `pid`.
pub fn container_name(pid: Pid) -> String {
    format!("{PREFIX}{pid}")
}

/// The name of the leaf the runtime `pid` moves itself into.
pub fn supervisor_name(pid: Pid) -> String {
    format!("{PREFIX}{pid}-supervisor")
}

/// The runtime pid a cgroup's name carries, if it is one of ours.
pub fn owner(name: &str) -> Option<Pid> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits = rest.strip_suffix("-supervisor").unwrap_or(rest);
    digits.parse().ok().map(Pid::from_raw)
}

// ANCHOR: remove_stale
/// Removes the cgroups under `parent` whose runtime is gone (`is_running`
/// says no). Only empty ones can go: `rmdir` of a cgroup with processes
/// fails, and those are left alone.
pub fn remove_stale(parent: &Path, is_running: impl Fn(Pid) -> bool) {
    let Ok(names) = children(parent) else { return };
    for name in names {
        if owner(&name).is_some_and(|pid| !is_running(pid)) {
            let _ = std::fs::remove_dir(parent.join(&name));
        }
    }
}
// ANCHOR_END: remove_stale

/// Whether a process `pid` exists (signal 0 only checks).
pub fn is_running(pid: Pid) -> bool {
    !matches!(nix::sys::signal::kill(pid, None), Err(nix::errno::Errno::ESRCH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TestDir;

    #[test]
    fn names_carry_the_runtime_pid() {
        assert_eq!(owner(&container_name(Pid::from_raw(42))), Some(Pid::from_raw(42)));
        assert_eq!(owner(&supervisor_name(Pid::from_raw(42))), Some(Pid::from_raw(42)));
        assert_eq!(owner("run-3"), None);
        assert_eq!(owner("greenroom-x"), None);
    }

    #[test]
    fn only_cgroups_of_dead_runtimes_go() {
        let parent = TestDir::new("stale");
        for name in ["greenroom-7", "greenroom-7-supervisor", "greenroom-8", "other"] {
            std::fs::create_dir(parent.path().join(name)).unwrap();
        }
        remove_stale(parent.path(), |pid| pid.as_raw() == 8);
        let mut left = children(parent.path()).unwrap();
        left.sort();
        assert_eq!(left, ["greenroom-8", "other"]);
    }
}
