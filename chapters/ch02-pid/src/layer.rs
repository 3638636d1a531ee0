//! The PID layer: the namespaces, /proc, and the init.

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use spawn::{BoxError, Init, Layer};

use crate::init::TinyInit;

/// Puts the container in its own PID namespace, with its own /proc, under a
/// minimal init.
#[derive(Debug, Clone, Copy, Default)]
pub struct PidLayer;

impl Layer for PidLayer {
    fn name(&self) -> &'static str {
        "pid"
    }

    /// A new PID namespace, and a new mount namespace: mounting a fresh
    /// /proc in the host's mount namespace would replace the host's /proc.
    fn clone_flags(&self) -> CloneFlags {
        todo!(
            "the namespaces the container needs: process numbers of its own, and \
             mounts of its own so that its /proc cannot replace the host's (book: \
             chapter 2, \"The layer\")"
        )
    }

    /// The container's PID 1. The core starts it after every layer has
    /// entered, so it is confined like the command.
    fn init(&self) -> Option<&dyn Init> {
        Some(&TinyInit)
    }

    /// Signals sent to the runtime must reach the container.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        crate::forward::forward_signals_to(child)?;
        Ok(())
    }

    /// In the child, which is PID 1 of the new namespace: a /proc that
    /// shows that namespace.
    fn enter_child(&self) -> Result<(), BoxError> {
        crate::proc::mount_fresh_proc()?;
        Ok(())
    }
}
