//! The container's cgroup, where the config says (`linux.cgroupsPath`),
//! with the limits it asks for (`linux.resources`), through chapter 6.
//!
//! Unlike chapter 6's, this cgroup outlives the runtime process that made
//! it: `create` makes it and moves the container's process in, and only
//! `delete` removes it. Its path is recorded in the state for that.

use std::path::{Component, Path, PathBuf};

use cgroups::cgroup::{self, CgroupError, Controller};
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};
use spawn::{BoxError, Layer};

/// Why the container cannot have its cgroup.
#[derive(Debug, thiserror::Error)]
pub enum ResourcesError {
    /// Limits without a place to write them.
    #[error("linux.resources asks for limits, but there is no linux.cgroupsPath to put the container's cgroup")]
    NoPath,
    /// A cgroups path with `..` or `.` in it.
    #[error("linux.cgroupsPath {0:?} must be a path inside the cgroup hierarchy, without `..`")]
    BadPath(String),
    /// No cgroup v2 hierarchy.
    #[error(transparent)]
    Hierarchy(#[from] cgroups::hierarchy::HierarchyError),
    /// A cgroup file could not be written.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The cgroup namespace could not be made.
    #[error("create a cgroup namespace (unshare CLONE_NEWCGROUP)")]
    Namespace(#[source] Errno),
    /// linux.cgroupsPath names a cgroup that already holds processes.
    #[error("linux.cgroupsPath {0}: the cgroup exists and has processes in it: a container's cgroup must be its own")]
    InUse(PathBuf),
}

/// The lines to write in the container's cgroup: `(file, value)`, in the
/// cgroup v2 words for the OCI fields.
pub fn limit_lines(resources: &LinuxResources) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(memory) = resources.memory() {
        let limit = memory.limit().filter(|&bytes| bytes >= 0);
        if let Some(limit) = limit {
            lines.push(("memory.max", limit.to_string()));
        }
        // OCI's swap is memory + swap together; cgroup v2's is swap alone.
        match (memory.swap(), limit) {
            (Some(-1), _) => lines.push(("memory.swap.max", "max".to_string())),
            (Some(swap), Some(limit)) if swap >= limit => lines.push(("memory.swap.max", (swap - limit).to_string())),
            _ => {}
        }
    }
    if let Some(pids) = resources.pids() {
        let max = if pids.limit() > 0 { pids.limit().to_string() } else { "max".to_string() };
        lines.push(("pids.max", max));
    }
    if let Some(cpu) = resources.cpu() {
        if cpu.quota().is_some() || cpu.period().is_some() {
            let period = cpu.period().unwrap_or(100_000);
            let quota = cpu.quota().filter(|&q| q > 0).map_or("max".to_string(), |q| q.to_string());
            lines.push(("cpu.max", format!("{quota} {period}")));
        }
    }
    lines
}

/// The controllers the lines of [`limit_lines`] need.
fn controllers(lines: &[(&'static str, String)]) -> Vec<Controller> {
    let mut needed = Vec::new();
    for (file, _) in lines {
        let controller = match file.split('.').next() {
            Some("memory") => Controller::Memory,
            Some("pids") => Controller::Pids,
            _ => Controller::Cpu,
        };
        if !needed.contains(&controller) {
            needed.push(controller);
        }
    }
    needed
}

/// Puts the container's process in its cgroup before it goes on, and
/// gives it a cgroup namespace if the config asks for one.
#[derive(Debug, Clone)]
pub struct ResourcesLayer {
    /// The cgroup2 mount and the container's cgroup under it, if any.
    place: Option<(PathBuf, PathBuf)>,
    lines: Vec<(&'static str, String)>,
    namespace: bool,
    // Set once the cgroup is the container's (made, or taken empty): a
    // failed `create` removes only that, never a cgroup in use it refused.
    owned: std::cell::Cell<bool>,
}

impl ResourcesLayer {
    /// The layer for `spec`: where the cgroup goes is decided here, before
    /// anything is created. No `cgroupsPath` and no limits: no cgroup.
    pub fn new(spec: &Spec) -> Result<ResourcesLayer, ResourcesError> {
        let linux = spec.linux().as_ref();
        let lines = linux.and_then(|l| l.resources().as_ref()).map(limit_lines).unwrap_or_default();
        let namespace = crate::bundle::namespace(spec, LinuxNamespaceType::Cgroup) == Some(None);
        let place = match linux.and_then(|l| l.cgroups_path().as_ref()) {
            None if lines.is_empty() => None,
            None => return Err(ResourcesError::NoPath),
            Some(path) => {
                let relative = inside_hierarchy(path)?;
                let mountinfo = cgroups::hierarchy::read("/proc/self/mountinfo")?;
                match cgroups::hierarchy::find_mount(&mountinfo) {
                    Ok(mount) => Some((mount.clone(), mount.join(relative))),
                    // Without cgroup v2 a container can still run, unlimited.
                    Err(_) if lines.is_empty() => None,
                    Err(why) => return Err(why.into()),
                }
            }
        };
        Ok(ResourcesLayer { place, lines, namespace, owned: std::cell::Cell::new(false) })
    }

    /// The container's cgroup directory, if it gets one.
    pub fn cgroup(&self) -> Option<&Path> {
        self.place.as_ref().map(|(_, dir)| dir.as_path())
    }
}

/// Makes the cgroup `dir`, or takes it if it exists and is empty: an
/// engine may make it beforehand (with limits or delegation of its own),
/// and runc and crun take it then. One with processes in it belongs to
/// someone else, and is refused.
fn take_or_create(dir: &Path) -> Result<(), ResourcesError> {
    match cgroup::create(dir) {
        Ok(()) => Ok(()),
        Err(CgroupError::Create(_, err)) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs"))
                .map_err(|source| CgroupError::Create(dir.to_path_buf(), source))?;
            match procs.trim().is_empty() {
                true => Ok(()),
                false => Err(ResourcesError::InUse(dir.to_path_buf())),
            }
        }
        Err(err) => Err(err.into()),
    }
}

/// `linux.cgroupsPath` relative to the hierarchy's root (a leading `/` is
/// how podman writes it), refused if it has `..` or `.` in it.
fn inside_hierarchy(path: &Path) -> Result<PathBuf, ResourcesError> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(name) => out.push(name),
            _ => return Err(ResourcesError::BadPath(path.display().to_string())),
        }
    }
    match out.as_os_str().is_empty() {
        true => Err(ResourcesError::BadPath(path.display().to_string())),
        false => Ok(out),
    }
}

