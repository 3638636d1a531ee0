//! The user layer: a user namespace, created with every other namespace of
//! the container and owning them all.

use std::path::PathBuf;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Pid, Uid};
use spawn::{BoxError, Layer};

use crate::plan::UserNamespace;
use crate::write::write_maps;

/// What can go wrong inside, once the maps are there.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// `setresgid(0, 0, 0)` failed.
    #[error("become gid 0 of the container (setresgid): is container gid 0 in the gid map?")]
    Gid(#[source] Errno),
    /// `setgroups([])` failed.
    #[error("drop the host's supplementary groups (setgroups)")]
    Groups(#[source] Errno),
    /// `setresuid(0, 0, 0)` failed.
    #[error("become uid 0 of the container (setresuid): is container uid 0 in the uid map?")]
    Uid(#[source] Errno),
}

/// Gives the container its own user namespace and maps.
#[derive(Debug)]
pub struct UserLayer {
    namespace: UserNamespace,
    proc: PathBuf,
}

impl UserLayer {
    /// A layer with the maps of `namespace`, written through `/proc`.
    pub fn new(namespace: UserNamespace) -> UserLayer {
        UserLayer { namespace, proc: PathBuf::from("/proc") }
    }
}

// ANCHOR: layer
impl Layer for UserLayer {
    fn name(&self) -> &'static str {
        "user"
    }

    /// A user namespace, in the same `clone` as the others: the kernel
    /// creates it first, so it owns every other namespace of the container.
    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWUSER
    }

    /// The maps come from outside while the child waits: inside, it has
    /// power over nothing of the host's, its ids included.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        write_maps(&self.proc, child, &self.namespace)?;
        Ok(())
    }

    /// The child becomes root of the container: ids 0, and no host groups.
    fn enter_child(&self) -> Result<(), BoxError> {
        become_root(!self.namespace.deny_setgroups)?;
        Ok(())
    }
}
// ANCHOR_END: layer

/// Takes uid and gid 0 of the container. For an unprivileged caller whose
/// own id is mapped to 0 that is already so; for root with a range map, its
/// host id 0 is not mapped at all until it changes ids. Groups first: they
/// can be changed only while still allowed to. Host supplementary groups
/// are dropped where `setgroups` is allowed.
pub fn become_root(drop_groups: bool) -> Result<(), IdentityError> {
    // STARTER: todo!(
    // STARTER:     "become root of the container in every kind of id this process has, leaving \
    // STARTER:      the supplementary groups behind when `drop_groups` says so (book: chapter 5, \"Root of the container\")"
    // STARTER: )
    // SOLUTION BEGIN
    let root_gid = Gid::from_raw(0);
    setresgid(root_gid, root_gid, root_gid).map_err(IdentityError::Gid)?;
    if drop_groups {
        setgroups(&[]).map_err(IdentityError::Groups)?;
    }
    let root_uid = Uid::from_raw(0);
    setresuid(root_uid, root_uid, root_uid).map_err(IdentityError::Uid)
    // SOLUTION END
}
