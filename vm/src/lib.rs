//! The throwaway virtual machine in which the checker runs privileged tests.
//!
//! A learner's container runtime needs root: it creates namespaces, mounts
//! filesystems, adds network interfaces and cgroups. Rather than run that
//! code on the learner's machine, the checker boots a tiny Linux guest in
//! QEMU, runs the tests there as root, reads the results, and throws the
//! guest away. A boot takes about two seconds even without KVM.
//!
//! The guest is a Debian cloud kernel and a busybox initramfs, nothing else:
//!
//! ```no_run
//! use std::time::Duration;
//! use greenroom_vm::{boot, choose_accel, default_cache_dir, ensure_assets, BootRequest, Verdict};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = default_cache_dir();
//! let mut progress = |line: &str| eprintln!("{line}");
//! let assets = ensure_assets(&cache, None, &mut progress)?;
//! let accel = choose_accel(&cache, &assets, None, &mut progress)?;
//! let outcome = boot(&BootRequest {
//!     assets: &assets,
//!     cache: &cache,
//!     files: Vec::new(),
//!     command: vec!["sh".into(), "-c".into(), "hostname > $GREENROOM_RESULTS".into()],
//!     env: Vec::new(),
//!     deadline: Duration::from_secs(30),
//!     log_path: cache.join("console.log"),
//!     accel,
//!     memory_mib: 512,
//!     disks: Vec::new(),
//! })?;
//! assert_eq!(outcome.verdict, Verdict::Completed { exit_code: 0 });
//! assert_eq!(outcome.lines, ["greenroom-guest"]);
//! # Ok(())
//! # }
//! ```
//!
//! The modules, in the order a boot uses them: [`assets`] fetches the
//! kernel and busybox, [`modinfo`] orders the kernel modules, [`vmlinux`]
//! unpacks the kernel, [`cpio`] and [`initramfs`] build the root filesystem
//! (its `/init` is `src/init.sh`), [`accel`] picks KVM or TCG, [`qemu`]
//! starts QEMU and [`boot`](mod@boot) ties it all together. A [`Guest`]
//! is the same boot kept up, its command talking with the host over the
//! results port both ways (`checker watch` grades in one after each save);
//! [`Guest::start_on_terminal`] boots one whose console is the caller's
//! terminal (`checker shell`).
//!
//! Chapter 7 boots a larger guest: [`capstone`] adds podman, conmon, crun
//! and runc on a disk image of their own (their libraries found by
//! [`dynlink`]), so that the other chapters' guests stay small.

pub mod accel;
pub mod apt;
pub mod arch;
pub mod assets;
pub mod boot;
pub mod capstone;
pub mod cpio;
pub mod dynlink;
pub mod initramfs;
pub mod modinfo;
pub mod qemu;
pub mod rootless;
pub mod vmlinux;

use std::path::PathBuf;

pub use accel::{choose_accel, Accel};
pub use arch::Arch;
pub use assets::{ensure_assets, AssetError, Assets};
pub use boot::{boot, BootError, BootOutcome, BootRequest, Disk, DiskAccess, Guest, Verdict};
pub use initramfs::{FileSource, GuestFile};
pub use qemu::find_qemu;

/// Where downloads and built images are kept: `$GREENROOM_CACHE`, else
/// `$XDG_CACHE_HOME/greenroom`, else `~/.cache/greenroom`. A guest of
/// another architecture than the machine's (see [`Arch::guest`]) keeps its
/// own kernel, busybox and images in a folder of that name inside it.
pub fn default_cache_dir() -> PathBuf {
    let arch = Arch::guest();
    let base = base_cache_dir();
    if arch.is_host() {
        base
    } else {
        base.join(arch.to_string())
    }
}

fn base_cache_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("GREENROOM_CACHE") {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("greenroom");
    }
    // Without a home directory, a cache in the temporary directory still works.
    let home = var("HOME").unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("greenroom")
}
