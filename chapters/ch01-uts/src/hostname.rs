//! A hostname that the kernel and every resolver will accept.

use std::fmt;

/// The kernel's limit on a hostname (`HOST_NAME_MAX`), in bytes.
pub const MAX_LEN: usize = 64;

/// The longest label (the part between dots) RFC 1123 allows.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a hostname was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    /// The name is empty.
    #[error("invalid hostname \"\": it is empty")]
    Empty,
    /// The name is longer than the kernel allows.
    #[error("invalid hostname {name:?}: it is {len} bytes long, the limit is {MAX_LEN}")]
    TooLong {
        /// The name given.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A label is empty or longer than 63 bytes.
    #[error("invalid hostname {name:?}: each label (a part between dots) must be 1 to {MAX_LABEL_LEN} characters")]
    BadLabelLength {
        /// The name given.
        name: String,
    },
    /// A label starts or ends with a hyphen.
    #[error("invalid hostname {name:?}: a label cannot start or end with '-'")]
    HyphenAtEdge {
        /// The name given.
        name: String,
    },
    /// A character outside letters, digits, hyphens and dots.
    #[error("invalid hostname {name:?}: {bad:?} is not allowed (use letters, digits, '-' and '.')")]
    BadCharacter {
        /// The name given.
        name: String,
        /// The first character refused.
        bad: char,
    },
}

/// A hostname checked against RFC 1123: dot-separated labels of ASCII
/// letters, digits and hyphens, no label starting or ending with a hyphen,
/// at most 64 bytes in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(String);

impl Hostname {
    /// Checks `name` and wraps it; a `Hostname` is always valid, so the
    /// layer that sets it never needs to check again.
    pub fn parse(name: &str) -> Result<Hostname, HostnameError> {
        todo!(
            "check `name` against the rules for a hostname and return the \
             HostnameError of the first rule it breaks (book: chapter 1, \"Valid \
             hostnames\"; `cargo test -p uts` checks your work without root)"
        )
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc_1123_names() {
        for name in ["rock-band", "drama-club", "a", "x1", "room.example", "A-1.b-2", "9lives"] {
            assert!(Hostname::parse(name).is_ok(), "{name} should be accepted");
        }
        let longest = format!("{}.{}", "a".repeat(32), "b".repeat(31));
        assert_eq!(longest.len(), MAX_LEN);
        assert!(Hostname::parse(&longest).is_ok());
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(Hostname::parse(""), Err(HostnameError::Empty));
        assert!(matches!(Hostname::parse(&"a".repeat(65)), Err(HostnameError::TooLong { len: 65, .. })));
        assert!(matches!(Hostname::parse(&"a".repeat(64)), Err(HostnameError::BadLabelLength { .. })));
        assert!(matches!(Hostname::parse("-band"), Err(HostnameError::HyphenAtEdge { .. })));
        assert!(matches!(Hostname::parse("band-"), Err(HostnameError::HyphenAtEdge { .. })));
        assert!(matches!(Hostname::parse("a..b"), Err(HostnameError::BadLabelLength { .. })));
        assert!(matches!(Hostname::parse("rock_band"), Err(HostnameError::BadCharacter { bad: '_', .. })));
        assert!(matches!(Hostname::parse("rock band"), Err(HostnameError::BadCharacter { bad: ' ', .. })));
        assert!(matches!(Hostname::parse("bänd"), Err(HostnameError::BadCharacter { bad: 'ä', .. })));
    }
}
