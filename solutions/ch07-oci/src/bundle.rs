//! The bundle: a directory with a `config.json` and a root file system,
//! checked whole before anything is created.
//!
//! An engine writes the bundle and hands the runtime its path
//! (`create --bundle DIR`). Everything wrong with it (a missing file, a
//! namespace type that does not exist, a mount that would land outside the
//! container) is refused here, with one clear line, while there is still
//! nothing to clean up.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use oci_spec::OciSpecError;

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle directory is not there.
    #[error("bundle {0}: no such directory")]
    NoBundle(PathBuf),
    /// There is no `config.json` in it.
    #[error("{0}: no such file: a bundle needs a config.json (`oci spec` writes one)")]
    NoConfig(PathBuf),
    /// `config.json` could not be read, or is not a runtime config. serde
    /// names the field and the line: an unknown namespace type, say, reads
    /// "unknown variant `foo`, expected one of `mnt`, `cgroup`, …".
    #[error("{path}: {message}")]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// serde's or the kernel's words, on one line.
        message: String,
    },
    /// The config has no `root`.
    #[error("{0}: no root: say which directory is the container's root file system (root.path)")]
    NoRoot(PathBuf),
    /// `root.path` names nothing, or no directory.
    #[error("root.path {0}: no such directory")]
    RootMissing(PathBuf),
    /// The config has no `process`, or it has no `args`.
    #[error("{0}: no process.args: say what the container runs")]
    NoArgs(PathBuf),
    /// A mount destination is relative.
    #[error("mount destination {0:?} is not an absolute path")]
    RelativeDestination(PathBuf),
    /// A mount destination climbs out of the root with `..`.
    #[error("mount destination {0:?} leaves the container's root with `..`")]
    EscapingDestination(PathBuf),
    /// A chain of symbolic links in the rootfs that does not end.
    #[error("mount destination {0:?}: too many symbolic links in the root file system")]
    SymlinkLoop(PathBuf),
    /// `ociVersion` is not SemVer, or names a version of the runtime spec
    /// this runtime does not implement.
    #[error("ociVersion {version:?}: {why}")]
    Version {
        /// The config's `ociVersion`.
        version: String,
        /// What is wrong with it.
        why: String,
    },
    /// Something in the config the runtime cannot honour.
    #[error("{0}")]
    Unsupported(String),
}

/// A bundle whose config passed every check.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory, absolute.
    pub dir: PathBuf,
    /// The parsed `config.json`.
    pub spec: Spec,
    /// The root file system, absolute, symbolic links resolved.
    pub rootfs: PathBuf,
}

impl Bundle {
    // ANCHOR: load
    /// Loads and checks the bundle in `dir`.
    pub fn load(dir: &Path) -> Result<Bundle, BundleError> {
        let dir = dir.canonicalize().map_err(|_| BundleError::NoBundle(dir.to_path_buf()))?;
        let config = dir.join("config.json");
        if !config.is_file() {
            return Err(BundleError::NoConfig(config));
        }
        let spec = Spec::load(&config)
            .map_err(|err| BundleError::BadConfig { path: config.clone(), message: one_line(&err) })?;
        let rootfs = check(&spec, &dir, &config)?;
        Ok(Bundle { dir, spec, rootfs })
    }
    // ANCHOR_END: load

    /// The command the container runs (`process.args`; never empty).
    pub fn args(&self) -> &[String] {
        self.spec.process().as_ref().and_then(|p| p.args().as_deref()).unwrap_or(&[])
    }

    /// Whether the config asks for a new namespace of `kind` (no `path`)
    /// or to join one (`Some(path)`); `None` when it lists none of that kind.
    pub fn namespace(&self, kind: LinuxNamespaceType) -> Option<Option<PathBuf>> {
        namespace(&self.spec, kind)
    }
}

/// Whether `spec` lists a namespace of `kind`: to create (`Some(None)`)
/// or to join at a path (`Some(Some(path))`).
pub fn namespace(spec: &Spec, kind: LinuxNamespaceType) -> Option<Option<PathBuf>> {
    let namespaces = spec.linux().as_ref()?.namespaces().as_ref()?;
    namespaces.iter().find(|ns| ns.typ() == kind).map(|ns| ns.path().clone())
}

