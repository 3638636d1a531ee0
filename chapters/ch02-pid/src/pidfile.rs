//! Chapter 2's challenge: `--pid-file PATH`, where an engine finds the
//! container's first process. The book states the goal in "Challenge: a
//! pid file"; there is no walkthrough.

use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use spawn::{BoxError, Layer};

/// Why a `--pid-file` is refused, or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// The file's folder does not exist (or is no folder).
    #[error("--pid-file {0}: its folder does not exist")]
    NoFolder(PathBuf),
    /// The path names a folder.
    #[error("--pid-file {0}: that is a folder, not a file")]
    IsAFolder(PathBuf),
    /// Writing it failed.
    #[error("write the pid file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// A checked `--pid-file` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFile(pub PathBuf);

impl PidFile {
    /// Checks PATH (clap calls it as the arguments are parsed, before
    /// anything is created, so a refusal ends the runtime with 125).
    pub fn parse(text: &str) -> Result<PidFile, PidFileError> {
        todo!(
            "challenge: accept a path the runtime will be able to write the pid file at, and \
             refuse the others before anything exists (book: chapter 2, \"Challenge: a pid file\")"
        )
    }
}

/// The layer that writes the pid file once the container's first process
/// exists, and removes it when the container is gone.
#[derive(Debug, Clone)]
pub struct PidFileLayer {
    /// Where.
    pub file: PidFile,
}

impl Layer for PidFileLayer {
    fn name(&self) -> &'static str {
        "pid-file"
    }

    /// Writes the child's pid, as the host numbers it, whole: a reader
    /// never sees the file empty or cut.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        todo!(
            "challenge: the file holds the pid of the container's first process, as the host \
             numbers it, and no reader ever sees it empty or cut \
             (book: chapter 2, \"Challenge: a pid file\")"
        )
    }

    /// Removes the file: the pid it holds may belong to another process
    /// once the container is gone.
    fn cleanup(&self) -> Result<(), BoxError> {
        todo!(
            "challenge: once the container is gone, so is its pid file \
             (book: chapter 2, \"Challenge: a pid file\")"
        )
    }
}
