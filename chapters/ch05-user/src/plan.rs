//! Which maps a container gets, and who writes them: the rootless defaults.

use std::path::PathBuf;

use crate::host::HostIds;
use crate::map::{IdKind, IdMap, IdRange, MapError};

/// Why the maps asked for cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A map is malformed in itself.
    #[error(transparent)]
    Map(#[from] MapError),
    /// Root gave one map and not the other.
    #[error("give both --uid-map and --gid-map (or neither, for no user namespace)")]
    RootNeedsBoth,
    /// An unprivileged caller asked to map host root.
    #[error(
        "{flag} {range} maps host id 0: an unprivileged user cannot make host root part of a container; \
         map your own id and your ranges in /etc/sub{file} instead"
    )]
    HostRoot {
        /// `--uid-map` or `--gid-map`.
        flag: &'static str,
        /// The range that includes host id 0.
        range: IdRange,
        /// `uid` or `gid`.
        file: &'static str,
    },
    /// A map beyond one's own id needs a helper that is not installed.
    #[error(
        "{flag}: without privilege only `0:{own}:1` (your own id) can be mapped; for more, install {helper} \
         (Debian: the uidmap package) and give yourself a range in /etc/sub{file}"
    )]
    NeedsHelper {
        /// `--uid-map` or `--gid-map`.
        flag: &'static str,
        /// The caller's own id.
        own: u32,
        /// `newuidmap` or `newgidmap`.
        helper: &'static str,
        /// `uid` or `gid`.
        file: &'static str,
    },
    /// A range is neither the caller's own id nor theirs in `/etc/sub?id`.
    #[error(
        "{flag} {range}: these host ids are not yours to map: use your own id or a range /etc/sub{file} gives you"
    )]
    NotYours {
        /// `--uid-map` or `--gid-map`.
        flag: &'static str,
        /// The range refused.
        range: IdRange,
        /// `uid` or `gid`.
        file: &'static str,
    },
}

/// How a map reaches the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// The runtime writes `/proc/PID/uid_map` itself: root may write any
    /// map, anyone else only `0 <own id> 1`.
    Direct,
    /// A setuid helper (`newuidmap`, `newgidmap`) writes it, after checking
    /// the map against `/etc/subuid` or `/etc/subgid`.
    Helper(PathBuf),
}

/// One map and its writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapPlan {
    /// The map.
    pub map: IdMap,
    /// Who writes it.
    pub writer: Writer,
}

/// Everything the user layer needs, decided before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNamespace {
    /// The uid map.
    pub uid: MapPlan,
    /// The gid map.
    pub gid: MapPlan,
    /// Whether `setgroups` must read `deny` before the gid map is written
    /// (the kernel's condition for an unprivileged `gid_map`); then the
    /// container cannot change its supplementary groups either.
    pub deny_setgroups: bool,
}

/// The name of `kind`'s helper and the suffix of its `/etc/sub?id` file.
fn helper_names(kind: IdKind) -> (&'static str, &'static str) {
    match kind {
        IdKind::User => ("newuidmap", "uid"),
        IdKind::Group => ("newgidmap", "gid"),
    }
}

/// Decides the user namespace for `uid` and `gid` ranges (as given on the
/// command line, possibly none) and the caller described by `host`:
///
/// * root, no maps: no user namespace (chapters 0–4 as they were);
/// * root with maps: exactly those, written directly;
/// * anyone else: a user namespace always; the maps asked for, or by
///   default their own id as root of the container plus, where the helpers
///   and a subordinate range exist, that range from container id 1.
pub fn plan(uid: &[IdRange], gid: &[IdRange], host: &HostIds) -> Result<Option<UserNamespace>, PlanError> {
    todo!(
        "decide who writes each map: root writes any map itself, anyone else as \
         unprivileged_map decides (book: chapter 5, \"Rootless defaults\")"
    )
}