/// serde's message for a config that does not parse, without the
/// wrappers: "unknown variant `foo`, expected one of … at line 5 column 20".
fn one_line(err: &OciSpecError) -> String {
    let text = match err {
        OciSpecError::SerDe(err) => err.to_string(),
        OciSpecError::Io(err) => err.to_string(),
        other => other.to_string(),
    };
    text.replace('\n', " ")
}

// ANCHOR: check
/// Every check of a parsed config, in the order a reader would make them.
/// Returns the root file system's absolute path.
fn check(spec: &Spec, dir: &Path, config: &Path) -> Result<PathBuf, BundleError> {
    check_version(spec.version())?;
    let root = spec.root().as_ref().ok_or_else(|| BundleError::NoRoot(config.to_path_buf()))?;
    // A relative root.path is relative to the bundle (the runtime spec).
    let rootfs = dir.join(root.path());
    let rootfs = match rootfs.canonicalize() {
        Ok(path) if path.is_dir() => path,
        _ => return Err(BundleError::RootMissing(rootfs)),
    };
    let args = spec.process().as_ref().and_then(|process| process.args().as_ref());
    if args.is_none_or(|args| args.is_empty()) {
        return Err(BundleError::NoArgs(config.to_path_buf()));
    }
    for mount in spec.mounts().iter().flatten() {
        resolve_in_root(&rootfs, mount.destination())?;
    }
    // The runtime spec: a hostname needs a UTS namespace of its own, id
    // maps a user namespace of its own.
    if spec.hostname().is_some() && namespace(spec, LinuxNamespaceType::Uts) != Some(None) {
        return Err(BundleError::Unsupported("hostname is set, but no new uts namespace is asked for".into()));
    }
    let linux = spec.linux().as_ref();
    let maps = linux.is_some_and(|l| l.uid_mappings().is_some() || l.gid_mappings().is_some());
    if maps && namespace(spec, LinuxNamespaceType::User) != Some(None) {
        return Err(BundleError::Unsupported("uidMappings are given, but no new user namespace is asked for".into()));
    }
    for ns in linux.and_then(|l| l.namespaces().as_ref()).into_iter().flatten() {
        if let Some(path) = ns.path() {
            if !path.is_absolute() || !path.exists() {
                return Err(BundleError::Unsupported(format!(
                    "namespace {} at {}: no such file (join a namespace by an absolute path such as /proc/PID/ns/net)",
                    ns.typ(),
                    path.display()
                )));
            }
        }
    }
    Ok(rootfs)
}
// ANCHOR_END: check

/// The newest minor version of the runtime spec this runtime implements
/// (the one `oci-spec` follows): a config of 1.0.x or 1.1.x is one it
/// understands.
const SPEC_MINOR: u64 = oci_spec::runtime::VERSION_MINOR as u64;

