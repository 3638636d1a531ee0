//! A minimal /dev: a tmpfs with only the devices a program needs.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
    /// The host's device could not be copied for a rootless /dev.
    #[error("take a copy of the host's /dev/{0} (open_tree)")]
    CopyHost(&'static str, #[source] Errno),
    /// The host's device could not be bound in place of a device node.
    #[error("bind the host's /dev/{0} onto /dev/{0}")]
    BindHost(&'static str, #[source] Errno),
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

/// Mounts a fresh tmpfs on /dev and fills it: the [`DEVICES`], a private
/// /dev/pts for terminals, /dev/shm for shared memory, and the [`LINKS`].
/// The host's /dev, with its disks, is never visible. Where the kernel
/// refuses to make device nodes (in a user namespace, chapter 5), the
/// host's own nodes from `host` are bound in their place.
pub fn populate_dev(host: &HostDevices) -> Result<(), DevError> {
    // STARTER: todo!(
    // STARTER:     "give the container a /dev of its own holding only DEVICES (host.bind where \
    // STARTER:      the kernel will not make one), with terminals and shared memory of its own, \
    // STARTER:      and LINKS (book: chapter 3, \"A minimal /dev\")"
    // STARTER: )
    // SOLUTION BEGIN
    mount_fs("tmpfs", "/dev", MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some("mode=755"))?;
    for (name, major, minor) in DEVICES {
        let mode = Mode::from_bits_truncate(0o666);
        match mknod(format!("/dev/{name}").as_str(), SFlag::S_IFCHR, mode, makedev(major, minor)) {
            Ok(()) => {}
            // A user namespace may not make device nodes (chapter 5).
            Err(Errno::EPERM) => {
                host.bind(name)?;
                continue;
            }
            Err(e) => return Err(DevError::Node(name, e)),
        }
        // mknod applies the umask: set the mode the device must have.
        nix::sys::stat::fchmodat(
            None,
            format!("/dev/{name}").as_str(),
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| DevError::Node(name, e))?;
    }
    // A devpts of its own: the container's terminals are numbered on their
    // own and cannot reach the host's /dev/pts/N (every mount is a new
    // instance since Linux 4.7; newinstance asks for it on older kernels).
    let pts_flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount_fs("devpts", "/dev/pts", pts_flags, Some("newinstance,ptmxmode=0666,mode=0620"))?;
    mount_fs("tmpfs", "/dev/shm", SAFE, Some("mode=1777"))?;
    for (name, target) in LINKS {
        symlink(target, format!("/dev/{name}")).map_err(|e| DevError::Link(name, e))?;
    }
    Ok(())
    // SOLUTION END
}

// ANCHOR: host_devices
/// Detached copies of the host's [`DEVICES`], taken before `pivot_root`
/// drops the host's files: a rootless container (chapter 5) cannot make
/// device nodes, so it binds these in their place, as runc and crun do.
#[derive(Debug)]
pub struct HostDevices {
    copies: Vec<(&'static str, OwnedFd)>,
}

/// `move_mount`'s flag for "the source is the descriptor itself".
const MOVE_MOUNT_F_EMPTY_PATH: nix::libc::c_uint = 0x4;

impl HostDevices {
    /// Takes a copy of each host device that exists (`open_tree` with
    /// `OPEN_TREE_CLONE`: a one-file bind mount not yet attached anywhere).
    /// Costs a few system calls, and is harmless where none is needed.
    pub fn copy() -> Result<HostDevices, DevError> {
        let mut copies = Vec::new();
        for (name, _, _) in DEVICES {
            let path = std::ffi::CString::new(format!("/dev/{name}")).expect("no NUL in a device name");
            let flags = nix::libc::OPEN_TREE_CLONE | nix::libc::O_CLOEXEC as nix::libc::c_uint;
            // SAFETY: open_tree reads a NUL-terminated path we own and
            // returns a new descriptor, or -1 with errno set.
            let fd = unsafe { nix::libc::syscall(nix::libc::SYS_open_tree, nix::libc::AT_FDCWD, path.as_ptr(), flags) };
            match fd {
                -1 if Errno::last() == Errno::ENOENT => continue,
                -1 => return Err(DevError::CopyHost(name, Errno::last())),
                // SAFETY: the kernel just returned this descriptor; no one else owns it.
                fd => copies.push((name, unsafe { OwnedFd::from_raw_fd(fd as i32) })),
            }
        }
        Ok(HostDevices { copies })
    }

    /// Binds the host's copy of `name` onto an empty file at `/dev/name`.
    pub fn bind(&self, name: &'static str) -> Result<(), DevError> {
        let copy = self.copies.iter().find(|(n, _)| *n == name);
        let Some((_, fd)) = copy else { return Err(DevError::BindHost(name, Errno::ENOENT)) };
        let target = format!("/dev/{name}");
        File::create(&target).map_err(|e| DevError::Link(name, e))?;
        let target = std::ffi::CString::new(target).expect("no NUL in a device name");
        let empty = c"";
        // SAFETY: move_mount reads two NUL-terminated paths we own; the
        // descriptor is an open_tree copy that stays open during the call.
        let moved = unsafe {
            nix::libc::syscall(
                nix::libc::SYS_move_mount,
                fd.as_raw_fd(),
                empty.as_ptr(),
                nix::libc::AT_FDCWD,
                target.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        if moved == -1 {
            return Err(DevError::BindHost(name, Errno::last()));
        }
        Ok(())
    }
}
// ANCHOR_END: host_devices
