//! Chapter 6: the container's cgroup as it looks from inside, and loads
//! that run into its limits (processes, memory, CPU).

use std::collections::BTreeMap;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The interface files a limited cgroup has, read from the cgroup2 the
/// runtime mounted at /sys/fs/cgroup.
const FILES: [&str; 6] = ["memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.procs", "cpu.stat"];

/// Spins for `spin_ms` (to use up a CPU quota), then prints the cgroup
/// path from /proc/self/cgroup, whether /sys/fs/cgroup is a cgroup2 mount,
/// the files above and the child cgroups seen there. JSON.
pub fn report(spin_ms: u64) -> Result<u8, String> {
    let until = Instant::now() + Duration::from_millis(spin_ms);
    let mut spins: u64 = 0;
    while Instant::now() < until {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
    let path = fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| text.lines().find_map(|line| line.strip_prefix("0::")).map(str::to_string));
    let mounted = fs::read_to_string("/proc/self/mountinfo").ok().map(|text| {
        text.lines().any(|line| {
            let (before, after) = line.split_once(" - ").unwrap_or(("", ""));
            before.split(' ').nth(4) == Some("/sys/fs/cgroup") && after.starts_with("cgroup2 ")
        })
    });
    let files: BTreeMap<&str, String> = FILES
        .iter()
        .filter_map(|name| Some((*name, fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok()?.trim().to_string())))
        .collect();
    let children: Option<Vec<String>> = fs::read_dir("/sys/fs/cgroup").ok().map(|entries| {
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    });
    let value = serde_json::json!({ "path": path, "mounted": mounted, "files": files, "children": children });
    println!("{value}");
    Ok(0)
}

/// Starts up to `count` sleeping copies of itself, stops at the first
/// that the kernel refuses, prints how many started and the errno that
/// stopped it (JSON), then ends them all and exits 0.
pub fn fork_many(count: u32) -> Result<u8, String> {
    let mut children: Vec<Child> = Vec::new();
    let mut errno = None;
    for _ in 0..count {
        let started = Command::new("/proc/self/exe").args(["sleep", "60000"]).stdin(Stdio::null()).spawn();
        match started {
            Ok(child) => children.push(child),
            Err(err) => {
                errno = err.raw_os_error();
                break;
            }
        }
    }
    let started = children.len();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    println!("{}", serde_json::json!({ "started": started, "errno": errno }));
    Ok(0)
}

/// Allocates and touches `mib` MiB, one MiB at a time; prints how much it
/// got (JSON) if the kernel lets it live that long.
pub fn hog(mib: usize) -> Result<u8, String> {
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        // vec![1; n] writes every byte: the pages are really used.
        held.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
    println!("{}", serde_json::json!({ "allocated_mib": held.len() }));
    Ok(0)
}
