//! Reading `/proc/<pid>/mountinfo` lines (see proc(5)): the suite, the
//! graded tests and the checker's `doctor` all need the same few fields.

/// The fields of one mountinfo line that greenroom looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount<'a> {
    /// Where it is mounted (field 5).
    pub point: &'a str,
    /// Per-mount options, such as `ro,nosuid` (field 6).
    pub options: &'a str,
    /// Optional fields: propagation such as `shared:N` or `master:N`; none
    /// means private.
    pub optional: Vec<&'a str>,
    /// The file system type, after the ` - ` separator.
    pub fstype: &'a str,
    /// Per-superblock options (the last field).
    pub super_options: &'a str,
}

/// Parses one line; `None` for a line that is not a mountinfo entry.
pub fn parse_line(line: &str) -> Option<Mount<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let mut right = right.split(' ');
    Some(Mount {
        point: left.get(4)?,
        options: left.get(5)?,
        optional: left.get(6..).unwrap_or_default().to_vec(),
        fstype: right.next()?,
        super_options: right.nth(1).unwrap_or(""),
    })
}

/// Parses every line of a mountinfo file, skipping any that do not parse.
pub fn parse(text: &str) -> Vec<Mount<'_>> {
    text.lines().filter_map(parse_line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_around_the_separator() {
        let line = "45 64 0:22 / /sys ro,nosuid,nodev,noexec,relatime shared:7 master:1 - sysfs sysfs rw";
        let mount = parse_line(line).expect("a mount");
        assert_eq!(mount.point, "/sys");
        assert_eq!(mount.options, "ro,nosuid,nodev,noexec,relatime");
        assert_eq!(mount.optional, vec!["shared:7", "master:1"]);
        assert_eq!((mount.fstype, mount.super_options), ("sysfs", "rw"));
        let private = parse_line("64 42 254:0 /tmp/rfs / rw,relatime - ext4 /dev/vda rw,discard").expect("a mount");
        assert!(private.optional.is_empty());
        assert_eq!(parse("garbage\n"), Vec::new());
    }
}
