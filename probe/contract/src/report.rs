//! `probe report`: the kernel's view from inside the container, in sections.
//!
//! Each section groups what one isolation layer changes, so a chapter adds
//! its facts to its own section. A fact a container may lack (a file that
//! is not mounted, a field an older kernel does not have) is an `Option`:
//! `None` says "could not be read", which a test can tell from a wrong value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Document, Network};

/// Everything `probe report` sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The probe's own process: pids, arguments, environment.
    pub process: Process,
    /// From `/proc/sys/kernel/hostname`.
    pub hostname: Option<String>,
    /// The namespaces the probe is in.
    pub namespaces: Namespaces,
    /// Mounts and `/dev`.
    pub filesystem: Filesystem,
    /// Who the probe is, and the user namespace's id maps.
    pub users: Users,
    /// The probe's cgroup.
    pub cgroup: Cgroup,
    /// Capabilities, `no_new_privs` and seccomp.
    pub security: Security,
    /// Interfaces, addresses and routes (`None` when rtnetlink or
    /// `/proc/net/route` could not be read).
    pub network: Option<Network>,
    /// What the probe got from the process that exec'ed it: descriptors,
    /// working directory, root, signal mask.
    #[serde(default)]
    pub inherited: Inherited,
    /// What the probe may use and how it creates files: resource limits,
    /// umask, OOM score.
    #[serde(default)]
    pub limits: Limits,
}

impl Document for Report {
    const SUBCOMMAND: &'static str = "report";
}

/// The probe's process, as the container sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid (0 when the parent is outside the PID namespace).
    pub ppid: Option<u32>,
    /// The command line it received, its own name first.
    pub argv: Vec<String>,
    /// The environment it received.
    pub env: BTreeMap<String, String>,
    /// Its working directory.
    pub cwd: Option<String>,
    /// The pids listed in `/proc`: the processes it can see.
    pub visible_pids: Option<Vec<u32>>,
    /// The pid `/proc/self` names: the probe's pid in the PID namespace of
    /// the `/proc` mounted. Equal to `pid` when that `/proc` belongs to the
    /// probe's own PID namespace; another number when it is the host's.
    #[serde(default)]
    pub proc_self: Option<u32>,
}

/// What a process inherits across `exec` from whoever started it, read
/// before the probe opens anything of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inherited {
    /// Its open descriptors, from `/proc/self/fd`, by number (the one the
    /// probe opened to list them left out).
    pub fds: Option<Vec<OpenFd>>,
    /// `readlink /proc/self/cwd`: its working directory as the kernel names
    /// it, even when `getcwd` cannot (a directory outside its root).
    pub cwd_link: Option<String>,
    /// `readlink /proc/self/root`: its root directory.
    pub root_link: Option<String>,
    /// `getcwd` succeeded: the working directory is reachable from the
    /// root (`None` would be the same as `Process::cwd` being `None`).
    pub cwd_reachable: bool,
    /// `SigBlk` of `/proc/self/status`: the blocked signals, bit N-1 for
    /// signal N.
    pub signals_blocked: Option<u64>,
    /// `SigIgn`: the ignored signals, the same way.
    pub signals_ignored: Option<u64>,
}

/// The probe's resource limits, umask and OOM score adjustment: what the
/// runtime set before exec (chapter 7's `process.rlimits`,
/// `process.user.umask` and `process.oomScoreAdj`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// From `/proc/self/limits`, by the kernel's resource name
    /// (`RLIMIT_NOFILE`, …).
    pub rlimits: Option<BTreeMap<String, Rlimit>>,
    /// `Umask` of `/proc/self/status`.
    pub umask: Option<u32>,
    /// `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<i32>,
}

/// One resource limit; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// The soft limit, what the kernel enforces.
    pub soft: Option<u64>,
    /// The hard limit, the most the soft one may be raised to.
    pub hard: Option<u64>,
}

/// One open descriptor and what it refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenFd {
    /// Its number.
    pub fd: u32,
    /// `readlink /proc/self/fd/N`: a path, or `pipe:[…]`, `socket:[…]`.
    pub target: String,
}

