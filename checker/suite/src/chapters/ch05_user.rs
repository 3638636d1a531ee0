//! Chapter 5 — user: a user namespace, uid/gid maps, rootless runs.
//!
//! Tests run the runtime as root with explicit maps, and as the guest's
//! unprivileged user `greenroom` (see [`crate::user`]) with its defaults.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use serde::Deserialize;

use crate::ctx::{clip, expect_eq, host_namespace, Ctx, Failure, Run};
use crate::user::User;
use crate::TestCase;

/// Chapter 5's tests.
pub fn tests() -> Vec<TestCase> {
    let test = |name, points, title, hint, book, run| TestCase { chapter: 5, name, points, title, hint, book, run };
    vec![
        test(
            "maps-as-asked",
            2,
            "as root with --uid-map and --gid-map, the maps inside read exactly what was asked, and the probe is uid 0",
            "the parent writes /proc/PID/uid_map and gid_map in prepare_parent; the child then takes ids 0",
            "ch05-user.md#why-the-parent-writes-the-map",
            maps_as_asked,
        ),
        test(
            "setgroups-denied",
            1,
            "an unprivileged user's single mapping works, with setgroups reading deny",
            "write \"deny\" to /proc/PID/setgroups before gid_map when the map is written without privilege",
            "ch05-user.md#why-setgroups-exists",
            setgroups_denied,
        ),
        test(
            "root-inside-full-caps",
            1,
            "the probe is uid 0 with every capability, in a user namespace of its own",
            "CLONE_NEWUSER in the clone flags; setresuid/setresgid to 0 of the namespace before exec",
            "ch05-user.md#root-of-the-container",
            root_inside_full_caps,
        ),
        test(
            "namespaces-owned-by-it",
            2,
            "every namespace the container has of its own is owned by its user namespace",
            "create the user namespace in the same clone as the others: the kernel makes it first",
            "ch05-user.md#one-clone-user-namespace-first",
            namespaces_owned_by_it,
        ),
        test(
            "files-owned-by-mapped-id",
            2,
            "a file root of the container makes in a host directory belongs to the mapped host ids",
            "the command must run as uid and gid 0 of the namespace, which the map turns into host ids",
            "ch05-user.md#root-of-the-container",
            files_owned_by_mapped_id,
        ),
        test(
            "host-root-files-closed",
            1,
            "root of the container cannot read a host file only host root may read",
            "map container root to an unprivileged host id: capabilities do not apply to unmapped owners",
            "ch05-user.md#what-root-inside-can-and-cannot-do",
            host_root_files_closed,
        ),
        test(
            "host-hostname-out-of-reach",
            1,
            "root of the container cannot join the host's UTS namespace to rename the host",
            "the host's namespaces belong to the host's user namespace, in which the container has no power",
            "ch05-user.md#what-root-inside-can-and-cannot-do",
            host_hostname_out_of_reach,
        ),
        test(
            "rootless-container",
            3,
            "an unprivileged user runs a container with its own hostname, PID namespace, /proc, root and /dev",
            "without privilege: a user namespace by default (own id as 0, the subuid range via newuidmap), \
             /proc and /sys mounted before pivot_root, host devices bound where mknod is refused",
            "ch05-user.md#rootless-defaults",
            rootless_container,
        ),
        test(
            "rootless-range",
            2,
            "an unprivileged user's default map holds its subordinate range: container uid 1 is the range's first id",
            "map 1 <subuid start> <count> after 0 <own id> 1, written by newuidmap and newgidmap",
            "ch05-user.md#rootless-defaults",
            rootless_range,
        ),
        test(
            "rootless-refusals",
            1,
            "without privilege, mapping host root and --net bridge are refused with 125 before anything runs",
            "check what an unprivileged caller asks for before clone, and refuse with one clear line",
            "ch05-user.md#rootless-limits-and-how-the-real-tools-lift-them",
            rootless_refusals,
        ),
        test(
            "bad-maps-refused",
            2,
            "overlapping, empty, too long and too many map ranges are refused with 125, before anything is created",
            "parse and check every --uid-map and --gid-map before anything is created",
            "ch05-user.md#checking-a-map",
            bad_maps_refused,
        ),
    ]
}

