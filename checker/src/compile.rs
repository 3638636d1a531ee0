//! Building what goes into the guest: the runtime under test, the probe and
//! the suite, all linked statically because the guest has only busybox.

use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use greenroom_vm::Arch;

use crate::chapters::{Chapter, CHAPTERS};
use crate::course;
use crate::shared_deps;

/// The target the guest runs: the machine's own architecture, or the one
/// `--target` chose ([`Arch::guest`]). Naming it explicitly keeps the
/// static flag off build scripts and proc macros, which must stay dynamic.
pub fn target() -> &'static str {
    Arch::guest().rust_target()
}

/// The repository's root (the checker lives in `checker/`), or
/// `$GREENROOM_ROOT`: the checker's own tests point it at a scratch copy.
pub fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("GREENROOM_ROOT").filter(|r| !r.is_empty()) {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Where the checker keeps its builds, logs and state: `target/greenroom`,
/// or `target/greenroom/<arch>` for a guest of another architecture than
/// the machine's, so that its builds and results stay apart.
pub fn work_dir() -> PathBuf {
    let dir = repo_root().join("target").join("greenroom");
    let arch = Arch::guest();
    if arch.is_host() {
        dir
    } else {
        dir.join(arch.to_string())
    }
}

/// Which code a runtime is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The learner's `chapters/`.
    Learner,
    /// The reference `solutions/`.
    Solution,
    /// The pristine starter of the given chapter on top of the solutions of
    /// the chapters before it, as `selfcheck` needs.
    StarterOnSolutions,
}

/// Builds chapter `chapter`'s runtime from `source` and returns the path of
/// a copy of the binary that later builds will not overwrite.
pub fn build_runtime(chapter: &Chapter, source: Source, patch: Option<&Path>) -> Result<PathBuf> {
    let root = repo_root();
    let workspace = match (source, patch) {
        (Source::Learner, None) => root.join("chapters"),
        (Source::Solution, None) => root.join("solutions"),
        _ => assemble(chapter, source, patch)?,
    };
    let binary = cargo_build(&workspace, chapter.package)?;
    let label = match source {
        Source::Learner => "learner",
        Source::Solution => "solution",
        Source::StarterOnSolutions => "starter",
    };
    let suffix = patch.and_then(Path::file_stem).map(|n| format!("-{}", n.to_string_lossy())).unwrap_or_default();
    let kept = work_dir().join("bin").join(format!("{label}{suffix}-{}", chapter.dir));
    copy_binary(&binary, &kept)?;
    Ok(kept)
}

/// The workspace [`build_runtime`] builds `chapter` in, for `source` and
/// `patch`: the folder a panic's file names are relative to.
pub fn source_dir(chapter: &Chapter, source: Source, patch: Option<&Path>) -> PathBuf {
    let root = repo_root();
    match (source, patch.and_then(Path::file_stem)) {
        (Source::Learner, None) => root.join("chapters"),
        (Source::Solution, None) => root.join("solutions"),
        (_, Some(fixture)) => work_dir().join("assembly").join(format!("patched-{}", fixture.to_string_lossy())),
        (Source::StarterOnSolutions, None) => work_dir().join("assembly").join(format!("starter-{}", chapter.dir)),
    }
}

/// Builds chapter `chapter`'s runtime in `workspace` (a student's
/// sources assembled by `grade-class`) and keeps a copy of it as
/// `LABEL-chNN-…`.
pub fn build_in(workspace: &Path, chapter: &Chapter, label: &str) -> Result<PathBuf> {
    let binary = cargo_build(workspace, chapter.package)?;
    let kept = work_dir().join("bin").join(format!("{label}-{}", chapter.dir));
    copy_binary(&binary, &kept)?;
    Ok(kept)
}

/// Builds the probe and the suite from the tooling workspace.
pub fn build_tools() -> Result<(PathBuf, PathBuf)> {
    let root = repo_root();
    let probe = cargo_build(&root, "probe")?;
    let suite = cargo_build(&root, "greenroom-suite")?;
    let bin = work_dir().join("bin");
    copy_binary(&probe, &bin.join("probe"))?;
    copy_binary(&suite, &bin.join("greenroom-suite"))?;
    Ok((bin.join("probe"), bin.join("greenroom-suite")))
}

