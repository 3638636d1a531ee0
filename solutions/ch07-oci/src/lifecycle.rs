//! The OCI lifecycle, one function per command: `create`, `start`,
//! `state`, `kill`, `delete`, and `run` (all three in one).
//!
//! Each command is its own process. What holds them together is the state
//! directory (see [`crate::state`]): each one locks the container's
//! directory, reads what the last one wrote, checks the container's status
//! allows the operation (the runtime spec's rules: start only a created
//! container, delete only a stopped one, …), acts, and writes back.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Hooks, State};

use crate::bundle::{Bundle, BundleError};
use crate::console::{ConsoleError, ConsoleLayer};
use crate::gate::{self, FifoGate, GateError};
use crate::hooks::{self, ContainerHooks, HookError, RuntimeHooks, Stage, StageHooks};
use crate::plan::{self, PlanError};
use crate::state::{ContainerId, Locked, ProcStat, Record, StateError, StateRoot};

/// What can go wrong in a lifecycle command.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The bundle was refused.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The config cannot become a container.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The state.
    #[error(transparent)]
    State(#[from] StateError),
    /// The exec FIFO.
    #[error(transparent)]
    Gate(#[from] GateError),
    /// The console socket.
    #[error(transparent)]
    Console(#[from] ConsoleError),
    /// A hook that cannot be run.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// `exec` could not join the container.
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    /// The process part of a config or process.json.
    #[error(transparent)]
    Harden(#[from] crate::harden::HardenError),
    /// A namespace to be joined before the clone could not be.
    #[error(transparent)]
    Join(#[from] crate::namespaces::NamespaceError),
    /// Creating the container's process failed.
    #[error(transparent)]
    Spawn(#[from] spawn::Error),
    /// An operation the container's status does not allow.
    #[error("container {id} is {status}: {why}")]
    WrongState {
        /// The container.
        id: String,
        /// Its status.
        status: ContainerState,
        /// What is allowed instead.
        why: &'static str,
    },
    /// A signal name or number that is no signal.
    #[error("{0:?} is not a signal: give a number (15) or a name (TERM, SIGTERM)")]
    BadSignal(String),
    /// `kill` failed.
    #[error("send {signal} to the container's process {pid}")]
    Kill {
        /// The signal.
        signal: Signal,
        /// The process.
        pid: Pid,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The pid file could not be written.
    #[error("write the pid file {0}")]
    PidFile(PathBuf, #[source] std::io::Error),
    /// The cgroup could not be removed.
    #[error(transparent)]
    Cgroup(#[from] cgroups::cgroup::CgroupError),
    /// The process did not die after SIGKILL.
    #[error("container {0}: its process {1} did not die after SIGKILL")]
    Undying(String, Pid),
    /// The state could not be written out as JSON.
    #[error("encode the state as JSON")]
    Encode(#[source] serde_json::Error),
    /// Pausing needs the container's own cgroup.
    #[error("container {0} has no cgroup of its own to freeze: give its config a linux.cgroupsPath")]
    NoCgroup(String),
    /// The freezer failed.
    #[error(transparent)]
    Freeze(#[from] crate::freeze::FreezeError),
    /// `waitpid` failed in `run`.
    #[error("wait for the container's process")]
    Wait(#[source] Errno),
}

impl LifecycleError {
    /// The exit code: the command's own for exec failures in `run`, else
    /// 125 (a runtime error, or bad input: one clear line, nothing made).
    pub fn exit_code(&self) -> u8 {
        match self {
            LifecycleError::Spawn(err) => err.exit_code(),
            _ => 125,
        }
    }
}

/// Options of `create` beyond the bundle and the id.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Where to write the container process's host pid.
    pub pid_file: Option<PathBuf>,
    /// The unix socket to send the terminal's master to.
    pub console_socket: Option<PathBuf>,
    /// How many descriptors from 3 on the command gets.
    pub preserve_fds: u32,
}

// ANCHOR: create
/// `create`: checks the bundle, records the container, and starts its
/// process, which sets itself up and waits at the exec FIFO. Returns the
/// process's host pid. Whatever fails leaves nothing behind: the state
/// directory goes, and the core has already killed the process and
/// cleaned up its layers.
pub fn create(root: &StateRoot, id: &str, bundle: &Path, options: &CreateOptions) -> Result<Pid, LifecycleError> {
    let id = ContainerId::parse(id)?;
    let bundle = Bundle::load(bundle)?;
    let mut plan = plan::plan(&bundle)?;
    let hooks = bundle.spec.hooks().as_ref();
    hooks::check(hooks)?;
    let locked = root.create_container(&id)?;
    let made = (|| {
        let mut record = Record::creating(&id, &bundle.dir, bundle.spec.annotations().clone());
        record.cgroup = plan.cgroup.clone();
        record.hooks = hooks.cloned();
        // Written before the process exists: a `create` killed half-way
        // leaves a record `delete --force` can clean up after.
        locked.write(&record)?;
        gate::make(&locked.fifo())?;
        if let Some(socket) = &options.console_socket {
            // After the mounts: the terminal is the container's own.
            let at = plan.layers.iter().position(|l| l.name() == "mounts").map_or(plan.layers.len(), |i| i + 1);
            plan.layers.insert(at, Box::new(ConsoleLayer::connect(socket)?));
        }
        // First of all layers: the process is on record from the moment
        // it exists, for `delete --force` if this `create` dies.
        plan.layers.insert(0, Box::new(RecordPid { dir: locked.dir().to_path_buf(), record: record.clone() }));
        add_hooks(&mut plan.layers, hooks, &record.state);
        let start_hooks = StageHooks::new(Stage::StartContainer, hooks, record.state.clone());
        let gate = FifoGate::new(locked.fifo(), vec![locked.lock_fd()], options.preserve_fds, start_hooks);
        // This process ends once the container is created: joining the
        // container's network (or UTS, IPC) namespace changes nothing it
        // does after.
        crate::namespaces::join_all(&plan.join_first)?;
        let pid = spawn::create(&plan.args, &plan.layers, &gate)?;
        record.start_time = ProcStat::read(pid).map(|stat| stat.start_time);
        record.state.set_pid(Some(pid.as_raw())).set_status(ContainerState::Created);
        locked.write(&record)?;
        if let Some(path) = &options.pid_file {
            write_pid_file(path, pid)?;
        }
        Ok(pid)
    })();
    if made.is_err() {
        // The core cleaned up the process and the cgroup; the record goes.
        let _ = locked.remove();
    }
    made
}
// ANCHOR_END: create

// ANCHOR: add_hooks
/// Puts the config's create-time hooks among the layers: `createContainer`
/// just before the layer that mounts the container's own `/proc` or
/// pivots its root (the PID layer, else the mounts), `prestart` and
/// `createRuntime` last, after every other layer has prepared the child.
fn add_hooks(layers: &mut Vec<Box<dyn spawn::Layer>>, hooks: Option<&Hooks>, state: &State) {
    let stage = |stage| StageHooks::new(stage, hooks, state.clone());
    let in_container = stage(Stage::CreateContainer);
    if !in_container.is_empty() {
        let at = layers.iter().position(|l| matches!(l.name(), "pid" | "mounts")).unwrap_or(layers.len());
        layers.insert(at, Box::new(ContainerHooks(in_container)));
    }
    let stages = [stage(Stage::Prestart), stage(Stage::CreateRuntime)];
    if stages.iter().any(|s| !s.is_empty()) {
        layers.push(Box::new(RuntimeHooks { stages }));
    }
}
// ANCHOR_END: add_hooks

/// Records the container's process in `state.json` as soon as it exists
/// (its status still `creating`), before it goes on: a `create` that dies
/// from here on leaves a pid for `delete --force` to kill.
struct RecordPid {
    dir: PathBuf,
    record: Record,
}

impl spawn::Layer for RecordPid {
    fn name(&self) -> &'static str {
        "state"
    }

    fn prepare_parent(&self, child: Pid) -> Result<(), spawn::BoxError> {
        let mut record = self.record.clone();
        record.state.set_pid(Some(child.as_raw()));
        record.start_time = ProcStat::read(child).map(|stat| stat.start_time);
        crate::state::write_record(&self.dir, &record)?;
        Ok(())
    }
}

/// Writes `pid` to `path` the way `state.json` is written: whole or not at
/// all, so an engine polling the file never reads half a number.
pub(crate) fn write_pid_file(path: &Path, pid: Pid) -> Result<(), LifecycleError> {
    let temporary = path.with_extension("tmp-greenroom");
    fs::write(&temporary, pid.to_string())
        .and_then(|()| fs::rename(&temporary, path))
        .map_err(|e| LifecycleError::PidFile(path.to_path_buf(), e))
}

/// Opens container `id` and reads its record, which must exist.
fn open(root: &StateRoot, id: &str) -> Result<(Locked, Record), LifecycleError> {
    let id = ContainerId::parse(id)?;
    let locked = root.open_container(&id)?;
    let record = locked.read_existing()?;
    Ok((locked, record))
}

// ANCHOR: start
/// `start`: releases a created container's process, which goes on to its
/// init and command.
pub fn start(root: &StateRoot, id: &str) -> Result<(), LifecycleError> {
    let (locked, mut record) = open(root, id)?;
    let status = record.current_status();
    if status != ContainerState::Created {
        let why = "only a created container can be started";
        return Err(LifecycleError::WrongState { id: id.to_string(), status, why });
    }
    let pid = record.pid().ok_or(GateError::Dead)?;
    gate::release(&locked.fifo(), pid, record.start_time)?;
    record.state.set_status(ContainerState::Running);
    locked.write(&record)?;
    // The command runs: a poststart hook that fails cannot undo that.
    StageHooks::new(Stage::Poststart, record.hooks.as_ref(), record.state.clone()).run_warning(ContainerState::Running);
    Ok(())
}
// ANCHOR_END: start

/// `state`: the container's state document, with its status now.
pub fn state(root: &StateRoot, id: &str) -> Result<State, LifecycleError> {
    let (_locked, record) = open(root, id)?;
    Ok(record.current_state())
}

/// `state` as printed: with runc's status `paused` for a container whose
/// cgroup is frozen (the challenge's `pause`).
pub fn printed_state(root: &StateRoot, id: &str) -> Result<serde_json::Value, LifecycleError> {
    let (_locked, record) = open(root, id)?;
    record.printed_state().map_err(LifecycleError::Encode)
}

/// Every container's state, for `list`.
pub fn list(root: &StateRoot) -> Result<Vec<State>, LifecycleError> {
    let mut states = Vec::new();
    for id in root.list()? {
        // One that vanished or is half made is left out, not an error.
        if let Ok(state) = state(root, id.as_str()) {
            states.push(state);
        }
    }
    Ok(states)
}

// ANCHOR: parse_signal
/// A signal as podman (`15`) or runtime-tools (`TERM`, `SIGTERM`) names it.
pub fn parse_signal(text: &str) -> Result<Signal, LifecycleError> {
    let bad = || LifecycleError::BadSignal(text.to_string());
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<Signal>().map_err(|_| bad())
}
// ANCHOR_END: parse_signal

// ANCHOR: kill
/// `kill`: sends `signal` to the container's process (with `all`, to
/// every process of its cgroup). A stopped container has none to signal.
pub fn kill(root: &StateRoot, id: &str, signal: Signal, all: bool) -> Result<(), LifecycleError> {
    let (_locked, record) = open(root, id)?;
    let status = record.current_status();
    let pid = match (status, record.pid()) {
        (ContainerState::Created | ContainerState::Running, Some(pid)) => pid,
        _ => {
            let why = "there is no process to signal";
            return Err(LifecycleError::WrongState { id: id.to_string(), status, why });
        }
    };
    if all {
        for other in cgroup_pids(record.cgroup.as_deref()) {
            let _ = send_signal(other, signal);
        }
    }
    send_signal(pid, signal).map_err(|source| LifecycleError::Kill { signal, pid, source })
}
// ANCHOR_END: kill

/// `pause` (`frozen`) and `resume`: freezes or thaws every process of a
/// running (or paused) container's cgroup. Paused is then the kernel's
/// word (see `Record::cgroup_frozen`).
pub fn pause_or_resume(root: &StateRoot, id: &str, frozen: bool) -> Result<(), LifecycleError> {
    let (_locked, record) = open(root, id)?;
    let status = record.current_status();
    let why = match (frozen, status, record.cgroup_frozen()) {
        (true, ContainerState::Running, false) | (false, ContainerState::Running, true) => None,
        (true, ContainerState::Running, true) => Some("it is paused already"),
        (true, _, _) => Some("only a running container can be paused"),
        (false, _, _) => Some("only a paused container can be resumed"),
    };
    if let Some(why) = why {
        return Err(LifecycleError::WrongState { id: id.to_string(), status, why });
    }
    let cgroup = record.cgroup.as_deref().ok_or_else(|| LifecycleError::NoCgroup(id.to_string()))?;
    Ok(crate::freeze::set_frozen(cgroup, frozen)?)
}

/// The processes in the cgroup `dir`; none without one.
fn cgroup_pids(dir: Option<&Path>) -> Vec<Pid> {
    let Some(dir) = dir else { return Vec::new() };
    let text = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    text.split_whitespace().filter_map(|pid| pid.parse().ok()).map(Pid::from_raw).collect()
}

/// How long `delete --force` waits for a killed process to be gone.
const DEATH_TIMEOUT: Duration = Duration::from_secs(5);

// ANCHOR: delete
/// `delete`: removes a stopped container's cgroup and state. With `force`,
/// a container that is not stopped is killed first; without, it is
/// refused. A record left by a `create` that died half-way is cleaned too.
pub fn delete(root: &StateRoot, id: &str, force: bool) -> Result<(), LifecycleError> {
    let id = ContainerId::parse(id)?;
    let locked = root.open_container(&id)?;
    let Some(record) = locked.read()? else {
        // A `create` died before it wrote anything: only the directory.
        locked.remove()?;
        return Ok(());
    };
    let status = record.current_status();
    if status != ContainerState::Stopped {
        if !force {
            let why = "delete only a stopped container (or use --force to kill it first)";
            return Err(LifecycleError::WrongState { id: id.to_string(), status, why });
        }
        if let Some(pid) = record.pid() {
            kill_and_wait(&id, pid, record.start_time)?;
        }
    }
    if let Some(cgroup) = &record.cgroup {
        cgroups::cgroup::kill_and_remove(cgroup)?;
    }
    locked.remove()?;
    // The container is gone: what fails now is only a warning.
    StageHooks::new(Stage::Poststop, record.hooks.as_ref(), record.state.clone()).run_warning(ContainerState::Stopped);
    Ok(())
}
// ANCHOR_END: delete

/// SIGKILL, then wait until the process is gone (or a zombie, which its
/// parent reaps).
fn kill_and_wait(id: &ContainerId, pid: Pid, start_time: Option<u64>) -> Result<(), LifecycleError> {
    let _ = send_signal(pid, Signal::SIGKILL);
    let started = Instant::now();
    while crate::state::is_alive(pid, start_time) {
        if started.elapsed() > DEATH_TIMEOUT {
            return Err(LifecycleError::Undying(id.to_string(), pid));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

// ANCHOR: run
/// `run`: `create`, `start`, wait for the container's process (the
/// runtime is its parent here), `delete`. Returns the exit code to relay.
pub fn run(root: &StateRoot, id: &str, bundle: &Path, options: &CreateOptions) -> Result<u8, LifecycleError> {
    let pid = create(root, id, bundle, options)?;
    let waited = start(root, id).and_then(|()| loop {
        match nix::sys::wait::waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            other => break other.map_err(LifecycleError::Wait),
        }
    });
    let deleted = delete(root, id, true);
    let status = waited?;
    deleted?;
    Ok(spawn::exit::exit_code(status))
}
// ANCHOR_END: run

/// The annotations of a state, for `list` (an empty map when none).
pub fn annotations(state: &State) -> HashMap<String, String> {
    state.annotations().clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_by_name() {
        assert_eq!(parse_signal("15").ok(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("9").ok(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("TERM").ok(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("SIGTERM").ok(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("kill").ok(), Some(Signal::SIGKILL));
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    fn temp_root(name: &str) -> (PathBuf, StateRoot) {
        let path = std::env::temp_dir().join(format!("greenroom-life-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        let root = StateRoot::choose(Some(&path), None);
        (path, root)
    }

    #[test]
    fn a_stopped_container_cannot_be_started_or_killed_but_can_be_deleted() {
        let (path, root) = temp_root("stopped");
        let id = ContainerId::parse("c1").expect("id");
        let locked = root.create_container(&id).expect("create");
        let mut record = Record::creating(&id, Path::new("/b"), None);
        // A pid that cannot exist: the container's process is gone.
        record.state.set_pid(Some(i32::MAX)).set_status(ContainerState::Running);
        locked.write(&record).expect("write");
        drop(locked);
        assert_eq!(state(&root, "c1").expect("state").status(), &ContainerState::Stopped);
        assert!(matches!(start(&root, "c1"), Err(LifecycleError::WrongState { .. })));
        assert!(matches!(kill(&root, "c1", Signal::SIGTERM, false), Err(LifecycleError::WrongState { .. })));
        delete(&root, "c1", false).expect("a stopped container is deleted");
        assert!(matches!(state(&root, "c1"), Err(LifecycleError::State(StateError::NotFound(..)))));
        let _ = fs::remove_dir_all(path);
    }

    #[test]
    fn a_live_container_is_not_deleted_without_force() {
        let (path, root) = temp_root("alive");
        let id = ContainerId::parse("c1").expect("id");
        let locked = root.create_container(&id).expect("create");
        let mut record = Record::creating(&id, Path::new("/b"), None);
        // This test process stands in for the container's: it is alive.
        let me = Pid::this();
        record.state.set_pid(Some(me.as_raw())).set_status(ContainerState::Running);
        record.start_time = ProcStat::read(me).map(|s| s.start_time);
        locked.write(&record).expect("write");
        drop(locked);
        assert!(matches!(delete(&root, "c1", false), Err(LifecycleError::WrongState { .. })));
        assert!(matches!(start(&root, "c1"), Err(LifecycleError::WrongState { .. })));
        assert_eq!(state(&root, "c1").expect("state").status(), &ContainerState::Running);
        let _ = fs::remove_dir_all(path);
    }

    #[test]
    fn bad_input_leaves_nothing_behind() {
        let (path, root) = temp_root("bad");
        let err = create(&root, "../x", Path::new("/nowhere"), &CreateOptions::default()).expect_err("bad id");
        assert_eq!(err.exit_code(), 125);
        let err = create(&root, "c1", Path::new("/nowhere"), &CreateOptions::default()).expect_err("no bundle");
        assert!(matches!(err, LifecycleError::Bundle(_)));
        assert!(root.list().expect("list").is_empty());
        let _ = fs::remove_dir_all(path);
    }
}
