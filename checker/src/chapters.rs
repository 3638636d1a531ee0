//! The course's chapters: where each one's crate lives and what it builds.

/// One chapter of the course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chapter {
    /// Its number, 0 upwards.
    pub number: u8,
    /// The crate's folder in `chapters/` and `solutions/`.
    pub dir: &'static str,
    /// The crate's package name, which is also its binary's name.
    pub package: &'static str,
    /// The layer it adds, in a few words.
    pub title: &'static str,
    /// Its page in the book.
    pub book: &'static str,
}

/// Every chapter that exists so far, in order.
pub const CHAPTERS: &[Chapter] = &[
    Chapter { number: 0, dir: "ch00-spawn", package: "spawn", title: "clone, exec, wait", book: "ch00-spawn.md" },
    Chapter { number: 1, dir: "ch01-uts", package: "uts", title: "UTS namespace and hostname", book: "ch01-uts.md" },
    Chapter { number: 2, dir: "ch02-pid", package: "pid", title: "PID namespace, /proc, init", book: "ch02-pid.md" },
    Chapter {
        number: 3,
        dir: "ch03-rootfs",
        package: "rootfs",
        title: "mount namespace, pivot_root",
        book: "ch03-rootfs.md",
    },
    Chapter {
        number: 4,
        dir: "ch04-net",
        package: "net",
        title: "network namespace, veth, bridge",
        book: "ch04-net.md",
    },
];

/// Looks a chapter up by number.
pub fn chapter(number: u8) -> Option<&'static Chapter> {
    CHAPTERS.iter().find(|c| c.number == number)
}

/// Parses `chapter3`, `ch3` or `3`.
pub fn parse_chapter(text: &str) -> Result<&'static Chapter, String> {
    let digits = text.strip_prefix("chapter").or_else(|| text.strip_prefix("ch")).unwrap_or(text);
    let last = CHAPTERS.last().map_or(0, |c| c.number);
    digits.parse::<u8>().ok().and_then(chapter).ok_or_else(|| {
        format!("unknown chapter {text:?}: greenroom has chapter0 to chapter{last} (see `checker list`)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters_parse_in_every_spelling() {
        for text in ["chapter1", "ch1", "1", "chapter01"] {
            assert_eq!(parse_chapter(text).map(|c| c.number), Ok(1), "{text}");
        }
        assert!(parse_chapter("chapter9").is_err_and(|e| e.contains("chapter0 to chapter")));
        assert!(parse_chapter("uts").is_err());
    }

    #[test]
    fn the_table_matches_the_suite() {
        let numbers: Vec<u8> = CHAPTERS.iter().map(|c| c.number).collect();
        assert_eq!(numbers, (0..=suite::last_chapter()).collect::<Vec<_>>());
    }
}
