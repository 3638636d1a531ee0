//! The two hardening layers: what the container process may still do
//! ([`ProcessHardening`]) and what it may see of /proc and /sys
//! ([`PathHardening`]).
//!
//! Everything is read and checked from the config in the parent, before
//! anything is created (a bad profile or capability set is an error of
//! `create`, exit 125); the layers' `enter_child` only applies the result.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use nix::errno::Errno;
use oci_spec::runtime::{Linux, Process};
use spawn::{BoxError, Layer};

use crate::caps::{self, CapabilitySets, CapsError};
use crate::identity::{Identity, IdentityError};
use crate::limits::{Limits, LimitsError};
use crate::lsm::{LsmError, SecurityLabels};
use crate::paths::{self, PathsError};
use crate::seccomp::{self, SeccompError, SeccompProgram};

/// A process section that cannot be applied, or a step that failed.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    /// `process.rlimits` or `process.oomScoreAdj`.
    #[error(transparent)]
    Limits(#[from] LimitsError),
    /// `process.apparmorProfile` or `process.selinuxLabel`.
    #[error(transparent)]
    Lsm(#[from] LsmError),
    /// `process.user`.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// `process.capabilities`.
    #[error(transparent)]
    Caps(#[from] CapsError),
    /// `linux.seccomp`.
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    /// `process.cwd` is not absolute.
    #[error("process.cwd {0:?} must be an absolute path")]
    RelativeCwd(PathBuf),
    /// Entering `process.cwd` failed.
    #[error("change to the working directory {0} (process.cwd)")]
    Chdir(PathBuf, #[source] Errno),
    /// `process.cwd` led out of the container's root: through a descriptor
    /// of the host's left open (`/proc/self/fd/N`, CVE-2024-21626).
    #[error("the working directory {0} (process.cwd) is outside the container's root")]
    CwdOutsideRoot(PathBuf),
    /// `getcwd` failed in `process.cwd`, for another reason than a
    /// directory the root cannot reach.
    #[error("check the working directory {0} (process.cwd) with getcwd")]
    Getcwd(PathBuf, #[source] Errno),
    /// `prctl(PR_SET_DUMPABLE, 0)` failed.
    #[error("mark the container's process not dumpable")]
    Dumpable(#[source] Errno),
    /// An entry of `process.env` that is not `NAME=value`.
    #[error("process.env entry {0:?} is not NAME=value")]
    Env(String),
    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    #[error("set no_new_privs")]
    NoNewPrivs(#[source] Errno),
    /// A masked or read-only path.
    #[error(transparent)]
    Paths(#[from] PathsError),
    /// A step made after the seccomp filter was loaded (early, because
    /// `noNewPrivileges` is false) failed: the profile may be what refused.
    #[error(
        "{step}, under the container's seccomp filter (loaded before it, since noNewPrivileges is false): a \
         profile that refuses capset or prctl stops it"
    )]
    UnderFilter {
        /// What the runtime was doing.
        step: &'static str,
        /// How it failed.
        #[source]
        source: Box<HardenError>,
    },
}

/// Everything `process` and `linux.seccomp` ask of the container process,
/// compiled: limits, the user, capabilities, seccomp filters, working
/// directory and environment.
///
/// As a [`Layer`], it must come after the root file system is in place
/// (`pivot_root`) and after [`PathHardening`], since it takes away the
/// capabilities (and, with the default profile, the `mount` call) that
/// mounting needs. It should be the last layer: nothing privileged can
/// happen after it.
#[derive(Debug, Clone)]
pub struct ProcessHardening {
    limits: Limits,
    labels: SecurityLabels,
    identity: Identity,
    caps: CapabilitySets,
    seccomp: Option<SeccompProgram>,
    no_new_privs: bool,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl ProcessHardening {
    // ANCHOR: from_spec
    /// Reads and checks `process` and `linux.seccomp`, and compiles the
    /// profile to BPF. Runs in the parent: nothing is applied yet.
    pub fn from_spec(process: &Process, linux: Option<&Linux>) -> Result<Self, HardenError> {
        let cwd = process.cwd().clone();
        if !cwd.is_absolute() {
            return Err(HardenError::RelativeCwd(cwd));
        }
        Ok(ProcessHardening {
            limits: Limits::from_spec(process)?,
            labels: SecurityLabels::from_spec(process.apparmor_profile().as_ref(), process.selinux_label().as_ref())?,
            identity: Identity::from_spec(process.user())?,
            caps: CapabilitySets::from_spec(process.capabilities().as_ref())?,
            seccomp: linux.and_then(|linux| linux.seccomp().as_ref()).map(seccomp::compile).transpose()?,
            no_new_privs: process.no_new_privileges().unwrap_or(false),
            cwd,
            env: environment(process.env().as_deref().unwrap_or_default())?,
        })
    }
    // ANCHOR_END: from_spec

    /// The capability sets the process will have.
    pub fn capabilities(&self) -> &CapabilitySets {
        &self.caps
    }

    /// The compiled seccomp filters, if the config has a profile.
    pub fn seccomp(&self) -> Option<&SeccompProgram> {
        self.seccomp.as_ref()
    }

    /// Applies everything to the calling process, in the order of the
    /// production runtimes (youki's, runc's): what needs root first, then
    /// the user, then the capabilities, with seccomp placed by
    /// `no_new_privs`. The core forks the init and execs the command
    /// afterwards, so both carry all of it.
    pub fn apply(&self) -> Result<(), HardenError> {
        // STARTER: todo!(
        // STARTER:     "put everything from_spec read in force on this process, each step while the process may \
        // STARTER:      still take it, and nothing of the host within the container's reach at exec (book: chapter \
        // STARTER:      7, \"no_new_privs and seccomp\", \"The order of the steps\")"
        // STARTER: )
        // SOLUTION BEGIN
        // The init is a fork of this runtime: until it is not dumpable,
        // the container's processes may open its program, the runtime's
        // binary on the host, through /proc/1/exe (CVE-2019-5736). The
        // command's exec makes it dumpable again: its program is its own.
        nix::sys::prctl::set_dumpable(false).map_err(HardenError::Dumpable)?;
        // Limits and the OOM score, while raising them is still allowed.
        self.limits.apply()?;
        self.identity.set_umask();
        self.labels.apply()?;

        // Groups, group, user; the permitted capabilities survive the
        // change of user.
        self.identity.become_user()?;
        // The working directory now: as the user (a change of user away
        // from root empties the effective set), and before any filter, so
        // that no profile can refuse the chdir and getcwd it needs.
        self.enter_cwd()?;
        self.replace_environment();
        // The effective capabilities back, for the steps below.
        caps::raise_effective_to_permitted()?;

        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load
        // it now, while the runtime's capabilities are still there. The
        // capability sets go in under it: a refusal there is the profile's,
        // and the error says so.
        if !self.no_new_privs && self.seccomp.is_some() {
            self.load_seccomp()?;
            return self.caps.apply().map_err(|source| HardenError::UnderFilter {
                step: "apply process.capabilities",
                source: Box::new(source.into()),
            });
        }
        self.caps.apply()?;

        // With no_new_privs, any process may load a filter: do it last, as
        // close to exec as possible, so the profile only has to allow what
        // the command (and the init) does.
        if self.no_new_privs {
            nix::sys::prctl::set_no_new_privs().map_err(HardenError::NoNewPrivs)?;
            self.load_seccomp()?;
        }
        Ok(())
        // SOLUTION END
    }

    // ANCHOR: enter_cwd
    /// Enters `process.cwd`, and checks that it is inside the container's
    /// root. The runtime's descriptors are all close-on-exec, but they are
    /// open until the exec: a cwd of `/proc/self/fd/N` would take the
    /// command to a directory of the host (runc's CVE-2024-21626). `getcwd`
    /// fails (ENOENT) for a directory the root cannot reach.
    fn enter_cwd(&self) -> Result<(), HardenError> {
        nix::unistd::chdir(&self.cwd).map_err(|e| HardenError::Chdir(self.cwd.clone(), e))?;
        match nix::unistd::getcwd() {
            Ok(path) if path.is_absolute() => Ok(()),
            Ok(_) | Err(Errno::ENOENT) => Err(HardenError::CwdOutsideRoot(self.cwd.clone())),
            // Any other errno is not the kernel's answer about the root
            // (a seccomp profile's, say): said as it is.
            Err(errno) => Err(HardenError::Getcwd(self.cwd.clone(), errno)),
        }
    }
    // ANCHOR_END: enter_cwd

    fn load_seccomp(&self) -> Result<(), HardenError> {
        match &self.seccomp {
            Some(program) => Ok(program.load()?),
            None => Ok(()),
        }
    }

    /// The command sees exactly `process.env`: nothing of the runtime's
    /// environment. The core's `execvp` passes the process's environment on
    /// and searches the `PATH` in it.
    fn replace_environment(&self) {
        for (name, _) in std::env::vars_os() {
            std::env::remove_var(name);
        }
        for (name, value) in &self.env {
            std::env::set_var(name, value);
        }
    }
}

/// `NAME=value` entries, split at the first `=`. An entry without one, with
/// an empty name or a NUL byte cannot be put in an environment: refused.
fn environment(entries: &[String]) -> Result<Vec<(OsString, OsString)>, HardenError> {
    entries
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((name, value)) if !name.is_empty() && !entry.contains('\0') => {
                Ok((OsString::from(name), OsString::from_vec(value.as_bytes().to_vec())))
            }
            _ => Err(HardenError::Env(entry.clone())),
        })
        .collect()
}

impl Layer for ProcessHardening {
    fn name(&self) -> &'static str {
        "harden"
    }

    fn enter_child(&self) -> Result<(), BoxError> {
        self.apply().map_err(|source| match diagnose(&source) {
            Some(why) => Box::new(Diagnosed { why, source }) as BoxError,
            None => Box::new(source) as BoxError,
        })
    }
}

/// A step of [`ProcessHardening::apply`] that failed, and the mistake an
/// earlier step made: the kernel answers several mistakes of order with
/// EPERM at a later step than the one at fault.
#[derive(Debug, thiserror::Error)]
#[error("{why}")]
pub struct Diagnosed {
    why: String,
    #[source]
    source: HardenError,
}

/// What the process's state says about `error`, read where it failed:
/// capabilities already gone before the change of user, or permitted
/// capabilities the change of user emptied.
fn diagnose(error: &HardenError) -> Option<String> {
    use crate::identity::IdentityError;
    use ::caps::{CapSet, Capability};
    let in_effect = |cap| ::caps::has_cap(None, CapSet::Effective, cap).unwrap_or(true);
    let before_user = |cap: Capability| {
        format!(
            "{cap} is no longer in effect where the change of user needs it: the capability sets were applied \
             before it (change the groups and the user first, then apply process.capabilities)"
        )
    };
    match error {
        // A mistake of order the process's state shows is named first;
        // otherwise the filter is named.
        HardenError::UnderFilter { source, .. } => diagnose(source),
        HardenError::Identity(IdentityError::SetGroups(..) | IdentityError::SetGid(..))
            if !nix::unistd::geteuid().is_root() =>
        {
            Some(
                "the user was changed before the groups: a process that is no longer root may not change its groups \
                 (groups first, then the group, then the user)"
                    .to_string(),
            )
        }
        HardenError::Identity(IdentityError::SetGroups(..) | IdentityError::SetGid(..))
            if !in_effect(Capability::CAP_SETGID) =>
        {
            Some(before_user(Capability::CAP_SETGID))
        }
        HardenError::Identity(IdentityError::SetUid(..)) if !in_effect(Capability::CAP_SETUID) => {
            Some(before_user(Capability::CAP_SETUID))
        }
        HardenError::Caps(CapsError::Apply { .. }) if !nix::unistd::getuid().is_root() => {
            let permitted = ::caps::read(None, CapSet::Permitted).ok()?;
            if permitted.is_empty() {
                return Some(format!(
                    "uid {} has no permitted capability left: the change of user from root emptied the permitted \
                     set (keep it across setresuid with PR_SET_KEEPCAPS, set before the change)",
                    nix::unistd::getuid()
                ));
            }
            (!in_effect(Capability::CAP_SETPCAP) && permitted.contains(&Capability::CAP_SETPCAP)).then(|| {
                "the effective set is empty after the change of user: put the permitted capabilities back in \
                 effect before changing the sets"
                    .to_string()
            })
        }
        _ => None,
    }
}

/// `linux.maskedPaths` and `linux.readonlyPaths`, applied in the new root
/// after `pivot_root` (list this layer after the root file system's and
/// before [`ProcessHardening`], which takes away the right to mount).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathHardening {
    masked: Vec<PathBuf>,
    read_only: Vec<PathBuf>,
}

impl PathHardening {
    /// Reads the two lists; there is nothing to refuse in them (a path the
    /// container lacks is skipped when the layer enters).
    pub fn from_spec(linux: Option<&Linux>) -> PathHardening {
        let list = |paths: Option<&Vec<String>>| paths.into_iter().flatten().map(|p| paths::in_root(p)).collect();
        PathHardening {
            masked: list(linux.and_then(|linux| linux.masked_paths().as_ref())),
            read_only: list(linux.and_then(|linux| linux.readonly_paths().as_ref())),
        }
    }

    // ANCHOR: path_hardening_apply
    /// Makes the read-only paths read-only, then masks the masked ones (a
    /// masked path may lie inside a read-only one), as runc does.
    pub fn apply(&self) -> Result<(), HardenError> {
        for path in &self.read_only {
            paths::make_read_only(path)?;
        }
        for path in &self.masked {
            paths::mask(path)?;
        }
        Ok(())
    }
    // ANCHOR_END: path_hardening_apply
}

impl Layer for PathHardening {
    fn name(&self) -> &'static str {
        "paths"
    }

    fn enter_child(&self) -> Result<(), BoxError> {
        Ok(self.apply()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_podman_like_process_compiles() {
        let linux: Linux = serde_json::from_value(serde_json::json!({
            "seccomp": seccomp::default_profile(),
            "maskedPaths": ["/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys"],
        }))
        .unwrap();
        let process = process(
            r#"{"cwd": "/tmp", "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
                "env": ["PATH=/bin", "EMPTY=", "EQ=a=b"], "noNewPrivileges": true}"#,
        );
        let hardening = ProcessHardening::from_spec(&process, Some(&linux)).unwrap();
        assert!(hardening.seccomp().is_some());
        assert!(hardening.no_new_privs);
        assert_eq!(hardening.capabilities().bounding.len(), 14, "no capabilities object: the defaults");
        let env: Vec<_> =
            hardening.env.iter().map(|(n, v)| format!("{}={}", n.to_str().unwrap(), v.to_str().unwrap())).collect();
        assert_eq!(env, ["PATH=/bin", "EMPTY=", "EQ=a=b"]);
        let paths = PathHardening::from_spec(Some(&linux));
        assert_eq!(paths.masked, [PathBuf::from("/proc/kcore"), PathBuf::from("/sys/firmware")]);
        assert_eq!(paths.read_only, [PathBuf::from("/proc/sys")]);
    }

    #[test]
    fn bad_process_sections_are_refused_before_anything_runs() {
        let relative = process(r#"{"cwd": "tmp", "user": {"uid": 0, "gid": 0}}"#);
        let err = ProcessHardening::from_spec(&relative, None).unwrap_err();
        assert_eq!(err.to_string(), "process.cwd \"tmp\" must be an absolute path");
        let env = process(r#"{"cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["JUSTANAME"]}"#);
        let err = ProcessHardening::from_spec(&env, None).unwrap_err();
        assert_eq!(err.to_string(), "process.env entry \"JUSTANAME\" is not NAME=value");
        let notify: Linux = serde_json::from_str(r#"{"seccomp": {"defaultAction": "SCMP_ACT_NOTIFY"}}"#).unwrap();
        let ok = process(r#"{"cwd": "/", "user": {"uid": 0, "gid": 0}}"#);
        assert!(matches!(ProcessHardening::from_spec(&ok, Some(&notify)), Err(HardenError::Seccomp(_))));
    }

    #[test]
    fn no_lists_no_paths() {
        assert_eq!(PathHardening::from_spec(None), PathHardening::default());
    }
}
