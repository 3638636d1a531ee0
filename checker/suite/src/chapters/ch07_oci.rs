//! Chapter 7 — the capstone: an OCI runtime, hardened, that podman drives.
//!
//! Bundles are made here: a busybox rootfs with the probe as `/probe`
//! ([`crate::rootfs`]) and a `config.json` written with serde_json from the
//! runtime specification's fields, never from the runtime under test. From
//! inside, the probe reads `/proc/self/status` (capabilities, no_new_privs,
//! seccomp, ids), tries the calls and paths hardening must refuse
//! (`probe syscalls`, `probe paths`, `probe breakout`), reads its mount
//! table and writes through the config's mounts (`probe mounts`) and
//! reports its namespaces, hostname, environment, working directory, limits,
//! umask and OOM score (one run of these, which the tests that only read
//! it share); from outside, the suite reads the state documents, the
//! container's process in the host's `/proc`, what is left in the state
//! root, the mount table and the test's cgroup, and what podman says.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use contract::{Breakout, Errno, MountsSeen, PathsSeen, Report, Syscalls};
use nix::mount::MsFlags;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ctx::{clip, expect_eq, host_namespace, Ctx, Failure, ProbeCall, Run, ROOTFS_PROBE};
use crate::protocol::Status;
use crate::TestCase;

/// Chapter 7's tests.
pub fn tests() -> Vec<TestCase> {
    let test = TestCase::in_chapter(7);
    vec![
        test(
            "caps-default-set",
            2,
            "root in a container of podman's 14 capabilities has exactly them in CapEff, CapPrm and CapBnd, and nothing in CapInh and CapAmb",
            "the bounding, effective and permitted sets should be the config's, the others empty",
            "ch07-2-capabilities.md#podmans-14",
            caps_default_set,
        ),
        test(
            "caps-match-config",
            3,
            "as uid 1000, each of the five sets in /proc/self/status is the config's own (bounding of 5, the other four of 2, ambient included)",
            "each of the five sets should be exactly what process.capabilities lists for it",
            "ch07-2-capabilities.md#applying-the-five-sets",
            caps_match_config,
        ),
        test(
            "process-user",
            2,
            "the command runs as process.user: uid 1000, gid 1000, supplementary groups exactly 10 and 20",
            "the container's process should take the config's uid, gid and additionalGids, and nothing of root's",
            "ch07-2-capabilities.md#who-the-process-is",
            process_user,
        ),
        test(
            "no-new-privs",
            1,
            "NoNewPrivs is 1 with noNewPrivileges true, and 0 when the config leaves it false",
            "noNewPrivileges should set PR_SET_NO_NEW_PRIVS, and only when asked",
            "ch07-3-seccomp.md#no_new_privs",
            no_new_privs,
        ),
        test(
            "seccomp-profile-enforced",
            3,
            "under the config's profile, Seccomp is 2, keyctl fails with the profile's errnoRet (EOPNOTSUPP) and uname still works; Seccomp is 2 with noNewPrivileges false too",
            "the profile's filters should be loaded for the command itself, with the rules' own errno",
            "ch07-3-seccomp.md#loading-the-filters",
            seccomp_profile_enforced,
        ),
        test(
            "seccomp-default-action",
            2,
            "under a profile that refuses by default (SCMP_ACT_ERRNO, defaultErrnoRet ENOTBLK) and allows a list, keyctl, left out of the list, fails with ENOTBLK and uname works",
            "a call no rule names gets the profile's defaultAction, with its own defaultErrnoRet",
            "ch07-0-capstone.md#what-the-tests-check",
            seccomp_default_action,
        ),
        test(
            "seccomp-early-spares-the-runtime",
            2,
            "with noNewPrivileges false and a profile that refuses getcwd, the container runs under the filter (Seccomp 2, NoNewPrivs 0), in process.cwd /etc, and its own getcwd fails",
            "a filter loaded early (noNewPrivileges false) must not meet the runtime's own last steps: enter process.cwd before it",
            "ch07-3-seccomp.md#early-or-late",
            seccomp_early_spares_the_runtime,
        ),
        test(
            "masked-paths-empty",
            2,
            "the masked paths that have content on the host (/proc/kcore, /proc/timer_list, /sys/firmware, …) read empty inside",
            "each masked path should be covered: /dev/null over a file, an empty read-only tmpfs over a directory",
            "ch07-4-paths.md#masked-paths",
            masked_paths_empty,
        ),
        test(
            "masked-dirs-refuse-writes",
            1,
            "creating a file in a masked directory (/proc/acpi, /sys/firmware, …) fails with EROFS",
            "the tmpfs over a masked directory should be read-only, not only empty",
            "ch07-0-capstone.md#what-the-tests-check",
            masked_dirs_refuse_writes,
        ),
        test(
            "readonly-paths-refuse-writes",
            2,
            "/proc/sys/kernel/domainname and /proc/sysrq-trigger refuse to open for writing with EROFS, while /proc/self/comm can; the read-only mounts (/proc/sys, and /etc and /dev/shm added to the list) are ro,nosuid,nodev,noexec",
            "each read-only path should be a read-only mount of its own, the rest of /proc left writable",
            "ch07-4-paths.md#read-only-paths",
            readonly_paths_refuse_writes,
        ),
        test(
            "namespaces-distinct",
            2,
            "every namespace the config asks for (cgroup, ipc, mnt, net, pid, uts; user with mappings) differs from the host's, and beside a new user namespace a network namespace named by path is joined",
            "each entry of linux.namespaces without a path should be a new namespace of that type",
            "ch07-1-bundle.md#the-bundle",
            namespaces_distinct,
        ),
        test(
            "hostname-from-config",
            1,
            "the hostname inside is the config's hostname",
            "set the config's hostname in the container's new UTS namespace",
            "ch07-0-capstone.md#what-the-tests-check",
            hostname_from_config,
        ),
        test(
            "environment-exact",
            2,
            "the command's environment is exactly process.env: the runtime's own variables, one given it by the suite included, do not reach it",
            "empty the environment, then set each entry of process.env",
            "ch07-0-capstone.md#what-the-tests-check",
            environment_exact,
        ),
        test(
            "cwd-from-config",
            1,
            "the command starts in process.cwd, /etc",
            "enter process.cwd inside the new root, just before exec",
            "ch07-0-capstone.md#what-the-tests-check",
            cwd_from_config,
        ),
        test(
            "rlimits-applied",
            1,
            "RLIMIT_NOFILE and RLIMIT_MSGQUEUE inside are process.rlimits' soft and hard limits",
            "setrlimit each of process.rlimits in the container's process, before exec",
            "ch07-0-capstone.md#what-the-tests-check",
            rlimits_applied,
        ),
        test(
            "umask-applied",
            1,
            "the command's umask is process.user.umask, 0027",
            "set the config's umask in the container's process, before exec",
            "ch07-0-capstone.md#what-the-tests-check",
            umask_applied,
        ),
        test(
            "oom-score-adj-applied",
            1,
            "the command's oom_score_adj is process.oomScoreAdj, 123",
            "write process.oomScoreAdj to /proc/self/oom_score_adj, before exec",
            "ch07-0-capstone.md#what-the-tests-check",
            oom_score_adj_applied,
        ),
        test(
            "lifecycle-and-state",
            3,
            "create → created (the command not run yet), start → running, the command's end → stopped, delete → gone; state's pid is the host pid of the container's process and bundle its absolute path",
            "follow the runtime spec's lifecycle: create stops before the command, start releases it, state tells the status now",
            "ch07-1-bundle.md#the-lifecycle",
            lifecycle_and_state,
        ),
        test(
            "wrong-state-refused",
            2,
            "start twice, delete of a running container without --force and kill of a stopped one exit non-zero and change nothing",
            "check the container's status now before acting, and refuse what the spec forbids in that status",
            "ch07-1-bundle.md#the-lifecycle",
            wrong_state_refused,
        ),
        test(
            "kill-sends-the-signal",
            2,
            "kill 15 reaches a command that traps SIGTERM and lives on; kill 10 then ends it with SIGUSR1",
            "kill sends the signal its command line names to the container's process",
            "ch07-0-capstone.md#what-the-tests-check",
            kill_sends_the_signal,
        ),
        test(
            "delete-removes-the-cgroup",
            2,
            "a container with linux.cgroupsPath has that cgroup after create, and none once delete is done",
            "delete removes the container's cgroup as well as its state",
            "ch07-0-capstone.md#what-the-tests-check",
            delete_removes_the_cgroup,
        ),
        test(
            "existing-cgroup-taken",
            1,
            "linux.cgroupsPath names an empty cgroup made beforehand: create exits 0, the container's process is in it with the config's pids.max; one with a process in it is refused, non-zero, and left as it was",
            "an existing, empty cgroup is the container's, as runc and crun take it (not EEXIST); one in use is not",
            "ch07-1-bundle.md#the-bundle",
            existing_cgroup_taken,
        ),
        test(
            "zombie-is-stopped",
            2,
            "once the container's process has exited but its parent (the suite, as conmon) has not reaped it, state says stopped",
            "a zombie is not running: read the process's state in /proc/PID/stat, not only whether kill(pid, 0) works",
            "ch07-0-capstone.md#what-the-tests-check",
            zombie_is_stopped,
        ),
        test(
            "bad-bundles-refused",
            2,
            "a bundle without config.json, with invalid JSON, an unknown namespace type or a mount destination out of the rootfs exits 125 and leaves no state, mount or process; a good bundle runs",
            "check the whole config before anything is created",
            "ch07-1-bundle.md#bad-bundles",
            bad_bundles_refused,
        ),
        test(
            "oci-version-checked",
            1,
            "ociVersion \"invalid\", \"1.0\", \"2.0.0\" and \"1.9.0\" are refused with 125, no state, process, mount or cgroup left; \"1.0.2-dev\" and \"1.1.0\" run",
            "ociVersion must be SemVer, of a major and minor version of the runtime spec the runtime implements",
            "ch07-1-bundle.md#the-specs-version",
            oci_version_checked,
        ),
        test(
            "sysctl-applied",
            2,
            "net.ipv4.ip_forward, kernel.shmmax, fs.mqueue.msg_max and kernel.domainname read back inside as linux.sysctl's values while the host's stay; net.* without a network namespace, kernel.shmmax without an IPC one and kernel.printk_ratelimit are refused with 125, the host's values untouched",
            "write each namespaced sysctl in the container's new namespaces; refuse one that would change the host, before anything is created",
            "ch07-4-paths.md#sysctls-the-containers-own",
            sysctl_applied,
        ),
        test(
            "hooks-order-and-namespaces",
            3,
            "six recording hooks, one of each kind: prestart, createRuntime and createContainer have run (in that order) once create returns, startContainer (in the container's root) before the command, poststart once start returns, poststop once delete returns; prestart, createRuntime, poststart and poststop in the runtime's mount namespace, createContainer in the container's; each with its args and env",
            "run each hook at its point of the lifecycle, in the namespaces the spec gives it, as execv would (args[0] is the program's name, env is its whole environment)",
            "ch07-1-bundle.md#hooks",
            hooks_order_and_namespaces,
        ),
        test(
            "hooks-get-the-state",
            2,
            "each of the six hooks reads on stdin the container's state: its id, the bundle's absolute path, the config's annotations, the container's host pid, and the status of that point (stopped for poststop)",
            "write the state document, as `state` prints it, to each hook's stdin, then close it",
            "ch07-1-bundle.md#hooks",
            hooks_get_the_state,
        ),
        test(
            "hooks-failure-stops-the-container",
            2,
            "a prestart hook that exits 3, then a createContainer one: create exits non-zero, no later hook or command runs, no state, process or cgroup is left; a startContainer hook that exits 3: start exits non-zero, the command never runs, the container is stopped",
            "a failing prestart, createRuntime, createContainer or startContainer hook is the container's failure: stop there and clean up",
            "ch07-1-bundle.md#hooks",
            hooks_failure_stops_the_container,
        ),
        test(
            "hooks-timeout-kills",
            1,
            "a createRuntime hook that sleeps 600 s with a timeout of 1: create exits non-zero, the hook's process is gone, nothing is created",
            "wait for a hook no longer than its timeout, then kill it and fail",
            "ch07-1-bundle.md#hooks",
            hooks_timeout_kills,
        ),
        test(
            "hooks-post-failures-warn",
            1,
            "run of a command that exits 4, whose first poststart and poststop hooks exit 3: run exits 4, the second poststart and poststop hooks still run, the state is gone, and something is said on stderr",
            "a failing poststart or poststop hook is a warning: the other hooks and the lifecycle go on",
            "ch07-1-bundle.md#hooks",
            hooks_post_failures_warn,
        ),
        test(
            "escapes-blocked",
            3,
            "under the course's default hardening, mknod of the machine's disk and mounting it, mount, opening /proc/sysrq-trigger for writing, ptrace of PID 1, init_module, unshare of a user namespace and opening the runtime's binary through /proc/1/exe all fail, and /sys/firmware is empty",
            "capabilities, seccomp, masked paths and a PID 1 that is not dumpable together must block every one of these",
            "ch07-3-seccomp.md#the-order-of-the-steps",
            escapes_blocked,
        ),
        test(
            "spec-default-hardened",
            2,
            "in a container run from the config `spec` writes (only its command changed), unshare of a user \
             namespace, mount and init_module fail, and /sys/firmware is empty",
            "the config `spec` writes must be as hardened as the book says: the course's seccomp profile among it",
            "ch07-3-seccomp.md#the-courses-default-profile",
            spec_default_hardened,
        ),
        test(
            "runc-and-crun-specs-run",
            1,
            "the configs `runc spec` and `crun spec` write (only the command changed, and no terminal) run, with the \
             ambient capabilities they ask for but cannot have left out, as runc does",
            "a user's first bundle comes from runc spec: its ambient capabilities are not inheritable, so the kernel \
             cannot raise them; leave them out with a warning rather than refuse the config",
            "ch07-2-capabilities.md#the-five-sets",
            runc_and_crun_specs_run,
        ),
        test(
            "host-descriptors-unreachable",
            2,
            "the command holds no descriptor beyond 0, 1 and 2, and a process.cwd of /proc/self/fd/41 (a directory its caller left open) is refused or ends inside the root (runc's CVE-2024-21626)",
            "the runtime's descriptors are open until exec: after entering process.cwd, check it is inside the root",
            "ch07-1-bundle.md#the-exec-fifo",
            host_descriptors_unreachable,
        ),
        test(
            "symlinked-mount-target-stays-inside",
            2,
            "a bind mount whose destination is a symlink to an absolute path lands at that path inside the rootfs, never on the host's",
            "resolve each destination inside the rootfs, symlinks included, before mounting",
            "ch07-1-bundle.md#mount-destinations-stay-inside-the-root",
            symlinked_mount_target_stays_inside,
        ),
        test(
            "mount-options-honoured",
            2,
            "each mount carries exactly the config's options inside: a bind with ro,nosuid,nodev,noexec (writes fail with EROFS), a bind without ro (writable), a tmpfs with nosuid,nodev,noexec,mode=1770,size=2048k; rbind takes the mounts inside its source along, bind does not",
            "a bind mount takes ro, nosuid, nodev and noexec only from a remount of it; a tmpfs takes them in its one mount, with mode= and size= as its data",
            "ch07-1-bundle.md#a-bind-mounts-flags",
            mount_options_honoured,
        ),
        test(
            "delete-waits-for-create",
            2,
            "delete --force started while create is still setting the container up waits for it: create succeeds, then delete removes everything, no process or state left",
            "every command on a container should hold its lock while it works",
            "ch07-1-bundle.md#one-command-at-a-time-the-lock",
            delete_waits_for_create,
        ),
        test(
            "podman-run-exit-code",
            2,
            "podman --runtime RUNTIME run --rm localhost/busybox sh -c 'exit 3' exits 3, and leaves no container",
            "create, start, state, kill and delete as conmon calls them; the container's exit code reaches podman",
            "ch07-5-podman.md#the-contract",
            podman_run_exit_code,
        )
        .run_alone(),
        test(
            "podman-run-tty",
            2,
            "podman run -t: the command's stdin, stdout and stderr are one terminal (a pty of the container's own devpts), /dev/console is that terminal, and its exit code comes back",
            "with process.terminal, make a pty inside the container and send its master through --console-socket",
            "ch07-1-bundle.md#the-console-socket",
            podman_run_tty,
        )
        .run_alone(),
        test(
            "podman-detached-stop-rm",
            2,
            "podman run -d, ps lists it, stop ends it (SIGTERM, then SIGKILL), rm removes it and its process is gone from the host",
            "kill with podman's signal numbers, state that says stopped once the process is gone, delete that cleans up",
            "ch07-5-podman.md#the-contract",
            podman_detached_stop_rm,
        )
        .run_alone(),
        test(
            "podman-exec",
            2,
            "podman exec runs the probe inside a running container: in the PID and mount namespaces of the container's process",
            "exec --process FILE should join every namespace of the container's process",
            "ch07-1-bundle.md#exec-one-more-process",
            podman_exec,
        )
        .run_alone(),
        test(
            "podman-resources",
            2,
            "podman run --memory 64m --pids-limit 20: the container's cgroup on the host has memory.max 67108864 and pids.max 20",
            "linux.resources and linux.cgroupsPath should give the container its cgroup, limits written before it runs",
            "ch07-5-podman.md#one-podman-run-through-your-code",
            podman_resources,
        )
        .run_alone(),
        // The optional challenge: a goal, its tests, no walkthrough.
        test(
            "pause-freezes",
            2,
            "a running container with a linux.cgroupsPath: after `pause`, state says paused, its cgroup reports \
             frozen 1 and its counting loop stops; after `resume`, running, and it counts again; `delete --force` of a \
             paused container leaves no process and no cgroup",
            "challenge: the goal and its rules are in the book; the cgroup v2 freezer is in the kernel's \
             cgroup-v2.rst",
            "ch07-1-bundle.md#challenge-pause-and-resume",
            pause_freezes,
        )
        .as_challenge(),
        test(
            "pause-refused-out-of-turn",
            1,
            "`pause` of a created container, `resume` of a running one and `pause` of one with no cgroup of its own \
             are refused, non-zero, and change nothing",
            "challenge: the goal and its rules are in the book",
            "ch07-1-bundle.md#challenge-pause-and-resume",
            pause_refused_out_of_turn,
        )
        .as_challenge(),
    ]
}

