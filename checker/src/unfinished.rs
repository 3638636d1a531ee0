//! A `todo!()` the runtime ran into. On a fresh starter one unfinished
//! function fails every test that goes through it, each with its own
//! hint, none of them the point; so the report names the function once,
//! with its file, line and book section, and folds those failures under it.
//!
//! The suite describes a panic as `the runtime panicked at FILE:LINE:COL:
//! MESSAGE` (see the suite's `Run::describe`), FILE relative to the
//! workspace the runtime was built in; `todo!()`'s message starts with
//! `not yet implemented`. The function is read from the source at that
//! line, the section from the todo's `(book: chapter N, "Section")`.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use suite::protocol::{Status, TestResult};

use crate::course_check::{heading_ids, id_from_content};

/// One unfinished function and the failures it causes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfinished {
    /// The function, as `Type::method` or `function`; empty if the source
    /// could not be read.
    pub function: String,
    /// Its file, relative to the workspace (`ch02-pid/src/init.rs`).
    pub file: String,
    /// The line of the `todo!`.
    pub line: u32,
    /// What the `todo!` says is left to write.
    pub todo: String,
    /// The book section it points at, `page.md#anchor`, if found.
    pub book: Option<String>,
    /// The tests that failed because the runtime stopped there.
    pub tests: Vec<String>,
}

impl Unfinished {
    /// `TinyInit::run`, or `FILE:LINE` when the function is unknown.
    pub fn name(&self) -> String {
        if self.function.is_empty() {
            format!("{}:{}", self.file, self.line)
        } else {
            self.function.clone()
        }
    }

    /// `ch02-pid/src/init.rs:33`.
    pub fn place(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The unfinished functions behind `results`' failures, in the order of
/// the first test each fails. `source` is the workspace the runtime was
/// built from, `book` the book's `src` folder.
pub fn find(results: &[&TestResult], source: &Path, book: &Path) -> Vec<Unfinished> {
    let mut found: Vec<Unfinished> = Vec::new();
    for result in results.iter().filter(|r| r.status != Status::Pass) {
        let Some(site) = todo_site(result) else { continue };
        if let Some(known) = found.iter_mut().find(|u| u.file == site.file && u.line == site.line) {
            known.tests.push(result.name.clone());
            continue;
        }
        let text = fs::read_to_string(source.join(&site.file)).unwrap_or_default();
        let function = enclosing_function(&text, site.line).unwrap_or_default();
        let todo = todo_text(&text, site.line).unwrap_or(site.message);
        let book = book_section(&todo, book);
        found.push(Unfinished {
            function,
            file: site.file,
            line: site.line,
            todo,
            book,
            tests: vec![result.name.clone()],
        });
    }
    found
}

/// Where a `todo!()` panicked, as a test's failure quotes it.
#[derive(Debug, PartialEq, Eq)]
struct Site {
    file: String,
    line: u32,
    /// The panic's message without `not yet implemented: `.
    message: String,
}

/// The `todo!()` panic a failure quotes, if it quotes one.
fn todo_site(result: &TestResult) -> Option<Site> {
    const MARK: &str = "the runtime panicked at ";
    let texts = [Some(result.message.as_str()), result.actual.as_deref(), result.expected.as_deref()];
    texts.into_iter().flatten().find_map(|text| {
        let (_, rest) = text.split_once(MARK)?;
        // `FILE:LINE:COL: not yet implemented…`
        let (location, message) = rest.split_once(": ")?;
        let message = message.strip_prefix("not yet implemented")?;
        let mut parts = location.rsplitn(3, ':');
        let (_column, line, file) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Site {
            file: file.to_string(),
            line: line.parse().ok()?,
            message: message.trim_start_matches(':').trim().to_string(),
        })
    })
}

/// The function whose body holds line `line` (from 1) of `source`:
/// `Type::name` for a method, `name` otherwise.
pub fn enclosing_function(source: &str, line: u32) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let upto = (line as usize).min(lines.len());
    let (at, name) = lines[..upto].iter().enumerate().rev().find_map(|(at, text)| fn_name(text).map(|n| (at, n)))?;
    // A method is indented; its `impl` (or `trait`) starts a line above it.
    if !lines[at].starts_with(char::is_whitespace) {
        return Some(name);
    }
    let owner = lines[..at].iter().rev().find_map(|text| impl_type(text));
    Some(match owner {
        Some(owner) => format!("{owner}::{name}"),
        None => name,
    })
}

