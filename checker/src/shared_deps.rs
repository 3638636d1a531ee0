//! Starting a new target directory with the dependencies another one has
//! already compiled.
//!
//! Every workspace the checker builds gets a target directory of its own
//! (see `compile::cargo_build` for why), so each assembly — a starter on the
//! solutions for `selfcheck`, a fixture, a student's sources for
//! `grade-class` — would compile nix, serde, oci-spec and the rest again:
//! most of a minute per workspace, and the largest part of a `selfcheck` or
//! a CI run. The registry crates are the same in all of them (one
//! `Cargo.lock`, one profile, the same flags), so their compiled files can be
//! taken from a target directory that has them. Cargo checks every file it
//! finds against its fingerprint and compiles again whatever does not match,
//! so a seed can make a build quicker but never wrong.
//!
//! The course's own crates are left out: cargo names them by their path
//! inside the workspace, the same in every assembly, and judges them fresh
//! by file times, so a copied build of one assembly's `ch03-rootfs` could be
//! taken for another's.

use std::fs;
use std::io;
use std::path::Path;

use anyhow::{Context, Result};

/// The folders of a cargo profile directory that hold per-crate files: the
/// compiled crates, their fingerprints, and build scripts' outputs.
const CRATE_FOLDERS: [&str; 3] = ["deps", ".fingerprint", "build"];

/// Fills the new target directory `target` with the compiled registry
/// crates of `seed`, leaving out the crates named in `own_crates`. Does
/// nothing when `target` exists already or `seed` does not.
///
/// The compiled crates are hard links (the compiler never writes into one:
/// it writes a new file and renames it over the old name); fingerprints,
/// dep-info files and build scripts' outputs are small, and copied.
pub fn seed(target: &Path, seed: &Path, own_crates: &[&str]) -> Result<()> {
    if target.exists() || !seed.is_dir() {
        return Ok(());
    }
    // Filled beside its place and renamed into it: two checkers starting
    // at once never copy into one folder (a copy onto a hard link would
    // write into the seed's own file), and a seeding cut short leaves no
    // half-filled target folder.
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let filling = target.with_file_name(format!(".{name}.seeding-{}", std::process::id()));
    let _ = fs::remove_dir_all(&filling);
    fill(&filling, seed, own_crates)?;
    if fs::rename(&filling, target).is_err() {
        // Another checker's seed, or its build, got there first.
        let _ = fs::remove_dir_all(&filling);
    }
    Ok(())
}

/// Copies the crates of `seed` that are not `own_crates` into `target`.
fn fill(target: &Path, seed: &Path, own_crates: &[&str]) -> Result<()> {
    // Cargo keeps build scripts and proc macros (built for the machine that
    // compiles) in <dir>/<profile>, the rest in <dir>/<triple>/<profile>.
    for profile_dir in profile_dirs(seed)? {
        let relative = profile_dir.strip_prefix(seed).context("a profile folder outside its target folder")?;
        for folder in CRATE_FOLDERS {
            let from = profile_dir.join(folder);
            let Ok(entries) = fs::read_dir(&from) else { continue };
            let to = target.join(relative).join(folder);
            fs::create_dir_all(&to).with_context(|| format!("create {}", to.display()))?;
            for entry in entries {
                let entry = entry.with_context(|| format!("list {}", from.display()))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if own_crates.contains(&crate_of(&name)) {
                    continue;
                }
                copy_tree(&entry.path(), &to.join(&*name), folder == "deps")
                    .with_context(|| format!("seed {} from {}", to.display(), from.display()))?;
            }
        }
    }
    Ok(())
}

/// The profile folders in a target folder: those that hold a `.fingerprint`.
fn profile_dirs(target: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![(target.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if dir.join(".fingerprint").is_dir() {
            found.push(dir);
            continue;
        }
        // <target>/<profile> or <target>/<triple>/<profile>: two levels.
        if depth == 2 {
            continue;
        }
        for entry in fs::read_dir(&dir).with_context(|| format!("list {}", dir.display()))?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push((entry.path(), depth + 1));
            }
        }
    }
    Ok(found)
}

/// The crate a file or folder of a profile folder belongs to:
/// `libnix-3f2a….rlib`, `nix-3f2a….d` and `.fingerprint/nix-3f2a…` all
/// give `nix`. Only compared with the course's crate names, so a registry
/// crate whose own name starts with `lib` may come out shortened, harmlessly.
fn crate_of(name: &str) -> &str {
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.rsplit_once('-').map_or(stem, |(crate_name, _hash)| crate_name);
    stem.strip_prefix("lib").unwrap_or(stem)
}

