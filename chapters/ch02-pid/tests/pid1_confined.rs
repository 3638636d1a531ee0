//! The init is as confined as the command: whatever a layer listed after
//! the PID layer does to the container process in `enter_child` holds in
//! PID 1 of the container too, because the core starts the init only once
//! every layer has entered.
//!
//! The layer here sets `no_new_privs` (`prctl(PR_SET_NO_NEW_PRIVS)`), which
//! `/proc/PID/status` shows for each process. Needs root, for the
//! namespaces (chapter 2 of the book says how to run it).
//!
//! The core runs in this process, and its `clone` copies only the calling
//! thread, so the process must be single-threaded: hence a plain `main`
//! (`harness = false` in Cargo.toml) rather than the test harness, which
//! runs each test on a thread of its own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pid::PidLayer;
use spawn::{BoxError, Layer};

/// Sets `no_new_privs` in the container process, as a chapter 6 layer
/// would, after the PID layer.
struct NoNewPrivsLayer;

impl Layer for NoNewPrivsLayer {
    fn name(&self) -> &'static str {
        "no-new-privs"
    }

    fn enter_child(&self) -> Result<(), BoxError> {
        nix::sys::prctl::set_no_new_privs()?;
        Ok(())
    }
}

fn main() -> ExitCode {
    match pid1_carries_what_a_later_layer_set() {
        Ok(()) => {
            println!("test pid1_carries_what_a_later_layer_set ... ok");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("test pid1_carries_what_a_later_layer_set ... FAILED\n{why}");
            ExitCode::FAILURE
        }
    }
}

fn pid1_carries_what_a_later_layer_set() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("this test creates namespaces and mounts /proc, which needs root: run it with sudo".into());
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pid1-confined-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let result = run_and_check(&dir);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn run_and_check(dir: &Path) -> Result<(), String> {
    let out = |name: &str| dir.join(name).display().to_string();
    // The command records its own PID: /proc/1 must be the init, not the
    // command itself running as PID 1 without one.
    let script = format!(
        "echo $$ > {pid}; grep NoNewPrivs /proc/1/status > {init}; grep NoNewPrivs /proc/self/status > {command}",
        pid = out("pid"),
        init = out("init"),
        command = out("command"),
    );
    let layers: Vec<Box<dyn Layer>> = vec![Box::new(PidLayer), Box::new(NoNewPrivsLayer)];
    let code = spawn::run(&["/bin/sh".into(), "-c".into(), script], &layers).map_err(|e| format!("run: {e}"))?;
    if code != 0 {
        return Err(format!("the container's command exited with {code}, expected 0"));
    }
    let read = |name: &str| fs::read_to_string(out(name)).map(|text| text.trim().to_string());
    let read = |name: &str| read(name).map_err(|e| format!("read {}: {e}", out(name)));
    expect("the command's PID", "2", &read("pid")?, "the command should run as PID 2, under the init")?;
    let set = "NoNewPrivs:\t1";
    expect("the command's NoNewPrivs", set, &read("command")?, "the layer's enter_child did not reach the command")?;
    expect(
        "PID 1's NoNewPrivs",
        set,
        &read("init")?,
        "the init started before the layers after the PID layer entered: start it last, from the core",
    )?;
    // The layer ran in the container only, never in the runtime.
    let here = nix::sys::prctl::get_no_new_privs().map_err(|e| format!("read no_new_privs: {e}"))?;
    if here {
        return Err("no_new_privs was set in the runtime itself, not only in the container".into());
    }
    Ok(())
}

fn expect(what: &str, expected: &str, actual: &str, hint: &str) -> Result<(), String> {
    if actual == expected {
        return Ok(());
    }
    Err(format!("{what}: expected {expected:?}, got {actual:?}\nhint: {hint}"))
}
