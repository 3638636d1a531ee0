//! What the probe reports: the kernel's view from inside the container.

use std::collections::BTreeMap;
use std::fs;

use serde::Serialize;

/// Everything the probe can see, as one JSON object. Fields a later chapter
/// needs (mounts, cgroup, interfaces) are always present; a file that cannot
/// be read gives `null` rather than a failure, since not every container
/// has every file.
#[derive(Debug, Serialize)]
pub struct Report {
    /// From `/proc/sys/kernel/hostname`.
    pub hostname: Option<String>,
    /// The probe's pid as the container sees it.
    pub pid: u32,
    /// Its parent's pid, as the container sees it (0 when the parent is
    /// outside the container's PID namespace).
    pub ppid: Option<u32>,
    /// Real uid and gid.
    pub uid: Option<u32>,
    /// Real gid.
    pub gid: Option<u32>,
    /// The command line the probe received.
    pub argv: Vec<String>,
    /// The environment the probe received.
    pub env: BTreeMap<String, String>,
    /// The current directory.
    pub cwd: Option<String>,
    /// Namespace identities, e.g. `"uts" -> "uts:[4026532177]"`.
    pub namespaces: BTreeMap<String, String>,
    /// Selected fields of `/proc/self/status`.
    pub status: BTreeMap<String, String>,
    /// `/proc/self/mountinfo`, one line each.
    pub mountinfo: Option<Vec<String>>,
    /// `/proc/self/cgroup`.
    pub cgroup: Option<String>,
    /// Names of the network interfaces in `/sys/class/net`.
    pub interfaces: Option<Vec<String>>,
    /// `/proc/self/uid_map` and `/proc/self/gid_map`.
    pub uid_map: Option<String>,
    /// See `uid_map`.
    pub gid_map: Option<String>,
    /// `/proc/self/setgroups`: `allow` or `deny`.
    pub setgroups: Option<String>,
    /// The kinds of namespace the probe's own user namespace does not own.
    pub owned_elsewhere: Option<Vec<String>>,
    /// Pids listed in `/proc`: the processes this container can see.
    pub visible_pids: Option<Vec<u32>>,
    /// What is in `/dev`.
    pub dev: Option<Vec<DevEntry>>,
    /// Interfaces, addresses and routes, from the kernel (`None` if unreadable).
    pub network: Option<crate::net::Network>,
}

/// One entry of `/dev`.
#[derive(Debug, Serialize)]
pub struct DevEntry {
    /// Its name.
    pub name: String,
    /// `char`, `block`, `dir`, `link`, `file` or `other`.
    pub kind: &'static str,
    /// Device number, for devices.
    pub major: Option<u64>,
    /// Device number, for devices.
    pub minor: Option<u64>,
    /// Where a link points.
    pub target: Option<String>,
}

fn list_dev() -> Option<Vec<DevEntry>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut entries: Vec<DevEntry> = fs::read_dir("/dev")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let meta = fs::symlink_metadata(entry.path()).ok()?;
            let kind = meta.file_type();
            let kind_name = if kind.is_char_device() {
                "char"
            } else if kind.is_block_device() {
                "block"
            } else if kind.is_dir() {
                "dir"
            } else if kind.is_symlink() {
                "link"
            } else if kind.is_file() {
                "file"
            } else {
                "other"
            };
            let device = kind.is_char_device() || kind.is_block_device();
            // Linux encodes major and minor in st_rdev as the glibc macros do.
            let rdev = meta.rdev();
            Some(DevEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind: kind_name,
                major: device.then_some(((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)),
                minor: device.then_some((rdev & 0xff) | ((rdev >> 12) & !0xff)),
                target: fs::read_link(entry.path()).ok().map(|t| t.display().to_string()),
            })
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Some(entries)
}

const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
const STATUS_FIELDS: [&str; 10] =
    ["Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "NSpid"];

impl Report {
    /// Reads everything, now.
    pub fn collect() -> Report {
        let status = read("/proc/self/status").map(|text| status_fields(&text)).unwrap_or_default();
        let id = |field: &str| status.get(field)?.split_whitespace().next()?.parse().ok();
        Report {
            hostname: read("/proc/sys/kernel/hostname").map(|s| s.trim_end().to_string()),
            pid: std::process::id(),
            ppid: Some(std::os::unix::process::parent_id()),
            uid: id("Uid"),
            gid: id("Gid"),
            argv: std::env::args().collect(),
            env: std::env::vars().collect(),
            cwd: std::env::current_dir().ok().map(|p| p.display().to_string()),
            namespaces: NAMESPACES
                .iter()
                .filter_map(|ns| {
                    let link = fs::read_link(format!("/proc/self/ns/{ns}")).ok()?;
                    Some((ns.to_string(), link.display().to_string()))
                })
                .collect(),
            status,
            mountinfo: read("/proc/self/mountinfo").map(|s| s.lines().map(str::to_string).collect()),
            cgroup: read("/proc/self/cgroup"),
            interfaces: list_dir("/sys/class/net"),
            uid_map: read("/proc/self/uid_map"),
            gid_map: read("/proc/self/gid_map"),
            setgroups: crate::user::setgroups(),
            owned_elsewhere: crate::user::owned_elsewhere(),
            visible_pids: list_dir("/proc").map(|names| names.iter().filter_map(|n| n.parse().ok()).collect()),
            dev: list_dev(),
            network: crate::net::Network::collect().ok(),
        }
    }
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

fn status_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| STATUS_FIELDS.contains(key))
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect()
}
