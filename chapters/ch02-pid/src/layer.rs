//! The PID layer: the namespaces, /proc, and the init, in that order.

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use spawn::{BoxError, Layer};

/// Puts the container in its own PID namespace, with its own /proc, under a
/// minimal init.
#[derive(Debug, Clone, Copy, Default)]
pub struct PidLayer;

// ANCHOR: layer
impl Layer for PidLayer {
    fn name(&self) -> &'static str {
        "pid"
    }

    /// A new PID namespace, and a new mount namespace: mounting a fresh
    /// /proc in the host's mount namespace would replace the host's /proc.
    fn clone_flags(&self) -> CloneFlags {
        todo!("return the flags for a new PID namespace and a new mount namespace (book: chapter 2, \"The layer\")")
    }

    /// Signals sent to the runtime must reach the container.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        crate::forward::forward_signals_to(child)?;
        Ok(())
    }

    /// In the child, which is PID 1: mount /proc, then split in two — this
    /// process stays behind as init, and its child (PID 2) goes on to exec
    /// the command.
    fn enter_child(&self) -> Result<(), BoxError> {
        crate::proc::mount_fresh_proc()?;
        crate::init::fork_init()?;
        Ok(())
    }
}
// ANCHOR_END: layer
