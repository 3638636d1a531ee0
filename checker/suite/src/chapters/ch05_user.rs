//! Chapter 5 — user: a user namespace, uid/gid maps, rootless runs.
//!
//! Tests run the runtime as root with explicit maps, and as the guest's
//! unprivileged user `greenroom` (see [`crate::user`]) with its defaults.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use contract::{DevKind, Document, IdRange, MadeOwned, Namespaces, ReadOutcome, RenameThrough, Report, Touched};

use crate::chapters::ch03_rootfs::{expect_mounts, WANTED_MOUNTS};
use crate::ctx::{expect_eq, host_namespace, Ctx, Failure, ProbeCall, Run};
use crate::user::User;
use crate::TestCase;

/// Chapter 5's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(5);
    vec![
        test(
            "maps-as-asked",
            2,
            "as root with --uid-map and --gid-map, the maps inside read exactly what was asked, and the probe is uid 0",
            "the container's ids should be mapped exactly as asked",
            "ch05-user.md#writing-the-maps",
            maps_as_asked,
        ),
        test(
            "setgroups-denied",
            1,
            "an unprivileged user's single mapping works, with setgroups reading deny",
            "without privilege, the gid map cannot be written as things stand",
            "ch05-user.md#why-setgroups-exists",
            setgroups_denied,
        ),
        test(
            "root-inside-full-caps",
            1,
            "the probe is uid 0 with every capability, in a user namespace of its own",
            "the command should be root of its namespace, with every capability there",
            "ch05-user.md#root-of-the-container",
            root_inside_full_caps,
        ),
        test(
            "namespaces-owned-by-it",
            2,
            "every namespace the container has of its own is owned by its user namespace",
            "the container's other namespaces should belong to its user namespace",
            "ch05-user.md#one-clone-user-namespace-first",
            namespaces_owned_by_it,
        ),
        test(
            "files-owned-by-mapped-id",
            2,
            "a file root of the container makes in a host directory belongs to the mapped host ids",
            "a file made inside should be owned by the mapped host id",
            "ch05-user.md#root-of-the-container",
            files_owned_by_mapped_id,
        ),
        test(
            "host-root-files-closed",
            1,
            "root of the container cannot read a host file only host root may read",
            "a file only host root may read should stay closed to the container's root",
            "ch05-user.md#what-root-inside-can-and-cannot-do",
            host_root_files_closed,
        ),
        test(
            "host-hostname-out-of-reach",
            1,
            "root of the container cannot join the host's UTS namespace to rename the host",
            "root inside must not be able to rename the host",
            "ch05-user.md#what-root-inside-can-and-cannot-do",
            host_hostname_out_of_reach,
        )
        .run_alone(),
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
            "an unprivileged user with subordinate ids should get them mapped",
            "ch05-user.md#rootless-defaults",
            rootless_range,
        ),
        test(
            "rootless-mount-flags",
            2,
            "in a rootless run, /proc, /sys, /dev, /dev/pts and /dev/shm carry the flags and modes chapter 3 gives them",
            "without privilege the container's mounts are chapter 3's, flags and modes included: a path taken only in \
             a user namespace must keep them",
            "ch05-user.md#rootless-limits-and-how-the-real-tools-lift-them",
            rootless_mount_flags,
        ),
        test(
            "rootless-refusals",
            1,
            "without privilege, mapping host root and --net bridge are refused with 125 before anything runs",
            "what an unprivileged caller cannot have must be refused up front, clearly",
            "ch05-user.md#rootless-limits-and-how-the-real-tools-lift-them",
            rootless_refusals,
        )
        .run_alone(),
        test(
            "bad-maps-refused",
            2,
            "overlapping, empty, too long and too many map ranges are refused with 125, before anything is created",
            "a bad map must be refused before anything is created",
            "ch05-user.md#checking-a-map",
            bad_maps_refused,
        )
        .run_alone(),
    ]
}

/// The maps root asks for: different ranges for users and groups, so a mix-up shows.
const UID_MAP: &str = "0:100000:65536";
const GID_MAP: &str = "0:200000:65536";
const ROOT_FLAGS: [&str; 6] = ["--net", "none", "--uid-map", UID_MAP, "--gid-map", GID_MAP];

/// Runs `call` with `flags`; a runtime that fails (125) fails the test
/// with `on_failure`, which says what most likely went wrong.
fn ask_or<T: Document>(ctx: &mut Ctx, flags: &[&str], call: &ProbeCall<T>, on_failure: &str) -> Result<T, Failure> {
    let run = ctx.run(flags, &call.command())?;
    if run.code == Some(125) {
        return Err(Failure::fail(on_failure).compare(format!("the probe's {}", T::SUBCOMMAND), run.describe()));
    }
    call.read(&run)
}

/// The probe's report from a container made with `flags` (the rootfs's
/// probe when there is a `--rootfs`), or `on_failure` if the runtime fails.
fn report(ctx: &mut Ctx, flags: &[&str], on_failure: &str) -> Result<Report, Failure> {
    let probe = if flags.contains(&"--rootfs") { crate::ctx::ROOTFS_PROBE.to_string() } else { ctx.probe() };
    let call = ProbeCall::new(&probe, &[])?;
    ask_or(ctx, flags, &call, on_failure)
}

