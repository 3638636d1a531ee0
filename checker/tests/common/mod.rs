//! What the checker's integration tests share: running the checker, reading
//! its `--format json` report, and looking at the host's state.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde::Deserialize;

/// Longer than any grading run should take (the VM's own deadline is
/// about a minute plus 10 s per test), so a hung checker fails the test
/// instead of hanging CI.
pub const CHECKER_TIMEOUT: Duration = Duration::from_secs(600);

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("checker/ has a parent").to_path_buf()
}

/// A broken runtime: a patch in `checker/tests/fixtures/`, for `--patch`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(format!("{name}.patch"))
}

/// The checker binary, as cargo built it for these tests.
pub fn checker() -> Command {
    let mut command = Command::cargo_bin("checker").expect("cargo built the checker");
    command.timeout(CHECKER_TIMEOUT);
    command
}

/// The `--format json` report (see the book's "How grading works").
#[derive(Debug, Deserialize)]
pub struct Report {
    pub chapter: u8,
    pub score: u32,
    pub max_score: u32,
    pub passed: bool,
    pub tests: Vec<TestReport>,
    /// What the container isolates (absent from reports older than the field).
    #[serde(default)]
    pub isolation: Option<suite::isolation::Isolation>,
    pub log: String,
}

/// One test in the report.
#[derive(Debug, Deserialize)]
pub struct TestReport {
    pub chapter: u8,
    pub name: String,
    pub status: String,
    pub points: u32,
    pub max_points: u32,
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub reproduce: Option<String>,
    pub hint: String,
    pub book: String,
}

impl Report {
    /// Whether the guest was stopped at its deadline (see the checker's
    /// `grade::run_in_vm`): some test then has no result of its own.
    pub fn guest_ran_out_of_time(&self) -> bool {
        self.tests.iter().any(|t| t.status == "error" && t.message.contains("the guest ran past its deadline"))
    }

    /// The test called `name`; panics, listing the names, if there is none.
    pub fn test(&self, name: &str) -> &TestReport {
        self.tests.iter().find(|t| t.name == name).unwrap_or_else(|| {
            let names: Vec<&str> = self.tests.iter().map(|t| t.name.as_str()).collect();
            panic!("no test {name:?} in the report; it has {names:?}")
        })
    }

    /// Asserts that test `name` ended with `status` and returns it.
    pub fn expect(&self, name: &str, status: &str) -> &TestReport {
        let test = self.test(name);
        assert_eq!(test.status, status, "{name} should be {status}: {test:#?}\nlog: {}", self.log);
        test
    }
}

impl TestReport {
    /// The message, expected and actual values as one text, to search in.
    pub fn explanation(&self) -> String {
        let or_none = |value: &Option<String>| value.clone().unwrap_or_default();
        format!("{} | expected: {} | actual: {}", self.message, or_none(&self.expected), or_none(&self.actual))
    }
}

/// How one grading run ended.
#[derive(Debug)]
pub struct Graded {
    pub code: Option<i32>,
    pub report: Report,
    pub stderr: String,
}

/// Runs `checker ARGS --format json` and parses the report.
///
/// A guest that ran past its deadline is graded once more: that verdict
/// says nothing of the runtime (the guest stalled, or the machine did),
/// and a runtime that really hangs the guest does so the second time too.
/// The first run's console log is printed, for whoever reads CI's output.
pub fn grade(args: &[&str]) -> Graded {
    let graded = grade_once(args);
    if !graded.report.guest_ran_out_of_time() {
        return graded;
    }
    let log = std::fs::read_to_string(&graded.report.log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
    eprintln!(
        "the guest ran past its deadline grading {args:?}: grading once more. The end of its console log:\n{}",
        tail.join("\n")
    );
    grade_once(args)
}

fn grade_once(args: &[&str]) -> Graded {
    let output = checker().args(args).args(["--format", "json"]).output().expect("run the checker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the checker's stdout is not its JSON report ({e}):\n{stdout}\nstderr:\n{stderr}"));
    Graded { code: output.status.code(), report, stderr }
}

/// Grades `chapter` with the fixture `name` laid over the solutions.
pub fn grade_fixture(name: &str, chapter: &str, extra: &[&str]) -> Graded {
    let patch = fixture(name);
    let patch = patch.to_str().expect("the fixture's path is UTF-8");
    let mut args = vec![chapter, "--patch", patch];
    args.extend_from_slice(extra);
    grade(&args)
}

/// Are these tests running as root?
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Says why a test does nothing, and returns true, when not root.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("note: {test} skipped: it needs root (run the tests with sudo, or in the Vagrant box)");
    true
}

/// The host's hostname.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").expect("read the hostname").trim_end().to_string()
}

/// The host's mount table, as this process sees it.
pub fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo")
}
