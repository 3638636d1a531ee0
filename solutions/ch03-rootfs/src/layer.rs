//! The rootfs layer: the whole procedure, in order.

use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;
use spawn::{BoxError, Layer};

use crate::pivot::PivotError;
use crate::volume::Volume;
use crate::Rootfs;

/// Moves the container into its own root file system.
#[derive(Debug, Clone)]
pub struct RootfsLayer {
    rootfs: Rootfs,
    read_only: bool,
    volumes: Vec<Volume>,
}

impl RootfsLayer {
    /// A layer that pivots into `rootfs`, read-only if asked.
    pub fn new(rootfs: Rootfs, read_only: bool) -> RootfsLayer {
        RootfsLayer { rootfs, read_only, volumes: Vec::new() }
    }

    /// The same layer, with the challenge's volumes bound into the root.
    pub fn with_volumes(self, volumes: Vec<Volume>) -> RootfsLayer {
        RootfsLayer { volumes, ..self }
    }
}

// ANCHOR: layer
impl Layer for RootfsLayer {
    fn name(&self) -> &'static str {
        "rootfs"
    }

    /// A mount namespace: every mount below happens in the container's
    /// copy of the mount table, never the host's.
    fn clone_flags(&self) -> CloneFlags {
        CloneFlags::CLONE_NEWNS
    }

    /// The order matters. Every mount is made private first, so nothing
    /// below propagates back to the host, whatever layer ran before: this
    /// layer must not rely on another one having done it. /proc and /sys
    /// are mounted inside the new root before `pivot_root` and move with it
    /// (a user namespace, chapter 5, may mount them only while the host's
    /// are in view); /dev is filled after, in the new root, with copies of
    /// the host's devices taken while they were in reach (for a rootless
    /// /dev); volumes (the challenge) are taken from the host before
    /// `pivot_root` and attached after it, where the container's own paths
    /// resolve; the root becomes read-only last, once its mount points
    /// exist.
    fn enter_child(&self) -> Result<(), BoxError> {
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        mount(None::<&str>, "/", None::<&str>, private, None::<&str>).map_err(PivotError::MountPropagation)?;
        let host_devices = crate::dev::HostDevices::copy()?;
        let volumes = self.volumes.iter().map(Volume::detach).collect::<Result<Vec<_>, _>>()?;
        crate::mounts::mount_proc_and_sys(self.rootfs.path())?;
        crate::pivot::pivot_into(self.rootfs.path())?;
        crate::dev::populate_dev(&host_devices)?;
        for volume in &volumes {
            volume.attach()?;
        }
        if self.read_only {
            crate::mounts::make_root_read_only()?;
        }
        Ok(())
    }
}
// ANCHOR_END: layer
