//! Chapter 6 — cgroups: memory, pids and CPU limits, a cgroup namespace,
//! OOM kills told apart, and no cgroup left behind.
//!
//! The limits are read back from inside, through the cgroup2 the runtime
//! mounts in the container (`probe cgroup`), and felt by loads that run
//! into them (`probe fork-many`, `probe hog`, a busy loop). Outside, the
//! suite looks at what is left in each run's own cgroup once the runtime
//! has exited ([`Run::cgroups_left`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use contract::{plain, CgroupView, Errno, Forked, Hogged, Pressed};

use crate::chapters::ch03_rootfs::{expect_mounts, WantedMount};
use crate::ctx::{clip, expect_eq, Ctx, Failure, ProbeCall, Run, ROOTFS_PROBE};
use crate::user::User;
use crate::TestCase;

/// Chapter 6's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(6);
    vec![
        test(
            "limits-read-back-inside",
            3,
            "--memory, --pids and --cpus read back from the container's own cgroup files (memory.max, memory.swap.max, pids.max, cpu.max); --memory in bytes, K and G, --cpus 0.01 and every CPU too",
            "the limits asked for should be in force inside, and readable there",
            "ch06-cgroups.md#creating-the-cgroup",
            limits_read_back_inside,
        ),
        test(
            "cgroup-namespace-root",
            2,
            "inside, /proc/self/cgroup reads 0::/ and /sys/fs/cgroup shows only the container's own subtree",
            "inside, the container's cgroup should look like the root",
            "ch06-cgroups.md#a-cgroup-namespace-after-the-move",
            cgroup_namespace_root,
        ),
        test(
            "cgroup-mount-read-only",
            1,
            "inside, /sys/fs/cgroup is a cgroup2 mounted ro, nosuid, nodev and noexec",
            "the container may read its cgroup's files, never change its cgroup tree",
            "ch06-cgroups.md#a-cgroup-namespace-after-the-move",
            cgroup_mount_read_only,
        ),
        test(
            "fork-bomb-stops-at-pids-max",
            2,
            "a fork bomb under --pids 16 is refused new processes, and the runtime ends with the command's own status",
            "a fork bomb should stop at the process limit",
            "ch06-cgroups.md#creating-the-cgroup",
            fork_bomb_stops_at_pids_max,
        ),
        test(
            "oom-kill-reported",
            2,
            "a memory hog over --memory 32M is killed by the kernel: exit 137, one line on stderr saying it ran out of \
             memory, and no cgroup left",
            "running out of memory should be reported as such",
            "ch06-cgroups.md#out-of-memory",
            oom_kill_reported,
        ),
        test(
            "plain-137-is-not-oom",
            1,
            "a command that runs into memory.max under --memory 32M (the kernel takes back memory it can spare, \
             kills nobody) and then kills itself with SIGKILL exits 137 with no out-of-memory message",
            "137 alone does not mean out of memory",
            "ch06-cgroups.md#out-of-memory",
            plain_137_is_not_oom,
        ),
        test(
            "cpu-quota-throttles",
            2,
            "a busy loop under --cpus 0.2 is throttled: cpu.stat's nr_throttled is above 0",
            "a CPU limit should slow a busy container down",
            "ch06-cgroups.md#creating-the-cgroup",
            cpu_quota_throttles,
        ),
        test(
            "no-cgroup-left",
            2,
            "no cgroup is left after the container ends, even when its command left a process running in the background",
            "after the container ends, no cgroup should be left",
            "ch06-cgroups.md#cleaning-up",
            no_cgroup_left,
        ),
        test(
            "joined-process-killed",
            2,
            "a process that joined the container's cgroup from outside its PID namespace (which the namespace's end \
             does not stop) is killed when the container ends, and the cgroup removed",
            "the end of the PID namespace is not the end of the cgroup: what is left in it must be killed before rmdir",
            "ch06-cgroups.md#cleaning-up",
            joined_process_killed,
        ),
        test(
            "nested-cgroup-removed",
            2,
            "a cgroup made inside the container's while it runs, with a host process in it, is killed and removed \
             with the container's; one that cannot be removed, or whose process no signal ends, is reported on stderr",
            "rmdir refuses a cgroup with cgroups below it: remove the deepest first, and say when one cannot go",
            "ch06-cgroups.md#cleaning-up",
            nested_cgroup_removed,
        ),
        test(
            "stale-cgroups-removed",
            2,
            "the empty cgroup a SIGKILLed runtime left under --cgroup-parent is removed by the next run",
            "cgroups left by a runtime that died should be removed by the next run",
            "ch06-cgroups.md#cleaning-up",
            stale_cgroups_removed,
        ),
        test(
            "bad-limits-refused",
            2,
            "bad limits (12Q, 0, +64M, -1, 1e-1, more CPUs than the machine has) and a --cgroup-parent that exists but is no cgroup (/cgroup.procs, the host's /tmp) are refused with 125 before anything is created",
            "a bad limit must be refused before anything is created",
            "ch06-cgroups.md#parsing-the-limits",
            bad_limits_refused,
        ),
        test(
            "grader-limits-still-hold",
            1,
            "the container's cgroup is under the runtime's own, so the grader's pids limit still holds above --pids",
            "the container must stay within the limits of the cgroup the runtime runs in",
            "ch06-cgroups.md#where-the-cgroup-goes",
            grader_limits_still_hold,
        ),
        test(
            "rootless-limits-refused",
            1,
            "as an unprivileged user with no delegated cgroup, a limit is refused with 125, and a run without one works",
            "an unprivileged caller's limits must be refused clearly, or skipped when none is asked",
            "ch06-cgroups.md#delegation-and-rootless-cgroups",
            rootless_limits_refused,
        ),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "cpuset-applied",
            2,
            "--cpuset-cpus with the machine's last CPU: inside, Cpus_allowed_list names that CPU alone",
            "challenge: the goal and its rules are in the book; the cpuset controller is in the kernel's \
             cgroup-v2.rst",
            "ch06-cgroups.md#challenge-the-cpus-it-runs-on",
            cpuset_applied,
        )
        .as_challenge(),
        test(
            "bad-cpusets-refused",
            1,
            "--cpuset-cpus with a CPU the machine does not have, a range that runs backwards, or no number is \
             refused with 125, before the command runs",
            "challenge: the goal and its rules are in the book",
            "ch06-cgroups.md#challenge-the-cpus-it-runs-on",
            bad_cpusets_refused,
        )
        .as_challenge(),
    ]
}

