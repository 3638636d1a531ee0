//! Which mutants to grade: cargo-mutants' list, each mutant placed in its
//! chapter and told inside or outside a SOLUTION block, then narrowed to
//! what was asked (chapters, files a change touched, a fixed sample).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::chapters::{Chapter, CHAPTERS};

/// A line and column of a source file, both counted from 1, as
/// cargo-mutants reports them (the column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Position {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

/// The text a mutation replaces: from `start` up to, not including, `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Span {
    /// The first character replaced.
    pub start: Position,
    /// The character just after the last one replaced.
    pub end: Position,
}

/// One entry of `cargo mutants --list --diff --json`, with the fields used.
#[derive(Debug, Clone, Deserialize)]
struct Listed {
    file: String,
    function: Option<ListedFunction>,
    span: Span,
    /// `FILE:LINE:COL: replace … with …`.
    name: String,
    genre: String,
    #[serde(default)]
    diff: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ListedFunction {
    function_name: String,
}

/// One mutant of the solutions: a small change to one function that a
/// learner could have made, which some test should fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mutant {
    /// The chapter whose crate it changes.
    pub chapter: u8,
    /// Its file, relative to `solutions/` (`ch05-user/src/map.rs`).
    pub file: String,
    /// The function it changes (`IdMap::new`), empty outside any function.
    pub function: String,
    /// What it does, as cargo-mutants says it, without the position
    /// (`replace < with <= in IdMap::new`): with file and function, the key
    /// of the accepted list, which line numbers would not keep.
    pub mutation: String,
    /// cargo-mutants' kind of mutation (`FnValue`, `BinaryOperator`, …).
    pub genre: String,
    /// Where it is.
    pub span: Span,
    /// Whether it lies inside a SOLUTION block: the learner's part.
    pub in_solution: bool,
    /// The change, as a unified diff against `solutions/`.
    pub diff: String,
}

/// Runs cargo-mutants in `solutions` and lists the mutants of `chapters`'
/// crates, each classified against the file it changes.
pub fn list(solutions: &Path, chapters: &[&'static Chapter]) -> Result<Vec<Mutant>> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(["mutants", "--list", "--diff", "--json"]).current_dir(solutions);
    // Unit tests' own files (`mod tests;` behind a `cfg` that cargo-mutants
    // does not read as test-only, such as `cfg(all(test, target_arch =
    // …))`): never built into a runtime, so no graded test could fail them.
    command.args(["--exclude", "tests.rs"]);
    for chapter in chapters {
        command.args(["--package", chapter.package]);
    }
    let output = command.output().context("run cargo mutants")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("no such command") {
            bail!("cargo-mutants is not installed: `cargo install cargo-mutants --locked`, then try again");
        }
        bail!("cargo mutants --list failed in {}: {}", solutions.display(), stderr.trim());
    }
    let json = String::from_utf8(output.stdout).context("cargo mutants printed something that is not UTF-8")?;
    let mut sources = BTreeMap::new();
    parse(&json, |file| {
        if !sources.contains_key(file) {
            let text = std::fs::read_to_string(solutions.join(file))
                .with_context(|| format!("read {}", solutions.join(file).display()))?;
            sources.insert(file.to_string(), text);
        }
        Ok(sources[file].clone())
    })
}

/// Parses cargo-mutants' JSON list; `source` gives a file's text (relative
/// to `solutions/`), to tell where its SOLUTION blocks are.
pub fn parse(json: &str, mut source: impl FnMut(&str) -> Result<String>) -> Result<Vec<Mutant>> {
    let listed: Vec<Listed> = serde_json::from_str(json).context("read cargo mutants' JSON list")?;
    listed
        .into_iter()
        .map(|entry| {
            let chapter = chapter_of(&entry.file)
                .ok_or_else(|| anyhow!("cargo mutants listed {}, which is in no chapter's crate", entry.file))?;
            let text = source(&entry.file)?;
            // The name is `FILE:LINE:COL: WHAT`; WHAT stays the same when lines move.
            let mutation = entry.name.split_once(": ").map_or(entry.name.as_str(), |(_, what)| what).to_string();
            Ok(Mutant {
                chapter: chapter.number,
                in_solution: inside_solution(&text, entry.span),
                function: entry.function.map(|f| f.function_name).unwrap_or_default(),
                file: entry.file,
                mutation,
                genre: entry.genre,
                span: entry.span,
                diff: entry.diff,
            })
        })
        .collect()
}

