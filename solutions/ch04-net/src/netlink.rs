//! The netlink plumbing: a socket to the kernel's routing subsystem, and the
//! two conversations we have over it.
//!
//! * a **request** (create a link, add an address, …) sent with `NLM_F_ACK`:
//!   the kernel answers with one `NLMSG_ERROR` message whose code is 0 (an
//!   acknowledgement) or a negative errno (a refusal);
//! * a **dump** (every link, every address) sent with `NLM_F_DUMP`: the
//!   kernel answers with as many messages as it has objects, spread over
//!   several datagrams, and ends with `NLMSG_DONE`.
//!
//! Nothing here knows about bridges or veths: the steps in [`crate::ops`]
//! build the messages.

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::Socket;
use nix::errno::Errno;

/// What can go wrong while talking netlink.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket could not be opened or bound.
    #[error("open a netlink socket")]
    Open(#[source] std::io::Error),
    /// Sending the request failed.
    #[error("send a netlink request")]
    Send(#[source] std::io::Error),
    /// Reading the answer failed.
    #[error("read the kernel's netlink answer")]
    Receive(#[source] std::io::Error),
    /// The answer was not a netlink message we understand.
    #[error("decode the kernel's netlink answer: {0}")]
    Decode(String),
    /// The kernel refused the request.
    #[error("the kernel said {0}")]
    Kernel(Errno),
}

impl NetlinkError {
    /// The errno the kernel answered with, if it refused the request: the
    /// steps use it to tell "already exists" or "already gone" from real
    /// failures.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            NetlinkError::Kernel(errno) => Some(*errno),
            _ => None,
        }
    }
}

/// The three conversations the steps have with the kernel. [`Netlink`]
/// has them over a real socket; the unit tests use a fake that records
/// every request, so the messages can be checked without root.
pub trait Rtnetlink {
    /// Sends `message` with `flags` (such as `NLM_F_CREATE | NLM_F_EXCL`)
    /// and waits for the kernel's acknowledgement.
    fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<(), NetlinkError>;

    /// Asks for every object of `message`'s kind and returns them all.
    fn dump(&mut self, message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, NetlinkError>;

    /// Asks for one object and returns the kernel's answer, or the errno it
    /// refused with (`ENODEV` for a link that does not exist).
    fn get(&mut self, message: RouteNetlinkMessage) -> Result<RouteNetlinkMessage, NetlinkError>;
}

/// A netlink socket for the routing subsystem (`NETLINK_ROUTE`).
///
/// A netlink socket belongs to the network namespace it was opened in:
/// every request on it acts there, whatever namespace the process moves to
/// later.
pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    /// Opens a socket in the calling process's current network namespace.
    pub fn open() -> Result<Netlink, NetlinkError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Open)?;
        // Port 0: the kernel picks a unique port id for us.
        socket.bind_auto().map_err(NetlinkError::Open)?;
        Ok(Netlink { socket, sequence: 0 })
    }

    /// Serializes and sends one message; returns its sequence number, which
    /// the kernel copies into every answer.
    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<u32, NetlinkError> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        // Fills in the length and the message type from the payload.
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket.send(&buffer, 0).map_err(NetlinkError::Send)?;
        Ok(self.sequence)
    }

    /// Reads one datagram and returns the answers to `sequence` in it.
    fn receive(&mut self, sequence: u32) -> Result<Vec<NetlinkPayload<RouteNetlinkMessage>>, NetlinkError> {
        let (datagram, _) = self.socket.recv_from_full().map_err(NetlinkError::Receive)?;
        split(&datagram, sequence)
    }
}

