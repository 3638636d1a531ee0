//! The isolation matrix: what the learner's container isolates so far,
//! measured at the end of every grading run.
//!
//! The probe reports twice: once as a plain process next to the suite (the
//! host's view) and once inside a container the runtime makes with every
//! isolation its chapter's command line offers. Each cell compares the two
//! reports — namespace inodes, the identity of `/`, the pid `/proc/self`
//! names, the devices in `/dev`, the cgroup's limits, `CapEff` and
//! `Seccomp` — so the matrix shows what the learner's code does, not what
//! its chapter is meant to do.

use std::collections::BTreeMap;
use std::process::Command;

use contract::{DevKind, Report, Seccomp};
use serde::{Deserialize, Serialize};

use crate::ctx::{clip, Ctx, Failure, ProbeCall, Run};

/// What one aspect of isolation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    /// The IPC namespace (System V IPC, POSIX message queues).
    IpcNs,
    /// The mount namespace.
    MntNs,
    /// The network namespace.
    NetNs,
    /// The PID namespace.
    PidNs,
    /// The user namespace.
    UserNs,
    /// The UTS namespace (hostname).
    UtsNs,
    /// The cgroup namespace.
    CgroupNs,
    /// The root file system.
    Root,
    /// What `/proc` shows.
    Proc,
    /// The devices in `/dev`.
    Dev,
    /// Limits on the container's own cgroup.
    Limits,
    /// The effective capabilities.
    Capabilities,
    /// A seccomp filter.
    Seccomp,
}

impl Aspect {
    /// Every aspect, in the order the matrix shows them.
    pub const ALL: [Aspect; 13] = [
        Aspect::IpcNs,
        Aspect::MntNs,
        Aspect::NetNs,
        Aspect::PidNs,
        Aspect::UserNs,
        Aspect::UtsNs,
        Aspect::CgroupNs,
        Aspect::Root,
        Aspect::Proc,
        Aspect::Dev,
        Aspect::Limits,
        Aspect::Capabilities,
        Aspect::Seccomp,
    ];

    /// A short label for a table.
    pub fn label(self) -> &'static str {
        match self {
            Aspect::IpcNs => "ipc ns",
            Aspect::MntNs => "mnt ns",
            Aspect::NetNs => "net ns",
            Aspect::PidNs => "pid ns",
            Aspect::UserNs => "user ns",
            Aspect::UtsNs => "uts ns",
            Aspect::CgroupNs => "cgroup ns",
            Aspect::Root => "root fs",
            Aspect::Proc => "/proc",
            Aspect::Dev => "/dev",
            Aspect::Limits => "limits",
            Aspect::Capabilities => "caps",
            Aspect::Seccomp => "seccomp",
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// What it is about.
    pub aspect: Aspect,
    /// Whether the container has its own (`None`: it could not be told).
    pub isolated: Option<bool>,
    /// In a word: `own`, `shared`, `host's`, `minimal`, `limited`, `none`,
    /// `reduced`, `all`, `filter`, `unknown`.
    pub state: String,
    /// The evidence, for whoever wonders why.
    pub detail: String,
}

/// The matrix of one runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// One cell per [`Aspect`], in [`Aspect::ALL`]'s order; empty when it
    /// could not be measured.
    pub cells: Vec<Cell>,
    /// Why it could not be measured (the container did not run, say).
    pub problem: Option<String>,
}

impl Isolation {
    /// A matrix that could not be measured, and why.
    pub fn unmeasured(why: impl Into<String>) -> Isolation {
        Isolation { cells: Vec::new(), problem: Some(why.into()) }
    }

    /// The cell of `aspect`, if measured.
    pub fn cell(&self, aspect: Aspect) -> Option<&Cell> {
        self.cells.iter().find(|c| c.aspect == aspect)
    }
}

/// Measures the matrix of the runtime in `ctx`, graded as chapter `chapter`.
pub fn measure(ctx: &mut Ctx, chapter: u8) -> Isolation {
    match try_measure(ctx, chapter) {
        Ok(isolation) => isolation,
        Err(failure) => {
            let mut why = failure.message;
            if let Some(actual) = failure.actual {
                why.push_str(&format!(" ({})", clip(&actual, 200)));
            }
            Isolation::unmeasured(why)
        }
    }
}

fn try_measure(ctx: &mut Ctx, chapter: u8) -> Result<Isolation, Failure> {
    let outside = host_report(&ctx.probe())?;
    let rootfs = if chapter >= 3 { Some(ctx.rootfs()?) } else { None };
    let flags = flags(chapter, rootfs.as_deref());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // Chapter 7 takes a bundle, not flags: the suite writes the config.
    let inside = match chapter {
        7.. => crate::chapters::ch07_oci::isolated_report(ctx)?,
        _ => ctx.report(&flags)?,
    };
    // The runtime ran in a cgroup of the suite's, not in the suite's own: a
    // container still in it has none of its own.
    let mut outside = outside;
    if let Some(path) = ctx.last_run_cgroup() {
        outside.cgroup.path = Some(path);
    }
    Ok(compare(&inside, &outside))
}

