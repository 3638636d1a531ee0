//! `checker reset chapterN`: put a chapter's starter back as it was, keeping
//! the learner's version beside it.
//!
//! The pristine starter comes from `solutions/` in the full course (the
//! starters are generated from it, so it is there offline), and from the
//! copy a student export carries in `.starters/` (see [`crate::export`]).
//! Never from git history: a repository's first commit of a chapter is an
//! older course, not this one's starter.
//!
//! Every file is written anew, so its modification time is now and cargo
//! rebuilds the chapter (and the chapters that depend on it).

use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::chapters::Chapter;
use crate::compile::repo_root;
use crate::course;
use crate::export::STARTERS;

/// Resets `chapter`'s starter in `chapters/`, asking first unless `yes`.
pub fn run(chapter: &Chapter, yes: bool) -> Result<ExitCode> {
    let root = repo_root();
    let target = root.join("chapters").join(chapter.dir);
    if !yes && !confirm(&format!("Put chapters/{} back as it was? Your version will be kept.", chapter.dir))? {
        println!("nothing changed");
        return Ok(ExitCode::SUCCESS);
    }
    let files = pristine_files(&root, chapter)?;
    let backup = backup_dir(&root, chapter);
    if target.exists() {
        fs::create_dir_all(backup.parent().unwrap_or(&root)).context("create chapters/.backups")?;
        fs::rename(&target, &backup).with_context(|| format!("move {} to {}", target.display(), backup.display()))?;
    }
    write_fresh(&root.join("chapters"), &files)?;
    println!("chapters/{} is the starter again", chapter.dir);
    if backup.exists() {
        println!("your version is in {}", backup.strip_prefix(&root).unwrap_or(&backup).display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks a yes/no question on the terminal. Without a terminal there is
/// nobody to ask: the caller must say `--yes`.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("{question} Not on a terminal, so not asking: add --yes to do it");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// `chapters/.backups/chNN-…-<unix time>`: beside the chapters, and ignored
/// by cargo and by the checker (its name starts with a dot).
fn backup_dir(root: &Path, chapter: &Chapter) -> PathBuf {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    root.join("chapters").join(".backups").join(format!("{}-{now}", chapter.dir))
}

/// The starter's files, as paths relative to `chapters/` and contents.
pub fn pristine_files(root: &Path, chapter: &Chapter) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let solutions = root.join("solutions");
    if solutions.join(chapter.dir).is_dir() {
        return course::course_files(&solutions.join(chapter.dir))?
            .into_iter()
            .map(|file| {
                let relative = Path::new(chapter.dir).join(file);
                Ok((relative.clone(), course::starter_file(&solutions, &relative)?))
            })
            .collect();
    }
    let pristine = root.join(STARTERS);
    if pristine.join(chapter.dir).is_dir() {
        return course::course_files(&pristine.join(chapter.dir))?
            .into_iter()
            .map(|file| {
                let relative = Path::new(chapter.dir).join(file);
                let path = pristine.join(&relative);
                Ok((relative, fs::read(&path).with_context(|| format!("read {}", path.display()))?))
            })
            .collect();
    }
    bail!(
        "neither solutions/{0} nor {STARTERS}/{0} is here to restore the starter from: \
         take chapters/{0} from your course's template",
        chapter.dir
    )
}

/// Writes `files` under `dir`, each anew (never skipped as unchanged), so
/// every one gets a new modification time and cargo rebuilds.
fn write_fresh(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    for (relative, bytes) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        fs::write(&path, bytes).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}
