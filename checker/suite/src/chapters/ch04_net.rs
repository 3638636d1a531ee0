//! Chapter 4 — net: a network namespace, a veth pair to a bridge, leases.
//!
//! Inside, the probe reads the interfaces, addresses and routes from the
//! kernel (rtnetlink, `/proc/net/route`). Outside, the suite reads the host's
//! `/sys/class/net` (its veths, each bridge's ports) and the lease folder
//! `/run/greenroom/net/<bridge>/`. Each test uses a bridge and subnet of its
//! own, so tests running side by side never share addresses or ports.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::{Duration, Instant};

use contract::{Address, Exchange, Interface, Listening, Loopback, Network, Report, Sent, Served};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::ctx::{expect_eq, Ctx, Failure, ProbeCall, Run, Running};
use crate::TestCase;

/// Chapter 4's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(4);
    vec![
        test(
            "interfaces-inside",
            3,
            "inside, only lo and eth0, eth0 up with the second host address of --subnet, a default route via the first",
            "the container should see exactly lo and an eth0 with its own address and a way out",
            "ch04-net.md#inside-the-container",
            interfaces_inside,
        ),
        test(
            "loopback-works",
            1,
            "lo is up inside: a TCP connection to 127.0.0.1 carries a message both ways",
            "127.0.0.1 should answer inside the container",
            "ch04-net.md#inside-the-container",
            loopback_works,
        ),
        test(
            "host-interfaces-invisible",
            1,
            "the container has its own network namespace: none of the host's interfaces are visible",
            "the container should not see the host's interfaces",
            "ch04-net.md#the-layer",
            host_interfaces_invisible,
        ),
        test(
            "containers-reach-each-other",
            3,
            "two containers on one bridge talk TCP to each other",
            "two containers should reach each other over the host's bridge",
            "ch04-net.md#creating-the-veth-pair",
            containers_reach_each_other,
        ),
        test(
            "host-reaches-container",
            2,
            "the host reaches a container through the bridge, which holds the gateway address",
            "the host should reach the container's address",
            "ch04-net.md#creating-the-veth-pair",
            host_reaches_container,
        ),
        test(
            "gateway-mac-stable",
            1,
            "the bridge's MAC address (the gateway's, which containers cache) stays the same as containers come and go",
            "the gateway's hardware address should not change as containers come and go",
            "ch04-net.md#creating-the-veth-pair",
            gateway_mac_stable,
        ),
        test(
            "no-network",
            1,
            "--net none gives a namespace with only lo, up, and nothing on the host",
            "with --net none, the container should have lo and nothing else",
            "ch04-net.md#inside-the-container",
            no_network,
        )
        // It compares the host's whole interface list before and after.
        .run_alone(),
        test(
            "cleanup-after-exit",
            2,
            "after the command exits, the veth pair and the lease are gone from the host",
            "after the container ends, nothing of its network should be left on the host",
            "ch04-net.md#cleanup",
            cleanup_after_exit,
        ),
        test(
            "cleanup-after-container-killed",
            2,
            "after the host SIGKILLs the container's PID 1, the veth pair and the lease are gone",
            "a container killed from outside must be cleaned up too",
            "ch04-net.md#cleanup",
            cleanup_after_container_killed,
        ),
        test(
            "stale-lease-reclaimed",
            2,
            "a lease left by a runtime killed with SIGKILL is reclaimed by the next run",
            "an address held by a runtime that died should be taken back",
            "ch04-net.md#leases",
            stale_lease_reclaimed,
        ),
        test(
            "distinct-addresses",
            2,
            "two containers started at the same instant get different addresses",
            "two containers started at once must not get the same address",
            "ch04-net.md#leases",
            distinct_addresses,
        ),
        test(
            "lease-outlives-killed-runtime",
            2,
            "a runtime is SIGKILLed while its container runs on: the lease names the container's PID 1, and the next \
             container gets another address",
            "a container whose runtime was killed keeps its address: the lease must pass to the container",
            "ch04-net.md#leases",
            lease_outlives_killed_runtime,
        ),
        test(
            "reused-pid-lease-reclaimed",
            2,
            "the only address's owner has ended and its pid now belongs to a later process: the next run takes the \
             address",
            "a lease's owner is a pid and a start time: a pid given to a new process does not keep the address",
            "ch04-net.md#leases",
            reused_pid_lease_reclaimed,
        )
        // It picks the next pid the kernel gives: nothing may fork beside it.
        .run_alone(),
        test(
            "zombie-lease-reclaimed",
            2,
            "the only address's owner is a zombie (its stopped runtime has not reaped it): the next run takes the address",
            "a zombie holds no address: it has left its namespaces",
            "ch04-net.md#leases",
            zombie_lease_reclaimed,
        ),
        test(
            "release-spares-reclaimed-lease",
            2,
            "a runtime whose lease another container reclaimed in the meantime ends: that container's lease stays",
            "a runtime gives back only a lease that is still its own",
            "ch04-net.md#leases",
            release_spares_reclaimed_lease,
        ),
        test(
            "last-address-race",
            2,
            "two runtimes read the last address's lease at once, held open by the suite: one gets the address, the \
             other exits 125",
            "two runtimes must never both take the last address: allocate under the lock",
            "ch04-net.md#leases",
            last_address_race,
        ),
        test(
            "bad-network-refused",
            2,
            "an unknown --net, a bad or overlapping --subnet, a non-bridge --bridge, a full subnet: 125, nothing created",
            "a bad network argument must be refused before anything is created",
            "ch04-net.md#before-anything-is-created",
            bad_network_refused,
        )
        // It compares the host's whole interface list before and after.
        .run_alone(),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "published-port-forwards",
            2,
            "with --publish 18046:7046, a TCP exchange with the host's 127.0.0.1:18046 reaches the container's server \
             on port 7046, both ways; after the run, nothing listens on 18046",
            "challenge: the goal and its rules are in the book; which network namespace holds the host's ports?",
            "ch04-net.md#challenge-published-ports",
            published_port_forwards,
        )
        .as_challenge(),
        test(
            "bad-publish-refused",
            1,
            "a --publish that is not two ports from 1 to 65535, one with --net none, and one whose host port is taken \
             are refused with 125, before the command runs",
            "challenge: the goal and its rules are in the book",
            "ch04-net.md#challenge-published-ports",
            bad_publish_refused,
        )
        .as_challenge(),
    ]
}

