//! What a container cannot have without root on the host, refused before
//! anything is created, with what to use instead.

use net::NetMode;

/// A request that needs privilege the caller lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootlessError {
    /// `--net bridge` for a caller who is not root.
    #[error(
        "--net bridge needs root on the host (the bridge and the host's end of the veth pair are made there): \
         run without privilege with --net none"
    )]
    Bridge,
}

// ANCHOR: check
/// Refuses, for a caller without privilege, what cannot work rootless.
/// Everything else of chapters 0–4 works in a user namespace: a device node
/// the kernel will not make is bound from the host instead (chapter 3).
pub fn check(net: &net::RunArgs) -> Result<(), RootlessError> {
    match net.net {
        NetMode::Bridge => Err(RootlessError::Bridge),
        NetMode::None => Ok(()),
    }
}
// ANCHOR_END: check