impl Rtnetlink for Netlink {
    // ANCHOR: request
    fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<(), NetlinkError> {
        let sequence = self.send(message, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        loop {
            for answer in self.receive(sequence)? {
                match answer {
                    // An NLMSG_ERROR with code 0 is the acknowledgement.
                    NetlinkPayload::Error(error) => return check(error.code),
                    _ => continue,
                }
            }
        }
    }
    // ANCHOR_END: request

    /// A dump request, answered by many messages over many datagrams, up
    /// to `NLMSG_DONE`.
    fn dump(&mut self, message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        let sequence = self.send(message, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut objects = Vec::new();
        loop {
            for answer in self.receive(sequence)? {
                match answer {
                    NetlinkPayload::InnerMessage(object) => objects.push(object),
                    NetlinkPayload::Done(_) => return Ok(objects),
                    NetlinkPayload::Error(error) => check(error.code)?,
                    _ => {}
                }
            }
        }
    }

    fn get(&mut self, message: RouteNetlinkMessage) -> Result<RouteNetlinkMessage, NetlinkError> {
        let sequence = self.send(message, NLM_F_REQUEST)?;
        loop {
            for answer in self.receive(sequence)? {
                match answer {
                    NetlinkPayload::InnerMessage(object) => return Ok(object),
                    NetlinkPayload::Error(error) => check(error.code)?,
                    _ => {}
                }
            }
        }
    }
}

/// Splits a datagram into the messages it holds (the kernel packs several
/// into one), keeping those that answer `sequence`.
fn split(datagram: &[u8], sequence: u32) -> Result<Vec<NetlinkPayload<RouteNetlinkMessage>>, NetlinkError> {
    let mut payloads = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
            .map_err(|err| NetlinkError::Decode(err.to_string()))?;
        // Messages are padded to a multiple of 4 bytes.
        let length = (message.header.length as usize).next_multiple_of(4);
        if length == 0 {
            return Err(NetlinkError::Decode("a message of length 0".into()));
        }
        if message.header.sequence_number == sequence {
            payloads.push(message.payload);
        }
        rest = rest.get(length..).unwrap_or(&[]);
    }
    Ok(payloads)
}

/// Turns an `NLMSG_ERROR` code into a result: no code is an
/// acknowledgement, a code is a negative errno.
fn check(code: Option<std::num::NonZeroI32>) -> Result<(), NetlinkError> {
    match code {
        None => Ok(()),
        Some(code) => Err(NetlinkError::Kernel(Errno::from_raw(-code.get()))),
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::{DoneMessage, ErrorMessage};
    use netlink_packet_route::link::{LinkAttribute, LinkMessage};

    use super::*;

    /// `payload` as the kernel would send it, answering `sequence`.
    fn packet(sequence: u32, payload: NetlinkPayload<RouteNetlinkMessage>) -> Vec<u8> {
        let mut header = NetlinkHeader::default();
        header.sequence_number = sequence;
        let mut message = NetlinkMessage::new(header, payload);
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }

    fn error(code: i32) -> NetlinkPayload<RouteNetlinkMessage> {
        let mut message = ErrorMessage::default();
        message.code = std::num::NonZeroI32::new(code);
        NetlinkPayload::Error(message)
    }

    fn link(name: &str) -> NetlinkPayload<RouteNetlinkMessage> {
        let mut message = LinkMessage::default();
        // A name of odd length makes the message need padding.
        message.attributes.push(LinkAttribute::IfName(name.to_string()));
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(message))
    }

    #[test]
    fn a_datagram_of_several_messages_is_split_and_filtered_by_sequence() {
        let datagram = [
            packet(7, link("lo")),
            packet(6, link("stale")),
            packet(7, link("eth0")),
            packet(7, NetlinkPayload::Done(DoneMessage::default())),
        ]
        .concat();
        let payloads = split(&datagram, 7).unwrap();
        assert_eq!(payloads.len(), 3);
        assert_eq!(payloads[0], link("lo"));
        assert_eq!(payloads[1], link("eth0"));
        assert!(matches!(payloads[2], NetlinkPayload::Done(_)));
    }

    #[test]
    fn an_error_code_is_an_acknowledgement_or_an_errno() {
        let payloads = split(&[packet(1, error(0)), packet(1, error(-17))].concat(), 1).unwrap();
        let codes: Vec<_> = payloads
            .iter()
            .map(|payload| match payload {
                NetlinkPayload::Error(message) => check(message.code).map_err(|err| err.errno()),
                other => panic!("expected an error message, got {other:?}"),
            })
            .collect();
        assert_eq!(codes, vec![Ok(()), Err(Some(Errno::EEXIST))]);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(split(&[1, 2, 3], 1), Err(NetlinkError::Decode(_))));
    }
}