fn published_port_forwards(ctx: &mut Ctx) -> Result<(), Failure> {
    const HOST_PORT: u16 = 18046;
    let net = TestNet::new("gr4-pub", 61, 24);
    let file = ctx.scratch_path("published-listening.json");
    let call = ctx.call::<Served>(&[&file, SERVE_MS, "7046"])?;
    let mut flags = net.flags();
    flags.extend(["--publish".to_string(), format!("{HOST_PORT}:7046")]);
    let running = ctx.spawn(&flags_of(&flags), &call.command(), &[])?;
    let listening = read_listening(&call, &file);
    let message = "hello through the published port";
    let reply = match listening {
        Ok(_) => send_from_host(Ipv4Addr::LOCALHOST, HOST_PORT, message),
        Err(why) => Err(why),
    };
    let run = running.wait()?;
    let still_listening =
        TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, HOST_PORT)), Duration::from_millis(500))
            .is_ok();
    let wanted = format!("reply to {message}");
    if reply.as_deref() != Ok(wanted.as_str()) {
        return Err(Failure::fail(format!(
            "a TCP exchange with the host's 127.0.0.1:{HOST_PORT} did not reach the container's port 7046 and back: \
             the host's port must be listened on in the host's network namespace, and each connection carried to the \
             container's address, both ways, each side told when the other has finished"
        ))
        .compare(wanted, format!("{reply:?}; the runtime: {}", run.describe())));
    }
    let served = call.read(&run)?.server;
    expect_eq("what the container's server received", Some(message), served.received.as_deref())?;
    if still_listening {
        return Err(Failure::fail(format!(
            "something still listens on the host's port {HOST_PORT} after the run: the published port must end with \
             the container"
        )));
    }
    Ok(())
}

fn bad_publish_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-pubx", 62, 24);
    // A port the suite holds: taken, as another program's would be.
    let taken = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 18047))
        .map_err(|e| Failure::error(format!("listen on 18047 to make it taken: {e}")))?;
    let cases: [(&[&str], &str); 6] = [
        (&["--publish", "18048"], "it has no container port"),
        (&["--publish", "0:80"], "port 0 is no port to publish"),
        (&["--publish", "70000:80"], "ports end at 65535"),
        (&["--publish", "http:80"], "ports are numbers"),
        (&["--publish", "18049:80", "--net", "none"], "--net none has nothing to forward to"),
        (&["--publish", "18047:80"], "the host's port 18047 is taken"),
    ];
    for (extra, why) in cases {
        let mut flags = if extra.contains(&"none") { Vec::new() } else { net.flags() };
        flags.extend(extra.iter().map(|flag| flag.to_string()));
        ctx.expect_refused_up_front(&flags_of(&flags), why)?;
    }
    drop(taken);
    Ok(())
}

/// Where the runtime keeps a bridge's leases (one file per container).
const LEASES: &str = "/run/greenroom/net";
/// How long a serving probe waits for its one connection: less than a
/// run's deadline, so it reports instead of being killed.
const SERVE_MS: &str = "6000";

/// A test's own bridge and subnet.
#[derive(Debug, Clone, Copy)]
struct TestNet {
    bridge: &'static str,
    network: Ipv4Addr,
    prefix: u8,
}

impl TestNet {
    const fn new(bridge: &'static str, third_octet: u8, prefix: u8) -> TestNet {
        TestNet { bridge, network: Ipv4Addr::new(10, 73, third_octet, 0), prefix }
    }

    fn subnet(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }

    /// `--net bridge --bridge NAME --subnet A.B.C.D/N`.
    fn flags(&self) -> Vec<String> {
        ["--net", "bridge", "--bridge", self.bridge, "--subnet", &self.subnet()].map(String::from).to_vec()
    }

    fn mask(&self) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0)
    }

    /// The first host address: the bridge's, the containers' gateway.
    fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// A container's address: from the second host address to the last
    /// before the broadcast address.
    fn is_container_address(&self, address: Ipv4Addr) -> bool {
        let (n, network) = (u32::from(address), u32::from(self.network));
        n & self.mask() == network && n >= network + 2 && n < (network | !self.mask())
    }
}

fn flags_of(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

// ---- inside -------------------------------------------------------------

fn network_report(ctx: &mut Ctx, flags: &[&str]) -> Result<(Report, Network), Failure> {
    let report = ctx.report(flags)?;
    let network = report.network.clone().ok_or_else(|| {
        Failure::error("the probe could not read the container's network (rtnetlink or /proc/net/route)")
    })?;
    Ok((report, network))
}

/// `lo up 127.0.0.1/8; eth0 up 10.73.0.2/24; default via 10.73.0.1 dev eth0`.
fn describe(network: &Network) -> String {
    let interfaces = network.interfaces.iter().map(|i| {
        let state = if i.up { "up" } else { "down" };
        let addresses: Vec<String> = i.addresses.iter().map(|a| format!("{}/{}", a.address, a.prefix)).collect();
        format!("{} {state} {}", i.name, if addresses.is_empty() { "(no address)".into() } else { addresses.join(" ") })
    });
    let routes = network.routes.iter().map(|r| match r.gateway {
        Some(gateway) if r.prefix == 0 => format!("default via {gateway} dev {}", r.device),
        Some(gateway) => format!("{}/{} via {gateway} dev {}", r.destination, r.prefix, r.device),
        None => format!("{}/{} dev {}", r.destination, r.prefix, r.device),
    });
    let routes: Vec<String> = routes.collect();
    let routes = if routes.is_empty() { "no routes".to_string() } else { routes.join(", ") };
    format!("{}; {routes}", interfaces.collect::<Vec<_>>().join("; "))
}

fn names(network: &Network) -> Vec<&str> {
    network.interfaces.iter().map(|i| i.name.as_str()).collect()
}

fn interface<'a>(network: &'a Network, name: &str) -> Option<&'a Interface> {
    network.interfaces.iter().find(|i| i.name == name)
}

/// lo is up and holds 127.0.0.1/8.
fn expect_loopback_up(network: &Network) -> Result<(), Failure> {
    let lo = interface(network, "lo").ok_or_else(|| Failure::fail("the container has no lo"))?;
    let want = Address { address: Ipv4Addr::LOCALHOST, prefix: 8 };
    if !lo.up || !lo.addresses.contains(&want) {
        return Err(Failure::fail(
            "lo is down inside the container: a new network namespace starts with lo down (and without \
             127.0.0.1 until it is up); set it up from inside",
        )
        .compare("lo up 127.0.0.1/8", describe(network)));
    }
    Ok(())
}