/// The chapter whose crate holds `file` (`ch05-user/src/map.rs`).
fn chapter_of(file: &str) -> Option<&'static Chapter> {
    let dir = file.split('/').next()?;
    CHAPTERS.iter().find(|c| c.dir == dir)
}

/// The SOLUTION blocks of a file, as the line numbers of their
/// `// SOLUTION BEGIN` and `// SOLUTION END` markers.
pub fn solution_blocks(source: &str) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut begin = None;
    for (n, line) in source.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("// SOLUTION BEGIN") {
            begin = Some(n + 1);
        } else if line.starts_with("// SOLUTION END") {
            blocks.extend(begin.take().map(|b| (b, n + 1)));
        }
    }
    blocks
}

/// Whether the code `span` replaces is the learner's: every line of it
/// that holds code lies between a SOLUTION block's markers. Comments,
/// blank lines and a lone brace do not count, so replacing a function's
/// whole body that is one SOLUTION block (with its STARTER comment above)
/// is inside.
pub fn inside_solution(source: &str, span: Span) -> bool {
    let blocks = solution_blocks(source);
    let lines: Vec<&str> = source.lines().collect();
    let mut any = false;
    for n in span.start.line..=span.end.line {
        let Some(line) = lines.get(n.wrapping_sub(1)) else { return false };
        let chars: Vec<char> = line.chars().collect();
        let from = if n == span.start.line { span.start.column.saturating_sub(1) } else { 0 };
        let to = if n == span.end.line { span.end.column.saturating_sub(1) } else { chars.len() };
        let part: String = chars.get(from.min(chars.len())..to.min(chars.len())).unwrap_or_default().iter().collect();
        let code = part.trim();
        if code.is_empty() || code.starts_with("//") || code == "{" || code == "}" {
            continue;
        }
        if !blocks.iter().any(|(begin, end)| *begin < n && n < *end) {
            return false;
        }
        any = true;
    }
    any
}

/// What a change touched, in the terms of mutants: whole chapters (their
/// tests or manifests changed) and single source files of `solutions/`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// Chapters all of whose mutants are concerned.
    pub chapters: BTreeSet<u8>,
    /// Files of `solutions/` (relative to it) whose mutants are concerned.
    pub files: BTreeSet<String>,
}

impl Touched {
    /// Whether `mutant` is among what was touched.
    pub fn covers(&self, mutant: &Mutant) -> bool {
        self.chapters.contains(&mutant.chapter) || self.files.contains(&mutant.file)
    }
}

/// What the changed paths (relative to the repository, as `git diff
/// --name-only` gives them) touch. A solution's source file concerns its
/// own mutants; a chapter's tests, or its crate's other files, the whole
/// chapter; the rest of the suite or the probe every chapter.
pub fn touched(paths: &[String]) -> Touched {
    let mut touched = Touched::default();
    for path in paths {
        if let Some(relative) = path.strip_prefix("solutions/") {
            match chapter_of(relative) {
                Some(_) if relative.ends_with(".rs") => {
                    touched.files.insert(relative.to_string());
                }
                Some(chapter) => {
                    touched.chapters.insert(chapter.number);
                }
                // The workspace's own manifest or lock file: every crate.
                None => touched.chapters.extend(CHAPTERS.iter().map(|c| c.number)),
            }
        } else if let Some(module) = path.strip_prefix("checker/suite/src/chapters/") {
            let own = CHAPTERS.iter().find(|c| module.starts_with(&format!("{}.", c.dir.replace('-', "_"))));
            match own {
                Some(chapter) => touched.chapters.insert(chapter.number),
                None => {
                    touched.chapters.extend(CHAPTERS.iter().map(|c| c.number));
                    true
                }
            };
        } else if path.starts_with("checker/suite/") || path.starts_with("probe/") {
            touched.chapters.extend(CHAPTERS.iter().map(|c| c.number));
        }
    }
    touched
}