/// The name `fn NAME` declares on this line, if it declares one.
fn fn_name(line: &str) -> Option<String> {
    let code = line.split("//").next()?;
    let at = code.find("fn ").filter(|&at| at == 0 || code[..at].ends_with(' '))?;
    let before = code[..at].trim();
    let modifiers = ["pub", "pub(crate)", "pub(super)", "const", "unsafe", "async", "extern", "extern \"C\""];
    if !before.split_whitespace().all(|word| modifiers.contains(&word) || word.starts_with("pub(")) {
        return None;
    }
    let name: String = code[at + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

/// The type an `impl` block (or trait) starting on this line is for.
fn impl_type(line: &str) -> Option<String> {
    let head = line
        .strip_prefix("impl")
        .or_else(|| line.strip_prefix("pub trait "))
        .or_else(|| line.strip_prefix("trait "))?;
    // Skip the impl's own generics, `impl<T>`.
    let head = match head.strip_prefix('<') {
        Some(rest) => rest.split_once('>').map_or("", |(_, after)| after),
        None => head,
    };
    let head = head.split('{').next()?.split(" where ").next()?;
    let target = head.rsplit(" for ").next()?.trim();
    let name: String = target.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

/// The text of the `todo!("…")` at line `line`, its string joined and
/// unescaped.
fn todo_text(source: &str, line: u32) -> Option<String> {
    let rest: String = source.lines().skip(line.saturating_sub(1) as usize).take(12).collect::<Vec<_>>().join("\n");
    let (_, after) = rest.split_once("todo!(")?;
    let start = after.find('"')? + 1;
    let mut text = String::new();
    let mut chars = after[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(text),
            '\\' => match chars.next()? {
                // A line continuation: the newline and the next line's indent go.
                '\n' => {
                    let rest: String = chars.clone().collect();
                    let skipped = rest.len() - rest.trim_start().len();
                    for _ in 0..rest[..skipped].chars().count() {
                        chars.next();
                    }
                }
                'n' => text.push('\n'),
                other => text.push(other),
            },
            c => text.push(c),
        }
    }
    None
}

/// The `page.md#anchor` a todo's `(book: chapter N, "Section")` points at:
/// the heading of that text on one of chapter N's pages. A page's title
/// may come first (`chapter 7, "Capabilities and the user", "The five
/// sets"`) to choose among a chapter's pages.
pub fn book_section(todo: &str, book: &Path) -> Option<String> {
    let (_, reference) = todo.rsplit_once("(book: chapter ")?;
    let digits: String = reference.chars().take_while(char::is_ascii_digit).collect();
    let chapter: u8 = digits.parse().ok()?;
    // Then `, "Quoted"` once or twice; whatever follows is not read.
    let mut rest = &reference[digits.len()..];
    let mut quoted: Vec<&str> = Vec::new();
    while let Some(open) = rest.strip_prefix(", \"") {
        let (text, after) = open.split_once('"')?;
        quoted.push(text);
        rest = after;
    }
    let (section, page_title) = match quoted.as_slice() {
        [section] => (*section, None),
        [title, section] => (*section, Some(*title)),
        _ => return None,
    };
    let wanted = id_from_content(section);
    let mut pages: Vec<_> = fs::read_dir(book)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&format!("ch{chapter:02}-")) && name.ends_with(".md"))
        .collect();
    pages.sort();
    pages.into_iter().find_map(|page| {
        let text = fs::read_to_string(book.join(&page)).ok()?;
        if let Some(title) = page_title {
            let first = text.lines().find_map(|l| l.strip_prefix("# "))?;
            if id_from_content(first) != id_from_content(title) {
                return None;
            }
        }
        heading_ids(&text).contains(&wanted).then(|| format!("{page}#{wanted}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &str = r#"use spawn::Init;

/// The init.
pub struct TinyInit;

impl Init for TinyInit {
    /// Doc.
    fn signals(&self) -> SigSet {
        SigSet::empty()
    }

    fn run(&self, command: Pid) -> i32 {
        todo!(
            "PID 1's whole life: wait, \
             reap (book: chapter 2, \"The init\")"
        )
    }
}

fn forward(command: Pid, signal: Signal) {
    todo!("pass `signal` on (book: chapter 2, \"Forwarding\")")
}
"#;

    fn failed(name: &str, message: &str) -> TestResult {
        let mut result = TestResult::bare("runtime", 2, name, Status::Fail, "the exit code".into());
        result.actual = Some(format!("exit code 101: the runtime panicked at {message}"));
        result
    }

    #[test]
    fn a_todo_is_named_by_its_function_and_section() {
        let dir = std::env::temp_dir().join(format!("greenroom-unfinished-{}", std::process::id()));
        let (source, book) = (dir.join("chapters"), dir.join("book"));
        fs::create_dir_all(source.join("ch02-pid/src")).expect("dirs");
        fs::create_dir_all(&book).expect("dirs");
        fs::write(source.join("ch02-pid/src/init.rs"), INIT).expect("write");
        fs::write(book.join("ch02-pid.md"), "# Chapter 2\n\n## The init\n\n## Forwarding\n").expect("write");
        let results = [
            TestResult::bare("runtime", 0, "passes", Status::Pass, String::new()),
            failed("a", "ch02-pid/src/init.rs:13:9: not yet implemented: PID 1's whole life: wait, reap (book: c…"),
            TestResult::bare("runtime", 2, "own-bug", Status::Fail, "something else".into()),
            failed("b", "ch02-pid/src/init.rs:13:9: not yet implemented: PID 1's whole life"),
            failed("c", "ch02-pid/src/init.rs:21:5: not yet implemented: pass `signal` on"),
            failed("d", "ch02-pid/src/init.rs:30:5: explicit panic"),
        ];
        let found = find(&results.iter().collect::<Vec<_>>(), &source, &book);
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].function, "TinyInit::run");
        assert_eq!(found[0].place(), "ch02-pid/src/init.rs:13");
        assert_eq!(found[0].todo, "PID 1's whole life: wait, reap (book: chapter 2, \"The init\")");
        assert_eq!(found[0].book.as_deref(), Some("ch02-pid.md#the-init"));
        assert_eq!(found[0].tests, ["a", "b"]);
        assert_eq!(found[1].function, "forward");
        assert_eq!(found[1].book.as_deref(), Some("ch02-pid.md#forwarding"));
        assert_eq!(found[1].tests, ["c"]);
    }

    #[test]
    fn without_the_source_the_panic_still_names_the_place() {
        let results = [failed("a", "ch09-x/src/gone.rs:4:5: not yet implemented: write it")];
        let found = find(&results.iter().collect::<Vec<_>>(), Path::new("/nonexistent"), Path::new("/nonexistent"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name(), "ch09-x/src/gone.rs:4");
        assert_eq!(found[0].todo, "write it");
        assert_eq!(found[0].book, None);
    }

    #[test]
    fn impl_lines_give_their_type() {
        assert_eq!(impl_type("impl Init for TinyInit {").as_deref(), Some("TinyInit"));
        assert_eq!(impl_type("impl<'a> Layer for Mounts<'a> {").as_deref(), Some("Mounts"));
        assert_eq!(impl_type("impl Bundle {").as_deref(), Some("Bundle"));
        assert_eq!(fn_name("    pub(crate) fn enter_child(&self) -> Result<()> {").as_deref(), Some("enter_child"));
        assert_eq!(fn_name("    // the fn that runs"), None);
        assert_eq!(fn_name("    let f = define fn x"), None);
    }

    #[test]
    fn a_page_title_chooses_among_a_chapters_pages() {
        let dir = std::env::temp_dir().join(format!("greenroom-sections-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        fs::write(dir.join("ch07-1-bundle.md"), "# The bundle\n\n## Common mistakes\n").expect("write");
        fs::write(dir.join("ch07-2-capabilities.md"), "# Capabilities and the user\n\n## Common mistakes\n")
            .expect("write");
        let plain = book_section("x (book: chapter 7, \"Common mistakes\") and (more)", &dir);
        let titled = book_section("x (book: chapter 7, \"Capabilities and the user\", \"Common mistakes\")", &dir);
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(plain.as_deref(), Some("ch07-1-bundle.md#common-mistakes"));
        assert_eq!(titled.as_deref(), Some("ch07-2-capabilities.md#common-mistakes"));
    }
}