/// Runs `cargo build` for one package; the compiler's own messages go
/// straight to the terminal. Returns the built executable.
///
/// Every workspace gets a target directory of its own. Cargo identifies a
/// workspace member by its path *relative to the workspace*, so
/// `chapters/ch01-uts` and `solutions/ch01-uts` look like the same crate to
/// it: in one shared target directory, a build of one could be taken for an
/// up-to-date build of the other.
///
/// A new target directory of a course workspace starts with the registry
/// crates the solutions' (or the learner's) build already compiled
/// ([`shared_deps::seed`]).
fn cargo_build(workspace: &Path, package: &str) -> Result<PathBuf> {
    let label = workspace_label(workspace);
    let target_dir = work_dir().join("cargo").join(&label);
    if label != "tools" {
        let own_crates: Vec<&str> = CHAPTERS.iter().map(|c| c.package).collect();
        let builds = work_dir().join("cargo");
        let seed = ["solutions", "chapters"].into_iter().map(|l| builds.join(l)).find(|dir| dir.is_dir());
        if let Some(seed) = seed {
            shared_deps::seed(&target_dir, &seed, &own_crates)?;
        }
    }
    let manifest = workspace.join("Cargo.toml");
    let arch = Arch::guest();
    let target = arch.rust_target();
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args([
            "build",
            "--quiet",
            "--profile",
            "guest",
            "--message-format=json-render-diagnostics",
            "--target",
            target,
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", package])
        .env("CARGO_TARGET_DIR", target_dir)
        // Static, and not position-independent: a static-pie program
        // relocates itself at every start, a page fault per page it
        // patches, which under emulation doubles what a run of the runtime
        // or the probe costs (probe start 59 → 25 ms in a TCG guest).
        .env(target_variable(target, "RUSTFLAGS"), "-C target-feature=+crt-static -C relocation-model=static");
    // Another architecture's binaries need its C toolchain to link (Debian's
    // gcc-aarch64-linux-gnu and libc6-dev-arm64-cross), unless the user
    // named a linker of their own.
    let linker = target_variable(target, "LINKER");
    if !arch.is_host() && std::env::var_os(&linker).is_none() {
        command.env(&linker, arch.cross_linker().0);
    }
    let mut child = command.stdout(Stdio::piped()).spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("cargo is not installed: see https://rustup.rs"),
        _ => anyhow::Error::new(e).context("run cargo"),
    })?;
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.context("read cargo's output")?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if message["reason"] == "compiler-artifact" && message["target"]["kind"][0] == "bin" {
                executable = message["executable"].as_str().map(PathBuf::from);
            }
        }
    }
    let status = child.wait().context("wait for cargo")?;
    if !status.success() {
        bail!("building {package} in {} failed: fix the errors above and grade again", workspace.display());
    }
    executable.with_context(|| format!("cargo built {package} but reported no executable"))
}

/// Cargo's per-target variable `CARGO_TARGET_<TRIPLE>_<NAME>`.
fn target_variable(target: &str, name: &str) -> String {
    format!("CARGO_TARGET_{}_{name}", target.to_uppercase().replace('-', "_"))
}

/// A name for a workspace's target directory: `chapters`, `solutions`,
/// `tools`, or the assembly's folder name.
fn workspace_label(workspace: &Path) -> String {
    if workspace == repo_root() {
        return "tools".to_string();
    }
    workspace.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "other".into())
}

fn copy_binary(from: &Path, to: &Path) -> Result<()> {
    let bytes = fs::read(from).with_context(|| format!("read {}", from.display()))?;
    course::write_if_changed(to, &bytes)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).with_context(|| format!("chmod {}", to.display()))
}

/// Writes a workspace in `target/greenroom/assembly/` holding chapters
/// 0..=N: the solutions below N, and chapter N from the pristine starter
/// (or the solution), with `patch` applied. Chapter crates refer to
/// each other as `../chNN-…`, so folders side by side are all it takes.
fn assemble(chapter: &Chapter, source: Source, patch: Option<&Path>) -> Result<PathBuf> {
    let solutions = repo_root().join("solutions");
    let name = match (source, patch.and_then(Path::file_stem)) {
        // Prefixed, so no patch can share a target folder with a real workspace.
        (_, Some(fixture)) => format!("patched-{}", fixture.to_string_lossy()),
        (Source::StarterOnSolutions, None) => format!("starter-{}", chapter.dir),
        _ => format!("solution-{}", chapter.dir),
    };
    let dest = work_dir().join("assembly").join(name);
    let members: Vec<&Chapter> = CHAPTERS.iter().filter(|c| c.number <= chapter.number).collect();
    for member in &members {
        let crate_dir = solutions.join(member.dir);
        for relative in course::course_files(&crate_dir)? {
            let from = Path::new(member.dir).join(&relative);
            let bytes = if member.number == chapter.number && source == Source::StarterOnSolutions {
                course::starter_file(&solutions, &from)?
            } else {
                fs::read(solutions.join(&from)).with_context(|| format!("read {}", from.display()))?
            };
            course::write_if_changed(&dest.join(&from), &bytes)?;
        }
    }
    if let Some(patch) = patch {
        let text = fs::read_to_string(patch).with_context(|| format!("read {}", patch.display()))?;
        for (relative, patched) in
            course::apply_patch(&dest, &text).with_context(|| format!("apply {}", patch.display()))?
        {
            course::write_if_changed(&dest.join(relative), patched.as_bytes())?;
        }
    }
    let manifest = fs::read_to_string(solutions.join("Cargo.toml")).context("read solutions/Cargo.toml")?;
    let list = members.iter().map(|m| format!("\"{}\"", m.dir)).collect::<Vec<_>>().join(", ");
    let manifest: String = manifest
        .lines()
        .map(|line| if line.starts_with("members = ") { format!("members = [{list}]\n") } else { format!("{line}\n") })
        .collect();
    course::write_if_changed(&dest.join("Cargo.toml"), manifest.as_bytes())?;
    let lock = fs::read(solutions.join("Cargo.lock")).context("read solutions/Cargo.lock")?;
    course::write_if_changed(&dest.join("Cargo.lock"), &lock)?;
    Ok(dest)
}
