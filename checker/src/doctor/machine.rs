//! The machine doctor looks at, every path of it a parameter so that tests
//! can describe fake ones; and the one way doctor runs a program there.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Free space on one file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged user may still write.
    pub free: u64,
    /// Identifies the file system, to report a shared one once.
    pub filesystem: u64,
}

/// Everything the checks look at. [`Machine::this`] describes the machine
/// doctor runs on; tests describe fake ones.
pub struct Machine {
    /// Where procfs is mounted (`/proc`).
    pub proc: PathBuf,
    /// Where sysfs is mounted (`/sys`).
    pub sys: PathBuf,
    /// The KVM device (`/dev/kvm`).
    pub dev_kvm: PathBuf,
    /// The guest's cache (`greenroom_vm::default_cache_dir()`).
    pub cache: PathBuf,
    /// The repository's `target/`, where the checker builds.
    pub target: PathBuf,
    /// The `PATH` programs are looked up in.
    pub path: OsString,
    /// The cargo that runs us (`$CARGO`), if any.
    pub cargo: Option<PathBuf>,
    /// Where `--host` looks for busybox, in order (as `suite::rootfs::find_busybox`).
    pub busybox: Vec<PathBuf>,
    /// Folders of administrators' programs, searched after `PATH` for
    /// those a user's `PATH` often lacks (`mkfs.ext4`; the `vm` crate's
    /// `capstone::ADMIN_DIRS`).
    pub admin_dirs: Vec<PathBuf>,
    /// Our effective user id.
    pub euid: u32,
    /// `GREENROOM_ACCEL`, if set.
    pub accel_override: Option<String>,
    /// Measures free space on the file system holding a path.
    pub space: fn(&Path) -> std::io::Result<Space>,
    /// Asks an open `/dev/kvm` for its API version.
    pub kvm_api: fn(&File) -> nix::Result<i32>,
}

impl Machine {
    /// The machine doctor runs on.
    pub fn this() -> Machine {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut busybox = vec![PathBuf::from("/bin/busybox"), PathBuf::from("/usr/bin/busybox")];
        busybox.extend(std::env::split_paths(&path).map(|dir| dir.join("busybox")));
        Machine {
            proc: "/proc".into(),
            sys: "/sys".into(),
            dev_kvm: "/dev/kvm".into(),
            cache: greenroom_vm::default_cache_dir(),
            target: crate::compile::repo_root().join("target"),
            path,
            cargo: std::env::var_os("CARGO").map(PathBuf::from),
            busybox,
            admin_dirs: greenroom_vm::capstone::ADMIN_DIRS.iter().map(PathBuf::from).collect(),
            euid: nix::unistd::geteuid().as_raw(),
            accel_override: greenroom_vm::accel::forced_by_environment(),
            space: statvfs_space,
            kvm_api: greenroom_vm::accel::kvm_api_version,
        }
    }

    /// Finds a program on `PATH` the way `greenroom_vm::find_qemu` does.
    pub(super) fn which(&self, program: &str) -> Option<PathBuf> {
        std::env::split_paths(&self.path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
    }
}

/// Measures the free space of the real file system holding `path`.
pub(super) fn statvfs_space(path: &Path) -> std::io::Result<Space> {
    let stat = nix::sys::statvfs::statvfs(path)?;
    Ok(Space { free: stat.blocks_available() * stat.fragment_size(), filesystem: stat.filesystem_id() })
}

/// Runs a program and returns its stdout, or a one-line reason it failed.
pub(super) fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let mut busy_retries = 50;
    loop {
        match Command::new(program).args(args).stdin(Stdio::null()).output() {
            Ok(out) if out.status.success() => return Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
                return Err(last.map_or_else(|| format!("it failed ({})", out.status), str::to_owned));
            }
            // A program written a moment ago can be "busy" while another
            // thread forks; it clears at once.
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32) && busy_retries > 0 => {
                busy_retries -= 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
