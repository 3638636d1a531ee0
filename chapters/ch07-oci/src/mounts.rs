//! The container's file system from its config: the `mounts` list, done in
//! the new root before `pivot_root` (like chapter 3's /proc and /sys), the
//! devices, then the root itself, read-only if `root.readonly` says so.
//!
//! Chapter 3 decided the container's mounts itself; an OCI config lists
//! them, each with a destination, a type, a source and options in the words
//! of mount(8) (`nosuid`, `mode=755`, `rbind`, …). The runtime turns the
//! words into `mount(2)` flags and data, and puts each mount where its
//! destination is *inside* the root (see [`resolve_in_root`]).

use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::{chown, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};
use spawn::{BoxError, Layer};

use crate::bundle::{resolve_in_root, Bundle, BundleError};

/// What can go wrong while building the container's file system.
#[derive(Debug, thiserror::Error)]
pub enum MountsError {
    /// A destination could not be resolved inside the root.
    #[error(transparent)]
    Destination(#[from] BundleError),
    /// A mount point could not be made.
    #[error("create the mount point {0}")]
    MountPoint(PathBuf, #[source] std::io::Error),
    /// `mount` failed.
    #[error("mount {kind} on {destination} (options {options:?})")]
    Mount {
        /// The mount's type.
        kind: String,
        /// Its destination, as the config gives it.
        destination: PathBuf,
        /// Its options.
        options: Vec<String>,
        /// Why the kernel refused.
        #[source]
        source: Errno,
    },
    /// Changing a mount's propagation failed.
    #[error("make {0} {1}")]
    Propagation(PathBuf, &'static str, #[source] Errno),
    /// A device node could not be made.
    #[error("create the device {0}")]
    Device(PathBuf, #[source] Errno),
    /// A link in /dev could not be made.
    #[error("create the link {0}")]
    Link(PathBuf, #[source] std::io::Error),
    /// A device of an unknown kind.
    #[error("device {0}: only character (c, u), block (b) and FIFO (p) devices can be made")]
    DeviceKind(PathBuf),
    /// A mount option the runtime does not know.
    #[error("mount {0}: unknown propagation option {1:?}")]
    UnknownPropagation(PathBuf, String),
    /// `pivot_root` or the old root's unmount failed.
    #[error(transparent)]
    Pivot(#[from] rootfs::pivot::PivotError),
    /// The read-only remount of the root failed.
    #[error(transparent)]
    ReadOnly(#[from] rootfs::mounts::MountError),
}

/// A mount's options, sorted into what `mount(2)` takes: flags, the
/// propagation to apply after, and the rest, which goes to the file system
/// as its data (`mode=755,size=65536k`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount itself.
    pub flags: MsFlags,
    /// Flags to clear (the `rw` of `ro`, `suid` of `nosuid`, …).
    pub cleared: MsFlags,
    /// `MS_SHARED`, `MS_PRIVATE`, … (with `MS_REC` for the `r` forms).
    pub propagation: MsFlags,
    /// Everything else, comma-separated, for the file system.
    pub data: String,
}

impl MountOptions {
    /// Sorts `options`.
    pub fn parse(options: &[String]) -> MountOptions {
        let mut parsed = MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: MsFlags::empty(),
            data: String::new(),
        };
        let mut data = Vec::new();
        for option in options {
            let (set, clear) = match option.as_str() {
                "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
                "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
                "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
                "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
                "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
                "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
                "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
                "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
                "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
                "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
                "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
                "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
                "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
                "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
                "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
                "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
                "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
                "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
                "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
                "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
                "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
                "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
                "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
                other => {
                    match propagation(other) {
                        Some(flags) => parsed.propagation |= flags,
                        None => data.push(other.to_string()),
                    }
                    continue;
                }
            };
            parsed.flags = (parsed.flags | set) - clear;
            parsed.cleared = (parsed.cleared | clear) - set;
        }
        parsed.data = data.join(",");
        parsed
    }

    /// Whether this is a bind mount.
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// The flags of a propagation option (`rprivate`, `shared`, …).
pub fn propagation(option: &str) -> Option<MsFlags> {
    let (recursive, kind) = match option.strip_prefix('r') {
        Some(kind @ ("private" | "shared" | "slave" | "unbindable")) => (MsFlags::MS_REC, kind),
        _ => (MsFlags::empty(), option),
    };
    let flag = match kind {
        "private" => MsFlags::MS_PRIVATE,
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        _ => return None,
    };
    Some(flag | recursive)
}

/// The container's file system, as its config describes it.
#[derive(Debug, Clone)]
pub struct MountsLayer {
    bundle: PathBuf,
    rootfs: PathBuf,
    mounts: Vec<Mount>,
    devices: Vec<LinuxDevice>,
    readonly: bool,
    root_propagation: Option<String>,
}

impl MountsLayer {
    /// The layer for `bundle`'s config. Its checks were made when the
    /// bundle was loaded; the propagation of the root is checked here.
    pub fn new(bundle: &Bundle) -> Result<MountsLayer, MountsError> {
        let spec: &Spec = &bundle.spec;
        let linux = spec.linux().as_ref();
        let root_propagation = linux.and_then(|l| l.rootfs_propagation().clone());
        if let Some(option) = &root_propagation {
            if propagation(option).is_none() {
                return Err(MountsError::UnknownPropagation(PathBuf::from("/"), option.clone()));
            }
        }
        Ok(MountsLayer {
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            mounts: spec.mounts().clone().unwrap_or_default(),
            devices: linux.and_then(|l| l.devices().clone()).unwrap_or_default(),
            readonly: spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
            root_propagation,
        })
    }
}

impl Layer for MountsLayer {
    fn name(&self) -> &'static str {
        "mounts"
    }

    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWNS
    }

    /// In order: no mount may propagate back to the host; the config's
    /// mounts, inside the new root; the devices; `pivot_root`; the root's
    /// own propagation; read-only last, once every mount point exists.
    fn enter_child(&self) -> Result<(), BoxError> {
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
            .map_err(|e| MountsError::Propagation(PathBuf::from("/"), "rprivate", e))?;
        for entry in &self.mounts {
            mount_one(&self.rootfs, &self.bundle, entry)?;
        }
        make_devices(&self.rootfs, &self.devices)?;
        rootfs::pivot::pivot_into(&self.rootfs)?;
        if let Some(option) = &self.root_propagation {
            let flags = propagation(option).unwrap_or(MsFlags::MS_PRIVATE);
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .map_err(|e| MountsError::Propagation(PathBuf::from("/"), "as rootfsPropagation says", e))?;
        }
        if self.readonly {
            rootfs::mounts::make_root_read_only()?;
        }
        Ok(())
    }
}

// ANCHOR: mount_one
/// Mounts one entry of the config's `mounts` inside `rootfs`.
fn mount_one(rootfs: &Path, bundle: &Path, entry: &Mount) -> Result<(), MountsError> {
    let destination = entry.destination();
    // Resolved again here, in the child, just before the mount.
    let target = resolve_in_root(rootfs, destination)?;
    let options = MountOptions::parse(entry.options().as_deref().unwrap_or(&[]));
    let mut kind = entry.typ().clone().unwrap_or_else(|| "none".to_string());
    let failed = |kind: &str, source| MountsError::Mount {
        kind: kind.to_string(),
        destination: destination.clone(),
        options: entry.options().clone().unwrap_or_default(),
        source,
    };
    if options.is_bind() || kind == "bind" {
        // A relative source is relative to the bundle.
        let source = bundle.join(entry.source().clone().unwrap_or_default());
        make_mount_point(&target, source.is_dir())?;
        todo!(
            "make `source` appear at `target` with every flag of `options` in force on that mount, \
             keeping the flags a user namespace locks (book: chapter 7, \"The bundle and the lifecycle\", \
             \"A bind mount's flags\")"
        )
    } else {
        make_mount_point(&target, true)?;
        // On a cgroup v2 host, the cgroup file system is cgroup2.
        if kind == "cgroup" {
            kind = "cgroup2".to_string();
        }
        let source = entry.source().clone().unwrap_or_else(|| PathBuf::from(&kind));
        let data = (!options.data.is_empty()).then_some(options.data.as_str());
        match mount(Some(&source), &target, Some(kind.as_str()), options.flags, data) {
            Ok(()) => {}
            // A user namespace without its own network namespace may not
            // mount a sysfs: bind the host's, read-only, as runc does.
            Err(Errno::EPERM) if kind == "sysfs" => {
                let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
                mount(Some("/sys"), &target, None::<&str>, bind, None::<&str>).map_err(|e| failed("sysfs", e))?;
                let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | locked_flags(&target);
                mount(None::<&str>, &target, None::<&str>, flags, None::<&str>).map_err(|e| failed("sysfs", e))?;
            }
            Err(e) => return Err(failed(&kind, e)),
        }
    }
    if !options.propagation.is_empty() {
        mount(None::<&str>, &target, None::<&str>, options.propagation, None::<&str>)
            .map_err(|e| MountsError::Propagation(destination.clone(), "as its options say", e))?;
    }
    Ok(())
}
// ANCHOR_END: mount_one

/// The flags a remount of `path` must keep (a user namespace locks them).
fn locked_flags(path: &Path) -> MsFlags {
    rootfs::mounts::locked_flags(&path.to_string_lossy()).unwrap_or(MsFlags::empty())
}

/// Makes the mount point `target`: a directory, or an empty file to bind a
/// file onto.
fn make_mount_point(target: &Path, directory: bool) -> Result<(), MountsError> {
    let made = match directory {
        true => fs::create_dir_all(target),
        false => target
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::OpenOptions::new().create(true).truncate(false).write(true).open(target).map(drop)),
    };
    made.map_err(|e| MountsError::MountPoint(target.to_path_buf(), e))
}

/// The devices every container gets, as the runtime spec lists them:
/// `(path, major, minor)`, character devices with mode 0666.
pub const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The links every container's /dev has.
const DEV_LINKS: [(&str, &str); 5] = [
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

/// Makes the default devices and those of `linux.devices` in the new root,
/// and /dev's links. Where the kernel refuses to make a node (in a user
/// namespace), the host's node of the same path is bound in its place.
fn make_devices(rootfs: &Path, devices: &[LinuxDevice]) -> Result<(), MountsError> {
    let defaults = DEFAULT_DEVICES
        .iter()
        .map(|(path, major, minor)| (PathBuf::from(path), SFlag::S_IFCHR, *major, *minor, 0o666, None, None));
    let configured = devices.iter().map(|device| {
        let kind = match device.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => SFlag::empty(),
        };
        let mode = device.file_mode().unwrap_or(0o666);
        (device.path().clone(), kind, device.major(), device.minor(), mode, device.uid(), device.gid())
    });
    for (path, kind, major, minor, mode, uid, gid) in defaults.chain(configured) {
        if kind.is_empty() {
            return Err(MountsError::DeviceKind(path));
        }
        let target = resolve_in_root(rootfs, &path)?;
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            make_mount_point(parent, true)?;
        }
        let mode_bits = Mode::from_bits_truncate(mode);
        let device = makedev(major as u64, minor as u64);
        match mknod(&target, kind, mode_bits, device) {
            Ok(()) => {
                // mknod applies the umask: set the mode asked for.
                nix::sys::stat::fchmodat(None, &target, mode_bits, nix::sys::stat::FchmodatFlags::FollowSymlink)
                    .map_err(|e| MountsError::Device(path.clone(), e))?;
                chown(&target, uid.map(Uid::from_raw), gid.map(Gid::from_raw))
                    .map_err(|e| MountsError::Device(path.clone(), e))?;
            }
            Err(Errno::EPERM) => {
                make_mount_point(&target, false)?;
                mount(Some(&path), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                    .map_err(|e| MountsError::Device(path.clone(), e))?;
            }
            Err(e) => return Err(MountsError::Device(path, e)),
        }
    }
    for (link, points_to) in DEV_LINKS {
        let target = resolve_in_root(rootfs, Path::new(link))?;
        if target.symlink_metadata().is_ok() || !target.parent().is_some_and(Path::is_dir) {
            continue;
        }
        std::os::unix::fs::symlink(points_to, &target).map_err(|e| MountsError::Link(target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> MountOptions {
        MountOptions::parse(&options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_become_flags_and_data() {
        let tmpfs = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(tmpfs.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(tmpfs.data, "mode=755,size=65536k");
        let bind = parse(&["rbind", "ro", "rprivate"]);
        assert!(bind.is_bind());
        assert_eq!(bind.flags, MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY);
        assert_eq!(bind.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(parse(&["ro", "rw"]).flags, MsFlags::empty());
    }

    #[test]
    fn propagation_words() {
        assert_eq!(propagation("rslave"), Some(MsFlags::MS_SLAVE | MsFlags::MS_REC));
        assert_eq!(propagation("shared"), Some(MsFlags::MS_SHARED));
        assert_eq!(propagation("rw"), None);
        assert_eq!(propagation("ro"), None);
    }
}
