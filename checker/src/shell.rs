//! `checker shell chapterN`: a root shell in the grading guest, with that
//! chapter's runtime, the probe and a ready rootfs, to try things by hand
//! and to paste the report's repeat lines into — as root in a throwaway
//! VM, never on the learner's machine.
//!
//! The guest boots as for grading (the same image: [`GuestImage`]), but its
//! console is this terminal and its command is a login shell on that
//! console. Leaving the shell powers the guest off. QEMU is killed and its
//! temporary files removed whatever ends the session: the shell's exit, a
//! guest that stops, or a SIGINT, SIGTERM or SIGHUP sent to the checker.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use greenroom_vm::{FileSource, Guest, GuestFile};
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::termios;

use crate::chapters::Chapter;
use crate::compile::{self, Source};
use crate::grade::{GuestImage, Mode, GUEST_BIN, GUEST_SCRATCH};

/// The runtime, in the guest, where grading puts it too.
pub const GUEST_RUNTIME: &str = "/greenroom/bin/runtime";
/// The ready rootfs in the guest: busybox, and the probe as `/probe`.
pub const GUEST_ROOTFS: &str = "/greenroom/rootfs";
/// Where a repeat line's other scratch files go in the shell.
const SHELL_SCRATCH: &str = "/tmp";
/// The script the guest runs: it makes the rootfs, then a login shell.
const SHELL_SCRIPT: &str = "/greenroom/shell";
/// How long the guest may take to boot.
const BOOT_DEADLINE: Duration = Duration::from_secs(180);

/// Whose runtime the shell has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// The learner's, from `chapters/`.
    Learner,
    /// The reference solution's.
    Solution,
    /// The solutions with a patch applied (the checker's fixtures).
    Patched(PathBuf),
}

impl Runtime {
    /// From the command line's `--solution` and `--patch`.
    pub fn of(solution: bool, patch: Option<&Path>) -> Runtime {
        match (patch, solution) {
            (Some(patch), _) => Runtime::Patched(patch.to_path_buf()),
            (None, true) => Runtime::Solution,
            (None, false) => Runtime::Learner,
        }
    }

    fn describe(&self) -> String {
        match self {
            Runtime::Learner => "your code in chapters/".into(),
            Runtime::Solution => "the solutions".into(),
            Runtime::Patched(patch) => format!("the solutions with {} applied", patch.display()),
        }
    }
}

/// The command that opens the shell for `chapter`'s `runtime`.
pub fn command_line(chapter: &Chapter, runtime: &Runtime) -> String {
    let flags = match runtime {
        Runtime::Learner => String::new(),
        Runtime::Solution => " --solution".into(),
        Runtime::Patched(patch) => format!(" --patch {}", patch.display()),
    };
    format!("cargo run -p checker -- shell chapter{}{flags}", chapter.number)
}

/// A test's command as it runs in the shell: the rootfs the test wrote in
/// its scratch directory is the shell's ready one, and the scratch
/// directory itself is the shell's `/tmp`. The runtime and the probe are
/// where grading had them.
pub fn paste_form(command: &str, job: &str, test: &str) -> String {
    let scratch = format!("{GUEST_SCRATCH}/{job}/{test}");
    command.replace(&format!("{scratch}/rootfs"), GUEST_ROOTFS).replace(&scratch, SHELL_SCRATCH)
}

/// Chapter 7's runtime in the guest, as its pages and podman call it: an
/// OCI runtime named `oci` (also at [`GUEST_RUNTIME`], which repeat lines use).
pub const GUEST_OCI: &str = "/greenroom/bin/oci";

/// An example to try first, for `chapter`'s command line.
fn example(chapter: u8) -> String {
    match chapter {
        0 => "runtime run -- /bin/echo hello from a child".to_string(),
        1 | 2 => "runtime run --hostname box -- hostname".to_string(),
        3 => format!("runtime run --rootfs {GUEST_ROOTFS} --hostname box -- /bin/sh"),
        4..crate::grade::CAPSTONE_CHAPTER => {
            format!("runtime run --net none --rootfs {GUEST_ROOTFS} --hostname box -- /bin/sh")
        }
        // An OCI runtime takes a bundle, not flags: podman makes one.
        _ => format!("podman --runtime {GUEST_OCI} run --rm localhost/busybox hostname"),
    }
}

/// What every shell in the guest starts from, `checker shell`'s and `dev
/// try-book`'s: a rootfs like the tests', chapter 7's `oci`, the runtime on
/// PATH, and `/root` as the working directory.
pub fn guest_setup(chapter: u8) -> String {
    // Chapter 7's pages call the runtime `oci`, and so does podman there.
    let oci = if chapter >= crate::grade::CAPSTONE_CHAPTER {
        format!("ln -sf {GUEST_RUNTIME} {GUEST_OCI}\n")
    } else {
        String::new()
    };
    format!(
        r#"{GUEST_BIN}/greenroom-suite rootfs {GUEST_ROOTFS} {GUEST_BIN}/probe || echo "greenroom: no rootfs in {GUEST_ROOTFS}"
{oci}export PATH="{GUEST_BIN}:$PATH" PS1='\h:\w# ' TERM="${{GREENROOM_TERM:-vt100}}"
cd /root
"#
    )
}