impl Layer for ResourcesLayer {
    fn name(&self) -> &'static str {
        "cgroups"
    }

    /// Every level down to the container's cgroup is made and given the
    /// controllers, the limits written, and the child moved in: all while
    /// it waits, so nothing it does escapes them.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        let Some((mount, dir)) = &self.place else { return Ok(()) };
        let parent = dir.parent().unwrap_or(mount);
        std::fs::create_dir_all(parent).map_err(|e| CgroupError::Create(parent.to_path_buf(), e))?;
        let relative_parent = parent.strip_prefix(mount).unwrap_or(Path::new(""));
        cgroup::enable_controllers(mount, relative_parent, &controllers(&self.lines))?;
        take_or_create(dir)?;
        self.owned.set(true);
        for (file, value) in &self.lines {
            cgroup::write(&dir.join(file), value)?;
        }
        cgroup::move_into(dir, Some(child))?;
        Ok(())
    }

    /// Once in its cgroup, a cgroup namespace makes that cgroup the root of
    /// what the container sees (its cgroup2 mount, among its `mounts`,
    /// comes after).
    fn enter_child(&self) -> Result<(), BoxError> {
        if self.namespace {
            unshare(CloneFlags::CLONE_NEWCGROUP).map_err(ResourcesError::Namespace)?;
        }
        Ok(())
    }

    /// Only when `create` fails: the container's cgroup goes.
    fn cleanup(&self) -> Result<(), BoxError> {
        if let Some((_, dir)) = self.place.as_ref().filter(|_| self.owned.get()) {
            cgroup::kill_and_remove(dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).expect("resources")
    }

    #[test]
    fn oci_limits_become_cgroup_v2_lines() {
        let lines = limit_lines(&resources(
            r#"{"memory": {"limit": 33554432, "swap": 67108864}, "pids": {"limit": 32},
                "cpu": {"quota": 50000, "period": 100000}}"#,
        ));
        assert_eq!(
            lines,
            vec![
                ("memory.max", "33554432".to_string()),
                ("memory.swap.max", "33554432".to_string()),
                ("pids.max", "32".to_string()),
                ("cpu.max", "50000 100000".to_string()),
            ]
        );
        let unlimited = limit_lines(&resources(r#"{"pids": {"limit": 0}, "cpu": {"period": 100000}}"#));
        assert_eq!(unlimited, vec![("pids.max", "max".to_string()), ("cpu.max", "max 100000".to_string())]);
        assert_eq!(controllers(&lines), vec![Controller::Memory, Controller::Pids, Controller::Cpu]);
    }

    #[test]
    fn the_cgroups_path_stays_in_the_hierarchy() {
        assert_eq!(inside_hierarchy(Path::new("/libpod_parent/libpod-1")).ok(), Some("libpod_parent/libpod-1".into()));
        assert!(inside_hierarchy(Path::new("/a/../../etc")).is_err());
        assert!(inside_hierarchy(Path::new("/")).is_err());
    }
}