/// Namespace identities from the links in `/proc/self/ns`, e.g.
/// `uts:[4026532177]`; two processes share a namespace when they agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    /// Cgroup namespace.
    pub cgroup: Option<String>,
    /// IPC namespace.
    pub ipc: Option<String>,
    /// Mount namespace.
    pub mnt: Option<String>,
    /// Network namespace.
    pub net: Option<String>,
    /// PID namespace.
    pub pid: Option<String>,
    /// Time namespace.
    pub time: Option<String>,
    /// User namespace.
    pub user: Option<String>,
    /// UTS namespace (hostname).
    pub uts: Option<String>,
}

/// The file system as the probe sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    /// `/proc/self/mountinfo`, one line each (`suite::mountinfo` parses them).
    pub mountinfo: Option<Vec<String>>,
    /// What is in `/dev`, sorted by name.
    pub dev: Option<Vec<DevEntry>>,
    /// Which file `/` is: the same as the host's `/` when the container
    /// has no root of its own.
    #[serde(default)]
    pub root: Option<FileId>,
}

/// A file's identity, from `stat`: two paths name the same file when
/// their device and inode agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

/// One entry of `/dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevEntry {
    /// Its name.
    pub name: String,
    /// What kind of file it is.
    pub kind: DevKind,
    /// Device number, for devices.
    pub major: Option<u64>,
    /// Device number, for devices.
    pub minor: Option<u64>,
    /// Where a link points.
    pub target: Option<String>,
}

/// The kind of a file in `/dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevKind {
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A directory.
    Dir,
    /// A symbolic link.
    Link,
    /// A regular file.
    File,
    /// A socket or a pipe.
    Other,
}

/// Who the probe runs as, from `/proc/self/status` and the id maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Users {
    /// Real uid.
    pub uid: Option<u32>,
    /// Real gid.
    pub gid: Option<u32>,
    /// Supplementary groups (`Groups:` of `/proc/self/status`).
    #[serde(default)]
    pub groups: Option<Vec<u32>>,
    /// `/proc/self/uid_map`.
    pub uid_map: Option<Vec<IdRange>>,
    /// `/proc/self/gid_map`.
    pub gid_map: Option<Vec<IdRange>>,
    /// `/proc/self/setgroups`: `allow` or `deny`.
    #[serde(default)]
    pub setgroups: Option<String>,
    /// The kinds of the probe's namespaces (`uts`, `mnt`, …) that its own
    /// user namespace does not own (`ioctl(NS_GET_USERNS)` names another,
    /// or one out of its reach such as the host's).
    #[serde(default)]
    pub owned_elsewhere: Option<Vec<String>>,
}

/// One line of a uid or gid map: `count` ids from `inside` map to ids from
/// `outside` in the parent user namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// First id inside the namespace.
    pub inside: u32,
    /// The id it maps to outside.
    pub outside: u32,
    /// How many ids the range holds.
    pub count: u32,
}

/// The probe's cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// Its cgroup v2 path, from the `0::` line of `/proc/self/cgroup`.
    pub path: Option<String>,
    /// Its limits (`memory.max`, `pids.max`, `cpu.max`, trimmed), read in
    /// the cgroup2 file system it can see at that path; `None` when none
    /// is mounted. A file that is not there is left out.
    #[serde(default)]
    pub limits: Option<BTreeMap<String, String>>,
}

/// What the probe may do, from `/proc/self/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// The five capability sets.
    pub capabilities: Option<Capabilities>,
    /// `NoNewPrivs`: execve cannot gain privileges.
    pub no_new_privs: Option<bool>,
    /// `Seccomp`: the seccomp mode.
    pub seccomp: Option<Seccomp>,
}

/// The capability sets, one bit per capability (bit 21 is `CAP_SYS_ADMIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `CapInh`: kept across execve for programs that ask.
    pub inheritable: u64,
    /// `CapPrm`: the most the process may make effective.
    pub permitted: u64,
    /// `CapEff`: what the kernel checks now.
    pub effective: u64,
    /// `CapBnd`: the most any program run from here can ever get.
    pub bounding: u64,
    /// `CapAmb`: kept across execve of any program.
    pub ambient: u64,
}

/// A seccomp mode, as `/proc/self/status` numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seccomp {
    /// 0: no filter.
    Disabled,
    /// 1: strict mode (read, write, exit, sigreturn only).
    Strict,
    /// 2: a BPF filter.
    Filter,
}
