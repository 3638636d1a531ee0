//! The checks for the VM grading runs in: QEMU, the guest's kernel and
//! busybox, and KVM.
//!
//! What the `vm` crate keeps in its cache and which packages it fetches
//! are its own business, so doctor asks it: [`assets::cached_kernel`] reads
//! the kernel manifest, [`accel::cached_verdict`] the last KVM verdict.
//! Only the machine's paths (`PATH`, `/dev/kvm`, the cache) come from
//! [`Machine`], so that tests can fake them.

use std::fs::File;
use std::path::Path;

use greenroom_vm::accel::{self, ACCEL_VARIABLE, KVM_API_VERSION, PROBE_DEADLINE, VERDICT_FILES};
use greenroom_vm::assets::{self, BUSYBOX_PACKAGE, FETCH_TOOLS};
use greenroom_vm::capstone;
use greenroom_vm::{Accel, Arch};

use super::machine::{output, Machine};
use super::report::Check;

/// Is QEMU on `PATH`, does it run, and is it recent enough?
pub(super) fn qemu(m: &Machine) -> Check {
    const NAME: &str = "QEMU";
    let arch = Arch::guest();
    let (program, package) = (arch.qemu(), arch.qemu_package());
    let Some(qemu) = m.which(program) else {
        return Check::fail(NAME, format!("{program} is not on PATH"), format!("sudo apt-get install {package}"));
    };
    let text = match output(&qemu, &["--version"]) {
        Ok(text) => text,
        Err(why) => {
            let found = format!("{} does not run: {why}", qemu.display());
            return Check::fail(NAME, found, format!("sudo apt-get install --reinstall {package}"));
        }
    };
    let version = text.lines().next().unwrap_or("").trim_start_matches("QEMU emulator version ").to_owned();
    let found = format!("{version} at {}", qemu.display());
    match version.split('.').next().and_then(|major| major.parse::<u32>().ok()) {
        Some(major) if major < 6 => Check::warn(
            NAME,
            format!("{found}: older than QEMU 6, which may refuse the microvm options greenroom uses"),
            "upgrade QEMU (greenroom is tested with 7.2, Debian 12's)",
        ),
        _ => Check::ok(NAME, found),
    }
}

/// Are the guest's kernel and busybox cached, or can the first run fetch them?
pub(super) fn guest_files(m: &Machine) -> Check {
    const NAME: &str = "guest kernel";
    let kernel = assets::cached_kernel(&m.cache).map(|(kernel, modules)| (kernel, modules.len()));
    let busybox_path = assets::busybox_path(&m.cache);
    let busybox = busybox_path.is_file();
    if let (Some((kernel, modules)), true) = (&kernel, busybox) {
        let plural = if *modules == 1 { "" } else { "s" };
        let found = format!("{} with {modules} module{plural}, and busybox, cached", kernel.display());
        return Check::ok(NAME, found);
    }
    let fallback = format!(
        "grade in the Vagrant box (vm/Vagrantfile), or pass --kernel PATH and copy a static busybox to {}",
        busybox_path.display()
    );
    for tool in FETCH_TOOLS {
        if m.which(tool).is_none() {
            return Check::fail(NAME, format!("not cached yet, and there is no {tool} to fetch it with"), fallback);
        }
    }
    let mut packages = Vec::new();
    if kernel.is_none() {
        match kernel_package(m) {
            Ok(package) => packages.push(package),
            Err(why) => {
                let meta = assets::kernel_meta();
                let found = format!("not cached yet, and apt cannot name the {meta} package: {why}");
                return Check::fail(NAME, found, format!("on Debian: sudo apt-get update; elsewhere: {fallback}"));
            }
        }
    }
    if !busybox {
        packages.push(BUSYBOX_PACKAGE.to_owned());
    }
    let found = format!(
        "not cached yet: will be fetched on first run (needs apt-get download {} into {}, network, no root)",
        packages.join(" "),
        m.cache.display()
    );
    Check::ok(NAME, found)
}

/// Asks apt (locally, from its package lists) which kernel package the
/// first run would download, read as `greenroom_vm::assets` reads it.
fn kernel_package(m: &Machine) -> Result<String, String> {
    let apt_cache = m.which("apt-cache").ok_or("no apt-cache")?;
    let meta = assets::kernel_meta();
    let text = output(&apt_cache, &["depends", &meta])?;
    assets::versioned_kernel_package(&text).ok_or_else(|| format!("{meta} depends on no linux-image package"))
}