/// The maps root asks for: different ranges for users and groups, so a mix-up shows.
const UID_MAP: &str = "0:100000:65536";
const GID_MAP: &str = "0:200000:65536";
const ROOT_FLAGS: [&str; 6] = ["--net", "none", "--uid-map", UID_MAP, "--gid-map", GID_MAP];

/// What chapter 5 reads of the probe's report.
#[derive(Debug, Clone, Deserialize)]
struct UserReport {
    hostname: Option<String>,
    pid: u32,
    uid: Option<u32>,
    gid: Option<u32>,
    uid_map: Option<String>,
    gid_map: Option<String>,
    setgroups: Option<String>,
    owned_elsewhere: Option<Vec<String>>,
    namespaces: BTreeMap<String, String>,
    status: BTreeMap<String, String>,
    visible_pids: Option<Vec<u32>>,
    cwd: Option<String>,
    dev: Option<Vec<crate::ctx::DevEntry>>,
}

/// The last JSON line of a run's stdout, parsed as `T`.
fn answer<T: for<'a> Deserialize<'a>>(run: &Run, what: &str) -> Result<T, Failure> {
    run.expect_code(0, &format!("the container running the probe's {what} should exit with 0"))?;
    let line = run.stdout.lines().rev().find(|line| line.starts_with('{')).ok_or_else(|| {
        Failure::fail("the probe's answer did not reach stdout").compare("a JSON line", clip(&run.stdout, 300))
    })?;
    serde_json::from_str(line).map_err(|e| Failure::fail(format!("the probe's {what} is garbled: {e}")))
}

/// Runs the probe's report with `flags`; a runtime that fails (125) fails
/// the test with `on_failure`, which says what most likely went wrong.
fn report(ctx: &mut Ctx, flags: &[&str], probe: &str, on_failure: &str) -> Result<UserReport, Failure> {
    let run = ctx.run(flags, &[probe, "report"])?;
    if run.code == Some(125) {
        return Err(Failure::fail(on_failure).compare("the probe's report", run.describe()));
    }
    answer(&run, "report")
}

/// A map's text, as `(inside, outside, count)` lines.
fn map_lines(text: &Option<String>) -> Vec<(u32, u32, u32)> {
    let numbers = |line: &str| -> Option<(u32, u32, u32)> {
        let mut words = line.split_whitespace().map(|w| w.parse::<u32>().ok());
        Some((words.next()??, words.next()??, words.next()??))
    };
    text.as_deref().unwrap_or_default().lines().filter_map(numbers).collect()
}

/// The suite's own effective capabilities: root's full set.
fn own_cap_eff() -> Result<String, Failure> {
    let status = fs::read_to_string("/proc/self/status").map_err(|e| Failure::error(format!("read status: {e}")))?;
    let line = status.lines().find_map(|line| line.strip_prefix("CapEff:"));
    line.map(|value| value.trim().to_string()).ok_or_else(|| Failure::error("no CapEff in /proc/self/status"))
}

const CHILD_WROTE_MAP: &str = "as root with --uid-map 0:100000:65536 --gid-map 0:200000:65536 the runtime failed: \
    a range of host ids can be mapped only from the parent user namespace — write the maps in prepare_parent \
    while the child waits (a child writing its own map gets EPERM)";

fn maps_as_asked(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let report = report(ctx, &ROOT_FLAGS, &probe, CHILD_WROTE_MAP)?;
    expect_eq(
        "the uid map inside should be exactly the one asked for: the parent writes it, once, whole",
        vec![(0, 100_000, 65_536)],
        map_lines(&report.uid_map),
    )?;
    expect_eq(
        "the gid map inside should be exactly the one asked for (--gid-map, not --uid-map's)",
        vec![(0, 200_000, 65_536)],
        map_lines(&report.gid_map),
    )?;
    expect_eq(
        "the probe should run as uid and gid 0 of the container: setresgid, then setresuid, to 0 in enter_child",
        (Some(0), Some(0)),
        (report.uid, report.gid),
    )
}