fn interfaces_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-inside", 41, 24);
    let (_, network) = network_report(ctx, &flags_of(&net.flags()))?;
    let seen = describe(&network);
    let mut sorted = names(&network);
    sorted.sort();
    if sorted != ["eth0", "lo"] {
        return Err(Failure::fail("inside, the container should have exactly two interfaces, lo and eth0")
            .compare("eth0, lo", sorted.join(", ")));
    }
    expect_loopback_up(&network)?;
    let eth0 = interface(&network, "eth0").ok_or_else(|| Failure::fail("the container has no eth0"))?;
    if !eth0.up {
        return Err(Failure::fail(
            "eth0 is down inside: moving a link into a namespace sets it down, so set it up from inside, after the move",
        )
        .compare("eth0 up", seen));
    }
    let wanted =
        format!("one address from {} (the second host address or above), prefix /{}", net.subnet(), net.prefix);
    match eth0.addresses.as_slice() {
        [] => {
            return Err(Failure::fail(
                "eth0 has no IPv4 address inside: configure it from inside the container's namespace (with a netlink \
                 socket opened in the child) — an address given from the host's namespace lands on the host end, \
                 or is dropped when the peer moves",
            )
            .compare(wanted, seen))
        }
        [one] if net.is_container_address(one.address) && one.prefix == net.prefix => {}
        [one] if one.address == net.gateway() => {
            return Err(Failure::fail("eth0 holds the gateway address, which belongs to the bridge on the host")
                .compare(wanted, seen))
        }
        _ => return Err(Failure::fail("eth0's address is not a container address of --subnet").compare(wanted, seen)),
    }
    let default = network.routes.iter().find(|r| r.prefix == 0);
    let gateway = net.gateway();
    match default {
        Some(route) if route.gateway == Some(gateway) && route.device == "eth0" => Ok(()),
        _ => Err(Failure::fail(format!(
            "inside, the default route should go via the gateway {gateway} (the bridge's address) on eth0"
        ))
        .compare(format!("default via {gateway} dev eth0"), seen)),
    }
}

fn loopback_works(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-lo", 42, 24);
    let call = ctx.call::<Loopback>(&[])?;
    let exchange = ctx.ask(&flags_of(&net.flags()), &call)?.client;
    if exchange.error.is_some() || exchange.received.as_deref() != Some("reply to hello over lo") {
        let (_, network) = network_report(ctx, &flags_of(&net.flags()))?;
        expect_loopback_up(&network)?;
        return Err(Failure::fail("a TCP exchange over 127.0.0.1 failed inside the container")
            .compare("reply to hello over lo", format!("{exchange:?}")));
    }
    Ok(())
}

fn host_interfaces_invisible(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-hidden", 43, 24);
    let (report, network) = network_report(ctx, &flags_of(&net.flags()))?;
    let host = crate::ctx::host_namespace("net")?;
    if report.namespaces.net.as_ref() == Some(&host) {
        return Err(Failure::fail("the container shares the host's network namespace")
            .compare(format!("a namespace other than {host}"), host.clone()));
    }
    let host_links = host_links()?;
    // eth0 may exist on both sides by name: the namespaces tell them apart.
    let visible: Vec<&str> = names(&network)
        .into_iter()
        .filter(|name| *name != "lo" && *name != "eth0" && host_links.iter().any(|l| l.name == *name))
        .collect();
    if !visible.is_empty() {
        return Err(Failure::fail("the host's interfaces are visible inside the container")
            .compare("lo and eth0 only", describe(&network)));
    }
    Ok(())
}

// ---- across the bridge ----------------------------------------------------

/// A container serving one TCP exchange (`probe serve`), and where it
/// listens.
struct Server {
    running: Running,
    call: ProbeCall<Served>,
    listening: Listening,
}

impl Server {
    /// Waits for the container to end and reads what the server saw.
    fn finish(self) -> Result<Exchange, Failure> {
        let run = self.running.wait()?;
        Ok(self.call.read(&run)?.server)
    }
}

/// Starts a container serving one TCP exchange, once it listens.
fn start_server(ctx: &mut Ctx, net: &TestNet, name: &str) -> Result<Server, Failure> {
    let (running, call, file) = spawn_server(ctx, net, name)?;
    match read_listening(&call, &file) {
        Ok(listening) => Ok(Server { running, call, listening }),
        Err(why) => {
            let run = running.wait()?;
            Err(Failure::fail(format!("the serving container {name} never started listening ({why})"))
                .compare("the probe serving", run.describe()))
        }
    }
}

/// Spawns `probe serve FILE` on `net`, without waiting for it to listen.
fn spawn_server(ctx: &mut Ctx, net: &TestNet, name: &str) -> Result<(Running, ProbeCall<Served>, String), Failure> {
    let file = ctx.scratch_path(&format!("{name}-listening.json"));
    let call = ctx.call::<Served>(&[&file, SERVE_MS])?;
    let running = ctx.spawn(&flags_of(&net.flags()), &call.command(), &[])?;
    Ok((running, call, file))
}

/// Waits for `call`'s serving probe to say in `path` where it listens.
fn read_listening(call: &ProbeCall<Served>, path: &str) -> Result<Listening, String> {
    if !wait_for(path, Duration::from_secs(8)) {
        return Err(format!("no {path} within 8 s"));
    }
    call.read_file(path)
}

/// The one address of `name`'s eth0, checked to be in the subnet.
fn server_address(net: &TestNet, listening: &Listening, name: &str) -> Result<Ipv4Addr, Failure> {
    match listening.addresses.as_slice() {
        [one] if net.is_container_address(one.address) => Ok(one.address),
        other => Err(Failure::fail(format!("container {name} should have one address from {}", net.subnet()))
            .compare(format!("one of {}", net.subnet()), format!("{other:?}"))),
    }
}

/// Connects from the host (the suite) to a container, sends `message` as
/// one line and returns the reply (the probe's protocol, see `probe send`).
fn send_from_host(address: Ipv4Addr, port: u16, message: &str) -> Result<String, String> {
    let to = SocketAddr::from((address, port));
    let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| format!("set a timeout: {e}"))?;
    stream.write_all(format!("{message}\n").as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut reply = String::new();
    stream.take(1 << 16).read_to_string(&mut reply).map_err(|e| format!("receive: {e}"))?;
    Ok(reply)
}

fn containers_reach_each_other(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-pair", 44, 24);
    let server = start_server(ctx, &net, "A")?;
    let address = server_address(&net, &server.listening, "A")?;
    let (port, message) = (server.listening.port.to_string(), "hello from B");
    let send = ctx.call::<Sent>(&[&address.to_string(), &port, message])?;
    let sent = ctx.run(&flags_of(&net.flags()), &send.command());
    let served = server.finish();
    let sender = send.read(&sent?)?.client;
    let reply = format!("reply to {message}");
    if sender.received.as_deref() != Some(reply.as_str()) {
        return Err(Failure::fail(format!(
            "container B could not talk to container A at {address}:{port} over the bridge {}: are both host ends \
             attached to the bridge and up, and does each container get an address of its own?",
            net.bridge
        ))
        .compare(reply, sender.error.or(sender.received).unwrap_or_default()));
    }
    let server = served?;
    expect_eq("what container A received from B", Some(message), server.received.as_deref())?;
    let from = server.peer.map(|peer| peer.ip());
    match from {
        Some(std::net::IpAddr::V4(b)) if b != address && net.is_container_address(b) => Ok(()),
        _ => Err(Failure::fail("container A should see B's own address from the subnet as the sender")
            .compare(format!("an address of {} other than {address}", net.subnet()), format!("{from:?}"))),
    }
}

