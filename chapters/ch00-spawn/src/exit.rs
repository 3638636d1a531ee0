//! Turning what happened to the child into the runtime's exit code.

use std::fmt;

use nix::errno::Errno;
use nix::sys::wait::WaitStatus;

/// The exit code that tells the caller how the command ended: its own code
/// when it exited, 128 + N when signal N killed it (the shell convention,
/// so `137` reads as "killed by SIGKILL").
pub fn exit_code(status: WaitStatus) -> u8 {
    todo!(
        "map the wait status to an exit code: the command's own code if it \
         exited, 128 + N if signal N killed it (book: chapter 0, \"Exit codes\")"
    )
}

/// Why the child gave up before becoming the command. The child sends this
/// to the parent over the report pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildFailure {
    /// The parent closed the go pipe without a word: it failed first and
    /// reports its own error.
    Aborted,
    /// A layer's `enter_child` step failed.
    Setup {
        /// The layer's name.
        layer: String,
        /// The error, with its causes.
        message: String,
    },
    /// `execvp` failed.
    Exec {
        /// The command that could not be executed.
        program: String,
        /// Why.
        errno: Errno,
    },
}

impl ChildFailure {
    /// 127 when the command does not exist, 126 when it exists but cannot
    /// be executed (no `x` permission, a directory, not a program) — what a
    /// shell answers too — and 125 when the runtime failed.
    pub fn exit_code(&self) -> u8 {
        todo!(
            "the exit code a shell would give for this failure: the command was not \
             found, it was found but cannot be executed, or the runtime failed (book: \
             chapter 0, \"Exit codes\")"
        )
    }

    /// The bytes the child writes to the report pipe.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ChildFailure::Aborted => b"A".to_vec(),
            ChildFailure::Setup { layer, message } => format!("S{layer}\n{message}").into_bytes(),
            ChildFailure::Exec { program, errno } => format!("E{}\n{program}", *errno as i32).into_bytes(),
        }
    }

    /// Reads what the child wrote; `None` when it wrote nothing, which
    /// means its `exec` succeeded.
    pub fn decode(bytes: &[u8]) -> Option<ChildFailure> {
        let text = String::from_utf8_lossy(bytes);
        let mut chars = text.chars();
        let kind = chars.next()?;
        let (head, tail) = chars.as_str().split_once('\n').unwrap_or((chars.as_str(), ""));
        Some(match kind {
            'S' => ChildFailure::Setup { layer: head.to_string(), message: tail.to_string() },
            'E' => ChildFailure::Exec { program: tail.to_string(), errno: Errno::from_raw(head.parse().unwrap_or(0)) },
            _ => ChildFailure::Aborted,
        })
    }
}

impl fmt::Display for ChildFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildFailure::Aborted => write!(f, "the container process was stopped before it started"),
            ChildFailure::Setup { layer, message } => write!(f, "{layer}: {message}"),
            ChildFailure::Exec { program, errno } if self.exit_code() == 127 => {
                write!(f, "{program}: command not found ({})", errno.desc())
            }
            ChildFailure::Exec { program, errno } => {
                write!(f, "{program}: cannot execute: {}", errno.desc())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        let pid = Pid::from_raw(42);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), 3);
        assert_eq!(exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)), 137);
        assert_eq!(exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, true)), 143);
    }

    #[test]
    fn exec_failures_map_to_126_and_127() {
        let failure = |errno| ChildFailure::Exec { program: "x".into(), errno };
        assert_eq!(failure(Errno::ENOENT).exit_code(), 127);
        assert_eq!(failure(Errno::EACCES).exit_code(), 126);
        assert_eq!(failure(Errno::ENOEXEC).exit_code(), 126);
    }

    #[test]
    fn failures_survive_the_pipe() {
        for failure in [
            ChildFailure::Aborted,
            ChildFailure::Setup { layer: "uts".into(), message: "sethostname: EPERM".into() },
            ChildFailure::Exec { program: "/bin/nope".into(), errno: Errno::ENOENT },
        ] {
            assert_eq!(ChildFailure::decode(&failure.encode()), Some(failure));
        }
        assert_eq!(ChildFailure::decode(b""), None);
    }
}
