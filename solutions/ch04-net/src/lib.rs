//! Chapter 4 — net: the container's own network stack.
//!
//! A network namespace gives the container its own interfaces, addresses,
//! routes, ports and firewall — at first nothing but a loopback that is
//! down. To reach anything, it gets one end of a veth pair (a virtual
//! cable); the other end stays on the host, plugged into a bridge (a
//! virtual switch) that holds the subnet's gateway address. Everything is
//! configured through netlink, the socket interface `ip` itself uses.

// STARTER: // While functions are still `todo!`, some arguments and items are unused:
// STARTER: // this keeps the compiler quiet about them. Delete it when you are done.
// STARTER: #![allow(unused_variables, unused_mut, dead_code, unused_imports)]

pub mod host;
pub mod inside;
pub mod layer;
pub mod lease;
pub mod names;
pub mod netlink;
pub mod ops;
pub mod publish;
pub mod subnet;

use std::cell::Cell;
use std::path::Path;

use nix::unistd::Pid;
use spawn::Layer;

pub use layer::{BridgeNetwork, NetLayer};

use crate::lease::{Leases, Owner, STATE_ROOT};
use crate::names::BridgeName;
use crate::publish::{PortMapping, PublishLayer};
use crate::subnet::Subnet;

/// How the container is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetMode {
    /// Only `lo`: the container reaches nothing but itself.
    None,
    /// A veth pair to a bridge on the host, an address, a default route.
    Bridge,
}

/// Chapter 4's arguments to `run`: chapter 3's, plus `--net`, `--bridge`
/// and `--subnet`.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "net_args")]
pub struct RunArgs {
    /// How to connect the container: `none` (only lo) or `bridge`.
    #[arg(long, value_enum, default_value = "bridge", value_name = "MODE")]
    pub net: NetMode,

    /// The host's bridge for `--net bridge`, created on first use.
    #[arg(long, default_value = "greenroom0", value_name = "NAME")]
    pub bridge: String,

    /// The bridge's IPv4 subnet, /16 to /30: the bridge gets its first
    /// address (the gateway), containers the following ones.
    #[arg(long, default_value = "10.73.0.0/24", value_name = "A.B.C.D/N")]
    pub subnet: String,

    /// Challenge: the host's TCP port HOST leads to the container's port
    /// CONTAINER, while the container runs (`--net bridge` only).
    /// Repeatable.
    #[arg(long, value_name = "HOST:CONTAINER")]
    pub publish: Vec<String>,

    /// Everything chapter 3 accepts.
    #[command(flatten)]
    pub rootfs: rootfs::RunArgs,
}

impl RunArgs {
    /// The command to run.
    pub fn command(&self) -> &[String] {
        self.rootfs.command()
    }
}

// ANCHOR: layers
/// The layers of a chapter 4 container: chapter 3's, then the network.
/// For `--net bridge`, every argument and the host are checked, and the
/// address leased, before anything is created.
pub fn layers(args: &RunArgs) -> anyhow::Result<Vec<Box<dyn Layer>>> {
    let mut layers = rootfs::layers(&args.rootfs)?;
    // The challenge's ports, listened on before the address is leased: a
    // port that is taken then leaves nothing behind.
    let mappings = args.publish.iter().map(|text| PortMapping::parse(text)).collect::<Result<Vec<_>, _>>()?;
    if args.net == NetMode::None && !mappings.is_empty() {
        anyhow::bail!("--publish needs --net bridge: with --net none nothing outside the container can reach it");
    }
    let listeners = publish::listen_all(&mappings)?;
    let network = match args.net {
        NetMode::None => None,
        NetMode::Bridge => Some(bridge_network(&args.bridge, &args.subnet, Path::new(STATE_ROOT))?),
    };
    let address = network.as_ref().map(|network| network.lease.get().address);
    layers.push(Box::new(NetLayer::new(network)));
    if let (Some(address), false) = (address, listeners.is_empty()) {
        layers.push(Box::new(PublishLayer::new(listeners, address)));
    }
    Ok(layers)
}
// ANCHOR_END: layers

/// Checks `--bridge` and `--subnet` against each other and the host, and
/// leases an address in `state_root/<bridge>/`, owned by this runtime
/// until the container exists.
fn bridge_network(bridge: &str, subnet: &str, state_root: &Path) -> anyhow::Result<BridgeNetwork> {
    let bridge = BridgeName::parse(bridge)?;
    let subnet = Subnet::parse(subnet)?;
    host::check(&bridge, &subnet)?;
    let leases = Leases::open(&state_root.join(bridge.as_str()))?;
    let lease = leases.allocate(&subnet, Owner::of(Pid::this())?, Owner::is_running)?;
    Ok(BridgeNetwork { bridge, subnet, leases, lease: Cell::new(lease) })
}
