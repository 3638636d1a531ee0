//! `linux.sysctl`: kernel parameters set for the container alone.
//!
//! A sysctl is a file under `/proc/sys`, and most of them are the whole
//! machine's: writing one from inside a container changes the host. A few
//! tables the kernel keeps once per namespace instead (the network stack's
//! per network namespace, some of IPC's per IPC namespace, …): writing one
//! of those, from a process in a new namespace of that type, changes the
//! container's copy alone. The config may ask only for those, and only
//! when the namespace they belong to is the container's own. Everything
//! is checked in the parent, before anything is created; the layer writes
//! the values in the child, after `pivot_root` (through the container's own
//! `/proc`) and before the read-only paths freeze `/proc/sys`.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use spawn::{BoxError, Layer};

use crate::bundle::namespace;

/// Why a sysctl of the config is refused, or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    /// A key that is no sysctl's name: empty parts, `.` or `..`.
    #[error("linux.sysctl {0:?}: not a sysctl name (parts separated by dots, such as net.ipv4.ip_forward)")]
    BadKey(String),
    /// A sysctl of the whole machine.
    #[error("linux.sysctl {0}: not a sysctl of any namespace: writing it would change the host")]
    NotNamespaced(String),
    /// A namespaced sysctl, but the container shares that namespace with
    /// the runtime (the host's).
    #[error(
        "linux.sysctl {key}: a sysctl of the {kind} namespace, and the container's is the host's: \
         writing it would change the host (ask for a new {kind} namespace)"
    )]
    HostNamespace {
        /// The sysctl.
        key: String,
        /// The namespace type it belongs to.
        kind: LinuxNamespaceType,
    },
    /// Sysctls are written through the container's `/proc`.
    #[error("linux.sysctl {0}: the container has no /proc to write it through (mount proc at /proc)")]
    NoProc(String),
    /// The kernel refused the value, or the file is not there.
    #[error("linux.sysctl {key}: write {value:?} to {}", path.display())]
    Write {
        /// The sysctl.
        key: String,
        /// The config's value.
        value: String,
        /// Its file.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: std::io::Error,
    },
}

/// The config's sysctls, checked: each one's file under `/proc/sys`, and
/// its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sysctls {
    entries: Vec<(String, PathBuf, String)>,
}

impl Sysctls {
    /// Reads and checks `linux.sysctl`, in the parent: each key must name
    /// a sysctl of a namespace that is not the host's, and the container
    /// must have a `/proc` to write it through.
    pub fn from_spec(spec: &Spec) -> Result<Sysctls, SysctlError> {
        let asked = spec.linux().as_ref().and_then(|linux| linux.sysctl().clone()).unwrap_or_default();
        // In key order: the same config writes in the same order each time.
        let asked: BTreeMap<String, String> = asked.into_iter().collect();
        let has_proc = spec
            .mounts()
            .iter()
            .flatten()
            .any(|m| m.destination() == Path::new("/proc") && m.typ().as_deref() == Some("proc"));
        let mut entries = Vec::new();
        for (key, value) in asked {
            let parts = parts(&key).ok_or_else(|| SysctlError::BadKey(key.clone()))?;
            let file = Path::new("/proc/sys").join(parts.join("/"));
            let kind = namespace_of(&parts.join(".")).ok_or_else(|| SysctlError::NotNamespaced(key.clone()))?;
            if !own_namespace(spec, kind) {
                return Err(SysctlError::HostNamespace { key, kind });
            }
            if !has_proc {
                return Err(SysctlError::NoProc(key));
            }
            entries.push((key, file, value));
        }
        Ok(Sysctls { entries })
    }

    /// Whether the config asks for none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes each value, in the container's new namespaces: the kernel
    /// picks the copy of a namespaced table from the writer's namespace.
    pub fn apply(&self) -> Result<(), SysctlError> {
        for (key, path, value) in &self.entries {
            let failed =
                |source| SysctlError::Write { key: key.clone(), value: value.clone(), path: path.clone(), source };
            // No O_CREAT: a sysctl the container's namespace lacks is an
            // error, not a new file.
            let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(failed)?;
            file.write_all(value.as_bytes()).map_err(failed)?;
        }
        Ok(())
    }
}

/// The parts of a sysctl's name: `net.ipv4.ip_forward`, or in the path
/// form `net/ipv4/conf/eth0.100/rp_filter` (what `sysctl(8)` accepts too,
/// for a part with a dot in it). `None` for an empty part, `.` or `..`,
/// which would lead the path elsewhere under /proc.
fn parts(key: &str) -> Option<Vec<&str>> {
    let separator = if key.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = key.split(separator).collect();
    let bad = |part: &&str| part.is_empty() || *part == "." || *part == ".." || part.contains('\0');
    (parts.len() >= 2 && !parts.iter().any(bad)).then_some(parts)
}

