//! `process.rlimits` and `process.oomScoreAdj`: how much of each resource
//! the process may use, and how readily the OOM killer picks it.
//!
//! Both are set while the process still has root's capabilities: raising a
//! hard limit needs CAP_SYS_RESOURCE, and so does lowering `oom_score_adj`.

use nix::errno::Errno;
use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType, Process};

/// A limit that cannot be set, or a change the kernel refused.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// The soft limit is above the hard one.
    #[error("rlimit {typ}: soft limit {soft} is above the hard limit {hard}")]
    SoftAboveHard {
        /// The resource.
        typ: PosixRlimitType,
        /// The soft limit.
        soft: u64,
        /// The hard limit.
        hard: u64,
    },
    /// A resource listed twice.
    #[error("rlimit {0} is given twice")]
    Duplicate(PosixRlimitType),
    /// `oomScoreAdj` outside -1000..=1000.
    #[error("process.oomScoreAdj {0} is outside -1000..=1000")]
    OomScoreRange(i32),
    /// `setrlimit` failed.
    #[error("set rlimit {typ} to {soft} (soft), {hard} (hard)")]
    SetRlimit {
        /// The resource.
        typ: PosixRlimitType,
        /// The soft limit.
        soft: u64,
        /// The hard limit.
        hard: u64,
        /// Why (EPERM: raising a hard limit needs CAP_SYS_RESOURCE).
        #[source]
        source: Errno,
    },
    /// Writing /proc/self/oom_score_adj failed.
    #[error("write {0} to /proc/self/oom_score_adj")]
    OomScore(i32, #[source] std::io::Error),
}

/// The limits for the container process, checked in the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    rlimits: Vec<(PosixRlimitType, Resource, u64, u64)>,
    oom_score_adj: Option<i32>,
}

impl Limits {
    /// Reads `process.rlimits` and `process.oomScoreAdj`.
    pub fn from_spec(process: &Process) -> Result<Self, LimitsError> {
        let mut rlimits: Vec<(PosixRlimitType, Resource, u64, u64)> = Vec::new();
        for rlimit in process.rlimits().iter().flatten() {
            let (typ, soft, hard) = (rlimit.typ(), rlimit.soft(), rlimit.hard());
            if soft > hard {
                return Err(LimitsError::SoftAboveHard { typ, soft, hard });
            }
            if rlimits.iter().any(|(seen, ..)| *seen == typ) {
                return Err(LimitsError::Duplicate(typ));
            }
            rlimits.push((typ, resource(rlimit), soft, hard));
        }
        let oom_score_adj = process.oom_score_adj();
        if let Some(score) = oom_score_adj.filter(|score| !(-1000..=1000).contains(score)) {
            return Err(LimitsError::OomScoreRange(score));
        }
        Ok(Limits { rlimits, oom_score_adj })
    }

    /// Sets every limit, then the OOM score. Both carry over to the init
    /// and the command.
    pub fn apply(&self) -> Result<(), LimitsError> {
        for &(typ, resource, soft, hard) in &self.rlimits {
            setrlimit(resource, soft, hard).map_err(|source| LimitsError::SetRlimit { typ, soft, hard, source })?;
        }
        if let Some(score) = self.oom_score_adj {
            std::fs::write("/proc/self/oom_score_adj", score.to_string())
                .map_err(|e| LimitsError::OomScore(score, e))?;
        }
        Ok(())
    }
}

/// OCI's names (`RLIMIT_NOFILE`) are the kernel's; the spec lists the same
/// sixteen resources Linux has.
fn resource(rlimit: &PosixRlimit) -> Resource {
    match rlimit.typ() {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Process {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_limits_and_refuses_impossible_ones() {
        let limits = Limits::from_spec(&process(
            r#"{"cwd": "/", "user": {"uid": 0, "gid": 0}, "oomScoreAdj": -500,
                "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}]}"#,
        ))
        .unwrap();
        assert_eq!(limits.rlimits, [(PosixRlimitType::RlimitNofile, Resource::RLIMIT_NOFILE, 1024, 4096)]);
        assert_eq!(limits.oom_score_adj, Some(-500));

        let soft_above = r#"{"cwd": "/", "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_NPROC", "soft": 10, "hard": 5}]}"#;
        let err = Limits::from_spec(&process(soft_above)).unwrap_err().to_string();
        assert_eq!(err, "rlimit RLIMIT_NPROC: soft limit 10 is above the hard limit 5");
        let twice = r#"{"cwd": "/", "user": {"uid": 0, "gid": 0}, "rlimits": [
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}, {"type": "RLIMIT_CORE", "soft": 1, "hard": 1}]}"#;
        assert!(matches!(Limits::from_spec(&process(twice)), Err(LimitsError::Duplicate(_))));
        let oom = r#"{"cwd": "/", "user": {"uid": 0, "gid": 0}, "oomScoreAdj": 1001}"#;
        assert!(matches!(Limits::from_spec(&process(oom)), Err(LimitsError::OomScoreRange(1001))));
    }
}