fn setgroups_denied(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let own = user.uid.to_string();
    let (uid_map, gid_map) = (format!("0:{}:1", user.uid), format!("0:{}:1", user.gid));
    let flags = ["--net", "none", "--uid-map", &uid_map, "--gid-map", &gid_map];
    ctx.run_as = Some((user.uid, user.gid));
    let probe = ctx.probe();
    let report = report(
        ctx,
        &flags,
        &probe,
        "as the unprivileged user, with only its own ids mapped, the runtime failed: the kernel accepts a gid_map \
         written without privilege only once \"deny\" is in /proc/PID/setgroups — write it before gid_map",
    )?;
    expect_eq(
        &format!("the uid map should be the user's own id ({own}) as 0, nothing else"),
        vec![(0, user.uid, 1)],
        map_lines(&report.uid_map),
    )?;
    expect_eq(
        "setgroups should read deny: the gid map was written without privilege",
        Some("deny"),
        report.setgroups.as_deref(),
    )
}

fn root_inside_full_caps(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let report = report(ctx, &ROOT_FLAGS, &probe, CHILD_WROTE_MAP)?;
    let host_user = host_namespace("user")?;
    if report.namespaces.get("user") == Some(&host_user) {
        return Err(Failure::fail("the container shares the host's user namespace: ask for CLONE_NEWUSER")
            .compare("a user namespace of its own", host_user));
    }
    expect_eq("the probe should be uid 0 of the container", Some(0), report.uid)?;
    expect_eq(
        "root of the container should hold every capability (in its own namespaces): its uid must be 0 of the \
         namespace when it calls exec",
        Some(own_cap_eff()?),
        report.status.get("CapEff").cloned(),
    )
}

fn namespaces_owned_by_it(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let report = report(ctx, &ROOT_FLAGS, &probe, CHILD_WROTE_MAP)?;
    let elsewhere = report.owned_elsewhere.ok_or_else(|| Failure::error("the probe could not read its namespaces"))?;
    // Only the namespaces the container has of its own: it shares the host's
    // cgroup namespace (until chapter 6), which the host owns.
    let mut foreign = Vec::new();
    for kind in elsewhere {
        if report.namespaces.get(&kind) != Some(&host_namespace(&kind)?) {
            foreign.push(kind);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    Err(Failure::fail(
        "some of the container's namespaces belong to another user namespace (the host's): they were made before \
         the user namespace — put CLONE_NEWUSER in the same clone as the others, and the kernel makes it first and \
         gives it the rest",
    )
    .compare("[]", format!("{foreign:?}")))
}

/// A directory every id may write to, as the container's root is no one
/// the host knows.
fn open_dir(ctx: &Ctx, name: &str) -> Result<String, Failure> {
    let dir = ctx.scratch.join(name);
    let made = fs::create_dir_all(&dir).and_then(|()| fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)));
    made.map_err(|e| Failure::error(format!("create {}: {e}", dir.display())))?;
    Ok(dir.display().to_string())
}

#[derive(Deserialize)]
struct Errno {
    errno: Option<i32>,
}

/// The owner of `path` on the host, once the container has made it.
fn made_owner(path: &str, run: &Run, what: &str) -> Result<(u32, u32), Failure> {
    let made: Errno = answer(run, what)?;
    if let Some(errno) = made.errno {
        return Err(Failure::fail(format!("the probe could not make {path} and chown it: errno {errno}")));
    }
    let meta = fs::metadata(path).map_err(|e| Failure::fail(format!("{path} is not on the host: {e}")))?;
    Ok((meta.uid(), meta.gid()))
}

fn files_owned_by_mapped_id(ctx: &mut Ctx) -> Result<(), Failure> {
    let dir = open_dir(ctx, "shared")?;
    let path = format!("{dir}/made-inside");
    let probe = ctx.probe();
    let run = ctx.run(&ROOT_FLAGS, &[&probe, "make-owned", &path, "0", "0"])?;
    if run.code == Some(125) {
        return Err(Failure::fail(CHILD_WROTE_MAP).compare("a file made inside", run.describe()));
    }
    let owner = made_owner(&path, &run, "make-owned answer")?;
    if owner == (0, 0) {
        return Err(Failure::fail(
            "the file root of the container made belongs to host root: its uid 0 is the host's — take uid and gid \
             0 of the namespace (setresuid) after the map 0:100000:65536 is written",
        ));
    }
    expect_eq("the host should see the file owned by the mapped ids of container root", (100_000, 200_000), owner)
}

