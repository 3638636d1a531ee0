//! The report: what a learner reads after grading (`human`) and what a
//! script reads (`json`). Both are pure functions of the results, so their
//! exact output is pinned by snapshot tests.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use suite::protocol::Status;

use crate::chapters::{Chapter, CHAPTERS};
use crate::grade::Graded;

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    /// The chapter graded.
    pub chapter: &'a Chapter,
    /// Whose code: "your code in chapters/" or "the solutions".
    pub source: &'a str,
    /// The tests, in order.
    pub graded: &'a [Graded],
    /// The saved log.
    pub log: PathBuf,
    /// How to turn the suite's command into one to type: pairs of
    /// (path in the guest, path on this machine).
    pub paths: Vec<(String, String)>,
    /// Prefix for commands that need root on this machine ("sudo ").
    pub root_prefix: &'a str,
}

impl Summary<'_> {
    /// Points earned.
    pub fn score(&self) -> u32 {
        self.graded.iter().map(Graded::score).sum()
    }

    /// Points possible.
    pub fn max_score(&self) -> u32 {
        self.graded.iter().map(|g| g.test.points).sum()
    }

    /// Did every test pass?
    pub fn passed(&self) -> bool {
        self.graded.iter().all(|g| g.result.status == Status::Pass)
    }

    fn reproduce(&self, graded: &Graded) -> Option<String> {
        let mut command = graded.result.reproduce.clone()?;
        for (guest, host) in &self.paths {
            command = command.replace(guest, host);
        }
        Some(format!("{}{command}", self.root_prefix))
    }
}

/// Colours, or none when the output is not a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    /// Colour when `on`.
    pub fn new(on: bool) -> Style {
        Style { on }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The report a learner reads.
pub fn human(summary: &Summary, style: Style) -> String {
    let mut out = String::new();
    let chapter = summary.chapter;
    let _ = writeln!(out, "greenroom · chapter {} ({}) · {}", chapter.number, chapter.package, summary.source);
    let mut current = None;
    for graded in summary.graded {
        if current != Some(graded.test.chapter) {
            current = Some(graded.test.chapter);
            let title = CHAPTERS.iter().find(|c| c.number == graded.test.chapter).map_or("", |c| c.title);
            let _ = writeln!(out, "\n  chapter {} — {title}", graded.test.chapter);
        }
        let (mark, colour) = match graded.result.status {
            Status::Pass => ("✓", "32"),
            Status::Fail => ("✗", "31"),
            Status::Timeout => ("⧗", "31"),
            Status::Error => ("!", "33"),
        };
        let points = format!("{}/{}", graded.score(), graded.test.points);
        let _ = writeln!(
            out,
            "    {} {:<30} {points:>5}  {}",
            style.paint(colour, mark),
            graded.test.name,
            graded.test.title
        );
        if graded.result.status != Status::Pass {
            failure_details(&mut out, summary, graded, style);
        }
    }
    let failing = summary.graded.iter().filter(|g| g.result.status != Status::Pass).count();
    let verdict = if failing == 0 {
        style.paint("32", "all tests pass")
    } else {
        style.paint("31", &format!("{failing} failing"))
    };
    let _ = writeln!(out, "\nscore {}/{} — {verdict}", summary.score(), summary.max_score());
    let _ = writeln!(out, "log: {}", summary.log.display());
    out
}

fn failure_details(out: &mut String, summary: &Summary, graded: &Graded, style: Style) {
    let result = &graded.result;
    let label = |name: &str| style.paint("2", &format!("{name:>9}"));
    let _ = writeln!(out, "        {} {}", label("why:"), result.message);
    if let Some(expected) = &result.expected {
        let _ = writeln!(out, "        {} {expected}", label("expected:"));
    }
    if let Some(actual) = &result.actual {
        let _ = writeln!(out, "        {} {actual}", label("actual:"));
    }
    let _ = writeln!(out, "        {} {}", label("hint:"), graded.test.hint);
    if let Some(command) = summary.reproduce(graded) {
        let _ = writeln!(out, "        {} {command}", label("repeat:"));
    }
    let _ = writeln!(out, "        {} book/src/{}", label("read:"), graded.test.book);
}

/// The machine-readable report (`--format json`). Its shape is a contract:
/// add fields, never rename or remove them.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// The chapter graded.
    pub chapter: u8,
    /// Points earned.
    pub score: u32,
    /// Points possible.
    pub max_score: u32,
    /// Did every test pass?
    pub passed: bool,
    /// One entry per test.
    pub tests: Vec<JsonTest<'a>>,
    /// The saved log.
    pub log: String,
}

