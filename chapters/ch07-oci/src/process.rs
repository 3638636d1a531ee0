//! The config's `process.cwd` and `process.env`, until the hardening
//! modules' `harden::ProcessHardening` (which sets them along with the
//! user, capabilities, rlimits, `no_new_privs` and seccomp) takes over.
//!
//! HARDEN: this whole module goes when `harden::ProcessHardening` lands;
//! `plan::process_layer` is its one call site.

use std::ffi::OsString;
use std::path::PathBuf;

use oci_spec::runtime::Process;
use spawn::{BoxError, Layer};

/// What can go wrong setting up the process.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// `chdir` failed.
    #[error("change directory to process.cwd {0}")]
    Cwd(PathBuf, #[source] std::io::Error),
    /// An `env` entry without `=`.
    #[error("process.env entry {0:?} is not NAME=VALUE")]
    Env(String),
}

/// Sets the working directory and the environment the config gives.
#[derive(Debug, Clone)]
pub struct ProcessBasics {
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl ProcessBasics {
    /// Checks `process.env` now, before anything is created.
    pub fn from_spec(process: &Process) -> Result<ProcessBasics, ProcessError> {
        let mut env = Vec::new();
        for entry in process.env().iter().flatten() {
            let (name, value) = entry.split_once('=').ok_or_else(|| ProcessError::Env(entry.clone()))?;
            env.push((name.into(), value.into()));
        }
        Ok(ProcessBasics { cwd: process.cwd().clone(), env })
    }
}

impl Layer for ProcessBasics {
    fn name(&self) -> &'static str {
        "process"
    }

    /// In the new root, last: the command's environment is the config's
    /// alone (none of the runtime's), and `execvp` then searches its PATH.
    fn enter_child(&self) -> Result<(), BoxError> {
        std::env::set_current_dir(&self.cwd).map_err(|e| ProcessError::Cwd(self.cwd.clone(), e))?;
        let old: Vec<OsString> = std::env::vars_os().map(|(name, _)| name).collect();
        for name in old {
            // SAFETY: the container's process is single-threaded: no other
            // thread reads the environment while it changes.
            unsafe { std::env::remove_var(name) };
        }
        for (name, value) in &self.env {
            // SAFETY: as above.
            unsafe { std::env::set_var(name, value) };
        }
        Ok(())
    }
}
