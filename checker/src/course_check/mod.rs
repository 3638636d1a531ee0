//! `checker dev check`: the course holds itself to its chapter table.
//!
//! A chapter is described once, in the table (`suite::chapters::CHAPTERS`).
//! Everything else that names it is checked against that table here: the
//! two workspaces' members, each crate's package name, the book's summary
//! and pages (and each page's "What the tests check" table), the README's
//! chapter table. So is what each graded test says about itself (a unique
//! kebab-case name, a title, a hint, points, a book section that exists),
//! the starter guidance in the solutions, and `chapters/` being exactly
//! the split solutions.
//!
//! Like rustlings' `dev check`, it is a maintainer's tool, and a unit test
//! runs it on the real course. Unlike it, it does not stop at the first
//! problem: it reports every one, each naming its file and the fix.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::chapters::{Chapter, CHAPTERS};
use crate::course;

mod headings;
#[cfg(test)]
mod tests;

pub use headings::{heading_ids, id_from_content};

/// Where the table is, for messages that send the reader to it.
const TABLE: &str = "checker/suite/src/chapters/mod.rs";

/// The command that regenerates `chapters/` from `solutions/`.
const SPLIT: &str = "cargo run -p checker -- dev split";

/// What the check knows of one chapter: its row of the table and what its
/// tests say about themselves. Plain data, so a test can describe a small
/// fake course without writing any tests.
#[derive(Debug, Clone)]
pub struct ChapterSpec {
    /// Its number, 0 upwards.
    pub number: u8,
    /// The crate's folder in `chapters/` and `solutions/`.
    pub dir: &'static str,
    /// The crate's package name.
    pub package: &'static str,
    /// The layer it adds.
    pub title: &'static str,
    /// Its page in the book, relative to `book/src/`.
    pub book: &'static str,
    /// Its tests, in the order its module lists them.
    pub tests: Vec<TestSpec>,
}

/// What a graded test says about itself: everything but the test.
#[derive(Debug, Clone)]
pub struct TestSpec {
    /// The chapter it claims to belong to.
    pub chapter: u8,
    /// Its name.
    pub name: &'static str,
    /// Its points.
    pub points: u32,
    /// What a pass means.
    pub title: &'static str,
    /// The nudge for a failure.
    pub hint: &'static str,
    /// Its book section, `page.md#anchor`.
    pub book: &'static str,
}

impl ChapterSpec {
    /// A row of the real table, with its tests' metadata.
    pub fn of(chapter: &Chapter) -> ChapterSpec {
        let tests = (chapter.tests)()
            .iter()
            .map(|t| TestSpec {
                chapter: t.chapter,
                name: t.name,
                points: t.points,
                title: t.title,
                hint: t.hint,
                book: t.book,
            })
            .collect();
        ChapterSpec {
            number: chapter.number,
            dir: chapter.dir,
            package: chapter.package,
            title: chapter.title,
            book: chapter.book,
            tests,
        }
    }

    /// The file that lists this chapter's tests, by the naming rule
    /// `ch01-uts` → `ch01_uts.rs`.
    fn tests_file(&self) -> PathBuf {
        PathBuf::from(format!("checker/suite/src/chapters/{}.rs", self.dir.replace('-', "_")))
    }
}

/// The course's own table, as the check reads it.
pub fn table() -> Vec<ChapterSpec> {
    CHAPTERS.iter().map(ChapterSpec::of).collect()
}

/// One inconsistency in the course: where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file to fix, relative to the repository's root.
    pub file: PathBuf,
    /// The line in it, when one line is at fault.
    pub line: Option<usize>,
    /// What is wrong, and the fix.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// The problems found so far, each against a file.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, file: impl Into<PathBuf>, message: impl Into<String>) {
        self.0.push(Problem { file: file.into(), line: None, message: message.into() });
    }

    fn add_at(&mut self, file: impl Into<PathBuf>, line: impl Into<Option<usize>>, message: impl Into<String>) {
        self.0.push(Problem { file: file.into(), line: line.into(), message: message.into() });
    }
}