/// The highest CPU this machine has online, from the kernel's list.
fn last_online_cpu() -> Result<u32, Failure> {
    let text = fs::read_to_string("/sys/devices/system/cpu/online")
        .map_err(|e| Failure::error(format!("read /sys/devices/system/cpu/online: {e}")))?;
    text.trim()
        .rsplit([',', '-'])
        .next()
        .and_then(|last| last.parse().ok())
        .ok_or_else(|| Failure::error(format!("/sys/devices/system/cpu/online reads {text:?}")))
}

fn cpuset_applied(ctx: &mut Ctx) -> Result<(), Failure> {
    let last = last_online_cpu()?.to_string();
    let flags = ["--net", "none", "--cpuset-cpus", last.as_str()];
    let run = ctx.run(&flags, &["/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status"])?;
    run.expect_code(0, &format!("the container should run with --cpuset-cpus {last}"))?;
    let inside = run.stdout.split(':').nth(1).map(str::trim).unwrap_or_default().to_string();
    if inside != last {
        return Err(Failure::fail(format!(
            "inside, the container may run on other CPUs than --cpuset-cpus {last}: its cgroup's cpuset.cpus must \
             hold the list, with the cpuset controller enabled for it"
        ))
        .compare(format!("Cpus_allowed_list: {last}"), run.stdout.trim().to_string()));
    }
    Ok(())
}

fn bad_cpusets_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let missing = (last_online_cpu()? + 1).to_string();
    let cases = [
        (missing.as_str(), "this machine has no such CPU"),
        ("1-0", "a range may not run backwards"),
        ("a", "CPUs are numbers"),
        ("0,", "a list does not end with a comma"),
    ];
    for (value, why) in cases {
        ctx.expect_refused_up_front(&["--net", "none", "--cpuset-cpus", value], why)?;
    }
    Ok(())
}

/// What `fork` fails with at `pids.max`.
const EAGAIN: Errno = Errno(11);

/// Reads `call`'s answer from `run`, with a pointed word first for a
/// runtime that failed on cgroup v1 paths.
fn answer<T: contract::Document>(call: &ProbeCall<T>, run: &Run) -> Result<T, Failure> {
    if run.code != Some(0) {
        return Err(Failure::fail(format!(
            "the container running `probe {}` should exit with 0{}",
            T::SUBCOMMAND,
            v1_hint(run)
        ))
        .compare("exit code 0", run.describe()));
    }
    call.read(run)
}

/// A pointed word for a runtime that went looking for cgroup v1 files.
fn v1_hint(run: &Run) -> &'static str {
    let v1 = ["memory.limit_in_bytes", "/sys/fs/cgroup/memory/", "/sys/fs/cgroup/pids/", "cpu.cfs_quota_us"];
    if v1.iter().any(|path| run.stderr.contains(path)) {
        ": the runtime used cgroup v1 paths (memory.limit_in_bytes, /sys/fs/cgroup/memory/…); cgroup v2 has one \
         tree, with memory.max, pids.max and cpu.max in each cgroup's own directory"
    } else {
        ""
    }
}

/// Runs `probe cgroup SPIN_MS` in a fresh rootfs with `limits`.
fn view(ctx: &mut Ctx, limits: &[&str], spin_ms: &str) -> Result<CgroupView, Failure> {
    let rootfs = ctx.rootfs()?;
    let mut flags = vec!["--net", "none", "--rootfs", rootfs.as_str()];
    flags.extend_from_slice(limits);
    let call = ProbeCall::<CgroupView>::new(ROOTFS_PROBE, &[spin_ms])?;
    let run = ctx.run(&flags, &call.command())?;
    answer(&call, &run)
}

fn file<'a>(view: &'a CgroupView, name: &str) -> Option<&'a str> {
    view.files.get(name).map(String::as_str)
}

