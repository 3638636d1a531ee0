//! The cgroups layer: a cgroup per container, limited before the command
//! runs, a cgroup namespace around it, and nothing left behind.

use std::cell::RefCell;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::Pid;
use spawn::{BoxError, Layer};

use crate::cgroup::{self, Controller};
use crate::limits::Limits;
use crate::stale;

/// Where the container's cgroup goes, decided before anything is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The cgroup2 mount point, such as `/sys/fs/cgroup`.
    pub mount: PathBuf,
    /// The parent of the container's cgroup, relative to `mount`.
    pub parent: PathBuf,
    /// The runtime's own cgroup when it started, relative to `mount`.
    pub own: PathBuf,
}

/// What failed inside, in the child.
#[derive(Debug, thiserror::Error)]
pub enum EnterError {
    /// `unshare(CLONE_NEWCGROUP)` failed.
    #[error("create a cgroup namespace (unshare CLONE_NEWCGROUP)")]
    Namespace(#[source] Errno),
    /// The container's own cgroup2 could not be mounted.
    #[error("mount the container's cgroup2 on /sys/fs/cgroup")]
    Mount(#[source] Errno),
}

/// What the runtime made, to undo in `cleanup`.
#[derive(Debug, Default)]
struct Made {
    /// The container's cgroup.
    container: Option<PathBuf>,
    /// The leaf the runtime moved itself into, and the controllers it then
    /// enabled in the parent.
    supervisor: Option<(PathBuf, Vec<Controller>)>,
}

/// Puts the container in a cgroup of its own, with its limits.
#[derive(Debug)]
pub struct CgroupLayer {
    placement: Option<Placement>,
    limits: Limits,
    mount_inside: bool,
    made: RefCell<Made>,
}

impl CgroupLayer {
    /// A layer putting the container under `placement` with `limits`
    /// (`None`: no cgroup, which only a run without limits may have), and
    /// mounting its cgroup2 inside if `mount_inside` (there is a new root).
    pub fn new(placement: Option<Placement>, limits: Limits, mount_inside: bool) -> CgroupLayer {
        CgroupLayer { placement, limits, mount_inside, made: RefCell::new(Made::default()) }
    }
}

// ANCHOR: layer
impl Layer for CgroupLayer {
    fn name(&self) -> &'static str {
        "cgroups"
    }

    /// The cgroup is made, limited and entered while the child waits:
    /// nothing the command does can happen outside its limits.
    fn prepare_parent(&self, child: Pid) -> Result<(), BoxError> {
        let Some(placement) = &self.placement else { return Ok(()) };
        let mut made = self.made.borrow_mut();
        prepare(placement, &self.limits, child, &mut made)?;
        Ok(())
    }

    /// Once in its cgroup, the child makes that cgroup the root of a new
    /// cgroup namespace, and shows only its own subtree inside.
    fn enter_child(&self) -> Result<(), BoxError> {
        // STARTER: todo!(
        // STARTER:     "make the cgroup the child is in now the root of its own view, and with a new root show it \
        // STARTER:      at /sys/fs/cgroup, where it can be read but not changed, nor used to run or open anything \
        // STARTER:      (book: chapter 6, \"A cgroup namespace, after the move\")"
        // STARTER: )
        // SOLUTION BEGIN
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(EnterError::Namespace)?;
        if self.mount_inside {
            let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(Some("cgroup2"), "/sys/fs/cgroup", Some("cgroup2"), flags, None::<&str>)
                .map_err(EnterError::Mount)?;
        }
        Ok(())
        // SOLUTION END
    }

    /// Reports an OOM kill, then kills and removes the container's cgroup,
    /// and takes the runtime back out of its leaf.
    fn cleanup(&self) -> Result<(), BoxError> {
        let Some(placement) = &self.placement else { return Ok(()) };
        let mut made = self.made.borrow_mut();
        if let Some(dir) = made.container.take() {
            if let Some(memory) = &self.limits.memory {
                if cgroup::oom_kills(&dir).unwrap_or(0) > 0 {
                    eprintln!(
                        "greenroom: the container ran out of memory (--memory {}) and the kernel killed it",
                        memory.text
                    );
                }
            }
            cgroup::kill_and_remove(&dir)?;
        }
        if let Some((leaf, enabled)) = made.supervisor.take() {
            leave_supervisor(&placement.mount.join(&placement.parent), &leaf, &enabled)?;
        }
        Ok(())
    }
}
// ANCHOR_END: layer

/// The parent's side, in order: clear what a killed runtime left; step
/// out of the parent, with the child, if the runtime is in it (no
/// internal processes); enable the controllers; make the container's
/// cgroup, write its limits, and move the child in. `made` records each
/// step for `cleanup`.
fn prepare(placement: &Placement, limits: &Limits, child: Pid, made: &mut Made) -> Result<(), cgroup::CgroupError> {
    let parent = placement.mount.join(&placement.parent);
    let me = Pid::this();
    stale::remove_stale(&parent, stale::is_running);
    let controllers = Controller::needed_by(limits);
    // The root cgroup is exempt from the rule; any other cgroup with the
    // runtime in it cannot give controllers to its children.
    let inside_parent = placement.own == placement.parent && placement.parent.as_os_str() != "";
    if !controllers.is_empty() && inside_parent {
        let leaf = parent.join(stale::supervisor_name(me));
        cgroup::create(&leaf)?;
        made.supervisor = Some((leaf.clone(), Vec::new()));
        cgroup::move_into(&leaf, None)?;
        // The child was born in the parent too; it waits in the leaf until
        // its own cgroup exists.
        cgroup::move_into(&leaf, Some(child))?;
    }
    let enabled = cgroup::enable_controllers(&placement.mount, &placement.parent, &controllers)?;
    if let Some((_, taken)) = &mut made.supervisor {
        *taken = enabled;
    }
    // STARTER: todo!(
    // STARTER:     "make the container's cgroup under `parent`, with `limits` in force before \
    // STARTER:      `child` can run a single instruction inside it (book: chapter 6, \"Creating \
    // STARTER:      the cgroup\")"
    // STARTER: )
    // SOLUTION BEGIN
    let dir = parent.join(stale::container_name(me));
    cgroup::create(&dir)?;
    made.container = Some(dir.clone());
    cgroup::write_limits(&dir, limits)?;
    cgroup::move_into(&dir, Some(child))
    // SOLUTION END
}

// ANCHOR: leave_supervisor
/// Takes the runtime back from its leaf into `parent` and removes the leaf,
/// once the container's cgroup is gone. The controllers it enabled in
/// `parent` go first (a cgroup that passes them on may hold no process);
/// if another run still uses them, the leaf stays for a later run to clear.
fn leave_supervisor(
    parent: &std::path::Path,
    leaf: &std::path::Path,
    enabled: &[Controller],
) -> Result<(), cgroup::CgroupError> {
    let others = cgroup::children(parent)?.into_iter().filter(|name| !leaf.ends_with(name)).count();
    if others > 0 {
        return Ok(());
    }
    cgroup::disable_controllers(parent, enabled)?;
    cgroup::move_into(parent, None)?;
    // A plain rmdir: the leaf is empty now that the runtime has left it.
    std::fs::remove_dir(leaf).map_err(|source| cgroup::CgroupError::Remove(leaf.to_path_buf(), source))
}
// ANCHOR_END: leave_supervisor
