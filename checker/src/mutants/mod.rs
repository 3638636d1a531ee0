//! `checker dev mutants [chapterN…]`: does every learner function matter?
//!
//! cargo-mutants lists small, plausible mistakes in `solutions/` (an
//! operator flipped, a function that returns a constant, a match arm
//! dropped). Each is graded like a fixture: the solutions with the mutant's
//! diff applied, at the mutant's own chapter, in one guest kept up between
//! mutants (the machinery of `checker watch`, [`crate::warm`]). A mutant
//! some test fails is caught; one that does not build is unviable (the
//! compiler caught it); one that passes every test survived. A survivor
//! inside a SOLUTION block is learner code no test depends on, unless it
//! is on the accepted list (`checker/mutants-accepted.toml`) with a reason.

pub mod list;
pub mod report;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use suite::protocol::Status;

use crate::chapters::{Chapter, CHAPTERS};
use crate::compile::{self, Source};
use crate::grade::{self, JobSpec, Mode};
use crate::warm::WarmSlot;
use list::Mutant;
use report::{Graded, Outcome};

/// The accepted survivors, relative to the repository.
pub const ACCEPTED: &str = "checker/mutants-accepted.toml";

/// What to grade, as the command line asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The chapters whose crates are mutated; all when empty.
    pub chapters: Vec<&'static Chapter>,
    /// Only mutants inside SOLUTION blocks.
    pub in_solution: bool,
    /// Only mutants of what changed since this revision.
    pub changed_since: Option<String>,
    /// Only this many mutants, picked by `seed`.
    pub sample: Option<usize>,
    /// The seed of the sample.
    pub seed: u64,
    /// List the mutants chosen, grade nothing.
    pub list_only: bool,
    /// Grade with the mutant's own chapter's tests only. Otherwise a
    /// survivor of them is graded again with the earlier chapters' tests
    /// too, as the learner's `checker chapterN` runs them.
    pub own_tests_only: bool,
    /// Skip grading the unchanged solution first.
    pub no_baseline: bool,
    /// The JSON report instead of the one for people.
    pub json: bool,
}

