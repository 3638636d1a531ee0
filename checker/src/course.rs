//! Starters are made from solutions, never written by hand.
//!
//! In a solution file, the learner's part sits between `// SOLUTION BEGIN`
//! and `// SOLUTION END`, and the lines that replace it in the starter are
//! written as `// STARTER: …` comments just above. [`starter_source`] drops
//! the first and uncomments the second. The test suite checks that
//! `chapters/` is exactly what `solutions/` gives, so the two cannot drift.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const BEGIN: &str = "// SOLUTION BEGIN";
const END: &str = "// SOLUTION END";
const STARTER: &str = "// STARTER:";

/// The starter's version of one solution source file.
pub fn starter_source(solution: &str) -> Result<String> {
    let mut starter = String::with_capacity(solution.len());
    let mut inside = false;
    for (number, line) in solution.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with(BEGIN) {
            if inside {
                bail!("line {}: {BEGIN} inside another", number + 1);
            }
            inside = true;
        } else if trimmed.starts_with(END) {
            if !inside {
                bail!("line {}: {END} without {BEGIN}", number + 1);
            }
            inside = false;
        } else if let Some(rest) = trimmed.strip_prefix(STARTER) {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            starter.push_str(indent);
            starter.push_str(rest.trim_end_matches('\n'));
            starter.push('\n');
        } else if !inside {
            starter.push_str(line);
        }
    }
    if inside {
        bail!("{BEGIN} without {END}");
    }
    Ok(starter)
}

/// A `// SOLUTION` marker out of place in a solution file, found by
/// [`marker_problems`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerProblem {
    /// The marker's line, from 1.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Every marker problem in one solution file: blocks that do not pair up,
/// and blocks with no `// STARTER:` line directly above them. Without that
/// guidance the starter would have nothing where the learner's part was:
/// no `todo!()` to fail on and no words saying what to write.
///
/// [`starter_source`] stops at the first unpaired marker; this reports them
/// all, for `checker dev check`.
pub fn marker_problems(solution: &str) -> Vec<MarkerProblem> {
    let mut problems = Vec::new();
    let mut open: Option<usize> = None;
    let mut previous_is_starter = false;
    for (index, line) in solution.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if trimmed.starts_with(BEGIN) {
            if let Some(opened) = open {
                let message =
                    format!("{BEGIN} inside the block opened at line {opened}: close that one with {END} first");
                problems.push(MarkerProblem { line: number, message });
            }
            if !previous_is_starter {
                let message = format!(
                    "{BEGIN} has no {STARTER} guidance directly above it, so the starter would have nothing \
                     in its place: write what the learner starts from on the line before, \
                     as in `{STARTER} todo!(\"…\")`"
                );
                problems.push(MarkerProblem { line: number, message });
            }
            open = Some(number);
        } else if trimmed.starts_with(END) && open.take().is_none() {
            problems.push(MarkerProblem { line: number, message: format!("{END} without a {BEGIN} before it") });
        }
        previous_is_starter = trimmed.starts_with(STARTER);
    }
    if let Some(opened) = open {
        problems.push(MarkerProblem { line: opened, message: format!("{BEGIN} is never closed: add {END}") });
    }
    problems
}

/// Every file of a course workspace that belongs in version control, as
/// paths relative to `root`: `Cargo.toml`, `Cargo.lock` and the chapter
/// folders, without build output.
pub fn course_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    collect(root, root, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            files.push(relative.to_path_buf());
        }
    }
    Ok(())
}

/// The starter's version of any course file: `.rs` files are split, the
/// rest copied as they are.
pub fn starter_file(solutions: &Path, relative: &Path) -> Result<Vec<u8>> {
    let path = solutions.join(relative);
    let bytes = fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    if relative.extension().is_some_and(|ext| ext == "rs") {
        let text = String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
        let starter = starter_source(&text).with_context(|| format!("split {}", path.display()))?;
        Ok(starter.into_bytes())
    } else {
        Ok(bytes)
    }
}

/// Writes `bytes` to `path` unless it already holds them, so unchanged
/// files keep their timestamps and cargo has nothing to rebuild.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

/// The files of `chapters/` that differ from what `solutions/` gives, or
/// are missing or extra. Empty when the course is consistent.
pub fn starter_drift(solutions: &Path, chapters: &Path) -> Result<Vec<String>> {
    let expected = course_files(solutions)?;
    let mut drift = Vec::new();
    for relative in &expected {
        let want = starter_file(solutions, relative)?;
        match fs::read(chapters.join(relative)) {
            Ok(have) if have == want => {}
            Ok(_) => drift.push(format!("{} differs", relative.display())),
            Err(_) => drift.push(format!("{} is missing", relative.display())),
        }
    }
    for relative in course_files(chapters)? {
        if !expected.contains(&relative) {
            drift.push(format!("{} has no solution", relative.display()));
        }
    }
    Ok(drift)
}

