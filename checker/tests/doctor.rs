//! `checker doctor` as a learner meets it: one line per check, a fix under
//! each problem, exit 1 only when something blocks grading, plain text when
//! piped, and nothing downloaded or written. The checks themselves, on fake
//! machines, are unit tests in `checker/src/doctor/tests.rs`.

mod common;

use std::path::PathBuf;

use common::{checker, repo_root};
use predicates::prelude::*;

/// A folder under `target/` for one test, empty, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = repo_root().join("target").join(format!("doctor-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch folder");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The lines that report a check: a mark, a name, what was found.
fn check_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("  ✓ ") || l.starts_with("  ! ") || l.starts_with("  ✗ ")).collect()
}

/// A check line without its mark: "QEMU  7.2.19 at …".
fn unmarked(line: &str) -> &str {
    line.trim_start().split_once(' ').map_or("", |(_, rest)| rest)
}

#[test]
fn doctor_is_in_the_help() {
    checker().arg("--help").assert().success().stdout(predicate::str::contains("doctor"));
}

#[test]
fn every_item_gets_a_line_and_the_exit_code_says_whether_grading_can_work() {
    let output = checker().arg("doctor").output().expect("run checker doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines = check_lines(&stdout);
    for name in ["QEMU", "guest kernel", "KVM", "Rust", "static libc", "free space", "root", "cgroup v2", "busybox"] {
        assert!(lines.iter().any(|l| unmarked(l).starts_with(name)), "no line for {name} in:\n{stdout}");
    }
    let failing = lines.iter().any(|l| l.starts_with("  ✗"));
    assert_eq!(output.status.code(), Some(if failing { 1 } else { 0 }), "{stdout}");
}

#[test]
fn output_is_plain_when_piped() {
    checker().arg("doctor").env_remove("NO_COLOR").assert().stdout(predicate::str::contains('\x1b').not());
}

#[test]
fn missing_qemu_and_compiler_fail_with_their_fixes() {
    let empty = Scratch::new("empty-path");
    let assert = checker().arg("doctor").env("PATH", &empty.0).assert().code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("✗ QEMU"), "{stdout}");
    assert!(stdout.contains("fix: sudo apt-get install qemu-system-x86"), "{stdout}");
    assert!(stdout.contains("✗ static libc"), "{stdout}");
    assert!(stdout.contains("then run `cargo run -p checker -- doctor` again"), "{stdout}");
}

#[test]
fn with_host_the_vm_checks_cannot_fail() {
    let empty = Scratch::new("host-path");
    let output = checker().args(["doctor", "--host"]).env("PATH", &empty.0).output().expect("run checker doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("! QEMU"), "{stdout}");
}

#[test]
fn doctor_downloads_nothing_and_creates_no_cache() {
    let scratch = Scratch::new("cache");
    let cache = scratch.0.join("greenroom-cache");
    let output = checker().arg("doctor").env("GREENROOM_CACHE", &cache).output().expect("run checker doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let guest = check_lines(&stdout).into_iter().find(|l| unmarked(l).starts_with("guest kernel")).unwrap_or_default();
    assert!(guest.contains("not cached yet"), "{stdout}");
    assert!(!cache.exists(), "doctor created {}", cache.display());
}

#[test]
fn a_bad_greenroom_accel_is_named() {
    checker()
        .arg("doctor")
        .env("GREENROOM_ACCEL", "hvf")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("GREENROOM_ACCEL=\"hvf\" is neither kvm nor tcg"));
}
