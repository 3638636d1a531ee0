//! Chapter 0 — spawn: clone, exec, wait, and relay the exit code.

use std::time::{Duration, Instant};

use contract::{plain, Report};

use crate::ctx::{expect_eq, Ctx, Failure};
use crate::TestCase;

/// Chapter 0's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(0);
    vec![
        test(
            "exit-code-relayed",
            1,
            "the runtime exits with the command's exit code",
            "the runtime must wait for its child and end with the child's own exit code",
            "ch00-spawn.md#exit-codes",
            exit_code_relayed,
        ),
        test(
            "output-relayed",
            1,
            "the command's stdout and stderr reach the caller, each on its own stream",
            "the command writes where the runtime writes: nothing between clone and exec should touch \
             stdout or stderr",
            "ch00-spawn.md#cloning",
            output_relayed,
        ),
        test(
            "argv-and-env-passed",
            1,
            "the command gets exactly its arguments and the caller's environment",
            "the command must get its arguments exactly as given, the ones that look like flags included, \
             and the caller's environment",
            "ch00-spawn.md#exec",
            argv_and_env_passed,
        ),
        test(
            "not-found-is-127",
            1,
            "a command that does not exist gives exit code 127 and a message",
            "a command that cannot be found is the shell's 127: look at why exec failed",
            "ch00-spawn.md#exit-codes",
            not_found_is_127,
        ),
        test(
            "not-executable-is-126",
            1,
            "a file without execute permission gives exit code 126",
            "a command that exists but cannot be executed is the shell's 126: look at why exec failed",
            "ch00-spawn.md#exit-codes",
            not_executable_is_126,
        ),
        test(
            "signal-is-128-plus-n",
            1,
            "a command killed by signal N gives exit code 128 + N",
            "a command killed by a signal has no exit code of its own: the shell's convention gives it one",
            "ch00-spawn.md#exit-codes",
            signal_is_128_plus_n,
        ),
        test(
            "runs-in-a-child",
            1,
            "the command runs in a child process while the runtime waits",
            "exec must happen in a new process, while the runtime itself stays alive to wait for it",
            "ch00-spawn.md#cloning",
            runs_in_a_child,
        ),
        test(
            "waits-for-the-command",
            1,
            "the runtime does not exit before its command has finished",
            "the runtime must not end before its command has",
            "ch00-spawn.md#exit-codes",
            waits_for_the_command,
        ),
        test(
            "only-stdio-inherited",
            1,
            "the command holds descriptors 0, 1 and 2 only: none of the runtime's, none of its caller's",
            "a descriptor without close-on-exec survives exec: make the core's pipes with O_CLOEXEC, and mark \
             the descriptors the runtime's caller left open (3 and up) close-on-exec when run starts",
            "ch00-spawn.md#how-the-parent-learns-that-exec-worked",
            only_stdio_inherited,
        ),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "env-set-and-cleared",
            2,
            "--env sets the command's variables, a later one winning; --clear-env starts it empty",
            "challenge: the goal and its rules are in the book; environ(7) and execve(2) say how a process \
             gets its environment",
            "ch00-spawn.md#challenge-the-commands-environment",
            env_set_and_cleared,
        )
        .as_challenge(),
        test(
            "env-refused",
            1,
            "an --env that is not KEY=VALUE is refused with 125, before the command runs",
            "challenge: the goal and its rules are in the book",
            "ch00-spawn.md#challenge-the-commands-environment",
            env_refused,
        )
        .as_challenge(),
    ]
}

