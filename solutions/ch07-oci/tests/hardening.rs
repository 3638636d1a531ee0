//! The hardening layers for real, as root on the host, each in a throwaway
//! child process: `fork`, apply, then look at what the kernel says about
//! the child (`/proc/self/status`, the calls it may still make, the
//! program it executes) and report back over a pipe.
//!
//! Capabilities, `no_new_privs` and seccomp filters can never be undone,
//! so they must not touch the test process itself; the paths test makes a
//! mount (and UTS) namespace of its own first.
//!
//! A plain `main` (`harness = false` in Cargo.toml): `fork` copies only the
//! calling thread, and the test harness would run each test on a thread of
//! its own.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci::harden::{PathHardening, ProcessHardening};
use oci_spec::runtime::{Linux, Process};

type Check = fn(&Path) -> Result<(), String>;

fn main() -> ExitCode {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: these tests change capabilities, users and mounts, which needs root (run them with sudo)");
        return ExitCode::SUCCESS;
    }
    let tests: [(&str, Check); 5] = [
        ("root_with_no_new_privs_and_the_default_profile", root_with_no_new_privs_and_the_default_profile),
        ("another_user_with_seccomp_loaded_early", another_user_with_seccomp_loaded_early),
        ("a_podman_style_allow_list_still_lets_the_init_fork_and_wait", allow_list_lets_the_init_fork_and_wait),
        ("masked_and_read_only_paths", masked_and_read_only_paths),
        ("through_the_core_the_init_is_as_hardened_as_the_command", through_the_core_the_init_is_as_hardened),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hardening-{name}-{}", std::process::id()));
        // Canonical, as getcwd names it: the target directory may be given
        // with `..` in it (the course's own tests pass `checker/../target`).
        let result = fs::create_dir_all(&dir)
            .and_then(|()| fs::canonicalize(&dir))
            .map_err(|e| format!("create {}: {e}", dir.display()))
            .and_then(|dir| test(&dir));
        let _ = fs::remove_dir_all(&dir);
        match result {
            Ok(()) => println!("test {name} ... ok"),
            Err(why) => {
                failed += 1;
                println!("test {name} ... FAILED\n{why}");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs `body` in a forked child and returns what it reported: `Ok` if it
/// returned `Ok` and exited 0.
fn in_child(body: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: this test program is single-threaded (no harness), so the
    // child's copy of memory holds no lock another thread owned.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(read_end);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
                .unwrap_or_else(|_| Err("the child panicked (see above)".into()));
            let code = match outcome {
                Ok(()) => 0,
                Err(message) => {
                    let _ = fs::File::from(write_end).write_all(message.as_bytes());
                    1
                }
            };
            // SAFETY: _exit ends the child at once, without running the
            // parent's atexit handlers or flushing its copied buffers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut message = String::new();
            let _ = fs::File::from(read_end).read_to_string(&mut message);
            match waitpid(child, None).map_err(|e| format!("waitpid: {e}"))? {
                WaitStatus::Exited(_, 0) if message.is_empty() => Ok(()),
                WaitStatus::Exited(_, _) => Err(message),
                other => Err(format!("the child ended with {other:?}; it reported {message:?}")),
            }
        }
    }
}

/// The lines of a `/proc/PID/status`-like text, by field name.
fn fields(status: &str) -> BTreeMap<String, String> {
    status
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_string(), value.trim().to_string()))
        .collect()
}

fn own_status() -> Result<BTreeMap<String, String>, String> {
    fs::read_to_string("/proc/self/status").map(|text| fields(&text)).map_err(|e| format!("read status: {e}"))
}

fn expect(what: &str, expected: &str, actual: Option<&String>, hint: &str) -> Result<(), String> {
    match actual {
        Some(actual) if actual == expected => Ok(()),
        _ => Err(format!("{what}: expected {expected:?}, got {actual:?}\nhint: {hint}")),
    }
}

/// `/proc/PID/status`'s hexadecimal form of a set of capabilities.
fn mask(caps: &[caps::Capability]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |all, cap| all | cap.bitmask()))
}

fn default_mask() -> String {
    let set: Vec<caps::Capability> =
        oci::caps::default_set().iter().map(|cap| oci::caps::to_caps(cap).unwrap()).collect();
    mask(&set)
}

