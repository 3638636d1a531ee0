//! /proc and /sys, mounted in the new root before `pivot_root`, and the
//! read-only root.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

/// A mount that failed, with its target.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// A mount point could not be created.
    #[error("create the mount point {0}")]
    MountPoint(String, #[source] std::io::Error),
    /// `mount` failed.
    #[error("mount {fstype} on {target}")]
    Mount {
        /// The file system type.
        fstype: &'static str,
        /// Where.
        target: String,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The read-only remount of / failed.
    #[error("make / read-only")]
    ReadOnlyRoot(#[source] Errno),
}

/// Mounts a new file system of type `fstype` on `target`, creating the
/// directory if the root file system lacks it.
pub fn mount_fs(fstype: &'static str, target: &str, flags: MsFlags, data: Option<&str>) -> Result<(), MountError> {
    if !Path::new(target).exists() {
        std::fs::create_dir_all(target).map_err(|e| MountError::MountPoint(target.to_string(), e))?;
    }
    mount(Some(fstype), target, Some(fstype), flags, data).map_err(|source| MountError::Mount {
        fstype,
        target: target.to_string(),
        source,
    })
}

/// Flags for every mount a program does not execute from: no setuid
/// surprises, no device files, nothing to run.
pub const SAFE: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV).union(MsFlags::MS_NOEXEC);

// ANCHOR: mount_proc_and_sys
/// A /proc for the container's PID namespace, and a read-only /sys: the
/// container may read what the kernel says about devices, never change it.
/// Both go inside `new_root` before `pivot_root`, and move with it: in a
/// user namespace (chapter 5) the kernel mounts a proc or sysfs only where
/// one is already fully visible, and after the old root is gone none is.
pub fn mount_proc_and_sys(new_root: &Path) -> Result<(), MountError> {
    todo!(
        "mount the kernel's views of processes and of devices under new_root, the \
         second read-only (book: chapter 3, \"Inside the new root\")"
    )
}
// ANCHOR_END: mount_proc_and_sys

// ANCHOR: make_root_read_only
/// Remounts the root read-only. It is a bind mount (see `pivot_into`), and
/// a bind mount's flags change with `MS_REMOUNT | MS_BIND` without touching
/// the file system underneath, which other mounts may share.
///
/// A remount sets every flag anew, so the root's other flags (nosuid,
/// nodev, noexec, the atime rules) are read and kept: in a user namespace
/// (chapter 5) the kernel locks them, and a remount that would clear one
/// fails with EPERM.
pub fn make_root_read_only() -> Result<(), MountError> {
    todo!(
        "make the container's root read-only, keeping every flag it already has (book: \
         chapter 3, \"--read-only\")"
    )
}
// ANCHOR_END: make_root_read_only

/// The flags of the mount at `path` that a remount must repeat: those a
/// user namespace locks.
pub fn locked_flags(path: &str) -> Result<MsFlags, MountError> {
    let stat = statvfs(path).map_err(MountError::ReadOnlyRoot)?;
    let pairs = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    Ok(pairs.into_iter().filter(|(st, _)| stat.flags().contains(*st)).fold(MsFlags::empty(), |all, (_, ms)| all | ms))
}
