//! The probe: a small static program the checker runs *inside* a container.
//!
//! It reports what the kernel says, never what the runtime claims: the
//! hostname from `/proc/sys/kernel/hostname`, namespace inodes from
//! `/proc/self/ns`, fields of `/proc/self/status`, and so on. The checker
//! compares that report with the host's view.
//!
//! ```text
//! probe [--nonce NONCE] SUBCOMMAND ARGS…
//!
//! report                 the kernel's view from inside (contract::Report)
//! signal PID SIGNAL      try kill(PID, SIGNAL) (contract::SignalOutcome)
//! orphan                 leave orphaned grandchildren that exit at once,
//!                        wait, and list zombies (contract::Orphans)
//! escape MARKER          try to reach the host's file MARKER from inside
//!                        (contract::Escape)
//! touch PATH             try to create PATH (contract::Touched); PATH also
//!                        tells the host that the command ran
//! mounts PATH…           the mount table, then try to create each PATH
//!                        (contract::MountsSeen)
//! ipc-look KEY NAME      is there a System V queue KEY, a POSIX queue NAME?
//!                        (contract::IpcLook)
//! ipc-make KEY NAME      make both and leave them behind (contract::IpcMade:
//!                        null for a queue made, else the errno that refused it)
//! loopback               talk TCP to itself over 127.0.0.1 (contract::Loopback)
//! serve FILE MS [PORT]   listen (on PORT if given), write where to FILE
//!                        (contract::Listening), answer one connection within
//!                        MS ms (contract::Served)
//! send ADDR PORT MSG     send MSG over TCP, read the reply (contract::Sent)
//! read PATH              try to read PATH (contract::ReadOutcome)
//! make-owned PATH UID GID  create PATH and chown it (contract::MadeOwned)
//! rename-through NS NAME join the UTS namespace file NS, set its hostname
//!                        (contract::RenameThrough)
//! syscalls               keyctl (a profile may refuse it) and uname
//!                        (contract::Syscalls)
//! paths PATH…            read and open for writing each PATH
//!                        (contract::PathsSeen)
//! breakout               try the escapes hardening blocks (contract::Breakout)
//! with-groups GIDS -- PROGRAM ARGS…
//!                        set the supplementary groups, then exec PROGRAM
//! exit N                 exit with code N
//! kill-self SIGNAL       kill itself with signal number SIGNAL
//! echo OUT ERR           write OUT to stdout and ERR to stderr
//! sleep MS               sleep
//! sleep-touch MS PATH    sleep, then create PATH
//! touch-sleep PATH MS    create PATH, then sleep (PATH says "I am running")
//! touch-await PATH RELEASE MS
//!                        create PATH, then exit once RELEASE exists (or
//!                        after MS)
//! cgroup [SPIN_MS]       spin SPIN_MS, then the cgroup seen from inside
//!                        (contract::CgroupView)
//! fork-many N            fork up to N sleeping children (contract::Forked)
//! hog MIB                allocate and touch MIB MiB (contract::Hogged)
//! press FREE HOG         run into memory.max with memory the kernel can
//!                        take back, then SIGKILL itself (contract::Pressed)
//! ```
//!
//! The subcommands that answer a question print one JSON line: an
//! envelope (`contract::Envelope`) holding the document and echoing the
//! nonce, so the suite can tell this run's answer from a canned one. Their
//! exit code only says that the probe reported: 0. Any failure of the probe
//! itself exits with 99 and a `probe:` message on stderr.

mod cgroup;
mod escape;
mod harden;
mod ipc;
mod net;
mod orphan;
mod report;
mod user;

use std::process::ExitCode;
use std::time::Duration;

use contract::{
    plain, Breakout, CgroupView, Created, Document, Envelope, Errno, Escape, Forked, Hogged, IpcLook, IpcMade,
    Loopback, MadeOwned, MountsSeen, Nonce, Orphans, PathsSeen, Pressed, ReadOutcome, RenameThrough, Report, Sent,
    Served, SignalOutcome, Syscalls, Touched,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (nonce, args) = contract::split_nonce(&args);
    match dispatch(nonce, args) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("probe: {message}");
            ExitCode::from(99)
        }
    }
}

