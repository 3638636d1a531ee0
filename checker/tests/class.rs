//! `checker grade-class`: an instructor's gradebook from students'
//! checkouts, which trusts nothing of a checkout but `chapters/*/src`.
//!
//! Four sample checkouts, graded on chapters 0 and 1 (one boot each): one
//! with the solutions' sources, one with the starters, one with a fixture's
//! bug, and one whose owner edited the grader — suite, checker, workflow,
//! manifest, a build script — to award full marks without solving anything.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use common::{checker, fixture, repo_root};
use serde::Deserialize;

/// One row of `gradebook.json`.
#[derive(Debug, Deserialize)]
struct Row {
    student: String,
    chapter: u8,
    score: u32,
    max_score: u32,
    failing: Vec<String>,
    note: Option<String>,
}

/// Copies every file under `from` to `to`, build output left out.
fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())).flatten() {
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if source.is_dir() {
            copy_tree(&source, &dest);
        } else {
            fs::create_dir_all(to).expect("mkdir");
            fs::copy(&source, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        }
    }
}

/// A checkout whose `chapters/` holds `from`'s chapter crates 0 and 1.
fn checkout(root: &Path, name: &str, from: &Path) -> PathBuf {
    let dir = root.join(name);
    for crate_dir in ["ch00-spawn", "ch01-uts"] {
        copy_tree(&from.join(crate_dir), &dir.join("chapters").join(crate_dir));
    }
    dir
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[test]
fn a_class_is_graded_on_its_sources_alone() {
    let repo = repo_root();
    let root = repo.join("target").join("class-test");
    let _ = fs::remove_dir_all(&root);
    let solved = checkout(&root, "solved", &repo.join("solutions"));
    let starter = checkout(&root, "starter", &repo.join("chapters"));

    // The solutions with chapter 1's "no UTS namespace" bug.
    let buggy = checkout(&root, "buggy", &repo.join("solutions"));
    let applied = Process::new("git")
        .args(["apply", "--directory=chapters", "-p1"])
        .arg(fixture("no-uts-namespace"))
        .current_dir(&buggy)
        // As outside any repository: inside one, git apply takes the paths
        // from its top, and this folder is inside the project's.
        .env("GIT_CEILING_DIRECTORIES", &root)
        .status()
        .expect("run git apply");
    assert!(applied.success(), "apply the no-uts-namespace fixture");

    // The starters, and a grader edited to give full marks.
    let tampered = checkout(&root, "tampered", &repo.join("chapters"));
    let marker = root.join("build-script-ran");
    write(&tampered.join("checker/suite/src/ctx.rs"), "// every test passes\npub fn fail() {}\n");
    write(&tampered.join("checker/src/grade.rs"), "// award full marks\n");
    write(&tampered.join(".github/workflows/classroom.yml"), "name: Autograding Tests\n# score: 100\n");
    write(&tampered.join("chapters/Cargo.toml"), "[workspace]\nmembers = [\"ch01-uts\"]\n");
    let manifest = tampered.join("chapters/ch01-uts/Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .expect("read the manifest")
        .replace("[package]", "[package]\nbuild = \"build.rs\"");
    write(&manifest, &text);
    write(
        &tampered.join("chapters/ch01-uts/build.rs"),
        &format!("fn main() {{ std::fs::write({:?}, \"ran\").unwrap(); }}\n", marker.display().to_string()),
    );
    std::os::unix::fs::symlink("/etc/hostname", tampered.join("chapters/ch01-uts/src/secrets.rs")).expect("symlink");

    let out = root.join("gradebook");
    let output = checker()
        .timeout(Duration::from_secs(1800))
        .args(["grade-class", "--up-to", "chapter1", "--out"])
        .arg(&out)
        .args([&solved, &starter, &buggy, &tampered])
        .output()
        .expect("run checker grade-class");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "grade-class failed:\n{stdout}\n{stderr}");

    let rows: Vec<Row> = serde_json::from_str(&fs::read_to_string(out.join("gradebook.json")).expect("gradebook.json"))
        .expect("gradebook.json is rows");
    let row = |student: &str, chapter: u8| {
        rows.iter()
            .find(|r| r.student == student && r.chapter == chapter)
            .unwrap_or_else(|| panic!("no row for {student}, chapter {chapter}: {rows:#?}"))
    };
    for chapter in [0, 1] {
        let full = row("solved", chapter);
        assert!(full.max_score > 0 && full.score == full.max_score, "{full:?}");
        assert!(full.failing.is_empty(), "{full:?}");
        let none = row("starter", chapter);
        assert_eq!(none.score, 0, "the starter scores nothing: {none:?}");
        // The tampered checkout gets exactly the starter's true score.
        let cheat = row("tampered", chapter);
        assert_eq!((cheat.score, &cheat.failing), (none.score, &none.failing), "{cheat:?}");
    }
    assert_eq!(row("buggy", 0).score, row("buggy", 0).max_score, "chapter 0 of the fixture is the solution's");
    let bug = row("buggy", 1);
    assert!(bug.score < bug.max_score && bug.failing.iter().any(|t| t == "own-uts-namespace"), "{bug:?}");
    assert!(!marker.exists(), "the tampered checkout's build script ran on the grading machine");
    let note = row("tampered", 0).note.clone().unwrap_or_default();
    assert!(note.contains("secrets.rs is a symbolic link"), "{note}");

    let csv = fs::read_to_string(out.join("gradebook.csv")).expect("gradebook.csv");
    assert!(
        csv.starts_with("student,chapter,score,max_score,challenge_score,challenge_max_score,failing,note\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 1 + 4 * 2, "{csv}");
    let classroom: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("solved.classroom.json")).expect("classroom report"))
            .expect("JSON");
    assert_eq!(classroom["status"], "pass", "{classroom}");
    let _ = fs::remove_dir_all(&root);
}
