//! A minimal /dev: a tmpfs with only the devices a program needs.

use std::os::unix::fs::symlink;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use crate::mounts::{mount_fs, MountError, SAFE};

/// What can go wrong while building /dev.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// A mount failed.
    #[error(transparent)]
    Mount(#[from] MountError),
    /// A device node could not be made.
    #[error("create the device /dev/{0}")]
    Node(&'static str, #[source] Errno),
    /// A symbolic link could not be made.
    #[error("create the link /dev/{0}")]
    Link(&'static str, #[source] std::io::Error),
}

/// The character devices every container gets: `(name, major, minor)`.
/// Each is harmless: they read zeros or random bytes, swallow writes, or
/// stand for the process's own terminal.
pub const DEVICES: [(&str, u64, u64); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// Links to the process's own descriptors, which programs expect.
pub const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

// ANCHOR: populate_dev
/// Mounts a fresh tmpfs on /dev and fills it: the [`DEVICES`], a private
/// /dev/pts for terminals, /dev/shm for shared memory, and the [`LINKS`].
/// The host's /dev, with its disks, is never visible.
pub fn populate_dev() -> Result<(), DevError> {
    todo!(
        "mount a tmpfs on /dev (MS_NOSUID | MS_NOEXEC, \"mode=755\"); mknod each of DEVICES as \
         a character device with mode 0o666; mount \"devpts\" on /dev/pts with \
         \"newinstance,ptmxmode=0666,mode=0620\" and a tmpfs on /dev/shm (\"mode=1777\"); \
         then create LINKS (book: chapter 3, \"A minimal /dev\")"
    )
}
// ANCHOR_END: populate_dev