/// Checks the course in the repository at `root` against `chapters`, and
/// returns every problem found: none when the course is consistent.
pub fn check(root: &Path, chapters: &[ChapterSpec]) -> Vec<Problem> {
    let mut problems = Problems::default();
    check_rows(chapters, &mut problems);
    check_workspace(root, "solutions", chapters, &mut problems);
    check_workspace(root, "chapters", chapters, &mut problems);
    check_starters(root, &mut problems);
    check_guidance(root, &mut problems);
    check_summary(root, chapters, &mut problems);
    check_tests(root, chapters, &mut problems);
    check_test_tables(root, chapters, &mut problems);
    check_readme(root, chapters, &mut problems);
    check_what_you_build(root, chapters, &mut problems);
    check_learner_sizes(root, chapters, &mut problems);
    check_pictures(root, chapters, &mut problems);
    problems.0
}

/// How many lines of code the learner writes in each of chapters 0–6,
/// their challenge included (the capstone's part is larger, and spread
/// over its pages). Fewer, and the chapter hands its lesson over as given
/// code; more, and it is no longer one sitting.
pub const LEARNER_LINES: std::ops::RangeInclusive<usize> = 40..=150;

/// Every chapter before the capstone has a learner part within
/// [`LEARNER_LINES`], counted by [`learner_lines`].
fn check_learner_sizes(root: &Path, chapters: &[ChapterSpec], problems: &mut Problems) {
    for chapter in chapters.iter().filter(|c| c.number < crate::grade::CAPSTONE_CHAPTER) {
        let crate_dir = Path::new("solutions").join(chapter.dir);
        let lines = learner_lines(&root.join(&crate_dir));
        if !LEARNER_LINES.contains(&lines) {
            problems.add(
                crate_dir,
                format!(
                    "its SOLUTION blocks hold {lines} lines of code, outside {}–{}: move the code that holds the \
                     chapter's lessons into the learner's part, or plumbing out of it",
                    LEARNER_LINES.start(),
                    LEARNER_LINES.end()
                ),
            );
        }
    }
}

/// Chapter pages allowed to have no picture: none today, and a page put
/// here owes one.
const PAGES_WITHOUT_PICTURE: &[&str] = &[];

/// Every chapter page shows at least one picture: a ```` ```svgbob ````
/// block, which the book's preprocessor (book/pictures) draws as SVG.
fn check_pictures(root: &Path, chapters: &[ChapterSpec], problems: &mut Problems) {
    for name in chapter_pages(root, chapters) {
        if PAGES_WITHOUT_PICTURE.contains(&name.as_str()) {
            continue;
        }
        let page = Path::new("book/src").join(&name);
        let Ok(text) = fs::read_to_string(root.join(&page)) else { continue };
        if !text.lines().any(|line| line.trim_end() == "```svgbob") {
            problems.add(
                &page,
                "has no picture: draw one in a ```svgbob block (see book/pictures), where a reader would rather look than read",
            );
        }
    }
}

/// The lines of code inside a solution crate's SOLUTION blocks: what the
/// learner writes. Blank lines, comments and `use` lines do not count.
pub fn learner_lines(crate_dir: &Path) -> usize {
    let Ok(files) = course::course_files(crate_dir) else { return 0 };
    let mut count = 0;
    for relative in files.iter().filter(|f| f.extension().is_some_and(|ext| ext == "rs")) {
        let Ok(text) = fs::read_to_string(crate_dir.join(relative)) else { continue };
        let mut inside = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("// SOLUTION BEGIN") {
                inside = true;
            } else if line.starts_with("// SOLUTION END") {
                inside = false;
            } else if inside && !line.is_empty() && !line.starts_with("//") && !line.starts_with("use ") {
                count += 1;
            }
        }
    }
    count
}

/// Each chapter's page opens with "What you will build": the chapter's
/// lessons, each with the learner function that holds it. Every function
/// with a SOLUTION block is named there (in backticks), so that no learner
/// part is left without the lesson it is for.
fn check_what_you_build(root: &Path, chapters: &[ChapterSpec], problems: &mut Problems) {
    const HEADING: &str = "## What you will build";
    for chapter in chapters {
        let page = Path::new("book/src").join(chapter.book);
        let Ok(text) = fs::read_to_string(root.join(&page)) else { continue };
        let Some(start) = text.find(HEADING) else {
            problems.add(
                &page,
                format!(
                    "has no \"{HEADING}\" section: add it, the chapter's lessons, each naming its learner function"
                ),
            );
            continue;
        };
        let body = &text[start + HEADING.len()..];
        let section = body.find("\n## ").map_or(body, |end| &body[..end]);
        let named: Vec<&str> = section.split('`').skip(1).step_by(2).collect();
        for function in learner_functions(&root.join("solutions").join(chapter.dir)) {
            let short = function.rsplit("::").next().unwrap_or(&function).to_string();
            let mentioned = named
                .iter()
                .any(|code| code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|word| word == short));
            if !mentioned {
                problems.add(
                    &page,
                    format!("its \"{HEADING}\" section does not name `{function}`, a learner function: say which lesson it holds"),
                );
            }
        }
    }
}

