//! The isolation matrix grows with the learner's code: graded in the VM,
//! chapter 1's solution has its own UTS and IPC namespaces and shares the
//! rest with the host; chapter 3's adds its own mount namespace, root,
//! /proc and a minimal /dev. One grading run (`--only`) each.

mod common;

use serial_test::serial;
use suite::isolation::{Aspect, Isolation};

fn matrix(chapter: &str) -> Isolation {
    let graded = common::grade(&[chapter, "--solution", "--only"]);
    assert_eq!(graded.code, Some(0), "{chapter}'s solution should pass: {}", graded.stderr);
    let isolation = graded.report.isolation.expect("the JSON report carries the isolation matrix");
    assert_eq!(isolation.problem, None, "the matrix of {chapter} should be measured");
    let aspects: Vec<Aspect> = isolation.cells.iter().map(|c| c.aspect).collect();
    assert_eq!(aspects, Aspect::ALL, "one cell per aspect, in order");
    isolation
}

fn isolated(isolation: &Isolation, aspect: Aspect) -> Option<bool> {
    isolation.cell(aspect).and_then(|c| c.isolated)
}

#[test]
#[serial]
fn chapter_3_isolates_the_file_system_that_chapter_1_shares() {
    let (one, three) = (matrix("chapter1"), matrix("chapter3"));
    for aspect in [Aspect::UtsNs, Aspect::IpcNs] {
        assert_eq!(isolated(&one, aspect), Some(true), "chapter 1 has its own {aspect:?}: {one:#?}");
        assert_eq!(isolated(&three, aspect), Some(true), "chapter 3 keeps its own {aspect:?}: {three:#?}");
    }
    for aspect in [Aspect::MntNs, Aspect::Root, Aspect::Proc, Aspect::Dev, Aspect::PidNs] {
        assert_eq!(isolated(&one, aspect), Some(false), "chapter 1 shares {aspect:?} with the host: {one:#?}");
        assert_eq!(isolated(&three, aspect), Some(true), "chapter 3 has its own {aspect:?}: {three:#?}");
    }
    for aspect in [Aspect::NetNs, Aspect::UserNs, Aspect::Limits, Aspect::Seccomp] {
        assert_eq!(isolated(&one, aspect), Some(false), "{aspect:?} in chapter 1: {one:#?}");
        assert_eq!(isolated(&three, aspect), Some(false), "{aspect:?} comes after chapter 3: {three:#?}");
    }
    assert_eq!(three.cell(Aspect::Dev).map(|c| c.state.as_str()), Some("minimal"));
    assert_eq!(one.cell(Aspect::Root).map(|c| c.state.as_str()), Some("host's"));
}