fn host_reaches_container(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-host", 45, 24);
    let server = start_server(ctx, &net, "A")?;
    let address = server_address(&net, &server.listening, "A")?;
    let port = server.listening.port;
    let message = "hello from the host";
    let reply = send_from_host(address, port, message);
    let served = server.finish();
    let reply = reply.map_err(|error| {
        Failure::fail(format!(
            "the host could not reach the container at {address}:{}: does the bridge {} exist, hold {}/{} \
             and is it up?",
            port,
            net.bridge,
            net.gateway(),
            net.prefix
        ))
        .compare(format!("reply to {message}"), error)
    })?;
    expect_eq("the container's reply to the host", format!("reply to {message}"), reply)?;
    let from = served?.peer.map(|peer| peer.ip());
    expect_eq(
        "the host's address as the container sees it (the bridge's, the gateway)",
        Some(std::net::IpAddr::V4(net.gateway())),
        from,
    )
}

fn gateway_mac_stable(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-mac", 52, 24);
    let mac = || fs::read_to_string(format!("/sys/class/net/{}/address", net.bridge)).unwrap_or_default();
    let first = start_server(ctx, &net, "A")?;
    let mut seen = vec![("while one container ran", mac())];
    let second = start_server(ctx, &net, "B")?;
    seen.push(("once a second one joined", mac()));
    // Each serving probe ends after one exchange.
    for listening in [&first.listening, &second.listening] {
        if let Some(address) = listening.addresses.first() {
            let _ = send_from_host(address.address, listening.port, "bye");
        }
    }
    first.running.wait()?;
    seen.push(("after the first one left", mac()));
    second.running.wait()?;
    let (before, mac_before) = &seen[0];
    if mac_before.trim().is_empty() {
        return Err(Failure::fail(format!(
            "the bridge {} has no MAC address the host can read in /sys/class/net while a container runs: it \
             should exist, in the host's network namespace, as long as a container is on it",
            net.bridge
        )));
    }
    if let Some((when, changed)) = seen.iter().find(|(_, mac)| mac != mac_before) {
        return Err(Failure::fail(format!(
            "the bridge {}'s MAC address changed {when}: a bridge without an address of its own takes the lowest of \
             its ports', while every container caches the gateway's — its packets then go to the old address, and \
             are lost for seconds; give the bridge a fixed address when creating it",
            net.bridge
        ))
        .compare(format!("{} ({before})", mac_before.trim()), format!("{} ({when})", changed.trim())));
    }
    Ok(())
}

fn no_network(ctx: &mut Ctx) -> Result<(), Failure> {
    let before = host_links()?;
    let (report, network) = network_report(ctx, &["--net", "none"])?;
    let host = crate::ctx::host_namespace("net")?;
    if report.namespaces.net.as_ref() == Some(&host) {
        return Err(Failure::fail("with --net none the container still shares the host's network namespace")
            .compare("a namespace of its own", host));
    }
    expect_eq("the interfaces inside with --net none", vec!["lo"], names(&network))?;
    expect_loopback_up(&network)?;
    let after = host_links()?;
    let new: Vec<&HostLink> =
        after.iter().filter(|l| l.is_veth() && !before.iter().any(|b| b.name == l.name)).collect();
    if let Some(link) = new.first() {
        return Err(Failure::fail(format!("--net none left a veth {} on the host", link.name)));
    }
    Ok(())
}

// ---- cleanup ------------------------------------------------------------

/// A container that touches `started` and sleeps, on `net`; returns once it
/// runs, with the pid of its PID 1 as the host sees it and a handle on its
/// network namespace. Holding that handle keeps the namespace, and with it
/// both veth ends, alive until the runtime deletes them itself.
fn start_sleeper(ctx: &mut Ctx, net: &TestNet, sleep_ms: &str) -> Result<(Running, u32, File), Failure> {
    start_named_sleeper(ctx, net, "started", sleep_ms)
}

/// [`start_sleeper`], its command touching `marker` in the scratch
/// directory: for tests with more than one container.
fn start_named_sleeper(
    ctx: &mut Ctx,
    net: &TestNet,
    marker: &str,
    sleep_ms: &str,
) -> Result<(Running, u32, File), Failure> {
    let started = ctx.scratch_path(marker);
    let probe = ctx.probe();
    let running = ctx.spawn(&flags_of(&net.flags()), &[&probe, "touch-sleep", &started, sleep_ms], &[])?;
    if !wait_for(&started, Duration::from_secs(8)) {
        let run = running.wait()?;
        return Err(Failure::fail("the container's command never started").compare("the probe running", run.describe()));
    }
    let host = crate::ctx::host_namespace("net")?;
    let Some(init) = container_init(running.pid(), &host) else {
        let _ = running.wait();
        return Err(Failure::fail("no process of the runtime is in a network namespace of its own")
            .compare("the container's PID 1 in a new network namespace", "every process in the host's"));
    };
    let netns = File::open(format!("/proc/{init}/ns/net"))
        .map_err(|e| Failure::error(format!("open the container's network namespace: {e}")))?;
    Ok((running, init, netns))
}

/// Fails unless a lease for `net`'s bridge exists: the check that none is
/// left afterwards means nothing without it.
fn expect_a_lease(net: &TestNet) -> Result<(), Failure> {
    if leases(net.bridge).is_empty() {
        return Err(Failure::fail(format!(
            "while the container runs, {LEASES}/{}/ should hold its lease (the owner's pid and start time)",
            net.bridge
        )));
    }
    Ok(())
}

/// Fails if a veth or a lease of `net` is still on the host, `when` …
fn expect_clean(net: &TestNet, when: &str) -> Result<(), Failure> {
    let ports = bridge_ports(net.bridge);
    if !ports.is_empty() {
        return Err(Failure::fail(format!(
            "{when}, the host end of the veth pair is still attached to {}: delete it yourself (RTM_DELLINK) once the \
             child is reaped — the kernel removes it only later, and only once nothing holds the container's network \
             namespace any more",
            net.bridge
        ))
        .compare("no port", ports.join(", ")));
    }
    let left = leases(net.bridge);
    if !left.is_empty() {
        return Err(Failure::fail(format!("{when}, the lease is still in {LEASES}/{}/: remove it", net.bridge))
            .compare("no lease", left.join(", ")));
    }
    Ok(())
}