/// The functions of a solution crate that hold a SOLUTION block, in file
/// order, each once (`Type::name` for a method).
fn learner_functions(crate_dir: &Path) -> Vec<String> {
    let mut functions: Vec<String> = Vec::new();
    let Ok(files) = course::course_files(crate_dir) else { return functions };
    for relative in files.iter().filter(|f| f.extension().is_some_and(|ext| ext == "rs")) {
        let Ok(text) = fs::read_to_string(crate_dir.join(relative)) else { continue };
        for (index, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("// SOLUTION BEGIN") {
                let line_number = u32::try_from(index + 1).unwrap_or(u32::MAX);
                if let Some(function) = crate::unfinished::enclosing_function(&text, line_number) {
                    if !functions.contains(&function) {
                        functions.push(function);
                    }
                }
            }
        }
    }
    functions
}

/// The rows themselves: numbered 0, 1, 2, … in order, nothing left blank,
/// every chapter graded by at least one test.
fn check_rows(chapters: &[ChapterSpec], problems: &mut Problems) {
    for (index, chapter) in chapters.iter().enumerate() {
        let n = chapter.number;
        if usize::from(n) != index {
            problems.add(TABLE, format!("row {index} is chapter {n}: number the rows 0, 1, 2, … in order"));
        }
        for (field, value) in [("dir", chapter.dir), ("package", chapter.package), ("title", chapter.title)] {
            if value.trim().is_empty() {
                problems.add(TABLE, format!("chapter {n} has an empty `{field}`: fill it in"));
            }
        }
        if !chapter.book.ends_with(".md") {
            problems.add(
                TABLE,
                format!("chapter {n}'s `book` is {:?}: name its page, as in \"ch01-uts.md\"", chapter.book),
            );
        }
        if chapter.tests.is_empty() {
            problems.add(
                chapter.tests_file(),
                format!("chapter {n} has no tests: a chapter is graded, so its `tests()` lists at least one"),
            );
        }
    }
}

/// Enough of a workspace's `Cargo.toml` to read its members.
#[derive(Deserialize)]
struct WorkspaceManifest {
    workspace: Option<Workspace>,
}

#[derive(Deserialize)]
struct Workspace {
    #[serde(default)]
    members: Vec<String>,
}

/// Enough of a crate's `Cargo.toml` to read its name.
#[derive(Deserialize)]
struct PackageManifest {
    package: Option<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
}

/// Reads and parses a TOML file, or says why not.
fn read_toml<T: for<'de> Deserialize<'de>>(root: &Path, relative: &Path, problems: &mut Problems) -> Option<T> {
    let text = match fs::read_to_string(root.join(relative)) {
        Ok(text) => text,
        Err(e) => {
            problems.add(relative, format!("cannot be read ({e})"));
            return None;
        }
    };
    match toml::from_str(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            problems.add(relative, format!("is not valid TOML: {}", e.message()));
            None
        }
    }
}

