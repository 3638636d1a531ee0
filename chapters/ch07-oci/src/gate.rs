//! The exec FIFO: how a created container's process waits for `start`,
//! which is another runtime process, started later.
//!
//! `create` makes a FIFO (a named pipe) in the container's state
//! directory. The container's process opens it with `O_PATH` first of all,
//! while the state directory is still in view (`pivot_root` will take the
//! host's files away), and, once set up, reopens that descriptor through
//! `/proc/self/fd/N` for writing. Opening a FIFO for writing blocks until
//! someone opens it for reading: that is the wait. `start` opens it for
//! reading, which releases the process, reads the one byte it writes, and
//! removes the FIFO (a container without one has been started). runc and
//! crun work the same way.

use std::cell::Cell;
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, Pid};
use oci_spec::runtime::ContainerState;
use spawn::{BoxError, Gate};

use crate::hooks::StageHooks;
use crate::state;

/// What can go wrong at the gate.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The FIFO could not be made.
    #[error("make the exec FIFO {0}")]
    Make(PathBuf, #[source] Errno),
    /// The FIFO could not be opened.
    #[error("open the exec FIFO {0}")]
    Open(PathBuf, #[source] Errno),
    /// The container's process could not say it goes on.
    #[error("signal through the exec FIFO")]
    Write(#[source] Errno),
    /// `start` could not hear from the container's process.
    #[error("read the exec FIFO {0}")]
    Read(PathBuf, #[source] Errno),
    /// The container's process died while created.
    #[error("the container's process has died: it cannot be started (delete it)")]
    Dead,
}

/// Makes the FIFO at `path`, writable by anyone (mode 0622, like runc's):
/// the container's process may be a user namespace's root, which is no one
/// special on the host. Only root may read it, which is what `start` does.
pub fn make(path: &Path) -> Result<(), GateError> {
    mkfifo(path, Mode::from_bits_truncate(0o622)).map_err(|e| GateError::Make(path.to_path_buf(), e))?;
    // mkfifo applies the umask.
    nix::sys::stat::fchmodat(None, path, Mode::from_bits_truncate(0o622), nix::sys::stat::FchmodatFlags::FollowSymlink)
        .map_err(|e| GateError::Make(path.to_path_buf(), e))
}

// ANCHOR: fifo_gate
/// The container process's side of the FIFO.
#[derive(Debug)]
pub struct FifoGate {
    fifo: PathBuf,
    // The runtime's own descriptors the child inherits but must not keep
    // while it waits: the state lock, which `start` needs.
    inherited: Vec<RawFd>,
    // Descriptors 3 .. 3 + preserve pass to the command (`--preserve-fds`).
    preserve: u32,
    opened: Cell<Option<RawFd>>,
    // `startContainer`, run once `start` has opened the FIFO, and the
    // host's pid of this process for their state, read in `arm`.
    start_hooks: StageHooks,
    host_pid: Cell<Option<Pid>>,
    hooks_ran: Cell<bool>,
}

impl FifoGate {
    /// A gate on the FIFO at `fifo`; the child closes `inherited` first,
    /// runs `start_hooks` once started, and passes descriptors 3 to
    /// 3 + `preserve` - 1 on to the command.
    pub fn new(fifo: PathBuf, inherited: Vec<RawFd>, preserve: u32, start_hooks: StageHooks) -> FifoGate {
        let (opened, host_pid, hooks_ran) = (Cell::new(None), Cell::new(None), Cell::new(false));
        FifoGate { fifo, inherited, preserve, opened, start_hooks, host_pid, hooks_ran }
    }
}

impl Gate for FifoGate {
    /// Before any layer: the state directory is still in view. `O_PATH`
    /// opens the FIFO without opening the pipe, so it does not block.
    fn arm(&self) -> Result<(), BoxError> {
        for fd in &self.inherited {
            let _ = nix::unistd::close(*fd);
        }
        let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
        let fd = open(&self.fifo, flags, Mode::empty()).map_err(|e| GateError::Open(self.fifo.clone(), e))?;
        self.opened.set(Some(fd));
        // The host's /proc is still this process's /proc.
        self.host_pid.set(crate::hooks::host_pid());
        Ok(())
    }

    /// Opening for writing blocks until `start` opens for reading. A
    /// `start` that dies before it reads leaves the byte unread (EPIPE,
    /// not SIGPIPE: the runtime ignores that signal): the process waits
    /// again for the next `start`. The command gets SIGPIPE's default back.
    fn wait(&self) -> Result<(), BoxError> {
        let fd = self.opened.get().ok_or(GateError::Open(self.fifo.clone(), Errno::EBADF))?;
        let reopen = format!("/proc/self/fd/{fd}");
        loop {
            let pipe = open(reopen.as_str(), OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| GateError::Open(PathBuf::from(&reopen), e))?;
            // SAFETY: `open` just returned this descriptor; nothing else owns it.
            let pipe = unsafe { OwnedFd::from_raw_fd(pipe) };
            // `start` is listening: the startContainer hooks run before
            // the byte, so that one failing makes `start` read end of file
            // and fail. Once only, if a `start` died and another comes.
            if !self.hooks_ran.replace(true) {
                self.start_hooks.run(ContainerState::Created, self.host_pid.get())?;
            }
            match nix::unistd::write(pipe.as_fd(), b"0") {
                Ok(_) => break,
                Err(Errno::EPIPE) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(GateError::Write(e).into()),
            }
        }
        let _ = nix::unistd::close(fd);
        close_on_exec_from(3 + self.preserve as RawFd);
        // SAFETY: restoring the default disposition installs no handler.
        unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.map_err(GateError::Write)?;
        Ok(())
    }
}
// ANCHOR_END: fifo_gate

/// Marks every open descriptor from `first` on close-on-exec: the command
/// gets 0, 1, 2 and the preserved ones, nothing else the engine or the
/// runtime happened to leave open.
fn close_on_exec_from(first: RawFd) {
    let Ok(entries) = fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<RawFd> = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in fds.into_iter().filter(|fd| *fd >= first) {
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
    }
}

/// How often `start` looks whether the container's process still lives.
const LIVENESS_INTERVAL: Duration = Duration::from_millis(100);

// ANCHOR: release
/// `start`'s side: opens the FIFO for reading, which lets the waiting
/// process go on, reads the byte it writes, and removes the FIFO. The open
/// does not block (`O_NONBLOCK`), and the wait for the byte checks every
/// [`LIVENESS_INTERVAL`] that the process still lives: a container that
/// died while created must not hang `start`.
pub fn release(fifo: &Path, pid: Pid, start_time: Option<u64>) -> Result<(), GateError> {
    let path =
        CString::new(fifo.as_os_str().as_encoded_bytes()).map_err(|_| GateError::Open(fifo.into(), Errno::EINVAL))?;
    let fd = open(path.as_c_str(), OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| GateError::Open(fifo.to_path_buf(), e))?;
    // SAFETY: `open` just returned this descriptor; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    loop {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(LIVENESS_INTERVAL).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => {
                let mut byte = [0u8; 1];
                match nix::unistd::read(fd.as_raw_fd(), &mut byte) {
                    Ok(1) => break,
                    // The writer closed without a word: it died on the way.
                    Ok(_) => return Err(GateError::Dead),
                    Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                    Err(e) => return Err(GateError::Read(fifo.to_path_buf(), e)),
                }
            }
            Err(e) => return Err(GateError::Read(fifo.to_path_buf(), e)),
        }
        if !state::is_alive(pid, start_time) {
            return Err(GateError::Dead);
        }
    }
    let _ = fs::remove_file(fifo);
    Ok(())
}
// ANCHOR_END: release
