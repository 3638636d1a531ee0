//! How long does a boot take? Boots the guest to run `true` a few times and
//! prints each run's timings and the median.
//!
//! ```text
//! cargo run --release -p greenroom-vm --example boot_time -- 5
//! ```
//!
//! `GREENROOM_ACCEL=tcg` (or `kvm`) skips the KVM check; the console log of
//! the last run is left in the cache directory as `boot-time.log`.

use std::time::Duration;

use greenroom_vm::{boot, choose_accel, default_cache_dir, ensure_assets, BootRequest, Verdict};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map_or(Ok(5), |n| n.parse())?;
    let cache = default_cache_dir();
    let mut progress = |line: &str| eprintln!("{line}");
    let assets = ensure_assets(&cache, None, &mut progress)?;
    let accel = choose_accel(&cache, &assets, None, &mut progress)?;
    let mut totals = Vec::new();
    for run in 1..=runs {
        let outcome = boot(&BootRequest {
            assets: &assets,
            cache: &cache,
            files: Vec::new(),
            command: vec!["true".into()],
            env: Vec::new(),
            deadline: Duration::from_secs(30),
            log_path: cache.join("boot-time.log"),
            accel,
            memory_mib: 512,
            disks: Vec::new(),
        })?;
        if outcome.verdict != (Verdict::Completed { exit_code: 0 }) {
            return Err(format!("run {run}: {:?}, see {}", outcome.verdict, outcome.log_path.display()).into());
        }
        let ready = outcome.qemu_to_ready.unwrap_or_default();
        println!(
            "run {run} ({accel}): total {:.3} s, QEMU start to ready {:.3} s",
            outcome.total.as_secs_f64(),
            ready.as_secs_f64()
        );
        totals.push(outcome.total);
    }
    totals.sort();
    if let Some(median) = totals.get(totals.len() / 2) {
        println!("median total over {runs} runs: {:.3} s", median.as_secs_f64());
    }
    Ok(())
}
