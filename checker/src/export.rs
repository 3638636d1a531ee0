//! `checker dev export-student DIR`: the course as a student, or a
//! classroom's template repository, receives it; and `checker dev
//! leak-check DIR`, which proves that no answer travelled with it.
//!
//! The export is the repository's files (what git tracks, plus new files
//! it does not ignore) without what carries the reference code or exists
//! only to check it:
//!
//! - `solutions/`, the reference itself;
//! - `checker/tests/`, the maintainers' tests: its `fixtures/` are the
//!   solutions with one line broken, and the rest grade the solutions;
//! - `.ci/`, the maintainers' CI, which checks the solutions.
//!
//! It adds `.starters/`, a pristine copy of every starter, from which
//! `checker reset` restores a chapter (a student copy has no `solutions/`
//! to split and no history to trust), and it rewrites the README's test
//! command for a copy whose maintainers' tests are gone.
//!
//! The leak check reads every line of every `// SOLUTION` block of
//! `solutions/` and looks for it in every text file of the exported tree.
//! Lines that cannot give an answer away are left aside: blank or
//! brace-only ones, very short ones, and those the starters themselves
//! contain (given code that happens to read like a line of an answer).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

use crate::course;

/// Where an export keeps its pristine starters, relative to its root.
pub const STARTERS: &str = ".starters";

/// What the export leaves out, as path prefixes relative to the root.
const LEFT_OUT: &[&str] = &["solutions/", "checker/tests/", ".ci/"];

/// A line of an answer shorter than this (in characters, after trimming)
/// is too common to be a leak: `Ok(())`, `return code;`, `match x {`.
const SHORTEST_SECRET: usize = 16;

/// Lines of answers that are ordinary Rust, which the tooling uses for
/// purposes of its own (waiting, formatting a path): seeing them in the
/// checker teaches nothing of a chapter. Each is a whole trimmed line.
const COMMON_RUST: &[&str] = &[
    "std::thread::sleep(Duration::from_millis(1));",
    "let text = path.to_string_lossy();",
    "let none = None::<&str>;",
    "if !extra.is_empty() {",
];

/// A course's README line giving the project's test command, and what an
/// export says instead.
const README_TEST_LINE: &str = "cargo test --workspace                # run the project's own tests (maintainers, CI)";
const README_TEST_LINE_EXPORT: &str =
    "cargo test --workspace                # the tooling's own unit tests (the maintainers' tests are not in this copy)";

/// The README's row for `solutions/` in its layout table, and the export's.
const README_SOLUTIONS_ROW: &str =
    "| `solutions/` | the reference code; the starters are generated from it (`checker dev split`) |";
const README_STARTERS_ROW: &str =
    "| `.starters/` | a pristine copy of every starter, which `checker reset` puts back |";

/// What an export's README says first, under its title.
const README_NOTE: &str = "> This is the student copy of greenroom: it has no reference solution and \
no maintainers' tests. `--solution`, `selfcheck` and the `dev` commands belong to the maintainers' \
full course and say so here.\n\n";

/// `checker dev export-student DIR`: writes the export, then runs the
/// leak check on it.
pub fn run_export(root: &Path, dir: &Path) -> Result<ExitCode> {
    let count = export(root, dir)?;
    println!("wrote the student copy to {} ({count} files)", dir.display());
    report_leaks(&root.join("solutions"), dir)
}

/// `checker dev leak-check DIR`: every answer line found in DIR, exit 1
/// if there is any.
pub fn run_leak_check(root: &Path, dir: &Path) -> Result<ExitCode> {
    if !dir.is_dir() {
        bail!("{} is not a folder: name an exported course (checker dev export-student DIR)", dir.display());
    }
    report_leaks(&root.join("solutions"), dir)
}

