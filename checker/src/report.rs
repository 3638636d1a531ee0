//! The report: what a learner reads after grading (`human`) and what a
//! script reads (`json`). Both are pure functions of the results, so their
//! exact output is pinned by snapshot tests.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use suite::protocol::Status;

use suite::isolation::Isolation;

use crate::chapters::{Chapter, CHAPTERS};
use crate::grade::Graded;
use crate::unfinished::Unfinished;

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
    /// How a command that repeats a test is shown.
    pub repeat: Repeat,
    /// What the runtime's container isolates, if it was measured.
    pub isolation: Option<&'a Isolation>,
    /// The unfinished functions (`todo!()`) the runtime ran into: each is
    /// reported once, and the failures it causes are folded under it.
    pub unfinished: &'a [Unfinished],
}

/// Where the command that repeats a failed test by hand is meant to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    /// In the guest's shell, which this command opens (`cargo run -p
    /// checker -- shell chapter3`): the runtime never runs as root on the
    /// learner's machine.
    Shell {
        /// The command that opens the shell.
        shell: String,
    },
    /// On this machine, as root, as the suite ran it (`--host`).
    Host,
}

impl<'a> Summary<'a> {
    /// Points earned on the chapter's tests (challenges apart).
    pub fn score(&self) -> u32 {
        self.required().map(Graded::score).sum()
    }

    /// Points possible on the chapter's tests (challenges apart).
    pub fn max_score(&self) -> u32 {
        self.required().map(|g| g.test.points).sum()
    }

    /// Did every test pass? (A challenge is optional: it does not count.)
    pub fn passed(&self) -> bool {
        self.required().all(|g| g.result.status == Status::Pass)
    }

    /// Points earned on the optional challenges.
    pub fn challenge_score(&self) -> u32 {
        self.challenges().map(Graded::score).sum()
    }

    /// Points possible on the optional challenges (0 when none was graded).
    pub fn challenge_max_score(&self) -> u32 {
        self.challenges().map(|g| g.test.points).sum()
    }