/// Fails unless cgroup2 is mounted at `/sys/fs/cgroup` inside, saying
/// that nothing is, so no reading of its files is blamed on anything else.
fn expect_mounted(view: &CgroupView) -> Result<(), Failure> {
    match view.mounted {
        Some(true) => Ok(()),
        Some(false) => Err(Failure::fail(
            "no cgroup2 is mounted at /sys/fs/cgroup inside, so the container cannot read its own cgroup: after \
             entering the cgroup namespace, mount cgroup2 there (read-only)",
        )
        .compare("cgroup2 on /sys/fs/cgroup", "nothing mounted there")),
        None => Err(Failure::error("the probe could not read its mount table (/proc/self/mountinfo)")),
    }
}

/// Compares the limit file `name`, as read inside, with `wanted` (what
/// `asked` is in the file's terms), saying which mistake a wrong value
/// points at: still the kernel's default (`unlimited`), written too late
/// or never; a size read in powers of 1000 (`decimal` bytes, which the
/// kernel rounds down to whole pages); or just wrong.
fn expect_limit(
    name: &str,
    asked: &str,
    wanted: &str,
    unlimited: &str,
    decimal: Option<u64>,
    found: Option<&str>,
) -> Result<(), Failure> {
    let found = found.unwrap_or("(no such file)");
    if found == wanted {
        return Ok(());
    }
    let why = if found == unlimited {
        format!(
            "{name} inside is still {unlimited:?}, as if no limit had been asked: it was written after the command \
             started, or not at all"
        )
    } else if decimal.is_some_and(|bytes| found.parse::<u64>().is_ok_and(|n| n == bytes || n == bytes / 4096 * 4096)) {
        format!(
            "{name} inside is {found}: {asked} was read in powers of 1000; K, M and G are powers of 1024 \
             ({asked} = {wanted} bytes)"
        )
    } else if found == "(no such file)" {
        format!("{name} is missing inside: was its controller enabled in the parent's cgroup.subtree_control?")
    } else {
        format!("{name} inside is not what {asked} asks for: the limit written is wrong")
    };
    Err(Failure::fail(why).compare(format!("{wanted:?}"), format!("{found:?}")))
}

fn limits_read_back_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    let view = view(ctx, &["--memory", "48M", "--pids", "40", "--cpus", "0.5"], "0")?;
    expect_mounted(&view)?;
    expect_limit("memory.max", "--memory 48M", "50331648", "max", Some(48_000_000), file(&view, "memory.max"))?;
    if let Some(swap) = file(&view, "memory.swap.max") {
        expect_eq("memory.swap.max inside: 0, so a container over its limit is killed, not swapped", "0", swap)?;
    }
    expect_limit("pids.max", "--pids 40", "40", "max", None, file(&view, "pids.max"))?;
    // cpu.max is "QUOTA PERIOD" in µs: 0.5 CPU of a 100000 µs period.
    expect_limit("cpu.max", "--cpus 0.5", "50000 100000", "max 100000", None, file(&view, "cpu.max"))?;
    // The other ways to write a size (plain bytes, memory.max's own unit;
    // K; G) and the edges of --cpus (the least quota the kernel takes; every
    // CPU there is). Each run has a rootfs of its own: a container may have
    // changed the one before.
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    let all_cpus = online.to_string();
    let all_quota = format!("{} 100000", online * 100_000);
    let all_why = format!("{online}, every CPU there is, is allowed: only more than that is refused");
    let others: [OtherLimit; 5] = [
        OtherLimit {
            flag: "--memory",
            value: "41943040",
            file: "memory.max",
            wanted: "41943040",
            decimal: None,
            why: "a size without a unit is a number of bytes (K, M and G are optional), and it is memory.max's own unit",
        },
        OtherLimit {
            flag: "--memory",
            value: "40960K",
            file: "memory.max",
            wanted: "41943040",
            decimal: Some(40_960_000),
            why: "K is a unit as M is: KiB, 1024 bytes",
        },
        OtherLimit {
            flag: "--memory",
            value: "1G",
            file: "memory.max",
            wanted: "1073741824",
            decimal: Some(1_000_000_000),
            why: "G is a unit as M is: GiB, 1024 MiB",
        },
        OtherLimit {
            flag: "--cpus",
            value: "0.01",
            file: "cpu.max",
            wanted: "1000 100000",
            decimal: None,
            why: "0.01 is a quota of 1000 µs, the least the kernel takes: only less is refused (is the check off by one?)",
        },
        OtherLimit { flag: "--cpus", value: &all_cpus, file: "cpu.max", wanted: &all_quota, decimal: None, why: &all_why },
    ];
    for (n, other) in others.iter().enumerate() {
        let rootfs = ctx.scratch_path(&format!("rootfs-limit-{n}"));
        ctx.rootfs_at(std::path::Path::new(&rootfs))?;
        let call = ProbeCall::<CgroupView>::new(ROOTFS_PROBE, &["0"])?;
        let run = ctx.run(&["--net", "none", "--rootfs", &rootfs, other.flag, other.value], &call.command())?;
        let asked = format!("{} {}", other.flag, other.value);
        if run.code == Some(125) {
            return Err(Failure::fail(format!("{asked} was refused: {}", other.why))
                .compare("the container runs", run.describe()));
        }
        let view = answer(&call, &run)?;
        let unlimited = if other.file == "cpu.max" { "max 100000" } else { "max" };
        expect_limit(other.file, &asked, other.wanted, unlimited, other.decimal, file(&view, other.file))?;
    }
    Ok(())
}

