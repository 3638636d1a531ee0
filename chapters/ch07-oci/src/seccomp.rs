//! Seccomp: which system calls the container may make at all.
//!
//! A seccomp filter is a small BPF program the kernel runs on every system
//! call of the process, before the call does anything. It sees the call's
//! number, the architecture and the six arguments (never what a pointer
//! points to), and answers with an action: allow, fail with an errno, kill,
//! … The filter is inherited across `fork` and `exec` and can never be
//! removed, only tightened by stacking more filters.
//!
//! The OCI profile (`linux.seccomp` in config.json) is compiled here, in the
//! parent, before anything is created: names become numbers, rules become
//! BPF. The container process only loads the finished programs
//! ([`SeccompProgram::load`]).
//!
//! # One action per filter, so a stack of filters
//!
//! `seccompiler` builds filters with a single "match" action and a single
//! "mismatch" action, while a profile mixes actions (ALLOW most calls,
//! ERRNO(EPERM) some, perhaps LOG one). So a profile becomes a stack:
//!
//! * the **guard**: refuses the x32 ABI (see [`x32_guard`]);
//! * one filter per **action** a rule asks for (other than ALLOW): it
//!   answers that action for the calls its rules match, ALLOW otherwise;
//! * the **default** filter: ALLOW for every call that *any* rule matches
//!   (whatever its action), the profile's default action for the rest.
//!
//! The kernel runs every filter of the stack and keeps the strictest
//! answer: KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE >
//! LOG > ALLOW (`seccomp_run_filters` in kernel/seccomp.c, man seccomp(2)).
//! A call no rule matches gets ALLOW from every action filter and the
//! default action from the default filter; a call a rule matches gets
//! ALLOW from the default filter and the rule's action from its filter. The
//! default never competes with a rule, so a rule may be *weaker* than the
//! default (LOG under a default of ERRNO) and still win, as the profile
//! means.
//!
//! Only when two rules of different actions match the same call does the
//! kernel choose: the stricter action wins. Between two answers of the same
//! action with different data (ERRNO(EPERM) and ERRNO(EACCES)), the kernel
//! keeps the first one it sees, and it runs the filters from the newest to
//! the oldest: the filter installed **last** wins a tie. The action filters
//! are therefore installed in the reverse order of the rules that first
//! name them, so that the rule listed first in the profile wins.

use std::collections::BTreeMap;
use std::str::FromStr;

use nix::errno::Errno;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
// The system call table of the architecture this runtime is built for:
// numbers differ between architectures (`keyctl` is 250 on x86_64, 219 on
// arm64), and a filter compares numbers.
use syscalls::Sysno;

/// The architecture the filters are built for, as seccompiler and the OCI
/// profile name it: this runtime's own. (A process may enter the kernel
/// through another architecture's door: 32-bit x86 on x86_64, AArch32 on
/// arm64. The filters check the architecture first and kill such calls,
/// whose numbers mean other calls.)
#[cfg(target_arch = "x86_64")]
const NATIVE: (TargetArch, Arch) = (TargetArch::x86_64, Arch::ScmpArchX86_64);
#[cfg(target_arch = "aarch64")]
const NATIVE: (TargetArch, Arch) = (TargetArch::aarch64, Arch::ScmpArchAarch64);

/// What is wrong with a seccomp profile, or why loading it failed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile names architectures, and this runtime's is not among them.
    #[error(
        "the seccomp profile is for {0:?}, not {native:?}: this runtime filters its own architecture's system calls only",
        native = NATIVE.1
    )]
    NotThisArch(Vec<Arch>),
    /// A rule (or the default) asks for `SCMP_ACT_NOTIFY`.
    #[error("seccomp action SCMP_ACT_NOTIFY ({0}) needs a seccomp agent, which this runtime does not support")]
    Notify(String),
    /// A filter flag this runtime does not support.
    #[error("seccomp flag {0} is not supported (it only makes sense with SCMP_ACT_NOTIFY)")]
    Flag(LinuxSeccompFilterFlag),
    /// An argument index outside 0–5.
    #[error("seccomp rule for {syscall}: argument index {index} is out of range (0 to 5)")]
    ArgIndex {
        /// The rule's first system call name.
        syscall: String,
        /// The index given.
        index: usize,
    },
    /// An errno or trace value that does not fit the 16 bits the kernel keeps.
    #[error("seccomp {what}: errnoRet {value} does not fit in 16 bits")]
    ErrnoRet {
        /// Where: "defaultErrnoRet" or "rule for NAME".
        what: String,
        /// The value given.
        value: u32,
    },
    /// `seccompiler` refused to build a filter (most likely: too long).
    #[error("compile the seccomp filter for {action:?}")]
    Compile {
        /// The filter's match action.
        action: SeccompAction,
        /// Why.
        #[source]
        source: seccompiler::BackendError,
    },
    /// The kernel refused a filter.
    #[error("load seccomp filter {index} of {count} (a profile must allow seccomp(2) for the filters after it)")]
    Load {
        /// Which filter of the stack, from 1.
        index: usize,
        /// How many there are.
        count: usize,
        /// Why.
        #[source]
        source: Errno,
    },
}

