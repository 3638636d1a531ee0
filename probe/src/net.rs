//! Network facts from inside, and the probe's side of the connectivity tests.
//!
//! Interfaces and addresses come from rtnetlink dumps (`RTM_GETLINK`,
//! `RTM_GETADDR`): netlink always answers for the network namespace of the
//! socket's creator, whereas `/sys/class/net` shows the namespace of whoever
//! mounted sysfs — the host's, in a container without its own /sys. Routes
//! come from `/proc/net/route`, which also follows the reader's namespace.
//!
//! The connectivity subcommands (`loopback`, `serve`, `send`) answer with a
//! contract document each (`Loopback`, `Served`, `Sent`); a failure is a
//! field of that document, not an exit code.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use contract::{Address, Envelope, Exchange, Interface, Listening, Loopback, Network, Nonce, Route, Sent, Served};

/// Reads the interfaces, addresses and routes (the report's `network`
/// section), or says what failed.
pub fn collect() -> Result<Network, String> {
    let mut interfaces = netlink::links()?;
    for (index, address) in netlink::addresses()? {
        if let Some(interface) = interfaces.iter_mut().find(|i| i.index == index) {
            interface.addresses.push(address);
        }
    }
    interfaces.sort_by_key(|i| i.index);
    let routes = std::fs::read_to_string("/proc/net/route")
        .map(|text| parse_routes(&text))
        .map_err(|e| format!("read /proc/net/route: {e}"))?;
    Ok(Network { interfaces, routes })
}

/// Parses `/proc/net/route`: a header, then one route per line with the
/// addresses in hex, as the kernel holds them in memory (network order).
fn parse_routes(text: &str) -> Vec<Route> {
    let ipv4 = |hex: &str| u32::from_str_radix(hex, 16).ok().map(|n| Ipv4Addr::from(n.to_ne_bytes()));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (device, destination, gateway, mask) =
                (fields.first()?, fields.get(1)?, fields.get(2)?, fields.get(7)?);
            let gateway = ipv4(gateway)?;
            Some(Route {
                destination: ipv4(destination)?,
                prefix: u32::from(ipv4(mask)?).leading_ones() as u8,
                gateway: (!gateway.is_unspecified()).then_some(gateway),
                device: device.to_string(),
            })
        })
        .collect()
}

/// How long `loopback` and `send` wait for a connection or a reply.
const TIMEOUT: Duration = Duration::from_secs(5);

/// `probe loopback`: a listener on 127.0.0.1, a connection to it, one
/// message each way: what the client saw.
pub fn loopback() -> Loopback {
    let mut exchange = Exchange::default();
    if let Err(error) = try_loopback(&mut exchange) {
        exchange.error = Some(error);
    }
    Loopback { client: exchange }
}

fn try_loopback(exchange: &mut Exchange) -> Result<(), String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind 127.0.0.1: {e}"))?;
    let address = listener.local_addr().map_err(|e| format!("read the bound address: {e}"))?;
    // A thread answers, so a blocked accept cannot outlive the timeout
    // below: the process exits with the main thread.
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = answer(stream);
        }
    });
    let stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(|e| format!("connect to {address}: {e}"))?;
    talk(stream, "hello over lo", exchange)
}

/// Sends `message` as one line, then reads the reply to EOF (and only then
/// closes: see `answer`).
fn talk(mut stream: TcpStream, message: &str, exchange: &mut Exchange) -> Result<(), String> {
    exchange.local = stream.local_addr().ok();
    exchange.peer = stream.peer_addr().ok();
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| format!("set a read timeout: {e}"))?;
    stream.write_all(format!("{message}\n").as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut reply = Vec::new();
    stream.take(MAX_MESSAGE).read_to_end(&mut reply).map_err(|e| format!("receive: {e}"))?;
    exchange.received = Some(String::from_utf8_lossy(&reply).into_owned());
    Ok(())
}

