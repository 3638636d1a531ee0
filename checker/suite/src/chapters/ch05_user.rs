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
        test(
            "map-range-edges",
            1,
            "two ranges sharing exactly one id are refused with 125; ranges that only touch, and ranges ending at the highest id (4294967294), are accepted, as given",
            "a range ends one id before start + size: ranges overlap when each starts before the other ends",
            "ch05-user.md#checking-a-map",
            map_range_edges,
        )
        // It compares the host's whole interface list before and after.
        .run_alone(),
        test(
            "supplementary-groups-dropped",
            1,
            "root runs the runtime with supplementary groups of its own: the container has none",
            "the container must not keep the caller's groups where it may drop them",
            "ch05-user.md#root-of-the-container",
            supplementary_groups_dropped,
        ),
        test(
            "setgroups-allowed",
            1,
            "as root with maps, and as greenroom with its default maps (newgidmap), setgroups reads allow inside",
            "setgroups is denied only where a map written without privilege needs it",
            "ch05-user.md#why-setgroups-exists",
            setgroups_allowed,
        ),
        test(
            "foreign-range-refused",
            1,
            "as greenroom, a range outside its /etc/subuid range is refused with 125 before anything is created: \
             no clone, no newuidmap, nothing left",
            "a range that is not yours is refused by the runtime itself, before the clone, not by newuidmap after it",
            "ch05-user.md#rootless-defaults",
            foreign_range_refused,
        )
        // It puts a stand-in newuidmap over the real one while it runs.
        .run_alone(),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "keep-id-kept",
            2,
            "as greenroom, --keep-id --net none: inside, the process is greenroom's own uid and gid with no other \
             group, that id maps to itself, and every other id from 0 to the end of its range to its subordinate ids",
            "challenge: the goal and its rules are in the book; user_namespaces(7) on what a map may hold",
            "ch05-user.md#challenge-keeping-your-id",
            keep_id_kept,
        )
        .as_challenge(),
        test(
            "keep-id-refused",
            1,
            "--keep-id as root, and --keep-id with --uid-map, are refused with 125 before anything runs",
            "challenge: the goal and its rules are in the book",
            "ch05-user.md#challenge-keeping-your-id",
            keep_id_refused,
        )
        .as_challenge(),
    ]
}

/// The size of greenroom's first range in `file` (`/etc/subuid` or
/// `/etc/subgid`).
fn subordinate_count(file: &str) -> Result<u32, Failure> {
    let text = fs::read_to_string(file).map_err(|e| Failure::error(format!("read {file}: {e}")))?;
    text.lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() == 3 && fields[0] == crate::user::USER_NAME).then(|| fields[2].parse().ok()).flatten()
        })
        .ok_or_else(|| Failure::error(format!("{file} gives {} no range", crate::user::USER_NAME)))
}

fn keep_id_kept(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let (subuid, subgid) = user.subordinates()?;
    let (uid_count, gid_count) = (subordinate_count("/etc/subuid")?, subordinate_count("/etc/subgid")?);
    ctx.as_user(&user);
    let report = report(ctx, &["--net", "none", "--keep-id"], "as greenroom, --keep-id --net none failed")?;
    let users = &report.users;
    expect_eq(
        "inside, with --keep-id, the process's uid and gid should be the caller's own",
        (Some(user.uid), Some(user.gid)),
        (users.uid, users.gid),
    )?;
    // Below the caller's id, itself, above it; a range of no ids is none.
    let wanted = |own: u32, start: u32, count: u32| -> Vec<IdRange> {
        [(0, start, own), (own, own, 1), (own + 1, start + own, count.saturating_sub(own))]
            .into_iter()
            .filter(|(_, _, size)| *size > 0)
            .map(|(inside, outside, size)| IdRange { inside, outside, count: size })
            .collect()
    };
    for (what, own, start, count, seen) in
        [("uid", user.uid, subuid, uid_count, &users.uid_map), ("gid", user.gid, subgid, gid_count, &users.gid_map)]
    {
        let wanted = wanted(own, start, count);
        if seen.as_ref() != Some(&wanted) {
            return Err(Failure::fail(format!(
                "the {what} map should keep {own} as itself and give every other container id up to the end of the \
                 range one of the subordinate ids, in order"
            ))
            .compare(format!("{wanted:?}"), format!("{seen:?}")));
        }
    }
    let groups = users.groups.clone().unwrap_or_default();
    if groups.iter().any(|group| *group != user.gid) {
        return Err(Failure::fail("the process keeps groups other than its own gid: the host's groups must go")
            .compare(format!("[{}] or none", user.gid), format!("{groups:?}")));
    }
    Ok(())
}