/// The guest's side: [`guest_setup`], then a login shell with the console
/// as its controlling terminal (so Ctrl-C reaches what runs). The prompt
/// shows the real hostname (`\h`), so a container's shell shows the
/// container's.
fn shell_script(chapter: u8) -> String {
    format!(
        r#"#!/bin/sh
# Written by `checker shell`: the rootfs, then an interactive shell.
{setup}unset GREENROOM_RESULTS
# setsid makes a session of its own, whose leader then opens the console:
# it becomes the session's controlling terminal, so job control and Ctrl-C
# work in the guest.
exec setsid sh -c 'exec <>/dev/ttyS0 >&0 2>&0
stty rows "${{GREENROOM_ROWS:-24}}" cols "${{GREENROOM_COLS:-80}}" 2>/dev/null
exec sh -l'
"#,
        setup = guest_setup(chapter)
    )
}

/// The signal that asked the checker to stop, 0 while none has.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(signal: i32) {
    STOP.store(signal, Ordering::SeqCst);
}

/// Runs the shell session with `chapter`'s `runtime` and returns how the
/// checker should exit: with the shell's exit code, or 128 + the signal
/// that stopped it.
pub fn run(
    chapter: &'static Chapter,
    runtime: &Runtime,
    mode: &Mode,
    progress: &mut dyn FnMut(&str),
) -> Result<ExitCode> {
    let Mode::Vm { kernel, accel, .. } = mode else {
        anyhow::bail!("`shell` boots the guest: on this machine (--host) use your own shell, as root");
    };
    let mut image = guest_image(chapter, runtime, kernel.as_deref(), *accel, progress)?;
    image.files.push(GuestFile {
        guest_path: SHELL_SCRIPT.into(),
        source: FileSource::Bytes(shell_script(chapter.number).into_bytes()),
        mode: 0o755,
    });
    let mut env = vec![("GREENROOM_TERM".to_string(), std::env::var("TERM").unwrap_or_else(|_| "vt100".into()))];
    // A serial console cannot tell the guest the window's size: pass it.
    match crossterm::terminal::size() {
        Ok((cols, rows)) if cols > 0 && rows > 0 => {
            env.push(("GREENROOM_ROWS".into(), rows.to_string()));
            env.push(("GREENROOM_COLS".into(), cols.to_string()));
        }
        _ => {}
    }
    // On the terminal the console is not logged; the request still names a log.
    let log = compile::work_dir().join("logs").join("shell.log");
    let request = image.request(vec!["/bin/sh".into(), SHELL_SCRIPT.into()], env, BOOT_DEADLINE, &log);
    outln!("{}", banner(chapter, runtime));
    catch_stop_signals()?;
    let terminal = Terminal::save();
    let ending = Guest::start_on_terminal(&request).context("boot the guest").and_then(session);
    // QEMU is gone here (the guest was dropped): give the terminal back as
    // it was, whatever QEMU left it in.
    drop(terminal);
    let code = match ending? {
        Ending::Shell(code) => {
            outln!("\ngreenroom: the guest is off (shell exit code {code})");
            code
        }
        Ending::GuestStopped => {
            outln!("\ngreenroom: the guest stopped");
            0
        }
        Ending::Signal(signal) => {
            eprintln!("\ngreenroom: stopped by signal {signal}: the guest is off");
            128 + signal
        }
    };
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The guest of `chapter` with `runtime` at [`GUEST_RUNTIME`], the probe and
/// the suite (which writes the rootfs), and for chapter 7 the capstone's
/// disk: what `checker shell` and `dev try-book` boot.
pub fn guest_image(
    chapter: &Chapter,
    runtime: &Runtime,
    kernel: Option<&Path>,
    accel: Option<greenroom_vm::Accel>,
    progress: &mut dyn FnMut(&str),
) -> Result<GuestImage> {
    progress(&format!("building chapter {} ({}) from {}", chapter.number, chapter.dir, runtime.describe()));
    let (source, patch) = match runtime {
        Runtime::Learner => (Source::Learner, None),
        Runtime::Solution => (Source::Solution, None),
        Runtime::Patched(patch) => (Source::Solution, Some(patch.as_path())),
    };
    let built = compile::build_runtime(chapter, source, patch)?;
    let (probe, suite_bin) = compile::build_tools()?;
    let programs = [
        (GUEST_RUNTIME.to_string(), built),
        (format!("{GUEST_BIN}/probe"), probe),
        (format!("{GUEST_BIN}/greenroom-suite"), suite_bin),
    ];
    let mut image = GuestImage::prepare(&programs, kernel, accel, progress)?;
    // Chapter 7's repeat lines call podman: its guest has the capstone's disk.
    if chapter.number >= crate::grade::CAPSTONE_CHAPTER {
        image = image.with_capstone(progress)?;
    }
    Ok(image)
}

/// How a session ended.
enum Ending {
    /// The shell exited with this code.
    Shell(i32),
    /// QEMU ended without the shell's exit (Ctrl-A x, a kernel panic).
    GuestStopped,
    /// The checker got this signal.
    Signal(i32),
}

fn banner(chapter: &Chapter, runtime: &Runtime) -> String {
    let whose = runtime.describe();
    let on_path = if chapter.number >= crate::grade::CAPSTONE_CHAPTER {
        format!("{GUEST_OCI} (on PATH as `oci`; also {GUEST_RUNTIME}, as repeat lines name it)")
    } else {
        format!("{GUEST_RUNTIME} (on PATH as `runtime`)")
    };
    format!(
        "greenroom shell · chapter {} ({}) · {whose}\n\
         \x20 the runtime  {on_path}\n\
         \x20 a rootfs     {GUEST_ROOTFS} (busybox, the probe as /probe)\n\
         \x20 the probe    {GUEST_BIN}/probe\n\
         \x20 try          {}\n\
         \x20 leave with `exit` or Ctrl-D: the guest powers off (Ctrl-A x stops it at once)\n\
         booting the guest…",
        chapter.number,
        chapter.package,
        example(chapter.number)
    )
}

/// Waits for the shell to end, the guest to stop or a stop signal; the
/// guest is dropped (QEMU killed, its files removed) on return.
fn session(mut guest: Guest) -> Result<Ending> {
    loop {
        let signal = STOP.load(Ordering::SeqCst);
        if signal != 0 {
            return Ok(Ending::Signal(signal));
        }
        if let Some(line) = guest.recv_line(Instant::now() + Duration::from_millis(100)) {
            if let Some(code) = greenroom_vm::boot::parse_sentinel(&line) {
                // The guest syncs and powers off by itself; a moment is enough.
                guest.wait_until_exited(Instant::now() + Duration::from_secs(5));
                return Ok(Ending::Shell(code));
            }
        }
        if !guest.is_running() {
            return Ok(Ending::GuestStopped);
        }
    }
}

/// Notes SIGINT, SIGTERM and SIGHUP in [`STOP`] rather than dying at once,
/// so the session ends by dropping the guest: QEMU killed, files removed.
fn catch_stop_signals() -> Result<()> {
    let action = SigAction::new(SigHandler::Handler(note_signal), SaFlags::SA_RESTART, SigSet::empty());
    for stop in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; nothing else handles these signals here.
        unsafe { signal::sigaction(stop, &action) }.with_context(|| format!("catch {stop}"))?;
    }
    Ok(())
}

