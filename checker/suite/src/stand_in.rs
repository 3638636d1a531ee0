//! With `--host`, the suite runs on a machine that is not thrown away
//! afterwards. A runtime that gets a layer wrong changes whatever it
//! shares with the suite: a mount that leaks for want of `MS_PRIVATE`, a
//! hostname set without a UTS namespace, a queue made without an IPC
//! namespace, an interface left behind. In the guest that is what the tests
//! catch, and the guest is gone after. On a real machine it would stay.
//!
//! So before anything runs, the suite moves into namespaces of its own —
//! mount, UTS, IPC and network — which stand in for the machine's. To the
//! tests they *are* the host: a container is compared with the suite's own
//! namespaces, so a runtime that shares them is caught as before. But what
//! the runtime does to them ends with the suite.
//!
//! Mounts need one step more. The suite's copy of the mount table is made
//! a slave of the machine's (it still sees what the machine mounts, and
//! sends nothing back), then shared again among its own copies: a
//! container that forgets `MS_PRIVATE` still leaks its mounts into the
//! suite's table, where `host-mounts-unchanged` sees them, and no further.
//!
//! The runtimes keep state in `/run/greenroom` (chapter 4's address leases,
//! chapter 7's containers): the stand-in gets an empty tmpfs there, gone
//! with it, and the folder itself is removed after if the suite made it.
//!
//! Processes and cgroups are not namespaced here: every run is already in a
//! cgroup of its own, killed and removed after it (`sandbox`).

use std::fmt;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// A step of entering the stand-in that failed.
#[derive(Debug)]
pub struct StandInError {
    step: &'static str,
    errno: nix::errno::Errno,
}

impl fmt::Display for StandInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not {} to stand in for this machine: {}", self.step, self.errno)
    }
}

impl std::error::Error for StandInError {}

/// Where the course's runtimes keep their state.
pub const STATE_DIR: &str = "/run/greenroom";

/// The stand-in, once entered: [`StandIn::leave`] puts back what it made
/// on the machine's own file system.
#[derive(Debug)]
pub struct StandIn {
    made_state_dir: bool,
}

impl StandIn {
    /// Unmounts the stand-in's `/run/greenroom` and removes the folder if
    /// the suite made it. The namespaces themselves end with the process.
    pub fn leave(self) {
        let _ = nix::mount::umount2(STATE_DIR, nix::mount::MntFlags::MNT_DETACH);
        if self.made_state_dir {
            let _ = std::fs::remove_dir(STATE_DIR);
        }
    }
}

/// Moves the calling process, before it starts any thread or child, into
/// mount, UTS, IPC and network namespaces of its own, its mounts receiving
/// the machine's and sending it none, with an empty `/run/greenroom`.
pub fn enter() -> Result<StandIn, StandInError> {
    let kinds =
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNET;
    unshare(kinds).map_err(|errno| StandInError { step: "make namespaces of the suite's own", errno })?;
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SLAVE, none)
        .map_err(|errno| StandInError { step: "stop the suite's mounts from reaching the machine's", errno })?;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_SHARED, none)
        .map_err(|errno| StandInError { step: "share the suite's mounts with its containers", errno })?;
    let made_state_dir = !std::path::Path::new(STATE_DIR).exists();
    std::fs::create_dir_all(STATE_DIR)
        .map_err(|e| StandInError { step: "make /run/greenroom", errno: errno_of(&e) })?;
    let stand_in = StandIn { made_state_dir };
    // Private: the runtimes' state is the stand-in's alone.
    mount(Some("tmpfs"), STATE_DIR, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=711"))
        .map_err(|errno| StandInError { step: "give the suite its own /run/greenroom", errno })?;
    mount(none, STATE_DIR, none, MsFlags::MS_PRIVATE, none)
        .map_err(|errno| StandInError { step: "keep the suite's /run/greenroom to itself", errno })?;
    show_own_interfaces().map_err(|errno| StandInError { step: "show the suite's own interfaces in /sys", errno })?;
    // A new network namespace has only `lo`, down and without 127.0.0.1;
    // the machine's is up (chapter 4 refuses a subnet overlapping it).
    bring_up_loopback().map_err(|errno| StandInError { step: "bring up the suite's own lo", errno })?;
    Ok(stand_in)
}

/// The errno behind a failed file operation (0 if it had none), so that
/// every step's error has one shape.
fn errno_of(error: &std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(error.raw_os_error().unwrap_or(0))
}

/// Makes `/sys/class/net` list the stand-in's interfaces. A sysfs shows
/// the interfaces of the network namespace that mounted it, and `/sys` is
/// still the machine's: a fresh sysfs, mounted aside, lends its two
/// folders of interfaces (the names, and the devices they link to), and
/// the rest of `/sys` (the cgroups) stays as it is.
fn show_own_interfaces() -> Result<(), nix::errno::Errno> {
    let fresh = format!("{STATE_DIR}/.sysfs");
    std::fs::create_dir_all(&fresh).map_err(|e| errno_of(&e))?;
    let none = None::<&str>;
    mount(Some("sysfs"), fresh.as_str(), Some("sysfs"), MsFlags::MS_RDONLY, none)?;
    for folder in ["class/net", "devices/virtual/net"] {
        let bound = mount(
            Some(format!("{fresh}/{folder}").as_str()),
            format!("/sys/{folder}").as_str(),
            none,
            MsFlags::MS_BIND,
            none,
        );
        if let Err(errno) = bound {
            let _ = nix::mount::umount2(fresh.as_str(), nix::mount::MntFlags::MNT_DETACH);
            return Err(errno);
        }
    }
    nix::mount::umount2(fresh.as_str(), nix::mount::MntFlags::MNT_DETACH)?;
    let _ = std::fs::remove_dir(&fresh);
    Ok(())
}

/// Sets `lo` of the current network namespace up; the kernel gives it
/// 127.0.0.1/8 and ::1 as it comes up. (Two ioctls on any socket: the
/// suite has no netlink of its own for one flag.)
fn bring_up_loopback() -> Result<(), nix::errno::Errno> {
    use nix::libc;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    // SAFETY: socket(2) takes no pointers; the descriptor it returns is
    // owned by `socket` alone from here.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: `raw` is a descriptor just opened and owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data, for which all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into
    // `request`, which lives across the call.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union just now.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and the flags from `request`.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}