/// One test in the JSON report.
#[derive(Debug, Serialize)]
pub struct JsonTest<'a> {
    /// The test's chapter.
    pub chapter: u8,
    /// Its name.
    pub name: &'a str,
    /// pass, fail, timeout or error.
    pub status: Status,
    /// Points earned.
    pub points: u32,
    /// Points possible.
    pub max_points: u32,
    /// Why it failed; empty on a pass.
    pub message: &'a str,
    /// What was expected, when the test compares values.
    pub expected: Option<&'a str>,
    /// What was found.
    pub actual: Option<&'a str>,
    /// The command to repeat it by hand.
    pub reproduce: Option<String>,
    /// A hint.
    pub hint: &'a str,
    /// The book section.
    pub book: &'a str,
}

/// The report as JSON.
pub fn json(summary: &Summary) -> String {
    let report = JsonReport {
        chapter: summary.chapter.number,
        score: summary.score(),
        max_score: summary.max_score(),
        passed: summary.passed(),
        tests: summary
            .graded
            .iter()
            .map(|g| JsonTest {
                chapter: g.test.chapter,
                name: g.test.name,
                status: g.result.status,
                points: g.score(),
                max_points: g.test.points,
                message: &g.result.message,
                expected: g.result.expected.as_deref(),
                actual: g.result.actual.as_deref(),
                reproduce: summary.reproduce(g),
                hint: g.test.hint,
                book: g.test.book,
            })
            .collect(),
        log: summary.log.display().to_string(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use suite::protocol::TestResult;

    fn result(name: &str, status: Status, message: &str) -> TestResult {
        TestResult {
            job: "runtime".into(),
            chapter: 1,
            name: name.into(),
            status,
            message: message.into(),
            expected: (status == Status::Fail).then(|| "Some(\"rock-band\")".into()),
            actual: (status == Status::Fail).then(|| "Some(\"greenroom-guest\")".into()),
            reproduce: Some("/greenroom/bin/runtime run --hostname rock-band -- /greenroom/bin/probe report".into()),
            duration_ms: 12,
        }
    }

    /// A chapter 1 run with one test of each status.
    fn sample() -> Vec<Graded> {
        let statuses = [
            (Status::Pass, ""),
            (Status::Fail, "the hostname inside the container"),
            (Status::Timeout, "the runtime did not finish in time and was killed"),
            (Status::Error, "no result: the guest stopped before the tests finished"),
        ];
        suite::tests_for(1, true)
            .into_iter()
            .zip(statuses)
            .map(|(test, (status, message))| Graded { result: result(test.name, status, message), test })
            .collect()
    }

    fn summary(graded: &[Graded]) -> Summary<'_> {
        Summary {
            chapter: &CHAPTERS[1],
            source: "your code in chapters/",
            graded,
            log: PathBuf::from("target/greenroom/logs/learner-ch01-uts.log"),
            paths: vec![
                ("/greenroom/bin/runtime".into(), "target/greenroom/bin/learner-ch01-uts".into()),
                ("/greenroom/bin/probe".into(), "target/greenroom/bin/probe".into()),
            ],
            root_prefix: "sudo ",
        }
    }

    #[test]
    fn human_report() {
        let graded = sample();
        insta::assert_snapshot!(human(&summary(&graded), Style::new(false)));
    }

    #[test]
    fn json_report() {
        let graded = sample();
        insta::assert_snapshot!(json(&summary(&graded)));
    }

    #[test]
    fn scores_count_only_passes() {
        let graded = sample();
        let summary = summary(&graded);
        assert_eq!(summary.score(), graded[0].test.points);
        assert_eq!(summary.max_score(), graded.iter().map(|g| g.test.points).sum::<u32>());
        assert!(!summary.passed());
    }
}
