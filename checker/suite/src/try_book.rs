//! The guest's side of `checker dev try-book`: runs the book's by-hand
//! blocks as a reader types them into `checker shell`, and reports what
//! each command printed.
//!
//! A page is one session: a fresh `sh` that reads the page's commands one
//! line at a time, so that a command which starts another shell
//! (`unshare --uts sh`, `su greenroom`, a container's `/bin/sh`) hands the
//! following lines to that shell, as typing does. Its output goes to a
//! pseudo-terminal, so programs see a terminal as the reader's do (`ls`
//! prints columns). Its input is a pipe, paced one line at a time: a shell
//! reading a terminal would turn interactive and echo prompts and the
//! reader's typing, which the book's transcripts leave out.
//!
//! After each command the session is sent `echo` of a marker: whichever
//! shell reads next, the one that ran the command or one it started,
//! prints it when the command is done.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{openpty, Winsize};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// What the marker's `echo` prints: no command of the book prints it.
pub const MARKER: &str = "@@greenroom-step-done@@";

/// How long one command may take. Podman under emulation takes tens of
/// seconds for a first `run`; nothing in the book takes minutes.
const STEP_TIMEOUT: Duration = Duration::from_secs(180);

/// One page's commands, in the order the page gives them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The page (`ch01-uts.md`).
    pub page: String,
    /// Each command as typed, with a heredoc's lines or a continuation
    /// after a trailing `\` included.
    pub commands: Vec<String>,
}

/// What one command printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutput {
    /// The page.
    pub page: String,
    /// The command's index in [`Session::commands`].
    pub step: usize,
    /// Everything printed to the terminal, standard output and error as
    /// they came, carriage returns removed.
    pub output: String,
    /// Why the command did not end as expected (a timeout, the session's
    /// shell gone); `None` when its marker came.
    pub trouble: Option<String>,
}

