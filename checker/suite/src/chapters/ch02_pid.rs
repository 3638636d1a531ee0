//! Chapter 2 — pid: a PID namespace, a fresh /proc, and PID 1's duties.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use contract::{plain, Errno, SignalOutcome};

use crate::ctx::{clip, expect_eq, Ctx, Failure};
use crate::TestCase;

/// Chapter 2's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(2);
    vec![
        test(
            "command-is-pid-2",
            2,
            "the command runs as PID 2, under the runtime's init as PID 1",
            "the container's first process should stay behind as its init, PID 1, while its child runs the \
             command",
            "ch02-pid.md#the-layer",
            command_is_pid_2,
        ),
        test(
            "own-pid-namespace",
            1,
            "the container has a PID namespace of its own",
            "the container needs process numbers of its own, asked for when it is created",
            "ch02-pid.md#the-layer",
            own_pid_namespace,
        ),
        test(
            "proc-shows-only-the-container",
            2,
            "/proc inside lists only the container's processes",
            "a /proc shows the PID namespace of whoever mounted it",
            "ch02-pid.md#a-fresh-proc",
            proc_shows_only_the_container,
        ),
        test(
            "host-processes-invisible",
            2,
            "a host process cannot be seen or signalled from inside",
            "the PID namespace hides host processes: make sure the command runs inside it",
            "ch02-pid.md#the-layer",
            host_processes_invisible,
        ),
        test(
            "orphans-reaped",
            2,
            "orphans that end together while the init is held stopped (their SIGCHLDs merge into one) are all \
             reaped once it runs again: no zombie remains",
            "one SIGCHLD may stand for several ended children, and not all of them are the command",
            "ch02-pid.md#pid-1s-duties",
            orphans_reaped,
        ),
        test(
            "init-holds-no-descriptors",
            1,
            "while the command runs, the container's init holds no descriptor beyond 0, 1 and 2 (none of the \
             runtime's pipes, none of the caller's files)",
            "the init never execs, so close-on-exec never closes what it inherited: it must let go of it itself",
            "ch02-pid.md#the-init",
            init_holds_no_descriptors,
        ),
        test(
            "signals-reach-the-command",
            2,
            "SIGTERM or SIGINT sent to the runtime reaches the command, and the exit code says so",
            "the runtime forwards signals to the init, and the init forwards them to the command",
            "ch02-pid.md#pid-1s-duties",
            signals_reach_the_command,
        ),
        test(
            "command-signals-unblocked",
            1,
            "the command starts with no signal blocked or ignored: the init's mask is the init's alone",
            "the mask survives fork and exec: in the command's half of start_init, put back the mask the runtime had \
             before the core blocked the init's signals",
            "ch02-pid.md#the-init",
            command_signals_unblocked,
        ),
        test(
            "init-killed-from-outside",
            2,
            "when the host kills the container's PID 1 with SIGKILL, the runtime exits with 137 and nothing is left",
            "the runtime's child is the init: report its end as for any child (128 + 9), and let the kernel end \
             the rest of the PID namespace with it",
            "ch02-pid.md#why-pid-1-is-special",
            init_killed_from_outside,
        )
        .run_alone(),
        test(
            "host-proc-untouched",
            1,
            "the host's /proc and mount table are unchanged after the container ran",
            "a mount made where / is shared reaches the host: where, and with what propagation, was /proc \
             mounted?",
            "ch02-pid.md#a-fresh-proc",
            host_proc_untouched,
        )
        .run_alone(),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "pid-file-written",
            2,
            "while the container runs, --pid-file holds its first process's host pid; then it is gone",
            "challenge: the goal and its rules are in the book; which pid does the host know the container's \
             first process by?",
            "ch02-pid.md#challenge-a-pid-file",
            pid_file_written,
        )
        .as_challenge(),
        test(
            "pid-file-refused",
            1,
            "a --pid-file that cannot be written is refused with 125, before the command runs",
            "challenge: the goal and its rules are in the book",
            "ch02-pid.md#challenge-a-pid-file",
            pid_file_refused,
        )
        .as_challenge(),
    ]
}

