//! `checker grade-class DIR…`: grades many students' checkouts with this
//! machine's grader, into one gradebook an instructor can trust.
//!
//! A student's repository carries a checker, a suite, a probe and a
//! workflow of its own, all of which the student can edit. None of it is
//! used here. Of each checkout only the sources a learner writes are read:
//! `chapters/<crate>/src/`, regular files only. They are laid over this
//! grader's own `chapters/` (its manifests, lock file and starters), so
//! a student's `Cargo.toml`, `build.rs` or extra dependencies never run on
//! this machine; a chapter the student has no `src/` for is the starter.
//! Then, per student, every chapter up to N is built and all of them are
//! graded in one boot of the guest, each chapter's own tests only.
//!
//! The gradebook: `gradebook.csv` and `gradebook.json` (a row per student
//! and chapter: score, points, failing tests, a note when a chapter could
//! not be built), and per student `STUDENT.classroom.json`, the report
//! GitHub Classroom reads.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use suite::protocol::Status;

use crate::chapters::{Chapter, CHAPTERS};
use crate::compile;
use crate::course;
use crate::grade::{self, Graded, JobSpec, Mode};
use crate::report::{self, Repeat, Summary};

/// The largest source file taken from a student (a learner's file is a
/// few kilobytes; anything bigger is not code they wrote).
const MAX_SOURCE_BYTES: u64 = 1 << 20;

/// One student's checkout.
#[derive(Debug, Clone)]
pub struct Student {
    /// The name in the gradebook: the checkout's folder name, made unique.
    pub name: String,
    /// The checkout.
    pub dir: PathBuf,
}

/// One row of the gradebook: a student's chapter.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The student.
    pub student: String,
    /// The chapter's number.
    pub chapter: u8,
    /// Points earned on the chapter's own tests.
    pub score: u32,
    /// Points possible.
    pub max_score: u32,
    /// Points earned on the chapter's optional challenges (not in `score`:
    /// an instructor may count them or not).
    pub challenge_score: u32,
    /// Points possible on them.
    pub challenge_max_score: u32,
    /// The names of the tests that did not pass (challenges included).
    pub failing: Vec<String>,
    /// Why the chapter was not graded, or what of the checkout was left out.
    pub note: Option<String>,
}

/// Names the checkouts: each folder's name, made unique and safe for a
/// file name (`alice`, `alice-2`).
pub fn students(dirs: &[PathBuf]) -> Result<Vec<Student>> {
    let mut seen = BTreeSet::new();
    let mut students = Vec::new();
    for dir in dirs {
        if !dir.join("chapters").is_dir() {
            bail!("{} is not a greenroom checkout: it has no chapters/ folder", dir.display());
        }
        let dir = fs::canonicalize(dir).with_context(|| format!("resolve {}", dir.display()))?;
        let base: String = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "student".into())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        let mut name = base.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        students.push(Student { name, dir });
    }
    Ok(students)
}

/// Writes the workspace to grade `student` in `dest`: this grader's
/// `chapters/`, with each chapter crate's `src/` replaced by the student's
/// where they have one (every crate's, graded or not: cargo reads every
/// member of a workspace). Returns what of the checkout was left out.
pub fn assemble(student: &Student, dest: &Path) -> Result<Vec<String>> {
    let template = compile::repo_root().join("chapters");
    let theirs = student.dir.join("chapters");
    // The crates' `src/` folders the student has, as `chNN-…/src`.
    let their_srcs: Vec<PathBuf> =
        CHAPTERS.iter().map(|c| Path::new(c.dir).join("src")).filter(|src| theirs.join(src).is_dir()).collect();
    let mut skipped = Vec::new();
    let mut wanted = BTreeSet::new();
    for relative in course::course_files(&template)? {
        if their_srcs.iter().any(|src| relative.starts_with(src)) {
            continue;
        }
        let bytes = fs::read(template.join(&relative)).with_context(|| format!("read {}", relative.display()))?;
        course::write_if_changed(&dest.join(&relative), &bytes)?;
        wanted.insert(relative);
    }
    for src in &their_srcs {
        copy_sources(&theirs, src, dest, &mut wanted, &mut skipped)?;
    }
    // What an earlier student had and this one has not must not stay.
    remove_others(dest, dest, &wanted)?;
    Ok(skipped)
}

