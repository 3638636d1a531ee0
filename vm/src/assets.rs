//! Fetches and caches what the guest is made of: a Linux kernel, the few
//! kernel modules the tests need, and a static busybox.
//!
//! Both come from Debian bookworm packages: `linux-image-cloud-amd64` or
//! `-arm64` (a kernel trimmed for virtual machines, which boots fastest) and
//! `busybox-static`. `apt-get download` fetches a `.deb` without installing
//! it and without root, and `dpkg-deb -x` unpacks it into any directory.
//! Everything is fetched once and kept in the cache directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apt::{Apt, AptError};
use crate::arch::Arch;
use crate::modinfo::{self, ModinfoError};
use crate::vmlinux;

/// The kernel metapackage for the guest's architecture; it depends on the
/// current versioned package.
pub fn kernel_meta() -> String {
    format!("linux-image-cloud-{}", Arch::guest().debian())
}
/// The package that provides a statically linked `/bin/busybox`.
pub const BUSYBOX_PACKAGE: &str = "busybox-static";
/// The programs a first run fetches the guest's files with.
pub const FETCH_TOOLS: &[&str] = &["apt-get", "apt-cache", "dpkg-deb"];
/// Modules the guest loads, in the order the book introduces them: the
/// virtio transport and console (for the results port), bridge and veth
/// (chapter 4), overlay (for container images). Dependencies come first
/// anyway: [`modinfo::load_order`] reads them from each module.
pub const GUEST_MODULES: &[&str] =
    &["virtio_ring", "virtio", "virtio_mmio", "virtio_console", "llc", "stp", "bridge", "veth", "overlay"];
/// Lists the cached kernel and its modules, one path a line, kernel first.
const KERNEL_MANIFEST: &str = "kernel.txt";

/// The files a guest is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    /// The kernel QEMU boots: an uncompressed ELF `vmlinux` when we could
    /// extract one, else the `bzImage`.
    pub kernel: PathBuf,
    /// Kernel modules (`.ko` files) in the order `/init` loads them.
    pub modules: Vec<PathBuf>,
    /// A statically linked busybox, the guest's whole userland.
    pub busybox: PathBuf,
}

