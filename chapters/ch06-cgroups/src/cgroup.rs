//! One cgroup, as the kernel shows it: a directory of the cgroup2 file
//! system. Making one, limiting it, moving a process into it, reading why
//! its processes died, and removing it are all plain reads and writes of
//! the files in it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;

use crate::limits::Limits;

/// What can go wrong with a cgroup's files.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// `mkdir` of a cgroup failed.
    #[error("create the cgroup {0}")]
    Create(PathBuf, #[source] io::Error),
    /// A write to one of its files failed.
    #[error("write {value:?} to {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// Why the kernel refused.
        #[source]
        source: io::Error,
    },
    /// A controller the limits need is not offered to this cgroup.
    #[error("the {controller} controller is not available in {path} (cgroup.controllers): is it enabled above?")]
    NoController {
        /// Such as `memory`.
        controller: &'static str,
        /// The cgroup.
        path: PathBuf,
    },
    /// `cgroup.subtree_control` refused: the cgroup has processes.
    #[error(
        "enable {controllers} in {path}: the cgroup has processes of its own, and cgroup v2 lets a cgroup \
         with processes give no controllers to its children (the no-internal-processes rule)"
    )]
    Busy {
        /// The subtree_control file.
        path: PathBuf,
        /// What was enabled.
        controllers: String,
    },
    /// A file could not be read.
    #[error("read {0}")]
    Read(PathBuf, #[source] io::Error),
    /// Processes were still in the cgroup, or below it, after it was killed.
    #[error("remove the cgroup {0}: its processes were killed but had not gone after {1:?}")]
    StillPopulated(PathBuf, Duration),
    /// `rmdir` of a cgroup failed.
    #[error("remove the cgroup {0}: {1}")]
    Remove(PathBuf, #[source] io::Error),
}

/// A cgroup v2 controller the limits use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// `memory.max`, `memory.swap.max`, `memory.events`.
    Memory,
    /// `pids.max`.
    Pids,
    /// `cpu.max`, `cpu.stat`.
    Cpu,
    /// `cpuset.cpus` (the challenge).
    Cpuset,
}

impl Controller {
    /// Its name in `cgroup.controllers` and `cgroup.subtree_control`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Cpuset => "cpuset",
        }
    }

    /// The controllers `limits` need, none when no limit is asked for.
    pub fn needed_by(limits: &Limits) -> Vec<Controller> {
        let wanted = [
            (limits.memory.is_some(), Controller::Memory),
            (limits.pids.is_some(), Controller::Pids),
            (limits.cpus.is_some(), Controller::Cpu),
            (limits.cpuset.is_some(), Controller::Cpuset),
        ];
        wanted.into_iter().filter_map(|(wanted, controller)| wanted.then_some(controller)).collect()
    }
}

/// Writes `value` to the file `path`, in one `write` as the kernel wants.
pub fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read(path.to_path_buf(), source))
}

/// The names in a space-separated list file (`cgroup.controllers`,
/// `cgroup.subtree_control`).
fn names(path: &Path) -> Result<Vec<String>, CgroupError> {
    Ok(read(path)?.split_whitespace().map(str::to_string).collect())
}

// ANCHOR: enable_controllers
/// Gives `controllers` to the children of every cgroup from `root` down
/// to `root/parent`, one level at a time (a cgroup can only pass on what
/// its own parent gave it). Returns those newly enabled in `parent` itself,
/// so the runtime can take them back when it leaves.
pub fn enable_controllers(
    root: &Path,
    parent: &Path,
    controllers: &[Controller],
) -> Result<Vec<Controller>, CgroupError> {
    let mut level = root.to_path_buf();
    let mut levels = vec![level.clone()];
    for name in parent.components() {
        level.push(name);
        levels.push(level.clone());
    }
    let mut added = Vec::new();
    for dir in &levels {
        let offered = names(&dir.join("cgroup.controllers"))?;
        let enabled = names(&dir.join("cgroup.subtree_control"))?;
        added.clear();
        for controller in controllers {
            if !offered.iter().any(|name| name == controller.name()) {
                return Err(CgroupError::NoController { controller: controller.name(), path: dir.clone() });
            }
            if !enabled.iter().any(|name| name == controller.name()) {
                added.push(*controller);
            }
        }
        if added.is_empty() {
            continue;
        }
        let line = added.iter().map(|c| format!("+{}", c.name())).collect::<Vec<_>>().join(" ");
        let file = dir.join("cgroup.subtree_control");
        match fs::write(&file, &line) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(nix::libc::EBUSY) => {
                return Err(CgroupError::Busy { path: file, controllers: line });
            }
            Err(source) => return Err(CgroupError::Write { path: file, value: line, source }),
        }
    }
    Ok(added)
}
// ANCHOR_END: enable_controllers

/// Takes back `controllers` from the children of `dir` (what
/// [`enable_controllers`] added there).
pub fn disable_controllers(dir: &Path, controllers: &[Controller]) -> Result<(), CgroupError> {
    if controllers.is_empty() {
        return Ok(());
    }
    let line = controllers.iter().map(|c| format!("-{}", c.name())).collect::<Vec<_>>().join(" ");
    write(&dir.join("cgroup.subtree_control"), &line)
}

/// Makes the cgroup `dir`.
pub fn create(dir: &Path) -> Result<(), CgroupError> {
    fs::create_dir(dir).map_err(|source| CgroupError::Create(dir.to_path_buf(), source))
}

