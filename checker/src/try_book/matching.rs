//! Does what the guest printed match what the page shows?
//!
//! Line by line and exactly, except for what changes from one boot to the
//! next, which no page can know:
//! - a number of three digits or more (process IDs, namespace inodes,
//!   sizes), unless it is an exit status: after "exit code", "exit=" or
//!   "status", or a line that is only the number, printed by `echo $?`;
//! - a decimal number (`time=0.071 ms`), a date with its time (`ls -l`),
//!   a timestamp (`2026-12-07T12:41:11.056Z`), and a container's
//!   identifier (64 hexadecimal digits, or the 12 that podman shows);
//! - the width of a run of spaces (columns that `ps` and `ls -l` align to
//!   the widest value);
//! - `…`, which the page writes for text it leaves out: within a line it
//!   stands for any text, on a line of its own for any number of lines.

use std::sync::LazyLock;

use regex::Regex;

/// What varies between boots, each at the start of the text it is tried
/// on; compiled once, not for every line of every page.
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d+ +(?:\d\d:\d\d|\d{4})")
        .expect("a valid regex")
});
static DECIMAL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d+\.\d+").expect("a valid regex"));
static TIMESTAMP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?").expect("a valid regex"));
static LONG_HEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[0-9a-f]{64}|[0-9a-f]{12})\b").expect("a valid regex"));

/// One line of a page's expected output, ready to compare.
#[derive(Debug)]
enum LinePattern {
    /// `…` alone: any number of lines, none included.
    AnyLines,
    /// One line.
    Line(Regex),
}

/// Whether `actual`, the guest's output of `command`, matches `expected`,
/// the page's lines.
pub fn matches(expected: &[String], command: &str, actual: &str) -> bool {
    let patterns: Vec<LinePattern> = expected.iter().map(|line| pattern(line, command)).collect();
    let lines = output_lines(actual);
    let lines: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    match_from(&patterns, &lines)
}