/// The number the counting loop of [`pause_freezes`] last wrote.
fn count_in(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn pause_freezes(ctx: &mut Ctx) -> Result<(), Failure> {
    let [a, b, c, d] = crate::ctx::random_bytes::<4>("a cgroup name")?;
    let name = format!("greenroom-pause-{a:02x}{b:02x}{c:02x}{d:02x}");
    let cgroup = OwnCgroup { dir: Path::new("/sys/fs/cgroup").join(&name) };
    let script = "i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.05; done";
    let mut config = config(&["/bin/sh", "-c", script]);
    config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    let dir = bundle(ctx, "paused", Some(&config))?;
    let count = dir.join("rootfs/count");
    let dir = dir.display().to_string();
    let checked = pause_and_resume(ctx, &dir, &count, &cgroup.dir);
    let deleted = oci(ctx, &["delete", "--force", "paused"]);
    checked?;
    deleted?.expect_code(0, "`delete --force` of a paused container should exit 0")?;
    if cgroup.dir.exists() {
        return Err(Failure::fail("`delete --force` of a paused container left its cgroup")
            .compare("no cgroup", cgroup.dir.display().to_string()));
    }
    Ok(())
}

/// The heart of [`pause_freezes`]: ends with the container paused again.
fn pause_and_resume(ctx: &mut Ctx, dir: &str, count: &Path, cgroup: &Path) -> Result<(), Failure> {
    oci(ctx, &["create", "--bundle", dir, "paused"])?.expect_code(0, "`create` should exit 0")?;
    oci(ctx, &["start", "paused"])?.expect_code(0, "`start` should exit 0")?;
    if !await_file(count, Duration::from_secs(10)) {
        return Err(Failure::fail("after start, the container's counting loop never wrote /count"));
    }
    oci(ctx, &["pause", "paused"])?.expect_code(0, "`pause` of a running container should exit 0")?;
    let events = fs::read_to_string(cgroup.join("cgroup.events")).unwrap_or_default();
    if !events.lines().any(|line| line.trim() == "frozen 1") {
        return Err(Failure::fail(
            "once `pause` has returned, the container's cgroup should report frozen 1 in cgroup.events: return only \
             when the kernel says every process is frozen",
        )
        .compare("frozen 1", clip(&events, 200)));
    }
    expect_eq("the status after pause", "paused", state(ctx, "paused")?.status.as_str())?;
    let before = count_in(count);
    std::thread::sleep(Duration::from_millis(500));
    let after = count_in(count);
    if before != after {
        return Err(Failure::fail("the container's loop went on counting while it was paused")
            .compare(format!("{before:?} for 500 ms"), format!("{before:?}, then {after:?}")));
    }
    oci(ctx, &["resume", "paused"])?.expect_code(0, "`resume` of a paused container should exit 0")?;
    expect_eq("the status after resume", "running", state(ctx, "paused")?.status.as_str())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while count_in(count) == after && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if count_in(count) == after {
        return Err(Failure::fail("after resume, the container's loop did not count again")
            .compare("a number past the paused one", format!("{after:?}")));
    }
    oci(ctx, &["pause", "paused"])?.expect_code(0, "`pause` after a resume should exit 0")?;
    Ok(())
}

fn pause_refused_out_of_turn(ctx: &mut Ctx) -> Result<(), Failure> {
    let [a, b, c, d] = crate::ctx::random_bytes::<4>("a cgroup name")?;
    let name = format!("greenroom-pause-{a:02x}{b:02x}{c:02x}{d:02x}");
    let _cgroup = OwnCgroup { dir: Path::new("/sys/fs/cgroup").join(&name) };
    let mut cgrouped = config(&[ROOTFS_PROBE, contract::plain::TOUCH_AWAIT, "/ran", "/release", "20000"]);
    cgrouped["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    let dir = bundle(ctx, "turns", Some(&cgrouped))?;
    let (marker, release) = (dir.join("rootfs/ran"), dir.join("rootfs/release"));
    let dir = dir.display().to_string();
    oci(ctx, &["create", "--bundle", &dir, "turns"])?.expect_code(0, "`create` should exit 0")?;
    let outcome = (|| {
        refused(&oci(ctx, &["pause", "turns"])?, "`pause` of a created container")?;
        expect_eq("the status after a refused pause", "created", state(ctx, "turns")?.status.as_str())?;
        oci(ctx, &["start", "turns"])?.expect_code(0, "`start` should exit 0")?;
        if !await_file(&marker, Duration::from_secs(10)) {
            return Err(Failure::fail("after start, the container's command never ran"));
        }
        refused(&oci(ctx, &["resume", "turns"])?, "`resume` of a running container")?;
        expect_eq("the status after a refused resume", "running", state(ctx, "turns")?.status.as_str())
    })();
    let _ = write(&release, "");
    let _ = oci(ctx, &["delete", "--force", "turns"]);
    outcome?;
    // No cgroup of its own: nothing to freeze but the runtime's neighbours.
    let plain = bundle(
        ctx,
        "uncgrouped",
        Some(&config(&[ROOTFS_PROBE, contract::plain::TOUCH_AWAIT, "/ran", "/release", "20000"])),
    )?;
    let (marker, release) = (plain.join("rootfs/ran"), plain.join("rootfs/release"));
    let plain = plain.display().to_string();
    oci(ctx, &["create", "--bundle", &plain, "uncgrouped"])?.expect_code(0, "`create` should exit 0")?;
    let outcome = (|| {
        oci(ctx, &["start", "uncgrouped"])?.expect_code(0, "`start` should exit 0")?;
        if !await_file(&marker, Duration::from_secs(10)) {
            return Err(Failure::fail("after start, the container's command never ran"));
        }
        refused(&oci(ctx, &["pause", "uncgrouped"])?, "`pause` of a container without a linux.cgroupsPath")?;
        expect_eq("the status after a refused pause", "running", state(ctx, "uncgrouped")?.status.as_str())
    })();
    let _ = write(&release, "");
    let _ = oci(ctx, &["delete", "--force", "uncgrouped"]);
    outcome
}

// ---------------------------------------------------------------------------
// Bundles

/// Capability bits, as `/proc/self/status` numbers them.
const CAPS: [(&str, u32); 14] = [
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_RAW", 13),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_MKNOD", 27),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_SETFCAP", 31),
];

/// podman's default capabilities: every name of [`CAPS`].
fn default_caps() -> Vec<&'static str> {
    CAPS.iter().map(|(name, _)| *name).collect()
}

/// The mask of capability `names`, as `/proc/self/status` shows a set.
fn mask(names: &[&str]) -> u64 {
    names.iter().filter_map(|name| CAPS.iter().find(|(n, _)| n == name)).fold(0, |m, (_, bit)| m | 1 << bit)
}

/// podman's masked paths.
const MASKED: [&str; 11] = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

/// podman's read-only paths.
const READ_ONLY: [&str; 6] = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// The errno the suite's profile gives keyctl: one no kernel path of
/// keyctl(KEYCTL_GET_KEYRING_ID) returns, so only the filter can give it.
const KEYCTL_ERRNO: Errno = Errno::EOPNOTSUPP;

/// A seccomp rule refusing `names` with `errno`, when `args` hold.
fn errno_rule(names: &[&str], errno: i32, args: Value) -> Value {
    json!({"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": errno, "args": args})
}

/// The course's default profile, as far as these tests need it: ALLOW by
/// default; the calls that load code into the kernel, mount, make or join
/// namespaces, trace other processes or reach the kernel's keyrings fail;
/// so do `clone` with a namespace flag and `mknod` of a block device.
fn default_profile() -> Value {
    let blocked = [
        "init_module",
        "finit_module",
        "delete_module",
        "kexec_load",
        "kexec_file_load",
        "bpf",
        "mount",
        "umount2",
        "pivot_root",
        "unshare",
        "setns",
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "open_by_handle_at",
    ];
    let mut rules = vec![
        errno_rule(&["keyctl", "add_key", "request_key"], KEYCTL_ERRNO.0, Value::Null),
        errno_rule(&blocked, 1, Value::Null),
    ];
    // CLONE_NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP.
    for flag in [0x0002_0000u64, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000, 0x0200_0000] {
        let arg = json!([{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": flag, "valueTwo": flag}]);
        rules.push(errno_rule(&["clone"], 1, arg));
    }
    rules.push(errno_rule(&["clone3"], 38, Value::Null));
    // S_IFMT and S_IFBLK: the mode argument of mknod (1) and mknodat (2).
    for (name, index) in [("mknod", 1), ("mknodat", 2)] {
        let arg = json!([{"index": index, "op": "SCMP_CMP_MASKED_EQ", "value": 0o170000, "valueTwo": 0o060000}]);
        rules.push(errno_rule(&[name], 1, arg));
    }
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [native_seccomp_arch()], "syscalls": rules})
}

/// The OCI name of the architecture the suite (and so the guest) runs:
/// a profile names the architectures its filter is for.
fn native_seccomp_arch() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else {
        "SCMP_ARCH_X86_64"
    }
}

/// A config.json running `args` in `rootfs`, hardened as podman's default:
/// root, the 14 capabilities, no_new_privs, the course's seccomp profile,
/// masked and read-only paths, and every namespace but user.
fn config(args: &[&str]) -> Value {
    let caps = default_caps();
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "greenroom",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "noNewPrivileges": true,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": MASKED,
            "readonlyPaths": READ_ONLY,
            "seccomp": default_profile(),
        },
    })
}

/// Writes a bundle in the scratch directory, `NAME/rootfs` (busybox and the
/// probe) and `NAME/config.json` (`config`, or the raw `text`), and
/// returns its path.
fn bundle(ctx: &Ctx, name: &str, config: Option<&Value>) -> Result<PathBuf, Failure> {
    let dir = ctx.scratch.join(name);
    ctx.rootfs_at(&dir.join("rootfs"))?;
    if let Some(config) = config {
        let text = serde_json::to_string_pretty(config).map_err(|e| Failure::error(format!("encode config: {e}")))?;
        write(&dir.join("config.json"), &text)?;
    }
    Ok(dir)
}

/// Appends `item` to the JSON array `list` (the configs here always have one).
fn push(list: &mut Value, item: Value) {
    if let Some(list) = list.as_array_mut() {
        list.push(item);
    }
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    fs::write(path, text).map_err(|e| Failure::error(format!("write {}: {e}", path.display())))
}

/// The state root of this test: given to every command with `--root`.
fn state_root(ctx: &Ctx) -> PathBuf {
    ctx.scratch.join("state")
}

/// `RUNTIME --root STATE ARGS…`, in the test's session cgroup (a created
/// container outlives the command).
fn oci(ctx: &mut Ctx, args: &[&str]) -> Result<Run, Failure> {
    let root = state_root(ctx).display().to_string();
    let mut all = vec!["--root", root.as_str()];
    all.extend_from_slice(args);
    let runtime = ctx.runtime.clone();
    ctx.keep_run(&runtime, &all)
}

/// [`oci`] with `env` added to the runtime's environment.
fn oci_with_env(ctx: &mut Ctx, args: &[&str], env: &[(&str, &str)]) -> Result<Run, Failure> {
    let root = state_root(ctx).display().to_string();
    let mut all = vec!["--root", root.as_str()];
    all.extend_from_slice(args);
    let runtime = ctx.runtime.clone();
    ctx.keep_spawn(&runtime, &all, env)?.wait()
}

/// `run --bundle DIR ID` with the probe answering `call`.
fn ask<T: contract::Document>(ctx: &mut Ctx, name: &str, mut config: Value, call: &ProbeCall<T>) -> Result<T, Failure> {
    config["process"]["args"] = json!(call.command());
    let dir = bundle(ctx, name, Some(&config))?;
    let dir = dir.display().to_string();
    let run = oci(ctx, &["run", "--bundle", &dir, name])?;
    call.read(&run)
}

/// `probe report` in a container of `config`.
fn report(ctx: &mut Ctx, name: &str, config: Value) -> Result<Report, Failure> {
    let call = ProbeCall::<Report>::new(ROOTFS_PROBE, &[])?;
    ask(ctx, name, config, &call)
}

/// `probe report` from the most isolated container a bundle can ask for
/// (the isolation matrix's, see [`crate::isolation`]): the default config,
/// plus a user namespace with mappings, a cgroup with limits and its
/// cgroup2 mounted read-only.
pub fn isolated_report(ctx: &mut Ctx) -> Result<Report, Failure> {
    let mut config = config(&[]);
    push(&mut config["linux"]["namespaces"], json!({"type": "user"}));
    config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    config["linux"]["cgroupsPath"] = json!("/greenroom-isolation-matrix");
    config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 64}});
    push(
        &mut config["mounts"],
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    );
    report(ctx, "isolation-matrix", config)
}

// ---------------------------------------------------------------------------
// Hardening, from inside

fn caps_default_set(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    let caps = report.security.capabilities.ok_or_else(|| Failure::fail("the probe could not read CapEff and co."))?;
    let want = mask(&default_caps());
    let seen = |set: u64| format!("{set:016x}");
    for (name, value, expected) in [
        ("CapBnd (bounding)", caps.bounding, want),
        ("CapPrm (permitted)", caps.permitted, want),
        ("CapEff (effective)", caps.effective, want),
        ("CapInh (inheritable)", caps.inheritable, 0),
        ("CapAmb (ambient)", caps.ambient, 0),
    ] {
        if value != expected {
            return Err(Failure::fail(format!(
                "{name} is not the config's{}",
                if value & !expected != 0 { ": capabilities the config does not list are still there" } else { "" }
            ))
            .compare(seen(expected), seen(value)));
        }
    }
    Ok(())
}

fn caps_match_config(ctx: &mut Ctx) -> Result<(), Failure> {
    let bounding = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_AUDIT_WRITE"];
    let kept = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let mut config = config(&[]);
    config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    config["process"]["capabilities"] = json!({
        "bounding": bounding, "effective": kept, "permitted": kept, "inheritable": kept, "ambient": kept,
    });
    let report = report(ctx, "caps-config", config)?;
    let caps = report.security.capabilities.ok_or_else(|| Failure::fail("the probe could not read CapEff and co."))?;
    let seen = |set: u64| format!("{set:016x}");
    // Ambient before permitted and effective: as uid 1000, what execve
    // leaves in those two is the ambient set, so an ambient set never
    // raised empties them too, and it is the one to name.
    for (name, value, expected) in [
        ("CapBnd (bounding)", caps.bounding, mask(&bounding)),
        ("CapInh (inheritable)", caps.inheritable, mask(&kept)),
        ("CapAmb (ambient)", caps.ambient, mask(&kept)),
        ("CapPrm (permitted)", caps.permitted, mask(&kept)),
        ("CapEff (effective)", caps.effective, mask(&kept)),
    ] {
        if value != expected {
            let hint = if name.starts_with("CapAmb") && value == 0 {
                ": the ambient set is empty — as uid 1000, a capability survives execve only if it is ambient \
                 (so CapPrm and CapEff are empty after exec too); raise each one with PR_CAP_AMBIENT_RAISE, last, \
                 once it is permitted and inheritable"
            } else if name.starts_with("CapAmb") || name.starts_with("CapInh") {
                ": as uid 1000, a capability survives execve only if it is ambient, and it can be ambient only \
                 if it is permitted and inheritable — raise the ambient set last"
            } else {
                ""
            };
            return Err(Failure::fail(format!("{name} is not the config's{hint}")).compare(seen(expected), seen(value)));
        }
    }
    Ok(())
}