/// Lists, grades and reports. Exit 1 when a mutant inside a SOLUTION
/// block survived and is not on the accepted list.
pub fn run(options: &Options, mode: &Mode, progress: &mut dyn FnMut(&str)) -> Result<ExitCode> {
    let root = compile::repo_root();
    let accepted_path = root.join(ACCEPTED);
    let accepted = match std::fs::read_to_string(&accepted_path) {
        Ok(text) => report::parse_accepted(&text).with_context(|| format!("read {}", accepted_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("read {}", accepted_path.display())),
    };
    let mutants = choose(options, &root)?;
    if options.list_only {
        for m in &mutants {
            let place = if m.in_solution { "SOLUTION" } else { "other" };
            println!("{place:<8} {}:{}: {}", m.file, m.span.start.line, m.mutation);
        }
        println!("{} mutant(s)", mutants.len());
        return Ok(ExitCode::SUCCESS);
    }
    grade::check_mode(mode)?;
    let slot = WarmSlot::default();
    let mut warm_mode = mode.clone();
    if let Mode::Vm { warm, .. } = &mut warm_mode {
        *warm = Some(slot.clone());
    }
    let graded = grade_all(&mutants, &accepted, options, &warm_mode, progress);
    slot.shut_down();
    let graded = graded?;
    if options.json {
        println!("{}", report::json(&graded));
    } else {
        print!("{}", report::human(&graded, ACCEPTED));
    }
    Ok(if graded.iter().any(Graded::is_new_survivor) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The mutants asked for: those of the chapters' crates, narrowed to what
/// changed, to SOLUTION blocks and to a sample, in that order.
fn choose(options: &Options, root: &Path) -> Result<Vec<Mutant>> {
    let chapters: Vec<&'static Chapter> =
        if options.chapters.is_empty() { CHAPTERS.iter().collect() } else { options.chapters.clone() };
    let mut mutants = list::list(&root.join("solutions"), &chapters)?;
    if let Some(rev) = &options.changed_since {
        let touched = list::touched(&list::changed_since(root, rev)?);
        mutants.retain(|m| touched.covers(m));
    }
    if options.in_solution {
        mutants.retain(|m| m.in_solution);
    }
    if let Some(n) = options.sample {
        let picked = list::sample(mutants.len(), n, options.seed);
        mutants = picked.into_iter().map(|i| mutants[i].clone()).collect();
    }
    // By chapter, so each chapter's guest serves all its mutants in a row.
    mutants.sort_by_key(|m| m.chapter);
    Ok(mutants)
}

fn grade_all(
    mutants: &[Mutant],
    accepted: &[report::Accepted],
    options: &Options,
    mode: &Mode,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Graded>> {
    let tools = compile::build_tools()?;
    let patch = compile::work_dir().join("mutants").join("mutant.patch");
    let mut graded = Vec::new();
    let mut baseline_done = None;
    for (n, mutant) in mutants.iter().enumerate() {
        let chapter = crate::chapters::chapter(mutant.chapter).context("a mutant of no chapter")?;
        // A learner's `checker chapterN` runs the earlier chapters' tests too:
        // a survivor of its own chapter's is graded again with them.
        let earlier = !options.own_tests_only
            && suite::tests_for(chapter.number, false).len() > suite::tests_for(chapter.number, true).len();
        let job = |runtime: PathBuf, only: bool| JobSpec {
            tag: "runtime".into(),
            chapter: chapter.number,
            only,
            tests: Vec::new(),
            runtime,
        };
        if !options.no_baseline && baseline_done != Some(chapter.number) {
            progress(&format!("chapter {}: grading the unchanged solution first", chapter.number));
            let runtime = compile::build_runtime(chapter, Source::Solution, None)?;
            // As widely as any mutant of it may be graded.
            let baseline = job(runtime, !earlier);
            let (failed, _) = failures(&baseline, mode, &tools, &format!("mutants-baseline-{}", chapter.dir))?;
            if !failed.is_empty() {
                anyhow::bail!(
                    "the unchanged solution of chapter {} fails {} here: every mutant would look caught \
                     (--no-baseline to grade anyway)",
                    chapter.number,
                    failed.join(", ")
                );
            }
            if earlier {
                drop_guest(mode);
            }
            baseline_done = Some(chapter.number);
        }
        let at =
            format!("[{}/{}] {}:{}: {}", n + 1, mutants.len(), mutant.file, mutant.span.start.line, mutant.mutation);
        course_patch(mutant, &patch)?;
        // A diff that does not apply is this tool's fault, not a mutant the compiler caught.
        let text = std::fs::read_to_string(&patch).with_context(|| format!("read {}", patch.display()))?;
        crate::course::apply_patch(&compile::repo_root().join("solutions"), &text)
            .with_context(|| format!("apply the diff of {at}"))?;
        let started = Instant::now();
        let built = compile::build_runtime(chapter, Source::Solution, Some(&patch));
        let build_time = started.elapsed();
        let mut timing = format!("build {:.0} s", build_time.as_secs_f64());
        let outcome = match built {
            Err(_) => Outcome::Unviable,
            Ok(runtime) => {
                let name = format!("mutant-{}", chapter.dir);
                let (mut by, booted) = failures(&job(runtime.clone(), true), mode, &tools, &name)?;
                if by.is_empty() && earlier {
                    by = failures(&job(runtime, false), mode, &tools, &name)?.0;
                    drop_guest(mode);
                    timing.push_str(", with the earlier chapters' tests");
                }
                let _ = write!(timing, ", tests {:.0} s", (started.elapsed() - build_time).as_secs_f64());
                if booted {
                    timing.push_str(", with a boot");
                }
                if by.is_empty() {
                    Outcome::Missed
                } else {
                    Outcome::Caught { by }
                }
            }
        };
        let accepted = match outcome {
            Outcome::Missed => report::accepted_reason(accepted, mutant),
            _ => None,
        };
        let word = match &outcome {
            Outcome::Caught { by } => format!("caught by {}", by.join(", ")),
            Outcome::Unviable => "unviable: it does not build".to_string(),
            Outcome::Missed if accepted.is_some() => "missed (accepted)".to_string(),
            Outcome::Missed => "MISSED".to_string(),
        };
        progress(&format!("{at} — {word} ({timing})"));
        graded.push(Graded { mutant: mutant.clone(), outcome, accepted });
    }
    Ok(graded)
}

/// Powers off the guest kept up, so the next grading boots a fresh one.
/// Done after every run with the earlier chapters' tests: what they leave
/// in the guest (chapter 4's lease directory, for one) must not change the
/// verdict of the next mutant's own tests, which a fresh guest would not
/// have seen.
fn drop_guest(mode: &Mode) {
    if let Mode::Vm { warm: Some(slot), .. } = mode {
        slot.shut_down();
    }
}

/// Grades one runtime; returns the tests that did not pass, as `name
/// (status)`, and whether the guest had to boot for it.
fn failures(job: &JobSpec, mode: &Mode, tools: &(PathBuf, PathBuf), name: &str) -> Result<(Vec<String>, bool)> {
    let mut quiet = |_: &str| {};
    let execution = grade::execute(std::slice::from_ref(job), mode, tools, name, &mut quiet)?;
    let booted = execution.timings.boot.is_some();
    let graded = execution.jobs.into_iter().next().map(|(_, graded)| graded).unwrap_or_default();
    let failed = graded
        .iter()
        .filter(|g| g.result.status != Status::Pass)
        .map(|g| format!("{} ({})", g.test.name, status_word(g.result.status)))
        .collect();
    Ok((failed, booted))
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Timeout => "timeout",
        Status::Error => "error",
    }
}

/// Writes `mutant` as a patch in the fixtures' form (`--- a/FILE`, `+++
/// b/FILE`, against `solutions/`) to `path`. One path for every mutant,
/// so they share one assembled workspace and its incremental build.
fn course_patch(mutant: &Mutant, path: &Path) -> Result<()> {
    let text = patch_text(mutant);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

/// cargo-mutants' diff names the file and the mutation on its `---`/`+++`
/// lines; the checker's patches name `a/FILE` and `b/FILE`.
fn patch_text(mutant: &Mutant) -> String {
    let hunks: String = mutant.diff.split_inclusive('\n').skip_while(|l| !l.starts_with("@@")).collect();
    format!(
        "MUTANT {}:{}: {}\n\n--- a/{file}\n+++ b/{file}\n{hunks}",
        mutant.file,
        mutant.span.start.line,
        mutant.mutation,
        file = mutant.file
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_accepted_list_reads() {
        let path = compile::repo_root().join(ACCEPTED);
        let text = std::fs::read_to_string(&path).expect("the accepted list");
        report::parse_accepted(&text).expect("every entry has a file, a function, a mutation and a reason");
    }

    #[test]
    fn a_mutant_becomes_a_patch_the_assembly_applies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ch05-user/src/map.rs");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, "fn f(x: u32) -> bool {\n    x < 3\n}\n").expect("write");
        let json = r#"[{"diff": "--- ch05-user/src/map.rs\n+++ replace < with <= in f\n@@ -1,3 +1,3 @@\n fn f(x: u32) -> bool {\n-    x < 3\n+    x <= 3\n }\n",
            "file": "ch05-user/src/map.rs", "function": {"function_name": "f"}, "genre": "BinaryOperator",
            "name": "ch05-user/src/map.rs:2:7: replace < with <= in f",
            "span": {"start": {"line": 2, "column": 7}, "end": {"line": 2, "column": 8}}}]"#;
        let mutants =
            list::parse(json, |f| Ok(std::fs::read_to_string(dir.path().join(f)).expect("read"))).expect("parse");
        let text = patch_text(&mutants[0]);
        assert!(text.starts_with("MUTANT ch05-user/src/map.rs:2: replace < with <= in f\n"), "{text}");
        let patched = crate::course::apply_patch(dir.path(), &text).expect("apply");
        assert_eq!(
            patched,
            vec![(PathBuf::from("ch05-user/src/map.rs"), "fn f(x: u32) -> bool {\n    x <= 3\n}\n".into())]
        );
    }
}
