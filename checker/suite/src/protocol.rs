//! The lines the suite writes and the checker reads: one JSON object each.

use serde::{Deserialize, Serialize};

/// What the suite is asked to do: one job per runtime to grade.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// A label the checker uses to tell the jobs' results apart.
    pub tag: String,
    /// The chapter being graded.
    pub chapter: u8,
    /// Only that chapter's tests, not the earlier ones.
    pub only: bool,
    /// Only the tests of these names (the checker's own fixture tests,
    /// which need a few); empty for all of them.
    #[serde(default)]
    pub tests: Vec<String>,
    /// The runtime binary to test.
    pub runtime: String,
}

/// The whole request, passed as one JSON argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The probe binary.
    pub probe: String,
    /// A directory the suite may create and remove scratch files in.
    pub scratch: String,
    /// Seconds before one run of the runtime is killed.
    pub timeout_secs: u64,
    /// The jobs, run in order.
    pub jobs: Vec<Job>,
    /// Run in a stand-in for the machine (`--host`): namespaces of the
    /// suite's own, so a broken runtime cannot reach the real one's mounts,
    /// hostname, IPC objects or interfaces (see `suite::stand_in`).
    #[serde(default)]
    pub stand_in_host: bool,
}

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed.
    Pass,
    /// The runtime did the wrong thing.
    Fail,
    /// The runtime did not finish in time.
    Timeout,
    /// The test could not be run (a fault of the grading, not the learner).
    Error,
}

/// One line of output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Line {
    /// Sent first for each job: the tests that will follow, so a test that
    /// never reports (a crash, a hang) is noticed.
    Plan {
        /// The job's tag.
        job: String,
        /// `(chapter, name)` of each test.
        tests: Vec<(u8, String)>,
    },
    /// One test's result.
    Result(TestResult),
    /// Sent after a job's tests: what its runtime's container isolates.
    Isolation {
        /// The job's tag.
        job: String,
        /// The matrix, or why it could not be measured.
        isolation: crate::isolation::Isolation,
    },
    /// From a guest kept up (`greenroom-suite serve`): ready for the next
    /// [`Order`]. The host must wait for it: the guest drops what arrives
    /// on its port while nothing there reads.
    Listening,
    /// From a guest kept up: the order's results are all written. `clean`
    /// says whether the guest is back as it was before (mounts, hostname,
    /// processes, cgroups); if not, it powers off and the host boots a
    /// fresh one next time.
    Done {
        /// The guest is as it was before the order.
        clean: bool,
    },
}

/// What the host asks of a guest kept up, one JSON line each. An order to
/// grade is followed on the port by the bytes of its files, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "order", rename_all = "lowercase")]
pub enum Order {
    /// Write these files, then run the suite with `request`.
    Grade {
        /// The files that follow, in order.
        files: Vec<Upload>,
        /// What to run.
        request: Request,
    },
    /// Stop: the guest powers off.
    Quit,
}

/// A file sent to the guest after an [`Order::Grade`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    /// Where it goes in the guest.
    pub path: String,
    /// How many bytes follow.
    pub len: u64,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The job's tag.
    pub job: String,
    /// The test's chapter.
    pub chapter: u8,
    /// The test's name.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// Why it failed (empty on a pass).
    pub message: String,
    /// What the test expected, when it compares values.
    pub expected: Option<String>,
    /// What it found.
    pub actual: Option<String>,
    /// The last command the test ran, to repeat by hand.
    pub reproduce: Option<String>,
    /// How long the test took.
    pub duration_ms: u64,
}

impl TestResult {
    /// A result with only a status and a message: what the checker records
    /// for a test that never reported, or could not be run at all.
    pub fn bare(job: &str, chapter: u8, name: &str, status: Status, message: String) -> TestResult {
        TestResult {
            job: job.to_string(),
            chapter,
            name: name.to_string(),
            status,
            message,
            expected: None,
            actual: None,
            reproduce: None,
            duration_ms: 0,
        }
    }
}
