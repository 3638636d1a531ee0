//! Chapter 5 — user: a user namespace, its uid and gid maps, and rootless
//! containers.
//!
//! A user namespace gives the container its own ids: uid 0 inside is some
//! other uid outside, chosen by a map the parent writes. Root inside holds
//! every capability — over the container's own namespaces only. Every
//! other namespace is created with it, in one `clone`, and belongs to it.
//! The same mechanism lets a user without privilege run a container: their
//! own uid becomes root of it.

// While functions are still `todo!`, some arguments and items are unused:
// this keeps the compiler quiet about them. Delete it when you are done.
#![allow(unused_variables, unused_mut, dead_code, unused_imports)]

pub mod host;
pub mod keep_id;
pub mod layer;
pub mod map;
pub mod plan;
pub mod rootless;
pub mod write;

use std::path::Path;

use spawn::Layer;

pub use layer::UserLayer;
pub use map::{IdKind, IdMap, IdRange};
pub use plan::UserNamespace;

use crate::host::{HostIds, HELPER_DIRS};

/// Chapter 5's arguments to `run`: chapter 4's, plus `--uid-map` and
/// `--gid-map`.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "user_args")]
pub struct RunArgs {
    /// Map container uids to host uids: CONTAINER:HOST:SIZE, repeatable.
    /// Root gets no user namespace without it; anyone else always gets one.
    #[arg(long = "uid-map", value_name = "CONTAINER:HOST:SIZE", value_parser = IdRange::parse)]
    pub uid_map: Vec<IdRange>,

    /// Map container gids to host gids: CONTAINER:HOST:SIZE, repeatable.
    #[arg(long = "gid-map", value_name = "CONTAINER:HOST:SIZE", value_parser = IdRange::parse)]
    pub gid_map: Vec<IdRange>,

    /// Challenge: keep your own uid and gid inside the container (the
    /// other ids come from your subordinate ranges). Not with the maps.
    #[arg(long, conflicts_with_all = ["uid_map", "gid_map"])]
    pub keep_id: bool,

    /// Everything chapter 4 accepts.
    #[command(flatten)]
    pub net: net::RunArgs,
}

impl RunArgs {
    /// The command to run.
    pub fn command(&self) -> &[String] {
        self.net.command()
    }
}

// ANCHOR: layers
/// The layers of a chapter 5 container: the user namespace first (its
/// `enter_child` makes the child root of the container before the other
/// layers mount or configure anything), then chapter 4's. The maps, and
/// what a caller without privilege may ask for, are checked before
/// anything is created.
pub fn layers(args: &RunArgs) -> anyhow::Result<Vec<Box<dyn Layer>>> {
    let host = HostIds::read(Path::new("/etc"), &HELPER_DIRS);
    let namespace = match args.keep_id {
        true => Some(keep_id::keep_id_namespace(&host)?),
        false => plan::plan(&args.uid_map, &args.gid_map, &host)?,
    };
    if host.uid != 0 {
        rootless::check(&args.net)?;
    }
    let mut layers: Vec<Box<dyn Layer>> = Vec::new();
    if let Some(namespace) = namespace {
        layers.push(Box::new(UserLayer::new(namespace)));
    }
    layers.extend(net::layers(&args.net)?);
    // The challenge's change of user, after everything done as root inside.
    if args.keep_id {
        layers.push(Box::new(keep_id::KeepIdLayer { uid: host.uid, gid: host.gid }));
    }
    Ok(layers)
}
// ANCHOR_END: layers
