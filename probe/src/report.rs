//! `probe report`: reads the kernel's view from inside the container into
//! the contract's `Report`, section by section.

use std::collections::BTreeMap;
use std::fs;

use contract::{
    Capabilities, Cgroup, DevEntry, DevKind, FileId, Filesystem, IdRange, Inherited, Limits, Namespaces, OpenFd,
    Process, Report, Rlimit, Seccomp, Security, Users,
};

/// Reads everything, now. A file that cannot be read gives `None` rather
/// than a failure: not every container has every file.
pub fn collect() -> Report {
    let status = read("/proc/self/status").map(|text| status_fields(&text)).unwrap_or_default();
    // First, before the probe opens anything of its own (netlink sockets).
    let inherited = inherited(&status);
    Report {
        process: process(),
        hostname: read("/proc/sys/kernel/hostname").map(|s| s.trim_end().to_string()),
        namespaces: namespaces(),
        filesystem: Filesystem {
            mountinfo: read("/proc/self/mountinfo").map(|s| s.lines().map(str::to_string).collect()),
            dev: list_dev(),
            root: fs::metadata("/").ok().map(|meta| {
                use std::os::unix::fs::MetadataExt;
                FileId { dev: meta.dev(), ino: meta.ino() }
            }),
        },
        users: Users {
            uid: first_number(&status, "Uid"),
            gid: first_number(&status, "Gid"),
            groups: status.get("Groups").map(|list| list.split_whitespace().filter_map(|g| g.parse().ok()).collect()),
            uid_map: read("/proc/self/uid_map").map(|text| id_map(&text)),
            gid_map: read("/proc/self/gid_map").map(|text| id_map(&text)),
            setgroups: crate::user::setgroups(),
            owned_elsewhere: crate::user::owned_elsewhere(),
        },
        cgroup: cgroup(),
        security: security(&status),
        network: crate::net::collect().ok(),
        inherited,
        limits: Limits {
            rlimits: read("/proc/self/limits").map(|text| rlimits(&text)),
            umask: status.get("Umask").and_then(|mask| u32::from_str_radix(mask, 8).ok()),
            oom_score_adj: read("/proc/self/oom_score_adj").and_then(|text| text.trim().parse().ok()),
        },
    }
}

/// The rows of `/proc/self/limits` (`Max open files  1024  4096  files`)
/// by the resource's kernel name, in the order `fs/proc/base.c` prints them.
const LIMIT_ROWS: [(&str, &str); 16] = [
    ("Max cpu time", "RLIMIT_CPU"),
    ("Max file size", "RLIMIT_FSIZE"),
    ("Max data size", "RLIMIT_DATA"),
    ("Max stack size", "RLIMIT_STACK"),
    ("Max core file size", "RLIMIT_CORE"),
    ("Max resident set", "RLIMIT_RSS"),
    ("Max processes", "RLIMIT_NPROC"),
    ("Max open files", "RLIMIT_NOFILE"),
    ("Max locked memory", "RLIMIT_MEMLOCK"),
    ("Max address space", "RLIMIT_AS"),
    ("Max file locks", "RLIMIT_LOCKS"),
    ("Max pending signals", "RLIMIT_SIGPENDING"),
    ("Max msgqueue size", "RLIMIT_MSGQUEUE"),
    ("Max nice priority", "RLIMIT_NICE"),
    ("Max realtime priority", "RLIMIT_RTPRIO"),
    ("Max realtime timeout", "RLIMIT_RTTIME"),
];

fn rlimits(text: &str) -> BTreeMap<String, Rlimit> {
    let value = |word: &str| word.parse::<u64>().ok();
    text.lines()
        .filter_map(|line| {
            let (label, name) = LIMIT_ROWS.iter().find(|(label, _)| line.starts_with(label))?;
            let mut words = line[label.len()..].split_whitespace();
            let (soft, hard) = (words.next()?, words.next()?);
            Some((name.to_string(), Rlimit { soft: value(soft), hard: value(hard) }))
        })
        .collect()
}

fn inherited(status: &BTreeMap<String, String>) -> Inherited {
    let link = |path: &str| fs::read_link(path).ok().map(|l| l.display().to_string());
    let mask = |field: &str| u64::from_str_radix(status.get(field)?, 16).ok();
    Inherited {
        fds: open_fds(),
        cwd_link: link("/proc/self/cwd"),
        root_link: link("/proc/self/root"),
        cwd_reachable: std::env::current_dir().is_ok(),
        signals_blocked: mask("SigBlk"),
        signals_ignored: mask("SigIgn"),
    }
}

/// The descriptors in `/proc/self/fd`, without the one `read_dir` holds
/// open on that very directory while it lists it.
fn open_fds() -> Option<Vec<OpenFd>> {
    let listing_itself = |target: &str| {
        target.strip_prefix("/proc/").and_then(|rest| rest.strip_suffix("/fd")).is_some_and(|pid| {
            pid == "self" || pid == "thread-self" || pid.chars().all(|c| c.is_ascii_digit() || c == '/')
        })
    };
    let mut fds: Vec<OpenFd> = fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(entry.path()).ok()?.display().to_string();
            Some(OpenFd { fd, target })
        })
        .filter(|open| !listing_itself(&open.target))
        .collect();
    fds.sort_by_key(|open| open.fd);
    Some(fds)
}