/// The most isolated container chapter `chapter`'s command line can ask
/// for, without touching the host's network: its root in `rootfs` from
/// chapter 3, no network from chapter 4, a user namespace from chapter 5,
/// limits from chapter 6.
pub fn flags(chapter: u8, rootfs: Option<&str>) -> Vec<String> {
    let mut flags = Vec::new();
    if let (true, Some(rootfs)) = (chapter >= 3, rootfs) {
        flags.extend(["--rootfs", rootfs]);
    }
    if chapter >= 4 {
        flags.extend(["--net", "none"]);
    }
    if chapter >= 5 {
        flags.extend(["--uid-map", "0:100000:65536", "--gid-map", "0:100000:65536"]);
    }
    if chapter >= 6 {
        flags.extend(["--memory", "64M", "--pids", "64"]);
    }
    flags.into_iter().map(str::to_string).collect()
}

/// `probe report` run next to the suite, outside any container.
fn host_report(probe: &str) -> Result<Report, Failure> {
    let call = ProbeCall::<Report>::new(probe, &[])?;
    let output = Command::new(probe)
        .args(&call.command()[1..])
        .output()
        .map_err(|e| Failure::error(format!("run {probe} on the host: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    let run = Run {
        code: output.status.code(),
        signal: output.status.signal(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        cgroups_left: Vec::new(),
        processes_left: None,
    };
    call.read(&run).map_err(|f| Failure::error(format!("the probe on the host: {}", f.message)))
}

/// The devices a minimal `/dev` may hold, as (major, minor): null, zero,
/// full, random, urandom, tty, ptmx.
const SAFE_DEVICES: [(u64, u64); 7] = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)];

/// The matrix from the container's report (`inside`) and the host's.
pub fn compare(inside: &Report, outside: &Report) -> Isolation {
    let (ins, outs) = (&inside.namespaces, &outside.namespaces);
    let namespace = |aspect, inside: &Option<String>, outside: &Option<String>| match (inside, outside) {
        (Some(i), Some(o)) if i == o => cell(aspect, Some(false), "shared", format!("{i}, the host's")),
        (Some(i), Some(o)) => cell(aspect, Some(true), "own", format!("{i} (the host's is {o})")),
        _ => cell(aspect, None, "unknown", "/proc/self/ns could not be read".into()),
    };
    let mut cells = vec![
        namespace(Aspect::IpcNs, &ins.ipc, &outs.ipc),
        namespace(Aspect::MntNs, &ins.mnt, &outs.mnt),
        namespace(Aspect::NetNs, &ins.net, &outs.net),
        namespace(Aspect::PidNs, &ins.pid, &outs.pid),
        namespace(Aspect::UserNs, &ins.user, &outs.user),
        namespace(Aspect::UtsNs, &ins.uts, &outs.uts),
        namespace(Aspect::CgroupNs, &ins.cgroup, &outs.cgroup),
    ];
    cells.push(match (inside.filesystem.root, outside.filesystem.root) {
        (Some(i), Some(o)) if i == o => cell(Aspect::Root, Some(false), "host's", "/ is the host's /".into()),
        (Some(i), Some(_)) => {
            cell(Aspect::Root, Some(true), "own", format!("/ is another directory (device {}, inode {})", i.dev, i.ino))
        }
        _ => cell(Aspect::Root, None, "unknown", "/ could not be examined".into()),
    });
    cells.push(proc_cell(inside, outside));
    cells.push(dev_cell(inside));
    cells.push(limits_cell(inside, outside));
    cells.push(capabilities_cell(inside, outside));
    cells.push(match inside.security.seccomp {
        Some(Seccomp::Disabled) => {
            cell(Aspect::Seccomp, Some(false), "none", "Seccomp: 0, every system call allowed".into())
        }
        Some(Seccomp::Strict) => cell(Aspect::Seccomp, Some(true), "strict", "Seccomp: 1".into()),
        Some(Seccomp::Filter) => cell(Aspect::Seccomp, Some(true), "filter", "Seccomp: 2, a BPF filter".into()),
        None => cell(Aspect::Seccomp, None, "unknown", "no Seccomp line in /proc/self/status".into()),
    });
    Isolation { cells, problem: None }
}

fn cell(aspect: Aspect, isolated: Option<bool>, state: &str, detail: String) -> Cell {
    Cell { aspect, isolated, state: state.to_string(), detail }
}

/// Own when the container is in a PID namespace of its own and the
/// `/proc` it sees belongs to it (`/proc/self` names the probe's own pid).
fn proc_cell(inside: &Report, outside: &Report) -> Cell {
    let own_pid_ns = inside.namespaces.pid.is_some() && inside.namespaces.pid != outside.namespaces.pid;
    let pid = inside.process.pid;
    match inside.process.proc_self {
        None => cell(Aspect::Proc, None, "unknown", "no /proc/self: /proc is not mounted".into()),
        Some(named) if own_pid_ns && named == pid => {
            cell(Aspect::Proc, Some(true), "own", format!("/proc/self is {named}: the container's own pids"))
        }
        Some(named) if own_pid_ns => cell(
            Aspect::Proc,
            Some(false),
            "host's",
            format!("/proc/self is {named}, not the probe's pid {pid}: the host's /proc"),
        ),
        Some(_) => cell(Aspect::Proc, Some(false), "host's", "the host's PID namespace, so the host's pids".into()),
    }
}

/// Minimal when every device node is one of [`SAFE_DEVICES`].
fn dev_cell(inside: &Report) -> Cell {
    let Some(dev) = &inside.filesystem.dev else {
        return cell(Aspect::Dev, None, "unknown", "/dev could not be listed".into());
    };
    let unsafe_devices: Vec<&str> = dev
        .iter()
        .filter(|e| matches!(e.kind, DevKind::Char | DevKind::Block))
        .filter(|e| !SAFE_DEVICES.contains(&(e.major.unwrap_or(0), e.minor.unwrap_or(0))))
        .map(|e| e.name.as_str())
        .collect();
    if unsafe_devices.is_empty() {
        cell(Aspect::Dev, Some(true), "minimal", "only null, zero, full, random, urandom, tty, ptmx".into())
    } else {
        let shown: Vec<&str> = unsafe_devices.iter().take(5).copied().collect();
        let more = if unsafe_devices.len() > shown.len() { ", …" } else { "" };
        let detail = format!("{} more devices: {}{more}", unsafe_devices.len(), shown.join(", "));
        cell(Aspect::Dev, Some(false), "host's", detail)
    }
}

/// Limited when the container's own cgroup — not the one the runtime was
/// started in — has a limit set.
fn limits_cell(inside: &Report, outside: &Report) -> Cell {
    let same_cgroup = inside.namespaces.cgroup.is_some()
        && inside.namespaces.cgroup == outside.namespaces.cgroup
        && inside.cgroup.path.is_some()
        && inside.cgroup.path == outside.cgroup.path;
    if same_cgroup {
        let path = inside.cgroup.path.clone().unwrap_or_default();
        return cell(Aspect::Limits, Some(false), "none", format!("in the runtime's own cgroup {path}"));
    }
    let Some(limits) = &inside.cgroup.limits else {
        return cell(Aspect::Limits, None, "unknown", "a cgroup of its own, but no cgroup2 mounted to read".into());
    };
    let set: BTreeMap<&str, &str> = limits
        .iter()
        .filter(|(_, value)| !value.starts_with("max"))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    if set.is_empty() {
        cell(Aspect::Limits, Some(false), "none", "a cgroup of its own, with no limit".into())
    } else {
        let detail: Vec<String> = set.iter().map(|(name, value)| format!("{name} {value}")).collect();
        cell(Aspect::Limits, Some(true), "limited", detail.join(", "))
    }
}

/// Reduced when the container's effective set holds fewer capabilities
/// than the host's root.
fn capabilities_cell(inside: &Report, outside: &Report) -> Cell {
    let (Some(i), Some(o)) = (inside.security.capabilities, outside.security.capabilities) else {
        return cell(Aspect::Capabilities, None, "unknown", "no CapEff line in /proc/self/status".into());
    };
    let (have, host) = (i.effective.count_ones(), o.effective.count_ones());
    if i.effective & o.effective == o.effective {
        cell(Aspect::Capabilities, Some(false), "all", format!("CapEff {:016x}: all {host} of root's", i.effective))
    } else {
        cell(
            Aspect::Capabilities,
            Some(true),
            "reduced",
            format!("CapEff {:016x}: {have} of root's {host}", i.effective),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::{Capabilities, Cgroup, DevEntry, FileId, Filesystem, Namespaces, Process, Security, Users};

    fn report(ns: &str, pid: u32, proc_self: u32, root_ino: u64) -> Report {
        let link = |kind: &str| Some(format!("{kind}:[{ns}]"));
        Report {
            process: Process {
                pid,
                ppid: None,
                argv: Vec::new(),
                env: BTreeMap::new(),
                cwd: None,
                visible_pids: None,
                proc_self: Some(proc_self),
            },
            hostname: None,
            namespaces: Namespaces {
                cgroup: link("cgroup"),
                ipc: link("ipc"),
                mnt: link("mnt"),
                net: link("net"),
                pid: link("pid"),
                time: link("time"),
                user: link("user"),
                uts: link("uts"),
            },
            filesystem: Filesystem {
                mountinfo: None,
                // The host's /dev has /dev/mem (1:1), which a minimal one lacks.
                dev: Some(vec![DevEntry {
                    name: "mem".into(),
                    kind: DevKind::Char,
                    major: Some(1),
                    minor: Some(1),
                    target: None,
                }]),
                root: Some(FileId { dev: 1, ino: root_ino }),
            },
            users: Users {
                uid: Some(0),
                gid: Some(0),
                groups: None,
                uid_map: None,
                gid_map: None,
                setgroups: None,
                owned_elsewhere: None,
            },
            cgroup: Cgroup { path: Some("/".into()), limits: Some(BTreeMap::new()) },
            security: Security {
                capabilities: Some(Capabilities {
                    inheritable: 0,
                    permitted: 0x1ff_ffff_ffff,
                    effective: 0x1ff_ffff_ffff,
                    bounding: 0x1ff_ffff_ffff,
                    ambient: 0,
                }),
                no_new_privs: Some(false),
                seccomp: Some(Seccomp::Disabled),
            },
            network: None,
            inherited: Default::default(),
            limits: Default::default(),
        }
    }

    fn states(isolation: &Isolation) -> Vec<(Aspect, &str)> {
        isolation.cells.iter().map(|c| (c.aspect, c.state.as_str())).collect()
    }

    #[test]
    fn a_plain_child_process_isolates_nothing() {
        let host = report("1", 300, 300, 2);
        let isolation = compare(&report("1", 400, 400, 2), &host);
        assert_eq!(isolation.cells.len(), Aspect::ALL.len());
        assert!(isolation.cells.iter().all(|c| c.isolated == Some(false)), "{isolation:#?}");
        assert_eq!(isolation.cell(Aspect::Root).map(|c| c.state.as_str()), Some("host's"));
    }

    #[test]
    fn own_namespaces_root_proc_and_limits_are_told_apart() {
        let host = report("1", 300, 300, 2);
        let mut inside = report("2", 2, 2, 99);
        inside.cgroup.limits = Some(BTreeMap::from([
            ("memory.max".to_string(), "67108864".to_string()),
            ("cpu.max".to_string(), "max 100000".to_string()),
        ]));
        inside.filesystem.dev = Some(vec![DevEntry {
            name: "null".into(),
            kind: DevKind::Char,
            major: Some(1),
            minor: Some(3),
            target: None,
        }]);
        inside.security.capabilities = inside.security.capabilities.map(|c| Capabilities { effective: 0xff, ..c });
        let isolation = compare(&inside, &host);
        for (aspect, state) in states(&isolation) {
            let want = match aspect {
                Aspect::Root | Aspect::Proc => "own",
                Aspect::Dev => "minimal",
                Aspect::Limits => "limited",
                Aspect::Capabilities => "reduced",
                Aspect::Seccomp => "none",
                _ => "own",
            };
            assert_eq!(state, want, "{aspect:?}");
        }
        let limits = isolation.cell(Aspect::Limits).map(|c| c.detail.as_str());
        assert_eq!(limits, Some("memory.max 67108864"));
    }

    #[test]
    fn the_hosts_proc_in_an_own_pid_namespace_is_the_hosts() {
        let host = report("1", 300, 300, 2);
        let mut inside = report("1", 1, 512, 2);
        inside.namespaces.pid = Some("pid:[7]".into());
        let proc = compare(&inside, &host).cell(Aspect::Proc).cloned();
        assert_eq!(proc.map(|c| (c.isolated, c.state)), Some((Some(false), "host's".to_string())));
    }

    #[test]
    fn a_cgroup_of_its_own_that_cannot_be_read_is_unknown() {
        let host = report("1", 300, 300, 2);
        let mut inside = report("1", 400, 400, 2);
        inside.cgroup = Cgroup { path: Some("/box".into()), limits: None };
        let limits = compare(&inside, &host).cell(Aspect::Limits).cloned();
        assert_eq!(limits.map(|c| c.isolated), Some(None));
    }

    #[test]
    fn flags_grow_with_the_chapter() {
        assert!(flags(2, None).is_empty());
        assert_eq!(flags(3, Some("/r")), ["--rootfs", "/r"]);
        assert!(flags(6, Some("/r")).ends_with(&["--memory".to_string(), "64M".into(), "--pids".into(), "64".into()]));
    }
}
