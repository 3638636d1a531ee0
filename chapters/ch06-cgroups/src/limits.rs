//! The limits a container may be given, parsed and checked before anything
//! is created: `--memory 64M`, `--pids 100`, `--cpus 0.5`.

use std::fmt;

/// Why a limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// `--memory` is not a size.
    #[error("{0:?} is not a size: give bytes, or a number with K, M or G (such as 512K, 64M, 1G)")]
    Size(String),
    /// `--memory 0`, `--pids 0`.
    #[error("{0:?} would leave the container nothing at all: give a number above 0")]
    Zero(String),
    /// `--pids` is not a count.
    #[error("{0:?} is not a number of processes: give a whole number above 0, such as 64")]
    Count(String),
    /// `--cpus` is not a fraction.
    #[error("{0:?} is not a number of CPUs: give a fraction such as 0.5 or a whole number such as 2")]
    Fraction(String),
    /// `--cpus` below what the kernel can enforce.
    #[error("{0:?} is too small: the kernel enforces at least 0.01 CPU (1000 µs in each 100000 µs)")]
    TooLittle(String),
    /// `--cpus` above the machine's CPUs.
    #[error("{text:?} is more than this machine's {online} CPUs")]
    TooMany {
        /// What was asked.
        text: String,
        /// How many CPUs the machine has.
        online: usize,
    },
}

/// The period of `cpu.max`, in microseconds: the quota is a share of it.
pub const CPU_PERIOD: u64 = 100_000;

/// A memory limit, with the words it was given in (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    /// The limit in bytes.
    pub bytes: u64,
    /// As written on the command line, such as `32M`.
    pub text: String,
}

/// A CPU limit: `quota` microseconds of CPU time in every [`CPU_PERIOD`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpus {
    /// Microseconds per period.
    pub quota: u64,
}

impl fmt::Display for Cpus {
    /// The line `cpu.max` takes: "QUOTA PERIOD".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {CPU_PERIOD}", self.quota)
    }
}

/// Every limit asked for; `None` is "no limit".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `--memory`.
    pub memory: Option<Memory>,
    /// `--pids`.
    pub pids: Option<u64>,
    /// `--cpus`.
    pub cpus: Option<Cpus>,
    /// Challenge: the CPUs it may run on (`cpuset.cpus`).
    pub cpuset: Option<crate::cpuset::CpuSet>,
}

impl Limits {
    /// Whether any limit was asked for.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpus.is_some() || self.cpuset.is_some()
    }
}

/// Parses `--memory`: plain bytes, or a whole number with `K`, `M` or `G`
/// (powers of 1024, either case).
pub fn parse_memory(text: &str) -> Result<Memory, LimitError> {
    todo!(
        "read a size with an optional unit; refuse 0 and a size too large to count \
         (book: chapter 6, \"Parsing the limits\")"
    )
}

/// Parses `--pids`: a whole number above 0.
pub fn parse_pids(text: &str) -> Result<u64, LimitError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LimitError::Count(text.to_string()));
    }
    match text.parse() {
        Ok(0) => Err(LimitError::Zero(text.to_string())),
        Ok(count) => Ok(count),
        Err(_) => Err(LimitError::Count(text.to_string())),
    }
}

/// Parses `--cpus`: a fraction of one CPU or several (`0.5`, `2`), at most
/// `online`, the machine's CPUs; the quota is that share of [`CPU_PERIOD`].
pub fn parse_cpus(text: &str, online: usize) -> Result<Cpus, LimitError> {
    todo!(
        "read a number of CPUs, refusing more than `online` and too little to mean \
         anything, and turn it into a quota (book: chapter 6, \"Parsing the limits\")"
    )
}

/// The machine's CPUs, for `--cpus`: what the scheduler lets this process
/// use, at least 1.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units_in_powers_of_1024() {
        assert_eq!(parse_memory("64M").map(|m| m.bytes), Ok(64 << 20));
        assert_eq!(parse_memory("1G").map(|m| m.bytes), Ok(1 << 30));
        assert_eq!(parse_memory("512k").map(|m| m.bytes), Ok(512 << 10));
        assert_eq!(parse_memory("4096").map(|m| m.bytes), Ok(4096));
    }

    #[test]
    fn bad_sizes_are_refused() {
        for bad in ["12Q", "", "M", "-1", "+5M", "1.5G", "99999999999999999999G"] {
            assert_eq!(parse_memory(bad), Err(LimitError::Size(bad.to_string())), "{bad}");
        }
        assert_eq!(parse_memory("0"), Err(LimitError::Zero("0".to_string())));
    }

    #[test]
    fn pids_are_whole_numbers_above_zero() {
        assert_eq!(parse_pids("64"), Ok(64));
        assert_eq!(parse_pids("0"), Err(LimitError::Zero("0".to_string())));
        assert_eq!(parse_pids("-1"), Err(LimitError::Count("-1".to_string())));
        assert_eq!(parse_pids("ten"), Err(LimitError::Count("ten".to_string())));
    }

    #[test]
    fn cpus_become_a_quota_of_the_period() {
        assert_eq!(parse_cpus("0.5", 2), Ok(Cpus { quota: 50_000 }));
        assert_eq!(parse_cpus("2", 2), Ok(Cpus { quota: 200_000 }));
        assert_eq!(parse_cpus("0.2", 1).map(|c| c.to_string()), Ok("20000 100000".to_string()));
    }

    #[test]
    fn bad_cpus_are_refused() {
        assert_eq!(parse_cpus("0", 2), Err(LimitError::Zero("0".to_string())));
        assert_eq!(parse_cpus("-1", 2), Err(LimitError::Fraction("-1".to_string())));
        assert_eq!(parse_cpus("nan", 2), Err(LimitError::Fraction("nan".to_string())));
        assert_eq!(parse_cpus("3", 2), Err(LimitError::TooMany { text: "3".to_string(), online: 2 }));
        assert_eq!(parse_cpus("0.001", 2), Err(LimitError::TooLittle("0.001".to_string())));
    }
}
