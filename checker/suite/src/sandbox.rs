//! Keeping the runtime under test on a leash: every run gets a cgroup of
//! its own, with a pids and memory limit (a fork bomb is capped, not fatal)
//! and `cgroup.kill` to end everything it started.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The most processes one run may have: plenty for any container, few
/// enough that a fork bomb stays harmless.
pub const PIDS_MAX: &str = "256";
/// The most memory one run may use.
pub const MEMORY_MAX: &str = "268435456";

/// Where the suite's cgroups go: a `greenroom-suite` folder in the cgroup v2
/// hierarchy, found in `/proc/self/mountinfo`. `None` when there is no
/// cgroup v2 (then runs are stopped by process group only).
pub fn suite_cgroup() -> Option<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cgroup2 = crate::mountinfo::parse(&mountinfo).into_iter().find(|m| m.fstype == "cgroup2")?;
    let root = PathBuf::from(cgroup2.point);
    let dir = root.join("greenroom-suite");
    // Controllers are enabled top-down; a failure only loses the limits.
    let _ = fs::write(root.join("cgroup.subtree_control"), "+pids +memory");
    fs::create_dir_all(&dir).ok()?;
    let _ = fs::write(dir.join("cgroup.subtree_control"), "+pids +memory");
    Some(dir)
}

/// The cgroup at `dir` as `/proc/PID/cgroup` names it for a process in it
/// (outside any cgroup namespace): its path below the cgroup v2 mount.
pub fn hierarchy_path(dir: &Path) -> Option<String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cgroup2 = crate::mountinfo::parse(&mountinfo).into_iter().find(|m| m.fstype == "cgroup2")?;
    let below = dir.strip_prefix(cgroup2.point).ok()?;
    Some(format!("/{}", below.display()))
}

/// Removes the suite's cgroup folder once every run's is gone.
pub fn remove_suite_cgroup(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

/// Undoes a container's /proc left mounted over the host's (the host's
/// `/proc/self` then names a process of a PID namespace that is gone).
/// Returns whether there was anything to undo.
pub fn repair_host_proc() -> bool {
    let mut repaired = false;
    for _ in 0..8 {
        if Path::new("/proc/self").exists() {
            break;
        }
        repaired = true;
        let _ = nix::mount::umount2("/proc", nix::mount::MntFlags::MNT_DETACH);
    }
    repaired
}

/// Whether the host's /proc (once repaired) is a shared mount. The guest
/// makes every mount shared as it boots; a container that mounts its /proc
/// in the host's own mount namespace, for want of CLONE_NEWNS, makes them
/// private there as it makes "its" mounts private. A leak onto a private
/// /proc cannot have come by propagation.
pub fn host_proc_shared() -> bool {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts = crate::mountinfo::parse(&mountinfo);
    let proc = mounts.iter().rev().find(|m| m.point == "/proc");
    proc.is_some_and(|m| m.optional.iter().any(|field| field.starts_with("shared:")))
}

/// The cgroup of one run of the runtime.
pub struct RunCgroup {
    dir: PathBuf,
    procs: OwnedFd,
}

impl RunCgroup {
    /// Creates `parent/NAME` with the limits set. Tests run side by side,
    /// so `name` must be unique to the run (see [`crate::Ctx::with_run_names`]).
    pub fn create(parent: &Path, name: &str) -> io::Result<RunCgroup> {
        RunCgroup::make(parent, name, true)
    }

    /// Creates `parent/NAME` with no limits of its own, for a run whose
    /// container must find none where it stands (the isolation matrix's):
    /// the limits go on `parent` (a cgroup from [`RunCgroup::create`],
    /// whose controllers are not handed down), and hold for it all the same.
    pub fn create_unlimited(parent: &Path, name: &str) -> io::Result<RunCgroup> {
        RunCgroup::make(parent, name, false)
    }

    fn make(parent: &Path, name: &str, limits: bool) -> io::Result<RunCgroup> {
        let dir = parent.join(name);
        if dir.exists() {
            kill_and_remove(&dir);
        }
        fs::create_dir(&dir)?;
        if limits {
            let _ = fs::write(dir.join("pids.max"), PIDS_MAX);
            let _ = fs::write(dir.join("memory.max"), MEMORY_MAX);
        }
        let procs = fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs"))?;
        Ok(RunCgroup { dir, procs: procs.into() })
    }

    /// The cgroup's folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Makes `command` move itself into this cgroup just before `exec`, so
    /// nothing it starts can escape the limits.
    pub fn enter_on_exec(&self, command: &mut Command) {
        let procs = self.procs.try_clone();
        // SAFETY: the closure runs between fork and exec, where only
        // async-signal-safe calls are allowed: it makes a single write(2) to
        // a descriptor opened beforehand and allocates nothing.
        unsafe {
            command.pre_exec(move || match &procs {
                // "0" means "the process writing this".
                Ok(fd) => nix::unistd::write(fd, b"0").map(drop).map_err(io::Error::from),
                Err(_) => Err(io::Error::from(io::ErrorKind::Other)),
            });
        }
    }

    /// The cgroups the runtime made inside this one, by name.
    pub fn children(&self) -> Vec<String> {
        child_cgroups(&self.dir).filter_map(|dir| Some(dir.file_name()?.to_string_lossy().into_owned())).collect()
    }

    /// The processes still in this cgroup or any below it.
    pub fn processes(&self) -> Vec<u32> {
        fn collect(dir: &Path, pids: &mut Vec<u32>) {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            pids.extend(procs.lines().filter_map(|line| line.trim().parse::<u32>().ok()));
            for child in child_cgroups(dir) {
                collect(&child, pids);
            }
        }
        let mut pids = Vec::new();
        collect(&self.dir, &mut pids);
        pids
    }

    /// Kills every process in the cgroup.
    pub fn kill_all(&self) {
        kill_and_remove(&self.dir);
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        kill_and_remove(&self.dir);
    }
}

/// The cgroups directly inside `dir` (its subdirectories); none if it
/// cannot be read.
fn child_cgroups(dir: &Path) -> impl Iterator<Item = PathBuf> {
    let entries = fs::read_dir(dir).into_iter().flatten().flatten();
    entries.filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir())).map(|entry| entry.path())
}

