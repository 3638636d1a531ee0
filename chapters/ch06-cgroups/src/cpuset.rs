//! Chapter 6's challenge: `--cpuset-cpus LIST`, the CPUs the container may
//! run on, with cgroup v2's cpuset controller. The book states the goal in
//! "Challenge: the CPUs it runs on"; there is no walkthrough.

use std::collections::BTreeSet;
use std::fmt;

/// Why a CPU list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuSetError {
    /// Not the kernel's list format.
    #[error("{0:?} is not a list of CPUs: give numbers and ranges, such as 0-2,5")]
    Syntax(String),
    /// A CPU this machine cannot run the container on.
    #[error("--cpuset-cpus {text:?}: CPU {cpu} is not one of this machine's ({allowed})")]
    NotHere {
        /// The list given.
        text: String,
        /// The first CPU refused.
        cpu: u32,
        /// The CPUs there are, as a list.
        allowed: CpuSet,
    },
}

/// A set of CPUs, written as the kernel writes one (`0-2,5`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuSet(pub BTreeSet<u32>);

impl CpuSet {
    /// Parses the kernel's list format: CPU numbers and `FIRST-LAST`
    /// ranges, separated by commas.
    pub fn parse_list(text: &str) -> Result<CpuSet, CpuSetError> {
        todo!(
            "challenge: read a CPU list as the kernel writes one, refusing what it would refuse (book: \
             chapter 6, \"Challenge: the CPUs it runs on\")"
        )
    }

    /// Parses `--cpuset-cpus`, and refuses a CPU that `allowed` (the CPUs
    /// there are) does not hold, before anything is created.
    pub fn parse_within(text: &str, allowed: &CpuSet) -> Result<CpuSet, CpuSetError> {
        todo!(
            "challenge: the list asked for, refused if it names a CPU the container could not have (book: \
             chapter 6, \"Challenge: the CPUs it runs on\")"
        )
    }
}

/// The list format back: runs of consecutive CPUs as ranges.
impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &cpu in &self.0 {
            match runs.last_mut() {
                Some((_, last)) if *last + 1 == cpu => *last = cpu,
                _ => runs.push((cpu, cpu)),
            }
        }
        let parts: Vec<String> =
            runs.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
        f.write_str(&parts.join(","))
    }
}

/// The CPUs this machine has online (`/sys/devices/system/cpu/online`).
pub fn online() -> Result<CpuSet, CpuSetError> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_else(|_| "0".into());
    CpuSet::parse_list(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_and_written_as_the_kernel_does() {
        let set = CpuSet::parse_list("0-2,5\n").unwrap();
        assert_eq!(set.0.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 5]);
        assert_eq!(set.to_string(), "0-2,5");
        for bad in ["", "a", "2-1", "1,", "-1"] {
            assert!(CpuSet::parse_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_cpu_not_there_is_refused() {
        let allowed = CpuSet::parse_list("0-1").unwrap();
        assert!(CpuSet::parse_within("1", &allowed).is_ok());
        let err = CpuSet::parse_within("0,3", &allowed).unwrap_err();
        assert_eq!(err, CpuSetError::NotHere { text: "0,3".into(), cpu: 3, allowed });
    }
}