/// A course workspace (`solutions/` or `chapters/`): its members are
/// exactly the table's crate folders, in chapter order, and each crate's
/// package has the table's name.
fn check_workspace(root: &Path, workspace: &str, chapters: &[ChapterSpec], problems: &mut Problems) {
    // chapters/ is generated: the fix is always in solutions/, then a split.
    let fix = |what: &str| match workspace {
        "solutions" => what.to_string(),
        _ => format!("chapters/ is generated: fix solutions/, then run `{SPLIT}`"),
    };
    let manifest = Path::new(workspace).join("Cargo.toml");
    if let Some(parsed) = read_toml::<WorkspaceManifest>(root, &manifest, problems) {
        let members = parsed.workspace.map(|w| w.members).unwrap_or_default();
        let expected: Vec<&str> = chapters.iter().map(|c| c.dir).collect();
        for chapter in chapters {
            if !members.iter().any(|m| m == chapter.dir) {
                let message = format!(
                    "workspace member {:?} (chapter {}) is missing: {}",
                    chapter.dir,
                    chapter.number,
                    fix("add it to `members`, in chapter order")
                );
                problems.add(&manifest, message);
            }
        }
        for member in &members {
            if !expected.contains(&member.as_str()) {
                let message = format!(
                    "workspace member {member:?} is no chapter of the table ({TABLE}): {}",
                    fix("add its row there, or remove it from `members`")
                );
                problems.add(&manifest, message);
            }
        }
        let listed: Vec<&str> = members.iter().map(String::as_str).filter(|m| expected.contains(m)).collect();
        let in_table: Vec<&str> = expected.iter().copied().filter(|d| listed.contains(d)).collect();
        if listed != in_table {
            let message =
                format!("`members` are out of order: {}", fix(&format!("list them in chapter order, {in_table:?}")));
            problems.add(&manifest, message);
        }
    }
    for chapter in chapters {
        let manifest = Path::new(workspace).join(chapter.dir).join("Cargo.toml");
        if !root.join(&manifest).is_file() {
            let message = format!("is missing: chapter {}'s crate goes in {workspace}/{}", chapter.number, chapter.dir);
            problems.add(&manifest, message);
            continue;
        }
        let Some(parsed) = read_toml::<PackageManifest>(root, &manifest, problems) else { continue };
        match parsed.package {
            Some(package) if package.name == chapter.package => {}
            Some(package) => {
                let message = format!(
                    "the package is named {:?}, but the table ({TABLE}) says {:?} for chapter {}: {}",
                    package.name,
                    chapter.package,
                    chapter.number,
                    fix("rename one of them")
                );
                problems.add(&manifest, message);
            }
            None => problems.add(&manifest, format!("has no [package]: {}", fix("name the package"))),
        }
    }
}

/// `chapters/` is exactly what splitting `solutions/` gives.
fn check_starters(root: &Path, problems: &mut Problems) {
    match course::starter_drift(&root.join("solutions"), &root.join("chapters")) {
        Ok(drift) => {
            // Each line is "<path in chapters/> <what is wrong>".
            for line in drift {
                let (path, what) = line.split_once(' ').unwrap_or((&line, "differs"));
                let message = format!("{what} from what solutions/ gives: the starters are generated, run `{SPLIT}`");
                problems.add(Path::new("chapters").join(path), message);
            }
        }
        Err(e) => problems.add("chapters", format!("cannot be compared with solutions/: {e:#}")),
    }
}

/// Every `// SOLUTION BEGIN` block of the solutions is paired and guided.
fn check_guidance(root: &Path, problems: &mut Problems) {
    let solutions = root.join("solutions");
    let files = match course::course_files(&solutions) {
        Ok(files) => files,
        Err(e) => return problems.add("solutions", format!("cannot be listed: {e:#}")),
    };
    for relative in files.iter().filter(|f| f.extension().is_some_and(|ext| ext == "rs")) {
        let file = Path::new("solutions").join(relative);
        match fs::read_to_string(root.join(&file)) {
            Ok(text) => {
                for problem in course::marker_problems(&text) {
                    problems.add_at(&file, problem.line, problem.message);
                }
                for (line, todo) in starter_todos(&text) {
                    if todo.contains("(book: chapter ")
                        && crate::unfinished::book_section(&todo, &root.join("book/src")).is_none()
                    {
                        let message = "its todo's (book: chapter N, \"Section\") names no heading of chapter N's \
                                       pages: name one (a page's title may come first, \"Title\", \"Section\")";
                        problems.add_at(&file, line, message);
                    }
                }
            }
            Err(e) => problems.add(&file, format!("cannot be read ({e})")),
        }
    }
}

/// The text of each `// STARTER:` todo of a solution file, with the line
/// it starts on: continued lines joined, `\"` unescaped, as the starter's
/// `todo!` reads.
fn starter_todos(text: &str) -> Vec<(usize, String)> {
    let mut todos: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (index, line) in text.lines().enumerate() {
        let Some(content) = line.trim_start().strip_prefix("// STARTER:") else {
            open = false;
            continue;
        };
        if content.contains("todo!(") || !open {
            todos.push((index + 1, String::new()));
        }
        open = true;
        if let Some((_, todo)) = todos.last_mut() {
            let content = if todo.ends_with('\\') {
                todo.pop();
                content.trim_start()
            } else {
                content
            };
            todo.push_str(&content.replace("\\\"", "\""));
        }
    }
    todos
}

