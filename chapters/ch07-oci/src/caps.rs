//! Capabilities: root's privileges, cut into about forty pieces, and the
//! five sets the kernel keeps for each thread.
//!
//! * **bounding**: the most the process (and anything it executes) can
//!   ever have; it can only shrink, one capability at a time;
//! * **permitted**: what the thread may put in effect;
//! * **effective**: what the kernel checks right now;
//! * **inheritable** and **ambient**: what survives `execve` of a program
//!   without file capabilities (ambient), or with them (inheritable).
//!
//! The config's names are turned into the `caps` crate's values in the
//! parent ([`CapabilitySets::from_spec`]); the container process applies
//! them ([`CapabilitySets::apply`]).

use ::caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, Capability as OciCapability, LinuxCapabilities};

/// A capability set that cannot be given, or a change the kernel refused.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// A name oci-spec knows and the `caps` crate does not.
    #[error("capability {0} is not known to this runtime")]
    Unknown(String),
    /// The sets contradict each other; the kernel would refuse them.
    #[error("capability {cap} is in the {set} set but not in {needs}: {why}")]
    Inconsistent {
        /// The capability.
        cap: Capability,
        /// The set that has it.
        set: &'static str,
        /// The set(s) that must have it too.
        needs: &'static str,
        /// The kernel's rule.
        why: &'static str,
    },
    /// A change to one of the sets failed.
    #[error("set the {set} capabilities")]
    Apply {
        /// Which set.
        set: &'static str,
        /// Why.
        #[source]
        source: ::caps::errors::CapsError,
    },
}

// ANCHOR: default_set
/// The 14 capabilities podman gives a container by default (also what
/// `runtime-tools generate` writes): enough for a root user to install
/// packages and run ordinary services, nothing that reaches the host.
pub fn default_set() -> Capabilities {
    use OciCapability::*;
    [
        Chown,
        DacOverride,
        Fsetid,
        Fowner,
        Mknod,
        NetRaw,
        Setgid,
        Setuid,
        Setfcap,
        Setpcap,
        NetBindService,
        SysChroot,
        Kill,
        AuditWrite,
    ]
    .into_iter()
    .collect()
}
// ANCHOR_END: default_set

// ANCHOR: default_capabilities
/// `process.capabilities` as `spec` writes it: the default set in bounding,
/// effective and permitted; inheritable and ambient empty, so nothing is
/// passed on to a program the container executes beyond what root gets
/// anyway.
pub fn default_capabilities() -> LinuxCapabilities {
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(default_set()));
    caps.set_effective(Some(default_set()));
    caps.set_permitted(Some(default_set()));
    caps.set_inheritable(Some(Capabilities::new()));
    caps.set_ambient(Some(Capabilities::new()));
    caps
}
// ANCHOR_END: default_capabilities

/// The five sets for the container process, checked and ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilitySets {
    /// What the process may ever have again.
    pub bounding: CapsHashSet,
    /// What the kernel checks.
    pub effective: CapsHashSet,
    /// What the process may put in effect.
    pub permitted: CapsHashSet,
    /// Kept across `execve` of a program with file capabilities.
    pub inheritable: CapsHashSet,
    /// Kept across `execve` of any program.
    pub ambient: CapsHashSet,
}

impl CapabilitySets {
    // ANCHOR: from_spec
    /// Reads `process.capabilities`. A set left out is empty; the whole
    /// object left out means the podman defaults ([`default_capabilities`]):
    /// a container never keeps all of root's capabilities by accident.
    ///
    /// The kernel's rules between the sets are checked here, so that a
    /// config that cannot work is refused before anything is created.
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> Result<Self, CapsError> {
        let defaults = default_capabilities();
        let caps = caps.unwrap_or(&defaults);
        let mut sets = CapabilitySets {
            bounding: convert(caps.bounding())?,
            effective: convert(caps.effective())?,
            permitted: convert(caps.permitted())?,
            inheritable: convert(caps.inheritable())?,
            ambient: convert(caps.ambient())?,
        };
        sets.leave_out_unraisable_ambient();
        sets.check()?;
        Ok(sets)
    }
    // ANCHOR_END: from_spec

    /// runc's rule, for the configs most users start from: `runc spec` and
    /// `crun spec` list ambient capabilities that are not inheritable,
    /// which the kernel can never raise. runc warns and goes on without
    /// them; so does this runtime, rather than refuse a first bundle. Every
    /// other inconsistency between the sets is refused (see `check`).
    fn leave_out_unraisable_ambient(&mut self) {
        let mut unraisable: Vec<Capability> = self
            .ambient
            .iter()
            .filter(|cap| !self.permitted.contains(cap) || !self.inheritable.contains(cap))
            .copied()
            .collect();
        if unraisable.is_empty() {
            return;
        }
        unraisable.sort_by_key(|cap| cap.index());
        for cap in &unraisable {
            self.ambient.remove(cap);
        }
        let names: Vec<String> = unraisable.iter().map(ToString::to_string).collect();
        eprintln!(
            "warning: process.capabilities.ambient: {} left out: an ambient capability must be permitted and \
             inheritable too",
            names.join(", ")
        );
    }

