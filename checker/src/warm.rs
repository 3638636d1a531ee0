//! A guest kept up between gradings, for `checker watch`: after a save,
//! the new runtime goes to the guest that is already running, and the
//! suite there grades it, instead of a boot per save.
//!
//! The guest runs `greenroom-suite serve`, which takes orders over the
//! results port (see `suite::protocol::Order`). Anything unexpected — no
//! answer in time, a guest that stopped, a run that left the guest changed
//! — drops the guest; the caller then grades in a fresh one, as usual.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use greenroom_vm::{BootRequest, Guest};
use suite::protocol::{Line, Order, Request, Upload};

/// Where a guest kept up waits between gradings. Clones share the guest;
/// the last one dropped stops it.
#[derive(Clone, Default)]
pub struct WarmSlot(Arc<Mutex<Option<WarmGuest>>>);

impl std::fmt::Debug for WarmSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WarmSlot")
    }
}

impl WarmSlot {
    /// Tells the guest, if there is one, to power off, and forgets it.
    pub fn shut_down(&self) {
        let taken = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut warm) = taken {
            // Best effort: dropping the guest kills QEMU anyway.
            let _ = send_order(&mut warm.guest, &Order::Quit);
        }
    }
}

/// A running guest and what it holds.
pub struct WarmGuest {
    guest: Guest,
    /// Identity (size, modification time) of each file the guest has, by
    /// its guest path, so only changed files are sent again.
    sent: BTreeMap<String, FileId>,
    /// Whether it has graded before (if not, this grading paid for its boot).
    graded: bool,
    /// The disks it booted with.
    disks: Vec<greenroom_vm::Disk>,
}

/// What tells two versions of a file apart without reading it.
type FileId = (u64, Option<SystemTime>);

fn file_id(path: &Path) -> Result<FileId> {
    let meta = fs::metadata(path).with_context(|| format!("read {}", path.display()))?;
    Ok((meta.len(), meta.modified().ok()))
}

/// How long a guest kept up may take to answer that it is listening.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Grades `request` in the guest of `slot`, booting one first if there is
/// none (or if the suite itself changed). `files` maps guest paths to host
/// files; `boot` is the request that boots a fresh guest. Returns the
/// suite's lines and, if this call booted, the time to the guest's ready
/// marker. On an error the guest is gone: grade in a fresh one instead.
pub fn grade(
    slot: &WarmSlot,
    boot: &BootRequest,
    files: &[(String, PathBuf)],
    request: &Request,
    deadline: Duration,
) -> Result<(Vec<String>, Option<Duration>)> {
    let mut held = slot.0.lock().unwrap_or_else(|e| e.into_inner());
    let mut warm = match held.take() {
        // The suite in the guest is the one it booted with: a new one needs a
        // new guest, and so does another set of disks (the capstone's).
        Some(warm)
            if warm.disks == boot.disks
                && files.iter().all(|(guest, host)| !is_tool(guest) || same(&warm, guest, host)) =>
        {
            warm
        }
        _ => start(boot, files)?,
    };
    let booted = (!warm.graded).then_some(warm.guest.qemu_to_ready);
    let mut uploads = Vec::new();
    for (guest_path, host) in files {
        let id = file_id(host)?;
        if warm.sent.get(guest_path) != Some(&id) {
            uploads.push((guest_path.clone(), host.clone(), id));
        }
    }
    expect_listening(&mut warm.guest)?;
    let mut bytes = Vec::new();
    let order = Order::Grade {
        files: uploads.iter().map(|(path, _, id)| Upload { path: path.clone(), len: id.0 }).collect(),
        request: request.clone(),
    };
    for (_, host, _) in &uploads {
        bytes.extend(fs::read(host).with_context(|| format!("read {}", host.display()))?);
    }
    send_order(&mut warm.guest, &order)?;
    warm.guest.send(&bytes)?;
    for (path, _, id) in uploads {
        warm.sent.insert(path, id);
    }
    let until = Instant::now() + deadline;
    let mut lines = Vec::new();
    loop {
        let line = warm.guest.recv_line(until).ok_or_else(|| anyhow!("the guest kept up stopped answering"))?;
        match serde_json::from_str::<Line>(&line) {
            Ok(Line::Done { clean }) => {
                if clean && warm.guest.is_running() {
                    warm.graded = true;
                    *held = Some(warm);
                }
                return Ok((lines, booted));
            }
            Ok(_) => lines.push(line),
            // The guest's /init says the service ended: it powers off.
            Err(_) if line.starts_with(r#"{"greenroom":"done""#) => bail!("the guest kept up stopped: {line}"),
            Err(_) => lines.push(line),
        }
    }
}

/// Boots a guest running `greenroom-suite serve` with `files` in place.
fn start(boot: &BootRequest, files: &[(String, PathBuf)]) -> Result<WarmGuest> {
    let guest = Guest::start(boot)?;
    // Nothing needs sending to a fresh guest: it booted with every file.
    let mut sent = BTreeMap::new();
    for (guest_path, host) in files {
        sent.insert(guest_path.clone(), file_id(host)?);
    }
    Ok(WarmGuest { guest, sent, graded: false, disks: boot.disks.clone() })
}

fn is_tool(guest_path: &str) -> bool {
    guest_path.ends_with("/probe") || guest_path.ends_with("/greenroom-suite")
}

fn same(warm: &WarmGuest, guest_path: &str, host: &Path) -> bool {
    file_id(host).is_ok_and(|id| warm.sent.get(guest_path) == Some(&id))
}

fn expect_listening(guest: &mut Guest) -> Result<()> {
    let until = Instant::now() + LISTEN_TIMEOUT;
    loop {
        let line = guest.recv_line(until).ok_or_else(|| anyhow!("the guest kept up is not listening"))?;
        if matches!(serde_json::from_str::<Line>(&line), Ok(Line::Listening)) {
            return Ok(());
        }
    }
}

fn send_order(guest: &mut Guest, order: &Order) -> Result<()> {
    let mut line = serde_json::to_string(order)?;
    line.push('\n');
    Ok(guest.send(line.as_bytes())?)
}
