//! Chapter 1 — uts: the UTS and IPC namespaces, and a validated `--hostname`.

use contract::{IpcLook, IpcMade, Report, Touched};

use crate::ctx::{expect_eq, Ctx, Failure};
use crate::TestCase;

/// Chapter 1's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(1);
    vec![
        test(
            "hostname-set-inside",
            2,
            "`--hostname rock-band` gives the container that hostname",
            "the hostname must be set from inside the container's own UTS namespace",
            "ch01-uts.md#the-layer",
            hostname_set_inside,
        ),
        test(
            "own-uts-namespace",
            2,
            "the container has a UTS namespace of its own, with or without --hostname",
            "the container needs a UTS namespace of its own, asked for when it is created, even without \
             --hostname",
            "ch01-uts.md#the-layer",
            own_uts_namespace,
        ),
        test(
            "host-hostname-unchanged",
            2,
            "setting the container's hostname leaves the host's hostname alone",
            "setting the hostname renames the UTS namespace of whoever sets it: make sure that is the \
             container's",
            "ch01-uts.md#the-layer",
            host_hostname_unchanged,
        )
        .run_alone(),
        test(
            "invalid-hostname-refused",
            2,
            "an invalid hostname is refused with exit code 125 before anything runs",
            "a bad name must be refused before anything is created, as the runtime's own failure (125)",
            "ch01-uts.md#valid-hostnames",
            invalid_hostname_refused,
        ),
        test(
            "longest-hostname-accepted",
            1,
            "a valid 64-byte hostname with dots, and a name of one 63-byte label, are accepted and set exactly",
            "count the limits again: one for the whole name, one for each label between dots",
            "ch01-uts.md#valid-hostnames",
            longest_hostname_accepted,
        ),
        test(
            "own-ipc-namespace",
            1,
            "the container has an IPC namespace of its own",
            "IPC objects belong to a namespace of their own kind, asked for by a layer of its own",
            "ch01-uts.md#the-ipc-namespace",
            own_ipc_namespace,
        ),
        test(
            "host-ipc-invisible",
            2,
            "a System V message queue and a POSIX message queue made on the host cannot be found from inside",
            "IPC objects are found by key or by name in the caller's IPC namespace: the container needs one \
             of its own",
            "ch01-uts.md#the-ipc-namespace",
            host_ipc_invisible,
        ),
        test(
            "container-ipc-stays-inside",
            2,
            "IPC objects the container makes are not left on the host when it ends",
            "objects made in the container's own IPC namespace go away with it; made in the host's, they stay",
            "ch01-uts.md#the-ipc-namespace",
            container_ipc_stays_inside,
        ),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "clock-offsets-applied",
            2,
            "--boottime-offset 86400 --monotonic-offset 3600 runs the command in a time namespace of its \
             own, whose offsets are those, and whose uptime reads a day more than the host's",
            "challenge: the goal and its rules are in the book; time_namespaces(7) says how a namespace gets its \
             offsets, and when they can no longer change",
            "ch01-uts.md#challenge-a-clock-of-its-own",
            clock_offsets_applied,
        )
        .as_challenge(),
        test(
            "clock-offsets-refused",
            1,
            "an offset that would take a clock below 0 or past the kernel's limit is refused with 125, \
             before the command runs",
            "challenge: the goal and its rules are in the book",
            "ch01-uts.md#challenge-a-clock-of-its-own",
            clock_offsets_refused,
        )
        .as_challenge(),
    ]
}

/// The host's uptime, in seconds (the first field of `/proc/uptime`).
fn host_uptime() -> Result<f64, Failure> {
    let text =
        std::fs::read_to_string("/proc/uptime").map_err(|e| Failure::error(format!("read /proc/uptime: {e}")))?;
    uptime_of(&text).ok_or_else(|| Failure::error(format!("/proc/uptime reads {text:?}")))
}

