//! `--console-socket`: the container gets a terminal, and the engine its
//! other end.
//!
//! With `podman run -t`, conmon listens on a unix socket and passes its
//! path. The container's process makes a pseudo-terminal pair from its own
//! /dev/ptmx, sends the *master* (the end a terminal emulator holds) over
//! the socket as `SCM_RIGHTS` ancillary data, and keeps the *slave* as its
//! stdin, stdout, stderr and controlling terminal.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::stat::Mode;
use nix::unistd::{dup2, setsid};
use spawn::{BoxError, Layer};

/// What can go wrong with the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The pseudo-terminal could not be made.
    #[error("make a pseudo-terminal from /dev/ptmx (is /dev/pts mounted?)")]
    Open(#[source] Errno),
    /// The engine's socket could not be reached.
    #[error("connect to the console socket {0}")]
    Connect(PathBuf, #[source] Errno),
    /// Sending the master failed.
    #[error("send the terminal to the console socket {0}")]
    Send(PathBuf, #[source] Errno),
    /// Binding the terminal onto /dev/console failed.
    #[error("bind the terminal {0} onto /dev/console")]
    Console(String, #[source] Errno),
    /// Making the terminal the child's failed.
    #[error("make the terminal the container's ({0})")]
    Attach(&'static str, #[source] Errno),
}

/// A terminal made inside the container, whose master goes to the engine.
#[derive(Debug)]
pub struct ConsoleLayer {
    socket: OwnedFd,
    path: PathBuf,
}

// ANCHOR: connect
impl ConsoleLayer {
    /// Connects to the engine's unix socket at `socket_path`, now, while
    /// the path is in reach; the child sends the master over it later,
    /// from inside the container.
    pub fn connect(socket_path: &Path) -> Result<ConsoleLayer, ConsoleError> {
        let failed = |e| ConsoleError::Connect(socket_path.to_path_buf(), e);
        let socket = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(failed)?;
        let address = UnixAddr::new(socket_path).map_err(failed)?;
        connect(socket.as_raw_fd(), &address).map_err(failed)?;
        Ok(ConsoleLayer { socket, path: socket_path.to_path_buf() })
    }
}
// ANCHOR_END: connect

// ANCHOR: layer
impl Layer for ConsoleLayer {
    fn name(&self) -> &'static str {
        "console"
    }

    /// In the new root, after its mounts: the terminal comes from the
    /// container's own /dev/ptmx, so its name (`/dev/pts/0`) means
    /// something inside. The master goes over the socket; the slave
    /// becomes the controlling terminal of a new session, and fds 0, 1, 2.
    fn enter_child(&self) -> Result<(), BoxError> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(ConsoleError::Open)?;
        grantpt(&master).map_err(ConsoleError::Open)?;
        unlockpt(&master).map_err(ConsoleError::Open)?;
        let name = ptsname_r(&master).map_err(ConsoleError::Open)?;
        let slave = open(name.as_str(), OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(ConsoleError::Open)?;
        bind_console(&name)?;
        let fds = [master.as_raw_fd()];
        // Some payload must go with the descriptor; conmon ignores it.
        let payload = [IoSlice::new(b"console")];
        sendmsg::<()>(self.socket.as_raw_fd(), &payload, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
            .map_err(|e| ConsoleError::Send(self.path.clone(), e))?;
        // The engine holds the only master now.
        drop(master);
        setsid().map_err(|e| ConsoleError::Attach("setsid", e))?;
        // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal a
        // terminal another session holds); no memory is passed.
        let made = unsafe { nix::libc::ioctl(slave, nix::libc::TIOCSCTTY, 0) };
        if made == -1 {
            return Err(ConsoleError::Attach("TIOCSCTTY", Errno::last()).into());
        }
        for target in 0..=2 {
            dup2(slave, target).map_err(|e| ConsoleError::Attach("dup2", e))?;
        }
        let _ = nix::unistd::close(slave);
        let _ = nix::unistd::close(self.socket.as_raw_fd());
        Ok(())
    }
}
// ANCHOR_END: layer

/// Binds the terminal `slave` (`/dev/pts/N`) onto `/dev/console`, as the
/// runtime spec asks when `process.terminal` is set: programs that write
/// to the console (an init, `getty`) reach the engine's terminal, not the
/// host's console, which the container must not have.
fn bind_console(slave: &str) -> Result<(), ConsoleError> {
    let failed = |e| ConsoleError::Console(slave.to_string(), e);
    // A file to bind onto; mknod is not needed (nor allowed, in a user
    // namespace).
    let target =
        open("/dev/console", OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::from_bits_truncate(0o666))
            .map_err(failed)?;
    let _ = nix::unistd::close(target);
    nix::mount::mount(Some(slave), "/dev/console", None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .map_err(failed)
}