/// Will the VM run under KVM, and if not, why not and does it matter?
pub(super) fn kvm(m: &Machine) -> Check {
    const NAME: &str = "KVM";
    let usable = kvm_usable(m);
    if let Some(forced) = &m.accel_override {
        return match (forced.parse::<Accel>(), usable) {
            (Ok(Accel::Kvm), Err((why, _))) => Check::fail(
                NAME,
                format!("{ACCEL_VARIABLE}={forced} forces KVM, but {why}"),
                format!("unset {ACCEL_VARIABLE}: the checker then falls back to TCG by itself"),
            ),
            (Ok(accel), _) => Check::ok(NAME, format!("{ACCEL_VARIABLE}={forced} forces {accel}, without a test boot")),
            (Err(_), _) => Check::fail(
                NAME,
                format!("{ACCEL_VARIABLE}={forced:?} is neither kvm nor tcg"),
                format!("unset {ACCEL_VARIABLE}, or set it to kvm or tcg"),
            ),
        };
    }
    if let Err((why, fix)) = usable {
        return Check::warn(NAME, format!("{why}: the VM runs under TCG emulation instead (slower, works)"), fix);
    }
    let dev = m.dev_kvm.display();
    match accel::cached_verdict(&m.cache) {
        Some(Accel::Kvm) => Check::ok(NAME, format!("{dev} works: the last test boot under KVM completed")),
        Some(Accel::Tcg) => Check::warn(
            NAME,
            format!(
                "{dev} answers, but the test boot under it did not finish in {} s: the checker uses TCG",
                PROBE_DEADLINE.as_secs()
            ),
            format!(
                "nothing needed; to test KVM again delete {}/{VERDICT_FILES}, or force it with {ACCEL_VARIABLE}=kvm",
                m.cache.display()
            ),
        ),
        None => Check::ok(
            NAME,
            format!("{dev} answers; the first run test-boots under it once and falls back to TCG if that hangs"),
        ),
    }
}

/// Opens `/dev/kvm` and asks its API version: `Err((why not, fix))`.
fn kvm_usable(m: &Machine) -> Result<(), (String, String)> {
    let dev = m.dev_kvm.display();
    let kvm = File::options().read(true).write(true).open(&m.dev_kvm).map_err(|e| kvm_open_problem(&m.dev_kvm, &e))?;
    match (m.kvm_api)(&kvm) {
        Ok(KVM_API_VERSION) => Ok(()),
        Ok(other) => Err((format!("{dev} reports KVM API {other}, not {KVM_API_VERSION}"), KVM_HARDWARE_FIX.into())),
        Err(errno) => Err((format!("{dev} does not answer like KVM ({errno})"), KVM_HARDWARE_FIX.into())),
    }
}

/// What to do about a machine without a working KVM.
const KVM_HARDWARE_FIX: &str =
    "optional, for speed: enable VT-x/AMD-V in the firmware, or nested virtualisation in your hypervisor";

/// Why `/dev/kvm` did not open, and what to do about it.
pub(super) fn kvm_open_problem(dev: &Path, error: &std::io::Error) -> (String, String) {
    let dev = dev.display();
    match error.kind() {
        std::io::ErrorKind::NotFound => (format!("no {dev}"), KVM_HARDWARE_FIX.into()),
        std::io::ErrorKind::PermissionDenied => (
            format!("{dev} is not readable and writable by you"),
            "sudo usermod -aG kvm \"$USER\", then log out and in again".into(),
        ),
        _ => (format!("cannot open {dev}: {error}"), KVM_HARDWARE_FIX.into()),
    }
}

/// Can chapter 7's guest disk be built (`mkfs.ext4`), or is it built
/// already? Only chapter 7 needs it, so a missing one is a warning.
pub(super) fn capstone_disk(m: &Machine) -> Check {
    const NAME: &str = "capstone disk";
    if capstone::disk_built(&m.cache) {
        return Check::ok(NAME, format!("built, in {}", m.cache.join("capstone").display()));
    }
    let mkfs = m
        .which(capstone::MKFS)
        .or_else(|| m.admin_dirs.iter().map(|dir| dir.join(capstone::MKFS)).find(|candidate| candidate.is_file()));
    match mkfs {
        Some(mkfs) => Check::ok(NAME, format!("built on first use of chapter 7, with {}", mkfs.display())),
        None => Check::warn(
            NAME,
            "mkfs.ext4 is missing: chapter 7's guest disk (podman, conmon, crun, runc) cannot be built",
            "sudo apt-get install e2fsprogs",
        ),
    }
}