fn report_leaks(solutions: &Path, dir: &Path) -> Result<ExitCode> {
    let secrets = secrets(solutions)?;
    let leaks = find_leaks(&secrets, dir)?;
    for leak in &leaks {
        println!("{leak}");
    }
    if leaks.is_empty() {
        println!("leak check: none of the {} lines of the answers appears in {}", secrets.len(), dir.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("leak check: {} line(s) of the answers found in {}", leaks.len(), dir.display());
        Ok(ExitCode::FAILURE)
    }
}

/// Writes the student copy of the course at `root` into `dir`, which must
/// not exist or be empty. Returns how many files it wrote.
pub fn export(root: &Path, dir: &Path) -> Result<usize> {
    if dir.exists() && fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?.next().is_some() {
        bail!("{} is not empty: name a new folder for the export", dir.display());
    }
    let solutions = root.join("solutions");
    if !solutions.is_dir() {
        bail!("{} has no solutions/: export from the maintainers' full course", root.display());
    }
    let drift = course::starter_drift(&solutions, &root.join("chapters"))?;
    if !drift.is_empty() {
        bail!("chapters/ is not what solutions/ gives ({}): run `checker dev split` first", drift.join(", "));
    }
    let mut count = 0;
    for relative in tracked_files(root)? {
        let text = relative.to_string_lossy();
        if LEFT_OUT.iter().any(|prefix| text.starts_with(prefix)) {
            continue;
        }
        let from = root.join(&relative);
        // A file git knows of but that is deleted in the working tree.
        let Ok(meta) = fs::symlink_metadata(&from) else { continue };
        let to = dir.join(&relative);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        if meta.file_type().is_symlink() {
            let link = fs::read_link(&from).with_context(|| format!("read the link {}", from.display()))?;
            std::os::unix::fs::symlink(&link, &to).with_context(|| format!("link {}", to.display()))?;
        } else if relative == Path::new("README.md") {
            let readme = fs::read_to_string(&from).context("read README.md")?;
            fs::write(&to, student_readme(&readme)?).context("write the export's README.md")?;
        } else {
            // fs::copy keeps the permissions (.sh scripts stay executable).
            fs::copy(&from, &to).with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
        }
        count += 1;
    }
    for relative in course::course_files(&solutions)? {
        let to = dir.join(STARTERS).join(&relative);
        course::write_if_changed(&to, &course::starter_file(&solutions, &relative)?)?;
        count += 1;
    }
    Ok(count)
}

/// The files of the repository: what git tracks and what it would track
/// (new files it does not ignore), relative to `root`.
fn tracked_files(root: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .context("run git, which tells which files are the course's")?;
    if !output.status.success() {
        bail!(
            "git ls-files in {}: {} (the export needs the course's git repository)",
            root.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut files: Vec<PathBuf> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// The README as a student copy has it: a note on what the copy is, the
/// test command of a copy without the maintainers' tests, and the layout
/// without `solutions/`. A README whose lines moved is an error, so the
/// export never ships a README that promises what the copy lacks.
fn student_readme(readme: &str) -> Result<String> {
    let mut text = readme.to_string();
    for (from, to) in [(README_TEST_LINE, README_TEST_LINE_EXPORT), (README_SOLUTIONS_ROW, README_STARTERS_ROW)] {
        if !text.contains(from) {
            bail!("README.md no longer has the line `{from}`: update checker/src/export.rs to match it");
        }
        text = text.replacen(from, to, 1);
    }
    // The note goes after the title and its blank line.
    let at = text.find("\n\n").map(|i| i + 2).unwrap_or(0);
    text.insert_str(at, README_NOTE);
    Ok(text)
}

/// One line of an answer, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The line, trimmed.
    pub text: String,
    /// Its file, relative to `solutions/`.
    pub file: PathBuf,
    /// Its line number, from 1.
    pub line: usize,
}

/// Every line of every `// SOLUTION` block under `solutions`, but those
/// that cannot give an answer away (see the module's documentation).
pub fn secrets(solutions: &Path) -> Result<Vec<Secret>> {
    let files = course::course_files(solutions)?;
    let mut starters = String::new();
    for relative in &files {
        starters.push_str(&String::from_utf8_lossy(&course::starter_file(solutions, relative)?));
        starters.push('\n');
    }
    let mut found: BTreeMap<String, Secret> = BTreeMap::new();
    for relative in files.iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
        let path = solutions.join(relative);
        let source = fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        for (line, text) in block_lines(&source) {
            if is_telling(text) && !starters.contains(text) && !found.contains_key(text) {
                let secret = Secret { text: text.to_string(), file: relative.clone(), line };
                found.insert(text.to_string(), secret);
            }
        }
    }
    Ok(found.into_values().collect())
}

/// The lines inside `// SOLUTION BEGIN` … `// SOLUTION END`, trimmed, with
/// their numbers.
fn block_lines(source: &str) -> Vec<(usize, &str)> {
    let mut inside = false;
    let mut lines = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let text = line.trim();
        if text.starts_with("// SOLUTION BEGIN") {
            inside = true;
        } else if text.starts_with("// SOLUTION END") {
            inside = false;
        } else if inside {
            lines.push((index + 1, text));
        }
    }
    lines
}

/// Whether a line of an answer says enough to give it away: not blank,
/// not only braces and punctuation, not very short, not common Rust.
fn is_telling(text: &str) -> bool {
    text.chars().count() >= SHORTEST_SECRET
        && !text.chars().all(|c| "{}()[];,. ".contains(c))
        && !COMMON_RUST.contains(&text)
}

/// A line of an answer found in the exported tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The file it was found in, relative to the tree's root.
    pub file: PathBuf,
    /// The line it was found on, from 1.
    pub line: usize,
    /// The answer's line it matches.
    pub secret: Secret,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: a line of the answer in solutions/{}:{}: {}",
            self.file.display(),
            self.line,
            self.secret.file.display(),
            self.secret.line,
            self.secret.text
        )
    }
}

