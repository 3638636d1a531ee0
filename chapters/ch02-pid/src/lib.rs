//! Chapter 2 — pid: a PID namespace, a /proc that shows only the container,
//! and a tiny init that does PID 1's duties.
//!
//! The first process in a new PID namespace is its PID 1, and PID 1 is
//! special: orphans are re-parented to it, so it must reap them or they stay
//! zombies; and the kernel does not apply default signal actions to it, so a
//! plain program as PID 1 ignores SIGTERM. Rather than ask every command to
//! know this, the runtime keeps a minimal init as PID 1 that runs the command
//! as PID 2, reaps every child, and forwards signals to the command.

// While functions are still `todo!`, some arguments and items are unused:
// this keeps the compiler quiet about them. Delete it when you are done.
#![allow(unused_variables, unused_mut, dead_code, unused_imports)]

pub mod forward;
pub mod init;
pub mod layer;
pub mod pidfile;
pub mod proc;

pub use init::TinyInit;
pub use layer::PidLayer;

use spawn::Layer;

/// Chapter 2's arguments to `run`: everything chapter 1 has, and the pid
/// file of its challenge.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "pid")]
pub struct RunArgs {
    /// Write the host's pid of the container's first process to PATH while
    /// the container runs (chapter 2's challenge).
    #[arg(long = "pid-file", value_name = "PATH", value_parser = pidfile::PidFile::parse)]
    pub pid_file: Option<pidfile::PidFile>,

    /// Everything chapter 1 accepts.
    #[command(flatten)]
    pub uts: uts::RunArgs,
}

impl RunArgs {
    /// The command to run.
    pub fn command(&self) -> &[String] {
        &self.uts.spawn.command
    }
}

/// The layers of a chapter 2 container: chapter 1's, then the PID layer.
pub fn layers(args: &RunArgs) -> anyhow::Result<Vec<Box<dyn Layer>>> {
    let mut layers = uts::layers(&args.uts)?;
    layers.push(Box::new(PidLayer));
    // The challenge's layer, only when asked for: a runtime without it done
    // runs everything else as before.
    if let Some(file) = &args.pid_file {
        layers.push(Box::new(pidfile::PidFileLayer { file: file.clone() }));
    }
    Ok(layers)
}
