//! `spec`: a default `config.json`, like `runc spec`, with podman's
//! defaults for what the hardening modules read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxCapabilities, LinuxNamespace, LinuxNamespaceType, Mount, Process, Root, Spec,
};

use crate::paths::{MASKED_PATHS, READONLY_PATHS};

/// What can go wrong writing the config.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A config.json is already there.
    #[error("{0} exists already: remove it first")]
    Exists(PathBuf),
    /// It could not be written.
    #[error("write {0}")]
    Write(PathBuf, #[source] oci_spec::OciSpecError),
}

/// podman 4.3's default capabilities (and runtime-tools' `generate`):
/// in the bounding, effective and permitted sets of a root process.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// The default config: `sh` in `rootfs`, every namespace but user (a new
/// network namespace, with only `lo`), the usual mounts, podman's
/// capabilities, masked and read-only paths, and the course's seccomp
/// profile.
pub fn default_spec() -> Spec {
    let mut spec = Spec::default();
    let mut root = Root::default();
    root.set_path(PathBuf::from("rootfs")).set_readonly(Some(true));
    let caps: HashSet<Capability> = DEFAULT_CAPABILITIES.into_iter().collect();
    let mut capabilities = LinuxCapabilities::default();
    capabilities
        .set_bounding(Some(caps.clone()))
        .set_effective(Some(caps.clone()))
        .set_permitted(Some(caps))
        .set_inheritable(None)
        .set_ambient(None);
    let mut process = Process::default();
    process.set_capabilities(Some(capabilities));
    let kinds = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    let namespaces = kinds
        .into_iter()
        .map(|kind| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(kind);
            ns
        })
        .collect();
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    if !mounts.iter().any(|m| m.destination() == Path::new("/sys/fs/cgroup")) {
        let mut cgroup = Mount::default();
        cgroup
            .set_destination(PathBuf::from("/sys/fs/cgroup"))
            .set_typ(Some("cgroup".into()))
            .set_source(Some(PathBuf::from("cgroup")))
            .set_options(Some(["nosuid", "noexec", "nodev", "relatime", "ro"].map(String::from).to_vec()));
        mounts.push(cgroup);
    }
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux
        .set_namespaces(Some(namespaces))
        .set_masked_paths(Some(MASKED_PATHS.map(String::from).to_vec()))
        .set_readonly_paths(Some(READONLY_PATHS.map(String::from).to_vec()))
        .set_resources(None)
        // The course's profile (chapter 7, "no_new_privs and seccomp"): a
        // config made here is as hardened as the book says.
        .set_seccomp(Some(crate::seccomp::default_profile()));
    spec.set_version(oci_spec::runtime::VERSION.to_string())
        .set_hostname(Some("greenroom".into()))
        .set_root(Some(root))
        .set_process(Some(process))
        .set_mounts(Some(mounts))
        .set_linux(Some(linux));
    spec
}

/// Writes [`default_spec`] to `DIR/config.json`, refusing to overwrite one.
/// Pretty-printed, as `runc spec` writes it: the file is meant to be
/// edited by hand.
pub fn write_default(dir: &Path) -> Result<(), SpecError> {
    let path = dir.join("config.json");
    if path.exists() {
        return Err(SpecError::Exists(path));
    }
    let text = match serde_json::to_string_pretty(&default_spec()) {
        Ok(text) => text + "\n",
        Err(e) => return Err(SpecError::Write(path, e.into())),
    };
    std::fs::write(&path, text).map_err(|e| SpecError::Write(path, e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_spec_loads_as_a_bundle() {
        let dir = std::env::temp_dir().join(format!("greenroom-spec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).expect("mkdir");
        write_default(&dir).expect("write");
        assert!(matches!(write_default(&dir), Err(SpecError::Exists(_))));
        let text = std::fs::read_to_string(dir.join("config.json")).expect("read");
        assert!(text.starts_with("{\n  \"ociVersion\"") && text.lines().count() > 50, "one key a line: {text}");
        let bundle = crate::bundle::Bundle::load(&dir).expect("the default config is a good bundle");
        assert_eq!(bundle.args(), ["sh"]);
        let caps = bundle.spec.process().as_ref().and_then(|p| p.capabilities().clone()).expect("caps");
        assert_eq!(caps.bounding().as_ref().map(HashSet::len), Some(14));
        assert_eq!(bundle.namespace(LinuxNamespaceType::User), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
