//! Making an orphan and looking for zombies: does PID 1 reap?

use std::process::Command;
use std::time::Duration;

use contract::Orphans;

/// The probe's own subcommand for the middle generation (not part of the
/// contract: the suite never runs it).
pub const PARENT: &str = "orphan-parent";

/// How long the orphan lives, and how long the probe waits for it to be
/// reaped after that.
const ORPHAN_LIFE_MS: &str = "100";
const GRACE: Duration = Duration::from_millis(700);
const ORPHANS: usize = 5;

/// `probe orphan`: starts `probe orphan-parent`, which starts short-lived
/// grandchildren and exits without waiting for them. They are orphaned, so
/// the kernel re-parents them to PID 1 of the namespace, which must reap
/// them when they exit. Returns the pids still in state Z after that.
pub fn count_zombies() -> Result<Orphans, String> {
    let status = Command::new("/proc/self/exe").arg(PARENT).status().map_err(|e| format!("start {PARENT}: {e}"))?;
    if !status.success() {
        return Err(format!("{PARENT} failed: {status}"));
    }
    std::thread::sleep(GRACE);
    let zombies: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|e| format!("read /proc: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_zombie(*pid))
        .collect();
    Ok(Orphans { zombies })
}

/// `probe orphan-parent`: the middle generation, which abandons its
/// children. Several, ending together: their SIGCHLDs merge into one, so an
/// init that reaps one child per signal leaves zombies behind.
pub fn spawn_and_abandon() -> Result<u8, String> {
    for _ in 0..ORPHANS {
        Command::new("/proc/self/exe")
            .args([contract::plain::SLEEP, ORPHAN_LIFE_MS])
            .spawn()
            .map_err(|e| format!("start an orphan: {e}"))?;
    }
    Ok(0)
}

fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses: look after the last ')'.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) == Some("Z")
}