fn uptime_of(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

fn clock_offsets_applied(ctx: &mut Ctx) -> Result<(), Failure> {
    const DAY: f64 = 86400.0;
    let host = crate::ctx::host_namespace("time")?;
    // One line each: the namespace, the kernel's table of its offsets (two
    // lines), the uptime the command reads.
    let script = "readlink /proc/self/ns/time; cat /proc/self/timens_offsets; cat /proc/uptime";
    let before = host_uptime()?;
    let run = ctx.run(&["--boottime-offset", "86400", "--monotonic-offset", "3600"], &["/bin/sh", "-c", script])?;
    let after = host_uptime()?;
    run.expect_code(0, "the container should run with --boottime-offset 86400 --monotonic-offset 3600")?;
    let lines: Vec<&str> = run.stdout.lines().collect();
    let [namespace, first, second, uptime] = lines[..] else {
        return Err(Failure::error("the command's output is not four lines").compare("4 lines", run.stdout.clone()));
    };
    if namespace == host {
        return Err(Failure::fail(
            "the command runs in the host's time namespace: the clocks of a new one are the only ones offsets can move",
        )
        .compare(format!("anything but {host}"), namespace));
    }
    let mut offsets: Vec<(String, String)> = [first, second]
        .iter()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some((fields.first()?.to_string(), fields.get(1)?.to_string()))
        })
        .collect();
    offsets.sort();
    let wanted = vec![("boottime".to_string(), "86400".to_string()), ("monotonic".to_string(), "3600".to_string())];
    if offsets != wanted {
        return Err(Failure::fail(
            "the namespace's offsets, as the kernel lists them in /proc/self/timens_offsets, are not the ones asked for",
        )
        .compare("boottime 86400, monotonic 3600", format!("{first} / {second}")));
    }
    let inside = uptime_of(uptime).ok_or_else(|| Failure::error(format!("the uptime read inside is {uptime:?}")))?;
    if inside < before + DAY - 1.0 || inside > after + DAY + 1.0 {
        return Err(Failure::fail(
            "the uptime the command reads is not the host's plus a day, though the namespace it made has the offset: \
             is the command's own process in the new time namespace, or only the children it forks?",
        )
        .compare(format!("{:.0} to {:.0} s", before + DAY, after + DAY), format!("{inside:.0} s")));
    }
    Ok(())
}

fn clock_offsets_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    ctx.expect_refused_up_front(&["--boottime-offset", "-100000000000"], "it would take the boot clock below 0")?;
    ctx.expect_refused_up_front(
        &["--monotonic-offset", "9000000000"],
        "it would take the monotonic clock past the kernel's limit",
    )
}

/// The hostname of the namespace the suite runs in: the "host" as far as
/// the container is concerned.
fn host_hostname() -> Result<String, Failure> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim_end().to_string())
        .map_err(|e| Failure::error(format!("read the host's hostname: {e}")))
}

fn hostname_set_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.report(&["--hostname", "rock-band"])?;
    expect_eq("the hostname inside the container", Some("rock-band"), report.hostname.as_deref())
}

fn own_uts_namespace(ctx: &mut Ctx) -> Result<(), Failure> {
    let host = crate::ctx::host_namespace("uts")?;
    for flags in [&["--hostname", "drama-club"][..], &[][..]] {
        let report = ctx.shared_report(flags)?;
        let inside = report.namespaces.uts.unwrap_or_default();
        if inside == host {
            return Err(Failure::fail("the container shares the host's UTS namespace")
                .compare(format!("anything but {host}"), inside));
        }
    }
    Ok(())
}

fn host_hostname_unchanged(ctx: &mut Ctx) -> Result<(), Failure> {
    let before = host_hostname()?;
    let report = ctx.report(&["--hostname", "drama-club"])?;
    let after = host_hostname()?;
    expect_eq("the container's hostname", Some("drama-club"), report.hostname.as_deref())?;
    expect_eq("the host's hostname after the container ran", before, after)
}

