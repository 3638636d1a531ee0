//! The capstone's guest profile: the guest of chapter 7, in which podman
//! drives the learner's OCI runtime side by side with crun and runc.
//!
//! podman, conmon, crun and runc come from Debian 12's packages, fetched
//! like the kernel and busybox (`apt-get download`, no root). They are
//! dynamically linked, so the libraries they load come along: the programs'
//! `DT_NEEDED` entries, followed library by library ([`crate::dynlink`]),
//! select them from the unpacked packages. With the loader that is about
//! 55 MB, too much for every grading initramfs (each boot would unpack and
//! copy it): the capstone's files go on an ext4 disk image instead
//! (`mkfs.ext4 -d DIR`, no root needed), attached read-only as a virtio
//! block device to the guests that ask for this profile, and mounted by
//! `capstone/setup.sh` before their command runs.
//!
//! The disk also holds an image for podman, `localhost/busybox`, imported
//! from the guest's busybox once, when the disk is built (a boot that runs
//! `capstone/prepare.sh`): importing it at every boot would cost seconds
//! under emulation. The guest reads it as an additional, read-only image
//! store, and keeps everything else podman writes on its tmpfs.
//!
//! ```no_run
//! use std::time::Duration;
//! use greenroom_vm::{boot, capstone, choose_accel, default_cache_dir, ensure_assets, BootRequest};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = default_cache_dir();
//! let mut progress = |line: &str| eprintln!("{line}");
//! let assets = ensure_assets(&cache, None, &mut progress)?;
//! let accel = choose_accel(&cache, &assets, None, &mut progress)?;
//! let profile = capstone::ensure_capstone(&cache, &assets, accel, &mut progress)?;
//! let mut request = BootRequest {
//!     assets: &assets,
//!     cache: &cache,
//!     files: Vec::new(),
//!     command: vec!["podman".into(), "run".into(), "--rm".into(), "localhost/busybox".into(), "true".into()],
//!     env: Vec::new(),
//!     deadline: Duration::from_secs(120),
//!     log_path: cache.join("capstone.log"),
//!     accel,
//!     memory_mib: 512,
//!     disks: Vec::new(),
//! };
//! profile.apply(&mut request);
//! let outcome = boot(&request)?;
//! # Ok(())
//! # }
//! ```

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::accel::Accel;
use crate::apt::Apt;
use crate::arch::Arch;
use crate::assets::{self, create_dir, download_and_unpack, rename, run, scratch_dir, AssetError, Assets};
use crate::boot::{self, BootError, BootRequest, Disk, DiskAccess, Verdict};
use crate::dynlink::{self, DynlinkError};
use crate::initramfs::{FileSource, GuestFile};
use crate::modinfo;

/// The packages the disk's files come from: the programs', then those of
/// the libraries they load, found by following their `DT_NEEDED` entries
/// (`readelf -d`) through Debian 12's packages, library by library. Each
/// build checks the list still covers every library.
pub const PACKAGES: &[&str] = &[
    "podman",
    "conmon",
    "crun",
    "runc",
    "uidmap",
    "libc6",
    "libassuan0",
    "libaudit1",
    "libbz2-1.0",
    "libcap-ng0",
    "libcap2",
    "libcrypt1",
    "libdevmapper1.02.1",
    "libgcrypt20",
    "libglib2.0-0",
    "libgpg-error0",
    "libgpgme11",
    "liblz4-1",
    "liblzma5",
    "libpam0g",
    "libpcre2-8-0",
    "libseccomp2",
    "libselinux1",
    "libsemanage2",
    "libsepol2",
    "libsubid4",
    "libsystemd0",
    "libudev1",
    "libyajl2",
    "libzstd1",
];

/// The podman release [`PACKAGES`] was made for (Debian 12's): elsewhere
/// the packages come from Debian bookworm's archive (see [`Apt::for_version`]).
pub const PODMAN_VERSION: &str = "4.3.1";

/// A program whose libraries the disk holds.
struct Program {
    /// Its path in the unpacked packages.
    in_package: &'static str,
    /// Where it goes on the disk, if it goes there at all.
    on_disk: Option<&'static str>,
}

