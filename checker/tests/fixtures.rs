//! The grader catches deliberately broken runtimes.
//!
//! Each patch in `tests/fixtures/` breaks the solutions in one place (its
//! first lines say how, and the change is marked `BROKEN`). The checker
//! grades it in the VM with `--patch`, and each test here checks that the
//! right tests fail, and say why, while the rest of the run goes on.
//!
//! Every test but the first boots the guest (TCG: seconds each; `hangs` and
//! `fork-bomb` wait out 10-second timeouts, `no-signal-forwarding` the
//! probe's 8-second sleep). They share the checker's build folders, hence
//! `#[serial]`.

mod common;

use std::fs;

use common::{fixture, grade_fixture, Graded};
use serial_test::serial;

/// Every fixture says what it breaks, and breaks one thing. (That each
/// still applies to the solutions as they are now is checked by the unit
/// tests of `checker/src/course.rs`; when a solution changes, remake the
/// patch with `diff -u --label a/PATH --label b/PATH solutions/PATH copy`.)
#[test]
fn every_fixture_applies_to_the_solutions_and_marks_what_it_breaks() {
    let dir = fixture("x").parent().expect("the fixtures folder").to_path_buf();
    let mut seen = 0;
    for entry in fs::read_dir(&dir).expect("list the fixtures").flatten() {
        let path = entry.path();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let preamble = &text[..text.find("--- a/").unwrap_or(0)];
        assert!(preamble.contains("BROKEN"), "{}: say what is broken before the diff", path.display());
        let added = text.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++"));
        assert!(added.clone().any(|l| l.contains("BROKEN")), "{}: mark the change `BROKEN`", path.display());
        assert!(added.count() <= 15, "{}: a fixture breaks one thing, in a few lines", path.display());
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} fixtures");
}

/// Grades chapter 7's tests `tests` only, on fixture `name`: a whole
/// chapter 7 takes minutes (podman under emulation), and a fixture is
/// about a few of its tests.
fn grade_chapter7_tests(name: &str, tests: &[&str]) -> Graded {
    grade_tests(name, "chapter7", tests)
}

/// Asserts the run ended with "some test fails" (exit code 1).
fn assert_failed(graded: &Graded) {
    assert_eq!(graded.code, Some(1), "exit code; stderr:\n{}", graded.stderr);
    assert!(!graded.report.passed, "the report says it passed");
}

#[test]
#[serial]
fn a_label_of_63_bytes_refused_is_caught() {
    let graded =
        grade_tests("label-63-refused", "chapter1", &["longest-hostname-accepted", "invalid-hostname-refused"]);
    assert_failed(&graded);
    let longest = graded.report.expect("longest-hostname-accepted", "fail");
    assert!(longest.message.contains("one label of 63 bytes, was refused"), "{longest:#?}");
    // A label of 64 bytes is still refused.
    graded.report.expect("invalid-hostname-refused", "pass");
}

#[test]
#[serial]
fn a_panicking_runtime_is_reported_as_a_panic() {
    let graded = grade_fixture("panics", "chapter1", &[]);
    assert_failed(&graded);
    let test = graded.report.expect("exit-code-relayed", "fail");
    let why = test.explanation();
    assert!(why.contains("the runtime panicked"), "{why}");
    assert!(why.contains("exit_code is not written yet"), "the panic's own message should be quoted: {why}");
    // Chapter 1's tests stand on chapter 0's: they fail too, for the same reason.
    let test = graded.report.expect("hostname-set-inside", "fail");
    assert!(test.explanation().contains("panicked"), "{test:#?}");
}

#[test]
#[serial]
fn a_runtime_that_never_returns_times_out_and_the_run_ends() {
    let graded = grade_fixture("hangs", "chapter1", &["--only"]);
    assert_failed(&graded);
    for name in ["hostname-set-inside", "own-uts-namespace", "host-hostname-unchanged"] {
        let test = graded.report.expect(name, "timeout");
        assert!(test.message.contains("did not finish in time"), "{test:#?}");
        assert!(test.reproduce.is_some(), "a timeout should say how to repeat it: {test:#?}");
    }
    // A hostname refused before anything is cloned never reaches the bug.
    graded.report.expect("invalid-hostname-refused", "pass");
}

#[test]
#[serial]
fn setting_the_hostname_without_a_namespace_is_caught() {
    let graded = grade_fixture("no-uts-namespace", "chapter1", &["--only"]);
    assert_failed(&graded);
    // Output alone may look right: the probe can see the hostname it asked
    // for. Not asserted: without a namespace every container shares the
    // host's name, and tests run side by side rename it under each other.
    let shared = graded.report.expect("own-uts-namespace", "fail");
    assert!(shared.message.contains("shares the host's UTS namespace"), "{shared:#?}");
    let renamed = graded.report.expect("host-hostname-unchanged", "fail");
    assert_eq!(renamed.actual.as_deref(), Some("\"drama-club\""), "{renamed:#?}");
}

#[test]
#[serial]
fn sharing_the_hosts_ipc_objects_is_caught() {
    let graded = grade_fixture("no-ipc-namespace", "chapter1", &["--only"]);
    assert_failed(&graded);
    let shared = graded.report.expect("own-ipc-namespace", "fail");
    assert!(shared.message.contains("shares the host's IPC namespace"), "{shared:#?}");
    let seen = graded.report.expect("host-ipc-invisible", "fail");
    assert_eq!(seen.actual.as_deref(), Some("(true, true)"), "the host's queues are found from inside: {seen:#?}");
    let left = graded.report.expect("container-ipc-stays-inside", "fail");
    assert_eq!(left.actual.as_deref(), Some("(true, true)"), "the container's queues stay on the host: {left:#?}");
    // The UTS namespace is there: the tests tell the layers apart.
    graded.report.expect("own-uts-namespace", "pass");
}

