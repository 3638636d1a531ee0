//! The net layer: a network namespace for every container, and for
//! `--net bridge` a veth pair to the host's bridge and an address lease.

use std::cell::Cell;

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use spawn::{BoxError, Layer};

use crate::host;
use crate::inside::{self, Addressing};
use crate::lease::{Lease, Leases, Owner};
use crate::names::BridgeName;
use crate::subnet::Subnet;

/// A container's place on a bridge: everything decided before `clone`.
#[derive(Debug)]
pub struct BridgeNetwork {
    /// The host's bridge.
    pub bridge: BridgeName,
    /// The bridge's subnet.
    pub subnet: Subnet,
    /// Where the bridge's leases are kept.
    pub leases: Leases,
    /// The container's address; its owner changes from the runtime to the
    /// container once the container exists.
    pub lease: Cell<Lease>,
}

/// Gives the container its own network stack.
#[derive(Debug)]
pub struct NetLayer {
    /// `None` for `--net none`: only `lo`.
    network: Option<BridgeNetwork>,
    /// The container's first process, once cloned: its veth end is named
    /// after it.
    child: Cell<Option<Pid>>,
}

impl NetLayer {
    /// A layer with `network`, or with only `lo` for `None`.
    pub fn new(network: Option<BridgeNetwork>) -> NetLayer {
        NetLayer { network, child: Cell::new(None) }
    }
}

// ANCHOR: layer
impl Layer for NetLayer {
    fn name(&self) -> &'static str {
        "net"
    }

    /// A network namespace: the container gets its own interfaces, addresses,
    /// routes and ports, and at first only a `lo` that is down.
    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWNET
    }

    /// The host's half: the lease passes to the container's first process
    /// (it must outlive the runtime if the runtime is killed), then the
    /// veth pair is made, its peer created in the child's namespace.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        self.child.set(Some(child));
        if let Some(network) = &self.network {
            let lease = network.leases.transfer(&network.lease.get(), Owner::of(child)?)?;
            network.lease.set(lease);
            host::plug_in(&network.bridge, &network.subnet, child)?;
        }
        Ok(())
    }

    /// The container's half, from inside: `lo`, and `eth0` if there is one.
    fn enter_child(&self) -> Result<(), BoxError> {
        let addressing = self.network.as_ref().map(|network| Addressing {
            address: network.lease.get().address,
            prefix: network.subnet.prefix(),
            gateway: network.subnet.gateway(),
        });
        inside::configure(addressing)?;
        Ok(())
    }

    /// Takes the host end away (if the dying namespace has not yet) and
    /// gives the address back — both even if the other fails.
    fn cleanup(&self) -> Result<(), BoxError> {
        let Some(network) = &self.network else { return Ok(()) };
        let unplugged = match self.child.get() {
            Some(child) => host::unplug(child),
            None => Ok(()),
        };
        network.leases.release(&network.lease.get())?;
        unplugged?;
        Ok(())
    }
}
// ANCHOR_END: layer
