//! Swapping the container's root for its own directory.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, pivot_root};

/// Each step of [`pivot_into`] that can fail, with the path involved.
#[derive(Debug, thiserror::Error)]
pub enum PivotError {
    /// Step 1.
    #[error("make every mount private (mount --make-rprivate /)")]
    MountPropagation(#[source] Errno),
    /// Step 2.
    #[error("bind {0} onto itself")]
    BindRoot(PathBuf, #[source] Errno),
    /// Step 3.
    #[error("change directory to {0}")]
    EnterRoot(PathBuf, #[source] Errno),
    /// Step 4.
    #[error("pivot_root into {0}")]
    PivotRoot(PathBuf, #[source] Errno),
    /// Step 5.
    #[error("unmount the old root")]
    UnmountOldRoot(#[source] Errno),
}

/// Makes `new_root` the root of this mount namespace and drops the old root
/// entirely. Must run inside a new mount namespace.
pub fn pivot_into(new_root: &Path) -> Result<(), PivotError> {
    todo!(
        "make new_root the root of this mount namespace, with nothing left of the old \
         root and no mount event reaching the host (book: chapter 3, \"pivot_root, \
         step by step\")"
    )
}
