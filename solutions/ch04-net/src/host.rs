//! The host's side: check the host before anything is created, set up the
//! bridge, give the container its veth pair, and take it away again.

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::names::{host_veth_name, BridgeName, CONTAINER_INTERFACE};
use crate::netlink::{Netlink, NetlinkError, Rtnetlink};
use crate::ops::{self, Link};
use crate::subnet::Subnet;

/// What can go wrong on the host's side, one variant per step.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The host's netlink socket could not be opened.
    #[error("talk to the host's network stack")]
    Socket(#[source] NetlinkError),
    /// Listing the host's interfaces or addresses failed.
    #[error("list the host's interfaces and addresses")]
    List(#[source] NetlinkError),
    /// `--bridge` names an interface of another kind.
    #[error(
        "--bridge {name}: an interface of that name exists and is not a bridge (it is {kind}); choose another name"
    )]
    NotABridge {
        /// The interface's name.
        name: String,
        /// What it is instead.
        kind: String,
    },
    /// `--subnet` overlaps an address the host already uses elsewhere.
    #[error("--subnet {subnet} overlaps {address}/{prefix} on {interface}: containers could not reach that network; choose another subnet")]
    Overlap {
        /// The subnet asked for.
        subnet: Subnet,
        /// The interface holding the address.
        interface: String,
        /// The address.
        address: std::net::Ipv4Addr,
        /// Its prefix length.
        prefix: u8,
    },
    /// Creating the bridge failed.
    #[error("create the bridge {0}")]
    CreateBridge(String, #[source] NetlinkError),
    /// Giving the bridge the gateway address failed.
    #[error("give the bridge {bridge} the gateway address {gateway}")]
    GatewayAddress {
        /// The bridge.
        bridge: String,
        /// The address.
        gateway: String,
        /// What went wrong.
        #[source]
        source: NetlinkError,
    },
    /// Bringing the bridge up failed.
    #[error("bring the bridge {0} up")]
    BridgeUp(String, #[source] NetlinkError),
    /// Creating the veth pair failed.
    #[error("create the veth pair {0} / {CONTAINER_INTERFACE} (in the namespace of process {1})")]
    CreateVeth(String, Pid, #[source] NetlinkError),
    /// A link just created (or found existing) could not be found.
    #[error("find the link {0}")]
    FindLink(String, #[source] NetlinkError),
    /// Plugging the host end into the bridge failed.
    #[error("plug {veth} into the bridge {bridge}")]
    PlugVeth {
        /// The host end.
        veth: String,
        /// The bridge.
        bridge: String,
        /// What went wrong.
        #[source]
        source: NetlinkError,
    },
    /// Deleting the host end failed.
    #[error("delete {0}")]
    DeleteVeth(String, #[source] NetlinkError),
}

// ANCHOR: check
/// Refuses a bridge name taken by another kind of interface, and a subnet
/// that overlaps an address of another interface — before anything is
/// created. The bridge's own gateway address (from an earlier container)
/// is the one address allowed inside the subnet.
pub fn check(bridge: &BridgeName, subnet: &Subnet) -> Result<(), HostError> {
    let mut netlink = Netlink::open().map_err(HostError::Socket)?;
    let existing = ops::link_by_name(&mut netlink, bridge.as_str()).map_err(HostError::List)?;
    if let Some(Link { kind, .. }) = &existing {
        if kind.as_deref() != Some("bridge") {
            let kind = kind.clone().unwrap_or_else(|| "a device of no kind, such as a physical one".into());
            return Err(HostError::NotABridge { name: bridge.as_str().to_string(), kind });
        }
    }
    for found in ops::ipv4_addresses(&mut netlink).map_err(HostError::List)? {
        if !subnet.overlaps(found.address, found.prefix) {
            continue;
        }
        // Our bridge's gateway is known by the bridge's name, not by the
        // index looked up above: another runtime started at the same moment
        // may have made the bridge, and given it the gateway, in between.
        let interface = interface_name(&mut netlink, found.index);
        let is_our_gateway =
            interface == bridge.as_str() && found.address == subnet.gateway() && found.prefix == subnet.prefix();
        if !is_our_gateway {
            return Err(HostError::Overlap {
                subnet: *subnet,
                interface,
                address: found.address,
                prefix: found.prefix,
            });
        }
    }
    Ok(())
}
// ANCHOR_END: check

// ANCHOR: plug_in
/// Gives the container `child` its veth pair: the bridge first (made on
/// first use), then the pair, with the host end plugged into the bridge.
pub fn plug_in(bridge: &BridgeName, subnet: &Subnet, child: Pid) -> Result<(), HostError> {
    let mut netlink = Netlink::open().map_err(HostError::Socket)?;
    let bridge_index = ensure_bridge(&mut netlink, bridge, subnet)?;
    let veth = host_veth_name(child);
    // The peer is created inside the container's namespace, named eth0
    // there: created on the host and moved, it would briefly need a name
    // free on the host, and a runtime killed in between would leave it.
    ops::create_veth_into(&mut netlink, &veth, CONTAINER_INTERFACE, child)
        .map_err(|err| HostError::CreateVeth(veth.clone(), child, err))?;
    let index = find(&mut netlink, &veth)?;
    // A veth end is a cable's end: plugged into the bridge, frames from
    // the container reach the gateway and every other container.
    ops::set_controller(&mut netlink, index, bridge_index).map_err(|source| HostError::PlugVeth {
        veth,
        bridge: bridge.as_str().to_string(),
        source,
    })
}
// ANCHOR_END: plug_in

/// Deletes the host end of `child`'s veth pair, if it is still there: it
/// goes by itself when the container's namespace dies, but not at once.
pub fn unplug(child: Pid) -> Result<(), HostError> {
    let mut netlink = Netlink::open().map_err(HostError::Socket)?;
    let veth = host_veth_name(child);
    let Some(link) = ops::link_by_name(&mut netlink, &veth).map_err(HostError::List)? else {
        return Ok(());
    };
    match ops::delete_link(&mut netlink, link.index) {
        // Gone between the look-up and the delete: that is what we wanted.
        Err(err) if err.errno() == Some(Errno::ENODEV) => Ok(()),
        other => other.map_err(|err| HostError::DeleteVeth(veth, err)),
    }
}

/// Returns the bridge's index, creating it with the gateway address if it
/// does not exist. Another runtime may be creating it at the same moment:
/// "already exists" is success.
fn ensure_bridge(netlink: &mut dyn Rtnetlink, bridge: &BridgeName, subnet: &Subnet) -> Result<u32, HostError> {
    let name = bridge.as_str();
    // A bridge without an address of its own takes the smallest of its
    // ports', so it would change as containers come and go and their ARP
    // caches would point at a stale one. A fixed, locally administered
    // address (the 0x02 bit) made from the gateway's: 02:72:A:B:C:D.
    let [a, b, c, d] = subnet.gateway().octets();
    match ops::create_bridge(netlink, name, [0x02, 0x72, a, b, c, d]) {
        Err(err) if err.errno() != Some(Errno::EEXIST) => return Err(HostError::CreateBridge(name.into(), err)),
        _ => {}
    }
    let index = find(netlink, name)?;
    // The gateway address makes the host a member of the subnet: the
    // containers' default route points at it.
    match ops::add_address(netlink, index, subnet.gateway(), subnet.prefix()) {
        Err(source) if source.errno() != Some(Errno::EEXIST) => {
            return Err(HostError::GatewayAddress {
                bridge: name.into(),
                gateway: format!("{}/{}", subnet.gateway(), subnet.prefix()),
                source,
            })
        }
        _ => {}
    }
    ops::set_up(netlink, index).map_err(|err| HostError::BridgeUp(name.into(), err))?;
    Ok(index)
}

/// The index of the link `name`, which must exist.
fn find(netlink: &mut dyn Rtnetlink, name: &str) -> Result<u32, HostError> {
    match ops::link_by_name(netlink, name) {
        Ok(Some(link)) => Ok(link.index),
        Ok(None) => Err(HostError::FindLink(name.into(), NetlinkError::Kernel(Errno::ENODEV))),
        Err(err) => Err(HostError::FindLink(name.into(), err)),
    }
}

/// The name of interface `index`, for messages.
fn interface_name(netlink: &mut dyn Rtnetlink, index: u32) -> String {
    match ops::link_by_index(netlink, index) {
        Ok(Some(link)) => link.name,
        _ => format!("interface {index}"),
    }
}
