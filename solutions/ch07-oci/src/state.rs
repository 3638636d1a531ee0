//! Where the runtime keeps what it knows of each container between two
//! invocations, and how two invocations never trip over each other.
//!
//! `create`, `start`, `state`, `kill` and `delete` are separate processes,
//! started by an engine (podman, through conmon) one after the other or at
//! the same time. What one learns, the next must find: each container has
//! a directory under the *state root*, holding its `state.json`, the FIFO
//! its process waits on until `start` (see [`crate::gate`]) and a lock
//! file. Every command takes an exclusive `flock` on that lock file before
//! it reads the state and holds it until it has written it back, and
//! `state.json` is replaced whole (a temporary file, then `rename`), so a
//! reader never sees half a document.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::kill;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Hooks, State};
use serde::{Deserialize, Serialize};

/// The name of every runtime's state root under `/run` or
/// `$XDG_RUNTIME_DIR`.
pub const ROOT_NAME: &str = "greenroom";

/// The state document of each container, in its directory.
pub const STATE_FILE: &str = "state.json";
/// The FIFO the container's process waits on until `start`.
pub const FIFO_FILE: &str = "exec.fifo";
/// The file every command locks while it works on the container.
const LOCK_FILE: &str = "lock";

/// What can go wrong with the runtime's state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An id that cannot name a directory safely.
    #[error("container id {0:?} is not valid: use letters, digits and `_ + - .` (at most 1024), not `.` or `..`")]
    BadId(String),
    /// `create` with an id already in use.
    #[error("a container {0:?} exists already: pick another id, or `delete` it first")]
    Exists(String),
    /// Any other command with an unknown id.
    #[error("no container {0:?} in {1}")]
    NotFound(String, PathBuf),
    /// A file or directory of the state could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// To what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The lock could not be taken.
    #[error("lock {0}")]
    Lock(PathBuf, #[source] Errno),
    /// `state.json` is not what this runtime writes.
    #[error("read {0}: not a state document")]
    Parse(PathBuf, #[source] serde_json::Error),
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io { action, path, source }
}

// ANCHOR: container_id
/// A container id that is safe to use as a directory name: letters,
/// digits, `_`, `+`, `-` and `.`, neither `.` nor `..`, at most 1024 bytes
/// (runc's rule). A `/` or `..` would let an id name a directory outside
/// the state root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContainerId(String);

impl ContainerId {
    /// Checks `text`.
    pub fn parse(text: &str) -> Result<ContainerId, StateError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_+-.".contains(c);
        let fine = !text.is_empty() && text.len() <= 1024 && text.chars().all(allowed) && text != "." && text != "..";
        match fine {
            true => Ok(ContainerId(text.to_string())),
            false => Err(StateError::BadId(text.to_string())),
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
// ANCHOR_END: container_id

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

// ANCHOR: state_root
/// The directory holding one directory per container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRoot(PathBuf);

impl StateRoot {
    /// crun's rule, so that every invocation without flags finds the same
    /// root: `--root` if given, else `$XDG_RUNTIME_DIR/greenroom` when that
    /// variable is set and not empty (podman sets it empty for root), else
    /// `/run/greenroom`.
    pub fn choose(root: Option<&Path>, xdg_runtime_dir: Option<OsString>) -> StateRoot {
        if let Some(root) = root {
            return StateRoot(root.to_path_buf());
        }
        match xdg_runtime_dir {
            Some(dir) if !dir.is_empty() => StateRoot(PathBuf::from(dir).join(ROOT_NAME)),
            _ => StateRoot(Path::new("/run").join(ROOT_NAME)),
        }
    }
    // ANCHOR_END: state_root

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory of container `id`.
    pub fn container_dir(&self, id: &ContainerId) -> PathBuf {
        self.0.join(id.as_str())
    }

    // ANCHOR: create_container
    /// Makes the directory of a new container `id` and locks it. `mkdir`
    /// is atomic: of two `create`s with the same id, one gets
    /// [`StateError::Exists`].
    pub fn create_container(&self, id: &ContainerId) -> Result<Locked, StateError> {
        // 0711: anyone may pass through to the FIFO (a container process in
        // a user namespace is not host root); only root may list or change.
        fs::DirBuilder::new().recursive(true).mode(0o711).create(&self.0).map_err(io_error("create", &self.0))?;
        let dir = self.container_dir(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Err(StateError::Exists(id.to_string())),
            Err(err) => return Err(io_error("create", &dir)(err)),
        }
        Locked::lock(id.clone(), dir)
    }
    // ANCHOR_END: create_container

    /// Locks the directory of the existing container `id`. Waits while
    /// another command holds the lock.
    pub fn open_container(&self, id: &ContainerId) -> Result<Locked, StateError> {
        let dir = self.container_dir(id);
        if !dir.is_dir() {
            return Err(StateError::NotFound(id.to_string(), self.0.clone()));
        }
        let locked = Locked::lock(id.clone(), dir)?;
        // `delete` may have removed it while we waited for the lock.
        if !locked.dir.is_dir() {
            return Err(StateError::NotFound(id.to_string(), self.0.clone()));
        }
        Ok(locked)
    }

    /// The ids of every container, sorted. A missing root holds none.
    pub fn list(&self) -> Result<Vec<ContainerId>, StateError> {
        let entries = match fs::read_dir(&self.0) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io_error("list", &self.0)(err)),
        };
        let mut ids: Vec<ContainerId> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| ContainerId::parse(&entry.file_name().to_string_lossy()).ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// What the runtime records of a container: the OCI state document, and
/// what it needs to answer for it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The state the OCI runtime spec defines (`state` prints it).
    #[serde(flatten)]
    pub state: State,
    /// The container process's start time (`/proc/PID/stat`, field 22),
    /// to tell it from a later process that got the same pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    /// The container's cgroup, for `delete` to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<PathBuf>,
    /// The config's hooks: `start` runs its poststart hooks and `delete`
    /// its poststop hooks, and the bundle may have changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
}

impl Record {
    /// A record of a container being created from `bundle`: no process yet.
    pub fn creating(id: &ContainerId, bundle: &Path, annotations: Option<HashMap<String, String>>) -> Record {
        let mut state = State::default();
        state
            .set_version(oci_spec::runtime::VERSION.to_string())
            .set_id(id.to_string())
            .set_status(ContainerState::Creating)
            .set_bundle(bundle.to_path_buf())
            .set_annotations(annotations);
        Record { state, start_time: None, cgroup: None, hooks: None }
    }

    /// The container's process, if it has one.
    pub fn pid(&self) -> Option<Pid> {
        self.state.pid().map(Pid::from_raw)
    }

    // ANCHOR: status
    /// The status now: what was recorded, unless the process is gone (or
    /// its pid belongs to another process now), which makes it stopped. A
    /// record still `creating` once its lock is free belongs to a `create`
    /// that died half-way: its process, if it lives, waits at the gate or
    /// is about to die, so it counts as created (`delete --force` kills
    /// it); without one, stopped.
    pub fn current_status(&self) -> ContainerState {
        match (self.pid(), self.state.status()) {
            (Some(pid), status) if is_alive(pid, self.start_time) => match status {
                ContainerState::Creating => ContainerState::Created,
                other => *other,
            },
            _ => ContainerState::Stopped,
        }
    }
    // ANCHOR_END: status

    /// The state document with the status now.
    pub fn current_state(&self) -> State {
        let mut state = self.state.clone();
        state.set_status(self.current_status());
        state
    }

    /// Whether the container's cgroup is frozen (the challenge's `pause`):
    /// the kernel's to say, so nothing records it. A running container
    /// whose cgroup is frozen is paused.
    pub fn cgroup_frozen(&self) -> bool {
        self.cgroup.as_deref().is_some_and(crate::freeze::is_frozen)
    }

    /// The state document as `state` prints it: [`Self::current_state`],
    /// with runc's status `paused` for a paused container, which the
    /// runtime spec's states leave out and podman reads.
    pub fn printed_state(&self) -> Result<serde_json::Value, serde_json::Error> {
        let state = self.current_state();
        let paused = *state.status() == ContainerState::Running && self.cgroup_frozen();
        let mut printed = serde_json::to_value(state)?;
        if paused {
            printed["status"] = serde_json::Value::from("paused");
        }
        Ok(printed)
    }
}

// ANCHOR: liveness
/// Whether the process `pid` exists, is not a zombie, and (when
/// `start_time` is known) is the one that started then: pids are reused,
/// and a container that died long ago must not be mistaken for whatever
/// process has its pid now.
pub fn is_alive(pid: Pid, start_time: Option<u64>) -> bool {
    // kill with no signal only checks; EPERM still means it exists.
    match kill(pid, None) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(_) => return false,
    }
    let Some(stat) = ProcStat::read(pid) else { return false };
    // A zombie has exited: its parent (conmon) has just not reaped it yet.
    stat.state != 'Z' && start_time.is_none_or(|expected| stat.start_time == expected)
}
// ANCHOR_END: liveness

/// The two fields of `/proc/PID/stat` the runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `Z`, …
    pub state: char,
    /// Field 22: when the process started, in clock ticks since boot.
    pub start_time: u64,
}

