//! The chapter 1 runtime with a person at the keyboard: a shell in the
//! container, on a terminal, sees its own hostname, and its exit code comes
//! back. Runs the solution on this machine, so it needs root (it skips
//! itself, with a note, without it).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{hostname, repo_root, skip_unless_root};
use rexpect::process::wait::WaitStatus;
use serial_test::serial;

/// What the shell shows when it waits for a command.
const PROMPT: &str = "green$ ";

/// Builds the solution's chapter 1 runtime for this machine, in a target
/// folder of its own so it never waits on the checker's builds.
fn build_uts() -> PathBuf {
    let target = repo_root().join("target").join("interactive-test");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "uts", "--manifest-path"])
        .arg(repo_root().join("solutions").join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the solution's uts failed");
    target.join("debug").join("uts")
}

#[test]
#[serial]
fn a_shell_in_the_container_has_its_hostname_and_exit_code() {
    if skip_unless_root("a_shell_in_the_container_has_its_hostname_and_exit_code") {
        return;
    }
    let uts = build_uts();
    let host = hostname();

    let mut command = Command::new(uts);
    command.args(["run", "--hostname", "rock-band", "--", "/bin/sh"]).env("PS1", PROMPT);
    let mut shell = rexpect::session::spawn_command(command, Some(30_000)).expect("start the runtime on a terminal");
    shell.exp_string(PROMPT).expect("the shell's first prompt");
    shell.send_line("hostname").expect("type `hostname`");
    shell.exp_string("rock-band").expect("the container's hostname");
    shell.exp_string(PROMPT).expect("the prompt after `hostname`");
    shell.send_line("exit 7").expect("type `exit 7`");
    shell.exp_eof().expect("the terminal closes when the shell exits");

    match shell.process.wait() {
        Ok(WaitStatus::Exited(_, code)) => assert_eq!(code, 7, "the runtime should relay the shell's exit code"),
        other => panic!("the runtime did not exit normally: {other:?}"),
    }
    assert_eq!(hostname(), host, "the host's hostname changed");
}