/// The map of `kind` for a caller without privilege: `asked`, or the
/// default; written directly if it is the caller's own id alone, else by
/// the helper, and only with ids the caller owns.
pub fn unprivileged_map(kind: IdKind, asked: &[IdRange], host: &HostIds) -> Result<MapPlan, PlanError> {
    todo!(
        "for an unprivileged caller: the default map when none is asked, and whether a \
         map asked for may be written by the caller, needs the helper, or is refused \
         (book: chapter 5, \"Rootless defaults\")"
    )
}

/// `0 <own id> 1`, plus `1 <start> <count>` of the caller's first
/// subordinate range when the helper is there to write it.
fn default_map(kind: IdKind, host: &HostIds) -> IdMap {
    let own = IdRange { inside: 0, outside: host.id(kind), count: 1 };
    let first = host.subordinates(kind).first().filter(|_| host.helper(kind).is_some());
    first
        .and_then(|sub| IdMap::new(kind, vec![own, IdRange { inside: 1, outside: sub.start, count: sub.count }]).ok())
        .unwrap_or_else(|| IdMap::single(kind, own.outside))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Subordinate;

    fn host(uid: u32, helpers: bool) -> HostIds {
        let sub = vec![Subordinate { start: 100_000, count: 65_536 }];
        let helper = |name: &str| helpers.then(|| PathBuf::from(format!("/usr/bin/{name}")));
        HostIds {
            uid,
            gid: uid,
            subuids: sub.clone(),
            subgids: sub,
            newuidmap: helper("newuidmap"),
            newgidmap: helper("newgidmap"),
        }
    }

    fn range(inside: u32, outside: u32, count: u32) -> IdRange {
        IdRange { inside, outside, count }
    }

    #[test]
    fn root_gets_a_user_namespace_only_when_asked() {
        assert_eq!(plan(&[], &[], &host(0, true)), Ok(None));
        let asked = [range(0, 100_000, 65_536)];
        let ns = plan(&asked, &asked, &host(0, false)).unwrap().unwrap();
        assert_eq!((ns.uid.writer, ns.deny_setgroups), (Writer::Direct, false));
        assert_eq!(plan(&asked, &[], &host(0, true)), Err(PlanError::RootNeedsBoth));
    }

    #[test]
    fn without_helpers_a_user_becomes_root_of_their_own_id() {
        let ns = plan(&[], &[], &host(1000, false)).unwrap().unwrap();
        assert_eq!(ns.uid.map.to_proc_text(), "0 1000 1\n");
        assert_eq!((ns.gid.writer, ns.deny_setgroups), (Writer::Direct, true));
    }

    #[test]
    fn with_helpers_a_user_gets_their_range_too() {
        let ns = plan(&[], &[], &host(1000, true)).unwrap().unwrap();
        assert_eq!(ns.uid.map.to_proc_text(), "0 1000 1\n1 100000 65536\n");
        assert_eq!(ns.gid.writer, Writer::Helper("/usr/bin/newgidmap".into()));
        assert!(!ns.deny_setgroups);
        // Asking for one's own id alone needs no helper, and denies setgroups.
        let own = [range(0, 1000, 1)];
        assert!(plan(&own, &own, &host(1000, true)).unwrap().unwrap().deny_setgroups);
    }

    #[test]
    fn a_user_cannot_map_what_is_not_theirs() {
        let root = [range(0, 0, 1)];
        assert!(matches!(plan(&root, &[], &host(1000, true)), Err(PlanError::HostRoot { .. })));
        let other = [range(0, 1000, 1), range(1, 200_000, 10)];
        assert!(matches!(plan(&other, &[], &host(1000, true)), Err(PlanError::NotYours { .. })));
        let range_asked = [range(0, 100_000, 10)];
        assert!(matches!(plan(&range_asked, &[], &host(1000, false)), Err(PlanError::NeedsHelper { .. })));
    }
}
