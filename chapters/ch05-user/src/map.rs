//! `--uid-map` and `--gid-map`: ranges of ids, checked before anything is
//! created.

use std::fmt;

/// The most lines the kernel accepts in one `uid_map` or `gid_map`.
pub const MAX_RANGES: usize = 340;

/// The kernel takes a map in one `write` of less than a page.
pub const MAX_MAP_BYTES: usize = 4095;

/// The highest id a range may reach: `u32::MAX` itself means "no id"
/// (`(uid_t) -1`), and the kernel refuses a range that runs onto it.
pub const LAST_ID: u64 = u32::MAX as u64 - 1;

/// Users or groups: names the flag and the file in `/proc/PID/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// User ids: `--uid-map`, `uid_map`.
    User,
    /// Group ids: `--gid-map`, `gid_map`.
    Group,
}

impl IdKind {
    /// The command-line flag.
    pub fn flag(self) -> &'static str {
        match self {
            IdKind::User => "--uid-map",
            IdKind::Group => "--gid-map",
        }
    }

    /// The file in `/proc/PID/`.
    pub fn proc_file(self) -> &'static str {
        match self {
            IdKind::User => "uid_map",
            IdKind::Group => "gid_map",
        }
    }
}

/// Why a map was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// Not three numbers separated by colons.
    #[error("{0:?} is not CONTAINER:HOST:SIZE (three numbers, such as 0:100000:65536)")]
    Syntax(String),
    /// A field is not a `u32`. The message names the ids a map may hold, 0
    /// to 4294967294: 4294967295 parses, and is then refused as
    /// [`MapError::PastLastId`], a range that reaches `(uid_t) -1`.
    #[error("{0:?}: {1} {2:?} is not an id (a number from 0 to 4294967294)")]
    NotAnId(String, &'static str, String),
    /// The range maps nothing.
    #[error("{0:?}: a range of size 0 maps nothing")]
    ZeroSize(String),
    /// The range runs past the last id.
    #[error("{0:?}: the {1} range runs past {LAST_ID}, the highest id a map can hold")]
    PastLastId(String, &'static str),
    /// Two ranges share ids.
    #[error("{flag} {first} and {second} overlap {side}: each id may be mapped only once")]
    Overlap {
        /// `--uid-map` or `--gid-map`.
        flag: &'static str,
        /// One range.
        first: IdRange,
        /// The other.
        second: IdRange,
        /// "inside" or "outside" the container.
        side: &'static str,
    },
    /// More lines than the kernel takes.
    #[error("{flag}: {count} ranges, the kernel accepts at most {MAX_RANGES}")]
    TooMany {
        /// `--uid-map` or `--gid-map`.
        flag: &'static str,
        /// How many were given.
        count: usize,
    },
    /// The map, written out, is longer than one page.
    #[error("{flag}: the map is {bytes} bytes written out; the kernel takes at most {MAX_MAP_BYTES}")]
    TooLong {
        /// `--uid-map` or `--gid-map`.
        flag: &'static str,
        /// Its length.
        bytes: usize,
    },
    /// Nothing maps id 0, which the command runs as.
    #[error("{0}: no range maps container id 0, and the command runs as root of the container: start a range at 0")]
    NoRoot(&'static str),
}

/// One line of a map: `count` ids from `inside` in the container are
/// `count` ids from `outside` on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The first id in the container.
    pub inside: u32,
    /// The first id on the host.
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.inside, self.outside, self.count)
    }
}

impl IdRange {
    /// The ids `[start, end)` on one side, as u64 so the end cannot wrap.
    fn span(start: u32, count: u32) -> (u64, u64) {
        (u64::from(start), u64::from(start) + u64::from(count))
    }

    /// The host ids `[start, end)` this range covers.
    pub fn outside_span(&self) -> (u64, u64) {
        IdRange::span(self.outside, self.count)
    }

    /// Whether host id `id` is in this range.
    pub fn maps_host_id(&self, id: u32) -> bool {
        let (start, end) = self.outside_span();
        (start..end).contains(&u64::from(id))
    }

    /// Parses `CONTAINER:HOST:SIZE`, as given to `--uid-map`.
    pub fn parse(text: &str) -> Result<IdRange, MapError> {
        todo!(
            "read one range of a map, refusing what the kernel would (book: chapter 5, \
             \"Checking a map\")"
        )
    }
}

