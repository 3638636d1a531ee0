//! A /proc that shows the container's own PID namespace.

use nix::mount::{mount, MsFlags};

/// What can go wrong while mounting /proc.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// Making every mount private failed.
    #[error("make the mounts private (mount --make-rprivate /)")]
    MakePrivate(#[source] nix::errno::Errno),
    /// The proc mount failed.
    #[error("mount proc on /proc")]
    MountProc(#[source] nix::errno::Errno),
}

/// Mounts a new proc filesystem on /proc, visible in this mount namespace
/// only.
///
/// A procfs shows the PID namespace of the process that mounts it, so this
/// must run inside the new PID namespace. The mounts are made private first:
/// on hosts where `/` is a shared mount (systemd's default), the new /proc
/// would otherwise propagate back to the host and hide the host's /proc.
pub fn mount_fresh_proc() -> Result<(), ProcError> {
    // STARTER: todo!(
    // STARTER:     "give this mount namespace a /proc that shows its own PID namespace, without \
    // STARTER:      the mount reaching back to the host (book: chapter 2, \"A fresh /proc\")"
    // STARTER: )
    // SOLUTION BEGIN
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(ProcError::MakePrivate)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>).map_err(ProcError::MountProc)
    // SOLUTION END
}