fn invalid_hostname_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("command-ran");
    let touch = ctx.call::<Touched>(&[&marker])?;
    let too_long = "a".repeat(65);
    let long_label = "b".repeat(64);
    // One of each kind of mistake: a hyphen at an edge, a bad character, an
    // empty name, an empty label, too long, a label too long in a name short
    // enough (the kernel would take it). (`Hostname::parse`'s unit tests
    // cover the rest without a VM.)
    let names = [
        ("-rock-band", "a label may not start with a hyphen"),
        ("rock_band", "only letters, digits, hyphens and dots are allowed"),
        ("", "a hostname may not be empty"),
        ("a..b", "a label may not be empty"),
        (too_long.as_str(), "a hostname is at most 64 bytes"),
        (long_label.as_str(), "a label is at most 63 bytes, even in a name of 64"),
    ];
    for (name, why) in names {
        let run = ctx.run(&["--hostname", name], &touch.command())?;
        run.expect_code(
            125,
            &format!("--hostname {name:?} is invalid ({why}) and should be refused with exit code 125"),
        )?;
        if std::path::Path::new(&marker).exists() {
            return Err(Failure::fail(format!("the command ran although --hostname {name:?} is invalid")));
        }
        if !run.stderr.to_lowercase().contains("hostname") {
            return Err(Failure::fail("the error message should say that the hostname is the problem")
                .compare("a message on stderr mentioning \"hostname\"", run.stderr.clone()));
        }
    }
    Ok(())
}

fn longest_hostname_accepted(ctx: &mut Ctx) -> Result<(), Failure> {
    let name = format!("{}.{}", "r".repeat(32), "b".repeat(31));
    let report = ctx.report(&["--hostname", &name])?;
    expect_eq("the 64-byte hostname inside the container", Some(name.as_str()), report.hostname.as_deref())?;
    // The longest label, alone.
    let label = "r".repeat(63);
    let call = ctx.call::<Report>(&[])?;
    let run = ctx.run(&["--hostname", &label], &call.command())?;
    if run.code == Some(125) {
        return Err(Failure::fail(format!(
            "--hostname {label:?}, one label of 63 bytes, was refused: a label may be up to 63 bytes long, 63 \
             included — is the label length check off by one?"
        ))
        .compare("the container runs", run.describe()));
    }
    let report = call.read(&run)?;
    expect_eq(
        "the hostname of one 63-byte label inside the container",
        Some(label.as_str()),
        report.hostname.as_deref(),
    )
}

fn own_ipc_namespace(ctx: &mut Ctx) -> Result<(), Failure> {
    let host = crate::ctx::host_namespace("ipc")?;
    let report = ctx.shared_report(&[])?;
    let inside = report.namespaces.ipc.unwrap_or_default();
    if inside == host {
        return Err(Failure::fail("the container shares the host's IPC namespace")
            .compare(format!("anything but {host}"), inside));
    }
    Ok(())
}

fn host_ipc_invisible(ctx: &mut Ctx) -> Result<(), Failure> {
    let objects = HostIpc::make()?;
    let call = ctx.call::<IpcLook>(&[&objects.key.to_string(), &objects.name])?;
    let found = ctx.ask(&[], &call);
    drop(objects);
    let found = found?;
    expect_eq(
        "found from inside: (the host's System V queue, the host's POSIX queue)",
        (false, false),
        (found.sysv_queue_found, found.posix_queue_found),
    )
}