/// The lines of a command's output, without the empty one after the last
/// newline.
pub fn output_lines(actual: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = actual.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

fn match_from(patterns: &[LinePattern], lines: &[&str]) -> bool {
    match patterns.split_first() {
        None => lines.is_empty(),
        Some((LinePattern::AnyLines, rest)) => (0..=lines.len()).any(|skip| match_from(rest, &lines[skip..])),
        Some((LinePattern::Line(regex), rest)) => {
            lines.first().is_some_and(|line| regex.is_match(line)) && match_from(rest, &lines[1..])
        }
    }
}

/// The pattern of one expected line.
fn pattern(expected: &str, command: &str) -> LinePattern {
    let expected = expected.trim_end();
    if expected == "…" {
        return LinePattern::AnyLines;
    }
    let (date, decimal, timestamp, long_hex) = (&*DATE, &*DECIMAL, &*TIMESTAMP, &*LONG_HEX);
    let chars: Vec<(usize, char)> = expected.char_indices().collect();
    let only_a_number = expected.trim().chars().all(|c| c.is_ascii_digit());
    let prints_a_status = command.trim_end().ends_with("$?");
    let mut regex = String::from("^");
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let rest = &expected[at..];
        let previous = i.checked_sub(1).map(|p| chars[p].1);
        let starts_word = !previous.is_some_and(|p| p.is_ascii_alphanumeric());
        if c == '…' {
            regex.push_str(".*");
            i += 1;
        } else if let Some(found) = timestamp.find(rest).filter(|_| starts_word) {
            regex.push_str(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?");
            i += found.end();
        } else if let Some(found) =
            long_hex.find(rest).filter(|f| starts_word && f.as_str().chars().any(|c| c.is_ascii_digit()))
        {
            regex.push_str(r"[0-9a-f]+");
            i += found.end();
        } else if let Some(found) = date.find(rest).filter(|_| starts_word) {
            regex.push_str(r"[A-Z][a-z]{2} +\d+ +(?:\d\d:\d\d|\d{4})");
            i += rest[..found.end()].chars().count();
        } else if let Some(found) = decimal.find(rest).filter(|_| starts_word) {
            regex.push_str(r"\d+(?:\.\d+)?");
            i += found.end();
        } else if c.is_ascii_digit() && starts_word {
            let word: String = chars[i..].iter().map(|&(_, c)| c).take_while(|c| c.is_ascii_alphanumeric()).collect();
            let is_number = word.chars().all(|c| c.is_ascii_digit());
            let status = exit_status_context(&expected[..at]) || (only_a_number && prints_a_status);
            if is_number && word.len() >= 3 && !status {
                regex.push_str(r"\d+");
            } else {
                regex.push_str(&regex::escape(&word));
            }
            i += word.chars().count();
        } else if c == ' ' {
            let run = chars[i..].iter().take_while(|&&(_, c)| c == ' ').count();
            regex.push_str(if i == 0 { " *" } else { " +" });
            i += run;
        } else {
            regex.push_str(&regex::escape(&c.to_string()));
            i += 1;
        }
    }
    regex.push('$');
    LinePattern::Line(Regex::new(&regex).expect("escaped text is a valid regex"))
}

/// Whether a number after `before` is an exit status, which must match.
fn exit_status_context(before: &str) -> bool {
    let before = before.to_lowercase();
    ["exit code ", "exit=", "exit ", "status ", "status="].iter().any(|word| before.ends_with(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn text_matches_exactly() {
        assert!(matches(&lines("greenroom-guest"), "hostname", "greenroom-guest\n"));
        assert!(!matches(&lines("greenroom-guest"), "hostname", "rock-band\n"));
        assert!(!matches(&lines("a"), "x", "a\nb\n"));
        assert!(matches(&[], "true", ""));
        assert!(!matches(&[], "true", "oops\n"));
    }

    #[test]
    fn what_changes_between_boots_may_differ() {
        assert!(matches(&lines("uts:[4026532178]"), "readlink", "uts:[4026532251]\n"));
        assert!(matches(&lines("Pid:\t612"), "grep", "Pid:\t1612\n"));
        assert!(matches(&lines("64 bytes: time=0.071 ms"), "ping", "64 bytes: time=1.5 ms\n"));
        assert!(matches(
            &lines("-rw-r--r--    1 root     root    5 Dec  7 15:30 f"),
            "ls -l",
            "-rw-r--r--    1 root     root    5 Jan 12  2027 f\n"
        ));
        assert!(matches(&lines("  612 root  sleep"), "ps", " 1612 root  sleep\n"));
        assert!(matches(
            &lines(r#"  "created": "2026-12-07T12:41:11.056057108Z","#),
            "runc state",
            "  \"created\": \"2027-01-02T03:04:05.1Z\",\n"
        ));
        assert!(matches(&lines("0fd26aa14e08  web"), "podman ps", "ab6cef4dc053  web\n"));
    }

    #[test]
    fn small_numbers_and_exit_statuses_must_match() {
        assert!(!matches(&lines("room B: I am 1"), "echo", "room B: I am 2\n"));
        assert!(!matches(&lines("exit code 125"), "x; echo \"exit code $?\"", "exit code 127\n"));
        assert!(!matches(&lines("125"), "x; echo $?", "127\n"));
        assert!(matches(&lines("612"), "pidof sleep", "1612\n"));
        assert!(!matches(&lines("CapEff:\t000001ffffffffff"), "grep", "CapEff:\t0000003fffffffff\n"));
    }

    #[test]
    fn an_ellipsis_leaves_text_or_lines_out() {
        assert!(matches(&lines("79: grv-host@if80: <BROADCAST> …"), "ip", "79: grv-host@if80: <BROADCAST> mtu 1500\n"));
        assert!(matches(&lines("first\n…\nlast"), "x", "first\na\nb\nlast\n"));
        assert!(matches(&lines("first\n…\nlast"), "x", "first\nlast\n"));
        assert!(!matches(&lines("first\n…\nlast"), "x", "first\na\n"));
    }
}