fn kill_and_remove(dir: &Path) {
    // A runtime of chapter 6 makes cgroups inside its own; one that did not
    // remove them would keep this one from going.
    for child in child_cgroups(dir) {
        kill_and_remove(&child);
    }
    // Usually nothing is left once the runtime has exited: then the cgroup
    // goes at once, with no signal to send and nothing to wait for.
    if fs::remove_dir(dir).is_ok() || !dir.exists() {
        return;
    }
    let _ = fs::write(dir.join("cgroup.kill"), "1");
    // The kernel removes a cgroup only once its last process is gone.
    let deadline = Instant::now() + Duration::from_secs(2);
    while fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What a run of the suite must leave as it found it, so that a guest kept
/// up between gradings grades the next one as a fresh guest would: the
/// hostname, the mount table, the cgroups, and the processes (none but
/// PID 1 and the suite itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    hostname: String,
    mountinfo: String,
    cgroups: Vec<String>,
    processes: Vec<u32>,
}

impl MachineState {
    /// Reads the state now.
    pub fn capture() -> MachineState {
        let cgroups = fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten();
        let mut cgroups: Vec<String> = cgroups
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        cgroups.sort();
        MachineState {
            hostname: fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
            mountinfo: fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
            cgroups,
            processes: user_processes(),
        }
    }
}

/// Pids of the live processes other than PID 1, this one and kernel
/// threads (those are PID 2, kthreadd, and its children). Zombies do not
/// count: they hold nothing, and the guest's PID 1 reaps them in its time.
fn user_processes() -> Vec<u32> {
    let me = std::process::id();
    let pids = fs::read_dir("/proc").into_iter().flatten().flatten();
    let mut pids: Vec<u32> = pids
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != 1 && *pid != 2 && *pid != me)
        .filter(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The parent's pid is the second field after the command name,
            // which is in parentheses and may contain anything.
            let mut fields = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace());
            let (state, ppid) = fields.as_mut().map_or((None, None), |f| (f.next(), f.next()));
            !stat.is_empty() && ppid != Some("2") && state != Some("Z")
        })
        .collect();
    pids.sort();
    pids
}