/// A limit limits-read-back-inside's first run does not ask for: the flag
/// and its value, the file and what it should read, the bytes of a unit
/// read as a power of 1000, and why a refusal is wrong.
struct OtherLimit<'a> {
    flag: &'a str,
    value: &'a str,
    file: &'a str,
    wanted: &'a str,
    decimal: Option<u64>,
    why: &'a str,
}

fn cgroup_namespace_root(ctx: &mut Ctx) -> Result<(), Failure> {
    let view = view(ctx, &["--memory", "64M"], "0")?;
    let path = view.path.clone().unwrap_or_else(|| "(no 0:: line)".to_string());
    if path != "/" {
        return Err(Failure::fail(
            "inside, /proc/self/cgroup should read 0::/ — the container's cgroup is the root of its cgroup namespace. \
             Another path means the namespace was created before the child was moved into its cgroup (or not at all): \
             unshare CLONE_NEWCGROUP in enter_child, not in the clone flags",
        )
        .compare("0::/", format!("0::{path}")));
    }
    expect_mounted(&view)?;
    // A mount that shows the whole hierarchy has the suite's cgroup and its
    // runs' among its children; the container's own has none of them.
    // (What its limits read is limits-read-back-inside's to judge.)
    let children = view.children.clone().unwrap_or_default();
    let foreign: Vec<&String> =
        children.iter().filter(|name| name.starts_with("greenroom-suite") || name.starts_with("run-")).collect();
    if !foreign.is_empty() {
        return Err(Failure::fail(
            "/sys/fs/cgroup inside shows more than the container's own cgroup: mount cgroup2 from inside the new cgroup \
             namespace (its root is the container's cgroup)",
        )
        .compare(
            "the container's cgroup, without the hierarchy's other cgroups",
            format!("children {children:?}"),
        ));
    }
    Ok(())
}

/// The cgroup2 the runtime mounts inside, as the chapter asks for it.
const CGROUP_MOUNT: [WantedMount; 1] = [WantedMount {
    point: "/sys/fs/cgroup",
    fstype: "cgroup2",
    options: &["ro", "nosuid", "nodev", "noexec"],
    super_options: &[],
    mode: None,
}];

fn cgroup_mount_read_only(ctx: &mut Ctx) -> Result<(), Failure> {
    let rootfs = ctx.rootfs()?;
    let report = ctx.report(&["--net", "none", "--rootfs", &rootfs, "--memory", "64M"])?;
    let mountinfo =
        report.filesystem.mountinfo.ok_or_else(|| Failure::fail("the probe could not read its mount table"))?;
    expect_mounts(
        &mountinfo,
        &CGROUP_MOUNT,
        "mount it with MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC — written to, it would let root of the \
         container make cgroups below its own, move processes among them and limit them: the runtime's decisions",
    )
}

fn fork_bomb_stops_at_pids_max(ctx: &mut Ctx) -> Result<(), Failure> {
    let call = ctx.call::<Forked>(&["64"])?;
    let run = ctx.run(&["--net", "none", "--pids", "16"], &call.command())?;
    let forked = answer(&call, &run)?;
    if forked.started >= 16 || forked.errno != Some(EAGAIN) {
        return Err(Failure::fail(
            "under --pids 16 the container should be refused its 16th process (fork fails with EAGAIN): pids.max is \
             not in place when the command runs",
        )
        .compare(
            "fewer than 16 started, then EAGAIN (11)",
            format!("{} started, errno {:?}", forked.started, forked.errno.map(|e| e.0)),
        ));
    }
    Ok(())
}

fn mentions_oom(stderr: &str) -> bool {
    let lower = stderr.to_lowercase();
    lower.contains("out of memory") || lower.contains("oom")
}

fn oom_kill_reported(ctx: &mut Ctx) -> Result<(), Failure> {
    let call = ctx.call::<Hogged>(&["200"])?;
    let run = ctx.run(&["--net", "none", "--memory", "32M"], &call.command())?;
    if run.code != Some(137) {
        return Err(Failure::fail(format!(
            "a command allocating 200 MiB under --memory 32M should be killed by the kernel (exit 137){}",
            v1_hint(&run)
        ))
        .compare("exit code 137", run.describe()));
    }
    if !mentions_oom(&run.stderr) {
        return Err(Failure::fail(
            "the kernel's OOM killer ended the command, and the runtime said nothing: read memory.events after the command \
             died (oom_kill > 0) and say on stderr that the container ran out of memory",
        )
        .compare("a line saying the container ran out of memory", run.describe()));
    }
    if !run.cgroups_left.is_empty() {
        return Err(Failure::fail(
            "the OOM kill was reported, and then the container's cgroup was left behind: reading memory.events is \
             only the first step of cleaning up — whatever ended the command, the cgroup must still be removed",
        )
        .compare("no cgroup left", format!("{:?}", run.cgroups_left)));
    }
    Ok(())
}

/// What `probe press` touches under `--memory 32M`: 24 MiB given back
/// lazily, then 16 MiB held, 40 MiB in all — over the limit unless the
/// kernel takes the lazy pages back, which it does rather than kill.
const PRESS: [&str; 2] = ["24", "16"];

