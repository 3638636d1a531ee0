//! Where a test's time goes under emulation: boots the guest once with a
//! runtime and the probe, and times, inside it, N starts of the probe
//! alone and N runs of `runtime run -- probe exit 0` (with and without
//! `--rootfs`), printing the mean of each.
//!
//! ```text
//! cargo run -p greenroom-vm --example run_cost -- RUNTIME PROBE [N]
//! ```

use std::path::PathBuf;
use std::time::Duration;

use greenroom_vm::{boot, choose_accel, default_cache_dir, ensure_assets, BootRequest, FileSource, GuestFile};

/// Times `$2` runs of the command in `$1` and writes `label mean-ms` to the
/// results port; /proc/uptime has 10 ms steps, hence many runs.
const SCRIPT: &str = r#"
t() { label=$1; shift; n=$N
  start=$(cut -d' ' -f1 /proc/uptime)
  i=0; while [ $i -lt $n ]; do "$@" >/dev/null 2>&1; i=$((i+1)); done
  end=$(cut -d' ' -f1 /proc/uptime)
  echo "$label $(echo "$start $end $n" | awk '{printf "%.1f ms", ($2-$1)*1000/$3}')" >> $GREENROOM_RESULTS
}
echo "guest CPUs: $(nproc)" >> $GREENROOM_RESULTS
mkdir -p /tmp/rootfs/bin /tmp/rootfs/proc /tmp/rootfs/sys /tmp/rootfs/dev /tmp/rootfs/tmp
cp /bin/busybox /tmp/rootfs/bin/; cp /p/probe /tmp/rootfs/probe
t "busybox true:" /bin/true
t "probe exit 0:" /p/probe exit 0
t "probe report:" /p/probe report
t "runtime run -- probe exit 0:" /p/runtime run -- /p/probe exit 0
t "runtime run -- probe report:" /p/runtime run -- /p/probe report
t "runtime run --rootfs -- probe report:" /p/runtime run --rootfs /tmp/rootfs -- /probe report
t "copy busybox and the probe, then remove them:" sh -c 'mkdir /tmp/c && cp /bin/busybox /p/probe /tmp/c/ && rm -r /tmp/c'
t "hard-link busybox and the probe, then remove them:" sh -c 'mkdir /tmp/c && ln /bin/busybox /p/probe /tmp/c/ && rm -r /tmp/c'
two() { "$@" & "$@"; wait; }
t "two side by side: runtime run -- probe exit 0 (per pair):" two /p/runtime run -- /p/probe exit 0
mkdir /sys/fs/cgroup/x; echo +pids +memory > /sys/fs/cgroup/cgroup.subtree_control
t "mkdir+rmdir a cgroup:" sh -c 'mkdir /sys/fs/cgroup/x/y && rmdir /sys/fs/cgroup/x/y'
echo "clock source at the end: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" >> $GREENROOM_RESULTS
dmesg | grep -i -e clocksource -e tsc | tail -5 >> $GREENROOM_RESULTS
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(runtime), Some(probe)) = (args.next(), args.next()) else {
        return Err("usage: run_cost RUNTIME PROBE [N]".into());
    };
    let n = args.next().unwrap_or_else(|| "20".into());
    let cache = default_cache_dir();
    let mut progress = |line: &str| eprintln!("{line}");
    let assets = ensure_assets(&cache, None, &mut progress)?;
    let accel = choose_accel(&cache, &assets, None, &mut progress)?;
    let file = |guest: &str, host: &str| GuestFile {
        guest_path: guest.into(),
        source: FileSource::Path(PathBuf::from(host)),
        mode: 0o755,
    };
    let outcome = boot(&BootRequest {
        assets: &assets,
        cache: &cache,
        files: vec![file("/p/runtime", &runtime), file("/p/probe", &probe)],
        command: vec!["sh".into(), "-c".into(), SCRIPT.into()],
        env: vec![("N".into(), n)],
        deadline: Duration::from_secs(600),
        log_path: cache.join("run-cost.log"),
        accel,
        memory_mib: 512,
        disks: Vec::new(),
    })?;
    for line in outcome.lines {
        println!("{line}");
    }
    println!("({:?}, {accel}, boot to ready {:?})", outcome.verdict, outcome.qemu_to_ready);
    Ok(())
}