fn cleanup_after_exit(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-exit", 46, 24);
    let (running, _, netns) = start_sleeper(ctx, &net, "1000")?;
    expect_a_lease(&net)?;
    let run = running.wait()?;
    run.expect_code(0, "the container's command should exit with 0")?;
    let result = expect_clean(&net, "after the command exited");
    drop(netns);
    result
}

fn cleanup_after_container_killed(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-kill", 47, 24);
    let (running, init, netns) = start_sleeper(ctx, &net, "8000")?;
    expect_a_lease(&net)?;
    let _ = kill(Pid::from_raw(init as i32), Signal::SIGKILL);
    let run = running.wait()?;
    if run.signal.is_some() {
        return Err(Failure::fail("the runtime died with its container").compare("an exit code", run.describe()));
    }
    let result = expect_clean(&net, "after the host killed the container's PID 1");
    drop(netns);
    result
}

fn stale_lease_reclaimed(ctx: &mut Ctx) -> Result<(), Failure> {
    // A /30 has one container address: the second run gets it only if the
    // first run's lease is reclaimed.
    let net = TestNet::new("gr4-crash", 48, 30);
    let (running, init, netns) = start_sleeper(ctx, &net, "8000")?;
    drop(netns);
    expect_a_lease(&net)?;
    let _ = kill(Pid::from_raw(running.pid() as i32), Signal::SIGKILL);
    // The suite ends whatever the runtime left running; with the last
    // process the kernel removes the namespace and both veth ends.
    let _ = running.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while (is_alive(init) || !bridge_ports(net.bridge).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let only = Ipv4Addr::from(u32::from(net.network) + 2);
    let (_, network) = network_report(ctx, &flags_of(&net.flags())).map_err(|failure| Failure {
        message: format!(
            "after a runtime was killed with SIGKILL, the next run on the same /30 (one address, {only}) failed: is \
             the dead runtime's lease reclaimed? ({})",
            failure.message
        ),
        ..failure
    })?;
    let eth0 = interface(&network, "eth0").map(|i| i.addresses.clone()).unwrap_or_default();
    expect_eq("eth0's address in the run after the killed one", vec![Address { address: only, prefix: 30 }], eth0)?;
    expect_clean(&net, "after the run that followed the killed one")
}

fn distinct_addresses(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-twins", 49, 24);
    // Both start before either has taken its address.
    let mut running = Vec::new();
    let mut listening = Vec::new();
    for name in ["a", "b"] {
        let (server, call, file) = spawn_server(ctx, &net, name)?;
        running.push(server);
        listening.push((call, file));
    }
    let listening: Vec<Option<Listening>> =
        listening.iter().map(|(call, file)| read_listening(call, file).ok()).collect();
    // Each serving probe waits for one connection: give it one so it ends.
    for listening in listening.iter().flatten() {
        if let Some(address) = listening.addresses.first() {
            let _ = send_from_host(address.address, listening.port, "done");
        }
    }
    let runs: Vec<Result<Run, Failure>> = running.into_iter().map(Running::wait).collect();
    let mut addresses = Vec::new();
    for ((name, listening), run) in ["A", "B"].iter().zip(listening).zip(runs) {
        let Some(listening) = listening else {
            return Err(Failure::fail(format!("container {name} never started listening"))
                .compare("two containers running at once", run?.describe()));
        };
        addresses.push(server_address(&net, &listening, name)?);
    }
    if addresses[0] == addresses[1] {
        return Err(Failure::fail(format!(
            "both containers got the same address {}: each must hold a lease of its own, taken atomically",
            addresses[0]
        ))
        .compare("two different addresses", format!("{} and {}", addresses[0], addresses[1])));
    }
    expect_clean(&net, "after both containers exited")
}

// ---- leases at the edges ------------------------------------------------

/// The address a /30 has for its one container.
fn only_address(net: &TestNet) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network) + 2)
}

/// The pid a lease file names (its first field), if it names one.
fn lease_owner(net: &TestNet, address: Ipv4Addr) -> Option<u32> {
    let text = fs::read_to_string(format!("{LEASES}/{}/{address}", net.bridge)).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Fails unless the lease of `address` names `init`, the container's
/// PID 1: once the container exists, the lease must be its own, or it
/// dies with the runtime.
fn expect_lease_owned_by(net: &TestNet, address: Ipv4Addr, init: u32, runtime: u32) -> Result<(), Failure> {
    let owner = lease_owner(net, address);
    if owner == Some(init) {
        return Ok(());
    }
    let named = match owner {
        Some(pid) if pid == runtime => format!("pid {pid}, the runtime"),
        Some(pid) => format!("pid {pid}"),
        None => "no lease, or one without a pid".to_string(),
    };
    Err(Failure::fail(format!(
        "while the container runs, the lease of {address} should name its PID 1 ({init}), not the runtime: hand it \
         over in prepare_parent, or it dies with a runtime killed by SIGKILL while the container goes on"
    ))
    .compare(format!("pid {init}, the container's PID 1"), named))
}

/// Polls `done` every 20 ms for `timeout`; whether it came true.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The state letter of process `pid` (R, S, T, Z, …), if it exists.
fn process_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().next()?.chars().next()
}

/// Stops the runtime (SIGSTOP), then SIGKILLs the container's PID 1: it
/// stays a zombie, since its parent, stopped, cannot reap it.
fn make_zombie_owner(runtime: u32, init: u32) -> Result<(), Failure> {
    let _ = kill(Pid::from_raw(runtime as i32), Signal::SIGSTOP);
    if !wait_until(Duration::from_secs(5), || process_state(runtime) == Some('T')) {
        return Err(Failure::error("the runtime did not stop on SIGSTOP"));
    }
    let _ = kill(Pid::from_raw(init as i32), Signal::SIGKILL);
    if !wait_until(Duration::from_secs(8), || process_state(init) == Some('Z')) {
        return Err(Failure::error(format!(
            "the container's PID 1 ({init}), killed while its runtime was stopped, did not become a zombie"
        )));
    }
    Ok(())
}

fn lease_outlives_killed_runtime(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-orphan", 53, 29);
    let (running, init, netns) = start_sleeper(ctx, &net, "20000")?;
    drop(netns);
    let result = orphan_keeps_its_address(ctx, &net, running.pid(), init);
    let _ = kill(Pid::from_raw(init as i32), Signal::SIGKILL);
    let _ = running.wait();
    result
}

