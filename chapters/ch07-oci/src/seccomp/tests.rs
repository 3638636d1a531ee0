//! The compiler's tests. They need no root and load nothing: a small BPF
//! interpreter runs the compiled stack on a made-up system call and combines
//! the answers the way the kernel does.

use super::*;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// `struct seccomp_data`: what a filter sees of a call.
struct Call {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

fn call(name: &str, args: &[u64]) -> Call {
    let mut all = [0u64; 6];
    all[..args.len()].copy_from_slice(args);
    let nr = Sysno::from_str(name).expect("a known system call").id() as u32;
    Call { nr, arch: AUDIT_ARCH_X86_64, args: all }
}

/// Reads the 32-bit word at `offset` of `struct seccomp_data` (nr, arch,
/// instruction pointer, then the arguments, low half first).
fn word(data: &Call, offset: u32) -> u32 {
    match offset {
        0 => data.nr,
        4 => data.arch,
        16..=63 => {
            let arg = data.args[((offset - 16) / 8) as usize];
            if offset.is_multiple_of(8) {
                arg as u32
            } else {
                (arg >> 32) as u32
            }
        }
        _ => panic!("load of offset {offset}"),
    }
}

/// Runs one filter: the instructions seccompiler and the guard emit.
fn run(filter: &[sock_filter], data: &Call) -> u32 {
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let insn = &filter[pc];
        let code = insn.code as u32;
        pc += 1;
        match code {
            c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => acc = word(data, insn.k),
            c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => acc &= insn.k,
            c if c == libc::BPF_RET | libc::BPF_K => return insn.k,
            c if c == libc::BPF_JMP | libc::BPF_JA => pc += insn.k as usize,
            c if c & 0x07 == libc::BPF_JMP => {
                let taken = match c & 0xf0 {
                    op if op == libc::BPF_JEQ => acc == insn.k,
                    op if op == libc::BPF_JGT => acc > insn.k,
                    op if op == libc::BPF_JGE => acc >= insn.k,
                    op => panic!("jump op {op:#x}"),
                };
                pc += if taken { insn.jt } else { insn.jf } as usize;
            }
            other => panic!("instruction {other:#x}"),
        }
    }
}

/// The kernel's combination (`seccomp_run_filters`): newest filter first,
/// keep an answer only if its action is strictly stricter (smaller, as a
/// signed number) than the one kept so far.
fn verdict(program: &SeccompProgram, data: &Call) -> u32 {
    let action_only = |ret: u32| (ret & 0xffff_0000) as i32;
    let mut kept = libc::SECCOMP_RET_ALLOW;
    for filter in program.filters.iter().rev() {
        let ret = run(filter, data);
        if action_only(ret) < action_only(kept) {
            kept = ret;
        }
    }
    kept
}

fn errno(value: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | value as u32
}

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

fn profile(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).expect("a valid profile")
}

fn compiled(json: &str) -> SeccompProgram {
    compile(&profile(json)).expect("the profile compiles")
}

#[test]
fn every_name_of_the_default_profile_is_a_known_x86_64_call() {
    for name in BLOCKED.iter().chain(&["clone", "clone3", "mknod", "mknodat"]) {
        assert!(Sysno::from_str(name).is_ok(), "{name} is not an x86_64 system call");
    }
}

#[test]
fn default_profile_refuses_the_dangerous_calls_and_allows_the_rest() {
    let program = compile(&default_profile()).unwrap();
    for name in ["mount", "init_module", "kexec_load", "bpf", "keyctl", "ptrace", "unshare", "setns", "reboot"] {
        assert_eq!(verdict(&program, &call(name, &[])), errno(libc::EPERM), "{name}");
    }
    for name in ["read", "write", "getpid", "execve", "wait4", "kill", "rt_sigtimedwait", "chdir", "capset"] {
        assert_eq!(verdict(&program, &call(name, &[])), ALLOW, "{name}");
    }
    // fork() as glibc does it, and the init's own fork: no namespace flags.
    let fork_flags = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u64;
    assert_eq!(verdict(&program, &call("clone", &[fork_flags])), ALLOW);
    for flag in CLONE_NAMESPACE_FLAGS {
        let flags = *flag as u64 | libc::SIGCHLD as u64;
        assert_eq!(verdict(&program, &call("clone", &[flags])), errno(libc::EPERM), "clone with {flag:#x}");
    }
    assert_eq!(verdict(&program, &call("clone3", &[])), errno(libc::ENOSYS));
}