fn expect_caps(status: &BTreeMap<String, String>, expected: [(&str, &str); 5], who: &str) -> Result<(), String> {
    for (field, value) in expected {
        expect(&format!("{who}'s {field}"), value, status.get(field), "see caps::CapabilitySets::apply")?;
    }
    Ok(())
}

/// A system call that must fail with `errno`.
fn refused(what: &str, rc: libc::c_long, errno: Errno) -> Result<(), String> {
    let got = Errno::last();
    if rc == -1 && got == errno {
        return Ok(());
    }
    Err(format!("{what}: expected to fail with {errno}, got {rc} ({got})\nhint: the seccomp filter is not in place"))
}

fn process(json: serde_json::Value) -> Process {
    serde_json::from_value(json).expect("a valid process section")
}

fn linux(json: serde_json::Value) -> Linux {
    serde_json::from_value(json).expect("a valid linux section")
}

/// A shell as the container's command would be: its view of itself.
fn shell(script: &str) -> Result<BTreeMap<String, String>, String> {
    let out = Command::new("/bin/sh").args(["-c", script]).output().map_err(|e| format!("run /bin/sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("/bin/sh -c {script:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(fields(&String::from_utf8_lossy(&out.stdout)))
}

fn root_with_no_new_privs_and_the_default_profile(dir: &Path) -> Result<(), String> {
    let cwd = dir.display().to_string();
    let process = process(serde_json::json!({
        "cwd": cwd,
        "user": {"uid": 0, "gid": 0, "umask": 0o027},
        "env": ["PATH=/usr/bin:/bin", "GREENROOM=hardened"],
        "noNewPrivileges": true,
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
        "oomScoreAdj": 500,
    }));
    let linux = linux(serde_json::json!({"seccomp": oci::seccomp::default_profile()}));
    let hardening = ProcessHardening::from_spec(&process, Some(&linux)).map_err(|e| format!("from_spec: {e}"))?;
    in_child(move || {
        hardening.apply().map_err(|e| format!("apply: {e}"))?;
        let status = own_status()?;
        let all = default_mask();
        let none = mask(&[]);
        let sets = [("CapEff", &*all), ("CapPrm", &*all), ("CapBnd", &*all), ("CapInh", &*none), ("CapAmb", &*none)];
        expect_caps(&status, sets, "the container process")?;
        expect("NoNewPrivs", "1", status.get("NoNewPrivs"), "noNewPrivileges is true")?;
        expect("Seccomp", "2", status.get("Seccomp"), "a profile was given: load it")?;

        // Blocked calls fail with the profile's errno; allowed ones work.
        // SAFETY: system calls with plain integer arguments or null
        // pointers, which the filter refuses before the kernel reads them.
        let rc = unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) };
        refused("unshare(CLONE_NEWUSER)", rc, Errno::EPERM)?;
        // SAFETY: as above.
        let rc = unsafe { libc::syscall(libc::SYS_mount, 0, 0, 0, 0, 0) };
        refused("mount", rc, Errno::EPERM)?;
        // SAFETY: as above.
        let rc = unsafe { libc::syscall(libc::SYS_clone3, 0, 0) };
        refused("clone3", rc, Errno::ENOSYS)?;
        // SAFETY: as above.
        let rc = unsafe { libc::syscall(libc::SYS_keyctl, 0, 0, 0, 0, 0) };
        refused("keyctl", rc, Errno::EPERM)?;
        if nix::unistd::getpid().as_raw() <= 0 {
            return Err("getpid failed".into());
        }

        // What the init inherits: a fork of this process, as the core does.
        in_child(|| {
            let status = own_status()?;
            expect("the init's Seccomp", "2", status.get("Seccomp"), "filters are inherited by fork")?;
            expect("the init's NoNewPrivs", "1", status.get("NoNewPrivs"), "inherited by fork")?;
            expect("the init's CapBnd", &default_mask(), status.get("CapBnd"), "inherited by fork")
        })
        .map_err(|e| format!("in a forked child: {e}"))?;

        let mut vars: Vec<(String, String)> = std::env::vars().collect();
        vars.sort();
        let expected = [("GREENROOM", "hardened"), ("PATH", "/usr/bin:/bin")];
        let expected: Vec<(String, String)> = expected.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        if vars != expected {
            return Err(format!("environment: expected {expected:?}, got {vars:?}"));
        }
        let here = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
        if here != Path::new(&cwd) {
            return Err(format!("working directory: expected {cwd}, got {}", here.display()));
        }
        let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE);
        if nofile != Ok((100, 200)) {
            return Err(format!("RLIMIT_NOFILE: expected (100, 200), got {nofile:?}"));
        }
        let oom = fs::read_to_string("/proc/self/oom_score_adj").map_err(|e| format!("oom_score_adj: {e}"))?;
        expect("oom_score_adj", "500", Some(&oom.trim().to_string()), "process.oomScoreAdj")?;
        let umask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
        expect("umask", "23", Some(&umask.bits().to_string()), "process.user.umask")?;

        // The command: root executes with the bounding set as its
        // capabilities, and nothing is lost on the way.
        let seen = shell("grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; echo GREENROOM: $GREENROOM")?;
        expect_caps(&seen, sets, "the executed command")?;
        expect("the command's NoNewPrivs", "1", seen.get("NoNewPrivs"), "kept across exec")?;
        expect("the command's Seccomp", "2", seen.get("Seccomp"), "kept across exec")?;
        expect("the command's $GREENROOM", "hardened", seen.get("GREENROOM"), "process.env reaches the command")
    })
}

