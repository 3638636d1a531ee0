//! Chapter 7: what the hardening lets the process do — system calls a
//! seccomp profile refuses, masked and read-only paths, and the escapes
//! capabilities, seccomp and masked paths must keep shut.

use std::io::Read;

use contract::{Breakout, Created, Errno, PathSeen, PathsSeen, Syscalls};
use syscalls::Sysno;

extern "C" {
    fn syscall(number: i64, ...) -> i64;
}

// System call numbers differ between architectures: the `syscalls` crate
// has the table of the one the probe is built for. (arm64 has no `mknod`,
// only `mknodat`, so the probe uses `mknodat` everywhere.)
const SYS_UNAME: i64 = Sysno::uname as i64;
const SYS_PTRACE: i64 = Sysno::ptrace as i64;
const SYS_MKNODAT: i64 = Sysno::mknodat as i64;
const SYS_MOUNT: i64 = Sysno::mount as i64;
const SYS_INIT_MODULE: i64 = Sysno::init_module as i64;
const SYS_KEYCTL: i64 = Sysno::keyctl as i64;
const SYS_UNSHARE: i64 = Sysno::unshare as i64;
const SYS_UMOUNT2: i64 = Sysno::umount2 as i64;

const AT_FDCWD: i64 = -100;

const KEYCTL_GET_KEYRING_ID: i64 = 0;
const KEY_SPEC_PROCESS_KEYRING: i64 = -2;
const PTRACE_SEIZE: i64 = 0x4206;
const S_IFBLK: i64 = 0o060000;
const MS_RDONLY: i64 = 1;
const CLONE_NEWUSER: i64 = 0x1000_0000;

/// The errno of the last failed call.
fn last_errno() -> Errno {
    Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// `None` for a call that returned 0 or more, else its errno.
fn outcome(rc: i64) -> Option<Errno> {
    (rc < 0).then(last_errno)
}

/// `probe syscalls`.
pub fn syscalls() -> Syscalls {
    // SAFETY: keyctl with these arguments reads no memory of ours.
    let keyctl = outcome(unsafe { syscall(SYS_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0i64) });
    let mut buffer = [0u8; 390]; // struct utsname: 6 fields of 65 bytes.
                                 // SAFETY: uname writes a struct utsname, which fits in `buffer`.
    let uname = outcome(unsafe { syscall(SYS_UNAME, buffer.as_mut_ptr()) });
    Syscalls { keyctl, uname }
}

/// `probe paths PATH…`.
pub fn paths(paths: &[&str]) -> PathsSeen {
    PathsSeen { paths: paths.iter().map(|path| seen(path)).collect() }
}

fn seen(path: &str) -> PathSeen {
    let errno = |e: std::io::Error| Errno(e.raw_os_error().unwrap_or(0));
    let metadata = std::fs::metadata(path);
    let (read_errno, size) = match &metadata {
        Err(e) => (Some(Errno(e.raw_os_error().unwrap_or(0))), None),
        Ok(meta) if meta.is_dir() => match std::fs::read_dir(path) {
            Ok(entries) => (None, Some(entries.count() as u64)),
            Err(e) => (Some(errno(e)), None),
        },
        Ok(_) => {
            let mut bytes = Vec::new();
            match std::fs::File::open(path).and_then(|file| file.take(64 << 10).read_to_end(&mut bytes)) {
                Ok(n) => (None, Some(n as u64)),
                Err(e) => (Some(errno(e)), None),
            }
        }
    };
    // Opened, never written: a write to some of these files acts at once.
    let write_errno = std::fs::OpenOptions::new().write(true).open(path).err().map(errno);
    // In a directory, a file of the probe's own: made, then removed.
    let created_inside = metadata.ok().filter(|meta| meta.is_dir()).map(|_| {
        let inside = format!("{}/.probe-wrote", path.trim_end_matches('/'));
        let made = std::fs::OpenOptions::new().write(true).create_new(true).open(&inside);
        let errno = made.err().map(errno);
        if errno.is_none() {
            let _ = std::fs::remove_file(&inside);
        }
        Created { path: inside, errno }
    });
    PathSeen { path: path.to_string(), read_errno, size, write_errno, created_inside }
}

/// The machine's first disk, from `/proc/partitions`: its name and device
/// number, in the kernel's encoding of `makedev`.
fn first_disk() -> Option<(String, i64)> {
    let partitions = std::fs::read_to_string("/proc/partitions").ok()?;
    partitions.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [major, minor, _blocks, name] = fields[..] else { return None };
        if ["ram", "loop", "zram"].iter().any(|memory| name.starts_with(memory)) {
            return None;
        }
        let (major, minor) = (major.parse::<i64>().ok()?, minor.parse::<i64>().ok()?);
        let dev = (major & 0xfff) << 8 | (minor & 0xff) | (minor & !0xff) << 12 | (major & !0xfff) << 32;
        Some((name.to_string(), dev))
    })
}