fn plain_137_is_not_oom(ctx: &mut Ctx) -> Result<(), Failure> {
    let rootfs = ctx.rootfs()?;
    let call = ProbeCall::<Pressed>::new(ROOTFS_PROBE, &PRESS)?;
    let run = ctx.run(&["--net", "none", "--rootfs", &rootfs, "--memory", "32M"], &call.command())?;
    run.expect_code(137, "a command that SIGKILLs itself should end the runtime with 137")?;
    // The probe answers, then kills itself: its answer is read as if it
    // had exited with 0.
    let pressed = call.read(&Run { code: Some(0), ..run.clone() })?;
    let Some(max_events) = pressed.max_events else {
        return Err(Failure::error(
            "the probe could not read memory.events inside (/sys/fs/cgroup): cannot tell whether it ran into memory.max",
        ));
    };
    if max_events == 0 || pressed.oom_kills != Some(0) {
        return Err(Failure::error(format!(
            "the probe was to run into memory.max with memory the kernel can take back, and no OOM kill: memory.events \
             says max {max_events}, oom_kill {:?}",
            pressed.oom_kills
        )));
    }
    if mentions_oom(&run.stderr) {
        return Err(Failure::fail(format!(
            "the command ran into memory.max ({max_events} times), the kernel took back memory it could spare and killed \
             nobody (oom_kill 0), then the command killed itself with SIGKILL — yet the runtime blamed memory: reaching \
             the limit is not an OOM kill, and 137 is any SIGKILL; only the oom_kill line of memory.events says the OOM \
             killer struck"
        ))
        .compare("no out-of-memory message", clip(run.stderr.trim(), 300)));
    }
    Ok(())
}

fn cpu_quota_throttles(ctx: &mut Ctx) -> Result<(), Failure> {
    let view = view(ctx, &["--cpus", "0.2"], "1500")?;
    expect_mounted(&view)?;
    expect_eq("cpu.max inside for --cpus 0.2", Some("20000 100000"), file(&view, "cpu.max"))?;
    let stat = file(&view, "cpu.stat").unwrap_or("");
    let throttled =
        stat.lines().find_map(|line| line.strip_prefix("nr_throttled ")).and_then(|n| n.trim().parse::<u64>().ok());
    match throttled {
        Some(n) if n > 0 => Ok(()),
        _ => Err(Failure::fail(
            "1.5 s of busy loop under --cpus 0.2 was never throttled: the cpu controller must be enabled in every parent's \
             cgroup.subtree_control and cpu.max written before the command runs",
        )
        .compare("nr_throttled > 0", clip(stat, 300))),
    }
}

fn expect_nothing_left(run: &Run, what: &str) -> Result<(), Failure> {
    if run.cgroups_left.is_empty() {
        return Ok(());
    }
    Err(Failure::fail(format!(
        "{what}: cgroups were left in the runtime's cgroup after it exited — kill what is left (cgroup.kill), wait for \
         cgroup.procs to empty, rmdir; and leave and remove the runtime's own leaf"
    ))
    .compare("no cgroup left", format!("{:?}", run.cgroups_left)))
}

fn no_cgroup_left(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let run = ctx.run(&["--net", "none", "--memory", "64M", "--pids", "32"], &[&probe, "exit", "3"])?;
    run.expect_code(3, "the runtime should relay the command's exit code 3")?;
    expect_nothing_left(&run, "after a plain run")?;
    let rootfs = ctx.rootfs()?;
    let started = Instant::now();
    let run = ctx.run(
        &["--net", "none", "--rootfs", &rootfs, "--pids", "32"],
        &["/bin/sh", "-c", "/probe sleep 60000 & exit 0"],
    )?;
    run.expect_code(0, "a command that leaves a process in the background and exits 0")?;
    if started.elapsed() > Duration::from_secs(30) {
        return Err(Failure::fail(
            "the runtime waited for the background process: the command's exit ends the container",
        ));
    }
    expect_nothing_left(&run, "after a command that left a process in the background")
}

/// The cgroup `pid` is in, as a folder of the suite's cgroup2 mount.
fn cgroup_of(pid: u32) -> Option<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cgroup2 = crate::mountinfo::parse(&mountinfo).into_iter().find(|m| m.fstype == "cgroup2")?;
    let lines = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = lines.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some(Path::new(cgroup2.point).join(path.trim_start_matches('/')))
}

fn joined_process_killed(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let (running, dir, release) = waiting_container(ctx, "joined")?;
    // A process from outside the PID namespace joins the cgroup, as one
    // that `nsenter --cgroup` or a monitoring agent put there would: the
    // init's end does not take it along.
    let mut joiner = host_sleeper(&probe)?;
    let joined = fs::write(dir.join("cgroup.procs"), joiner.id().to_string());
    let _ = fs::write(&release, "");
    let run = running.wait();
    let _ = joiner.kill();
    let _ = joiner.wait();
    joined.map_err(|e| Failure::error(format!("move a host process into {}: {e}", dir.display())))?;
    let run = run?;
    if !run.cgroups_left.is_empty() {
        return Err(Failure::fail(format!(
            "a process that joined the container's cgroup from outside its PID namespace (host pid {}) was still in \
             it when the container ended, and the cgroup was left: rmdir fails (EBUSY) while a process is in it — \
             kill every process in the cgroup (cgroup.kill), wait for cgroup.procs to empty, then rmdir",
            joiner.id()
        ))
        .compare("no cgroup left", format!("{:?}; {}", run.cgroups_left, run.describe())));
    }
    run.expect_code(0, "the command exited 0, and the runtime should relay it")
}

