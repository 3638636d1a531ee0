//! What the host says about the caller: who they are, which ids
//! `/etc/subuid` and `/etc/subgid` give them, and whether the setuid
//! helpers `newuidmap` and `newgidmap` are installed.

use std::fs;
use std::path::{Path, PathBuf};

use crate::map::{IdKind, IdRange};

/// Where the helpers are looked for: a fixed list, not `$PATH`, since the
/// runtime hands them a map to write with their privilege.
pub const HELPER_DIRS: [&str; 4] = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/// A range of host ids `/etc/subuid` or `/etc/subgid` gives the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subordinate {
    /// The first host id.
    pub start: u32,
    /// How many.
    pub count: u32,
}

impl Subordinate {
    /// Whether every host id of `range` is in this one.
    pub fn covers(&self, range: &IdRange) -> bool {
        let (start, end) = range.outside_span();
        u64::from(self.start) <= start && end <= u64::from(self.start) + u64::from(self.count)
    }
}

/// The caller and what the host lets them map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIds {
    /// The caller's effective uid.
    pub uid: u32,
    /// The caller's effective gid.
    pub gid: u32,
    /// The caller's ranges in `/etc/subuid`.
    pub subuids: Vec<Subordinate>,
    /// The caller's ranges in `/etc/subgid`.
    pub subgids: Vec<Subordinate>,
    /// `newuidmap`, if installed.
    pub newuidmap: Option<PathBuf>,
    /// `newgidmap`, if installed.
    pub newgidmap: Option<PathBuf>,
}

impl HostIds {
    /// Reads the facts for the calling process, from the files under `etc`
    /// (`/etc` but in tests) and the helpers in `helper_dirs`. A missing or
    /// unreadable file means "no ranges".
    pub fn read(etc: &Path, helper_dirs: &[&str]) -> HostIds {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let read = |name: &str| fs::read_to_string(etc.join(name)).unwrap_or_default();
        let name = user_name(&read("passwd"), uid);
        let find = |program: &str| helper_dirs.iter().map(|dir| Path::new(dir).join(program)).find(|p| p.is_file());
        HostIds {
            uid,
            gid,
            subuids: subordinates(&read("subuid"), name.as_deref(), uid),
            subgids: subordinates(&read("subgid"), name.as_deref(), uid),
            newuidmap: find("newuidmap"),
            newgidmap: find("newgidmap"),
        }
    }

    /// The caller's id of `kind`.
    pub fn id(&self, kind: IdKind) -> u32 {
        match kind {
            IdKind::User => self.uid,
            IdKind::Group => self.gid,
        }
    }

    /// The caller's subordinate ranges of `kind`.
    pub fn subordinates(&self, kind: IdKind) -> &[Subordinate] {
        match kind {
            IdKind::User => &self.subuids,
            IdKind::Group => &self.subgids,
        }
    }

    /// The helper that writes maps of `kind`, if installed.
    pub fn helper(&self, kind: IdKind) -> Option<&Path> {
        match kind {
            IdKind::User => self.newuidmap.as_deref(),
            IdKind::Group => self.newgidmap.as_deref(),
        }
    }
}

/// The name of user `uid` in `/etc/passwd`'s text (read directly: a static
/// binary has no NSS modules to ask).
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 2 && fields[2].parse() == Ok(uid)).then(|| fields[0].to_string())
    })
}

/// The ranges of `/etc/subuid`-style text (`WHO:START:COUNT` lines) that
/// belong to the user named `name` or numbered `uid`.
pub fn subordinates(text: &str, name: Option<&str>, uid: u32) -> Vec<Subordinate> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let (who, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            let mine = Some(who) == name || who == uid;
            let range = Subordinate { start: start.parse().ok()?, count: count.parse().ok()? };
            (mine && range.count > 0).then_some(range)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_name_and_the_ranges() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\ngreenroom:x:1000:1000::/home/greenroom:/bin/sh\n";
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("greenroom"));
        assert_eq!(user_name(passwd, 1001), None);
        let subuid = "greenroom:100000:65536\nother:165536:65536\n1000:300000:10\nbad line\n";
        assert_eq!(
            subordinates(subuid, Some("greenroom"), 1000),
            [Subordinate { start: 100_000, count: 65_536 }, Subordinate { start: 300_000, count: 10 }]
        );
        assert!(subordinates(subuid, None, 1002).is_empty());
    }

    #[test]
    fn a_range_covers_only_what_lies_inside_it() {
        let sub = Subordinate { start: 100_000, count: 65_536 };
        assert!(sub.covers(&IdRange { inside: 1, outside: 100_000, count: 65_536 }));
        assert!(!sub.covers(&IdRange { inside: 1, outside: 100_000, count: 65_537 }));
        assert!(!sub.covers(&IdRange { inside: 1, outside: 99_999, count: 2 }));
    }
}
