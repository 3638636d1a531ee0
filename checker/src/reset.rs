//! `checker reset chapterN`: put a chapter's starter back as it was, keeping
//! the learner's version beside it.
//!
//! The pristine starter comes from `solutions/` (the starters are generated
//! from it), so it is there offline. A classroom copy without `solutions/`
//! gets it from the repository's first commit that has the chapter.

use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

use crate::chapters::Chapter;
use crate::compile::repo_root;
use crate::course;

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
    for (relative, bytes) in files {
        course::write_if_changed(&root.join("chapters").join(&relative), &bytes)?;
    }
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
fn pristine_files(root: &Path, chapter: &Chapter) -> Result<Vec<(PathBuf, Vec<u8>)>> {
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
    from_first_commit(root, chapter)
}

/// The chapter's files as the first commit that added them has them.
fn from_first_commit(root: &Path, chapter: &Chapter) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let path = format!("chapters/{}", chapter.dir);
    let git = |args: &[&str]| -> Result<Vec<u8>> {
        let output = Command::new("git").arg("-C").arg(root).args(args).output().context("run git")?;
        if !output.status.success() {
            bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(output.stdout)
    };
    let commits = git(&["log", "--format=%H", "--diff-filter=A", "--", &path]).context(
        "no solutions/ here, and git history is unavailable: restore the starter from your course's template",
    )?;
    let Some(first) = String::from_utf8_lossy(&commits).lines().last().map(str::to_string) else {
        bail!("no commit adds {path}: restore the starter from your course's template");
    };
    let listing = git(&["ls-tree", "-r", "--name-only", &first, "--", &path])?;
    String::from_utf8_lossy(&listing)
        .lines()
        .map(|file| {
            let bytes = git(&["show", &format!("{first}:{file}")])?;
            let relative = Path::new(file).strip_prefix("chapters").unwrap_or(Path::new(file)).to_path_buf();
            Ok((relative, bytes))
        })
        .collect()
}
