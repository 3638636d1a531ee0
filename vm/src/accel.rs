//! Chooses how QEMU runs the guest's CPU: KVM (hardware virtualisation,
//! fast) or TCG (QEMU's own translator, slower but works everywhere).
//!
//! `/dev/kvm` existing is not enough. In nested setups (a VM inside a cloud
//! VM) it can exist, answer the API-version question, and still hang a
//! stock kernel forever. So the only trustworthy test is to boot the real
//! guest once with a short deadline. Its verdict is cached, keyed by what
//! could change it: the host kernel, the QEMU binary and the guest kernel.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::assets::Assets;
use crate::boot::{self, BootError, BootRequest, Verdict};
use crate::qemu;

/// How QEMU executes guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accel {
    /// The host kernel's hardware virtualisation (`-accel kvm -cpu host`).
    Kvm,
    /// QEMU's Tiny Code Generator, pure emulation (`-accel tcg -cpu max`).
    Tcg,
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

impl FromStr for Accel {
    type Err = BootError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            _ => Err(BootError::BadAccel(s.to_owned())),
        }
    }
}

/// The API version every KVM since Linux 2.6.22 reports.
pub const KVM_API_VERSION: i32 = 12;
/// How long the test boot under KVM may take. A working KVM boots the
/// guest in well under a second; a broken one hangs.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(8);
/// The environment variable that forces an accelerator, `kvm` or `tcg`.
pub const ACCEL_VARIABLE: &str = "GREENROOM_ACCEL";
/// The cached verdicts, as a shell pattern: deleting them makes the next
/// run test KVM again. Each is `accel-<key>.txt`, holding `kvm` or `tcg`.
pub const VERDICT_FILES: &str = "accel-*.txt";

nix::ioctl_write_int_bad!(
    /// `KVM_GET_API_VERSION`, which is `_IO(KVMIO, 0x00)` with `KVMIO = 0xAE`.
    /// Declared with an argument on purpose: KVM answers `EINVAL` unless the
    /// (unused) argument is 0, and `ioctl_none!` leaves it undefined.
    kvm_get_api_version,
    nix::request_code_none!(0xAE, 0x00)
);

/// Asks an open `/dev/kvm` for its API version (12 on every working KVM).
pub fn kvm_api_version(kvm: &File) -> nix::Result<i32> {
    // SAFETY: KVM_GET_API_VERSION reads no memory and only returns a
    // number; the descriptor is valid while `kvm` is borrowed.
    unsafe { kvm_get_api_version(kvm.as_raw_fd(), 0) }
}

/// Chooses the accelerator.
///
/// `forced`, then the environment variable `GREENROOM_ACCEL=kvm|tcg`, win.
/// Otherwise KVM is used if `/dev/kvm` answers and a test boot under it
/// completes within a few seconds; the answer is cached in `cache`, so only
/// the first call is slow. Anything else means TCG.
pub fn choose_accel(
    cache: &Path,
    assets: &Assets,
    forced: Option<Accel>,
    progress: &mut dyn FnMut(&str),
) -> Result<Accel, BootError> {
    if let Some(accel) = forced {
        return Ok(accel);
    }
    if let Some(value) = forced_by_environment() {
        return value.parse();
    }
    // KVM runs a guest of the machine's own architecture only.
    if !crate::Arch::guest().is_host() || !kvm_answers() {
        return Ok(Accel::Tcg);
    }
    let verdict_file = verdict_file(cache, verdict_key(assets));
    if let Some(cached) = std::fs::read_to_string(&verdict_file).ok().and_then(|t| t.parse().ok()) {
        return Ok(cached);
    }
    progress("checking whether KVM can boot the guest (once, at most 8 s)");
    let accel = if kvm_boots(cache, assets)? { Accel::Kvm } else { Accel::Tcg };
    progress(&format!("using {accel}; set {ACCEL_VARIABLE}=kvm|tcg to override"));
    std::fs::write(&verdict_file, accel.to_string()).map_err(|source| BootError::Io { path: verdict_file, source })?;
    Ok(accel)
}

/// The value of `GREENROOM_ACCEL`, unparsed, if it is set and not empty.
pub fn forced_by_environment() -> Option<String> {
    std::env::var(ACCEL_VARIABLE).ok().filter(|v| !v.is_empty())
}

