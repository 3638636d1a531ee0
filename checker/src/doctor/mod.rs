//! `checker doctor`: can this machine grade? One line per thing grading
//! needs, with what was found and, when something is wrong, the one step
//! that fixes it.
//!
//! Doctor only looks. It downloads nothing, boots nothing and writes
//! nothing, so it is safe to run first, on any machine. Every check reads
//! the machine through [`Machine`], whose paths (`/proc`, `/sys`,
//! `/dev/kvm`, the cache, `PATH`, …) are parameters: the tests in
//! `tests.rs` build whole fake machines in a temporary folder and break
//! them one piece at a time.
//!
//! The files, in the order of the report:
//! - [`machine`]: the [`Machine`] and how doctor runs a program on it;
//! - [`vm_checks`]: QEMU, the guest's kernel and busybox, KVM. What the
//!   `vm` crate keeps in its cache (the kernel manifest, the KVM verdict)
//!   and which packages it fetches, doctor asks that crate, never guesses;
//! - [`toolchain`]: Rust, the static C library, free space;
//! - [`host_checks`]: what `--host` needs (root, user namespaces, cgroup
//!   v2, mount propagation, a static busybox);
//! - [`report`]: the findings and how they are printed.

mod host_checks;
mod machine;
mod report;
mod toolchain;
mod vm_checks;

use std::fs;
use std::process::ExitCode;

use machine::Machine;
use report::{failures, render, Section};

/// Prints the report for this machine; exits 0 unless something fails.
/// With `host`, the checks for `--host` count and those for the VM are
/// advisory; without it, the other way round.
pub fn run(host: bool) -> anyhow::Result<ExitCode> {
    let sections = examine(&Machine::this(), host);
    let colour = crate::report::Style::for_stdout().is_on();
    out!("{}", render(&sections, host, colour));
    Ok(if failures(&sections) == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs every check.
pub fn examine(machine: &Machine, host: bool) -> Vec<Section> {
    let mounts = fs::read_to_string(machine.proc.join("self/mountinfo")).unwrap_or_default();
    vec![
        Section {
            title: if host { "the VM (not used with --host)" } else { "the VM (where grading runs)" },
            checks: [
                vm_checks::qemu(machine),
                vm_checks::guest_files(machine),
                vm_checks::kvm(machine),
                vm_checks::capstone_disk(machine),
            ]
            .into_iter()
            .map(|c| c.counts_if(!host))
            .collect(),
        },
        Section {
            title: "building your runtime",
            checks: [vec![toolchain::rust(machine), toolchain::static_libc(machine)], toolchain::free_space(machine)]
                .concat(),
        },
        Section {
            title: if host {
                "--host (this machine, as root)"
            } else {
                "--host (optional: only if you grade with --host)"
            },
            checks: [
                host_checks::root(machine, host),
                host_checks::user_namespaces(machine),
                host_checks::cgroups(machine, &mounts),
                host_checks::propagation(&mounts),
                host_checks::busybox(machine),
            ]
            .into_iter()
            .map(|c| c.counts_if(host))
            .collect(),
        },
    ]
}

#[cfg(test)]
mod tests;
