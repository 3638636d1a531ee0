//! Where the cgroup v2 hierarchy is, and where this process sits in it:
//! read from the text of `/proc/self/mountinfo` and `/proc/self/cgroup`,
//! so the tests can hand in any text they like.

use std::path::{Component, Path, PathBuf};

/// Where the course expects the unified (v2) hierarchy.
pub const CGROUP_MOUNT: &str = "/sys/fs/cgroup";

/// Why there is no cgroup v2 hierarchy to use.
#[derive(Debug, thiserror::Error)]
pub enum HierarchyError {
    /// cgroup v1 only (or nothing at all) at /sys/fs/cgroup.
    #[error(
        "this host has no cgroup v2 hierarchy at /sys/fs/cgroup (cgroup v1 only): boot with \
         systemd.unified_cgroup_hierarchy=1 on the kernel command line to use --memory, --pids or --cpus"
    )]
    V1Only,
    /// systemd's hybrid layout: v1 controllers, v2 without them elsewhere.
    #[error(
        "this host has the hybrid cgroup layout (cgroup2 at {0}, the controllers still in v1): boot with \
         systemd.unified_cgroup_hierarchy=1 on the kernel command line to use --memory, --pids or --cpus"
    )]
    Hybrid(String),
    /// `/proc/self/cgroup` has no `0::` line.
    #[error("/proc/self/cgroup has no cgroup v2 line (\"0::/…\")")]
    NoOwnCgroup,
    /// `--cgroup-parent` climbs out of the hierarchy.
    #[error("--cgroup-parent {0:?} must be a path inside the cgroup hierarchy, without `..`")]
    BadParent(String),
    /// A file of /proc could not be read.
    #[error("read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}

// ANCHOR: find_mount
/// The mount point of the cgroup v2 hierarchy, from the text of
/// `/proc/self/mountinfo`: it must be at [`CGROUP_MOUNT`]. A cgroup2 mount
/// anywhere else is systemd's hybrid layout, where the controllers the
/// limits need are still bound to v1.
pub fn find_mount(mountinfo: &str) -> Result<PathBuf, HierarchyError> {
    let mut elsewhere = None;
    for line in mountinfo.lines() {
        // "ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS…] - FSTYPE SOURCE SUPER"
        let Some((before, after)) = line.split_once(" - ") else { continue };
        let point = before.split(' ').nth(4);
        match (point, after.split(' ').next()) {
            (Some(CGROUP_MOUNT), Some("cgroup2")) => return Ok(PathBuf::from(CGROUP_MOUNT)),
            (Some(point), Some("cgroup2")) => elsewhere = Some(point.to_string()),
            _ => {}
        }
    }
    Err(elsewhere.map_or(HierarchyError::V1Only, HierarchyError::Hybrid))
}
// ANCHOR_END: find_mount

/// This process's cgroup, relative to the hierarchy's root, from the text
/// of `/proc/self/cgroup` (its `0::/PATH` line).
pub fn own_cgroup(proc_self_cgroup: &str) -> Result<PathBuf, HierarchyError> {
    let line = proc_self_cgroup.lines().find_map(|line| line.strip_prefix("0::"));
    let path = line.ok_or(HierarchyError::NoOwnCgroup)?;
    relative(path).ok_or(HierarchyError::NoOwnCgroup)
}

/// `--cgroup-parent PATH`, relative to the hierarchy's root (a leading `/`
/// is allowed), refused if it has `..` in it.
pub fn parent_path(text: &str) -> Result<PathBuf, HierarchyError> {
    relative(text).ok_or_else(|| HierarchyError::BadParent(text.to_string()))
}

/// `path` without its root, or `None` if it has `..` or `.` in it.
fn relative(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::RootDir => {}
            Component::Normal(name) => out.push(name),
            _ => return None,
        }
    }
    Some(out)
}

/// Reads a file of `/proc` for the functions above.
pub fn read(path: &str) -> Result<String, HierarchyError> {
    std::fs::read_to_string(path).map_err(|source| HierarchyError::Read { path: path.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "25 1 0:22 / /sys rw - sysfs sysfs rw\n\
                      30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    const HYBRID: &str = "30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n\
                          31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                          33 30 0:29 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n";

    #[test]
    fn the_unified_hierarchy_is_found_at_sys_fs_cgroup() {
        assert_eq!(find_mount(V2).unwrap(), PathBuf::from("/sys/fs/cgroup"));
    }

    #[test]
    fn hybrid_and_v1_hosts_are_told_the_kernel_parameter() {
        let hybrid = find_mount(HYBRID).unwrap_err();
        assert!(matches!(&hybrid, HierarchyError::Hybrid(at) if at == "/sys/fs/cgroup/unified"), "{hybrid}");
        assert!(hybrid.to_string().contains("systemd.unified_cgroup_hierarchy=1"));
        let v1 = find_mount("33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
        assert!(matches!(v1, Err(HierarchyError::V1Only)));
    }

    #[test]
    fn the_own_cgroup_is_the_v2_line() {
        let text = "12:memory:/x\n0::/greenroom-suite/run-3\n";
        assert_eq!(own_cgroup(text).unwrap(), PathBuf::from("greenroom-suite/run-3"));
        assert_eq!(own_cgroup("0::/\n").unwrap(), PathBuf::new());
        assert!(matches!(own_cgroup("12:memory:/x\n"), Err(HierarchyError::NoOwnCgroup)));
    }

    #[test]
    fn a_parent_may_not_climb_out() {
        assert_eq!(parent_path("/machine/box").unwrap(), PathBuf::from("machine/box"));
        assert!(parent_path("a/../../etc").is_err());
    }
}
