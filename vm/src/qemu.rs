//! The QEMU command line, and a guard that makes sure no QEMU outlives us.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::accel::Accel;
use crate::arch::Arch;
use crate::boot::{BootError, Disk, DiskAccess};

/// The name the guest's `/init` looks for among the virtio-serial ports.
pub const RESULTS_PORT: &str = "greenroom.results";

/// The QEMU program the guest needs: `qemu-system-x86_64`, or
/// `qemu-system-aarch64` for an arm64 guest (see [`Arch::guest`]).
pub fn qemu_program() -> &'static str {
    Arch::guest().qemu()
}

/// Finds [`qemu_program`] on the `PATH`.
pub fn find_qemu() -> Result<PathBuf, BootError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let arch = Arch::guest();
    std::env::split_paths(&path)
        .map(|dir| dir.join(arch.qemu()))
        .find(|candidate| candidate.is_file())
        .ok_or(BootError::QemuMissing { program: arch.qemu(), package: arch.qemu_package() })
}

/// Where the guest's serial console goes.
#[derive(Debug, Clone, Copy)]
pub enum Console<'a> {
    /// To this file: the console log of a run.
    Log(&'a Path),
    /// To QEMU's stdin and stdout, which the caller's terminal is: an
    /// interactive session (`checker shell`).
    Terminal,
}

/// Everything the command line depends on.
#[derive(Debug)]
pub struct QemuConfig<'a> {
    /// The guest's architecture: which board and console.
    pub arch: Arch,
    /// The `qemu-system-x86_64` or `qemu-system-aarch64` binary.
    pub qemu: &'a Path,
    /// An ELF `vmlinux` (booted through its PVH entry point) or a `bzImage`;
    /// on arm64, the kernel's `Image`.
    pub kernel: &'a Path,
    /// The uncompressed initramfs.
    pub initrd: &'a Path,
    /// KVM or TCG.
    pub accel: Accel,
    /// Guest memory: 512 MiB leaves room for a large initramfs unpacked twice.
    pub memory_mib: u32,
    /// Where the serial console goes.
    pub console: Console<'a>,
    /// The Unix socket the host listens on for the results port.
    pub results_socket: &'a Path,
    /// The host's TSC frequency in kHz, if known (see [`host_tsc_khz`]).
    pub tsc_khz: Option<u64>,
    /// Disk images, attached in order (`/dev/vda`, `/dev/vdb`, …).
    pub disks: &'a [Disk],
}

