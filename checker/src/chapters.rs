//! The course's chapters, as the command line names them.
//!
//! The table itself lives in the suite crate ([`suite::chapters::CHAPTERS`]),
//! which the guest's test binary and the checker both link: one copy, so
//! the chapter the checker builds is the chapter the suite grades.

pub use suite::chapters::{chapter, Chapter, CHAPTERS};

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
        let last = CHAPTERS.last().map_or(0, |c| c.number);
        let unknown = format!("chapter{}", last + 1);
        assert!(parse_chapter(&unknown).is_err_and(|e| e.contains(&format!("chapter0 to chapter{last}"))));
        assert!(parse_chapter("uts").is_err());
    }
}
