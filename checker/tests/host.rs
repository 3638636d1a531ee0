//! `checker --host`: the same tests, run as root on this machine, must
//! leave it as they found it (hostname, mounts, interfaces, cgroups,
//! processes, scratch folders) — and must refuse to run for anyone else.
//!
//! Both tests need root and skip themselves, with a note, without it.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use common::{grade, hostname, mountinfo, skip_unless_root, CHECKER_TIMEOUT};
use predicates::prelude::*;
use serial_test::serial;

/// Where cgroup v2 is mounted (on a hybrid layout, `/sys/fs/cgroup/unified`).
fn cgroup2_root() -> Option<PathBuf> {
    mountinfo().lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split(' ').nth(4)?;
        right.starts_with("cgroup2 ").then(|| PathBuf::from(mount_point))
    })
}

/// The host's network interfaces.
fn interfaces() -> BTreeSet<String> {
    let entries = std::fs::read_dir("/sys/class/net").expect("list /sys/class/net");
    entries.filter_map(|entry| entry.ok()?.file_name().into_string().ok()).collect()
}

/// Processes running a program the checker built (a runtime, the probe,
/// the suite): after a grading, there must be none.
fn checker_processes() -> Vec<String> {
    let bin = common::repo_root().join("target").join("greenroom").join("bin");
    let entries = std::fs::read_dir("/proc").expect("list /proc");
    entries
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().into_string().ok()?;
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            exe.starts_with(&bin).then(|| format!("{pid} {}", exe.display()))
        })
        .collect()
}

/// The suite's scratch folders in the temporary directory.
fn scratch_dirs() -> BTreeSet<String> {
    let entries = std::fs::read_dir(std::env::temp_dir()).expect("list the temporary directory");
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("greenroom-scratch-"))
        .collect()
}

#[test]
#[serial]
fn the_solutions_pass_on_the_host_and_leave_nothing_behind() {
    if skip_unless_root("the_solutions_pass_on_the_host_and_leave_nothing_behind") {
        return;
    }
    let (hostname_before, mounts_before, scratch_before) = (hostname(), mountinfo(), scratch_dirs());
    let interfaces_before = interfaces();

    // Chapters 0 to 3: processes, the UTS, IPC, PID and mount namespaces,
    // /proc and a pivot_root. (Chapter 4 on make a bridge on purpose, and
    // chapter 6 needs a host with cgroup v2 only.)
    let graded = grade(&["chapter3", "--solution", "--host"]);
    assert_eq!(graded.code, Some(0), "stderr:\n{}", graded.stderr);
    let failing: Vec<_> = graded.report.tests.iter().filter(|t| t.status != "pass").collect();
    assert!(failing.is_empty(), "failing on the host: {failing:#?}");

    assert_eq!(hostname(), hostname_before, "the host's hostname changed");
    assert_eq!(mountinfo(), mounts_before, "the host's mount table changed");
    assert_eq!(interfaces(), interfaces_before, "the host's network interfaces changed");
    let running = checker_processes();
    assert!(running.is_empty(), "programs of the grading still run: {running:?}");
    if let Some(root) = cgroup2_root() {
        assert!(!root.join("greenroom-suite").exists(), "the suite's cgroup is left in {}", root.display());
    }
    let left: Vec<_> = scratch_dirs().difference(&scratch_before).cloned().collect();
    assert!(left.is_empty(), "scratch folders left in the temporary directory: {left:?}");
}

/// `name`'s path, if it is on the `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

#[test]
#[serial]
fn host_mode_refuses_a_user_who_is_not_root() {
    if skip_unless_root("host_mode_refuses_a_user_who_is_not_root") {
        return;
    }
    let Some(setpriv) = on_path("setpriv") else {
        eprintln!("note: host_mode_refuses_a_user_who_is_not_root skipped: no setpriv (util-linux)");
        return;
    };
    // As `nobody`. The refusal must come before any build, so that it is
    // the one message a learner who forgot sudo sees.
    Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_checker")])
        .args(["chapter1", "--solution", "--host"])
        .current_dir("/")
        .timeout(CHECKER_TIMEOUT)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--host").and(predicate::str::contains("root")))
        .stderr(predicate::str::contains("sudo"))
        .stderr(predicate::str::contains("cargo").not());
}