/// The challenge: the pid file holds the host's pid of the container's
/// init while the container runs, and is removed when it ends.
fn pid_file_written(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let file = ctx.scratch_path("container.pid");
    let (started, release) = (ctx.scratch_path("started"), ctx.scratch_path("release"));
    let command = [probe.as_str(), plain::TOUCH_AWAIT, &started, &release, "20000"];
    let running = ctx.spawn(&["--pid-file", &file], &command, &[])?;
    let up = wait_until(Duration::from_secs(10), || Path::new(&started).exists());
    let seen = std::fs::read_to_string(&file);
    let init = children_of(running.pid()).first().copied();
    let _ = std::fs::write(&release, "");
    let run = running.wait()?;
    if !up {
        return Err(Failure::fail("the command never started").compare("it running", run.describe()));
    }
    let text = seen.map_err(|e| {
        Failure::fail("no pid file while the container ran").compare(format!("{file} holding a pid"), e.to_string())
    })?;
    let pid: Option<u32> = text.strip_suffix('\n').and_then(|digits| digits.parse().ok());
    let Some(pid) = pid else {
        return Err(Failure::fail("the pid file should hold one pid, in decimal, and a newline")
            .compare("such as \"412\\n\"", format!("{text:?}")));
    };
    // The container's first process is its init, PID 1 inside: the one
    // the host sees as the runtime's child.
    expect_eq(
        "the pid file should hold the host's pid of the container's first process (PID 1 inside), the \
         runtime's child",
        init,
        Some(pid),
    )?;
    if Path::new(&file).exists() {
        return Err(
            Failure::fail("the pid file is still there after the container ended: remove it").compare("no file", file)
        );
    }
    Ok(())
}

/// The challenge: a pid file that cannot be written is refused first.
fn pid_file_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let nowhere = ctx.scratch_path("no-such-folder/container.pid");
    let folder = ctx.scratch_path("");
    for bad in [nowhere.as_str(), folder.as_str()] {
        ctx.expect_refused_up_front(&["--pid-file", bad], "nothing can be written there")?;
    }
    Ok(())
}

fn command_is_pid_2(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report(&[])?;
    expect_eq(
        "the command's pid and its parent's, seen from inside",
        (2, Some(1)),
        (report.process.pid, report.process.ppid),
    )
}

fn own_pid_namespace(ctx: &mut Ctx) -> Result<(), Failure> {
    let host = crate::ctx::host_namespace("pid")?;
    let report = ctx.shared_report(&[])?;
    let inside = report.namespaces.pid.unwrap_or_default();
    if inside == host {
        return Err(
            Failure::fail("the container shares the host's PID namespace").compare(format!("not {host}"), inside)
        );
    }
    Ok(())
}

fn proc_shows_only_the_container(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report(&[])?;
    expect_eq("the pids listed in the container's /proc", Some(vec![1, 2]), report.process.visible_pids)
}

