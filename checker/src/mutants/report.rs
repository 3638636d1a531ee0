//! What came of grading the mutants: the accepted list they are checked
//! against, and the report per chapter and per function, for people and
//! for scripts. Pure functions of the results, tested without a guest.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::list::Mutant;
use crate::chapters::chapter;

/// What grading a mutant gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome")]
pub enum Outcome {
    /// A test failed on it.
    Caught {
        /// The tests that did not pass, as `name (status)`.
        by: Vec<String>,
    },
    /// It does not build: the compiler caught it, which counts as caught.
    Unviable,
    /// Every test passed on it: a wrong runtime with full marks.
    Missed,
}

/// A graded mutant.
#[derive(Debug, Clone, Serialize)]
pub struct Graded {
    /// The mutant.
    #[serde(flatten)]
    pub mutant: Mutant,
    /// What grading it gave.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// If it survived and is on the accepted list, the list's reason.
    pub accepted: Option<String>,
}

impl Graded {
    /// A survivor inside a SOLUTION block that nobody has accepted: what
    /// fails the run.
    pub fn is_new_survivor(&self) -> bool {
        self.outcome == Outcome::Missed && self.mutant.in_solution && self.accepted.is_none()
    }
}

/// One survivor accepted on purpose: an equivalent mutant (the runtime
/// does the same), or a mistake the kernel itself refuses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The file, relative to `solutions/`.
    pub file: String,
    /// The function, as cargo-mutants names it (`IdMap::new`).
    pub function: String,
    /// The mutation, as cargo-mutants words it without its position
    /// (`replace < with <= in IdMap::new`).
    pub mutation: String,
    /// Why no test need fail it, in one line.
    pub reason: String,
}

impl Accepted {
    /// Whether this entry is about `mutant`. Line numbers are left out on
    /// purpose: they move with every edit above the function. Two identical
    /// mutations in one function share their entry.
    pub fn matches(&self, mutant: &Mutant) -> bool {
        self.file == mutant.file && self.function == mutant.function && self.mutation == mutant.mutation
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptedFile {
    #[serde(default)]
    accepted: Vec<Accepted>,
}

/// Reads the accepted list (TOML, `[[accepted]]` tables). Every entry
/// needs a reason.
pub fn parse_accepted(text: &str) -> Result<Vec<Accepted>> {
    let file: AcceptedFile = toml::from_str(text).context("read the accepted list")?;
    if let Some(bare) = file.accepted.iter().find(|a| a.reason.trim().is_empty()) {
        anyhow::bail!("the accepted list gives no reason for `{}` in {}", bare.mutation, bare.file);
    }
    Ok(file.accepted)
}

/// The reason `mutant` is accepted, if it is.
pub fn accepted_reason(accepted: &[Accepted], mutant: &Mutant) -> Option<String> {
    accepted.iter().find(|a| a.matches(mutant)).map(|a| a.reason.clone())
}

/// Counts of one group of mutants.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Graded.
    pub mutants: usize,
    /// Failed by a test.
    pub caught: usize,
    /// Refused by the compiler.
    pub unviable: usize,
    /// Passed every test.
    pub missed: usize,
    /// Of the missed, those on the accepted list.
    pub accepted: usize,
}

impl Tally {
    fn add(&mut self, graded: &Graded) {
        self.mutants += 1;
        match graded.outcome {
            Outcome::Caught { .. } => self.caught += 1,
            Outcome::Unviable => self.unviable += 1,
            Outcome::Missed => {
                self.missed += 1;
                self.accepted += usize::from(graded.accepted.is_some());
            }
        }
    }

    /// The share killed (caught or unviable), in percent.
    pub fn killed_percent(&self) -> f64 {
        if self.mutants == 0 {
            return 100.0;
        }
        100.0 * (self.caught + self.unviable) as f64 / self.mutants as f64
    }

    fn line(&self) -> String {
        let mut line = format!(
            "{} mutants: {} caught, {} unviable, {} missed ({:.0} % killed)",
            self.mutants,
            self.caught,
            self.unviable,
            self.missed,
            self.killed_percent()
        );
        if self.accepted > 0 {
            let _ = write!(line, ", {} of the missed accepted", self.accepted);
        }
        line
    }
}

/// One chapter's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ChapterTally {
    /// The chapter.
    pub chapter: u8,
    /// Every mutant graded.
    pub all: Tally,
    /// Those inside SOLUTION blocks.
    pub solution: Tally,
    /// Per `file function`.
    pub functions: BTreeMap<String, Tally>,
}

