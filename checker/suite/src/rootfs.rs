//! A small root file system for containers: busybox and the probe.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The applets linked in the rootfs: enough for a shell to be useful.
const APPLETS: [&str; 16] = [
    "sh", "ls", "cat", "echo", "ps", "mount", "touch", "mkdir", "rm", "id", "hostname", "sleep", "true", "false",
    "env", "grep",
];

/// Finds a statically linked busybox: the guest's, or the host's from the
/// `busybox-static` package.
pub fn find_busybox() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("/bin/busybox"), PathBuf::from("/usr/bin/busybox")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("busybox")));
    }
    candidates.into_iter().find(|path| path.is_file())
}

/// Writes a rootfs in `dir`: `/bin/busybox` with applet links, the probe as
/// `/probe`, and empty `/proc`, `/sys`, `/dev`, `/tmp`.
pub fn write_rootfs(dir: &Path, probe: &Path) -> Result<(), String> {
    let busybox = find_busybox().ok_or("no busybox found: install busybox-static")?;
    write_rootfs_with(dir, probe, &busybox)
}

/// [`write_rootfs`] with a given static busybox.
pub fn write_rootfs_with(dir: &Path, probe: &Path, busybox: &Path) -> Result<(), String> {
    lay_out(dir, |from, to| fs::copy(from, to).map(drop), probe, busybox)
}

/// The rootfs's folders, links and small files, with busybox and the probe
/// put in place by `put(from, to)` (a copy, or a hard link).
fn lay_out(
    dir: &Path,
    put: impl Fn(&Path, &Path) -> std::io::Result<()>,
    probe: &Path,
    busybox: &Path,
) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    for sub in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| io(sub, e))?;
    }
    put(busybox, &dir.join("bin/busybox")).map_err(|e| io("put busybox", e))?;
    put(probe, &dir.join("probe")).map_err(|e| io("put the probe", e))?;
    for applet in APPLETS {
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            symlink("busybox", &link).map_err(|e| io(applet, e))?;
        }
    }
    fs::write(dir.join("etc/hostname"), "greenroom\n").map_err(|e| io("etc/hostname", e))?;
    Ok(())
}

/// A rootfs written once per grading, from which every test's rootfs is
/// made with hard links to its busybox and probe. Under emulation, copying
/// those 4 MB cost a test more (120–300 ms) than running its container
/// (about 50 ms). The links share inodes with this template alone, never
/// with the suite's own probe and busybox, so a run that damaged a file of
/// its rootfs could harm the later tests of one grading at worst, and the
/// template goes with the grading's scratch directory.
pub struct Template {
    dir: PathBuf,
    probe: PathBuf,
    /// Written by the first test that needs a rootfs (chapters 0–2 never
    /// do), while any test beside it waits.
    written: OnceLock<Result<(), String>>,
}

impl Template {
    /// A template to be written in `dir` (which must not exist yet) with
    /// `probe`, once a test asks for a rootfs.
    pub fn new(dir: &Path, probe: &Path) -> Template {
        Template { dir: dir.to_path_buf(), probe: probe.to_path_buf(), written: OnceLock::new() }
    }

    /// Writes a rootfs in `dir` as [`write_rootfs`] does, linking busybox
    /// and the probe to the template's (copying them where `dir` is on
    /// another file system).
    pub fn write_rootfs(&self, dir: &Path) -> Result<(), String> {
        let written = self.written.get_or_init(|| write_rootfs(&self.dir, &self.probe));
        written.clone().map_err(|e| format!("the template rootfs in {}: {e}", self.dir.display()))?;
        let link_or_copy = |from: &Path, to: &Path| match fs::hard_link(from, to) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => fs::copy(from, to).map(drop),
            linked => linked,
        };
        lay_out(dir, link_or_copy, &self.dir.join("probe"), &self.dir.join("bin/busybox"))
    }
}
