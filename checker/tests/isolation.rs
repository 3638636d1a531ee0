//! The isolation matrix grows with the learner's code: graded in the VM,
//! chapter 1's solution has its own UTS and IPC namespaces and shares the
//! rest with the host; chapter 3's adds its own mount namespace, root,
//! /proc and a minimal /dev. And the matrix each chapter's recap in the
//! book shows is the one its solution gets. One grading run of a single
//! test for each chapter: the matrix is measured whatever tests run.

mod common;

use std::fs;
use std::path::Path;

use serial_test::serial;
use suite::chapters::CHAPTERS;
use suite::isolation::{Aspect, Isolation};

/// Grades chapter `number`'s solution on its first test only, and returns
/// the matrix it measured.
fn matrix(number: u8) -> Isolation {
    let chapter = format!("chapter{number}");
    let row = CHAPTERS.iter().find(|c| c.number == number).expect("the chapter is in the table");
    let first = (row.tests)().into_iter().next().expect("the chapter has tests").name;
    let graded = common::grade(&[&chapter, "--solution", "--only", "--test", first]);
    assert_eq!(graded.code, Some(0), "{chapter}'s solution should pass {first}: {}", graded.stderr);
    let isolation = graded.report.isolation.expect("the JSON report carries the isolation matrix");
    assert_eq!(isolation.problem, None, "the matrix of {chapter} should be measured");
    let aspects: Vec<Aspect> = isolation.cells.iter().map(|c| c.aspect).collect();
    assert_eq!(aspects, Aspect::ALL, "one cell per aspect, in order");
    isolation
}

fn isolated(isolation: &Isolation, aspect: Aspect) -> Option<bool> {
    isolation.cell(aspect).and_then(|c| c.isolated)
}

/// The matrix chapter `number`'s recap shows: the `text` listing after
/// "`cargo run -p checker -- chapterN` now ends with this isolation matrix",
/// on whichever page of the book it is.
fn book_matrix(number: u8) -> String {
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src");
    let marker = format!("`cargo run -p checker -- chapter{number}` now ends with this isolation matrix");
    for entry in fs::read_dir(&book).expect("list the book's pages").flatten() {
        let text = fs::read_to_string(entry.path()).unwrap_or_default();
        let Some(at) = text.find(&marker) else { continue };
        let listing = &text[at..];
        let start = listing.find("```text\n").expect("a text listing follows the marker") + "```text\n".len();
        let end = listing[start..].find("```").expect("the listing ends") + start;
        return listing[start..end].to_string();
    }
    panic!("no page of the book says {marker:?}");
}

/// Each cell of `isolation` as `shown` writes it: the aspect's label,
/// then its mark (✓ own, · shared, ? not measured) and its state.
fn assert_shown(number: u8, isolation: &Isolation, shown: &str) {
    for cell in &isolation.cells {
        let label = cell.aspect.label();
        let at = shown.find(&format!(" {label} ")).unwrap_or_else(|| panic!("chapter {number}'s recap has no {label}"));
        let mut words = shown[at + label.len() + 1..].split_whitespace();
        let mark = match cell.isolated {
            Some(true) => "✓",
            Some(false) => "·",
            None => "?",
        };
        assert_eq!(
            (words.next(), words.next()),
            (Some(mark), Some(cell.state.as_str())),
            "chapter {number}'s recap shows {label} otherwise than its solution measures; the book's listing:\n{shown}"
        );
    }
}

#[test]
#[serial]
fn each_chapter_isolates_more_and_its_recap_shows_what_it_isolates() {
    let matrices: Vec<(u8, Isolation)> = CHAPTERS.iter().map(|c| (c.number, matrix(c.number))).collect();
    for (number, isolation) in &matrices {
        assert_shown(*number, isolation, &book_matrix(*number));
    }
    // What a chapter isolates, every later chapter isolates too.
    for pair in matrices.windows(2) {
        let ((before, earlier), (after, later)) = (&pair[0], &pair[1]);
        for aspect in Aspect::ALL {
            if isolated(earlier, aspect) == Some(true) {
                assert_eq!(
                    isolated(later, aspect),
                    Some(true),
                    "chapter {before} isolates {aspect:?}, chapter {after} not"
                );
            }
        }
    }
    let of = |n: u8| &matrices.iter().find(|(number, _)| *number == n).expect("graded").1;
    let (one, three) = (of(1), of(3));
    for aspect in [Aspect::UtsNs, Aspect::IpcNs] {
        assert_eq!(isolated(one, aspect), Some(true), "chapter 1 has its own {aspect:?}: {one:#?}");
        assert_eq!(isolated(three, aspect), Some(true), "chapter 3 keeps its own {aspect:?}: {three:#?}");
    }
    for aspect in [Aspect::MntNs, Aspect::Root, Aspect::Proc, Aspect::Dev, Aspect::PidNs] {
        assert_eq!(isolated(one, aspect), Some(false), "chapter 1 shares {aspect:?} with the host: {one:#?}");
        assert_eq!(isolated(three, aspect), Some(true), "chapter 3 has its own {aspect:?}: {three:#?}");
    }
    for aspect in [Aspect::NetNs, Aspect::UserNs, Aspect::Limits, Aspect::Seccomp] {
        assert_eq!(isolated(one, aspect), Some(false), "{aspect:?} in chapter 1: {one:#?}");
        assert_eq!(isolated(three, aspect), Some(false), "{aspect:?} comes after chapter 3: {three:#?}");
    }
    assert_eq!(three.cell(Aspect::Dev).map(|c| c.state.as_str()), Some("minimal"));
    assert_eq!(one.cell(Aspect::Root).map(|c| c.state.as_str()), Some("host's"));
}