/// The longest message or reply: more means something is wrong.
const MAX_MESSAGE: u64 = 1 << 16;

/// Reads a one-line message, answers `reply to <message>` and EOF, then
/// waits for the other end to close: a server that exited at once could
/// take its network away (the runtime deletes the veth) while its reply is
/// still on the way. Returns the message.
fn answer(mut stream: TcpStream) -> Result<String, String> {
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| format!("set a read timeout: {e}"))?;
    let mut message = Vec::new();
    let mut byte = [0];
    while message.len() < MAX_MESSAGE as usize {
        match stream.read(&mut byte).map_err(|e| format!("receive: {e}"))? {
            0 => break,
            _ if byte[0] == b'\n' => break,
            _ => message.push(byte[0]),
        }
    }
    let message = String::from_utf8_lossy(&message).into_owned();
    stream.write_all(format!("reply to {message}").as_bytes()).map_err(|e| format!("reply: {e}"))?;
    stream.shutdown(Shutdown::Write).map_err(|e| format!("close the sending side: {e}"))?;
    // The other end closes once it has read the reply to EOF.
    let _ = stream.read_to_end(&mut Vec::new());
    Ok(message)
}

/// `probe serve FILE MS [PORT]`: listen on every address (on PORT, or a
/// port the kernel picks), write a `Listening` to FILE (atomically: a
/// reader never sees half of it) in an envelope with `nonce`, answer one
/// connection within MS milliseconds: what the server saw.
pub fn serve(file: &str, wait: Duration, port: u16, nonce: Option<Nonce>) -> Served {
    let mut exchange = Exchange::default();
    if let Err(error) = try_serve(file, wait, port, nonce, &mut exchange) {
        exchange.error = Some(error);
    }
    Served { server: exchange }
}

