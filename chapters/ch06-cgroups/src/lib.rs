//! Chapter 6 — cgroups: limits on memory, processes and CPU, a cgroup
//! namespace, and telling an out-of-memory kill from any other.
//!
//! Namespaces decide what a container can see; a control group decides how
//! much it can use. Each container gets a cgroup of its own in the cgroup
//! v2 hierarchy, under the cgroup the runtime runs in (or the one
//! `--cgroup-parent` names), so the limits the runtime is under still hold
//! for everything the container starts. The limits are written before the
//! command runs, and the cgroup goes when the container does.

// While functions are still `todo!`, some arguments and items are unused:
// this keeps the compiler quiet about them. Delete it when you are done.
#![allow(unused_variables, unused_mut, dead_code, unused_imports)]

pub mod cgroup;
pub mod cpuset;
pub mod hierarchy;
pub mod layer;
pub mod limits;
pub mod stale;
#[cfg(test)]
mod testdir;

use std::path::Path;

use nix::unistd::{access, AccessFlags, Uid};
use spawn::Layer;

pub use layer::{CgroupLayer, Placement};
pub use limits::{Cpus, Limits, Memory};

use crate::hierarchy::HierarchyError;

/// Chapter 6's arguments to `run`: chapter 5's, plus the limits and where
/// the container's cgroup goes.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "cgroups_args")]
pub struct RunArgs {
    /// The most memory the container may use: bytes, or K, M, G (such as 64M).
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_memory, allow_hyphen_values = true)]
    pub memory: Option<Memory>,

    /// The most processes (and threads) the container may have at once.
    #[arg(long, value_name = "N", value_parser = limits::parse_pids, allow_hyphen_values = true)]
    pub pids: Option<u64>,

    /// The CPU time the container may use, in CPUs (such as 0.5 or 2).
    #[arg(long, value_name = "FRACTION", value_parser = parse_cpus_here, allow_hyphen_values = true)]
    pub cpus: Option<Cpus>,

    /// Challenge: the CPUs the container may run on, as a list (such as
    /// 0-2,5).
    #[arg(long, value_name = "LIST", value_parser = parse_cpuset_here)]
    pub cpuset_cpus: Option<cpuset::CpuSet>,

    /// The cgroup to make the container's cgroup in, relative to the cgroup2
    /// mount (default: the cgroup the runtime itself is in).
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,

    /// Everything chapter 5 accepts.
    #[command(flatten)]
    pub user: user::RunArgs,
}

impl RunArgs {
    /// The command to run.
    pub fn command(&self) -> &[String] {
        self.user.command()
    }

    /// The limits asked for.
    pub fn limits(&self) -> Limits {
        Limits { memory: self.memory.clone(), pids: self.pids, cpus: self.cpus, cpuset: self.cpuset_cpus.clone() }
    }
}

fn parse_cpus_here(text: &str) -> Result<Cpus, limits::LimitError> {
    limits::parse_cpus(text, limits::online_cpus())
}

fn parse_cpuset_here(text: &str) -> Result<cpuset::CpuSet, cpuset::CpuSetError> {
    cpuset::CpuSet::parse_within(text, &cpuset::online()?)
}

/// Why the container cannot have the cgroup it needs.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    /// No usable cgroup v2 hierarchy.
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
    /// `--cgroup-parent` names no cgroup.
    #[error("--cgroup-parent: there is no cgroup {0} (make it first, or leave the option out)")]
    NoParent(String),
    /// A user without privilege, outside a delegated subtree.
    #[error(
        "--memory, --pids and --cpus need a cgroup you may write: {0} is not yours. Run as root, or ask \
         for a delegated subtree (systemd: `systemd-run --user --scope -p Delegate=yes …`) and pass it \
         with --cgroup-parent"
    )]
    NotDelegated(String),
}

// ANCHOR: layers
/// The layers of a chapter 6 container: chapter 5's, then its cgroup, last
/// so that its `enter_child` runs in the new root, once the user namespace
/// gives it the right to mount. Where the cgroup goes is decided here,
/// before anything is created; the limits were checked as the arguments
/// were parsed.
pub fn layers(args: &RunArgs) -> anyhow::Result<Vec<Box<dyn Layer>>> {
    let limits = args.limits();
    let mountinfo = hierarchy::read("/proc/self/mountinfo")?;
    let mount = hierarchy::find_mount(&mountinfo);
    let has_v2 = mount.is_ok();
    let placement = match mount {
        Ok(mount) => place(&mount, args.cgroup_parent.as_deref(), &limits)?,
        // Without cgroup v2 a container can still run — with no limits.
        Err(why) if limits.any() => return Err(PlacementError::from(why).into()),
        Err(_) => None,
    };
    let mut layers = user::layers(&args.user)?;
    let mount_inside = has_v2 && args.user.net.rootfs.rootfs.is_some();
    layers.push(Box::new(CgroupLayer::new(placement, limits, mount_inside)));
    Ok(layers)
}
// ANCHOR_END: layers

/// Where the container's cgroup goes in the hierarchy at `mount`: under
/// `parent`, or under the runtime's own cgroup. `None` for a user without
/// privilege who asked for no limit and has no cgroup to write.
fn place(mount: &Path, parent: Option<&str>, limits: &Limits) -> Result<Option<Placement>, PlacementError> {
    let own = hierarchy::own_cgroup(&hierarchy::read("/proc/self/cgroup")?)?;
    let parent = match parent {
        Some(text) => hierarchy::parent_path(text)?,
        None => own.clone(),
    };
    let dir = mount.join(&parent);
    if !dir.is_dir() {
        return Err(PlacementError::NoParent(dir.display().to_string()));
    }
    // Root may write any cgroup; anyone else only one delegated to them.
    if !Uid::effective().is_root() && access(&dir, AccessFlags::W_OK).is_err() {
        return match limits.any() {
            true => Err(PlacementError::NotDelegated(dir.display().to_string())),
            false => Ok(None),
        };
    }
    Ok(Some(Placement { mount: mount.to_path_buf(), parent, own }))
}
