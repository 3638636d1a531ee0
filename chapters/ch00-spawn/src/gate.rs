//! The [`Gate`]: where a detached container waits between `create` and
//! `start`.
//!
//! `run` starts the command as soon as the container is set up. The OCI
//! lifecycle (chapter 7) splits that in two: `create` sets everything up and
//! returns, leaving the container's first process blocked; `start`, a later
//! and separate invocation of the runtime, lets it go on. The gate is how
//! that process waits for a runtime that does not exist yet.

use crate::layer::BoxError;

// ANCHOR: gate_trait
/// Holds a created container's first process until it is started.
///
/// [`create`](crate::create) calls the two hooks in the child:
///
/// 1. [`arm`](Gate::arm): first of all, before any layer enters, while the
///    host's files are still in view (a layer may `pivot_root` away from
///    them);
/// 2. [`wait`](Gate::wait): once every layer has entered and the runtime
///    has been told the container is ready; it returns when the container
///    is started, and the init stage and `exec` follow.
pub trait Gate {
    /// Prepares the wait, in the child, before any layer enters.
    fn arm(&self) -> Result<(), BoxError>;

    /// Blocks until the container is started. Nobody hears an error from
    /// here but the container's own stderr: the runtime that created it
    /// may be long gone.
    fn wait(&self) -> Result<(), BoxError>;
}
// ANCHOR_END: gate_trait
