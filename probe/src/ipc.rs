//! IPC objects: can the container see the host's, and do its own stay inside?
//!
//! Two kinds of object live in an IPC namespace: System V IPC (message
//! queues, semaphores, shared memory, found by a numeric key) and POSIX
//! message queues (found by a name like `/greenroom-1234`). The suite makes
//! one of each on the host and asks the probe to look for them, or asks the
//! probe to make one of each and looks for them on the host afterwards.

use std::ffi::CString;

use contract::{Errno, IpcLook, IpcMade};

const IPC_CREAT: i32 = 0o1000;
const IPC_EXCL: i32 = 0o2000;
const O_RDONLY: i32 = 0;
const O_CREAT: i32 = 0o100;
const O_EXCL: i32 = 0o200;

extern "C" {
    fn msgget(key: i32, flags: i32) -> i32;
    fn mq_open(name: *const std::ffi::c_char, oflag: i32, ...) -> i32;
    fn mq_close(queue: i32) -> i32;
}

/// `ipc-look KEY NAME`: whether the objects exist in the probe's IPC
/// namespace.
pub fn look(key: &str, name: &str) -> Result<IpcLook, String> {
    let (key, name) = parse(key, name)?;
    Ok(IpcLook { sysv_queue_found: sysv_queue_exists(key), posix_queue_found: posix_queue_exists(&name) })
}

/// `ipc-make KEY NAME`: creates a System V message queue with KEY and a
/// POSIX message queue NAME, and leaves them behind on purpose: a container
/// with its own IPC namespace takes them with it when it ends.
pub fn make(key: &str, name: &str) -> Result<IpcMade, String> {
    let (key, name) = parse(key, name)?;
    // SAFETY: msgget takes no pointers; it returns -1 on failure.
    let queue = unsafe { msgget(key, IPC_CREAT | IPC_EXCL | 0o600) };
    let sysv_queue = (queue < 0).then(last_errno);
    // SAFETY: `name` is a valid NUL-terminated string for the call; with
    // O_CREAT, mq_open reads a mode and an attribute pointer (null: the
    // defaults) from its variadic arguments.
    let posix = unsafe {
        mq_open(name.as_ptr(), O_CREAT | O_EXCL | O_RDONLY, 0o600 as std::ffi::c_uint, std::ptr::null::<u8>())
    };
    let posix_queue = (posix < 0).then(last_errno);
    if posix >= 0 {
        // SAFETY: `posix` is the descriptor mq_open just returned.
        unsafe { mq_close(posix) };
    }
    Ok(IpcMade { sysv_queue, posix_queue })
}

fn last_errno() -> Errno {
    Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn parse(key: &str, name: &str) -> Result<(i32, CString), String> {
    let key = key.parse().map_err(|_| format!("bad System V key {key:?}"))?;
    let name = CString::new(name).map_err(|_| format!("bad queue name {name:?}"))?;
    Ok((key, name))
}

fn sysv_queue_exists(key: i32) -> bool {
    // SAFETY: msgget takes no pointers. Without IPC_CREAT it only looks the
    // key up: -1 with ENOENT when no queue has it.
    unsafe { msgget(key, 0) >= 0 }
}

fn posix_queue_exists(name: &CString) -> bool {
    // SAFETY: `name` is a valid NUL-terminated string; without O_CREAT no
    // variadic argument is read.
    let queue = unsafe { mq_open(name.as_ptr(), O_RDONLY) };
    if queue < 0 {
        return false;
    }
    // SAFETY: `queue` is the descriptor mq_open just returned.
    unsafe { mq_close(queue) };
    true
}