/// The terminal's settings, put back when dropped: QEMU makes it raw and
/// restores it on a clean exit, but not when it is killed.
struct Terminal(Option<termios::Termios>);

impl Terminal {
    fn save() -> Terminal {
        let stdin = std::io::stdin();
        Terminal(if stdin.is_terminal() { termios::tcgetattr(&stdin).ok() } else { None })
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = termios::tcsetattr(std::io::stdin(), termios::SetArg::TCSANOW, saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tests_scratch_paths_become_the_shells() {
        let command =
            "/greenroom/bin/runtime run --rootfs /tmp/greenroom-scratch/runtime/host-root-unreachable/rootfs \
                       -- /probe --nonce ab12 escape /tmp/greenroom-scratch/runtime/host-root-unreachable/host-marker";
        assert_eq!(
            paste_form(command, "runtime", "host-root-unreachable"),
            "/greenroom/bin/runtime run --rootfs /greenroom/rootfs -- /probe --nonce ab12 escape /tmp/host-marker"
        );
        let plain = "/greenroom/bin/runtime run --hostname rock-band -- /greenroom/bin/probe report";
        assert_eq!(paste_form(plain, "runtime", "hostname-inside"), plain);
    }

    #[test]
    fn the_shell_is_named_for_the_chapter_and_the_source() {
        let chapter = &crate::chapters::CHAPTERS[3];
        assert_eq!(command_line(chapter, &Runtime::of(false, None)), "cargo run -p checker -- shell chapter3");
        let solution = Runtime::of(true, None);
        assert_eq!(command_line(chapter, &solution), "cargo run -p checker -- shell chapter3 --solution");
        assert!(example(3).contains(GUEST_ROOTFS) && !example(1).contains("--rootfs"));
    }

    #[test]
    fn chapter_7s_shell_has_the_oci_runtime_the_book_uses() {
        let chapter = &crate::chapters::CHAPTERS[7];
        let text = banner(chapter, &Runtime::Learner);
        assert!(text.contains("on PATH as `oci`") && !text.contains("--net none"), "{text}");
        assert!(example(7).starts_with(&format!("podman --runtime {GUEST_OCI} ")), "{}", example(7));
        assert!(shell_script(7).contains(&format!("ln -sf {GUEST_RUNTIME} {GUEST_OCI}")));
        assert!(!shell_script(6).contains(GUEST_OCI) && example(6).contains("--net none"));
        // The prompt is the guest's (or a container's) real hostname.
        assert!(shell_script(1).contains(r"PS1='\h:\w# '") && !shell_script(1).contains("greenroom-guest"));
    }
}