fn dispatch(nonce: Option<Nonce>, args: &[&str]) -> Result<u8, String> {
    match args {
        [Report::SUBCOMMAND, ..] => answer(nonce, report::collect()),
        [SignalOutcome::SUBCOMMAND, pid, signal] => {
            let pid: i32 = pid.parse().map_err(|_| format!("bad pid {pid:?}"))?;
            answer(nonce, send_signal(pid, parse_signal(signal)?))
        }
        [Orphans::SUBCOMMAND] => answer(nonce, orphan::count_zombies()?),
        [Escape::SUBCOMMAND, marker] => answer(nonce, escape::try_escape(marker)),
        [Touched::SUBCOMMAND, path] => answer(nonce, Touched { errno: touch(path).err() }),
        [MountsSeen::SUBCOMMAND, paths @ ..] => answer(nonce, mounts_seen(paths)),
        [IpcLook::SUBCOMMAND, key, name] => answer(nonce, ipc::look(key, name)?),
        [IpcMade::SUBCOMMAND, key, name] => answer(nonce, ipc::make(key, name)?),
        [Loopback::SUBCOMMAND] => answer(nonce, net::loopback()),
        [Served::SUBCOMMAND, file, ms] => answer(nonce.clone(), net::serve(file, parse_ms(ms)?, 0, nonce)),
        [Served::SUBCOMMAND, file, ms, port] => {
            let port = port.parse().map_err(|_| format!("bad port {port:?}"))?;
            answer(nonce.clone(), net::serve(file, parse_ms(ms)?, port, nonce))
        }
        [Sent::SUBCOMMAND, address, port, message] => answer(nonce, net::send(address, port, message)),
        [CgroupView::SUBCOMMAND] => answer(nonce, cgroup::view(Duration::ZERO)),
        [CgroupView::SUBCOMMAND, ms] => answer(nonce, cgroup::view(parse_ms(ms)?)),
        [Forked::SUBCOMMAND, n] => answer(nonce, cgroup::fork_many(n.parse().map_err(|_| format!("bad count {n:?}"))?)),
        [Hogged::SUBCOMMAND, mib] => answer(nonce, cgroup::hog(mib.parse().map_err(|_| format!("bad size {mib:?}"))?)),
        [Pressed::SUBCOMMAND, free, hog] => {
            let mib = |text: &str| text.parse::<usize>().map_err(|_| format!("bad size {text:?}"));
            answer(nonce, cgroup::press(mib(free)?, mib(hog)?)?)?;
            use std::io::Write;
            let _ = std::io::stdout().flush();
            kill_self(9)
        }
        [ReadOutcome::SUBCOMMAND, path] => answer(nonce, ReadOutcome { errno: user::read(path).map(Errno) }),
        [MadeOwned::SUBCOMMAND, path, uid, gid] => {
            let id = |text: &str| text.parse::<u32>().map_err(|_| format!("bad id {text:?}"));
            answer(nonce, MadeOwned { errno: user::make_owned(path, id(uid)?, id(gid)?).map(Errno) })
        }
        [RenameThrough::SUBCOMMAND, ns_path, name] => {
            let (setns, sethostname) = user::rename_through(ns_path, name);
            answer(nonce, RenameThrough { setns_errno: setns.map(Errno), sethostname_errno: sethostname.map(Errno) })
        }
        [Syscalls::SUBCOMMAND] => answer(nonce, harden::syscalls()),
        [PathsSeen::SUBCOMMAND, paths @ ..] => answer(nonce, harden::paths(paths)),
        [Breakout::SUBCOMMAND] => answer(nonce, harden::breakout()),
        [plain::EXIT, code] => code.parse().map_err(|_| format!("bad exit code {code:?}")),
        [plain::KILL_SELF, signal] => kill_self(parse_signal(signal)?),
        [plain::ECHO, out, err] => {
            println!("{out}");
            eprintln!("{err}");
            Ok(0)
        }
        [plain::SLEEP, ms] => {
            std::thread::sleep(parse_ms(ms)?);
            Ok(0)
        }
        [plain::SLEEP_TOUCH, ms, path] => {
            std::thread::sleep(parse_ms(ms)?);
            touch_marker(path)
        }
        [plain::TOUCH_SLEEP, path, ms] => {
            touch_marker(path)?;
            std::thread::sleep(parse_ms(ms)?);
            Ok(0)
        }
        [plain::TOUCH_AWAIT, path, release, ms] => {
            touch_marker(path)?;
            let deadline = std::time::Instant::now() + parse_ms(ms)?;
            while !std::path::Path::new(release).exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(0)
        }
        [orphan::PARENT] => orphan::spawn_and_abandon(),
        [plain::WITH_GROUPS, gids, "--", program, rest @ ..] => exec_with_groups(gids, program, rest),
        _ => Err(format!("unknown arguments {args:?}; see the probe's docs")),
    }
}