/// A whole `uid_map` or `gid_map`: ranges that do not overlap on either
/// side, one of which maps container id 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap {
    kind: IdKind,
    ranges: Vec<IdRange>,
}

impl IdMap {
    /// Checks `ranges` as a whole.
    pub fn new(kind: IdKind, ranges: Vec<IdRange>) -> Result<IdMap, MapError> {
        todo!(
            "refuse a map the kernel would refuse as a whole, and one that leaves the \
             container without a root (book: chapter 5, \"Checking a map\")"
        )
    }

    /// The one-line map `0 <host_id> 1`: the caller's own id becomes root
    /// of the container, and nothing else is mapped.
    pub fn single(kind: IdKind, host_id: u32) -> IdMap {
        IdMap { kind, ranges: vec![IdRange { inside: 0, outside: host_id, count: 1 }] }
    }

    /// Users or groups.
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The ranges, in the order given.
    pub fn ranges(&self) -> &[IdRange] {
        &self.ranges
    }

    /// Whether this is exactly `0 <host_id> 1`: the one map a process may
    /// write for its own id without privilege.
    pub fn is_single(&self, host_id: u32) -> bool {
        self.ranges == [IdRange { inside: 0, outside: host_id, count: 1 }]
    }

    /// The map as `/proc/PID/uid_map` takes it: one `INSIDE OUTSIDE COUNT`
    /// line per range.
    pub fn to_proc_text(&self) -> String {
        self.ranges.iter().map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(inside: u32, outside: u32, count: u32) -> IdRange {
        IdRange { inside, outside, count }
    }

    #[test]
    fn parses_three_numbers() {
        assert_eq!(IdRange::parse("0:100000:65536"), Ok(range(0, 100_000, 65_536)));
        assert_eq!(IdRange::parse("1:1:4294967294"), Ok(range(1, 1, 4_294_967_294)));
    }

    #[test]
    fn refuses_bad_text() {
        assert!(matches!(IdRange::parse("0:1000"), Err(MapError::Syntax(_))));
        assert!(matches!(IdRange::parse("0:1000:1:1"), Err(MapError::Syntax(_))));
        assert!(matches!(IdRange::parse("0:-1:1"), Err(MapError::NotAnId(..))));
        assert!(matches!(IdRange::parse("0:4294967296:1"), Err(MapError::NotAnId(..))));
        assert!(matches!(IdRange::parse("0:1000:0"), Err(MapError::ZeroSize(_))));
    }

    #[test]
    fn refuses_a_range_past_the_last_id() {
        assert!(IdRange::parse("0:4294967294:1").is_ok());
        assert_eq!(IdRange::parse("0:4294967295:1"), Err(MapError::PastLastId("0:4294967295:1".into(), "host")));
        assert_eq!(
            IdRange::parse("4294967000:0:1000"),
            Err(MapError::PastLastId("4294967000:0:1000".into(), "container"))
        );
    }

    #[test]
    fn refuses_overlaps_on_either_side() {
        let inside = IdMap::new(IdKind::User, vec![range(0, 1000, 10), range(9, 5000, 1)]);
        assert!(matches!(inside, Err(MapError::Overlap { side: "inside", .. })));
        let outside = IdMap::new(IdKind::Group, vec![range(0, 1000, 10), range(10, 1005, 1)]);
        assert!(matches!(outside, Err(MapError::Overlap { side: "outside", .. })));
        assert!(IdMap::new(IdKind::User, vec![range(0, 1000, 1), range(1, 100_000, 65_536)]).is_ok());
    }

    #[test]
    fn refuses_too_many_ranges_and_no_root() {
        let many = (0..341).map(|i| range(i, 1000 + i, 1)).collect();
        assert!(matches!(IdMap::new(IdKind::User, many), Err(MapError::TooMany { count: 341, .. })));
        assert_eq!(IdMap::new(IdKind::User, vec![range(1, 1000, 1)]), Err(MapError::NoRoot("--uid-map")));
    }

    #[test]
    fn writes_one_line_per_range() {
        let map = IdMap::new(IdKind::User, vec![range(0, 1000, 1), range(1, 100_000, 65_536)]).unwrap();
        assert_eq!(map.to_proc_text(), "0 1000 1\n1 100000 65536\n");
        assert!(IdMap::single(IdKind::User, 1000).is_single(1000));
        assert!(!map.is_single(1000));
    }
}