/// The challenge: `--env` added to the caller's environment, and with
/// `--clear-env` to nothing else.
fn env_set_and_cleared(ctx: &mut Ctx) -> Result<(), Failure> {
    let call = ctx.call::<Report>(&[])?;
    let flags = ["--env", "GREENROOM_A=1", "--env", "GREENROOM_B=x=y", "--env", "GREENROOM_A=2"];
    let running = ctx.spawn(&flags, &call.command(), &[("GREENROOM_KEPT", "kept")])?;
    let env = call.read(&running.wait()?)?.process.env;
    let get = |key: &str| env.get(key).map(String::as_str);
    expect_eq("--env GREENROOM_A=1, then --env GREENROOM_A=2: the later one wins", Some("2"), get("GREENROOM_A"))?;
    expect_eq("--env GREENROOM_B=x=y: the value is all after the first '='", Some("x=y"), get("GREENROOM_B"))?;
    expect_eq("without --clear-env, the caller's environment stays", Some("kept"), get("GREENROOM_KEPT"))?;
    let call = ctx.call::<Report>(&[])?;
    let running =
        ctx.spawn(&["--clear-env", "--env", "GREENROOM_ONLY=1"], &call.command(), &[("GREENROOM_KEPT", "kept")])?;
    let env = call.read(&running.wait()?)?.process.env;
    let only: std::collections::BTreeMap<String, String> = [("GREENROOM_ONLY".to_string(), "1".to_string())].into();
    expect_eq("--clear-env --env GREENROOM_ONLY=1: that variable, and nothing of the caller's", only, env)
}

/// The challenge: what cannot be an environment variable is refused
/// before anything runs.
fn env_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    for bad in ["NO-EQUALS-SIGN", "=value"] {
        ctx.expect_refused_up_front(&["--env", bad], "it is not KEY=VALUE")?;
    }
    Ok(())
}

fn exit_code_relayed(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    // Exit 0 is checked by every other test; two other codes rule out a
    // runtime that always answers the same.
    for code in ["3", "42"] {
        let run = ctx.run(&[], &[&probe, plain::EXIT, code])?;
        run.expect_code(
            code.parse().unwrap_or(0),
            &format!("`probe exit {code}` should make the runtime exit with {code}"),
        )?;
    }
    Ok(())
}

fn output_relayed(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    // Words made for this run: a runtime cannot print them unless the
    // command ran.
    let nonce = crate::ctx::fresh_nonce()?;
    let (out, err) = (format!("to-stdout-{nonce}"), format!("to-stderr-{nonce}"));
    let (out, err) = (out.as_str(), err.as_str());
    let run = ctx.run(&[], &[&probe, plain::ECHO, out, err])?;
    run.expect_code(0, "the command should succeed")?;
    if !run.stdout.contains(out) || run.stdout.contains(err) {
        return Err(Failure::fail("stdout should carry exactly what the command wrote to stdout")
            .compare(format!("{out}\\n"), run.stdout.clone()));
    }
    if !run.stderr.contains(err) || run.stderr.contains(out) {
        return Err(Failure::fail("stderr should carry what the command wrote to stderr")
            .compare(format!("{err}\\n"), run.stderr.clone()));
    }
    Ok(())
}

fn argv_and_env_passed(ctx: &mut Ctx) -> Result<(), Failure> {
    let call = ctx.call::<Report>(&["two words", "--flag", "-x", ""])?;
    let running = ctx.spawn(&[], &call.command(), &[("GREENROOM_PROBE_ENV", "green-42")])?;
    let process = call.read(&running.wait()?)?.process;
    let argv: Vec<String> = call.command().into_iter().map(String::from).collect();
    expect_eq("the command's argv should be passed unchanged", argv, process.argv)?;
    expect_eq(
        "the command should inherit the caller's environment",
        Some("green-42"),
        process.env.get("GREENROOM_PROBE_ENV").map(String::as_str),
    )
}

fn not_found_is_127(ctx: &mut Ctx) -> Result<(), Failure> {
    let missing = ctx.scratch_path("no-such-command");
    let run = ctx.run(&[], &[&missing])?;
    run.expect_code(127, "a missing command should give exit code 127")?;
    if run.stderr.trim().is_empty() {
        return Err(Failure::fail("say on stderr that the command was not found").compare("a message", "nothing"));
    }
    Ok(())
}

