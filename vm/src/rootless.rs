//! What chapter 5's rootless tests need in the guest: an unprivileged user
//! with a range of subordinate ids, and Debian's `newuidmap` and
//! `newgidmap`, the setuid-root helpers that write a range map for it.
//!
//! The helpers are dynamically linked, so the libraries they load come
//! along, with the dynamic loader; the list below is what `readelf -d` and
//! `ldd` report for Debian 12's `uidmap` package (`libaudit.so.1`,
//! `libselinux.so.1`, `libc.so.6`, and theirs: `libcap-ng.so.0`,
//! `libpcre2-8.so.0`). They are fetched like the kernel and busybox, with
//! `apt-get download`, and kept in the cache. In the guest they go where
//! Debian's loader looks without a cache file (`/lib/x86_64-linux-gnu`, or
//! `/lib/aarch64-linux-gnu` on arm64);
//! the helpers keep their setuid bit (the archive keeps every mode bit).

use std::path::{Path, PathBuf};

use crate::apt::Apt;
use crate::arch::Arch;
use crate::assets::{create_dir, download_and_unpack, scratch_dir, AssetError};
use crate::initramfs::{FileSource, GuestFile};

/// The unprivileged user's name.
pub const GUEST_USER: &str = "greenroom";
/// Its uid and gid.
pub const GUEST_UID: u32 = 1000;
/// Where its subordinate ids start, in `/etc/subuid` and `/etc/subgid`.
pub const SUBORDINATE_START: u32 = 100_000;
/// How many it has.
pub const SUBORDINATE_COUNT: u32 = 65_536;

/// What the user can do when a download fails.
const UIDMAP_HINT: &str = "run `sudo apt-get update`; the rootless tests of chapter 5 need Debian's uidmap";

/// A file of the helpers' set: where it goes in the guest, the package it
/// comes from, its path in that package, and its mode.
struct Helper {
    guest_path: String,
    package: &'static str,
    in_package: String,
    mode: u32,
}

/// `newuidmap`, `newgidmap`, their libraries and the loader, for the
/// guest's architecture.
fn helper_files() -> Vec<Helper> {
    let arch = Arch::guest();
    let triplet = arch.multiarch();
    let (loader, loader_path) = arch.loader();
    let helper =
        |guest_path: String, package, in_package: String, mode| Helper { guest_path, package, in_package, mode };
    let library = |package, dir: &str, name: &str| {
        helper(format!("/lib/{triplet}/{name}"), package, format!("{dir}/{triplet}/{name}"), 0o644)
    };
    vec![
        helper("/usr/bin/newuidmap".into(), "uidmap", "usr/bin/newuidmap".into(), 0o4755),
        helper("/usr/bin/newgidmap".into(), "uidmap", "usr/bin/newgidmap".into(), 0o4755),
        helper(loader_path.into(), "libc6", format!("lib/{triplet}/{loader}"), 0o755),
        helper(format!("/lib/{triplet}/libc.so.6"), "libc6", format!("lib/{triplet}/libc.so.6"), 0o755),
        library("libaudit1", "lib", "libaudit.so.1"),
        library("libselinux1", "lib", "libselinux.so.1"),
        library("libcap-ng0", "lib", "libcap-ng.so.0"),
        library("libpcre2-8-0", "usr/lib", "libpcre2-8.so.0"),
    ]
}

/// The cache folder the helpers' files are kept in, flat, by file name.
fn cache_dir(cache: &Path) -> PathBuf {
    cache.join("uidmap")
}

/// The guest's account files: root and the unprivileged user, who owns
/// [`SUBORDINATE_COUNT`] ids from [`SUBORDINATE_START`].
pub fn user_files() -> Vec<GuestFile> {
    let (user, id) = (GUEST_USER, GUEST_UID);
    let subordinate = format!("{user}:{SUBORDINATE_START}:{SUBORDINATE_COUNT}\n");
    let file = |guest_path: &str, text: String| GuestFile {
        guest_path: guest_path.to_string(),
        source: FileSource::Bytes(text.into_bytes()),
        mode: 0o644,
    };
    vec![
        file("/etc/passwd", format!("root:x:0:0:root:/root:/bin/sh\n{user}:x:{id}:{id}:{user}:/home/{user}:/bin/sh\n")),
        file("/etc/group", format!("root:x:0:\n{user}:x:{id}:\n")),
        file("/etc/subuid", subordinate.clone()),
        file("/etc/subgid", subordinate),
    ]
}

/// The account files and the helpers, fetched into `cache` on first use.
pub fn guest_files(cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<Vec<GuestFile>, AssetError> {
    let dir = ensure_helpers(cache, progress)?;
    let helpers = helper_files().into_iter().map(|helper| GuestFile {
        source: FileSource::Path(dir.join(file_name(&helper.guest_path))),
        guest_path: helper.guest_path,
        mode: helper.mode,
    });
    Ok(user_files().into_iter().chain(helpers).collect())
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Returns the cached helpers' folder, downloading the packages first if a
/// file is missing.
fn ensure_helpers(cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, AssetError> {
    let dir = cache_dir(cache);
    let helpers = helper_files();
    if helpers.iter().all(|h| dir.join(file_name(&h.guest_path)).is_file()) {
        return Ok(dir);
    }
    create_dir(cache)?;
    let work = scratch_dir(cache)?;
    let staging = work.0.join("keep");
    create_dir(&staging)?;
    let mut packages: Vec<&str> = helpers.iter().map(|h| h.package).collect();
    packages.dedup();
    for package in packages {
        let apt = Apt::for_package(cache, package, progress)?;
        progress(&format!("downloading {package} (for the rootless tests) with apt-get download"));
        let unpack = work.0.join(package);
        create_dir(&unpack)?;
        let tree = download_and_unpack(&apt, &unpack, package, "newuidmap and its libraries", UIDMAP_HINT)?;
        for helper in helpers.iter().filter(|h| h.package == package) {
            // A library's name is often a link to the versioned file: copy
            // follows it, inside the unpacked tree.
            let from = tree.join(&helper.in_package);
            let to = staging.join(file_name(&helper.guest_path));
            std::fs::copy(&from, &to).map_err(|_| {
                AssetError::Layout(format!("{package} has no {} (wanted for the guest)", helper.in_package))
            })?;
        }
    }
    // Replace the folder as a whole, so a half-done download never looks done.
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(source) = std::fs::rename(&staging, &dir) {
        if !helpers.iter().all(|h| dir.join(file_name(&h.guest_path)).is_file()) {
            return Err(AssetError::Cache { path: dir, source });
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_owns_a_range_and_the_helpers_are_setuid() {
        let files = user_files();
        let text = |path: &str| match &files.iter().find(|f| f.guest_path == path).unwrap().source {
            FileSource::Bytes(bytes) => String::from_utf8(bytes.clone()).unwrap(),
            FileSource::Path(_) => unreachable!(),
        };
        assert!(text("/etc/passwd").contains("greenroom:x:1000:1000:"));
        assert_eq!(text("/etc/subuid"), "greenroom:100000:65536\n");
        assert!(helper_files().iter().filter(|h| h.guest_path.contains("new")).all(|h| h.mode == 0o4755));
    }
}
