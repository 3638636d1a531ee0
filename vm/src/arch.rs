//! The guest's architecture: x86_64 or aarch64.
//!
//! The guest runs the same architecture as the machine by default, so that
//! KVM can run it at full speed: an x86_64 laptop boots Debian's amd64 cloud
//! kernel in `qemu-system-x86_64`, an Apple Silicon Mac's Linux VM or a
//! Raspberry Pi boots the arm64 one in `qemu-system-aarch64 -M virt`.
//! Maintainers can ask for the other one (`checker --target aarch64`, or
//! `GREENROOM_ARCH=aarch64`) to check the course on both from one machine;
//! the foreign guest then runs under TCG, which emulates every instruction.

use std::fmt;
use std::str::FromStr;

/// The variable that chooses the guest's architecture (`x86_64`, `aarch64`;
/// `amd64` and `arm64` are understood too). Unset: the machine's own.
pub const ARCH_VARIABLE: &str = "GREENROOM_ARCH";

/// An architecture the course runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 64-bit x86 (Intel, AMD).
    X86_64,
    /// 64-bit Arm (Apple Silicon, Graviton, Ampere, Raspberry Pi 4 and 5).
    Aarch64,
}

/// An architecture name the course does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown architecture {0:?}: the course runs on x86_64 and aarch64")]
pub struct UnknownArch(String);

impl Arch {
    /// The machine's own architecture, as this program was built for it.
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// The guest's architecture: `$GREENROOM_ARCH` if set and valid, else
    /// the machine's own. (An invalid value is reported by [`Arch::from_env`].)
    pub fn guest() -> Arch {
        Arch::from_env().ok().flatten().unwrap_or_else(Arch::host)
    }

    /// `$GREENROOM_ARCH`, parsed: `Ok(None)` when unset or empty.
    pub fn from_env() -> Result<Option<Arch>, UnknownArch> {
        match std::env::var(ARCH_VARIABLE) {
            Ok(value) if !value.trim().is_empty() => value.parse().map(Some),
            _ => Ok(None),
        }
    }

    /// Whether this is the machine's own architecture (KVM can run it).
    pub fn is_host(self) -> bool {
        self == Arch::host()
    }

    /// Rust's target triple for a static glibc binary of this architecture.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// Debian's name for it, as in package file names and `dpkg --print-architecture`.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The QEMU program that runs a guest of this architecture.
    pub fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The Debian package that provides [`Arch::qemu`].
    pub fn qemu_package(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86",
            Arch::Aarch64 => "qemu-system-arm",
        }
    }

    /// The kernel's name for the guest's serial console: the 8250 UART of
    /// a microvm, the PL011 of Arm's `virt` board.
    pub fn console(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS0",
            Arch::Aarch64 => "ttyAMA0",
        }
    }

    /// Debian's multiarch folder name for its libraries: the loader looks
    /// in `/lib/<this>` and `/usr/lib/<this>` without a cache file.
    pub fn multiarch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Aarch64 => "aarch64-linux-gnu",
        }
    }

    /// The dynamic loader's soname (`libc.so.6` needs it), and the absolute
    /// path every dynamically linked program names as its interpreter.
    pub fn loader(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"),
            Arch::Aarch64 => ("ld-linux-aarch64.so.1", "/lib/ld-linux-aarch64.so.1"),
        }
    }

    /// The C cross-compiler that links a static binary of this architecture
    /// on another one (Debian's `gcc-aarch64-linux-gnu`), and its package.
    pub fn cross_linker(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu libc6-dev-amd64-cross"),
            Arch::Aarch64 => ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        })
    }
}

impl FromStr for Arch {
    type Err = UnknownArch;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x86_64" | "amd64" | "x86-64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            other => Err(UnknownArch(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_and_rust_names_are_understood() {
        assert_eq!("arm64".parse::<Arch>().unwrap(), Arch::Aarch64);
        assert_eq!("AArch64".parse::<Arch>().unwrap(), Arch::Aarch64);
        assert_eq!("amd64".parse::<Arch>().unwrap(), Arch::X86_64);
        assert!("riscv64".parse::<Arch>().is_err());
        for arch in [Arch::X86_64, Arch::Aarch64] {
            assert_eq!(arch.to_string().parse::<Arch>().unwrap(), arch);
            assert!(arch.rust_target().starts_with(&arch.to_string()));
        }
    }

    #[test]
    fn the_host_is_its_own_guest() {
        assert!(Arch::host().is_host());
        let other = if Arch::host() == Arch::X86_64 { Arch::Aarch64 } else { Arch::X86_64 };
        assert!(!other.is_host());
    }
}