fn host_root_files_closed(ctx: &mut Ctx) -> Result<(), Failure> {
    let secret = ctx.scratch.join("host-secret");
    let written = fs::write(&secret, b"only host root\n")
        .and_then(|()| fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)));
    written.map_err(|e| Failure::error(format!("write {}: {e}", secret.display())))?;
    let path = secret.display().to_string();
    let probe = ctx.probe();
    let run = ctx.run(&ROOT_FLAGS, &[&probe, "read", &path])?;
    if run.code == Some(125) {
        return Err(Failure::fail(CHILD_WROTE_MAP).compare("an attempt to read", run.describe()));
    }
    let read: Errno = answer(&run, "read answer")?;
    expect_eq(
        "root of the container read a file only host root may read: it must be an unprivileged host uid, and \
         capabilities in its namespace do not apply to a file whose owner is not mapped",
        Some(13),
        read.errno,
    )
    .map_err(|f| f.compare("EACCES (13)", format!("{:?}", read.errno)))
}

fn host_hostname_out_of_reach(ctx: &mut Ctx) -> Result<(), Failure> {
    let before = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let file = ctx.scratch.join("host-uts");
    fs::write(&file, b"").map_err(|e| Failure::error(format!("create {}: {e}", file.display())))?;
    // The host's UTS namespace, where the container can open it.
    let flags = nix::mount::MsFlags::MS_BIND;
    nix::mount::mount(Some("/proc/self/ns/uts"), &file, None::<&str>, flags, None::<&str>)
        .map_err(|e| Failure::error(format!("bind the host's UTS namespace onto {}: {e}", file.display())))?;
    let path = file.display().to_string();
    let probe = ctx.probe();
    let run = ctx.run(&ROOT_FLAGS, &[&probe, "rename-through", &path, "pwned-by-container"]);
    let _ = nix::mount::umount2(&file, nix::mount::MntFlags::MNT_DETACH);
    let run = run?;
    if run.code == Some(125) {
        return Err(Failure::fail(CHILD_WROTE_MAP).compare("an attempt to join", run.describe()));
    }
    #[derive(Deserialize)]
    struct Attempt {
        setns_errno: Option<i32>,
    }
    let attempt: Attempt = answer(&run, "rename-through answer")?;
    let after = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    expect_eq("the host's hostname changed", before.trim(), after.trim())?;
    expect_eq(
        "root of the container could join the host's UTS namespace: it must not hold CAP_SYS_ADMIN in the host's \
         user namespace — give the container one of its own",
        Some(1),
        attempt.setns_errno,
    )
}

const ROOTLESS_FAILED: &str = "as the unprivileged user with no maps given, the runtime failed: by default it must \
    make a user namespace that maps the user's own uid to 0 (0 1000 1) and its /etc/subuid range from 1 (through \
    newuidmap) — never host root, which the kernel refuses — and refuse only what needs root (--net bridge)";

fn rootless_container(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let (subuid, _) = user.subordinates()?;
    let rootfs = ctx.rootfs()?;
    user.give(Path::new(&rootfs))?;
    ctx.run_as = Some((user.uid, user.gid));
    let flags = ["--net", "none", "--rootfs", &rootfs, "--hostname", "rock-band"];
    let report = report(ctx, &flags, "/probe", ROOTLESS_FAILED)?;
    expect_eq(
        "the default uid map of an unprivileged user: its own id as 0, then its subordinate range from 1",
        vec![(0, user.uid, 1), (1, subuid, 65_536)],
        map_lines(&report.uid_map),
    )?;
    expect_eq("the hostname inside", Some("rock-band"), report.hostname.as_deref())?;
    expect_eq("the probe should be PID 2, under the init, in its own PID namespace", 2, report.pid)?;
    expect_eq("/proc inside should list only the container's processes", Some(vec![1, 2]), report.visible_pids)?;
    expect_eq("the command should start in / of the new root", Some("/"), report.cwd.as_deref())?;
    for kind in ["user", "uts", "pid", "mnt", "net"] {
        if report.namespaces.get(kind) == Some(&host_namespace(kind)?) {
            return Err(Failure::fail(format!("the rootless container shares the host's {kind} namespace")));
        }
    }
    let dev = report.dev.unwrap_or_default();
    let null = dev.iter().find(|entry| entry.name == "null");
    let device = null.map(|entry| (entry.kind.as_str(), entry.major, entry.minor));
    expect_eq(
        "/dev/null should be the 1:3 device: where mknod is refused (a user namespace), bind the host's onto an \
         empty file",
        Some(("char", Some(1), Some(3))),
        device,
    )
}