// ANCHOR: check_version
/// Checks `ociVersion`: SemVer 2.0.0 (`MAJOR.MINOR.PATCH`, an optional
/// `-pre-release` and `+build`), of a spec version this runtime knows.
/// The runtime spec keeps compatibility within a major version, and only
/// forwards: a config written for 1.1 may use fields a 1.0 runtime would
/// silently skip, so a runtime of 1.1 takes 1.0.x and 1.1.x and refuses
/// 1.2 and 2.0. A pre-release (`1.0.2-dev`, what podman and `runc spec`
/// write) counts as its version.
pub fn check_version(version: &str) -> Result<(), BundleError> {
    let refuse = |why: &str| BundleError::Version { version: version.to_string(), why: why.to_string() };
    let not_semver = "not a SemVer version such as \"1.0.2\"";
    // The build metadata and the pre-release tag: dot-separated,
    // non-empty identifiers of ASCII letters, digits and hyphens.
    let identifiers_ok = |text: &str| {
        text.split('.').all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let (rest, build) = version.split_once('+').map_or((version, None), |(v, b)| (v, Some(b)));
    let (core, pre) = rest.split_once('-').map_or((rest, None), |(v, p)| (v, Some(p)));
    if !build.into_iter().chain(pre).all(identifiers_ok) {
        return Err(refuse(not_semver));
    }
    // A number: digits only, no leading zero (SemVer's rule 2).
    let number = |text: &str| -> Option<u64> {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if digits && (text == "0" || !text.starts_with('0')) {
            text.parse().ok()
        } else {
            None
        }
    };
    let numbers: Option<Vec<u64>> = core.split('.').map(number).collect();
    let Some(&[major, minor, _patch]) = numbers.as_deref() else {
        return Err(refuse(not_semver));
    };
    if major != 1 || minor > SPEC_MINOR {
        return Err(refuse(&format!("this runtime implements the runtime spec 1.0 to 1.{SPEC_MINOR}")));
    }
    Ok(())
}
// ANCHOR_END: check_version

/// How many symbolic links one destination may go through (Linux's limit).
const MAX_SYMLINKS: usize = 40;

// ANCHOR: resolve_in_root
/// Where the mount destination `destination` is inside `root`, as the
/// container itself would see it: each symbolic link on the way is read
/// and followed *inside* `root` (an absolute target starts again at
/// `root`, and `..` stops at it, as after `pivot_root`), so a link in the
/// image such as `etc -> /host/etc` can never lead a mount out to the
/// host. A destination that is relative, or climbs out with `..` itself,
/// is refused. The parts that do not exist yet are kept as they are (the
/// mount creates them).
pub fn resolve_in_root(root: &Path, destination: &Path) -> Result<PathBuf, BundleError> {
    if !destination.is_absolute() {
        return Err(BundleError::RelativeDestination(destination.to_path_buf()));
    }
    let mut depth: usize = 0;
    for component in destination.components() {
        match component {
            Component::ParentDir if depth == 0 => {
                return Err(BundleError::EscapingDestination(destination.to_path_buf()))
            }
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    // What is left to walk, last component first, and where we are.
    let mut pending: Vec<PathBuf> = components_reversed(destination);
    let mut inside = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part.as_os_str() == ".." {
            inside.pop();
            continue;
        }
        let candidate = inside.join(&part);
        match std::fs::read_link(root.join(&candidate)) {
            Ok(target) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(BundleError::SymlinkLoop(destination.to_path_buf()));
                }
                if target.is_absolute() {
                    inside = PathBuf::new();
                }
                pending.extend(components_reversed(&target));
            }
            // Not a link (or not there yet): a plain step down.
            Err(_) => inside = candidate,
        }
    }
    Ok(root.join(inside))
}
// ANCHOR_END: resolve_in_root

