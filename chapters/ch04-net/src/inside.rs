//! The container's side, done from inside its network namespace: the
//! netlink socket is opened in the child, so it belongs to the child's
//! namespace and every request acts there.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::names::CONTAINER_INTERFACE;
use crate::netlink::{Netlink, NetlinkError};
use crate::ops;

/// What can go wrong inside the container, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum InsideError {
    /// The container's netlink socket could not be opened.
    #[error("talk to the container's network stack")]
    Socket(#[source] NetlinkError),
    /// Bringing `lo` up failed.
    #[error("bring lo up")]
    LoopbackUp(#[source] NetlinkError),
    /// An interface is not there (`eth0`: the parent did not create it).
    #[error("find {0} in the container's namespace")]
    FindInterface(String, #[source] NetlinkError),
    /// Giving `eth0` its address failed.
    #[error("give {CONTAINER_INTERFACE} the address {0}/{1}")]
    Address(Ipv4Addr, u8, #[source] NetlinkError),
    /// Bringing `eth0` up failed.
    #[error("bring {CONTAINER_INTERFACE} up")]
    InterfaceUp(#[source] NetlinkError),
    /// `eth0` stayed without a carrier.
    #[error("wait for {CONTAINER_INTERFACE} to carry traffic: no carrier after {CARRIER_TIMEOUT:?}")]
    NoCarrier,
    /// Adding the default route failed.
    #[error("add a default route through {0}")]
    DefaultRoute(Ipv4Addr, #[source] NetlinkError),
}

/// How the container's `eth0` is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addressing {
    /// The container's address.
    pub address: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The bridge's address, which every packet for elsewhere goes to.
    pub gateway: Ipv4Addr,
}

// ANCHOR: configure
/// Sets up the container's network from inside: `lo` always, and `eth0`
/// when the container has one (`addressing` is `None` for `--net none`).
pub fn configure(addressing: Option<Addressing>) -> Result<(), InsideError> {
    let mut netlink = Netlink::open().map_err(InsideError::Socket)?;
    todo!(
        "bring lo up (a new namespace's lo is down, and 127.0.0.1 does not answer); then, \
         with addressing, give eth0 its address, bring it up, wait_for_carrier, and add \
         the default route through the gateway — in an order the kernel accepts \
         (book: chapter 4, \"Inside the container\")"
    )
}
// ANCHOR_END: configure

/// How long a new veth end may take to get its carrier.
const CARRIER_TIMEOUT: Duration = Duration::from_secs(3);

/// Waits until link `index` carries traffic: a veth end has a carrier
/// once both ends are up, and the kernel hands the news on to the rest of
/// the stack (the host's bridge among it) a moment later.
fn wait_for_carrier(netlink: &mut Netlink, index: u32) -> Result<(), InsideError> {
    let start = Instant::now();
    loop {
        let link = ops::link_by_index(netlink, index)
            .map_err(|err| InsideError::FindInterface(CONTAINER_INTERFACE.into(), err))?;
        if link.is_some_and(|link| link.carrier) {
            return Ok(());
        }
        if start.elapsed() > CARRIER_TIMEOUT {
            return Err(InsideError::NoCarrier);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The index of the link `name` in the container's namespace.
fn find(netlink: &mut Netlink, name: &str) -> Result<u32, InsideError> {
    match ops::link_by_name(netlink, name) {
        Ok(Some(link)) => Ok(link.index),
        Ok(None) => Err(InsideError::FindInterface(name.into(), NetlinkError::Kernel(nix::errno::Errno::ENODEV))),
        Err(err) => Err(InsideError::FindInterface(name.into(), err)),
    }
}
