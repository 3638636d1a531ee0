//! The course checks itself: `checker dev check` finds it consistent with
//! its chapter table, the solutions' own unit tests pass, the starters'
//! fail (they are `todo!()`), and `checker selfcheck` — every graded test
//! passes on its solution and fails on its starter, in the VM — exits 0.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `cargo test` in one of the course workspaces, with a target directory of
/// its own so it never waits on the grader's builds.
fn cargo_test(workspace: &str) -> std::process::Output {
    Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--manifest-path"])
        .arg(repo().join(workspace).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", repo().join("target").join("course-tests").join(workspace))
        .output()
        .expect("run cargo test")
}

#[test]
fn dev_check_finds_the_course_consistent() {
    let output = Command::new(env!("CARGO_BIN_EXE_checker")).args(["dev", "check"]).output().expect("run checker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("the course matches its table"), "{stdout}");
}

#[test]
fn solutions_pass_their_unit_tests() {
    let output = cargo_test("solutions");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn starters_fail_their_unit_tests_with_todo_guidance() {
    let output = cargo_test("chapters");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "the starters' unit tests pass: they test nothing\n{stdout}");
    assert!(stdout.contains("not yet implemented"), "{stdout}");
}

#[test]
fn selfcheck_passes_in_the_vm() {
    let output = Command::new(env!("CARGO_BIN_EXE_checker")).arg("selfcheck").output().expect("run checker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("selfcheck passed"), "{stdout}");
}