/// Every place in `tree` where a line of `secrets` appears, anywhere in a
/// line (inside a string, a comment, a Markdown page). Build output
/// (`target/`) and git's own files are not the course's, and files that
/// are not text cannot be read by a person.
pub fn find_leaks(secrets: &[Secret], tree: &Path) -> Result<Vec<Leak>> {
    let mut files = Vec::new();
    text_files(tree, tree, &mut files)?;
    let mut leaks = Vec::new();
    for relative in files {
        let path = tree.join(&relative);
        let Ok(text) = fs::read_to_string(&path) else { continue };
        for secret in secrets {
            if let Some(at) = text.find(&secret.text) {
                let line = text[..at].matches('\n').count() + 1;
                leaks.push(Leak { file: relative.clone(), line, secret: secret.clone() });
            }
        }
    }
    Ok(leaks)
}

fn text_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("read {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("read {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let kind = entry.file_type().with_context(|| format!("read {}", path.display()))?;
        if kind.is_dir() {
            if name != "target" && name != ".git" {
                text_files(root, &path, files)?;
            }
        } else if kind.is_file() {
            if let Ok(relative) = path.strip_prefix(root) {
                files.push(relative.to_path_buf());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLUTION: &str = "pub fn exit_code(status: i32) -> u8 {\n    \
        // STARTER: todo!(\"map the status\")\n    \
        // SOLUTION BEGIN\n    \
        let code = status.clamp(0, 255) as u8;\n    \
        }\n    \
        Ok(())\n    \
        code\n    \
        // SOLUTION END\n}\n";

    fn course(dir: &Path) -> PathBuf {
        let solutions = dir.join("solutions");
        fs::create_dir_all(solutions.join("ch00/src")).expect("create the course");
        fs::write(solutions.join("ch00/src/exit.rs"), SOLUTION).expect("write a solution");
        solutions
    }

    #[test]
    fn the_secrets_are_the_telling_lines_of_the_blocks() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let secrets = secrets(&course(dir.path()))?;
        let texts: Vec<&str> = secrets.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, vec!["let code = status.clamp(0, 255) as u8;"]);
        assert_eq!((secrets[0].file.as_path(), secrets[0].line), (Path::new("ch00/src/exit.rs"), 4));
        Ok(())
    }

    #[test]
    fn a_planted_leak_is_found_wherever_it_hides() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let secrets = secrets(&course(dir.path()))?;
        let tree = dir.path().join("export");
        fs::create_dir_all(tree.join("book/src"))?;
        fs::create_dir_all(tree.join("checker/src"))?;
        fs::write(tree.join("book/src/clean.md"), "The exit code is the status, clamped.\n")?;
        fs::write(
            tree.join("book/src/ch00.md"),
            "# Exit codes\n\n```rust\n    let code = status.clamp(0, 255) as u8;\n```\n",
        )?;
        // Inside a string, as a hint would carry it.
        fs::write(
            tree.join("checker/src/hint.rs"),
            "const HINT: &str = \"try: let code = status.clamp(0, 255) as u8; then\";\n",
        )?;
        let leaks = find_leaks(&secrets, &tree)?;
        let places: Vec<(PathBuf, usize)> = leaks.iter().map(|l| (l.file.clone(), l.line)).collect();
        assert_eq!(places, vec![(PathBuf::from("book/src/ch00.md"), 4), (PathBuf::from("checker/src/hint.rs"), 1)]);
        assert!(leaks[0].to_string().contains("solutions/ch00/src/exit.rs:4"), "{}", leaks[0]);
        Ok(())
    }

    #[test]
    fn a_line_the_starters_show_is_no_secret() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let solutions = course(dir.path());
        fs::write(
            solutions.join("ch00/src/lib.rs"),
            "// given\nfn f(status: i32) -> u8 { let code = status.clamp(0, 255) as u8; code }\n",
        )?;
        assert_eq!(secrets(&solutions)?, vec![]);
        Ok(())
    }

    #[test]
    fn the_readme_of_an_export_has_no_maintainers_promises() -> Result<()> {
        // The real README is checked by exporting the real course, below.
        let readme = format!("# greenroom\n\nA course.\n\n```sh\n{README_TEST_LINE}\n```\n\n{README_SOLUTIONS_ROW}\n");
        let student = student_readme(&readme)?;
        assert!(student.starts_with("# greenroom\n\n> This is the student copy"), "{student}");
        assert!(student.contains(README_TEST_LINE_EXPORT) && !student.contains(README_TEST_LINE));
        assert!(!student.contains("| `solutions/` |"));
        assert!(student_readme("# x\n\nno such lines\n").is_err());
        Ok(())
    }

    /// The real course, exported: nothing of the answers, the fixtures or
    /// the maintainers' CI in it, a pristine copy of every starter, and
    /// the leak check finds nothing.
    #[test]
    #[cfg_attr(student_copy, ignore = "needs solutions/, which only the maintainers' full course has")]
    fn the_course_exports_without_its_answers() -> Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("student");
        export(&root, &out)?;
        for gone in ["solutions", "checker/tests", ".ci"] {
            assert!(!out.join(gone).exists(), "{gone} was exported");
        }
        let chapters = out.join("chapters");
        assert_eq!(course::course_files(&chapters)?, course::course_files(&out.join(STARTERS))?);
        for relative in course::course_files(&chapters)? {
            assert_eq!(fs::read(chapters.join(&relative))?, fs::read(out.join(STARTERS).join(&relative))?);
        }
        let leaks = find_leaks(&secrets(&root.join("solutions"))?, &out)?;
        assert!(leaks.is_empty(), "{}", leaks.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
        assert!(export(&root, &out).is_err_and(|e| e.to_string().contains("not empty")));
        Ok(())
    }
}