fn try_serve(
    file: &str,
    wait: Duration,
    port: u16,
    nonce: Option<Nonce>,
    exchange: &mut Exchange,
) -> Result<(), String> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).map_err(|e| format!("bind 0.0.0.0:{port}: {e}"))?;
    let port = listener.local_addr().map_err(|e| format!("read the bound address: {e}"))?.port();
    let network = collect()?;
    let addresses = network.interfaces.iter().filter(|i| i.link_type != "loopback").flat_map(|i| i.addresses.clone());
    let listening = Envelope { nonce, body: Listening { port, addresses: addresses.collect() } };
    let json = serde_json::to_string(&listening).map_err(|e| format!("encode: {e}"))?;
    let partial = format!("{file}.partial");
    std::fs::write(&partial, json).map_err(|e| format!("write {partial}: {e}"))?;
    std::fs::rename(&partial, file).map_err(|e| format!("rename {partial} to {file}: {e}"))?;
    // std has no accept with a deadline: poll a non-blocking listener.
    listener.set_nonblocking(true).map_err(|e| format!("make the listener non-blocking: {e}"))?;
    let deadline = Instant::now() + wait;
    let (stream, peer) = loop {
        match listener.accept() {
            Ok(accepted) => break accepted,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(format!("no connection within {} ms", wait.as_millis()))
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    stream.set_nonblocking(false).map_err(|e| format!("make the connection blocking: {e}"))?;
    exchange.local = stream.local_addr().ok();
    exchange.peer = Some(peer);
    exchange.received = Some(answer(stream)?);
    Ok(())
}

/// `probe send ADDR PORT MSG`: connect, send MSG and read the reply: what
/// the client saw.
pub fn send(address: &str, port: &str, message: &str) -> Sent {
    let mut exchange = Exchange::default();
    let target = format!("{address}:{port}");
    let connected = target
        .parse::<SocketAddr>()
        .map_err(|e| format!("bad address {target:?}: {e}"))
        .and_then(|to| TcpStream::connect_timeout(&to, TIMEOUT).map_err(|e| format!("connect to {to}: {e}")));
    if let Err(error) = connected.and_then(|stream| talk(stream, message, &mut exchange)) {
        exchange.error = Some(error);
    }
    Sent { client: exchange }
}

/// A minimal rtnetlink client: one dump request, then its replies.
mod netlink {
    use super::*;

    const AF_NETLINK: i32 = 16;
    const SOCK_RAW: i32 = 3;
    const SOCK_CLOEXEC: i32 = 0o2000000;
    const NETLINK_ROUTE: i32 = 0;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const RTM_NEWLINK: u16 = 16;
    const RTM_GETLINK: u16 = 18;
    const RTM_NEWADDR: u16 = 20;
    const RTM_GETADDR: u16 = 22;
    const AF_INET: u8 = 2;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_INFO_KIND: u16 = 1;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFF_UP: u32 = 0x1;
    const IFF_RUNNING: u32 = 0x40;
    /// `struct nlmsghdr`: length, type, flags, sequence, port id.
    const HEADER: usize = 16;
    /// `struct ifinfomsg`: family, pad, type, index, flags, change.
    const IFINFOMSG: usize = 16;
    /// `struct ifaddrmsg`: family, prefix length, flags, scope, index.
    const IFADDRMSG: usize = 8;

    /// Every link: name, index, flags, type and kind; no addresses yet.
    pub fn links() -> Result<Vec<Interface>, String> {
        let messages = dump(RTM_GETLINK, &[0; IFINFOMSG])?;
        let links = messages.iter().filter(|(kind, body)| *kind == RTM_NEWLINK && body.len() >= IFINFOMSG);
        links
            .map(|(_, body)| {
                let link_type = u16::from_ne_bytes([body[2], body[3]]);
                let index = u32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
                let flags = u32::from_ne_bytes([body[8], body[9], body[10], body[11]]);
                let attrs = attributes(&body[IFINFOMSG..]);
                let name = attrs.iter().find(|(kind, _)| *kind == IFLA_IFNAME).map(|(_, value)| text(value));
                let info = attrs.iter().find(|(kind, _)| *kind == IFLA_LINKINFO).map(|(_, value)| *value);
                let kind = info.and_then(|info| {
                    attributes(info).iter().find(|(kind, _)| *kind == IFLA_INFO_KIND).map(|(_, value)| text(value))
                });
                Ok(Interface {
                    name: name.ok_or_else(|| format!("link {index} has no name"))?,
                    index,
                    up: flags & IFF_UP != 0,
                    running: flags & IFF_RUNNING != 0,
                    link_type: match link_type {
                        1 => "ether".to_string(),
                        772 => "loopback".to_string(),
                        other => other.to_string(),
                    },
                    kind,
                    addresses: Vec::new(),
                })
            })
            .collect()
    }

    /// Every IPv4 address, with the index of its interface.
    pub fn addresses() -> Result<Vec<(u32, Address)>, String> {
        let mut request = [0; IFADDRMSG];
        request[0] = AF_INET;
        let messages = dump(RTM_GETADDR, &request)?;
        let addresses = messages.iter().filter(|(kind, body)| *kind == RTM_NEWADDR && body.len() >= IFADDRMSG);
        Ok(addresses
            .filter(|(_, body)| body[0] == AF_INET)
            .filter_map(|(_, body)| {
                let index = u32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
                let attrs = attributes(&body[IFADDRMSG..]);
                // IFA_LOCAL is the interface's own address; IFA_ADDRESS is
                // the same except on point-to-point links (then the peer's).
                let find = |wanted| attrs.iter().find(|(kind, _)| *kind == wanted).map(|(_, value)| *value);
                let value = find(IFA_LOCAL).or_else(|| find(IFA_ADDRESS))?;
                let octets: [u8; 4] = value.get(..4)?.try_into().ok()?;
                Some((index, Address { address: Ipv4Addr::from(octets), prefix: body[1] }))
            })
            .collect())
    }

    /// Sends one dump request of `kind` with `payload` and gathers the
    /// replies' `(type, body)` until `NLMSG_DONE`.
    fn dump(kind: u16, payload: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, String> {
        // SAFETY: socket(2) takes no pointers; the result is checked below.
        let fd = unsafe { socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) };
        if fd < 0 {
            return Err(format!("open a netlink socket: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a descriptor socket(2) just returned, owned by no one else.
        let mut socket = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut request = Vec::with_capacity(HEADER + payload.len());
        request.extend_from_slice(&((HEADER + payload.len()) as u32).to_ne_bytes());
        request.extend_from_slice(&kind.to_ne_bytes());
        request.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        request.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
        request.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        request.extend_from_slice(payload);
        // An unbound netlink socket sends to the kernel: write(2) is enough.
        socket.write_all(&request).map_err(|e| format!("send a netlink request: {e}"))?;
        let mut messages = Vec::new();
        let mut buffer = vec![0; 1 << 16];
        loop {
            let length = socket.read(&mut buffer).map_err(|e| format!("read netlink replies: {e}"))?;
            if length == 0 {
                return Err("the netlink socket closed before the dump ended".to_string());
            }
            let mut rest = &buffer[..length];
            while rest.len() >= HEADER {
                let size = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                if size < HEADER || size > rest.len() {
                    return Err(format!("a netlink reply of {size} bytes does not fit in {}", rest.len()));
                }
                match kind {
                    NLMSG_DONE => return Ok(messages),
                    NLMSG_ERROR => {
                        let errno = rest.get(HEADER..HEADER + 4).map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        let error = std::io::Error::from_raw_os_error(-errno.unwrap_or(0));
                        return Err(format!("the kernel refused the netlink dump: {error}"));
                    }
                    _ => messages.push((kind, rest[HEADER..size].to_vec())),
                }
                rest = &rest[align(size).min(rest.len())..];
            }
        }
    }

    /// Splits netlink attributes (`struct rtattr`: length, type, value,
    /// padded to 4 bytes) into `(type, value)`.
    fn attributes(mut bytes: &[u8]) -> Vec<(u16, &[u8])> {
        let mut found = Vec::new();
        while bytes.len() >= 4 {
            let size = u16::from_ne_bytes([bytes[0], bytes[1]]) as usize;
            // The top bits of the type are flags (nested, byte order).
            let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & 0x3fff;
            if size < 4 || size > bytes.len() {
                break;
            }
            found.push((kind, &bytes[4..size]));
            bytes = &bytes[align(size).min(bytes.len())..];
        }
        found
    }

    fn align(size: usize) -> usize {
        (size + 3) & !3
    }

    /// A NUL-terminated attribute value as text.
    fn text(value: &[u8]) -> String {
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        String::from_utf8_lossy(&value[..end]).into_owned()
    }

    extern "C" {
        fn socket(domain: i32, kind: i32, protocol: i32) -> i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_from_proc_net_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0100490A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0000490A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let routes = parse_routes(text);
        assert_eq!(routes.len(), 2);
        assert_eq!((routes[0].destination, routes[0].prefix), (Ipv4Addr::UNSPECIFIED, 0));
        assert_eq!(routes[0].gateway, Some(Ipv4Addr::new(10, 73, 0, 1)));
        assert_eq!(
            (routes[1].destination, routes[1].prefix, routes[1].gateway),
            (Ipv4Addr::new(10, 73, 0, 0), 24, None)
        );
        assert_eq!(routes[1].device, "eth0");
    }

    #[test]
    fn the_probes_own_namespace_has_a_loopback() {
        let network = collect().expect("netlink works here");
        let lo = network.interfaces.iter().find(|i| i.name == "lo").expect("every namespace has lo");
        assert_eq!(lo.link_type, "loopback");
    }

    #[test]
    fn loopback_exchanges_a_message() {
        let exchange = loopback().client;
        assert_eq!(exchange.error, None);
        assert_eq!(exchange.received.as_deref(), Some("reply to hello over lo"));
    }
}