    fn required(&self) -> impl Iterator<Item = &'a Graded> {
        self.graded.iter().filter(|g| !g.test.challenge)
    }

    fn challenges(&self) -> impl Iterator<Item = &'a Graded> {
        self.graded.iter().filter(|g| g.test.challenge)
    }

    /// The unfinished function that made `graded` fail, if one did.
    pub fn cause(&self, graded: &Graded) -> Option<&'a Unfinished> {
        if graded.result.status == Status::Pass {
            return None;
        }
        self.unfinished.iter().find(|u| u.tests.iter().any(|name| name == graded.test.name))
    }

    fn reproduce(&self, graded: &Graded) -> Option<String> {
        let command = graded.result.reproduce.as_deref()?;
        Some(match self.repeat {
            Repeat::Shell { .. } => crate::shell::paste_form(command, &graded.result.job, graded.test.name),
            Repeat::Host => format!("sudo {command}"),
        })
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

    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty
    /// (as <https://no-color.org> asks).
    pub fn for_stdout() -> Style {
        use std::io::IsTerminal;
        Style::new(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
    }

    /// Whether colour is on.
    pub fn is_on(self) -> bool {
        self.on
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
    unfinished_details(&mut out, summary.unfinished, style);
    let mut current = None;
    for graded in summary.graded {
        if current != Some(graded.test.chapter) {
            current = Some(graded.test.chapter);
            let title = crate::chapters::chapter(graded.test.chapter).map_or("", |c| c.title);
            let _ = writeln!(out, "\n  chapter {} — {title}", graded.test.chapter);
        }
        let (mark, colour) = match graded.result.status {
            Status::Pass => ("✓", "32"),
            Status::Fail => ("✗", "31"),
            Status::Timeout => ("⧗", "31"),
            Status::Error => ("!", "33"),
        };
        let points = format!("{}/{}", graded.score(), graded.test.points);
        let challenge = if graded.test.challenge { "challenge: " } else { "" };
        let _ = writeln!(
            out,
            "    {} {:<30} {points:>5}  {challenge}{}",
            style.paint(colour, mark),
            graded.test.name,
            graded.test.title
        );
        match summary.cause(graded) {
            Some(cause) => {
                let label = style.paint("2", &format!("{:>9}", "cause:"));
                let _ = writeln!(out, "        {label} {} is still todo!() (at the top)", cause.name());
            }
            None if graded.result.status != Status::Pass => failure_details(&mut out, summary, graded, style),
            None => {}
        }
    }
    let failing = summary.required().filter(|g| g.result.status != Status::Pass).count();
    let folded = summary.required().filter(|g| summary.cause(g).is_some()).count();
    let verdict = match (failing, folded) {
        (0, _) => style.paint("32", "all tests pass"),
        (_, 0) => style.paint("31", &format!("{failing} failing")),
        (_, _) => {
            let functions = summary.unfinished.len();
            let plural = if functions == 1 { "" } else { "s" };
            style
                .paint("31", &format!("{failing} failing, {folded} of them at {functions} unfinished function{plural}"))
        }
    };
    isolation_table(&mut out, summary.isolation, style);
    let _ = writeln!(out, "\nscore {}/{} — {verdict}", summary.score(), summary.max_score());
    if summary.challenge_max_score() > 0 {
        let _ = writeln!(
            out,
            "challenges {}/{} (optional: apart from the score)",
            summary.challenge_score(),
            summary.challenge_max_score()
        );
    }
    if let Repeat::Shell { shell } = &summary.repeat {
        let repeatable =
            |g: &&Graded| g.result.status != Status::Pass && g.result.reproduce.is_some() && summary.cause(g).is_none();
        if summary.graded.iter().any(|g| repeatable(&g)) {
            let _ = writeln!(out, "repeat a test by hand: `{shell}`, then paste its repeat line");
        }
    }
    let _ = writeln!(out, "log: {}", summary.log.display());
    out
}

/// Each unfinished function once, first: where it is, what its `todo!`
/// says, where the book explains it, and the tests it fails.
fn unfinished_details(out: &mut String, unfinished: &[Unfinished], style: Style) {
    let label = |name: &str| style.paint("2", &format!("{name:>9}"));
    for u in unfinished {
        let head = format!("{} is still todo!() — {}", u.name(), u.place());
        let _ = writeln!(
            out,
            "
  {} unfinished: {}",
            style.paint("33", "…"),
            style.paint("1", &head)
        );
        let _ = writeln!(out, "        {} {}", label("todo:"), u.todo);
        if let Some(book) = &u.book {
            let _ = writeln!(out, "        {} book/src/{book}", label("read:"));
        }
        let count = u.tests.len();
        let names = u.tests.iter().take(4).map(String::as_str).collect::<Vec<_>>().join(", ");
        let more = if count > 4 { format!(", and {} more", count - 4) } else { String::new() };
        let plural = if count == 1 { "" } else { "s" };
        let _ = writeln!(out, "        {} {count} test{plural} stop there: {names}{more}", label("fails:"));
    }
}

/// The isolation matrix as a compact table, four cells a row: green what
/// the container has of its own, plain what it shares with the host.
fn isolation_table(out: &mut String, isolation: Option<&Isolation>, style: Style) {
    let Some(isolation) = isolation else { return };
    let _ = writeln!(out, "\n  isolation, measured inside the container");
    if let Some(problem) = &isolation.problem {
        let _ = writeln!(out, "    not measured: {problem}");
        return;
    }
    for row in isolation.cells.chunks(4) {
        let mut line = String::from("   ");
        for cell in row {
            let (mark, colour) = match cell.isolated {
                Some(true) => ("✓", "32"),
                Some(false) => ("·", "2"),
                None => ("?", "33"),
            };
            // Pad before painting: colour codes have no width.
            let state = format!("{:<8}", cell.state);
            let _ = write!(
                line,
                " {:<9} {} {}",
                cell.aspect.label(),
                style.paint(colour, mark),
                style.paint(colour, &state)
            );
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
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
    /// Points earned (challenges apart).
    pub score: u32,
    /// Points possible (challenges apart).
    pub max_score: u32,
    /// Did every test pass? (Challenges do not count.)
    pub passed: bool,
    /// Points earned on the optional challenges.
    pub challenge_score: u32,
    /// Points possible on the optional challenges.
    pub challenge_max_score: u32,
    /// One entry per test.
    pub tests: Vec<JsonTest<'a>>,
    /// What the runtime's container isolates (`null` when the suite never
    /// got to measure it): a cell per aspect, `isolated` true, false or
    /// null (unknown).
    pub isolation: Option<&'a Isolation>,
    /// The saved log.
    pub log: String,
    /// The unfinished functions (`todo!()`) the runtime ran into, each
    /// with the tests it made fail.
    pub unfinished: &'a [Unfinished],
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
    /// The test grades an optional challenge: its points are not in `score`.
    pub challenge: bool,
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
    /// How long the test took.
    pub duration_ms: u64,
    /// The unfinished function that made it fail (see the report's
    /// `unfinished`), if one did.
    pub unfinished: Option<String>,
}

/// The report as JSON.
pub fn json(summary: &Summary) -> String {
    let report = JsonReport {
        chapter: summary.chapter.number,
        score: summary.score(),
        max_score: summary.max_score(),
        passed: summary.passed(),
        challenge_score: summary.challenge_score(),
        challenge_max_score: summary.challenge_max_score(),
        tests: summary
            .graded
            .iter()
            .map(|g| JsonTest {
                chapter: g.test.chapter,
                name: g.test.name,
                status: g.result.status,
                points: g.score(),
                max_points: g.test.points,
                challenge: g.test.challenge,
                message: &g.result.message,
                expected: g.result.expected.as_deref(),
                actual: g.result.actual.as_deref(),
                reproduce: summary.reproduce(g),
                hint: g.test.hint,
                book: g.test.book,
                duration_ms: g.result.duration_ms,
                unfinished: summary.cause(g).map(Unfinished::name),
            })
            .collect(),
        isolation: summary.isolation,
        log: summary.log.display().to_string(),
        unfinished: summary.unfinished,
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The report as JUnit XML, one `<testsuite>` per chapter, for CI systems
/// and gradebooks that read JUnit.
pub fn junit(summary: &Summary) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // A challenge that did not pass is reported as skipped: it is
    // optional, and must not fail a gradebook's build.
    let count = |graded: &[&Graded], status: Status| {
        graded.iter().filter(|g| g.result.status == status && !g.test.challenge).count()
    };
    let all: Vec<&Graded> = summary.graded.iter().collect();
    let _ = writeln!(
        out,
        "<testsuites name=\"greenroom chapter{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        summary.chapter.number,
        all.len(),
        count(&all, Status::Fail) + count(&all, Status::Timeout),
        count(&all, Status::Error)
    );
    for chapter in CHAPTERS {
        let tests: Vec<&Graded> = summary.graded.iter().filter(|g| g.test.chapter == chapter.number).collect();
        if tests.is_empty() {
            continue;
        }
        let seconds: f64 = tests.iter().map(|g| g.result.duration_ms as f64 / 1000.0).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"chapter{} {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{seconds:.3}\">",
            chapter.number,
            xml(chapter.title),
            tests.len(),
            count(&tests, Status::Fail) + count(&tests, Status::Timeout),
            count(&tests, Status::Error)
        );
        if chapter.number == summary.chapter.number {
            junit_properties(&mut out, summary.isolation);
        }
        for g in tests {
            let time = g.result.duration_ms as f64 / 1000.0;
            let head = format!(
                "    <testcase classname=\"greenroom.chapter{}{}\" name=\"{}\" time=\"{time:.3}\"",
                g.test.chapter,
                if g.test.challenge { ".challenge" } else { "" },
                xml(g.test.name)
            );
            let element = match g.result.status {
                Status::Pass => None,
                _ if g.test.challenge => Some("skipped"),
                Status::Fail => Some("failure"),
                Status::Timeout => Some("failure"),
                Status::Error => Some("error"),
            };
            match element {
                None => {
                    let _ = writeln!(out, "{head}/>");
                }
                Some(element) => {
                    let mut body = String::new();
                    let mut message = g.result.message.clone();
                    if let Some(cause) = summary.cause(g) {
                        message = format!("{} is still todo!() ({}): {message}", cause.name(), cause.place());
                        let _ = writeln!(body, "todo:     {}", cause.todo);
                        if let Some(book) = &cause.book {
                            let _ = writeln!(body, "read:     book/src/{book}");
                        }
                    }
                    if let Some(expected) = &g.result.expected {
                        let _ = writeln!(body, "expected: {expected}");
                    }
                    if let Some(actual) = &g.result.actual {
                        let _ = writeln!(body, "actual:   {actual}");
                    }
                    let _ = writeln!(body, "hint:     {}", g.test.hint);
                    if let Some(command) = summary.reproduce(g) {
                        let _ = writeln!(body, "repeat:   {command}");
                    }
                    let _ = writeln!(out, "{head}>");
                    let _ = writeln!(
                        out,
                        "      <{element} message=\"{}\" type=\"{:?}\">{}</{element}>",
                        xml(&message),
                        g.result.status,
                        xml(&body)
                    );
                    let _ = writeln!(out, "    </testcase>");
                }
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// The isolation matrix as JUnit properties (`isolation.mnt-ns` = `own`).
fn junit_properties(out: &mut String, isolation: Option<&Isolation>) {
    let Some(isolation) = isolation else { return };
    let _ = writeln!(out, "    <properties>");
    if let Some(problem) = &isolation.problem {
        let _ = writeln!(out, "      <property name=\"isolation\" value=\"not measured: {}\"/>", xml(problem));
    }
    for cell in &isolation.cells {
        let name =
            serde_json::to_value(cell.aspect).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let _ = writeln!(out, "      <property name=\"isolation.{name}\" value=\"{}\"/>", xml(&cell.state));
    }
    let _ = writeln!(out, "    </properties>");
}

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => escaped.push('\u{fffd}'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The report in the shape GitHub Classroom's autograding reporter reads
/// (the `result` output of its graders, base64-encoded by the workflow):
/// points per test in `score`, the total possible in `max_score`.
#[derive(Debug, Serialize)]
pub struct ClassroomReport {
    /// The format's version.
    pub version: u32,
    /// `pass` when every test passed, `fail` when one failed, `error` when
    /// a test could not run.
    pub status: &'static str,
    /// Points possible.
    pub max_score: u32,
    /// One entry per test.
    pub tests: Vec<ClassroomTest>,
    /// The isolation matrix, as in `--format json` (the reporter ignores it).
    pub isolation: Option<Isolation>,
}

/// One test in the classroom report.
#[derive(Debug, Serialize)]
pub struct ClassroomTest {
    /// `chapterN/name`.
    pub name: String,
    /// `pass`, `fail` (timeouts too) or `error`.
    pub status: &'static str,
    /// Points earned.
    pub score: u32,
    /// Points possible.
    pub max_score: u32,
    /// What went wrong, with the hint; `null` on a pass.
    pub message: Option<String>,
    /// Line of output that shows how the test is run.
    pub test_code: String,
    /// Milliseconds.
    pub duration: u64,
}

/// The report for GitHub Classroom (`--format classroom`).
pub fn classroom(summary: &Summary) -> String {
    let status_of = |status: Status| match status {
        Status::Pass => "pass",
        Status::Fail | Status::Timeout => "fail",
        Status::Error => "error",
    };
    let tests: Vec<ClassroomTest> = summary
        .graded
        .iter()
        .map(|g| ClassroomTest {
            name: match g.test.challenge {
                true => format!("chapter{}/challenge/{}", g.test.chapter, g.test.name),
                false => format!("chapter{}/{}", g.test.chapter, g.test.name),
            },
            status: status_of(g.result.status),
            score: g.score(),
            max_score: g.test.points,
            message: (g.result.status != Status::Pass).then(|| {
                if let Some(cause) = summary.cause(g) {
                    let read = cause.book.as_ref().map(|b| format!(" Read book/src/{b}.")).unwrap_or_default();
                    return format!("{} is still todo!() ({}): {}.{read}", cause.name(), cause.place(), cause.todo);
                }
                let mut message = g.result.message.clone();
                if let (Some(expected), Some(actual)) = (&g.result.expected, &g.result.actual) {
                    message.push_str(&format!(" (expected {expected}, got {actual})"));
                }
                format!("{message}. Hint: {}", g.test.hint)
            }),
            test_code: format!("cargo run -p checker -- chapter{} --only", g.test.chapter),
            duration: g.result.duration_ms,
        })
        .collect();
    // The run's status is the chapter's: a challenge not passed is optional
    // work not done, not a failure.
    let required: Vec<&ClassroomTest> =
        tests.iter().zip(summary.graded).filter(|(_, g)| !g.test.challenge).map(|(t, _)| t).collect();
    let status = if required.iter().any(|t| t.status == "error") {
        "error"
    } else if required.iter().any(|t| t.status == "fail") {
        "fail"
    } else {
        "pass"
    };
    let isolation = summary.isolation.cloned();
    let report = ClassroomReport { version: 1, status, max_score: summary.max_score(), tests, isolation };
    serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use suite::isolation::{Aspect, Cell};
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

    /// A chapter 1 matrix: its own UTS, IPC namespaces, nothing else.
    fn sample_isolation() -> Isolation {
        let cells = Aspect::ALL
            .iter()
            .map(|&aspect| {
                let own = matches!(aspect, Aspect::UtsNs | Aspect::IpcNs);
                let state = match aspect {
                    _ if own => "own",
                    Aspect::Root | Aspect::Proc | Aspect::Dev => "host's",
                    Aspect::Limits | Aspect::Seccomp => "none",
                    Aspect::Capabilities => "all",
                    _ => "shared",
                };
                Cell { aspect, isolated: Some(own), state: state.into(), detail: format!("{aspect:?}") }
            })
            .collect();
        Isolation { cells, problem: None }
    }

    fn summary<'a>(graded: &'a [Graded], isolation: &'a Isolation) -> Summary<'a> {
        Summary {
            chapter: &CHAPTERS[1],
            source: "your code in chapters/",
            graded,
            log: PathBuf::from("target/greenroom/logs/learner-ch01-uts.log"),
            repeat: Repeat::Shell { shell: "cargo run -p checker -- shell chapter1".into() },
            isolation: Some(isolation),
            unfinished: &[],
        }
    }

    #[test]
    fn human_report() {
        let graded = sample();
        let isolation = sample_isolation();
        insta::assert_snapshot!(human(&summary(&graded, &isolation), Style::new(false)));
    }

    #[test]
    fn json_report() {
        let graded = sample();
        let isolation = sample_isolation();
        insta::assert_snapshot!(json(&summary(&graded, &isolation)));
    }

    #[test]
    fn junit_report() {
        let graded = sample();
        let isolation = sample_isolation();
        insta::assert_snapshot!(junit(&summary(&graded, &isolation)));
    }

    #[test]
    fn classroom_report() {
        let graded = sample();
        let isolation = sample_isolation();
        let text = classroom(&summary(&graded, &isolation));
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        insta::assert_snapshot!(serde_json::to_string_pretty(&value).expect("pretty JSON"));
    }

    /// The sample results of GitHub Classroom's reporter documentation and
    /// tests (`{"tests": [{"name", "status", "message"}]}`, plus the
    /// `version`, `status`, `max_score` and per-test `score` that its
    /// `NotifyClassroom` sums): our report must have every one of those
    /// fields, with the same types and values from the same sets.
    #[test]
    fn classroom_report_has_the_reporters_shape() {
        let documented: serde_json::Value = serde_json::from_str(
            r#"{"version": 1, "status": "fail", "max_score": 10, "tests": [
                {"name": "Test 1", "status": "pass", "score": 10, "message": null},
                {"name": "Test 2", "status": "fail", "score": 0, "message": "Test failed with non-zero exit code."}]}"#,
        )
        .expect("the sample is JSON");
        let graded = sample();
        let isolation = sample_isolation();
        let ours: serde_json::Value =
            serde_json::from_str(&classroom(&summary(&graded, &isolation))).expect("valid JSON");
        let kind = |v: &serde_json::Value| match v {
            serde_json::Value::Null | serde_json::Value::String(_) => "string or null",
            serde_json::Value::Number(_) => "number",
            other => {
                if other.is_array() {
                    "array"
                } else {
                    "other"
                }
            }
        };
        for key in ["version", "status", "max_score", "tests"] {
            assert_eq!(kind(&ours[key]), kind(&documented[key]), "top-level {key}");
        }
        let statuses = ["pass", "fail", "error"];
        assert!(statuses.contains(&ours["status"].as_str().unwrap_or("")));
        let total: u64 = ours["tests"].as_array().into_iter().flatten().map(|t| t["score"].as_u64().unwrap_or(0)).sum();
        assert_eq!(total, u64::from(summary(&graded, &isolation).score()), "the reporter sums tests[].score");
        for test in ours["tests"].as_array().into_iter().flatten() {
            for key in ["name", "status", "score", "message"] {
                assert_eq!(kind(&test[key]), kind(&documented["tests"][0][key]), "tests[].{key} in {test}");
            }
            assert!(statuses.contains(&test["status"].as_str().unwrap_or("")), "{test}");
        }
    }

    #[test]
    fn repeat_lines_are_for_the_guests_shell_and_sudo_only_with_host() {
        let graded = sample();
        let isolation = sample_isolation();
        let in_vm = human(&summary(&graded, &isolation), Style::new(false));
        assert!(!in_vm.contains("sudo"), "{in_vm}");
        let host = Summary { repeat: Repeat::Host, ..summary(&graded, &isolation) };
        let text = human(&host, Style::new(false));
        assert!(text.contains("repeat: sudo /greenroom/bin/runtime run"), "{text}");
        assert!(!text.contains("checker -- shell"), "{text}");
    }

    /// A chapter 1 run whose `set_hostname` is still `todo!()`: every
    /// test but the refusal before the clone stops there.
    fn unfinished_sample() -> (Vec<Graded>, Vec<Unfinished>) {
        let panic = "exit code 101: the runtime panicked at ch01-uts/src/layer.rs:30:9: not yet implemented: …";
        let graded: Vec<Graded> = suite::tests_for(1, true)
            .into_iter()
            .map(|test| {
                let status = if test.name == "invalid-hostname-refused" { Status::Pass } else { Status::Fail };
                let mut result = result(test.name, status, if status == Status::Pass { "" } else { "the exit code" });
                result.actual = (status == Status::Fail).then(|| panic.to_string());
                Graded { result, test }
            })
            .collect();
        let tests =
            graded.iter().filter(|g| g.result.status == Status::Fail).map(|g| g.test.name.to_string()).collect();
        let unfinished = vec![Unfinished {
            function: "UtsLayer::enter_child".into(),
            file: "ch01-uts/src/layer.rs".into(),
            line: 30,
            todo: "set the container's hostname (book: chapter 1, \"The layer\")".into(),
            book: Some("ch01-uts.md#the-layer".into()),
            tests,
        }];
        (graded, unfinished)
    }

    #[test]
    fn a_todo_is_reported_once_with_its_failures_folded_under_it() {
        let (graded, unfinished) = unfinished_sample();
        let isolation = sample_isolation();
        let summary = Summary { unfinished: &unfinished, ..summary(&graded, &isolation) };
        let text = human(&summary, Style::new(false));
        insta::assert_snapshot!(text);
        let failing = graded.iter().filter(|g| g.result.status != Status::Pass).count();
        assert!(failing > 1, "the sample fails several tests");
        // Named once, at the top, before any test.
        assert_eq!(text.matches("unfinished: UtsLayer::enter_child is still todo!()").count(), 1, "{text}");
        assert!(text.find("unfinished:") < text.find("chapter 1 —"), "{text}");
        assert_eq!(text.matches("read: book/src/ch01-uts.md#the-layer").count(), 1, "{text}");
        // Each folded failure points there instead of giving its own hint.
        assert_eq!(text.matches("cause: UtsLayer::enter_child").count(), failing, "{text}");
        assert!(!text.contains("hint:") && !text.contains("the runtime panicked"), "{text}");

        let json: serde_json::Value = serde_json::from_str(&json(&summary)).expect("JSON");
        assert_eq!(json["unfinished"][0]["function"], "UtsLayer::enter_child");
        assert_eq!(json["unfinished"][0]["tests"].as_array().map(Vec::len), Some(failing));
        for test in json["tests"].as_array().into_iter().flatten() {
            let folded = test["status"] == "fail";
            assert_eq!(test["unfinished"] == "UtsLayer::enter_child", folded, "{test}");
        }
        let junit = junit(&summary);
        assert_eq!(junit.matches("message=\"UtsLayer::enter_child is still todo!()").count(), failing, "{junit}");
        let classroom: serde_json::Value = serde_json::from_str(&classroom(&summary)).expect("JSON");
        for test in classroom["tests"].as_array().into_iter().flatten().filter(|t| t["status"] == "fail") {
            let message = test["message"].as_str().unwrap_or_default();
            assert!(message.starts_with("UtsLayer::enter_child is still todo!() (ch01-uts/src/layer.rs:30)"), "{test}");
            assert!(message.contains("book/src/ch01-uts.md#the-layer"), "{test}");
        }
    }

    #[test]
    fn an_unmeasured_matrix_says_why() {
        let graded = sample();
        let isolation = Isolation::unmeasured("the runtime panicked");
        let text = human(&summary(&graded, &isolation), Style::new(false));
        assert!(text.contains("not measured: the runtime panicked"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&json(&summary(&graded, &isolation))).expect("JSON");
        assert_eq!(json["isolation"]["problem"], "the runtime panicked");
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\u{fffd}");
    }

    #[test]
    fn scores_count_only_passes() {
        let graded = sample();
        let isolation = sample_isolation();
        let summary = summary(&graded, &isolation);
        assert_eq!(summary.score(), graded[0].test.points);
        assert_eq!(summary.max_score(), graded.iter().map(|g| g.test.points).sum::<u32>());
        assert!(!summary.passed());
    }

    #[test]
    fn a_challenge_counts_apart_and_never_fails_the_chapter() {
        // The chapter's own tests pass; its one challenge fails.
        let mut graded: Vec<Graded> = suite::tests_for(1, true)
            .into_iter()
            .take(2)
            .map(|test| Graded { result: result(test.name, Status::Pass, ""), test })
            .collect();
        let challenge = graded[1].test.as_challenge();
        graded[1] = Graded { result: result(challenge.name, Status::Fail, "not done"), test: challenge };
        let isolation = sample_isolation();
        let summary = summary(&graded, &isolation);
        assert!(summary.passed(), "a failing challenge failed the chapter");
        assert_eq!((summary.score(), summary.max_score()), (graded[0].test.points, graded[0].test.points));
        assert_eq!((summary.challenge_score(), summary.challenge_max_score()), (0, graded[1].test.points));
        let human = human(&summary, Style::new(false));
        assert!(human.contains("all tests pass"), "{human}");
        assert!(human.contains(&format!("challenges 0/{} (optional", graded[1].test.points)), "{human}");
        let junit = junit(&summary);
        assert!(junit.contains("failures=\"0\"") && junit.contains("<skipped"), "{junit}");
        let classroom: serde_json::Value = serde_json::from_str(&classroom(&summary)).expect("valid JSON");
        assert_eq!(classroom["status"], "pass", "{classroom}");
        assert_eq!(classroom["tests"][1]["status"], "fail", "{classroom}");
    }
}
