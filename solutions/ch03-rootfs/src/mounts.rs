//! /proc, /sys, and the read-only root, mounted after `pivot_root`.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

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
pub fn mount_proc_and_sys() -> Result<(), MountError> {
    // STARTER: todo!(
    // STARTER:     "mount \"proc\" on /proc with SAFE flags, and \"sysfs\" on /sys with SAFE | MS_RDONLY, \
    // STARTER:      using mount_fs (book: chapter 3, \"Inside the new root\")"
    // STARTER: )
    // SOLUTION BEGIN
    mount_fs("proc", "/proc", SAFE, None)?;
    mount_fs("sysfs", "/sys", SAFE | MsFlags::MS_RDONLY, None)
    // SOLUTION END
}
// ANCHOR_END: mount_proc_and_sys

// ANCHOR: make_root_read_only
/// Remounts the root read-only. It is a bind mount (see `pivot_into`), and
/// a bind mount's flags change with `MS_REMOUNT | MS_BIND` without touching
/// the file system underneath, which other mounts may share.
pub fn make_root_read_only() -> Result<(), MountError> {
    // STARTER: todo!("remount \"/\" with MS_REMOUNT | MS_BIND | MS_RDONLY (book: chapter 3, \"--read-only\")")
    // SOLUTION BEGIN
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>).map_err(MountError::ReadOnlyRoot)
    // SOLUTION END
}
// ANCHOR_END: make_root_read_only
