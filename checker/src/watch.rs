//! `checker watch chapterN`: grade again whenever a file of the learner's
//! crates is saved. `r` grades again by hand, `q` quits.
//!
//! File events come from inotify where they work. Where they do not arrive
//! (WSL's Windows drives, network file systems) the folder is polled
//! instead: set `GREENROOM_WATCH_POLL=1` to force that.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use suite::protocol::Status;

use crate::compile::repo_root;
use crate::grade::Mode;
use crate::report;
use crate::session::{self, Request};
use crate::warm::WarmSlot;

/// What wakes the loop up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// A source file changed.
    Saved,
    /// The learner asked to grade again.
    Rerun,
    /// The learner asked to stop.
    Quit,
}

/// Saves come in bursts (an editor writes, renames, touches): wait this
/// long after the last one before grading.
const SETTLE: Duration = Duration::from_millis(300);

/// Runs the watch loop until `q`. In the VM, the guest stays up between
/// gradings and takes each new runtime (see [`crate::warm`]).
pub fn run(request: &Request) -> Result<ExitCode> {
    let warm = WarmSlot::default();
    let request = &keep_guest_up(request, &warm);
    let quit = watch_loop(request);
    warm.shut_down();
    quit
}

/// `request`, with its guest kept up in `slot` when it runs in the VM.
pub fn keep_guest_up(request: &Request, slot: &WarmSlot) -> Request {
    let mut request = request.clone();
    if let Mode::Vm { warm, .. } = &mut request.mode {
        *warm = Some(slot.clone());
    }
    request
}

fn watch_loop(request: &Request) -> Result<ExitCode> {
    let (wake, woken) = mpsc::channel();
    let _watcher = watch_sources(&repo_root().join("chapters"), wake.clone())?;
    let _keys = RawMode::enable();
    std::thread::spawn(move || read_keys(&wake));

    let style = report::Style::for_stdout();
    let mut previous: Option<BTreeMap<String, Status>> = None;
    loop {
        if style.is_on() {
            // Clear the screen: each run replaces the last one.
            out!("\x1b[2J\x1b[H");
        }
        match session::grade(request, &mut |line| say(&format!("» {line}"))) {
            Ok(outcome) => {
                let now: BTreeMap<String, Status> =
                    outcome.graded.iter().map(|g| (g.test.name.to_string(), g.result.status)).collect();
                say(&changes(previous.as_ref(), &now));
                say("");
                for line in report::human(&outcome.summary(), style).lines() {
                    say(line);
                }
                previous = Some(now);
            }
            Err(err) => say(&format!("greenroom: {err:#}")),
        }
        say("");
        say("watching chapters/ — save a file to grade again, r to grade now, q to quit");
        match next_wake(&woken) {
            Wake::Quit => return Ok(ExitCode::SUCCESS),
            Wake::Saved | Wake::Rerun => {}
        }
    }
}

/// Prints a line; in raw mode a bare `\n` does not return the cursor.
fn say(line: &str) {
    out!("{line}\r\n");
}

/// Waits for something to do, folding a burst of saves into one.
fn next_wake(woken: &Receiver<Wake>) -> Wake {
    let first = woken.recv().unwrap_or(Wake::Quit);
    if first != Wake::Saved {
        return first;
    }
    loop {
        match woken.recv_timeout(SETTLE) {
            Ok(Wake::Quit) => return Wake::Quit,
            Ok(_) => continue,
            Err(_) => return Wake::Saved,
        }
    }
}

/// The line at the top: which tests changed since the last run.
pub fn changes(previous: Option<&BTreeMap<String, Status>>, now: &BTreeMap<String, Status>) -> String {
    let Some(previous) = previous else { return "first run".to_string() };
    let passing = |status: Option<&Status>| status == Some(&Status::Pass);
    let fixed: Vec<&str> =
        now.iter().filter(|(n, s)| passing(Some(s)) && !passing(previous.get(*n))).map(|(n, _)| n.as_str()).collect();
    let broken: Vec<&str> =
        now.iter().filter(|(n, s)| !passing(Some(s)) && passing(previous.get(*n))).map(|(n, _)| n.as_str()).collect();
    match (fixed.is_empty(), broken.is_empty()) {
        (true, true) => "since the last run: no test changed".to_string(),
        _ => {
            let mut parts = Vec::new();
            if !fixed.is_empty() {
                parts.push(format!("now passing: {}", fixed.join(", ")));
            }
            if !broken.is_empty() {
                parts.push(format!("now failing: {}", broken.join(", ")));
            }
            format!("since the last run: {}", parts.join("; "))
        }
    }
}