/// Applies `patch` to the files under `root`: free text first (what the
/// patch is for), then a unified diff per file, named `a/<path>` and
/// `b/<path>` relative to `root`. Returns each file's new contents; a diff
/// whose context no longer matches is an error, never a fuzzy guess.
pub fn apply_patch(root: &Path, patch: &str) -> Result<Vec<(PathBuf, String)>> {
    let starts: Vec<usize> =
        patch.match_indices("--- a/").map(|(i, _)| i).filter(|i| *i == 0 || patch.as_bytes()[i - 1] == b'\n').collect();
    if starts.is_empty() {
        bail!("no `--- a/<file>` diff in the patch");
    }
    let mut files = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(patch.len());
        let section = &patch[*start..end];
        let parsed =
            diffy::Patch::from_str(section).map_err(|e| anyhow::anyhow!("parse the diff at byte {start}: {e}"))?;
        let name = parsed.original().unwrap_or_default().trim_start_matches("a/").to_string();
        let original = fs::read_to_string(root.join(&name)).with_context(|| format!("read {name}"))?;
        let patched = diffy::apply(&original, &parsed)
            .map_err(|e| anyhow::anyhow!("{name} has changed since the patch was made: {e}"))?;
        files.push((PathBuf::from(name), patched));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learners_part_becomes_todo() {
        let solution = "fn f() -> u8 {\n    // STARTER: todo!(\"add\")\n    // SOLUTION BEGIN\n    1 + 1\n    // SOLUTION END\n}\n";
        assert_eq!(starter_source(solution).ok().as_deref(), Some("fn f() -> u8 {\n    todo!(\"add\")\n}\n"));
    }

    #[test]
    fn unbalanced_markers_are_errors() {
        assert!(starter_source("// SOLUTION BEGIN\n").is_err());
        assert!(starter_source("// SOLUTION END\n").is_err());
        assert!(starter_source("// SOLUTION BEGIN\n// SOLUTION BEGIN\n").is_err());
    }

    #[test]
    fn a_block_without_starter_guidance_is_a_problem() {
        let guided = "fn f() {\n    // STARTER: todo!()\n    // SOLUTION BEGIN\n    g();\n    // SOLUTION END\n}\n";
        assert_eq!(marker_problems(guided), vec![]);
        let bare = "fn f() {\n    // SOLUTION BEGIN\n    g();\n    // SOLUTION END\n}\n";
        let problems = marker_problems(bare);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].message.contains("no // STARTER: guidance"), "{}", problems[0].message);
    }

    #[test]
    fn every_unpaired_marker_is_reported() {
        let text = "// SOLUTION END\n// STARTER: a\n// SOLUTION BEGIN\n// STARTER: b\n// SOLUTION BEGIN\n";
        let lines: Vec<usize> = marker_problems(text).iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![1, 5, 5]);
    }

    #[test]
    #[cfg_attr(student_copy, ignore = "needs solutions/, which only the maintainers' full course has")]
    fn every_fixture_patch_applies_to_the_solutions() -> Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in fs::read_dir(root.join("tests/fixtures"))? {
            let path = entry?.path();
            let patch = fs::read_to_string(&path)?;
            let files = apply_patch(&root.join("../solutions"), &patch)
                .with_context(|| format!("{} no longer applies: remake it", path.display()))?;
            assert!(!files.is_empty(), "{}", path.display());
        }
        Ok(())
    }

    #[test]
    fn a_stale_patch_is_refused() {
        let dir = std::env::temp_dir().join(format!("greenroom-patch-{}", std::process::id()));
        fs::create_dir_all(dir.join("ch")).expect("temp dir");
        fs::write(dir.join("ch/f.rs"), "one\ntwo\nthree\n").expect("write");
        let patch = "says why\n--- a/ch/f.rs\n+++ b/ch/f.rs\n@@ -1,3 +1,3 @@\n one\n-TWO\n+2\n three\n";
        assert!(apply_patch(&dir, patch).is_err());
        let good = patch.replace("-TWO", "-two");
        let files = apply_patch(&dir, &good).expect("applies");
        assert_eq!(files, vec![(PathBuf::from("ch/f.rs"), "one\n2\nthree\n".to_string())]);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    #[cfg_attr(student_copy, ignore = "needs solutions/, which only the maintainers' full course has")]
    fn chapters_are_exactly_the_split_solutions() -> Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let drift = starter_drift(&root.join("solutions"), &root.join("chapters"))?;
        assert!(
            drift.is_empty(),
            "chapters/ drifted from solutions/: {drift:#?}\nrun `cargo run -p checker -- dev split`"
        );
        Ok(())
    }
}