/// The normal and `..` components of `path`, last first (a stack to pop).
fn components_reversed(path: &Path) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(PathBuf::from(name)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect();
    parts.reverse();
    parts
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    struct TempBundle(PathBuf);
    impl TempBundle {
        fn new(name: &str) -> TempBundle {
            let dir = std::env::temp_dir().join(format!("greenroom-bundle-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("rootfs/etc")).expect("mkdir");
            TempBundle(dir)
        }
        fn config(&self, json: &str) -> Result<Bundle, BundleError> {
            fs::write(self.0.join("config.json"), json).expect("write");
            Bundle::load(&self.0)
        }
    }
    impl Drop for TempBundle {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn config(extra: &str) -> String {
        format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "rootfs"}}, "process": {{"cwd": "/", "user": {{"uid": 0, "gid": 0}}, "args": ["sh"]}},
               "linux": {{"namespaces": [{{"type": "pid"}}, {{"type": "mount"}}, {{"type": "uts"}}]}} {extra}}}"#
        )
    }

    #[test]
    fn a_good_bundle_loads_with_its_root_relative_to_the_bundle() {
        let bundle = TempBundle::new("good");
        let loaded = bundle.config(&config(r#", "hostname": "rock-band""#)).expect("loads");
        assert_eq!(loaded.rootfs, bundle.0.join("rootfs").canonicalize().expect("canonical"));
        assert_eq!(loaded.args(), ["sh"]);
        assert_eq!(loaded.namespace(LinuxNamespaceType::Pid), Some(None));
        assert_eq!(loaded.namespace(LinuxNamespaceType::Network), None);
    }

    #[test]
    fn missing_pieces_are_refused_before_anything_is_made() {
        let bundle = TempBundle::new("missing");
        assert!(matches!(Bundle::load(&bundle.0), Err(BundleError::NoConfig(_))));
        assert!(matches!(Bundle::load(Path::new("/no/such/bundle")), Err(BundleError::NoBundle(_))));
        assert!(matches!(bundle.config("{not json"), Err(BundleError::BadConfig { .. })));
        let no_root =
            r#"{"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["sh"]}}"#;
        assert!(matches!(bundle.config(no_root), Err(BundleError::NoRoot(_))));
        let other_root = config("").replace(r#""rootfs""#, r#""nowhere""#);
        assert!(matches!(bundle.config(&other_root), Err(BundleError::RootMissing(_))));
        let no_args = config("").replace(r#", "args": ["sh"]"#, "");
        assert!(matches!(bundle.config(&no_args), Err(BundleError::NoArgs(_))));
        let empty_args = config("").replace(r#"["sh"]"#, "[]");
        assert!(matches!(bundle.config(&empty_args), Err(BundleError::NoArgs(_))));
    }

    #[test]
    fn oci_version_is_semver_of_a_known_spec() {
        for good in ["1.0.0", "1.0.2", "1.0.2-dev", "1.1.0", "1.1.0-rc.1+build.5", "1.0.10"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in ["invalid", "", "1", "1.0", "1.0.0.0", "01.0.0", "1.00.0", "1.0.x", "1.0.0-", "1.0.0+", "v1.0.0"] {
            let err = check_version(bad).expect_err(bad);
            assert!(err.to_string().contains("SemVer"), "{bad}: {err}");
        }
        for unsupported in ["2.0.0", "0.9.0", "1.9.0", "1.2.0-dev"] {
            let err = check_version(unsupported).expect_err(unsupported);
            assert!(err.to_string().contains("1.0 to 1.1"), "{unsupported}: {err}");
        }
        let bundle = TempBundle::new("version");
        let invalid = config("").replace("1.0.2", "invalid");
        assert!(matches!(bundle.config(&invalid), Err(BundleError::Version { .. })));
    }

    #[test]
    fn an_unknown_namespace_type_is_one_clear_line() {
        let bundle = TempBundle::new("namespace");
        let err = bundle.config(&config("").replace(r#""uts""#, r#""utz""#)).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("utz") && !text.contains('\n'), "{text}");
    }

    #[test]
    fn a_hostname_needs_a_uts_namespace() {
        let bundle = TempBundle::new("hostname");
        let json = config(r#", "hostname": "x""#).replace(r#", {"type": "uts"}"#, "");
        assert!(matches!(bundle.config(&json), Err(BundleError::Unsupported(_))));
    }

    #[test]
    fn mount_destinations_stay_inside_the_root() {
        let bundle = TempBundle::new("mounts");
        let mount = |dest: &str| config(&format!(r#", "mounts": [{{"destination": "{dest}", "type": "tmpfs"}}]"#));
        assert!(bundle.config(&mount("/tmp")).is_ok());
        assert!(matches!(bundle.config(&mount("tmp")), Err(BundleError::RelativeDestination(_))));
        assert!(matches!(bundle.config(&mount("/../etc")), Err(BundleError::EscapingDestination(_))));
        assert!(matches!(bundle.config(&mount("/a/../../etc")), Err(BundleError::EscapingDestination(_))));
        assert!(bundle.config(&mount("/a/../etc")).is_ok());
    }

    #[test]
    fn symlinks_are_followed_inside_the_root_never_to_the_host() {
        let bundle = TempBundle::new("links");
        let root = bundle.0.join("rootfs");
        symlink("/etc", root.join("abs")).expect("link");
        symlink("../../../../../../etc", root.join("up")).expect("link");
        symlink("etc", root.join("rel")).expect("link");
        symlink("loop", root.join("loop")).expect("link");
        assert_eq!(resolve_in_root(&root, Path::new("/abs/x")).expect("resolves"), root.join("etc/x"));
        assert_eq!(resolve_in_root(&root, Path::new("/up/x")).expect("resolves"), root.join("etc/x"));
        assert_eq!(resolve_in_root(&root, Path::new("/rel/x")).expect("resolves"), root.join("etc/x"));
        assert_eq!(resolve_in_root(&root, Path::new("/new/dir")).expect("resolves"), root.join("new/dir"));
        assert!(matches!(resolve_in_root(&root, Path::new("/loop")), Err(BundleError::SymlinkLoop(_))));
    }
}
