//! The probe's contract: every document the probe prints, as the one set of
//! types both sides compile.
//!
//! The probe runs inside the learner's container and the suite reads what it
//! prints, so the two must agree on every field. They agree by construction:
//! the probe serializes these types and the suite deserializes the same
//! types. A field added here is added to both sides at once.
//!
//! Every document travels in an [`Envelope`] that echoes the [`Nonce`] the
//! suite put on the probe's command line (`probe --nonce 3f9a1c2e report`).
//! A fresh nonce per run means a runtime cannot answer with a report it
//! captured earlier: the suite accepts only the nonce it just made.
//!
//! The probe's exit code says only "0: I printed my document" or "I failed"
//! (with a `probe:` message on stderr). What a subcommand found is in its
//! document, never in an exit code; the exceptions are `exit N` and
//! `kill-self SIGNAL`, whose exit status is the thing a test checks.

mod cgroups;
mod hardening;
mod network;
mod outcome;
mod report;
mod user;

pub use cgroups::{CgroupView, Forked, Hogged, Pressed};
pub use hardening::{Breakout, PathSeen, PathsSeen, Syscalls};
pub use network::{Address, Exchange, Interface, Listening, Loopback, Network, Route, Sent, Served};
pub use outcome::{Created, Errno, Escape, IpcLook, IpcMade, MountsSeen, Orphans, SignalOutcome, Touched};
pub use report::{
    Capabilities, Cgroup, DevEntry, DevKind, FileId, Filesystem, IdRange, Inherited, Limits, Namespaces, OpenFd,
    Process, Report, Rlimit, Seccomp, Security, Users,
};
pub use user::{MadeOwned, ReadOutcome, RenameThrough};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The subcommands whose effect, not output, is the answer: the suite
/// watches their exit status, streams or files. (Those that print a
/// document are named by [`Document::SUBCOMMAND`].)
pub mod plain {
    /// `exit N`: exit with code N.
    pub const EXIT: &str = "exit";
    /// `kill-self SIGNAL`: die by signal number SIGNAL.
    pub const KILL_SELF: &str = "kill-self";
    /// `echo OUT ERR`: write OUT to stdout and ERR to stderr, a line each.
    pub const ECHO: &str = "echo";
    /// `sleep MS`: sleep MS milliseconds.
    pub const SLEEP: &str = "sleep";
    /// `sleep-touch MS PATH`: sleep, then create PATH ("I finished").
    pub const SLEEP_TOUCH: &str = "sleep-touch";
    /// `touch-sleep PATH MS`: create PATH ("I am running"), then sleep.
    pub const TOUCH_SLEEP: &str = "touch-sleep";
    /// `touch-await PATH RELEASE MS`: create PATH ("I am running"), then
    /// exit 0 as soon as RELEASE exists, or after MS milliseconds without.
    pub const TOUCH_AWAIT: &str = "touch-await";
    /// `with-groups GIDS -- PROGRAM ARGS…`: set the supplementary groups to
    /// GIDS (comma-separated), then exec PROGRAM: how a repeat line gives
    /// root the groups a test gave its runtime (the guest's busybox has no
    /// `setpriv --groups`).
    pub const WITH_GROUPS: &str = "with-groups";
}

/// The option that gives the probe its nonce; it comes before the
/// subcommand: `probe --nonce NONCE SUBCOMMAND ARGS…`.
pub const NONCE_FLAG: &str = "--nonce";

/// A document the probe prints, one JSON line on stdout, in an [`Envelope`].
pub trait Document: Serialize + DeserializeOwned {
    /// The probe subcommand that prints it, e.g. `report`.
    const SUBCOMMAND: &'static str;
}

/// A word the suite makes fresh for one run of the probe, which the probe
/// echoes in its answer: lowercase hex, from the kernel's random numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nonce(String);