fn orphan_keeps_its_address(ctx: &mut Ctx, net: &TestNet, runtime: u32, init: u32) -> Result<(), Failure> {
    let held = only_address(net);
    expect_a_lease(net)?;
    expect_lease_owned_by(net, held, init, runtime)?;
    let _ = kill(Pid::from_raw(runtime as i32), Signal::SIGKILL);
    if !wait_until(Duration::from_secs(5), || !is_alive(runtime)) {
        return Err(Failure::error("the runtime outlived SIGKILL"));
    }
    if !is_alive(init) {
        return Err(Failure::fail(
            "the container ended with its runtime: a runtime killed with SIGKILL cannot stop its container, and this \
             chapter's runtime lets it run on (no PR_SET_PDEATHSIG)",
        ));
    }
    let (_, network) = network_report(ctx, &flags_of(&net.flags()))?;
    let eth0 = interface(&network, "eth0").map(|i| i.addresses.clone()).unwrap_or_default();
    if eth0.iter().any(|a| a.address == held) {
        return Err(Failure::fail(format!(
            "the next container got {held}, the address of a container still running: its runtime was killed with \
             SIGKILL, and the lease must have passed to the container's PID 1 in prepare_parent"
        ))
        .compare(format!("an address of {} other than {held}", net.subnet()), describe(&network)));
    }
    match eth0.as_slice() {
        [one] if net.is_container_address(one.address) => Ok(()),
        _ => Err(Failure::fail("the next container should get an address of its own from the subnet")
            .compare(format!("an address of {} other than {held}", net.subnet()), describe(&network))),
    }
}

/// Runs `probe report` on `net`, a /30 whose lease names a process that
/// is gone in some way (`gone`), and expects the container to get the
/// address.
fn expect_address_reclaimed(ctx: &mut Ctx, net: &TestNet, gone: &str) -> Result<(), Failure> {
    let only = only_address(net);
    let (_, network) = network_report(ctx, &flags_of(&net.flags())).map_err(|failure| Failure {
        message: format!(
            "the lease of {only}, the only address of a /30, names {gone}. The next run should have taken the \
             address, but it failed ({})",
            failure.message
        ),
        ..failure
    })?;
    let eth0 = interface(&network, "eth0").map(|i| i.addresses.clone()).unwrap_or_default();
    expect_eq("eth0's address in the run after the owner ended", vec![Address { address: only, prefix: 30 }], eth0)
}

fn reused_pid_lease_reclaimed(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-reuse", 54, 30);
    let (running, init, netns) = start_sleeper(ctx, &net, "20000")?;
    drop(netns);
    let runtime = running.pid();
    let owned = expect_lease_owned_by(&net, only_address(&net), init, runtime);
    // The runtime dies first, so nobody reaps the container's PID 1 but the
    // guest's PID 1, and nobody releases the lease.
    let _ = kill(Pid::from_raw(runtime as i32), Signal::SIGKILL);
    let _ = running.wait();
    owned?;
    if !wait_until(Duration::from_secs(10), || !Path::new(&format!("/proc/{init}")).exists()) {
        return Err(Failure::error(format!("the container's PID 1 ({init}) was never reaped after SIGKILL")));
    }
    wait_until(Duration::from_secs(5), || bridge_ports(net.bridge).is_empty());
    let mut reuser = take_pid(init, &ctx.probe(), &ctx.scratch_path("reuser-started"))?;
    let result = expect_address_reclaimed(
        ctx,
        &net,
        &format!(
            "pid {init}, which ended; pid {init} is now another process, started later — a lease's owner is a pid and \
             its start time, so compare the start time too"
        ),
    );
    let _ = reuser.kill();
    let _ = reuser.wait();
    result?;
    expect_clean(&net, "after the run that followed")
}

