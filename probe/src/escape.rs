//! Trying to get out: can the container reach a file of the host's?

use std::path::Path;

use contract::Escape;

/// `probe escape MARKER`: MARKER is a file the grader made on the host,
/// outside the container's root. Tries three classic ways to reach it.
pub fn try_escape(marker: &str) -> Escape {
    let relative = marker.trim_start_matches('/');
    // 1. PID 1's root, as /proc shows it: the host's root if PID 1 lives
    //    there (a chroot done after the init was started).
    let proc1_root = Path::new("/proc/1/root").join(relative).exists();
    // 2. PID 1's working directory: if it is a directory of the host's,
    //    ".." from there climbs past the container's root.
    let climb = "../".repeat(64);
    let proc1_cwd = Path::new("/proc/1/cwd").join(&climb).join(relative).exists();
    // 3. The chroot escape: chroot into a subdirectory while the current
    //    directory stays outside it, then climb with "..". The kernel stops
    //    ".." only at the process's root, which we just moved below us, so
    //    the climb ends at the real root of the mount namespace — the host's
    //    root unless the old root was really unmounted.
    let chroot_escape = chroot_escape(relative).unwrap_or(false);
    Escape { proc1_root, proc1_cwd, chroot_escape }
}

fn chroot_escape(relative: &str) -> std::io::Result<bool> {
    let cell = format!("/tmp/greenroom-escape-{}", std::process::id());
    std::fs::create_dir_all(&cell)?;
    std::env::set_current_dir("/")?;
    std::os::unix::fs::chroot(&cell)?;
    for _ in 0..64 {
        std::env::set_current_dir("..")?;
    }
    std::os::unix::fs::chroot(".")?;
    Ok(Path::new("/").join(relative).exists())
}
