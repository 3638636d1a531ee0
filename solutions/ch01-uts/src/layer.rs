//! The UTS layer: a namespace of its own, and the hostname set inside it.

use nix::sched::CloneFlags;
use spawn::{BoxError, Layer};

use crate::Hostname;

/// What can go wrong inside the container.
#[derive(Debug, thiserror::Error)]
pub enum UtsError {
    /// `sethostname` was refused.
    #[error("set the hostname to {hostname:?}")]
    SetHostname {
        /// The name we tried to set.
        hostname: String,
        /// Why the kernel refused.
        #[source]
        source: nix::errno::Errno,
    },
}

/// Gives the container its own UTS namespace and, if asked, a hostname.
#[derive(Debug, Clone)]
pub struct UtsLayer {
    hostname: Option<Hostname>,
}

impl UtsLayer {
    /// A UTS layer that sets `hostname`, or keeps a copy of the host's name
    /// when there is none.
    pub fn new(hostname: Option<Hostname>) -> UtsLayer {
        UtsLayer { hostname }
    }
}

impl Layer for UtsLayer {
    fn name(&self) -> &'static str {
        "uts"
    }

    /// A new UTS namespace always, even without `--hostname`: the container
    /// must not be able to rename the host.
    fn clone_flags(&self) -> CloneFlags {
        // STARTER: todo!(
        // STARTER:     "the namespace the container needs to have a hostname of its own (book: \
        // STARTER:      chapter 1, \"The layer\")"
        // STARTER: )
        // SOLUTION BEGIN
        CloneFlags::CLONE_NEWUTS
        // SOLUTION END
    }

    /// Sets the hostname from inside the new namespace. Done in the parent,
    /// the same call would rename the host.
    fn enter_child(&self) -> Result<(), BoxError> {
        // STARTER: todo!(
        // STARTER:     "give the container the hostname it was asked for, if any, and report a \
        // STARTER:      refusal with the name (book: chapter 1, \"The layer\")"
        // STARTER: )
        // SOLUTION BEGIN
        if let Some(hostname) = &self.hostname {
            nix::unistd::sethostname(hostname.as_str())
                .map_err(|source| UtsError::SetHostname { hostname: hostname.to_string(), source })?;
        }
        Ok(())
        // SOLUTION END
    }
}