impl QemuConfig<'_> {
    /// Returns QEMU's arguments.
    pub fn args(&self) -> Vec<OsString> {
        let (accel, cpu) = match (self.accel, self.arch) {
            (Accel::Kvm, _) => ("kvm", "host"),
            (Accel::Tcg, Arch::X86_64) => ("tcg", "max"),
            // Emulating `max`'s pointer authentication with the architected
            // QARMA algorithm costs a third of the boot; QEMU's own cheap
            // algorithm gives the same instructions.
            (Accel::Tcg, Arch::Aarch64) => ("tcg", "max,pauth-impdef=on"),
        };
        let mut args = Vec::new();
        match self.arch {
            // microvm: no PCI, no firmware, virtio over MMIO; the fastest x86
            // machine to boot. It keeps ACPI (without it `poweroff -f` does not
            // end QEMU) and the RTC (without it the kernel waits ~1.8 s).
            Arch::X86_64 => args.extend(words("-M microvm,x-option-roms=off,rtc=on,acpi=on")),
            // Arm's `virt` board has what microvm has on x86: virtio over
            // MMIO, no firmware needed for a `-kernel` boot, and PSCI, through
            // which `poweroff -f` ends QEMU. gic-version=max takes the
            // newest interrupt controller the accelerator offers.
            Arch::Aarch64 => args.extend(words("-M virt,gic-version=max")),
        }
        // Two vCPUs let the suite run tests side by side; under TCG each
        // vCPU is a host thread of its own (`thread=multi`).
        let accel = match self.accel {
            Accel::Tcg => format!("{accel},thread=multi"),
            Accel::Kvm => accel.to_string(),
        };
        args.extend(words(&format!("-accel {accel} -cpu {cpu} -smp {} -m {}", guest_cpus(), self.memory_mib)));
        args.extend(words("-nodefaults -no-user-config -no-reboot -display none"));
        args.extend(["-kernel".into(), self.kernel.into(), "-initrd".into(), self.initrd.into()]);
        args.extend(["-append".into(), self.cmdline().into()]);
        match self.console {
            // The serial console (ttyS0, ttyAMA0) goes to the log file.
            Console::Log(path) => args.extend(["-chardev".into(), path_option("file,id=console,path=", path)]),
            // The console is QEMU's own stdin and stdout. signal=off: Ctrl-C
            // reaches the guest's shell rather than stopping QEMU; mux=on
            // gives QEMU's escapes (Ctrl-A x quits) for a guest that hangs.
            Console::Terminal => args.extend(words("-chardev stdio,id=console,signal=off,mux=on")),
        }
        args.extend(words("-serial chardev:console"));
        // The results port: a virtio-serial port whose host end connects to
        // our socket, so we read what the guest writes as it writes it.
        args.extend(["-chardev".into(), path_option("socket,id=results,path=", self.results_socket)]);
        args.extend(words("-device virtio-serial-device"));
        args.extend(words(&format!("-device virtserialport,chardev=results,name={RESULTS_PORT}")));
        // Disks: virtio block devices on the MMIO bus, like the console.
        for (i, disk) in self.disks.iter().enumerate() {
            let readonly = match disk.access {
                DiskAccess::Write => "off",
                DiskAccess::ReadOnly => "on",
            };
            let drive = path_option(&format!("if=none,id=disk{i},format=raw,readonly={readonly},file="), &disk.path);
            args.extend(["-drive".into(), drive]);
            args.extend(words(&format!("-device virtio-blk-device,drive=disk{i}")));
        }
        args
    }

    /// The kernel command line. Each flag is here for a measured reason.
    fn cmdline(&self) -> String {
        let mut cmdline = format!("console={} quiet", self.arch.console());
        // Reboot (so QEMU, with -no-reboot, exits) at once on a kernel panic.
        cmdline.push_str(" panic=-1");
        // Skip crypto self-tests and CPU bug mitigations: ~0.5 s under TCG.
        cmdline.push_str(" cryptomgr.notests mitigations=off");
        // The TSC is x86's; Arm's generic timer has its frequency in a
        // register and needs neither flag.
        if self.arch == Arch::X86_64 {
            // Without a known TSC frequency the kernel calibrates it against a
            // timer, which under TCG on a busy host can hang forever.
            if let Some(khz) = self.tsc_khz {
                cmdline.push_str(&format!(" tsc_early_khz={khz}"));
            }
            // With two vCPUs under TCG the kernel finds their TSCs out of step,
            // drops the TSC and keeps time by timer ticks, which emulation
            // loses: guest time then runs at half speed, and so do its sleeps.
            // QEMU derives every vCPU's TSC from the host's clock: trust it.
            cmdline.push_str(" tsc=reliable");
        }
        // On a person's terminal, only what stops the kernel: the boot's
        // complaints about hardware a microvm lacks are noise there.
        if matches!(self.console, Console::Terminal) {
            cmdline.push_str(" loglevel=1");
        }
        cmdline
    }
}

/// The guest's vCPUs: two where the host has two cores or more (more would
/// slow the boot, each vCPU brought up in turn, for little gain), or
/// `$GREENROOM_GUEST_CPUS` (1 to 8), to compare.
pub fn guest_cpus() -> usize {
    let asked = std::env::var("GREENROOM_GUEST_CPUS").ok().and_then(|n| n.parse::<usize>().ok());
    match asked {
        Some(n) if (1..=8).contains(&n) => n,
        _ => std::thread::available_parallelism().map_or(1, usize::from).min(2),
    }
}

/// Splits a run of arguments that contain no spaces.
fn words(text: &str) -> impl Iterator<Item = OsString> + '_ {
    text.split_whitespace().map(OsString::from)
}

/// Builds an option value ending with a path (`-chardev`, `-drive`). QEMU
/// separates options with commas, so a comma inside the path must be doubled.
fn path_option(prefix: &str, path: &Path) -> OsString {
    let mut value = OsString::from(prefix);
    value.push(path.to_string_lossy().replace(',', ",,"));
    value
}

/// Reads the host's TSC frequency from `/proc/cpuinfo` (`cpu MHz : 2596.142`).
pub fn host_tsc_khz() -> Option<u64> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz =
        cpuinfo.lines().find(|line| line.starts_with("cpu MHz"))?.split(':').nth(1)?.trim().parse::<f64>().ok()?;
    Some((mhz * 1000.0).round() as u64)
}

/// A running QEMU. Dropping the guard kills and reaps it, so no QEMU
/// survives [`crate::boot`], whether it returns, fails or panics.
#[derive(Debug)]
pub struct QemuGuard {
    child: Child,
}

impl QemuGuard {
    /// Spawns QEMU with the given arguments; its stderr is kept for errors.
    pub fn spawn(qemu: &Path, args: &[OsString]) -> Result<Self, BootError> {
        Self::spawn_with(qemu, args, false)
    }

    /// Spawns QEMU on the caller's stdin and stdout (for [`Console::Terminal`]).
    pub fn spawn_on_terminal(qemu: &Path, args: &[OsString]) -> Result<Self, BootError> {
        Self::spawn_with(qemu, args, true)
    }