fn host_processes_invisible(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut host = Command::new(&ctx.probe)
        .args([plain::SLEEP, "20000"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| Failure::error(format!("start a host process: {e}")))?;
    let host_pid = host.id().to_string();
    let call = ctx.call::<SignalOutcome>(&[&host_pid, "0"])?;
    let result = ctx.ask(&[], &call);
    let still_alive = matches!(host.try_wait(), Ok(None));
    let _ = host.kill();
    let _ = host.wait();
    let outcome = result?;
    if !still_alive {
        return Err(Failure::fail("the container killed a host process"));
    }
    if outcome.errno == Some(Errno::ESRCH) {
        return Ok(());
    }
    let actual = outcome.errno.map_or("the signal was delivered".to_string(), |errno| errno.to_string());
    Err(Failure::fail(format!(
        "signalling host pid {host_pid} from inside should fail with ESRCH: no such process in the container"
    ))
    .compare(Errno::ESRCH.to_string(), actual))
}

/// How many orphans `orphans-reaped` leaves to the init.
const ORPHANS: usize = 5;

fn orphans_reaped(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let (ready, release, done) = (ctx.scratch_path("ready"), ctx.scratch_path("release"), ctx.scratch_path("done"));
    // Each orphan is started in a subshell that exits at once, so the
    // kernel re-parents it to the init; then the command waits for `done`.
    let script = format!(
        "for i in $(seq {ORPHANS}); do (\"$0\" {await} \"$1.$i\" \"$2\" 30000 &); done; exec \"$0\" {await} \"$1\" \"$3\" 30000",
        await = plain::TOUCH_AWAIT
    );
    let running = ctx.spawn(&[], &["/bin/sh", "-c", &script, &probe, &ready, &release, &done], &[])?;
    let held = hold_orphans(running.pid(), &ready, &release);
    // Whatever happened, the init runs again and everything ends.
    if let Ok((init, _)) | Err((Some(init), _)) = &held {
        let _ = kill(Pid::from_raw(*init as i32), Signal::SIGCONT);
    }
    let _ = std::fs::write(&release, "");
    let reaped = held.map_err(|(_, failure)| failure).map(|(_, orphans)| {
        // A zombie leaves /proc once its parent has reaped it.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let zombies: Vec<u32> = orphans.iter().copied().filter(|pid| is_zombie(*pid)).collect();
            if zombies.is_empty() || Instant::now() > deadline {
                return zombies;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let _ = std::fs::write(&done, "");
    let run = running.wait()?;
    let zombies = reaped?;
    if !zombies.is_empty() {
        return Err(Failure::fail(format!(
            "{} of {ORPHANS} orphans that ended together, while the init was held stopped, were left as zombies \
             (host pids below): their SIGCHLDs merged into one, and the init reaped less than one child per signal \
             would — on SIGCHLD, reap with WNOHANG in a loop until no ended child is left",
            zombies.len()
        ))
        .compare("[]", format!("{zombies:?}")));
    }
    run.expect_code(0, "the command exited 0 once the orphans were gone, and the runtime should relay it")
}

/// Holds the condition `orphans-reaped` needs: once the command and its
/// orphans are up (`ready`, `ready.N`), stops the init (host pid), lets
/// the orphans end (`release`) and waits until every one is a zombie, so
/// that their SIGCHLDs are pending on the stopped init, merged. Returns the
/// init and the orphans; the caller continues the init.
fn hold_orphans(runtime: u32, ready: &str, release: &str) -> Result<(u32, Vec<u32>), (Option<u32>, Failure)> {
    let all_ready = || Path::new(ready).exists() && (1..=ORPHANS).all(|i| Path::new(&format!("{ready}.{i}")).exists());
    if !wait_until(Duration::from_secs(15), all_ready) {
        return Err((None, Failure::fail("the command and its orphans never all started")));
    }
    let Some(init) = children_of(runtime).first().copied() else {
        return Err((None, Failure::fail("the runtime has no child: where is the container's init?")));
    };
    let cmdline = |pid: u32| std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let is_orphan = |pid: &u32| {
        let line = cmdline(*pid);
        line.windows(release.len()).any(|w| w == release.as_bytes())
    };
    let orphans: Vec<u32> = children_of(init).into_iter().filter(is_orphan).collect();
    if orphans.len() != ORPHANS {
        return Err((
            Some(init),
            Failure::fail("the orphans were not re-parented to the container's init (PID 1)")
                .compare(format!("{ORPHANS} orphans under the init"), format!("{}", orphans.len())),
        ));
    }
    let _ = kill(Pid::from_raw(init as i32), Signal::SIGSTOP);
    if !wait_until(Duration::from_secs(10), || process_state(init) == Some('T')) {
        return Err((Some(init), Failure::error("the container's init could not be held stopped")));
    }
    let _ = std::fs::write(release, "");
    if !wait_until(Duration::from_secs(15), || orphans.iter().all(|pid| is_zombie(*pid))) {
        return Err((Some(init), Failure::error("the orphans did not end while the init was held stopped")));
    }
    Ok((init, orphans))
}

/// Polls `done` every 20 ms until it holds, for at most `timeout`.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The state letter of `/proc/PID/stat` (R, S, T, Z…), after the command
/// name, which may itself hold spaces or parentheses.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).and_then(|state| state.chars().next())
}

fn is_zombie(pid: u32) -> bool {
    process_state(pid) == Some('Z')
}

fn init_holds_no_descriptors(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let (started, release) = (ctx.scratch_path("started"), ctx.scratch_path("release"));
    let running = ctx.spawn(&[], &[&probe, plain::TOUCH_AWAIT, &started, &release, "20000"], &[])?;
    let up = wait_until(Duration::from_secs(10), || Path::new(&started).exists());
    let init = children_of(running.pid()).first().copied().filter(|_| up);
    // The init lets go of what it inherited as it starts, a moment after
    // the command's fork: give it that moment, generously.
    let mut held = Vec::new();
    if let Some(init) = init {
        wait_until(Duration::from_secs(5), || {
            held = descriptors_above_stderr(init);
            held.is_empty()
        });
    }
    let _ = std::fs::write(&release, "");
    let run = running.wait()?;
    if init.is_none() {
        return Err(Failure::fail("the command never started under an init, the runtime's child")
            .compare("runtime -> init -> command, the probe running", run.describe()));
    }
    if !held.is_empty() {
        return Err(Failure::fail(
            "the container's init (PID 1) still holds descriptors it inherited from the runtime while the command \
             runs: it never execs, so O_CLOEXEC never closes them — the runtime's pipes stay open (it cannot tell \
             when the command was executed) and the container can reach them through /proc/1/fd. Close every \
             descriptor above 2 as the init starts",
        )
        .compare("0, 1 and 2 only", held.join(", ")));
    }
    run.expect_code(0, "the command exited 0, and the runtime should relay it")
}

/// `FD -> TARGET` for each descriptor above 2 that `pid` has open.
fn descriptors_above_stderr(pid: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return Vec::new() };
    let mut fds: Vec<(u32, String)> = entries
        .flatten()
        .filter_map(|entry| {
            let fd: u32 = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).map(|t| t.display().to_string()).unwrap_or_default();
            (fd > 2).then_some((fd, target))
        })
        .collect();
    fds.sort();
    fds.into_iter().map(|(fd, target)| format!("{fd} -> {target}")).collect()
}

fn signals_reach_the_command(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    for (signal, code) in [(Signal::SIGTERM, 143), (Signal::SIGINT, 130)] {
        let started = ctx.scratch_path(&format!("started-{}", signal as i32));
        let running = ctx.spawn(&[], &[&probe, plain::TOUCH_SLEEP, &started, "8000"], &[])?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !Path::new(&started).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !Path::new(&started).exists() {
            let run = running.wait()?;
            return Err(Failure::fail("the command never started").compare("the probe running", run.describe()));
        }
        let _ = kill(Pid::from_raw(running.pid() as i32), signal);
        let run = running.wait()?;
        run.expect_code(code, &format!("{signal} sent to the runtime should end the command, giving {code}"))?;
    }
    Ok(())
}

/// The names of the signals set in a `SigBlk` or `SigIgn` mask (bit N-1 is
/// signal N).
fn signal_names(mask: u64) -> String {
    let names: Vec<String> = (1..=64)
        .filter(|n| mask & (1 << (n - 1)) != 0)
        .map(|n| Signal::try_from(n).map_or(format!("signal {n}"), |signal| signal.to_string()))
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Signals 32 and 33, which glibc keeps for itself (thread cancellation,
/// set*id across threads): no program linked with it can set them, and
/// it installs its own handlers when it needs them. A caller of the
/// runtime may have them ignored (`--host`), and nothing can undo that.
const GLIBC_RESERVED: u64 = 1 << 31 | 1 << 32;

fn command_signals_unblocked(ctx: &mut Ctx) -> Result<(), Failure> {
    let inherited = ctx.shared_report(&[])?.inherited;
    let (Some(blocked), Some(ignored)) = (inherited.signals_blocked, inherited.signals_ignored) else {
        return Err(Failure::fail("the probe could not read SigBlk and SigIgn in /proc/self/status"));
    };
    if blocked != 0 {
        return Err(Failure::fail(
            "the command started with signals blocked: a forwarded SIGTERM would wait, pending, forever",
        )
        .compare("none blocked", signal_names(blocked)));
    }
    // The probe, a Rust program, ignores SIGPIPE itself as it starts, so
    // that bit says nothing about the runtime.
    none_ignored(ignored & !(1 << (Signal::SIGPIPE as u64 - 1)))?;
    // So SIGPIPE is asked of a program that leaves it alone: busybox's grep,
    // reading its own status.
    let run = ctx.run(&[], &["grep", "^SigIgn:", "/proc/self/status"])?;
    run.expect_code(0, "grep ^SigIgn: /proc/self/status should run in the container")?;
    let field = run.stdout.trim().trim_start_matches("SigIgn:").trim();
    let ignored = u64::from_str_radix(field, 16)
        .map_err(|_| Failure::error("grep printed no SigIgn line").compare("SigIgn:\t<hex>", clip(&run.stdout, 100)))?;
    none_ignored(ignored)
}

/// Fails when `ignored` (a `SigIgn` mask) has a signal ignored, glibc's
/// reserved two aside, saying why SIGPIPE would be.
fn none_ignored(ignored: u64) -> Result<(), Failure> {
    let ignored = ignored & !GLIBC_RESERVED;
    if ignored == 0 {
        return Ok(());
    }
    let pipe = if ignored & (1 << (Signal::SIGPIPE as u64 - 1)) != 0 {
        " (SIGPIPE: Rust ignores it in every program it starts, the runtime included; set every signal back to \
         SIG_DFL before exec)"
    } else {
        ""
    };
    Err(Failure::fail(format!("the command started with signals ignored, a disposition exec keeps{pipe}"))
        .compare("none ignored", signal_names(ignored)))
}

/// The pids listed in `/proc/PID/task/PID/children`.
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|word| word.parse().ok()).collect()
}

fn init_killed_from_outside(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let started = ctx.scratch_path("started");
    let running = ctx.spawn(&[], &[&probe, plain::TOUCH_SLEEP, &started, "20000"], &[])?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !Path::new(&started).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The host's view: the runtime's child is the init, whose child is
    // the command, now running.
    let init = children_of(running.pid()).first().copied();
    let command = init.and_then(|init| children_of(init).first().copied());
    let (Some(init), Some(command)) = (init, command) else {
        let run = running.wait()?;
        return Err(Failure::fail("the command never started under an init, the runtime's child")
            .compare("runtime -> init -> command, the probe running", run.describe()));
    };
    let before = crate::ctx::host_mountinfo()?;
    let _ = kill(Pid::from_raw(init as i32), Signal::SIGKILL);
    let run = running.wait()?;
    run.expect_code(137, &format!("the container's PID 1 (host pid {init}) was killed by SIGKILL"))?;
    // What a later chapter leaves on the host must go even so: its cgroups
    // (chapter 6), and no mount may have reached the host's table.
    if !run.cgroups_left.is_empty() {
        return Err(Failure::fail("the runtime left its cgroups behind when its PID 1 was killed")
            .compare("no cgroup left", format!("{:?}", run.cgroups_left)));
    }
    let after = crate::ctx::host_mountinfo()?;
    if before != after {
        return Err(Failure::fail("the host's mount table changed while the container ran and was killed")
            .compare(crate::ctx::clip(&before, 400), crate::ctx::clip(&after, 400)));
    }
    let left: Vec<u32> = match &run.processes_left {
        Some(pids) => pids.clone(),
        None => [init, command].into_iter().filter(|pid| Path::new(&format!("/proc/{pid}")).exists()).collect(),
    };
    if !left.is_empty() {
        return Err(Failure::fail(
            "processes of the container outlived its PID 1 and the runtime: is the command in the container's \
             PID namespace?",
        )
        .compare("none", format!("{left:?}")));
    }
    Ok(())
}

fn host_proc_untouched(ctx: &mut Ctx) -> Result<(), Failure> {
    // The isolation matrix runs beside the tests: a /proc its container
    // leaked is not this test's to trip over (the suite names the leak).
    crate::sandbox::repair_host_proc();
    let before = crate::ctx::host_mountinfo()?;
    let host_mnt = crate::ctx::host_namespace("mnt")?;
    let report = ctx.report(&[])?;
    if report.namespaces.mnt.as_deref() == Some(host_mnt.as_str()) {
        return Err(Failure::fail(
            "the container shares the host's mount namespace: its /proc was mounted over the host's. A new PID \
             namespace needs a mount namespace of its own with it (CLONE_NEWNS), where the new /proc can go",
        )
        .compare(format!("a mount namespace other than {host_mnt}"), host_mnt));
    }
    let after = crate::ctx::host_mountinfo()?;
    expect_eq("the pids listed in the container's /proc", Some(vec![1, 2]), report.process.visible_pids)?;
    if before != after {
        return Err(Failure::fail("the host's mount table changed while the container ran")
            .compare(crate::ctx::clip(&before, 400), crate::ctx::clip(&after, 400)));
    }
    if !Path::new(&format!("/proc/{}", std::process::id())).exists() {
        return Err(Failure::fail("the host's /proc no longer shows the host's processes"));
    }
    Ok(())
}
