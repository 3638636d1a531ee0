//! The `--rootfs` directory, checked before anything is created.

use std::path::{Path, PathBuf};

/// Why a `--rootfs` was refused.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// The path is relative.
    #[error("--rootfs {0:?} is a relative path: give an absolute one, such as \"$PWD/{0}\"")]
    Relative(String),
    /// Nothing is there.
    #[error("--rootfs {0:?} does not exist: make one with `cargo run -p checker -- rootfs DIR`")]
    Missing(String),
    /// Something other than a directory is there.
    #[error("--rootfs {0:?} is not a directory")]
    NotADirectory(String),
}

/// A directory that exists, named by an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rootfs(PathBuf);

impl Rootfs {
    /// Checks `path`. A relative path is refused rather than resolved: the
    /// runtime changes directory while it works, and "relative to what?"
    /// has no good answer then.
    pub fn parse(path: &str) -> Result<Rootfs, RootfsError> {
        // STARTER: todo!(
        // STARTER:     "refuse a path that cannot be a root file system: relative, missing, or \
        // STARTER:      not a directory (book: chapter 3, \"The --rootfs argument\")"
        // STARTER: )
        // SOLUTION BEGIN
        let path_buf = PathBuf::from(path);
        if !path_buf.is_absolute() {
            return Err(RootfsError::Relative(path.to_string()));
        }
        match std::fs::metadata(&path_buf) {
            Err(_) => Err(RootfsError::Missing(path.to_string())),
            Ok(meta) if !meta.is_dir() => Err(RootfsError::NotADirectory(path.to_string())),
            Ok(_) => Ok(Rootfs(path_buf)),
        }
        // SOLUTION END
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_existing_absolute_directories_pass() {
        assert!(Rootfs::parse("/").is_ok());
        assert!(matches!(Rootfs::parse("rootfs"), Err(RootfsError::Relative(_))));
        assert!(matches!(Rootfs::parse("/no/such/greenroom/dir"), Err(RootfsError::Missing(_))));
        assert!(matches!(Rootfs::parse("/proc/self/status"), Err(RootfsError::NotADirectory(_))));
    }
}
