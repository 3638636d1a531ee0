//! `checker shell`: a person at the guest's console. The shell of chapter
//! 1's solution runs the runtime by hand, and leaving it powers the guest
//! off with nothing left behind — also when the checker gets SIGINT or
//! SIGTERM; a chapter 3 report's repeat line runs there as pasted. Boots
//! the VM for a few short sessions and one grading run.

mod common;

use std::time::{Duration, Instant};

use rexpect::process::wait::WaitStatus;
use serial_test::serial;

/// The guest shell's prompt (`PS1` of `checker shell`'s script).
const PROMPT: &str = "greenroom-guest:~# ";

/// Under TCG on a busy machine the build check and the boot take a while.
const PATIENCE_MS: u64 = 240_000;

fn checker_shell(args: &[&str]) -> rexpect::session::PtySession {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("checker"));
    command.arg("shell").args(args).env("TERM", "dumb");
    rexpect::session::spawn_command(command, Some(PATIENCE_MS)).expect("start `checker shell` on a terminal")
}

/// The QEMU processes whose command line holds `pid`'s temporary files
/// (`greenroom-run-PID-N`): the guests of that checker.
fn guests_of(pid: u32) -> Vec<String> {
    let marker = format!("greenroom-run-{pid}-");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("list /proc").flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("qemu-system") && cmdline.contains(&marker) {
            found.push(cmdline);
        }
    }
    found
}

/// The temporary files a checker's guest made: initrd copies in the cache,
/// results sockets in the temporary directory.
fn files_of(pid: u32) -> Vec<String> {
    let marker = format!("greenroom-run-{pid}-");
    [greenroom_vm::default_cache_dir(), std::env::temp_dir()]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&marker))
        .collect()
}

fn assert_nothing_left(pid: u32) {
    // QEMU is killed and reaped before the checker exits: give the kernel
    // a moment to drop the process entries.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !guests_of(pid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(guests_of(pid), Vec::<String>::new(), "a QEMU of the shell outlived it");
    assert_eq!(files_of(pid), Vec::<String>::new(), "the shell's temporary files were left behind");
}

#[test]
#[serial]
fn the_shell_runs_the_runtime_and_leaves_nothing_when_it_exits() {
    let mut shell = checker_shell(&["chapter1", "--solution"]);
    let pid = shell.process.child_pid.as_raw() as u32;
    shell.exp_string("/greenroom/bin/runtime").expect("the banner says where the runtime is");
    shell.exp_string("/greenroom/rootfs").expect("the banner says where the rootfs is");
    shell.exp_string(PROMPT).expect("the guest's shell prompt");
    assert_eq!(guests_of(pid).len(), 1, "one guest runs while the shell is open");
    shell.send_line("runtime run --hostname rock-band -- hostname").expect("type a command");
    shell.exp_string("\nrock-band").expect("the container's hostname, from the learner's runtime");
    shell.exp_string(PROMPT).expect("the prompt again");
    shell.send_line("hostname").expect("type `hostname`");
    shell.exp_string("\ngreenroom-guest").expect("the guest's own hostname is untouched");
    shell.exp_string(PROMPT).expect("the prompt again");
    shell.send_line("exit 3").expect("type `exit 3`");
    shell.exp_string("the guest is off").expect("the checker says the guest is off");
    shell.exp_eof().expect("the checker ends");
    match shell.process.wait() {
        Ok(WaitStatus::Exited(_, code)) => assert_eq!(code, 3, "the checker ends with the shell's exit code"),
        other => panic!("the checker did not exit normally: {other:?}"),
    }
    assert_nothing_left(pid);
}

/// The report's repeat line of a failing chapter 3 test, pasted into the
/// shell of the same runtime, runs there: the runtime, the rootfs and the
/// probe are where the line says, and the probe answers with the line's
/// nonce.
#[test]
#[serial]
fn a_chapter_3_repeat_line_runs_as_pasted_in_the_shell() {
    let graded = common::grade_fixture("chroot-only", "chapter3", &["--only"]);
    let failed = graded.report.expect("host-root-unreachable", "fail");
    let line = failed.reproduce.clone().expect("a failed test says how to repeat it");
    assert!(!line.starts_with("sudo"), "the repeat line is for the guest's shell, not the host: {line}");
    assert!(line.contains("--rootfs /greenroom/rootfs"), "the shell's rootfs, not the test's scratch: {line}");
    let nonce = line.split_whitespace().skip_while(|w| *w != "--nonce").nth(1).expect("the line has a nonce");
    let patch = common::fixture("chroot-only");
    let mut shell = checker_shell(&["chapter3", "--patch", patch.to_str().expect("a UTF-8 path")]);
    let pid = shell.process.child_pid.as_raw() as u32;
    shell.exp_string(PROMPT).expect("the guest's shell prompt");
    shell.send_line(&format!("{line}; echo \"rc=$?\"")).expect("paste the repeat line");
    shell.exp_string(&format!("{{\"nonce\":\"{nonce}\"")).expect("the probe's report, with the line's nonce");
    shell.exp_string("rc=0").expect("the pasted line ran to the end");
    shell.exp_string(PROMPT).expect("the prompt again");
    // With the host's file the test had made, the failure itself repeats.
    shell.send_line(&format!("touch /tmp/host-marker; {line}")).expect("paste it again");
    shell.exp_string("\"chroot_escape\":true").expect("the chroot escape reaches the host's file, as graded");
    shell.exp_string(PROMPT).expect("the prompt again");
    shell.send_control('d').expect("Ctrl-D leaves the shell");
    shell.exp_string("the guest is off").expect("the checker says the guest is off");
    shell.exp_eof().expect("the checker ends");
    assert_nothing_left(pid);
}

#[test]
#[serial]
fn a_sigint_or_sigterm_to_the_checker_powers_the_guest_off_too() {
    use nix::sys::signal::Signal;
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut shell = checker_shell(&["chapter1", "--solution"]);
        let pid = shell.process.child_pid.as_raw() as u32;
        shell.exp_string(PROMPT).expect("the guest's shell prompt");
        assert_eq!(guests_of(pid).len(), 1, "one guest runs while the shell is open");
        let checker = nix::unistd::Pid::from_raw(pid as i32);
        nix::sys::signal::kill(checker, signal).expect("signal the checker");
        let number = signal as i32;
        shell.exp_string(&format!("stopped by signal {number}")).expect("the checker says why it stopped");
        shell.exp_eof().expect("the checker ends");
        match shell.process.wait() {
            Ok(WaitStatus::Exited(_, code)) => assert_eq!(code, 128 + number, "{signal}"),
            other => panic!("the checker did not exit normally after {signal}: {other:?}"),
        }
        assert_nothing_left(pid);
    }
}