#[test]
fn default_profile_refuses_device_nodes_and_allows_fifos_and_files() {
    let program = compile(&default_profile()).unwrap();
    let (blk, chr) = ((libc::S_IFBLK | 0o600) as u64, (libc::S_IFCHR | 0o666) as u64);
    let (fifo, file) = ((libc::S_IFIFO | 0o600) as u64, (libc::S_IFREG | 0o644) as u64);
    // mknod(path, mode, dev), mknodat(dirfd, path, mode, dev).
    for (name, args) in [("mknod", [0, blk, 0xfe00]), ("mknod", [0, chr, 0x101]), ("mknodat", [0, 0, blk])] {
        assert_eq!(verdict(&program, &call(name, &args)), errno(libc::EPERM), "{name} {args:?}");
    }
    let args = [libc::AT_FDCWD as u64, 0, chr, 0x101];
    assert_eq!(verdict(&program, &call("mknodat", &args)), errno(libc::EPERM), "mknodat of a character device");
    for (name, args) in [("mknod", [0, fifo, 0]), ("mknod", [0, file, 0]), ("mknodat", [0, 0, fifo])] {
        assert_eq!(verdict(&program, &call(name, &args)), ALLOW, "{name} {args:?}");
    }
}

#[test]
fn the_default_profile_round_trips_through_json() {
    // `spec` writes it into config.json; `create` reads it back.
    let text = serde_json::to_string(&default_profile()).unwrap();
    let again: LinuxSeccomp = serde_json::from_str(&text).unwrap();
    assert_eq!(again, default_profile());
    assert!(text.contains("\"SCMP_ACT_ERRNO\"") && text.contains("\"SCMP_CMP_MASKED_EQ\""), "{text}");
}

#[test]
fn x32_calls_and_other_architectures_are_refused() {
    let program = compile(&default_profile()).unwrap();
    let mut x32 = call("getpid", &[]);
    x32.nr |= 0x4000_0000;
    assert_eq!(verdict(&program, &x32), errno(libc::ENOSYS));
    let mut i386 = call("getpid", &[]);
    i386.arch = AUDIT_ARCH_I386;
    assert_eq!(verdict(&program, &i386), libc::SECCOMP_RET_KILL_PROCESS);
}

/// The shape podman sends: ERRNO(ENOSYS) by default, an allow list, and a
/// few calls refused with EPERM.
const ALLOW_LIST: &str = r#"{
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 38,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["read", "write", "getpid", "a_call_from_the_future"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["mount", "umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["getppid"], "action": "SCMP_ACT_LOG"},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
    ]
}"#;

#[test]
fn an_allow_list_groups_rules_by_action_into_a_stack() {
    let program = compiled(ALLOW_LIST);
    // The guard, ERRNO(EACCES), LOG, ERRNO(EPERM), then the default filter:
    // ALLOW rules need no filter of their own.
    assert_eq!(program.filters().len(), 5);
    assert_eq!(verdict(&program, &call("read", &[])), ALLOW);
    assert_eq!(verdict(&program, &call("getpid", &[])), ALLOW);
    assert_eq!(verdict(&program, &call("mount", &[])), errno(libc::EPERM));
    assert_eq!(verdict(&program, &call("umount2", &[])), errno(libc::EPERM));
    assert_eq!(verdict(&program, &call("kill", &[])), errno(libc::EACCES));
    // Unlisted: the default action with its errno.
    assert_eq!(verdict(&program, &call("open", &[])), errno(libc::ENOSYS));
    // A rule weaker than the default still applies to what it names.
    assert_eq!(verdict(&program, &call("getppid", &[])), libc::SECCOMP_RET_LOG);
}

#[test]
fn a_rule_with_arguments_matches_only_those_arguments() {
    let program = compiled(ALLOW_LIST);
    assert_eq!(verdict(&program, &call("personality", &[8])), ALLOW);
    assert_eq!(verdict(&program, &call("personality", &[9])), errno(libc::ENOSYS));
    // 64-bit comparison: the upper half counts.
    assert_eq!(verdict(&program, &call("personality", &[(1 << 32) | 8])), errno(libc::ENOSYS));
}

#[test]
fn names_the_syscalls_crate_does_not_know_are_skipped() {
    let program = compiled(ALLOW_LIST);
    assert_eq!(verdict(&program, &call("write", &[])), ALLOW);
    let only_unknown = compiled(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_KILL"}]}"#,
    );
    assert_eq!(only_unknown.filters(), &[x32_guard()], "no KILL filter for a rule that names nothing known");
    assert_eq!(verdict(&only_unknown, &call("getpid", &[])), ALLOW);
}

fn one_condition(op: &str, value: u64, value_two: u64) -> SeccompProgram {
    compiled(&format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1, "args": [{{"index": 1, "value": {value}, "valueTwo": {value_two}, "op": "{op}"}}]}}]}}"#
    ))
}