// ANCHOR: default_profile
/// Calls the course's default profile refuses with EPERM, as if the
/// container lacked the capability (it does: none of these is in the
/// default set). Each one either needs a capability the container does not
/// have, in which case seccomp is a second wall behind the capability
/// check, or reaches kernel code that is not namespaced.
const BLOCKED: &[&str] = &[
    // Load code into the kernel, or replace the kernel.
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    // eBPF programs and perf events run code or read data across the host.
    "bpf",
    "perf_event_open",
    // The kernel's keyrings are not namespaced: keys of the host.
    "keyctl",
    "add_key",
    "request_key",
    // Mounts and the root: a container must not rearrange its file system
    // (or mount the host's disk).
    "mount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    // New namespaces (a user namespace hands back every capability inside
    // it) and joining other ones. `clone` is limited below, by its flags.
    "unshare",
    "setns",
    // Other processes' memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    // Host-wide switches.
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "iopl",
    "ioperm",
    // Open any file of a file system by its handle, outside the container's
    // root (the "shocker" escape).
    "open_by_handle_at",
    // Tools that widen kernel race windows, and io_uring, whose operations
    // run on kernel threads out of seccomp's sight.
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
];

/// The namespace flags `clone` may not carry: each is one rule, since a
/// rule's conditions must all hold and the call is refused if any one flag
/// is set.
const CLONE_NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

/// The course's default profile, which `spec` writes into a new config.json.
///
/// Its default action is ALLOW: it lists what is refused, which keeps it
/// short enough to read in one go, and everything else works. Production
/// profiles (podman's, Docker's) do the opposite: they list about 350 calls
/// that are allowed and answer ENOSYS for the rest, so that a system call
/// added to a newer kernel is refused until someone has looked at it. That
/// is safer and much longer; this runtime accepts such a profile as well.
///
/// `clone3` gets ENOSYS rather than EPERM: seccomp cannot read its flags
/// (they are in a struct in memory), and ENOSYS makes the C library fall
/// back to `clone`, whose flags the rules below can check.
pub fn default_profile() -> LinuxSeccomp {
    let mut syscalls = vec![errno_rule(BLOCKED, libc::EPERM, vec![])];
    for &flag in CLONE_NAMESPACE_FLAGS {
        let flag = flag as u64;
        // "This flag is set in arg0".
        syscalls.push(errno_rule(&["clone"], libc::EPERM, vec![masked_eq(0, flag, flag)]));
    }
    syscalls.push(errno_rule(&["clone3"], libc::ENOSYS, vec![]));
    // Device nodes. CAP_MKNOD stays in the default set (package scripts
    // make FIFOs and sockets with mknod), but a block or character device
    // node is a door to the host's disks, memory or terminals, and this
    // runtime has no device cgroup to keep it shut: refuse to make one.
    for (name, mode) in [("mknod", 1), ("mknodat", 2)] {
        for kind in [libc::S_IFBLK, libc::S_IFCHR] {
            let arg = masked_eq(mode, libc::S_IFMT.into(), kind.into());
            syscalls.push(errno_rule(&[name], libc::EPERM, vec![arg]));
        }
    }

    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(LinuxSeccompAction::ScmpActAllow);
    profile.set_architectures(Some(vec![NATIVE.1]));
    profile.set_syscalls(Some(syscalls));
    profile
}

/// MASKED_EQ: `(argument & mask) == value` (OCI's `value` is the mask,
/// `valueTwo` the value).
fn masked_eq(index: usize, mask: u64, value: u64) -> LinuxSeccompArg {
    LinuxSeccompArgBuilder::default()
        .index(index)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .value(mask)
        .value_two(value)
        .build()
        // Every field has a default: the builder has nothing to refuse.
        .expect("a seccomp argument with every field given")
}

fn errno_rule(names: &[&str], errno: i32, args: Vec<LinuxSeccompArg>) -> LinuxSyscall {
    let mut rule = LinuxSyscall::default();
    rule.set_names(names.iter().map(|name| name.to_string()).collect());
    rule.set_action(LinuxSeccompAction::ScmpActErrno);
    rule.set_errno_ret(Some(errno as u32));
    rule.set_args((!args.is_empty()).then_some(args));
    rule
}
// ANCHOR_END: default_profile

