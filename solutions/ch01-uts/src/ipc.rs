//! The IPC layer: System V IPC and POSIX message queues of the container's
//! own.

use nix::sched::CloneFlags;
use spawn::Layer;

/// Gives the container its own IPC namespace.
///
/// System V message queues, semaphores and shared memory segments are found
/// by a numeric key, and POSIX message queues by a name: both are global to
/// an IPC namespace. Without a namespace of its own, a container could read
/// a host program's messages or shared memory by guessing its key.
#[derive(Debug, Clone, Copy, Default)]
pub struct IpcLayer;

impl Layer for IpcLayer {
    fn name(&self) -> &'static str {
        "ipc"
    }

    /// One flag is the whole layer: the new namespace starts empty, and the
    /// kernel destroys it, and every object made in it, with its last
    /// process.
    fn clone_flags(&self) -> CloneFlags {
        // STARTER: todo!(
        // STARTER:     "the namespace that gives the container IPC objects of its own (book: \
        // STARTER:      chapter 1, \"The IPC namespace\")"
        // STARTER: )
        // SOLUTION BEGIN
        CloneFlags::CLONE_NEWIPC
        // SOLUTION END
    }
}