/// What can go wrong while fetching the guest's files. Each message says
/// what failed and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// The cache directory (or a file in it) could not be written.
    #[error("could not write {path}: {source} — set GREENROOM_CACHE to a writable directory")]
    Cache {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `apt-cache` or `apt-get download` failed.
    #[error("could not download {what} with `{command}`: {detail} — {hint}")]
    Download {
        /// What we were fetching.
        what: &'static str,
        /// The command we ran.
        command: String,
        /// The command's own explanation.
        detail: String,
        /// What the user can do.
        hint: &'static str,
    },
    /// `dpkg-deb -x` failed.
    #[error("could not unpack {deb} with `dpkg-deb -x`: {detail} — is dpkg installed?")]
    Unpack {
        /// The package file.
        deb: PathBuf,
        /// The command's own explanation.
        detail: String,
    },
    /// The package did not contain what we expected.
    #[error("unexpected package content: {0} — pass --kernel PATH to use another kernel")]
    Layout(String),
    /// The needed kernel modules could not be found or read.
    #[error("{0} — pass --kernel PATH with a kernel that has them built in")]
    Modules(#[from] ModinfoError),
    /// Neither this machine's apt nor Debian's archive could be used.
    #[error(transparent)]
    Apt(#[from] AptError),
    /// The user's `--kernel` does not exist.
    #[error("the kernel {0} does not exist — check the path given to --kernel")]
    MissingOverride(PathBuf),
}

/// What the user can do when the kernel download fails.
const KERNEL_HINT: &str = "run `sudo apt-get update`, or pass --kernel PATH";
/// What the user can do when the busybox download fails.
const BUSYBOX_HINT: &str = "run `sudo apt-get update`, or `sudo apt-get install busybox-static`";

/// Returns the guest's files, fetching them into `cache` on first use.
///
/// With `kernel_override` (the user's `--kernel PATH`) that kernel is used
/// as is and no modules are loaded: it must have virtio-mmio, the virtio
/// console, veth, bridge and overlay built in. `progress` receives one line
/// per slow step, for the user to read.
pub fn ensure_assets(
    cache: &Path,
    kernel_override: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> Result<Assets, AssetError> {
    create_dir(cache)?;
    let busybox = ensure_busybox(cache, progress)?;
    if let Some(kernel) = kernel_override {
        if !kernel.is_file() {
            return Err(AssetError::MissingOverride(kernel.to_owned()));
        }
        return Ok(Assets { kernel: kernel.to_owned(), modules: Vec::new(), busybox });
    }
    let (kernel, modules) = match cached_kernel(cache) {
        Some(cached) => cached,
        None => fetch_kernel(cache, progress)?,
    };
    Ok(Assets { kernel, modules, busybox })
}

/// Returns the cached busybox, fetching it first if needed.
fn ensure_busybox(cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, AssetError> {
    let busybox = busybox_path(cache);
    if busybox.is_file() {
        return Ok(busybox);
    }
    let apt = Apt::for_package(cache, BUSYBOX_PACKAGE, progress)?;
    progress("downloading busybox-static with apt-get download");
    let work = scratch_dir(cache)?;
    let tree = download_and_unpack(&apt, &work.0, BUSYBOX_PACKAGE, "busybox", BUSYBOX_HINT)?;
    let unpacked = tree.join("bin/busybox");
    if !unpacked.is_file() {
        return Err(AssetError::Layout(format!("{BUSYBOX_PACKAGE} has no bin/busybox")));
    }
    rename(&unpacked, &busybox)?;
    Ok(busybox)
}

/// Downloads the kernel package and keeps the kernel and the guest's
/// modules in `cache/<package>/`; the rest of the package is deleted.
fn fetch_kernel(cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<(PathBuf, Vec<PathBuf>), AssetError> {
    let apt = Apt::for_package(cache, &kernel_meta(), progress)?;
    let package = resolve_kernel_package(&apt)?;
    progress(&format!("downloading the guest kernel ({package}) with apt-get download"));
    let work = scratch_dir(cache)?;
    let tree = download_and_unpack(&apt, &work.0, &package, "the guest kernel", KERNEL_HINT)?;

    let bzimage = only_entry(&tree.join("boot"), "vmlinuz-")?;
    let modules_dir = only_entry(&tree.join("lib/modules"), "")?;
    let builtin = std::fs::read_to_string(modules_dir.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| Some(modinfo::normalize(line.rsplit('/').next()?.strip_suffix(".ko")?)))
        .collect::<Vec<_>>();
    let order = modinfo::load_order(&modules_dir, GUEST_MODULES, &builtin)?;

    // Stage the files we keep next to the final directory, then rename it
    // into place, so an interrupted download never looks like a finished one.
    let staging = work.0.join("keep");
    create_dir(&staging)?;
    let mut modules = Vec::new();
    for (i, module) in order.iter().enumerate() {
        let name = module.file_name().and_then(|n| n.to_str()).unwrap_or("module.ko");
        // A numeric prefix keeps the load order visible to `ls` and to /init.
        let kept = format!("{:02}-{name}", i + 1);
        rename(module, &staging.join(&kept))?;
        modules.push(kept);
    }
    rename(&bzimage, &staging.join("vmlinuz"))?;
    let kernel = match Arch::guest() {
        // Debian's arm64 `vmlinuz` is already an uncompressed `Image`,
        // which QEMU's `virt` board boots directly.
        Arch::Aarch64 => "vmlinuz",
        Arch::X86_64 => match vmlinux::extract(&staging.join("vmlinuz"), &staging.join("vmlinux")) {
            Ok(()) => "vmlinux",
            Err(e) => {
                progress(&format!("booting the compressed kernel (slower): {e}"));
                "vmlinuz"
            }
        },
    };
    let dir = cache.join(&package);
    if let Err(e) = std::fs::rename(&staging, &dir) {
        // Another run may have fetched the same package meanwhile.
        if !dir.join(kernel).is_file() {
            return Err(AssetError::Cache { path: dir, source: e });
        }
    }
    let kernel = dir.join(kernel);
    let modules: Vec<PathBuf> = modules.iter().map(|m| dir.join(m)).collect();
    write_manifest(&cache.join(KERNEL_MANIFEST), &kernel, &modules)?;
    Ok((kernel, modules))
}

/// Asks apt which versioned package the metapackage currently depends on,
/// e.g. `linux-image-6.1.0-57-cloud-amd64`.
fn resolve_kernel_package(apt: &Apt) -> Result<String, AssetError> {
    let meta = kernel_meta();
    let command = format!("apt-cache depends {meta}");
    let failed = |detail: String| AssetError::Download {
        what: "the guest kernel",
        command: command.clone(),
        detail,
        hint: KERNEL_HINT,
    };
    let out = run(apt.command("apt-cache").args(["depends", &meta])).map_err(failed)?;
    versioned_kernel_package(&out).ok_or_else(|| failed(format!("{meta} depends on no linux-image package")))
}

/// The versioned kernel package in the output of `apt-cache depends`
/// [`kernel_meta`]: its first `Depends: linux-image-…` line.
pub fn versioned_kernel_package(apt_cache_depends: &str) -> Option<String> {
    apt_cache_depends
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|dep| dep.starts_with("linux-image-"))
        .map(str::to_owned)
}

/// Runs `apt-get download` in `work` and unpacks the `.deb` into `work/tree`.
pub(crate) fn download_and_unpack(
    apt: &Apt,
    work: &Path,
    package: &str,
    what: &'static str,
    hint: &'static str,
) -> Result<PathBuf, AssetError> {
    run(apt.command("apt-get").args(["download", "-q", package]).current_dir(work)).map_err(|detail| {
        AssetError::Download { what, command: format!("apt-get download {package}"), detail, hint }
    })?;
    let deb = only_entry(work, package)?;
    let tree = work.join("tree");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))
        .map_err(|detail| AssetError::Unpack { deb, detail })?;
    Ok(tree)
}

/// Runs a command and returns its stdout, or a one-line reason it failed.
pub(crate) fn run(command: &mut Command) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command.output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // apt prints warnings before the error; the last line is the one that matters.
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(last.map_or_else(|| format!("{program} failed ({})", out.status), str::to_owned))
}

/// Returns the single entry of `dir` whose name starts with `prefix`.
pub(crate) fn only_entry(dir: &Path, prefix: &str) -> Result<PathBuf, AssetError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| AssetError::Layout(format!("cannot list {}: {e}", dir.display())))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect::<Vec<_>>();
    match entries.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(AssetError::Layout(format!("expected one {prefix}* in {}, found {}", dir.display(), entries.len()))),
    }
}

