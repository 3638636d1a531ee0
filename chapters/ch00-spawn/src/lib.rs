//! Chapter 0 — spawn: run a command in a child process.
//!
//! Every container starts life as an ordinary child process. This crate
//! clones that child, lets each isolation [`Layer`] prepare it, executes the
//! command in it, and relays its fate back as an exit code:
//!
//! | exit code | meaning                                   |
//! |-----------|-------------------------------------------|
//! | 0–255     | the command's own exit code, when it exits |
//! | 125       | the runtime itself failed                  |
//! | 126       | the command exists but cannot be executed  |
//! | 127       | the command was not found                  |
//! | 128 + N   | the command was killed by signal N         |
//!
//! A command may exit with 125–127 itself, as with a shell; the runtime's
//! own failures also print a `greenroom:` message on stderr.
//!
//! Later chapters add layers (a hostname, a PID namespace, a root file
//! system, …); the core in [`container`] runs them all in order, and last
//! starts the container's [`Init`] if a layer supplies one.

// While functions are still `todo!`, some arguments and items are unused:
// this keeps the compiler quiet about them. Delete it when you are done.
#![allow(unused_variables, unused_mut, dead_code, unused_imports)]

pub mod cli;
pub mod container;
pub mod env;
pub mod exit;
pub mod gate;
pub mod init;
pub mod layer;

pub use cli::RunArgs;
pub use container::{create, run, Error};
pub use gate::Gate;
pub use init::Init;
pub use layer::{BoxError, Layer};

/// The layers chapter 0 adds: none, but for its challenge's environment
/// when asked for. Chapter 0 is the core every layer plugs into; later
/// chapters call this first and push their own layers after it.
pub fn layers(args: &RunArgs) -> anyhow::Result<Vec<Box<dyn Layer>>> {
    let mut layers: Vec<Box<dyn Layer>> = Vec::new();
    if args.clear_env || !args.env.is_empty() {
        layers.push(Box::new(env::EnvLayer { clear: args.clear_env, vars: args.env.clone() }));
    }
    Ok(layers)
}
