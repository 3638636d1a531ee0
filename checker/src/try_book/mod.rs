//! `checker dev try-book [chapterN…] [--bless]`: runs every by-hand block
//! of the book in the guest its chapter grades in, with the chapter's
//! reference runtime, and compares what each command prints with what the
//! page shows. The book's transcripts then cannot drift from the guest.
//!
//! Each chapter boots its guest once ([`crate::shell::guest_image`], what
//! `checker shell` boots), and its pages run there in order, each page in
//! a shell of its own (a reader follows one page in one shell, and a later
//! page may use what an earlier one made). `--bless` writes the guest's
//! output into the pages where it differs, for a maintainer to review.

mod matching;
mod page;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use greenroom_vm::{FileSource, GuestFile, Verdict};
use suite::try_book::{Session, StepOutput};

use crate::chapters::Chapter;
use crate::compile;
use crate::grade::Mode;
use crate::shell::{self, Runtime};

pub use page::{parse, Page, Step};

/// The script the guest runs: the shell's setup, then the sessions.
const SCRIPT: &str = "/greenroom/try-book";
/// The sessions, as JSON.
const SESSIONS: &str = "/greenroom/try-book.json";
/// How long one chapter's guest may take, podman's pages included.
const DEADLINE: Duration = Duration::from_secs(30 * 60);

/// One page's verdict.
#[derive(Debug)]
struct Mismatch<'a> {
    step: &'a Step,
    actual: Option<&'a StepOutput>,
}

