//! `checker hint chapterN [TEST]`: help for a failing test, in tiers. The
//! first ask gives a nudge (the test's own hint, as in the report); asking
//! again adds the concept, what exactly was observed and where the book
//! explains it; a third time, the calls to make and their order (named,
//! never written out as code: the learner writes it) and how to see it for
//! yourself. The concept and the calls live in [`tiers`], not in the
//! suite, so the report never gives the answer away.

use std::process::ExitCode;

use anyhow::{bail, Result};
use suite::protocol::TestResult;

use crate::chapters::Chapter;
use crate::state::{self, State};
use crate::unfinished::Unfinished;

pub mod tiers;

/// The number of tiers.
pub const TIERS: u32 = 3;

/// Shows the next tier of hints for `test`, or for the first failing test
/// of the chapter's last grading.
pub fn run(chapter: &Chapter, test: Option<&str>) -> Result<ExitCode> {
    let path = state::state_path();
    let mut state = state::load(&path);
    let (text, key) = next_hint(&mut state, chapter, test)?;
    out!("{text}");
    if let Some(key) = key {
        let shown = state.hints.get(&key).copied().unwrap_or(0);
        state.hints.insert(key, (shown + 1).min(TIERS));
        state::save(&path, &state);
    }
    Ok(ExitCode::SUCCESS)
}

/// The text of the next hint, and the key under which its tier is counted
/// (`None` when there is nothing to hint at).
pub fn next_hint(state: &mut State, chapter: &Chapter, test: Option<&str>) -> Result<(String, Option<String>)> {
    let catalog = suite::tests_for(chapter.number, false);
    let last = state.chapters.get(&chapter.number);
    let result: Option<&TestResult> = match test {
        Some(name) => {
            if !catalog.iter().any(|t| t.name == name) {
                let names: Vec<&str> = catalog.iter().map(|t| t.name).collect();
                bail!("chapter{} has no test {name:?}; its tests: {}", chapter.number, names.join(", "));
            }
            last.and_then(|l| l.tests.iter().find(|t| t.name == name))
        }
        None => match last {
            None => bail!(
                "chapter{0} has not been graded yet: run `cargo run -p checker -- chapter{0}` first",
                chapter.number
            ),
            // A `todo!()` the runtime stopped at comes before any test's hint:
            // the tests behind it fail for that reason alone.
            Some(last) if !last.unfinished.is_empty() => return Ok((unfinished_hint(chapter, &last.unfinished), None)),
            Some(last) => match last.first_failing() {
                Some(failing) => Some(failing),
                None => return Ok((format!("Every test of chapter{} passed last time. 🎭\n", chapter.number), None)),
            },
        },
    };
    let name = test.or(result.map(|r| r.name.as_str())).unwrap_or_default().to_string();
    let Some(case) = catalog.iter().find(|t| t.name == name) else {
        bail!("no test {name:?} in chapter{}", chapter.number);
    };
    let key = format!("chapter{}/{}", case.chapter, case.name);
    let tier = state.hints.get(&key).copied().unwrap_or(0) + 1;

    let more = tiers::of(case.name);
    let mut text = format!("{} (chapter {}): {}\n\n", case.name, case.chapter, case.title);
    let cause = last.and_then(|l| l.unfinished.iter().find(|u| u.tests.iter().any(|t| *t == case.name)));
    if let Some(cause) = cause {
        text.push_str(&format!(
            "  Last time it failed because the runtime stopped at {}, still todo!() ({}): write that first.\n\n",
            cause.name(),
            cause.place()
        ));
    }
    text.push_str(&format!("  1. {}\n", case.hint));
    if tier >= 2 {
        text.push_str("  2. ");
        if let Some(more) = more {
            text.push_str(&format!("{}\n     ", more.concept));
        }
        text.push_str(&format!("Read book/src/{} — ", case.book));
        match result.filter(|r| r.status != suite::protocol::Status::Pass) {
            Some(r) => {
                text.push_str(&format!("last time: {}", r.message));
                if let (Some(expected), Some(actual)) = (&r.expected, &r.actual) {
                    text.push_str(&format!(" (expected {expected}, got {actual})"));
                }
                text.push('\n');
            }
            None => text.push_str("this test did not fail last time.\n"),
        }
    }
    if tier >= 3 {
        if let Some(more) = more {
            text.push_str(&format!("  3. How: {}\n", more.call));
        }
        let third = if more.is_some() { "     " } else { "  3. " };
        match result.and_then(|r| r.reproduce.as_deref()) {
            Some(command) => text.push_str(&format!(
                "{third}See it for yourself: open the guest's shell with `{}` and paste what the test ran:\n       {}\n",
                crate::shell::command_line(chapter, &crate::shell::Runtime::Learner),
                crate::shell::paste_form(command, "runtime", case.name)
            )),
            None => text.push_str(&format!("{third}Grade again to record the exact command this test runs.\n")),
        }
    }
    if tier < TIERS {
        text.push_str(&format!("\n(hint {tier} of {TIERS}: ask again for more)\n"));
    }
    Ok((text, Some(key)))
}

