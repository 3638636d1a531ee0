//! The probe: a small static program the checker runs *inside* a container.
//!
//! It reports what the kernel says, never what the runtime claims: the
//! hostname from `/proc/sys/kernel/hostname`, namespace inodes from
//! `/proc/self/ns`, fields of `/proc/self/status`, and so on. The checker
//! compares that report with the host's view.
//!
//! ```text
//! probe report            print one JSON object (see `Report`)
//! probe exit N            exit with code N
//! probe kill-self SIGNAL  kill itself with signal number SIGNAL
//! probe echo OUT ERR      write OUT to stdout and ERR to stderr
//! probe touch PATH        create PATH (proves the command ran)
//! probe sleep MS          sleep, then touch nothing
//! probe sleep-touch MS PATH  sleep, then create PATH
//! probe touch-sleep PATH MS  create PATH, then sleep (PATH says "I am running")
//! probe signal PID SIGNAL    try to signal PID: exit 0 if delivered, 3 if no
//!                            such process, 4 if not permitted
//! probe orphan               leave an orphaned grandchild that exits at once,
//!                            wait, and report zombies as JSON
//! probe escape MARKER        try to reach the host's MARKER file from inside
//!                            (via /proc/1/root and the chroot escape); JSON
//! probe ipc-look KEY NAME    is there a System V queue KEY, a POSIX queue NAME? JSON
//! probe ipc-make KEY NAME    make both, and leave them behind; JSON
//! probe loopback             talk TCP to itself over 127.0.0.1; JSON
//! probe serve FILE MS        listen, write where (JSON) to FILE, answer one
//!                            connection within MS ms; JSON
//! probe send ADDR PORT MSG   send MSG over TCP, print the reply; JSON
//! probe read PATH            try to read PATH; JSON {"errno"}
//! probe make-owned PATH UID GID  create PATH and chown it; JSON {"errno"}
//! probe cgroup [SPIN_MS]    spin SPIN_MS, then the cgroup seen from inside: the
//!                            0:: path, /sys/fs/cgroup's files and children; JSON
//! probe fork-many N          start up to N sleeping processes; JSON {"started","errno"}
//! probe hog MIB              allocate and touch MIB MiB; JSON {"allocated_mib"}
//! probe rename-through NS NAME   setns into the UTS namespace file NS, then
//!                            set its hostname; JSON {"setns_errno", "sethostname_errno"}
//! ```
//!
//! Any failure of the probe itself exits with 99 and a `probe:` message, so
//! it cannot be mistaken for a result.

mod cgroup;
mod escape;
mod ipc;
mod net;
mod orphan;
mod report;
mod user;

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match dispatch(&args) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("probe: {message}");
            ExitCode::from(99)
        }
    }
}

fn dispatch(args: &[&str]) -> Result<u8, String> {
    match args {
        ["report", ..] => {
            let report = report::Report::collect();
            let json = serde_json::to_string(&report).map_err(|e| format!("encode report: {e}"))?;
            println!("{json}");
            Ok(0)
        }
        ["read", path] => print_json(&serde_json::json!({ "errno": user::read(path) })),
        ["make-owned", path, uid, gid] => {
            let id = |text: &str| text.parse::<u32>().map_err(|_| format!("bad id {text:?}"));
            print_json(&serde_json::json!({ "errno": user::make_owned(path, id(uid)?, id(gid)?) }))
        }
        ["rename-through", ns_path, name] => {
            let (setns, sethostname) = user::rename_through(ns_path, name);
            print_json(&serde_json::json!({ "setns_errno": setns, "sethostname_errno": sethostname }))
        }
        ["cgroup"] => cgroup::report(0),
        ["cgroup", ms] => cgroup::report(ms.parse().map_err(|_| format!("bad milliseconds {ms:?}"))?),
        ["fork-many", n] => cgroup::fork_many(n.parse().map_err(|_| format!("bad count {n:?}"))?),
        ["hog", mib] => cgroup::hog(mib.parse().map_err(|_| format!("bad size {mib:?}"))?),
        ["exit", code] => code.parse().map_err(|_| format!("bad exit code {code:?}")),
        ["kill-self", signal] => {
            let signal: i32 = signal.parse().map_err(|_| format!("bad signal {signal:?}"))?;
            kill_self(signal)
        }
        ["echo", out, err] => {
            println!("{out}");
            eprintln!("{err}");
            Ok(0)
        }
        ["touch", path] => touch(path),
        ["sleep", ms] => {
            std::thread::sleep(parse_ms(ms)?);
            Ok(0)
        }
        ["sleep-touch", ms, path] => {
            std::thread::sleep(parse_ms(ms)?);
            touch(path)
        }
        ["touch-sleep", path, ms] => {
            touch(path)?;
            std::thread::sleep(parse_ms(ms)?);
            Ok(0)
        }
        ["signal", pid, signal] => {
            let pid: i32 = pid.parse().map_err(|_| format!("bad pid {pid:?}"))?;
            let signal: i32 = signal.parse().map_err(|_| format!("bad signal {signal:?}"))?;
            Ok(send_signal(pid, signal))
        }
        ["orphan"] => orphan::report_zombies(),
        ["escape", marker] => escape::try_escape(marker),
        ["ipc-look", key, name] => ipc::look(key, name),
        ["ipc-make", key, name] => ipc::make(key, name),
        ["orphan-parent"] => orphan::spawn_and_abandon(),
        ["loopback"] => print_json(&net::loopback()),
        ["serve", file, ms] => print_json(&net::serve(file, parse_ms(ms)?)),
        ["send", address, port, message] => print_json(&net::send(address, port, message)),
        _ => Err(format!("unknown arguments {args:?}; see the probe's docs")),
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<u8, String> {
    let json = serde_json::to_string(value).map_err(|e| format!("encode JSON: {e}"))?;
    println!("{json}");
    Ok(0)
}

fn parse_ms(ms: &str) -> Result<Duration, String> {
    ms.parse().map(Duration::from_millis).map_err(|_| format!("bad milliseconds {ms:?}"))
}

fn touch(path: &str) -> Result<u8, String> {
    std::fs::write(path, b"ran\n").map_err(|e| format!("create {path}: {e}"))?;
    Ok(0)
}

fn send_signal(pid: i32, signal: i32) -> u8 {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: kill(2) takes no pointers; a bad pid is an error, not UB.
    if unsafe { kill(pid, signal) } == 0 {
        return 0;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(3) => 3, // ESRCH: no such process (in this PID namespace)
        Some(1) => 4, // EPERM
        _ => 5,
    }
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