/// Writes `limits` into the cgroup `dir`. Memory first, with no swap to
/// fall back on, so a container over its limit is killed rather than
/// swapped out; then the number of processes; then the CPU share.
pub fn write_limits(dir: &Path, limits: &Limits) -> Result<(), CgroupError> {
    todo!(
        "set every limit asked in the cgroup's files, so that swap cannot get around \
         the memory limit (book: chapter 6, \"Creating the cgroup\")"
    )
}

/// Moves the process `pid` into the cgroup `dir`; `None` moves the caller.
/// Everything it starts from then on is born there.
pub fn move_into(dir: &Path, pid: Option<Pid>) -> Result<(), CgroupError> {
    todo!(
        "move the process `pid` (0 for the caller) into this cgroup (book: chapter 6, \
         \"Moving the child\")"
    )
}

/// How many processes of the cgroup `dir` the kernel's OOM killer ended:
/// the `oom_kill` line of `memory.events`. Read it before the cgroup is
/// removed: the count goes with it.
pub fn oom_kills(dir: &Path) -> Result<u64, CgroupError> {
    todo!(
        "how many times the kernel's OOM killer struck in this cgroup (book: chapter \
         6, \"Out of memory\")"
    )
}

/// How long [`kill_and_remove`] waits for the processes to go.
const EMPTY_TIMEOUT: Duration = Duration::from_secs(2);

/// Kills every process left in the cgroup `dir` and in the cgroups below
/// it (a command may leave a daemon behind, an agent may have made a cgroup
/// inside), waits for them to be gone, and removes them all, the deepest
/// first. Nothing to remove is no error.
pub fn kill_and_remove(dir: &Path) -> Result<(), CgroupError> {
    todo!(
        "remove the cgroup, and any cgroup below it, even while processes still run in them: none \
         may survive, and the kernel may need a moment (book: chapter 6, \"Cleaning up\")"
    )
}

/// The child cgroups of `dir`, by name.
pub fn children(dir: &Path) -> Result<Vec<String>, CgroupError> {
    let entries = fs::read_dir(dir).map_err(|source| CgroupError::Read(dir.to_path_buf(), source))?;
    let dirs = entries.flatten().filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()));
    Ok(dirs.map(|entry| entry.file_name().to_string_lossy().into_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{parse_cpus, parse_memory};
    use crate::testdir::TestDir;

    #[test]
    fn limits_are_written_to_their_files() {
        let dir = TestDir::new("limits");
        fs::write(dir.path().join("memory.swap.max"), "max").unwrap();
        let limits = Limits {
            memory: Some(parse_memory("64M").unwrap()),
            pids: Some(20),
            cpus: Some(parse_cpus("0.5", 2).unwrap()),
            cpuset: None,
        };
        write_limits(dir.path(), &limits).unwrap();
        let file = |name: &str| fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(file("memory.max"), "67108864");
        assert_eq!(file("memory.swap.max"), "0");
        assert_eq!(file("pids.max"), "20");
        assert_eq!(file("cpu.max"), "50000 100000");
    }

    #[test]
    fn no_limit_writes_no_file() {
        let dir = TestDir::new("nolimits");
        write_limits(dir.path(), &Limits::default()).unwrap();
        assert!(children(dir.path()).unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_oom_kill_count_is_read_from_memory_events() {
        let dir = TestDir::new("events");
        fs::write(dir.path().join("memory.events"), "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n")
            .unwrap();
        assert_eq!(oom_kills(dir.path()).unwrap(), 1);
        fs::write(dir.path().join("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n").unwrap();
        assert_eq!(oom_kills(dir.path()).unwrap(), 0);
    }

    #[test]
    fn controllers_are_enabled_level_by_level() {
        let root = TestDir::new("levels");
        let middle = root.path().join("suite");
        let parent = middle.join("run-1");
        fs::create_dir_all(&parent).unwrap();
        for dir in [root.path(), &middle, &parent] {
            fs::write(dir.join("cgroup.controllers"), "cpu memory pids").unwrap();
        }
        fs::write(root.path().join("cgroup.subtree_control"), "memory pids").unwrap();
        fs::write(middle.join("cgroup.subtree_control"), "memory pids").unwrap();
        fs::write(parent.join("cgroup.subtree_control"), "").unwrap();
        // A real subtree_control takes "+cpu" and shows "cpu": a plain file
        // keeps what was written, which is what this test looks at.
        let added = enable_controllers(root.path(), Path::new("suite/run-1"), &[Controller::Memory, Controller::Cpu]);
        assert_eq!(added.unwrap(), vec![Controller::Memory, Controller::Cpu]);
        assert_eq!(fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap(), "+cpu");
        assert_eq!(fs::read_to_string(middle.join("cgroup.subtree_control")).unwrap(), "+cpu");
        assert_eq!(fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap(), "+memory +cpu");
    }

    #[test]
    fn a_missing_controller_is_named() {
        let root = TestDir::new("missing");
        fs::write(root.path().join("cgroup.controllers"), "memory pids").unwrap();
        fs::write(root.path().join("cgroup.subtree_control"), "").unwrap();
        let err = enable_controllers(root.path(), Path::new(""), &[Controller::Cpu]).unwrap_err();
        assert!(matches!(err, CgroupError::NoController { controller: "cpu", .. }), "{err}");
    }
}
