//! The learner's last result per chapter, for `checker list`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The last grading of one chapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastResult {
    /// Points earned.
    pub score: u32,
    /// Points possible.
    pub max_score: u32,
    /// Did every test pass?
    pub passed: bool,
}

/// The state file: `target/greenroom/state.json`.
pub fn state_path() -> PathBuf {
    crate::compile::work_dir().join("state.json")
}

/// Reads the state; a missing or unreadable file is an empty state.
pub fn load(path: &Path) -> BTreeMap<u8, LastResult> {
    fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
}

/// Records `result` for `chapter`. Failing to save only loses history, so
/// the error is reported, not fatal.
pub fn record(path: &Path, chapter: u8, result: LastResult) {
    let mut state = load(path);
    state.insert(chapter, result);
    let saved = serde_json::to_string_pretty(&state).map_err(std::io::Error::other).and_then(|text| {
        fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        fs::write(path, text)
    });
    if let Err(err) = saved {
        eprintln!("greenroom: could not save the result to {}: {err}", path.display());
    }
}
