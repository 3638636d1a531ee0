//! The second and third tiers of `checker hint`, per test: after the
//! test's own nudge (its `hint`, which the report shows too), the concept
//! behind it, then the calls and their order, named but never shown as
//! code (a unit test holds every tier to that, and each tier 3 follows
//! the reference's order, so it works as written). A test without an
//! entry here gets the book section and the observed values in tier 2,
//! and the command the test ran in tier 3, as every test does.
//!
//! Kept apart from the suite so that the report, which shows only the
//! nudge, never gives the answer away; a unit test checks that every
//! entry names a real test.

/// What `checker hint` adds for one test after the nudge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// Tier 2: the idea the test checks, in a sentence or two.
    pub concept: &'static str,
    /// Tier 3: the calls, flags and steps that do it, in their order, in
    /// words: no code.
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
            "waitpid on the child, then exit_code: the code of WaitStatus::Exited as it is (it fits a \
             u8), any state other than Exited or Signaled is the runtime's 125; cli::main calls try_parse, \
             prints clap's error with its print method and ends with 125 when use_stderr says so and 0 \
             otherwise, then calls run and ends with an ExitCode made from its Ok code.",
        ),
    ),
    (
        "output-relayed",
        t(
            "A child inherits its parent's open descriptors, 0, 1 and 2 among them: there is nothing to copy.",
            "None: no close, dup2 or redirection of descriptors 0, 1 and 2 anywhere between clone \
             and execvp.",
        ),
    ),
    (
        "argv-and-env-passed",
        t(
            "execvp takes the argument list as the program will see it, argv[0] included, and passes on the \
             caller's environment.",
            "Turn every argument into a CString, unchanged, and give execvp the first as the program \
             and all of them as its argv; clap keeps arguments that start with '-' with \
             trailing_var_arg and allow_hyphen_values.",
        ),
    ),
    (
        "not-found-is-127",
        t(
            "The child reports exec's errno over the report pipe; the parent maps it like a shell does.",
            "In ChildFailure's exit_code: an Exec failure whose errno is ENOENT or ENOTDIR gives \
             127, a Setup failure or an Aborted child 125. In cli::main, on an Err: print it as one \
             greenroom line with the alternate format, which adds the causes; find the core's Error \
             inside with downcast_ref and end with its exit_code, and with 125 when there is none.",
        ),
    ),
    (
        "not-executable-is-126",
        t(
            "A file that exists but cannot be executed is the shell's 126, whatever the errno.",
            "In ChildFailure's exit_code: an Exec failure with any other errno (EACCES here) gives \
             126.",
        ),
    ),
    (
        "signal-is-128-plus-n",
        t(
            "A process killed by a signal has no exit code; the shell convention reports 128 + the signal's \
             number.",
            "In exit_code: WaitStatus::Signaled gives 128 plus the signal's number (137 for SIGKILL, \
             143 for SIGTERM).",
        ),
    ),
    (
        "runs-in-a-child",
        t(
            "The command must run in a new process while the runtime stays itself, to wait and to clean up.",
            "nix's clone, in an unsafe block, with the body as a boxed closure, a stack of \
             CHILD_STACK_SIZE bytes, the layers' flags and SIGCHLD as the exit signal; never call \
             the body yourself.",
        ),
    ),
    (
        "waits-for-the-command",
        t(
            "The runtime ends only when its command has: whoever started it sees the container's end.",
            "waitpid on the child before returning; SIGCHLD as clone's exit signal makes the child \
             one waitpid sees.",
        ),
    ),
    // Chapter 1.
    (
        "hostname-set-inside",
        t(
            "sethostname changes the hostname of the UTS namespace of the calling process: the container's \
             name must be set by the container's process.",
            "In UtsLayer's enter_child: sethostname with the parsed name, its Errno turned into \
             UtsError::SetHostname.",
        ),
    ),
    (
        "own-uts-namespace",
        t(
            "A namespace is created at clone time by a flag; without it the child shares the host's, even \
             when no hostname is asked.",
            "UtsLayer's clone_flags returns CLONE_NEWUTS, always; spawn_child hands the flags to \
             clone as they are.",
        ),
    ),
    (
        "host-hostname-unchanged",
        t(
            "Set in the parent, or in a child without a namespace of its own, the name lands on the host.",
            "CLONE_NEWUTS in clone_flags and sethostname in enter_child (the child), never in \
             prepare_parent.",
        ),
    ),
    (
        "invalid-hostname-refused",
        t(
            "A bad name is a mistake in the command line: refuse it before anything exists, with exit code 125.",
            "layers calls Hostname::parse first and returns its error; parse refuses, in turn: an \
             empty name, more than 64 bytes, a character outside letters, digits, '.' and '-', an \
             empty label or one over 63 bytes, a '-' at a label's edge.",
        ),
    ),
    (
        "longest-hostname-accepted",
        t(
            "Two limits: one for the whole name, one for each label.",
            "In Hostname::parse: over 64 bytes in all is TooLong; a label over 63 bytes is \
             BadLabelLength; exactly 64 and 63 pass.",
        ),
    ),
    (
        "own-ipc-namespace",
        t(
            "System V IPC and POSIX message queues belong to an IPC namespace, made by its own clone flag.",
            "IpcLayer's clone_flags returns CLONE_NEWIPC. layers: parse the hostname when there is one \
             (map the Option through Hostname::parse, transpose, then the question mark), start from \
             spawn's layers of the same arguments, push a UtsLayer with the parsed name, then an \
             IpcLayer.",
        ),
    ),
    (
        "host-ipc-invisible",
        t(
            "msgget and mq_open look up a key or a name in the caller's IPC namespace; a new one starts empty.",
            "CLONE_NEWIPC among the clone flags (an IpcLayer in the list of layers).",
        ),
    ),
    (
        "container-ipc-stays-inside",
        t(
            "An IPC namespace is destroyed, with every object in it, when its last process ends.",
            "CLONE_NEWIPC among the clone flags (an IpcLayer in the list of layers).",
        ),
    ),
    // Chapter 2.
    (
        "command-is-pid-2",
        t(
            "The child of clone is PID 1 of a new PID namespace; it stays behind as the init, and its own \
             child, PID 2, becomes the command.",
            "PidLayer's clone_flags include CLONE_NEWPID; its init returns the TinyInit; the core's \
             init::find keeps the one layer whose init answers Some (a second is InitError::TwoInits, \
             naming both), and start_init forks (its error InitError::Fork): the child unblocks the \
             command's signal mask and returns to exec; the parent calls the init's run with the \
             child's pid inside catch_unwind (a panic ends with 125) and ends with exit_now and the \
             code run gave.",
        ),
    ),
    (
        "own-pid-namespace",
        t(
            "A PID namespace is made at clone time; /proc needs a mount namespace of its own too.",
            "PidLayer's clone_flags: CLONE_NEWPID and CLONE_NEWNS.",
        ),
    ),
    (
        "proc-shows-only-the-container",
        t(
            "A procfs shows the PID namespace of the process that mounts it: mount a new one from inside.",
            "In mount_fresh_proc: mount with no source, target /, no type and MS_REC with MS_PRIVATE, \
             then mount source proc, type proc on /proc with MS_NOSUID, MS_NODEV and MS_NOEXEC; each \
             error into its ProcError variant.",
        ),
    ),
    (
        "host-processes-invisible",
        t(
            "A process has no number for the processes of an ancestor namespace: it cannot name them to signal them.",
            "CLONE_NEWPID in the flags, and execvp in the child of clone, never in the runtime.",
        ),
    ),
    (
        "orphans-reaped",
        t(
            "Orphans are re-parented to PID 1, and SIGCHLD does not queue: one signal may stand for many \
             ended children.",
            "In reap_children: waitpid on any child with WNOHANG, in a loop, until it answers \
             StillAlive or fails with ECHILD; note the command's code when its pid comes back, and \
             keep reaping.",
        ),
    ),
    (
        "signals-reach-the-command",
        t(
            "Two hops: the runtime's handler sends the signal to the init, and the init, which the kernel \
             spares from default actions, passes it on to the command.",
            "forward_signals_to: store the container's pid in CONTAINER (Relaxed), make one SigAction \
             of SigHandler::Handler with forward_to_container, SA_RESTART and an empty SigSet, and \
             install it with sigaction for each signal of FORWARDED, an error naming the signal. \
             TinyInit's signals: an empty SigSet with SIGCHLD and each of FORWARDED added. Its run: \
             close_inherited_descriptors, chdir to /, then loop on the set's wait: SIGCHLD calls \
             reap_children and returns its code once there is one, any other signal goes to forward, \
             an error waits again. start_init's child restores the command's mask before exec.",
        ),
    ),
    (
        "host-proc-untouched",
        t(
            "A mount in a namespace whose / is shared propagates back to the host.",
            "mount with MS_REC and MS_PRIVATE on / first, then proc; CLONE_NEWNS in the flags.",
        ),
    ),
    // Chapter 3.
    (
        "mounts-inside",
        t(
            "The new root needs the kernel's views mounted inside it, and nothing of the host's left under it.",
            "mount_proc_and_sys: proc on new_root/proc with SAFE, sysfs on new_root/sys with SAFE \
             and MS_RDONLY; then pivot_into (pivot_root, umount2 of the old root with MNT_DETACH), \
             then populate_dev.",
        ),
    ),
    (
        "host-root-unreachable",
        t(
            "chroot changes one setting of one process; pivot_root changes the namespace's root, and the old \
             root can then be unmounted.",
            "In pivot_into, in order: mount / with MS_REC and MS_PRIVATE; bind new_root onto itself \
             (MS_BIND, MS_REC); chdir into it; pivot_root with '.' as both arguments; umount2 of '.' \
             with MNT_DETACH; chdir to /.",
        ),
    ),
    (
        "dev-has-only-safe-devices",
        t(
            "A device node reaches its driver wherever it lives: the container gets a tmpfs with six nodes, \
             never the host's /dev.",
            "A tmpfs on /dev (MS_NOSUID, MS_NOEXEC, mode=755); mknod each of DEVICES as a character \
             device, then fchmodat to 0666 (the umask), binding the host's node instead on EPERM; \
             devpts on /dev/pts (newinstance, ptmxmode=0666, mode=0620); a tmpfs on /dev/shm \
             (mode=1777); then the LINKS, with symlinkat.",
        ),
    ),
    (
        "sys-read-only",
        t(
            "sysfs shows the host's hardware and kernel knobs: the container may read it, not write it.",
            "Mount sysfs with SAFE and MS_RDONLY.",
        ),
    ),
    (
        "read-only-root",
        t(
            "A bind mount's flags change with a remount of the mount itself; the flags it has must be kept.",
            "Last, after /dev: remount / with MS_REMOUNT, MS_BIND and MS_RDONLY, plus the flags \
             locked_flags reads for / (a remount must keep them).",
        ),
    ),
    (
        "starts-in-the-new-root",
        t(
            "After pivot_root the process's working directory may still be the old root; /proc must be the \
             new PID namespace's.",
            "chdir to / after the old root is unmounted; proc mounted under new_root before \
             pivot_root.",
        ),
    ),
    (
        "host-mounts-unchanged",
        t(
            "A copy of a shared mount joins its peer group: every mount the container makes reaches the host.",
            "First in pivot_into: mount / with MS_REC and MS_PRIVATE.",
        ),
    ),
    (
        "bad-rootfs-refused",
        t(
            "A --rootfs that cannot work is a command-line mistake: refuse it with 125 before clone.",
            "In Rootfs::parse: a path that is not absolute is Relative; one fs::metadata cannot read \
             is Missing; one that is no directory is NotADirectory.",
        ),
    ),
    // Chapter 4.
    (
        "interfaces-inside",
        t(
            "One end of the veth pair lives in the container's namespace; inside, an interface needs an address \
             and to be up before a route can use it.",
            "Move the veth peer in, rename it eth0; then configure_on, from inside and in this order: \
             lo up, the address with its prefix on eth0 (add_address), eth0 up, and last the default \
             route via the gateway (add_default_route), which the kernel refuses with ENETUNREACH \
             before the subnet is up. add_address: a NewAddress message, family Inet, the link's index \
             and the prefix length in its header, the address as both its Local and its Address \
             attribute, sent with NLM_F_CREATE and NLM_F_EXCL. add_default_route: a NewRoute message, \
             family Inet, destination prefix length 0, table RT_TABLE_MAIN, protocol Boot, scope \
             Universe, kind Unicast, one Gateway attribute, sent with NLM_F_CREATE and NLM_F_EXCL.",
        ),
    ),
    (
        "loopback-works",
        t(
            "A new network namespace has its own lo, and it starts down.",
            "From inside the new namespace, set IFF_UP on lo.",
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
            "Attach each host end to the bridge (its master) and set both ends up; every container \
             needs its own address.",
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
            "Create the bridge with a fixed MAC address (IFLA_ADDRESS): without one it takes its \
             lowest port's.",
        ),
    ),
    (
        "no-network",
        t(
            "No network is still a namespace of its own, only without the cable.",
            "With --net none, make the namespace and bring lo up, but make no veth and take no \
             lease.",
        ),
    ),
    (
        "cleanup-after-exit",
        t(
            "What prepare_parent made on the host, cleanup must remove, once the child is gone.",
            "Delete the host end of the veth pair (that removes both ends) and the lease file once \
             the child is reaped.",
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
            "Before taking an address, drop leases whose owner (pid and start time) is no longer \
             running.",
        ),
    ),
    (
        "distinct-addresses",
        t(
            "Taking a lease must be atomic: checking and then creating leaves a gap another runtime can use.",
            "Take the lease atomically: create the lease file with O_CREAT and O_EXCL, and try the \
             next address if it exists.",
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
            "The parent writes /proc/PID/uid_map and gid_map in prepare_parent, while the child \
             waits; the child then takes ids 0.",
        ),
    ),
    (
        "setgroups-denied",
        t(
            "The kernel protects negative group permissions: setgroups must be denied first when the gid map is \
             written without privilege.",
            "Write deny to /proc/PID/setgroups before gid_map when the map is written without \
             privilege.",
        ),
    ),
    (
        "root-inside-full-caps",
        t(
            "Capabilities come with uid 0 of a user namespace at exec; the child must become it.",
            "CLONE_NEWUSER in the clone flags; in the child, setresgid then setresuid to 0 of the \
             namespace, before exec.",
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
            "The command must run as uid and gid 0 of the namespace, which the map turns into host \
             ids.",
        ),
    ),
    (
        "host-root-files-closed",
        t(
            "Capabilities in a user namespace do not apply to a file whose owner is not mapped in it.",
            "Map container root to an unprivileged host id: capabilities do not apply to unmapped \
             owners.",
        ),
    ),
    (
        "host-hostname-out-of-reach",
        t(
            "Power over a namespace comes from the user namespace that owns it.",
            "The host's namespaces belong to the host's user namespace, in which the container has \
             no power.",
        ),
    ),
    (
        "rootless-range",
        t(
            "Mapping more than your own id needs a privileged helper that checks /etc/subuid and /etc/subgid.",
            "Map 1 to the subuid range's start, for its count, after 0 to your own id; newuidmap and \
             newgidmap write them.",
        ),
    ),
    (
        "rootless-mount-flags",
        t(
            "A user namespace changes nothing about the flags a mount is given: rootless, /proc, /sys, /dev, \
             /dev/pts and /dev/shm are chapter 3's mounts, with chapter 3's flags.",
            "Make the same calls as root does: SAFE on /proc and /dev/shm, SAFE and MS_RDONLY on \
             /sys, MS_NOSUID and MS_NOEXEC on /dev and /dev/pts, the mode= data; a fallback taken \
             only in a user namespace that binds instead of mounting gets its flags from a remount \
             of the bind.",
        ),
    ),
    (
        "rootless-refusals",
        t(
            "Some things need root on the host whatever the namespaces say: check before clone.",
            "Check what an unprivileged caller asks for before clone, and refuse with one clear \
             line.",
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
            "In prepare_parent, before the child is released: memory.max, memory.swap.max (0), \
             pids.max, cpu.max (the quota, then the period 100000); inside, mount cgroup2 read-only \
             on /sys/fs/cgroup.",
        ),
    ),
    (
        "cgroup-namespace-root",
        t(
            "A cgroup namespace's root is the cgroup its creator was in when it was made.",
            "In enter_child, unshare CLONE_NEWCGROUP, after prepare_parent moved the child: a cgroup \
             namespace's root is the cgroup its creator is in.",
        ),
    ),
    (
        "cgroup-mount-read-only",
        t(
            "The container reads its cgroup through the cgroup2 mounted inside; it must not write it, and \
             nothing there is to be executed, set-uid or a device.",
            "In enter_child, after the unshare of CLONE_NEWCGROUP: mount cgroup2 on /sys/fs/cgroup \
             with MS_RDONLY, MS_NOSUID, MS_NODEV and MS_NOEXEC.",
        ),
    ),
    (
        "fork-bomb-stops-at-pids-max",
        t(
            "pids.max counts every process and thread in the cgroup, and the kernel refuses fork past it.",
            "Write pids.max before the child is released; the kernel answers fork with EAGAIN past \
             it.",
        ),
    ),
    (
        "oom-kill-reported",
        t(
            "The cgroup counts the OOM killer's kills; the count goes with the cgroup.",
            "After the command died, read memory.events in cleanup, before removing the cgroup: an \
             oom_kill count above 0 means the kernel's OOM killer did it.",
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
            "Write cpu.max as the quota then the period, 20000 100000 for --cpus 0.2, with the cpu \
             controller enabled above.",
        ),
    ),
    (
        "no-cgroup-left",
        t(
            "A cgroup with processes in it cannot be removed, and a dying process may take a moment to go.",
            "In cleanup: write 1 to cgroup.kill, wait for cgroup.events to read populated 0, rmdir; a \
             runtime that moved itself into a leaf moves back out and removes it.",
        ),
    ),
    (
        "nested-cgroup-removed",
        t(
            "rmdir refuses a cgroup that has cgroups below it, as it refuses one with processes; and a \
             cleanup that cannot finish must say so rather than wait for ever or stay silent.",
            "Write 1 to cgroup.kill, remove each child cgroup the same way first (the deepest first), \
             wait for cgroup.events to read populated 0 for a few seconds at most, then rmdir; return \
             an error naming the cgroup when the wait runs out or rmdir fails.",
        ),
    ),
    (
        "stale-cgroups-removed",
        t(
            "A cgroup named after its runtime's pid can be recognised as stale once that runtime is gone.",
            "On start, remove the empty cgroups under the parent whose runtime (the pid in their \
             name) is gone.",
        ),
    ),
    (
        "bad-limits-refused",
        t(
            "Limits are checked when the arguments are parsed, so that a typo costs nothing.",
            "Parse --memory, --pids and --cpus when the arguments are parsed, and exit 125 with one \
             line; make no cgroup first.",
        ),
    ),
    (
        "grader-limits-still-hold",
        t(
            "Limits are hierarchical: a cgroup made under the runtime's own stays within its limits, one made at \
             the root escapes them.",
            "By default make the container's cgroup under the cgroup of /proc/self/cgroup's 0:: \
             line, not at the root of the hierarchy.",
        ),
    ),
    (
        "rootless-limits-refused",
        t(
            "An ordinary user can only manage a delegated cgroup subtree.",
            "For a caller who is not root, check write access to the parent cgroup before anything \
             is made: refuse limits, run without a cgroup when none is asked.",
        ),
    ),
    // Chapter 7.
    (
        "caps-default-set",
        t(
            "A process has five capability sets; root's are full unless the runtime shrinks them. The \
             bounding set limits what any later exec can gain, so it is dropped one capability at a time; \
             the others are set at once.",
            "In CapabilitySets' apply, in this order: drop from the bounding set, one by one, every \
             capability this kernel supports that the config's bounding set lacks (caps' drop; it \
             needs CAP_SETPCAP in effect); then caps' set for inheritable, then effective, then \
             permitted, then ambient, each from the config. Shrinking permitted before effective \
             fails with EPERM: effective must stay within permitted.",
        ),
    ),
    (
        "caps-match-config",
        t(
            "A process that is not root keeps across execve only its ambient capabilities, and a capability \
             can be ambient only while it is permitted and inheritable.",
            "Before apply: become_user, then raise_effective_to_permitted (the change of user \
             emptied effective). Then apply's order: bounding drops, then inheritable, effective, \
             permitted, and ambient last, set from the config's ambient list (a capability can be \
             ambient only while permitted and inheritable hold it).",
        ),
    ),
    (
        "process-user",
        t(
            "The container's process takes the config's identity: supplementary groups, then gid, then uid \
             (after setuid, it may no longer change its groups).",
            "In become_user, in order: setgroups with the additional gids (an empty list when there \
             are none); PR_SET_KEEPCAPS on; setresgid with the gid three times; setresuid with the \
             uid three times; PR_SET_KEEPCAPS off.",
        ),
    ),
    (
        "no-new-privs",
        t(
            "no_new_privs stops execve from granting privilege (setuid bits, file capabilities) and lets an \
             unprivileged process load a seccomp filter.",
            "PR_SET_NO_NEW_PRIVS (nix's set_no_new_privs) when process.noNewPrivileges is true, and \
             not otherwise; just before loading the filters.",
        ),
    ),
    (
        "seccomp-profile-enforced",
        t(
            "The filter belongs on the container's process, loaded before exec: a filter is inherited across \
             fork and execve, never removed.",
            "Compile linux.seccomp into BPF in the parent (from_spec); in the child, load it with \
             seccomp's SECCOMP_SET_MODE_FILTER: last when no_new_privs is on, early (right after \
             raise_effective_to_permitted) when it is off; each rule's errnoRet becomes \
             SECCOMP_RET_ERRNO with that errno.",
        ),
    ),
    (
        "seccomp-early-spares-the-runtime",
        t(
            "Without no_new_privs, a filter must go in while CAP_SYS_ADMIN is still in effect, and every \
             call the runtime makes after it must pass the container's profile, which was written for the \
             command, not for the runtime.",
            "The order in apply: PR_SET_DUMPABLE off; limits, OOM score, umask, labels; become_user; \
             enter_cwd; replace_environment; raise_effective_to_permitted; then, without no_new_privs, \
             load the filters and apply the five sets under them (an error there says the filter was in \
             place); with no_new_privs, apply the five sets, set PR_SET_NO_NEW_PRIVS and load the filters \
             last.",
        ),
    ),
    (
        "masked-paths-empty",
        t(
            "Masking hides a path of the container's own /proc or /sys: it must happen after pivot_root and \
             the config's mounts, on the paths inside the new root.",
            "In the new root: bind /dev/null over each masked file, and mount an empty read-only \
             tmpfs over each masked directory; skip paths that do not exist.",
        ),
    ),
    (
        "readonly-paths-refuse-writes",
        t(
            "A read-only path is a mount of its own, read-only, so the rest of /proc stays writable.",
            "Two mounts per path: bind it onto itself with MS_BIND and MS_REC; then remount that \
             bind with MS_BIND, MS_REMOUNT, MS_RDONLY and the flags it already has.",
        ),
    ),
    (
        "namespaces-distinct",
        t(
            "Each entry of linux.namespaces without a path asks for a new namespace of that type; with a \
             path, the runtime joins that one instead.",
            "Map each type to its CLONE_NEW* flag and pass them all to the one clone; for entries \
             with a path, open it and setns to it at the right moment: with a new user namespace, in \
             the runtime before the clone (the child is root only in its new namespace), otherwise \
             in the child.",
        ),
    ),
    (
        "lifecycle-and-state",
        t(
            "create leaves the container's process waiting, set up, before the command; start releases it; \
             the state's status is computed from the process now, not only read back.",
            "create: state directory, record, exec FIFO, clone, wait for the child at the gate, \
             record its host pid; start: open the FIFO for reading; state: kill with signal 0 and \
             /proc/PID/stat's start time decide running or stopped.",
        ),
    ),
    (
        "wrong-state-refused",
        t(
            "Every command checks the status now before it acts, under the container's lock.",
            "start only when created; delete without --force only when stopped; kill only when \
             created or running; otherwise one line and exit 1, state unchanged.",
        ),
    ),
    (
        "bad-bundles-refused",
        t(
            "A bundle is read and checked whole before anything exists: config.json parses, every namespace \
             type is known, root.path is a directory, every mount destination stays inside the root.",
            "Bundle::load and plan before create_container: parse with oci-spec, canonicalize the \
             bundle's root.path, refuse unknown types and destinations whose .. leave the root; exit \
             125.",
        ),
    ),
    (
        "escapes-blocked",
        t(
            "No one layer blocks every escape: capabilities, seccomp, masked and read-only paths and a PID 1 \
             that is not dumpable each close some.",
            "Podman's 14 capabilities (no SYS_ADMIN, SYS_MODULE, SYS_PTRACE), the course's profile \
             (mknod of block devices, mount, unshare, ptrace refused), /proc/sysrq-trigger \
             read-only, /sys/firmware masked, PR_SET_DUMPABLE off first in apply.",
        ),
    ),
    (
        "host-descriptors-unreachable",
        t(
            "Close-on-exec descriptors are still open until execve: a process.cwd of /proc/self/fd/N reaches \
             whatever they name, on the host.",
            "After chdir to process.cwd, call getcwd: it fails with ENOENT for a directory outside \
             the root; refuse then.",
        ),
    ),
    (
        "symlinked-mount-target-stays-inside",
        t(
            "A symbolic link in the image is the image's: resolved on the host, an absolute link leads out \
             of the rootfs.",
            "Resolve the destination component by component inside the rootfs (a link's absolute \
             target restarts at the rootfs, .. stops at it), create what is missing, then mount on \
             the result.",
        ),
    ),
    (
        "mount-options-honoured",
        t(
            "mount(2) with MS_BIND ignores the other flags it is given: a bind mount gets ro, nosuid, nodev \
             and noexec from a remount of itself. Other file systems take them in their one mount, and the \
             options with a = as their data.",
            "A bind: mount with MS_BIND and MS_REC, then, if the options set any flag, remount the \
             bind with MS_REMOUNT, MS_BIND, those flags and the ones locked_flags reads for the \
             target. Any other type: one mount with its flags, and the options with a = \
             (mode=1770,size=2048k for a tmpfs) as its data.",
        ),
    ),
    (
        "delete-waits-for-create",
        t(
            "Two commands on one container must not interleave: each holds the container's lock from its \
             first read to its last write.",
            "flock with LOCK_EX on the container's lock file in every command, create included, \
             before reading state.json; held until the command ends.",
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

    /// What reads as code rather than as words: a call with its arguments
    /// (a name right before a parenthesis; a man page's section, as in
    /// `mount(2)`, aside), match arms, flags or'ed together, references,
    /// the `?` operator.
    fn code_in(text: &str) -> Option<String> {
        for (at, _) in text.match_indices('(') {
            let called = text[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
            let section = text[at + 1..].split(')').next().is_some_and(|inside| inside.parse::<u8>().is_ok());
            if called && !section {
                return Some(text[at.saturating_sub(20)..].chars().take(40).collect());
            }
        }
        ["=>", " | ", "&", "?;", "::<", "!("].iter().find(|code| text.contains(*code)).map(|code| code.to_string())
    }

    /// Tier 2 says what to achieve and tier 3 names the calls and their
    /// order, but neither shows code: the learner still writes it.
    #[test]
    fn no_tier_shows_code() {
        for (name, tiers) in TIERS {
            for (tier, text) in [(2, tiers.concept), (3, tiers.call)] {
                assert_eq!(code_in(text), None, "{name}'s tier {tier} shows code: {text}");
            }
        }
        assert!(code_in("sethostname(name.as_str())").is_some());
        assert!(code_in("MS_BIND | MS_REC").is_some());
        assert!(code_in("mount(2) with MS_BIND, then sethostname").is_none());
    }
}