/// Copies `from` (a file or a folder) to `to`, keeping each file's
/// modification time: cargo compares a crate's output time with its
/// dependents' fingerprints, and a fresh time would make everything built
/// on it look stale. Compiled crates of `deps` (`in_deps`) become hard links
/// where the file system allows.
fn copy_tree(from: &Path, to: &Path, in_deps: bool) -> io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), in_deps)?;
        }
        return Ok(());
    }
    // Only what the compiler replaces by renaming a new file over it may be
    // shared; a fingerprint or a dep-info file is rewritten in place.
    let compiled = from.extension().is_some_and(|e| e == "rlib" || e == "rmeta" || e == "so");
    if in_deps && compiled && fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to)?;
    let modified = fs::metadata(from)?.modified()?;
    fs::File::options().write(true).open(to)?.set_modified(modified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_crate() {
        assert_eq!(crate_of("libnix-3f2a9c1d0b7e6f55.rlib"), "nix");
        assert_eq!(crate_of("nix-3f2a9c1d0b7e6f55.d"), "nix");
        assert_eq!(crate_of("oci-spec-0123456789abcdef"), "oci-spec");
        assert_eq!(crate_of("librootfs-0123456789abcdef.rmeta"), "rootfs");
        assert_eq!(crate_of("rootfs-0123456789abcdef"), "rootfs");
    }

    #[test]
    fn registry_crates_are_seeded_and_the_course_crates_are_not() -> Result<()> {
        let root = std::env::temp_dir().join(format!("greenroom-seed-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let seed_dir = root.join("seed");
        let profile = seed_dir.join("x86_64-unknown-linux-gnu").join("guest");
        let host_profile = seed_dir.join("guest");
        for dir in [&profile, &host_profile] {
            fs::create_dir_all(dir.join(".fingerprint").join("nix-0123456789abcdef"))?;
            fs::create_dir_all(dir.join(".fingerprint").join("rootfs-0123456789abcdef"))?;
            fs::create_dir_all(dir.join("deps"))?;
            fs::create_dir_all(dir.join("incremental").join("rootfs-0123"))?;
        }
        fs::write(profile.join(".fingerprint/nix-0123456789abcdef/lib-nix"), "fp")?;
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(profile.join(".fingerprint/nix-0123456789abcdef/lib-nix"))?
            .set_modified(an_hour_ago)?;
        fs::write(profile.join("deps/libnix-0123456789abcdef.rlib"), "nix")?;
        fs::write(profile.join("deps/librootfs-0123456789abcdef.rlib"), "ours")?;
        fs::write(profile.join("librootfs.rlib"), "uplifted")?;

        let target = root.join("new");
        seed(&target, &seed_dir, &["rootfs", "spawn"])?;
        let copied = target.join("x86_64-unknown-linux-gnu").join("guest");
        assert_eq!(fs::read_to_string(copied.join("deps/libnix-0123456789abcdef.rlib"))?, "nix");
        assert_eq!(fs::read_to_string(copied.join(".fingerprint/nix-0123456789abcdef/lib-nix"))?, "fp");
        let times = |path: &Path| fs::metadata(path).and_then(|m| m.modified());
        let fingerprint = ".fingerprint/nix-0123456789abcdef/lib-nix";
        assert_eq!(times(&copied.join(fingerprint))?, times(&profile.join(fingerprint))?, "a copy keeps its time");
        assert!(target.join("guest/.fingerprint/nix-0123456789abcdef").is_dir(), "the host-side profile too");
        for ours in [
            "deps/librootfs-0123456789abcdef.rlib",
            ".fingerprint/rootfs-0123456789abcdef",
            "librootfs.rlib",
            "incremental",
        ] {
            assert!(!copied.join(ours).exists(), "{ours} is the course's own and must be built afresh");
        }

        // A target folder that exists is left as it is.
        fs::write(profile.join("deps/libserde-0123456789abcdef.rlib"), "serde")?;
        seed(&target, &seed_dir, &["rootfs"])?;
        assert!(!copied.join("deps/libserde-0123456789abcdef.rlib").exists());
        fs::remove_dir_all(&root)?;
        Ok(())
    }
}