fn process_user(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut config = config(&[]);
    config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
    let report = report(ctx, "user", config)?;
    expect_eq("the command's uid (process.user.uid)", Some(1000), report.users.uid)?;
    expect_eq("the command's gid (process.user.gid)", Some(1000), report.users.gid)?;
    let mut groups = report.users.groups.unwrap_or_default();
    groups.sort();
    expect_eq(
        "the supplementary groups should be exactly additionalGids (root's groups must not leak in)",
        vec![10, 20],
        groups,
    )
}

fn no_new_privs(ctx: &mut Ctx) -> Result<(), Failure> {
    let on = stage_report(ctx)?;
    expect_eq("NoNewPrivs with noNewPrivileges: true", Some(true), on.security.no_new_privs)?;
    let mut off = config(&[]);
    off["process"]["noNewPrivileges"] = json!(false);
    off["linux"]
        .as_object_mut()
        .map(|linux| linux.remove("seccomp"))
        .ok_or_else(|| Failure::error("the config has no linux section"))?;
    let off = report(ctx, "nnp-off", off)?;
    expect_eq("NoNewPrivs with noNewPrivileges: false (set it only when asked)", Some(false), off.security.no_new_privs)
}

fn seccomp_profile_enforced(ctx: &mut Ctx) -> Result<(), Failure> {
    let status = stage_report(ctx)?;
    expect_eq(
        "Seccomp in /proc/self/status: the filter must be on the command itself (loaded in the container's process \
         before exec, not in the parent or after)",
        Some(contract::Seccomp::Filter),
        status.security.seccomp,
    )?;
    let call = ProbeCall::<Syscalls>::new(ROOTFS_PROBE, &[])?;
    let calls = ask(ctx, "seccomp-calls", config(&[]), &call)?;
    if calls.keyctl != Some(KEYCTL_ERRNO) {
        return Err(Failure::fail(
            "keyctl should fail with the errno of the profile's rule (errnoRet 95, EOPNOTSUPP): the rule's own \
             errnoRet goes into the filter's SECCOMP_RET_ERRNO",
        )
        .compare(KEYCTL_ERRNO.to_string(), calls.keyctl.map_or("it worked".into(), |e| e.to_string())));
    }
    if let Some(errno) = calls.uname {
        return Err(
            Failure::fail("uname, which the profile allows, should work").compare("it works", errno.to_string())
        );
    }
    // The profile holds without no_new_privs too.
    let mut without = config(&[]);
    without["process"]["noNewPrivileges"] = json!(false);
    let without = report(ctx, "seccomp-without-nnp", without)?;
    expect_eq(
        "Seccomp in /proc/self/status with noNewPrivileges false: the profile must be loaded all the same — without \
         no_new_privs, while the runtime still has CAP_SYS_ADMIN (before the capabilities are dropped)",
        Some(contract::Seccomp::Filter),
        without.security.seccomp,
    )
}

fn seccomp_early_spares_the_runtime(ctx: &mut Ctx) -> Result<(), Failure> {
    // runtime-tools' linux_seccomp: noNewPrivileges false, so the filter
    // goes in early, and a profile that refuses getcwd.
    let mut config = config(&[]);
    config["process"]["noNewPrivileges"] = json!(false);
    config["process"]["cwd"] = json!("/etc");
    push(&mut config["linux"]["seccomp"]["syscalls"], errno_rule(&["getcwd"], 1, Value::Null));
    let call = ProbeCall::<Report>::new(ROOTFS_PROBE, &[])?;
    config["process"]["args"] = json!(call.command());
    let dir = bundle(ctx, "seccomp-early", Some(&config))?;
    let run = oci(ctx, &["run", "--bundle", &dir.display().to_string(), "seccomp-early"])?;
    if run.code != Some(0) {
        return Err(Failure::fail(
            "with noNewPrivileges false and a profile that refuses getcwd, the container should run: after an early \
             filter the runtime itself may make only the calls every profile allows (enter process.cwd before it)",
        )
        .compare("exit code 0", run.describe()));
    }
    let report = call.read(&run)?;
    expect_eq(
        "Seccomp in /proc/self/status: the filter loaded early must stay on the command",
        Some(contract::Seccomp::Filter),
        report.security.seccomp,
    )?;
    expect_eq("NoNewPrivs with noNewPrivileges: false", Some(false), report.security.no_new_privs)?;
    expect_eq(
        "the command's working directory, as /proc/self/cwd names it, should be process.cwd",
        Some("/etc"),
        report.inherited.cwd_link.as_deref(),
    )?;
    expect_eq("the command's own getcwd should fail: the profile refuses it", None, report.process.cwd.as_deref())
}

/// The errno of the allow-list profile's default: ENOTBLK, which no path
/// of keyctl returns, so only the filter's default can give it.
const DEFAULT_ERRNO: Errno = Errno(15);

/// Every x86_64 system call but keyctl, add_key and request_key (the
/// `syscalls` crate's table, as Linux 6.x numbers them): what a profile
/// whose default refuses must allow for the runtime's init and the probe.
const ALLOWED_CALLS: &str = "\
read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask \
rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield mremap msync mincore madvise \
shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer getpid sendfile socket connect accept \
sendto recvfrom sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt \
clone fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl \
flock fsync fdatasync truncate ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink \
symlink readlink chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo times ptrace \
getuid syslog getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups \
setgroups setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid capget capset \
rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime mknod uselib personality ustat \
statfs fstatfs sysfs getpriority setpriority sched_setparam sched_getparam sched_setscheduler \
sched_getscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock munlock mlockall \
munlockall vhangup modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct \
settimeofday mount umount2 swapon swapoff reboot sethostname setdomainname iopl ioperm create_module \
init_module delete_module get_kernel_syms query_module quotactl nfsservctl getpmsg putpmsg afs_syscall \
tuxcall security gettid readahead setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr \
llistxattr flistxattr removexattr lremovexattr fremovexattr tkill time futex sched_setaffinity \
sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit io_cancel get_thread_area \
lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old remap_file_pages getdents64 set_tid_address \
restart_syscall semtimedop fadvise64 timer_create timer_settime timer_gettime timer_getoverrun timer_delete \
clock_settime clock_gettime clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes \
vserver mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify \
mq_getsetattr kexec_load waitid ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch \
migrate_pages openat mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat symlinkat \
readlinkat fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee \
sync_file_range vmsplice move_pages utimensat epoll_pwait signalfd timerfd_create eventfd fallocate \
timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv \
pwritev rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at \
open_by_handle_at clock_adjtime syncfs sendmmsg setns getcpu process_vm_readv process_vm_writev kcmp \
finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create kexec_file_load bpf \
execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free \
statx io_pgetevents rseq uretprobe uprobe pidfd_send_signal io_uring_setup io_uring_enter io_uring_register \
open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd \
faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd landlock_create_ruleset landlock_add_rule \
landlock_restrict_self memfd_secret process_mrelease futex_waitv set_mempolicy_home_node cachestat fchmodat2 \
map_shadow_stack futex_wake futex_wait futex_requeue statmount listmount lsm_get_self_attr lsm_set_self_attr \
lsm_list_modules mseal setxattrat getxattrat listxattrat removexattrat open_tree_attr file_getattr \
file_setattr";

/// A profile that refuses by default (SCMP_ACT_ERRNO with defaultErrnoRet
/// ENOTBLK) and allows a list, as Docker's and podman's own do.
fn allow_list_profile() -> Value {
    let names: Vec<&str> = ALLOWED_CALLS.split_whitespace().collect();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": DEFAULT_ERRNO.0,
        "architectures": [native_seccomp_arch()],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    })
}

fn seccomp_default_action(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut config = config(&[]);
    config["linux"]["seccomp"] = allow_list_profile();
    let call = ProbeCall::<Syscalls>::new(ROOTFS_PROBE, &[])?;
    let calls = ask(ctx, "seccomp-allow-list", config, &call)?;
    match calls.keyctl {
        Some(errno) if errno == DEFAULT_ERRNO => {}
        Some(Errno::EPERM) => {
            return Err(Failure::fail(
                "keyctl, which the allow list leaves out, should fail with the profile's defaultErrnoRet (15, \
                 ENOTBLK): the default action carries its own errno (EPERM only when the profile gives none)",
            )
            .compare(DEFAULT_ERRNO.to_string(), Errno::EPERM.to_string()))
        }
        other => {
            return Err(Failure::fail(
                "keyctl, which the allow list leaves out, reached the kernel: a call no rule names gets the \
                 profile's defaultAction (here SCMP_ACT_ERRNO), not ALLOW",
            )
            .compare(
                format!("fails with {DEFAULT_ERRNO}"),
                other.map_or("it worked".to_string(), |errno| format!("the kernel's own answer, {errno}")),
            ))
        }
    }
    match calls.uname {
        None => Ok(()),
        Some(errno) => Err(Failure::fail("uname, which the profile's allow list names, should work")
            .compare("it works", errno.to_string())),
    }
}

/// How `path` looks on the host: bytes read from a file, entries of a
/// directory; `None` when it is missing or unreadable.
fn host_size(path: &str) -> Option<u64> {
    let meta = fs::metadata(path).ok()?;
    if meta.is_dir() {
        return Some(fs::read_dir(path).ok()?.count() as u64);
    }
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(path).ok()?.take(64 << 10).read_to_end(&mut bytes).ok()?;
    Some(bytes.len() as u64)
}

fn masked_paths_empty(ctx: &mut Ctx) -> Result<(), Failure> {
    let (with_content, seen) = masked_seen(ctx)?;
    for path in &seen.paths {
        if path.size != Some(0) {
            return Err(Failure::fail(format!(
                "{} (in linux.maskedPaths) should read empty inside: it has content on the host (mask the \
                 container's own /proc and /sys, after pivot_root and the config's mounts: a mask made before \
                 covers what the container no longer sees)",
                path.path
            ))
            .compare(
                "0 bytes or entries",
                match (path.size, path.read_errno) {
                    (Some(size), _) => format!("{size} bytes or entries"),
                    (None, Some(errno)) => format!("unreadable: {errno} (masking hides, it does not forbid)"),
                    (None, None) => "nothing known".into(),
                },
            ));
        }
    }
    expect_eq("the probe's answer covers every path asked", with_content.len(), seen.paths.len())
}

/// `probe paths` over the masked paths that have content on the host, in
/// the default container: one run, shared by the two tests that read it.
fn masked_seen(ctx: &mut Ctx) -> Result<(Vec<&'static str>, PathsSeen), Failure> {
    let with_content: Vec<&'static str> =
        MASKED.iter().copied().filter(|path| host_size(path).unwrap_or(0) > 0).collect();
    if with_content.is_empty() {
        return Err(Failure::error("none of the masked paths has content on this machine: nothing to compare"));
    }
    let seen = ctx.shared("ch07-masked-paths", |ctx| {
        let call = ProbeCall::<PathsSeen>::new(ROOTFS_PROBE, &with_content)?;
        ask(ctx, "masked", config(&[]), &call)
    })?;
    Ok((with_content, seen))
}

fn masked_dirs_refuse_writes(ctx: &mut Ctx) -> Result<(), Failure> {
    let (_, seen) = masked_seen(ctx)?;
    let dirs: Vec<_> = seen.paths.iter().filter_map(|path| Some((path, path.created_inside.as_ref()?))).collect();
    if dirs.is_empty() {
        return Err(Failure::fail(
            "none of the masked directories is a directory inside: each should be covered by an empty, read-only \
             tmpfs",
        ));
    }
    for (path, created) in dirs {
        match created.errno {
            Some(Errno::EROFS) => {}
            None => {
                return Err(Failure::fail(format!(
                    "a file could be created in {} (in linux.maskedPaths): the tmpfs over a masked directory must \
                     be read-only (mount it with MS_RDONLY), or the container can put what it likes there",
                    path.path
                ))
                .compare(format!("{}: EROFS", created.path), "created"))
            }
            Some(errno) => {
                return Err(Failure::fail(format!(
                    "creating a file in {} (in linux.maskedPaths) should fail with EROFS: a read-only tmpfs covers a \
                     masked directory",
                    path.path
                ))
                .compare(Errno::EROFS.to_string(), errno.to_string()))
            }
        }
    }
    Ok(())
}

fn readonly_paths_refuse_writes(ctx: &mut Ctx) -> Result<(), Failure> {
    let paths = ["/proc/sys/kernel/domainname", "/proc/sysrq-trigger", "/proc/self/comm"];
    let call = ProbeCall::<PathsSeen>::new(ROOTFS_PROBE, &paths)?;
    let seen = ask(ctx, "readonly", config(&[]), &call)?;
    let errno = |i: usize| seen.paths.get(i).and_then(|p| p.write_errno);
    let show = |e: Option<Errno>| e.map_or("opened for writing".to_string(), |e| e.to_string());
    for (i, path) in paths[..2].iter().enumerate() {
        if errno(i) != Some(Errno::EROFS) {
            return Err(Failure::fail(format!(
                "{path} is under linux.readonlyPaths: opening it for writing should fail with EROFS (bind it onto \
                 itself, then remount that bind read-only)"
            ))
            .compare(Errno::EROFS.to_string(), show(errno(i))));
        }
    }
    if errno(2).is_some() {
        return Err(Failure::fail(
            "/proc/self/comm is in no list: it should stay writable (make each listed path read-only, not all of /proc)",
        )
        .compare("opened for writing", show(errno(2))));
    }
    // The read-only mounts' flags: ro, with SAFE added to the flags each
    // already had. Listed here too: /etc, on the root file system, whose
    // mount has none of nosuid, nodev, noexec; /dev/shm, whose mount has
    // all three already.
    let mut with_etc = config(&[]);
    push(&mut with_etc["linux"]["readonlyPaths"], json!("/etc"));
    push(&mut with_etc["linux"]["readonlyPaths"], json!("/dev/shm"));
    let call = ProbeCall::<MountsSeen>::new(ROOTFS_PROBE, &[])?;
    let seen = ask(ctx, "readonly-flags", with_etc, &call)?;
    let mountinfo = seen.mountinfo.ok_or_else(|| Failure::fail("the probe could not read its mount table"))?;
    let mounts: Vec<_> = mountinfo.iter().filter_map(|line| crate::mountinfo::parse_line(line)).collect();
    for point in ["/proc/sys", "/etc", "/dev/shm"] {
        // The last mount on a point is the one in use.
        let Some(mount) = mounts.iter().rev().find(|m| m.point == point) else {
            return Err(Failure::fail(format!(
                "{point} is under linux.readonlyPaths, yet it has no mount of its own: bind it onto itself first"
            )));
        };
        let flags: Vec<&str> = mount.options.split(',').collect();
        let missing: Vec<&str> =
            ["ro", "nosuid", "nodev", "noexec"].into_iter().filter(|f| !flags.contains(f)).collect();
        if !missing.is_empty() {
            return Err(Failure::fail(format!(
                "{point} is under linux.readonlyPaths: its mount lacks {}; the remount sets every flag anew, so it \
                 takes MS_RDONLY, SAFE (nosuid, nodev, noexec) and the flags the mount already has, all together",
                missing.join(", ")
            ))
            .compare("ro,nosuid,nodev,noexec", mount.options));
        }
    }
    Ok(())
}

