//! `checker dev links`: the book's links resolve, checked offline.
//!
//! Every `[text](target)`, `![alt](target)` and `[label]: target` in the
//! Markdown files of `book/src` is followed: a relative path must name a
//! file that exists, and an `#anchor` must be the id of a heading of the
//! page it points into (as mdBook makes ids: see
//! [`crate::course_check::heading_ids`]) or an `id="…"` written in it.
//! Links with a scheme (`https:`, `mailto:`) are left alone: CI has no
//! network, and the point is the links that the book itself can break.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::course_check::heading_ids;

/// A link that does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The page, relative to the book's source folder.
    pub page: PathBuf,
    /// The line of the link, from 1.
    pub line: usize,
    /// The link as written.
    pub target: String,
    /// What is wrong.
    pub why: String,
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ({}) {}", self.page.display(), self.line, self.target, self.why)
    }
}

/// Checks every link of every Markdown file under `src` (the book's
/// `src` folder) and returns those that do not resolve.
pub fn check(src: &Path) -> std::io::Result<Vec<BrokenLink>> {
    let mut pages = Vec::new();
    collect_pages(src, &mut pages)?;
    pages.sort();
    let mut anchors: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut broken = Vec::new();
    for page in &pages {
        let text = fs::read_to_string(page)?;
        let relative = page.strip_prefix(src).unwrap_or(page).to_path_buf();
        for (line, target) in links(&text) {
            let fault = |why: String| BrokenLink { page: relative.clone(), line, target: target.clone(), why };
            if let Some(why) = resolve(page, &target, &mut anchors) {
                broken.push(fault(why));
            }
        }
    }
    Ok(broken)
}

fn collect_pages(dir: &Path, pages: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_pages(&path, pages)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    Ok(())
}

/// Why `target`, linked from `page`, does not resolve; `None` if it does.
fn resolve(page: &Path, target: &str, anchors: &mut HashMap<PathBuf, Vec<String>>) -> Option<String> {
    // An empty target is a draft chapter in SUMMARY.md; a scheme is the web.
    if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        let file = page.parent().unwrap_or(Path::new(".")).join(path);
        // mdBook turns page.md into page.html: a link may name either.
        match file.extension().and_then(|e| e.to_str()) {
            Some("html") if !file.exists() => file.with_extension("md"),
            _ => file,
        }
    };
    if !file.exists() {
        return Some(format!("{} does not exist", path));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if file.extension().is_none_or(|e| e != "md") {
        return None;
    }
    let ids = anchors.entry(file.clone()).or_insert_with(|| page_ids(&file));
    if ids.iter().any(|id| id == anchor) {
        None
    } else {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Some(format!("no heading in {name} has the id {anchor:?}"))
    }
}

/// The ids a page's anchors may name: its headings', and any `id="…"`.
fn page_ids(page: &Path) -> Vec<String> {
    let text = fs::read_to_string(page).unwrap_or_default();
    let mut ids = heading_ids(&text);
    for rest in text.split("id=\"").skip(1) {
        if let Some((id, _)) = rest.split_once('"') {
            ids.push(id.to_string());
        }
    }
    ids
}

/// The link targets of a Markdown text with their line numbers, outside
/// fenced code blocks and inline code.
fn links(markdown: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut fence: Option<String> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed.chars().take_while(|c| *c == '`' || *c == '~').collect();
        if marker.len() >= 3 && (marker.chars().all(|c| c == '`') || marker.chars().all(|c| c == '~')) {
            match &fence {
                Some(open) if marker.starts_with(open.as_str()) && trimmed.trim() == marker => fence = None,
                Some(_) => {}
                None => fence = Some(marker),
            }
            continue;
        }
        if fence.is_some() {
            continue;
        }
        let text = without_code_spans(line);
        for rest in text.split("](").skip(1) {
            if let Some(target) = inline_target(rest) {
                found.push((index + 1, target));
            }
        }
        // A reference definition: `[label]: target`.
        if let Some(rest) = trimmed.strip_prefix('[') {
            if let Some((label, target)) = rest.split_once("]:") {
                if !label.is_empty() && !label.starts_with('^') {
                    let target = target.split_whitespace().next().unwrap_or("");
                    found.push((index + 1, target.trim_matches(['<', '>']).to_string()));
                }
            }
        }
    }
    found
}

/// The target of an inline link, from just after `](`: up to the closing
/// parenthesis, without a title (`"…"`) or angle brackets.
fn inline_target(rest: &str) -> Option<String> {
    let mut depth = 0;
    let end = rest.char_indices().find_map(|(i, c)| match c {
        '(' => {
            depth += 1;
            None
        }
        ')' if depth == 0 => Some(i),
        ')' => {
            depth -= 1;
            None
        }
        _ => None,
    })?;
    let target = rest[..end].trim();
    let target = target.split_whitespace().next().unwrap_or("");
    Some(target.trim_matches(['<', '>']).to_string())
}

/// The line with its `code spans` blanked, so that `a](b)` in code is no link.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else {
            out.push(if in_code { ' ' } else { c });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(pages: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, text) in pages {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().expect("a parent")).expect("make the folder");
            fs::write(path, text).expect("write a page");
        }
        dir
    }

    fn broken(pages: &[(&str, &str)]) -> Vec<String> {
        let dir = book(pages);
        check(dir.path()).expect("check the book").iter().map(ToString::to_string).collect()
    }

    #[test]
    fn good_links_pass() {
        let pages = [
            (
                "a.md",
                "# Title\n\n## The layer\n\nSee [b](b.md#why-ms_private), [here](#the-layer), [c](sub/c.html).\n\
                      [web](https://example.com) and ![pic](img.svg) and [draft]().\n\n[ref]: b.md\n",
            ),
            ("b.md", "# B\n\n## Why `MS_PRIVATE`?\n\n<a id=\"custom\"></a>[back](a.md#title) [c](b.md#custom)\n"),
            ("sub/c.md", "# C\n\n[up](../a.md)\n"),
            ("img.svg", "<svg/>"),
        ];
        assert_eq!(broken(&pages), Vec::<String>::new());
    }

    #[test]
    fn missing_pages_and_anchors_are_reported_with_their_line() {
        let pages = [("a.md", "# A\n\n[gone](missing.md)\n[bad](b.md#nowhere) [self](#nor-here)\n"), ("b.md", "# B\n")];
        assert_eq!(
            broken(&pages),
            [
                "a.md:3: (missing.md) missing.md does not exist",
                "a.md:4: (b.md#nowhere) no heading in b.md has the id \"nowhere\"",
                "a.md:4: (#nor-here) no heading in a.md has the id \"nor-here\"",
            ]
        );
    }

    #[test]
    fn code_is_not_links() {
        let pages = [("a.md", "# A\n\n```rust\nlet x = a[0](b);\n```\n\nInline `v[i](j)` too.\n")];
        assert_eq!(broken(&pages), Vec::<String>::new());
    }

    #[test]
    fn the_real_book_has_no_broken_link() {
        let src = crate::compile::repo_root().join("book").join("src");
        let broken: Vec<String> = check(&src).expect("read the book").iter().map(ToString::to_string).collect();
        assert_eq!(broken, Vec::<String>::new(), "broken links in book/src");
    }
}