/// Runs every session in turn and writes one JSON line per command to
/// `out`. A session that goes wrong stops there; the next starts afresh.
pub fn run(sessions: &[Session], out: &mut File) -> std::io::Result<()> {
    for session in sessions {
        let outputs = run_session(session)?;
        for output in outputs {
            let line = serde_json::to_string(&output).map_err(std::io::Error::other)?;
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// A page's shell and the two ends the session holds.
struct Shell {
    child: Child,
    /// The shell's standard input: the session writes commands here.
    input: File,
    /// The terminal's host side: everything the commands print.
    terminal: File,
    /// What came after the last marker's line: the next command's.
    pending: Vec<u8>,
    /// The terminal's own side, kept open so that reading `terminal` never
    /// fails while no program has it open between two commands.
    _terminal_side: OwnedFd,
}

fn start_shell() -> std::io::Result<Shell> {
    // A common terminal size, so that `ls` lays out columns as the book shows.
    let size = Winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
    let pty = openpty(Some(&size), None).map_err(std::io::Error::from)?;
    let (reader, writer) = std::io::pipe()?;
    let stdout = pty.slave.try_clone()?;
    let stderr = pty.slave.try_clone()?;
    let mut command = Command::new("sh");
    command.stdin(Stdio::from(reader)).stdout(Stdio::from(stdout)).stderr(Stdio::from(stderr));
    let controlling = pty.slave.as_raw_fd();
    // SAFETY: between fork and exec the closure only makes system calls
    // that are async-signal-safe (setsid, ioctl) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // A session of its own whose controlling terminal is the
            // pseudo-terminal, as a login shell's is: `/dev/tty` opens,
            // and the session can be killed as one process group.
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if nix::libc::ioctl(controlling, nix::libc::TIOCSCTTY as _, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn()?;
    Ok(Shell {
        child,
        input: File::from(OwnedFd::from(writer)),
        terminal: File::from(pty.master),
        pending: Vec::new(),
        _terminal_side: pty.slave,
    })
}

impl Shell {
    /// Runs one command: writes its line, then the marker's once a shell
    /// waits for input, and reads the terminal until the marker comes
    /// back. Returns the command's output, and what went wrong, if
    /// anything.
    ///
    /// The marker waits because a program may read the shell's input
    /// while it runs (`runc run` forwards its standard input to the
    /// container): a reader types the next line only at the prompt, when
    /// a shell reads.
    fn run_step(&mut self, command: &str) -> (String, Option<String>) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut seen = std::mem::take(&mut self.pending);
        if let Err(err) = self.input.write_all(format!("{command}\n").as_bytes()) {
            return (clean(&seen), Some(self.ended().unwrap_or(format!("the shell took no more input: {err}"))));
        }
        // The marker's line gives `$?` back as the command left it, for a
        // page's next `echo $?`, and starts no process: a subshell would
        // take a pid, and a page's `ps` would show it.
        let marker = format!(
            "greenroom_status=$?; greenroom_mark() {{ echo {MARKER}; return $greenroom_status; }}; greenroom_mark\n"
        );
        let mut marker_sent = false;
        loop {
            self.collect(&mut seen, Duration::from_millis(25));
            if marker_sent {
                // The marker's own line, up to its newline, is not the
                // command's output; what follows it is the next command's.
                if let Some(at) = find(&seen, MARKER.as_bytes()) {
                    if let Some(newline) = seen[at..].iter().position(|&b| b == b'\n') {
                        self.pending = seen.split_off(at + newline + 1);
                        seen.truncate(at);
                        return (clean(&seen), None);
                    }
                }
            } else if self.a_shell_waits_for_input() {
                if let Err(err) = self.input.write_all(marker.as_bytes()) {
                    return (
                        clean(&seen),
                        Some(self.ended().unwrap_or(format!("the shell took no more input: {err}"))),
                    );
                }
                marker_sent = true;
            }
            if let Some(ended) = self.ended() {
                self.collect(&mut seen, Duration::ZERO);
                return (clean(&seen), Some(ended));
            }
            if Instant::now() >= deadline {
                return (clean(&seen), Some(format!("no end after {} s", STEP_TIMEOUT.as_secs())));
            }
        }
    }

    /// Appends what the terminal has to `seen`, waiting up to `wait` for
    /// the first bytes. Reading all the time matters: a command writing
    /// more than the terminal holds would otherwise block for ever.
    fn collect(&mut self, seen: &mut Vec<u8>, wait: Duration) {
        let mut buf = [0u8; 4096];
        let mut timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::ZERO);
        loop {
            let mut fds = [PollFd::new(self.terminal.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(n) if n > 0 => match (&self.terminal).read(&mut buf) {
                    Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                    _ => return,
                },
                _ => return,
            }
            timeout = PollTimeout::ZERO;
        }
    }

    /// Why the page's shell is gone, if it is.
    fn ended(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("the page's shell ended ({status})")),
            _ => None,
        }
    }

    /// Whether everything written has been read, and the processes now
    /// reading the input are shells (at least one).
    fn a_shell_waits_for_input(&self) -> bool {
        if unread_bytes(&self.input).map_or(true, |n| n > 0) {
            return false;
        }
        let Ok(meta) = self.input.metadata() else { return false };
        let readers = readers_of(&format!("pipe:[{}]", std::os::unix::fs::MetadataExt::ino(&meta)));
        !readers.is_empty() && readers.iter().all(|comm| ["sh", "ash", "bash", "dash"].contains(&comm.as_str()))
    }

    /// Ends the session: end of input for the shell, then its whole
    /// session killed (what a page started in the background included).
    fn finish(mut self) {
        drop(self.input);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// The names (`comm`) of the processes blocked reading the pipe `link`
/// (`pipe:[INODE]`) as their standard input: one of their threads waits
/// in the kernel's `pipe_read` (`anon_pipe_read` since Linux 6.16,
/// `pipe_wait` before 5.8).
fn readers_of(link: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut readers = Vec::new();
    for entry in entries.flatten() {
        let proc_dir = entry.path();
        let is_pid = entry.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid
            || std::fs::read_link(proc_dir.join("fd/0")).ok().and_then(|l| l.to_str().map(String::from)).as_deref()
                != Some(link)
        {
            continue;
        }
        let Ok(threads) = std::fs::read_dir(proc_dir.join("task")) else { continue };
        let reading = threads.flatten().any(|t| {
            std::fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w.ends_with("pipe_read") || w == "pipe_wait")
        });
        if reading {
            readers.push(std::fs::read_to_string(proc_dir.join("comm")).unwrap_or_default().trim().to_string());
        }
    }
    readers
}

/// Runs one page's commands in a shell of its own.
fn run_session(session: &Session) -> std::io::Result<Vec<StepOutput>> {
    let mut shell = start_shell()?;
    let mut outputs = Vec::new();
    for (step, command) in session.commands.iter().enumerate() {
        let (output, trouble) = shell.run_step(command);
        let stop = trouble.is_some();
        outputs.push(StepOutput { page: session.page.clone(), step, output, trouble });
        if stop {
            break;
        }
    }
    shell.finish();
    Ok(outputs)
}

/// How many bytes written to a pipe are still unread.
fn unread_bytes(pipe: &File) -> std::io::Result<i32> {
    let mut unread: nix::libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which is valid.
    let rc = unsafe { nix::libc::ioctl(pipe.as_raw_fd(), nix::libc::FIONREAD as _, &mut unread) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unread)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// The terminal's text as the page shows it: no carriage returns, and no
/// colours (runc's logger colours its errors on a terminal).
fn clean(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).replace('\r', "");
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // A control sequence: ESC [, parameters, one final letter.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_line_is_cut_and_carriage_returns_and_colours_go() {
        let seen = format!("\u{1b}[31mERRO\u{1b}[0m[0000] hello\r\nworld\r\n{MARKER}\r\n");
        let at = find(seen.as_bytes(), MARKER.as_bytes()).expect("the marker is there");
        assert_eq!(clean(&seen.as_bytes()[..at]), "ERRO[0000] hello\nworld\n");
    }

    #[test]
    fn a_nested_shell_gets_the_lines_after_the_command_that_started_it() {
        let session = Session {
            page: "test.md".into(),
            commands: vec![
                "echo outer $0".into(),
                "sh".into(),
                "echo inner; ls -d /".into(),
                "exit".into(),
                "printf 'no newline'".into(),
                "sh -c 'exit 3'".into(),
                "echo $?".into(),
            ],
        };
        let outputs = run_session(&session).expect("the session runs");
        let texts: Vec<&str> = outputs.iter().map(|o| o.output.as_str()).collect();
        assert_eq!(texts, ["outer sh\n", "", "inner\n/\n", "", "no newline", "", "3\n"]);
        assert!(outputs.iter().all(|o| o.trouble.is_none()), "{outputs:?}");
    }

    #[test]
    fn a_command_that_ends_the_shell_is_reported() {
        let session = Session { page: "test.md".into(), commands: vec!["exit 3".into(), "echo never".into()] };
        let outputs = run_session(&session).expect("the session runs");
        assert_eq!(outputs.len(), 1);
        assert!(outputs[0].trouble.as_deref().unwrap_or("").contains("ended"), "{outputs:?}");
    }
}
