//! One function per kernel request: each builds the netlink message that
//! `ip` would send for the same job, and sends it on the socket it is given
//! — so it acts in that socket's network namespace.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
// What your requests need from netlink_packet_route, and nothing else, goes here.
use nix::errno::Errno;
use nix::unistd::Pid;

use crate::netlink::{NetlinkError, Rtnetlink};

/// A link as the kernel describes it: what the steps need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The interface index, which every other request names it by.
    pub index: u32,
    /// Its name, such as `eth0`.
    pub name: String,
    /// Its kind (`bridge`, `veth`, …), or `None` for a physical device or
    /// the loopback.
    pub kind: Option<String>,
}

/// An IPv4 address on an interface, as in `ip -4 addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// The interface it is on.
    pub index: u32,
    /// The address.
    pub address: Ipv4Addr,
    /// The length of its network prefix (the 24 of `/24`).
    pub prefix: u8,
}

/// The link named `name`, or `None` if there is none (`ip link show NAME`).
pub fn link_by_name(netlink: &mut dyn Rtnetlink, name: &str) -> Result<Option<Link>, NetlinkError> {
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::IfName(name.to_string()));
    get_link(netlink, message)
}

/// Asks for the one link `message` names (by index or by name).
fn get_link(netlink: &mut dyn Rtnetlink, message: LinkMessage) -> Result<Option<Link>, NetlinkError> {
    match netlink.get(RouteNetlinkMessage::GetLink(message)) {
        Ok(RouteNetlinkMessage::NewLink(link)) => Ok(Some(describe(&link))),
        Ok(other) => Err(NetlinkError::Decode(format!("expected a link, got {other:?}"))),
        Err(err) if err.errno() == Some(Errno::ENODEV) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The link whose index is `index`, or `None` if there is none.
pub fn link_by_index(netlink: &mut dyn Rtnetlink, index: u32) -> Result<Option<Link>, NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    get_link(netlink, message)
}

/// Every IPv4 address on every interface (`ip -4 addr`).
pub fn ipv4_addresses(netlink: &mut dyn Rtnetlink) -> Result<Vec<InterfaceAddress>, NetlinkError> {
    let mut request = AddressMessage::default();
    request.header.family = AddressFamily::Inet;
    let mut found = Vec::new();
    for object in netlink.dump(RouteNetlinkMessage::GetAddress(request))? {
        let RouteNetlinkMessage::NewAddress(message) = object else { continue };
        for attribute in &message.attributes {
            // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the
            // peer's on point-to-point links).
            if let AddressAttribute::Local(IpAddr::V4(address)) = attribute {
                found.push(InterfaceAddress {
                    index: message.header.index,
                    address: *address,
                    prefix: message.header.prefix_len,
                });
            }
        }
    }
    Ok(found)
}

/// Creates a bridge named `name` with the hardware address `mac`
/// (`ip link add NAME address MAC type bridge`).
pub fn create_bridge(netlink: &mut dyn Rtnetlink, name: &str, mac: [u8; 6]) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::IfName(name.to_string()));
    message.attributes.push(LinkAttribute::Address(mac.to_vec()));
    message.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
    netlink.request(RouteNetlinkMessage::NewLink(message), NLM_F_CREATE | NLM_F_EXCL)
}

/// Creates a veth pair: `host_end` here, up,, and its peer named
/// `peer_name` directly in the network namespace of process `pid`
/// (`ip link add HOST up type veth peer name PEER netns PID`).
pub fn create_veth_into(
    netlink: &mut dyn Rtnetlink,
    host_end: &str,
    peer_name: &str,
    pid: Pid,
) -> Result<(), NetlinkError> {
    todo!(
        "ask the kernel for a veth pair: one end here, named host_end and up, the \
         other named peer_name in the network namespace of pid (book: chapter 4, \
         \"Creating the veth pair\")"
    )
}

/// Plugs link `index` into the bridge `bridge` (`ip link set DEV master BRIDGE`).
pub fn set_controller(netlink: &mut dyn Rtnetlink, index: u32, bridge: u32) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.attributes.push(LinkAttribute::Controller(bridge));
    netlink.request(RouteNetlinkMessage::SetLink(message), 0)
}

// ANCHOR: set_up
/// Brings link `index` up (`ip link set DEV up`).
pub fn set_up(netlink: &mut dyn Rtnetlink, index: u32) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    // `change_mask` says which flags to change, `flags` what to set them to.
    message.header.flags = LinkFlags::Up;
    message.header.change_mask = LinkFlags::Up;
    netlink.request(RouteNetlinkMessage::SetLink(message), 0)
}
// ANCHOR_END: set_up

/// Deletes link `index` (`ip link del DEV`); for a veth, its peer goes too.
pub fn delete_link(netlink: &mut dyn Rtnetlink, index: u32) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    netlink.request(RouteNetlinkMessage::DelLink(message), 0)
}