/// The capstone's programs, all in the guest's `/usr/bin`, and the guest's
/// own dynamically linked helpers (`newuidmap`, `newgidmap` come with the
/// rootless tests, see [`crate::rootless`]): the disk's library folder
/// replaces the guest's, so it must hold their libraries too.
const PROGRAMS: [Program; 6] = [
    Program { in_package: "usr/bin/podman", on_disk: Some("usr/bin/podman") },
    Program { in_package: "usr/bin/conmon", on_disk: Some("usr/bin/conmon") },
    Program { in_package: "usr/bin/crun", on_disk: Some("usr/bin/crun") },
    Program { in_package: "usr/sbin/runc", on_disk: Some("usr/bin/runc") },
    Program { in_package: "usr/bin/newuidmap", on_disk: None },
    Program { in_package: "usr/bin/newgidmap", on_disk: None },
];

/// Where the loader looks for libraries without a cache file, in its order;
/// the disk keeps them all in the first.
fn library_dirs() -> [String; 2] {
    let triplet = Arch::guest().multiarch();
    [format!("lib/{triplet}"), format!("usr/lib/{triplet}")]
}

/// A script of the guest's with the architecture's library folder and
/// loader filled in (`@MULTIARCH@`, `@LOADER@`, `@LOADER_PATH@`).
fn for_this_arch(script: &str) -> Vec<u8> {
    let arch = Arch::guest();
    let (loader, loader_path) = arch.loader();
    script
        .replace("@MULTIARCH@", arch.multiarch())
        .replace("@LOADER_PATH@", loader_path)
        .replace("@LOADER@", loader)
        .into_bytes()
}

/// The kernel module that reads the disk, a module in Debian's cloud kernel.
const BLOCK_MODULE: &str = "virtio_blk";

/// The guest's setup script, run before the command (see its comments).
pub const SETUP_SCRIPT: &str = include_str!("capstone/setup.sh");
/// The script of the boot that prepares the disk, once.
pub const PREPARE_SCRIPT: &str = include_str!("capstone/prepare.sh");
/// podman's configuration in the guest: `/etc/containers/NAME`, `TEXT`.
pub const CONTAINERS_CONFIG: [(&str, &str); 4] = [
    ("containers.conf", include_str!("capstone/containers.conf")),
    ("storage.conf", include_str!("capstone/storage.conf")),
    ("registries.conf", include_str!("capstone/registries.conf")),
    ("policy.json", include_str!("capstone/policy.json")),
];
/// The image imported into the disk's store.
pub const IMAGE: &str = "localhost/busybox";

/// Where the setup script goes in the guest.
const SETUP_IN_GUEST: &str = "/greenroom/capstone/setup.sh";
/// Where the prepare script goes in the guest.
const PREPARE_IN_GUEST: &str = "/greenroom/capstone/prepare.sh";
/// Bump when the disk's layout changes, to build it again.
const DISK_FORMAT: u32 = 1;
/// Room left on the disk beyond its files, for the image store.
const DISK_HEADROOM: u64 = 48 << 20;
/// Time allowed for the boot that prepares the disk (an import under TCG
/// on a busy machine takes ten seconds or so).
const PREPARE_DEADLINE: Duration = Duration::from_secs(300);
/// Guest memory for the boot that prepares the disk.
const PREPARE_MEMORY_MIB: u32 = 512;
/// What the user can do when a download fails.
const DOWNLOAD_HINT: &str = "run `sudo apt-get update`; chapter 7 needs Debian's podman, conmon, crun and runc";