/// Starts a process that gets pid `pid` (free now): the kernel gives the
/// pid after `ns_last_pid` to the next process made.
fn take_pid(pid: u32, probe: &str, marker: &str) -> Result<std::process::Child, Failure> {
    for _ in 0..5 {
        fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
            .map_err(|e| Failure::error(format!("write /proc/sys/kernel/ns_last_pid: {e}")))?;
        let mut child = std::process::Command::new(probe)
            .args(["touch-sleep", marker, "30000"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| Failure::error(format!("start {probe}: {e}")))?;
        if child.id() == pid {
            return Ok(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    Err(Failure::error(format!("could not give pid {pid} to a new process (something else forks meanwhile)")))
}

fn zombie_lease_reclaimed(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-zombie", 55, 30);
    let (running, init, netns) = start_sleeper(ctx, &net, "20000")?;
    drop(netns);
    let runtime = running.pid();
    let result = expect_lease_owned_by(&net, only_address(&net), init, runtime)
        .and_then(|()| make_zombie_owner(runtime, init))
        .and_then(|()| {
            expect_address_reclaimed(
                ctx,
                &net,
                &format!(
                    "pid {init}, a zombie: it was killed, and its runtime, stopped, has not reaped it — a zombie \
                     has left its namespaces and holds no address (state Z in /proc/PID/stat)"
                ),
            )
        });
    let _ = kill(Pid::from_raw(init as i32), Signal::SIGKILL);
    let _ = kill(Pid::from_raw(runtime as i32), Signal::SIGCONT);
    let _ = running.wait();
    result?;
    expect_clean(&net, "after both runs")
}

fn release_spares_reclaimed_lease(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-handover", 56, 30);
    let (first, init, netns) = start_named_sleeper(ctx, &net, "a-started", "20000")?;
    drop(netns);
    let runtime = first.pid();
    let only = only_address(&net);
    let prepared = expect_lease_owned_by(&net, only, init, runtime).and_then(|()| make_zombie_owner(runtime, init));
    if let Err(failure) = prepared {
        let _ = kill(Pid::from_raw(init as i32), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(runtime as i32), Signal::SIGCONT);
        let _ = first.wait();
        return Err(failure);
    }
    let second = start_named_sleeper(ctx, &net, "b-started", "20000");
    // The first runtime goes on: it reaps its container, then gives its
    // address back — which is the second container's now.
    let _ = kill(Pid::from_raw(runtime as i32), Signal::SIGCONT);
    let _ = first.wait();
    let (second, second_init, netns) = second.map_err(|failure| Failure {
        message: format!(
            "with the only address's owner a zombie, a second container could not start: a zombie holds no address \
             ({})",
            failure.message
        ),
        ..failure
    })?;
    let left = lease_owner(&net, only);
    let _ = kill(Pid::from_raw(second_init as i32), Signal::SIGKILL);
    let _ = second.wait();
    drop(netns);
    if left != Some(second_init) {
        return Err(Failure::fail(format!(
            "when the first runtime ended, the lease of {only} no longer named the second container, which held it: \
             a runtime must give back only a lease that still names its owner (reclaimed meanwhile, it is another's)"
        ))
        .compare(format!("pid {second_init}, the second container's PID 1"), format!("{left:?}")));
    }
    expect_clean(&net, "after both containers ended")
}

/// How long each runtime of `last-address-race` may take: the window it
/// waits in, then its container's SERVE_MS.
const RACE_TIMEOUT: Duration = Duration::from_secs(45);

fn last_address_race(ctx: &mut Ctx) -> Result<(), Failure> {
    let net = TestNet::new("gr4-race", 57, 30);
    let only = only_address(&net);
    // The only address's lease is a FIFO: a runtime that reads it waits in
    // open() until the suite writes, so the window between reading the
    // lease and writing one's own stays open until both runtimes are in it,
    // or one is in it and the other waits for the lock.
    let dir = format!("{LEASES}/{}", net.bridge);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| Failure::error(format!("create {dir}: {e}")))?;
    let fifo = format!("{dir}/{only}");
    nix::unistd::mkfifo(fifo.as_str(), nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| Failure::error(format!("make the FIFO {fifo}: {e}")))?;
    let stale = dead_pid(&ctx.probe())?;
    // Both runtimes wait in the window while the suite watches them, then
    // one serves for SERVE_MS: on a loaded machine under emulation that can
    // outlast a run's usual deadline, and a runtime killed for it would say
    // nothing about the lock.
    ctx.timeout = ctx.timeout.max(RACE_TIMEOUT);
    let mut servers = Vec::new();
    for name in ["a", "b"] {
        servers.push(spawn_server(ctx, &net, name)?);
    }
    let pids: Vec<u32> = servers.iter().map(|(running, ..)| running.pid()).collect();
    // Each runtime blocked in the FIFO's open() or in flock() (or ended),
    // twice in a row: both are in the window.
    let settled = || pids.iter().all(|pid| waits_for_lease(*pid) || !is_alive(*pid));
    wait_until(Duration::from_secs(30), || {
        settled() && {
            std::thread::sleep(Duration::from_millis(100));
            settled()
        }
    });
    // Both in open() of the FIFO at once: both are reading the last
    // address's lease together, which the lock exists to prevent (with it,
    // the second waits in flock). What follows is then a matter of luck:
    // both take the address, or the second trips over the first's lease
    // file and fails some other way.
    let both_reading = pids.iter().all(|pid| blocked_in(*pid) == Some(nix::libc::SYS_openat));
    // A lease of a process long gone: whoever reads it may take the address.
    let is_fifo = || fs::symlink_metadata(&fifo).is_ok_and(|m| m.file_type().is_fifo());
    wait_until(Duration::from_secs(20), || {
        if !is_fifo() || pids.iter().all(|pid| !is_alive(*pid)) {
            return true;
        }
        feed_fifo(&fifo, &format!("{stale} 1\n"));
        std::thread::sleep(Duration::from_millis(300));
        false
    });
    let fed = !is_fifo();
    let mut listening = Vec::new();
    for (running, call, file) in &servers {
        wait_until(Duration::from_secs(10), || Path::new(file).exists() || !is_alive(running.pid()));
        listening.push(Path::new(file).exists().then(|| read_listening(call, file).ok()).flatten());
    }
    for listening in listening.iter().flatten() {
        if let Some(address) = listening.addresses.first() {
            let _ = send_from_host(address.address, listening.port, "done");
        }
    }
    let _ = fs::remove_file(&fifo);
    let runs: Vec<Result<Run, Failure>> = servers.into_iter().map(|(running, ..)| running.wait()).collect();
    let runs = runs.into_iter().collect::<Result<Vec<Run>, Failure>>()?;
    let got: Vec<Ipv4Addr> =
        listening.iter().flatten().filter_map(|l| l.addresses.first()).map(|a| a.address).collect();
    let ended: Vec<String> = runs.iter().map(Run::describe).collect();
    if got.len() == 2 || both_reading {
        return Err(Failure::fail(format!(
            "two runtimes took {only}, the last address, at once: each read its lease while the other did — hold \
             the lease directory's exclusive lock from the first read to the write of the lease"
        ))
        .compare(
            format!("one container on {only}, the other runtime waiting for the lock, then exiting 125"),
            format!(
                "{}{got:?}; {}",
                if both_reading { "both runtimes reading the lease together; then " } else { "" },
                ended.join("; ")
            ),
        ));
    }
    if !fed {
        return Err(Failure::fail(format!("no runtime took {only}, whose lease names a process long gone"))
            .compare(format!("one container on {only}"), ended.join("; ")));
    }
    match (got.as_slice(), runs.iter().filter(|run| run.code == Some(125)).count()) {
        ([one], 1) if *one == only => expect_clean(&net, "after the race"),
        _ => Err(Failure::fail(format!(
            "of two runtimes racing for {only}, the last address, one should get it and the other exit 125 (no free \
             address)"
        ))
        .compare(format!("one container on {only}, one exit code 125"), format!("{got:?}; {}", ended.join("; ")))),
    }
}

/// The pid of a process that has ended and been reaped.
fn dead_pid(probe: &str) -> Result<u32, Failure> {
    let mut child = std::process::Command::new(probe)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Failure::error(format!("start {probe}: {e}")))?;
    let _ = child.wait();
    Ok(child.id())
}

/// Whether process `pid` sleeps in open() (a FIFO waiting for its writer)
/// or in flock(): `/proc/PID/syscall` starts with the system call's number.
/// (The C library's open() is the openat system call, on every
/// architecture; arm64 has no `open` at all.)
fn waits_for_lease(pid: u32) -> bool {
    blocked_in(pid).is_some_and(|n| [nix::libc::SYS_openat, nix::libc::SYS_flock].contains(&n))
}

/// The system call process `pid` sleeps in, from `/proc/PID/syscall`
/// (which says `running` for a process that is not sleeping).
fn blocked_in(pid: u32) -> Option<i64> {
    let text = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    text.split_whitespace().next().and_then(|n| n.parse::<i64>().ok())
}

/// Writes `text` to the FIFO at `path` if a reader has it open, without
/// waiting for one.
fn feed_fifo(path: &str, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = fs::OpenOptions::new().write(true).custom_flags(nix::libc::O_NONBLOCK).open(path);
    if let Ok(mut fifo) = opened {
        let _ = fifo.write_all(text.as_bytes());
    }
}

fn bad_network_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("command-ran");
    let probe = ctx.probe();
    // One container takes the only address of a /30, so the next finds it full.
    let full = TestNet::new("gr4-full", 51, 30);
    let occupant = start_server(ctx, &full, "the occupant")?;
    let result = refusals(ctx, &full, &probe, &marker);
    if let Some(address) = occupant.listening.addresses.first() {
        let _ = send_from_host(address.address, occupant.listening.port, "done");
    }
    let _ = occupant.running.wait();
    result
}

fn refusals(ctx: &mut Ctx, full: &TestNet, probe: &str, marker: &str) -> Result<(), Failure> {
    let bad = TestNet::new("gr4-bad", 50, 24);
    let bridge = ["--bridge", bad.bridge];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--net", "host-please"], "an unknown --net mode"),
        ([&bridge[..], &["--subnet", "10.73.50.0"]].concat(), "a --subnet without a prefix length"),
        ([&bridge[..], &["--subnet", "10.73.50.0/33"]].concat(), "a prefix length over 32"),
        ([&bridge[..], &["--subnet", "10.73.500.0/24"]].concat(), "an octet over 255"),
        ([&bridge[..], &["--subnet", "127.0.0.0/24"]].concat(), "a subnet overlapping lo's 127.0.0.1/8"),
        ([&bridge[..], &["--subnet", "10.73.51.0/24"]].concat(), "a subnet overlapping the bridge gr4-full's"),
        (vec!["--bridge", "lo", "--subnet", "10.73.50.0/24"], "a --bridge that exists but is not a bridge (lo)"),
        (vec!["--bridge", full.bridge, "--subnet", "10.73.51.0/30"], "a subnet whose only address is taken"),
    ];
    let full_leases = leases(full.bridge);
    for (flags, what) in cases {
        let before = host_links()?;
        let run = ctx.run(&flags, &[probe, "touch", marker])?;
        run.expect_code(125, &format!("{what} should be refused with exit code 125"))?;
        if Path::new(marker).exists() {
            return Err(Failure::fail(format!("the command ran despite {what}")));
        }
        if run.stderr.trim().is_empty() {
            return Err(Failure::fail(format!("the runtime refused {what} without saying why on stderr")));
        }
        let after = host_links()?;
        let new: Vec<&str> =
            after.iter().filter(|l| !before.iter().any(|b| b.name == l.name)).map(|l| l.name.as_str()).collect();
        if !new.is_empty() {
            return Err(Failure::fail(format!("refusing {what}, the runtime still created interfaces on the host"))
                .compare("no new interface", new.join(", ")));
        }
        let leases_now = (leases(bad.bridge), leases(full.bridge));
        if !leases_now.0.is_empty() || leases_now.1 != full_leases {
            return Err(Failure::fail(format!("refusing {what}, the runtime still wrote a lease"))
                .compare(format!("{full_leases:?}"), format!("{leases_now:?}")));
        }
    }
    Ok(())
}