/// Gives link `index` the address `address/prefix` (`ip addr add A/N dev DEV`).
/// The kernel adds the route to the connected subnet with it.
pub fn add_address(netlink: &mut dyn Rtnetlink, index: u32, address: Ipv4Addr, prefix: u8) -> Result<(), NetlinkError> {
    todo!(
        "ask the kernel to give link `index` the IPv4 address `address` on a network of `prefix` \
         bits, as `ip addr add` would (book: chapter 4, \"Inside the container\")"
    )
}

/// Adds a default route through `gateway` (`ip route add default via GW`).
/// The gateway must be reachable on a subnet an interface already has.
pub fn add_default_route(netlink: &mut dyn Rtnetlink, gateway: Ipv4Addr) -> Result<(), NetlinkError> {
    todo!(
        "ask the kernel for a route that sends everything the container has no nearer route for \
         to `gateway`, in the table `ip route` shows (book: chapter 4, \"Inside the container\")"
    )
}

/// The fields of a link message the steps care about.
fn describe(link: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut kind = None;
    for attribute in &link.attributes {
        match attribute {
            LinkAttribute::IfName(found) => name = found.clone(),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(found) = info {
                        kind = Some(found.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Link { index: link.header.index, name, kind }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
    // Named here too: in the starter, the module above imports only what
    // the given code uses.
    use netlink_packet_route::link::{InfoData, InfoVeth};
    use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteType};

    use super::*;
    use crate::netlink::fake::Recorder;

    /// The one request `netlink` recorded, and its flags.
    fn only_request(netlink: Recorder) -> (RouteNetlinkMessage, u16) {
        assert_eq!(netlink.requests.len(), 1, "expected one request, got {:?}", netlink.changes());
        netlink.requests.into_iter().next().unwrap()
    }

    #[test]
    fn the_veth_pair_is_asked_for_with_its_peer_in_the_namespace_of_the_pid() {
        let mut netlink = Recorder::default();
        create_veth_into(&mut netlink, "grv42", "eth0", Pid::from_raw(42)).unwrap();
        let (message, flags) = only_request(netlink);
        assert_eq!(flags, NLM_F_CREATE | NLM_F_EXCL, "a new link that must not exist yet");
        let RouteNetlinkMessage::NewLink(link) = message else { panic!("expected RTM_NEWLINK, got {message:?}") };
        assert!(link.header.flags.contains(LinkFlags::Up) && link.header.change_mask.contains(LinkFlags::Up));
        assert!(link.attributes.contains(&LinkAttribute::IfName("grv42".into())), "{link:?}");
        let infos = link.attributes.iter().find_map(|attribute| match attribute {
            LinkAttribute::LinkInfo(infos) => Some(infos),
            _ => None,
        });
        let infos = infos.expect("an IFLA_LINKINFO attribute");
        assert!(infos.contains(&LinkInfo::Kind(InfoKind::Veth)), "{infos:?}");
        let peer = infos.iter().find_map(|info| match info {
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))) => Some(peer),
            _ => None,
        });
        let peer = peer.expect("the peer, as a link message in IFLA_INFO_DATA");
        assert!(peer.attributes.contains(&LinkAttribute::IfName("eth0".into())), "{peer:?}");
        assert!(peer.attributes.contains(&LinkAttribute::NetNsPid(42)), "{peer:?}");
    }

    #[test]
    fn the_default_route_goes_through_the_gateway_in_the_main_table() {
        let mut netlink = Recorder::default();
        add_default_route(&mut netlink, Ipv4Addr::new(10, 73, 0, 1)).unwrap();
        let (message, flags) = only_request(netlink);
        assert_eq!(flags, NLM_F_CREATE | NLM_F_EXCL);
        let RouteNetlinkMessage::NewRoute(route) = message else { panic!("expected RTM_NEWROUTE, got {message:?}") };
        assert_eq!(route.header.destination_prefix_length, 0);
        assert_eq!(route.header.table, RouteHeader::RT_TABLE_MAIN);
        assert_eq!(route.header.kind, RouteType::Unicast);
        assert!(route.attributes.contains(&RouteAttribute::Gateway(RouteAddress::Inet(Ipv4Addr::new(10, 73, 0, 1)))));
    }

    #[test]
    fn an_address_names_its_interface_and_prefix() {
        let mut netlink = Recorder::default();
        add_address(&mut netlink, 2, Ipv4Addr::new(10, 73, 0, 2), 24).unwrap();
        let (message, _) = only_request(netlink);
        let RouteNetlinkMessage::NewAddress(address) = message else { panic!("expected RTM_NEWADDR, got {message:?}") };
        assert_eq!((address.header.index, address.header.prefix_len), (2, 24));
        assert_eq!(address.header.family, AddressFamily::Inet);
        assert!(address.attributes.contains(&AddressAttribute::Local(Ipv4Addr::new(10, 73, 0, 2).into())));
    }
}
