//! What the capstone's guest profile costs: N boots of a plain guest and N
//! of the capstone's, each running `true`, then one capstone guest that
//! times N runs of `podman --runtime R run --rm localhost/busybox true`
//! for crun and runc (after one untimed run each, which pages podman in),
//! and N runs of `R run --bundle B ID` of each alone, the container
//! running /bin/true (the guest-side start-latency benchmark).
//!
//! ```text
//! cargo run --release -p greenroom-vm --example capstone_time -- [N] [RUNTIME...]
//! ```
//!
//! `BOOTS=M` boots each guest M times instead of N (0 skips the comparison).
//!
//! Extra RUNTIME arguments are host paths of more runtimes to time the same
//! way (a learner's, statically linked); each goes to `/greenroom/bin/` in
//! the guest. Guest-side times come from /proc/uptime (10 ms steps).

use std::path::PathBuf;
use std::time::Duration;

use greenroom_vm::{
    boot, capstone, choose_accel, default_cache_dir, ensure_assets, Accel, Assets, BootOutcome, BootRequest,
    FileSource, GuestFile, Verdict,
};

/// Times `$N` runs of podman with each runtime, then `$N` runs of each
/// runtime alone on an OCI bundle running /bin/true, and reports
/// `podman|direct RUNTIME s s s…`.
const SCRIPT: &str = r#"
exec 3>"$GREENROOM_RESULTS"
up() { cut -d' ' -f1 /proc/uptime; }
# Runs "$@" $N times and prints the time of each, in seconds.
time_runs() {
    i=0
    while [ $i -lt "$N" ]; do
        start=$(up)
        "$@" $i >/dev/null 2>&1 || echo "failed: $*" >&3
        printf ' %s' "$(echo "$start $(up)" | awk '{printf "%.2f", $2 - $1}')"
        i=$((i + 1))
    done
}
# The last argument is the run's number: a fresh container name.
podman_run() { podman --runtime "$1" run --rm --name "bench-$2" localhost/busybox true; }
direct_run() { "$1" run --bundle /tmp/bundle "bench-$2"; }
# One untimed run each pages podman and the runtime in.
for runtime in $RUNTIMES; do
    podman_run "$runtime" warm-up >/dev/null 2>&1 || echo "failed: podman --runtime $runtime" >&3
    echo "podman $runtime$(time_runs podman_run "$runtime")" >&3
done
mkdir -p /tmp/bundle/rootfs/bin
cp /bin/busybox /tmp/bundle/rootfs/bin/
ln -s busybox /tmp/bundle/rootfs/bin/true
(cd /tmp/bundle && crun spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"\/bin\/true"/' config.json)
for runtime in $RUNTIMES; do
    direct_run "$runtime" warm-up >/dev/null 2>&1 || echo "failed: $runtime run" >&3
    echo "direct $runtime$(time_runs direct_run "$runtime")" >&3
done
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map_or(Ok(5), |n| n.parse())?;
    let extra: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let cache = default_cache_dir();
    let mut progress = |line: &str| eprintln!("{line}");
    let assets = ensure_assets(&cache, None, &mut progress)?;
    let accel = choose_accel(&cache, &assets, None, &mut progress)?;
    let profile = capstone::ensure_capstone(&cache, &assets, accel, &mut progress)?;
    let disk_size = std::fs::metadata(&profile.disk)?.len();
    println!("disk {} ({} MiB apparent)", profile.disk.display(), disk_size >> 20);

    // Each boot's whole time, and its time from the guest's ready marker to
    // the end (the profile's setup runs then).
    let (mut plain, mut plain_after_ready) = (Vec::new(), Vec::new());
    let (mut with_profile, mut profile_after_ready) = (Vec::new(), Vec::new());
    // Alternate the two, so that a change in the machine's load hits both.
    let boots: usize = std::env::var("BOOTS").map_or(Ok(runs), |n| n.parse())?;
    for _ in 0..boots {
        let outcome = run(&assets, &cache, accel, None, vec!["true".into()], Vec::new(), Vec::new())?;
        plain.push(outcome.total);
        plain_after_ready.push(outcome.total.saturating_sub(outcome.qemu_to_ready.unwrap_or_default()));
        let outcome = run(&assets, &cache, accel, Some(&profile), vec!["true".into()], Vec::new(), Vec::new())?;
        with_profile.push(outcome.total);
        profile_after_ready.push(outcome.total.saturating_sub(outcome.qemu_to_ready.unwrap_or_default()));
    }
    if boots > 0 {
        for (label, totals, after_ready) in [
            ("plain boot", &mut plain, &mut plain_after_ready),
            ("capstone boot", &mut with_profile, &mut profile_after_ready),
        ] {
            println!(
                "{label} running true: median {:.2} s of {} (ready to end: median {:.2} s)",
                median(totals),
                seconds(totals),
                median(after_ready)
            );
        }
        println!("ratio of the medians, capstone to plain: {:.2}", median(&mut with_profile) / median(&mut plain));
    }

    let mut runtimes = vec!["/usr/bin/crun".to_string(), "/usr/bin/runc".to_string()];
    let mut files = Vec::new();
    for host in &extra {
        let name = host.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let guest_path = format!("/greenroom/bin/{name}");
        files.push(GuestFile { guest_path: guest_path.clone(), source: FileSource::Path(host.clone()), mode: 0o755 });
        runtimes.push(guest_path);
    }
    let env = vec![("N".to_string(), runs.to_string()), ("RUNTIMES".to_string(), runtimes.join(" "))];
    let command = vec!["sh".into(), "-c".into(), SCRIPT.into()];
    let outcome = run(&assets, &cache, accel, Some(&profile), command, env, files)?;
    for line in &outcome.lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut times: Vec<f64> = words.iter().skip(2).filter_map(|w| w.parse().ok()).collect();
        times.sort_by(f64::total_cmp);
        let what = match words.first() {
            Some(&"podman") => "podman --runtime {} run --rm localhost/busybox true",
            Some(&"direct") => "{} run --bundle B ID (/bin/true)",
            _ => "",
        };
        match (times.get(times.len() / 2), words.get(1)) {
            (Some(median), Some(runtime)) if !what.is_empty() => {
                println!("{}: median {median:.2} s of {times:?}", what.replace("{}", runtime))
            }
            _ => println!("{line}"),
        }
    }
    Ok(())
}

/// One boot, with or without the profile; an error unless it completed.
fn run(
    assets: &Assets,
    cache: &std::path::Path,
    accel: Accel,
    profile: Option<&capstone::Capstone>,
    command: Vec<String>,
    env: Vec<(String, String)>,
    files: Vec<GuestFile>,
) -> Result<BootOutcome, Box<dyn std::error::Error>> {
    let mut request = BootRequest {
        assets,
        cache,
        files,
        command,
        env,
        deadline: Duration::from_secs(600),
        log_path: cache.join("capstone-time.log"),
        accel,
        memory_mib: 512,
        disks: Vec::new(),
    };
    if let Some(profile) = profile {
        profile.apply(&mut request);
    }
    let outcome = boot(&request)?;
    if outcome.verdict != (Verdict::Completed { exit_code: 0 }) {
        return Err(format!("{:?}: see {}", outcome.verdict, outcome.log_path.display()).into());
    }
    Ok(outcome)
}

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times.get(times.len() / 2).map_or(0.0, Duration::as_secs_f64)
}

fn seconds(times: &[Duration]) -> String {
    times.iter().map(|t| format!("{:.2}", t.as_secs_f64())).collect::<Vec<_>>().join(" ")
}