/// The figures of each chapter, in order.
pub fn tally(graded: &[Graded]) -> Vec<ChapterTally> {
    let mut chapters: BTreeMap<u8, ChapterTally> = BTreeMap::new();
    for g in graded {
        let entry = chapters.entry(g.mutant.chapter).or_insert_with(|| ChapterTally {
            chapter: g.mutant.chapter,
            all: Tally::default(),
            solution: Tally::default(),
            functions: BTreeMap::new(),
        });
        entry.all.add(g);
        if g.mutant.in_solution {
            entry.solution.add(g);
        }
        let function = if g.mutant.function.is_empty() { "(no function)" } else { &g.mutant.function };
        entry.functions.entry(format!("{} {function}", g.mutant.file)).or_default().add(g);
    }
    chapters.into_values().collect()
}

/// The report for people: per chapter its figures, then per function,
/// then each survivor with its diff and, if accepted, why.
pub fn human(graded: &[Graded], accepted_list: &str) -> String {
    let mut out = String::new();
    for figures in tally(graded) {
        let dir = chapter(figures.chapter).map_or("?", |c| c.dir);
        let _ = writeln!(out, "chapter {} ({dir}): {}", figures.chapter, figures.all.line());
        let _ = writeln!(out, "  inside SOLUTION blocks: {}", figures.solution.line());
        let _ = writeln!(out, "  per function (killed/graded, * inside a SOLUTION block):");
        for (function, tally) in &figures.functions {
            let inside = graded
                .iter()
                .any(|g| g.mutant.in_solution && format!("{} {}", g.mutant.file, g.mutant.function) == *function);
            let mark = if inside { '*' } else { ' ' };
            let _ = writeln!(out, "   {mark} {:>2}/{:<2} {function}", tally.caught + tally.unviable, tally.mutants);
        }
        out.push('\n');
    }
    let survivors: Vec<&Graded> = graded.iter().filter(|g| g.outcome == Outcome::Missed).collect();
    if !survivors.is_empty() {
        let _ = writeln!(out, "survivors (every test passed on them):");
    }
    for g in &survivors {
        let m = &g.mutant;
        let place = if m.in_solution { "inside a SOLUTION block" } else { "outside the SOLUTION blocks" };
        let _ = writeln!(out, "\n{}:{}: {} ({place})", m.file, m.span.start.line, m.mutation);
        match &g.accepted {
            Some(reason) => {
                let _ = writeln!(out, "  accepted: {reason}");
            }
            None if m.in_solution => {
                let _ = writeln!(out, "  NEW: make a test fail it, or if it is right to pass, add to {accepted_list}:");
                // JSON's string escapes are TOML's too.
                let quote = |text: &str| serde_json::to_string(text).unwrap_or_default();
                let _ = writeln!(out, "    [[accepted]]");
                let _ = writeln!(out, "    file = {}", quote(&m.file));
                let _ = writeln!(out, "    function = {}", quote(&m.function));
                let _ = writeln!(out, "    mutation = {}", quote(&m.mutation));
                let _ = writeln!(out, "    reason = \"equivalent: … / refused by the kernel: …\"");
            }
            None => {}
        }
        // The hunks, without cargo-mutants' `---`/`+++` header (said above).
        for line in m.diff.lines().skip_while(|l| !l.starts_with("@@")) {
            let _ = writeln!(out, "    {line}");
        }
    }
    let new = graded.iter().filter(|g| g.is_new_survivor()).count();
    if new > 0 {
        let _ = writeln!(out, "\n{new} survivor(s) inside SOLUTION blocks are not on {accepted_list}");
    } else if !graded.is_empty() {
        let _ = writeln!(out, "every survivor inside a SOLUTION block is on {accepted_list}");
    }
    out
}