fn namespaces_distinct(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    let ns = &report.namespaces;
    let kinds = [
        ("cgroup", &ns.cgroup),
        ("ipc", &ns.ipc),
        ("mnt", &ns.mnt),
        ("net", &ns.net),
        ("pid", &ns.pid),
        ("uts", &ns.uts),
    ];
    for (kind, inside) in kinds {
        let host = host_namespace(kind)?;
        if inside.as_deref() == Some(host.as_str()) || inside.is_none() {
            return Err(Failure::fail(format!(
                "the config asks for a new {kind} namespace: the command is in {}",
                if inside.is_none() { "none the probe can read" } else { "the host's" }
            ))
            .compare(format!("not {host}"), inside.clone().unwrap_or_default()));
        }
    }
    // A new user namespace beside a network namespace to join by path, as
    // podman gives with --uidmap: a namespace the host's user namespace
    // owns, held here by a sleeping process of the suite's.
    let held = HeldNetwork::start(ctx)?;
    let mut mapped = config(&[]);
    push(&mut mapped["linux"]["namespaces"], json!({"type": "user"}));
    for namespace in mapped["linux"]["namespaces"].as_array_mut().into_iter().flatten() {
        if namespace["type"] == "network" {
            namespace["path"] = json!(held.path());
        }
    }
    mapped["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    mapped["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // The same config but for these two ran above: a failure now is theirs.
    let user = self::report(ctx, "namespaces-user", mapped).map_err(|mut failure| {
        if failure.status == Status::Fail {
            failure.message = format!(
                "with a new user namespace and a network namespace named by path, the container did not start \
                 ({}): join the namespaces named by path before the user namespace exists — root of a new user \
                 namespace may not join one the host's owns",
                failure.message
            );
        }
        failure
    })?;
    let host = host_namespace("user")?;
    if user.namespaces.user.as_deref() == Some(host.as_str()) || user.namespaces.user.is_none() {
        return Err(Failure::fail("with a user namespace and mappings in the config, the command is in the host's")
            .compare(format!("not {host}"), user.namespaces.user.unwrap_or_default()));
    }
    let joined = held.namespace()?;
    if user.namespaces.net.as_deref() != Some(joined.as_str()) {
        return Err(Failure::fail(
            "with a new user namespace, the network namespace the config names by path is not the command's: \
             join it before the user namespace exists (root of a new user namespace may not join one the \
             host's owns)",
        )
        .compare(joined, user.namespaces.net.unwrap_or_default()));
    }
    let want = vec![contract::IdRange { inside: 0, outside: 100000, count: 65536 }];
    expect_eq("the user namespace's uid_map (linux.uidMappings)", Some(want), user.users.uid_map)
}

/// A probe of the suite's sleeping in a network namespace of its own,
/// for a config to join by `/proc/PID/ns/net`; killed when dropped.
struct HeldNetwork {
    child: std::process::Child,
}

impl HeldNetwork {
    fn start(ctx: &Ctx) -> Result<HeldNetwork, Failure> {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(ctx.probe());
        command.args(["sleep", "120000"]);
        // SAFETY: the closure runs between fork and exec and makes one
        // system call, unshare, which is async-signal-safe.
        unsafe {
            command
                .pre_exec(|| nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from));
        }
        let child =
            command.spawn().map_err(|e| Failure::error(format!("start a probe in a network namespace: {e}")))?;
        // spawn returns once exec succeeded, so after the unshare.
        let held = HeldNetwork { child };
        if held.namespace()? == host_namespace("net")? {
            return Err(Failure::error("the probe held for its network namespace is still in the suite's"));
        }
        Ok(held)
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.child.id())
    }

    fn namespace(&self) -> Result<String, Failure> {
        fs::read_link(self.path())
            .map(|link| link.display().to_string())
            .map_err(|e| Failure::error(format!("read {}: {e}", self.path())))
    }
}

impl Drop for HeldNetwork {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// The process's settings, from inside

/// The settings of the shared container: each unlike what a runtime that
/// ignores it gives (the host's hostname, `/`, the runtime's own limits,
/// umask 022, OOM score 0).
const STAGE_HOSTNAME: &str = "footlights";
/// process.cwd: a folder of the rootfs other than `/`.
const STAGE_CWD: &str = "/etc";
/// process.env.
const STAGE_ENV: [&str; 3] = ["PATH=/bin", "TERM=xterm", "GREENROOM_ROLE=understudy"];
/// In the runtime's own environment only (the suite starts it with this):
/// none of it may reach the container.
const RUNTIME_ONLY: (&str, &str) = ("GREENROOM_RUNTIME_ONLY", "backstage");
/// process.rlimits: type, soft, hard; below any default.
const STAGE_RLIMITS: [(&str, u64, u64); 2] = [("RLIMIT_NOFILE", 321, 654), ("RLIMIT_MSGQUEUE", 40960, 81920)];
/// process.user.umask.
const STAGE_UMASK: u32 = 0o027;
/// process.oomScoreAdj.
const STAGE_OOM_SCORE_ADJ: i32 = 123;

/// The default config with every setting of the process given.
fn stage_config() -> Value {
    let mut config = config(&[]);
    config["hostname"] = json!(STAGE_HOSTNAME);
    config["process"]["cwd"] = json!(STAGE_CWD);
    config["process"]["env"] = json!(STAGE_ENV);
    config["process"]["rlimits"] =
        STAGE_RLIMITS.iter().map(|(kind, soft, hard)| json!({"type": kind, "soft": soft, "hard": hard})).collect();
    config["process"]["user"]["umask"] = json!(STAGE_UMASK);
    config["process"]["oomScoreAdj"] = json!(STAGE_OOM_SCORE_ADJ);
    config
}

/// `probe report` from the container of [`stage_config`], run with
/// [`RUNTIME_ONLY`] in the runtime's environment: one run, which the tests
/// that only read it share.
fn stage_report(ctx: &mut Ctx) -> Result<Report, Failure> {
    ctx.shared("ch07-stage-report", |ctx| {
        let call = ProbeCall::<Report>::new(ROOTFS_PROBE, &[])?;
        let mut config = stage_config();
        config["process"]["args"] = json!(call.command());
        let dir = bundle(ctx, "stage", Some(&config))?.display().to_string();
        let run = oci_with_env(ctx, &["run", "--bundle", &dir, "stage"], &[RUNTIME_ONLY])?;
        call.read(&run)
    })
}

fn hostname_from_config(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    expect_eq(
        "the hostname inside should be the config's `hostname` (set it in the container's new UTS namespace)",
        Some(STAGE_HOSTNAME),
        report.hostname.as_deref(),
    )
}

fn environment_exact(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    let env = &report.process.env;
    let seen = || format!("{env:?}");
    if let Some(value) = env.get(RUNTIME_ONLY.0) {
        return Err(Failure::fail(format!(
            "{}={value}, from the runtime's own environment, reached the container: the command's environment \
             must be exactly process.env (empty it first, then set each entry)",
            RUNTIME_ONLY.0
        ))
        .compare(format!("{STAGE_ENV:?}"), seen()));
    }
    for entry in STAGE_ENV {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        if env.get(name).map(String::as_str) != Some(value) {
            return Err(Failure::fail(format!(
                "process.env's {entry} is not in the command's environment: set every entry of process.env"
            ))
            .compare(format!("{STAGE_ENV:?}"), seen()));
        }
    }
    // HOME: runc and crun add it when process.env has none.
    let listed = |name: &String| STAGE_ENV.iter().any(|entry| entry.split_once('=').is_some_and(|(n, _)| n == name));
    let extra: Vec<&String> = env.keys().filter(|name| !listed(name) && *name != "HOME").collect();
    if !extra.is_empty() {
        return Err(Failure::fail(format!(
            "the command's environment has variables process.env does not list ({extra:?}): they are the \
             runtime's own, which must not reach the container"
        ))
        .compare(format!("{STAGE_ENV:?}"), seen()));
    }
    Ok(())
}

fn cwd_from_config(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    expect_eq(
        "the command's working directory should be process.cwd (enter it inside the new root, just before exec)",
        Some(STAGE_CWD),
        report.process.cwd.as_deref(),
    )
}

fn rlimits_applied(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    let rlimits = report.limits.rlimits.ok_or_else(|| Failure::fail("the probe could not read /proc/self/limits"))?;
    let show = |limit: Option<u64>| limit.map_or("unlimited".to_string(), |n| n.to_string());
    for (kind, soft, hard) in STAGE_RLIMITS {
        let seen = rlimits.get(kind).copied();
        if seen != Some(contract::Rlimit { soft: Some(soft), hard: Some(hard) }) {
            return Err(Failure::fail(format!(
                "{kind} in the container should be process.rlimits' (setrlimit in the container's process before \
                 exec, while it may still raise a hard limit)"
            ))
            .compare(
                format!("soft {soft}, hard {hard}"),
                seen.map_or("not read".to_string(), |l| format!("soft {}, hard {}", show(l.soft), show(l.hard))),
            ));
        }
    }
    Ok(())
}

fn umask_applied(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    let show = |mask: Option<u32>| mask.map_or("not read".to_string(), |mask| format!("{mask:04o}"));
    if report.limits.umask != Some(STAGE_UMASK) {
        return Err(Failure::fail(
            "the command's umask should be process.user.umask (set it in the container's process before exec: the \
             runtime's own must not stay)",
        )
        .compare(show(Some(STAGE_UMASK)), show(report.limits.umask)));
    }
    Ok(())
}

fn oom_score_adj_applied(ctx: &mut Ctx) -> Result<(), Failure> {
    let report = stage_report(ctx)?;
    expect_eq(
        "the command's /proc/self/oom_score_adj should be process.oomScoreAdj (write it in the container's process \
         before exec)",
        Some(STAGE_OOM_SCORE_ADJ),
        report.limits.oom_score_adj,
    )
}

// ---------------------------------------------------------------------------
// The lifecycle, from outside

/// The state document of the runtime spec, as `state` prints it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    #[allow(dead_code)]
    oci_version: String,
    id: String,
    status: String,
    #[serde(default)]
    pid: Option<i64>,
    bundle: String,
    #[serde(default)]
    #[allow(dead_code)]
    annotations: Option<BTreeMap<String, String>>,
}

/// `state ID`, parsed.
fn state(ctx: &mut Ctx, id: &str) -> Result<State, Failure> {
    let run = oci(ctx, &["state", id])?;
    run.expect_code(0, &format!("`state {id}` should print the container's state"))?;
    serde_json::from_str(&run.stdout).map_err(|e| {
        Failure::fail(format!("`state {id}` should print the runtime spec's state document: {e}"))
            .compare("{\"ociVersion\",\"id\",\"status\",\"pid\",\"bundle\"}", clip(&run.stdout, 300))
    })
}