/// The namespace of `kind` in a report.
fn namespace<'a>(namespaces: &'a Namespaces, kind: &str) -> Option<&'a String> {
    match kind {
        "cgroup" => namespaces.cgroup.as_ref(),
        "ipc" => namespaces.ipc.as_ref(),
        "mnt" => namespaces.mnt.as_ref(),
        "net" => namespaces.net.as_ref(),
        "pid" => namespaces.pid.as_ref(),
        "time" => namespaces.time.as_ref(),
        "user" => namespaces.user.as_ref(),
        "uts" => namespaces.uts.as_ref(),
        _ => None,
    }
}

/// A map as `(inside, outside, count)` lines.
fn map_lines(map: &Option<Vec<IdRange>>) -> Vec<(u32, u32, u32)> {
    map.iter().flatten().map(|r| (r.inside, r.outside, r.count)).collect()
}

/// The suite's own effective capabilities: root's full set.
fn own_cap_eff() -> Result<u64, Failure> {
    let status = fs::read_to_string("/proc/self/status").map_err(|e| Failure::error(format!("read status: {e}")))?;
    let line = status.lines().find_map(|line| line.strip_prefix("CapEff:"));
    let value = line.and_then(|value| u64::from_str_radix(value.trim(), 16).ok());
    value.ok_or_else(|| Failure::error("no CapEff in /proc/self/status"))
}

const CHILD_WROTE_MAP: &str = "as root with --uid-map 0:100000:65536 --gid-map 0:200000:65536 the runtime failed: \
    a range of host ids can be mapped only from the parent user namespace — write the maps in prepare_parent \
    while the child waits (a child writing its own map gets EPERM)";

fn maps_as_asked(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = report(ctx, &ROOT_FLAGS, CHILD_WROTE_MAP)?;
    expect_eq(
        "the uid map inside should be exactly the one asked for: the parent writes it, once, whole",
        vec![(0, 100_000, 65_536)],
        map_lines(&report.users.uid_map),
    )?;
    expect_eq(
        "the gid map inside should be exactly the one asked for (--gid-map, not --uid-map's)",
        vec![(0, 200_000, 65_536)],
        map_lines(&report.users.gid_map),
    )?;
    expect_eq(
        "the probe should run as uid and gid 0 of the container: setresgid, then setresuid, to 0 in enter_child",
        (Some(0), Some(0)),
        (report.users.uid, report.users.gid),
    )
}

fn setgroups_denied(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let own = user.uid.to_string();
    let (uid_map, gid_map) = (format!("0:{}:1", user.uid), format!("0:{}:1", user.gid));
    let flags = ["--net", "none", "--uid-map", &uid_map, "--gid-map", &gid_map];
    ctx.as_user(&user);
    let report = report(
        ctx,
        &flags,
        "as the unprivileged user, with only its own ids mapped, the runtime failed: the kernel accepts a gid_map \
         written without privilege only once \"deny\" is in /proc/PID/setgroups — write it before gid_map",
    )?;
    expect_eq(
        &format!("the uid map should be the user's own id ({own}) as 0, nothing else"),
        vec![(0, user.uid, 1)],
        map_lines(&report.users.uid_map),
    )?;
    expect_eq(
        "setgroups should read deny: the gid map was written without privilege",
        Some("deny"),
        report.users.setgroups.as_deref(),
    )
}

fn root_inside_full_caps(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = report(ctx, &ROOT_FLAGS, CHILD_WROTE_MAP)?;
    let host_user = host_namespace("user")?;
    if namespace(&report.namespaces, "user") == Some(&host_user) {
        return Err(Failure::fail("the container shares the host's user namespace: ask for CLONE_NEWUSER")
            .compare("a user namespace of its own", host_user));
    }
    expect_eq("the probe should be uid 0 of the container", Some(0), report.users.uid)?;
    expect_eq(
        "root of the container should hold every capability (in its own namespaces): its uid must be 0 of the \
         namespace when it calls exec",
        Some(own_cap_eff()?),
        report.security.capabilities.map(|caps| caps.effective),
    )
}