    fn check(&self) -> Result<(), CapsError> {
        let rules: [(&CapsHashSet, &'static str, &[&CapsHashSet], &'static str, &'static str); 2] = [
            (&self.effective, "effective", &[&self.permitted], "permitted", "only permitted capabilities take effect"),
            (
                &self.inheritable,
                "inheritable",
                &[&self.bounding],
                "bounding",
                "the bounding set limits what can be made inheritable",
            ),
        ];
        for (set, name, supersets, needs, why) in rules {
            let mut outside: Vec<_> = set.iter().filter(|cap| supersets.iter().any(|s| !s.contains(cap))).collect();
            outside.sort_by_key(|cap| cap.index());
            if let Some(&&cap) = outside.first() {
                return Err(CapsError::Inconsistent { cap, set: name, needs, why });
            }
        }
        Ok(())
    }

    /// Applies the five sets to the calling thread, in the order the kernel
    /// allows:
    ///
    /// 1. the bounding set, dropped one capability at a time
    ///    (`PR_CAPBSET_DROP`, which needs CAP_SETPCAP in effect);
    /// 2. inheritable, while CAP_SETPCAP is still in effect (without it, a
    ///    capability can only become inheritable if it is permitted);
    /// 3. effective, then permitted: effective must stay within permitted
    ///    at every step;
    /// 4. ambient last: each one must be permitted and inheritable.
    ///
    /// Call [`raise_effective_to_permitted`] first: after a change of user
    /// the effective set is empty.
    pub fn apply(&self) -> Result<(), CapsError> {
        todo!(
            "leave the process with exactly the five sets of self, through states the kernel accepts at \
             every step (book: chapter 7, \"Capabilities and the user\", \"Applying the five sets\")"
        )
    }
}

/// Puts every permitted capability in effect. A change from root to another
/// user (with `PR_SET_KEEPCAPS`) keeps the permitted set but empties the
/// effective one, and the steps after it (seccomp without `no_new_privs`,
/// dropping the bounding set) need capabilities in effect.
pub fn raise_effective_to_permitted() -> Result<(), CapsError> {
    todo!(
        "make the effective set what the permitted set is (book: chapter 7, \"Capabilities and the user\", \
         \"After the change of user\")"
    )
}

fn set(which: CapSet, name: &'static str, value: &CapsHashSet) -> Result<(), CapsError> {
    ::caps::set(None, which, value).map_err(|source| CapsError::Apply { set: name, source })
}

/// oci-spec's capability names to the `caps` crate's values: both follow
/// the kernel's names (oci-spec prints `SYS_ADMIN`, `caps` parses
/// `CAP_SYS_ADMIN`).
fn convert(set: &Option<Capabilities>) -> Result<CapsHashSet, CapsError> {
    set.iter().flatten().map(to_caps).collect()
}

/// One oci-spec capability as the `caps` crate's value.
pub fn to_caps(cap: &OciCapability) -> Result<Capability, CapsError> {
    let name = format!("CAP_{cap}");
    name.parse().map_err(|_| CapsError::Unknown(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oci(json: &str) -> LinuxCapabilities {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_capability_the_caps_crate_knows_converts_from_its_oci_name() {
        for cap in ::caps::all() {
            let parsed: OciCapability = serde_json::from_str(&format!("\"{cap}\"")).unwrap();
            assert_eq!(to_caps(&parsed).unwrap(), cap, "{cap}");
        }
    }

    #[test]
    fn the_default_set_is_podmans_fourteen() {
        let names: Vec<String> = {
            let mut names: Vec<_> = default_set().iter().map(|cap| format!("CAP_{cap}")).collect();
            names.sort();
            names
        };
        let podman = [
            "CAP_AUDIT_WRITE",
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_MKNOD",
            "CAP_NET_BIND_SERVICE",
            "CAP_NET_RAW",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ];
        assert_eq!(names, podman);
        let sets = CapabilitySets::from_spec(Some(&default_capabilities())).unwrap();
        assert_eq!(sets.bounding.len(), 14);
        assert_eq!(sets.effective, sets.bounding);
        assert_eq!(sets.permitted, sets.bounding);
        assert!(sets.inheritable.is_empty() && sets.ambient.is_empty());
    }

    #[test]
    fn missing_sets_are_empty_and_a_missing_object_means_the_defaults() {
        let sets = CapabilitySets::from_spec(Some(&oci(r#"{"bounding": ["CAP_KILL"]}"#))).unwrap();
        assert_eq!(sets.bounding, [Capability::CAP_KILL].into_iter().collect());
        assert!(sets.effective.is_empty() && sets.permitted.is_empty() && sets.ambient.is_empty());
        assert_eq!(CapabilitySets::from_spec(None).unwrap().bounding.len(), 14);
    }

    #[test]
    fn ambient_capabilities_that_cannot_be_raised_are_left_out_as_runc_does() {
        // What `runc spec` writes: ambient, permitted, no inheritable.
        let sets = CapabilitySets::from_spec(Some(&oci(
            r#"{"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "effective": ["CAP_KILL"], "ambient": ["CAP_KILL"]}"#,
        )))
        .unwrap();
        assert!(sets.ambient.is_empty());
        assert!(sets.permitted.contains(&Capability::CAP_KILL));
    }

    #[test]
    fn sets_the_kernel_would_refuse_are_refused_with_the_rule() {
        let err = CapabilitySets::from_spec(Some(&oci(r#"{"effective": ["CAP_KILL"], "permitted": []}"#)));
        let err = err.unwrap_err().to_string();
        assert!(err.contains("CAP_KILL is in the effective set but not in permitted"), "{err}");
        let err = CapabilitySets::from_spec(Some(&oci(r#"{"bounding": [], "inheritable": ["CAP_CHOWN"]}"#)));
        assert!(err.unwrap_err().to_string().contains("bounding"));
    }
}
