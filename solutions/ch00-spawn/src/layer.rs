//! The [`Layer`] trait: one isolation layer of the container.

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::init::Init;

/// The error a layer reports. Each chapter has its own error enum; the core
/// only needs to display it, so it takes any error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

// ANCHOR: layer_trait
/// One isolation layer (UTS, PID, mount, network, …).
///
/// The core calls the hooks in this order, each step for every layer in
/// turn:
///
/// 1. [`clone_flags`](Layer::clone_flags) and [`init`](Layer::init): in the
///    parent, before `clone`: the namespaces the child is created in, and
///    the init, if a layer supplies one (two layers that do are an error);
/// 2. [`prepare_parent`](Layer::prepare_parent): in the parent, once the
///    child exists but before it may go on (signal forwarding, uid maps,
///    veth, cgroups);
/// 3. [`enter_child`](Layer::enter_child): in the child, before `exec`
///    (hostname, mounts, capabilities, seccomp);
/// 4. the init starts: once every layer has entered, just before `exec`,
///    the child splits in two; the init stays behind as the container's
///    first process, and its child goes on to `exec` the command. Both
///    halves carry everything step 3 did;
/// 5. [`cleanup`](Layer::cleanup): in the parent, after the child has
///    exited — in reverse order, like a stack unwinding.
///
/// Every hook has a default that does nothing, so a layer only writes the
/// steps it needs.
pub trait Layer {
    /// A short name for error messages, such as `"uts"`.
    fn name(&self) -> &'static str;

    /// The namespaces this layer needs the child to be cloned into.
    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::empty()
    }

    /// The init this layer supplies, to stay behind as the container's
    /// first process while the command runs as its child. At most one
    /// layer of a container may supply one.
    fn init(&self) -> Option<&dyn Init> {
        None
    }

    /// Runs in the parent after `clone`, while the child waits.
    fn prepare_parent(&self, _child: Pid) -> Result<(), BoxError> {
        Ok(())
    }

    /// Runs in the child, inside its new namespaces, before the init starts
    /// and the command is executed.
    fn enter_child(&self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Runs in the parent after the child has exited, even when it failed.
    fn cleanup(&self) -> Result<(), BoxError> {
        Ok(())
    }
}
// ANCHOR_END: layer_trait
