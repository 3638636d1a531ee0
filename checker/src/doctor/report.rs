//! The findings, and how they are printed: a mark, a name and what was
//! found on each line, the fix under each problem, and a last line that
//! says what to do next.

use std::fmt::Write as _;

/// How a finding affects grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Worth knowing; grading still works.
    Warn,
    /// Grading cannot work until it is fixed.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, in a word or two.
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found, in one line.
    pub found: String,
    /// The one step that fixes it, for a warning or a failure.
    pub fix: Option<String>,
}

impl Check {
    /// A finding that is fine.
    pub(super) fn ok(name: &'static str, found: impl Into<String>) -> Check {
        Check { name, status: Status::Ok, found: found.into(), fix: None }
    }

    /// A finding worth knowing, with what would improve it.
    pub(super) fn warn(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Warn, found: found.into(), fix: Some(fix.into()) }
    }

    /// A finding that blocks grading, with the step that fixes it.
    pub(super) fn fail(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Fail, found: found.into(), fix: Some(fix.into()) }
    }

    /// The same finding, which can make doctor fail only if it `counts`:
    /// a check for a way of grading that is not the one asked about is
    /// shown, but as a warning at worst.
    pub(super) fn counts_if(mut self, counts: bool) -> Check {
        if !counts && self.status == Status::Fail {
            self.status = Status::Warn;
        }
        self
    }
}

/// A group of checks under a heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading.
    pub title: &'static str,
    /// Its checks, in order.
    pub checks: Vec<Check>,
}

/// How many checks fail.
pub fn failures(sections: &[Section]) -> usize {
    sections.iter().flat_map(|s| &s.checks).filter(|c| c.status == Status::Fail).count()
}

/// The report, in colour only when `colour`.
pub fn render(sections: &[Section], host: bool, colour: bool) -> String {
    let paint = |code: &str, text: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
    let mut out = String::from("greenroom doctor: what grading needs on this machine\n");
    for section in sections {
        let _ = writeln!(out, "\n{}", section.title);
        for check in &section.checks {
            let mark = match check.status {
                Status::Ok => paint("32", "✓"),
                Status::Warn => paint("33", "!"),
                Status::Fail => paint("31", "✗"),
            };
            let _ = writeln!(out, "  {mark} {:<15} {}", check.name, check.found);
            if let Some(fix) = &check.fix {
                let _ = writeln!(out, "    {:<15} {} {fix}", "", paint("2", "fix:"));
            }
        }
    }
    let warnings = sections.iter().flat_map(|s| &s.checks).filter(|c| c.status == Status::Warn).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (flag, grade) = if host {
        (" --host", "sudo -E env PATH=$PATH cargo run -p checker -- chapter0 --host")
    } else {
        ("", "cargo run -p checker -- chapter0")
    };
    let _ = match (failures(sections), warnings) {
        (0, 0) => writeln!(out, "\nall good: grade with `{grade}`"),
        (0, w) => writeln!(out, "\nnothing blocks grading ({} above): grade with `{grade}`", plural(w, "warning")),
        (f, _) => writeln!(
            out,
            "\n{} to fix (✗ above), then run `cargo run -p checker -- doctor{flag}` again",
            plural(f, "problem")
        ),
    };
    out
}