fn keep_id_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("ran");
    forget_refused_leases();
    expect_refused(ctx, &["--net", "none", "--keep-id"], &marker, "--keep-id as root should be refused with 125")?;
    let user = User::find()?;
    let dir = user.dir(ctx, "keep-id-markers")?;
    ctx.as_user(&user);
    let own = format!("0:{}:1", user.uid);
    let both = format!("{dir}/both");
    expect_refused(
        ctx,
        &["--net", "none", "--keep-id", "--uid-map", &own],
        &both,
        "--keep-id with --uid-map should be refused with 125: keeping the id is a map of its own",
    )?;
    Ok(())
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

/// The bridge and subnet of the refusal tests that name one: theirs alone,
/// so what other tests (of this chapter or an earlier one) left in the
/// default bridge's lease folder cannot change a verdict.
const REFUSED_NET: [&str; 6] = ["--net", "bridge", "--bridge", "gr5-refused", "--subnet", "10.73.60.0/24"];
/// The bridge of [`REFUSED_NET`].
const REFUSED_BRIDGE: &str = "gr5-refused";

/// The host's interfaces and the leases of [`REFUSED_BRIDGE`] (its lock
/// file aside): what a refused run must leave as it was.
fn host_traces() -> Vec<String> {
    let mut traces: Vec<String> = fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| format!("link {}", entry.file_name().to_string_lossy()))
        .collect();
    let leases = refused_leases();
    if Path::new(&leases).exists() {
        traces.push(format!("lease folder {leases}"));
    }
    for lease in fs::read_dir(&leases).into_iter().flatten().flatten() {
        let name = lease.file_name().to_string_lossy().into_owned();
        if name != "lock" && !name.starts_with('.') {
            traces.push(format!("lease {leases}/{name}"));
        }
    }
    traces.sort();
    traces
}

/// [`REFUSED_BRIDGE`]'s lease folder, which a run that leases an address
/// makes: a refused run must not get that far.
fn refused_leases() -> String {
    format!("/run/greenroom/net/{REFUSED_BRIDGE}")
}

/// Removes [`REFUSED_BRIDGE`]'s lease folder, which an earlier test or
/// grading in the same guest may have left.
fn forget_refused_leases() {
    let _ = fs::remove_dir_all(refused_leases());
}

/// Runs `flags` with a probe that would leave a marker, and expects 125,
/// no marker, and the host as it was.
fn expect_refused(ctx: &mut Ctx, flags: &[&str], marker: &str, why: &str) -> Result<Run, Failure> {
    let before = host_traces();
    let call = ctx.call::<Touched>(&[marker])?;
    let run: Run = ctx.run(flags, &call.command())?;
    run.expect_code(125, why)?;
    if Path::new(marker).exists() {
        return Err(Failure::fail(format!("{why}: yet the command ran")));
    }
    let after = host_traces();
    let leased = format!("lease folder {}", refused_leases());
    if !before.contains(&leased) && after.contains(&leased) {
        return Err(Failure::fail(format!(
            "{why}: yet the run went as far as leasing an address (it made {}) — whatever refused it came after \
             that, most likely the kernel refusing the map after the clone: check the maps before anything is \
             created",
            refused_leases()
        ))
        .compare("no lease folder", after.join(", ")));
    }
    expect_eq(&format!("{why}: the host's interfaces and leases changed"), before, after)?;
    Ok(run)
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
    forget_refused_leases();
    expect_refused(
        ctx,
        &REFUSED_NET,
        &bridge,
        "--net bridge without privilege should be refused with 125 (the host's end needs root): say --net none",
    )?;
    Ok(())
}

fn bad_maps_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("ran");
    forget_refused_leases();
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
        let flags = [&REFUSED_NET[..], &flags].concat();
        expect_refused(ctx, &flags, &marker, &format!("a map with {what} should be refused with 125"))?;
    }
    Ok(())
}

