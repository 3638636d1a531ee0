//! `exec`: one more process in a running container (`podman exec`).
//!
//! Nothing is created: the new process joins what the container's first
//! process already has. Its namespaces are open files, `/proc/PID/ns/*`;
//! `setns` on each moves the caller in. Its cgroup is a directory to write
//! the new pid into. One namespace needs care: joining a PID namespace
//! moves only the caller's *future children* into it, so the runtime joins
//! that one itself, before `clone`, and the child is born inside.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::stat;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Linux, Process};
use spawn::{BoxError, Gate, Layer};

use crate::console::ConsoleLayer;
use crate::harden::ProcessHardening;
use crate::lifecycle::LifecycleError;
use crate::state::{ContainerId, StateRoot};

/// What can go wrong joining a container.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The process file could not be read.
    #[error("read the process file {0}: {1}")]
    ProcessFile(PathBuf, String),
    /// No process file and no command.
    #[error("say what to run: --process FILE, or a command after the id")]
    NoCommand,
    /// A namespace could not be opened or joined.
    #[error("join the container's {kind} namespace ({path})")]
    Join {
        /// Its name in /proc/PID/ns.
        kind: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The cgroup could not be joined.
    #[error(transparent)]
    Cgroup(#[from] cgroups::cgroup::CgroupError),
}

/// The namespaces to join, in order: user first (it decides what the
/// others allow), mount last (after it, the host's /proc is out of reach).
/// The PID namespace is not here: the runtime joins it before `clone`.
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Whether `pid`'s namespace `kind` is another than ours (same device and
/// inode: the same namespace, and joining it would be an error for user).
fn differs(pid: Pid, kind: &str) -> bool {
    let theirs = stat(format!("/proc/{pid}/ns/{kind}").as_str());
    let ours = stat(format!("/proc/self/ns/{kind}").as_str());
    match (theirs, ours) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino),
        _ => false,
    }
}

/// One of the container's namespaces, opened.
#[derive(Debug)]
struct Namespace {
    kind: &'static str,
    flag: CloneFlags,
    path: PathBuf,
    file: File,
}

impl Namespace {
    /// Opens namespace `kind` of `pid`. All are opened first, while the
    /// runtime is still host root: once in the container's user namespace
    /// it may no longer open the files of its first process.
    fn open(pid: Pid, kind: &'static str, flag: CloneFlags) -> Result<Namespace, ExecError> {
        let path = PathBuf::from(format!("/proc/{pid}/ns/{kind}"));
        match File::open(&path) {
            Ok(file) => Ok(Namespace { kind, flag, path, file }),
            Err(e) => Err(ExecError::Join { kind, path, source: Errno::from_raw(e.raw_os_error().unwrap_or(0)) }),
        }
    }

    /// Joins it.
    fn join(&self) -> Result<(), ExecError> {
        setns(&self.file, self.flag).map_err(|source| ExecError::Join {
            kind: self.kind,
            path: self.path.clone(),
            source,
        })
    }
}

// ANCHOR: join_layer
/// Joins the container's namespaces (all but PID) and its cgroup.
#[derive(Debug)]
pub struct JoinContainer {
    namespaces: Vec<Namespace>,
    cgroup: Option<PathBuf>,
}

impl Layer for JoinContainer {
    fn name(&self) -> &'static str {
        "exec"
    }

    /// Into the container's cgroup before the child goes on.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        if let Some(dir) = &self.cgroup {
            cgroups::cgroup::move_into(dir, Some(child))?;
        }
        Ok(())
    }

    /// `setns` on each of the container's namespaces that is not ours.
    fn enter_child(&self) -> Result<(), BoxError> {
        for namespace in &self.namespaces {
            namespace.join()?;
            // As in `create` (chapter 5): become root of the container's
            // user namespace; the process's own user comes after.
            if namespace.flag == CloneFlags::CLONE_NEWUSER {
                let setgroups = std::fs::read_to_string("/proc/self/setgroups").unwrap_or_default();
                user::layer::become_root(setgroups.trim() == "allow")?;
            }
        }
        Ok(())
    }
}
// ANCHOR_END: join_layer