/// Why the capstone's guest could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CapstoneError {
    /// Fetching or unpacking a package failed.
    #[error(transparent)]
    Download(#[from] AssetError),
    /// A library the programs load is in none of [`PACKAGES`].
    #[error("the capstone's programs need a library its package list lacks: {0} — add its package to PACKAGES in vm/src/capstone.rs")]
    Libraries(#[from] DynlinkError),
    /// A file of the disk could not be written.
    #[error("could not write {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `mkfs.ext4` failed or is missing.
    #[error("could not build the capstone's disk image with `mkfs.ext4 -d`: {0} — sudo apt-get install e2fsprogs")]
    Mkfs(String),
    /// The boot that prepares the disk could not run.
    #[error("could not boot the guest to prepare the capstone's disk: {0}")]
    Boot(#[from] BootError),
    /// The boot that prepares the disk ran, but failed.
    #[error("preparing the capstone's disk in the guest failed ({verdict:?}): see {log}")]
    Prepare {
        /// How the boot ended.
        verdict: Verdict,
        /// Its console log.
        log: PathBuf,
    },
    /// The kernel is not one whose modules we can fetch.
    #[error("cannot tell which package the kernel {0} came from, to fetch its virtio_blk module — pass no --kernel, or one with virtio_blk built in")]
    UnknownKernel(PathBuf),
}

/// The capstone's profile, ready to add to a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capstone {
    /// The disk image: programs, libraries and the image store.
    pub disk: PathBuf,
    /// Kernel modules the guest loads before it can read the disk, in order.
    pub modules: Vec<PathBuf>,
}

impl Capstone {
    /// Adds the profile to a boot: the disk (read-only), the setup script,
    /// the modules and podman's configuration; and runs `request.command`
    /// after the setup script.
    pub fn apply(&self, request: &mut BootRequest<'_>) {
        // Disks are /dev/vda, /dev/vdb, … in the order they are attached.
        let device = format!("/dev/vd{}", char::from(b'a' + request.disks.len() as u8));
        request.disks.push(Disk { path: self.disk.clone(), access: DiskAccess::ReadOnly });
        request.files.extend(self.guest_files());
        let mut command = vec!["sh".to_string(), SETUP_IN_GUEST.to_string(), device];
        command.append(&mut request.command);
        request.command = command;
    }

    /// The per-run files of the profile.
    fn guest_files(&self) -> Vec<GuestFile> {
        let text = |guest_path: String, text: &str, mode| GuestFile {
            guest_path,
            source: FileSource::Bytes(text.as_bytes().to_vec()),
            mode,
        };
        let setup = GuestFile {
            guest_path: SETUP_IN_GUEST.into(),
            source: FileSource::Bytes(for_this_arch(SETUP_SCRIPT)),
            mode: 0o755,
        };
        let mut files = vec![setup];
        for (name, config) in CONTAINERS_CONFIG {
            files.push(text(format!("/etc/containers/{name}"), config, 0o644));
        }
        for module in &self.modules {
            let name = module.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            files.push(GuestFile {
                guest_path: format!("/greenroom/capstone/modules/{name}"),
                source: FileSource::Path(module.clone()),
                mode: 0o644,
            });
        }
        files
    }
}

/// Returns the capstone's profile for guests of `assets`, building its disk
/// in `cache/capstone` on first use: downloads, `mkfs.ext4`, and one boot
/// (under `accel`) to import the image. Later calls find it by the hash of
/// what it is made of.
pub fn ensure_capstone(
    cache: &Path,
    assets: &Assets,
    accel: Accel,
    progress: &mut dyn FnMut(&str),
) -> Result<Capstone, CapstoneError> {
    let dir = cache.join("capstone");
    create_dir(&dir)?;
    let modules = ensure_modules(cache, assets, progress)?;
    let busybox = std::fs::read(&assets.busybox).map_err(io_err(&assets.busybox))?;
    let disk = dir.join(format!("disk-{:016x}.ext4", disk_key(&busybox)));
    let profile = Capstone { disk: disk.clone(), modules };
    if disk.is_file() {
        return Ok(profile);
    }
    let tree = ensure_tree(cache, progress)?;
    progress("building the capstone's disk image (mkfs.ext4, then a boot to import localhost/busybox)");
    let unfinished = dir.join(format!("building-{}.ext4", std::process::id()));
    make_ext4(&tree, &unfinished)?;
    let prepared = prepare(cache, assets, accel, &profile, &unfinished);
    if let Err(e) = prepared {
        // Best effort: a leftover half-built disk is only wasted space.
        let _ = std::fs::remove_file(&unfinished);
        return Err(e);
    }
    rename(&unfinished, &disk)?;
    remove_other_disks(&dir, &disk);
    Ok(profile)
}

/// A hash of everything the disk is made of that we control: the package
/// and program lists, the prepare script, and busybox (the image's content).
/// The packages themselves are fetched once and kept, like the kernel:
/// delete `cache/capstone` to fetch newer ones.
fn disk_key(busybox: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    (DISK_FORMAT, tree_key(), PREPARE_SCRIPT, busybox).hash(&mut hasher);
    hasher.finish()
}

/// A hash of what the unpacked files are chosen by.
fn tree_key() -> u64 {
    let mut hasher = DefaultHasher::new();
    PACKAGES.hash(&mut hasher);
    for program in &PROGRAMS {
        (program.in_package, program.on_disk).hash(&mut hasher);
    }
    library_dirs().hash(&mut hasher);
    hasher.finish()
}

/// Returns the folder of the disk's files (programs, libraries, an empty
/// `storage`), downloading and unpacking the packages first if needed.
fn ensure_tree(cache: &Path, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, CapstoneError> {
    let tree = cache.join("capstone").join(format!("tree-{:016x}", tree_key()));
    if tree.is_dir() {
        return Ok(tree);
    }
    let apt = Apt::for_version(cache, PACKAGES[0], PODMAN_VERSION, progress).map_err(AssetError::from)?;
    progress(&format!("downloading podman, conmon, crun, runc and their libraries ({} packages)", PACKAGES.len()));
    let work = scratch_dir(cache)?;
    let debs = work.0.join("debs");
    create_dir(&debs)?;
    run(apt.command("apt-get").args(["download", "-q"]).args(PACKAGES).current_dir(&debs)).map_err(|detail| {
        AssetError::Download {
            what: "the capstone's packages",
            command: format!("apt-get download {}", PACKAGES.join(" ")),
            detail,
            hint: DOWNLOAD_HINT,
        }
    })?;
    let unpacked = work.0.join("unpacked");
    for deb in std::fs::read_dir(&debs).map_err(io_err(&debs))?.flatten() {
        run(Command::new("dpkg-deb").arg("-x").arg(deb.path()).arg(&unpacked))
            .map_err(|detail| AssetError::Unpack { deb: deb.path(), detail })?;
    }

    let staging = work.0.join("tree");
    let library_dirs = library_dirs();
    let libraries = staging.join(&library_dirs[0]);
    for dir in [staging.join("usr/bin"), staging.join("storage"), libraries.clone()] {
        create_dir(&dir)?;
    }
    let programs: Vec<PathBuf> = PROGRAMS.iter().map(|p| unpacked.join(p.in_package)).collect();
    for (program, from) in PROGRAMS.iter().zip(&programs) {
        if let Some(on_disk) = program.on_disk {
            copy(from, &staging.join(on_disk))?;
        }
    }
    let search: Vec<PathBuf> = library_dirs.iter().map(|dir| unpacked.join(dir)).collect();
    let found = dynlink::closure(&programs, &search)?;
    let (loader, _) = Arch::guest().loader();
    if !found.contains_key(loader) {
        return Err(AssetError::Layout(format!("libc6 did not bring the loader {loader}")).into());
    }
    for (soname, file) in &found {
        // A soname is usually a link to the versioned file: copy follows it.
        copy(file, &libraries.join(soname))?;
    }
    rename_unless_done(&staging, &tree)?;
    Ok(tree)
}

/// The modules the guest needs to read the disk that it does not load
/// already: `virtio_blk` (its dependencies, virtio and virtio_ring, are
/// among [`assets::GUEST_MODULES`]). Fetched from the kernel's package and
/// kept in `cache/capstone/modules-PACKAGE`. None with a `--kernel` of the
/// user's, which must have the driver built in.
fn ensure_modules(
    cache: &Path,
    assets: &Assets,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<PathBuf>, CapstoneError> {
    if assets.modules.is_empty() {
        return Ok(Vec::new());
    }
    // The cached kernel lives in a folder named after its package.
    let package = assets
        .kernel
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.starts_with("linux-image-"))
        .ok_or_else(|| CapstoneError::UnknownKernel(assets.kernel.clone()))?;
    let dir = cache.join("capstone").join(format!("modules-{package}"));
    if let Some(modules) = list_modules(&dir) {
        return Ok(modules);
    }
    let apt = Apt::for_package(cache, &package, progress).map_err(AssetError::from)?;
    progress(&format!("downloading {package} again, for its {BLOCK_MODULE} module (chapter 7's disk)"));
    let work = scratch_dir(cache)?;
    let tree = download_and_unpack(&apt, &work.0, &package, "the virtio_blk module", DOWNLOAD_HINT)?;
    let modules_dir = assets::only_entry(&tree.join("lib/modules"), "")?;
    let order = modinfo::load_order(&modules_dir, &[BLOCK_MODULE], &[]).map_err(AssetError::from)?;
    let staging = work.0.join("keep");
    create_dir(&staging)?;
    let loaded: Vec<String> = assets::GUEST_MODULES.iter().map(|m| modinfo::normalize(m)).collect();
    let mut kept = 0;
    for module in order {
        let name = module.file_stem().map(|n| modinfo::normalize(&n.to_string_lossy())).unwrap_or_default();
        if loaded.contains(&name) {
            continue;
        }
        kept += 1;
        // A numeric prefix keeps the load order in the guest's glob.
        rename(&module, &staging.join(format!("{kept:02}-{name}.ko")))?;
    }
    rename_unless_done(&staging, &dir)?;
    list_modules(&dir).ok_or_else(|| AssetError::Layout(format!("no modules in {}", dir.display())).into())
}

/// The `.ko` files of `dir` in name order, or `None` if it does not exist.
fn list_modules(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut modules: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ko"))
        .collect();
    modules.sort();
    (!modules.is_empty()).then_some(modules)
}

/// The program that builds the capstone's disk.
pub const MKFS: &str = "mkfs.ext4";

/// Where [`MKFS`] lives, searched after `PATH`: a user's `PATH` often
/// lacks the administrators' folders.
pub const ADMIN_DIRS: [&str; 2] = ["/usr/sbin", "/sbin"];

/// Whether `name` is the file name of a capstone disk (`disk-HASH.ext4`).
fn is_disk_name(name: &str) -> bool {
    name.starts_with("disk-") && name.ends_with(".ext4")
}

/// Whether a capstone disk has been built in `cache` (for one busybox or
/// another: the first chapter 7 grading then needs no `mkfs.ext4`).
pub fn disk_built(cache: &Path) -> bool {
    let mut entries = std::fs::read_dir(cache.join("capstone")).into_iter().flatten().flatten();
    entries.any(|entry| is_disk_name(&entry.file_name().to_string_lossy()))
}

/// Builds an ext4 image of `tree` at `image`, sized to fit it with room for
/// the image store. No journal: the disk is written once, by one guest, and
/// read-only ever after.
fn make_ext4(tree: &Path, image: &Path) -> Result<(), CapstoneError> {
    let size = tree_size(tree) + DISK_HEADROOM;
    let file = std::fs::File::create(image).map_err(io_err(image))?;
    // A sparse file: the unused room costs no disk space.
    file.set_len(size).map_err(io_err(image))?;
    let mut mkfs = Command::new(MKFS);
    mkfs.args(["-q", "-F", "-O", "^has_journal", "-E", "root_owner=0:0", "-L", "greenroom-cap", "-d"]);
    mkfs.arg(tree).arg(image);
    let path = std::env::var("PATH").unwrap_or_default();
    mkfs.env("PATH", format!("{path}:{}", ADMIN_DIRS.join(":")));
    run(&mut mkfs).map(drop).map_err(CapstoneError::Mkfs)
}

/// The total size of the files under `dir`.
fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Boots the guest with the new disk writable to import the image into it.
fn prepare(cache: &Path, assets: &Assets, accel: Accel, profile: &Capstone, disk: &Path) -> Result<(), CapstoneError> {
    let log = cache.join("capstone").join("prepare.log");
    let script = GuestFile {
        guest_path: PREPARE_IN_GUEST.into(),
        source: FileSource::Bytes(for_this_arch(PREPARE_SCRIPT)),
        mode: 0o755,
    };
    let mut request = BootRequest {
        assets,
        cache,
        files: vec![script],
        command: vec!["sh".into(), PREPARE_IN_GUEST.into()],
        env: vec![("GREENROOM_CAPSTONE_MOUNT".into(), "rw".into())],
        deadline: PREPARE_DEADLINE,
        log_path: log.clone(),
        accel,
        memory_mib: PREPARE_MEMORY_MIB,
        disks: Vec::new(),
    };
    Capstone { disk: disk.to_owned(), modules: profile.modules.clone() }.apply(&mut request);
    request.disks[0].access = DiskAccess::Write;
    let outcome = boot::boot(&request)?;
    match outcome.verdict {
        Verdict::Completed { exit_code: 0 } => Ok(()),
        verdict => Err(CapstoneError::Prepare { verdict, log }),
    }
}

/// Removes the disks of earlier recipes (best effort: a guest still using
/// one keeps its open file).
fn remove_other_disks(dir: &Path, keep: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_disk_name(&name) && path != keep {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Renames a finished folder into place, unless another run did first.
fn rename_unless_done(staging: &Path, done: &Path) -> Result<(), CapstoneError> {
    match std::fs::rename(staging, done) {
        Err(_) if done.is_dir() => Ok(()),
        result => result.map_err(io_err(done)),
    }
}

fn copy(from: &Path, to: &Path) -> Result<(), CapstoneError> {
    std::fs::copy(from, to).map(drop).map_err(io_err(to))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CapstoneError + '_ {
    move |source| CapstoneError::Io { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(assets: &'a Assets, cache: &'a Path) -> BootRequest<'a> {
        BootRequest {
            assets,
            cache,
            files: Vec::new(),
            command: vec!["podman".into(), "ps".into()],
            env: Vec::new(),
            deadline: Duration::from_secs(1),
            log_path: cache.join("log"),
            accel: Accel::Tcg,
            memory_mib: 512,
            disks: Vec::new(),
        }
    }

    #[test]
    fn the_profile_adds_its_disk_files_and_setup() {
        let assets = Assets { kernel: "/k".into(), modules: Vec::new(), busybox: "/b".into() };
        let profile =
            Capstone { disk: "/cache/capstone/disk-1.ext4".into(), modules: vec!["/m/01-virtio_blk.ko".into()] };
        let mut req = request(&assets, Path::new("/cache"));
        req.disks.push(Disk { path: "/other.img".into(), access: DiskAccess::Write });
        profile.apply(&mut req);
        assert_eq!(req.command, ["sh", SETUP_IN_GUEST, "/dev/vdb", "podman", "ps"], "the second disk is vdb");
        assert_eq!(req.disks[1], Disk { path: profile.disk.clone(), access: DiskAccess::ReadOnly });
        let paths: Vec<&str> = req.files.iter().map(|f| f.guest_path.as_str()).collect();
        for expected in [SETUP_IN_GUEST, "/etc/containers/storage.conf", "/greenroom/capstone/modules/01-virtio_blk.ko"]
        {
            assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
        }
    }

    #[test]
    fn the_configuration_fits_a_guest_without_systemd_or_network() {
        let config = |name| CONTAINERS_CONFIG.iter().find(|(n, _)| *n == name).unwrap().1;
        let containers = config("containers.conf");
        for line in ["cgroup_manager = \"cgroupfs\"", "events_logger = \"file\"", "netns = \"none\""] {
            assert!(containers.contains(line), "containers.conf lacks {line}");
        }
        assert!(config("storage.conf").contains("additionalimagestores = [\"/capstone/storage\"]"));
        assert!(
            PREPARE_SCRIPT.contains("graphroot = \"/capstone/storage\""),
            "prepare writes the store the guests read"
        );
        assert!(PREPARE_SCRIPT.contains(IMAGE));
    }

    #[test]
    fn the_disk_key_follows_its_inputs() {
        assert_eq!(disk_key(b"busybox"), disk_key(b"busybox"));
        assert_ne!(disk_key(b"busybox"), disk_key(b"another busybox"));
    }

    #[test]
    fn modules_are_listed_in_load_order() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(list_modules(&dir.path().join("missing")), None);
        for name in ["02-b.ko", "01-a.ko", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(list_modules(dir.path()).unwrap(), [dir.path().join("01-a.ko"), dir.path().join("02-b.ko")]);
    }
}