/// Polls `state ID` until its status is `status`, for up to `within`.
fn await_status(ctx: &mut Ctx, id: &str, status: &str, within: Duration) -> Result<State, Failure> {
    let deadline = Instant::now() + within;
    loop {
        let state = state(ctx, id)?;
        if state.status == status || Instant::now() > deadline {
            return expect_eq(&format!("the status of {id}"), status, state.status.as_str()).map(|_| state.clone());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to `within` for `path` to exist.
fn await_file(path: &Path, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while !path.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A bundle whose command says it ran (creates `/ran` in its rootfs),
/// then sleeps `ms`.
fn marker_bundle(ctx: &Ctx, name: &str, ms: &str) -> Result<(String, PathBuf), Failure> {
    let dir = bundle(ctx, name, Some(&config(&[ROOTFS_PROBE, contract::plain::TOUCH_SLEEP, "/ran", ms])))?;
    let marker = dir.join("rootfs/ran");
    Ok((dir.display().to_string(), marker))
}

fn lifecycle_and_state(ctx: &mut Ctx) -> Result<(), Failure> {
    // The command runs until the test lets it go, so that it is seen
    // running however slow the machine, and then ends at once.
    let config = config(&[ROOTFS_PROBE, contract::plain::TOUCH_AWAIT, "/ran", "/release", "20000"]);
    let dir = bundle(ctx, "life", Some(&config))?;
    let (marker, release) = (dir.join("rootfs/ran"), dir.join("rootfs/release"));
    let dir = dir.display().to_string();
    let pid_file = ctx.scratch_path("life.pid");
    oci(ctx, &["create", "--bundle", &dir, "--pid-file", &pid_file, "life"])?
        .expect_code(0, "`create` should set the container up and exit 0")?;
    let created = state(ctx, "life")?;
    expect_eq("the state's id", "life", created.id.as_str())?;
    expect_eq("the status after create", "created", created.status.as_str())?;
    if marker.exists() {
        return Err(Failure::fail("the command ran at create: it must wait for start"));
    }
    let bundle = fs::canonicalize(&dir).map_err(|e| Failure::error(format!("canonicalize {dir}: {e}")))?;
    expect_eq("the state's bundle: the bundle's absolute path", bundle.display().to_string(), created.bundle.clone())?;
    let from_file = fs::read_to_string(&pid_file).ok().and_then(|text| text.trim().parse::<i64>().ok());
    expect_eq("the pid in --pid-file and in the state", from_file, created.pid)?;
    let pid = created.pid.ok_or_else(|| Failure::fail("the state of a created container has no pid"))?;
    // The host's view of that pid: the container's process, in the
    // container's namespaces, not the runtime's own.
    let mnt = fs::read_link(format!("/proc/{pid}/ns/mnt")).map(|l| l.display().to_string()).map_err(|e| {
        Failure::fail(format!("the state's pid {pid} is no process of the host ({e}): it must be the host pid"))
    })?;
    if mnt == host_namespace("mnt")? {
        return Err(Failure::fail(format!(
            "pid {pid} is in the host's mount namespace: the state's pid should be the container's process"
        )));
    }
    oci(ctx, &["start", "life"])?.expect_code(0, "`start` of a created container should exit 0")?;
    if !await_file(&marker, Duration::from_secs(5)) {
        return Err(Failure::fail("after start, the container's command never ran"));
    }
    let running = state(ctx, "life")?;
    expect_eq("the status while the command runs", "running", running.status.as_str())?;
    expect_eq("the pid while running", Some(pid), running.pid)?;
    write(&release, "")?;
    await_status(ctx, "life", "stopped", Duration::from_secs(8))?;
    oci(ctx, &["delete", "life"])?.expect_code(0, "`delete` of a stopped container should exit 0")?;
    let gone = oci(ctx, &["state", "life"])?;
    if gone.code == Some(0) {
        return Err(Failure::fail("`state` still answers for a deleted container"));
    }
    let left = state_root(ctx).join("life");
    if left.exists() {
        return Err(Failure::fail(format!("delete left {} behind", left.display())));
    }
    Ok(())
}

/// Fails unless `run` exited non-zero, for `what`.
fn refused(run: &Run, what: &str) -> Result<(), Failure> {
    match run.code {
        Some(code) if code != 0 => Ok(()),
        _ => {
            Err(Failure::fail(format!("{what} should be refused with a non-zero exit"))
                .compare("non-zero", run.describe()))
        }
    }
}

fn wrong_state_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let (dir, marker) = marker_bundle(ctx, "wrong", "30000")?;
    oci(ctx, &["create", "--bundle", &dir, "wrong"])?.expect_code(0, "`create` should exit 0")?;
    oci(ctx, &["start", "wrong"])?.expect_code(0, "the first `start` should exit 0")?;
    if !await_file(&marker, Duration::from_secs(5)) {
        return Err(Failure::fail("after start, the container's command never ran"));
    }
    let twice = oci(ctx, &["start", "wrong"])?;
    refused(&twice, "a second `start`")?;
    expect_eq("the status after a refused start", "running", state(ctx, "wrong")?.status.as_str())?;
    let delete = oci(ctx, &["delete", "wrong"])?;
    refused(&delete, "`delete` of a running container without --force")?;
    let still = state(ctx, "wrong")?;
    expect_eq("the status after a refused delete", "running", still.status.as_str())?;
    oci(ctx, &["kill", "wrong", "9"])?.expect_code(0, "`kill wrong 9` of a running container should exit 0")?;
    await_status(ctx, "wrong", "stopped", Duration::from_secs(5))?;
    let kill = oci(ctx, &["kill", "wrong", "15"])?;
    refused(&kill, "`kill` of a stopped container")?;
    expect_eq("the status after a refused kill", "stopped", state(ctx, "wrong")?.status.as_str())?;
    oci(ctx, &["delete", "wrong"])?.expect_code(0, "`delete` of a stopped container should exit 0")
}

/// Sends `signal` with `kill ID SIGNAL` and fails unless the runtime said yes.
fn kill_with(ctx: &mut Ctx, id: &str, signal: &str) -> Result<(), Failure> {
    oci(ctx, &["kill", id, signal])?
        .expect_code(0, &format!("`kill {id} {signal}` of a running container should exit 0"))
}

fn kill_sends_the_signal(ctx: &mut Ctx) -> Result<(), Failure> {
    // A command that lives on after SIGTERM (it notes it), and ends on
    // SIGUSR1 (noting that too). A trapped signal interrupts the shell's
    // `wait` at once, where a foreground command would hold the trap back
    // until it ended.
    let script = "trap 'touch /got-term' TERM; trap 'touch /got-usr1; exit 0' USR1; touch /ran; \
                  while :; do sleep 30 & wait $!; done";
    let dir = bundle(ctx, "signals", Some(&config(&["/bin/sh", "-c", script])))?;
    let rootfs = dir.join("rootfs");
    let dir = dir.display().to_string();
    oci(ctx, &["create", "--bundle", &dir, "signals"])?.expect_code(0, "`create` should exit 0")?;
    oci(ctx, &["start", "signals"])?.expect_code(0, "`start` should exit 0")?;
    if !await_file(&rootfs.join("ran"), Duration::from_secs(10)) {
        return Err(Failure::fail("after start, the container's command never ran"));
    }
    kill_with(ctx, "signals", "15")?;
    if !await_file(&rootfs.join("got-term"), Duration::from_secs(10)) {
        let status = state(ctx, "signals")?.status;
        return Err(Failure::fail(format!(
            "after `kill signals 15`, the command, which traps SIGTERM and lives on, never saw it{}",
            if status == "stopped" {
                ": it ended, so the runtime sent another signal (send the one asked)"
            } else {
                ""
            }
        ))
        .compare("SIGTERM caught, still running", format!("status {status}")));
    }
    expect_eq(
        "the status after SIGTERM, which the command survives",
        "running",
        state(ctx, "signals")?.status.as_str(),
    )?;
    let _ = fs::remove_file(rootfs.join("got-term"));
    kill_with(ctx, "signals", "10")?;
    let got_usr1 = await_file(&rootfs.join("got-usr1"), Duration::from_secs(10));
    if !got_usr1 {
        let what = if rootfs.join("got-term").exists() { "SIGTERM again" } else { "no SIGUSR1" };
        return Err(Failure::fail(format!(
            "`kill signals 10` should send SIGUSR1 (10) to the container's process: the command got {what} — \
             kill sends the signal its command line names, not always SIGTERM"
        ))
        .compare("SIGUSR1", what));
    }
    await_status(ctx, "signals", "stopped", Duration::from_secs(10))?;
    oci(ctx, &["delete", "signals"])?.expect_code(0, "`delete` of a stopped container should exit 0")
}

/// A container's cgroup under the guest's cgroup2 root, removed (with
/// anything left in it) when dropped, whatever the test found.
struct OwnCgroup {
    dir: PathBuf,
}

impl Drop for OwnCgroup {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = fs::write(self.dir.join("cgroup.kill"), "1");
            let deadline = Instant::now() + Duration::from_secs(5);
            while fs::remove_dir(&self.dir).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn delete_removes_the_cgroup(ctx: &mut Ctx) -> Result<(), Failure> {
    let [a, b, c, d] = crate::ctx::random_bytes::<4>("a cgroup name")?;
    let name = format!("greenroom-delete-{a:02x}{b:02x}{c:02x}{d:02x}");
    let cgroup = OwnCgroup { dir: Path::new("/sys/fs/cgroup").join(&name) };
    let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    config["linux"]["resources"] = json!({"pids": {"limit": 32}});
    let dir = bundle(ctx, "cgrouped", Some(&config))?;
    let marker = dir.join("rootfs/ran");
    let dir = dir.display().to_string();
    oci(ctx, &["create", "--bundle", &dir, "cgrouped"])?.expect_code(0, "`create` should exit 0")?;
    if !cgroup.dir.is_dir() {
        let _ = oci(ctx, &["delete", "--force", "cgrouped"]);
        return Err(Failure::fail(format!(
            "after create, the config's linux.cgroupsPath /{name} is no cgroup of the host's"
        ))
        .compare(cgroup.dir.display().to_string(), "missing"));
    }
    oci(ctx, &["start", "cgrouped"])?.expect_code(0, "`start` should exit 0")?;
    if !await_file(&marker, Duration::from_secs(10)) {
        return Err(Failure::fail("after start, the container's command never ran"));
    }
    await_status(ctx, "cgrouped", "stopped", Duration::from_secs(10))?;
    oci(ctx, &["delete", "cgrouped"])?.expect_code(0, "`delete` of a stopped container should exit 0")?;
    if cgroup.dir.exists() {
        return Err(Failure::fail(format!(
            "delete left the container's cgroup {} behind: delete removes what create made, the cgroup of \
             linux.cgroupsPath included",
            cgroup.dir.display()
        )));
    }
    Ok(())
}

fn existing_cgroup_taken(ctx: &mut Ctx) -> Result<(), Failure> {
    let [a, b, c, d] = crate::ctx::random_bytes::<4>("a cgroup name")?;
    let name = format!("greenroom-existing-{a:02x}{b:02x}{c:02x}{d:02x}");
    let cgroup = OwnCgroup { dir: Path::new("/sys/fs/cgroup").join(&name) };
    fs::create_dir(&cgroup.dir).map_err(|e| Failure::error(format!("mkdir {}: {e}", cgroup.dir.display())))?;
    let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    config["linux"]["resources"] = json!({"pids": {"limit": 32}});
    let dir = bundle(ctx, "existing", Some(&config))?;
    let dir_text = dir.display().to_string();
    oci(ctx, &["create", "--bundle", &dir_text, "existing"])?
        .expect_code(0, "`create` into an existing, empty cgroup should exit 0 (runc and crun take it)")?;
    let pid = state(ctx, "existing")?.pid.unwrap_or_default();
    let procs = fs::read_to_string(cgroup.dir.join("cgroup.procs")).unwrap_or_default();
    let max = fs::read_to_string(cgroup.dir.join("pids.max")).unwrap_or_default();
    let _ = oci(ctx, &["delete", "--force", "existing"]);
    if !procs.split_whitespace().any(|p| p == pid.to_string()) {
        return Err(Failure::fail(format!("the container's process {pid} is not in the existing cgroup /{name}"))
            .compare(pid.to_string(), procs.trim().to_string()));
    }
    expect_eq("pids.max of the existing cgroup", "32", max.trim())?;

    // One with a process in it is someone else's.
    let _ = fs::create_dir(&cgroup.dir);
    let mut sleeper = std::process::Command::new(&ctx.probe)
        .args(["sleep", "60000"])
        .spawn()
        .map_err(|e| Failure::error(format!("start a process for the cgroup: {e}")))?;
    let moved = fs::write(cgroup.dir.join("cgroup.procs"), sleeper.id().to_string());
    let run = moved.map_err(|e| Failure::error(format!("move a process into {}: {e}", cgroup.dir.display())));
    let run = run.and_then(|()| oci(ctx, &["create", "--bundle", &dir_text, "in-use"]));
    let still = fs::read_to_string(cgroup.dir.join("cgroup.procs")).unwrap_or_default();
    let _ = oci(ctx, &["delete", "--force", "in-use"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    refused(&run?, "`create` into a cgroup that has a process in it")?;
    if still.trim() != sleeper.id().to_string() {
        return Err(Failure::fail(
            "a refused create changed the cgroup in use: its one process should be all there is",
        )
        .compare(sleeper.id().to_string(), still.trim().to_string()));
    }
    Ok(())
}

/// The parent a container's process is left to once `create` exits, as
/// conmon is for podman: a child subreaper that reaps nothing, so that the
/// container's process, once it ends, stays a zombie until this is dropped.
/// A shell (the subreaper) runs `create`, then becomes `probe sleep`.
struct Reaper {
    child: std::process::Child,
}

impl Reaper {
    fn create(ctx: &Ctx, bundle: &Path, id: &str, errors: &Path) -> Result<Reaper, Failure> {
        use std::os::unix::process::CommandExt;
        let script = "\"$0\" --root \"$1\" create --bundle \"$2\" \"$3\" </dev/null >/dev/null 2>\"$4\" || exit 1; \
                      exec \"$5\" sleep 120000";
        let mut command = std::process::Command::new("sh");
        command.arg("-c").arg(script).arg(&ctx.runtime).arg(state_root(ctx)).arg(bundle).arg(id).arg(errors);
        command.arg(&ctx.probe).stdin(std::process::Stdio::null());
        command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        // SAFETY: the closure runs between fork and exec and makes one
        // system call, prctl, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from));
        }
        let child = command.spawn().map_err(|e| Failure::error(format!("start a shell to run create: {e}")))?;
        Ok(Reaper { child })
    }

    /// Whether the shell already exited (create failed).
    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn zombie_is_stopped(ctx: &mut Ctx) -> Result<(), Failure> {
    let dir = bundle(ctx, "zombie", Some(&config(&[ROOTFS_PROBE, "touch", "/ran"])))?;
    let errors = ctx.scratch.join("create.stderr");
    let mut reaper = Reaper::create(ctx, &dir, "zombie", &errors)?;
    // The shell has become the probe once create has exited.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if reaper.exited() {
            let said = fs::read_to_string(&errors).unwrap_or_default();
            return Err(Failure::fail("`create` failed").compare("exit code 0", clip(said.trim(), 300)));
        }
        let program = fs::read_link(format!("/proc/{}/exe", reaper.child.id())).unwrap_or_default();
        if program == ctx.probe || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let created = state(ctx, "zombie")?;
    let pid = created.pid.ok_or_else(|| Failure::fail("the state of a created container has no pid"))?;
    oci(ctx, &["start", "zombie"])?.expect_code(0, "`start` should exit 0")?;
    // The command ends at once; the init after it; nobody reaps the init.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_zombie(pid as u32) {
        if Instant::now() > deadline {
            let _ = oci(ctx, &["delete", "--force", "zombie"]);
            return Err(Failure::error(format!("the container's process {pid} never ended")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = state(ctx, "zombie")?.status;
    if status != "stopped" {
        let _ = oci(ctx, &["delete", "--force", "zombie"]);
        return Err(Failure::fail(format!(
            "the container's process {pid} has exited and is a zombie (state Z in /proc/{pid}/stat: its parent, as \
             conmon would, has not reaped it yet), so the container is stopped: kill(pid, 0) succeeds on a zombie, \
             so read the process's state too"
        ))
        .compare("stopped", status));
    }
    oci(ctx, &["delete", "zombie"])?.expect_code(0, "`delete` of a stopped container should exit 0")
}

fn bad_bundles_refused(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut unknown = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    push(&mut unknown["linux"]["namespaces"], json!({"type": "bogus"}));
    let mut escaping = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    push(
        &mut escaping["mounts"],
        json!({"destination": "/../../../greenroom-escaped", "type": "tmpfs", "source": "tmpfs"}),
    );
    let mut rootless = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    rootless["root"]["path"] = json!("no-such-rootfs");
    let cases: [(&str, &str, Option<Value>, Option<&str>); 5] = [
        ("no-config", "a bundle without config.json", None, None),
        ("bad-json", "a config.json that is not JSON", None, Some("{\"ociVersion\": \"1.0.2\", \"process\": ")),
        ("bad-namespace", "a namespace of type \"bogus\"", Some(unknown), None),
        ("escaping-mount", "a mount destination /../../../greenroom-escaped", Some(escaping), None),
        ("no-root", "a relative root.path that names nothing in the bundle", Some(rootless), None),
    ];
    for (id, what, config, text) in cases {
        let dir = bundle(ctx, id, config.as_ref())?;
        if let Some(text) = text {
            write(&dir.join("config.json"), text)?;
        }
        refused_before_anything(ctx, &dir, id, what)?;
    }
    if Path::new("/greenroom-escaped").exists() {
        return Err(Failure::fail("a mount destination with .. created /greenroom-escaped on the host"));
    }
    // And a good bundle does run: refusing everything is no answer.
    let good = bundle(ctx, "good", Some(&config(&[ROOTFS_PROBE, "touch", "/ran"])))?;
    let run = oci(ctx, &["run", "--bundle", &good.display().to_string(), "good"])?;
    run.expect_code(0, "a good bundle, next to the bad ones, should run")?;
    if !good.join("rootfs/ran").exists() {
        return Err(Failure::fail("the good bundle's command never ran"));
    }
    Ok(())
}

/// `create` of the bundle in `dir` as `id`: fails unless it exits 125 and
/// leaves no state directory, no process and the host's mount table as it
/// was (`what` names the bundle's fault in the messages).
fn refused_before_anything(ctx: &mut Ctx, dir: &Path, id: &str, what: &str) -> Result<(), Failure> {
    let mounts_before = host_mount_count();
    let run = oci(ctx, &["create", "--bundle", &dir.display().to_string(), id])?;
    run.expect_code(125, &format!("{what} should be refused with 125, before anything is created"))?;
    if state_root(ctx).join(id).exists() {
        return Err(Failure::fail(format!("after refusing {what}, the container's state directory is left")));
    }
    let pids = ctx.session_pids();
    if !pids.is_empty() {
        return Err(Failure::fail(format!("after refusing {what}, processes are left running"))
            .compare("none", format!("{pids:?}")));
    }
    if host_mount_count() != mounts_before {
        return Err(Failure::fail(format!("after refusing {what}, the host's mount table changed")));
    }
    Ok(())
}

fn oci_version_checked(ctx: &mut Ctx) -> Result<(), Failure> {
    // Each refused config asks for a cgroup: refused before anything is
    // created means that cgroup never appears either.
    let [a, b, c, d] = crate::ctx::random_bytes::<4>("a cgroup name")?;
    let name = format!("greenroom-version-{a:02x}{b:02x}{c:02x}{d:02x}");
    let cgroup = OwnCgroup { dir: Path::new("/sys/fs/cgroup").join(&name) };
    let refused_cases = [
        ("version-invalid", "invalid", "not SemVer"),
        ("version-short", "1.0", "not SemVer (no patch number)"),
        ("version-major", "2.0.0", "of a major version this runtime does not implement"),
        ("version-minor", "1.9.0", "of a minor version newer than the runtime's spec (1.1)"),
    ];
    for (id, version, why) in refused_cases {
        let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
        config["ociVersion"] = json!(version);
        config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
        let dir = bundle(ctx, id, Some(&config))?;
        refused_before_anything(ctx, &dir, id, &format!("ociVersion {version:?}, {why},"))?;
        if cgroup.dir.exists() {
            return Err(Failure::fail(format!("after refusing ociVersion {version:?}, its cgroup is left"))
                .compare("no cgroup", cgroup.dir.display().to_string()));
        }
    }
    // podman's and `runc spec`'s pre-release of 1.0.2, and the newest the
    // runtime knows, do run: refusing every version is no answer.
    for (id, version) in [("version-dev", "1.0.2-dev"), ("version-current", "1.1.0")] {
        let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
        config["ociVersion"] = json!(version);
        let dir = bundle(ctx, id, Some(&config))?;
        let run = oci(ctx, &["run", "--bundle", &dir.display().to_string(), id])?;
        run.expect_code(0, &format!("a config of ociVersion {version:?} should run"))?;
        if !dir.join("rootfs/ran").exists() {
            return Err(Failure::fail(format!("the command of a config of ociVersion {version:?} never ran")));
        }
    }
    Ok(())
}

/// Namespaced sysctls and the value the container asks for each: one of
/// the network namespace, two of the IPC namespace (System V, POSIX
/// queues), one of the UTS namespace. None of them is the kernel's
/// default in a new namespace.
const SYSCTLS: [(&str, &str); 4] = [
    ("net.ipv4.ip_forward", "1"),
    ("kernel.shmmax", "123456789"),
    ("fs.mqueue.msg_max", "17"),
    ("kernel.domainname", "backstage"),
];

/// A sysctl's file under /proc/sys.
fn sysctl_file(key: &str) -> PathBuf {
    Path::new("/proc/sys").join(key.replace('.', "/"))
}

/// The host's (the suite's) value of `key`.
fn host_sysctl(key: &str) -> Result<String, Failure> {
    let file = sysctl_file(key);
    fs::read_to_string(&file)
        .map(|text| text.trim().to_string())
        .map_err(|e| Failure::error(format!("read {}: {e}", file.display())))
}

/// Fails if the host's `key` is no longer `before`, and puts it back.
fn host_sysctl_unchanged(key: &str, before: &str, after_what: &str) -> Result<(), Failure> {
    let now = host_sysctl(key)?;
    if now == before {
        return Ok(());
    }
    let _ = fs::write(sysctl_file(key), before);
    Err(Failure::fail(format!(
        "{after_what}, the host's {key} changed: a sysctl was written that is not the container's own"
    ))
    .compare(before, now))
}

fn sysctl_applied(ctx: &mut Ctx) -> Result<(), Failure> {
    let before: Vec<String> = SYSCTLS.iter().map(|(key, _)| host_sysctl(key)).collect::<Result<_, _>>()?;
    // The container prints each file, one value a line.
    let files: Vec<String> = SYSCTLS.iter().map(|(key, _)| sysctl_file(key).display().to_string()).collect();
    let mut args = vec!["/bin/cat"];
    args.extend(files.iter().map(String::as_str));
    let mut asked = config(&args);
    asked["linux"]["sysctl"] =
        json!(SYSCTLS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>());
    let dir = bundle(ctx, "sysctl", Some(&asked))?;
    let run = oci(ctx, &["run", "--bundle", &dir.display().to_string(), "sysctl"])?;
    run.expect_code(
        0,
        "a container asking for namespaced sysctls (net, ipc, uts) in a new namespace of each should run",
    )?;
    let seen: Vec<&str> = run.stdout.lines().collect();
    for (i, (key, value)) in SYSCTLS.iter().enumerate() {
        let inside = seen.get(i).copied().unwrap_or("(nothing)");
        if inside != *value {
            return Err(Failure::fail(format!(
                "inside the container, {key} is not the config's linux.sysctl value: write it in the container's \
                 new namespaces, before /proc/sys is made read-only"
            ))
            .compare(*value, inside));
        }
    }
    for ((key, _), before) in SYSCTLS.iter().zip(&before) {
        host_sysctl_unchanged(key, before, "after the container ran")?;
    }

    // What would change the host's value is refused, before anything.
    let forward = host_sysctl("net.ipv4.ip_forward")?;
    let other_forward = if forward == "1" { "0" } else { "1" };
    let ratelimit = host_sysctl("kernel.printk_ratelimit")?;
    let other_ratelimit = if ratelimit == "7" { "8" } else { "7" };
    let cases = [
        ("sysctl-host-net", "net.ipv4.ip_forward", other_forward, Some("network"), "in the host's network namespace"),
        ("sysctl-host-ipc", "kernel.shmmax", "123456789", Some("ipc"), "in the host's IPC namespace"),
        ("sysctl-machine", "kernel.printk_ratelimit", other_ratelimit, None, "a sysctl of no namespace"),
    ];
    for (id, key, value, without, why) in cases {
        let before = host_sysctl(key)?;
        let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
        config["linux"]["sysctl"] = json!({key: value});
        if let Some(kind) = without {
            if let Some(list) = config["linux"]["namespaces"].as_array_mut() {
                list.retain(|ns| ns["type"] != kind);
            }
        }
        let dir = bundle(ctx, id, Some(&config))?;
        let what = format!("linux.sysctl {key}={value}, {why},");
        let refusal = refused_before_anything(ctx, &dir, id, &what);
        host_sysctl_unchanged(key, &before, &format!("after the create of {what}"))?;
        refusal?;
        if dir.join("rootfs/ran").exists() {
            return Err(Failure::fail(format!("the command of {what} ran")));
        }
    }
    Ok(())
}

fn host_descriptors_unreachable(ctx: &mut Ctx) -> Result<(), Failure> {
    use crate::ctx::CALLER_DIR_FD;
    let report = stage_report(ctx)?;
    let fds = report.inherited.fds.ok_or_else(|| Failure::fail("the probe could not list /proc/self/fd"))?;
    let extra: Vec<String> =
        fds.iter().filter(|open| open.fd > 2).map(|open| format!("{} -> {}", open.fd, open.target)).collect();
    if !extra.is_empty() {
        return Err(Failure::fail(
            "the command inherited descriptors beyond 0, 1 and 2 (the runtime's own, or its caller's: fd 40 and 41 \
             were left open for it)",
        )
        .compare("0, 1, 2", extra.join("; ")));
    }
    // The escape of runc's CVE-2024-21626: a working directory reached
    // through a descriptor of the host that is still open before exec.
    let mut config = config(&[]);
    let through = format!("/proc/self/fd/{CALLER_DIR_FD}");
    config["process"]["cwd"] = json!(through);
    let call = ProbeCall::<Report>::new(ROOTFS_PROBE, &[])?;
    config["process"]["args"] = json!(call.command());
    let dir = bundle(ctx, "cwd-escape", Some(&config))?.display().to_string();
    let run = oci(ctx, &["run", "--bundle", &dir, "cwd-escape"])?;
    if run.code != Some(0) {
        // Refused: the right answer, if nothing is left behind.
        if state_root(ctx).join("cwd-escape").exists() {
            return Err(Failure::fail("after refusing the cwd, the container's state directory is left"));
        }
        return Ok(());
    }
    let inside = call.read(&run)?;
    if !inside.inherited.cwd_reachable {
        return Err(Failure::fail(format!(
            "with process.cwd {through}, the command started in a directory of the host, outside its root: the \
             runtime's descriptor {CALLER_DIR_FD} was still open at chdir (close-on-exec closes it only at exec) — \
             check that the working directory is inside the root after entering it"
        ))
        .compare("refused, or a cwd inside the root", inside.inherited.cwd_link.unwrap_or_default()));
    }
    Ok(())
}

fn symlinked_mount_target_stays_inside(ctx: &mut Ctx) -> Result<(), Failure> {
    // A directory of the host, named by an absolute path that the rootfs
    // does not have: where a runtime that follows the link on the host
    // would mount.
    let host_target = ctx.scratch.join("host-target");
    fs::create_dir_all(&host_target).map_err(|e| Failure::error(format!("mkdir {}: {e}", host_target.display())))?;
    let call = ProbeCall::<PathsSeen>::new(ROOTFS_PROBE, &["/data/bound"])?;
    let mut config = config(&call.command());
    // The bind's source, beside the bundle's rootfs.
    let volume = ctx.scratch.join("symlinked-volume");
    push(
        &mut config["mounts"],
        json!({"destination": "/data", "type": "bind", "source": volume, "options": ["rbind", "ro"]}),
    );
    let dir = bundle(ctx, "symlinked", Some(&config))?;
    fs::create_dir_all(&volume).map_err(|e| Failure::error(format!("mkdir {}: {e}", volume.display())))?;
    write(&volume.join("bound"), "bound\n")?;
    std::os::unix::fs::symlink(&host_target, dir.join("rootfs/data"))
        .map_err(|e| Failure::error(format!("symlink rootfs/data: {e}")))?;
    let run = oci(ctx, &["run", "--bundle", &dir.display().to_string(), "symlinked"])?;
    let seen = call.read(&run)?;
    let bound = seen.paths.first().is_some_and(|path| path.read_errno.is_none());
    if !bound {
        return Err(Failure::fail(format!(
            "/data is a symlink to {}: the bind should land at that path inside the rootfs, but the container \
             does not see it — the runtime followed the link on the host (resolve every component inside the \
             rootfs before mounting)",
            host_target.display()
        ))
        .compare("/data/bound readable", "missing"));
    }
    let left = fs::read_dir(&host_target).map(|entries| entries.count()).unwrap_or(0);
    if left != 0 {
        return Err(Failure::fail(format!("the runtime created files in the host's {}", host_target.display())));
    }
    Ok(())
}

/// The options of a config's mount that are per-mount flags, as
/// mountinfo names them; any other option with a `=` is the file system's.
const MOUNT_FLAGS: [&str; 4] = ["ro", "nosuid", "nodev", "noexec"];

/// One mount of the bundle of `mount-options-honoured`: its destination,
/// type, source (a folder of the scratch directory) and options.
struct AskedMount {
    destination: &'static str,
    kind: &'static str,
    source: Option<&'static str>,
    options: &'static [&'static str],
}

const ASKED_MOUNTS: [AskedMount; 4] = [
    AskedMount {
        destination: "/data/ro",
        kind: "bind",
        source: Some("ro-volume"),
        options: &["rbind", "ro", "nosuid", "nodev", "noexec"],
    },
    AskedMount { destination: "/data/rw", kind: "bind", source: Some("rw-volume"), options: &["rbind"] },
    AskedMount { destination: "/data/plain", kind: "bind", source: Some("plain-volume"), options: &["bind"] },
    AskedMount {
        destination: "/data/tmp",
        kind: "tmpfs",
        source: None,
        options: &["nosuid", "nodev", "noexec", "mode=1770", "size=2048k"],
    },
];

/// Small tmpfs mounts the suite makes on the host for one run, unmounted
/// when dropped.
struct SubMounts(Vec<PathBuf>);

impl SubMounts {
    fn make(points: &[(PathBuf, MsFlags)]) -> Result<SubMounts, Failure> {
        let mut made = SubMounts(Vec::new());
        for (point, flags) in points {
            fs::create_dir_all(point).map_err(|e| Failure::error(format!("mkdir {}: {e}", point.display())))?;
            nix::mount::mount(Some("tmpfs"), point, Some("tmpfs"), *flags, Some("size=64k"))
                .map_err(|e| Failure::error(format!("mount a tmpfs on {}: {e}", point.display())))?;
            made.0.push(point.clone());
        }
        Ok(made)
    }
}

impl Drop for SubMounts {
    fn drop(&mut self) {
        for point in &self.0 {
            let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// Fails unless `mount` (the last on `asked`'s destination) has every flag
/// and data option `asked` lists, and is read-only only if it asks.
fn expect_asked_options(asked: &AskedMount, mount: &crate::mountinfo::Mount) -> Result<(), Failure> {
    let flags: Vec<&str> = mount.options.split(',').collect();
    let data: Vec<&str> = mount.super_options.split(',').collect();
    let missing: Vec<&str> = asked
        .options
        .iter()
        .filter(|o| (MOUNT_FLAGS.contains(o) && !flags.contains(o)) || (o.contains('=') && !data.contains(o)))
        .copied()
        .collect();
    let wanted: Vec<&str> =
        asked.options.iter().filter(|o| MOUNT_FLAGS.contains(o) || o.contains('=')).copied().collect();
    let seen = format!("{} - {}", mount.options, mount.super_options);
    if !missing.is_empty() {
        let fix = match asked.kind {
            "bind" => {
                "mount(2) with MS_BIND ignores every other flag, silently: bind first, then remount the bind \
                 (MS_REMOUNT | MS_BIND | the flags, with those it already has) to apply them"
            }
            _ => "per-mount flags go in mount's flags (MS_NOSUID, …), the rest (mode=, size=) in its data argument",
        };
        return Err(Failure::fail(format!(
            "{} ({}, options {}) lacks {}: {fix}",
            asked.destination,
            asked.kind,
            asked.options.join(","),
            missing.join(", ")
        ))
        .compare(wanted.join(","), seen));
    }
    if !asked.options.contains(&"ro") && flags.contains(&"ro") {
        return Err(Failure::fail(format!(
            "{} ({}, options {}) is read-only, though its options do not say ro: each mount gets its own options, \
             never another's",
            asked.destination,
            asked.kind,
            asked.options.join(",")
        ))
        .compare("rw", seen));
    }
    Ok(())
}

fn mount_options_honoured(ctx: &mut Ctx) -> Result<(), Failure> {
    let call = ProbeCall::<MountsSeen>::new(ROOTFS_PROBE, &["/data/ro/probe-wrote", "/data/rw/probe-wrote"])?;
    let mut config = config(&call.command());
    for asked in &ASKED_MOUNTS {
        let source = match asked.source {
            Some(name) => {
                let dir = ctx.scratch.join(name);
                fs::create_dir_all(&dir).map_err(|e| Failure::error(format!("mkdir {}: {e}", dir.display())))?;
                dir
            }
            None => PathBuf::from(asked.kind),
        };
        push(
            &mut config["mounts"],
            json!({"destination": asked.destination, "type": asked.kind, "source": source, "options": asked.options}),
        );
    }
    let dir = bundle(ctx, "mount-options", Some(&config))?;
    // A mount inside the sources of the rbind and of the plain bind: the
    // first takes it along, the second must not. And the read-only bind's
    // source is a mount that already has the flags it asks for, which a
    // remount must keep (not toggle).
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let submounts = SubMounts::make(&[
        (ctx.scratch.join("rw-volume/sub"), MsFlags::empty()),
        (ctx.scratch.join("plain-volume/sub"), MsFlags::empty()),
        (ctx.scratch.join("ro-volume"), safe),
    ])?;
    let run = oci(ctx, &["run", "--bundle", &dir.display().to_string(), "mount-options"]);
    drop(submounts);
    let seen = call.read(&run?)?;
    let mountinfo = seen.mountinfo.ok_or_else(|| Failure::fail("the probe could not read its mount table"))?;
    let mounts: Vec<_> = mountinfo.iter().filter_map(|line| crate::mountinfo::parse_line(line)).collect();
    for asked in &ASKED_MOUNTS {
        // The last mount on a point is the one in use.
        let Some(mount) = mounts.iter().rev().find(|m| m.point == asked.destination) else {
            return Err(Failure::fail(format!(
                "the config's {} mount on {} is not in the container",
                asked.kind, asked.destination
            )));
        };
        expect_asked_options(asked, mount)?;
    }
    let mounted = |point: &str| mounts.iter().any(|m| m.point == point);
    if !mounted("/data/rw/sub") {
        return Err(Failure::fail(
            "/data/rw (options rbind) lacks the mount inside its source (rw-volume/sub): rbind is a recursive bind, \
             MS_BIND | MS_REC",
        )
        .compare("a mount on /data/rw/sub", "none"));
    }
    if mounted("/data/plain/sub") {
        return Err(Failure::fail(
            "/data/plain (options bind) shows the mount inside its source (plain-volume/sub): bind alone is not \
             recursive, MS_REC only for rbind",
        )
        .compare("no mount on /data/plain/sub", "a mount there"));
    }
    // And in effect: the kernel refuses a write where ro is shown, and
    // the plain bind's file reaches the host's folder.
    let errno = |i: usize| seen.created.get(i).map(|created| created.errno);
    let show = |errno: Option<Option<Errno>>| match errno {
        Some(None) => "created".to_string(),
        Some(Some(errno)) => errno.to_string(),
        None => "not tried".to_string(),
    };
    if errno(0) != Some(Some(Errno::EROFS)) {
        return Err(Failure::fail(
            "creating /data/ro/probe-wrote should fail with EROFS: the bind's options say ro (remount the bind with \
             MS_RDONLY, the call with MS_BIND ignores it)",
        )
        .compare(Errno::EROFS.to_string(), show(errno(0))));
    }
    if errno(1) != Some(None) {
        return Err(Failure::fail("creating /data/rw/probe-wrote should work: that bind's options do not say ro")
            .compare("created", show(errno(1))));
    }
    let volume = ctx.scratch.join("rw-volume");
    if !volume.join("probe-wrote").exists() {
        return Err(Failure::fail(format!(
            "the file created in /data/rw is not in the bind's source {} on the host: /data/rw is not a bind of it",
            volume.display()
        )));
    }
    Ok(())
}

fn delete_waits_for_create(ctx: &mut Ctx) -> Result<(), Failure> {
    // Many mounts make create's setup long enough for a delete to arrive
    // in the middle of it; three tries make it likely at least once.
    for attempt in 0..3 {
        let id = format!("race{attempt}");
        let mut slow = config(&[ROOTFS_PROBE, contract::plain::SLEEP, "30000"]);
        for n in 0..48 {
            push(&mut slow["mounts"], json!({"destination": format!("/tmp/m{n}"), "type": "tmpfs", "source": "tmpfs"}));
        }
        let dir = bundle(ctx, &id, Some(&slow))?.display().to_string();
        let root = state_root(ctx).display().to_string();
        let runtime = ctx.runtime.clone();
        let create = ctx.keep_spawn(&runtime, &["--root", &root, "create", "--bundle", &dir, &id], &[])?;
        // The moment create has made the container's state, delete it.
        if !await_file(&state_root(ctx).join(&id).join("state.json"), Duration::from_secs(10))
            && !await_file(&state_root(ctx).join(&id), Duration::from_secs(1))
        {
            let run = create.wait()?;
            return Err(
                Failure::fail("create made no state directory under --root").compare("STATE/ID", run.describe())
            );
        }
        let delete = oci(ctx, &["delete", "--force", &id])?;
        let created = create.wait()?;
        created.expect_code(0, "`create`, started before the delete, should succeed: delete must wait for it")?;
        delete.expect_code(0, "`delete --force` of a container being created should wait for it, then remove it")?;
        if state_root(ctx).join(&id).exists() {
            // The delete went first after all: clean up, and say so.
            let _ = oci(ctx, &["delete", "--force", &id]);
            return Err(Failure::fail(
                "delete --force exited 0 but the container is still there: it ran in the middle of create instead of \
                 waiting for create's lock",
            ));
        }
        let pids = ctx.session_pids();
        if !pids.is_empty() {
            return Err(Failure::fail(
                "after create and delete --force, the container's process is still running: delete removed the state \
                 while create was still making the container (take the container's lock in every command)",
            )
            .compare("no process", format!("{pids:?}")));
        }
    }
    Ok(())
}

fn host_mount_count() -> usize {
    fs::read_to_string("/proc/self/mountinfo").map(|text| text.lines().count()).unwrap_or(0)
}

fn runc_and_crun_specs_run(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut tried = 0;
    for tool in ["runc", "crun"] {
        let Some(program) = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(tool))
            .find(|path| path.is_file())
        else {
            continue;
        };
        tried += 1;
        let name = format!("{tool}-spec");
        let dir = bundle(ctx, &name, None)?;
        let made = std::process::Command::new(&program)
            .arg("spec")
            .current_dir(&dir)
            .output()
            .map_err(|e| Failure::error(format!("run {} spec: {e}", program.display())))?;
        if !made.status.success() {
            return Err(Failure::error(format!(
                "{} spec failed: {}",
                program.display(),
                String::from_utf8_lossy(&made.stderr)
            )));
        }
        let path = dir.join("config.json");
        let text = fs::read_to_string(&path).map_err(|e| Failure::error(format!("read {}: {e}", path.display())))?;
        let mut config: Value =
            serde_json::from_str(&text).map_err(|e| Failure::error(format!("{tool} spec wrote no JSON: {e}")))?;
        let call = ProbeCall::<Report>::new(ROOTFS_PROBE, &[])?;
        config["process"]["args"] = json!(call.command());
        config["process"]["terminal"] = json!(false);
        write(&path, &config.to_string())?;
        let bundle_path = dir.display().to_string();
        let run = oci(ctx, &["run", "--bundle", &bundle_path, &name])?;
        if run.code != Some(0) {
            return Err(Failure::fail(format!(
                "the config `{tool} spec` writes was not run: a user's first bundle must work as it is (its ambient \
                 capabilities, not inheritable, are left out with a warning, as runc does)"
            ))
            .compare("the container runs", run.describe()));
        }
        let report = call.read(&run)?;
        let caps = report.security.capabilities.ok_or_else(|| Failure::error("the probe read no capabilities"))?;
        expect_eq(&format!("CapAmb (ambient) in a container of `{tool} spec`'s config"), 0, caps.ambient)?;
    }
    if tried == 0 {
        return Err(Failure::error("neither runc nor crun is installed here: chapter 7's guest has both"));
    }
    Ok(())
}

fn spec_default_hardened(ctx: &mut Ctx) -> Result<(), Failure> {
    let dir = bundle(ctx, "spec-default", None)?;
    let bundle_path = dir.display().to_string();
    let made = oci(ctx, &["spec", "--bundle", &bundle_path])?;
    made.expect_code(0, "`spec --bundle DIR` should write DIR/config.json")?;
    let path = dir.join("config.json");
    let text = fs::read_to_string(&path).map_err(|e| Failure::fail(format!("read {}: {e}", path.display())))?;
    let mut config: Value =
        serde_json::from_str(&text).map_err(|e| Failure::fail(format!("the config `spec` wrote is not JSON: {e}")))?;
    // Only the command changes: everything else is the config as written.
    let call = ProbeCall::<Breakout>::new(ROOTFS_PROBE, &[])?;
    config["process"]["args"] = json!(call.command());
    config["process"]["terminal"] = json!(false);
    write(&path, &config.to_string())?;
    let run = oci(ctx, &["run", "--bundle", &bundle_path, "spec-default"])?;
    let seen = call.read(&run)?;
    if seen.unshare_user.is_none() {
        return Err(Failure::fail(
            "unshare(CLONE_NEWUSER) worked in a container of the default config: `spec` must write the course's \
             seccomp profile (linux.seccomp), which refuses it",
        )
        .compare("it fails (EPERM)", "it worked"));
    }
    if seen.mount.is_none() || seen.init_module.is_none() {
        return Err(Failure::fail("mount or init_module worked in a container of the default config")
            .compare("both fail", format!("mount {:?}, init_module {:?}", seen.mount, seen.init_module)));
    }
    match seen.sys_firmware_entries {
        Some(0) | None => Ok(()),
        Some(n) => Err(Failure::fail("/sys/firmware has entries in a container of the default config: it is masked")
            .compare("0 entries", format!("{n} entries"))),
    }
}

fn escapes_blocked(ctx: &mut Ctx) -> Result<(), Failure> {
    let call = ProbeCall::<Breakout>::new(ROOTFS_PROBE, &[])?;
    let seen = ask(ctx, "breakout", config(&[]), &call)?;
    let open = |what: &str, how: &str| {
        Failure::fail(format!("{what} worked inside the container: {how}")).compare("it fails", "it worked")
    };
    let steps = [
        (
            seen.mknod_block,
            "mknod of a block device (8:0, the host's first disk)",
            "seccomp should refuse mknod of S_IFBLK",
        ),
        (
            seen.disk_mount,
            "mounting the machine's first disk (the host's files, read-only)",
            "no block device may be made or reached, and mount needs CAP_SYS_ADMIN",
        ),
        (seen.mount, "mount of a tmpfs", "CAP_SYS_ADMIN is not in the set, and the profile refuses mount"),
        (seen.sysrq_trigger, "opening /proc/sysrq-trigger for writing", "it is a read-only path"),
        (seen.ptrace_pid1, "ptrace of PID 1", "CAP_SYS_PTRACE is not in the set, and the profile refuses ptrace"),
        (seen.init_module, "init_module (loading a kernel module)", "CAP_SYS_MODULE is not in the set"),
        (
            seen.unshare_user,
            "unshare(CLONE_NEWUSER) (a user namespace gives every capability back)",
            "the profile refuses unshare",
        ),
    ];
    for (errno, what, how) in steps {
        if errno.is_none() {
            return Err(open(what, how));
        }
    }
    if seen.init_exe.is_none() && seen.init_exe_is_probe != Some(true) {
        return Err(open(
            "opening /proc/1/exe, the runtime's own binary on the host (the init is a fork of the runtime)",
            "a descriptor of it kept open could overwrite the runtime once it exits (CVE-2019-5736): mark the \
             container's process not dumpable (PR_SET_DUMPABLE 0) before anything of the container can see it",
        ));
    }
    match seen.sys_firmware_entries {
        None | Some(0) => Ok(()),
        Some(n) => Err(Failure::fail("/sys/firmware is a masked path: it should be empty inside")
            .compare("0 entries", format!("{n} entries"))),
    }
}

// ---------------------------------------------------------------------------
// Hooks

/// The hooks of the runtime spec, in the order of the lifecycle.
const HOOK_STAGES: [&str; 6] =
    ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

/// The script every recording hook runs, with `sh -c SCRIPT hook STAGE DIR`:
/// it copies its stdin to `DIR/STAGE.json`, its mount namespace to
/// `DIR/STAGE.mnt`, and appends `STAGE $GREENROOM_HOOK` to `DIR/order`.
/// It finds busybox only through `$BB`, its environment's: the runtime's
/// own `PATH` must not reach it.
const RECORDING_HOOK: &str = "\"$BB\" cat > \"$2/$1.json\"; \"$BB\" readlink /proc/self/ns/mnt > \"$2/$1.mnt\"; \
                              echo \"$1 $GREENROOM_HOOK\" >> \"$2/order\"";

/// A hook that runs `sh -c SCRIPT hook ARGS…` with `/bin/sh` (the host's,
/// or the container's for startContainer), its environment only `BB`
/// (`busybox`, where the hook runs) and `GREENROOM_HOOK=env-STAGE`.
/// `args[0]` is the program's own name, as in execv: a runtime that passes
/// the path as well runs `sh` on a file named `sh`, which fails.
fn hook(busybox: &str, stage: &str, script: &str, args: &[&str]) -> Value {
    let mut all = vec!["sh", "-c", script, "hook"];
    all.extend_from_slice(args);
    json!({"path": "/bin/sh", "args": all, "env": [format!("BB={busybox}"), format!("GREENROOM_HOOK=env-{stage}")]})
}

/// The busybox of the suite's machine, for the hooks that run there.
fn host_busybox() -> Result<String, Failure> {
    let busybox = crate::rootfs::find_busybox().ok_or_else(|| Failure::error("no busybox on the test machine"))?;
    Ok(busybox.display().to_string())
}

/// What the six recording hooks and the command left, read at each step.
struct HooksSeen {
    /// `state` after create.
    created: State,
    /// The bundle, absolute.
    bundle: String,
    /// The container's mount namespace (its process's, after create).
    container_mnt: String,
    /// The host's `order` after create, after start, after delete.
    order_created: Vec<String>,
    order_started: Vec<String>,
    order_deleted: Vec<String>,
    /// Whether startContainer's record was in the rootfs after create.
    start_hook_early: bool,
    /// Whether the command found startContainer's record when it ran.
    command_saw_start_hook: bool,
    /// Each stage's stdin and mount namespace, if it left them.
    stdin: BTreeMap<&'static str, Option<String>>,
    mnt: BTreeMap<&'static str, Option<String>>,
}

/// Each line of `path`, or none if it does not exist.
fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path).map(|text| text.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// `create`, `start` and `delete` of a container with one recording hook
/// of each stage: the startContainer one in the container's root (its
/// records go to the rootfs's `/hooks`), the others on the host (to
/// `hooks/` beside the bundle).
fn six_hooks(ctx: &mut Ctx) -> Result<HooksSeen, Failure> {
    let busybox = host_busybox()?;
    let records = ctx.scratch.join("hooks");
    fs::create_dir_all(&records).map_err(|e| Failure::error(format!("mkdir {}: {e}", records.display())))?;
    let records_text = records.display().to_string();
    let script = "if [ -e /hooks/startContainer.json ]; then touch /saw-start-hook; fi; \
                  exec /probe touch-await /ran /release 20000";
    let mut config = config(&["/bin/sh", "-c", script]);
    config["annotations"] = json!({"greenroom.stage": "hooks"});
    let mut hooks = serde_json::Map::new();
    for stage in HOOK_STAGES {
        let (bb, dir) = match stage {
            "startContainer" => ("/bin/busybox", "/hooks"),
            _ => (busybox.as_str(), records_text.as_str()),
        };
        hooks.insert(stage.to_string(), json!([hook(bb, stage, RECORDING_HOOK, &[stage, dir])]));
    }
    config["hooks"] = Value::Object(hooks);
    let dir = bundle(ctx, "hooked", Some(&config))?;
    let rootfs = dir.join("rootfs");
    fs::create_dir_all(rootfs.join("hooks")).map_err(|e| Failure::error(format!("mkdir rootfs/hooks: {e}")))?;
    let bundle = fs::canonicalize(&dir).map_err(|e| Failure::error(format!("canonicalize the bundle: {e}")))?;
    let dir = dir.display().to_string();
    oci(ctx, &["create", "--bundle", &dir, "hooked"])?
        .expect_code(0, "`create` of a config with hooks should exit 0")?;
    let created = state(ctx, "hooked")?;
    let pid = created.pid.ok_or_else(|| Failure::fail("the state of a created container has no pid"))?;
    let container_mnt = fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .map(|l| l.display().to_string())
        .map_err(|e| Failure::fail(format!("the state's pid {pid} is no process of the host ({e})")))?;
    let order_created = lines_of(&records.join("order"));
    let start_hook_early = rootfs.join("hooks/startContainer.json").exists();
    oci(ctx, &["start", "hooked"])?.expect_code(0, "`start` of a container with hooks should exit 0")?;
    let order_started = lines_of(&records.join("order"));
    if !await_file(&rootfs.join("ran"), Duration::from_secs(10)) {
        return Err(Failure::fail("after start, the container's command never ran"));
    }
    let command_saw_start_hook = rootfs.join("saw-start-hook").exists();
    write(&rootfs.join("release"), "")?;
    await_status(ctx, "hooked", "stopped", Duration::from_secs(10))?;
    oci(ctx, &["delete", "hooked"])?.expect_code(0, "`delete` of a stopped container with hooks should exit 0")?;
    let order_deleted = lines_of(&records.join("order"));
    let (mut stdin, mut mnt) = (BTreeMap::new(), BTreeMap::new());
    for stage in HOOK_STAGES {
        let at = match stage {
            "startContainer" => rootfs.join("hooks"),
            _ => records.clone(),
        };
        stdin.insert(stage, fs::read_to_string(at.join(format!("{stage}.json"))).ok());
        mnt.insert(stage, fs::read_to_string(at.join(format!("{stage}.mnt"))).ok().map(|t| t.trim().to_string()));
    }
    Ok(HooksSeen {
        created,
        bundle: bundle.display().to_string(),
        container_mnt,
        order_created,
        order_started,
        order_deleted,
        start_hook_early,
        command_saw_start_hook,
        stdin,
        mnt,
    })
}

/// `STAGE env-STAGE` for each of `stages`: what the recording hooks append.
fn order_lines(stages: &[&str]) -> Vec<String> {
    stages.iter().map(|stage| format!("{stage} env-{stage}")).collect()
}

fn hooks_order_and_namespaces(ctx: &mut Ctx) -> Result<(), Failure> {
    let seen = six_hooks(ctx)?;
    let at_create = order_lines(&HOOK_STAGES[..3]);
    if seen.order_created != at_create {
        return Err(Failure::fail(
            "after create, prestart, createRuntime and createContainer should each have run once, in this order, \
             with their args (args[0] is the program's name) and their env",
        )
        .compare(at_create.join("; "), seen.order_created.join("; ")));
    }
    if seen.start_hook_early {
        return Err(Failure::fail("the startContainer hook ran at create: it runs at start, before the command"));
    }
    let at_start = order_lines(&[&HOOK_STAGES[..3], &["poststart"]].concat());
    if seen.order_started != at_start {
        return Err(Failure::fail("once start has returned, poststart should have run, once, after the create hooks")
            .compare(at_start.join("; "), seen.order_started.join("; ")));
    }
    if seen.stdin["startContainer"].is_none() {
        return Err(Failure::fail(
            "the startContainer hook never ran in the container: run it at start, in the container's namespaces \
             and root (its path is the container's /bin/sh)",
        ));
    }
    if !seen.command_saw_start_hook {
        return Err(Failure::fail("the command ran before the startContainer hook had: run the hook first"));
    }
    let at_delete = order_lines(&[&HOOK_STAGES[..3], &["poststart", "poststop"]].concat());
    if seen.order_deleted != at_delete {
        return Err(Failure::fail("once delete has returned, poststop should have run, once, last")
            .compare(at_delete.join("; "), seen.order_deleted.join("; ")));
    }
    let host = host_namespace("mnt")?;
    for stage in ["prestart", "createRuntime", "poststart", "poststop"] {
        let mnt = seen.mnt[stage].clone().unwrap_or_default();
        if mnt != host {
            return Err(Failure::fail(format!(
                "the {stage} hook ran outside the runtime's mount namespace: run it in the runtime, not the container"
            ))
            .compare(host.clone(), mnt));
        }
    }
    let mnt = seen.mnt["createContainer"].clone().unwrap_or_default();
    if mnt != seen.container_mnt {
        return Err(Failure::fail(
            "the createContainer hook did not run in the container's mount namespace: run it in the container's \
             process, before pivot_root",
        )
        .compare(seen.container_mnt.clone(), mnt));
    }
    Ok(())
}

fn hooks_get_the_state(ctx: &mut Ctx) -> Result<(), Failure> {
    let seen = six_hooks(ctx)?;
    // The status as the lifecycle has it when each runs; the create-time
    // and startContainer hooks run between two statuses, either is right.
    let statuses: [(&str, &[&str]); 6] = [
        ("prestart", &["creating", "created"]),
        ("createRuntime", &["creating", "created"]),
        ("createContainer", &["creating", "created"]),
        ("startContainer", &["created", "running"]),
        ("poststart", &["running"]),
        ("poststop", &["stopped"]),
    ];
    for (stage, status) in statuses {
        let Some(text) = seen.stdin[stage].clone() else {
            return Err(Failure::fail(format!("the {stage} hook never ran")));
        };
        let got: Value = serde_json::from_str(&text).map_err(|e| {
            Failure::fail(format!("the {stage} hook's stdin is not the container's state as JSON: {e}"))
                .compare("{\"ociVersion\",\"id\",\"status\",\"pid\",\"bundle\",\"annotations\"}", clip(&text, 300))
        })?;
        let wrong = |what: &str, expected: String, actual: &Value| {
            Err(Failure::fail(format!("the state on the {stage} hook's stdin has the wrong {what}"))
                .compare(expected, actual.to_string()))
        };
        if got["id"] != "hooked" {
            return wrong("id", "\"hooked\"".into(), &got["id"]);
        }
        if got["bundle"] != seen.bundle.as_str() {
            return wrong("bundle (the bundle's absolute path)", format!("{:?}", seen.bundle), &got["bundle"]);
        }
        if got["annotations"] != json!({"greenroom.stage": "hooks"}) {
            return wrong("annotations (the config's)", "{\"greenroom.stage\":\"hooks\"}".into(), &got["annotations"]);
        }
        if stage != "poststop" && got["pid"].as_i64() != seen.created.pid {
            let expected = format!("{:?} (the container's process, as the host numbers it)", seen.created.pid);
            return wrong("pid", expected, &got["pid"]);
        }
        if !status.iter().any(|s| got["status"] == *s) {
            return wrong("status", status.join(" or "), &got["status"]);
        }
    }
    Ok(())
}

/// `create` of a config whose `stage` hook is `failing` (with a recording
/// hook of every other create-time stage, a cgroup, and a command that
/// notes it ran):
/// fails unless `create` exits non-zero and leaves no state, process or
/// cgroup, and no later hook and no command ran.
fn create_fails_on(ctx: &mut Ctx, stage: &str, failing: Value, what: &str) -> Result<(), Failure> {
    let busybox = host_busybox()?;
    let id = format!("fail-{}", stage.to_lowercase());
    let records = ctx.scratch.join(format!("{id}-hooks"));
    fs::create_dir_all(&records).map_err(|e| Failure::error(format!("mkdir {}: {e}", records.display())))?;
    let records_text = records.display().to_string();
    let [a, b, c, d] = crate::ctx::random_bytes::<4>("a cgroup name")?;
    let name = format!("greenroom-hooks-{a:02x}{b:02x}{c:02x}{d:02x}");
    let cgroup = OwnCgroup { dir: Path::new("/sys/fs/cgroup").join(&name) };
    let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    let mut hooks = serde_json::Map::new();
    for other in ["prestart", "createRuntime", "createContainer"] {
        let list = match other == stage {
            true => json!([failing.clone(), hook(&busybox, other, RECORDING_HOOK, &[other, &records_text])]),
            false => json!([hook(&busybox, other, RECORDING_HOOK, &[other, &records_text])]),
        };
        hooks.insert(other.to_string(), list);
    }
    config["hooks"] = Value::Object(hooks);
    let dir = bundle(ctx, &id, Some(&config))?;
    let run = oci(ctx, &["create", "--bundle", &dir.display().to_string(), &id])?;
    refused(&run, &format!("`create` with {what}"))?;
    if state_root(ctx).join(&id).exists() {
        return Err(Failure::fail(format!("after a create that failed on {what}, the container's state is left")));
    }
    let pids = ctx.session_pids();
    if !pids.is_empty() {
        return Err(Failure::fail(format!("after a create that failed on {what}, processes are left running"))
            .compare("none", format!("{pids:?}")));
    }
    if cgroup.dir.exists() {
        return Err(Failure::fail(format!("after a create that failed on {what}, its cgroup is left"))
            .compare("no cgroup", cgroup.dir.display().to_string()));
    }
    let order = lines_of(&records.join("order"));
    let before: Vec<&str> =
        ["prestart", "createRuntime", "createContainer"].into_iter().take_while(|other| *other != stage).collect();
    if order.len() > before.len() || order != order_lines(&before)[..order.len()] {
        return Err(Failure::fail(format!(
            "after {what}, the hooks after it ran: a failing hook stops the container there"
        ))
        .compare(order_lines(&before).join("; "), order.join("; ")));
    }
    if dir.join("rootfs/ran").exists() {
        return Err(Failure::fail(format!("after {what}, the container's command ran")));
    }
    Ok(())
}

fn hooks_failure_stops_the_container(ctx: &mut Ctx) -> Result<(), Failure> {
    let busybox = host_busybox()?;
    let failing = |stage: &str| hook(&busybox, stage, "exit 3", &[]);
    create_fails_on(ctx, "prestart", failing("prestart"), "a prestart hook that exits 3")?;
    create_fails_on(ctx, "createContainer", failing("createContainer"), "a createContainer hook that exits 3")?;
    // startContainer, in the container: `start` fails and the command
    // never runs.
    let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    config["hooks"] = json!({"startContainer": [hook("/bin/busybox", "startContainer", "exit 3", &[])]});
    let dir = bundle(ctx, "fail-start", Some(&config))?;
    oci(ctx, &["create", "--bundle", &dir.display().to_string(), "fail-start"])?
        .expect_code(0, "`create` with a startContainer hook should exit 0 (the hook runs at start)")?;
    let run = oci(ctx, &["start", "fail-start"])?;
    refused(&run, "`start` with a startContainer hook that exits 3")?;
    if dir.join("rootfs/ran").exists() {
        return Err(Failure::fail("after a startContainer hook that exits 3, the container's command ran"));
    }
    await_status(ctx, "fail-start", "stopped", Duration::from_secs(5))?;
    oci(ctx, &["delete", "fail-start"])?.expect_code(0, "`delete` of the stopped container should exit 0")
}

fn hooks_timeout_kills(ctx: &mut Ctx) -> Result<(), Failure> {
    let busybox = host_busybox()?;
    let pid_file = ctx.scratch_path("slow-hook.pid");
    let mut slow = hook(&busybox, "createRuntime", "echo $$ > \"$1\"; exec \"$BB\" sleep 600", &[&pid_file]);
    slow["timeout"] = json!(1);
    let mut config = config(&[ROOTFS_PROBE, "touch", "/ran"]);
    config["hooks"] = json!({"createRuntime": [slow]});
    let dir = bundle(ctx, "slow-hook", Some(&config))?;
    let run = oci(ctx, &["create", "--bundle", &dir.display().to_string(), "slow-hook"])?;
    refused(&run, "`create` with a createRuntime hook that runs past its timeout of 1 s")?;
    let pid = fs::read_to_string(&pid_file).ok().and_then(|text| text.trim().parse::<u32>().ok());
    let Some(pid) = pid else {
        return Err(Failure::fail("the createRuntime hook never ran"));
    };
    if Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid) {
        return Err(Failure::fail(format!(
            "the createRuntime hook (pid {pid}) still runs after its timeout: kill it once its timeout has passed"
        )));
    }
    if state_root(ctx).join("slow-hook").exists() || dir.join("rootfs/ran").exists() {
        return Err(Failure::fail("after a hook past its timeout, the container was created anyway"));
    }
    Ok(())
}

fn hooks_post_failures_warn(ctx: &mut Ctx) -> Result<(), Failure> {
    let busybox = host_busybox()?;
    let records = ctx.scratch.join("post-hooks");
    fs::create_dir_all(&records).map_err(|e| Failure::error(format!("mkdir {}: {e}", records.display())))?;
    let records = records.display().to_string();
    let mut config = config(&["/bin/sh", "-c", "exit 4"]);
    let both = |stage: &str| {
        json!([hook(&busybox, stage, "exit 3", &[]), hook(&busybox, stage, RECORDING_HOOK, &[stage, &records])])
    };
    config["hooks"] = json!({"poststart": both("poststart"), "poststop": both("poststop")});
    let dir = bundle(ctx, "post-fail", Some(&config))?;
    let run = oci(ctx, &["run", "--bundle", &dir.display().to_string(), "post-fail"])?;
    run.expect_code(
        4,
        "`run` whose first poststart and poststop hooks exit 3 should still run the command and exit with its code",
    )?;
    let order = lines_of(&Path::new(&records).join("order"));
    let expected = order_lines(&["poststart", "poststop"]);
    if order != expected {
        return Err(Failure::fail(
            "after a poststart or poststop hook that fails, the next hooks should still run (a failure is a warning)",
        )
        .compare(expected.join("; "), order.join("; ")));
    }
    if state_root(ctx).join("post-fail").exists() {
        return Err(Failure::fail("a poststop hook that failed stopped delete: the container's state is left"));
    }
    if run.stderr.trim().is_empty() {
        return Err(Failure::fail("two hooks failed and the runtime said nothing: warn on stderr"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// podman

/// How long one podman command may take: several seconds under emulation.
const PODMAN_TIMEOUT: Duration = Duration::from_secs(120);

/// The image imported in the capstone's guest.
const IMAGE: &str = "localhost/busybox";

/// Where the probe is in the guest, bound into podman's containers.
fn probe_volume(ctx: &Ctx) -> String {
    format!("{}:/probe:ro", ctx.probe.display())
}

/// `podman --runtime RUNTIME ARGS…`.
fn podman(ctx: &mut Ctx, args: &[&str]) -> Result<Run, Failure> {
    ctx.timeout = PODMAN_TIMEOUT;
    let runtime = ctx.runtime.display().to_string();
    let mut all = vec!["--runtime", runtime.as_str()];
    all.extend_from_slice(args);
    ctx.keep_run(Path::new("podman"), &all)
}

/// How a podman command ended, for a failure: its `Error:` lines in full
/// (where podman quotes the runtime's own error), then what it said before
/// them, clipped. When the runtime's `create` fails, podman's clean-up
/// `delete` speaks first, and its error, which is only a consequence, would
/// otherwise fill the room.
fn podman_said(run: &Run) -> String {
    let ending = match (run.code, run.signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("podman was killed by signal {signal}"),
        (None, None) => "no exit status".to_string(),
    };
    let lines = run.stderr.lines().map(str::trim).filter(|line| !line.is_empty());
    let (errors, before): (Vec<&str>, Vec<&str>) = lines.partition(|line| line.starts_with("Error:"));
    let mut said = ending;
    if !errors.is_empty() {
        said.push_str(&format!(", {}", errors.join(" | ")));
    }
    if !before.is_empty() {
        said.push_str(&format!(" (before it: {})", clip(&before.join(" | "), 300)));
    }
    said
}

/// Fails unless the podman command `run` exited with `code`, quoting
/// podman's error in full (see [`podman_said`]).
fn expect_podman(run: &Run, code: i32, what: &str) -> Result<(), Failure> {
    if run.code == Some(code) {
        return Ok(());
    }
    let said = podman_said(run);
    let what = if said.contains("OCI runtime error") {
        format!("{what}: the runtime failed, and podman quotes its error")
    } else {
        what.to_string()
    };
    Err(Failure::fail(what).compare(format!("exit code {code}"), said))
}

/// Removes every container podman knows, whatever happened in the test.
/// The command to repeat stays the test's own, not this clean-up.
fn podman_clean(ctx: &mut Ctx) {
    let last = ctx.last_command.take();
    let _ = podman(ctx, &["rm", "--force", "--all", "--time", "0"]);
    ctx.last_command = last;
}

/// Whether a podman test leaves containers behind when it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Passing {
    /// Its body ends by proving that podman knows no container of it: the
    /// clean-up (a podman command, about a second under emulation) runs
    /// only when it fails.
    LeavesNothing,
    /// It may leave one (still running, or removed without a check).
    MayLeaveSome,
}

/// Runs `body` and cleans up after it when it failed or may have left a
/// container behind.
fn with_podman(ctx: &mut Ctx, passing: Passing, body: fn(&mut Ctx) -> Result<(), Failure>) -> Result<(), Failure> {
    if which("podman").is_none() {
        return Err(Failure::error("podman is not in this guest: grade chapter 7 in the capstone's guest"));
    }
    let outcome = body(ctx);
    if outcome.is_err() || passing == Passing::MayLeaveSome {
        podman_clean(ctx);
    }
    outcome
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|path| path.is_file())
}

/// `podman run -d … IMAGE /probe sleep MS` and the container's id.
fn podman_detached(ctx: &mut Ctx, extra: &[&str]) -> Result<String, Failure> {
    let volume = probe_volume(ctx);
    let mut args = vec!["run", "-d", "-v", volume.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[IMAGE, ROOTFS_PROBE, contract::plain::SLEEP, "60000"]);
    let run = podman(ctx, &args)?;
    expect_podman(&run, 0, "`podman run -d` should start the container")?;
    let id = run.stdout.lines().last().unwrap_or_default().trim().to_string();
    if id.len() != 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(
            Failure::error("podman run -d printed no container id").compare("a 64-digit id", clip(&run.stdout, 200))
        );
    }
    Ok(id)
}

/// The host pid of a container, from `podman inspect`.
fn podman_pid(ctx: &mut Ctx, id: &str) -> Result<u32, Failure> {
    let run = podman(ctx, &["inspect", "--format", "{{.State.Pid}}", id])?;
    expect_podman(&run, 0, "podman inspect should know the container")?;
    match run.stdout.trim().parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(Failure::fail("podman knows no pid for the running container (the runtime's state has none)")
            .compare("a pid", clip(run.stdout.trim(), 100))),
    }
}

fn podman_run_exit_code(ctx: &mut Ctx) -> Result<(), Failure> {
    with_podman(ctx, Passing::LeavesNothing, |ctx| {
        let run = podman(ctx, &["run", "--rm", IMAGE, "sh", "-c", "exit 3"])?;
        expect_podman(&run, 3, "podman run --rm should relay the container's exit code")?;
        let left = podman(ctx, &["ps", "--all", "--quiet"])?;
        if !left.stdout.trim().is_empty() {
            return Err(Failure::fail("podman run --rm left a container behind: does `delete` work?")
                .compare("no container", clip(&left.stdout, 200)));
        }
        Ok(())
    })
}

fn podman_run_tty(ctx: &mut Ctx) -> Result<(), Failure> {
    with_podman(ctx, Passing::MayLeaveSome, |ctx| {
        // Each stream a terminal, the same one, under the container's own
        // /dev/pts; then an exit code of its own.
        // (`$$`: the shell's own descriptors, not those of the command
        // substitution, whose stdout is a pipe.)
        let script = "test -t 0 && test -t 1 && test -t 2 || exit 10; \
                      case $(readlink /proc/$$/fd/0) in /dev/pts/*) ;; *) exit 11;; esac; \
                      [ \"$(readlink /proc/$$/fd/0)\" = \"$(readlink /proc/$$/fd/1)\" ] || exit 12; \
                      [ \"$(stat -L -c %t:%T /dev/console)\" = \"$(stat -L -c %t:%T /proc/$$/fd/0)\" ] || exit 13; \
                      exit 7";
        let run = podman(ctx, &["run", "--rm", "-t", IMAGE, "sh", "-c", script])?;
        match run.code {
            Some(7) => Ok(()),
            Some(10) => Err(Failure::fail("with -t, the command's stdin, stdout or stderr is not a terminal")
                .compare("a pty on 0, 1 and 2", podman_said(&run))),
            Some(11) => Err(Failure::fail("with -t, the terminal is not under the container's /dev/pts")
                .compare("/dev/pts/N", podman_said(&run))),
            Some(12) => Err(Failure::fail("with -t, stdin and stdout are different terminals")
                .compare("one pty", podman_said(&run))),
            Some(13) => {
                Err(Failure::fail("with -t, /dev/console is not the container's terminal (bind the pty onto it)")
                    .compare("/dev/console: the same device as stdin", podman_said(&run)))
            }
            _ => Err(Failure::fail("podman run -t should run the command on a terminal and relay its exit code")
                .compare("exit 7", podman_said(&run))),
        }
    })
}

fn podman_detached_stop_rm(ctx: &mut Ctx) -> Result<(), Failure> {
    with_podman(ctx, Passing::LeavesNothing, |ctx| {
        let id = podman_detached(ctx, &[])?;
        let pid = podman_pid(ctx, &id)?;
        let ps = podman(ctx, &["ps", "--quiet", "--no-trunc"])?;
        if !ps.stdout.lines().any(|line| line.trim() == id) {
            return Err(Failure::fail("podman ps does not list the running container: does `state` say running?")
                .compare(id.clone(), clip(&ps.stdout, 200)));
        }
        expect_podman(&podman(ctx, &["stop", "--time", "2", &id])?, 0, "podman stop should stop the container")?;
        let status = podman(ctx, &["inspect", "--format", "{{.State.Status}}", &id])?;
        expect_eq("podman's status after stop", "exited", status.stdout.trim())?;
        expect_podman(&podman(ctx, &["rm", &id])?, 0, "podman rm should remove the stopped container")?;
        if Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid) {
            return Err(Failure::fail(format!("the container's process {pid} is still alive after stop and rm")));
        }
        Ok(())
    })
}

fn is_zombie(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

fn podman_exec(ctx: &mut Ctx) -> Result<(), Failure> {
    with_podman(ctx, Passing::MayLeaveSome, |ctx| {
        let id = podman_detached(ctx, &[])?;
        let pid = podman_pid(ctx, &id)?;
        let call = ProbeCall::<Report>::new(ROOTFS_PROBE, &[])?;
        let mut args = vec!["exec", id.as_str()];
        args.extend(call.command());
        let run = podman(ctx, &args)?;
        expect_podman(&run, 0, "podman exec should run the probe in the running container")?;
        let report = call.read(&run)?;
        for (kind, inside) in [("pid", &report.namespaces.pid), ("mnt", &report.namespaces.mnt)] {
            let container = fs::read_link(format!("/proc/{pid}/ns/{kind}"))
                .map(|link| link.display().to_string())
                .map_err(|e| Failure::error(format!("read /proc/{pid}/ns/{kind}: {e}")))?;
            if inside.as_deref() != Some(container.as_str()) {
                return Err(Failure::fail(format!("the exec'd process is not in the container's {kind} namespace"))
                    .compare(container, inside.clone().unwrap_or_default()));
            }
        }
        Ok(())
    })
}

fn podman_resources(ctx: &mut Ctx) -> Result<(), Failure> {
    with_podman(ctx, Passing::MayLeaveSome, |ctx| {
        let id = podman_detached(ctx, &["--memory", "64m", "--pids-limit", "20"])?;
        let pid = podman_pid(ctx, &id)?;
        let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let path = cgroup.lines().find_map(|line| line.strip_prefix("0::")).unwrap_or("").trim().to_string();
        let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
        let read = |name: &str| fs::read_to_string(dir.join(name)).map(|s| s.trim().to_string()).unwrap_or_default();
        if path.is_empty() || path == "/" || !path.contains(&id[..12]) && !path.contains("libpod") {
            return Err(Failure::fail("the container's process is not in a cgroup of its own (linux.cgroupsPath)")
                .compare("/libpod_parent/libpod-ID", path.clone()));
        }
        expect_eq(&format!("memory.max of {}", dir.display()), "67108864", read("memory.max").as_str())?;
        expect_eq(&format!("pids.max of {}", dir.display()), "20", read("pids.max").as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn podman_failed(stderr: &str) -> Run {
        Run {
            code: Some(126),
            signal: None,
            stdout: String::new(),
            stderr: stderr.to_string(),
            cgroups_left: Vec::new(),
            processes_left: None,
        }
    }

    #[test]
    fn podmans_error_line_comes_whole_and_first() {
        // What podman 4 printed when the runtime's create failed: the
        // clean-up's delete speaks first.
        let long = "x".repeat(400);
        let run = podman_failed(&format!(
            "greenroom: no container \"06f1\" in /run/greenroom\n\
             time=\"2026-12-07T12:49:37Z\" level=error msg=\"Removing container 06f1 from runtime after creation \
             failed\"\nError: OCI runtime error: /greenroom/bin/runtime: greenroom: rlimit {long}\n"
        ));
        let said = podman_said(&run);
        assert!(said.starts_with("exit code 126, Error: OCI runtime error: /greenroom/bin/runtime"), "{said}");
        assert!(said.contains(&long), "the runtime's error is whole: {said}");
        assert!(said.contains("(before it: greenroom: no container"), "{said}");
        let failure = expect_podman(&run, 3, "podman run should relay the exit code").expect_err("exit 126 is not 3");
        assert!(failure.message.ends_with("the runtime failed, and podman quotes its error"), "{failure:?}");
        assert!(expect_podman(&Run { code: Some(3), ..run }, 3, "").is_ok());
    }
}
