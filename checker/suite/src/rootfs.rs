//! A small root file system for containers: busybox and the probe.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

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
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    for sub in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| io(sub, e))?;
    }
    fs::copy(busybox, dir.join("bin/busybox")).map_err(|e| io("copy busybox", e))?;
    fs::copy(probe, dir.join("probe")).map_err(|e| io("copy the probe", e))?;
    for applet in APPLETS {
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            symlink("busybox", &link).map_err(|e| io(applet, e))?;
        }
    }
    fs::write(dir.join("etc/hostname"), "greenroom\n").map_err(|e| io("etc/hostname", e))?;
    Ok(())
}
