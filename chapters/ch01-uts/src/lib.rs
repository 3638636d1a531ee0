//! Chapter 1 — uts: the namespaces that cost one flag, UTS and IPC, and a
//! validated hostname.
//!
//! The UTS namespace ("UNIX Time-sharing System", a historical name) holds
//! two strings: the hostname and the NIS domain name. A child cloned with
//! `CLONE_NEWUTS` gets its own copy of both, so `sethostname` inside it
//! leaves the host's name alone. The IPC namespace (`CLONE_NEWIPC`) holds
//! System V IPC objects and POSIX message queues: the container's start
//! empty, and the host's cannot be found from inside.

// While functions are still `todo!`, some arguments and items are unused:
// this keeps the compiler quiet about them. Delete it when you are done.
#![allow(unused_variables, unused_mut, dead_code, unused_imports)]

pub mod hostname;
pub mod ipc;
pub mod layer;
pub mod time;

pub use hostname::{Hostname, HostnameError};
pub use ipc::IpcLayer;
pub use layer::UtsLayer;
pub use time::{ClockOffsets, TimeLayer};

use spawn::Layer;

/// Chapter 1's arguments to `run`: chapter 0's, plus `--hostname`.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "uts")]
pub struct RunArgs {
    /// The container's hostname: letters, digits and hyphens, dots between
    /// labels, at most 64 bytes (e.g. `rock-band`).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,

    /// Challenge: seconds added to the container's boot clock (what
    /// `uptime` reads), in a time namespace of its own. May be negative.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub boottime_offset: Option<i64>,

    /// Challenge: seconds added to the container's monotonic clock, in a
    /// time namespace of its own. May be negative.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub monotonic_offset: Option<i64>,

    /// Everything chapter 0 accepts.
    #[command(flatten)]
    pub spawn: spawn::RunArgs,
}

/// The layers of a chapter 1 container: chapter 0's, then the UTS and IPC
/// layers.
///
/// The hostname is checked here, before anything is created, so a bad name
/// costs nothing to clean up.
pub fn layers(args: &RunArgs) -> anyhow::Result<Vec<Box<dyn Layer>>> {
    todo!(
        "check the hostname, if one was given, before anything is created; then \
         chapter 0's layers, followed by this chapter's two (book: chapter 1, \"Validate before cloning\"; \
         the challenge adds a third, \"Challenge: a clock of its own\")"
    )
}
