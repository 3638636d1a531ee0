//! Making an orphan and looking for zombies: does PID 1 reap?

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use contract::Orphans;

/// The probe's own subcommand for the middle generation (not part of the
/// contract: the suite never runs it).
pub const PARENT: &str = "orphan-parent";

/// How long the orphans live; how long an init has to reap each of them
/// once it has ended; and how long the probe waits for them at most.
const ORPHAN_LIFE_MS: &str = "100";
const REAP_GRACE: Duration = Duration::from_millis(600);
const GIVE_UP: Duration = Duration::from_secs(10);
const ORPHANS: usize = 5;

/// `probe orphan`: starts `probe orphan-parent`, which starts short-lived
/// grandchildren, prints their pids and exits without waiting for them.
/// They are orphaned, so the kernel re-parents them to PID 1 of the
/// namespace, which must reap them when they exit. Returns the pids that
/// stayed in state Z for [`REAP_GRACE`] after they ended. An init that
/// reaps ends the wait as soon as the last orphan is gone; on a slow
/// machine, an orphan that ends late still gets its grace.
pub fn count_zombies() -> Result<Orphans, String> {
    let parent = Command::new("/proc/self/exe").arg(PARENT).output().map_err(|e| format!("start {PARENT}: {e}"))?;
    if !parent.status.success() {
        return Err(format!("{PARENT} failed: {}", parent.status));
    }
    let orphans: Vec<u32> =
        String::from_utf8_lossy(&parent.stdout).lines().filter_map(|line| line.trim().parse().ok()).collect();
    if orphans.len() != ORPHANS {
        return Err(format!("{PARENT} started {} orphans of {ORPHANS}", orphans.len()));
    }
    let started = Instant::now();
    // When each orphan was first seen ended but not reaped.
    let mut zombie_since: Vec<Option<Instant>> = vec![None; ORPHANS];
    loop {
        let now = Instant::now();
        let mut waiting = false;
        for (pid, since) in orphans.iter().zip(zombie_since.iter_mut()) {
            // A pid leaves /proc only once its parent has reaped it.
            if !Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            if is_zombie(*pid) {
                let since = *since.get_or_insert(now);
                waiting |= now.duration_since(since) < REAP_GRACE;
            } else {
                waiting = true;
            }
        }
        if !waiting {
            let zombies = orphans.iter().zip(&zombie_since).filter(|(pid, since)| since.is_some() && is_zombie(**pid));
            return Ok(Orphans { zombies: zombies.map(|(pid, _)| *pid).collect() });
        }
        if now.duration_since(started) > GIVE_UP {
            return Err(format!("orphans still running {} s after they should have ended", GIVE_UP.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `probe orphan-parent`: the middle generation, which abandons its
/// children and prints their pids. Several, ending together: their SIGCHLDs
/// merge into one, so an init that reaps one child per signal leaves
/// zombies behind.
pub fn spawn_and_abandon() -> Result<u8, String> {
    for _ in 0..ORPHANS {
        let orphan = Command::new("/proc/self/exe")
            .args([contract::plain::SLEEP, ORPHAN_LIFE_MS])
            // Not the pipes `probe orphan` reads the pids from: it must not
            // wait for the orphans to end to read them.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start an orphan: {e}"))?;
        println!("{}", orphan.id());
    }
    Ok(0)
}

fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses: look after the last ')'.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) == Some("Z")
}