#[test]
#[serial]
fn printing_the_hostname_is_not_setting_it() {
    let graded = grade_fixture("prints-hostname", "chapter1", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("hostname-set-inside", "fail");
    assert_eq!(test.expected.as_deref(), Some("Some(\"rock-band\")"), "{test:#?}");
    assert!(!test.actual.as_deref().unwrap_or_default().contains("rock-band"), "{test:#?}");
    // The namespace is there: the tests tell the two mistakes apart.
    graded.report.expect("own-uts-namespace", "pass");
}

#[test]
#[serial]
fn exec_without_a_child_is_caught() {
    let graded = grade_fixture("exec-in-parent", "chapter1", &[]);
    assert_failed(&graded);
    let test = graded.report.expect("runs-in-a-child", "fail");
    assert!(test.message.contains("child"), "{test:#?}");
    // Its exit codes, output and hostname are all right.
    for name in ["exit-code-relayed", "output-relayed", "hostname-set-inside", "own-uts-namespace"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn a_fork_bomb_is_capped_and_the_guest_survives() {
    let graded = grade_fixture("fork-bomb", "chapter1", &["--only"]);
    assert_failed(&graded);
    for name in ["hostname-set-inside", "own-uts-namespace", "host-hostname-unchanged", "longest-hostname-accepted"] {
        graded.report.expect(name, "timeout");
    }
    // The guest outlives the bombs: every test reports (none is an "error",
    // a test that never did), and the one run after three bombs passes.
    let errors: Vec<_> = graded.report.tests.iter().filter(|t| t.status == "error").collect();
    assert!(errors.is_empty(), "tests that never reported: {errors:#?}");
    graded.report.expect("invalid-hostname-refused", "pass");
}

#[test]
#[serial]
fn keeping_the_hosts_proc_is_caught() {
    let graded = grade_fixture("host-proc", "chapter2", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("proc-shows-only-the-container", "fail");
    assert!(test.message.contains("container's /proc"), "{test:#?}");
    assert_eq!(test.expected.as_deref(), Some("Some([1, 2])"), "{test:#?}");
    // The namespace is there, only /proc is the host's: the tests tell the
    // two mistakes apart.
    for name in ["command-is-pid-2", "own-pid-namespace", "host-processes-invisible"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn a_proc_mounted_without_private_propagation_is_caught() {
    let graded = grade_fixture("no-private", "chapter2", &["--only"]);
    assert_failed(&graded);
    // The guest's / is rshared, so every container's /proc lands on the
    // host's too: the test after whose run the suite finds the leak says so
    // (and the suite undoes it). Tests run side by side, so which one finds
    // it varies from run to run; some do.
    let leaks = graded.report.tests.iter().filter(|t| t.explanation().contains("mounted over the host's /proc"));
    assert!(leaks.count() > 0, "no test reported the leaked /proc: {:#?}", graded.report.tests);
    let test = graded.report.expect("host-proc-untouched", "fail");
    let why = test.explanation();
    assert!(why.contains("host's /proc") || why.contains("host's mount table"), "{test:#?}");
}

/// Chapter 2's layer runs first and already makes the mounts private, so
/// this fixture breaks both places; `pivot_root` then meets shared mounts.
#[test]
#[serial]
fn pivot_root_on_shared_mounts_is_caught() {
    let graded = grade_fixture("no-private-pivot", "chapter3", &["--only"]);
    assert_failed(&graded);
    for name in ["mounts-inside", "host-root-unreachable", "starts-in-the-new-root", "host-mounts-unchanged"] {
        let test = graded.report.expect(name, "fail");
        let why = test.explanation();
        // Either the runtime's own error, or (tests run side by side) the
        // /proc a concurrent run leaked through the shared mounts: both
        // point at the missing MS_PRIVATE.
        let own_error = why.contains("pivot_root") && why.contains("EINVAL");
        let leak_seen = why.contains("MS_PRIVATE");
        assert!(own_error || leak_seen, "the runtime's own error or the leak should show: {test:#?}");
    }
    // A refused --rootfs never gets that far.
    graded.report.expect("bad-rootfs-refused", "pass");
}

/// A grader weakness this fixture found: chapter 2's /proc leaks onto the
/// guest's /proc on the first run and hides the suite's own
/// /proc/self/mountinfo, so `host-mounts-unchanged` compares two failed
/// reads (both "") and passes; chapter 3's `--only` run passes entirely.
/// (Without `--only`, chapter 2's `host-proc-untouched` catches it.)
#[test]
#[serial]
fn a_proc_leaked_before_pivot_root_fails_chapter_3() {
    let graded = grade_fixture("no-private", "chapter3", &["--only"]);
    assert_failed(&graded);
    graded.report.expect("host-mounts-unchanged", "fail");
}

#[test]
#[serial]
fn chroot_instead_of_pivot_root_is_caught() {
    let graded = grade_fixture("chroot-only", "chapter3", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("host-root-unreachable", "fail");
    // The init starts after the rootfs layer, chrooted like the command:
    // only the chroot escape gets out.
    assert!(test.message.contains("chroot escape"), "{test:#?}");
    assert!(test.actual.as_deref().unwrap_or_default().contains("\"chroot_escape\":true"), "{test:#?}");
    // The container's mount table hides the mounts outside its root, so it
    // looks right: only the escape shows that the host's root is still there.
    for name in ["mounts-inside", "dev-has-only-safe-devices", "starts-in-the-new-root"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn an_init_that_reaps_only_the_command_is_caught() {
    let graded = grade_fixture("init-no-reap", "chapter2", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("orphans-reaped", "fail");
    assert!(test.message.contains("zombies"), "{test:#?}");
    assert_eq!(test.expected.as_deref(), Some("[]"), "{test:#?}");
    // The command itself is still waited for, and its exit code relayed.
    for name in ["command-is-pid-2", "signals-reach-the-command"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn an_init_that_keeps_signals_to_itself_is_caught() {
    let graded = grade_fixture("no-signal-forwarding", "chapter2", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("signals-reach-the-command", "fail");
    assert!(test.message.contains("SIGTERM"), "{test:#?}");
    // The command slept its 8 seconds out and ended by itself.
    assert_eq!(test.actual.as_deref(), Some("exit code 0"), "{test:#?}");
    graded.report.expect("orphans-reaped", "pass");
}

#[test]
#[serial]
fn a_veth_left_for_the_kernel_to_remove_is_caught() {
    let graded = grade_fixture("veth-left-behind", "chapter4", &["--only"]);
    assert_failed(&graded);
    for name in ["cleanup-after-exit", "cleanup-after-container-killed"] {
        let test = graded.report.expect(name, "fail");
        assert!(test.message.contains("host end of the veth pair"), "{test:#?}");
        assert!(test.actual.as_deref().unwrap_or_default().starts_with("grv"), "the port left should show: {test:#?}");
    }
    // The network works while the container runs; leases are given back.
    for name in ["interfaces-inside", "containers-reach-each-other", "host-reaches-container"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn a_loopback_left_down_is_caught() {
    let graded = grade_fixture("lo-down", "chapter4", &["--only"]);
    assert_failed(&graded);
    for name in ["loopback-works", "interfaces-inside", "no-network"] {
        let test = graded.report.expect(name, "fail");
        assert!(test.message.contains("lo is down"), "{test:#?}");
        assert!(test.actual.as_deref().unwrap_or_default().contains("lo down"), "{test:#?}");
    }
    // eth0 and the bridge are fine: the tests tell the two apart.
    for name in ["containers-reach-each-other", "host-reaches-container"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn eth0_configured_from_the_hosts_namespace_is_caught() {
    let graded = grade_fixture("eth0-from-host", "chapter4", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("interfaces-inside", "fail");
    assert!(test.message.contains("eth0 has no IPv4 address"), "{test:#?}");
    assert!(test.message.contains("from inside the container's namespace"), "{test:#?}");
    for name in ["containers-reach-each-other", "host-reaches-container"] {
        graded.report.expect(name, "fail");
    }
    graded.report.expect("loopback-works", "pass");
}

#[test]
#[serial]
fn giving_every_container_the_same_address_is_caught() {
    let graded = grade_fixture("same-address", "chapter4", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("distinct-addresses", "fail");
    assert!(test.message.contains("both containers got the same address"), "{test:#?}");
    graded.report.expect("containers-reach-each-other", "fail");
    // One container at a time looks right.
    for name in ["interfaces-inside", "host-reaches-container", "cleanup-after-exit"] {
        graded.report.expect(name, "pass");
    }
}

/// A runtime that answers `probe report` with a report captured earlier
/// (the hostname it was asked for filled in) looks right to a grader that
/// believes any well-formed report: the hostname, a UTS namespace that is
/// not the host's, the host's hostname untouched. The nonce each run gives
/// the probe gives it away.
#[test]
#[serial]
fn a_canned_report_is_refused_as_not_from_this_run() {
    let graded = grade_fixture("canned-report", "chapter1", &[]);
    assert_failed(&graded);
    let reads_a_report = [
        "argv-and-env-passed",
        "only-stdio-inherited",
        "hostname-set-inside",
        "own-uts-namespace",
        "host-hostname-unchanged",
        "longest-hostname-accepted",
        "own-ipc-namespace",
    ];
    for name in reads_a_report {
        let test = graded.report.expect(name, "fail");
        assert!(test.message.contains("did not come from this run's probe"), "{test:#?}");
        assert!(test.actual.as_deref().unwrap_or_default().contains("\"nonce\":\"5e1f0c2a\""), "{test:#?}");
    }
    // Every other test runs the command for real, and passes.
    for test in graded.report.tests.iter().filter(|t| !reads_a_report.contains(&t.name.as_str())) {
        assert_eq!(test.status, "pass", "{test:#?}");
    }
}

#[test]
#[serial]
fn maps_written_by_the_child_are_caught() {
    let graded = grade_fixture("map-written-by-child", "chapter5", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("maps-as-asked", "fail");
    assert!(test.message.contains("prepare_parent"), "{test:#?}");
    // A child may map its own id alone: the unprivileged single mapping works.
    graded.report.expect("setgroups-denied", "pass");
}

#[test]
#[serial]
fn a_gid_map_without_setgroups_denied_is_caught() {
    let graded = grade_fixture("setgroups-not-denied", "chapter5", &["--only"]);
    assert_failed(&graded);
    let test = graded.report.expect("setgroups-denied", "fail");
    assert!(test.message.contains("setgroups"), "{test:#?}");
    // newgidmap handles setgroups itself, and root needs no deny.
    for name in ["rootless-container", "maps-as-asked"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn a_user_namespace_made_after_the_others_is_caught() {
    let graded = grade_fixture("user-namespace-last", "chapter5", &["--only"]);
    assert_failed(&graded);
    let owned = graded.report.expect("namespaces-owned-by-it", "fail");
    assert!(owned.message.contains("same clone"), "{owned:#?}");
    assert!(owned.actual.as_deref().unwrap_or_default().contains("uts"), "{owned:#?}");
    // Its root is host root: the host's files are open to it.
    for name in ["maps-as-asked", "files-owned-by-mapped-id", "host-root-files-closed"] {
        graded.report.expect(name, "fail");
    }
}

#[test]
#[serial]
fn host_root_in_the_default_map_is_caught() {
    let graded = grade_fixture("host-root-by-default", "chapter5", &["--only"]);
    assert_failed(&graded);
    for name in ["rootless-container", "rootless-range"] {
        let test = graded.report.expect(name, "fail");
        assert!(test.message.contains("never host root"), "{test:#?}");
    }
    for name in ["setgroups-denied", "maps-as-asked"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn cgroup_v1_paths_are_named_as_such() {
    let graded = grade_fixture("cgroup-v1-paths", "chapter6", &["--only"]);
    assert_failed(&graded);
    for name in ["limits-read-back-inside", "oom-kill-reported"] {
        let test = graded.report.expect(name, "fail");
        assert!(test.message.contains("cgroup v1 paths"), "{test:#?}");
    }
    // Limits without --memory never touch the broken file.
    for name in ["fork-bomb-stops-at-pids-max", "cpu-quota-throttles", "bad-limits-refused"] {
        graded.report.expect(name, "pass");
    }
}

#[test]
#[serial]
fn limits_written_after_the_command_started_are_caught() {
    let graded = grade_fixture("limits-after-start", "chapter6", &["--only"]);
    assert_failed(&graded);
    let read_back = graded.report.expect("limits-read-back-inside", "fail");
    assert!(read_back.message.contains("after the command started"), "{read_back:#?}");
    assert_eq!(read_back.actual.as_deref(), Some("\"max\""), "{read_back:#?}");
    let bomb = graded.report.expect("fork-bomb-stops-at-pids-max", "fail");
    assert!(bomb.message.contains("not in place when the command runs"), "{bomb:#?}");
    // The namespace is right: a limit missing inside is no fault of it.
    graded.report.expect("cgroup-namespace-root", "pass");
}

#[test]
#[serial]
fn a_cgroup_never_removed_is_caught() {
    let graded = grade_fixture("cgroup-never-removed", "chapter6", &["--only"]);
    assert_failed(&graded);
    let left = graded.report.expect("no-cgroup-left", "fail");
    assert!(left.message.contains("cgroups were left"), "{left:#?}");
    assert!(left.actual.as_deref().unwrap_or_default().contains("greenroom-"), "{left:#?}");
    graded.report.expect("stale-cgroups-removed", "fail");
    graded.report.expect("limits-read-back-inside", "pass");
}

#[test]
#[serial]
fn an_oom_kill_reported_as_a_plain_137_is_caught() {
    let graded = grade_fixture("oom-silent", "chapter6", &["--only"]);
    assert_failed(&graded);
    let oom = graded.report.expect("oom-kill-reported", "fail");
    assert!(oom.message.contains("the runtime said nothing"), "{oom:#?}");
    graded.report.expect("plain-137-is-not-oom", "pass");
}

#[test]
#[serial]
fn a_cgroup_namespace_made_before_the_move_is_caught() {
    let graded = grade_fixture("cgroupns-before-move", "chapter6", &["--only"]);
    assert_failed(&graded);
    let root = graded.report.expect("cgroup-namespace-root", "fail");
    assert!(root.message.contains("before the child was moved"), "{root:#?}");
    assert!(root.actual.as_deref().unwrap_or_default().starts_with("0::/greenroom-"), "{root:#?}");
    graded.report.expect("limits-read-back-inside", "fail");
}

#[test]
#[serial]
fn a_cgroup2_mounted_writable_inside_is_caught() {
    let graded = grade_fixture(
        "cgroup-mounted-writable",
        "chapter6",
        &["--only", "--test", "cgroup-mount-read-only", "--test", "limits-read-back-inside"],
    );
    assert_failed(&graded);
    let mounted = graded.report.expect("cgroup-mount-read-only", "fail");
    assert!(mounted.message.contains("/sys/fs/cgroup (cgroup2) lacks ro, nosuid, nodev, noexec"), "{mounted:#?}");
    assert!(mounted.message.contains("MS_RDONLY"), "the message names the flag: {mounted:#?}");
    graded.report.expect("limits-read-back-inside", "pass");
}

#[test]
#[serial]
fn a_pipe_of_the_core_left_to_the_command_is_caught() {
    let graded = grade_fixture("report-pipe-inherited", "chapter0", &[]);
    assert_failed(&graded);
    let leaked = graded.report.expect("only-stdio-inherited", "fail");
    let why = leaked.explanation();
    assert!(why.contains("beyond 0, 1 and 2") && why.contains("pipe:["), "{why}");
    assert!(why.contains("without O_CLOEXEC"), "the hint should name the flag: {why}");
    // The caller's descriptors are marked close-on-exec: only the pipe is named.
    assert!(!why.contains("40 ->") && !why.contains("41 ->"), "{why}");
    graded.report.expect("exit-code-relayed", "pass");
}

#[test]
#[serial]
fn a_command_started_with_the_inits_mask_is_caught() {
    let graded = grade_fixture("command-signals-blocked", "chapter2", &["--only"]);
    assert_failed(&graded);
    let blocked = graded.report.expect("command-signals-unblocked", "fail");
    assert!(blocked.message.contains("signals blocked"), "{blocked:#?}");
    let actual = blocked.actual.as_deref().unwrap_or_default();
    assert!(actual.contains("SIGTERM") && actual.contains("SIGCHLD"), "the blocked signals are named: {blocked:#?}");
    graded.report.expect("command-is-pid-2", "pass");
}

#[test]
#[serial]
fn a_pid_1_killed_from_the_host_misreported_is_caught() {
    let graded = grade_fixture("sigkill-not-137", "chapter2", &["--only"]);
    assert_failed(&graded);
    let killed = graded.report.expect("init-killed-from-outside", "fail");
    assert!(killed.message.contains("PID 1") && killed.message.contains("SIGKILL"), "{killed:#?}");
    assert_eq!(killed.expected.as_deref(), Some("exit code 137"), "{killed:#?}");
    assert!(killed.actual.as_deref().unwrap_or_default().starts_with("exit code 125"), "{killed:#?}");
    graded.report.expect("signals-reach-the-command", "pass");
}

#[test]
#[serial]
fn a_working_directory_left_on_the_host_is_caught() {
    let graded = grade_fixture("cwd-left-on-the-host", "chapter3", &["--only"]);
    assert_failed(&graded);
    let outside = graded.report.expect("cwd-and-root-inside", "fail");
    assert!(outside.message.contains("outside its root"), "{outside:#?}");
    graded.report.expect("mounts-inside", "pass");
}

#[test]
#[serial]
fn a_relative_rootfs_that_exists_accepted_is_caught() {
    let graded = grade_fixture("relative-rootfs-accepted", "chapter3", &["--only"]);
    assert_failed(&graded);
    let accepted = graded.report.expect("bad-rootfs-refused", "fail");
    assert!(accepted.message.contains("--rootfs rootfs is relative"), "{accepted:#?}");
    assert!(accepted.message.contains("not resolved"), "{accepted:#?}");
    graded.report.expect("mounts-inside", "pass");
}

#[test]
#[serial]
fn a_mount_without_its_flags_is_caught() {
    let graded = grade_fixture("shm-without-safe-flags", "chapter3", &["--only"]);
    assert_failed(&graded);
    let flags = graded.report.expect("mount-flags", "fail");
    assert!(flags.message.contains("/dev/shm (tmpfs) lacks nosuid, nodev, noexec"), "{flags:#?}");
    graded.report.expect("mounts-inside", "pass");
}

/// Chapter 3's bug seen from a rootless run: a user namespace must not
/// hide a mount's missing flags.
#[test]
#[serial]
fn a_mount_without_its_flags_is_caught_rootless_too() {
    let graded = grade_fixture(
        "shm-without-safe-flags",
        "chapter5",
        &["--only", "--test", "rootless-mount-flags", "--test", "rootless-container"],
    );
    assert_failed(&graded);
    let flags = graded.report.expect("rootless-mount-flags", "fail");
    assert!(flags.message.contains("/dev/shm (tmpfs) lacks nosuid, nodev, noexec"), "{flags:#?}");
    assert!(flags.message.contains("rootless"), "{flags:#?}");
    graded.report.expect("rootless-container", "pass");
}

#[test]
#[serial]
fn capabilities_dropped_on_a_copy_are_caught() {
    let graded =
        grade_chapter7_tests("caps-on-a-copy", &["caps-default-set", "caps-match-config", "lifecycle-and-state"]);
    assert_failed(&graded);
    let default = graded.report.expect("caps-default-set", "fail");
    assert!(default.message.contains("CapBnd (bounding) is not the config's"), "{default:#?}");
    assert!(default.message.contains("still there"), "{default:#?}");
    graded.report.expect("caps-match-config", "fail");
    graded.report.expect("lifecycle-and-state", "pass");
}

#[test]
#[serial]
fn a_missing_no_new_privs_is_caught() {
    let graded =
        grade_chapter7_tests("no-new-privs-missing", &["no-new-privs", "seccomp-profile-enforced", "caps-default-set"]);
    assert_failed(&graded);
    let nnp = graded.report.expect("no-new-privs", "fail");
    assert!(nnp.message.contains("noNewPrivileges: true"), "{nnp:#?}");
    graded.report.expect("seccomp-profile-enforced", "pass");
    graded.report.expect("caps-default-set", "pass");
}

#[test]
#[serial]
fn namespaces_joined_after_a_new_user_namespace_are_caught() {
    let graded = grade_chapter7_tests("joins-after-user-namespace", &["namespaces-distinct", "caps-default-set"]);
    assert_failed(&graded);
    let joined = graded.report.expect("namespaces-distinct", "fail");
    assert!(joined.message.contains("before the user namespace exists"), "{joined:#?}");
    // Without a namespace named by path nothing changes.
    graded.report.expect("caps-default-set", "pass");
}

#[test]
#[serial]
fn a_seccomp_filter_never_loaded_for_the_command_is_caught() {
    let graded =
        grade_chapter7_tests("seccomp-never-loaded", &["seccomp-profile-enforced", "escapes-blocked", "no-new-privs"]);
    assert_failed(&graded);
    let seccomp = graded.report.expect("seccomp-profile-enforced", "fail");
    assert!(seccomp.message.contains("the filter must be on the command itself"), "{seccomp:#?}");
    let escapes = graded.report.expect("escapes-blocked", "fail");
    assert!(escapes.message.contains("worked inside the container"), "{escapes:#?}");
    graded.report.expect("no-new-privs", "pass");
}

#[test]
#[serial]
fn ambient_capabilities_taken_as_given_are_caught() {
    let graded = grade_chapter7_tests("ambient-taken-as-given", &["runc-and-crun-specs-run", "caps-match-config"]);
    assert_failed(&graded);
    let specs = graded.report.expect("runc-and-crun-specs-run", "fail");
    assert!(specs.message.contains("left out with a warning"), "{specs:#?}");
    graded.report.expect("caps-match-config", "pass");
}

#[test]
#[serial]
fn a_cpuset_never_written_is_caught() {
    if greenroom_vm::qemu::guest_cpus() < 2 {
        eprintln!("skipped: one CPU in the guest, where every cpuset is the whole machine");
        return;
    }
    let graded = grade_tests("cpuset-never-written", "chapter6", &["cpuset-applied", "bad-cpusets-refused"]);
    let applied = graded.report.expect("cpuset-applied", "fail");
    assert!(applied.message.contains("cpuset.cpus"), "{applied:#?}");
    graded.report.expect("bad-cpusets-refused", "pass");
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn pausing_with_sigstop_is_caught() {
    let graded = grade_chapter7_tests("pause-by-sigstop", &["pause-freezes", "pause-refused-out-of-turn"]);
    let freezes = graded.report.expect("pause-freezes", "fail");
    assert!(freezes.message.contains("cgroup.events"), "{freezes:#?}");
    graded.report.expect("pause-refused-out-of-turn", "pass");
    // A challenge is optional: failing it fails no grading.
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn a_default_config_without_seccomp_is_caught() {
    let graded = grade_chapter7_tests("spec-no-seccomp", &["spec-default-hardened", "escapes-blocked"]);
    assert_failed(&graded);
    let hardened = graded.report.expect("spec-default-hardened", "fail");
    assert!(hardened.message.contains("course's seccomp profile"), "{hardened:#?}");
    graded.report.expect("escapes-blocked", "pass");
}

#[test]
#[serial]
fn masked_paths_bound_before_pivot_root_are_caught() {
    let graded = grade_chapter7_tests(
        "masked-before-pivot",
        &["masked-paths-empty", "readonly-paths-refuse-writes", "caps-default-set"],
    );
    assert_failed(&graded);
    let masked = graded.report.expect("masked-paths-empty", "fail");
    assert!(masked.message.contains("after pivot_root"), "{masked:#?}");
    graded.report.expect("readonly-paths-refuse-writes", "fail");
    graded.report.expect("caps-default-set", "pass");
}

#[test]
#[serial]
fn a_read_only_bind_made_in_one_call_is_caught() {
    let graded =
        grade_chapter7_tests("bind-ro-in-one-call", &["mount-options-honoured", "symlinked-mount-target-stays-inside"]);
    assert_failed(&graded);
    let options = graded.report.expect("mount-options-honoured", "fail");
    assert!(options.message.contains("/data/ro (bind, options rbind,ro,nosuid,nodev,noexec) lacks ro"), "{options:#?}");
    assert!(options.message.contains("MS_BIND ignores every other flag"), "{options:#?}");
    assert!(options.message.contains("MS_REMOUNT | MS_BIND"), "the message names the fix: {options:#?}");
    graded.report.expect("symlinked-mount-target-stays-inside", "pass");
}

#[test]
#[serial]
fn state_written_without_a_lock_is_caught() {
    let graded = grade_chapter7_tests("state-without-lock", &["delete-waits-for-create", "lifecycle-and-state"]);
    assert_failed(&graded);
    let race = graded.report.expect("delete-waits-for-create", "fail");
    let why = race.explanation();
    assert!(why.contains("delete must wait") || why.contains("lock"), "{race:#?}");
    graded.report.expect("lifecycle-and-state", "pass");
}

#[test]
#[serial]
fn an_init_left_dumpable_is_caught() {
    let graded =
        grade_chapter7_tests("init-dumpable", &["escapes-blocked", "caps-default-set", "podman-run-exit-code"]);
    assert_failed(&graded);
    let escapes = graded.report.expect("escapes-blocked", "fail");
    assert!(escapes.message.contains("/proc/1/exe"), "{escapes:#?}");
    graded.report.expect("caps-default-set", "pass");
    graded.report.expect("podman-run-exit-code", "pass");
}

#[test]
#[serial]
fn an_oci_version_checked_for_its_major_alone_is_caught() {
    let graded = grade_chapter7_tests("oci-version-major-only", &["oci-version-checked", "bad-bundles-refused"]);
    assert_failed(&graded);
    let version = graded.report.expect("oci-version-checked", "fail");
    assert!(version.message.contains("ociVersion \"1.9.0\""), "{version:#?}");
    assert!(version.message.contains("newer than the runtime's spec"), "{version:#?}");
    graded.report.expect("bad-bundles-refused", "pass");
}

#[test]
#[serial]
fn a_sysctl_of_the_machine_taken_for_a_namespaces_is_caught() {
    let graded = grade_chapter7_tests("sysctl-kernel-all-uts", &["sysctl-applied", "oci-version-checked"]);
    assert_failed(&graded);
    let sysctl = graded.report.expect("sysctl-applied", "fail");
    assert!(sysctl.message.contains("the host's kernel.printk_ratelimit changed"), "{sysctl:#?}");
    assert!(sysctl.message.contains("not the container's own"), "{sysctl:#?}");
    graded.report.expect("oci-version-checked", "pass");
}

#[test]
#[serial]
fn a_working_directory_entered_under_an_early_filter_is_caught() {
    let graded =
        grade_chapter7_tests("cwd-under-early-filter", &["seccomp-early-spares-the-runtime", "cwd-from-config"]);
    assert_failed(&graded);
    let early = graded.report.expect("seccomp-early-spares-the-runtime", "fail");
    assert!(early.message.contains("enter process.cwd before it"), "{early:#?}");
    graded.report.expect("cwd-from-config", "pass");
}

#[test]
#[serial]
fn signals_left_ignored_for_the_command_are_caught() {
    let graded = grade_fixture("signals-left-ignored", "chapter2", &["--only"]);
    assert_failed(&graded);
    let signals = graded.report.expect("command-signals-unblocked", "fail");
    assert!(signals.message.contains("SIGPIPE"), "{signals:#?}");
    assert!(signals.explanation().contains("SIGPIPE"), "{signals:#?}");
    graded.report.expect("own-pid-namespace", "pass");
}

// Chapters 2, 3 and 6: mistakes no test failed, and messages that named
// the wrong mistake (issue 18). Each grades only the tests it is about.

/// Grades the tests `tests` of `chapter` alone on fixture `name`.
fn grade_tests(name: &str, chapter: &str, tests: &[&str]) -> Graded {
    let mut args = vec!["--only"];
    for test in tests {
        args.extend(["--test", test]);
    }
    grade_fixture(name, chapter, &args)
}

#[test]
#[serial]
fn a_cgroup_left_after_an_oom_kill_is_caught() {
    let graded = grade_tests("oom-cgroup-left", "chapter6", &["oom-kill-reported", "no-cgroup-left"]);
    assert_failed(&graded);
    let oom = graded.report.expect("oom-kill-reported", "fail");
    assert!(oom.message.contains("the OOM kill was reported, and then the container's cgroup was left"), "{oom:#?}");
    assert!(oom.actual.as_deref().unwrap_or_default().contains("greenroom-"), "{oom:#?}");
    // Without an OOM kill, cleanup runs to the end.
    graded.report.expect("no-cgroup-left", "pass");
}

#[test]
#[serial]
fn the_memory_limit_reached_taken_for_an_oom_kill_is_caught() {
    let graded = grade_tests("oom-from-max-events", "chapter6", &["plain-137-is-not-oom", "oom-kill-reported"]);
    assert_failed(&graded);
    let plain = graded.report.expect("plain-137-is-not-oom", "fail");
    assert!(plain.message.contains("reaching the limit is not an OOM kill"), "{plain:#?}");
    assert!(plain.message.contains("oom_kill"), "the message names the line to read: {plain:#?}");
    // A real OOM kill reaches the limit too: it is still reported.
    graded.report.expect("oom-kill-reported", "pass");
}

#[test]
#[serial]
fn a_cgroup_removed_without_killing_what_is_in_it_is_caught() {
    let tests = ["joined-process-killed", "nested-cgroup-removed", "no-cgroup-left"];
    let graded = grade_tests("cgroup-rmdir-only", "chapter6", &tests);
    assert_failed(&graded);
    let joined = graded.report.expect("joined-process-killed", "fail");
    assert!(joined.message.contains("kill every process in the cgroup (cgroup.kill)"), "{joined:#?}");
    assert!(joined.actual.as_deref().unwrap_or_default().contains("greenroom-"), "{joined:#?}");
    let nested = graded.report.expect("nested-cgroup-removed", "fail");
    assert!(nested.message.contains("kill every process in the subtree (cgroup.kill)"), "{nested:#?}");
    // The end of the PID namespace empties the cgroup of its own processes:
    // a bare rmdir is enough there, which is why joined-process-killed exists.
    graded.report.expect("no-cgroup-left", "pass");
}

#[test]
#[serial]
fn a_cgroup_removed_without_the_cgroups_below_it_is_caught() {
    let tests = ["nested-cgroup-removed", "joined-process-killed", "no-cgroup-left"];
    let graded = grade_tests("cgroup-subtree-left", "chapter6", &tests);
    assert_failed(&graded);
    let nested = graded.report.expect("nested-cgroup-removed", "fail");
    assert!(nested.message.contains("remove the cgroups below first, the deepest first"), "{nested:#?}");
    assert!(nested.actual.as_deref().unwrap_or_default().contains("greenroom-"), "{nested:#?}");
    // Everything is killed: with no cgroup below, the one rmdir is enough.
    graded.report.expect("joined-process-killed", "pass");
    graded.report.expect("no-cgroup-left", "pass");
}

#[test]
#[serial]
fn memory_sizes_read_in_powers_of_1000_are_named_as_such() {
    let graded =
        grade_tests("memory-powers-of-1000", "chapter6", &["limits-read-back-inside", "cgroup-namespace-root"]);
    assert_failed(&graded);
    let limits = graded.report.expect("limits-read-back-inside", "fail");
    assert!(limits.message.contains("powers of 1000"), "{limits:#?}");
    // 48000000, rounded down to whole pages by the kernel.
    assert_eq!(limits.actual.as_deref(), Some("\"47996928\""), "{limits:#?}");
    // The namespace is right: a wrong limit is no fault of it.
    graded.report.expect("cgroup-namespace-root", "pass");
}

#[test]
#[serial]
fn a_memory_size_without_a_unit_refused_is_caught() {
    let graded = grade_tests("memory-unit-required", "chapter6", &["limits-read-back-inside", "bad-limits-refused"]);
    assert_failed(&graded);
    let limits = graded.report.expect("limits-read-back-inside", "fail");
    assert!(limits.message.contains("a size without a unit is a number of bytes"), "{limits:#?}");
    // Sizes with a unit, and the bad sizes' refusals, are right.
    graded.report.expect("bad-limits-refused", "pass");
}

#[test]
#[serial]
fn memory_units_other_than_m_refused_are_caught() {
    let graded = grade_tests("memory-m-only", "chapter6", &["limits-read-back-inside", "cgroup-namespace-root"]);
    assert_failed(&graded);
    let limits = graded.report.expect("limits-read-back-inside", "fail");
    assert!(limits.message.contains("--memory 40960K was refused: K is a unit as M is"), "{limits:#?}");
    // --memory 64M is still right.
    graded.report.expect("cgroup-namespace-root", "pass");
}

#[test]
#[serial]
fn a_cgroup2_never_mounted_inside_is_named_as_such() {
    let tests = ["limits-read-back-inside", "cgroup-namespace-root", "cpu-quota-throttles"];
    let graded = grade_tests("cgroup-not-mounted", "chapter6", &tests);
    assert_failed(&graded);
    for name in tests {
        let test = graded.report.expect(name, "fail");
        assert!(test.message.contains("no cgroup2 is mounted at /sys/fs/cgroup"), "{test:#?}");
        assert_eq!(test.actual.as_deref(), Some("nothing mounted there"), "{test:#?}");
    }
}

#[test]
#[serial]
fn an_init_holding_what_it_inherited_is_caught() {
    let graded = grade_tests("init-keeps-descriptors", "chapter2", &["init-holds-no-descriptors", "command-is-pid-2"]);
    assert_failed(&graded);
    let held = graded.report.expect("init-holds-no-descriptors", "fail");
    assert!(held.message.contains("still holds descriptors it inherited"), "{held:#?}");
    assert!(held.actual.as_deref().unwrap_or_default().contains("pipe:["), "the pipes are named: {held:#?}");
    graded.report.expect("command-is-pid-2", "pass");
}

/// The init is held stopped while the orphans end: the merged SIGCHLD is
/// the test's condition, not a matter of timing.
#[test]
#[serial]
fn an_init_reaping_one_child_per_sigchld_is_caught() {
    let graded = grade_tests("init-reaps-one-per-signal", "chapter2", &["orphans-reaped", "signals-reach-the-command"]);
    assert_failed(&graded);
    let orphans = graded.report.expect("orphans-reaped", "fail");
    assert!(orphans.message.contains("SIGCHLDs merged into one"), "{orphans:#?}");
    assert_eq!(orphans.expected.as_deref(), Some("[]"), "{orphans:#?}");
    graded.report.expect("signals-reach-the-command", "pass");
}

#[test]
#[serial]
fn a_pid_namespace_without_a_mount_namespace_is_named_as_such() {
    let graded = grade_tests("pid-without-mount-namespace", "chapter2", &["host-proc-untouched"]);
    assert_failed(&graded);
    let test = graded.report.expect("host-proc-untouched", "fail");
    // Said by the suite, which finds the host's own mounts made private,
    // and by the test, which finds the host's mount namespace inside.
    assert!(test.message.contains("in the host's own mount namespace"), "{test:#?}");
    assert!(test.message.contains("CLONE_NEWNS"), "{test:#?}");
    assert!(!test.message.contains("make every mount private"), "not the propagation mistake: {test:#?}");
}

#[test]
#[serial]
fn a_rootfs_never_bound_onto_itself_is_named() {
    let graded = grade_tests("rootfs-not-bound", "chapter3", &["mounts-inside", "bad-rootfs-refused"]);
    assert_failed(&graded);
    let test = graded.report.expect("mounts-inside", "fail");
    assert!(test.message.contains("bind the rootfs onto itself first"), "{test:#?}");
    assert!(test.actual.as_deref().unwrap_or_default().contains("EBUSY"), "the runtime's own error: {test:#?}");
    graded.report.expect("bad-rootfs-refused", "pass");
}

#[test]
#[serial]
fn an_old_root_unmounted_without_detaching_is_named() {
    let graded = grade_tests("old-root-not-detached", "chapter3", &["mounts-inside", "bad-rootfs-refused"]);
    assert_failed(&graded);
    let test = graded.report.expect("mounts-inside", "fail");
    assert!(test.message.contains("MNT_DETACH"), "{test:#?}");
    assert!(test.actual.as_deref().unwrap_or_default().contains("EBUSY"), "the runtime's own error: {test:#?}");
    graded.report.expect("bad-rootfs-refused", "pass");
}

// ---- Chapters 4 and 5 at their edges: leases, ranges, groups ------------
//
// Each grades only the tests its fixture is about (`--only --test …`), to
// keep these gradings short (`grade_tests`, above).

#[test]
#[serial]
fn a_lease_never_handed_to_the_container_is_caught() {
    let graded = grade_tests(
        "lease-kept-by-runtime",
        "chapter4",
        &["lease-outlives-killed-runtime", "release-spares-reclaimed-lease", "stale-lease-reclaimed"],
    );
    assert_failed(&graded);
    for name in ["lease-outlives-killed-runtime", "release-spares-reclaimed-lease"] {
        let test = graded.report.expect(name, "fail");
        assert!(test.message.contains("hand it over in prepare_parent"), "{test:#?}");
        assert!(test.actual.as_deref().unwrap_or_default().ends_with("the runtime"), "{test:#?}");
    }
    // A runtime that really ended still gives its address up.
    graded.report.expect("stale-lease-reclaimed", "pass");
}

#[test]
#[serial]
fn a_lease_owner_checked_by_pid_alone_is_caught() {
    let graded = grade_tests(
        "lease-owner-by-pid-alone",
        "chapter4",
        &["reused-pid-lease-reclaimed", "zombie-lease-reclaimed", "stale-lease-reclaimed"],
    );
    assert_failed(&graded);
    let reused = graded.report.expect("reused-pid-lease-reclaimed", "fail");
    assert!(reused.message.contains("compare the start time too"), "{reused:#?}");
    let zombie = graded.report.expect("zombie-lease-reclaimed", "fail");
    assert!(zombie.message.contains("a zombie"), "{zombie:#?}");
    graded.report.expect("stale-lease-reclaimed", "pass");
}

#[test]
#[serial]
fn a_release_of_a_lease_reclaimed_by_another_is_caught() {
    let graded =
        grade_tests("release-not-owner-checked", "chapter4", &["release-spares-reclaimed-lease", "cleanup-after-exit"]);
    assert_failed(&graded);
    let release = graded.report.expect("release-spares-reclaimed-lease", "fail");
    assert!(release.message.contains("give back only a lease that still names its owner"), "{release:#?}");
    assert_eq!(release.actual.as_deref(), Some("None"), "the second container's lease is gone: {release:#?}");
    graded.report.expect("cleanup-after-exit", "pass");
}

#[test]
#[serial]
fn a_lease_lock_dropped_at_once_is_caught() {
    let graded = grade_tests("lease-lock-dropped", "chapter4", &["last-address-race", "stale-lease-reclaimed"]);
    assert_failed(&graded);
    let race = graded.report.expect("last-address-race", "fail");
    assert!(race.message.contains("two runtimes took"), "{race:#?}");
    assert!(race.message.contains("exclusive lock"), "the message names the lock: {race:#?}");
    graded.report.expect("stale-lease-reclaimed", "pass");
}

#[test]
#[serial]
fn supplementary_groups_kept_are_caught() {
    let graded = grade_tests("groups-kept", "chapter5", &["supplementary-groups-dropped", "maps-as-asked"]);
    assert_failed(&graded);
    let groups = graded.report.expect("supplementary-groups-dropped", "fail");
    assert!(groups.message.contains("setgroups([])"), "{groups:#?}");
    assert!(!groups.message.contains("reads deny"), "setgroups is allowed here: {groups:#?}");
    // Host group 200007 is gid 7 inside; 4242 is unmapped (65534).
    let seen = groups.actual.as_deref().unwrap_or_default();
    assert!(seen.contains('7') && seen.contains("65534"), "{groups:#?}");
    graded.report.expect("maps-as-asked", "pass");
}

#[test]
#[serial]
fn setgroups_denied_where_nothing_forces_it_is_caught() {
    let graded = grade_tests(
        "setgroups-denied-for-root",
        "chapter5",
        &["setgroups-allowed", "supplementary-groups-dropped", "setgroups-denied"],
    );
    assert_failed(&graded);
    let allowed = graded.report.expect("setgroups-allowed", "fail");
    assert!(
        allowed.message.contains("as root with --uid-map and --gid-map, setgroups should read allow"),
        "{allowed:#?}"
    );
    // Denied, the groups cannot be dropped: the message says why.
    let groups = graded.report.expect("supplementary-groups-dropped", "fail");
    assert!(groups.message.contains("setgroups reads deny, which nothing forced"), "{groups:#?}");
    graded.report.expect("setgroups-denied", "pass");
}

#[test]
#[serial]
fn ranges_sharing_one_id_accepted_are_caught() {
    let graded = grade_tests("overlap-off-by-one", "chapter5", &["map-range-edges", "bad-maps-refused"]);
    assert_failed(&graded);
    let edges = graded.report.expect("map-range-edges", "fail");
    assert!(edges.message.contains("share exactly one id"), "{edges:#?}");
    assert!(edges.message.contains("off-by-one"), "{edges:#?}");
    // The kernel refuses the map, after the clone: too late.
    assert!(edges.message.contains("went as far as leasing an address"), "{edges:#?}");
    // Wider overlaps are still refused.
    graded.report.expect("bad-maps-refused", "pass");
}

#[test]
#[serial]
fn a_range_ending_at_the_highest_id_refused_is_caught() {
    let graded = grade_tests("top-id-refused", "chapter5", &["map-range-edges", "bad-maps-refused"]);
    assert_failed(&graded);
    let edges = graded.report.expect("map-range-edges", "fail");
    assert!(edges.message.contains("end exactly at 4294967294"), "{edges:#?}");
    assert!(edges.message.contains("last-id check off by one"), "{edges:#?}");
    // A range past the last id is still refused.
    graded.report.expect("bad-maps-refused", "pass");
}

#[test]
#[serial]
fn any_one_id_range_taken_for_the_callers_own_is_caught() {
    let graded = grade_tests("any-single-id-own", "chapter5", &["foreign-range-refused", "rootless-range"]);
    assert_failed(&graded);
    let foreign = graded.report.expect("foreign-range-refused", "fail");
    assert!(foreign.message.contains("left it to newuidmap"), "{foreign:#?}");
    assert!(
        foreign.message.contains("a range of one id is exempt only when that id is the caller's own"),
        "{foreign:#?}"
    );
    // The default maps, the caller's own id and its subordinate range, still work.
    graded.report.expect("rootless-range", "pass");
}

#[test]
#[serial]
fn a_foreign_range_left_to_newuidmap_is_caught() {
    let graded = grade_tests("foreign-range-left-to-helper", "chapter5", &["foreign-range-refused", "rootless-range"]);
    assert_failed(&graded);
    let foreign = graded.report.expect("foreign-range-refused", "fail");
    assert!(foreign.message.contains("left it to newuidmap"), "{foreign:#?}");
    assert!(foreign.actual.as_deref().unwrap_or_default().contains("newuidmap"), "{foreign:#?}");
    graded.report.expect("rootless-range", "pass");
}

#[test]
#[serial]
fn a_hostname_never_given_to_the_uts_layer_is_caught() {
    let graded = grade_chapter7_tests("hostname-ignored", &["hostname-from-config", "environment-exact"]);
    assert_failed(&graded);
    let hostname = graded.report.expect("hostname-from-config", "fail");
    assert!(hostname.message.contains("config's `hostname`"), "{hostname:#?}");
    assert_eq!(hostname.expected.as_deref(), Some("Some(\"footlights\")"), "{hostname:#?}");
    // The same container's other settings are right.
    graded.report.expect("environment-exact", "pass");
}

#[test]
#[serial]
fn a_process_left_in_the_runtimes_cwd_and_environment_is_caught() {
    let graded =
        grade_chapter7_tests("cwd-and-env-skipped", &["cwd-from-config", "environment-exact", "hostname-from-config"]);
    assert_failed(&graded);
    let cwd = graded.report.expect("cwd-from-config", "fail");
    assert!(cwd.message.contains("process.cwd"), "{cwd:#?}");
    assert_eq!(cwd.expected.as_deref(), Some("Some(\"/etc\")"), "{cwd:#?}");
    let env = graded.report.expect("environment-exact", "fail");
    assert!(env.message.contains("GREENROOM_RUNTIME_ONLY=backstage, from the runtime's own environment"), "{env:#?}");
    graded.report.expect("hostname-from-config", "pass");
}

#[test]
#[serial]
fn limits_umask_and_oom_score_never_set_are_caught() {
    let graded = grade_chapter7_tests(
        "limits-skipped",
        &["rlimits-applied", "umask-applied", "oom-score-adj-applied", "cwd-from-config"],
    );
    assert_failed(&graded);
    let rlimits = graded.report.expect("rlimits-applied", "fail");
    assert!(rlimits.message.contains("RLIMIT_NOFILE") && rlimits.message.contains("setrlimit"), "{rlimits:#?}");
    let umask = graded.report.expect("umask-applied", "fail");
    assert!(umask.message.contains("process.user.umask"), "{umask:#?}");
    assert_eq!(umask.expected.as_deref(), Some("0027"), "{umask:#?}");
    let oom = graded.report.expect("oom-score-adj-applied", "fail");
    assert!(oom.message.contains("oom_score_adj"), "{oom:#?}");
    graded.report.expect("cwd-from-config", "pass");
}

#[test]
#[serial]
fn a_seccomp_default_action_taken_for_allow_is_caught() {
    let graded = grade_chapter7_tests("seccomp-default-allow", &["seccomp-default-action", "seccomp-profile-enforced"]);
    assert_failed(&graded);
    let default = graded.report.expect("seccomp-default-action", "fail");
    assert!(default.message.contains("reached the kernel"), "{default:#?}");
    assert!(default.message.contains("defaultAction"), "{default:#?}");
    graded.report.expect("seccomp-profile-enforced", "pass");
}

#[test]
#[serial]
fn a_plain_bind_made_recursive_is_caught() {
    let graded = grade_chapter7_tests("bind-always-recursive", &["mount-options-honoured", "masked-paths-empty"]);
    assert_failed(&graded);
    let options = graded.report.expect("mount-options-honoured", "fail");
    assert!(options.message.contains("bind alone is not recursive"), "{options:#?}");
    graded.report.expect("masked-paths-empty", "pass");
}

#[test]
#[serial]
fn a_profile_loaded_only_with_no_new_privs_is_caught() {
    let graded = grade_chapter7_tests("seccomp-only-with-nnp", &["seccomp-profile-enforced", "no-new-privs"]);
    assert_failed(&graded);
    let seccomp = graded.report.expect("seccomp-profile-enforced", "fail");
    assert!(
        seccomp.message.contains("with noNewPrivileges false: the profile must be loaded all the same"),
        "{seccomp:#?}"
    );
    graded.report.expect("no-new-privs", "pass");
}

#[test]
#[serial]
fn a_read_only_path_without_safe_flags_is_caught() {
    let graded =
        grade_chapter7_tests("readonly-without-safe", &["readonly-paths-refuse-writes", "masked-dirs-refuse-writes"]);
    assert_failed(&graded);
    let readonly = graded.report.expect("readonly-paths-refuse-writes", "fail");
    assert!(
        readonly.message.contains("under linux.readonlyPaths: its mount lacks nosuid, nodev, noexec"),
        "{readonly:#?}"
    );
    graded.report.expect("masked-dirs-refuse-writes", "pass");
}

#[test]
#[serial]
fn a_masked_directory_left_writable_is_caught() {
    let graded = grade_chapter7_tests("masked-dirs-writable", &["masked-dirs-refuse-writes", "masked-paths-empty"]);
    assert_failed(&graded);
    let writes = graded.report.expect("masked-dirs-refuse-writes", "fail");
    assert!(writes.message.contains("must be read-only"), "{writes:#?}");
    graded.report.expect("masked-paths-empty", "pass");
}

#[test]
#[serial]
fn kill_sending_sigterm_whatever_it_is_asked_is_caught() {
    let graded = grade_chapter7_tests("kill-always-term", &["kill-sends-the-signal", "wrong-state-refused"]);
    assert_failed(&graded);
    let kill = graded.report.expect("kill-sends-the-signal", "fail");
    assert!(kill.message.contains("should send SIGUSR1"), "{kill:#?}");
    assert_eq!(kill.actual.as_deref(), Some("SIGTERM again"), "{kill:#?}");
    graded.report.expect("wrong-state-refused", "pass");
}

#[test]
#[serial]
fn a_cgroup_left_by_delete_is_caught() {
    let graded = grade_chapter7_tests("delete-keeps-cgroup", &["delete-removes-the-cgroup", "lifecycle-and-state"]);
    assert_failed(&graded);
    let left = graded.report.expect("delete-removes-the-cgroup", "fail");
    assert!(left.message.contains("delete left the container's cgroup"), "{left:#?}");
    graded.report.expect("lifecycle-and-state", "pass");
}

#[test]
#[serial]
fn a_zombie_reported_running_is_caught() {
    let graded = grade_chapter7_tests("zombie-counted-alive", &["zombie-is-stopped", "lifecycle-and-state"]);
    assert_failed(&graded);
    let zombie = graded.report.expect("zombie-is-stopped", "fail");
    assert!(zombie.message.contains("is a zombie"), "{zombie:#?}");
    assert_eq!(zombie.actual.as_deref(), Some("running"), "{zombie:#?}");
    graded.report.expect("lifecycle-and-state", "pass");
}

#[test]
#[serial]
fn a_change_of_user_without_keepcaps_is_named() {
    let graded = grade_chapter7_tests("keepcaps-missing", &["caps-match-config", "caps-default-set"]);
    assert_failed(&graded);
    let caps = graded.report.expect("caps-match-config", "fail");
    let why = caps.explanation();
    assert!(why.contains("PR_SET_KEEPCAPS"), "the runtime's error names the missing step: {caps:#?}");
    assert!(why.contains("no permitted capability left"), "{caps:#?}");
    graded.report.expect("caps-default-set", "pass");
}

#[test]
#[serial]
fn capabilities_applied_before_the_change_of_user_are_named() {
    let graded = grade_chapter7_tests("caps-before-user", &["caps-match-config", "caps-default-set"]);
    assert_failed(&graded);
    let caps = graded.report.expect("caps-match-config", "fail");
    let why = caps.explanation();
    assert!(why.contains("applied before it"), "the runtime's error names the order: {caps:#?}");
    assert!(why.contains("CAP_SETGID"), "{caps:#?}");
    graded.report.expect("caps-default-set", "pass");
}

#[test]
#[serial]
fn an_ambient_set_never_raised_is_named() {
    let graded = grade_chapter7_tests("ambient-never-raised", &["caps-match-config", "caps-default-set"]);
    assert_failed(&graded);
    let caps = graded.report.expect("caps-match-config", "fail");
    assert!(caps.message.starts_with("CapAmb (ambient) is not the config's"), "{caps:#?}");
    assert!(caps.message.contains("PR_CAP_AMBIENT_RAISE"), "{caps:#?}");
    graded.report.expect("caps-default-set", "pass");
}

#[test]
#[serial]
fn a_create_that_fails_under_podman_shows_the_runtimes_error() {
    let graded = grade_chapter7_tests("rlimit-equal-refused", &["podman-run-exit-code", "rlimits-applied"]);
    assert_failed(&graded);
    let podman = graded.report.expect("podman-run-exit-code", "fail");
    assert!(podman.message.contains("the runtime failed, and podman quotes its error"), "{podman:#?}");
    let said = podman.actual.as_deref().unwrap_or_default();
    // The runtime's own words, whole, before the clean-up's.
    assert!(said.contains("rlimit RLIMIT_") && said.contains("is above the hard limit"), "{podman:#?}");
    let error = said.find("Error:").expect("podman's error line");
    assert!(said.find("no container").is_none_or(|cleanup| error < cleanup), "{podman:#?}");
    graded.report.expect("rlimits-applied", "pass");
}

#[test]
#[serial]
fn a_challenge_that_ignores_clear_env_is_caught() {
    let graded = grade_tests("env-clear-ignored", "chapter0", &["env-set-and-cleared", "env-refused"]);
    let set = graded.report.expect("env-set-and-cleared", "fail");
    assert!(set.message.contains("--clear-env"), "the message names the flag: {set:#?}");
    assert!(set.actual.as_deref().unwrap_or_default().contains("GREENROOM_KEPT"), "{set:#?}");
    graded.report.expect("env-refused", "pass");
    // A challenge is optional: failing it fails no grading.
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn a_time_namespace_left_to_the_children_is_caught() {
    let graded = grade_tests("time-ns-not-entered", "chapter1", &["clock-offsets-applied", "clock-offsets-refused"]);
    let applied = graded.report.expect("clock-offsets-applied", "fail");
    assert!(applied.message.contains("or only the children it forks"), "{applied:#?}");
    graded.report.expect("clock-offsets-refused", "pass");
    // A challenge is optional: failing it fails no grading.
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn a_volume_target_resolved_on_the_host_is_caught() {
    let graded = grade_tests(
        "volume-resolved-on-host",
        "chapter3",
        &["volumes-bound", "volume-target-stays-inside", "bad-volumes-refused"],
    );
    let inside = graded.report.expect("volume-target-stays-inside", "fail");
    assert!(inside.message.contains("resolved on the host, before pivot_root"), "{inside:#?}");
    graded.report.expect("volumes-bound", "pass");
    graded.report.expect("bad-volumes-refused", "pass");
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn a_read_only_volume_left_writable_is_caught() {
    let graded = grade_tests("volume-ro-ignored", "chapter3", &["volumes-bound", "volume-target-stays-inside"]);
    let bound = graded.report.expect("volumes-bound", "fail");
    assert!(bound.message.contains("could write to a volume asked read-only"), "{bound:#?}");
    graded.report.expect("volume-target-stays-inside", "pass");
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn a_forwarder_that_never_half_closes_is_caught() {
    let graded = grade_tests("publish-no-half-close", "chapter4", &["published-port-forwards", "bad-publish-refused"]);
    let forwards = graded.report.expect("published-port-forwards", "fail");
    assert!(forwards.message.contains("each side told when the other has finished"), "{forwards:#?}");
    graded.report.expect("bad-publish-refused", "pass");
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn keeping_the_id_in_the_maps_only_is_caught() {
    let graded = grade_tests("keep-id-still-root", "chapter5", &["keep-id-kept", "keep-id-refused"]);
    let kept = graded.report.expect("keep-id-kept", "fail");
    assert!(kept.message.contains("should be the caller's own"), "{kept:#?}");
    graded.report.expect("keep-id-refused", "pass");
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn an_undone_challenge_fails_nothing() {
    let graded = grade_fixture("challenge-undone", "chapter0", &["--only"]);
    graded.report.expect("env-set-and-cleared", "fail");
    graded.report.expect("env-refused", "fail");
    graded.report.expect("exit-code-relayed", "pass");
    assert!(graded.report.passed, "an undone challenge failed the chapter");
    assert_eq!(graded.code, Some(0), "exit code; stderr:\n{}", graded.stderr);
}

#[test]
#[serial]
fn a_pid_file_with_the_runtimes_own_pid_is_caught() {
    let graded = grade_tests("pidfile-runtime-pid", "chapter2", &["pid-file-written", "pid-file-refused"]);
    let written = graded.report.expect("pid-file-written", "fail");
    assert!(written.message.contains("container's first process (PID 1 inside)"), "{written:#?}");
    graded.report.expect("pid-file-refused", "pass");
}

#[test]
#[serial]
fn a_pid_file_left_behind_is_caught() {
    let graded = grade_tests("pidfile-left-behind", "chapter2", &["pid-file-written"]);
    let written = graded.report.expect("pid-file-written", "fail");
    assert!(written.message.contains("still there after the container ended"), "{written:#?}");
}

// Hooks (chapter 7): one block, kept together at the end of the file.

#[test]
#[serial]
fn hooks_without_the_state_on_stdin_are_caught() {
    let graded =
        grade_chapter7_tests("hooks-state-not-on-stdin", &["hooks-get-the-state", "hooks-order-and-namespaces"]);
    assert_failed(&graded);
    let state = graded.report.expect("hooks-get-the-state", "fail");
    assert!(state.message.contains("stdin is not the container's state"), "{state:#?}");
    graded.report.expect("hooks-order-and-namespaces", "pass");
}

#[test]
#[serial]
fn a_failing_prestart_hook_ignored_is_caught() {
    let graded = grade_chapter7_tests(
        "hooks-prestart-failure-ignored",
        &["hooks-failure-stops-the-container", "hooks-order-and-namespaces"],
    );
    assert_failed(&graded);
    let failure = graded.report.expect("hooks-failure-stops-the-container", "fail");
    assert!(failure.message.contains("a prestart hook that exits 3 should be refused"), "{failure:#?}");
    graded.report.expect("hooks-order-and-namespaces", "pass");
}

#[test]
#[serial]
fn poststop_hooks_never_run_are_caught() {
    let graded = grade_chapter7_tests(
        "hooks-poststop-never-run",
        &["hooks-order-and-namespaces", "hooks-failure-stops-the-container"],
    );
    assert_failed(&graded);
    let order = graded.report.expect("hooks-order-and-namespaces", "fail");
    assert!(order.message.contains("poststop should have run"), "{order:#?}");
    graded.report.expect("hooks-failure-stops-the-container", "pass");
}

#[test]
#[serial]
fn hooks_in_the_wrong_order_are_caught() {
    let graded = grade_chapter7_tests("hooks-wrong-order", &["hooks-order-and-namespaces", "hooks-get-the-state"]);
    assert_failed(&graded);
    let order = graded.report.expect("hooks-order-and-namespaces", "fail");
    assert!(order.message.contains("in this order"), "{order:#?}");
    assert!(order.actual.as_deref().unwrap_or_default().starts_with("createRuntime"), "{order:#?}");
    graded.report.expect("hooks-get-the-state", "pass");
}

#[test]
#[serial]
fn an_existing_empty_cgroup_refused_is_caught() {
    let graded =
        grade_chapter7_tests("existing-cgroup-refused", &["existing-cgroup-taken", "delete-removes-the-cgroup"]);
    assert_failed(&graded);
    let taken = graded.report.expect("existing-cgroup-taken", "fail");
    assert!(taken.message.contains("into an existing, empty cgroup should exit 0"), "{taken:#?}");
    graded.report.expect("delete-removes-the-cgroup", "pass");
}
