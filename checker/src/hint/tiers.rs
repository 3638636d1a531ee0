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
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_names_a_test_once() {
        let names: Vec<&str> = suite::tests_for(u8::MAX, false).iter().map(|t| t.name).collect();
        for (i, (name, _)) in TIERS.iter().enumerate() {
            assert!(names.contains(name), "tiers for {name:?}, which is no test");
            assert!(!TIERS[..i].iter().any(|(other, _)| other == name), "{name:?} twice");
        }
    }
}