fn map_range_edges(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("ran");
    forget_refused_leases();
    let one_id = [
        ("inside (container id 9)", ["--uid-map", "0:100000:10", "--uid-map", "9:300000:5"]),
        ("outside (host id 100009)", ["--uid-map", "0:100000:10", "--uid-map", "10:100009:5"]),
    ];
    for (side, ranges) in one_id {
        let flags = [&REFUSED_NET[..], &ranges, &["--gid-map", GID_MAP]].concat();
        expect_refused(
            ctx,
            &flags,
            &marker,
            &format!(
                "{} and {} share exactly one id {side}, and should be refused with 125: a range holds the ids from \
                 its start to start + size - 1, so two ranges overlap when each starts before the other's \
                 start + size (an off-by-one lets the shared id through, and the kernel refuses the map after the \
                 clone)",
                ranges[1], ranges[3]
            ),
        )?;
    }
    let touching = ["--net", "none", "--uid-map", "0:100000:10", "--uid-map", "10:100010:10", "--gid-map", GID_MAP];
    let touched = report(
        ctx,
        &touching,
        "--uid-map 0:100000:10 --uid-map 10:100010:10 share no id (the first ends at 9 and 100009, where the second \
         starts at 10 and 100010), yet the runtime failed: ranges that only touch must be accepted — is the overlap \
         check off by one?",
    )?;
    expect_eq(
        "the uid map of two ranges that touch should read as given",
        vec![(0, 100_000, 10), (10, 100_010, 10)],
        map_lines(&touched.users.uid_map),
    )?;
    // Ranges whose last id is 4294967294, the highest a map can hold, on
    // the host's side and on the container's.
    let top =
        ["--net", "none", "--uid-map", "0:4294967285:10", "--uid-map", "4294967285:100000:10", "--gid-map", GID_MAP];
    let highest = report(
        ctx,
        &top,
        "--uid-map 0:4294967285:10 --uid-map 4294967285:100000:10 end exactly at 4294967294, the highest id a map can \
         hold, yet the runtime failed: a range may end at that id (start + size - 1 = 4294967294; only 4294967295, \
         the id -1, is out) — is the last-id check off by one?",
    )?;
    expect_eq(
        "the uid map of two ranges that end at the highest id should read as given",
        vec![(0, 4_294_967_285, 10), (4_294_967_285, 100_000, 10)],
        map_lines(&highest.users.uid_map),
    )
}

/// Host groups the caller belongs to besides its own: one the gid map
/// reaches (200007, gid 7 inside) and one it does not (4242).
const CALLER_GROUPS: [u32; 2] = [200_007, 4242];

/// A run as root with maps failed, in a test about groups.
const ROOT_GROUPS_FAILED: &str = "as root with --uid-map 0:100000:65536 --gid-map 0:200000:65536 the runtime failed: \
    a setgroups refused with EPERM means /proc/PID/setgroups was made to read deny — needed only before a gid map \
    written without privilege (root's needs none), and then the groups must be left as they are; see maps-as-asked \
    for anything else";

fn supplementary_groups_dropped(ctx: &mut Ctx) -> Result<(), Failure> {
    ctx.with_groups(&CALLER_GROUPS);
    let report = report(ctx, &ROOT_FLAGS, ROOT_GROUPS_FAILED)?;
    let groups = report.users.groups.clone().ok_or_else(|| Failure::error("the probe could not read its groups"))?;
    if groups.is_empty() {
        return Ok(());
    }
    let seen = format!("{groups:?} (as the container sees them)");
    if report.users.setgroups.as_deref() == Some("deny") {
        return Err(Failure::fail(format!(
            "the container kept the supplementary groups of the runtime's caller (host groups {CALLER_GROUPS:?}): \
             setgroups reads deny, which nothing forced here (root wrote the gid map), so they could not be dropped \
             — deny it only before a gid map written without privilege"
        ))
        .compare("no supplementary group", seen));
    }
    Err(Failure::fail(format!(
        "the container kept the supplementary groups of the runtime's caller (host groups {CALLER_GROUPS:?}): \
         become_root must drop them with setgroups([]) where setgroups is allowed — a host group kept could open \
         host files to the container"
    ))
    .compare("no supplementary group", seen))
}

/// The setgroups message for a container whose maps did not need `deny`.
fn expect_setgroups_allowed(report: &Report, how: &str) -> Result<(), Failure> {
    expect_eq(
        &format!(
            "{how}, setgroups should read allow: nothing forces deny — it is needed only where the runtime writes a \
             gid map without privilege (its own gid alone), and once denied, the container can never drop a group"
        ),
        Some("allow"),
        report.users.setgroups.as_deref(),
    )
}