impl ProcStat {
    /// Reads `/proc/PID/stat`; `None` if there is no such process.
    pub fn read(pid: Pid) -> Option<ProcStat> {
        ProcStat::parse(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Parses the text of `/proc/PID/stat`. Field 2, the command name in
    /// parentheses, may hold spaces and `)`: the fields after it are
    /// counted from the last `)`.
    pub fn parse(text: &str) -> Option<ProcStat> {
        let (_, after) = text.rsplit_once(')')?;
        let mut fields = after.split_whitespace();
        // After the name come field 3 (the state) … field 22: index 19.
        let state = fields.next()?.chars().next()?;
        let start_time = fields.nth(18)?.parse().ok()?;
        Some(ProcStat { state, start_time })
    }
}

/// A container's directory, locked by this process until dropped.
#[derive(Debug)]
pub struct Locked {
    id: ContainerId,
    dir: PathBuf,
    // The lock is held until this is dropped.
    lock: Flock<File>,
}

impl Locked {
    fn lock(id: ContainerId, dir: PathBuf) -> Result<Locked, StateError> {
        let path = dir.join(LOCK_FILE);
        // O_CLOEXEC (std's default): the container's process must not
        // inherit the lock across exec.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error("open", &path))?;
        let lock = lock_exclusive(file).map_err(|errno| StateError::Lock(path, errno))?;
        Ok(Locked { id, dir, lock })
    }

    /// The container's id.
    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    /// The container's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the FIFO the container's process waits on.
    pub fn fifo(&self) -> PathBuf {
        self.dir.join(FIFO_FILE)
    }

    /// The lock's descriptor, which a child of this process must close.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.lock.as_raw_fd()
    }

    /// Reads `state.json`. A directory without one is a container whose
    /// `create` died before writing it.
    pub fn read(&self) -> Result<Option<Record>, StateError> {
        let path = self.dir.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error("read", &path)(err)),
        };
        serde_json::from_str(&text).map(Some).map_err(|err| StateError::Parse(path, err))
    }

    /// Reads `state.json`, which must be there.
    pub fn read_existing(&self) -> Result<Record, StateError> {
        let root = self.dir.parent().unwrap_or(Path::new("/")).to_path_buf();
        self.read()?.ok_or_else(|| StateError::NotFound(self.id.to_string(), root))
    }

    /// Replaces `state.json` with `record` (see [`write_record`]).
    pub fn write(&self, record: &Record) -> Result<(), StateError> {
        write_record(&self.dir, record)
    }

    /// Removes the container's directory and everything in it. The lock
    /// goes with it; a command waiting for it finds no directory after.
    pub fn remove(self) -> Result<(), StateError> {
        fs::remove_dir_all(&self.dir).map_err(io_error("remove", &self.dir))
    }
}