// ---- the host's side ----------------------------------------------------

/// One interface of the host (the suite's namespace), from /sys/class/net.
#[derive(Debug, Clone)]
struct HostLink {
    name: String,
    index: u32,
    /// The peer's index for a veth (in whatever namespace the peer is);
    /// the interface's own index for most other kinds.
    iflink: u32,
}

impl HostLink {
    fn is_veth(&self) -> bool {
        self.iflink != self.index && !Path::new(&format!("/sys/class/net/{}/bridge", self.name)).exists()
    }
}

fn host_links() -> Result<Vec<HostLink>, Failure> {
    let entries = fs::read_dir("/sys/class/net").map_err(|e| Failure::error(format!("list /sys/class/net: {e}")))?;
    let number = |path: String| fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let mut links: Vec<HostLink> = entries
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            HostLink {
                index: number(format!("/sys/class/net/{name}/ifindex")),
                iflink: number(format!("/sys/class/net/{name}/iflink")),
                name,
            }
        })
        .collect();
    links.sort_by_key(|l| l.index);
    Ok(links)
}

/// The interfaces attached to `bridge` (none if it does not exist).
fn bridge_ports(bridge: &str) -> Vec<String> {
    list(&format!("/sys/class/net/{bridge}/brif"))
}

/// The lease files of `bridge`. A lock file (`lock`, `*.lock`, or a dot
/// file) is not a lease.
fn leases(bridge: &str) -> Vec<String> {
    let is_lock = |name: &str| name == "lock" || name.ends_with(".lock") || name.starts_with('.');
    list(&format!("{LEASES}/{bridge}")).into_iter().filter(|name| !is_lock(name)).collect()
}

fn list(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether `pid` is a process that has not exited (a zombie has).
fn is_alive(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    state.is_some_and(|state| state != "Z" && state != "X")
}

fn wait_for(path: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !Path::new(path).exists() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The container's PID 1 as the host sees it: the first of `runtime`'s
/// descendants (breadth first) in a network namespace other than `host`.
fn container_init(runtime: u32, host: &str) -> Option<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid …": comm may hold spaces and parentheses.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut generation = vec![runtime];
    while !generation.is_empty() {
        let children: Vec<u32> =
            parents.iter().filter(|(_, ppid)| generation.contains(ppid)).map(|(pid, _)| *pid).collect();
        let own = children
            .iter()
            .find(|pid| fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns.display().to_string() != host));
        if let Some(pid) = own {
            return Some(*pid);
        }
        generation = children;
    }
    None
}

#[cfg(test)]
mod tests {
    use contract::Route;

    use super::*;

    #[test]
    fn container_addresses_start_at_the_second_host_address() {
        let net = TestNet::new("t", 9, 24);
        assert_eq!(net.gateway(), Ipv4Addr::new(10, 73, 9, 1));
        assert!(!net.is_container_address(Ipv4Addr::new(10, 73, 9, 1)));
        assert!(net.is_container_address(Ipv4Addr::new(10, 73, 9, 2)));
        assert!(net.is_container_address(Ipv4Addr::new(10, 73, 9, 254)));
        assert!(!net.is_container_address(Ipv4Addr::new(10, 73, 9, 255)));
        assert!(!net.is_container_address(Ipv4Addr::new(10, 73, 10, 2)));
        let tiny = TestNet::new("t", 9, 30);
        let usable: Vec<u8> = (0..=255).filter(|n| tiny.is_container_address(Ipv4Addr::new(10, 73, 9, *n))).collect();
        assert_eq!(usable, [2]);
    }

    #[test]
    fn the_network_description_reads_like_ip() {
        let link = |name: &str, index, up, link_type: &str, addresses| Interface {
            name: name.to_string(),
            index,
            up,
            running: up,
            link_type: link_type.to_string(),
            kind: None,
            addresses,
        };
        let network = Network {
            interfaces: vec![
                link("lo", 1, true, "loopback", vec![Address { address: Ipv4Addr::LOCALHOST, prefix: 8 }]),
                link("eth0", 2, false, "ether", vec![]),
            ],
            routes: vec![Route {
                destination: Ipv4Addr::UNSPECIFIED,
                prefix: 0,
                gateway: Some(Ipv4Addr::new(10, 73, 0, 1)),
                device: "eth0".to_string(),
            }],
        };
        assert_eq!(describe(&network), "lo up 127.0.0.1/8; eth0 down (no address); default via 10.73.0.1 dev eth0");
        assert!(expect_loopback_up(&network).is_ok());
    }

    #[test]
    fn a_process_without_containers_has_no_container_init() {
        // Our own process has no descendant in another namespace.
        let host = crate::ctx::host_namespace("net").expect("readable");
        assert_eq!(container_init(std::process::id(), &host), None);
    }
}
