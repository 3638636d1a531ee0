//! The network namespace from inside (a section of the report), and what
//! the probe's connectivity subcommands saw: `loopback`, `serve`, `send`.

use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::Document;

/// The network namespace as the probe sees it, from rtnetlink and
/// `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Every interface, by index.
    pub interfaces: Vec<Interface>,
    /// The IPv4 routes of the main table (`/proc/net/route`).
    pub routes: Vec<Route>,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Its name, e.g. `eth0`.
    pub name: String,
    /// Its index in this namespace.
    pub index: u32,
    /// `IFF_UP`: administratively up.
    pub up: bool,
    /// `IFF_RUNNING`: up and with a carrier (a veth whose peer is up too).
    pub running: bool,
    /// The hardware type: `loopback`, `ether`, or the ARPHRD number.
    pub link_type: String,
    /// The driver kind for virtual links (`veth`, `bridge`), if any.
    pub kind: Option<String>,
    /// Its IPv4 addresses.
    pub addresses: Vec<Address>,
}

/// An IPv4 address with its prefix length, e.g. 10.73.0.2/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The address.
    pub address: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
}

/// One IPv4 route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The destination network (0.0.0.0 for the default route).
    pub destination: Ipv4Addr,
    /// The destination's prefix length (0 for the default route).
    pub prefix: u8,
    /// The next hop, for routes through a gateway.
    pub gateway: Option<Ipv4Addr>,
    /// The interface the route leaves by.
    pub device: String,
}

/// What one end of a TCP exchange saw. A failure is a field, not an exit
/// code: the suite tells "no route" from "no reply" by reading it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// This end's address, once connected.
    pub local: Option<SocketAddr>,
    /// The other end's address, once connected.
    pub peer: Option<SocketAddr>,
    /// What this end received (the whole message, up to the other's EOF).
    pub received: Option<String>,
    /// What went wrong, if anything did.
    pub error: Option<String>,
}

/// `probe loopback`: a listener on 127.0.0.1, a connection to it, one
/// message each way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loopback {
    /// What the connecting end saw.
    pub client: Exchange,
}

impl Document for Loopback {
    const SUBCOMMAND: &'static str = "loopback";
}

/// `probe serve FILE MS`: listen on every address, write where to FILE (a
/// [`Listening`]), answer one connection within MS milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// What the serving end saw.
    pub server: Exchange,
}

impl Document for Served {
    const SUBCOMMAND: &'static str = "serve";
}

/// What `probe serve` writes to its FILE once it listens: where to reach
/// it. The suite reads it while the probe still runs, so it cannot wait
/// for stdout. It too travels in an [`Envelope`](crate::Envelope) bearing
/// the call's nonce: the addresses it gives are what a test of leases
/// checks, and a runtime could otherwise write a made-up file there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    /// The TCP port it listens on (every address).
    pub port: u16,
    /// Its IPv4 addresses, but loopback's.
    pub addresses: Vec<Address>,
}

/// `probe send ADDR PORT MSG`: connect, send MSG, read the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// What the sending end saw.
    pub client: Exchange,
}

impl Document for Sent {
    const SUBCOMMAND: &'static str = "send";
}
