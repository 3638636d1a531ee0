//! Chapter 6's documents: the container's cgroup seen from inside, and the
//! loads that run into its limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Document, Errno};

/// `probe cgroup [SPIN_MS]`: after a busy loop of SPIN_MS, the probe's
/// cgroup as the container sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupView {
    /// The `0::` line of `/proc/self/cgroup`: `/` at the root of a cgroup
    /// namespace.
    pub path: Option<String>,
    /// Whether `/sys/fs/cgroup` is a cgroup2 mount.
    pub mounted: Option<bool>,
    /// Interface files of `/sys/fs/cgroup` (`memory.max`, `memory.swap.max`,
    /// `pids.max`, `cpu.max`, `cpu.stat`, `cgroup.procs`), trimmed; a file
    /// that is not there is left out.
    pub files: BTreeMap<String, String>,
    /// The child cgroups seen in `/sys/fs/cgroup`.
    pub children: Option<Vec<String>>,
}

impl Document for CgroupView {
    const SUBCOMMAND: &'static str = "cgroup";
}

/// `probe fork-many N`: how many sleeping children a fork loop got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forked {
    /// Children forked (all killed and reaped again before the answer).
    pub started: u32,
    /// Why the next fork failed (`EAGAIN` at `pids.max`); `None` if all N
    /// were forked.
    pub errno: Option<Errno>,
}

impl Document for Forked {
    const SUBCOMMAND: &'static str = "fork-many";
}

/// `probe hog MIB`: the memory a hog got, if the kernel let it live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hogged {
    /// MiB allocated and touched.
    pub allocated_mib: u32,
}

impl Document for Hogged {
    const SUBCOMMAND: &'static str = "hog";
}

/// `probe press FREE_MIB HOG_MIB`: memory pressed against `memory.max`
/// without running out. FREE_MIB MiB are touched then given back lazily
/// (`MADV_FREE`: the pages stay charged until the kernel needs them), then
/// HOG_MIB MiB are touched. Over the limit the kernel reclaims the lazy
/// pages instead of killing anyone. The probe reads the cgroup's
/// `memory.events` from `/sys/fs/cgroup`, prints this, and kills itself
/// with SIGKILL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pressed {
    /// The `max` line: how many times a charge ran into `memory.max`
    /// (`None`: no `memory.events` could be read).
    pub max_events: Option<u64>,
    /// The `oom_kill` line: processes the OOM killer ended.
    pub oom_kills: Option<u64>,
}

impl Document for Pressed {
    const SUBCOMMAND: &'static str = "press";
}
