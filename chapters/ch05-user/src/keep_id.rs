//! Chapter 5's challenge: `--keep-id`, the caller's own uid and gid kept
//! as they are inside the container, as podman's `--userns=keep-id` does,
//! so that files the container makes in the caller's directories stay the
//! caller's. The book states the goal in "Challenge: keeping your id";
//! there is no walkthrough.

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use spawn::{BoxError, Layer};

use crate::host::HostIds;
use crate::map::{IdKind, IdMap, IdRange, MapError};
use crate::plan::{MapPlan, UserNamespace, Writer};

/// Why `--keep-id` cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeepIdError {
    /// Root has no id of its own to keep.
    #[error("--keep-id is for a caller without privilege: root's id is already 0 inside")]
    ForRoot,
    /// The helper that writes a map of several ranges is missing.
    #[error("--keep-id needs {0} (Debian: the uidmap package): the map has more than your own id")]
    NoHelper(&'static str),
    /// The caller's subordinate range cannot hold every id below and above
    /// their own.
    #[error("--keep-id: your {kind} {own} needs a range in /etc/sub{file} of more than {own} ids (you have {count})")]
    TooFew {
        /// `uid` or `gid`.
        kind: &'static str,
        /// The caller's id.
        own: u32,
        /// `uid` or `gid`, for the file's name.
        file: &'static str,
        /// How many subordinate ids the caller has.
        count: u32,
    },
    /// The map broke one of the kernel's rules.
    #[error(transparent)]
    Map(#[from] MapError),
}

/// The maps of `--keep-id` for the caller `host`, each written by its
/// helper.
pub fn keep_id_namespace(host: &HostIds) -> Result<UserNamespace, KeepIdError> {
    if host.uid == 0 {
        return Err(KeepIdError::ForRoot);
    }
    let plan = |kind: IdKind, helper: &Option<std::path::PathBuf>, name| -> Result<MapPlan, KeepIdError> {
        let program = helper.clone().ok_or(KeepIdError::NoHelper(name))?;
        Ok(MapPlan { map: keep_id_map(kind, host)?, writer: Writer::Helper(program) })
    };
    let uid = plan(IdKind::User, &host.newuidmap, "newuidmap")?;
    let gid = plan(IdKind::Group, &host.newgidmap, "newgidmap")?;
    // A helper writes the gid map: setgroups stays allowed, and the layer
    // drops the host's groups.
    Ok(UserNamespace { uid, gid, deny_setgroups: false })
}

/// The map of `kind` that keeps the caller's own id: container id `own` is
/// host id `own`, and every other container id from 0 to the end of the
/// caller's first subordinate range is one of those subordinate ids.
pub fn keep_id_map(kind: IdKind, host: &HostIds) -> Result<IdMap, KeepIdError> {
    todo!(
        "challenge: the map in which your own id is itself inside, and every other id of the \
         container one of your subordinate ids (book: chapter 5, \"Challenge: keeping your id\")"
    )
}

/// The layer that makes the container's process the caller inside, once
/// every other layer has done what needed root of the container.
#[derive(Debug, Clone, Copy)]
pub struct KeepIdLayer {
    /// The caller's uid, the same inside.
    pub uid: u32,
    /// The caller's gid, the same inside.
    pub gid: u32,
}

impl Layer for KeepIdLayer {
    fn name(&self) -> &'static str {
        "keep-id"
    }

    /// Last of the child's steps: the mounts, `lo` and the rest are done
    /// as root of the container; the command runs as the caller.
    fn enter_child(&self) -> Result<(), BoxError> {
        todo!(
            "challenge: the container's process becomes the caller's uid and gid inside, with none of \
             the host's groups (book: chapter 5, \"Challenge: keeping your id\")"
        )
    }
}
