//! The second and third tiers of `checker hint`, per test: after the
//! test's own nudge (its `hint`, which the report shows too), the concept
//! behind it, then the exact call. A test without an entry here gets the
//! book section and the observed values in tier 2, and the command the
//! test ran in tier 3, as every test does.
//!
//! Kept apart from the suite so that the report, which shows only the
//! nudge, never gives the answer away; a unit test checks that every
//! entry names a real test.

/// What `checker hint` adds for one test after the nudge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// Tier 2: the idea the test checks, in a sentence or two.
    pub concept: &'static str,
    /// Tier 3: the calls, flags or steps that do it.
    pub call: &'static str,
}

/// The tiers of the test named `name`, if it has any.
pub fn of(name: &str) -> Option<Tiers> {
    TIERS.iter().find(|(test, _)| *test == name).map(|(_, tiers)| *tiers)
}

const fn t(concept: &'static str, call: &'static str) -> Tiers {
    Tiers { concept, call }
}

/// Every test with tiers, by name (names are unique across chapters).
pub const TIERS: &[(&str, Tiers)] = &[
    // Chapter 0.
    (
        "exit-code-relayed",
        t(
            "The runtime waits for its child and ends the way the child ended; a normal exit carries an \
             8-bit code.",
            "waitpid(child, None) returns WaitStatus::Exited(_, code): exit_code returns `code as u8`, and \
             cli::main ends with ExitCode::from(code).",
        ),
    ),
    (
        "output-relayed",
        t(
            "A child inherits its parent's open descriptors, 0, 1 and 2 among them: there is nothing to copy.",
            "Do not close, dup2 or redirect stdin, stdout or stderr anywhere between clone and execvp.",
        ),
    ),
    (
        "argv-and-env-passed",
        t(
            "execvp takes the argument list as the program will see it, argv[0] included, and passes on the \
             caller's environment.",
            "Pass every argument as a CString, unchanged, to nix::unistd::execvp(&argv[0], &argv); clap needs \
             trailing_var_arg and allow_hyphen_values to keep arguments that start with '-'.",
        ),
    ),
    (
        "not-found-is-127",
        t(
            "The child reports exec's errno over the report pipe; the parent maps it like a shell does.",
            "ChildFailure::Exec with errno ENOENT or ENOTDIR → 127.",
        ),
    ),
    (
        "not-executable-is-126",
        t(
            "A file that exists but cannot be executed is the shell's 126, whatever the errno.",
            "ChildFailure::Exec with any errno other than ENOENT and ENOTDIR (EACCES here) → 126.",
        ),
    ),
    (
        "signal-is-128-plus-n",
        t(
            "A process killed by a signal has no exit code; the shell convention reports 128 + the signal's \
             number.",
            "WaitStatus::Signaled(_, signal, _) → 128 + signal as u8 (137 for SIGKILL, 143 for SIGTERM).",
        ),
    ),
    (
        "runs-in-a-child",
        t(
            "The command must run in a new process while the runtime stays itself, to wait and to clean up.",
            "nix::sched::clone(Box::new(body), &mut stack, flags, Some(Signal::SIGCHLD as i32)), with a \
             CHILD_STACK_SIZE stack, in an unsafe block: never call body() yourself.",
        ),
    ),
    (
        "waits-for-the-command",
        t(
            "The runtime ends only when its command has: whoever started it sees the container's end.",
            "waitpid(child, None) before returning; the exit signal SIGCHLD makes the child one waitpid can see.",
        ),
    ),
    // Chapter 1.
    (
        "hostname-set-inside",
        t(
            "sethostname changes the hostname of the UTS namespace of the calling process: the container's \
             name must be set by the container's process.",
            "In UtsLayer::enter_child: nix::unistd::sethostname(hostname.as_str()), its Errno mapped to \
             UtsError::SetHostname.",
        ),
    ),
    (
        "own-uts-namespace",
        t(
            "A namespace is created at clone time by a flag; without it the child shares the host's, even \
             when no hostname is asked.",
            "UtsLayer::clone_flags returns CloneFlags::CLONE_NEWUTS, always; spawn_child passes `flags` to \
             clone untouched.",
        ),
    ),
    (
        "host-hostname-unchanged",
        t(
            "Set in the parent, or in a child without a namespace of its own, the name lands on the host.",
            "CLONE_NEWUTS in clone_flags and sethostname in enter_child (the child), never in prepare_parent.",
        ),
    ),
    (
        "invalid-hostname-refused",
        t(
            "A bad name is a mistake in the command line: refuse it before anything exists, with exit code 125.",
            "layers() calls Hostname::parse first and returns its HostnameError with `?`; parse checks: \
             empty, > 64 bytes, a character outside [A-Za-z0-9.-], a label empty or > 63, '-' at a label's edge.",
        ),
    ),
    (
        "longest-hostname-accepted",
        t(
            "Two limits: one for the whole name, one for each label.",
            "name.len() > 64 → TooLong; label.len() > 63 → BadLabelLength.",
        ),
    ),
    (
        "own-ipc-namespace",
        t(
            "System V IPC and POSIX message queues belong to an IPC namespace, made by its own clone flag.",
            "IpcLayer::clone_flags returns CloneFlags::CLONE_NEWIPC, and layers() pushes an IpcLayer.",
        ),
    ),
    (
        "host-ipc-invisible",
        t(
            "msgget(key) and mq_open(name) look in the caller's IPC namespace; a new one starts empty.",
            "CLONE_NEWIPC among the clone flags (IpcLayer in the list of layers).",
        ),
    ),
    (
        "container-ipc-stays-inside",
        t(
            "An IPC namespace is destroyed, with every object in it, when its last process ends.",
            "CLONE_NEWIPC among the clone flags (IpcLayer in the list of layers).",
        ),
    ),
    // Chapter 2.
    (
        "command-is-pid-2",
        t(
            "The child of clone is PID 1 of a new PID namespace; it stays behind as the init, and its own \
             child, PID 2, becomes the command.",
            "PidLayer::clone_flags includes CLONE_NEWPID; PidLayer::init returns Some(&TinyInit); the core's \
             start_init forks: the child unblocks the command's mask and returns, the parent runs init.run(child).",
        ),
    ),
    (
        "own-pid-namespace",
        t(
            "A PID namespace is made at clone time; /proc needs a mount namespace of its own too.",
            "CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS from PidLayer::clone_flags.",
        ),
    ),
    (
        "proc-shows-only-the-container",
        t(
            "A procfs shows the PID namespace of the process that mounts it: mount a new one from inside.",
            "In enter_child: mount(Some(\"proc\"), \"/proc\", Some(\"proc\"), MS_NOSUID | MS_NODEV | MS_NOEXEC, None).",
        ),
    ),
    (
        "host-processes-invisible",
        t(
            "A process has no number for the processes of an ancestor namespace: it cannot name them to signal them.",
            "The command must run inside the namespace: CLONE_NEWPID in the flags, and exec in the child of clone.",
        ),
    ),
    (
        "orphans-reaped",
        t(
            "Orphans are re-parented to PID 1, and SIGCHLD does not queue: one signal may stand for many \
             ended children.",
            "In reap_children: loop on waitpid(None, Some(WaitPidFlag::WNOHANG)) until StillAlive or an \
             error (ECHILD); remember the command's code and keep reaping.",
        ),
    ),
    (
        "signals-reach-the-command",
        t(
            "Two hops: the runtime's handler sends the signal to the init, and the init, which the kernel \
             spares from default actions, passes it on to the command.",
            "forward_signals_to: sigaction(signal, SigAction::new(SigHandler::Handler(forward_to_container), \
             SA_RESTART, empty)) for each of FORWARDED; TinyInit::run: sigwait, then kill(command, signal); \
             the command's mask restored in start_init's child.",
        ),
    ),
    (
        "host-proc-untouched",
        t(
            "A mount in a namespace whose / is shared propagates back to the host.",
            "mount(None, \"/\", None, MS_REC | MS_PRIVATE, None) before mounting proc, with CLONE_NEWNS in the flags.",
        ),
    ),
    // Chapter 3.
    (
        "mounts-inside",
        t(
            "The new root needs the kernel's views mounted inside it, and nothing of the host's left under it.",
            "mount_proc_and_sys: proc on new_root/proc with SAFE, sysfs on new_root/sys with SAFE | MS_RDONLY; \
             then pivot_root, umount2(old root, MNT_DETACH), populate_dev.",
        ),
    ),
    (
        "host-root-unreachable",
        t(
            "chroot changes one setting of one process; pivot_root changes the namespace's root, and the old \
             root can then be unmounted.",
            "mount(None, \"/\", MS_REC | MS_PRIVATE); mount(new_root, new_root, MS_BIND | MS_REC); chdir(new_root); \
             pivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH); chdir(\"/\").",
        ),
    ),
    (
        "dev-has-only-safe-devices",
        t(
            "A device node reaches its driver wherever it lives: the container gets a tmpfs with six nodes, \
             never the host's /dev.",
            "tmpfs on /dev (MS_NOSUID | MS_NOEXEC, \"mode=755\"); mknod each of DEVICES as S_IFCHR, mode 0o666 \
             (fchmodat after, for the umask; host.bind(name) on EPERM); devpts on /dev/pts with \
             \"newinstance,ptmxmode=0666,mode=0620\"; tmpfs on /dev/shm with \"mode=1777\"; the LINKS.",
        ),
    ),
    (
        "sys-read-only",
        t(
            "sysfs shows the host's hardware and kernel knobs: the container may read it, not write it.",
            "Mount sysfs with SAFE | MS_RDONLY.",
        ),
    ),
    (
        "read-only-root",
        t(
            "A bind mount's flags change with a remount of the mount itself; the flags it has must be kept.",
            "Last, after /dev: mount(None, \"/\", None, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(\"/\"), None).",
        ),
    ),
    (
        "starts-in-the-new-root",
        t(
            "After pivot_root the process's working directory may still be the old root; /proc must be the \
             new PID namespace's.",
            "chdir(\"/\") after the old root is unmounted; proc mounted in new_root before pivot_root.",
        ),
    ),
    (
        "host-mounts-unchanged",
        t(
            "A copy of a shared mount joins its peer group: every mount the container makes reaches the host.",
            "mount(None, \"/\", None, MS_REC | MS_PRIVATE, None) first in pivot_into.",
        ),
    ),
    (
        "bad-rootfs-refused",
        t(
            "A --rootfs that cannot work is a command-line mistake: refuse it with 125 before clone.",
            "Rootfs::parse: not path.is_absolute() → Relative; fs::metadata fails → Missing; not is_dir() → \
             NotADirectory.",
        ),
    ),
    // Chapter 4.
    (
        "interfaces-inside",
        t(
            "One end of the veth pair lives in the container's namespace; inside, an interface needs an address \
             and to be up before a route can use it.",
            "Move the veth peer in, rename it eth0, then from inside: address, link up, default route via the \
             gateway.",
        ),
    ),
    (
        "loopback-works",
        t(
            "A new network namespace has its own lo, and it starts down.",
            "A new network namespace has lo, but down: set IFF_UP on it from inside.",
        ),
    ),
    (
        "host-interfaces-invisible",
        t(
            "Interfaces, addresses and routes belong to a network namespace, made at clone time.",
            "Add CLONE_NEWNET to the clone flags.",
        ),
    ),
    (
        "containers-reach-each-other",
        t(
            "A bridge is a switch: each container's cable (the veth's host end) must be plugged into it and \
             switched on.",
            "Attach each host end to the bridge (master) and set both ends up; every container needs its own \
             address.",
        ),
    ),
    (
        "host-reaches-container",
        t(
            "The bridge is the host's side of the subnet: it needs an address in it, and to be up.",
            "Give the bridge the subnet's first host address and set it up.",
        ),
    ),
    (
        "gateway-mac-stable",
        t(
            "A bridge without an address of its own takes one of its ports', which changes as they come and go.",
            "Create the bridge with a fixed MAC address (IFLA_ADDRESS): without one it takes its lowest port's.",
        ),
    ),
    (
        "no-network",
        t(
            "No network is still a namespace of its own, only without the cable.",
            "With --net none, unshare the namespace and bring lo up, but make no veth and no lease.",
        ),
    ),
    (
        "cleanup-after-exit",
        t(
            "What prepare_parent made on the host, cleanup must remove, once the child is gone.",
            "Delete the host end of the veth pair (that removes both ends) and the lease file once the child is \
             reaped.",
        ),
    ),
    (
        "cleanup-after-container-killed",
        t(
            "The runtime learns the child ended the same way however it ended: clean up on that path, not only on \
             a normal exit.",
            "Clean up on every path where the child has ended, whatever ended it.",
        ),
    ),
    (
        "stale-lease-reclaimed",
        t(
            "A lease names its owner; an owner that no longer runs holds nothing.",
            "Before taking an address, drop leases whose owner (pid and start time) is no longer running.",
        ),
    ),
    (
        "distinct-addresses",
        t(
            "Taking a lease must be atomic: checking and then creating leaves a gap another runtime can use.",
            "Take the lease atomically: create the lease file with O_CREAT | O_EXCL and try the next address if \
             it exists.",
        ),
    ),
    (
        "bad-network-refused",
        t(
            "Every check that can fail comes before the first link exists, so that a refusal leaves nothing to \
             clean.",
            "Check every network argument, and take the lease, before creating any link.",
        ),
    ),
    // Chapter 5.
    (
        "maps-as-asked",
        t(
            "Maps are written from outside, by the parent, while the child waits; the child then takes id 0 of \
             the namespace.",
            "The parent writes /proc/PID/uid_map and gid_map in prepare_parent; the child then takes ids 0.",
        ),
    ),
    (
        "setgroups-denied",
        t(
            "The kernel protects negative group permissions: setgroups must be denied first when the gid map is \
             written without privilege.",
            "Write \"deny\" to /proc/PID/setgroups before gid_map when the map is written without privilege.",
        ),
    ),
    (
        "root-inside-full-caps",
        t(
            "Capabilities come with uid 0 of a user namespace at exec; the child must become it.",
            "CLONE_NEWUSER in the clone flags; setresuid/setresgid to 0 of the namespace before exec.",
        ),
    ),
    (
        "namespaces-owned-by-it",
        t(
            "A namespace is owned by the user namespace its creator was in when it was made.",
            "Create the user namespace in the same clone as the others: the kernel makes it first.",
        ),
    ),
    (
        "files-owned-by-mapped-id",
        t(
            "The kernel stores host ids; the map translates them for processes running as ids of the namespace.",
            "The command must run as uid and gid 0 of the namespace, which the map turns into host ids.",
        ),
    ),
    (
        "host-root-files-closed",
        t(
            "Capabilities in a user namespace do not apply to a file whose owner is not mapped in it.",
            "Map container root to an unprivileged host id: capabilities do not apply to unmapped owners.",
        ),
    ),
    (
        "host-hostname-out-of-reach",
        t(
            "Power over a namespace comes from the user namespace that owns it.",
            "The host's namespaces belong to the host's user namespace, in which the container has no power.",
        ),
    ),
    (
        "rootless-range",
        t(
            "Mapping more than your own id needs a privileged helper that checks /etc/subuid and /etc/subgid.",
            "Map 1 <subuid start> <count> after 0 <own id> 1, written by newuidmap and newgidmap.",
        ),
    ),
    (
        "rootless-mount-flags",
        t(
            "A user namespace changes nothing about the flags a mount is given: rootless, /proc, /sys, /dev, \
             /dev/pts and /dev/shm are chapter 3's mounts, with chapter 3's flags.",
            "Make the same calls as root does: SAFE on /proc and /dev/shm, SAFE | MS_RDONLY on /sys, \
             MS_NOSUID | MS_NOEXEC on /dev and /dev/pts, the mode= data; a fallback taken only in a user \
             namespace that binds instead of mounting gets its flags from a remount of the bind.",
        ),
    ),
    (
        "rootless-refusals",
        t(
            "Some things need root on the host whatever the namespaces say: check before clone.",
            "Check what an unprivileged caller asks for before clone, and refuse with one clear line.",
        ),
    ),
    (
        "bad-maps-refused",
        t(
            "The kernel refuses a bad map with a bare EINVAL, after the child exists; the runtime can say why, \
             first.",
            "Parse and check every --uid-map and --gid-map before anything is created.",
        ),
    ),
    // Chapter 6.
    (
        "limits-read-back-inside",
        t(
            "A cgroup's limits are files in its directory; they must be written before the command can run.",
            "Write memory.max, memory.swap.max = 0, pids.max and cpu.max (\"QUOTA 100000\") in prepare_parent, \
             before the child is released; mount cgroup2 read-only on /sys/fs/cgroup inside.",
        ),
    ),
    (
        "cgroup-namespace-root",
        t(
            "A cgroup namespace's root is the cgroup its creator was in when it was made.",
            "Unshare CLONE_NEWCGROUP in enter_child, after prepare_parent moved the child: a cgroup namespace's \
             root is the cgroup its creator is in.",
        ),
    ),
    (
        "cgroup-mount-read-only",
        t(
            "The container reads its cgroup through the cgroup2 mounted inside; it must not write it, and \
             nothing there is to be executed, set-uid or a device.",
            "mount(Some(\"cgroup2\"), \"/sys/fs/cgroup\", Some(\"cgroup2\"), MS_RDONLY | MS_NOSUID | MS_NODEV | \
             MS_NOEXEC, None) in enter_child, after unshare(CLONE_NEWCGROUP).",
        ),
    ),
    (
        "fork-bomb-stops-at-pids-max",
        t(
            "pids.max counts every process and thread in the cgroup, and the kernel refuses fork past it.",
            "Write pids.max before the child is released; the kernel answers fork with EAGAIN past it.",
        ),
    ),
    (
        "oom-kill-reported",
        t(
            "The cgroup counts the OOM killer's kills; the count goes with the cgroup.",
            "After the command died, read memory.events in cleanup, before removing the cgroup: oom_kill > 0 \
             means the kernel's OOM killer did it.",
        ),
    ),
    (
        "plain-137-is-not-oom",
        t(
            "Any SIGKILL gives 137: only the cgroup knows whether the OOM killer sent it.",
            "Tell an OOM kill by memory.events' oom_kill count, never by the exit code 137 alone.",
        ),
    ),
    (
        "cpu-quota-throttles",
        t(
            "cpu.max is a quota of run time per period, for the whole cgroup.",
            "Write cpu.max as \"20000 100000\" for --cpus 0.2 (quota, then the period of 100000 µs), with the cpu \
             controller enabled above.",
        ),
    ),
    (
        "no-cgroup-left",
        t(
            "A cgroup with processes in it cannot be removed, and a dying process may take a moment to go.",
            "In cleanup: write 1 to cgroup.kill, wait for cgroup.procs to empty, rmdir (with a few retries); a \
             runtime that moved itself into a leaf moves back out and removes it.",
        ),
    ),
    (
        "stale-cgroups-removed",
        t(
            "A cgroup named after its runtime's pid can be recognised as stale once that runtime is gone.",
            "On start, remove the empty cgroups under the parent whose runtime (the pid in their name) is gone.",
        ),
    ),
    (
        "bad-limits-refused",
        t(
            "Limits are checked when the arguments are parsed, so that a typo costs nothing.",
            "Parse --memory, --pids and --cpus when the arguments are parsed, and exit 125 with one line; make no \
             cgroup first.",
        ),
    ),
    (
        "grader-limits-still-hold",
        t(
            "Limits are hierarchical: a cgroup made under the runtime's own stays within its limits, one made at \
             the root escapes them.",
            "By default make the container's cgroup under the cgroup in /proc/self/cgroup's 0:: line, not at the \
             root of the hierarchy.",
        ),
    ),
    (
        "rootless-limits-refused",
        t(
            "An ordinary user can only manage a delegated cgroup subtree.",
            "For a caller who is not root, check write access to the parent cgroup before anything is made: \
             refuse limits, run without a cgroup when none is asked.",
        ),
    ),
    // Chapter 7.
    (
        "caps-default-set",
        t(
            "A process has five capability sets; root's are full unless the runtime shrinks them. The \
             bounding set limits what any later exec can gain, so it is dropped one capability at a time; \
             the others are set at once.",
            "For each capability not in process.capabilities.bounding: caps::drop(None, CapSet::Bounding, \
             cap); then caps::set for Permitted, Inheritable and Effective from the config, and clear \
             Ambient (caps::clear(None, CapSet::Ambient)).",
        ),
    ),
    (
        "caps-match-config",
        t(
            "A process that is not root keeps across execve only its ambient capabilities, and a capability \
             can be ambient only while it is permitted and inheritable.",
            "After the change of user: bounding, then permitted, inheritable, effective with caps::set, and \
             the ambient set last, capability by capability (caps::raise(None, CapSet::Ambient, cap)).",
        ),
    ),
    (
        "process-user",
        t(
            "The container's process takes the config's identity: supplementary groups, then gid, then uid \
             (after setuid, it may no longer change its groups).",
            "setgroups(additionalGids) (an empty list when there are none), setresgid(gid, gid, gid), \
             prctl(PR_SET_KEEPCAPS, 1), setresuid(uid, uid, uid).",
        ),
    ),
    (
        "no-new-privs",
        t(
            "no_new_privs stops execve from granting privilege (setuid bits, file capabilities) and lets an \
             unprivileged process load a seccomp filter.",
            "prctl(PR_SET_NO_NEW_PRIVS, 1) when process.noNewPrivileges is true, and not otherwise \
             (nix::sys::prctl::set_no_new_privs).",
        ),
    ),
    (
        "seccomp-profile-enforced",
        t(
            "The filter belongs on the container's process, loaded before exec: a filter is inherited across \
             fork and execve, never removed.",
            "Compile linux.seccomp into BPF in the parent (from_spec), load it in the child with \
             seccomp(SECCOMP_SET_MODE_FILTER) last when no_new_privs is on, early when it is off; each \
             rule's errnoRet becomes SECCOMP_RET_ERRNO | errno.",
        ),
    ),
    (
        "masked-paths-empty",
        t(
            "Masking hides a path of the container's own /proc or /sys: it must happen after pivot_root and \
             the config's mounts, on the paths inside the new root.",
            "In the new root: bind /dev/null over each masked file, and mount an empty read-only tmpfs over \
             each masked directory; skip paths that do not exist.",
        ),
    ),
    (
        "readonly-paths-refuse-writes",
        t(
            "A read-only path is a mount of its own, read-only, so the rest of /proc stays writable.",
            "mount(path, path, MS_BIND | MS_REC), then mount(path, path, MS_BIND | MS_REMOUNT | MS_RDONLY | \
             the flags it already has).",
        ),
    ),
    (
        "namespaces-distinct",
        t(
            "Each entry of linux.namespaces without a path asks for a new namespace of that type; with a \
             path, the runtime joins that one instead.",
            "Map each type to its CLONE_NEW* flag and pass them all to the one clone; for entries with a \
             path, open it and setns(fd, type) at the right moment: with a new user namespace, in the runtime \
             before the clone (the child is root only in its new namespace), otherwise in the child.",
        ),
    ),
    (
        "lifecycle-and-state",
        t(
            "create leaves the container's process waiting, set up, before the command; start releases it; \
             the state's status is computed from the process now, not only read back.",
            "create: state directory, record, exec FIFO, clone, wait for the child at the gate, record its \
             host pid; start: open the FIFO for reading; state: kill(pid, 0) and /proc/PID/stat's start time \
             decide running or stopped.",
        ),
    ),
    (
        "wrong-state-refused",
        t(
            "Every command checks the status now before it acts, under the container's lock.",
            "start only when created; delete without --force only when stopped; kill only when created or \
             running; otherwise one line and exit 1, state unchanged.",
        ),
    ),
    (
        "bad-bundles-refused",
        t(
            "A bundle is read and checked whole before anything exists: config.json parses, every namespace \
             type is known, root.path is a directory, every mount destination stays inside the root.",
            "Bundle::load and plan() before create_container: parse with oci-spec, canonicalize \
             bundle/root.path, refuse unknown types and destinations with .. that leave the root; exit 125.",
        ),
    ),
    (
        "escapes-blocked",
        t(
            "No one layer blocks every escape: capabilities, seccomp, masked and read-only paths and a PID 1 \
             that is not dumpable each close some.",
            "Podman's 14 capabilities (no SYS_ADMIN, SYS_MODULE, SYS_PTRACE), the course's profile (mknod of \
             S_IFBLK, mount, unshare, ptrace refused), /proc/sysrq-trigger read-only, /sys/firmware masked, \
             prctl(PR_SET_DUMPABLE, 0) first in apply.",
        ),
    ),
    (
        "host-descriptors-unreachable",
        t(
            "Close-on-exec descriptors are still open until execve: a process.cwd of /proc/self/fd/N reaches \
             whatever they name, on the host.",
            "After chdir(process.cwd), call getcwd(): it fails with ENOENT for a directory outside the root; \
             refuse then.",
        ),
    ),
    (
        "symlinked-mount-target-stays-inside",
        t(
            "A symbolic link in the image is the image's: resolved on the host, an absolute link leads out \
             of the rootfs.",
            "Resolve the destination component by component inside the rootfs (a link's absolute target \
             restarts at the rootfs, .. stops at it), create what is missing, then mount on the result.",
        ),
    ),
    (
        "mount-options-honoured",
        t(
            "mount(2) with MS_BIND ignores the other flags it is given: a bind mount gets ro, nosuid, nodev \
             and noexec from a remount of itself. Other file systems take them in their one mount, and the \
             options with a = as their data.",
            "mount(source, target, None, MS_BIND | MS_REC, None), then, if the options set any flag, \
             mount(None, target, None, MS_REMOUNT | MS_BIND | the flags | locked_flags(target), None); a \
             tmpfs: mount(source, target, \"tmpfs\", the flags, Some(\"mode=1770,size=2048k\")).",
        ),
    ),
    (
        "delete-waits-for-create",
        t(
            "Two commands on one container must not interleave: each holds the container's lock from its \
             first read to its last write.",
            "flock(lock file, LOCK_EX) in every command, create included, before reading state.json; held \
             until the command ends.",
        ),
    ),
    (
        "podman-run-exit-code",
        t(
            "conmon runs create, start, state and delete, and reads the container's exit code from its own \
             wait: the container's process must be conmon's child, via the pid file.",
            "Write --pid-file at create; exit 0 from create once the process waits at the gate; state says \
             stopped once the process is gone; delete removes the state.",
        ),
    ),
    (
        "podman-run-tty",
        t(
            "With process.terminal, the runtime makes a pty inside the container and hands its master to \
             conmon over the --console-socket.",
            "In the child, after the mounts: open /dev/pts/ptmx, unlockpt, open the slave, dup2 it onto 0, 1 \
             and 2, setsid and TIOCSCTTY, send the master with SCM_RIGHTS on the socket.",
        ),
    ),
    (
        "podman-detached-stop-rm",
        t(
            "podman stop is kill with SIGTERM, then SIGKILL after the timeout, then state until it says \
             stopped.",
            "kill ID SIGNAL with numbers and names (15, TERM, SIGTERM); --all signals every process of the \
             container's cgroup; state reads stopped once the pid is gone or a zombie.",
        ),
    ),
    (
        "podman-exec",
        t(
            "exec starts one more process in a running container: it joins every namespace of the \
             container's process, then takes the process's hardening.",
            "open /proc/PID/ns/* of the container's process, setns each (the PID namespace before the fork, \
             so the child is in it), then the same ProcessHardening from --process FILE, and exec.",
        ),
    ),
    (
        "podman-resources",
        t(
            "linux.cgroupsPath names the container's cgroup and linux.resources its limits, written before \
             the command runs.",
            "Make the cgroup (chapter 6), write memory.max from resources.memory.limit and pids.max from \
             resources.pids.limit, move the child in while it waits.",
        ),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_names_a_test_once() {
        let names: Vec<&str> = suite::catalog().iter().map(|t| t.name).collect();
        for (i, (name, _)) in TIERS.iter().enumerate() {
            assert!(names.contains(name), "tiers for {name:?}, which is no test");
            assert!(!TIERS[..i].iter().any(|(other, _)| other == name), "{name:?} twice");
        }
    }
}