fn another_user_with_seccomp_loaded_early(_dir: &Path) -> Result<(), String> {
    let process = process(serde_json::json!({
        "cwd": "/",
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]},
        "env": ["PATH=/usr/bin:/bin"],
        "noNewPrivileges": false,
        "capabilities": {
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"],
        },
    }));
    let linux = linux(serde_json::json!({"seccomp": {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EACCES}],
    }}));
    let hardening = ProcessHardening::from_spec(&process, Some(&linux)).map_err(|e| format!("from_spec: {e}"))?;
    in_child(move || {
        hardening.apply().map_err(|e| format!("apply: {e}"))?;
        let status = own_status()?;
        let (kill, bind) = (caps::Capability::CAP_KILL, caps::Capability::CAP_NET_BIND_SERVICE);
        let both = mask(&[kill, bind]);
        let bind = mask(&[bind]);
        let sets = [("CapEff", &*both), ("CapPrm", &*both), ("CapBnd", &*both), ("CapInh", &*bind), ("CapAmb", &*bind)];
        expect_caps(&status, sets, "the container process")?;
        let ids = "1000\t1000\t1000\t1000";
        expect("Uid", ids, status.get("Uid"), "setresuid to process.user.uid")?;
        expect("Gid", ids, status.get("Gid"), "setresgid to process.user.gid")?;
        expect("Groups", "10 20", status.get("Groups"), "setgroups to additionalGids")?;
        expect("NoNewPrivs", "0", status.get("NoNewPrivs"), "noNewPrivileges is false")?;
        expect("Seccomp", "2", status.get("Seccomp"), "without no_new_privs, load it while CAP_SYS_ADMIN is there")?;
        // SAFETY: getppid takes no arguments.
        let rc = unsafe { libc::syscall(libc::SYS_getppid) };
        refused("getppid", rc, Errno::EACCES)?;

        // A user other than root keeps across exec only its ambient set.
        let seen = shell("grep -E '^(Cap|Uid)' /proc/self/status")?;
        let after_exec =
            [("CapEff", &*bind), ("CapPrm", &*bind), ("CapBnd", &*both), ("CapInh", &*bind), ("CapAmb", &*bind)];
        expect_caps(&seen, after_exec, "the executed command")?;
        expect("the command's Uid", ids, seen.get("Uid"), "kept across exec")
    })
}