/// A profile compiled to a stack of BPF programs, ready to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompProgram {
    /// The filters, in the order they are installed.
    filters: Vec<BpfProgram>,
    /// The `seccomp(2)` flags every filter is loaded with.
    flags: libc::c_ulong,
}

/// The calls one filter matches: for each system call number, either
/// always (`None`) or when one of the rules holds.
type Matches = BTreeMap<i64, Option<Vec<SeccompRule>>>;

// ANCHOR: compile
/// Compiles an OCI seccomp profile. Nothing is loaded: this runs in the
/// parent, so that a bad profile is refused before anything is created.
///
/// System call names the `syscalls` crate does not know are skipped, like
/// calls a kernel does not have: podman's profile names calls newer than
/// some kernels and libraries.
pub fn compile(profile: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    check_architectures(profile)?;
    let flags = filter_flags(profile)?;
    let default = action(profile.default_action(), profile.default_errno_ret(), "defaultErrnoRet")?;

    // Every rule, in the default filter (whatever its action), and in the
    // filter of its own action. Groups keep the order of first appearance.
    let mut any_rule = Matches::new();
    let mut groups: Vec<(SeccompAction, Matches)> = Vec::new();
    for rule in profile.syscalls().iter().flatten() {
        let Some(first) = rule.names().first() else { continue };
        let rule_action = action(rule.action(), rule.errno_ret(), &format!("rule for {first}"))?;
        let conditions = conditions(first, rule.args().as_deref().unwrap_or_default())?;
        let numbers: Vec<i64> =
            rule.names().iter().filter_map(|name| Sysno::from_str(name).ok()).map(|n| n.id().into()).collect();
        if numbers.is_empty() {
            continue;
        }
        let group = match groups.iter().position(|(action, _)| *action == rule_action) {
            Some(index) => index,
            None => {
                groups.push((rule_action, Matches::new()));
                groups.len() - 1
            }
        };
        for number in numbers {
            add_match(&mut any_rule, number, conditions.clone());
            add_match(&mut groups[group].1, number, conditions.clone());
        }
    }

    // The x32 guard is x86_64's; arm64 has no such second ABI under its
    // own architecture number.
    let mut filters = if NATIVE.1 == Arch::ScmpArchX86_64 { vec![x32_guard()] } else { Vec::new() };
    // Reverse: the filter of the rule listed first is installed last and
    // wins a tie between equal actions (see the module's documentation).
    for (action, matches) in groups.into_iter().rev() {
        if action != SeccompAction::Allow {
            filters.push(build(matches, SeccompAction::Allow, action)?);
        }
    }
    // Last, so that a default of ERRNO (which refuses seccomp(2) itself
    // unless the profile allows it) does not stop the other filters loading.
    if default != SeccompAction::Allow {
        filters.push(build(any_rule, default, SeccompAction::Allow)?);
    }
    Ok(SeccompProgram { filters, flags })
}
// ANCHOR_END: compile

/// Architectures: the list is optional; if given, it must include this
/// runtime's own (x86_64 or aarch64, or "native"). The others are ignored:
/// this runtime builds filters for its own architecture only, and such a
/// filter kills a process that calls through another architecture's entry
/// (32-bit `int 0x80` on x86_64, an AArch32 program on arm64).
fn check_architectures(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    let archs = profile.architectures().clone().unwrap_or_default();
    let ours = |arch: &Arch| *arch == NATIVE.1 || *arch == Arch::ScmpArchNative;
    if archs.is_empty() || archs.iter().any(ours) {
        Ok(())
    } else {
        Err(SeccompError::NotThisArch(archs))
    }
}

fn filter_flags(profile: &LinuxSeccomp) -> Result<libc::c_ulong, SeccompError> {
    let mut flags: libc::c_ulong = 0;
    for flag in profile.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            other => return Err(SeccompError::Flag(*other)),
        };
    }
    Ok(flags)
}

/// An OCI action and its errno (or trace value) as `seccompiler` has it.
/// ERRNO and TRACE without a value mean EPERM, as in runc and libseccomp.
fn action(action: LinuxSeccompAction, errno_ret: Option<u32>, what: &str) -> Result<SeccompAction, SeccompError> {
    let data = errno_ret.unwrap_or(libc::EPERM as u32);
    let carries_data = matches!(action, LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace);
    if carries_data && data > 0xffff {
        return Err(SeccompError::ErrnoRet { what: what.to_string(), value: data });
    }
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => SeccompAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(data),
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(data),
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActNotify => return Err(SeccompError::Notify(what.to_string())),
    })
}

