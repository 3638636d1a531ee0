//! Chapter 2 — pid: a PID namespace, a fresh /proc, and PID 1's duties.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use contract::{plain, Errno, Orphans, SignalOutcome};

use crate::ctx::{expect_eq, Ctx, Failure};
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
            "an orphaned grandchild is reaped by the init: no zombie remains",
            "one SIGCHLD may stand for several ended children, and not all of them are the command",
            "ch02-pid.md#pid-1s-duties",
            orphans_reaped,
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
            "host-proc-untouched",
            1,
            "the host's /proc and mount table are unchanged after the container ran",
            "a mount made where / is shared reaches the host: where, and with what propagation, was /proc \
             mounted?",
            "ch02-pid.md#a-fresh-proc",
            host_proc_untouched,
        )
        .run_alone(),
    ]
}

fn command_is_pid_2(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.report(&[])?;
    expect_eq(
        "the command's pid and its parent's, seen from inside",
        (2, Some(1)),
        (report.process.pid, report.process.ppid),
    )
}

fn own_pid_namespace(ctx: &mut Ctx) -> Result<(), Failure> {
    let host = crate::ctx::host_namespace("pid")?;
    let report = ctx.report(&[])?;
    let inside = report.namespaces.pid.unwrap_or_default();
    if inside == host {
        return Err(
            Failure::fail("the container shares the host's PID namespace").compare(format!("not {host}"), inside)
        );
    }
    Ok(())
}

fn proc_shows_only_the_container(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.report(&[])?;
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

fn orphans_reaped(ctx: &mut Ctx) -> Result<(), Failure> {
    let call = ctx.call::<Orphans>(&[])?;
    let orphans = ctx.ask(&[], &call)?;
    expect_eq("zombies left in the container after orphans exited (their pids)", vec![], orphans.zombies)
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

fn host_proc_untouched(ctx: &mut Ctx) -> Result<(), Failure> {
    let before = crate::ctx::host_mountinfo()?;
    let report = ctx.report(&[])?;
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
