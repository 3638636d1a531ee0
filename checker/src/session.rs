//! One grading of one chapter: build, run, remember. `checker chapterN`
//! prints it once; `checker watch` runs it again after every save.

use std::path::PathBuf;

use anyhow::Result;
use suite::isolation::Isolation;
use suite::protocol::{Status, TestResult};

use crate::chapters::Chapter;
use crate::compile::{self, Source};
use crate::grade::{self, Graded, JobSpec, Mode};
use crate::report::{Repeat, Summary};
use crate::state;
use crate::unfinished::{self, Unfinished};

/// What to grade, and where.
#[derive(Debug, Clone)]
pub struct Request {
    /// The chapter.
    pub chapter: &'static Chapter,
    /// Only its own tests.
    pub only: bool,
    /// Grade `solutions/` instead of the learner's code.
    pub solution: bool,
    /// A patch applied to a copy of the solutions (the checker's own
    /// fixtures of broken runtimes).
    pub patch: Option<PathBuf>,
    /// Only the tests of these names (the fixtures' tests); empty for all.
    pub tests: Vec<String>,
    /// VM or host.
    pub mode: Mode,
}

/// A finished grading.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The chapter graded.
    pub chapter: &'static Chapter,
    /// Whose code, in words.
    pub source: String,
    /// Every test's result.
    pub graded: Vec<Graded>,
    /// The saved log.
    pub log: PathBuf,
    /// How the report shows a command that repeats a test.
    pub repeat: Repeat,
    /// What the runtime's container isolates, if it was measured.
    pub isolation: Option<Isolation>,
    /// The unfinished functions (`todo!()`) behind the failures.
    pub unfinished: Vec<Unfinished>,
}

impl Outcome {
    /// An outcome for a grading that could not happen (a build error, no
    /// QEMU): every test is an error that says why.
    pub fn not_graded(chapter: &'static Chapter, only: bool, why: &str) -> Outcome {
        let graded = suite::tests_for(chapter.number, only)
            .into_iter()
            .map(|test| Graded {
                result: TestResult::bare(
                    "runtime",
                    test.chapter,
                    test.name,
                    Status::Error,
                    format!("not graded: {why}"),
                ),
                test,
            })
            .collect();
        Outcome {
            chapter,
            source: "nothing (grading failed)".into(),
            graded,
            log: PathBuf::new(),
            repeat: Repeat::Host,
            isolation: None,
            unfinished: Vec::new(),
        }
    }

    /// The report's view of this outcome.
    pub fn summary(&self) -> Summary<'_> {
        Summary {
            chapter: self.chapter,
            source: &self.source,
            graded: &self.graded,
            log: self.log.clone(),
            repeat: self.repeat.clone(),
            isolation: self.isolation.as_ref(),
            unfinished: &self.unfinished,
        }
    }
}

/// Builds and grades, and remembers the learner's result.
pub fn grade(request: &Request, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    grade::check_mode(&request.mode)?;
    let chapter = request.chapter;
    let (label, source_text, source) = match (&request.patch, request.solution) {
        (Some(patch), _) => (
            format!("patched-{}", patch.file_stem().map(|n| n.to_string_lossy()).unwrap_or_default()),
            format!("the solutions with {} applied", patch.display()),
            Source::Solution,
        ),
        (None, true) => ("solution".to_string(), "the solutions".to_string(), Source::Solution),
        (None, false) => ("learner".to_string(), "your code in chapters/".to_string(), Source::Learner),
    };
    progress(&format!("building chapter {} ({}) from {source_text}", chapter.number, chapter.dir));
    let runtime = compile::build_runtime(chapter, source, request.patch.as_deref())?;
    let tools = compile::build_tools()?;
    let job = JobSpec {
        tag: "runtime".into(),
        chapter: chapter.number,
        only: request.only,
        tests: request.tests.clone(),
        runtime: runtime.clone(),
    };
    let name = format!("{label}-{}", chapter.dir);
    let execution = grade::execute(std::slice::from_ref(&job), &request.mode, &tools, &name, progress)?;
    let graded = execution.jobs.into_iter().next().map(|(_, graded)| graded).unwrap_or_default();
    let isolation = execution.isolation.into_iter().next().map(|(_, isolation)| isolation);
    let repeat = match request.mode {
        Mode::Host => Repeat::Host,
        Mode::Vm { .. } => {
            let runtime = crate::shell::Runtime::of(request.solution, request.patch.as_deref());
            Repeat::Shell { shell: crate::shell::command_line(chapter, &runtime) }
        }
    };
    let results: Vec<&TestResult> = graded.iter().map(|g| &g.result).collect();
    let built_in = compile::source_dir(chapter, source, request.patch.as_deref());
    let unfinished = unfinished::find(&results, &built_in, &compile::repo_root().join("book").join("src"));
    let outcome = Outcome { chapter, source: source_text, graded, log: execution.log, repeat, isolation, unfinished };
    // An `--only` grading counts too (`list` and `hint` say it was one); a
    // handful of tests picked with --test does not.
    if source == Source::Learner && request.patch.is_none() && request.tests.is_empty() {
        let summary = outcome.summary();
        let result = state::LastResult {
            score: summary.score(),
            max_score: summary.max_score(),
            passed: summary.passed(),
            challenge_score: summary.challenge_score(),
            tests: outcome.graded.iter().map(|g| g.result.clone()).collect(),
            only: request.only,
            unfinished: outcome.unfinished.clone(),
        };
        state::record(&state::state_path(), chapter.number, result);
    }
    Ok(outcome)
}
