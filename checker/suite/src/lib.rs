//! The graded tests of greenroom.
//!
//! Each test runs the learner's runtime with the probe inside and checks
//! what the kernel reports, inside the container and outside it. The same
//! code runs as root inside the throwaway guest (the default) or on the host
//! (`checker --host`). The checker links this crate too, for the chapter
//! table ([`chapters::CHAPTERS`]) and the catalog:
//! titles, points, hints and book sections.

pub mod chapters;
pub mod ctx;
pub mod isolation;
pub mod mountinfo;
pub mod protocol;
pub mod rootfs;
pub mod sandbox;
pub mod stand_in;
pub mod try_book;
pub mod user;

pub use ctx::{Ctx, Failure};

/// One graded test.
#[derive(Debug, Clone, Copy)]
pub struct TestCase {
    /// The chapter that introduces the behaviour.
    pub chapter: u8,
    /// A stable, kebab-case name (used in reports and `--format json`).
    pub name: &'static str,
    /// Points for a pass.
    pub points: u32,
    /// What a pass means, in one line.
    pub title: &'static str,
    /// A nudge for a learner whose code fails this test.
    pub hint: &'static str,
    /// The book page and section that teaches this, e.g. `ch01-uts.md#the-layer`.
    pub book: &'static str,
    /// The test itself.
    pub run: TestFn,
    /// The test compares state of the whole machine before and after (the
    /// host's hostname, mount table, processes, cgroups), so it runs alone:
    /// no other test may change that state meanwhile. Others run side by side.
    pub alone: bool,
    /// The test grades one of its chapter's optional challenges: a goal
    /// the book states without a walkthrough. Its points are shown apart
    /// and are not part of the chapter's score, and a failing challenge
    /// does not fail the chapter.
    pub challenge: bool,
}

/// A graded test's body.
pub type TestFn = fn(&mut Ctx) -> Result<(), Failure>;

impl TestCase {
    /// What a chapter's `tests()` builds its table with: `test(name, points,
    /// title, hint, book, run)` makes a test of `chapter` that may run side
    /// by side with others.
    pub fn in_chapter(
        chapter: u8,
    ) -> impl Fn(&'static str, u32, &'static str, &'static str, &'static str, TestFn) -> TestCase {
        move |name, points, title, hint, book, run| TestCase {
            chapter,
            name,
            points,
            title,
            hint,
            book,
            run,
            alone: false,
            challenge: false,
        }
    }

    /// This test, marked as a challenge's (see [`TestCase::challenge`]).
    pub const fn as_challenge(self) -> TestCase {
        TestCase { challenge: true, ..self }
    }

    /// This test, marked to run alone (see [`TestCase::alone`]).
    pub const fn run_alone(self) -> TestCase {
        TestCase { alone: true, ..self }
    }
}

/// Every graded test, in chapter order: each row of
/// [`chapters::CHAPTERS`] gives its chapter's.
pub fn catalog() -> Vec<TestCase> {
    chapters::CHAPTERS.iter().flat_map(|chapter| (chapter.tests)()).collect()
}

/// The tests that grade chapter `chapter`: its own, and without `only`
/// those of every chapter before it whose runtime has the same command
/// line (see [`chapters::Interface`]: chapter 7's OCI runtime is graded
/// on its own tests, which reach the earlier layers through its config).
pub fn tests_for(chapter: u8, only: bool) -> Vec<TestCase> {
    let interface = |number: u8| chapters::chapter(number).map(|c| c.interface);
    catalog()
        .into_iter()
        .filter(|t| {
            // A challenge is graded with its own chapter only: a learner
            // who skipped it is not asked again in every later chapter.
            t.chapter == chapter
                || (!only && !t.challenge && t.chapter < chapter && interface(t.chapter) == interface(chapter))
        })
        .collect()
}

/// [`tests_for`], narrowed to the tests named in `names` (all of them
/// when `names` is empty).
pub fn tests_named(chapter: u8, only: bool, names: &[String]) -> Vec<TestCase> {
    tests_for(chapter, only).into_iter().filter(|t| names.is_empty() || names.iter().any(|n| n == t.name)).collect()
}
