//! Running the runtime as an unprivileged user: the guest's `greenroom`,
//! with a range of subordinate ids and `newuidmap` (see the vm crate's
//! `rootless` module). Chapter 5's rootless tests use it.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

use crate::ctx::{Ctx, Failure};

/// The unprivileged user's name in the guest.
pub const USER_NAME: &str = "greenroom";

/// An unprivileged user of the machine the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// The first of its subordinate uids (`/etc/subuid`), if it has any.
    pub subuid_start: Option<u32>,
    /// The first of its subordinate gids (`/etc/subgid`), if it has any.
    pub subgid_start: Option<u32>,
}

impl User {
    /// Looks [`USER_NAME`] up in `/etc/passwd`, `/etc/subuid` and
    /// `/etc/subgid`. The guest has it; on a host (`--host`), create it
    /// (`useradd greenroom`, a range with `usermod --add-subuids`).
    pub fn find() -> Result<User, Failure> {
        let missing = || {
            Failure::error(format!(
                "this test runs the runtime as the unprivileged user {USER_NAME:?}, and /etc/passwd has no such \
                 user: the checker's guest has one; on a host, create it (useradd {USER_NAME})"
            ))
        };
        let passwd = fs::read_to_string("/etc/passwd").map_err(|_| missing())?;
        let fields = passwd
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() > 3 && fields[0] == USER_NAME)
            .ok_or_else(missing)?;
        let (uid, gid) = match (fields[2].parse(), fields[3].parse()) {
            (Ok(uid), Ok(gid)) => (uid, gid),
            _ => return Err(missing()),
        };
        Ok(User {
            uid,
            gid,
            subuid_start: first_subordinate("/etc/subuid"),
            subgid_start: first_subordinate("/etc/subgid"),
        })
    }

    /// The subordinate ranges, which the `newuidmap` tests need.
    pub fn subordinates(&self) -> Result<(u32, u32), Failure> {
        match (self.subuid_start, self.subgid_start, helpers_installed()) {
            (Some(uid), Some(gid), true) => Ok((uid, gid)),
            _ => Err(Failure::error(format!(
                "this test needs {USER_NAME}'s ranges in /etc/subuid and /etc/subgid and newuidmap/newgidmap in \
                 /usr/bin: the checker's guest has them; on a host, install uidmap and add the ranges"
            ))),
        }
    }

    /// Makes `path` (and everything under it) the user's.
    pub fn give(&self, path: &Path) -> Result<(), Failure> {
        give_tree(path, self.uid, self.gid).map_err(|e| Failure::error(format!("chown {}: {e}", path.display())))
    }

    /// A fresh directory `name` in the scratch directory, the user's.
    pub fn dir(&self, ctx: &Ctx, name: &str) -> Result<String, Failure> {
        let path = ctx.scratch.join(name);
        fs::create_dir_all(&path).map_err(|e| Failure::error(format!("create {}: {e}", path.display())))?;
        self.give(&path)?;
        Ok(path.display().to_string())
    }
}

fn first_subordinate(file: &str) -> Option<u32> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() == 3 && fields[0] == USER_NAME).then(|| fields[1].parse().ok()).flatten()
    })
}

fn helpers_installed() -> bool {
    ["newuidmap", "newgidmap"].iter().all(|name| Path::new("/usr/bin").join(name).is_file())
}

fn give_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            give_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Makes `command` give up root just before `exec`: no supplementary
/// groups, then the gid, then the uid (each while still allowed to). It
/// is registered after the run's cgroup step (`pre_exec` closures run in
/// order), so the process enters its cgroup as root, then drops privilege.
pub fn drop_to(command: &mut Command, uid: u32, gid: u32) {
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    // SAFETY: the closure runs between fork and exec: three system calls,
    // no allocation, no lock.
    unsafe {
        command.pre_exec(move || {
            setgroups(&[]).map_err(io::Error::from)?;
            setresgid(gid, gid, gid).map_err(io::Error::from)?;
            setresuid(uid, uid, uid).map_err(io::Error::from)
        });
    }
}

/// Makes `command`, run as root, start with the supplementary groups
/// `groups` (set just before `exec`, after the run's cgroup step).
pub fn join_groups(command: &mut Command, groups: Vec<u32>) {
    let groups: Vec<Gid> = groups.into_iter().map(Gid::from_raw).collect();
    // SAFETY: the closure runs between fork and exec: one system call on a
    // list allocated before the fork, no lock.
    unsafe {
        command.pre_exec(move || setgroups(&groups).map_err(io::Error::from));
    }
}

impl Ctx {
    /// From now on, runs the runtime as `user`, not as root: it still
    /// enters the run's cgroup first (as root), then drops privilege.
    pub fn as_user(&mut self, user: &User) {
        self.run_as = Some((user.uid, user.gid));
    }

    /// From now on, runs the runtime (as root) with the supplementary
    /// groups `groups`, as a caller who belongs to groups besides its own.
    pub fn with_groups(&mut self, groups: &[u32]) {
        self.groups = groups.to_vec();
    }
}