impl Nonce {
    /// The nonce spelled by `bytes` (which should be random), in hex.
    pub fn from_bytes(bytes: &[u8]) -> Nonce {
        Nonce(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The nonce as given on a command line.
    pub fn new(word: &str) -> Nonce {
        Nonce(word.to_string())
    }

    /// The nonce as text, for a command line.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the probe prints: its document, and the nonce of the run it answers
/// (`None` when it was run by hand, without `--nonce`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The nonce from the command line.
    pub nonce: Option<Nonce>,
    /// The document itself.
    pub body: T,
}

/// The probe's command line for `subcommand` with `args`, carrying `nonce`.
pub fn command_line(nonce: &Nonce, subcommand: &str, args: &[&str]) -> Vec<String> {
    let head = [NONCE_FLAG, nonce.as_str(), subcommand];
    head.iter().chain(args).map(|word| word.to_string()).collect()
}

/// Splits the nonce off the front of the probe's arguments (those after the
/// program's name), if it is there.
pub fn split_nonce<'a, 'w>(args: &'a [&'w str]) -> (Option<Nonce>, &'a [&'w str]) {
    match args {
        [flag, nonce, rest @ ..] if *flag == NONCE_FLAG => (Some(Nonce::new(nonce)), rest),
        _ => (None, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_splits_back_into_its_nonce_and_arguments() {
        let nonce = Nonce::from_bytes(&[0x3f, 0x9a, 0x01, 0xe2]);
        assert_eq!(nonce.as_str(), "3f9a01e2");
        let line = command_line(&nonce, "signal", &["17", "0"]);
        assert_eq!(line, ["--nonce", "3f9a01e2", "signal", "17", "0"]);
        let words: Vec<&str> = line.iter().map(String::as_str).collect();
        assert_eq!(split_nonce(&words), (Some(nonce), &["signal", "17", "0"][..]));
        assert_eq!(split_nonce(&["report"]), (None, &["report"][..]));
    }

    #[test]
    fn an_envelope_is_one_json_object_with_the_nonce_first() {
        let envelope = Envelope { nonce: Some(Nonce::new("ab12")), body: Orphans { zombies: vec![7] } };
        let json = serde_json::to_string(&envelope).expect("encode");
        assert_eq!(json, r#"{"nonce":"ab12","body":{"zombies":[7]}}"#);
        assert_eq!(serde_json::from_str::<Envelope<Orphans>>(&json).expect("decode"), envelope);
    }

    #[test]
    fn addresses_travel_as_text() {
        let listening =
            Listening { port: 4242, addresses: vec![Address { address: [10, 73, 0, 2].into(), prefix: 24 }] };
        let envelope = Envelope { nonce: Some(Nonce::new("ab12")), body: listening };
        let json = serde_json::to_string(&envelope).expect("encode");
        assert_eq!(json, r#"{"nonce":"ab12","body":{"port":4242,"addresses":[{"address":"10.73.0.2","prefix":24}]}}"#);
        assert_eq!(serde_json::from_str::<Envelope<Listening>>(&json).expect("decode"), envelope);
        let sent = Sent {
            client: Exchange { peer: Some("10.73.0.2:4242".parse().expect("an address")), ..Exchange::default() },
        };
        let json = serde_json::to_string(&sent).expect("encode");
        assert!(json.contains(r#""peer":"10.73.0.2:4242""#), "{json}");
        assert_eq!(serde_json::from_str::<Sent>(&json).expect("decode"), sent);
    }

    #[test]
    fn a_report_may_lack_what_a_container_lacks() {
        let json = r#"{"process":{"pid":2,"ppid":1,"argv":["/probe"],"env":{}},"hostname":"rock-band",
            "namespaces":{"uts":"uts:[4026532178]"},"filesystem":{},"users":{"uid":0},"cgroup":{},
            "security":{"seccomp":"filter"}}"#;
        let report: Report = serde_json::from_str(json).expect("decode");
        assert_eq!(report.process.cwd, None);
        assert_eq!(report.namespaces.uts.as_deref(), Some("uts:[4026532178]"));
        assert_eq!(report.namespaces.pid, None);
        assert_eq!(report.filesystem.dev, None);
        assert_eq!(report.security.seccomp, Some(Seccomp::Filter));
        assert_eq!(report.network, None);
    }
}