/// Starts a container whose command waits for the file `release`, and
/// returns it with its cgroup as the host sees it (the init's) and the
/// path of `release`; a failure when the command never started under an
/// init, the runtime's child.
fn waiting_container(ctx: &mut Ctx, name: &str) -> Result<(crate::ctx::Running, PathBuf, String), Failure> {
    let probe = ctx.probe();
    let (started, release) =
        (ctx.scratch_path(&format!("{name}-started")), ctx.scratch_path(&format!("{name}-release")));
    let command = [probe.as_str(), plain::TOUCH_AWAIT, &started, &release, "20000"];
    let running = ctx.spawn(&["--net", "none", "--pids", "32"], &command, &[])?;
    let up = wait_for("", Duration::from_secs(10), || Path::new(&started).exists());
    let init = crate::chapters::ch02_pid::children_of(running.pid()).first().copied();
    match init.filter(|_| up.is_ok()).and_then(cgroup_of) {
        Some(dir) => Ok((running, dir, release)),
        None => {
            let _ = fs::write(&release, "");
            let run = running.wait()?;
            Err(Failure::fail("the command never started under an init, the runtime's child")
                .compare("runtime -> init -> command, the probe running", run.describe()))
        }
    }
}

/// A `probe sleep` of the host's, outside any container, for a test to
/// move into one's cgroup.
fn host_sleeper(probe: &str) -> Result<std::process::Child, Failure> {
    std::process::Command::new(probe)
        .args([plain::SLEEP, "30000"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Failure::error(format!("start a host process: {e}")))
}

/// Unmounts what a test mounted, even when it fails half-way.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn nested_cgroup_removed(ctx: &mut Ctx) -> Result<(), Failure> {
    // An agent of the host (or a container given a delegated cgroup) makes
    // a cgroup below the container's and puts a process there: the end of
    // the container takes neither along.
    let (running, dir, release) = waiting_container(ctx, "nested")?;
    let inner = dir.join("inner");
    let mut joiner = host_sleeper(&ctx.probe())?;
    let joined = fs::create_dir(&inner).and_then(|()| fs::write(inner.join("cgroup.procs"), joiner.id().to_string()));
    let _ = fs::write(&release, "");
    let run = running.wait();
    let survived = matches!(joiner.try_wait(), Ok(None));
    let _ = joiner.kill();
    let _ = joiner.wait();
    joined.map_err(|e| Failure::error(format!("make {} with a host process in it: {e}", inner.display())))?;
    let run = run?;
    if !run.cgroups_left.is_empty() {
        return Err(Failure::fail(
            "a cgroup made inside the container's (a host process in it) was left, and the container's with it: rmdir \
             fails (EBUSY) on a cgroup with cgroups below it or processes in it — kill every process in the subtree \
             (cgroup.kill), wait for them to go, then remove the cgroups below first, the deepest first",
        )
        .compare("no cgroup left", format!("{:?}; {}", run.cgroups_left, run.describe())));
    }
    if survived {
        return Err(Failure::fail(format!(
            "the host process moved into a cgroup inside the container's (pid {}) was still alive after the runtime \
             exited: every process of the subtree must be killed, not only those of the container's own cgroup",
            joiner.id()
        )));
    }
    run.expect_code(0, "the command exited 0, and the runtime should relay it")?;

    // A cgroup below that cannot be removed: another (empty) cgroup is
    // mounted on it, and rmdir refuses a mount point with EBUSY. The
    // runtime cannot fix that, but must say so.
    let Some(suite) = ctx.cgroup_parent.clone() else {
        return Err(Failure::error("this test needs cgroup v2 on the machine running the suite"));
    };
    let spare = TestParent(suite.join(format!("ch06-spare-{}", std::process::id())));
    fs::create_dir(&spare.0).map_err(|e| Failure::error(format!("create {}: {e}", spare.0.display())))?;
    let (running, dir, release) = waiting_container(ctx, "stuck")?;
    let inner = dir.join("inner");
    let made = fs::create_dir(&inner);
    let mounted = made.as_ref().map_err(|e| e.to_string()).and_then(|()| {
        let flags = nix::mount::MsFlags::MS_BIND;
        let bound = nix::mount::mount(Some(&spare.0), &inner, None::<&str>, flags, None::<&str>);
        bound.map(|()| Mounted(inner.clone())).map_err(|e| e.to_string())
    });
    let _ = fs::write(&release, "");
    // The mount must go once the runtime has exited, before the suite
    // sweeps the run's cgroup (`wait` does), or the sweep meets it too.
    let gave_up = ended_within(running.pid(), GIVE_UP);
    let mounted = mounted.map(drop);
    let run = running.wait()?;
    mounted.map_err(|e| Failure::error(format!("make {} and mount a cgroup on it: {e}", inner.display())))?;
    expect_reported(&run, &dir, gave_up, "a cgroup inside it is a mount point, which rmdir refuses with EBUSY")?;

    // A process below that no signal ends: a kernel thread, which
    // cgroup.kill passes over and SIGKILL does not stop. The runtime cannot
    // empty that cgroup; it must give up after a while and say so.
    let (running, dir, release) = waiting_container(ctx, "unkillable")?;
    let inner = dir.join("inner");
    let moved = fs::create_dir(&inner)
        .map_err(|e| format!("make {}: {e}", inner.display()))
        .and_then(|()| KernelThread::move_into(&inner));
    let _ = fs::write(&release, "");
    let gave_up = ended_within(running.pid(), GIVE_UP);
    // The thread goes home (its drop) before the suite sweeps the run's cgroup.
    let moved = moved.map(|thread| thread.pid);
    let run = running.wait()?;
    let thread = moved.map_err(Failure::error)?;
    let why =
        format!("a cgroup inside it holds kernel thread {thread}, which cgroup.kill passes over and no signal ends");
    expect_reported(&run, &dir, gave_up, &why)
}

