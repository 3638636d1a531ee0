//! From a bundle's config to the layers of chapters 0–6: the whole
//! container decided, and every value checked, before anything is created.
//!
//! Chapters 0–6 took their choices from the command line (`--hostname`,
//! `--rootfs`, `--uid-map`, `--memory`); an OCI config makes the same
//! choices in JSON. Each of its parts becomes the layer that chapter built,
//! in the order the layers must enter (the user namespace first, the
//! process's hardening last).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType};
use spawn::Layer;
use user::{IdKind, IdMap, IdRange};

use crate::bundle::Bundle;
use crate::harden::{HardenError, PathHardening, ProcessHardening};
use crate::mounts::{MountsError, MountsLayer};
use crate::namespaces::{JoinLayer, NamespaceError, NetworkLayer};
use crate::resources::{ResourcesError, ResourcesLayer};
use crate::sysctl::{SysctlError, Sysctls};

/// Why a config cannot become a container.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `hostname` is not a valid host name.
    #[error("hostname: {0}")]
    Hostname(#[from] uts::HostnameError),
    /// A user namespace without maps, or maps that do not work.
    #[error("linux.uidMappings/gidMappings: {0}")]
    Maps(String),
    /// A namespace cannot be joined.
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    /// The cgroup part.
    #[error(transparent)]
    Resources(#[from] ResourcesError),
    /// The mounts part.
    #[error(transparent)]
    Mounts(#[from] MountsError),
    /// `linux.sysctl`.
    #[error(transparent)]
    Sysctl(#[from] SysctlError),
    /// The process part (user, capabilities, seccomp, …).
    #[error(transparent)]
    Harden(#[from] HardenError),
    /// No `process` (the bundle's checks make this unreachable).
    #[error("the config has no process")]
    NoProcess,
}

/// A container, decided.
pub struct Plan {
    /// The layers, in the order they enter.
    pub layers: Vec<Box<dyn Layer>>,
    /// Namespaces the runtime joins itself just before the clone, so the
    /// container is born in them (see [`crate::namespaces::joined_before_clone`]).
    pub join_first: Vec<(LinuxNamespaceType, PathBuf)>,
    /// The command.
    pub args: Vec<String>,
    /// The container's cgroup, if it gets one, for `delete` to remove.
    pub cgroup: Option<PathBuf>,
}

// ANCHOR: plan
/// The layers for `bundle`, each built from its part of the config.
pub fn plan(bundle: &Bundle) -> Result<Plan, PlanError> {
    let spec = &bundle.spec;
    let new = |kind| bundle.namespace(kind) == Some(None);
    let mut layers: Vec<Box<dyn Layer>> = Vec::new();

    // Chapter 5 first: the user namespace owns every other one, and its
    // root is who mounts and configures them.
    if new(LinuxNamespaceType::User) {
        let namespace = user_namespace(bundle)?;
        layers.push(Box::new(user::UserLayer::new(namespace)));
    }
    let joins = crate::namespaces::to_join(spec)?;
    let (join_first, joins) = crate::namespaces::joined_before_clone(joins, new(LinuxNamespaceType::User));
    if !joins.is_empty() {
        layers.push(Box::new(JoinLayer::new(joins)));
    }
    // Chapter 1.
    if new(LinuxNamespaceType::Uts) {
        let hostname = spec.hostname().as_deref().map(uts::Hostname::parse).transpose()?;
        layers.push(Box::new(uts::UtsLayer::new(hostname)));
    }
    if new(LinuxNamespaceType::Ipc) {
        layers.push(Box::new(uts::IpcLayer));
    }
    // Chapter 4, the simplest network: a namespace with only `lo`.
    if new(LinuxNamespaceType::Network) {
        layers.push(Box::new(NetworkLayer));
    }
    // Chapter 6, before the mounts: the cgroup namespace must exist when
    // the config's cgroup2 is mounted.
    let resources = ResourcesLayer::new(spec)?;
    let cgroup = resources.cgroup().map(Path::to_path_buf);
    layers.push(Box::new(resources));
    // Chapter 2: its init is the container's PID 1.
    if new(LinuxNamespaceType::Pid) {
        layers.push(Box::new(pid::PidLayer));
    }
    // Chapter 3, with the config's mounts.
    layers.push(Box::new(MountsLayer::new(bundle)?));
    // Through the container's own /proc, in its new namespaces, before
    // the read-only paths make /proc/sys read-only.
    let sysctls = Sysctls::from_spec(spec)?;
    if !sysctls.is_empty() {
        layers.push(Box::new(sysctls));
    }
    // In the new root, after pivot_root: masked and read-only paths.
    layers.push(Box::new(PathHardening::from_spec(spec.linux().as_ref())));
    // Last: the user, capabilities, no_new_privs, seccomp, cwd, env.
    let process = spec.process().as_ref().ok_or(PlanError::NoProcess)?;
    layers.push(Box::new(ProcessHardening::from_spec(process, spec.linux().as_ref())?));

    Ok(Plan { layers, join_first, args: bundle.args().to_vec(), cgroup })
}
// ANCHOR_END: plan

/// Chapter 5's plan for the config's maps: root writes them directly; a
/// caller without privilege through the helpers, if they may.
fn user_namespace(bundle: &Bundle) -> Result<user::UserNamespace, PlanError> {
    let linux = bundle.spec.linux().as_ref();
    let ranges = |maps: Option<&Vec<LinuxIdMapping>>| -> Vec<IdRange> {
        maps.into_iter()
            .flatten()
            .map(|m| IdRange { inside: m.container_id(), outside: m.host_id(), count: m.size() })
            .collect()
    };
    let uid = ranges(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = ranges(linux.and_then(|l| l.gid_mappings().as_ref()));
    if uid.is_empty() || gid.is_empty() {
        return Err(PlanError::Maps("a new user namespace needs both uidMappings and gidMappings".into()));
    }
    // Checked as chapter 5 checks --uid-map and --gid-map.
    IdMap::new(IdKind::User, uid.clone()).map_err(|e| PlanError::Maps(e.to_string()))?;
    IdMap::new(IdKind::Group, gid.clone()).map_err(|e| PlanError::Maps(e.to_string()))?;
    let host = user::host::HostIds::read(Path::new("/etc"), &user::host::HELPER_DIRS);
    let namespace = user::plan::plan(&uid, &gid, &host).map_err(|e| PlanError::Maps(e.to_string()))?;
    namespace.ok_or_else(|| PlanError::Maps("a new user namespace needs both uidMappings and gidMappings".into()))
}
