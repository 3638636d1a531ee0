//! Boots the capstone's guest profile under TCG and drives podman with
//! crun and runc, the rows chapter 7 grades a learner's runtime on. The
//! first run downloads the packages and builds the disk (about a minute),
//! into the cache (`GREENROOM_CACHE`, by default ~/.cache/greenroom).

use std::collections::HashMap;
use std::time::Duration;

use greenroom_vm::{boot, capstone, default_cache_dir, ensure_assets, rootless, Accel, BootRequest, Verdict};

/// Each row reports `name=value` on the results port; podman's own output
/// goes to the console log.
const SCRIPT: &str = r#"
exec 3>"$GREENROOM_RESULTS"
report() { echo "$1=$2" >&3; }
# The disk's libraries replace the guest's: the rootless helpers still load.
report newuidmap "$(newuidmap 2>&1 | cut -d' ' -f1-2)"
report config "$(podman info --format '{{.Store.GraphDriverName}} {{.Host.CgroupManager}} {{.Host.CgroupsVersion}} {{.Host.EventLogger}}')"
for rt in crun runc; do
    podman --runtime /usr/bin/$rt run --rm localhost/busybox true
    report $rt-true $?
    podman --runtime /usr/bin/$rt run --rm localhost/busybox sh -c 'exit 3'
    report $rt-exit-3 $?
    podman --runtime /usr/bin/$rt run -d --name sleeper --pids-limit 20 localhost/busybox sleep 600
    report $rt-run-d $?
    report $rt-ps "$(podman ps --format '{{.Names}} {{.Status}}' | cut -d' ' -f1-2)"
    report $rt-exec "$(podman exec sleeper cat /proc/1/cmdline | tr '\0' ' ')"
    # The host's view: the container's cgroup, found from its pid.
    pid=$(podman inspect --format '{{.State.Pid}}' sleeper)
    report $rt-pids-max-outside "$(cat /sys/fs/cgroup$(cut -d: -f3 /proc/$pid/cgroup)/pids.max)"
    podman stop -t 1 sleeper
    report $rt-stop $?
    report $rt-stopped "$(podman ps -a --format '{{.Names}} {{.Status}}' | cut -d' ' -f1-2)"
    podman rm sleeper
    report $rt-rm $?
    report $rt-left "$(podman ps -a -q | wc -l)"
    report $rt-limits "$(podman --runtime /usr/bin/$rt run --rm --memory 64m --pids-limit 20 localhost/busybox \
        cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max | tr '\n' ' ')"
done
"#;

#[test]
fn podman_drives_crun_and_runc_in_the_capstone_guest() {
    let cache = default_cache_dir();
    let mut progress = |line: &str| eprintln!("{line}");
    let assets = ensure_assets(&cache, None, &mut progress).expect("the guest's files");
    let profile = capstone::ensure_capstone(&cache, &assets, Accel::Tcg, &mut progress).expect("the capstone's disk");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut request = BootRequest {
        assets: &assets,
        cache: &cache,
        // What grading adds to every guest: the rootless helpers.
        files: rootless::guest_files(&cache, &mut progress).expect("the rootless helpers"),
        command: vec!["sh".into(), "-c".into(), SCRIPT.into()],
        env: Vec::new(),
        deadline: Duration::from_secs(400),
        log_path: dir.path().join("console.log"),
        accel: Accel::Tcg,
        memory_mib: 512,
        disks: Vec::new(),
    };
    profile.apply(&mut request);
    let outcome = boot(&request).expect("a boot");
    let log = std::fs::read_to_string(&outcome.log_path).unwrap_or_default();
    assert_eq!(outcome.verdict, Verdict::Completed { exit_code: 0 }, "{:?}\n{log}", outcome.lines);
    let rows: HashMap<&str, &str> = outcome.lines.iter().filter_map(|line| line.split_once('=')).collect();
    let row = |name: &str| *rows.get(name).unwrap_or_else(|| panic!("no {name} in {:?}\n{log}", outcome.lines));
    assert_eq!(row("newuidmap"), "usage: newuidmap");
    assert_eq!(row("config"), "overlay cgroupfs v2 file");
    for rt in ["crun", "runc"] {
        let expected = [
            ("true", "0"),
            ("exit-3", "3"),
            ("run-d", "0"),
            ("ps", "sleeper Up"),
            ("exec", "sleep 600 "),
            ("pids-max-outside", "20"),
            ("stop", "0"),
            ("stopped", "sleeper Exited"),
            ("rm", "0"),
            ("left", "0"),
            ("limits", "67108864 20 "),
        ];
        for (name, value) in expected {
            assert_eq!(row(&format!("{rt}-{name}")), value, "{rt}-{name}\n{log}");
        }
    }
}