/// Copies the regular files under `theirs/relative` to `dest/relative`.
/// A symbolic link (it could name any file of this machine), an oversized
/// file or a hidden one is left out and said.
fn copy_sources(
    theirs: &Path,
    relative: &Path,
    dest: &Path,
    wanted: &mut BTreeSet<PathBuf>,
    skipped: &mut Vec<String>,
) -> Result<()> {
    let dir = theirs.join(relative);
    for entry in fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let path = relative.join(&name);
        let meta = entry.metadata().with_context(|| format!("stat {}", entry.path().display()))?;
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if meta.file_type().is_symlink() {
            skipped.push(format!("chapters/{} is a symbolic link: left out", path.display()));
        } else if meta.is_dir() {
            copy_sources(theirs, &path, dest, wanted, skipped)?;
        } else if !meta.is_file() || meta.len() > MAX_SOURCE_BYTES {
            skipped.push(format!("chapters/{} is not a source file of at most 1 MiB: left out", path.display()));
        } else {
            let bytes = fs::read(entry.path()).with_context(|| format!("read {}", entry.path().display()))?;
            course::write_if_changed(&dest.join(&path), &bytes)?;
            wanted.insert(path);
        }
    }
    Ok(())
}

/// Removes every file under `dir` that is not in `wanted` (paths relative
/// to `root`), leaving build output alone.
fn remove_others(root: &Path, dir: &Path, wanted: &BTreeSet<PathBuf>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(root) else { continue };
        if relative == Path::new("target") {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_others(root, &path, wanted)?;
        } else if !wanted.contains(relative) {
            fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// Grades every student's chapters 0..=`up_to` and writes the gradebook
/// to `out`.
pub fn run(
    up_to: &'static Chapter,
    dirs: &[PathBuf],
    out: &Path,
    mode: &Mode,
    progress: &mut dyn FnMut(&str),
) -> Result<ExitCode> {
    grade::check_mode(mode)?;
    let students = students(dirs)?;
    if students.is_empty() {
        bail!("name at least one student's checkout");
    }
    let chapters: Vec<&'static Chapter> = CHAPTERS.iter().filter(|c| c.number <= up_to.number).collect();
    let tools = compile::build_tools()?;
    // One workspace for every student in turn: cargo rebuilds what
    // changed (the students' sources) and keeps the dependencies built.
    let workspace = compile::work_dir().join("class");
    fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    let mut rows = Vec::new();
    for student in &students {
        progress(&format!("{}: chapters 0 to {} from {}", student.name, up_to.number, student.dir.display()));
        let skipped = assemble(student, &workspace)?;
        let (graded, notes) = grade_student(student, &chapters, &workspace, &tools, mode, progress)?;
        for chapter in &chapters {
            let tests: Vec<&Graded> = graded.iter().filter(|g| g.test.chapter == chapter.number).collect();
            let mut note: Vec<String> =
                notes.iter().filter(|(n, _)| *n == chapter.number).map(|(_, w)| w.clone()).collect();
            if chapter.number == 0 {
                note.extend(skipped.iter().cloned());
            }
            rows.push(Row {
                student: student.name.clone(),
                chapter: chapter.number,
                score: tests.iter().filter(|g| !g.test.challenge).map(|g| g.score()).sum(),
                max_score: tests.iter().filter(|g| !g.test.challenge).map(|g| g.test.points).sum(),
                challenge_score: tests.iter().filter(|g| g.test.challenge).map(|g| g.score()).sum(),
                challenge_max_score: tests.iter().filter(|g| g.test.challenge).map(|g| g.test.points).sum(),
                failing: tests
                    .iter()
                    .filter(|g| g.result.status != Status::Pass)
                    .map(|g| g.test.name.to_string())
                    .collect(),
                note: (!note.is_empty()).then(|| note.join("; ")),
            });
        }
        let results: Vec<_> = graded.iter().map(|g| &g.result).collect();
        let book = compile::repo_root().join("book").join("src");
        let unfinished = crate::unfinished::find(&results, &workspace, &book);
        let summary = Summary {
            unfinished: &unfinished,
            chapter: up_to,
            source: &student.name,
            graded: &graded,
            log: PathBuf::new(),
            repeat: Repeat::Host,
            isolation: None,
        };
        let classroom = out.join(format!("{}.classroom.json", student.name));
        fs::write(&classroom, report::classroom(&summary)).with_context(|| format!("write {}", classroom.display()))?;
    }
    write_gradebook(&rows, out)?;
    print_table(&rows, &chapters);
    outln!("gradebook: {} and {}", out.join("gradebook.csv").display(), out.join("gradebook.json").display());
    Ok(ExitCode::SUCCESS)
}

/// A note on one chapter of a student's: its number, and what happened.
type ChapterNote = (u8, String);

/// Builds a student's chapters and grades those that built, in one boot.
/// A chapter that does not build is graded as every test an error, with
/// a note; so is every chapter if the guest could not run.
fn grade_student(
    student: &Student,
    chapters: &[&'static Chapter],
    workspace: &Path,
    tools: &(PathBuf, PathBuf),
    mode: &Mode,
    progress: &mut dyn FnMut(&str),
) -> Result<(Vec<Graded>, Vec<ChapterNote>)> {
    let mut jobs = Vec::new();
    let mut notes = Vec::new();
    let mut graded = Vec::new();
    for chapter in chapters {
        let label = format!("class-{}", student.name);
        match compile::build_in(workspace, chapter, &label) {
            Ok(runtime) => jobs.push(JobSpec {
                tag: chapter.dir.to_string(),
                chapter: chapter.number,
                only: true,
                tests: Vec::new(),
                runtime,
            }),
            Err(err) => {
                notes.push((chapter.number, format!("did not build: {err:#}")));
                graded.extend(not_graded(chapter, "the chapter did not build"));
            }
        }
    }
    if jobs.is_empty() {
        return Ok((graded, notes));
    }
    match grade::execute(&jobs, mode, tools, &format!("class-{}", student.name), progress) {
        Ok(execution) => graded.extend(execution.jobs.into_iter().flat_map(|(_, tests)| tests)),
        Err(err) => {
            for job in &jobs {
                notes.push((job.chapter, format!("not graded: {err:#}")));
                if let Some(chapter) = CHAPTERS.iter().find(|c| c.number == job.chapter) {
                    graded.extend(not_graded(chapter, "the guest could not grade it"));
                }
            }
        }
    }
    graded.sort_by_key(|g| g.test.chapter);
    Ok((graded, notes))
}

/// Every test of `chapter`, as an error that says `why`.
fn not_graded(chapter: &'static Chapter, why: &str) -> Vec<Graded> {
    crate::session::Outcome::not_graded(chapter, true, why).graded
}

/// `gradebook.csv` and `gradebook.json` in `out`.
fn write_gradebook(rows: &[Row], out: &Path) -> Result<()> {
    let path = out.join("gradebook.csv");
    let mut csv = csv::Writer::from_path(&path).with_context(|| format!("create {}", path.display()))?;
    csv.write_record([
        "student",
        "chapter",
        "score",
        "max_score",
        "challenge_score",
        "challenge_max_score",
        "failing",
        "note",
    ])?;
    for row in rows {
        csv.write_record([
            row.student.clone(),
            row.chapter.to_string(),
            row.score.to_string(),
            row.max_score.to_string(),
            row.challenge_score.to_string(),
            row.challenge_max_score.to_string(),
            row.failing.join(" "),
            row.note.clone().unwrap_or_default(),
        ])?;
    }
    csv.flush().with_context(|| format!("write {}", path.display()))?;
    let path = out.join("gradebook.json");
    let json = serde_json::to_string_pretty(rows).context("encode the gradebook")?;
    fs::write(&path, json + "\n").with_context(|| format!("write {}", path.display()))
}

/// A student per line, a chapter per column: `score/points`.
fn print_table(rows: &[Row], chapters: &[&Chapter]) {
    let header: Vec<String> = chapters.iter().map(|c| format!("ch{}", c.number)).collect();
    outln!("{:<20} {}", "student", header.iter().map(|h| format!("{h:>8}")).collect::<String>());
    let mut students: Vec<&str> = rows.iter().map(|r| r.student.as_str()).collect();
    students.dedup();
    for student in students {
        let cells: String = rows
            .iter()
            .filter(|r| r.student == student)
            .map(|r| format!("{:>8}", format!("{}/{}", r.score, r.max_score)))
            .collect();
        outln!("{student:<20} {cells}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("greenroom-class-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("make a scratch folder");
        dir
    }

    #[test]
    fn students_are_named_by_folder_uniquely() {
        let root = scratch("names");
        for dir in ["a/alice", "b/alice", "c/bob smith"] {
            fs::create_dir_all(root.join(dir).join("chapters")).expect("mkdir");
        }
        let dirs: Vec<PathBuf> = ["a/alice", "b/alice", "c/bob smith"].iter().map(|d| root.join(d)).collect();
        let names: Vec<String> = students(&dirs).expect("students").into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["alice", "alice-2", "bob_smith"]);
        fs::create_dir_all(root.join("nothing")).expect("mkdir");
        let err = students(&[root.join("nothing")]).expect_err("no chapters/");
        assert!(err.to_string().contains("no chapters/ folder"), "{err}");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn only_the_students_sources_are_taken() {
        let root = scratch("assemble");
        let checkout = root.join("student");
        let src = checkout.join("chapters/ch01-uts/src");
        fs::create_dir_all(&src).expect("mkdir");
        fs::write(src.join("main.rs"), "// mine\n").expect("write");
        fs::write(src.join("extra.rs"), "// also mine\n").expect("write");
        std::os::unix::fs::symlink("/etc/hostname", src.join("linked.rs")).expect("symlink");
        // Files a student may not bring: a manifest, a build script.
        fs::write(checkout.join("chapters/ch01-uts/Cargo.toml"), "[package]\nbuild = \"build.rs\"\n").expect("write");
        fs::write(checkout.join("chapters/ch01-uts/build.rs"), "fn main() {}\n").expect("write");
        let student = Student { name: "s".into(), dir: checkout.clone() };
        let dest = root.join("workspace");
        let skipped = assemble(&student, &dest).expect("assemble");
        assert_eq!(fs::read_to_string(dest.join("ch01-uts/src/main.rs")).expect("read"), "// mine\n");
        assert!(dest.join("ch01-uts/src/extra.rs").is_file());
        assert!(!dest.join("ch01-uts/src/linked.rs").exists(), "a symlink was followed");
        assert!(skipped.iter().any(|s| s.contains("linked.rs")), "{skipped:?}");
        assert!(!dest.join("ch01-uts/build.rs").exists(), "the student's build script was taken");
        let template = compile::repo_root().join("chapters");
        for file in ["Cargo.toml", "Cargo.lock", "ch01-uts/Cargo.toml", "ch00-spawn/src/lib.rs"] {
            assert_eq!(
                fs::read(dest.join(file)).ok(),
                fs::read(template.join(file)).ok(),
                "{file} is not the grader's"
            );
        }
        // The next student, without extra.rs: it does not stay behind.
        fs::remove_file(src.join("extra.rs")).expect("remove");
        assemble(&student, &dest).expect("assemble again");
        assert!(!dest.join("ch01-uts/src/extra.rs").exists());
        let _ = fs::remove_dir_all(&root);
    }
}