/// The book's summary links every chapter's page, and the page exists.
fn check_summary(root: &Path, chapters: &[ChapterSpec], problems: &mut Problems) {
    let summary = Path::new("book/src/SUMMARY.md");
    let links = match fs::read_to_string(root.join(summary)) {
        Ok(text) => link_targets(&text),
        Err(e) => {
            problems.add(summary, format!("cannot be read ({e})"));
            Vec::new()
        }
    };
    for chapter in chapters {
        let page = Path::new("book/src").join(chapter.book);
        if !root.join(&page).is_file() {
            problems.add(
                &page,
                format!("is missing: write chapter {}'s page (the table's `book` names it)", chapter.number),
            );
        }
        if !links.iter().any(|link| link == chapter.book) {
            let message = format!(
                "chapter {}'s page is not linked: add `- [Chapter {}: {}]({})` under \"# The runtime\"",
                chapter.number, chapter.number, chapter.package, chapter.book
            );
            problems.add(summary, message);
        }
    }
}

/// The targets of a Markdown file's `[text](target)` links.
fn link_targets(markdown: &str) -> Vec<String> {
    markdown
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target.trim().to_string()))
        .collect()
}

/// What every test says about itself: a unique kebab-case name, a title, a
/// hint, points, its own chapter, and a book section that exists.
fn check_tests(root: &Path, chapters: &[ChapterSpec], problems: &mut Problems) {
    let pages = chapter_pages(root, chapters);
    let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
    let mut headings: HashMap<&str, Option<Vec<String>>> = HashMap::new();
    let mut seen: HashMap<&str, u8> = HashMap::new();
    for chapter in chapters {
        let file = chapter.tests_file();
        let source = fs::read_to_string(root.join(&file)).unwrap_or_default();
        for test in &chapter.tests {
            let name = test.name;
            let line = line_of(&source, name);
            if !is_kebab_case(name) {
                problems.add_at(
                    &file,
                    line,
                    format!("test name {name:?} is not kebab-case: use lowercase words joined by '-'"),
                );
            }
            if let Some(first) = seen.insert(name, chapter.number) {
                let message = format!(
                    "test name {name:?} is used twice (chapter {first} and chapter {}): reports, hints and \
                     --format json tell tests apart by name, so rename one",
                    chapter.number
                );
                problems.add_at(&file, line, message);
            }
            if test.title.trim().is_empty() {
                problems.add_at(
                    &file,
                    line,
                    format!("test {name:?} has an empty title: say what a pass means, in one line"),
                );
            }
            if test.hint.trim().is_empty() {
                problems.add_at(
                    &file,
                    line,
                    format!("test {name:?} has an empty hint: say where to look when it fails"),
                );
            }
            if test.points == 0 {
                problems.add_at(&file, line, format!("test {name:?} is worth 0 points: give it at least 1"));
            }
            if test.chapter != chapter.number {
                let message = format!(
                    "test {name:?} says `chapter: {}` but is one of chapter {}'s tests: make it `chapter: {}`",
                    test.chapter, chapter.number, chapter.number
                );
                problems.add_at(&file, line, message);
            }
            let Some((page, anchor)) = test.book.split_once('#') else {
                let message = format!(
                    "test {name:?} has book {:?}, with no #anchor: point it at the heading that teaches this, \
                     as in \"{}#the-layer\"",
                    test.book, chapter.book
                );
                problems.add_at(&file, line, message);
                continue;
            };
            let Some(&page) = pages.iter().find(|p| **p == page) else {
                let message = format!(
                    "test {name:?} has book {:?}, but {page:?} is no chapter's page: use one of {pages:?}",
                    test.book
                );
                problems.add_at(&file, line, message);
                continue;
            };
            // A missing page is reported by check_summary; read each page once.
            let ids = headings
                .entry(page)
                .or_insert_with(|| fs::read_to_string(root.join("book/src").join(page)).ok().map(|t| heading_ids(&t)));
            if let Some(ids) = ids {
                if !ids.iter().any(|id| id == anchor) {
                    let message = format!(
                        "test {name:?} has book {:?}, but book/src/{page} has no heading with id {anchor:?}: \
                         use one of {ids:?}, or add the heading",
                        test.book
                    );
                    problems.add_at(&file, line, message);
                }
            }
        }
    }
}

