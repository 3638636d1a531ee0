//! Namespaces the config names that chapters 1–6 did not make: joining an
//! existing namespace by its path (podman gives `{"type": "network",
//! "path": "/run/netns/…"}`), and a new network namespace with only `lo`.

use std::fs::File;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use spawn::{BoxError, Layer};

/// What can go wrong with namespaces.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// A namespace file could not be opened.
    #[error("open the {kind} namespace {path}")]
    Open {
        /// Its type.
        kind: LinuxNamespaceType,
        /// Its path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `setns` refused.
    #[error("join the {kind} namespace {path} (setns)")]
    Join {
        /// Its type.
        kind: LinuxNamespaceType,
        /// Its path.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },
    /// A namespace that cannot be joined from here.
    #[error("joining a {0} namespace by path is not supported: the runtime makes its own (leave out \"path\")")]
    Unsupported(LinuxNamespaceType),
    /// `lo` could not be brought up.
    #[error("bring lo up in the new network namespace")]
    Loopback(#[source] net::inside::InsideError),
}

/// A namespace to join: its type and the path of its file.
pub type Join = (LinuxNamespaceType, PathBuf);

/// The clone flag of a namespace type.
pub fn clone_flag(kind: LinuxNamespaceType) -> CloneFlags {
    match kind {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME; nix 0.29 does not name it.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// The namespaces of `spec` to join, by path, in the order they must be
/// joined: a user namespace first (it decides what the others allow).
pub fn to_join(spec: &Spec) -> Result<Vec<(LinuxNamespaceType, PathBuf)>, NamespaceError> {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    let mut joins: Vec<(LinuxNamespaceType, PathBuf)> = Vec::new();
    for ns in namespaces {
        let Some(path) = ns.path().clone() else { continue };
        // A joined PID namespace holds only later children, and a joined
        // mount namespace is not the bundle's: both would need more than
        // this runtime does.
        if matches!(ns.typ(), LinuxNamespaceType::Pid | LinuxNamespaceType::Mount | LinuxNamespaceType::Time) {
            return Err(NamespaceError::Unsupported(ns.typ()));
        }
        joins.push((ns.typ(), path));
    }
    joins.sort_by_key(|(kind, _)| *kind != LinuxNamespaceType::User);
    Ok(joins)
}

/// Joins each namespace of `joins`, in order, in the calling process.
pub fn join_all(joins: &[Join]) -> Result<(), NamespaceError> {
    for (kind, path) in joins {
        let file =
            File::open(path).map_err(|source| NamespaceError::Open { kind: *kind, path: path.clone(), source })?;
        setns(&file, clone_flag(*kind)).map_err(|source| NamespaceError::Join {
            kind: *kind,
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

// ANCHOR: before_clone
/// Splits `joins` into those the runtime joins itself, before the clone,
/// and those the child joins. With a new user namespace, the child is
/// root only there: `setns` into a namespace the host's user namespace
/// owns (podman's `/run/netns/…`) needs privilege over that one, which
/// the child has lost. So the runtime joins those first, and the child
/// is born in them, as runc's child joins every path before it unshares
/// its user namespace.
pub fn joined_before_clone(joins: Vec<Join>, new_user_namespace: bool) -> (Vec<Join>, Vec<Join>) {
    if new_user_namespace {
        (joins, Vec::new())
    } else {
        (Vec::new(), joins)
    }
}
// ANCHOR_END: before_clone

/// Joins existing namespaces, first thing in the child.
#[derive(Debug, Clone)]
pub struct JoinLayer {
    joins: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl JoinLayer {
    /// A layer joining `joins`, in order.
    pub fn new(joins: Vec<(LinuxNamespaceType, PathBuf)>) -> JoinLayer {
        JoinLayer { joins }
    }
}

impl Layer for JoinLayer {
    fn name(&self) -> &'static str {
        "namespaces"
    }

    /// `setns` on each namespace file: the kernel checks the type matches.
    fn enter_child(&self) -> Result<(), BoxError> {
        Ok(join_all(&self.joins)?)
    }
}

/// A new network namespace: only `lo`, brought up (a new namespace's is
/// down). Podman's own networks come as a namespace to join instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetworkLayer;

impl Layer for NetworkLayer {
    fn name(&self) -> &'static str {
        "network"
    }

    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWNET
    }

    fn enter_child(&self) -> Result<(), BoxError> {
        net::inside::configure(None).map_err(NamespaceError::Loopback)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaces: &str) -> Spec {
        let json = format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "rootfs"}}, "linux": {{"namespaces": {namespaces}}}}}"#
        );
        serde_json::from_str(&json).expect("spec")
    }

    #[test]
    fn a_user_namespace_is_joined_first() {
        let joins = to_join(&spec(
            r#"[{"type": "network", "path": "/run/netns/a"}, {"type": "pid"}, {"type": "user", "path": "/proc/1/ns/user"}]"#,
        ))
        .expect("joins");
        let kinds: Vec<_> = joins.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [LinuxNamespaceType::User, LinuxNamespaceType::Network]);
    }

    #[test]
    fn a_pid_namespace_cannot_be_joined() {
        assert!(matches!(
            to_join(&spec(r#"[{"type": "pid", "path": "/proc/1/ns/pid"}]"#)),
            Err(NamespaceError::Unsupported(LinuxNamespaceType::Pid))
        ));
    }
}