/// How long after its command's end a runtime may take to give up on a
/// cgroup it cannot remove: its own wait (a few seconds) and some room.
const GIVE_UP: Duration = Duration::from_secs(6);

/// Whether the runtime `pid` ended (exited, reaped or not) within `limit`.
fn ended_within(pid: u32, limit: Duration) -> bool {
    wait_for("", limit, || !alive(pid)).is_ok()
}

/// The runtime could not remove the container's cgroup `dir`, because
/// `why`: it must have ended in time (`gave_up`), said so on stderr naming
/// the cgroup, and kept the command's exit code 0.
fn expect_reported(run: &Run, dir: &Path, gave_up: bool, why: &str) -> Result<(), Failure> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !gave_up {
        return Err(Failure::fail(format!(
            "the container's cgroup {name} cannot be removed ({why}), and the runtime was still at it {} s after the \
             command ended: give up, and report the cgroup that could not be removed",
            GIVE_UP.as_secs()
        )));
    }
    if !run.stderr.contains(&name) {
        return Err(Failure::fail(format!(
            "the container's cgroup {name} could not be removed ({why}), and the runtime did not say so on stderr: a \
             cgroup that cannot be removed is an error to report, naming it, not to leave in silence"
        ))
        .compare(format!("stderr naming {name}"), run.describe()));
    }
    run.expect_code(0, "the command exited 0: a cleanup that failed is reported, and the exit code stays the command's")
}

/// A kernel thread a test moved into a cgroup, moved back where it was
/// when dropped.
struct KernelThread {
    pid: u32,
    home: PathBuf,
}

impl KernelThread {
    /// Moves one of the kernel's threads into `dir`: the first child of
    /// kthreadd that the kernel lets move (not those bound to a CPU).
    fn move_into(dir: &Path) -> Result<KernelThread, String> {
        let threads = crate::chapters::ch02_pid::children_of(2);
        for pid in threads {
            let Some(home) = cgroup_of(pid) else { continue };
            if fs::write(dir.join("cgroup.procs"), pid.to_string()).is_ok() {
                return Ok(KernelThread { pid, home });
            }
        }
        Err(format!("no kernel thread could be moved into {}", dir.display()))
    }
}

impl Drop for KernelThread {
    fn drop(&mut self) {
        let _ = fs::write(self.home.join("cgroup.procs"), self.pid.to_string());
    }
}

/// Whether `pid` is still running (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
}

/// A cgroup made by a test, killed and removed at the end.
struct TestParent(PathBuf);

impl Drop for TestParent {
    fn drop(&mut self) {
        for name in children(&self.0) {
            let dir = self.0.join(name);
            let _ = fs::write(dir.join("cgroup.kill"), "1");
            let deadline = Instant::now() + Duration::from_secs(2);
            while fs::remove_dir(&dir).is_err() && dir.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let _ = fs::remove_dir(&self.0);
    }
}

fn children(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let dirs = entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir()));
    dirs.map(|e| e.file_name().to_string_lossy().into_owned()).collect()
}