#[test]
fn every_argument_operator_compares_as_the_spec_says() {
    let refused = errno(libc::EPERM);
    // (operator, value, valueTwo, [(argument, expected verdict)])
    type Case<'a> = (&'a str, u64, u64, &'a [(u64, u32)]);
    let cases: &[Case] = &[
        ("SCMP_CMP_EQ", 5, 0, &[(5, refused), (4, ALLOW), (5 | 1 << 40, ALLOW)]),
        ("SCMP_CMP_NE", 5, 0, &[(5, ALLOW), (4, refused), (5 | 1 << 40, refused)]),
        ("SCMP_CMP_LT", 5, 0, &[(4, refused), (5, ALLOW), (1 << 33, ALLOW)]),
        ("SCMP_CMP_LE", 5, 0, &[(5, refused), (6, ALLOW), (0, refused)]),
        ("SCMP_CMP_GT", 5, 0, &[(6, refused), (5, ALLOW), (1 << 33, refused)]),
        ("SCMP_CMP_GE", 5, 0, &[(5, refused), (4, ALLOW), (u64::MAX, refused)]),
        // value is the mask, valueTwo the datum: (arg & 0xf0) == 0x30.
        ("SCMP_CMP_MASKED_EQ", 0xf0, 0x30, &[(0x35, refused), (0x3f, refused), (0x40, ALLOW), (0x0, ALLOW)]),
    ];
    for (op, value, value_two, checks) in cases {
        let program = one_condition(op, *value, *value_two);
        for (arg, expected) in *checks {
            let got = verdict(&program, &call("ioctl", &[0, *arg]));
            assert_eq!(got, *expected, "{op} value {value:#x} valueTwo {value_two:#x}, argument {arg:#x}");
        }
    }
}

#[test]
fn conditions_of_one_rule_all_hold_and_rules_for_one_call_are_alternatives() {
    let program = compiled(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
             "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]}
        ]}"#,
    );
    let refused = errno(libc::EAFNOSUPPORT);
    assert_eq!(verdict(&program, &call("socket", &[16, 3, 9])), refused);
    assert_eq!(verdict(&program, &call("socket", &[16, 3, 0])), ALLOW, "only one condition holds");
    assert_eq!(verdict(&program, &call("socket", &[40, 1, 0])), refused, "the second rule");
    assert_eq!(verdict(&program, &call("socket", &[2, 1, 0])), ALLOW);
}

#[test]
fn a_rule_without_arguments_matches_every_call_of_that_name() {
    let program = compiled(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["ioctl"], "action": "SCMP_ACT_TRAP", "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_TRAP"}
        ]}"#,
    );
    assert_eq!(verdict(&program, &call("ioctl", &[0, 8])), libc::SECCOMP_RET_TRAP);
}

#[test]
fn between_two_matching_rules_the_stricter_action_wins_then_the_first_listed() {
    let program = compiled(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["openat", "open"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["open"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]}"#,
    );
    assert_eq!(verdict(&program, &call("openat", &[])), errno(libc::EACCES));
    assert_eq!(verdict(&program, &call("open", &[])), libc::SECCOMP_RET_KILL_PROCESS);
}

#[test]
fn default_errno_and_errno_without_a_value_mean_eperm() {
    let program = compiled(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO"}
        ]}"#,
    );
    assert_eq!(verdict(&program, &call("open", &[])), errno(libc::EPERM));
    assert_eq!(verdict(&program, &call("kill", &[])), errno(libc::EPERM));
    assert_eq!(verdict(&program, &call("getpid", &[])), ALLOW);
}

#[test]
fn kill_trap_and_trace_actions_compile_to_their_kernel_values() {
    let program = compiled(
        r#"{"defaultAction": "SCMP_ACT_KILL", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_TRAP"},
            {"names": ["close"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}
        ]}"#,
    );
    assert_eq!(verdict(&program, &call("getpid", &[])), libc::SECCOMP_RET_KILL_THREAD);
    assert_eq!(verdict(&program, &call("read", &[])), ALLOW);
    assert_eq!(verdict(&program, &call("write", &[])), libc::SECCOMP_RET_TRAP);
    assert_eq!(verdict(&program, &call("close", &[])), libc::SECCOMP_RET_TRACE | 7);
}

#[test]
fn an_all_allow_profile_still_installs_the_guard() {
    let program = compiled(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#);
    assert_eq!(program.filters(), &[x32_guard()]);
}

#[test]
fn notify_is_refused_with_a_clear_error() {
    let err = compile(&profile(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}"#,
    ))
    .unwrap_err();
    assert!(matches!(err, SeccompError::Notify(_)), "{err}");
    assert!(err.to_string().contains("SCMP_ACT_NOTIFY (rule for mkdir)"), "{err}");
}

#[test]
fn a_profile_without_x86_64_is_refused() {
    let err = compile(&profile(r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]}"#));
    assert!(matches!(err, Err(SeccompError::NotThisArch(_))), "{err:?}");
    assert!(compile(&profile(r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": []}"#)).is_ok());
}

#[test]
fn bad_argument_indexes_and_errno_values_are_refused() {
    let bad_index = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG",
        "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#;
    let err = compile(&profile(bad_index)).unwrap_err();
    assert!(err.to_string().contains("read: argument index 6"), "{err}");
    let bad_errno = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}"#;
    assert!(matches!(compile(&profile(bad_errno)), Err(SeccompError::ErrnoRet { value: 70000, .. })));
}

#[test]
fn flags_are_passed_on_and_the_notify_only_flag_is_refused() {
    let logged = compiled(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}"#);
    assert_eq!(logged.flags, libc::SECCOMP_FILTER_FLAG_LOG);
    let err = compile(&profile(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    ));
    assert!(matches!(err, Err(SeccompError::Flag(_))), "{err:?}");
}
