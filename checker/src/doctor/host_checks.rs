//! The checks for `--host`, which runs the tests on this machine as root:
//! root itself, user namespaces, cgroup v2, how `/` propagates mounts, and
//! a static busybox to build the containers' root file systems from.

use std::fs;
use std::path::Path;

use super::machine::Machine;
use super::report::Check;

/// Are we root? Only `--host` needs it.
pub(super) fn root(m: &Machine, host: bool) -> Check {
    const NAME: &str = "root";
    match (m.euid, host) {
        (0, _) => Check::ok(NAME, "running as root"),
        (uid, false) => Check::ok(NAME, format!("running as uid {uid}: the VM needs no root, only --host does")),
        (uid, true) => Check::fail(
            NAME,
            format!("running as uid {uid}: --host runs the tests as root"),
            "sudo -E env PATH=$PATH cargo run -p checker -- doctor --host",
        ),
    }
}

/// May this kernel's users create user namespaces (chapter 5)?
pub(super) fn user_namespaces(m: &Machine) -> Check {
    const NAME: &str = "user namespaces";
    let read = |name: &str| fs::read_to_string(m.proc.join("sys").join(name)).ok().map(|t| t.trim().to_owned());
    let Some(max) = read("user/max_user_namespaces") else {
        return Check::fail(
            NAME,
            "this kernel has no user namespaces (CONFIG_USER_NS)",
            "grade in the VM (drop --host)",
        );
    };
    if max == "0" {
        return Check::fail(
            NAME,
            "disabled: user.max_user_namespaces = 0 (chapter 5 needs them)",
            "sudo sysctl -w user.max_user_namespaces=15000",
        );
    }
    if read("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Check::warn(
            NAME,
            "only root may create them (kernel.unprivileged_userns_clone = 0): chapter 5's rootless test fails",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        );
    }
    if read("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Check::warn(
            NAME,
            "AppArmor restricts unprivileged ones (kernel.apparmor_restrict_unprivileged_userns = 1)",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        );
    }
    Check::ok(NAME, format!("allowed (user.max_user_namespaces = {max})"))
}

/// The controllers a cgroup v1 mount can hold (its other options are flags).
const V1_CONTROLLERS: &str =
    "cpu cpuacct cpuset memory devices freezer net_cls net_prio blkio perf_event hugetlb pids rdma misc";

/// Is cgroup v2 mounted at `/sys/fs/cgroup` with the controllers chapter 6
/// limits, or does v1 hold them?
pub(super) fn cgroups(m: &Machine, mountinfo: &str) -> Check {
    const NAME: &str = "cgroup v2";
    let fix = "grade chapter 6 in the VM (drop --host), or boot this machine with systemd.unified_cgroup_hierarchy=1";
    let mounts = suite::mountinfo::parse(mountinfo);
    let v2: Vec<&str> = mounts.iter().filter(|mt| mt.fstype == "cgroup2").map(|mt| mt.point).collect();
    let v1: Vec<&str> = mounts
        .iter()
        .filter(|mt| mt.fstype == "cgroup")
        .flat_map(|mt| mt.super_options.split(',').filter(|o| V1_CONTROLLERS.split(' ').any(|c| c == *o)))
        .collect();
    match (v2.contains(&"/sys/fs/cgroup"), v2.first(), v1.is_empty()) {
        (true, _, true) => {
            let controllers = fs::read_to_string(m.sys.join("fs/cgroup/cgroup.controllers")).unwrap_or_default();
            let controllers = controllers.trim();
            let missing: Vec<&str> =
                ["cpu", "memory", "pids"].into_iter().filter(|c| !controllers.split(' ').any(|x| x == *c)).collect();
            if missing.is_empty() {
                Check::ok(NAME, format!("unified at /sys/fs/cgroup, controllers: {controllers}"))
            } else {
                let found =
                    format!("unified at /sys/fs/cgroup, but without {}: chapter 6 needs them", missing.join(", "));
                Check::warn(NAME, found, "grade chapter 6 in the VM (drop --host)")
            }
        }
        (_, Some(point), false) => Check::warn(
            NAME,
            format!(
                "hybrid layout: v1 holds the controllers ({}), v2 at {point} has none: chapter 6 cannot pass here",
                v1.join(" ")
            ),
            fix,
        ),
        (_, None, false) => {
            Check::fail(NAME, format!("cgroup v1 only ({}): chapter 6's limits need v2", v1.join(" ")), fix)
        }
        (_, _, true) => Check::fail(NAME, "no cgroup file system is mounted", fix),
    }
}

/// How `/` propagates mounts: shown, never a failure, since chapter 3
/// teaches the runtime to make its mounts private whatever it is.
pub(super) fn propagation(mountinfo: &str) -> Check {
    const NAME: &str = "/ propagation";
    let mounts = suite::mountinfo::parse(mountinfo);
    // The last mount on `/` is the one this process sees.
    let Some(root) = mounts.iter().rev().find(|mt| mt.point == "/") else {
        return Check::warn(NAME, "cannot find / in /proc/self/mountinfo", "make sure /proc is mounted");
    };
    let found = match root.optional.iter().find(|o| o.starts_with("shared:") || o.starts_with("master:")) {
        Some(o) if o.starts_with("shared:") => {
            "shared (systemd's default): your runtime makes its mounts private first, as chapter 3 teaches"
        }
        Some(_) => "a slave mount: your runtime makes its mounts private first, as chapter 3 teaches",
        None => "private",
    };
    Check::ok(NAME, found)
}

/// Is there a statically linked busybox, where `--host` looks for one?
pub(super) fn busybox(m: &Machine) -> Check {
    const NAME: &str = "busybox";
    let fix = "sudo apt-get install busybox-static";
    let Some(busybox) = m.busybox.iter().find(|p| p.is_file()) else {
        return Check::fail(NAME, "none found: --host builds the containers' root file systems from it", fix);
    };
    match is_dynamic_elf(busybox) {
        Ok(false) => Check::ok(NAME, format!("{}, statically linked", busybox.display())),
        Ok(true) => Check::fail(
            NAME,
            format!("{} is dynamically linked: it cannot run in a bare root file system", busybox.display()),
            format!("{fix} (it replaces the dynamic busybox package)"),
        ),
        Err(why) => Check::fail(NAME, format!("{}: {why}", busybox.display()), fix),
    }
}

/// Does this 64-bit little-endian ELF executable ask for a dynamic loader
/// (has a `PT_INTERP` program header)?
fn is_dynamic_elf(path: &Path) -> Result<bool, String> {
    const PT_INTERP: u32 = 3;
    let bytes = fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a 64-bit little-endian ELF executable".into());
    }
    let read = |at: usize, len: usize| -> Option<u64> {
        let field = bytes.get(at..at + len)?;
        Some(field.iter().rev().fold(0, |n, b| (n << 8) | u64::from(*b)))
    };
    let header = || -> Option<(usize, usize, usize)> {
        Some((read(0x20, 8)? as usize, read(0x36, 2)? as usize, read(0x38, 2)? as usize))
    };
    let (phoff, phentsize, phnum) = header().ok_or("truncated ELF header")?;
    (0..phnum)
        .map(|i| read(phoff + i * phentsize, 4).ok_or("truncated program headers"))
        .try_fold(false, |dynamic, p_type| Ok(dynamic || p_type? == u64::from(PT_INTERP)))
}