/// Whether the container's namespace of `kind` is not the runtime's own:
/// a new one, or one joined by a path that is not the runtime's.
fn own_namespace(spec: &Spec, kind: LinuxNamespaceType) -> bool {
    match namespace(spec, kind) {
        Some(None) => true,
        Some(Some(path)) => {
            let ours = Path::new("/proc/self/ns").join(proc_name(kind));
            let id = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
            // The bundle's checks made sure the path exists.
            id(&path).is_some_and(|theirs| Some(theirs) != id(&ours))
        }
        None => false,
    }
}

/// A namespace type's file name in `/proc/PID/ns`.
fn proc_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

// ANCHOR: namespace_of
/// The namespace type whose own copy of the sysctl `name` (dotted,
/// `net.ipv4.ip_forward`) the kernel keeps, or `None` for a sysctl of the
/// whole machine.
pub fn namespace_of(name: &str) -> Option<LinuxNamespaceType> {
    todo!(
        "which namespace keeps its own copy of this sysctl, from the kernel's tables of namespaced \
         sysctls; None for one of the whole machine (book: chapter 7, \"Masked and read-only paths\", \
         \"Sysctls: the container's own\")"
    )
}
// ANCHOR_END: namespace_of

impl Layer for Sysctls {
    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn enter_child(&self) -> Result<(), BoxError> {
        Ok(self.apply()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaces: &str, sysctl: &str) -> Spec {
        serde_json::from_str(&format!(
            r#"{{"ociVersion": "1.0.2", "mounts": [{{"destination": "/proc", "type": "proc", "source": "proc"}}],
                "linux": {{"namespaces": {namespaces}, "sysctl": {sysctl}}}}}"#
        ))
        .expect("a spec")
    }

    const ALL_NEW: &str = r#"[{"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]"#;

    #[test]
    fn namespaced_sysctls_go_to_their_files() {
        let sysctls = Sysctls::from_spec(&spec(
            ALL_NEW,
            r#"{"net.ipv4.ip_forward": "1", "kernel.shmmax": "123", "fs.mqueue.msg_max": "20",
                "kernel.domainname": "x", "net/ipv4/conf/eth0.100/rp_filter": "2"}"#,
        ))
        .expect("all namespaced");
        let paths: Vec<_> = sysctls.entries.iter().map(|(_, path, _)| path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "/proc/sys/fs/mqueue/msg_max",
                "/proc/sys/kernel/domainname",
                "/proc/sys/kernel/shmmax",
                "/proc/sys/net/ipv4/ip_forward",
                "/proc/sys/net/ipv4/conf/eth0.100/rp_filter",
            ]
        );
    }

    #[test]
    fn what_would_change_the_host_is_refused() {
        let refused =
            |namespaces: &str, sysctl: &str| Sysctls::from_spec(&spec(namespaces, sysctl)).expect_err("refused");
        assert!(matches!(refused(ALL_NEW, r#"{"kernel.panic": "1"}"#), SysctlError::NotNamespaced(_)));
        assert!(matches!(refused(ALL_NEW, r#"{"vm.swappiness": "1"}"#), SysctlError::NotNamespaced(_)));
        let no_net = r#"[{"type": "ipc"}, {"type": "uts"}]"#;
        assert!(matches!(
            refused(no_net, r#"{"net.ipv4.ip_forward": "1"}"#),
            SysctlError::HostNamespace { kind: LinuxNamespaceType::Network, .. }
        ));
        let joined_own = r#"[{"type": "network", "path": "/proc/self/ns/net"}]"#;
        assert!(matches!(refused(joined_own, r#"{"net.ipv4.ip_forward": "1"}"#), SysctlError::HostNamespace { .. }));
        for bad in ["net..x", "net.ipv4.", "net/../kernel/panic", "net", "."] {
            let err = refused(ALL_NEW, &format!(r#"{{"{bad}": "1"}}"#));
            assert!(matches!(err, SysctlError::BadKey(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn sysctls_need_the_containers_proc() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "network"}], "sysctl": {"net.ipv4.ip_forward": "1"}}}"#,
        )
        .expect("a spec");
        assert!(matches!(Sysctls::from_spec(&spec), Err(SysctlError::NoProc(_))));
    }
}