/// Sets the supplementary groups to `gids` (`4,5`), then becomes
/// `program`; returns only if either fails.
fn exec_with_groups(gids: &str, program: &str, args: &[&str]) -> Result<u8, String> {
    use std::os::unix::process::CommandExt;
    extern "C" {
        fn setgroups(size: usize, list: *const u32) -> i32;
    }
    let groups = gids
        .split(',')
        .filter(|g| !g.is_empty())
        .map(|g| g.parse::<u32>().map_err(|_| format!("bad group id {g:?}")))
        .collect::<Result<Vec<u32>, String>>()?;
    // SAFETY: the pointer and length describe `groups`, alive for the call.
    if unsafe { setgroups(groups.len(), groups.as_ptr()) } != 0 {
        return Err(format!("setgroups({gids}): {}", std::io::Error::last_os_error()));
    }
    let err = std::process::Command::new(program).args(args).exec();
    Err(format!("exec {program}: {err}"))
}

/// Prints `body` in its envelope, as one line: the probe's answer.
fn answer<T: Document>(nonce: Option<Nonce>, body: T) -> Result<u8, String> {
    let line = serde_json::to_string(&Envelope { nonce, body })
        .map_err(|e| format!("encode the {} document: {e}", T::SUBCOMMAND))?;
    println!("{line}");
    Ok(0)
}

fn parse_ms(ms: &str) -> Result<Duration, String> {
    ms.parse().map(Duration::from_millis).map_err(|_| format!("bad milliseconds {ms:?}"))
}

fn parse_signal(signal: &str) -> Result<i32, String> {
    signal.parse().map_err(|_| format!("bad signal {signal:?}"))
}

fn touch(path: &str) -> Result<(), contract::Errno> {
    std::fs::write(path, b"ran\n").map_err(|e| contract::Errno(e.raw_os_error().unwrap_or(0)))
}

/// The mount table, then an attempt to create each of `paths`.
fn mounts_seen(paths: &[&str]) -> MountsSeen {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok();
    let created = paths.iter().map(|path| Created { path: path.to_string(), errno: touch(path).err() }).collect();
    MountsSeen { mountinfo: mountinfo.map(|text| text.lines().map(str::to_string).collect()), created }
}

/// Creates PATH, which tells the host that the command ran (or is running).
fn touch_marker(path: &str) -> Result<u8, String> {
    touch(path).map_err(|errno| format!("create {path}: {}", std::io::Error::from_raw_os_error(errno.0)))?;
    Ok(0)
}

fn send_signal(pid: i32, signal: i32) -> SignalOutcome {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: kill(2) takes no pointers; a bad pid is an error, not UB.
    let errno = match unsafe { kill(pid, signal) } {
        0 => None,
        _ => Some(contract::Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))),
    };
    SignalOutcome { errno }
}

fn kill_self(signal: i32) -> Result<u8, String> {
    extern "C" {
        fn raise(sig: i32) -> i32;
    }
    // SAFETY: raise() only sends a signal to the calling thread; it takes no
    // pointers. The default action of the signals used kills the process.
    let rc = unsafe { raise(signal) };
    Err(format!("raise({signal}) returned {rc}; the signal did not kill the probe"))
}