/// The files changed since `rev` (committed or not), relative to `root`.
pub fn changed_since(root: &Path, rev: &str) -> Result<Vec<String>> {
    let output = Command::new("git")
        .args(["diff", "--name-only", rev, "--"])
        .current_dir(root)
        .output()
        .context("run git diff")?;
    if !output.status.success() {
        bail!("--changed-since {rev}: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect())
}

/// `n` of `count` items, chosen by `seed` alone, as indices in order: the
/// same seed over the same list always picks the same mutants, so a CI run
/// is repeatable, and another seed picks others.
pub fn sample(count: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..count).collect();
    let mut state = seed;
    // A partial Fisher–Yates shuffle driven by splitmix64: small and fixed,
    // so the sample does not change with a random crate's version.
    for i in 0..n.min(count) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let j = i + (z % (count - i) as u64) as usize;
        indices.swap(i, j);
    }
    indices.truncate(n.min(count));
    indices.sort_unstable();
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in the solutions' shape: a STARTER comment, then the learner's block.
    const SOURCE: &str = "\
fn helper() -> u32 {
    1 + 1
}

pub fn learner(x: u32) -> bool {
    // STARTER: todo!(\"compare\")
    // SOLUTION BEGIN
    let limit = helper();
    x < limit
    // SOLUTION END
}

