//! Chapter 0's challenge: the command's environment, from the command line
//! (`--env KEY=VALUE`, `--clear-env`). The book states the goal in
//! "Challenge: the command's environment"; there is no walkthrough.

use crate::layer::{BoxError, Layer};

/// One `--env KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub key: String,
    /// Its value, which may be empty or hold `=`.
    pub value: String,
}

/// Why an `--env` argument is refused.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// No `=` between the name and the value.
    #[error("{0:?} is not KEY=VALUE: it has no '='")]
    NoEquals(String),
    /// Nothing before the `=`.
    #[error("{0:?} has an empty name")]
    EmptyKey(String),
}

impl EnvVar {
    /// Parses `KEY=VALUE` (clap calls it for each `--env`, before anything
    /// is created, so a refusal ends the runtime with 125).
    pub fn parse(text: &str) -> Result<EnvVar, EnvError> {
        todo!(
            "challenge: accept KEY=VALUE and refuse what a command's environment cannot hold \
             (book: chapter 0, \"Challenge: the command's environment\")"
        )
    }
}

/// The layer that gives the command the environment asked for. It is added
/// only when `--env` or `--clear-env` is given, so a runtime without the
/// challenge done runs everything else as before.
#[derive(Debug, Clone)]
pub struct EnvLayer {
    /// Start from an empty environment instead of the caller's.
    pub clear: bool,
    /// The variables to set, in order.
    pub vars: Vec<EnvVar>,
}

impl Layer for EnvLayer {
    fn name(&self) -> &'static str {
        "env"
    }

    /// Sets the child's environment, which `execvp` passes on to the
    /// command. The child of `clone` runs one thread, so changing the
    /// process's environment here races with nothing.
    fn enter_child(&self) -> Result<(), BoxError> {
        todo!(
            "challenge: the command gets the caller's environment (none with --clear-env), \
             then every --env in order, a later one replacing an earlier \
             (book: chapter 0, \"Challenge: the command's environment\")"
        )
    }
}