fn setgroups_allowed(ctx: &mut Ctx) -> Result<(), Failure> {
    let as_root = report(ctx, &ROOT_FLAGS, ROOT_GROUPS_FAILED)?;
    expect_setgroups_allowed(&as_root, "as root with --uid-map and --gid-map")?;
    let user = User::find()?;
    user.subordinates()?;
    ctx.as_user(&user);
    let rootless = report(ctx, &["--net", "none"], ROOTLESS_FAILED)?;
    expect_setgroups_allowed(&rootless, "as an unprivileged user with its default maps, which newgidmap writes")
}

/// A `newuidmap` and `newgidmap` that only note that they ran, put over
/// the real ones while a test runs (the runtime looks for them in fixed
/// places, not in `$PATH`), and taken away when dropped.
struct HelperStandIns {
    mounted: Vec<&'static str>,
}

impl HelperStandIns {
    /// Binds a script over each helper that appends its name and arguments
    /// to `record` (a file the unprivileged user may write) and fails.
    fn install(ctx: &Ctx, record: &str) -> Result<HelperStandIns, Failure> {
        let script = ctx.scratch.join("helper-stand-in");
        let text = format!("#!/bin/sh\necho \"$0 $*\" >> {}\nexit 1\n", crate::ctx::quote(record));
        fs::write(&script, text)
            .and_then(|()| fs::set_permissions(&script, fs::Permissions::from_mode(0o755)))
            .map_err(|e| Failure::error(format!("write {}: {e}", script.display())))?;
        let mut stand_ins = HelperStandIns { mounted: Vec::new() };
        for helper in ["/usr/bin/newuidmap", "/usr/bin/newgidmap"] {
            let flags = nix::mount::MsFlags::MS_BIND;
            nix::mount::mount(Some(&script), helper, None::<&str>, flags, None::<&str>)
                .map_err(|e| Failure::error(format!("bind a stand-in over {helper}: {e}")))?;
            stand_ins.mounted.push(helper);
        }
        Ok(stand_ins)
    }
}

impl Drop for HelperStandIns {
    fn drop(&mut self) {
        for helper in &self.mounted {
            let _ = nix::mount::umount2(*helper, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

fn foreign_range_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let (subuid, _) = user.subordinates()?;
    let dir = user.dir(ctx, "foreign")?;
    let record = format!("{dir}/helpers-run");
    let marker = format!("{dir}/ran");
    // One id past the end of its range, a range far from it, and one id
    // far from it (a one-id range is the caller's own only if it maps the
    // caller's own id).
    let past_end = format!("1:{}:65536", subuid + 1);
    let far = format!("1:{}:10", subuid + 10 * 65_536);
    let one_far = format!("1:{}:1", subuid + 10 * 65_536);
    let own = format!("0:{}:1", user.uid);
    let stand_ins = HelperStandIns::install(ctx, &record)?;
    ctx.as_user(&user);
    let mounts_before = crate::ctx::host_mountinfo()?;
    for range in [&past_end, &far, &one_far] {
        let what = format!(
            "as the unprivileged user, --uid-map {own} --uid-map {range} (host ids outside its /etc/subuid range \
             {subuid}:65536) should be refused with 125 before anything is created"
        );
        let flags = ["--net", "none", "--uid-map", &own, "--uid-map", range];
        let run = expect_refused(ctx, &flags, &marker, &what)?;
        if let Ok(helpers) = fs::read_to_string(&record) {
            let one_id = if range == &one_far {
                " (a range of one id is exempt only when that id is the caller's own, both conditions at once)"
            } else {
                ""
            };
            return Err(Failure::fail(format!(
                "{what}: the runtime cloned the container and left it to newuidmap to refuse the map — check each \
                 range against /etc/subuid before anything is created{one_id}"
            ))
            .compare("no helper run", format!("ran: {}", helpers.trim())));
        }
        let left = run.processes_left.unwrap_or_default();
        if !left.is_empty() {
            return Err(Failure::fail(format!("{what}: processes of the refused run were left running"))
                .compare("no process", format!("{left:?}")));
        }
    }
    let mounts_after = crate::ctx::host_mountinfo()?;
    drop(stand_ins);
    expect_eq("the refused runs changed the host's mount table", mounts_before, mounts_after)
}
