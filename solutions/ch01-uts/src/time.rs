//! Chapter 1's challenge: a time namespace, with the container's boot and
//! monotonic clocks moved by an offset (`--boottime-offset`,
//! `--monotonic-offset`). The book states the goal in "Challenge: a clock
//! of its own"; there is no walkthrough.

use nix::sched::CloneFlags;
use nix::time::{clock_gettime, ClockId};
use spawn::{BoxError, Layer};

/// The largest value, in seconds, the kernel lets a clock of a time
/// namespace reach: half of `KTIME_SEC_MAX`, so that the clock cannot
/// overflow for centuries.
pub const CLOCK_LIMIT_SECS: i64 = i64::MAX / 1_000_000_000 / 2;

/// Why the offsets were refused, or could not be put in force.
#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    /// The clock, moved by the offset, would be out of the kernel's range.
    #[error(
        "--{clock}-offset {offset}: the container's {clock} clock would read {moved} s (it reads {now} s here); \
         it must stay between 0 and {CLOCK_LIMIT_SECS}"
    )]
    OutOfRange {
        /// `boottime` or `monotonic`.
        clock: &'static str,
        /// The offset asked for, in seconds.
        offset: i64,
        /// What the clock reads now, in seconds.
        now: i64,
        /// What it would read inside.
        moved: i128,
    },
    /// A clock could not be read.
    #[error("read the {0} clock: {1}")]
    ReadClock(&'static str, nix::errno::Errno),
    /// The namespace could not be made.
    #[error("make a time namespace: {0}")]
    Unshare(nix::errno::Errno),
    /// The namespace made for the children could not be opened.
    #[error("open /proc/self/ns/time_for_children: {0}")]
    Open(std::io::Error),
    /// The process could not enter the namespace it made.
    #[error("enter the new time namespace: {0}")]
    Enter(nix::errno::Errno),
    /// The kernel refused the offsets.
    #[error("write the clock offsets to /proc/self/timens_offsets: {0}")]
    WriteOffsets(std::io::Error),
}

/// The seconds to add to each clock inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockOffsets {
    /// Added to `CLOCK_BOOTTIME` (what `/proc/uptime` reads).
    pub boottime: i64,
    /// Added to `CLOCK_MONOTONIC`.
    pub monotonic: i64,
}

/// What `clock` reads now, in whole seconds.
pub fn seconds_now(clock: ClockId, name: &'static str) -> Result<i64, TimeError> {
    clock_gettime(clock).map(|now| now.tv_sec()).map_err(|errno| TimeError::ReadClock(name, errno))
}

impl ClockOffsets {
    /// Checks the offsets against the clocks as they read now, before
    /// anything is created: the kernel would refuse them too, but only
    /// once the container's process exists.
    pub fn check(boottime: i64, monotonic: i64) -> Result<ClockOffsets, TimeError> {
        // STARTER: todo!(
        // STARTER:     "challenge: refuse, before anything is created, offsets the kernel would refuse (book: \
        // STARTER:      chapter 1, \"Challenge: a clock of its own\")"
        // STARTER: )
        // SOLUTION BEGIN
        for (clock, id, offset) in
            [("boottime", ClockId::CLOCK_BOOTTIME, boottime), ("monotonic", ClockId::CLOCK_MONOTONIC, monotonic)]
        {
            let now = seconds_now(id, clock)?;
            // In i128: an offset near i64::MAX must be refused, not wrap.
            let moved = i128::from(now) + i128::from(offset);
            if moved < 0 || moved > i128::from(CLOCK_LIMIT_SECS) {
                return Err(TimeError::OutOfRange { clock, offset, now, moved });
            }
        }
        Ok(ClockOffsets { boottime, monotonic })
        // SOLUTION END
    }
}

/// The layer that gives the command a time namespace with the offsets. It
/// is added only when an offset is asked for, so a runtime without the
/// challenge done runs everything else as before.
#[derive(Debug, Clone, Copy)]
pub struct TimeLayer {
    /// The offsets, checked.
    pub offsets: ClockOffsets,
}

impl TimeLayer {
    /// The layer for the offsets asked on the command line, checked, or
    /// `None` when no offset is asked for.
    pub fn asked(boottime: Option<i64>, monotonic: Option<i64>) -> Result<Option<TimeLayer>, TimeError> {
        if boottime.is_none() && monotonic.is_none() {
            return Ok(None);
        }
        let offsets = ClockOffsets::check(boottime.unwrap_or(0), monotonic.unwrap_or(0))?;
        Ok(Some(TimeLayer { offsets }))
    }
}

impl Layer for TimeLayer {
    fn name(&self) -> &'static str {
        "time"
    }

    /// In the child, before the command is executed: the command, not the
    /// runtime, is the container's first process in the new namespace.
    fn enter_child(&self) -> Result<(), BoxError> {
        // STARTER: todo!(
        // STARTER:     "challenge: the command runs in a time namespace of its own whose clocks are moved by \
        // STARTER:      self.offsets (book: chapter 1, \"Challenge: a clock of its own\")"
        // STARTER: )
        // SOLUTION BEGIN
        // unshare, not a clone flag: CLONE_NEWTIME shares its bit with
        // clone()'s exit signal, and only clone3 or unshare take it.
        let newtime = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
        nix::sched::unshare(newtime).map_err(TimeError::Unshare)?;
        // The caller is not in the new namespace: it is only where its
        // children will be. Its offsets can be written until a process
        // enters it, and never after.
        let offsets = format!("monotonic {} 0\nboottime {} 0\n", self.offsets.monotonic, self.offsets.boottime);
        std::fs::write("/proc/self/timens_offsets", offsets).map_err(TimeError::WriteOffsets)?;
        // The command is not a child: it is this process, after execve,
        // and execve leaves the time namespace as it is (on the kernels
        // this course runs on; Linux 6.x later changed that). So this
        // process enters the namespace it made for its children.
        let for_children = std::fs::File::open("/proc/self/ns/time_for_children").map_err(TimeError::Open)?;
        nix::sched::setns(for_children, newtime).map_err(TimeError::Enter)?;
        Ok(())
        // SOLUTION END
    }
}