fn not_executable_is_126(ctx: &mut Ctx) -> Result<(), Failure> {
    let path = ctx.scratch_path("not-executable");
    std::fs::write(&path, "#!/bin/sh\necho should not run\n")
        .map_err(|e| Failure::error(format!("write {path}: {e}")))?;
    let run = ctx.run(&[], &[&path])?;
    run.expect_code(126, "a file without execute permission should give exit code 126")
}

fn signal_is_128_plus_n(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    for (signal, code) in [("9", 137), ("15", 143)] {
        let run = ctx.run(&[], &[&probe, plain::KILL_SELF, signal])?;
        run.expect_code(code, &format!("a command killed by signal {signal} should give exit code {code}"))?;
    }
    Ok(())
}

fn runs_in_a_child(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let running = ctx.spawn(&[], &[&probe, plain::SLEEP, "200"], &[])?;
    let runtime = running.pid();
    // Look from outside: while the command sleeps, the runtime's process
    // must still be the runtime (not replaced by exec) and have a child.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = None;
    while Instant::now() < deadline {
        let children = std::fs::read_to_string(format!("/proc/{runtime}/task/{runtime}/children")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{runtime}/cmdline")).unwrap_or_default();
        let still_runtime = cmdline.split(|b| *b == 0).any(|arg| arg == b"run");
        // spawn() returns after exec, so an empty cmdline means "gone", and
        // one without `run` means the runtime became the command.
        if !cmdline.is_empty() && !still_runtime {
            seen = Some(false);
            break;
        }
        if !children.trim().is_empty() {
            seen = Some(still_runtime);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = running.wait()?;
    match seen {
        Some(true) => run.expect_code(0, "the command should succeed"),
        Some(false) => Err(Failure::fail("the runtime's process became the command: exec belongs in the child")),
        None => Err(Failure::fail("the runtime never had a child process while the command ran")
            .compare("a child in /proc/<runtime>/task/<runtime>/children", run.describe())),
    }
}

fn only_stdio_inherited(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = ctx.shared_report(&[])?;
    let Some(fds) = report.inherited.fds else {
        return Err(Failure::fail("the probe could not list /proc/self/fd in the container"));
    };
    let extra: Vec<String> = fds.iter().filter(|open| open.fd > 2).map(describe_fd).collect();
    if extra.is_empty() {
        return Ok(());
    }
    Err(Failure::fail(format!(
        "the command inherited {} descriptor(s) beyond 0, 1 and 2: whatever is open without close-on-exec at \
         exec time goes into the container",
        extra.len()
    ))
    .compare("0, 1, 2", extra.join("; ")))
}

/// `N -> TARGET`, and whose it is when the suite knows.
fn describe_fd(open: &contract::OpenFd) -> String {
    use crate::ctx::{CALLER_DIR_FD, CALLER_FILE, CALLER_FILE_FD};
    let whose = if open.fd as i32 == CALLER_FILE_FD && open.target.ends_with(&format!("/{CALLER_FILE}")) {
        " (a file the runtime's caller left open: mark inherited descriptors close-on-exec)"
    } else if open.fd as i32 == CALLER_DIR_FD {
        " (a directory the runtime's caller left open: a way out of any root)"
    } else if open.target.starts_with("pipe:") {
        " (a pipe: the core's go or report pipe without O_CLOEXEC?)"
    } else {
        ""
    };
    format!("{} -> {}{whose}", open.fd, open.target)
}

fn waits_for_the_command(ctx: &mut Ctx) -> Result<(), Failure> {
    let probe = ctx.probe();
    let marker = ctx.scratch_path("done");
    let run = ctx.run(&[], &[&probe, plain::SLEEP_TOUCH, "100", &marker])?;
    if !std::path::Path::new(&marker).exists() {
        return Err(Failure::fail("the runtime exited while its command was still running")
            .compare("the command finished first", run.describe()));
    }
    run.expect_code(0, "the command should succeed")
}
