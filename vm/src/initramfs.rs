//! Builds the guest's root filesystem as an initramfs: two `newc` cpio
//! archives that the kernel unpacks one after the other.
//!
//! The *base* archive holds what every run shares: busybox and its applet
//! links, the kernel modules, a few `/etc` files and `/init` (see
//! `init.sh`). It is built once and cached under a name derived from its
//! inputs. The *per-run* part is small and built in memory: the request's
//! files and `/greenroom/run`, the script that runs the command. Both are
//! left uncompressed: the guest would otherwise spend its time inflating them.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::assets::Assets;
use crate::cpio::CpioWriter;

/// The guest's `/init`: a busybox shell script.
pub const INIT_SCRIPT: &str = include_str!("init.sh");
/// Bump when the layout of the base archive changes, to invalidate caches.
const BASE_FORMAT: u32 = 1;
/// Inode numbers of the per-run part start here, clear of the base's.
const RUN_FIRST_INO: u32 = 1 << 24;

/// What can go wrong while building the initramfs.
#[derive(Debug, thiserror::Error)]
pub enum InitramfsError {
    /// An input could not be read or the image could not be written.
    #[error("could not build the guest image: {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `busybox --list-full` did not work.
    #[error("could not list the applets of {path}: {detail}")]
    Busybox {
        /// The busybox binary.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A guest path or environment variable cannot be expressed.
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Where a file's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// Read from this host file when the image is built.
    Path(PathBuf),
    /// These bytes.
    Bytes(Vec<u8>),
}

/// A file to place in the guest's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFile {
    /// Absolute path inside the guest; missing parent directories are created.
    pub guest_path: String,
    /// The content.
    pub source: FileSource,
    /// Permission bits, such as `0o755` for a program.
    pub mode: u32,
}

/// Returns the cached base archive, building it first if its inputs changed.
pub fn base_image(cache: &Path, assets: &Assets) -> Result<PathBuf, InitramfsError> {
    let path = cache.join(format!("initramfs-base-{:016x}.cpio", base_key(assets)));
    if path.is_file() {
        return Ok(path);
    }
    let bytes = build_base(assets)?;
    // Write under a temporary name and rename, so that a concurrent or
    // interrupted run never sees half an archive.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    Ok(path)
}

/// A hash of everything the base archive is made of. File identity is taken
/// from path, size and modification time: hashing their content would cost
/// more than most boots. (`DefaultHasher` may change between Rust releases;
/// that only costs one rebuild.)
fn base_key(assets: &Assets) -> u64 {
    let mut hasher = DefaultHasher::new();
    (BASE_FORMAT, INIT_SCRIPT).hash(&mut hasher);
    for path in std::iter::once(&assets.busybox).chain(&assets.modules) {
        path.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(path) {
            (meta.len(), meta.modified().ok()).hash(&mut hasher);
        }
    }
    hasher.finish()
}