/// The report for scripts: the figures per chapter and every mutant.
pub fn json(graded: &[Graded]) -> String {
    #[derive(Serialize)]
    struct Report<'a> {
        chapters: Vec<ChapterTally>,
        new_survivors: usize,
        mutants: &'a [Graded],
    }
    let report = Report {
        chapters: tally(graded),
        new_survivors: graded.iter().filter(|g| g.is_new_survivor()).count(),
        mutants: graded,
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutants::list::{Position, Span};

    fn mutant(function: &str, mutation: &str, in_solution: bool) -> Mutant {
        let at = Position { line: 9, column: 7 };
        Mutant {
            chapter: 5,
            file: "ch05-user/src/map.rs".into(),
            function: function.into(),
            mutation: mutation.into(),
            genre: "BinaryOperator".into(),
            span: Span { start: at, end: at },
            in_solution,
            diff: format!(
                "--- ch05-user/src/map.rs\n+++ {mutation}\n@@ -9,1 +9,1 @@\n-    x < limit\n+    x <= limit\n"
            ),
        }
    }

    const LIST: &str = r#"
# Survivors accepted on purpose.
[[accepted]]
file = "ch05-user/src/map.rs"
function = "learner"
mutation = "replace < with <= in learner"
reason = "equivalent: limit is never equal to x"
"#;

    #[test]
    fn the_accepted_list_matches_file_function_and_mutation() {
        let accepted = parse_accepted(LIST).expect("parse");
        let same = mutant("learner", "replace < with <= in learner", true);
        assert_eq!(accepted_reason(&accepted, &same).as_deref(), Some("equivalent: limit is never equal to x"));
        // Lines move; the key does not use them.
        let mut moved = same.clone();
        moved.span.start.line = 120;
        assert!(accepted[0].matches(&moved));
        assert!(!accepted[0].matches(&mutant("other", "replace < with <= in learner", true)));
        assert!(!accepted[0].matches(&mutant("learner", "replace < with > in learner", true)));
        let mut elsewhere = same;
        elsewhere.file = "ch05-user/src/plan.rs".into();
        assert!(!accepted[0].matches(&elsewhere));
    }

    #[test]
    fn an_entry_needs_a_reason_and_known_fields() {
        let bare = LIST.replace("equivalent: limit is never equal to x", " ");
        assert!(format!("{:#}", parse_accepted(&bare).expect_err("no reason")).contains("no reason"));
        let typo = LIST.replace("reason =", "reasons =");
        assert!(parse_accepted(&typo).is_err());
        assert!(parse_accepted("").expect("an empty list").is_empty());
    }

    fn graded() -> Vec<Graded> {
        let caught = Outcome::Caught { by: vec!["maps-written (fail)".into()] };
        vec![
            Graded { mutant: mutant("learner", "replace < with > in learner", true), outcome: caught, accepted: None },
            Graded {
                mutant: mutant("learner", "replace learner -> bool with true", true),
                outcome: Outcome::Unviable,
                accepted: None,
            },
            Graded {
                mutant: mutant("learner", "replace < with <= in learner", true),
                outcome: Outcome::Missed,
                accepted: Some("equivalent: limit is never equal to x".into()),
            },
            Graded {
                mutant: mutant("learner", "replace < with == in learner", true),
                outcome: Outcome::Missed,
                accepted: None,
            },
            Graded {
                mutant: mutant("helper", "replace helper -> u32 with 0", false),
                outcome: Outcome::Missed,
                accepted: None,
            },
        ]
    }

    #[test]
    fn figures_count_unviable_as_killed_and_solution_blocks_apart() {
        let chapters = tally(&graded());
        assert_eq!(chapters.len(), 1);
        let all = chapters[0].all;
        assert_eq!((all.mutants, all.caught, all.unviable, all.missed, all.accepted), (5, 1, 1, 3, 1));
        assert_eq!(all.killed_percent(), 40.0);
        let inside = chapters[0].solution;
        assert_eq!((inside.mutants, inside.missed), (4, 2));
        assert_eq!(chapters[0].functions["ch05-user/src/map.rs learner"].mutants, 4);
    }

    #[test]
    fn only_an_unaccepted_survivor_inside_a_block_is_new() {
        let new: Vec<String> =
            graded().into_iter().filter(Graded::is_new_survivor).map(|g| g.mutant.mutation).collect();
        assert_eq!(new, ["replace < with == in learner"]);
    }

    #[test]
    fn a_new_survivor_comes_with_the_entry_that_would_accept_it() {
        let mut odd = mutant("learner", "replace learner -> String with \"xyzzy\".into()", true);
        odd.function = "learner".into();
        let report = human(&[Graded { mutant: odd.clone(), outcome: Outcome::Missed, accepted: None }], "list.toml");
        let entry: String = report
            .lines()
            .skip_while(|l| !l.contains("[[accepted]]"))
            .take(5)
            .map(|l| format!("{}\n", l.trim().replace("… / refused by the kernel: …", "x")))
            .collect();
        let parsed = parse_accepted(&entry).expect("the printed entry is valid TOML");
        assert!(parsed[0].matches(&odd), "{entry}");
    }

    #[test]
    fn human_report() {
        insta::assert_snapshot!(human(&graded(), "checker/mutants-accepted.toml"));
    }

    #[test]
    fn json_report() {
        insta::assert_snapshot!(json(&graded()));
    }
}
