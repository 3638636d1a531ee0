//! Masked and read-only paths: the parts of /proc and /sys a container may
//! not read, or not change.
//!
//! /proc and /sys are the kernel's own interfaces, and many of their files
//! are not namespaced: `/proc/kcore` is the host's memory, `/proc/sysrq-trigger`
//! reboots the host, `/sys/firmware` holds its firmware tables. The config
//! lists them in `linux.maskedPaths` (hidden: an empty read-only tmpfs over a
//! directory, /dev/null over a file) and `linux.readonlyPaths` (a read-only
//! bind mount of the path onto itself).
//!
//! Both happen in the container's mount namespace, in the new root after
//! `pivot_root`: the paths are the container's, and a mount over the host's
//! /proc would hide nothing from the container.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use rootfs::mounts::{locked_flags, SAFE};

// ANCHOR: defaults
/// The paths podman masks by default, which `spec` writes into a new
/// config.json: the host's memory and keys, kernel debugging interfaces
/// that reveal other processes' activity, and firmware and device tables.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

/// The paths podman makes read-only by default: kernel settings
/// (`/proc/sys`), interrupt and bus tables, and `/proc/sysrq-trigger`,
/// which would let a container reboot or freeze the host.
pub const READONLY_PATHS: [&str; 6] =
    ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
// ANCHOR_END: defaults

/// A path that could not be masked or made read-only.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    /// Looking at the path failed for another reason than its absence.
    #[error("look at {0}")]
    Stat(PathBuf, #[source] std::io::Error),
    /// Mounting over a masked path failed.
    #[error("mask {path} with {with}")]
    Mask {
        /// The path.
        path: PathBuf,
        /// A tmpfs or /dev/null.
        with: &'static str,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The bind or the read-only remount failed.
    #[error("make {0} read-only")]
    ReadOnly(PathBuf, #[source] Errno),
    /// Reading the path's mount flags failed.
    #[error("read the mount flags of {0}")]
    Flags(PathBuf, #[source] rootfs::mounts::MountError),
}

/// What [`mask`] finds at a path.
enum Found {
    Nothing,
    Directory,
    File,
}

fn look(path: &Path) -> Result<Found, PathsError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(Found::Directory),
        Ok(_) => Ok(Found::File),
        // A path this kernel or image does not have is already hidden.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Found::Nothing),
        Err(e) => Err(PathsError::Stat(path.to_path_buf(), e)),
    }
}

/// Hides `path`: a directory gets an empty read-only tmpfs on top, a file
/// gets /dev/null bound over it (reads are empty, writes vanish). A path
/// that does not exist is skipped.
pub fn mask(path: &Path) -> Result<(), PathsError> {
    todo!(
        "skip a missing path; make a directory or a file read as empty inside, and refuse writes to a \
         directory (book: chapter 7, \"Masked and read-only paths\", \"Masked paths\")"
    )
}

/// Makes `path` read-only: a bind mount of the path onto itself gives it a
/// mount of its own, whose flags a remount can then change without touching
/// the rest of /proc. A path that does not exist is skipped.
///
/// As for the read-only root (chapter 3), the remount repeats the flags the
/// mount already has, which a user namespace locks.
pub fn make_read_only(path: &Path) -> Result<(), PathsError> {
    todo!(
        "skip a missing path; make the path refuse writes inside, and only that path, keeping every \
         other flag it already has (book: chapter 7, \"Masked and read-only paths\", \"Read-only paths\")"
    )
}

/// A path of the config, taken from the container's root: after
/// `pivot_root` that is `/`, whatever the process's working directory.
pub fn in_root(path: &str) -> PathBuf {
    Path::new("/").join(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_paths_are_taken_from_the_root() {
        assert_eq!(in_root("/proc/kcore"), Path::new("/proc/kcore"));
        assert_eq!(in_root("proc/kcore"), Path::new("/proc/kcore"));
    }

    #[test]
    fn the_defaults_are_podmans() {
        let masked = MASKED_PATHS;
        assert!(masked.iter().all(|p| p.starts_with("/proc/") || p.starts_with("/sys/")), "{masked:?}");
        assert!(masked.contains(&"/proc/kcore") && masked.contains(&"/sys/firmware"));
        assert!(READONLY_PATHS.contains(&"/proc/sysrq-trigger") && READONLY_PATHS.contains(&"/proc/sys"));
    }

    #[test]
    fn a_missing_path_is_skipped() {
        let missing = Path::new("/nonexistent/greenroom/masked");
        mask(missing).unwrap();
        make_read_only(missing).unwrap();
    }
}