/// `probe breakout`.
pub fn breakout() -> Breakout {
    let node = c"/tmp/greenroom-disk";
    let (disk, dev) = first_disk().unwrap_or_else(|| ("vda".to_string(), 254 << 8));
    // SAFETY: mknodat reads the NUL-terminated path, which lives to the end.
    let mknod_block = outcome(unsafe { syscall(SYS_MKNODAT, AT_FDCWD, node.as_ptr(), S_IFBLK | 0o600, dev) });
    // Without a node of its own, the disk's entry in /dev, should the
    // runtime have left one there.
    let source = match mknod_block {
        None => node.to_owned(),
        Some(_) => std::ffi::CString::new(format!("/dev/{disk}")).unwrap_or_else(|_| node.to_owned()),
    };
    let (tmp, ext4) = (c"/tmp", c"ext4");
    // SAFETY: mount reads three NUL-terminated strings; no data argument.
    let disk_mount =
        outcome(unsafe { syscall(SYS_MOUNT, source.as_ptr(), tmp.as_ptr(), ext4.as_ptr(), MS_RDONLY, 0i64) });
    if disk_mount.is_none() {
        // SAFETY: umount2 reads one NUL-terminated string.
        unsafe { syscall(SYS_UMOUNT2, tmp.as_ptr(), 0i64) };
    }
    let _ = std::fs::remove_file("/tmp/greenroom-disk");
    let (none, tmpfs) = (c"none", c"tmpfs");
    // SAFETY: mount reads three NUL-terminated strings; no data argument.
    let mount = outcome(unsafe { syscall(SYS_MOUNT, none.as_ptr(), tmp.as_ptr(), tmpfs.as_ptr(), 0i64, 0i64) });
    let sysrq_trigger = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sysrq-trigger")
        .err()
        .map(|e| Errno(e.raw_os_error().unwrap_or(0)));
    let sys_firmware_entries = std::fs::read_dir("/sys/firmware").ok().map(|entries| entries.count() as u64);
    // PTRACE_SEIZE, not ATTACH: the same permission check, without
    // stopping PID 1 (a stopped init would never reap the probe). The probe's
    // exit detaches it.
    // SAFETY: PTRACE_SEIZE with no options takes no pointers.
    let ptrace_pid1 = outcome(unsafe { syscall(SYS_PTRACE, PTRACE_SEIZE, 1i64, 0i64, 0i64) });
    let empty = c"";
    // SAFETY: a null image of length 0 is never read; the arguments are a
    // NUL-terminated string.
    let init_module = outcome(unsafe { syscall(SYS_INIT_MODULE, std::ptr::null::<u8>(), 0i64, empty.as_ptr()) });
    // Last: it changes the probe's own namespace. The probe is single-threaded.
    // SAFETY: unshare takes no pointers.
    let unshare_user = outcome(unsafe { syscall(SYS_UNSHARE, CLONE_NEWUSER) });
    let caps_after_unshare = match unshare_user {
        Some(_) => None,
        None => std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
            let line = status.lines().find_map(|line| line.strip_prefix("CapEff:"))?;
            u64::from_str_radix(line.trim(), 16).ok()
        }),
    };
    let (init_exe, init_exe_is_probe) = init_exe();
    Breakout {
        mknod_block,
        disk_mount,
        mount,
        sysrq_trigger,
        sys_firmware_entries,
        ptrace_pid1,
        init_module,
        unshare_user,
        caps_after_unshare,
        init_exe,
        init_exe_is_probe,
    }
}

/// Opens `/proc/1/exe` and tells whether it is the probe's own program.
fn init_exe() -> (Option<Errno>, Option<bool>) {
    use std::os::unix::fs::MetadataExt;
    match std::fs::File::open("/proc/1/exe").and_then(|file| file.metadata()) {
        Err(e) => (Some(Errno(e.raw_os_error().unwrap_or(0))), None),
        Ok(init) => {
            let probe = std::fs::metadata("/proc/self/exe").ok();
            (None, Some(probe.is_some_and(|own| (own.dev(), own.ino()) == (init.dev(), init.ino()))))
        }
    }
}