/// The pages a test may point at: each chapter's page, and the other
/// pages of a chapter told in several (`ch07-0-capstone.md`, then
/// `ch07-1-bundle.md`, …: the same `chNN-` prefix), so that a test's
/// `read:` line names the section that explains the fix.
fn chapter_pages(root: &Path, chapters: &[ChapterSpec]) -> Vec<String> {
    let mut pages: Vec<String> = chapters.iter().map(|c| c.book.to_string()).collect();
    let prefixes: Vec<&str> = chapters.iter().filter_map(|c| c.book.get(..5)).collect();
    let mut more: Vec<String> = fs::read_dir(root.join("book/src"))
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    more.retain(|name| name.ends_with(".md") && prefixes.iter().any(|p| name.starts_with(p)) && !pages.contains(name));
    more.sort();
    pages.extend(more);
    pages
}

/// Each chapter page's "What the tests check" table has one row per test
/// of the chapter, `| `name` | points | … |`, with the test's points, and
/// no row for a test that does not exist.
fn check_test_tables(root: &Path, chapters: &[ChapterSpec], problems: &mut Problems) {
    for chapter in chapters {
        let page = Path::new("book/src").join(chapter.book);
        // A missing page is reported by check_summary.
        let Ok(text) = fs::read_to_string(root.join(&page)) else { continue };
        let Some(rows) = test_rows(&text) else {
            let message = format!(
                "has no \"{TESTS_SECTION}\" section: add one, with a row `| `name` | points | … |` per test \
                 of chapter {}",
                chapter.number
            );
            problems.add(&page, message);
            continue;
        };
        for test in &chapter.tests {
            match rows.iter().find(|(name, _)| *name == test.name) {
                None => {
                    let message = format!(
                        "the \"{TESTS_SECTION}\" table has no row for {:?}: add `| `{}` | {} | … | … |`",
                        test.name, test.name, test.points
                    );
                    problems.add(&page, message);
                }
                Some((_, points)) if *points != Some(test.points) => {
                    let message = format!(
                        "the \"{TESTS_SECTION}\" table gives {:?} {} points, the test is worth {}: \
                         make them agree",
                        test.name,
                        points.map_or_else(|| "no".to_string(), |p| p.to_string()),
                        test.points
                    );
                    problems.add(&page, message);
                }
                Some(_) => {}
            }
        }
        for (name, _) in &rows {
            if !chapter.tests.iter().any(|t| t.name == *name) {
                let message = format!(
                    "the \"{TESTS_SECTION}\" table has a row for {name:?}, which is no test of chapter {}: \
                             remove it, or fix its name",
                    chapter.number
                );
                problems.add(&page, message);
            }
        }
    }
}

/// The heading of the section of a chapter page that lists its tests.
const TESTS_SECTION: &str = "What the tests check";

/// The `| `name` | points | …` rows of a page's "What the tests check"
/// section: each test's name and the points column, if it is a number.
/// None when the page has no such section.
fn test_rows(markdown: &str) -> Option<Vec<(&str, Option<u32>)>> {
    let mut lines = markdown.lines();
    lines.find(|line| line.strip_prefix("## ").is_some_and(|title| title.trim() == TESTS_SECTION))?;
    let rows = lines
        .take_while(|line| !line.starts_with("# ") && !line.starts_with("## "))
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("| `")?;
            let (name, rest) = rest.split_once('`')?;
            let points = rest.trim_start().strip_prefix('|')?.split('|').next()?.trim();
            Some((name, points.parse().ok()))
        })
        .collect();
    Some(rows)
}

/// The line of `source` where the test named `name` is listed, if it is.
fn line_of(source: &str, name: &str) -> Option<usize> {
    let quoted = format!("\"{name}\"");
    source.lines().position(|line| line.contains(&quoted)).map(|index| index + 1)
}

/// Lowercase ASCII letters and digits in words joined by single dashes.
fn is_kebab_case(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('-')
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// The README's chapter table has a row for every chapter.
fn check_readme(root: &Path, chapters: &[ChapterSpec], problems: &mut Problems) {
    let readme = Path::new("README.md");
    let text = match fs::read_to_string(root.join(readme)) {
        Ok(text) => text,
        Err(e) => return problems.add(readme, format!("cannot be read ({e})")),
    };
    for chapter in chapters {
        let row = format!("| {} |", chapter.number);
        if !text.lines().any(|line| line.trim_start().starts_with(&row)) {
            let message = format!(
                "the chapter table has no row for chapter {}: add one starting `{row}` (its crate, what it adds, \
                 how many tests)",
                chapter.number
            );
            problems.add(readme, message);
        }
    }
}