fn process() -> Process {
    Process {
        pid: std::process::id(),
        ppid: Some(std::os::unix::process::parent_id()),
        argv: std::env::args().collect(),
        env: std::env::vars().collect(),
        cwd: std::env::current_dir().ok().map(|p| p.display().to_string()),
        visible_pids: list_dir("/proc").map(|names| names.iter().filter_map(|n| n.parse().ok()).collect()),
        proc_self: fs::read_link("/proc/self").ok().and_then(|link| link.to_str()?.parse().ok()),
    }
}

/// The probe's cgroup, and its limits if a cgroup2 file system shows them.
fn cgroup() -> Cgroup {
    let path = read("/proc/self/cgroup").and_then(|text| cgroup_v2_path(&text));
    let mount = read("/proc/self/mountinfo").and_then(|text| crate::cgroup::cgroup2_mount_point(&text));
    let limits = match (&path, mount) {
        (Some(path), Some(mount)) => Some(crate::cgroup::limits(&format!("{mount}{}", path.trim_end_matches('/')))),
        _ => None,
    };
    Cgroup { path, limits }
}

fn namespaces() -> Namespaces {
    let link = |kind: &str| fs::read_link(format!("/proc/self/ns/{kind}")).ok().map(|l| l.display().to_string());
    Namespaces {
        cgroup: link("cgroup"),
        ipc: link("ipc"),
        mnt: link("mnt"),
        net: link("net"),
        pid: link("pid"),
        time: link("time"),
        user: link("user"),
        uts: link("uts"),
    }
}

fn security(status: &BTreeMap<String, String>) -> Security {
    let set = |field: &str| u64::from_str_radix(status.get(field)?, 16).ok();
    let capabilities = (|| {
        Some(Capabilities {
            inheritable: set("CapInh")?,
            permitted: set("CapPrm")?,
            effective: set("CapEff")?,
            bounding: set("CapBnd")?,
            ambient: set("CapAmb")?,
        })
    })();
    let seccomp = match status.get("Seccomp").map(String::as_str) {
        Some("0") => Some(Seccomp::Disabled),
        Some("1") => Some(Seccomp::Strict),
        Some("2") => Some(Seccomp::Filter),
        _ => None,
    };
    Security { capabilities, no_new_privs: first_number(status, "NoNewPrivs").map(|n: u8| n == 1), seccomp }
}

/// The fields of `/proc/self/status`, `Name:\tvalue` per line.
fn status_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect()
}

/// The first number of a status field (`Uid:` lists real, effective, saved
/// and file-system ids; the real one comes first).
fn first_number<T: std::str::FromStr>(status: &BTreeMap<String, String>, field: &str) -> Option<T> {
    status.get(field)?.split_whitespace().next()?.parse().ok()
}

/// `inside outside count` per line, as in `/proc/self/uid_map`.
fn id_map(text: &str) -> Vec<IdRange> {
    let range = |line: &str| {
        let mut numbers = line.split_whitespace().map(str::parse::<u32>);
        Some(IdRange { inside: numbers.next()?.ok()?, outside: numbers.next()?.ok()?, count: numbers.next()?.ok()? })
    };
    text.lines().filter_map(range).collect()
}

/// The path of the `0::PATH` line of `/proc/self/cgroup` (cgroup v2).
fn cgroup_v2_path(text: &str) -> Option<String> {
    text.lines().find_map(|line| line.strip_prefix("0::")).map(str::to_string)
}

fn list_dev() -> Option<Vec<DevEntry>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut entries: Vec<DevEntry> = fs::read_dir("/dev")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let meta = fs::symlink_metadata(entry.path()).ok()?;
            let kind = meta.file_type();
            let kind = if kind.is_char_device() {
                DevKind::Char
            } else if kind.is_block_device() {
                DevKind::Block
            } else if kind.is_dir() {
                DevKind::Dir
            } else if kind.is_symlink() {
                DevKind::Link
            } else if kind.is_file() {
                DevKind::File
            } else {
                DevKind::Other
            };
            let device = matches!(kind, DevKind::Char | DevKind::Block);
            // Linux encodes major and minor in st_rdev as the glibc macros do.
            let rdev = meta.rdev();
            Some(DevEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
                major: device.then_some(((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)),
                minor: device.then_some((rdev & 0xff) | ((rdev >> 12) & !0xff)),
                target: fs::read_link(entry.path()).ok().map(|t| t.display().to_string()),
            })
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Some(entries)
}

fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn list_dir(path: &str) -> Option<Vec<String>> {
    let mut names: Vec<String> =
        fs::read_dir(path).ok()?.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect();
    names.sort();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_become_typed_security_facts() {
        let status = status_fields(
            "Name:\tprobe\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
             CapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n\
             NoNewPrivs:\t1\nSeccomp:\t2\n",
        );
        assert_eq!(first_number::<u32>(&status, "Uid"), Some(0));
        let security = security(&status);
        assert_eq!(security.capabilities.map(|c| c.effective), Some(0x1ff_ffff_ffff));
        assert_eq!(security.no_new_privs, Some(true));
        assert_eq!(security.seccomp, Some(Seccomp::Filter));
    }

    #[test]
    fn id_maps_and_cgroup_paths_are_parsed() {
        assert_eq!(id_map("         0       1000          1\n"), vec![IdRange { inside: 0, outside: 1000, count: 1 }]);
        assert_eq!(cgroup_v2_path("0::/greenroom/run-1\n").as_deref(), Some("/greenroom/run-1"));
        assert_eq!(cgroup_v2_path("12:cpu:/x\n"), None);
    }
}