fn rootless_range(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let (subuid, subgid) = user.subordinates()?;
    let dir = user.dir(ctx, "mine")?;
    let path = format!("{dir}/given-to-1");
    ctx.run_as = Some((user.uid, user.gid));
    let probe = ctx.probe();
    let run = ctx.run(&["--net", "none"], &[&probe, "make-owned", &path, "1", "1"])?;
    if run.code == Some(125) {
        return Err(Failure::fail(ROOTLESS_FAILED).compare("a file made inside", run.describe()));
    }
    let owner = made_owner(&path, &run, "make-owned answer")?;
    expect_eq(
        "a file given to uid and gid 1 inside should belong to the first ids of the user's subordinate ranges",
        (subuid, subgid),
        owner,
    )
}

/// The host's interfaces and the chapter 4 leases: what a refused run must leave as it was.
fn host_traces() -> Vec<String> {
    let mut traces: Vec<String> = fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| format!("link {}", entry.file_name().to_string_lossy()))
        .collect();
    for bridge in fs::read_dir("/run/greenroom/net").into_iter().flatten().flatten() {
        for lease in fs::read_dir(bridge.path()).into_iter().flatten().flatten() {
            traces.push(format!("lease {}", lease.path().display()));
        }
    }
    traces.sort();
    traces
}

/// Runs `flags` with a probe that would leave a marker, and expects 125,
/// no marker, and the host as it was.
fn expect_refused(ctx: &mut Ctx, flags: &[&str], marker: &str, why: &str) -> Result<(), Failure> {
    let before = host_traces();
    let probe = ctx.probe();
    let run = ctx.run(flags, &[&probe, "touch", marker])?;
    run.expect_code(125, why)?;
    if Path::new(marker).exists() {
        return Err(Failure::fail(format!("{why}: yet the command ran")));
    }
    expect_eq(&format!("{why}: the host's interfaces and leases changed"), before, host_traces())
}

fn rootless_refusals(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let dir = user.dir(ctx, "markers")?;
    ctx.run_as = Some((user.uid, user.gid));
    let host_root = format!("{dir}/host-root");
    expect_refused(
        ctx,
        &["--net", "none", "--uid-map", "0:0:1"],
        &host_root,
        "an unprivileged user asking to map host root (--uid-map 0:0:1) should be refused with 125",
    )?;
    let bridge = format!("{dir}/bridge");
    expect_refused(
        ctx,
        &["--net", "bridge"],
        &bridge,
        "--net bridge without privilege should be refused with 125 (the host's end needs root): say --net none",
    )
}

fn bad_maps_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("ran");
    let too_many: Vec<String> = (0..341).map(|i| format!("{i}:{}:1", 100_000 + i)).collect();
    let mut many_flags = vec!["--gid-map", GID_MAP];
    for range in &too_many {
        many_flags.extend(["--uid-map", range.as_str()]);
    }
    let cases: [(&str, Vec<&str>); 5] = [
        (
            "ranges overlapping inside",
            vec!["--uid-map", "0:100000:10", "--uid-map", "5:300000:10", "--gid-map", GID_MAP],
        ),
        (
            "ranges overlapping outside",
            vec!["--uid-map", "0:100000:10", "--uid-map", "10:100005:10", "--gid-map", GID_MAP],
        ),
        ("a range of size 0", vec!["--uid-map", "0:100000:0", "--gid-map", GID_MAP]),
        ("a range past the last id", vec!["--uid-map", "0:4294967290:10", "--gid-map", GID_MAP]),
        ("341 ranges", many_flags),
    ];
    for (what, flags) in cases {
        expect_refused(ctx, &flags, &marker, &format!("a map with {what} should be refused with 125"))?;
    }
    Ok(())
}
