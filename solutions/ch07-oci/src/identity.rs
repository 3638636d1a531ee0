//! `process.user`: who the container process is (uid, gid, supplementary
//! groups) and the umask its files are created with.

use nix::errno::Errno;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

/// A user that cannot be, or a change of identity the kernel refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A umask with bits beyond the permission bits.
    #[error("process.user.umask {0:#o} is not a umask (at most 0o777)")]
    Umask(u32),
    /// `setgroups` failed.
    #[error("set the supplementary groups to {0:?}")]
    SetGroups(Vec<u32>, #[source] Errno),
    /// `prctl(PR_SET_KEEPCAPS)` failed.
    #[error("keep capabilities across the change of user (PR_SET_KEEPCAPS)")]
    KeepCaps(#[source] Errno),
    /// `setresgid` failed.
    #[error("become group {0}")]
    SetGid(u32, #[source] Errno),
    /// `setresuid` failed.
    #[error("become user {0}")]
    SetUid(u32, #[source] Errno),
}

/// The identity the container process takes, checked in the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    uid: Uid,
    gid: Gid,
    additional_gids: Vec<Gid>,
    umask: Option<Mode>,
}

impl Identity {
    /// Reads `process.user`. `username` is not looked up: the engine
    /// resolves names to numbers in the image before it writes config.json.
    pub fn from_spec(user: &User) -> Result<Self, IdentityError> {
        let umask = match user.umask() {
            Some(bits) => Some(Mode::from_bits(bits).filter(|_| bits <= 0o777).ok_or(IdentityError::Umask(bits))?),
            None => None,
        };
        let mut additional_gids: Vec<Gid> = Vec::new();
        for gid in user.additional_gids().iter().flatten().map(|gid| Gid::from_raw(*gid)) {
            if !additional_gids.contains(&gid) {
                additional_gids.push(gid);
            }
        }
        Ok(Identity { uid: Uid::from_raw(user.uid()), gid: Gid::from_raw(user.gid()), additional_gids, umask })
    }

    /// Sets the umask, if the config gives one (otherwise the runtime's
    /// stays, as in runc).
    pub fn set_umask(&self) {
        if let Some(mask) = self.umask {
            nix::sys::stat::umask(mask);
        }
    }

    /// Becomes the config's user: supplementary groups first (that needs
    /// CAP_SETGID), then the group, then the user, since a process that is
    /// no longer root can no longer change its groups.
    ///
    /// `PR_SET_KEEPCAPS` keeps the permitted capabilities across the change
    /// from uid 0 to another uid, which would otherwise empty them; the
    /// capability layer then decides what stays. The effective set is empty
    /// afterwards ([`crate::caps::raise_effective_to_permitted`]).
    pub fn become_user(&self) -> Result<(), IdentityError> {
        // STARTER: todo!(
        // STARTER:     "become the config's user, group and supplementary groups, keeping the permitted capabilities \
        // STARTER:      (book: chapter 7, \"Capabilities and the user\", \"Who the process is\")"
        // STARTER: )
        // SOLUTION BEGIN
        self.set_groups()?;
        nix::sys::prctl::set_keepcaps(true).map_err(IdentityError::KeepCaps)?;
        let gid = self.gid;
        nix::unistd::setresgid(gid, gid, gid).map_err(|e| IdentityError::SetGid(gid.as_raw(), e))?;
        let uid = self.uid;
        nix::unistd::setresuid(uid, uid, uid).map_err(|e| IdentityError::SetUid(uid.as_raw(), e))?;
        // `execve` clears it anyway; the init, which does not exec, should
        // not keep it either.
        nix::sys::prctl::set_keepcaps(false).map_err(IdentityError::KeepCaps)
        // SOLUTION END
    }

    // ANCHOR: set_groups
    /// Replaces the supplementary groups with `additionalGids` (none if the
    /// config lists none: the runtime's own groups, root's on the host,
    /// must not leak into the container).
    ///
    /// In a user namespace whose `setgroups` was set to "deny" (rootless,
    /// chapter 5) the call always fails: that is an error only if the
    /// config asked for groups, since there is nothing to drop then (the
    /// kernel has frozen the groups the runtime had).
    fn set_groups(&self) -> Result<(), IdentityError> {
        match nix::unistd::setgroups(&self.additional_gids) {
            Ok(()) => Ok(()),
            Err(Errno::EPERM) if self.additional_gids.is_empty() && setgroups_denied() => Ok(()),
            Err(errno) => {
                Err(IdentityError::SetGroups(self.additional_gids.iter().map(|gid| gid.as_raw()).collect(), errno))
            }
        }
    }
    // ANCHOR_END: set_groups
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|text| text.trim() == "deny")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: &str) -> User {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_ids_and_drops_duplicate_groups() {
        let identity = Identity::from_spec(&user(r#"{"uid": 1000, "gid": 100, "additionalGids": [5, 6, 5]}"#)).unwrap();
        assert_eq!(identity.uid, Uid::from_raw(1000));
        assert_eq!(identity.gid, Gid::from_raw(100));
        assert_eq!(identity.additional_gids, [Gid::from_raw(5), Gid::from_raw(6)]);
        assert_eq!(identity.umask, None);
    }

    #[test]
    fn a_umask_must_be_permission_bits() {
        let identity = Identity::from_spec(&user(r#"{"uid": 0, "gid": 0, "umask": 18}"#)).unwrap();
        assert_eq!(identity.umask, Mode::from_bits(0o022));
        let err = Identity::from_spec(&user(r#"{"uid": 0, "gid": 0, "umask": 4096}"#)).unwrap_err();
        assert_eq!(err.to_string(), "process.user.umask 0o10000 is not a umask (at most 0o777)");
    }
}