fn populated(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|procs| !procs.trim().is_empty())
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            return Err(Failure::fail(what.to_string()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn stale_cgroups_removed(ctx: &mut Ctx) -> Result<(), Failure> {
    let Some(suite) = ctx.cgroup_parent.clone() else {
        return Err(Failure::error("this test needs cgroup v2 on the machine running the suite"));
    };
    // The suite's folder sits at the root of the hierarchy (sandbox::suite_cgroup).
    let name = format!("ch06-parent-{}", std::process::id());
    let parent = TestParent(suite.join(&name));
    fs::create_dir(&parent.0).map_err(|e| Failure::error(format!("create {}: {e}", parent.0.display())))?;
    let relative = format!("{}/{name}", suite.file_name().and_then(|n| n.to_str()).unwrap_or("greenroom-suite"));
    let probe = ctx.probe();
    let flags = ["--net", "none", "--pids", "32", "--cgroup-parent", relative.as_str()];
    let running = ctx.spawn(&flags, &[&probe, "sleep", "2500"], &[])?;
    let runtime = running.pid();
    let appeared =
        wait_for("", Duration::from_secs(10), || children(&parent.0).iter().any(|n| populated(&parent.0.join(n))));
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(runtime as i32), nix::sys::signal::Signal::SIGKILL);
    let _ = running.wait();
    appeared.map_err(|_| {
        Failure::fail(format!(
            "with --cgroup-parent {relative}, no cgroup with the container in it appeared under /sys/fs/cgroup/{relative}"
        ))
    })?;
    // The container outlives its runtime until its command ends.
    wait_for("the container of the killed runtime never ended", Duration::from_secs(20), || {
        children(&parent.0).iter().all(|n| !populated(&parent.0.join(n)))
    })
    .map_err(|failure| Failure::error(failure.message))?;
    let left_by_killed = children(&parent.0);
    let run = ctx.run(&flags, &[&probe, "exit", "0"])?;
    run.expect_code(0, "the next run under the same --cgroup-parent")?;
    let left = children(&parent.0);
    if !left.is_empty() {
        return Err(Failure::fail(
            "the cgroups a SIGKILLed runtime left (empty, their runtime gone) are still there after the next run: on start, \
             remove the empty cgroups under the parent whose runtime pid no longer exists",
        )
        .compare(format!("none of {left_by_killed:?}"), format!("{left:?}")));
    }
    Ok(())
}

fn bad_limits_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.scratch_path("ran");
    let probe = ctx.probe();
    let too_many = (std::thread::available_parallelism().map_or(1, |n| n.get()) + 1).to_string();
    let tmp_before = tmp_entries();
    let cases: [(&str, &str); 10] = [
        ("--memory", "12Q"),
        ("--memory", "0"),
        // Numbers that Rust's parse takes, and a limit must not: a sign, an exponent.
        ("--memory", "+64M"),
        ("--pids", "0"),
        ("--pids", "-1"),
        ("--cpus", "0"),
        ("--cpus", "1e-1"),
        ("--cpus", too_many.as_str()),
        // Wrong, yet they exist: a file of the hierarchy, and a folder of
        // the host's that is no cgroup (the path is the hierarchy's).
        ("--cgroup-parent", "/cgroup.procs"),
        ("--cgroup-parent", "/tmp"),
    ];
    for (flag, value) in cases {
        let run = ctx.run(&["--net", "none", flag, value], &[&probe, "touch", &marker])?;
        let how = match value {
            "+64M" => " (digits only: str::parse alone takes a leading +)",
            "1e-1" => " (digits and a dot only: f64's parse alone takes an exponent)",
            _ => "",
        };
        run.expect_code(125, &format!("{flag} {value} should be refused with exit code 125{how}"))?;
        if Path::new(&marker).exists() {
            return Err(Failure::fail(format!("{flag} {value} was refused, yet the command ran")));
        }
        expect_nothing_left(&run, &format!("{flag} {value} was refused"))?;
        if run.stderr.trim().is_empty() {
            return Err(Failure::fail(format!("{flag} {value}: refused without a word on stderr: say what is wrong")));
        }
    }
    // Only folders a runtime wrote cgroup files into: other tests may be
    // making files in /tmp meanwhile.
    let made: Vec<String> = tmp_entries()
        .difference(&tmp_before)
        .filter(|name| Path::new("/tmp").join(name).join("cgroup.procs").exists())
        .cloned()
        .collect();
    if !made.is_empty() {
        return Err(Failure::fail(
            "--cgroup-parent /tmp made files in the host's /tmp: the parent is a path of the cgroup hierarchy, \
             under its mount point",
        )
        .compare("nothing new in /tmp", made.join(", ")));
    }
    Ok(())
}

/// The names in the host's `/tmp`.
fn tmp_entries() -> std::collections::BTreeSet<String> {
    let entries = std::fs::read_dir("/tmp").map(|entries| entries.flatten().collect::<Vec<_>>()).unwrap_or_default();
    entries.into_iter().filter_map(|entry| entry.file_name().into_string().ok()).collect()
}

fn grader_limits_still_hold(ctx: &mut Ctx) -> Result<(), Failure> {
    let limit: u32 = crate::sandbox::PIDS_MAX.parse().unwrap_or(256);
    let call = ctx.call::<Forked>(&["400"])?;
    let run = ctx.run(&["--net", "none", "--pids", "1000"], &call.command())?;
    let forked = answer(&call, &run)?;
    if forked.started >= limit {
        return Err(Failure::fail(format!(
            "with --pids 1000 the container started {} processes, past the {limit} the runtime's own cgroup allows: the \
             container's cgroup must be made under the runtime's (the 0:: line of /proc/self/cgroup), not beside it",
            forked.started
        ))
        .compare(format!("fewer than {limit}"), forked.started.to_string()));
    }
    Ok(())
}

fn rootless_limits_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let user = User::find()?;
    let dir = user.dir(ctx, "markers")?;
    ctx.as_user(&user);
    let probe = ctx.probe();
    let limited = format!("{dir}/limited");
    let run = ctx.run(&["--net", "none", "--memory", "64M"], &[&probe, "touch", &limited])?;
    run.expect_code(
        125,
        "an unprivileged user whose cgroup is not theirs asked for --memory: refuse it with 125 (no cgroup can be made)",
    )?;
    if Path::new(&limited).exists() {
        return Err(Failure::fail("--memory was refused, yet the command ran: refuse before anything starts"));
    }
    let plain = format!("{dir}/plain");
    let run = ctx.run(&["--net", "none"], &[&probe, "touch", &plain])?;
    if run.code != Some(0) || !Path::new(&plain).exists() {
        return Err(Failure::fail(
            "an unprivileged user asking for no limit should get a container without a cgroup, not an error",
        )
        .compare("exit code 0, the command ran", run.describe()));
    }
    Ok(())
}