/// The cached kernel and its modules, in load order, as the last download
/// left them; `None` if there are none yet or a file has gone since (the
/// next run then fetches them again).
pub fn cached_kernel(cache: &Path) -> Option<(PathBuf, Vec<PathBuf>)> {
    read_manifest(&cache.join(KERNEL_MANIFEST))
}

/// Where the guest's busybox is cached (it may not be there yet).
pub fn busybox_path(cache: &Path) -> PathBuf {
    cache.join("busybox")
}

/// Reads the kernel manifest; `None` if it is missing or out of date.
fn read_manifest(path: &Path) -> Option<(PathBuf, Vec<PathBuf>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut paths = text.lines().map(PathBuf::from);
    let kernel = paths.next()?;
    let modules: Vec<PathBuf> = paths.collect();
    let complete = kernel.is_file() && modules.iter().all(|m| m.is_file());
    complete.then_some((kernel, modules))
}

fn write_manifest(path: &Path, kernel: &Path, modules: &[PathBuf]) -> Result<(), AssetError> {
    let mut text = format!("{}\n", kernel.display());
    for module in modules {
        text.push_str(&format!("{}\n", module.display()));
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|source| AssetError::Cache { path: tmp.clone(), source })?;
    rename(&tmp, path)
}

/// A directory in the cache, removed when dropped.
pub(crate) struct ScratchDir(pub(crate) PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover scratch directory wastes space, nothing more.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn scratch_dir(cache: &Path) -> Result<ScratchDir, AssetError> {
    let dir = cache.join(format!("download-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    create_dir(&dir)?;
    Ok(ScratchDir(dir))
}

pub(crate) fn create_dir(path: &Path) -> Result<(), AssetError> {
    std::fs::create_dir_all(path).map_err(|source| AssetError::Cache { path: path.to_owned(), source })
}

pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), AssetError> {
    std::fs::rename(from, to).map_err(|source| AssetError::Cache { path: to.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_detects_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("vmlinux");
        let module = dir.path().join("01-virtio.ko");
        std::fs::write(&kernel, b"k").unwrap();
        std::fs::write(&module, b"m").unwrap();
        let manifest = dir.path().join(KERNEL_MANIFEST);
        write_manifest(&manifest, &kernel, std::slice::from_ref(&module)).unwrap();
        assert_eq!(read_manifest(&manifest), Some((kernel, vec![module.clone()])));
        std::fs::remove_file(&module).unwrap();
        assert_eq!(read_manifest(&manifest), None, "a missing module invalidates the cache");
    }

    #[test]
    fn the_cached_kernel_is_read_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cached_kernel(dir.path()), None, "an empty cache has no kernel");
        let kernel = dir.path().join("linux-image-6.1.0-57-cloud-amd64/vmlinux");
        std::fs::create_dir_all(kernel.parent().unwrap()).unwrap();
        std::fs::write(&kernel, b"k").unwrap();
        write_manifest(&dir.path().join(KERNEL_MANIFEST), &kernel, &[]).unwrap();
        assert_eq!(cached_kernel(dir.path()), Some((kernel, Vec::new())));
        assert_eq!(busybox_path(dir.path()), dir.path().join("busybox"));
    }

    #[test]
    fn the_versioned_kernel_package_is_the_linux_image_dependency() {
        let depends =
            "linux-image-cloud-amd64\n  Depends: initramfs-tools\n  Depends: linux-image-6.1.0-57-cloud-amd64\n";
        assert_eq!(versioned_kernel_package(depends).as_deref(), Some("linux-image-6.1.0-57-cloud-amd64"));
        assert_eq!(versioned_kernel_package("linux-image-cloud-amd64\n"), None);
        assert_eq!(versioned_kernel_package(""), None);
    }

    #[test]
    fn missing_override_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("busybox"), b"").unwrap();
        let err = ensure_assets(dir.path(), Some(Path::new("/nonexistent/bzImage")), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("--kernel"), "{err}");
    }
}
