//! Boots the real guest under TCG. The first run downloads the kernel and
//! busybox into the cache (`GREENROOM_CACHE`, by default ~/.cache/greenroom).
//!
//! The boots run one at a time: they are CPU-bound, and a machine with two
//! cores running four guests at once would only make every deadline tight.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use greenroom_vm::{
    boot, choose_accel, default_cache_dir, ensure_assets, Accel, BootError, BootOutcome, BootRequest, FileSource,
    GuestFile, Verdict,
};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Boots the guest with `command` and `files`, with the console log in `dir`.
fn run(dir: &Path, command: &str, files: Vec<GuestFile>, deadline: Duration) -> BootOutcome {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cache = default_cache_dir();
    let assets = ensure_assets(&cache, None, &mut |line| eprintln!("{line}")).expect("the guest's files");
    let outcome = boot(&BootRequest {
        assets: &assets,
        cache: &cache,
        files,
        command: vec!["sh".into(), "-c".into(), command.into()],
        env: vec![("GREETING".into(), "hello from the host".into())],
        deadline,
        log_path: dir.join("console.log"),
        accel: Accel::Tcg,
        memory_mib: 512,
        disks: Vec::new(),
    })
    .expect("a boot");
    eprintln!("{outcome:?}");
    outcome
}

/// Returns the pids of processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    pids
}

#[test]
fn command_output_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), "echo hello > $GREENROOM_RESULTS", Vec::new(), Duration::from_secs(60));
    assert_eq!(outcome.lines, ["hello"]);
    assert_eq!(outcome.verdict, Verdict::Completed { exit_code: 0 });
    assert!(outcome.qemu_to_ready.is_some());
    assert!(outcome.log_path.is_file());
}

#[test]
fn guest_is_set_up_and_exit_code_is_relayed() {
    let dir = tempfile::tempdir().unwrap();
    let script = "
        exec > $GREENROOM_RESULTS
        hostname
        echo \"$GREETING\"
        stat -fc %T /
        cat /sys/fs/cgroup/cgroup.subtree_control
        ip -o link show lo | grep -c UP
        lsmod | grep -c -E '^(veth|bridge|overlay) '
        exit 3";
    let outcome = run(dir.path(), script, Vec::new(), Duration::from_secs(60));
    assert_eq!(outcome.verdict, Verdict::Completed { exit_code: 3 });
    let lines = &outcome.lines;
    assert_eq!(lines[..3], ["greenroom-guest", "hello from the host", "tmpfs"]);
    for controller in ["cpu", "memory", "pids"] {
        assert!(lines[3].split(' ').any(|c| c == controller), "{controller} not delegated: {}", lines[3]);
    }
    assert_eq!(lines[4..], ["1", "3"]);
}

#[test]
fn per_run_files_are_in_the_guest() {
    let dir = tempfile::tempdir().unwrap();
    let host_script = dir.path().join("script.sh");
    std::fs::write(&host_script, "#!/bin/sh\necho from a host file\n").unwrap();
    let files = vec![
        GuestFile {
            guest_path: "/opt/greenroom/data.txt".into(),
            source: FileSource::Bytes(b"content 42\n".to_vec()),
            mode: 0o644,
        },
        GuestFile { guest_path: "/usr/local/bin/script".into(), source: FileSource::Path(host_script), mode: 0o755 },
    ];
    let command = "cat /opt/greenroom/data.txt > $GREENROOM_RESULTS; script > $GREENROOM_RESULTS";
    let outcome = run(dir.path(), command, files, Duration::from_secs(60));
    assert_eq!(outcome.verdict, Verdict::Completed { exit_code: 0 });
    assert_eq!(outcome.lines, ["content 42", "from a host file"]);
}

#[test]
fn a_hanging_command_times_out_and_qemu_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), "echo started > $GREENROOM_RESULTS; sleep 600", Vec::new(), Duration::from_secs(12));
    assert_eq!(outcome.verdict, Verdict::TimedOut);
    assert_eq!(outcome.lines, ["started"]);
    assert!(outcome.total < Duration::from_secs(20));
    let log = dir.path().join("console.log");
    assert_eq!(processes_mentioning(&log.to_string_lossy()), Vec::<String>::new());
}

#[test]
fn a_kernel_panic_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(dir.path(), "echo c > /proc/sysrq-trigger", Vec::new(), Duration::from_secs(60));
    assert_eq!(outcome.verdict, Verdict::Panicked);
}

/// The first call may test-boot under KVM (up to 8 s); the second must be
/// answered from the cache.
#[test]
fn the_accel_verdict_is_cached() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cache = default_cache_dir();
    let assets = ensure_assets(&cache, None, &mut |line| eprintln!("{line}")).unwrap();
    let first = choose_accel(&cache, &assets, None, &mut |line| eprintln!("{line}")).unwrap();
    let start = Instant::now();
    let second = choose_accel(&cache, &assets, None, &mut |line| panic!("probed again: {line}")).unwrap();
    assert_eq!(first, second);
    assert!(start.elapsed() < Duration::from_millis(100), "took {:?}", start.elapsed());
    eprintln!("accelerator: {first}");
}

#[test]
fn a_kernel_qemu_cannot_load_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("not-a-kernel");
    std::fs::write(&kernel, "just text\n").unwrap();
    let cache = default_cache_dir();
    let assets = ensure_assets(&cache, Some(&kernel), &mut |_| {}).unwrap();
    assert!(assets.modules.is_empty(), "--kernel loads no modules");
    let err = boot(&BootRequest {
        assets: &assets,
        cache: &cache,
        files: Vec::new(),
        command: vec!["true".into()],
        env: Vec::new(),
        deadline: Duration::from_secs(30),
        log_path: dir.path().join("console.log"),
        accel: Accel::Tcg,
        memory_mib: 512,
        disks: Vec::new(),
    })
    .unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, BootError::QemuFailed { .. }), "{err:?}");
}

/// A guest kept up answers over its results port, both ways, for as long
/// as its command runs; dropping it stops QEMU.
#[test]
fn a_guest_kept_up_talks_both_ways() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cache = default_cache_dir();
    let assets = ensure_assets(&cache, None, &mut |line| eprintln!("{line}")).expect("the guest's files");
    // The port may be open once only: one descriptor, read and written.
    let script = r#"exec 3<>"$GREENROOM_RESULTS"; while echo listening >&3 && read -r line <&3; do
        [ "$line" = quit ] && exit 0; echo "got $line" >&3; done"#;
    let mut guest = greenroom_vm::Guest::start(&BootRequest {
        assets: &assets,
        cache: &cache,
        files: Vec::new(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: Vec::new(),
        deadline: Duration::from_secs(60),
        log_path: dir.path().join("console.log"),
        accel: Accel::Tcg,
        memory_mib: 512,
        disks: Vec::new(),
    })
    .expect("a guest kept up");
    let until = || Instant::now() + Duration::from_secs(20);
    for word in ["one", "two"] {
        assert_eq!(guest.recv_line(until()).as_deref(), Some("listening"));
        guest.send(format!("{word}\n").as_bytes()).expect("send a line");
        assert_eq!(guest.recv_line(until()), Some(format!("got {word}")));
    }
    assert!(guest.is_running());
    assert_eq!(guest.recv_line(until()).as_deref(), Some("listening"));
    guest.send(b"quit\n").expect("send quit");
    assert_eq!(guest.recv_line(until()).as_deref(), Some(r#"{"greenroom":"done","exit":0}"#));
    drop(guest);
    assert!(processes_mentioning(&dir.path().display().to_string()).is_empty(), "QEMU outlived the guest");
}
