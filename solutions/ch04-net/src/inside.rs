//! The container's side, done from inside its network namespace: the
//! netlink socket is opened in the child, so it belongs to the child's
//! namespace and every request acts there.

use std::net::Ipv4Addr;

use crate::names::CONTAINER_INTERFACE;
use crate::netlink::{Netlink, NetlinkError, Rtnetlink};
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

/// Sets up the container's network from inside, on a socket opened here —
/// in the child, so in the container's namespace.
pub fn configure(addressing: Option<Addressing>) -> Result<(), InsideError> {
    let mut netlink = Netlink::open().map_err(InsideError::Socket)?;
    configure_on(&mut netlink, addressing)
}

/// Sets up `lo` always, and `eth0` when the container has one
/// (`addressing` is `None` for `--net none`), on `netlink`.
pub fn configure_on(netlink: &mut dyn Rtnetlink, addressing: Option<Addressing>) -> Result<(), InsideError> {
    // STARTER: todo!(
    // STARTER:     "make the network work from inside: loopback always; with addressing, eth0 \
    // STARTER:      with its address and a way out through the gateway, in an order the kernel \
    // STARTER:      accepts (book: chapter 4, \"Inside the container\")"
    // STARTER: )
    // SOLUTION BEGIN
    // A new namespace's loopback exists but is down: 127.0.0.1 would not
    // answer, and many programs talk to themselves through it.
    let lo = find(netlink, "lo")?;
    ops::set_up(netlink, lo).map_err(InsideError::LoopbackUp)?;
    let Some(Addressing { address, prefix, gateway }) = addressing else {
        return Ok(());
    };
    let eth0 = find(netlink, CONTAINER_INTERFACE)?;
    // The address brings the route to the connected subnet with it...
    ops::add_address(netlink, eth0, address, prefix).map_err(|err| InsideError::Address(address, prefix, err))?;
    // ...which only counts once the link is up...
    ops::set_up(netlink, eth0).map_err(InsideError::InterfaceUp)?;
    // ...and the gateway must be reachable through such a route, or the
    // kernel refuses the default route with ENETUNREACH.
    ops::add_default_route(netlink, gateway).map_err(|err| InsideError::DefaultRoute(gateway, err))?;
    Ok(())
    // SOLUTION END
}

/// The index of the link `name` in the container's namespace.
fn find(netlink: &mut dyn Rtnetlink, name: &str) -> Result<u32, InsideError> {
    match ops::link_by_name(netlink, name) {
        Ok(Some(link)) => Ok(link.index),
        Ok(None) => Err(InsideError::FindInterface(name.into(), NetlinkError::Kernel(nix::errno::Errno::ENODEV))),
        Err(err) => Err(InsideError::FindInterface(name.into(), err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::fake::Recorder;

    /// A container's namespace as the kernel would describe it: `lo` is
    /// link 1, `eth0` link 2.
    fn container() -> Recorder {
        Recorder::with_links(&[("lo", 1), ("eth0", 2)])
    }

    fn addressing() -> Addressing {
        Addressing { address: Ipv4Addr::new(10, 73, 0, 2), prefix: 24, gateway: Ipv4Addr::new(10, 73, 0, 1) }
    }

    #[test]
    fn none_brings_lo_up_and_touches_nothing_else() {
        let mut netlink = container();
        configure_on(&mut netlink, None).unwrap();
        assert_eq!(netlink.changes(), vec!["up 1"]);
    }

    #[test]
    fn bridge_sets_up_lo_then_address_up_and_route_in_that_order() {
        let mut netlink = container();
        configure_on(&mut netlink, Some(addressing())).unwrap();
        assert_eq!(netlink.changes(), vec!["up 1", "address 10.73.0.2/24 on 2", "up 2", "default via 10.73.0.1"]);
    }

    #[test]
    fn a_missing_eth0_is_reported_by_name() {
        let mut netlink = Recorder::with_links(&[("lo", 1)]);
        let err = configure_on(&mut netlink, Some(addressing())).unwrap_err();
        assert_eq!(err.to_string(), "find eth0 in the container's namespace");
    }
}