/// What to do about the unfinished functions of the last grading: the
/// first, in full, and how many more there are.
fn unfinished_hint(chapter: &Chapter, unfinished: &[Unfinished]) -> String {
    let Some(first) = unfinished.first() else { return String::new() };
    let count = first.tests.len();
    let plural = if count == 1 { "" } else { "s" };
    let mut text = format!(
        "{} is not written yet: it is still todo!() at chapters/{}.\n\
         {count} test{plural} failed because the runtime stopped there.\n\n  What it should do: {}\n",
        first.name(),
        first.place(),
        first.todo
    );
    match &first.book {
        Some(book) => text.push_str(&format!("  Read book/src/{book}, write it, then grade again.\n")),
        None => text.push_str("  Write it (its todo!() names the book's section), then grade again.\n"),
    }
    if unfinished.len() > 1 {
        let others: Vec<String> = unfinished[1..].iter().map(Unfinished::name).collect();
        text.push_str(&format!("\nAlso still todo!(): {}.\n", others.join(", ")));
    }
    text.push_str(&format!("\nA test's own hint: cargo run -p checker -- hint chapter{} TEST\n", chapter.number));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapters::CHAPTERS;
    use crate::state::LastResult;
    use suite::protocol::Status;

    fn failing_state() -> State {
        let failing = TestResult {
            job: "runtime".into(),
            chapter: 1,
            name: "hostname-set-inside".into(),
            status: Status::Fail,
            message: "the hostname inside the container".into(),
            expected: Some("Some(\"rock-band\")".into()),
            actual: Some("Some(\"greenroom-guest\")".into()),
            reproduce: Some("/greenroom/bin/runtime run --hostname rock-band -- /greenroom/bin/probe report".into()),
            duration_ms: 3,
        };
        let mut state = State::default();
        let last = LastResult {
            score: 0,
            max_score: 2,
            passed: false,
            challenge_score: 0,
            tests: vec![failing],
            only: false,
            unfinished: Vec::new(),
        };
        state.chapters.insert(1, last);
        state
    }

    /// Chapter 2's last grading: `exit-code-relayed` (chapter 0) failed
    /// because `TinyInit::run` is still todo!().
    fn unfinished_state() -> State {
        let mut state = failing_state();
        let last = state.chapters.remove(&1).expect("chapter 1");
        let mut failing = last.tests[0].clone();
        failing.name = "exit-code-relayed".into();
        failing.chapter = 0;
        let unfinished = Unfinished {
            function: "TinyInit::run".into(),
            file: "ch02-pid/src/init.rs".into(),
            line: 33,
            todo: "PID 1's whole life (book: chapter 2, \"The init\")".into(),
            book: Some("ch02-pid.md#the-init".into()),
            tests: vec!["exit-code-relayed".into()],
        };
        state.chapters.insert(2, LastResult { tests: vec![failing], unfinished: vec![unfinished], ..last });
        state
    }

    #[test]
    fn an_unfinished_function_comes_before_any_tests_hint() {
        let mut state = unfinished_state();
        let (text, key) = next_hint(&mut state, &CHAPTERS[2], None).expect("a hint");
        assert_eq!(key, None, "no tiers for a todo");
        assert!(text.starts_with("TinyInit::run is not written yet"), "{text}");
        assert!(text.contains("chapters/ch02-pid/src/init.rs:33") && text.contains("book/src/ch02-pid.md#the-init"));
        assert!(!text.contains("waitpid") && !text.contains("exit-code-relayed (chapter 0)"), "{text}");
        // Asked about the test itself, the hint says what stopped it first.
        let (text, _) = next_hint(&mut state, &CHAPTERS[2], Some("exit-code-relayed")).expect("a hint");
        assert!(text.contains("stopped at TinyInit::run"), "{text}");
    }

    #[test]
    fn an_only_grading_is_hinted_at() {
        let mut state = failing_state();
        if let Some(last) = state.chapters.get_mut(&1) {
            last.only = true;
        }
        let (text, _) = next_hint(&mut state, &CHAPTERS[1], None).expect("an --only grading counts");
        assert!(text.starts_with("hostname-set-inside"), "{text}");
    }

    #[test]
    fn hints_come_in_tiers() {
        let mut state = failing_state();
        let mut texts = Vec::new();
        for _ in 0..4 {
            let (text, key) = next_hint(&mut state, &CHAPTERS[1], None).expect("a hint");
            let key = key.expect("a key");
            let shown = state.hints.get(&key).copied().unwrap_or(0);
            state.hints.insert(key, (shown + 1).min(TIERS));
            texts.push(text);
        }
        assert!(texts[0].contains("1. ") && !texts[0].contains("2. "), "{}", texts[0]);
        assert!(texts[1].contains("expected Some(\"rock-band\")"), "{}", texts[1]);
        assert!(texts[2].contains("--hostname rock-band") && !texts[2].contains("ask again"), "{}", texts[2]);
        assert_eq!(texts[2], texts[3], "the last tier repeats");
        // The concept comes second, the exact call third.
        let tiers = tiers::of("hostname-set-inside").expect("chapter 1's tests have tiers");
        assert!(!texts[0].contains(tiers.concept) && texts[1].contains(tiers.concept), "{}", texts[1]);
        assert!(!texts[1].contains(tiers.call) && texts[2].contains(tiers.call), "{}", texts[2]);
    }

    #[test]
    fn an_ungraded_chapter_says_what_to_run() {
        let err = next_hint(&mut State::default(), &CHAPTERS[0], None).expect_err("nothing graded");
        assert!(err.to_string().contains("cargo run -p checker -- chapter0"), "{err}");
    }

    #[test]
    fn an_unknown_test_lists_the_real_ones() {
        let err = next_hint(&mut failing_state(), &CHAPTERS[1], Some("nope")).expect_err("unknown");
        assert!(err.to_string().contains("hostname-set-inside"), "{err}");
    }
}
