//! Chapter 5's questions: which user namespace owns each of the probe's
//! namespaces, and what root of the container can do to the host.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::MetadataExt;

/// `ioctl(NS_GET_USERNS)`: a descriptor for the user namespace that owns a
/// namespace (`_IO(0xb7, 0x1)`).
const NS_GET_USERNS: u64 = 0xb701;
/// `setns`'s flag for a UTS namespace.
const CLONE_NEWUTS: i32 = 0x0400_0000;

extern "C" {
    fn ioctl(fd: i32, request: u64, ...) -> i32;
    fn setns(fd: i32, nstype: i32) -> i32;
    fn sethostname(name: *const u8, len: usize) -> i32;
    fn chown(path: *const std::ffi::c_char, owner: u32, group: u32) -> i32;
}

/// The namespaces whose owner is looked at: every kind but `user` itself.
pub const OWNED_KINDS: [&str; 6] = ["cgroup", "ipc", "mnt", "net", "pid", "uts"];

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `/proc/self/setgroups`: `allow` or `deny`.
pub fn setgroups() -> Option<String> {
    std::fs::read_to_string("/proc/self/setgroups").ok().map(|s| s.trim().to_string())
}

/// The kinds of the probe's namespaces that its own user namespace does
/// not own: the kernel names another owner, or (`EPERM`) one outside the
/// probe's reach, an ancestor such as the host's.
pub fn owned_elsewhere() -> Option<Vec<String>> {
    let own = std::fs::metadata("/proc/self/ns/user").ok()?.ino();
    let mut elsewhere = Vec::new();
    for kind in OWNED_KINDS {
        let Ok(ns) = File::open(format!("/proc/self/ns/{kind}")) else { continue };
        // SAFETY: NS_GET_USERNS takes no argument and returns a new
        // descriptor or -1; `ns` stays open during the call.
        let fd = unsafe { ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
        let owner = if fd < 0 {
            None
        } else {
            // SAFETY: the kernel just returned this descriptor; we own it.
            let owner = unsafe { File::from_raw_fd(fd) };
            owner.metadata().ok().map(|m| m.ino())
        };
        if owner != Some(own) {
            elsewhere.push(kind.to_string());
        }
    }
    Some(elsewhere)
}

/// Reads `path`; `None` when that worked, else the error number.
pub fn read(path: &str) -> Option<i32> {
    std::fs::read(path).err().map(|e| e.raw_os_error().unwrap_or(0))
}

/// Creates `path` and gives it to `uid`:`gid` (ids of the container);
/// `None` when both worked, else the error number.
pub fn make_owned(path: &str, uid: u32, gid: u32) -> Option<i32> {
    if let Err(e) = std::fs::write(path, b"made inside\n") {
        return Some(e.raw_os_error().unwrap_or(0));
    }
    let c_path = CString::new(path).ok()?;
    // SAFETY: chown reads a NUL-terminated path we own.
    match unsafe { chown(c_path.as_ptr(), uid, gid) } {
        0 => None,
        _ => Some(last_errno()),
    }
}

/// Joins the UTS namespace at `ns_path` (a host's, bind-mounted where the
/// probe can open it) and sets its hostname to `name`: the errors of
/// `setns` and of `sethostname`, `None` for each that worked (the second
/// is only tried after the first worked).
pub fn rename_through(ns_path: &str, name: &str) -> (Option<i32>, Option<i32>) {
    let ns = match File::open(ns_path) {
        Ok(ns) => ns,
        Err(e) => return (Some(e.raw_os_error().unwrap_or(0)), None),
    };
    // SAFETY: setns takes a descriptor that stays open during the call.
    if unsafe { setns(ns.as_raw_fd(), CLONE_NEWUTS) } != 0 {
        return (Some(last_errno()), None);
    }
    // SAFETY: sethostname reads `len` bytes of a string we own.
    let renamed = unsafe { sethostname(name.as_ptr(), name.len()) };
    (None, (renamed != 0).then(last_errno))
}
