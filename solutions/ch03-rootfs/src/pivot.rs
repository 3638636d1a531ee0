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
    // STARTER: todo!(
    // STARTER:     "make new_root the root of this mount namespace, with nothing left of the old \
    // STARTER:      root and no mount event reaching the host (book: chapter 3, \"pivot_root, \
    // STARTER:      step by step\")"
    // STARTER: )
    // SOLUTION BEGIN
    // 1. pivot_root refuses (EINVAL) to move a mount that propagates to
    //    other namespaces, and on systemd hosts `/` is shared. Private
    //    mounts also keep everything below from leaking back to the host.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(PivotError::MountPropagation)?;
    // 2. The new root must be a mount point: binding it onto itself makes it
    //    one, whatever file system it lives on.
    mount(Some(new_root), new_root, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| PivotError::BindRoot(new_root.to_path_buf(), e))?;
    // 3. Work from inside the new root, so "." names it.
    chdir(new_root).map_err(|e| PivotError::EnterRoot(new_root.to_path_buf(), e))?;
    // 4. pivot_root(".", ".") stacks the old root on top of the new one, at
    //    the same place: no directory for the old root is needed.
    pivot_root(".", ".").map_err(|e| PivotError::PivotRoot(new_root.to_path_buf(), e))?;
    // 5. Detach the old root, which sits on top; the new root is what
    //    remains. MNT_DETACH, because the host's mounts are busy.
    umount2(".", MntFlags::MNT_DETACH).map_err(PivotError::UnmountOldRoot)?;
    chdir("/").map_err(|e| PivotError::EnterRoot(PathBuf::from("/"), e))
    // SOLUTION END
}
