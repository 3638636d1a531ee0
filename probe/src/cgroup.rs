//! Chapter 6: the container's cgroup as it looks from inside, and loads
//! that run into its limits (processes, memory, CPU).

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

use contract::{CgroupView, Errno, Forked, Hogged};

/// The interface files a limited cgroup has, read from the cgroup2 the
/// runtime mounted at /sys/fs/cgroup.
const FILES: [&str; 6] = ["memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.procs", "cpu.stat"];

/// The limit files of a cgroup: what the isolation matrix calls a limit.
const LIMITS: [&str; 3] = ["memory.max", "pids.max", "cpu.max"];

/// The mount point of the first cgroup2 file system in a mountinfo.
pub fn cgroup2_mount_point(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        after.starts_with("cgroup2 ").then(|| before.split(' ').nth(4).map(str::to_string))?
    })
}

/// The limit files of the cgroup directory `dir` that are there, trimmed.
pub fn limits(dir: &str) -> BTreeMap<String, String> {
    LIMITS
        .iter()
        .filter_map(|name| {
            Some((name.to_string(), fs::read_to_string(format!("{dir}/{name}")).ok()?.trim().to_string()))
        })
        .collect()
}

/// Spins for `spin` (to use up a CPU quota), then reads the cgroup path
/// from /proc/self/cgroup, whether /sys/fs/cgroup is a cgroup2 mount, the
/// files above and the child cgroups seen there.
pub fn view(spin: Duration) -> CgroupView {
    let until = Instant::now() + spin;
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
    let files: BTreeMap<String, String> = FILES
        .iter()
        .filter_map(|name| {
            Some((name.to_string(), fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok()?.trim().to_string()))
        })
        .collect();
    let children: Option<Vec<String>> = fs::read_dir("/sys/fs/cgroup").ok().map(|entries| {
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    });
    CgroupView { path, mounted, files, children }
}

/// Forks up to `count` sleeping children, stops at the first fork the
/// kernel refuses, then kills and reaps them all, and says how many
/// started and the errno that stopped it. `fork` without
/// `exec` keeps it quick under emulation.
pub fn fork_many(count: u32) -> Forked {
    extern "C" {
        fn fork() -> i32;
        fn pause() -> i32;
        fn _exit(code: i32) -> !;
        fn kill(pid: i32, sig: i32) -> i32;
        fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    }
    let mut children = Vec::new();
    let mut errno = None;
    for _ in 0..count {
        // SAFETY: the probe is single-threaded, so the child is a whole copy;
        // it only calls pause and _exit, touching nothing of Rust's.
        let pid = unsafe { fork() };
        if pid == 0 {
            // SAFETY: as above; the child waits to be killed.
            unsafe {
                pause();
                _exit(0)
            }
        }
        if pid < 0 {
            errno = std::io::Error::last_os_error().raw_os_error().map(Errno);
            break;
        }
        children.push(pid);
    }
    for &pid in &children {
        // SAFETY: kill and waitpid on our own children; the status pointer
        // is a live local.
        unsafe {
            kill(pid, 9);
            let mut status = 0;
            waitpid(pid, &mut status, 0);
        }
    }
    Forked { started: children.len() as u32, errno }
}

/// Allocates and touches `mib` MiB, one MiB at a time, and says how much
/// it got, if the kernel lets it live that long.
pub fn hog(mib: u32) -> Hogged {
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        // vec![1; n] writes every byte: the pages are really used.
        held.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
    Hogged { allocated_mib: held.len() as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup2_mount_is_found_among_others() {
        let mountinfo = "22 1 0:21 / / rw - tmpfs root rw\n\
                         30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount_point(mountinfo).as_deref(), Some("/sys/fs/cgroup"));
        assert_eq!(cgroup2_mount_point("22 1 0:21 / / rw - tmpfs root rw\n"), None);
    }

    #[test]
    fn limits_are_read_when_there() {
        let dir = std::env::temp_dir().join(format!("probe-limits-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("a folder");
        fs::write(dir.join("pids.max"), "64\n").expect("write pids.max");
        let limits = limits(&dir.display().to_string());
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(limits, BTreeMap::from([("pids.max".to_string(), "64".to_string())]));
    }
}
