//! What the checker remembers between runs, in `target/greenroom/state.json`:
//! each chapter's last result (for `list`, `hint` and `watch`), and how many
//! hints were shown for each test (hints come in tiers).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use suite::protocol::{Status, TestResult};

/// The last grading of one chapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastResult {
    /// Points earned.
    pub score: u32,
    /// Points possible.
    pub max_score: u32,
    /// Did every test pass?
    pub passed: bool,
    /// Points earned on the chapter's optional challenges (not in `score`).
    #[serde(default)]
    pub challenge_score: u32,
    /// Every test's result, in order.
    #[serde(default)]
    pub tests: Vec<TestResult>,
    /// Only the chapter's own tests were run (`--only`).
    #[serde(default)]
    pub only: bool,
    /// The unfinished functions (`todo!()`) the runtime ran into.
    #[serde(default)]
    pub unfinished: Vec<crate::unfinished::Unfinished>,
}

impl LastResult {
    /// The first test that did not pass.
    pub fn first_failing(&self) -> Option<&TestResult> {
        self.tests.iter().find(|t| t.status != Status::Pass)
    }
}

/// Everything remembered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Last result by chapter number.
    #[serde(default)]
    pub chapters: BTreeMap<u8, LastResult>,
    /// Hint tiers already shown, by `chapterN/test-name`.
    #[serde(default)]
    pub hints: BTreeMap<String, u32>,
}

/// The state file: `target/greenroom/state.json`.
pub fn state_path() -> PathBuf {
    crate::compile::work_dir().join("state.json")
}

/// Reads the state; a missing or unreadable file is an empty state (it only
/// holds history, never anything the checker needs to work).
pub fn load(path: &Path) -> State {
    fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
}

/// Writes the state. Failing to save only loses history, so the error is
/// reported, not fatal.
pub fn save(path: &Path, state: &State) {
    let saved = serde_json::to_string_pretty(state).map_err(std::io::Error::other).and_then(|text| {
        fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        fs::write(path, text)
    });
    if let Err(err) = saved {
        eprintln!("greenroom: could not save {}: {err}", path.display());
    }
}

/// Records `result` for `chapter`.
pub fn record(path: &Path, chapter: u8, result: LastResult) {
    let mut state = load(path);
    state.chapters.insert(chapter, result);
    save(path, &state);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, status: Status) -> TestResult {
        TestResult::bare("runtime", 1, name, status, String::new())
    }

    #[test]
    fn results_survive_a_round_trip() {
        let dir = std::env::temp_dir().join(format!("greenroom-state-test-{}", std::process::id()));
        let path = dir.join("state.json");
        let last = LastResult {
            score: 2,
            max_score: 4,
            passed: false,
            challenge_score: 1,
            tests: vec![result("a", Status::Pass), result("b", Status::Fail)],
            only: true,
            unfinished: Vec::new(),
        };
        record(&path, 1, last.clone());
        let state = load(&path);
        assert_eq!(state.chapters.get(&1), Some(&last));
        assert_eq!(state.chapters[&1].first_failing().map(|t| t.name.as_str()), Some("b"));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_broken_file_is_an_empty_state() {
        let dir = std::env::temp_dir().join(format!("greenroom-state-broken-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        fs::write(dir.join("state.json"), "{ not json").expect("write");
        assert_eq!(load(&dir.join("state.json")), State::default());
        let _ = fs::remove_dir_all(dir);
    }
}