/// A rule's argument checks, all of which must hold. Arguments are compared
/// as 64-bit values, as libseccomp does. For MASKED_EQ, OCI's `value` is
/// the mask and `valueTwo` the value the masked argument must equal.
fn conditions(syscall: &str, args: &[LinuxSeccompArg]) -> Result<Vec<SeccompCondition>, SeccompError> {
    args.iter()
        .map(|arg| {
            let (op, value) = match arg.op() {
                LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
                LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
                LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
                LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
                LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
                LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
                LinuxSeccompOperator::ScmpCmpMaskedEq => {
                    (SeccompCmpOp::MaskedEq(arg.value()), arg.value_two().unwrap_or(0))
                }
            };
            let out_of_range = || SeccompError::ArgIndex { syscall: syscall.to_string(), index: arg.index() };
            let index = u8::try_from(arg.index()).ok().filter(|index| *index <= 5).ok_or_else(out_of_range)?;
            SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(|_| out_of_range())
        })
        .collect()
}

/// Adds "call `number` when `conditions` hold" to a filter's matches. No
/// conditions means always, which no further rule can widen.
fn add_match(matches: &mut Matches, number: i64, conditions: Vec<SeccompCondition>) {
    let entry = matches.entry(number).or_insert_with(|| Some(Vec::new()));
    match (entry.as_mut(), SeccompRule::new(conditions)) {
        // A rule with conditions, on a call not yet matched always.
        (Some(rules), Ok(rule)) => rules.push(rule),
        // No conditions (`SeccompRule::new` refuses an empty list): always.
        (Some(_), Err(_)) => *entry = None,
        (None, _) => {}
    }
}

fn build(matches: Matches, mismatch: SeccompAction, on_match: SeccompAction) -> Result<BpfProgram, SeccompError> {
    let action = on_match.clone();
    let rules = matches.into_iter().map(|(number, rules)| (number, rules.unwrap_or_default())).collect();
    SeccompFilter::new(rules, mismatch, on_match, NATIVE.0)
        .and_then(BpfProgram::try_from)
        .map_err(|source| SeccompError::Compile { action, source })
}

// ANCHOR: x32_guard
/// The x32 ABI enters the kernel as x86_64 (same architecture number) with
/// bit 30 set in the system call number. The filters above compare numbers
/// without that bit, so on a kernel built with x32 support a denied call
/// would pass under its x32 number. The guard answers ENOSYS to any such
/// call, as a kernel without x32 does (the stricter default of a profile
/// still wins over it).
///
/// A hand-written BPF program: load a field of `struct seccomp_data`
/// (`nr` at offset 0, `arch` at 4), compare, return an action.
pub fn x32_guard() -> BpfProgram {
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let load = |offset| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    let ret = |action| stmt(libc::BPF_RET | libc::BPF_K, action);
    vec![
        load(ARCH),
        // Another architecture: the action filters kill it; allow here.
        jump(libc::BPF_JEQ, AUDIT_ARCH_X86_64, 0, 3),
        load(NR),
        jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1),
        ret(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        ret(libc::SECCOMP_RET_ALLOW),
    ]
}
// ANCHOR_END: x32_guard

fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

/// A conditional jump: if the accumulator compares true with `k`, skip
/// `jt` instructions, else `jf`.
fn jump(comparison: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code: (libc::BPF_JMP | comparison | libc::BPF_K) as u16, jt, jf, k }
}

impl SeccompProgram {
    /// The compiled filters, in the order [`load`](Self::load) installs
    /// them.
    pub fn filters(&self) -> &[BpfProgram] {
        &self.filters
    }

    /// Installs the filters on the calling process with `seccomp(2)`. From
    /// here on they apply to this process and everything it forks or
    /// executes.
    ///
    /// Without `no_new_privs` the kernel only lets a process with
    /// CAP_SYS_ADMIN do this (a filter could otherwise confuse a setuid
    /// program into misbehaving); `seccompiler::apply_filter` would set
    /// `no_new_privs` first, which the config may not want.
    pub fn load(&self) -> Result<(), SeccompError> {
        todo!(
            "install each compiled filter, in order, with self.flags (book: chapter 7, \"no_new_privs and \
             seccomp\", \"Loading the filters\")"
        )
    }
}

// The compiler's tests run made-up calls of x86_64's table through it.
#[cfg(all(test, target_arch = "x86_64"))]
mod tests;