/// A fake kernel for unit tests: it knows a few links by name, and
/// records every request as a short line (`"up 2"`), so a test can check
/// which changes were asked for, in which order.
#[cfg(test)]
pub mod fake {
    use std::net::IpAddr;

    use netlink_packet_route::address::AddressAttribute;
    use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
    use netlink_packet_route::route::{RouteAddress, RouteAttribute};
    use netlink_packet_route::RouteNetlinkMessage;
    use nix::errno::Errno;

    use super::{NetlinkError, Rtnetlink};

    /// Every request, and the flags it was sent with.
    #[derive(Default)]
    pub struct Recorder {
        links: Vec<(String, u32)>,
        /// The requests, as sent.
        pub requests: Vec<(RouteNetlinkMessage, u16)>,
    }

    impl Recorder {
        /// A kernel with these links (name, index).
        pub fn with_links(links: &[(&str, u32)]) -> Recorder {
            Recorder {
                links: links.iter().map(|(name, index)| (name.to_string(), *index)).collect(),
                ..Recorder::default()
            }
        }

        /// The requests as short lines.
        pub fn changes(&self) -> Vec<String> {
            self.requests.iter().map(|(message, _)| describe(message)).collect()
        }
    }

    impl Rtnetlink for Recorder {
        fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<(), NetlinkError> {
            self.requests.push((message, flags));
            Ok(())
        }

        fn dump(&mut self, _message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
            Ok(Vec::new())
        }

        fn get(&mut self, message: RouteNetlinkMessage) -> Result<RouteNetlinkMessage, NetlinkError> {
            let RouteNetlinkMessage::GetLink(asked) = message else {
                return Err(NetlinkError::Kernel(Errno::EOPNOTSUPP));
            };
            let found = self.links.iter().find(|(name, index)| {
                asked.header.index == *index || asked.attributes.contains(&LinkAttribute::IfName(name.clone()))
            });
            let (name, index) = found.ok_or(NetlinkError::Kernel(Errno::ENODEV))?;
            let mut link = LinkMessage::default();
            link.header.index = *index;
            link.attributes.push(LinkAttribute::IfName(name.clone()));
            Ok(RouteNetlinkMessage::NewLink(link))
        }
    }

    fn describe(message: &RouteNetlinkMessage) -> String {
        match message {
            RouteNetlinkMessage::SetLink(link) if link.header.change_mask.contains(LinkFlags::Up) => {
                let state = if link.header.flags.contains(LinkFlags::Up) { "up" } else { "down" };
                format!("{state} {}", link.header.index)
            }
            RouteNetlinkMessage::NewAddress(address) => {
                let local = address.attributes.iter().find_map(|attribute| match attribute {
                    AddressAttribute::Local(IpAddr::V4(ip)) => Some(ip.to_string()),
                    _ => None,
                });
                format!(
                    "address {}/{} on {}",
                    local.unwrap_or_default(),
                    address.header.prefix_len,
                    address.header.index
                )
            }
            RouteNetlinkMessage::NewRoute(route) if route.header.destination_prefix_length == 0 => {
                let gateway = route.attributes.iter().find_map(|attribute| match attribute {
                    RouteAttribute::Gateway(RouteAddress::Inet(ip)) => Some(ip.to_string()),
                    _ => None,
                });
                format!("default via {}", gateway.unwrap_or_default())
            }
            other => format!("{other:?}"),
        }
    }
}
