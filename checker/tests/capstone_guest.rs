//! `checker dev capstone-guest`: chapter 7's guest, with podman driving
//! crun, booted to run a command by hand. Its output and exit code come
//! back (the rows themselves are tested in vm/tests/capstone.rs).

mod common;

use common::checker;
use predicates::prelude::*;
use serial_test::serial;

#[test]
#[serial]
fn a_command_runs_in_the_capstone_guest_and_its_exit_code_comes_back() {
    checker()
        .args(["dev", "capstone-guest", "--accel", "tcg"])
        .arg("podman --runtime /usr/bin/crun run --rm localhost/busybox sh -c 'echo inside; exit 4'; echo relayed $?; exit 5")
        .assert()
        .code(5)
        .stdout(predicate::eq("inside\nrelayed 4\n"));
}

#[test]
fn the_capstone_guest_is_a_vm() {
    checker()
        .args(["dev", "capstone-guest", "--host", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--host does not apply"));
}
