//! `--console-socket`: the container gets a terminal, and the engine its
//! other end.
//!
//! With `podman run -t`, conmon listens on a unix socket and passes its
//! path. The runtime makes a pseudo-terminal pair, sends the *master* (the
//! end a terminal emulator holds) over the socket as `SCM_RIGHTS` ancillary
//! data, and gives the container the *slave* as its stdin, stdout, stderr
//! and controlling terminal.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::pty::openpty;
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::unistd::{dup2, setsid};
use spawn::{BoxError, Layer};

/// What can go wrong with the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// `openpty` failed.
    #[error("make a pseudo-terminal (openpty)")]
    Open(#[source] Errno),
    /// The engine's socket could not be reached.
    #[error("connect to the console socket {0}")]
    Connect(PathBuf, #[source] Errno),
    /// Sending the master failed.
    #[error("send the terminal to the console socket {0}")]
    Send(PathBuf, #[source] Errno),
    /// Making the terminal the child's failed.
    #[error("make the terminal the container's ({0})")]
    Attach(&'static str, #[source] Errno),
}

/// The container's end of a terminal whose master went to the engine.
#[derive(Debug)]
pub struct ConsoleLayer {
    slave: OwnedFd,
}

// ANCHOR: send_master
impl ConsoleLayer {
    /// Makes the terminal and sends its master over the unix socket at
    /// `socket_path`. The master is ours no more once sent: it is dropped
    /// (closed) here, and the engine holds the only copy.
    pub fn connect(socket_path: &Path) -> Result<ConsoleLayer, ConsoleError> {
        let pty = openpty(None, None).map_err(ConsoleError::Open)?;
        // Neither end may leak into the command through exec by accident.
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(ConsoleError::Open)?;
        }
        let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
            .map_err(|e| ConsoleError::Connect(socket_path.to_path_buf(), e))?;
        let address = UnixAddr::new(socket_path).map_err(|e| ConsoleError::Connect(socket_path.to_path_buf(), e))?;
        connect(sock.as_raw_fd(), &address).map_err(|e| ConsoleError::Connect(socket_path.to_path_buf(), e))?;
        let fds = [pty.master.as_raw_fd()];
        // Some payload must go with the descriptor; conmon ignores it.
        let payload = [IoSlice::new(b"console")];
        sendmsg::<()>(sock.as_raw_fd(), &payload, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
            .map_err(|e| ConsoleError::Send(socket_path.to_path_buf(), e))?;
        Ok(ConsoleLayer { slave: pty.slave })
    }
}
// ANCHOR_END: send_master

// ANCHOR: layer
impl Layer for ConsoleLayer {
    fn name(&self) -> &'static str {
        "console"
    }

    /// A new session whose controlling terminal is the slave, which also
    /// becomes fds 0, 1 and 2 (`dup2` clears close-on-exec on the copies).
    fn enter_child(&self) -> Result<(), BoxError> {
        let slave: RawFd = self.slave.as_raw_fd();
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
        Ok(())
    }
}
// ANCHOR_END: layer
