//! The [`Layer`] trait: one isolation layer of the container.

use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// The error a layer reports. Each chapter has its own error enum; the core
/// only needs to display it, so it takes any error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

// ANCHOR: layer_trait
/// One isolation layer (UTS, PID, mount, network, …).
///
/// The core calls the hooks in this order, for every layer in turn:
///
/// 1. [`clone_flags`](Layer::clone_flags): the namespaces the child is
///    created in, all collected before `clone`;
/// 2. [`prepare_parent`](Layer::prepare_parent): in the parent, once the
///    child exists but before it may go on (uid maps, veth, cgroups);
/// 3. [`enter_child`](Layer::enter_child): in the child, before `exec`
///    (hostname, mounts);
/// 4. [`cleanup`](Layer::cleanup): in the parent, after the child has
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

    /// Runs in the parent after `clone`, while the child waits.
    fn prepare_parent(&self, _child: Pid) -> Result<(), BoxError> {
        Ok(())
    }

    /// Runs in the child, inside its new namespaces, before `exec`.
    fn enter_child(&self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Runs in the parent after the child has exited, even when it failed.
    fn cleanup(&self) -> Result<(), BoxError> {
        Ok(())
    }
}
// ANCHOR_END: layer_trait