/// Watches `dir` for changes to sources and manifests, ignoring build
/// output and backups.
fn watch_sources(dir: &Path, wake: Sender<Wake>) -> Result<Box<dyn Watcher + Send>> {
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = event.paths.iter().any(|path| {
            let text = path.to_string_lossy();
            let source = text.ends_with(".rs") || text.ends_with(".toml");
            source && !text.contains("/target/") && !text.contains("/.backups/")
        });
        if relevant && (event.kind.is_modify() || event.kind.is_create() || event.kind.is_remove()) {
            let _ = wake.send(Wake::Saved);
        }
    };
    let mut watcher: Box<dyn Watcher + Send> = if polling_wanted(dir) {
        let config = notify::Config::default().with_poll_interval(Duration::from_secs(1)).with_compare_contents(true);
        Box::new(PollWatcher::new(handler, config).context("start polling chapters/")?)
    } else {
        Box::new(RecommendedWatcher::new(handler, notify::Config::default()).context("watch chapters/")?)
    };
    watcher.watch(dir, RecursiveMode::Recursive).with_context(|| format!("watch {}", dir.display()))?;
    Ok(watcher)
}

/// Polling where file events are known not to arrive: WSL (its Windows
/// drives send none), network and shared-folder file systems (a Vagrant
/// box's synced folder is one), or when asked.
fn polling_wanted(dir: &Path) -> bool {
    let wsl =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").is_ok_and(|r| r.to_lowercase().contains("microsoft"));
    let remote = nix::sys::statfs::statfs(dir).is_ok_and(|fs| is_remote(fs.filesystem_type().0));
    wsl || remote || std::env::var_os("GREENROOM_WATCH_POLL").is_some_and(|v| v != "0")
}

/// File systems whose changes, made on another machine, send no inotify
/// events here: NFS, SMB/CIFS, 9p, FUSE, virtiofs, VirtualBox's vboxsf.
fn is_remote(magic: i64) -> bool {
    const REMOTE: [i64; 7] = [0x6969, 0xFF53_4D42, 0xFE53_4D42, 0x0102_1997, 0x6573_5546, 0x6a65_6a63, 0x786F_4256];
    REMOTE.contains(&magic)
}

/// Reads keys: `r` grades again, `q` (or Ctrl-C) quits. Without a terminal,
/// reads lines instead.
fn read_keys(wake: &Sender<Wake>) {
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            let key = match line.trim() {
                "q" => Wake::Quit,
                _ => Wake::Rerun,
            };
            if wake.send(key).is_err() || key == Wake::Quit {
                return;
            }
            line.clear();
        }
        let _ = wake.send(Wake::Quit);
        return;
    }
    while let Ok(event) = event::read() {
        let wake_up = match event {
            Event::Key(KeyEvent { code: KeyCode::Char('q'), .. }) => Wake::Quit,
            Event::Key(KeyEvent { code: KeyCode::Char('c'), modifiers, .. })
                if modifiers.contains(KeyModifiers::CONTROL) =>
            {
                Wake::Quit
            }
            Event::Key(KeyEvent { code: KeyCode::Char('r') | KeyCode::Enter, .. }) => Wake::Rerun,
            _ => continue,
        };
        if wake.send(wake_up).is_err() || wake_up == Wake::Quit {
            return;
        }
    }
}

/// Raw mode for single-key commands, undone when dropped.
struct RawMode(bool);

impl RawMode {
    fn enable() -> RawMode {
        RawMode(std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok())
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(entries: &[(&str, Status)]) -> BTreeMap<String, Status> {
        entries.iter().map(|(n, s)| (n.to_string(), *s)).collect()
    }

    #[test]
    fn changes_name_what_flipped() {
        let before = statuses(&[("a", Status::Fail), ("b", Status::Pass), ("c", Status::Fail)]);
        let after = statuses(&[("a", Status::Pass), ("b", Status::Timeout), ("c", Status::Fail)]);
        assert_eq!(changes(None, &after), "first run");
        assert_eq!(changes(Some(&before), &after), "since the last run: now passing: a; now failing: b");
        assert_eq!(changes(Some(&after), &after), "since the last run: no test changed");
    }
}