/// Runs the by-hand blocks of `chapters` (all when empty); exit 1 when a
/// command's output differs from its page.
pub fn run(
    chapters: &[&'static Chapter],
    bless: bool,
    mode: &Mode,
    progress: &mut dyn FnMut(&str),
) -> Result<ExitCode> {
    let Mode::Vm { kernel, accel, .. } = mode else {
        bail!("`dev try-book` runs the book in the grading guest: it has no --host form");
    };
    let book = compile::repo_root().join("book").join("src");
    let mut failed = 0;
    let mut ran = 0;
    for chapter in chapters {
        // Only the pages with a by-hand block: the others have nothing to run.
        let pages: Vec<Page> =
            pages_of(&book, chapter.number)?.into_iter().filter(|page| !page.steps.is_empty()).collect();
        let sessions: Vec<Session> = pages
            .iter()
            .map(|page| Session {
                page: page.name.clone(),
                commands: page.steps.iter().map(|s| s.command.clone()).collect(),
            })
            .collect();
        if sessions.is_empty() {
            continue;
        }
        let outputs = run_in_guest(chapter, &sessions, kernel.as_deref(), *accel, progress)?;
        for page in &pages {
            let mine: Vec<&StepOutput> = outputs.iter().filter(|o| o.page == page.name).collect();
            let mismatches = compare(page, &mine);
            ran += page.steps.len();
            failed += mismatches.len();
            report(page, &mismatches);
            if bless && !mismatches.is_empty() {
                bless_page(&book.join(&page.name), &mismatches)?;
                outln!("  {}: the guest's output written into the page; review the diff", page.name);
            }
        }
    }
    if failed == 0 {
        outln!("try-book: all {ran} commands print what their pages show");
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("try-book: {failed} of {ran} commands print something else than their pages show");
        Ok(ExitCode::from(1))
    }
}

/// The pages of `chapter` (`chNN-*.md`), in the book's order.
fn pages_of(book: &Path, chapter: u8) -> Result<Vec<Page>> {
    let prefix = format!("ch{chapter:02}-");
    let mut names: Vec<String> = std::fs::read_dir(book)
        .with_context(|| format!("read {}", book.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix) && name.ends_with(".md"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|name| {
            let path = book.join(name);
            let text = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
            Ok(parse(name, &text))
        })
        .collect()
}

/// Boots `chapter`'s guest with its reference runtime and runs the sessions.
fn run_in_guest(
    chapter: &Chapter,
    sessions: &[Session],
    kernel: Option<&Path>,
    accel: Option<greenroom_vm::Accel>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<StepOutput>> {
    let mut image = shell::guest_image(chapter, &Runtime::Solution, kernel, accel, progress)?;
    let script = format!(
        "#!/bin/sh\n# Written by `checker dev try-book`: the shell's setup, then the book's blocks.\n{}exec {}/greenroom-suite try-book {SESSIONS}\n",
        shell::guest_setup(chapter.number),
        crate::grade::GUEST_BIN
    );
    image.files.push(GuestFile {
        guest_path: SCRIPT.into(),
        source: FileSource::Bytes(script.into_bytes()),
        mode: 0o755,
    });
    let json = serde_json::to_vec(sessions).context("write the sessions")?;
    image.files.push(GuestFile { guest_path: SESSIONS.into(), source: FileSource::Bytes(json), mode: 0o644 });
    let log = compile::work_dir().join("logs").join(format!("try-book-chapter{}.log", chapter.number));
    let request = image.request(vec!["/bin/sh".into(), SCRIPT.into()], Vec::new(), DEADLINE, &log);
    progress(&format!("chapter {}: running {} pages' by-hand blocks in the guest", chapter.number, sessions.len()));
    let outcome = greenroom_vm::boot(&request).context("boot the guest")?;
    if !matches!(outcome.verdict, Verdict::Completed { exit_code: 0 }) {
        bail!("chapter {}'s guest ended with {:?}: see {}", chapter.number, outcome.verdict, log.display());
    }
    Ok(outcome.lines.iter().filter_map(|line| serde_json::from_str::<StepOutput>(line).ok()).collect())
}

/// The steps of `page` whose output differs from the guest's.
fn compare<'a>(page: &'a Page, outputs: &[&'a StepOutput]) -> Vec<Mismatch<'a>> {
    page.steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| {
            let actual = outputs.iter().copied().find(|o| o.step == index);
            let fine = actual
                .is_some_and(|a| a.trouble.is_none() && matching::matches(&step.expected, &step.command, &a.output));
            (!fine).then_some(Mismatch { step, actual })
        })
        .collect()
}

fn report(page: &Page, mismatches: &[Mismatch]) {
    if mismatches.is_empty() {
        outln!("{}: {} commands, as the page shows", page.name, page.steps.len());
        return;
    }
    outln!("{}: {} of {} commands differ", page.name, mismatches.len(), page.steps.len());
    for Mismatch { step, actual } in mismatches {
        outln!("  line {}: # {}", step.line, step.command.lines().next().unwrap_or_default());
        outln!("    the page shows:");
        for line in &step.expected {
            outln!("      |{line}");
        }
        match actual {
            None => outln!("    the guest never ran it (an earlier command of the page went wrong)"),
            Some(actual) => {
                outln!("    the guest printed:");
                for line in matching::output_lines(&actual.output) {
                    outln!("      |{line}");
                }
                if let Some(trouble) = &actual.trouble {
                    outln!("    and then: {trouble}");
                }
            }
        }
    }
}

/// Writes the guest's output in place of the page's, for the steps that
/// ran to their end.
fn bless_page(path: &Path, mismatches: &[Mismatch]) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // From the bottom up, so that earlier line numbers still hold.
    let mut blessed: Vec<&Mismatch> =
        mismatches.iter().filter(|m| m.actual.is_some_and(|a| a.trouble.is_none())).collect();
    blessed.sort_by_key(|m| std::cmp::Reverse(m.step.output_lines.start));
    for Mismatch { step, actual } in blessed {
        let Some(actual) = actual else { continue };
        let new: Vec<String> = matching::output_lines(&actual.output)
            .iter()
            .map(|line| format!("{}{}", step.prefix, line.trim_end()).trim_end().to_string())
            .collect();
        lines.splice(step.output_lines.clone(), new);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(path, out).with_context(|| format!("write {}", path.display()))
}
