//! Chapter 6: the container's cgroup as it looks from inside, and loads
//! that run into its limits (processes, memory, CPU).

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

use contract::{CgroupView, Errno, Forked, Hogged, Pressed};

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

/// Presses against `memory.max` with memory the kernel may take back: see
/// [`Pressed`]. Only the `memory.events` reading is returned; the caller
/// then kills the probe.
pub fn press(free_mib: usize, hog_mib: usize) -> Result<Pressed, String> {
    extern "C" {
        fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, offset: i64) -> *mut u8;
        fn madvise(addr: *mut u8, len: usize, advice: i32) -> i32;
    }
    const PROT_READ_WRITE: i32 = 0x1 | 0x2;
    const MAP_PRIVATE_ANONYMOUS: i32 = 0x02 | 0x20;
    const MADV_FREE: i32 = 8;
    const MADV_NOHUGEPAGE: i32 = 15;
    let len = free_mib << 20;
    // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
    let lazy = unsafe { mmap(std::ptr::null_mut(), len, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0) };
    if lazy as isize == -1 {
        return Err(format!("mmap {free_mib} MiB: {}", std::io::Error::last_os_error()));
    }
    // Small pages: a huge page given back lazily is split first, which
    // needs memory the cgroup may not have.
    // SAFETY: `lazy` is the mapping just made, `len` its length.
    unsafe { madvise(lazy, len, MADV_NOHUGEPAGE) };
    for offset in (0..len).step_by(4096) {
        // SAFETY: within the mapping, which is readable and writable.
        unsafe { lazy.add(offset).write_volatile(1) };
    }
    // SAFETY: as above; the pages are never touched again, so the kernel
    // may drop them whenever it needs the memory.
    if unsafe { madvise(lazy, len, MADV_FREE) } != 0 {
        return Err(format!("madvise MADV_FREE: {}", std::io::Error::last_os_error()));
    }
    // Each MiB is charged as it is touched: past the limit, the lazy pages go.
    hog(hog_mib as u32);
    let events = fs::read_to_string("/sys/fs/cgroup/memory.events").ok();
    let line = |name: &str| {
        let events = events.as_deref()?;
        events.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    };
    Ok(Pressed { max_events: line("max"), oom_kills: line("oom_kill") })
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
