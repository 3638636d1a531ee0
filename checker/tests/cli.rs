//! The checker's command line, as a learner meets it: its exit codes (0 all
//! pass, 1 some test fails, 2 the checker could not grade), its messages,
//! and full grading runs of the solutions and the starters in the VM.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{checker, fixture, grade, hostname, mountinfo, repo_root};
use predicates::prelude::*;
use serial_test::serial;

#[test]
fn an_unknown_chapter_names_the_valid_ones() {
    checker()
        .arg("chapter9")
        .assert()
        .code(2)
        .stderr(predicate::str::is_match(r"^[^\n]*chapter9[^\n]*chapter0 to chapter\d+[^\n]*\n$").expect("a regex"));
}

#[test]
fn no_arguments_say_what_to_type() {
    checker()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("say which chapter to grade").and(predicate::str::contains("chapter0")));
}

#[test]
fn list_shows_every_chapter() {
    checker()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("chapter0").and(predicate::str::contains("chapter1")));
}

/// `checker list | head` and the like: a reader that has gone is no
/// reason to panic. The pipe's reading end is closed before the checker
/// starts, so every write it makes meets a broken pipe.
#[test]
fn commands_that_print_a_lot_survive_a_closed_pipe() {
    for args in [&["list"][..], &["dev", "check"], &["dev", "links"], &["--help"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let output =
            Command::new(env!("CARGO_BIN_EXE_checker")).args(args).stdout(writer).output().expect("run the checker");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "checker {args:?} panicked:\n{stderr}");
        assert!(output.status.code().is_some_and(|code| code < 2), "checker {args:?}: {:?}\n{stderr}", output.status);
    }
}

#[test]
fn list_keeps_its_columns_aligned() {
    let output = checker().arg("list").output().expect("run checker list");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let end_of = |line: &str, word: &str| line.find(word).map(|at| at + word.len());
    let points_end = end_of(header, "points").expect("a points column");
    let layer_at = header.find("layer").expect("a layer column");
    for line in lines {
        // Each row's points end where the header's do, and its layer
        // starts where the header's does.
        let digits_end = line[..points_end].trim_end().len();
        assert_eq!(digits_end, points_end, "points out of line: {line:?}");
        assert!(line[..layer_at].ends_with(' '), "layer out of line: {line:?}");
        assert_ne!(line[layer_at..].chars().next(), Some(' '), "layer out of line: {line:?}");
    }
}

#[test]
#[serial]
fn rootfs_writes_a_busybox_root_with_the_probe() {
    let dir = repo_root().join("target").join("cli-test-rootfs");
    let _ = std::fs::remove_dir_all(&dir);
    checker().arg("rootfs").arg(&dir).assert().success().stdout(predicate::str::contains("--rootfs"));
    for file in ["bin/busybox", "bin/sh", "probe", "proc", "sys", "dev", "tmp"] {
        assert!(dir.join(file).exists(), "{file} is missing from the rootfs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_shows_the_commands_but_not_the_hidden_ones() {
    checker()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: checker"))
        .stdout(predicate::str::contains("selfcheck").and(predicate::str::contains("--solution")))
        .stdout(predicate::str::contains("--patch").not())
        .stdout(predicate::str::is_match(r"(?m)^\s+dev\s").expect("a regex").not());
}

#[test]
fn the_starters_are_the_split_solutions() {
    checker().args(["dev", "split", "--check"]).assert().success().stdout(predicate::str::is_empty());
}

/// The compiler's own message reaches the learner; a script asking for
/// JSON still gets a report it can read, every test an error saying why.
#[test]
#[serial]
fn a_build_error_shows_the_compilers_message() {
    let patch = fixture("syntax-error");
    let output = checker()
        .args(["chapter1", "--only", "--format", "json", "--patch"])
        .arg(&patch)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("error: expected `;`"))
        .stderr(predicate::str::contains("ch01-uts/src/layer.rs"))
        .stderr(predicate::str::contains("fix the errors above"))
        .get_output()
        .stdout
        .clone();
    let report: common::Report = serde_json::from_slice(&output).expect("a JSON report on stdout");
    assert!(!report.passed && report.score == 0 && !report.tests.is_empty());
    for test in &report.tests {
        assert_eq!(test.status, "error", "{test:#?}");
        assert!(test.message.contains("fix the errors above"), "{test:#?}");
    }
}

/// The QEMUs that write the console log `name` of this checkout: one
/// line per process, `pid command line`.
fn qemus_logging_to(name: &str) -> BTreeSet<String> {
    let log = repo_root().join("target").join("greenroom").join("logs").join(name);
    let pattern = format!("qemu-system.*{}", log.display());
    let output = Command::new("pgrep").args(["-a", "-f", &pattern]).output().expect("run pgrep");
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

#[test]
#[serial]
fn the_solutions_pass_and_leave_nothing_behind() {
    let (hostname_before, mounts_before) = (hostname(), mountinfo());
    // Someone else's grading of the same chapter, already running, is not ours.
    let qemus_before = qemus_logging_to("solution-ch01-uts.log");
    let graded = grade(&["chapter1", "--solution"]);
    assert_eq!(graded.code, Some(0), "stderr:\n{}", graded.stderr);
    let report = &graded.report;
    let failing: Vec<_> = report.tests.iter().filter(|t| t.status != "pass").collect();
    assert!(failing.is_empty(), "failing on the solution: {failing:#?}");
    assert!(report.passed && report.score == report.max_score, "{report:#?}");
    assert!(report.tests.len() >= 10, "only {} tests", report.tests.len());
    assert!(report.tests.iter().filter(|t| t.chapter == 1).count() >= 4, "too few chapter 1 tests");

    let left: Vec<_> = qemus_logging_to("solution-ch01-uts.log").difference(&qemus_before).cloned().collect();
    assert!(left.is_empty(), "a QEMU outlived the checker: {left:#?}");
    assert_eq!(hostname(), hostname_before, "the host's hostname changed");
    assert_eq!(mountinfo(), mounts_before, "the host's mount table changed");
}

#[test]
#[serial]
fn every_test_fails_on_the_starters() {
    let drift = checker().args(["dev", "split", "--check"]).output().expect("run the checker");
    if !drift.status.success() {
        eprintln!("note: skipped: chapters/ holds someone's work, not the pristine starters");
        return;
    }
    let graded = grade(&["chapter1"]);
    assert_eq!(graded.code, Some(1), "stderr:\n{}", graded.stderr);
    for test in &graded.report.tests {
        assert!(["fail", "timeout"].contains(&test.status.as_str()), "{} should fail: {test:#?}", test.name);
        if test.status == "fail" {
            assert!(test.explanation().contains("not yet implemented"), "it should quote the todo!(): {test:#?}");
        }
    }
}

#[test]
fn an_unknown_test_name_is_refused_before_anything_is_built() {
    checker()
        .args(["chapter1", "--solution", "--test", "no-such-test"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--test no-such-test: chapter 1 has no such test"));
}
