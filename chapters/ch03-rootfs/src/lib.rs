//! Chapter 3 — rootfs: the container's own root file system.
//!
//! A mount namespace gives the container its own copy of the mount table;
//! `pivot_root` then swaps its root for a directory of our choosing and the
//! old root is unmounted, so nothing of the host's files stays reachable.
//! Inside, the container gets the mounts every Linux program expects: /proc,
//! a read-only /sys, and a small /dev with only harmless devices.

// While functions are still `todo!`, some arguments and items are unused:
// this keeps the compiler quiet about them. Delete it when you are done.
#![allow(unused_variables, unused_mut, dead_code, unused_imports)]

pub mod dev;
pub mod layer;
pub mod mounts;
pub mod pivot;
pub mod root;
pub mod volume;

pub use layer::RootfsLayer;
pub use root::{Rootfs, RootfsError};
pub use volume::{Volume, VolumeError};

use spawn::Layer;

/// Chapter 3's arguments to `run`: chapter 2's, plus `--rootfs` and
/// `--read-only`.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "rootfs_args")]
pub struct RunArgs {
    /// The directory to use as the container's root, as an absolute path
    /// (e.g. one made by `checker rootfs DIR`). Without it, the container
    /// sees the host's files.
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<String>,

    /// Make the container's root file system read-only.
    #[arg(long, requires = "rootfs")]
    pub read_only: bool,

    /// Challenge: bind the host's directory or file HOST at CONTAINER
    /// inside the root, read-only with `:ro`. Repeatable.
    #[arg(long, value_name = "HOST:CONTAINER[:ro]", requires = "rootfs")]
    pub volume: Vec<String>,

    /// Everything chapter 2 accepts.
    #[command(flatten)]
    pub pid: pid::RunArgs,
}

impl RunArgs {
    /// The command to run.
    pub fn command(&self) -> &[String] {
        self.pid.command()
    }
}

/// The layers of a chapter 3 container: chapter 2's, then the root file
/// system. The directory is checked here, before anything is created.
pub fn layers(args: &RunArgs) -> anyhow::Result<Vec<Box<dyn Layer>>> {
    let rootfs = args.rootfs.as_deref().map(Rootfs::parse).transpose()?;
    let volumes = args.volume.iter().map(|text| Volume::parse(text)).collect::<Result<Vec<_>, _>>()?;
    let mut layers = pid::layers(&args.pid)?;
    if let Some(rootfs) = rootfs {
        layers.push(Box::new(RootfsLayer::new(rootfs, args.read_only).with_volumes(volumes)));
    }
    Ok(layers)
}
