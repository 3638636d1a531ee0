//! Writing the maps into `/proc/PID/`, from the parent, in the order the
//! kernel requires.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::Pid;

use crate::map::IdMap;
use crate::plan::{MapPlan, UserNamespace, Writer};

/// A write the kernel or a helper refused.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing a `/proc/PID/` file failed.
    #[error("write {0}")]
    Proc(PathBuf, #[source] std::io::Error),
    /// A helper could not be started.
    #[error("run {0}")]
    StartHelper(PathBuf, #[source] std::io::Error),
    /// A helper refused the map.
    #[error("{program} refused the map {map:?}: {stderr}")]
    Helper {
        /// The helper.
        program: PathBuf,
        /// The map it was given, as /proc shows it.
        map: String,
        /// What it said.
        stderr: String,
    },
}

/// Where the kernel shows the files of process `pid`.
pub fn proc_dir(proc: &Path, pid: Pid) -> PathBuf {
    proc.join(pid.as_raw().to_string())
}

/// Gives the child's user namespace its maps. The child is blocked until
/// this returns: a map can be written only once, and only from outside.
pub fn write_maps(proc: &Path, child: Pid, namespace: &UserNamespace) -> Result<(), WriteError> {
    // STARTER: todo!(
    // STARTER:     "write what the plan says into the child's maps, in the order the kernel \
    // STARTER:      accepts (book: chapter 5, \"Writing the maps\")"
    // STARTER: )
    // SOLUTION BEGIN
    write_map(proc, child, &namespace.uid)?;
    // The kernel takes an unprivileged gid_map only once setgroups is
    // denied: otherwise dropping a group could grant access (see the book).
    if namespace.deny_setgroups {
        let setgroups = proc_dir(proc, child).join("setgroups");
        std::fs::write(&setgroups, "deny").map_err(|e| WriteError::Proc(setgroups, e))?;
    }
    write_map(proc, child, &namespace.gid)
    // SOLUTION END
}

/// Writes one map, directly or through its helper. Directly, the whole
/// map goes in one `write`: the kernel takes a map once, all at once.
pub fn write_map(proc: &Path, child: Pid, plan: &MapPlan) -> Result<(), WriteError> {
    match &plan.writer {
        Writer::Direct => {
            let path = proc_dir(proc, child).join(plan.map.kind().proc_file());
            std::fs::write(&path, plan.map.to_proc_text()).map_err(|e| WriteError::Proc(path, e))
        }
        Writer::Helper(program) => run_helper(program, child, &plan.map),
    }
}

/// Runs `newuidmap PID INSIDE OUTSIDE COUNT…` (or `newgidmap`): setuid
/// root, it checks the ranges against `/etc/subuid` and writes the map.
fn run_helper(program: &Path, child: Pid, map: &IdMap) -> Result<(), WriteError> {
    let mut command = Command::new(program);
    command.arg(child.as_raw().to_string());
    for range in map.ranges() {
        command.args([range.inside, range.outside, range.count].map(|id| id.to_string()));
    }
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|e| WriteError::StartHelper(program.to_path_buf(), e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(WriteError::Helper {
        program: program.to_path_buf(),
        map: map.to_proc_text(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}
