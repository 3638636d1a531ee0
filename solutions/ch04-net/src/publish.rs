//! Chapter 4's challenge: published ports (`--publish HOST:CONTAINER`),
//! a TCP port of the host that reaches a port of the container. The book
//! states the goal in "Challenge: published ports"; there is no
//! walkthrough.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use nix::unistd::Pid;
use spawn::{BoxError, Layer};

/// Why a `--publish` was refused, or its port could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Not `HOST:CONTAINER`, two ports from 1 to 65535.
    #[error("--publish {0:?}: expected HOST:CONTAINER, two TCP ports from 1 to 65535")]
    Syntax(String),
    /// Two mappings for one host port.
    #[error("--publish: the host port {0} is published twice")]
    Twice(u16),
    /// The host's port is taken, or may not be bound by this user.
    #[error("--publish {0}: cannot listen on the host's port {0}")]
    Bind(u16, #[source] std::io::Error),
}

/// One `--publish`: a host port and the container's port it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// The port the host listens on, on every address.
    pub host: u16,
    /// The port in the container it leads to.
    pub container: u16,
}

impl PortMapping {
    /// Parses `HOST:CONTAINER`, before anything is created.
    pub fn parse(text: &str) -> Result<PortMapping, PublishError> {
        // STARTER: todo!(
        // STARTER:     "challenge: accept HOST:CONTAINER and refuse what could not be a pair of TCP ports (book: \
        // STARTER:      chapter 4, \"Challenge: published ports\")"
        // STARTER: )
        // SOLUTION BEGIN
        let syntax = || PublishError::Syntax(text.to_string());
        let (host, container) = text.split_once(':').ok_or_else(syntax)?;
        // Port 0 asks the kernel for any port: not a port anyone can reach.
        let port = |text: &str| text.parse::<u16>().ok().filter(|port| *port != 0).ok_or_else(syntax);
        Ok(PortMapping { host: port(host)?, container: port(container)? })
        // SOLUTION END
    }
}

/// Listens on every host port asked, before anything is created: a port
/// that is taken is refused then, with nothing to undo.
pub fn listen_all(mappings: &[PortMapping]) -> Result<Vec<(TcpListener, PortMapping)>, PublishError> {
    let mut listeners: Vec<(TcpListener, PortMapping)> = Vec::new();
    for mapping in mappings {
        if listeners.iter().any(|(_, taken)| taken.host == mapping.host) {
            return Err(PublishError::Twice(mapping.host));
        }
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, mapping.host))
            .map_err(|source| PublishError::Bind(mapping.host, source))?;
        listeners.push((listener, *mapping));
    }
    Ok(listeners)
}

/// The layer that forwards each published port to the container while it
/// runs. It lives in the runtime, in the host's network namespace: the one
/// where the host's ports are.
#[derive(Debug)]
pub struct PublishLayer {
    listeners: Vec<(TcpListener, PortMapping)>,
    address: Ipv4Addr,
}

impl PublishLayer {
    /// Forwards `listeners`' ports to the container at `address`.
    pub fn new(listeners: Vec<(TcpListener, PortMapping)>, address: Ipv4Addr) -> PublishLayer {
        PublishLayer { listeners, address }
    }
}

impl Layer for PublishLayer {
    fn name(&self) -> &'static str {
        "publish"
    }

    /// The child was cloned with a copy of every listening socket, sockets
    /// of the host's network namespace: it closes them, so that nothing in
    /// the container (the init never executes a new program) holds one.
    fn enter_child(&self) -> Result<(), BoxError> {
        for (listener, _) in &self.listeners {
            nix::unistd::close(listener.as_raw_fd())?;
        }
        Ok(())
    }

    /// Once the container exists, one thread per published port, for as
    /// long as the runtime runs (it waits for the container, and its exit
    /// ends them all).
    fn prepare_parent(&self, _child: Pid) -> Result<(), BoxError> {
        for (listener, mapping) in &self.listeners {
            let listener = listener.try_clone()?;
            let to = SocketAddrV4::new(self.address, mapping.container);
            std::thread::spawn(move || forward(&listener, to));
        }
        Ok(())
    }
}

/// Accepts connections on `listener` for ever, and joins each to a new
/// connection to `to`, both ways, until both sides have finished.
pub fn forward(listener: &TcpListener, to: SocketAddrV4) {
    // STARTER: todo!(
    // STARTER:     "challenge: every connection to the host's port becomes a connection to the container's, the \
    // STARTER:      bytes flowing both ways until each side has said all it will (book: chapter 4, \"Challenge: \
    // STARTER:      published ports\")"
    // STARTER: )
    // SOLUTION BEGIN
    for client in listener.incoming() {
        // A failed accept or connect costs that one connection, never the
        // port: a container not yet listening is refused, then tried again.
        let Ok(client) = client else { continue };
        let Ok(container) = TcpStream::connect(to) else { continue };
        std::thread::spawn(move || join(client, container));
    }
    // SOLUTION END
}

/// Copies `a` to `b` and `b` to `a`, each direction in its own thread. When
/// one side stops sending, the other is told (a half-close), so a client
/// that sends its request and waits for the reply still gets it.
fn join(a: TcpStream, b: TcpStream) {
    // STARTER: // challenge: yours, with forward (book: chapter 4, "Challenge: published ports").
    // SOLUTION BEGIN
    let (Ok(mut a_read), Ok(mut b_read)) = (a.try_clone(), b.try_clone()) else { return };
    let (mut a_write, mut b_write) = (a, b);
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a_read, &mut b_write);
        let _ = b_write.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b_read, &mut a_write);
    let _ = a_write.shutdown(std::net::Shutdown::Write);
    let _ = upstream.join();
    // SOLUTION END
}