// ANCHOR: write_record
/// Replaces `DIR/state.json` with `record`, atomically: the new document
/// goes to a temporary file in the same directory, reaches the disk, and
/// is renamed over the old one. A reader sees the old document or the new
/// one, never a mix, even if the runtime dies half-way. The caller holds
/// the container's lock.
pub fn write_record(dir: &Path, record: &Record) -> Result<(), StateError> {
    let path = dir.join(STATE_FILE);
    let temporary = dir.join(format!(".{STATE_FILE}.tmp"));
    let text = serde_json::to_vec(record).map_err(|err| StateError::Parse(path.clone(), err))?;
    let mut file = File::create(&temporary).map_err(io_error("create", &temporary))?;
    file.write_all(&text).and_then(|()| file.sync_all()).map_err(io_error("write", &temporary))?;
    fs::rename(&temporary, &path).map_err(io_error("rename into place", &path))
}
// ANCHOR_END: write_record

/// Takes an exclusive `flock` on `file`, waiting for it as long as it
/// takes (a signal's interruption only makes us try again).
fn lock_exclusive(mut file: File) -> Result<Flock<File>, Errno> {
    loop {
        match Flock::lock(file, FlockArg::LockExclusive) {
            Ok(lock) => return Ok(lock),
            Err((back, Errno::EINTR)) => file = back,
            Err((_, errno)) => return Err(errno),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempRoot(PathBuf);
    impl TempRoot {
        fn new(name: &str) -> TempRoot {
            let path = std::env::temp_dir().join(format!("greenroom-state-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            TempRoot(path)
        }
        fn root(&self) -> StateRoot {
            StateRoot::choose(Some(&self.0), None)
        }
    }
    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn id(text: &str) -> ContainerId {
        ContainerId::parse(text).expect("a valid id")
    }

    #[test]
    fn ids_cannot_leave_the_state_root() {
        for good in ["c1", "libpod-3f2a", "a.b_c+d-e", "..a", "a.."] {
            assert!(ContainerId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "/abs", "a b", "é", "a\0b", &"x".repeat(1025)] {
            assert!(matches!(ContainerId::parse(bad), Err(StateError::BadId(_))), "{bad:?}");
        }
    }

    #[test]
    fn the_root_follows_crun_rule() {
        let explicit = StateRoot::choose(Some(Path::new("/tmp/t")), Some("/run/user/1000".into()));
        assert_eq!(explicit.path(), Path::new("/tmp/t"));
        let xdg = StateRoot::choose(None, Some("/run/user/1000".into()));
        assert_eq!(xdg.path(), Path::new("/run/user/1000/greenroom"));
        assert_eq!(StateRoot::choose(None, Some("".into())).path(), Path::new("/run/greenroom"));
        assert_eq!(StateRoot::choose(None, None).path(), Path::new("/run/greenroom"));
    }

    #[test]
    fn a_record_survives_write_and_read_and_nothing_temporary_stays() {
        let temp = TempRoot::new("write");
        let root = temp.root();
        let locked = root.create_container(&id("c1")).expect("create");
        assert!(locked.read().expect("read").is_none());
        let mut record = Record::creating(&id("c1"), Path::new("/b"), None);
        record.state.set_pid(Some(42)).set_status(ContainerState::Created);
        record.start_time = Some(7);
        locked.write(&record).expect("write");
        record.state.set_status(ContainerState::Running);
        locked.write(&record).expect("overwrite");
        assert_eq!(locked.read_existing().expect("read"), record);
        let names: Vec<_> = fs::read_dir(locked.dir()).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert!(!names.iter().any(|n| n.to_string_lossy().contains("tmp")), "{names:?}");
        // The document is the OCI state, with the runtime's fields beside it.
        let text = fs::read_to_string(locked.dir().join(STATE_FILE)).expect("read");
        let json: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(json["ociVersion"], oci_spec::runtime::VERSION);
        assert_eq!(json["status"], "running");
        assert_eq!(json["pid"], 42);
        assert_eq!(json["startTime"], 7);
    }

    #[test]
    fn a_second_create_with_the_same_id_is_refused() {
        let temp = TempRoot::new("exists");
        let root = temp.root();
        let _first = root.create_container(&id("c1")).expect("create");
        assert!(matches!(root.create_container(&id("c1")), Err(StateError::Exists(_))));
        assert!(matches!(root.open_container(&id("c2")), Err(StateError::NotFound(..))));
        assert_eq!(root.list().expect("list"), vec![id("c1")]);
    }

    #[test]
    fn the_lock_keeps_a_second_command_waiting() {
        let temp = TempRoot::new("lock");
        let root = temp.root();
        let locked = root.create_container(&id("c1")).expect("create");
        // Another open file description of the same lock file, as another
        // runtime process would have: a non-blocking lock must fail.
        let lock_file = locked.dir().join(LOCK_FILE);
        let other = || File::open(&lock_file).expect("open");
        let busy = Flock::lock(other(), FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| errno);
        assert_eq!(busy.err(), Some(Errno::EWOULDBLOCK));
        drop(locked);
        assert!(Flock::lock(other(), FlockArg::LockExclusiveNonblock).is_ok());
    }

    #[test]
    fn removing_a_container_leaves_nothing() {
        let temp = TempRoot::new("remove");
        let root = temp.root();
        let locked = root.create_container(&id("c1")).expect("create");
        locked.write(&Record::creating(&id("c1"), Path::new("/b"), None)).expect("write");
        locked.remove().expect("remove");
        assert!(root.list().expect("list").is_empty());
        assert!(matches!(root.open_container(&id("c1")), Err(StateError::NotFound(..))));
    }

    #[test]
    fn liveness_checks_the_start_time() {
        let me = Pid::this();
        let stat = ProcStat::read(me).expect("our own stat");
        assert!(is_alive(me, Some(stat.start_time)));
        assert!(is_alive(me, None));
        // Same pid, another start time: a reused pid, not our container.
        assert!(!is_alive(me, Some(stat.start_time + 1)));
        assert!(!is_alive(Pid::from_raw(i32::MAX), None));
    }

    #[test]
    fn proc_stat_is_counted_from_the_last_parenthesis() {
        let text =
            "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10 18446744073709551615";
        assert_eq!(ProcStat::parse(text), Some(ProcStat { state: 'S', start_time: 123456 }));
        assert_eq!(ProcStat::parse("garbage"), None);
    }

    #[test]
    fn a_dead_or_half_created_container_is_stopped() {
        let mut record = Record::creating(&id("c1"), Path::new("/b"), None);
        assert_eq!(record.current_status(), ContainerState::Stopped);
        let me = Pid::this();
        let start = ProcStat::read(me).map(|s| s.start_time);
        // A `create` that died after its process was recorded: created.
        record.state.set_pid(Some(me.as_raw()));
        record.start_time = start;
        assert_eq!(record.current_status(), ContainerState::Created);
        record.state.set_pid(Some(me.as_raw())).set_status(ContainerState::Created);
        record.start_time = start;
        assert_eq!(record.current_status(), ContainerState::Created);
        record.start_time = start.map(|s| s + 1);
        assert_eq!(record.current_status(), ContainerState::Stopped);
        assert_eq!(record.current_state().status(), &ContainerState::Stopped);
    }
}
