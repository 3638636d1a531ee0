//! A writer for the `newc` cpio format, the only archive format the Linux
//! kernel unpacks into its initial root filesystem.
//!
//! Each entry is a 110-byte ASCII header (the magic `070701` and thirteen
//! 8-digit hex fields), the NUL-terminated name, and the data; the name and
//! the data are each padded to a multiple of 4 bytes. A `TRAILER!!!` entry
//! ends the archive. The kernel accepts several archives back to back, which
//! is how a cached base image and a small per-run part are combined.
//!
//! See the kernel's `Documentation/driver-api/early-userspace/buffer-format.rst`.

use std::io::{self, Write};

/// File type bits of `st_mode`, as in `<sys/stat.h>`.
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

/// Writes a newc archive entry by entry.
///
/// Paths are relative to the archive root: `bin/busybox`, not
/// `/bin/busybox` (a leading `/` is stripped). Parents must be written before
/// their children; the kernel does not create missing directories. All
/// entries belong to root and carry mtime 0, so the same inputs always give
/// the same bytes.
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    offset: u64,
}

impl<W: Write> CpioWriter<W> {
    /// Starts an archive. `first_ino` lets a second archive that will be
    /// concatenated to a first one use inode numbers of its own.
    pub fn new(out: W, first_ino: u32) -> Self {
        Self { out, next_ino: first_ino, offset: 0 }
    }

    /// Adds a directory.
    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        self.entry(path, S_IFDIR | perm, 2, (0, 0), &[])
    }

    /// Adds a regular file with the given content.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, S_IFREG | perm, 1, (0, 0), data)
    }

    /// Adds a symbolic link; as in a real filesystem, its data is the target.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry(path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes())
    }

    /// Adds a character device node, such as `dev/console` (5, 1).
    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(path, S_IFCHR | perm, 1, (major, minor), &[])
    }

    /// Writes the trailer and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        // The trailer is an ordinary header whose name marks the end.
        self.next_ino = 0;
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[])?;
        Ok(self.out)
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) -> io::Result<()> {
        let name = path.trim_start_matches('/');
        if name.is_empty() || name.contains('\0') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid path in archive: {path:?}")));
        }
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{path} is larger than 4 GiB")))?;
        let ino = self.next_ino;
        self.next_ino = self.next_ino.wrapping_add(1);
        // The name size counts the terminating NUL.
        let name_size = name.len() as u32 + 1;
        let fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev.0, rdev.1, name_size, 0];
        let mut header = String::with_capacity(110);
        header.push_str("070701");
        for field in fields {
            header.push_str(&format!("{field:08x}"));
        }
        self.write(header.as_bytes())?;
        self.write(name.as_bytes())?;
        self.write(&[0])?;
        self.pad()?;
        self.write(data)?;
        self.pad()
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Pads with zeros to the next multiple of 4, counted from the archive
    /// start (archives are only ever concatenated at 4-byte boundaries).
    fn pad(&mut self) -> io::Result<()> {
        let padding = (4 - self.offset % 4) % 4;
        self.write(&[0; 3][..padding as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn sample() -> Vec<u8> {
        let mut w = CpioWriter::new(Vec::new(), 1);
        w.dir("bin", 0o755).unwrap();
        w.file("/bin/hello", 0o644, b"hello\n").unwrap();
        w.symlink("bin/sh", "busybox").unwrap();
        w.dir("dev", 0o755).unwrap();
        w.char_device("dev/console", 0o600, 5, 1).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn header_layout_matches_newc() {
        let mut w = CpioWriter::new(Vec::new(), 7);
        w.file("a", 0o644, b"xyz").unwrap();
        let bytes = w.into_inner_for_test();
        let header = std::str::from_utf8(&bytes[..110]).unwrap();
        assert_eq!(&header[..6], "070701");
        assert_eq!(&header[6..14], "00000007", "inode");
        assert_eq!(&header[14..22], "000081a4", "mode: regular file 0644");
        assert_eq!(&header[54..62], "00000003", "file size");
        assert_eq!(&header[94..102], "00000002", "name size with NUL");
        // 110 + "a\0" = 112 is aligned; then 3 data bytes and 1 pad byte.
        assert_eq!(&bytes[110..112], b"a\0");
        assert_eq!(&bytes[112..115], b"xyz");
        assert_eq!(bytes.len(), 116);
    }

    #[test]
    fn archive_is_aligned_and_ends_with_trailer() {
        let bytes = sample();
        assert_eq!(bytes.len() % 4, 0);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("TRAILER!!!"));
    }

    #[test]
    fn rejects_empty_names() {
        let mut w = CpioWriter::new(Vec::new(), 1);
        assert!(w.file("/", 0o644, b"").is_err());
    }

    /// GNU cpio (or busybox's) must read back every entry we wrote.
    #[test]
    fn cpio_tool_reads_it_back() {
        let tool = ["cpio", "busybox"]
            .into_iter()
            .find(|t| Command::new(t).arg("--help").stderr(Stdio::null()).stdout(Stdio::null()).status().is_ok());
        let Some(tool) = tool else {
            eprintln!("skipped: neither cpio nor busybox is installed");
            return;
        };
        let mut cmd = Command::new(tool);
        if tool == "busybox" {
            cmd.arg("cpio");
        }
        let mut child =
            cmd.args(["-t", "-v"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(&sample()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout).unwrap();
        for expected in ["bin", "bin/hello", "bin/sh -> busybox", "dev/console"] {
            assert!(listing.contains(expected), "{expected:?} missing from:\n{listing}");
        }
        assert!(listing.lines().any(|l| l.starts_with('c') && l.contains("dev/console")));
    }

    impl<W: Write> CpioWriter<W> {
        fn into_inner_for_test(self) -> W {
            self.out
        }
    }
}