fn container_ipc_stays_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let (key, name) = fresh_ipc_names()?;
    let call = ctx.call::<IpcMade>(&[&key.to_string(), &name])?;
    let run = ctx.run(&[], &call.command())?;
    // Whatever the container left in the host's namespace is removed before
    // judging, so a failure here does not spoil the tests after it.
    let left = HostIpc { key, name: name.clone(), queue: sysv_queue(key, 0) };
    let left_on_host = (left.queue.is_some(), posix_queue_exists(&name));
    drop(left);
    let made = call.read(&run)?;
    if let Some(errno) = made.sysv_queue.or(made.posix_queue) {
        return Err(Failure::fail("the probe could not make its IPC objects inside the container")
            .compare("both queues made", errno.to_string()));
    }
    expect_eq("left on the host after the container ended: (System V queue, POSIX queue)", (false, false), left_on_host)
}

/// A System V message queue and a POSIX message queue made on the host, and
/// removed again when dropped.
struct HostIpc {
    key: i32,
    name: String,
    queue: Option<i32>,
}

impl HostIpc {
    fn make() -> Result<HostIpc, Failure> {
        let (key, name) = fresh_ipc_names()?;
        let queue = sysv_queue(key, nix::libc::IPC_CREAT | nix::libc::IPC_EXCL | 0o600);
        let mut objects = HostIpc { key, name, queue };
        if objects.queue.is_none() {
            return Err(Failure::error(format!(
                "make a System V queue on the host: {}",
                std::io::Error::last_os_error()
            )));
        }
        let c_name = c_string(&objects.name)?;
        let mode: nix::libc::mode_t = 0o600;
        // SAFETY: `c_name` is NUL-terminated; with O_CREAT, mq_open reads a
        // mode and an attribute pointer (null: the defaults).
        let posix = unsafe {
            nix::libc::mq_open(
                c_name.as_ptr(),
                nix::libc::O_CREAT | nix::libc::O_EXCL | nix::libc::O_RDONLY,
                mode,
                std::ptr::null::<nix::libc::mq_attr>(),
            )
        };
        if posix < 0 {
            objects.name.clear();
            return Err(Failure::error(format!("make a POSIX queue on the host: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: `posix` is the descriptor mq_open just returned.
        unsafe { nix::libc::mq_close(posix) };
        Ok(objects)
    }
}

impl Drop for HostIpc {
    fn drop(&mut self) {
        if let Some(queue) = self.queue {
            // SAFETY: IPC_RMID takes no buffer; a null pointer is allowed.
            unsafe { nix::libc::msgctl(queue, nix::libc::IPC_RMID, std::ptr::null_mut()) };
        }
        if let Ok(name) = c_string(&self.name) {
            // SAFETY: `name` is NUL-terminated; a missing queue is ENOENT.
            unsafe { nix::libc::mq_unlink(name.as_ptr()) };
        }
    }
}

/// A random System V key and POSIX queue name, so no earlier run or other
/// program can have made them.
fn fresh_ipc_names() -> Result<(i32, String), Failure> {
    let bytes = crate::ctx::random_bytes::<4>("an IPC key")?;
    // Positive and above the keys programs usually pick.
    let key = (i32::from_ne_bytes(bytes) & 0x3fff_ffff) | 0x4000_0000;
    Ok((key, format!("/greenroom-{key:x}")))
}

fn sysv_queue(key: i32, flags: i32) -> Option<i32> {
    // SAFETY: msgget takes no pointers and returns -1 on failure.
    let queue = unsafe { nix::libc::msgget(key, flags) };
    (queue >= 0).then_some(queue)
}

fn posix_queue_exists(name: &str) -> bool {
    let Ok(name) = c_string(name) else { return false };
    // SAFETY: `name` is NUL-terminated; without O_CREAT no variadic
    // argument is read.
    let queue = unsafe { nix::libc::mq_open(name.as_ptr(), nix::libc::O_RDONLY) };
    if queue < 0 {
        return false;
    }
    // SAFETY: `queue` is the descriptor mq_open just returned.
    unsafe { nix::libc::mq_close(queue) };
    true
}

fn c_string(text: &str) -> Result<std::ffi::CString, Failure> {
    std::ffi::CString::new(text).map_err(|_| Failure::error(format!("{text:?} contains a NUL byte")))
}