/// A gate that is always open: `exec --detach` returns once the process
/// is set up, and it goes on at once.
struct Open;

impl Gate for Open {
    fn arm(&self) -> Result<(), BoxError> {
        Ok(())
    }
    fn wait(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// What `exec` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// A process.json, as podman writes it.
    pub process: Option<PathBuf>,
    /// Or a command, run with the container's own process settings.
    pub command: Vec<String>,
    /// Write the new process's host pid here.
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs, without waiting for it.
    pub detach: bool,
    /// Send a terminal's master to this unix socket.
    pub console_socket: Option<PathBuf>,
}

// ANCHOR: exec
/// Runs a process in the running container `id`. Detached, returns 0 once
/// it runs; otherwise waits and returns its exit code.
pub fn exec(root: &StateRoot, id: &str, options: &ExecOptions) -> Result<u8, LifecycleError> {
    let container_id = ContainerId::parse(id)?;
    let locked = root.open_container(&container_id)?;
    let record = locked.read_existing()?;
    let status = record.current_status();
    let pid = match (status, record.pid()) {
        (ContainerState::Running, Some(pid)) if !record.cgroup_frozen() => pid,
        _ => {
            let why = "exec needs a running container, not a paused one";
            return Err(LifecycleError::WrongState { id: id.to_string(), status, why });
        }
    };
    let (process, linux) = load_process(options, record.state.bundle())?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(ExecError::NoCommand.into());
    }
    let mut layers: Vec<Box<dyn Layer>> = Vec::new();
    let namespaces = NAMESPACES
        .into_iter()
        .filter(|(kind, _)| differs(pid, kind))
        .map(|(kind, flag)| Namespace::open(pid, kind, flag))
        .collect::<Result<Vec<_>, _>>()?;
    layers.push(Box::new(JoinContainer { namespaces, cgroup: record.cgroup.clone() }));
    // In the container's mount namespace: its own /dev/ptmx.
    if let Some(socket) = &options.console_socket {
        layers.push(Box::new(ConsoleLayer::connect(socket)?));
    }
    layers.push(Box::new(ProcessHardening::from_spec(&process, linux.as_ref())?));
    // The lock is not needed while the process runs.
    drop(locked);
    if differs(pid, "pid") {
        Namespace::open(pid, "pid", CloneFlags::CLONE_NEWPID)?.join()?;
    }
    if options.detach {
        let child = spawn::create(&args, &layers, &Open)?;
        if let Some(path) = &options.pid_file {
            crate::lifecycle::write_pid_file(path, child)?;
        }
        return Ok(0);
    }
    Ok(spawn::run(&args, &layers)?)
}
// ANCHOR_END: exec

/// The process to run: podman's process.json, or the container's own
/// process with another command.
fn load_process(options: &ExecOptions, bundle: &Path) -> Result<(Process, Option<Linux>), LifecycleError> {
    // The container's seccomp profile applies to what joins it too.
    let bundle = crate::bundle::Bundle::load(bundle)?;
    let linux = bundle.spec.linux().clone();
    if let Some(path) = &options.process {
        let text = std::fs::read_to_string(path).map_err(|e| ExecError::ProcessFile(path.clone(), e.to_string()))?;
        let process: Process =
            serde_json::from_str(&text).map_err(|e| ExecError::ProcessFile(path.clone(), e.to_string()))?;
        return Ok((process, linux));
    }
    if options.command.is_empty() {
        return Err(ExecError::NoCommand.into());
    }
    let mut process = bundle.spec.process().clone().unwrap_or_default();
    process.set_args(Some(options.command.clone()));
    Ok((process, linux))
}