fn build_base(assets: &Assets) -> Result<Vec<u8>, InitramfsError> {
    let busybox = std::fs::read(&assets.busybox).map_err(io_err(&assets.busybox))?;
    let applets = busybox_applets(&assets.busybox)?;
    let mut cpio = CpioWriter::new(Vec::new(), 1);
    let w = &mut cpio;
    let dirs = [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "run",
        "root",
        "etc",
        "lib",
        "lib/modules",
        "lib/modules/greenroom",
        "greenroom",
        "newroot",
    ];
    for dir in dirs {
        io(w.dir(dir, 0o755))?;
    }
    io(w.dir("tmp", 0o1777))?;
    // The kernel opens /dev/console for /init's stdin, stdout and stderr
    // before anything mounts devtmpfs, so the node must be in the archive.
    io(w.char_device("dev/console", 0o600, 5, 1))?;
    io(w.file("bin/busybox", 0o755, &busybox))?;
    for applet in applets.iter().filter(|a| *a != "bin/busybox") {
        let dir = applet.rsplit_once('/').map_or("", |(dir, _)| dir);
        if dirs.contains(&dir) {
            io(w.symlink(applet, "/bin/busybox"))?;
        }
    }
    for (i, module) in assets.modules.iter().enumerate() {
        let data = std::fs::read(module).map_err(io_err(module))?;
        let name = module.file_name().and_then(|n| n.to_str()).unwrap_or("module.ko");
        // /init loads modules in glob order: number them unless already numbered.
        let numbered = name.as_bytes().first().is_some_and(u8::is_ascii_digit);
        let name = if numbered { name.to_owned() } else { format!("{:02}-{name}", i + 1) };
        io(w.file(&format!("lib/modules/greenroom/{name}"), 0o644, &data))?;
    }
    io(w.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n"))?;
    io(w.file("etc/group", 0o644, b"root:x:0:\n"))?;
    io(w.file("init", 0o755, INIT_SCRIPT.as_bytes()))?;
    io(cpio.finish())
}

/// Lists busybox's applets as paths (`bin/sh`, `usr/sbin/chroot`, ...).
/// The static busybox runs on the host as well as in the guest, when they
/// share an architecture. Another architecture's busybox cannot run here:
/// the archive then has only `bin/sh`, and `/init` installs the rest
/// (`busybox --install -s`) before it needs them.
fn busybox_applets(busybox: &Path) -> Result<Vec<String>, InitramfsError> {
    if !crate::Arch::guest().is_host() {
        return Ok(vec!["bin/sh".to_owned()]);
    }
    let failed = |detail: String| InitramfsError::Busybox { path: busybox.to_owned(), detail };
    let out = Command::new(busybox).arg("--list-full").output().map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(format!("exited with {}", out.status)));
    }
    let list = String::from_utf8_lossy(&out.stdout);
    Ok(list.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// Builds the per-run archive: the request's files, then `/greenroom/run`,
/// which exports `env` and executes `command`.
pub fn run_part(files: &[GuestFile], command: &[String], env: &[(String, String)]) -> Result<Vec<u8>, InitramfsError> {
    let mut cpio = CpioWriter::new(Vec::new(), RUN_FIRST_INO);
    let mut made = BTreeSet::new();
    for file in files {
        let path = file.guest_path.trim_start_matches('/');
        if !file.guest_path.starts_with('/') || path.is_empty() || path.split('/').any(|c| c.is_empty() || c == "..") {
            return Err(InitramfsError::Invalid(format!(
                "guest path {:?} must be absolute and normal",
                file.guest_path
            )));
        }
        // Directories the base archive already has are harmless to repeat:
        // the kernel keeps an existing directory.
        let components: Vec<&str> = path.split('/').collect();
        for depth in 1..components.len() {
            let parent = components[..depth].join("/");
            if made.insert(parent.clone()) {
                io(cpio.dir(&parent, 0o755))?;
            }
        }
        let data = match &file.source {
            FileSource::Bytes(bytes) => std::borrow::Cow::Borrowed(bytes.as_slice()),
            FileSource::Path(host) => std::borrow::Cow::Owned(std::fs::read(host).map_err(io_err(host))?),
        };
        io(cpio.file(path, file.mode & 0o7777, &data))?;
    }
    io(cpio.file("greenroom/run", 0o755, run_script(command, env)?.as_bytes()))?;
    io(cpio.finish())
}

/// The shell script that runs the command: one `export` per variable, then
/// `exec` of the quoted argv, so the command sees exactly the given strings.
fn run_script(command: &[String], env: &[(String, String)]) -> Result<String, InitramfsError> {
    if command.is_empty() {
        return Err(InitramfsError::Invalid("the command is empty".into()));
    }
    let mut script = String::from("#!/bin/sh\n# Written by the host for this run.\n");
    for (name, value) in env {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(InitramfsError::Invalid(format!("{name:?} is not a valid environment variable name")));
        }
        script.push_str(&format!("export {name}={}\n", shell_quote(value)));
    }
    let argv: Vec<String> = command.iter().map(|a| shell_quote(a)).collect();
    script.push_str(&format!("exec {}\n", argv.join(" ")));
    Ok(script)
}

/// Quotes a string for the shell: inside single quotes only `'` is special.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn io<T>(result: std::io::Result<T>) -> Result<T, InitramfsError> {
    result.map_err(|source| InitramfsError::Io { path: PathBuf::from("<archive>"), source })
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InitramfsError + '_ {
    move |source| InitramfsError::Io { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_script_quotes_everything() {
        let command = vec!["sh".to_owned(), "-c".to_owned(), "echo 'hi' $X".to_owned()];
        let env = vec![("X".to_owned(), "a b".to_owned())];
        let script = run_script(&command, &env).unwrap();
        assert!(script.contains("export X='a b'\n"));
        assert!(script.contains(r#"exec 'sh' '-c' 'echo '\''hi'\'' $X'"#));
    }

    #[test]
    fn rejects_bad_env_names_and_paths() {
        let cmd = vec!["true".to_owned()];
        assert!(run_script(&cmd, &[("A=B".into(), String::new())]).is_err());
        assert!(run_script(&[], &[]).is_err());
        let file = |p: &str| GuestFile { guest_path: p.into(), source: FileSource::Bytes(vec![]), mode: 0o644 };
        assert!(run_part(&[file("relative")], &cmd, &[]).is_err());
        assert!(run_part(&[file("/a/../etc")], &cmd, &[]).is_err());
    }

    #[test]
    fn run_part_creates_parents_once() {
        let file = |p: &str| GuestFile { guest_path: p.into(), source: FileSource::Bytes(b"x".to_vec()), mode: 0o644 };
        let bytes = run_part(&[file("/opt/a/one"), file("/opt/a/two")], &["true".into()], &[]).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(text.matches("opt/a\0").count(), 1);
        assert!(text.contains("opt/a/two\0") && text.contains("greenroom/run\0"));
    }
}
