//! A scratch directory for the unit tests, standing in for a cgroup: the
//! functions under test take paths, so plain files fake the kernel's.

use std::path::{Path, PathBuf};

/// A fresh directory, removed again when dropped.
pub struct TestDir(PathBuf);

impl TestDir {
    /// Makes `$TMPDIR/greenroom-ch06-<name>-<pid>`.
    pub fn new(name: &str) -> TestDir {
        let dir = std::env::temp_dir().join(format!("greenroom-ch06-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("make a scratch directory");
        TestDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