fn namespaces_owned_by_it(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = report(ctx, &ROOT_FLAGS, CHILD_WROTE_MAP)?;
    let elsewhere = report
        .users
        .owned_elsewhere
        .clone()
        .ok_or_else(|| Failure::error("the probe could not read its namespaces"))?;
    // Only the namespaces the container has of its own: it shares the host's
    // cgroup namespace (until chapter 6), which the host owns.
    let mut foreign = Vec::new();
    for kind in elsewhere {
        if namespace(&report.namespaces, &kind) != Some(&host_namespace(&kind)?) {
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

/// The owner of `path` on the host, once the container has made it.
fn made_owner(path: &str, made: &MadeOwned) -> Result<(u32, u32), Failure> {
    if let Some(errno) = made.errno {
        return Err(Failure::fail(format!("the probe could not make {path} and chown it: {errno}")));
    }
    let meta = fs::metadata(path).map_err(|e| Failure::fail(format!("{path} is not on the host: {e}")))?;
    Ok((meta.uid(), meta.gid()))
}

fn files_owned_by_mapped_id(ctx: &mut Ctx) -> Result<(), Failure> {
    let dir = open_dir(ctx, "shared")?;
    let path = format!("{dir}/made-inside");
    let call = ctx.call::<MadeOwned>(&[&path, "0", "0"])?;
    let made = ask_or(ctx, &ROOT_FLAGS, &call, CHILD_WROTE_MAP)?;
    let owner = made_owner(&path, &made)?;
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
    let call = ctx.call::<ReadOutcome>(&[&path])?;
    let read = ask_or(ctx, &ROOT_FLAGS, &call, CHILD_WROTE_MAP)?;
    let errno = read.errno.map(|errno| errno.0);
    expect_eq(
        "root of the container read a file only host root may read: it must be an unprivileged host uid, and \
         capabilities in its namespace do not apply to a file whose owner is not mapped",
        Some(13),
        errno,
    )
    .map_err(|f| f.compare("EACCES (13)", format!("{errno:?}")))
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
    let attempt = ctx
        .call::<RenameThrough>(&[&path, "pwned-by-container"])
        .and_then(|call| ask_or(ctx, &ROOT_FLAGS, &call, CHILD_WROTE_MAP));
    let _ = nix::mount::umount2(&file, nix::mount::MntFlags::MNT_DETACH);
    let attempt = attempt?;
    let after = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    expect_eq("the host's hostname changed", before.trim(), after.trim())?;
    expect_eq(
        "root of the container could join the host's UTS namespace: it must not hold CAP_SYS_ADMIN in the host's \
         user namespace — give the container one of its own",
        Some(1),
        attempt.setns_errno.map(|errno| errno.0),
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
    ctx.as_user(&user);
    let flags = ["--net", "none", "--rootfs", &rootfs, "--hostname", "rock-band"];
    let report = report(ctx, &flags, ROOTLESS_FAILED)?;
    expect_eq(
        "the default uid map of an unprivileged user: its own id as 0, then its subordinate range from 1",
        vec![(0, user.uid, 1), (1, subuid, 65_536)],
        map_lines(&report.users.uid_map),
    )?;
    expect_eq("the hostname inside", Some("rock-band"), report.hostname.as_deref())?;
    expect_eq("the probe should be PID 2, under the init, in its own PID namespace", 2, report.process.pid)?;
    expect_eq(
        "/proc inside should list only the container's processes",
        Some(vec![1, 2]),
        report.process.visible_pids.clone(),
    )?;
    expect_eq("the command should start in / of the new root", Some("/"), report.process.cwd.as_deref())?;
    for kind in ["user", "uts", "pid", "mnt", "net"] {
        if namespace(&report.namespaces, kind) == Some(&host_namespace(kind)?) {
            return Err(Failure::fail(format!("the rootless container shares the host's {kind} namespace")));
        }
    }
    let dev = report.filesystem.dev.unwrap_or_default();
    let null = dev.iter().find(|entry| entry.name == "null");
    let device = null.map(|entry| (entry.kind, entry.major, entry.minor));
    expect_eq(
        "/dev/null should be the 1:3 device: where mknod is refused (a user namespace), bind the host's onto an \
         empty file",
        Some((DevKind::Char, Some(1), Some(3))),
        device,
    )
}

fn rootless_range(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let (subuid, subgid) = user.subordinates()?;
    let dir = user.dir(ctx, "mine")?;
    let path = format!("{dir}/given-to-1");
    ctx.as_user(&user);
    let call = ctx.call::<MadeOwned>(&[&path, "1", "1"])?;
    let made = ask_or(ctx, &["--net", "none"], &call, ROOTLESS_FAILED)?;
    let owner = made_owner(&path, &made)?;
    expect_eq(
        "a file given to uid and gid 1 inside should belong to the first ids of the user's subordinate ranges",
        (subuid, subgid),
        owner,
    )
}

fn rootless_mount_flags(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let rootfs = ctx.rootfs()?;
    user.give(Path::new(&rootfs))?;
    ctx.as_user(&user);
    let report = report(ctx, &["--net", "none", "--rootfs", &rootfs], ROOTLESS_FAILED)?;
    let mountinfo =
        report.filesystem.mountinfo.ok_or_else(|| Failure::fail("the probe could not read its mount table"))?;
    expect_mounts(
        &mountinfo,
        &WANTED_MOUNTS,
        "rootless, each mount gets exactly the flags and mode chapter 3 gives it — a fallback for the user \
         namespace (a bind, a remount) must pass them too",
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
    let call = ctx.call::<Touched>(&[marker])?;
    let run: Run = ctx.run(flags, &call.command())?;
    run.expect_code(125, why)?;
    if Path::new(marker).exists() {
        return Err(Failure::fail(format!("{why}: yet the command ran")));
    }
    expect_eq(&format!("{why}: the host's interfaces and leases changed"), before, host_traces())
}

fn rootless_refusals(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let dir = user.dir(ctx, "markers")?;
    ctx.as_user(&user);
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