pub fn mixed(x: u32) -> u32 {
    let y = x * 2;
    // SOLUTION BEGIN
    y + 1
    // SOLUTION END
}
";

    fn span(start: (usize, usize), end: (usize, usize)) -> Span {
        Span { start: Position { line: start.0, column: start.1 }, end: Position { line: end.0, column: end.1 } }
    }

    #[test]
    fn blocks_are_found_by_their_markers() {
        assert_eq!(solution_blocks(SOURCE), vec![(7, 10), (15, 17)]);
    }

    #[test]
    fn an_operator_inside_a_block_is_inside() {
        assert!(inside_solution(SOURCE, span((9, 7), (9, 8))));
        assert!(inside_solution(SOURCE, span((16, 7), (16, 8))));
    }

    #[test]
    fn code_outside_every_block_is_outside() {
        assert!(!inside_solution(SOURCE, span((2, 7), (2, 8))));
        assert!(!inside_solution(SOURCE, span((14, 15), (14, 16))));
    }

    #[test]
    fn a_whole_body_that_is_one_block_is_inside() {
        // From the brace after the signature to the closing one: only the
        // STARTER comment and the markers lie outside the block.
        assert!(inside_solution(SOURCE, span((5, 32), (11, 2))));
        // cargo-mutants' own span of a body: its statements.
        assert!(inside_solution(SOURCE, span((8, 5), (9, 14))));
    }

    #[test]
    fn a_body_with_code_outside_its_block_is_outside() {
        assert!(!inside_solution(SOURCE, span((13, 29), (18, 2))));
    }

    #[test]
    fn a_span_past_the_end_of_the_file_is_outside() {
        assert!(!inside_solution(SOURCE, span((40, 1), (41, 1))));
    }

    /// Two entries as cargo-mutants 27 prints them (diffs shortened).
    pub(crate) const LISTED: &str = r#"[
      {"diff": "--- ch05-user/src/map.rs\n+++ replace < with <= in learner\n@@ -9,1 +9,1 @@\n-    x < limit\n+    x <= limit\n",
       "file": "ch05-user/src/map.rs",
       "function": {"function_name": "learner", "return_type": "-> bool",
                    "span": {"start": {"line": 5, "column": 1}, "end": {"line": 11, "column": 2}}},
       "genre": "BinaryOperator",
       "name": "ch05-user/src/map.rs:9:7: replace < with <= in learner",
       "package": "user", "replacement": "<=",
       "span": {"start": {"line": 9, "column": 7}, "end": {"line": 9, "column": 8}}},
      {"diff": "--- ch05-user/src/map.rs\n+++ replace helper -> u32 with 0\n@@ -2,1 +2,1 @@\n-    1 + 1\n+    0\n",
       "file": "ch05-user/src/map.rs",
       "function": {"function_name": "helper", "return_type": "-> u32",
                    "span": {"start": {"line": 1, "column": 1}, "end": {"line": 3, "column": 2}}},
       "genre": "FnValue",
       "name": "ch05-user/src/map.rs:2:5: replace helper -> u32 with 0",
       "package": "user", "replacement": "0",
       "span": {"start": {"line": 2, "column": 5}, "end": {"line": 2, "column": 10}}}
    ]"#;

    #[test]
    fn cargo_mutants_json_is_parsed_and_classified() {
        let mutants = parse(LISTED, |file| {
            assert_eq!(file, "ch05-user/src/map.rs");
            Ok(SOURCE.to_string())
        })
        .expect("parse");
        assert_eq!(mutants.len(), 2);
        let first = &mutants[0];
        assert_eq!((first.chapter, first.function.as_str()), (5, "learner"));
        assert_eq!(first.mutation, "replace < with <= in learner");
        assert_eq!(first.genre, "BinaryOperator");
        assert!(first.in_solution);
        assert!(first.diff.starts_with("--- ch05-user/src/map.rs\n"));
        assert_eq!(mutants[1].mutation, "replace helper -> u32 with 0");
        assert!(!mutants[1].in_solution);
    }

    #[test]
    fn a_file_in_no_chapter_is_an_error() {
        let json = LISTED.replace("ch05-user/", "elsewhere/");
        let err = parse(&json, |_| Ok(SOURCE.to_string())).expect_err("no chapter");
        assert!(format!("{err:#}").contains("elsewhere/src/map.rs"), "{err:#}");
    }

    #[test]
    fn changes_touch_files_chapters_or_everything() {
        let paths = |list: &[&str]| list.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let one_file = touched(&paths(&["solutions/ch05-user/src/map.rs", "README.md", "book/src/ch05-user.md"]));
        assert_eq!(one_file.files.iter().collect::<Vec<_>>(), ["ch05-user/src/map.rs"]);
        assert!(one_file.chapters.is_empty());

        let tests = touched(&paths(&["checker/suite/src/chapters/ch06_cgroups.rs", "solutions/ch04-net/Cargo.toml"]));
        assert_eq!(tests.chapters.iter().copied().collect::<Vec<_>>(), [4, 6]);

        let all = CHAPTERS.len();
        assert_eq!(touched(&paths(&["probe/src/main.rs"])).chapters.len(), all);
        assert_eq!(touched(&paths(&["checker/suite/src/chapters/mod.rs"])).chapters.len(), all);
        assert_eq!(touched(&paths(&["solutions/Cargo.lock"])).chapters.len(), all);
        assert!(touched(&paths(&["checker/src/main.rs", ".ci/run"])) == Touched::default());
    }

    #[test]
    fn a_sample_depends_on_the_seed_alone() {
        let picked = sample(100, 5, 7);
        assert_eq!(picked.len(), 5);
        assert!(picked.windows(2).all(|w| w[0] < w[1]), "{picked:?}");
        assert_eq!(picked, sample(100, 5, 7));
        assert_ne!(picked, sample(100, 5, 8));
        assert_eq!(sample(3, 5, 7), vec![0, 1, 2]);
        assert!(sample(0, 5, 7).is_empty());
    }
}