/// An allow list with ERRNO(ENOSYS) by default, as podman sends: what the
/// init does after the layer (fork, wait, signals) must be in it, and is.
fn allow_list_lets_the_init_fork_and_wait(_dir: &Path) -> Result<(), String> {
    let allowed: &[&str] = &[
        "read",
        "write",
        "close",
        "exit",
        "exit_group",
        "fork",
        "clone",
        "wait4",
        "kill",
        "getpid",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigtimedwait",
        "capget",
        "capset",
        "prctl",
        "chdir",
        "openat",
        "fstat",
        "newfstatat",
        "statx",
        "mmap",
        "munmap",
        "brk",
        "sigaltstack",
        "futex",
        "set_robust_list",
        "getcwd",
        "seccomp",
        "pipe",
        "pipe2",
        "lseek",
        "madvise",
        "mprotect",
        "sched_yield",
        "poll",
        "getrandom",
    ];
    let process = process(serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "noNewPrivileges": true}));
    let linux = linux(serde_json::json!({"seccomp": {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::ENOSYS,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": allowed, "action": "SCMP_ACT_ALLOW"},
            {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM},
        ],
    }}));
    let hardening = ProcessHardening::from_spec(&process, Some(&linux)).map_err(|e| format!("from_spec: {e}"))?;
    in_child(move || {
        hardening.apply().map_err(|e| format!("apply: {e}"))?;
        // SAFETY: uname and sync are refused before the kernel reads the
        // (null) argument.
        let rc = unsafe { libc::syscall(libc::SYS_uname, 0) };
        refused("uname", rc, Errno::EPERM)?;
        // SAFETY: as above.
        let rc = unsafe { libc::syscall(libc::SYS_sync) };
        refused("sync (not in the allow list)", rc, Errno::ENOSYS)?;
        in_child(|| Ok(())).map_err(|e| format!("fork and wait under the allow list: {e}"))
    })
}

fn masked_and_read_only_paths(dir: &Path) -> Result<(), String> {
    let secret = dir.join("secret");
    let notes = dir.join("notes");
    fs::write(&notes, "keep").map_err(|e| format!("write {}: {e}", notes.display()))?;
    let hidden = dir.join("hidden");
    fs::write(&secret, "the host's secret").map_err(|e| format!("write {}: {e}", secret.display()))?;
    fs::create_dir_all(hidden.join("inside")).map_err(|e| format!("create {}: {e}", hidden.display()))?;
    // Some of podman's masked paths, as this host has them (kernels differ:
    // /proc/kcore is often missing); a missing one is skipped, like the last.
    let proc_files: Vec<&str> = ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
        .into_iter()
        .filter(|path| Path::new(path).is_file())
        .collect();
    let proc_dirs: Vec<&str> =
        ["/sys/firmware", "/proc/acpi"].into_iter().filter(|path| Path::new(path).is_dir()).collect();
    let mut masked: Vec<String> = vec![secret.display().to_string(), hidden.display().to_string()];
    masked.extend(proc_files.iter().chain(&proc_dirs).map(|path| path.to_string()));
    masked.push("/proc/no-such-file".into());
    let linux = linux(serde_json::json!({
        "maskedPaths": masked,
        "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger", notes, "/proc/no-such-dir"],
    }));
    let paths = PathHardening::from_spec(Some(&linux));
    in_child(move || {
        // A mount namespace of our own, private so nothing propagates back,
        // and a UTS namespace, so that a write to /proc/sys/kernel/hostname
        // that should have been refused changes no one's hostname.
        let flags = nix::sched::CloneFlags::CLONE_NEWNS | nix::sched::CloneFlags::CLONE_NEWUTS;
        nix::sched::unshare(flags).map_err(|e| format!("unshare: {e}"))?;
        let private = nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE;
        nix::mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
            .map_err(|e| format!("private: {e}"))?;

        paths.apply().map_err(|e| format!("apply: {e}"))?;
        let text = fs::read_to_string(&secret).map_err(|e| format!("read the masked file: {e}"))?;
        expect("the masked file", "", Some(&text), "a file gets /dev/null bound over it")?;
        let entries = fs::read_dir(&hidden).map_err(|e| format!("list the masked directory: {e}"))?.count();
        expect("entries of the masked directory", "0", Some(&entries.to_string()), "a directory gets a tmpfs")?;
        let write = fs::write(hidden.join("new"), "x").map_err(|e| e.raw_os_error());
        if write != Err(Some(libc::EROFS)) {
            return Err(format!("write into the masked directory: expected EROFS, got {write:?}"));
        }
        for path in &proc_files {
            let mut bytes = Vec::new();
            let read = fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes));
            if !matches!(read, Ok(0)) {
                return Err(format!("read the masked {path}: expected 0 bytes, got {read:?}"));
            }
        }
        for path in &proc_dirs {
            let entries = fs::read_dir(path).map_err(|e| format!("list {path}: {e}"))?.count();
            expect(&format!("entries of the masked {path}"), "0", Some(&entries.to_string()), "a tmpfs over it")?;
        }
        let write = fs::write("/proc/sys/kernel/hostname", "escaped").map_err(|e| e.raw_os_error());
        if write != Err(Some(libc::EROFS)) {
            return Err(format!("write /proc/sys/kernel/hostname: expected EROFS, got {write:?}"));
        }
        let write = fs::write(&notes, "changed").map_err(|e| e.raw_os_error());
        if write != Err(Some(libc::EROFS)) {
            return Err(format!("write the read-only file {}: expected EROFS, got {write:?}", notes.display()));
        }
        // /proc/sysrq-trigger where the kernel has it (never written here:
        // that would act on the host).
        use nix::sys::statvfs::FsFlags;
        let wanted = FsFlags::ST_RDONLY | FsFlags::ST_NOSUID | FsFlags::ST_NODEV | FsFlags::ST_NOEXEC;
        let sysrq = Path::new("/proc/sysrq-trigger").exists().then_some("/proc/sysrq-trigger");
        for path in ["/proc/sys"].into_iter().chain(sysrq) {
            let stat = nix::sys::statvfs::statvfs(path).map_err(|e| format!("statvfs {path}: {e}"))?;
            if !stat.flags().contains(wanted) {
                return Err(format!("{path}'s mount flags: expected {wanted:?}, got {:?}", stat.flags()));
            }
        }
        Ok(())
    })
}