/// The newest verdict cached in `cache`, as [`choose_accel`] left it.
///
/// Without the guest's files at hand the key of the current verdict cannot
/// be computed, but the newest file is the one the current host kernel,
/// QEMU and guest kernel wrote: older ones belong to what was upgraded since.
pub fn cached_verdict(cache: &Path) -> Option<Accel> {
    let (prefix, suffix) = VERDICT_FILES.split_once('*')?;
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix)))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .and_then(|(_, path)| std::fs::read_to_string(path).ok()?.parse().ok())
}

/// Where the verdict for `key` is cached: [`VERDICT_FILES`] with the key
/// in hexadecimal for the `*`.
fn verdict_file(cache: &Path, key: u64) -> PathBuf {
    cache.join(VERDICT_FILES.replace('*', &format!("{key:016x}")))
}

/// Does `/dev/kvm` open and report the stable API version?
fn kvm_answers() -> bool {
    let Ok(kvm) = File::options().read(true).write(true).open("/dev/kvm") else {
        return false;
    };
    kvm_api_version(&kvm) == Ok(KVM_API_VERSION)
}

/// Boots `true` under KVM and reports whether it completed in time.
fn kvm_boots(cache: &Path, assets: &Assets) -> Result<bool, BootError> {
    let request = BootRequest {
        assets,
        cache,
        files: Vec::new(),
        command: vec!["true".to_owned()],
        env: Vec::new(),
        deadline: PROBE_DEADLINE,
        log_path: cache.join("kvm-probe.log"),
        accel: Accel::Kvm,
        memory_mib: 512,
        disks: Vec::new(),
    };
    match boot::boot(&request) {
        Ok(outcome) => Ok(outcome.verdict == Verdict::Completed { exit_code: 0 }),
        // QEMU refusing `-accel kvm` is an answer too.
        Err(BootError::QemuFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Identifies everything the KVM verdict depends on. QEMU's version is
/// identified by its binary's size and modification time, which change with
/// every upgrade and cost no process spawn.
fn verdict_key(assets: &Assets) -> u64 {
    let mut hasher = DefaultHasher::new();
    std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().hash(&mut hasher);
    if let Ok(qemu) = qemu::find_qemu() {
        qemu.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(&qemu) {
            (meta.len(), meta.modified().ok()).hash(&mut hasher);
        }
    }
    assets.kernel.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!("KVM".parse::<Accel>().unwrap(), Accel::Kvm);
        assert_eq!(" tcg\n".parse::<Accel>().unwrap(), Accel::Tcg);
        assert!("hvf".parse::<Accel>().is_err());
        assert_eq!(Accel::Tcg.to_string(), "tcg");
    }

    #[test]
    fn forced_wins_without_probing() {
        let assets = Assets {
            kernel: "/nonexistent/vmlinux".into(),
            modules: Vec::new(),
            busybox: "/nonexistent/busybox".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let accel = choose_accel(dir.path(), &assets, Some(Accel::Tcg), &mut |_| panic!("no probe")).unwrap();
        assert_eq!(accel, Accel::Tcg);
    }

    #[test]
    fn the_newest_cached_verdict_is_the_one_read() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cached_verdict(dir.path()), None, "an empty cache has no verdict");
        assert_eq!(cached_verdict(&dir.path().join("missing")), None, "nor has a missing one");
        let old = verdict_file(dir.path(), 1);
        std::fs::write(&old, "kvm").unwrap();
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        File::options().write(true).open(&old).unwrap().set_modified(long_ago).unwrap();
        assert_eq!(cached_verdict(dir.path()), Some(Accel::Kvm));
        std::fs::write(verdict_file(dir.path(), 2), "tcg\n").unwrap();
        std::fs::write(dir.path().join("kernel.txt"), "kvm").unwrap();
        assert_eq!(
            cached_verdict(dir.path()),
            Some(Accel::Tcg),
            "the newer verdict wins, other files are not verdicts"
        );
    }

    #[test]
    fn verdict_files_match_their_pattern() {
        let file = verdict_file(Path::new("/cache"), 0x0123_4567_89ab_cdef);
        assert_eq!(file, Path::new("/cache/accel-0123456789abcdef.txt"));
    }
}