    fn spawn_with(qemu: &Path, args: &[OsString], terminal: bool) -> Result<Self, BootError> {
        let mut command = Command::new(qemu);
        let stdio = || if terminal { Stdio::inherit() } else { Stdio::null() };
        command.args(args).stdin(stdio()).stdout(stdio()).stderr(Stdio::piped());
        // Drop cannot run if we are killed (a grader's SIGKILL, an OOM):
        // ask the kernel to kill QEMU when this thread dies.
        // SAFETY: the closure runs in the child between fork and exec and
        // only makes one async-signal-safe system call.
        unsafe {
            command.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from));
        }
        let child = command.spawn().map_err(|source| BootError::Spawn { qemu: qemu.to_owned(), source })?;
        Ok(Self { child })
    }

    /// Returns the exit status if QEMU has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for QEMU to exit until `deadline`; returns `None` if it has not.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills QEMU (the guest has no state worth a clean shutdown) and reaps it.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        // An error here means QEMU is already gone, which is what we want.
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// Returns what QEMU wrote to stderr. Call only after it has exited,
    /// or this waits for it to close stderr.
    pub fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            // Best effort: this text only decorates an error message.
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        }
        text.trim().to_owned()
    }
}

impl Drop for QemuGuard {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config<'a>(accel: Accel, log: &'a Path) -> QemuConfig<'a> {
        QemuConfig {
            arch: Arch::X86_64,
            qemu: Path::new("/usr/bin/qemu-system-x86_64"),
            kernel: Path::new("/cache/vmlinux"),
            initrd: Path::new("/cache/run.cpio"),
            accel,
            memory_mib: 512,
            console: Console::Log(log),
            results_socket: Path::new("/tmp/r.sock"),
            tsc_khz: Some(2_596_142),
            disks: &[],
        }
    }

    #[test]
    fn command_line_has_the_measured_flags() {
        let args = config(Accel::Tcg, Path::new("/logs/a,b.log")).args();
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let joined = args.join(" ");
        for expected in ["-M microvm", "-accel tcg,thread=multi -cpu max", "-m 512", "-no-reboot", "-nodefaults"] {
            assert!(joined.contains(expected), "{expected:?} missing from {joined}");
        }
        assert!(args.contains(&"file,id=console,path=/logs/a,,b.log".to_owned()));
        let cmdline = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert!(cmdline.contains("tsc_early_khz=2596142") && cmdline.contains("panic=-1"));
        assert!(cmdline.contains("tsc=reliable"));
        assert!(!cmdline.contains("acpi=off"));
    }

    #[test]
    fn a_terminal_console_is_stdio_without_signals() {
        let mut config = config(Accel::Tcg, Path::new("/l"));
        config.console = Console::Terminal;
        let joined = config.args().iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        assert!(joined.contains("-chardev stdio,id=console,signal=off,mux=on -serial chardev:console"), "{joined}");
        assert!(!joined.contains("file,id=console"));
    }

    #[test]
    fn disks_are_virtio_block_devices() {
        let disks = [
            Disk { path: PathBuf::from("/cache/a,b.ext4"), access: DiskAccess::ReadOnly },
            Disk { path: PathBuf::from("/cache/c.ext4"), access: DiskAccess::Write },
        ];
        let mut config = config(Accel::Tcg, Path::new("/l"));
        config.disks = &disks;
        let joined = config.args().iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
        assert!(joined.contains("-drive if=none,id=disk0,format=raw,readonly=on,file=/cache/a,,b.ext4"), "{joined}");
        assert!(joined.contains("-device virtio-blk-device,drive=disk0"), "{joined}");
        assert!(joined.contains("id=disk1,format=raw,readonly=off,file=/cache/c.ext4"), "{joined}");
    }

    #[test]
    fn an_arm64_guest_boots_the_virt_board_on_its_pl011() {
        let mut config = config(Accel::Tcg, Path::new("/l"));
        config.arch = Arch::Aarch64;
        let args = config.args();
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let joined = args.join(" ");
        assert!(joined.contains("-M virt,gic-version=max"), "{joined}");
        assert!(joined.contains("-cpu max,pauth-impdef=on"), "{joined}");
        assert!(joined.contains("-device virtio-serial-device"), "{joined}");
        let cmdline = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert!(cmdline.starts_with("console=ttyAMA0"), "{cmdline}");
        assert!(!cmdline.contains("tsc"), "{cmdline}");
    }

    #[test]
    fn kvm_uses_the_host_cpu() {
        let args = config(Accel::Kvm, Path::new("/l")).args();
        let joined = args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
        assert!(joined.contains("-accel kvm -cpu host"));
    }

    #[test]
    fn guard_kills_on_drop() {
        let mut guard = QemuGuard::spawn(Path::new("/bin/sleep"), &["30".into()]).unwrap();
        let pid = guard.child.id();
        assert!(guard.try_wait().is_none());
        drop(guard);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(stat.is_empty(), "process {pid} survived the guard: {stat}");
    }
}