/// The real sequence: the core clones the child into new PID and mount
/// namespaces, the PID layer mounts /proc, the hardening layer enters last,
/// then the core forks the init (PID 1) and execs the command (PID 2). Both
/// must be hardened, and the init must still be able to do its job (wait
/// for the command, relay its exit code) under the default profile.
fn through_the_core_the_init_is_as_hardened(dir: &Path) -> Result<(), String> {
    let out = |name: &str| dir.join(name).display().to_string();
    let script = format!(
        "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/1/status > {init}; \
         grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status > {command}; \
         echo PID: $$ >> {command}; exit 7",
        init = out("init"),
        command = out("command"),
    );
    let process = process(serde_json::json!({
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "env": ["PATH=/usr/bin:/bin"],
        "noNewPrivileges": true,
    }));
    let linux = linux(serde_json::json!({"seccomp": oci::seccomp::default_profile()}));
    let hardening = ProcessHardening::from_spec(&process, Some(&linux)).map_err(|e| format!("from_spec: {e}"))?;
    let layers: Vec<Box<dyn spawn::Layer>> = vec![Box::new(pid::PidLayer), Box::new(hardening)];
    let code = spawn::run(&["/bin/sh".into(), "-c".into(), script], &layers).map_err(|e| format!("run: {e}"))?;
    expect("the exit code the init relays", "7", Some(&code.to_string()), "the init must be able to wait")?;
    let read = |name: &str| fs::read_to_string(out(name)).map(|text| fields(&text)).map_err(|e| format!("{name}: {e}"));
    let (init, command) = (read("init")?, read("command")?);
    expect("the command's PID", "2", command.get("PID"), "the PID layer's init should be PID 1")?;
    let all = default_mask();
    let none = mask(&[]);
    let sets = [("CapEff", &*all), ("CapPrm", &*all), ("CapBnd", &*all), ("CapInh", &*none), ("CapAmb", &*none)];
    for (who, status) in [("the init (PID 1)", &init), ("the command", &command)] {
        expect_caps(status, sets, who)?;
        expect(&format!("{who}'s NoNewPrivs"), "1", status.get("NoNewPrivs"), "set before the init forks")?;
        expect(&format!("{who}'s Seccomp"), "2", status.get("Seccomp"), "loaded before the init forks")?;
    }
    Ok(())
}
