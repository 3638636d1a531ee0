//! Chapter 3's challenge: volumes, a directory or file of the host bound
//! into the container (`--volume HOST:CONTAINER[:ro]`). The book states the
//! goal in "Challenge: volumes"; there is no walkthrough.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;

/// Why a `--volume` was refused, or could not be mounted.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Not `HOST:CONTAINER` or `HOST:CONTAINER:ro|rw`.
    #[error("--volume {0:?}: expected HOST:CONTAINER or HOST:CONTAINER:ro")]
    Syntax(String),
    /// A path that is not absolute, or that climbs with `..`.
    #[error("--volume {0:?}: {1}")]
    BadPath(String, &'static str),
    /// The mount point could not be made inside the container.
    #[error("volume {}: make the mount point", .0.display())]
    MountPoint(PathBuf, #[source] std::io::Error),
    /// A mount call failed.
    #[error("volume {}: {}", .0.display(), .1)]
    Mount(PathBuf, &'static str, #[source] Errno),
}

/// One `--volume`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The host's directory or file, absolute.
    pub source: PathBuf,
    /// Where it appears in the container, absolute, never `/`.
    pub target: PathBuf,
    /// Whether the container may only read it.
    pub read_only: bool,
}

impl Volume {
    /// Parses `HOST:CONTAINER[:ro|:rw]`, before anything is created.
    pub fn parse(text: &str) -> Result<Volume, VolumeError> {
        // STARTER: todo!(
        // STARTER:     "challenge: accept HOST:CONTAINER[:ro|:rw] and refuse, before anything is created, what could \
        // STARTER:      not be a volume or could climb out of where it is meant to be (book: chapter 3, \"Challenge: \
        // STARTER:      volumes\")"
        // STARTER: )
        // SOLUTION BEGIN
        let parts: Vec<&str> = text.split(':').collect();
        let (source, target, read_only) = match parts[..] {
            [source, target] => (source, target, false),
            [source, target, "ro"] => (source, target, true),
            [source, target, "rw"] => (source, target, false),
            _ => return Err(VolumeError::Syntax(text.to_string())),
        };
        for path in [Path::new(source), Path::new(target)] {
            if !path.is_absolute() {
                return Err(VolumeError::BadPath(text.to_string(), "both paths must be absolute"));
            }
            if path.components().any(|part| part == Component::ParentDir) {
                return Err(VolumeError::BadPath(text.to_string(), "a path may not hold \"..\""));
            }
        }
        if std::fs::metadata(source).is_err() {
            return Err(VolumeError::BadPath(text.to_string(), "the host path does not exist"));
        }
        if Path::new(target) == Path::new("/") {
            return Err(VolumeError::BadPath(text.to_string(), "the container's / is its root file system"));
        }
        Ok(Volume { source: source.into(), target: target.into(), read_only })
        // SOLUTION END
    }

    /// Takes a copy of the host's side while it is in reach, before
    /// `pivot_root`: a mount of its own, attached nowhere yet, read-only if
    /// asked.
    pub fn detach(&self) -> Result<DetachedVolume, VolumeError> {
        // STARTER: todo!(
        // STARTER:     "challenge: hold the host's side as a mount of its own, read-only if asked, that will still \
        // STARTER:      exist once the host's files are out of reach (book: chapter 3, \"Challenge: volumes\")"
        // STARTER: )
        // SOLUTION BEGIN
        // A clone of the host's mount tree at the source, in no namespace:
        // it outlives the old root's unmount, where a path would not.
        let tree = clone_tree(&self.source)
            .map_err(|errno| VolumeError::Mount(self.target.clone(), "clone the host path", errno))?;
        // Read-only on the copy itself: only the container's view of the
        // host's files changes, and no remount has to repeat its flags.
        if self.read_only {
            set_read_only(&tree)
                .map_err(|errno| VolumeError::Mount(self.target.clone(), "make it read-only", errno))?;
        }
        Ok(DetachedVolume { volume: self.clone(), tree })
        // SOLUTION END
    }
}

/// A volume held as a mount attached nowhere, ready for the new root.
#[derive(Debug)]
pub struct DetachedVolume {
    volume: Volume,
    tree: OwnedFd,
}

impl DetachedVolume {
    /// The volume as it was asked for.
    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    /// Attaches the volume at its target, in the container's root: called
    /// after `pivot_root`.
    pub fn attach(&self) -> Result<(), VolumeError> {
        // STARTER: todo!(
        // STARTER:     "challenge: make the held mount appear at the volume's target, where the container's own \
        // STARTER:      symbolic links lead (book: chapter 3, \"Challenge: volumes\")"
        // STARTER: )
        // SOLUTION BEGIN
        let target = &self.volume.target;
        // After pivot_root every path, and every symbolic link in it, is
        // resolved in the container's root: an absolute link of the image
        // leads to the container's directory, never to the host's.
        let source = std::fs::metadata(format!("/proc/self/fd/{}", self.tree.as_raw_fd()))
            .map_err(|e| VolumeError::MountPoint(target.clone(), e))?;
        let made = if source.is_dir() {
            std::fs::create_dir_all(target)
        } else {
            let parent = target.parent().unwrap_or(Path::new("/"));
            std::fs::create_dir_all(parent)
                .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(target).map(drop))
        };
        made.map_err(|e| VolumeError::MountPoint(target.clone(), e))?;
        move_mount_to(&self.tree, target).map_err(|errno| VolumeError::Mount(target.clone(), "attach it", errno))
        // SOLUTION END
    }
}

// ANCHOR: new_mount_api
/// `open_tree(path, OPEN_TREE_CLONE | AT_RECURSIVE)`: a copy of the mount
/// tree at `path` (as `mount --rbind` would make), attached nowhere, held
/// by the returned descriptor. Close-on-exec: the command never gets it.
pub fn clone_tree(path: &Path) -> Result<OwnedFd, Errno> {
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as libc::c_uint;
    // SAFETY: a NUL-terminated path and plain flags; the kernel returns a
    // new descriptor or -1, checked below.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    let fd = Errno::result(fd)?;
    // SAFETY: the kernel just made this descriptor, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, {MOUNT_ATTR_RDONLY})`:
/// every mount of the tree read-only, leaving their other flags alone.
pub fn set_read_only(tree: &OwnedFd) -> Result<(), Errno> {
    // SAFETY: mount_attr is plain integers, all zero meaning "change nothing".
    let mut attr: libc::mount_attr = unsafe { std::mem::zeroed() };
    attr.attr_set = libc::MOUNT_ATTR_RDONLY;
    let flags = libc::AT_EMPTY_PATH | libc::AT_RECURSIVE;
    // SAFETY: an open descriptor, an empty NUL-terminated path, a valid
    // mount_attr and its size; the result is checked below.
    let done = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(done).map(drop)
}

/// `move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH |
/// MOVE_MOUNT_T_SYMLINKS)`: attaches the held tree at `target`, following
/// a symbolic link there as `mount(2)` does (without the flag, a link as
/// the last component is refused with EINVAL).
pub fn move_mount_to(tree: &OwnedFd, target: &Path) -> Result<(), Errno> {
    let target = CString::new(target.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: an open descriptor and two NUL-terminated paths; the result
    // is checked below.
    let done = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_SYMLINKS,
        )
    };
    Errno::result(done).map(drop)
}
// ANCHOR_END: new_mount_api
