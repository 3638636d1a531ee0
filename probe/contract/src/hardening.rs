//! Chapter 7's one-question documents: what the hardening of an OCI
//! runtime lets the container's process do, call by call and path by path.

use serde::{Deserialize, Serialize};

use crate::{Created, Document, Errno};

/// `probe syscalls`: one call a seccomp profile may refuse, one it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Syscalls {
    /// `keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0)`: `None`
    /// when it worked; else its errno (the profile's `errnoRet` when the
    /// filter refused it).
    pub keyctl: Option<Errno>,
    /// `uname`: `None` when it worked, as it should under any profile.
    pub uname: Option<Errno>,
}

impl Document for Syscalls {
    const SUBCOMMAND: &'static str = "syscalls";
}

/// `probe paths PATH…`: how each path looks from inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathsSeen {
    /// One entry per PATH, in order.
    pub paths: Vec<PathSeen>,
}

impl Document for PathsSeen {
    const SUBCOMMAND: &'static str = "paths";
}

/// One path, from inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathSeen {
    /// The path asked about.
    pub path: String,
    /// `None` when it could be read (a file) or listed (a directory);
    /// else why not.
    pub read_errno: Option<Errno>,
    /// Bytes read (at most 64 KiB) from a file, or entries in a directory.
    pub size: Option<u64>,
    /// `None` when it could be opened for writing (nothing is written);
    /// else why not (`EROFS` on a read-only mount).
    pub write_errno: Option<Errno>,
    /// For a directory: creating a file in it (removed at once when it
    /// worked), whose `errno` is `EROFS` on a read-only mount; `None` for
    /// anything else.
    #[serde(default)]
    pub created_inside: Option<Created>,
}

/// `probe breakout`: the escapes a hardened container must not make. Each
/// field is `None` when the step worked (the escape is open) and the error
/// otherwise; nothing harmful is done when a step works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakout {
    /// `mknod /tmp/greenroom-disk b MAJOR MINOR`: a node for the machine's
    /// first disk, as `/proc/partitions` lists it.
    pub mknod_block: Option<Errno>,
    /// Mounting that disk read-only (through the node made, or the disk's
    /// own `/dev` entry if the node could not be made): the host's files.
    pub disk_mount: Option<Errno>,
    /// `mount -t tmpfs none /tmp`.
    pub mount: Option<Errno>,
    /// Opening `/proc/sysrq-trigger` for writing (nothing is written).
    pub sysrq_trigger: Option<Errno>,
    /// Entries listed in `/sys/firmware` (0 when masked; `None` when it
    /// cannot be listed).
    pub sys_firmware_entries: Option<u64>,
    /// `ptrace(PTRACE_SEIZE, 1)`: tracing PID 1 (which the seize does not
    /// stop; the probe's exit lets it go).
    pub ptrace_pid1: Option<Errno>,
    /// `init_module(NULL, 0, "")`: loading a kernel module.
    pub init_module: Option<Errno>,
    /// `unshare(CLONE_NEWUSER)`: a user namespace, in which the process
    /// would hold every capability.
    pub unshare_user: Option<Errno>,
    /// `CapEff` after that `unshare`, when it worked.
    pub caps_after_unshare: Option<u64>,
    /// Opening `/proc/1/exe` for reading: PID 1's program. When PID 1 is a
    /// fork of the runtime, that is the runtime's binary on the host, which
    /// a descriptor kept open could later overwrite (CVE-2019-5736).
    pub init_exe: Option<Errno>,
    /// When `/proc/1/exe` opened: whether it is the probe's own program
    /// (the probe is PID 1, or PID 1 runs the same file), which is no escape.
    pub init_exe_is_probe: Option<bool>,
}

impl Document for Breakout {
    const SUBCOMMAND: &'static str = "breakout";
}
