//! `checker selfcheck`: the course checks itself, in one boot of the guest.
//!
//! For every chapter N it grades two runtimes: the solution of chapter N
//! (every test of chapters 0..=N must pass), and the pristine starter of
//! chapter N built on the solutions of the chapters before it (every test of
//! chapter N must fail — a test that passes on a `todo!()` tests nothing).

use std::process::ExitCode;

use anyhow::Result;
use suite::protocol::Status;

use crate::chapters::{Chapter, CHAPTERS};
use crate::compile::{self, Source};
use crate::grade::{self, Graded, JobSpec, Mode};

/// Runs the self-check of the chapters `only` (every chapter if empty) and
/// prints what it found.
pub fn run(only: &[&Chapter], mode: &Mode, progress: &mut dyn FnMut(&str)) -> Result<ExitCode> {
    grade::check_mode(mode)?;
    let mut jobs = Vec::new();
    for chapter in CHAPTERS.iter().filter(|c| only.is_empty() || only.iter().any(|o| o.number == c.number)) {
        progress(&format!(
            "building chapter {}: the solution, and the starter on the solutions below it",
            chapter.number
        ));
        let solution = compile::build_runtime(chapter, Source::Solution, None)?;
        let starter = compile::build_runtime(chapter, Source::StarterOnSolutions, None)?;
        jobs.push(JobSpec {
            tag: format!("solution-{}", chapter.dir),
            chapter: chapter.number,
            only: false,
            tests: Vec::new(),
            runtime: solution,
        });
        jobs.push(JobSpec {
            tag: format!("starter-{}", chapter.dir),
            chapter: chapter.number,
            only: true,
            tests: Vec::new(),
            runtime: starter,
        });
    }
    let tools = compile::build_tools()?;
    let execution = grade::execute(&jobs, mode, &tools, "selfcheck", progress)?;

    let mut problems = Vec::new();
    outln!("selfcheck");
    for (tag, graded) in &execution.jobs {
        let is_starter = tag.starts_with("starter-");
        // A starter's test must fail on the learner's missing work, not on
        // a fault of the grading itself.
        let good = |g: &&Graded| match is_starter {
            false => g.result.status == Status::Pass,
            true => matches!(g.result.status, Status::Fail | Status::Timeout),
        };
        let ok = graded.iter().filter(good).count();
        let want = if is_starter { "fail" } else { "pass" };
        outln!("  {tag:<24} {ok:>3}/{:<3} {want} as they should", graded.len());
        for g in graded.iter().filter(|g| !good(g)) {
            let what = if is_starter {
                "passes on the starter: it tests nothing the learner writes"
            } else {
                "fails on the solution"
            };
            problems.push(format!("{tag}: {} {what} ({:?}: {})", g.test.name, g.result.status, g.result.message));
        }
    }
    let drift =
        crate::course::starter_drift(&compile::repo_root().join("solutions"), &compile::repo_root().join("chapters"))?;
    if !drift.is_empty() {
        outln!("  note: chapters/ differs from the pristine starters ({} files): fine for a learner, a bug in a clean clone", drift.len());
    }
    for problem in &problems {
        outln!("  ✗ {problem}");
    }
    outln!("log: {}", execution.log.display());
    if problems.is_empty() {
        outln!("selfcheck passed");
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("selfcheck failed: {} problem(s)", problems.len());
        Ok(ExitCode::FAILURE)
    }
}
