//! The `--subnet` argument: an IPv4 network, its gateway, and the addresses
//! containers get.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The shortest prefix accepted: a /16 already holds 65 534 containers.
pub const MIN_PREFIX: u8 = 16;
/// The longest prefix accepted: a /30 holds the gateway and one container.
pub const MAX_PREFIX: u8 = 30;

/// Why a `--subnet` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// Not of the form `A.B.C.D/N`.
    #[error("--subnet {0:?} is not an IPv4 network such as 10.73.0.0/24")]
    Syntax(String),
    /// The prefix length is out of range.
    #[error(
        "--subnet {0:?}: the prefix must be /{MIN_PREFIX} to /{MAX_PREFIX}, for a gateway and at least one container"
    )]
    PrefixRange(String),
    /// The address has bits set beyond the prefix.
    #[error("--subnet {given:?} has host bits set: did you mean {network}?")]
    HostBits {
        /// What was given.
        given: String,
        /// The network it is in.
        network: Subnet,
    },
}

/// An IPv4 network: its first address and prefix length, as in
/// `10.73.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// Parses `A.B.C.D/N`, where `A.B.C.D` is the network's first address
    /// and `N` is between [`MIN_PREFIX`] and [`MAX_PREFIX`].
    pub fn parse(text: &str) -> Result<Subnet, SubnetError> {
        let syntax = || SubnetError::Syntax(text.to_string());
        let (address, prefix) = text.split_once('/').ok_or_else(syntax)?;
        let address = Ipv4Addr::from_str(address).map_err(|_| syntax())?;
        // `u8::from_str` accepts "+24"; a prefix is plain digits.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let prefix: u8 = prefix.parse().map_err(|_| SubnetError::PrefixRange(text.to_string()))?;
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&prefix) {
            return Err(SubnetError::PrefixRange(text.to_string()));
        }
        let network = Ipv4Addr::from(u32::from(address) & mask(prefix));
        if network != address {
            return Err(SubnetError::HostBits { given: text.to_string(), network: Subnet { network, prefix } });
        }
        Ok(Subnet { network, prefix })
    }

    /// The prefix length (the 24 of `/24`).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The gateway: the first host address, which the bridge gets.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The addresses containers may get, in order: from the second host
    /// address to the last one before the broadcast address.
    pub fn container_addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + 2;
        let broadcast = u32::from(self.network) | !mask(self.prefix);
        (first..broadcast).map(Ipv4Addr::from)
    }

    /// Whether `address/prefix` (an address on some interface, with its
    /// own prefix) shares any address with this subnet. Two networks
    /// overlap when the shorter prefix of the two puts them in the same
    /// network.
    pub fn overlaps(&self, address: Ipv4Addr, prefix: u8) -> bool {
        let shorter = mask(self.prefix.min(prefix));
        u32::from(self.network) & shorter == u32::from(address) & shorter
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The netmask of a prefix length: /24 → 255.255.255.0.
fn mask(prefix: u8) -> u32 {
    // A shift by 32 overflows: /0 is the empty mask.
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_parses_into_gateway_and_container_addresses() {
        let subnet = Subnet::parse("10.199.0.0/29").unwrap();
        assert_eq!(subnet.to_string(), "10.199.0.0/29");
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 199, 0, 1));
        let addresses: Vec<_> = subnet.container_addresses().collect();
        assert_eq!(addresses, (2..=6).map(|last| Ipv4Addr::new(10, 199, 0, last)).collect::<Vec<_>>());
    }

    #[test]
    fn the_default_subnet_has_253_container_addresses() {
        let subnet = Subnet::parse("10.73.0.0/24").unwrap();
        assert_eq!(subnet.container_addresses().count(), 253);
        assert_eq!(subnet.container_addresses().last(), Some(Ipv4Addr::new(10, 73, 0, 254)));
    }

    #[test]
    fn a_slash_30_holds_one_container() {
        let subnet = Subnet::parse("192.168.5.4/30").unwrap();
        assert_eq!(subnet.gateway(), Ipv4Addr::new(192, 168, 5, 5));
        assert_eq!(subnet.container_addresses().collect::<Vec<_>>(), vec![Ipv4Addr::new(192, 168, 5, 6)]);
    }

    #[test]
    fn malformed_subnets_are_refused() {
        for text in ["", "10.0.0.0", "10.0.0/24", "10.0.0.0/", "10.0.0.0/+24", "10.0.0.0/24/1", "ten/24", "10.0.0.0/-1"]
        {
            assert_eq!(Subnet::parse(text), Err(SubnetError::Syntax(text.to_string())), "{text:?}");
        }
    }

    #[test]
    fn prefixes_out_of_range_are_refused() {
        for text in ["10.0.0.0/8", "10.0.0.0/15", "10.0.0.0/31", "10.0.0.0/32", "10.0.0.0/33", "10.0.0.0/999"] {
            assert_eq!(Subnet::parse(text), Err(SubnetError::PrefixRange(text.to_string())), "{text:?}");
        }
    }

    #[test]
    fn host_bits_are_refused_with_the_network_named() {
        let err = Subnet::parse("10.73.0.1/24").unwrap_err();
        assert_eq!(err.to_string(), "--subnet \"10.73.0.1/24\" has host bits set: did you mean 10.73.0.0/24?");
    }

    #[test]
    fn overlap_is_decided_by_the_shorter_prefix() {
        let subnet = Subnet::parse("10.199.0.0/29").unwrap();
        assert!(subnet.overlaps(Ipv4Addr::new(10, 199, 0, 5), 24));
        assert!(subnet.overlaps(Ipv4Addr::new(10, 0, 0, 1), 8));
        assert!(subnet.overlaps(Ipv4Addr::new(10, 199, 0, 3), 32));
        assert!(!subnet.overlaps(Ipv4Addr::new(10, 199, 0, 9), 29));
        assert!(!subnet.overlaps(Ipv4Addr::new(192, 0, 2, 2), 24));
        assert!(!subnet.overlaps(Ipv4Addr::new(127, 0, 0, 1), 8));
    }
}
