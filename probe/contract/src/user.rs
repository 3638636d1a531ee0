//! Chapter 5's one-question documents: what root of the container could do
//! to the host's files and namespaces.

use serde::{Deserialize, Serialize};

use crate::{Document, Errno};

/// `probe read PATH`: whether PATH could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOutcome {
    /// `None` when PATH was read; else why not (`EACCES` for a file the
    /// probe may not read).
    pub errno: Option<Errno>,
}

impl Document for ReadOutcome {
    const SUBCOMMAND: &'static str = "read";
}

/// `probe make-owned PATH UID GID`: whether PATH could be created and given
/// to UID:GID, ids of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeOwned {
    /// `None` when both worked; else the error of the step that failed.
    pub errno: Option<Errno>,
}

impl Document for MadeOwned {
    const SUBCOMMAND: &'static str = "make-owned";
}

/// `probe rename-through NS NAME`: joining the UTS namespace file NS (the
/// host's, bind-mounted where the probe can open it) and renaming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameThrough {
    /// `None` when `setns` worked (or opening NS failed: then its error).
    pub setns_errno: Option<Errno>,
    /// `None` when `sethostname` worked or was not tried.
    pub sethostname_errno: Option<Errno>,
}

impl Document for RenameThrough {
    const SUBCOMMAND: &'static str = "rename-through";
}
